//! `cargo xtask test`: what CI runs on a fresh machine.

use anyhow::Result;

use crate::sh;

pub fn run() -> Result<()> {
    sh::run("cargo", &["fmt", "--all", "--", "--check"])?;
    sh::run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    sh::run("cargo", &["test", "--workspace"])?;
    // The workspace build unifies `parallel` into the CPU backend; test the serial (no_std)
    // code path that the firmware uses too.
    sh::run(
        "cargo",
        &[
            "test",
            "-p",
            "accel-backends",
            "--test",
            "cpu_conformance",
            "--lib",
        ],
    )?;
    eprintln!("\nall checks passed");
    Ok(())
}
