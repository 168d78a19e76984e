//! `cargo xtask prover-scale`: key generation and proving on the wide synthetic circuit over a
//! range of `k`, one process per step (so each peak RSS is its own), zkedge beside halo2 where
//! asked; prints a Markdown table. Long: minutes per `k` from 18 up on two cores.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::sh::{self, root};

#[derive(clap::Args)]
pub struct Args {
    /// First k.
    #[arg(long, default_value_t = 16)]
    from: u32,
    /// Last k.
    #[arg(long, default_value_t = 18)]
    to: u32,
    /// Advice, fixed, lookup and equality columns of the wide circuit.
    #[arg(long, default_value = "40,70,4,14")]
    shape: String,
    /// Also run halo2's keygen (keygen_vk + keygen_pk) and create_proof up to this k.
    #[arg(long, default_value_t = 0)]
    halo2_up_to: u32,
    /// Proofs per k (the table shows the median).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Where keys and SRS files go (SRS files are kept: they take minutes to make).
    #[arg(long, default_value = "target/prover-scale")]
    dir: PathBuf,
}

/// One step's `key=value` lines, with the process's peak RSS (from `/usr/bin/time -v`) and
/// wall time.
fn step(bin: &Path, args: &[String]) -> Result<BTreeMap<String, String>> {
    eprintln!("==> {} {}", bin.display(), args.join(" "));
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .args(args)
        .output()
        .context("running /usr/bin/time (Debian package `time`)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{} failed:\n{stdout}\n{stderr}", args.join(" "));
    }
    let mut values: BTreeMap<String, String> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for line in stderr.lines() {
        if let Some(kb) = line
            .trim()
            .strip_prefix("Maximum resident set size (kbytes): ")
        {
            let mib = kb.trim().parse::<u64>().unwrap_or(0) / 1024;
            values.insert("max_rss_mib".into(), mib.to_string());
        }
        if let Some(t) = line
            .trim()
            .strip_prefix("Elapsed (wall clock) time (h:mm:ss or m:ss): ")
        {
            values.insert("wall".into(), t.trim().to_string());
        }
    }
    eprint!("{stderr}");
    Ok(values)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(args: &Args) -> Result<()> {
    sh::ensure_apt(&["time"])?;
    let shape: Vec<&str> = args.shape.split(',').collect();
    let [advice, fixed, lookups, equality] = shape[..] else {
        bail!("--shape takes four numbers: advice,fixed,lookups,equality");
    };
    sh::run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "zkedge",
            "--example",
            "prover_scale",
        ],
    )?;
    let bin = root().join("target/release/examples/prover_scale");
    let mut rows = Vec::new();
    for k in args.from..=args.to {
        let dir = root().join(&args.dir).join(format!("k{k}-{}", args.shape));
        let dir_s = dir.display().to_string();
        let setup = |extra: &[&str]| -> Vec<String> {
            let mut a: Vec<String> = [
                "setup",
                "--k",
                &k.to_string(),
                "--dir",
                &dir_s,
                "--advice",
                advice,
                "--fixed",
                fixed,
                "--lookups",
                lookups,
                "--equality",
                equality,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            a.extend(extra.iter().map(|s| s.to_string()));
            a
        };
        let prove = |prover: &str, seed: usize| -> Vec<String> {
            [
                "prove",
                "--dir",
                &dir_s,
                "--prover",
                prover,
                "--seed",
                &(seed + 1).to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let halo2 = k <= args.halo2_up_to;
        // The SRS is cached by the first setup; later timings do not include it.
        let zk_setup = step(&bin, &setup(if halo2 { &["--halo2-pk"] } else { &[] }))?;
        let zk_setup = if halo2 {
            step(&bin, &setup(&[]))?
        } else {
            zk_setup
        };
        let mut zk_prove = Vec::new();
        let mut h2_prove = Vec::new();
        for i in 0..args.runs {
            zk_prove.push(step(&bin, &prove("zkedge", i))?);
            if halo2 {
                h2_prove.push(step(&bin, &prove("halo2", i))?);
            }
        }
        let h2_setup = if halo2 {
            Some(step(&bin, &setup(&["--keygen", "halo2"]))?)
        } else {
            None
        };
        rows.push((k, zk_setup, zk_prove, h2_setup, h2_prove));
    }
    let get = |m: &BTreeMap<String, String>, key: &str| m.get(key).cloned().unwrap_or_default();
    let med = |v: &[BTreeMap<String, String>], key: &str| {
        if v.is_empty() {
            return "–".to_string();
        }
        let x = median(
            v.iter()
                .filter_map(|m| m.get(key)?.parse::<f64>().ok())
                .collect(),
        );
        format!("{x:.1}")
    };
    println!("\nwide synthetic circuit, shape {} (advice, fixed, lookups, equality); medians of {} proof(s)\n", args.shape, args.runs);
    println!("| k | setup zkedge s | setup RSS MiB | vk from | setup halo2 s | RSS MiB | prove zkedge s | RSS MiB | prove halo2 s | RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (k, zs, zp, hs, hp) in &rows {
        let (hs_t, hs_m) = hs.as_ref().map_or(("–".into(), "–".into()), |m| {
            let t: f64 = ["keygen_vk_s", "keygen_pk_s", "export_s"]
                .iter()
                .filter_map(|key| m.get(*key)?.parse::<f64>().ok())
                .sum();
            (format!("{t:.1}"), get(m, "max_rss_mib"))
        });
        println!(
            "| {k} | {} | {} | {} | {hs_t} | {hs_m} | {} | {} | {} | {} |",
            get(zs, "setup_s"),
            get(zs, "max_rss_mib"),
            if get(zs, "vk_from_halo2") == "true" {
                "keygen_vk"
            } else {
                "zkedge"
            },
            med(zp, "prove_s"),
            med(zp, "max_rss_mib"),
            med(hp, "prove_s"),
            med(hp, "max_rss_mib"),
        );
    }
    Ok(())
}
