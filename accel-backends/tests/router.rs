//! The generic router in front of a wire accelerator that goes silent, or of one that fails
//! single jobs: a silent accelerator costs one job budget, then its breaker keeps jobs off it
//! until a probe; a failed job of a batch runs elsewhere while the rest of the batch stays on
//! the accelerator; results always equal the reference's.
#![cfg(feature = "wire")]

use std::{cell::Cell, rc::Rc};

use accel_backends::{
    cpu::Cpu,
    router::{check::SrsCheck, BreakerConfig, CheckConfig, Router},
    wire::{
        faults::Faults, loopback::Loopback, Client, ClientConfig, ServeConfig, Server, Timeouts,
        WireBackend,
    },
    Backend, BackendError, BackendHooks, BasesConfig, Capabilities, Checked, CpuBackend, Domain,
    Fr, G1Affine, G1Projective, LinkError, Meter, MsmJob, NttOp, Policy,
};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::UniformRand;
use rand::{rngs::StdRng, SeedableRng};

fn inputs(seed: u64, n: usize) -> (Vec<G1Affine>, Vec<Fr>) {
    let rng = &mut StdRng::seed_from_u64(seed);
    let g = G1Projective::generator();
    let bases = (0..n).map(|_| (g * Fr::rand(rng)).into_affine()).collect();
    (bases, (0..n).map(|_| Fr::rand(rng)).collect())
}

/// A clock the test moves.
fn manual() -> (Rc<Cell<u64>>, impl FnMut() -> u64) {
    let now = Rc::new(Cell::new(0));
    let read = now.clone();
    (now, move || read.get())
}

type Wire = Checked<WireBackend<Loopback<CpuBackend>>>;

/// A router behind its checked front, as callers use it.
type Routed<A, K> = Checked<Router<A, CpuBackend, K>>;

fn wire(faults: Faults) -> Wire {
    let mut t = Timeouts::default();
    t.reply_ms = 400;
    t.link_bytes_per_s = 300_000;
    let server = Server::new(CpuBackend::new(), ServeConfig::default());
    let line = Loopback::with_faults(server, faults).with_rate(300_000);
    let mut w = WireBackend::new(Client::new(line, ClientConfig::new(t, 0)), "loop");
    w.connect(3).unwrap();
    w.checked()
}

#[test]
fn a_silent_accelerator_costs_one_job_budget_then_its_breaker_keeps_jobs_off_it() {
    let (bases, scalars) = inputs(1, 2048);
    // Silent after the handshake, the bases, and the first MSM.
    let faults = Faults {
        silent_after: Some(3 + 33 + 20),
        ..Faults::default()
    };
    let (now, clock) = manual();
    let mut router = Checked::from_hooks(
        Router::with_parts(wire(faults), CpuBackend::new(), Policy::ALL, clock)
            .with_breaker(BreakerConfig::new(3, 10_000, 40_000)),
    );
    let h = router.load_bases(&bases).unwrap();
    let want = accel_backends::cpu::msm(&bases, &scalars);
    let link_time = |r: &mut Routed<Wire, _>| {
        r.hooks_mut()
            .accelerator_mut()
            .hooks_mut()
            .client()
            .now_ms()
    };
    assert_eq!(router.msm(h, 0, &scalars).unwrap(), want);
    let before = link_time(&mut router);
    // The next MSM meets the silence: it costs the job's budget, then runs on the CPU; every
    // later one goes straight to the CPU without a byte on the link.
    for _ in 0..10 {
        assert_eq!(router.msm(h, 0, &scalars).unwrap(), want);
    }
    let spent = link_time(&mut router) - before;
    let c = router.accelerator().client_ref();
    let budget = c.config().timeouts.job_ms(
        2048 * 33,
        2048,
        c.work_ns_per_element(accel_backends::wire::Work::Msm),
    );
    assert!(
        spent <= budget,
        "{spent} ms of silence for a budget of {budget} ms"
    );
    let s = router.stats();
    assert_eq!((s.accel_jobs, s.reference_jobs, s.fallbacks), (1, 10, 10));
    assert_eq!(router.breaker().trips(), 1);
    // After the back-off one job probes; the peer is still silent: the back-off doubles.
    now.set(10_000);
    assert_eq!(router.msm(h, 0, &scalars).unwrap(), want);
    assert_eq!(router.breaker().trips(), 2);
    now.set(10_000 + 19_999);
    let quiet = link_time(&mut router);
    assert_eq!(router.msm(h, 0, &scalars).unwrap(), want);
    assert_eq!(
        link_time(&mut router),
        quiet,
        "no probe before the doubled back-off"
    );
    // Releasing the bases does not wait on the silent peer.
    router.release_bases(h).unwrap();
    assert_eq!(link_time(&mut router), quiet);
}

