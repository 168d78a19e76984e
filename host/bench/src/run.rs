//! The benchmark itself: build the backends, load bases, check agreement, time.

use std::time::Instant;

use accel_backends::{Backend, BackendError, BasesHandle, Domain, Fr, NttOp};
use ark_ec::CurveGroup;

use super::{
    report::{Measured, Outcome, Report, Row, Spread},
    workload::{self, msm_wire_bytes, ntt_wire_bytes},
    BenchError, OpKind, Plan,
};
use zkedge_core::backends::{DynBackend, Registry};

/// Where a running benchmark reports what it does (a progress bar, or nothing).
pub trait Progress {
    /// The run has `total` steps.
    fn start(&mut self, total: u64);
    /// One step is about to run.
    fn step(&mut self, what: &str);
    /// A line worth keeping on the terminal.
    fn note(&mut self, line: &str);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _: u64) {}
    fn step(&mut self, _: &str) {}
    fn note(&mut self, _: &str) {}
}

struct Contender {
    label: String,
    backend: DynBackend,
    /// The bases and how many of them it holds.
    bases: Option<(BasesHandle, usize)>,
}

fn what(op: OpKind, log_n: u32) -> String {
    match op {
        OpKind::Msm => format!("MSM of 2^{log_n} terms"),
        OpKind::Ntt => format!("NTT of 2^{log_n} points"),
        OpKind::Proof => format!("a proof of 2^{log_n} rows"),
    }
}

/// Why `c` cannot run `op` at `log_n`, if it cannot.
fn refusal(c: &Contender, op: OpKind, log_n: u32) -> Option<String> {
    let caps = c.backend.capabilities();
    let n = 1usize << log_n;
    match op {
        OpKind::Msm if n > caps.max_msm_len => {
            Some(format!("MSMs up to {} terms", caps.max_msm_len))
        }
        OpKind::Msm if c.bases.is_none_or(|(_, len)| len < n) => {
            Some(format!("holds {} bases", c.bases.map_or(0, |(_, len)| len)))
        }
        OpKind::Ntt if log_n > caps.max_ntt_log_n => {
            Some(format!("NTTs up to 2^{}", caps.max_ntt_log_n))
        }
        _ => None,
    }
}

fn is_refusal(e: &BackendError) -> bool {
    matches!(
        e,
        BackendError::SizeUnsupported { .. }
            | BackendError::NoBasesSlot { .. }
            | BackendError::OutOfMemory { .. }
    )
}

/// The jobs' results, for comparison.
#[derive(PartialEq)]
enum Output {
    Msm(ark_bn254::G1Affine),
    Ntt(Vec<Vec<Fr>>),
}

