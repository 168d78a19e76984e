//! What the end-to-end tests share: running the `zkedge` binary.
#![allow(dead_code)] // each test binary takes what it needs

pub mod line;
pub mod mock;
pub mod nats;
pub mod snarkjs;

use std::{net::TcpListener, path::Path, process::Command};

/// Runs `zkedge args…`: its exit code, stdout and stderr.
pub fn zkedge(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkedge"))
        .args(args)
        .output()
        .expect("zkedge runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A temp path as the argument it is on the command line.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A TCP port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
