//! `zkedge bench-models`: the scaling run. Each model is set up, proved (by each prover) and
//! verified by this same binary in child processes — the commands a user runs — so that every
//! figure is a whole process's and each peak resident set is that command's alone.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use serde::Deserialize;
use zkedge_kernel::{
    layout::{Layout, Visibility},
    model::{synthetic, synthetic::Arch, Model},
};

use super::{input, ui::BENCH_REPORT};
use crate::proof::ProverKind;

/// Arguments of `zkedge bench-models`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Models: MLPerf Tiny architecture names with random weights (anomaly-detection,
    /// streaming-wake-word, keyword-spotting, visual-wake-words, resnet8) or model files.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "anomaly-detection,streaming-wake-word,keyword-spotting,visual-wake-words,resnet8"
    )]
    pub models: Vec<String>,
    /// Provers to run on each model.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "zkedge,halo2"
    )]
    pub provers: Vec<ProverKind>,
    /// Run stock halo2 only on circuits of at most 2^K rows (its proving key and prover need
    /// memory in proportion to the extended domain).
    #[arg(long, default_value_t = 17, value_name = "K")]
    pub halo2_max_k: u32,
    /// Proofs per model and prover (the table shows the median).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Where to keep models, keys, proofs and the report.
    #[arg(long, default_value = "target/bench-models")]
    pub out: PathBuf,
    /// Seed of the random weights and inputs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The SRS to make keys over (a .ptau or halo2 ParamsKZG file, as `setup --srs`); without
    /// it, the development SRS, whose proofs `verify` checks only under
    /// --allow-insecure-dev-srs (the timing is the same).
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// The weights: in the verifying key, or hashed (`setup --weights hashed`: private, their
    /// Poseidon hash in each proof).
    #[arg(long, value_enum, default_value_t = super::WeightVisibility::Fixed)]
    pub weights: super::WeightVisibility,
}

/// What a child process reported.
#[derive(Debug, Default, Deserialize)]
struct Figures {
    #[serde(default)]
    keygen_s: Option<f64>,
    #[serde(default)]
    prove_s: Option<f64>,
    #[serde(default)]
    verify_s: Option<f64>,
    #[serde(default)]
    proof_bytes: Option<f64>,
    #[serde(default)]
    peak_rss_bytes: Option<f64>,
}

/// One child run: its wall time and figures.
struct Run {
    wall: f64,
    figures: Figures,
}

fn child(dir: &Path, name: &str, args: &[&str]) -> Result<Run> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let report = dir.join(format!("{name}.figures.json"));
    let _ = fs::remove_file(&report);
    let log = dir.join(format!("{name}.log"));
    let start = Instant::now();
    let out = Command::new(exe)
        .args(args)
        .env(BENCH_REPORT, &report)
        .output()
        .with_context(|| format!("cannot run zkedge {}", args.join(" ")))?;
    let wall = start.elapsed().as_secs_f64();
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    fs::write(&log, &text).with_context(|| format!("cannot write {}", log.display()))?;
    if !out.status.success() {
        bail!(
            "`zkedge {}` failed ({}); its output is in {}",
            args.join(" "),
            out.status,
            log.display()
        );
    }
    let figures = fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Ok(Run { wall, figures })
}

