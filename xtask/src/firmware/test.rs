//! `cargo xtask firmware test`: the firmware in QEMU against the host driver, end to end.
//!
//! 1. `-serial pty`, the host driver started 4 s after QEMU (the device must probe until it
//!    answers): two samples in witness mode (the host proves), one in input mode (the host
//!    runs the model on the input sent) and, unless `--witness-only`, one proven on the device with its MSMs on the host. Every proof is checked again with
//!    `zkedge verify` (halo2-axiom's verifier) from the file the host wrote, and the device's
//!    own digest of its proof must equal the host's.
//! 2. `-serial unix:…` through a relay that damages host→device bytes: the device must refuse
//!    the damaged replies (`Fault` frames), send their requests again and still get its
//!    proofs.
//! 3. Keys that hash the input, one sample with a salt: the device computes its input's
//!    commitment; the host's proof must carry it (`zkedge verify --commitment`).

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;

use super::{
    build,
    qemu::{launch, print_logs, print_outcome, Faults, Outcome, Serial, Spec},
    Board, BuildArgs, Built,
};
use crate::sh::root;

#[derive(Args, Clone, Debug, Default)]
pub struct TestArgs {
    /// The QEMU board.
    #[arg(long, value_enum, default_value_t = Board::An500)]
    pub board: Board,
    /// Witness mode only: no prover on the device (builds and runs faster).
    #[arg(long)]
    pub witness_only: bool,
}

/// Seconds a run may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(900);