/// The CPU backend's hooks, failing the MSMs whose numbers (from 0) are listed with a damaged
/// link; they record how they were asked to hold bases and how wide each MSM's scalars were
/// said to be.
struct Flaky {
    cpu: Cpu,
    fail: Vec<usize>,
    calls: usize,
    configs: Vec<BasesConfig>,
    hints: Vec<u32>,
}

impl Flaky {
    fn failing(fail: Vec<usize>) -> Self {
        Self {
            cpu: Cpu::new(),
            fail,
            calls: 0,
            configs: Vec::new(),
            hints: Vec::new(),
        }
    }
}

impl BackendHooks for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn capabilities(&self) -> Capabilities {
        self.cpu.capabilities()
    }
    fn bases_len(&self, id: u32) -> Option<usize> {
        self.cpu.bases_len(id)
    }
    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        self.configs.push(config);
        self.cpu.load_bases_unchecked(bases, config, meter)
    }
    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        self.cpu.release_bases_unchecked(id, meter)
    }
    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        self.calls += 1;
        self.hints.push(job.scalar_bits);
        if self.fail.contains(&(self.calls - 1)) {
            return Err(LinkError::Corrupt.into());
        }
        self.cpu.msm_unchecked(job, meter)
    }
    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.cpu.ntt_unchecked(values, domain, op, meter)
    }
}

#[test]
fn a_job_that_fails_in_a_batch_runs_elsewhere_and_the_rest_stays() {
    let (bases, scalars) = inputs(2, 256);
    // The batch fails at its third job; retried one by one, the third fails again.
    let flaky = Flaky::failing(vec![2, 7]);
    let (_, clock) = manual();
    let mut router = Checked::from_hooks(Router::with_parts(
        Checked::from_hooks(flaky),
        CpuBackend::new(),
        Policy::ALL,
        clock,
    ));
    let h = router.load_bases(&bases).unwrap();
    let jobs: Vec<MsmJob<'_>> = (0..5)
        .map(|i| MsmJob::new(h, i * 10, &scalars[..100]))
        .collect();
    let sums = router.msm_batch(&jobs).unwrap();
    for (i, s) in sums.iter().enumerate() {
        assert_eq!(
            *s,
            accel_backends::cpu::msm(&bases[i * 10..], &scalars[..100])
        );
    }
    let s = router.stats();
    assert_eq!((s.accel_jobs, s.reference_jobs, s.fallbacks), (4, 1, 1));
    assert_eq!(s.faults, 2);
    assert!(
        !router.breaker().is_open(),
        "two faults are fewer than three"
    );
    // A suspect accelerator gets nothing more.
    router.hooks_mut().mark_suspect();
    router.msm_batch(&jobs).unwrap();
    assert_eq!(router.stats().accel_jobs, 4);
    assert_eq!(router.stats().reference_jobs, 6);
}

#[test]
fn width_hints_and_bases_configs_reach_whichever_backend_runs_the_job() {
    let (bases, scalars) = inputs(7, 64);
    // Small scalars, as an int8 column holds, with their width said.
    let small: Vec<Fr> = scalars.iter().map(|_| -Fr::from(100u64)).collect();
    let (_, clock) = manual();
    let mut router = Checked::from_hooks(Router::with_parts(
        Checked::from_hooks(Flaky::failing(vec![1, 3])),
        Checked::from_hooks(Flaky::failing(Vec::new())),
        Policy::ALL,
        clock,
    ));
    let h = router
        .load_bases_with(&bases, BasesConfig::precomputed(4))
        .unwrap();
    let want = accel_backends::cpu::msm(&bases, &small);
    let job = MsmJob::new(h, 0, &small).with_scalar_bits(7);
    // The first runs on the accelerator; the second fails there and runs on the reference.
    assert_eq!(router.msm_job(&job).unwrap(), want);
    assert_eq!(router.msm_job(&job).unwrap(), want);
    // A batch that fails at its second job is retried job by job on the accelerator.
    assert_eq!(router.msm_batch(&[job, job]).unwrap(), [want, want]);
    let (accel, reference) = (router.accelerator(), router.reference());
    assert_eq!(accel.hints, [7; 6]);
    assert_eq!(reference.hints, [7]);
    assert_eq!(accel.configs, [BasesConfig::precomputed(4)]);
    assert_eq!(reference.configs, [BasesConfig::precomputed(4)]);
    assert_eq!(router.stats().reference_jobs, 1);
}

