//! `cargo xtask wasm`: the browser's verifier (`host/verify-wasm`) for `wasm32-unknown-unknown`,
//! and `cargo xtask browser`: the dashboard's page in Debian's Chromium.
//!
//! rustup cannot download the wasm32 standard library here, so the crate builds as the firmware
//! does: Debian's `rustc-web` with `-Z build-std` from `rust-web-src`, linked by `wasm-ld-22`.
//! `wasm-bindgen` (the CLI, installed from crates.io at the version Cargo.lock names)
//! then writes the JavaScript glue for `--target web` into `target/wasm/pkg`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::sh::{self, root};

/// Debian packages the build needs.
const PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "lld-22"];

/// Debian packages the browser test needs.
pub const BROWSER_PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// Where the page's WASM verifier is written.
pub fn pkg_dir() -> PathBuf {
    root().join("target/wasm/pkg")
}

/// Builds the WASM verifier into [`pkg_dir`] and prints the module's size.
pub fn build() -> Result<()> {
    sh::ensure_apt(&PACKAGES)?;
    let crate_dir = root().join("host/verify-wasm");
    let target_dir = root().join("target/wasm-build");
    sh::debian_cargo(
        &crate_dir,
        &[
            "build",
            "-p",
            "zkedge-verify-wasm",
            "--profile",
            "wasm",
            "--locked",
        ],
        &target_dir,
        &[],
    )
    .context("building the WASM verifier failed")?;
    let bindgen = ensure_bindgen(&locked_version(&root().join("Cargo.lock"), "wasm-bindgen")?)?;
    let out = pkg_dir();
    let module = target_dir.join("wasm32-unknown-unknown/wasm/zkedge_verify_wasm.wasm");
    sh::run(
        &bindgen.to_string_lossy(),
        &[
            "--target",
            "web",
            "--no-typescript",
            "--out-dir",
            &out.to_string_lossy(),
            &module.to_string_lossy(),
        ],
    )?;
    let size = std::fs::metadata(out.join("zkedge_verify_wasm_bg.wasm"))?.len();
    eprintln!(
        "WASM verifier: {} ({size} bytes, {:.0} KiB)",
        out.display(),
        size as f64 / 1024.0
    );
    Ok(())
}

/// The version of `package` in a Cargo.lock.
fn locked_version(lock: &std::path::Path, package: &str) -> Result<String> {
    let text = std::fs::read_to_string(lock).with_context(|| lock.display().to_string())?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                return Ok(v.to_owned());
            }
        }
    }
    bail!("{} does not lock {package}", lock.display())
}

/// `wasm-bindgen` at `version` (its CLI must match the crate), installed under
/// `target/tools` when missing.
fn ensure_bindgen(version: &str) -> Result<PathBuf> {
    let tools = root().join("target/tools");
    let bin = tools.join("bin/wasm-bindgen");
    let current = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if current != format!("wasm-bindgen {version}") {
        sh::run(
            "cargo",
            &[
                "install",
                "wasm-bindgen-cli",
                "--version",
                &format!("={version}"),
                "--root",
                &tools.to_string_lossy(),
            ],
        )
        .context("installing wasm-bindgen-cli failed")?;
    }
    Ok(bin)
}

/// The dashboard in Chromium: builds the verifier, installs Chromium and its WebDriver, and
/// runs the browser test (`host/tests/dashboard.rs`, ignored by plain `cargo test`).
pub fn browser() -> Result<()> {
    build()?;
    sh::ensure_apt(&BROWSER_PACKAGES)?;
    let pkg = pkg_dir();
    sh::run_in(
        &root(),
        "cargo",
        &[
            "test",
            "-p",
            "zkedge",
            "--test",
            "dashboard",
            "--",
            "--ignored",
            "--nocapture",
        ],
        &[("ZKEDGE_WASM_PKG", &pkg.to_string_lossy())],
    )
}
