//! The one wire client (`WireBackend` over `Client`) against the real server over the CPU
//! backend, in process on a simulated clock, through the fault injector: what each fault costs
//! in retransmissions and in (simulated) time, and that the results stay right. Results are
//! checked against arkworks (`accel_backends::cpu::msm` is arkworks' VariableBaseMSM) and the
//! CPU backend's NTT.
#![cfg(feature = "wire")]

use accel_backends::{
    wire::{
        faults::Faults, loopback::Loopback, Client, ClientConfig, ServeConfig, Server, Timeouts,
        WireBackend,
    },
    Backend, BackendError, Checked, CpuBackend, Domain, Fr, G1Affine, G1Projective, LinkError,
    NttOp,
};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::{Field, UniformRand};
use rand::{rngs::StdRng, SeedableRng};

/// A 3 Mbaud line, as `zkedge` opens serial accelerators.
const RATE: u64 = 300_000;

fn timeouts() -> Timeouts {
    let mut t = Timeouts::default();
    t.reply_ms = 400;
    t.link_bytes_per_s = RATE as u32;
    t
}

type Wire = Checked<WireBackend<Loopback<CpuBackend>>>;

fn backend(faults: Faults) -> Wire {
    let server = Server::new(CpuBackend::new(), ServeConfig::default());
    let line = Loopback::with_faults(server, faults).with_rate(RATE);
    let mut b = WireBackend::new(Client::new(line, ClientConfig::new(timeouts(), 0)), "loop");
    b.connect(3).expect("handshake");
    b.checked()
}

fn inputs(seed: u64, n: usize) -> (Vec<G1Affine>, Vec<Fr>) {
    let rng = &mut StdRng::seed_from_u64(seed);
    let g = G1Projective::generator();
    let bases: Vec<G1Affine> = (0..n).map(|_| (g * Fr::rand(rng)).into_affine()).collect();
    let scalars = (0..n).map(|_| Fr::rand(rng)).collect();
    (bases, scalars)
}

fn now(b: &mut Wire) -> u64 {
    b.hooks_mut().client().now_ms()
}

#[test]
fn clean_jobs_give_the_reference_results() {
    let (bases, scalars) = inputs(1, 1000);
    let mut b = backend(Faults::default());
    let h = b.load_bases(&bases).unwrap();
    assert_eq!(
        b.msm(h, 0, &scalars).unwrap(),
        accel_backends::cpu::msm(&bases, &scalars)
    );
    assert_eq!(
        b.msm(h, 700, &scalars[..300]).unwrap(),
        accel_backends::cpu::msm(&bases[700..], &scalars[..300])
    );
    let domain = Domain::with_halo2_root(10).unwrap();
    let mut values = scalars[..1024.min(scalars.len())].to_vec();
    values.resize(1024, Fr::from(3u64));
    let mut want = values.clone();
    let op = NttOp::coset_inverse(Fr::from(7u64));
    CpuBackend::new().ntt(&mut want, &domain, op).unwrap();
    b.ntt(&mut values, &domain, op).unwrap();
    assert_eq!(values, want);
    b.release_bases(h).unwrap();
    let s = b.client_ref().stats();
    assert_eq!((s.retransmits, s.faults, s.timeouts), (0, 0, 0));
}

/// Simulated milliseconds one MSM of `n` takes under `faults`, and the client's statistics.
fn timed_msm(faults: Faults, n: usize) -> (u64, accel_backends::wire::LinkStats) {
    let (bases, scalars) = inputs(2, n);
    let mut b = backend(faults);
    let h = b.load_bases(&bases).unwrap();
    let t0 = now(&mut b);
    let got = b.msm(h, 0, &scalars).expect("the MSM survives");
    assert_eq!(got, accel_backends::cpu::msm(&bases, &scalars));
    (now(&mut b) - t0, b.client_ref().stats())
}

#[test]
fn a_dropped_request_or_reply_costs_one_reply_window_not_the_job() {
    let (clean, _) = timed_msm(Faults::default(), 4096);
    // The handshake and the bases upload take frames 0..=66; drop a scalar chunk of the MSM
    // on its way up, and another chunk's reply on its way down.
    let faults = Faults {
        drop_up: [70].into(),
        drop_down: [80].into(),
        ..Faults::default()
    };
    let (lossy, s) = timed_msm(faults, 4096);
    assert_eq!(s.retransmits, 2, "{s:?}");
    assert_eq!(
        s.resumed, 1,
        "the chunk whose reply was lost is not taken twice"
    );
    // Each loss costs one reply window (400 ms + margin × transfer), far below 2 s.
    assert!(
        lossy - clean < 2 * 1_000,
        "{clean} ms clean, {lossy} ms lossy"
    );
}