#[test]
fn bases_only_the_accelerator_holds_have_nowhere_else_to_go() {
    let (bases, scalars) = inputs(3, 300);
    let mut server_side = CpuBackend::new();
    let raw = server_side.load_bases(&bases).unwrap();
    // Hello, MsmBegin, three chunks, MsmEnd: then silence.
    let faults = Faults {
        silent_after: Some(6),
        ..Faults::default()
    };
    let server = Server::new(server_side, ServeConfig::default());
    let mut t = Timeouts::default();
    t.reply_ms = 200;
    let line = Loopback::with_faults(server, faults);
    let mut accel = WireBackend::new(Client::new(line, ClientConfig::new(t, 0)), "loop");
    accel.connect(1).unwrap();
    accel.adopt_bases(raw.id(), bases.len());
    let accel = accel.checked();
    let adopted = accel.handle_for(raw.id()).unwrap();
    let (_, clock) = manual();
    let mut router = Checked::from_hooks(Router::with_parts(
        accel,
        CpuBackend::new(),
        Policy::ALL,
        clock,
    ));
    let id = router
        .hooks_mut()
        .adopt_accel_bases(adopted, bases.len())
        .unwrap();
    let h = router.handle_for(id).unwrap();
    assert_eq!(
        router.msm(h, 0, &scalars).unwrap(),
        accel_backends::cpu::msm(&bases, &scalars)
    );
    // Silent now: the MSM fails with the link's error, even with the breaker open.
    assert_eq!(
        router.msm(h, 0, &scalars),
        Err(BackendError::Link(LinkError::Timeout))
    );
    assert!(router.breaker().is_open());
    assert!(router.msm(h, 0, &scalars).is_err());
}

/// A development SRS of `n` points: its monomial and Lagrange bases and what checks need.
fn srs(n: usize) -> (SrsCheck, Vec<G1Affine>, Vec<G1Affine>) {
    use ark_ff::Field;
    let rng = &mut StdRng::seed_from_u64(9);
    let tau = Fr::rand(rng);
    let g = G1Projective::generator();
    let h = ark_bn254::G2Projective::generator();
    let monomial: Vec<G1Affine> = (0..n as u64)
        .map(|i| (g * tau.pow([i])).into_affine())
        .collect();
    // The Lagrange basis from the monomial one, by the inverse NTT halo2 uses (its root).
    let domain = Domain::with_halo2_root(n.trailing_zeros()).unwrap();
    let mut l = vec![Fr::from(0u64); n];
    let mut lagrange = Vec::with_capacity(n);
    for i in 0..n {
        // L_i(τ) = Σ_j (inverse NTT of e_i)_j τ^j.
        l.iter_mut().for_each(|x| *x = Fr::from(0u64));
        l[i] = Fr::from(1u64);
        CpuBackend::new()
            .ntt(&mut l, &domain, NttOp::inverse())
            .unwrap();
        let li: Fr = l
            .iter()
            .enumerate()
            .map(|(j, c)| *c * tau.pow([j as u64]))
            .sum();
        lagrange.push((g * li).into_affine());
    }
    let check = SrsCheck {
        g1: g.into_affine(),
        g2: h.into_affine(),
        tau_g2: (h * tau).into_affine(),
    };
    (check, monomial, lagrange)
}

fn checked_router(faults: Faults) -> Routed<Wire, impl FnMut() -> u64> {
    let (_, clock) = manual();
    Checked::from_hooks(Router::with_parts(
        wire(faults),
        CpuBackend::new(),
        Policy::ALL,
        clock,
    ))
}

