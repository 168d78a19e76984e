//! snarkjs, the ecosystem's ceremony tool, installed from npm into target/: `.ptau` files made
//! by a real producer, not by zkedge's own writer.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

/// The snarkjs release the tests install.
const SNARKJS: &str = "snarkjs@0.7.6";
/// The test ceremony's power: the smallest circuits lay out at k = 10.
pub const POWER: u32 = 10;

/// Runs `cmd`; its stdout, or a panic with its stderr.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start ({e}); node and npm are needed"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// snarkjs, installed once into target/tmp/snarkjs.
pub fn snarkjs_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("snarkjs");
        if !dir.join("node_modules/.bin/snarkjs").exists() {
            std::fs::create_dir_all(&dir).unwrap();
            run(Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(SNARKJS));
        }
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ptau_dump.mjs"),
            dir.join("ptau_dump.mjs"),
        )
        .unwrap();
        dir
    })
}

/// Runs snarkjs with `args` in its folder.
pub fn snarkjs(args: &[&str]) -> String {
    let dir = snarkjs_dir();
    run(Command::new(dir.join("node_modules/.bin/snarkjs"))
        .args(args)
        .current_dir(dir))
}

/// A ceremony of `power`: `powersoftau new`, one `contribute`, then `prepare phase2`. Returns
/// the contributed file (no Lagrange sections) and the prepared one; cached in target/.
pub fn ceremony(power: u32) -> (PathBuf, PathBuf) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = snarkjs_dir();
    let name = |s: &str| format!("pot{power}_{s}.ptau");
    let (contributed, prepared) = (dir.join(name("1")), dir.join(name("final")));
    if !prepared.exists() {
        let p = power.to_string();
        snarkjs(&["powersoftau", "new", "bn128", &p, &name("0")]);
        snarkjs(&[
            "powersoftau",
            "contribute",
            &name("0"),
            &name("1"),
            "--name=zkedge test",
            "-e=zkedge test entropy",
        ]);
        snarkjs(&["powersoftau", "prepare", "phase2", &name("1"), &name("tmp")]);
        std::fs::rename(dir.join(name("tmp")), &prepared).unwrap();
    }
    (contributed, prepared)
}