#[test]
fn damaged_frames_are_refused_faulted_and_retransmitted() {
    let faults = Faults {
        flip_down: 2e-3,
        flip_up: 2e-4,
        seed: 5,
        ..Faults::default()
    };
    let (bases, scalars) = inputs(3, 2000);
    let mut b = backend(faults);
    let h = b.load_bases(&bases).unwrap();
    for _ in 0..3 {
        assert_eq!(
            b.msm(h, 0, &scalars).unwrap(),
            accel_backends::cpu::msm(&bases, &scalars)
        );
    }
    let s = b.client_ref().stats();
    assert!(s.faults >= 1 && s.retransmits >= s.faults, "{s:?}");
    let line = b.into_hooks().into_client();
    assert!(line.line().injected().flipped > 0);
    assert_eq!(line.line().server().faults(), u64::from(s.faults));
}

#[test]
fn duplicated_and_stalled_frames_change_nothing() {
    let faults = Faults {
        duplicate_every: Some(3),
        stall: Some((75, 5_000)),
        ..Faults::default()
    };
    let (_, s) = timed_msm(faults, 3000);
    assert!(s.stale >= 1, "{s:?}");
}

#[test]
fn line_noise_at_1e4_costs_retransmissions_not_jobs() {
    // 1e-4 of the bytes damaged both ways: a 4096-term MSM moves ~135 kB, so ~13 damaged
    // frames each. Every job must complete, each in well under twice its clean time.
    let (clean, _) = timed_msm(Faults::default(), 4096);
    let (bases, scalars) = inputs(4, 4096);
    let mut b = backend(Faults::noise(1e-4, 11));
    let h = b.load_bases(&bases).unwrap();
    let want = accel_backends::cpu::msm(&bases, &scalars);
    for _ in 0..10 {
        let t0 = now(&mut b);
        assert_eq!(b.msm(h, 0, &scalars).unwrap(), want);
        let took = now(&mut b) - t0;
        assert!(took < 2 * clean + 2_000, "{took} ms, clean {clean} ms");
    }
    assert!(b.client_ref().stats().retransmits >= 10);
}

#[test]
fn a_silent_peer_fails_the_job_within_its_budget() {
    let (bases, scalars) = inputs(5, 4096);
    // Silent after the bases and a few scalar chunks.
    let faults = Faults {
        silent_after: Some(75),
        ..Faults::default()
    };
    let mut b = backend(faults);
    let h = b.load_bases(&bases).unwrap();
    let t0 = now(&mut b);
    let got = b.msm(h, 0, &scalars);
    let took = now(&mut b) - t0;
    assert_eq!(got, Err(BackendError::Link(LinkError::Timeout)));
    let c = b.client_ref();
    let budget = c.config().timeouts.job_ms(
        4096 * 33,
        4096,
        c.work_ns_per_element(accel_backends::wire::Work::Msm),
    );
    assert!(
        took <= budget + 1_000,
        "{took} ms for a budget of {budget} ms"
    );
    // Releasing bases on the silent peer returns within one reply window.
    let t0 = now(&mut b);
    assert!(b.release_bases(h).is_err());
    assert!(now(&mut b) - t0 <= 2 * 400 + 100);
    assert_eq!(b.bases_len(h), None, "forgotten here at once");
}

#[test]
fn the_handshake_is_retried() {
    let faults = Faults {
        drop_up: [0].into(),
        drop_down: [1].into(),
        ..Faults::default()
    };
    // Two hellos lost (one request, one reply): the third gets through.
    backend(faults);
    let faults = Faults {
        silent_after: Some(0),
        ..Faults::default()
    };
    let server = Server::new(CpuBackend::new(), ServeConfig::default());
    let line = Loopback::with_faults(server, faults);
    let mut b = WireBackend::new(Client::new(line, ClientConfig::new(timeouts(), 0)), "loop");
    assert_eq!(b.connect(3), Err(BackendError::Link(LinkError::Timeout)));
    assert_eq!(b.client().stats().timeouts, 3);
}

