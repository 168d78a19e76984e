//! `cargo xtask fuzz [--seconds N | --runs N]`: runs the wire protocol's cargo-fuzz targets.

use std::process::Command;

use anyhow::{Context, Result};

use crate::sh;

/// The targets in `accel-backends/proto/fuzz`, each seeded from `fuzz/seeds/<target>`.
const TARGETS: [&str; 2] = ["frame_decoder", "message_parser"];

/// How long each target runs.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// Seconds in all, shared between the targets.
    Seconds(u64),
    /// Executions per target (a budget that does not depend on the machine's speed).
    Runs(u64),
}

pub fn run(budget: Budget) -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        sh::run("cargo", &["install", "cargo-fuzz"])
            .context("installing cargo-fuzz failed; run `cargo install cargo-fuzz` by hand")?;
    }
    // Nightly where it is installed (AddressSanitizer); otherwise the one stable toolchain a
    // fresh machine has, with the fuzzing flags unlocked and no sanitizer — the protocol crate
    // forbids unsafe code, so what fuzzing finds there is panics and aborts, which libFuzzer
    // catches without one.
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let (toolchain, sanitizer, env): (&[&str], &str, &[(&str, &str)]) = if nightly {
        (&["+nightly"], "address", &[])
    } else {
        eprintln!("no nightly toolchain: fuzzing on the default one without a sanitizer");
        (&[], "none", &[("RUSTC_BOOTSTRAP", "1")])
    };
    let dir = sh::root().join("accel-backends/proto");
    for target in TARGETS {
        let corpus = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(dir.join(&corpus))?;
        let seeds = format!("fuzz/seeds/{target}");
        let limit = match budget {
            Budget::Seconds(s) => format!("-max_total_time={}", (s / TARGETS.len() as u64).max(1)),
            Budget::Runs(n) => format!("-runs={n}"),
        };
        let args: Vec<&str> = toolchain
            .iter()
            .copied()
            .chain([
                "fuzz",
                "run",
                "--sanitizer",
                sanitizer,
                target,
                &corpus,
                &seeds,
                "--",
                &limit,
            ])
            .collect();
        sh::run_in(
            &dir,
            "cargo",
            &args,
            env,
        )
        .with_context(|| {
            format!("fuzz target {target} failed; the crashing input is under accel-backends/proto/fuzz/artifacts/{target}")
        })?;
    }
    let spent = match budget {
        Budget::Seconds(s) => format!("{s} s"),
        Budget::Runs(n) => format!("{n} executions of each target"),
    };
    eprintln!("\nfuzzing found nothing in {spent}");
    Ok(())
}
