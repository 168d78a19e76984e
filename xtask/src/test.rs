//! `cargo xtask test`: what CI runs on a fresh machine.

use anyhow::Result;

use crate::{
    rtl,
    sh::{self, root},
};

pub fn run() -> Result<()> {
    warn_if_short_of_disk();
    // The RTL tests (rtl-testbench) simulate in Verilator and synthesise with yosys.
    sh::ensure_apt(rtl::APT_PACKAGES)?;
    // host/tests/ptau.rs makes its .ptau files with snarkjs, installed from npm into target/.
    // A machine whose node and npm came from elsewhere (nodesource, nvm) keeps them: Debian's
    // npm package conflicts with nodesource's nodejs.
    let npm_works = std::process::Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !npm_works {
        sh::ensure_apt(&["nodejs", "npm"])?;
    }
    // host/tests/cluster.rs runs a real nats-server (JetStream, its MQTT gateway) and an MQTT
    // sensor.
    sh::ensure_apt(&["nats-server", "mosquitto-clients"])?;
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
    // The crates' own feature sets build on their own, not only as the workspace unifies them.
    for args in FEATURE_SETS {
        sh::run("cargo", args)?;
    }
    // Rustdoc: broken links and malformed docs fail, as clippy's warnings do.
    sh::run_in(
        &root(),
        "cargo",
        &["doc", "--workspace", "--no-deps", "--quiet"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // The workspaces of their own (firmware, ICICLE backend, fuzz targets) keep the same style.
    for manifest in [
        "firmware/mcu/Cargo.toml",
        "accel-backends/icicle/Cargo.toml",
        "accel-backends/proto/fuzz/Cargo.toml",
    ] {
        sh::run(
            "cargo",
            &["fmt", "--manifest-path", manifest, "--all", "--", "--check"],
        )?;
    }
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
    // On a CPU with AVX-512 IFMA the MSM's rounds and the NTT's butterflies run on eight lanes;
    // their scalar code gets the same conformance run here (the `no_std` run above has no CPU
    // detection, hence scalar too, but single-threaded).
    sh::run_in(
        &root(),
        "cargo",
        &[
            "test",
            "-p",
            "accel-backends",
            "--features",
            "parallel",
            "--test",
            "cpu_conformance",
            "--lib",
        ],
        &[("ZKEDGE_NO_IFMA", "1")],
    )?;
    // The prover's gate evaluation has the same two paths; its proofs go to the stock verifier.
    sh::run_in(
        &root(),
        "cargo",
        &["test", "-p", "zkedge", "--test", "zk_prover"],
        &[("ZKEDGE_NO_IFMA", "1")],
    )?;
    let python = test_venv()?;
    onnxruntime_parity(&python)?;
    tflm_parity(&python)?;
    onnx_import_agreement(&python)?;
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
    // The other two boards: built, not run (their QEMU machines run the same code).
    for other in [crate::firmware::Board::An386, crate::firmware::Board::An547] {
        crate::firmware::build(&crate::firmware::BuildArgs {
            board: other,
            ..board.clone()
        })?;
    }
    // The browser's verifier, built for wasm32, and the dashboard's page in headless Chromium.
    crate::wasm::browser()?;
    // The wire protocol's receive path under libFuzzer: a fixed number of executions per target,
    // so a slow machine takes longer instead of testing less.
    crate::fuzz::run(crate::fuzz::Budget::Runs(1_000_000))?;
    eprintln!("\nall checks passed");
    Ok(())
}

/// Feature combinations of the `no_std` crates the firmware shares with the host: without std,
/// with std, and with the host's `parallel`.
const FEATURE_SETS: [&[&str]; 7] = [
    &[
        "check",
        "-p",
        "zkedge-kernel",
        "--no-default-features",
        "--lib",
    ],
    &[
        "check",
        "-p",
        "zkedge-kernel",
        "--no-default-features",
        "--features",
        "std",
        "--lib",
    ],
    &[
        "check",
        "-p",
        "zkedge-kernel",
        "--features",
        "parallel",
        "--lib",
    ],
    &[
        "check",
        "-p",
        "accel-backends",
        "--no-default-features",
        "--lib",
    ],
    &[
        "check",
        "-p",
        "accel-backends",
        "--features",
        "parallel",
        "--lib",
    ],
    &[
        "check",
        "-p",
        "accel-proto",
        "--no-default-features",
        "--lib",
    ],
    &[
        "check",
        "-p",
        "zkedge-device",
        "--no-default-features",
        "--lib",
    ],
];

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

/// zkedge's ONNX importer and inference against onnxruntime, run live on every committed
/// quantised .onnx model (firmware/models/onnx): 1,000 random inputs each plus the all −128 and
/// all 127 inputs, onnxruntime in its int8, default and float modes; the bounds it checks are
/// those docs/model-format.md states.
fn onnx_import_agreement(python: &str) -> Result<()> {
    let root = root();
    // Built by tflm_parity already.
    let parity = root.join("target/debug/zkedge-import-parity");
    // One fixed seed: onnxruntime's default (uint8-rewritten) path differs from the exact
    // arithmetic by a spread of a few steps whose tail, over many fresh seeds, reaches past the
    // bound (docs/model-format.md); CI checks one reproducible draw, people run fresh ones.
    sh::run(
        python,
        &[
            "firmware/models/tools/check_onnx_parity.py",
            "--zkedge",
            &parity.to_string_lossy(),
            "--seed",
            "1",
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

/// What a full run writes from a fresh clone (build directories of the workspace, the firmware
/// boards, the fuzz targets and the WASM verifier: 18 GiB measured), with a margin.
const DISK_NEEDED_GIB: u64 = 25;

/// A run that fills the disk fails late and far from the cause (a linker or rustc write error
/// in whatever builds last), so say it up front.
fn warn_if_short_of_disk() {
    let free = std::process::Command::new("df")
        .args(["--output=avail", "-B1G"])
        .arg(root())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse::<u64>().ok())
        });
    if let Some(free) = free.filter(|&f| f < DISK_NEEDED_GIB) {
        eprintln!(
            "warning: {free} GiB free under {}; a full run writes about {DISK_NEEDED_GIB} GiB \
             (clear old target/ directories if it fails with \"No space left on device\")",
            root().display()
        );
    }
}