/// Link bytes the client counted for one MSM of `scalars` over `bases`, and its result.
fn msm_bytes(b: &mut Wire, bases: &[G1Affine], scalars: &[Fr]) -> (u64, G1Projective) {
    let h = b.load_bases(bases).unwrap();
    let before = b.client_ref().stats().tx_bytes;
    let sum = b.msm(h, 0, scalars).unwrap();
    let sent = b.client_ref().stats().tx_bytes - before;
    b.release_bases(h).unwrap();
    (sent, sum)
}

#[test]
fn scalars_travel_as_narrow_as_they_are() {
    let n = 4096;
    let (bases, _) = inputs(5, n);
    let rng = &mut StdRng::seed_from_u64(6);
    let mut b = backend(Faults::default());
    // int8 activations (a third negative) take one byte each; u8 limbs two (a sign bit on top).
    let int8: Vec<Fr> = (0..n)
        .map(|_| Fr::from(i64::from(rand::Rng::gen::<i8>(rng))))
        .collect();
    let u8s: Vec<Fr> = (0..n)
        .map(|_| Fr::from(u64::from(rand::Rng::gen::<u8>(rng))))
        .collect();
    let (_, random) = inputs(7, n);
    for (name, scalars, most) in [
        ("int8", &int8, 1.05),
        ("u8", &u8s, 2.1),
        ("random", &random, 32.2),
    ] {
        let (sent, sum) = msm_bytes(&mut b, &bases, scalars);
        assert_eq!(sum, accel_backends::cpu::msm(&bases, scalars), "{name}");
        let per = sent as f64 / n as f64;
        assert!(per < most, "{name}: {per:.2} bytes a scalar");
        println!("{name}: {per:.2} bytes a scalar");
    }
    // Each width's edges: 2^(8w−1) − 1 and −2^(8w−1) fit w bytes, 2^(8w−1) and −2^(8w−1) − 1
    // need w + 1 (and past 16 bytes, full width).
    for w in 1..=16u32 {
        let top = Fr::from(2u64).pow([u64::from(8 * w - 1)]);
        for edge in [top - Fr::ONE, -top, top, -top - Fr::ONE] {
            let scalars = [edge, Fr::ONE, -Fr::ONE];
            let (_, sum) = msm_bytes(&mut b, &bases[..3], &scalars);
            assert_eq!(
                sum,
                accel_backends::cpu::msm(&bases[..3], &scalars),
                "width {w}"
            );
        }
    }
}

/// A server of this protocol version that predates narrow scalars.
struct NoNarrow;

impl accel_backends::wire::Extension<CpuBackend> for NoNarrow {
    fn answer(
        &mut self,
        _: &mut CpuBackend,
        body: &accel_proto::RequestBody<'_>,
    ) -> Option<Result<accel_proto::ReplyBody<'static>, accel_proto::ErrorReply>> {
        matches!(body, accel_proto::RequestBody::MsmBeginNarrow { .. }).then_some(Err(
            accel_proto::ErrorReply {
                code: accel_proto::ErrorCode::UnknownKind,
                detail: 24,
            },
        ))
    }
}

#[test]
fn a_peer_without_narrow_scalars_gets_full_width_ones() {
    let server = Server::new(CpuBackend::new(), ServeConfig::default()).with_extension(NoNarrow);
    let line = Loopback::with_faults(server, Faults::default()).with_rate(RATE);
    let mut wire = WireBackend::new(Client::new(line, ClientConfig::new(timeouts(), 0)), "old");
    wire.connect(3).expect("handshake");
    let mut b = wire.checked();
    let (bases, _) = inputs(8, 256);
    let small: Vec<Fr> = (0..256u64).map(Fr::from).collect();
    for _ in 0..2 {
        let h = b.load_bases(&bases).unwrap();
        let before = b.client_ref().stats().tx_bytes;
        let sum = b.msm(h, 0, &small).unwrap();
        assert_eq!(sum, accel_backends::cpu::msm(&bases, &small));
        let sent = b.client_ref().stats().tx_bytes - before;
        assert!(sent > 32 * 256, "{sent} bytes: not full width");
        b.release_bases(h).unwrap();
    }
}
