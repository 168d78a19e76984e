//! `cargo xtask test`: what CI runs on a fresh machine.

use anyhow::Result;

use crate::{
    rtl,
    sh::{self, root},
};

pub fn run() -> Result<()> {
    // The RTL tests (rtl-testbench) simulate in Verilator and synthesise with yosys.
    sh::ensure_apt(rtl::APT_PACKAGES)?;
    // host/tests/ptau.rs makes its .ptau files with snarkjs, installed from npm into target/.
    sh::ensure_apt(&["nodejs", "npm"])?;
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
    let python = test_venv()?;
    onnxruntime_parity(&python)?;
    tflm_parity(&python)?;
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

/// The venv under target/ holding the references (onnxruntime, TensorFlow Lite Micro): Python
/// only as the references' host, never a dependency of zkedge.
fn test_venv() -> Result<String> {
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
    Ok(python.to_string_lossy().into_owned())
}

/// zkedge's importer and inference against the TensorFlow Lite Micro interpreter, run live on
/// every committed .tflite model: 1,000 random inputs each plus the all −128 and all 127 inputs.
fn tflm_parity(python: &str) -> Result<()> {
    let root = root();
    // The dev profile optimises the kernel (and every dependency) already.
    sh::run(
        "cargo",
        &[
            "build",
            "--quiet",
            "-p",
            "zkedge-import",
            "--bin",
            "zkedge-import-parity",
        ],
    )?;
    let parity = root.join("target/debug/zkedge-import-parity");
    sh::run(
        python,
        &[
            "firmware/models/tools/check_tflm_parity.py",
            "--zkedge",
            &parity.to_string_lossy(),
        ],
    )
}

/// zkedge's int8 inference against onnxruntime, run live on every test sample of the bundled
/// models and on random inputs.
fn onnxruntime_parity(python: &str) -> Result<()> {
    let root = root();
    sh::run("cargo", &["build", "--quiet", "-p", "zkedge"])?;
    let zkedge = root.join("target/debug/zkedge");
    sh::run(
        python,
        &[
            "firmware/models/tools/check_ort_parity.py",
            "--zkedge",
            &zkedge.to_string_lossy(),
        ],
    )
}