/// The NTTs the agreement check runs (the first is the one timed).
fn ntt_ops() -> [(NttOp, &'static str); 3] {
    let g = workload::coset_generator();
    [
        (NttOp::forward(), "forward"),
        (NttOp::inverse(), "inverse"),
        (NttOp::coset_forward(g), "coset forward"),
    ]
}

fn differ(a: &Output, b: &Output) -> Option<String> {
    match (a, b) {
        (Output::Msm(x), Output::Msm(y)) if x != y => Some("the sums differ".into()),
        (Output::Ntt(xs), Output::Ntt(ys)) => {
            xs.iter()
                .zip(ys)
                .zip(ntt_ops())
                .find_map(|((x, y), (_, name))| {
                    x.iter()
                        .zip(y)
                        .position(|(p, q)| p != q)
                        .map(|i| format!("the {name} NTT's outputs first differ at index {i}"))
                })
        }
        _ => None,
    }
}

fn run_once(
    c: &mut Contender,
    op: OpKind,
    input: &[Fr],
    domain: &Domain,
) -> Result<Output, BackendError> {
    match op {
        OpKind::Msm => {
            let (h, _) = c
                .bases
                .ok_or(BackendError::UnknownBases(BasesHandle::detached(0)))?;
            Ok(Output::Msm(c.backend.msm(h, 0, input)?.into_affine()))
        }
        // Jobs are kernels: MSM or NTT.
        _ => {
            let mut outs = Vec::new();
            for (o, _) in ntt_ops() {
                let mut v = input.to_vec();
                c.backend.ntt(&mut v, domain, o)?;
                outs.push(v);
            }
            Ok(Output::Ntt(outs))
        }
    }
}

/// Runs `plan` with the backends of `registry`: checks that every backend gives the same
/// results as the first one that ran each job, then times them.
pub fn run(
    registry: &Registry,
    plan: &Plan,
    progress: &mut dyn Progress,
) -> Result<Report, BenchError> {
    if plan.backends.is_empty() {
        return Err(BenchError::Plan("no backends to compare".into()));
    }
    if plan.repeat == 0 {
        return Err(BenchError::Plan("--repeat must be at least 1".into()));
    }
    if let Some(r) = plan.msm.filter(|r| r.hi > super::MAX_MSM_LOG) {
        return Err(BenchError::Plan(format!(
            "--msm {r}: MSMs above 2^{} are not benchmarked (memory for their bases)",
            super::MAX_MSM_LOG
        )));
    }
    for (i, spec) in plan.backends.iter().enumerate() {
        if plan.backends[..i].contains(spec) {
            return Err(BenchError::Plan(format!(
                "backend {spec:?} is listed twice"
            )));
        }
    }
    let mut jobs: Vec<(OpKind, u32)> = Vec::new();
    if let Some(r) = plan.msm {
        jobs.extend(r.sizes().map(|k| (OpKind::Msm, k)));
    }
    if let Some(r) = plan.ntt {
        jobs.extend(r.sizes().map(|k| (OpKind::Ntt, k)));
    }
    if jobs.is_empty() && !plan.proof {
        return Err(BenchError::Plan(
            "nothing to run: give --msm and/or --ntt".into(),
        ));
    }

    let mut contenders = Vec::new();
    for spec in &plan.backends {
        contenders.push(Contender {
            label: spec.clone(),
            backend: registry.create(spec)?,
            bases: None,
        });
    }
    let per_job = contenders.len() as u64;
    let setup = if plan.msm.is_some() { 1 + per_job } else { 0 };
    let proofs = if plan.proof {
        super::proof::steps(contenders.len(), plan.repeat)
    } else {
        0
    };
    progress.start(setup + jobs.len() as u64 * per_job * (1 + u64::from(plan.repeat)) + proofs);

    // Bases once per backend, as a prover loads its SRS.
    if let Some(r) = plan.msm {
        progress.step("generating bases");
        let bases = workload::bases(plan.seed, 1 << r.hi);
        for c in &mut contenders {
            progress.step(&format!("loading bases into {}", c.label));
            let len = bases.len().min(c.backend.capabilities().max_bases_len);
            let start = Instant::now();
            match c.backend.load_bases(&bases[..len]) {
                Ok(h) => {
                    c.bases = Some((h, len));
                    let link = c.backend.counters().link_bytes;
                    progress.note(&format!(
                        "{}: {} bases loaded in {}{}",
                        c.label,
                        len,
                        super::report::secs(start.elapsed().as_secs_f64()),
                        if link > 0 {
                            format!(" ({link} bytes on its link)")
                        } else {
                            String::new()
                        }
                    ));
                }
                Err(e) if is_refusal(&e) => {
                    progress.note(&format!("{}: refused the bases: {e}", c.label))
                }
                Err(source) => {
                    return Err(BenchError::Backend {
                        backend: c.label.clone(),
                        what: format!("loading {len} bases"),
                        source,
                    })
                }
            }
        }
    }

    // Agreement first: nothing is timed until every backend agrees on every job.
    let mut unsupported = std::collections::BTreeMap::new();
    for &(op, log_n) in &jobs {
        let input = workload::scalars(plan.seed, op, log_n);
        let domain = Domain::with_halo2_root(log_n).map_err(|source| BenchError::Backend {
            backend: "-".into(),
            what: what(op, log_n),
            source,
        })?;
        let mut reference: Option<(String, Output)> = None;
        for c in &mut contenders {
            progress.step(&format!("checking {} on {}", what(op, log_n), c.label));
            if let Some(why) = refusal(c, op, log_n) {
                unsupported.insert((c.label.clone(), op, log_n), why);
                continue;
            }
            let out = match run_once(c, op, &input, &domain) {
                Ok(out) => out,
                Err(e) if is_refusal(&e) => {
                    unsupported.insert((c.label.clone(), op, log_n), e.to_string());
                    continue;
                }
                Err(source) => {
                    return Err(BenchError::Backend {
                        backend: c.label.clone(),
                        what: what(op, log_n),
                        source,
                    })
                }
            };
            match &reference {
                None => reference = Some((c.label.clone(), out)),
                Some((name, expected)) => {
                    if let Some(detail) = differ(&out, expected) {
                        return Err(BenchError::Disagree {
                            backend: c.label.clone(),
                            reference: name.clone(),
                            what: what(op, log_n),
                            detail,
                            seed: plan.seed,
                        });
                    }
                }
            }
        }
    }
    if !jobs.is_empty() {
        progress.note(&format!(
            "all {} backends agree bit for bit on every job (MSM sums; forward, inverse and coset NTTs)",
            contenders.len()
        ));
    }

    let mut rows = Vec::new();
    for &(op, log_n) in &jobs {
        let input = workload::scalars(plan.seed, op, log_n);
        let domain = Domain::with_halo2_root(log_n).map_err(|source| BenchError::Backend {
            backend: "-".into(),
            what: what(op, log_n),
            source,
        })?;
        for c in &mut contenders {
            if let Some(why) = unsupported.get(&(c.label.clone(), op, log_n)) {
                rows.push(Row {
                    backend: c.label.clone(),
                    op,
                    log_n,
                    outcome: Outcome::Unsupported(why.clone()),
                });
                continue;
            }
            let measured = time(c, op, log_n, &input, &domain, plan.repeat, progress)?;
            rows.push(Row {
                backend: c.label.clone(),
                op,
                log_n,
                outcome: Outcome::Measured(measured),
            });
        }
    }
    if plan.proof {
        let labels: Vec<String> = contenders.iter().map(|c| c.label.clone()).collect();
        // The kernels' backends hold bases the proofs do not need.
        drop(contenders);
        rows.extend(super::proof::rows(
            registry,
            &labels,
            plan.repeat,
            plan.seed,
            progress,
        )?);
        progress.note(&format!(
            "all {} backends make the same proof byte for byte, and it verifies",
            labels.len()
        ));
        return Ok(Report {
            seed: plan.seed,
            backends: labels,
            rows,
        });
    }
    Ok(Report {
        seed: plan.seed,
        backends: contenders.into_iter().map(|c| c.label).collect(),
        rows,
    })
}

/// `repeat` timed runs of the timed job (MSM, or forward NTT).
fn time(
    c: &mut Contender,
    op: OpKind,
    log_n: u32,
    input: &[Fr],
    domain: &Domain,
    repeat: u32,
    progress: &mut dyn Progress,
) -> Result<Measured, BenchError> {
    let fail = |source| BenchError::Backend {
        backend: c.label.clone(),
        what: what(op, log_n),
        source,
    };
    let mut walls = Vec::new();
    let mut cycles = Vec::new();
    let mut links = Vec::new();
    for i in 0..repeat {
        progress.step(&format!(
            "timing {} on {} ({}/{repeat})",
            what(op, log_n),
            c.label,
            i + 1
        ));
        let before = *c.backend.counters();
        let wall = match op {
            OpKind::Msm => {
                let (h, _) = c
                    .bases
                    .ok_or(fail(BackendError::UnknownBases(BasesHandle::detached(0))))?;
                let start = Instant::now();
                let _sum = c.backend.msm(h, 0, input).map_err(fail)?;
                start.elapsed()
            }
            _ => {
                let mut v = input.to_vec();
                let start = Instant::now();
                c.backend
                    .ntt(&mut v, domain, NttOp::forward())
                    .map_err(fail)?;
                start.elapsed()
            }
        };
        let spent = c.backend.counters().since(&before);
        walls.push(wall.as_secs_f64());
        cycles.push(spent.device_cycles);
        links.push(spent.link_bytes);
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let timing = c.backend.device_timing();
    let device_cycles = timing.map(|_| median(&mut cycles));
    let counted = median(&mut links);
    let (link_bytes, link_modelled) = match timing.and_then(|t| t.link_baud) {
        _ if counted > 0 => (Some(counted), false),
        Some(_) => {
            let modelled = match op {
                OpKind::Msm => msm_wire_bytes(input),
                _ => ntt_wire_bytes(input, domain, NttOp::forward()),
            };
            (Some(modelled), true)
        }
        None => (None, false),
    };
    Ok(Measured {
        repeats: repeat,
        wall: Spread::of(&walls),
        device_cycles,
        clock_hz: timing.map(|t| t.clock_hz),
        link_bytes,
        link_modelled,
        link_baud: timing.and_then(|t| t.link_baud),
        host_other_s: None,
    })
}