/// The model named `spec`: an architecture with random weights, or a file.
fn model(spec: &str, seed: u64) -> Result<Model> {
    if let Some(arch) = Arch::ALL.iter().find(|a| a.name() == spec) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        return Ok(arch.model(&mut rng));
    }
    input::model(Path::new(spec)).with_context(|| {
        format!(
            "{spec} is neither a model file nor one of {}",
            Arch::ALL.map(|a| a.name()).join(", ")
        )
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn gib(bytes: Option<f64>) -> String {
    bytes.map_or("–".into(), |b| {
        format!("{:.2}", b / f64::from(1u32 << 30))
    })
}

/// Runs the benchmark and prints (and writes) the table.
pub fn run(args: &Args) -> Result<()> {
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut table = String::from(
        "| model | MACs | k | rows used | advice / fixed columns | setup s | setup peak GiB | prover | prove s (process) | prover s | prove peak GiB | verify s (process) | proof KiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut csv = String::from(
        "model,macs,k,rows,advice,fixed,setup_s,keygen_s,setup_rss,prover,prove_s,prover_s,prove_rss,verify_s,verifier_s,proof_bytes\n",
    );
    for spec in &args.models {
        let m = model(spec, args.seed)?;
        let name = Path::new(spec)
            .file_stem()
            .map_or(spec.clone(), |s| s.to_string_lossy().into_owned());
        let layout = Layout::with_visibility(&m, Visibility::Private, args.weights.into())?;
        let e = layout.estimate();
        eprintln!(
            "{name}: {} MACs, {}",
            m.mac_count(),
            super::commands::describe_layout(&layout)
        );
        let dir = args.out.join(&name);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let model_path = dir.join("model.zkm");
        fs::write(&model_path, m.to_bytes())
            .with_context(|| format!("cannot write {}", model_path.display()))?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x5eed);
        let x = synthetic::input(&mut rng, &m);
        let input_path = dir.join("input.json");
        fs::write(&input_path, serde_json::json!({ "input": x }).to_string())
            .with_context(|| format!("cannot write {}", input_path.display()))?;
        let keys = dir.join("keys");
        let (mp, kp, ip) = (
            model_path.to_string_lossy().into_owned(),
            keys.to_string_lossy().into_owned(),
            input_path.to_string_lossy().into_owned(),
        );
        eprintln!("  setup …");
        let srs = args.srs.as_ref().map(|p| p.to_string_lossy().into_owned());
        let weights = match args.weights {
            super::WeightVisibility::Fixed => "fixed",
            super::WeightVisibility::Hashed => "hashed",
        };
        let mut setup_args = vec!["setup", "--model", &mp, "--out", &kp, "--weights", weights];
        if let Some(srs) = &srs {
            setup_args.extend(["--srs", srs.as_str()]);
        }
        // Stock halo2 proves from its own proving key, which `setup` makes only where asked
        // past a size.
        if args.provers.contains(&ProverKind::Halo2) && layout.k() <= args.halo2_max_k {
            setup_args.extend(["--halo2-key", "always"]);
        }
        let setup = child(&dir, "setup", &setup_args)?;
        eprintln!(
            "  setup: {:.1} s, peak {} GiB",
            setup.wall,
            gib(setup.figures.peak_rss_bytes)
        );
        for prover in &args.provers {
            let pname = match prover {
                ProverKind::Zkedge => "zkedge",
                ProverKind::Halo2 => "halo2",
            };
            if *prover == ProverKind::Halo2 && layout.k() > args.halo2_max_k {
                eprintln!(
                    "  {pname}: skipped (k = {} > --halo2-max-k {})",
                    layout.k(),
                    args.halo2_max_k
                );
                continue;
            }
            let (mut walls, mut provers, mut rss) = (vec![], vec![], vec![]);
            let (mut verifies, mut verifiers) = (vec![], vec![]);
            let mut proof_bytes = None;
            for i in 0..args.repeat.max(1) {
                let proof = dir.join(format!("{pname}.{i}.zkp"));
                let pp = proof.to_string_lossy().into_owned();
                eprintln!("  {pname} proof {} …", i + 1);
                let p = child(
                    &dir,
                    &format!("prove-{pname}-{i}"),
                    &[
                        "prove", "--model", &mp, "--keys", &kp, "--input", &ip, "--out", &pp,
                        "--prover", pname,
                    ],
                )?;
                let v = child(
                    &dir,
                    &format!("verify-{pname}-{i}"),
                    &if srs.is_some() {
                        vec!["verify", "--keys", &kp, "--proof", &pp]
                    } else {
                        vec![
                            "verify",
                            "--keys",
                            &kp,
                            "--proof",
                            &pp,
                            "--allow-insecure-dev-srs",
                        ]
                    },
                )?;
                walls.push(p.wall);
                provers.push(p.figures.prove_s.unwrap_or(f64::NAN));
                rss.push(p.figures.peak_rss_bytes.unwrap_or(f64::NAN));
                verifies.push(v.wall);
                verifiers.push(v.figures.verify_s.unwrap_or(f64::NAN));
                proof_bytes = p.figures.proof_bytes;
                eprintln!(
                    "  {pname}: prove {:.1} s (prover {:.1} s), peak {} GiB; verify {:.3} s",
                    p.wall,
                    p.figures.prove_s.unwrap_or(f64::NAN),
                    gib(p.figures.peak_rss_bytes),
                    v.wall
                );
            }
            let (wall, prover_s, peak, verify) = (
                median(walls),
                median(provers),
                median(rss),
                median(verifies),
            );
            let _ = writeln!(
                table,
                "| {name} | {} | {} | {} | {} / {} | {:.1} | {} | {pname} | {:.1} | {:.1} | {} | {:.3} | {:.1} |",
                m.mac_count(),
                layout.k(),
                layout.rows(),
                e.advice,
                e.fixed,
                setup.wall,
                gib(setup.figures.peak_rss_bytes),
                wall,
                prover_s,
                gib(Some(peak)),
                verify,
                proof_bytes.unwrap_or(f64::NAN) / 1024.0
            );
            let _ = writeln!(
                csv,
                "{name},{},{},{},{},{},{:.3},{:.3},{},{pname},{:.3},{:.3},{},{:.4},{:.4},{}",
                m.mac_count(),
                layout.k(),
                layout.rows(),
                e.advice,
                e.fixed,
                setup.wall,
                setup.figures.keygen_s.unwrap_or(f64::NAN),
                setup.figures.peak_rss_bytes.unwrap_or(f64::NAN),
                wall,
                prover_s,
                peak,
                verify,
                median(verifiers.clone()),
                proof_bytes.unwrap_or(f64::NAN)
            );
        }
    }
    print!("{table}");
    let (md, csv_path) = (args.out.join("report.md"), args.out.join("report.csv"));
    fs::write(&md, &table).with_context(|| format!("cannot write {}", md.display()))?;
    fs::write(&csv_path, &csv).with_context(|| format!("cannot write {}", csv_path.display()))?;
    eprintln!("report: {} and {}", md.display(), csv_path.display());
    Ok(())
}