pub fn run(args: &TestArgs) -> Result<()> {
    let start = Instant::now();
    let built = build(&BuildArgs {
        board: args.board,
        model: None,
        witness_only: args.witness_only,
        rtt: false,
    })?;
    built.print();
    let runs = root().join("target/firmware/test");

    let late_host = Spec {
        built: &built,
        serial: Serial::Pty,
        plan: Vec::new(),
        serve: Vec::new(),
        keys: None,
        host_delay: Duration::from_secs(4),
        faults: None,
        count: false,
        timeout: TIMEOUT,
        dir: runs.join("pty-late-host"),
    };
    let outcome = launch(&late_host)?;
    checked(&built, &outcome, |o| check_clean(&built, o))?;
    eprintln!(
        "firmware test 1 (pty, late host{}) passed in {:.0} s",
        if built.device_proving {
            ", witness mode and device proving"
        } else {
            ", witness mode"
        },
        outcome.wall.as_secs_f64()
    );

    let damaged = Spec {
        built: &built,
        serial: Serial::Unix,
        plan: vec!["witness=2".into(), "device=0".into()],
        serve: Vec::new(),
        keys: None,
        host_delay: Duration::from_millis(300),
        faults: Some(Faults { every: 150 }),
        count: false,
        timeout: TIMEOUT,
        dir: runs.join("unix-damaged-replies"),
    };
    let outcome = launch(&damaged)?;
    checked(&built, &outcome, check_damaged)?;
    eprintln!(
        "firmware test 2 (unix socket, damaged replies) passed in {:.0} s",
        outcome.wall.as_secs_f64()
    );

    let hashed_keys = built.hashed_keys()?;
    let hashed = Spec {
        built: &built,
        serial: Serial::Pty,
        plan: vec![
            "witness=0".into(),
            "input=0".into(),
            "hashed=1".into(),
            "device=0".into(),
        ],
        serve: Vec::new(),
        keys: Some(hashed_keys.clone()),
        host_delay: Duration::from_millis(300),
        faults: None,
        count: false,
        timeout: TIMEOUT,
        dir: runs.join("pty-hashed-input"),
    };
    let outcome = launch(&hashed)?;
    checked(&built, &outcome, |o| check_hashed(&built, &hashed_keys, o))?;
    eprintln!(
        "firmware test 3 (hashed-input keys: the device's commitment proven) passed in {:.0} s",
        outcome.wall.as_secs_f64()
    );

    let weight_keys = built.hashed_weight_keys()?;
    let weights = Spec {
        built: &built,
        serial: Serial::Pty,
        plan: vec![
            "witness=0".into(),
            "input=1".into(),
            "hashed=0".into(),
            "device=0".into(),
        ],
        serve: Vec::new(),
        keys: Some(weight_keys.clone()),
        host_delay: Duration::from_millis(300),
        faults: None,
        count: false,
        timeout: TIMEOUT,
        dir: runs.join("pty-hashed-weights"),
    };
    let outcome = launch(&weights)?;
    checked(&built, &outcome, |o| {
        check_hashed_weights(&built, &weight_keys, o)
    })?;
    eprintln!(
        "firmware test 4 (hashed-weight keys: input mode, the weights' hash proven) passed in \
         {:.0} s",
        outcome.wall.as_secs_f64()
    );
    eprintln!(
        "\nfirmware tests passed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `check`; on failure prints everything the run left.
fn checked(built: &Built, o: &Outcome, check: impl FnOnce(&Outcome) -> Result<()>) -> Result<()> {
    let result = check(o);
    if result.is_err() {
        print_logs(built, &o.dir);
        print_outcome(o, false);
    }
    result
}

fn common(o: &Outcome, witness: usize, input: usize, device: usize) -> Result<()> {
    ensure!(
        o.qemu == Some(0),
        "the firmware exited with {:?} (0 = every proof accepted; see app.rs `Exit`)",
        o.qemu
    );
    ensure!(
        o.get("result") == Some("0"),
        "the device reports {:?}",
        o.get("result")
    );
    ensure!(o.serve_ok, "zkedge serve failed");
    let proofs = o.serve["report"]["proofs"]
        .as_array()
        .context("zkedge serve wrote no report")?;
    let count = |mode: &str| proofs.iter().filter(|p| p["mode"] == mode).count();
    ensure!(
        count("witness") == witness && count("input") == input && count("device-proving") == device,
        "the host accepted {} witness-mode, {} input-mode and {} device-made proofs; expected \
         {witness}, {input} and {device}",
        count("witness"),
        count("input"),
        count("device-proving")
    );
    // The host counts hashed inputs as input mode; the device logs them apart.
    let lines = |mode: &str| o.report.get(mode).map_or(0, Vec::len);
    let input_lines = lines("input") + lines("hashed");
    ensure!(
        input_lines == input,
        "the device logged {input_lines} input-mode proofs, expected {input}"
    );
    let witness_lines = lines("witness");
    ensure!(
        witness_lines == witness,
        "the device logged {witness_lines} witness-mode proofs, expected {witness}"
    );
    // Every digest the device logged is one the host accepted.
    for line in ["witness", "input", "hashed"]
        .into_iter()
        .flat_map(|mode| o.report.get(mode).into_iter().flatten())
    {
        let digest = Outcome::field(line, "digest").context("proof line without digest")?;
        ensure!(
            proofs.iter().any(|p| p["digest"] == digest),
            "the device logged digest {digest}, which the host never accepted"
        );
    }
    Ok(())
}

fn check_clean(built: &Built, o: &Outcome) -> Result<()> {
    let device = usize::from(built.device_proving);
    common(o, 2, 1, device)?;
    if built.device_proving {
        // The firmware itself fails (exit 5) when the host's digest is not its own, so check
        // from the host's side: its report holds the proof the device made, with that digest.
        let line = o.get("device.digest").context("no device-proving result")?;
        let local = Outcome::field(line, "local").context("no local digest")?;
        let proofs = o.serve["report"]["proofs"]
            .as_array()
            .context("zkedge serve wrote no report")?;
        ensure!(
            proofs
                .iter()
                .any(|p| p["mode"] == "device-proving" && p["digest"] == local),
            "the device made proof {local}, which the host's report does not hold"
        );
    }
    // The host came 4 s late: the device must have waited it out.
    let link = o.get("link").context("no link statistics")?;
    let timeouts: u32 = Outcome::field(link, "timeouts")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ensure!(
        timeouts >= 1,
        "the device never had to wait for the host: {link}"
    );
    // Each proof file again, through the CLI's stock verifier.
    let proofs = o.serve["report"]["proofs"].as_array().into_iter().flatten();
    for p in proofs {
        let file = p["file"].as_str().context("the host wrote no proof file")?;
        verify(built, Path::new(file))?;
    }
    Ok(())
}

/// The device drew a salt and computed its input's commitment; the host proved that very
/// commitment, as `zkedge verify --commitment` (halo2-axiom's verifier) confirms from the file.
fn check_hashed(built: &Built, keys: &Path, o: &Outcome) -> Result<()> {
    common(o, 0, 1, 0)?;
    let proofs = o.serve["report"]["proofs"]
        .as_array()
        .context("zkedge serve wrote no report")?;
    let commitment = o
        .get("commitment")
        .and_then(|l| Outcome::field(l, "commitment"))
        .context("the device logged no commitment")?;
    ensure!(
        proofs[0]["commitment"] == commitment,
        "the device computed commitment {commitment}, the host's report says {}",
        proofs[0]["commitment"]
    );
    let file = proofs[0]["file"]
        .as_str()
        .context("the host wrote no proof file")?;
    verify_with(built, keys, Path::new(file), &["--commitment", commitment])
}

/// The host proved the device's reading with keys that hash the model's weights: the proof
/// must carry the hash that `zkedge vk-hash --weights hashed` computes from the model file.
fn check_hashed_weights(built: &Built, keys: &Path, o: &Outcome) -> Result<()> {
    common(o, 0, 1, 0)?;
    let out = Command::new(&built.zkedge)
        .args(["vk-hash", "--weights", "hashed", "--model"])
        .arg(&built.model)
        .output()
        .context("running zkedge vk-hash")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("weights hash "))
        .with_context(|| format!("zkedge vk-hash printed no weights hash: {text}"))?
        .trim()
        .to_string();
    let proofs = o.serve["report"]["proofs"]
        .as_array()
        .context("zkedge serve wrote no report")?;
    let file = proofs[0]["file"]
        .as_str()
        .context("the host wrote no proof file")?;
    verify_with(built, keys, Path::new(file), &["--weights-hash", &hash])
}

fn check_damaged(o: &Outcome) -> Result<()> {
    common(o, 2, 1, 0)?;
    let link = o.get("link").context("no link statistics")?;
    let field = |name| -> u32 {
        Outcome::field(link, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    ensure!(
        field("faults") >= 1 && field("retransmits") >= field("faults"),
        "damaged replies should have been refused and their requests sent again: {link}"
    );
    let faults = o.serve["report"]["faults"].as_u64().unwrap_or(0);
    ensure!(faults >= 1, "the host received no Fault frame");
    Ok(())
}

fn verify(built: &Built, proof: &Path) -> Result<()> {
    verify_with(built, &built.keys, proof, &[])
}

fn verify_with(built: &Built, keys: &Path, proof: &Path, extra: &[&str]) -> Result<()> {
    let out = Command::new(&built.zkedge)
        .arg("verify")
        .arg("--keys")
        .arg(keys)
        .arg("--proof")
        .arg(proof)
        .args(extra)
        // The firmware's keys are over the development SRS (what the test builds): the
        // check is the same, and verify refuses that SRS unless told.
        .arg("--allow-insecure-dev-srs")
        .output()
        .context("running zkedge verify")?;
    if !out.status.success() {
        bail!(
            "zkedge verify rejected {}: {}",
            proof.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
