//! `cargo xtask fuzz [--seconds N]`: runs the wire protocol's cargo-fuzz targets (nightly).

use std::process::Command;

use anyhow::{Context, Result};

use crate::sh;

/// The targets in `accel-backends/proto/fuzz`, each seeded from `fuzz/seeds/<target>`.
const TARGETS: [&str; 2] = ["frame_decoder", "message_parser"];

pub fn run(seconds: u64) -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        sh::run("cargo", &["install", "cargo-fuzz"])
            .context("installing cargo-fuzz failed; run `cargo install cargo-fuzz` by hand")?;
    }
    let dir = sh::root().join("accel-backends/proto");
    let per_target = (seconds / TARGETS.len() as u64).max(1);
    for target in TARGETS {
        let corpus = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(dir.join(&corpus))?;
        let seeds = format!("fuzz/seeds/{target}");
        let time = format!("-max_total_time={per_target}");
        sh::run_in(
            &dir,
            "cargo",
            &[
                "+nightly", "fuzz", "run", target, &corpus, &seeds, "--", &time,
            ],
            &[],
        )
        .with_context(|| {
            format!("fuzz target {target} failed; the crashing input is under accel-backends/proto/fuzz/artifacts/{target}")
        })?;
    }
    eprintln!("\nfuzzing found nothing in {seconds} s");
    Ok(())
}