/// Three MSMs over the Lagrange basis and two over the monomial one, and three NTTs: what a
/// prover round sends.
fn round<K: accel_backends::router::Clock>(
    router: &mut Routed<Wire, K>,
    bases: (&[G1Affine], &[G1Affine]),
) -> (Vec<G1Projective>, Vec<Vec<Fr>>) {
    let (monomial, lagrange) = bases;
    let n = monomial.len();
    let m = router.load_bases(monomial).unwrap();
    let l = router.load_bases(lagrange).unwrap();
    let (_, scalars) = inputs(4, 3 * n);
    let jobs = [
        MsmJob::new(l, 0, &scalars[..n]),
        MsmJob::new(l, 0, &scalars[n..2 * n]),
        MsmJob::new(l, 3, &scalars[2 * n..3 * n - 3]),
        MsmJob::new(m, 0, &scalars[..n]),
        MsmJob::new(m, 1, &scalars[n..2 * n - 1]),
    ];
    let sums = router.msm_batch(&jobs).unwrap();
    let want: Vec<G1Projective> = jobs
        .iter()
        .map(|j| {
            let b = if j.bases == l { lagrange } else { monomial };
            accel_backends::cpu::msm(&b[j.start..], j.scalars)
        })
        .collect();
    let domain = Domain::with_halo2_root(n.trailing_zeros()).unwrap();
    let op = NttOp::coset_forward(Fr::from(7u64));
    let mut values: Vec<Vec<Fr>> = scalars.chunks(n).map(<[Fr]>::to_vec).collect();
    let mut views: Vec<&mut [Fr]> = values.iter_mut().map(Vec::as_mut_slice).collect();
    router.ntt_batch(&mut views, &domain, op).unwrap();
    for (got, input) in values.iter().zip(scalars.chunks(n)) {
        let mut want = input.to_vec();
        CpuBackend::new().ntt(&mut want, &domain, op).unwrap();
        assert_eq!(*got, want, "NTT results are the reference's");
    }
    assert_eq!(sums, want, "MSM results are the reference's");
    (sums, values)
}

fn checks(srs: SrsCheck) -> CheckConfig {
    CheckConfig {
        srs: Some(srs),
        ntt: true,
        require: true,
    }
}

#[test]
fn checked_results_of_an_honest_accelerator_are_kept() {
    let (check, monomial, lagrange) = srs(64);
    let mut router = checked_router(Faults::default());
    router.hooks_mut().check_results(checks(check), [1; 32]);
    round(&mut router, (&monomial, &lagrange));
    let s = router.stats();
    assert_eq!((s.accel_jobs, s.reference_jobs, s.wrong), (8, 0, 0));
    assert_eq!(s.checked, 8);
    assert_eq!(s.check_msms, 2, "one opening per basis");
    assert!(!router.is_suspect());
}

#[test]
fn a_lying_msm_or_ntt_is_caught_redone_on_the_reference_and_its_backend_suspect() {
    let (check, monomial, lagrange) = srs(64);
    // Unchecked, the lie goes through (what `prove` and `serve` did before).
    let faults = Faults {
        lie_msm: Some(1),
        ..Faults::default()
    };
    let mut trusting = checked_router(faults.clone());
    let m = trusting.load_bases(&monomial).unwrap();
    let (_, scalars) = inputs(5, 64);
    let first = trusting.msm(m, 0, &scalars).unwrap();
    let lied = trusting.msm(m, 0, &scalars).unwrap();
    assert_eq!(lied, -first, "the second sum came back negated");

    for faults in [
        faults,
        Faults {
            lie_ntt: Some(1),
            ..Faults::default()
        },
    ] {
        let mut router = checked_router(faults);
        router.hooks_mut().check_results(checks(check), [2; 32]);
        round(&mut router, (&monomial, &lagrange));
        let s = router.stats();
        assert!(s.wrong >= 1 && s.reference_jobs >= 1, "{s:?}");
        assert!(router.is_suspect());
        // Nothing more goes to it.
        let before = router.stats().accel_jobs;
        round(&mut router, (&monomial, &lagrange));
        assert_eq!(router.stats().accel_jobs, before);
    }
}

#[test]
fn unverifiable_msms_stay_on_the_reference_when_checks_are_required() {
    let (check, _, _) = srs(8);
    let (bases, scalars) = inputs(6, 100);
    let mut router = checked_router(Faults::default());
    router.hooks_mut().check_results(checks(check), [3; 32]);
    let h = router.load_bases(&bases).unwrap();
    assert_eq!(
        router.msm(h, 0, &scalars).unwrap(),
        accel_backends::cpu::msm(&bases, &scalars)
    );
    assert_eq!(router.stats().accel_jobs, 0);
    assert_eq!(router.stats().reference_jobs, 1);
}
