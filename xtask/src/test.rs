//! `cargo xtask test`: what CI runs on a fresh machine.

use anyhow::Result;

use crate::{
    rtl,
    sh::{self, root},
};

pub fn run() -> Result<()> {
    // The RTL tests (rtl-testbench) simulate in Verilator and synthesise with yosys.
    sh::ensure_apt(rtl::APT_PACKAGES)?;
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
    onnxruntime_parity()?;
    // Each fault scenario once, through the project's relay (a few minutes).
    crate::faults::run(true, 1)?;
    // The firmware for the AN500 in QEMU, both modes, against the host driver.
    let board = crate::firmware::BuildArgs {
        board: crate::firmware::Board::An500,
        model: None,
        witness_only: false,
        rtt: false,
    };
    crate::firmware::clippy(&board)?;
    crate::firmware::test(&crate::firmware::TestArgs::default())?;
    eprintln!("\nall checks passed");
    Ok(())
}

/// zkedge's int8 inference against onnxruntime, run live on every test sample of the bundled
/// models and on random inputs (Python only as the reference's host, in a venv under target/).
fn onnxruntime_parity() -> Result<()> {
    let root = root();
    let venv = root.join("target/py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        sh::run("python3", &["-m", "venv", &venv.to_string_lossy()])?;
    }
    let requirements = root.join("firmware/models/tools/requirements-test.txt");
    sh::run(
        &python.to_string_lossy(),
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            &requirements.to_string_lossy(),
        ],
    )?;
    sh::run("cargo", &["build", "--quiet", "-p", "zkedge"])?;
    let zkedge = root.join("target/debug/zkedge");
    sh::run(
        &python.to_string_lossy(),
        &[
            "firmware/models/tools/check_ort_parity.py",
            "--zkedge",
            &zkedge.to_string_lossy(),
        ],
    )
}
