//! `--proof`: a whole proof of the bundled model on each backend (no router: every MSM and NTT
//! of the proof on that backend), with the same randomness, so that agreeing backends give the
//! same proof byte for byte.

use std::time::Instant;

use accel_backends::Backend;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkedge_kernel::{layout::Layout, model::Model};

use super::{
    report::{Measured, Outcome, Row, Spread},
    run::Progress,
    BenchError, OpKind,
};
use zkedge_core::{
    backends::Registry,
    bundled,
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen},
    srs,
};

fn plan_error(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Plan(format!("{what}: {e}"))
}

/// Keys for the bundled model over the development SRS, and its first test sample.
fn setup() -> Result<(Keys, Vec<i8>), BenchError> {
    let model =
        Model::from_json(bundled::MODEL_JSON).map_err(|e| plan_error("the bundled model", e))?;
    let input = bundled::samples()
        .map_err(|e| plan_error("the bundled samples", e))?
        .inputs
        .into_iter()
        .next()
        .ok_or_else(|| BenchError::Plan("the bundled test set is empty".into()))?;
    let k = Layout::new(&model)
        .map_err(|e| plan_error("the bundled model's layout", e))?
        .k();
    let keys = keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev)
        .map_err(|e| plan_error("keys for the bundled model", e))?;
    Ok((keys, input))
}

/// Steps [`rows`] will report.
pub(super) fn steps(backends: usize, repeat: u32) -> u64 {
    1 + backends as u64 * (1 + u64::from(repeat))
}

/// Proves `repeat + 1` times on every backend (the first proof is checked: identical bytes
/// on every backend, and valid); rows with op [`OpKind::Proof`] and log2 size `k`.
pub(super) fn rows(
    registry: &Registry,
    labels: &[String],
    repeat: u32,
    seed: u64,
    progress: &mut dyn Progress,
) -> Result<Vec<Row>, BenchError> {
    progress.step("keys for the bundled model (development SRS)");
    let (keys, input) = setup()?;
    let k = keys.layout.k();
    let what = format!("a proof of the bundled model (k = {k})");
    let mut reference: Option<(String, Vec<u8>)> = None;
    let mut rows = Vec::new();
    for label in labels {
        // Set up once, as a prover that proves many times would; only proving is timed.
        let mut prover = proof::zk_prover(&keys, registry.create(label)?)
            .map_err(|e| plan_error(&format!("{label}: setting up the prover"), e))?;
        let mut walls = Vec::new();
        let mut cycles = Vec::new();
        let mut links = Vec::new();
        let mut kernels = Vec::new();
        for i in 0..=repeat {
            progress.step(&if i == 0 {
                format!("checking {what} on {label}")
            } else {
                format!("timing {what} on {label} ({i}/{repeat})")
            });
            let before = *prover.backend().counters();
            let start = Instant::now();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let (proved, _) =
                proof::prove_zkedge_with(&keys, &mut prover, &input, MultiOpen::Gwc, &mut rng)
                    .map_err(|e| plan_error(&format!("{label}: {what}"), e))?;
            let wall = start.elapsed().as_secs_f64();
            let spent = prover.backend().counters().since(&before);
            if i == 0 {
                let bytes = proved.file.to_bytes();
                match &reference {
                    None => {
                        proof::verify(&keys, &proved.file).map_err(|e| {
                            plan_error(&format!("{label}: {what} does not verify"), e)
                        })?;
                        reference = Some((label.clone(), bytes));
                    }
                    Some((name, expected)) if *expected != bytes => {
                        return Err(BenchError::Disagree {
                            backend: label.clone(),
                            reference: name.clone(),
                            what,
                            detail: "the proofs differ (same randomness)".into(),
                            seed,
                        })
                    }
                    Some(_) => {}
                }
                continue;
            }
            walls.push(wall);
            cycles.push(spent.device_cycles);
            links.push(spent.link_bytes);
            kernels.push((spent.msm_nanos + spent.ntt_nanos) as f64 / 1e9);
        }
        let timing = prover.backend().device_timing();
        let median = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        let wall = Spread::of(&walls);
        let kernel = Spread::of(&kernels).median;
        let link = median(&mut links);
        rows.push(Row {
            backend: label.clone(),
            op: OpKind::Proof,
            log_n: k,
            outcome: Outcome::Measured(Measured {
                repeats: repeat,
                wall,
                device_cycles: timing.map(|_| median(&mut cycles)),
                clock_hz: timing.map(|t| t.clock_hz),
                link_bytes: (link > 0).then_some(link),
                link_modelled: false,
                link_baud: timing.and_then(|t| t.link_baud).filter(|_| link > 0),
                host_other_s: timing.map(|_| (wall.median - kernel).max(0.0)),
            }),
        });
    }
    Ok(rows)
}
