//! ICICLE equals zkedge's CPU backend on random inputs up to 2^14: MSMs over whole and partial
//! ranges of loaded bases, NTTs forward, inverse and on cosets, with halo2's roots and others;
//! plus what is particular to ICICLE: the global domain growing and shrinking, several backends
//! and threads at once, device selection that fails instead of aborting.

mod common;

use accel_backends::{Backend, BackendError, CpuBackend, Domain, Fr, G1Affine, NttOp};
use accel_conformance::test_rng;
use accel_icicle::{DeviceChoice, IcicleBackend, SetupError};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{AdditiveGroup, UniformRand};
use halo2_proofs::halo2curves::{bn256::Fr as H2Fr, ff::WithSmallOrderMulGroup};
use rand::Rng;

fn points(rng: &mut impl Rng, n: usize) -> Vec<G1Affine> {
    let g = G1Affine::generator();
    let mut p: Vec<G1Affine> = (0..n).map(|_| (g * Fr::rand(rng)).into_affine()).collect();
    // The identity and repeated points break naive bucket code.
    if n > 4 {
        p[1] = G1Affine::identity();
        p[3] = p[2];
    }
    p
}

fn scalars(rng: &mut impl Rng, n: usize) -> Vec<Fr> {
    let mut s: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
    if n > 8 {
        s[0] = Fr::ZERO;
        s[5] = -Fr::from(1u64);
        s[7] = Fr::from(1u64);
    }
    s
}

#[test]
fn msm_equals_cpu_up_to_2_pow_14() {
    let (mut rng, _) = test_rng("msm_vs_cpu");
    let n = 1 << 14;
    let bases = points(&mut rng, n);
    let mut icicle = common::backend();
    let mut cpu = CpuBackend::new();
    let hi = icicle.load_bases(&bases).unwrap();
    let hc = cpu.load_bases(&bases).unwrap();
    for (start, len) in [
        (0, 1),
        (0, 2),
        (0, 3),
        (5, 100),
        (0, 1 << 10),
        (1000, (1 << 12) + 7),
        (1, n - 1),
        (0, n),
    ] {
        let s = scalars(&mut rng, len);
        let got = icicle.msm(hi, start, &s).unwrap();
        let want = cpu.msm(hc, start, &s).unwrap();
        assert_eq!(got, want, "MSM of {len} at {start}");
    }
    assert_eq!(icicle.counters().msm_calls, 8);
    assert_eq!(icicle.counters().bases_loads, 1);
}

#[test]
fn msm_batches_and_several_handles() {
    let (mut rng, _) = test_rng("msm_handles");
    let mut icicle = common::backend();
    let mut cpu = CpuBackend::new();
    let a = points(&mut rng, 300);
    let b = points(&mut rng, 500);
    let (ia, ib) = (
        icicle.load_bases(&a).unwrap(),
        icicle.load_bases(&b).unwrap(),
    );
    let (ca, cb) = (cpu.load_bases(&a).unwrap(), cpu.load_bases(&b).unwrap());
    let (sa, sb) = (scalars(&mut rng, 300), scalars(&mut rng, 450));
    let jobs = |x, y| {
        [
            accel_backends::MsmJob {
                bases: x,
                start: 0,
                scalars: &sa[..],
            },
            accel_backends::MsmJob {
                bases: y,
                start: 50,
                scalars: &sb[..],
            },
        ]
    };
    assert_eq!(
        icicle.msm_batch(&jobs(ia, ib)).unwrap(),
        cpu.msm_batch(&jobs(ca, cb)).unwrap()
    );
    // Released handles are gone; others still work; empty sets are fine.
    icicle.release_bases(ia).unwrap();
    assert_eq!(
        icicle.msm(ia, 0, &sa[..1]),
        Err(BackendError::UnknownBases(ia))
    );
    assert_eq!(
        icicle.release_bases(ia),
        Err(BackendError::UnknownBases(ia))
    );
    assert_eq!(
        icicle.msm(ib, 0, &sb[..10]).unwrap(),
        cpu.msm(cb, 0, &sb[..10]).unwrap()
    );
    let empty = icicle.load_bases(&[]).unwrap();
    assert_eq!(
        icicle.msm(empty, 0, &[]).unwrap(),
        accel_backends::G1Projective::default()
    );
    assert!(matches!(
        icicle.msm(empty, 0, &sa[..1]),
        Err(BackendError::BasesOutOfRange { .. })
    ));
}

/// Forward, inverse, coset forward and coset inverse at one domain, ICICLE vs CPU.
fn ntt_all_ops(
    icicle: &mut accel_backends::Checked<IcicleBackend>,
    cpu: &mut CpuBackend,
    rng: &mut impl Rng,
    domain: &Domain,
) {
    let zeta = accel_conformance::oracle::from_halo2(&H2Fr::ZETA);
    let g = Fr::rand(rng);
    let a = scalars(rng, domain.size());
    for op in [
        NttOp::forward(),
        NttOp::inverse(),
        NttOp::coset_forward(g),
        NttOp::coset_inverse(g),
        NttOp::coset_forward(zeta),
        NttOp::coset_inverse(zeta),
    ] {
        let mut got = a.clone();
        let mut want = a.clone();
        icicle.ntt(&mut got, domain, op).unwrap();
        cpu.ntt(&mut want, domain, op).unwrap();
        assert!(
            got == want,
            "{op:?} on 2^{} (ω = {}) differs from the CPU backend",
            domain.log_n(),
            domain.omega()
        );
    }
}

#[test]
fn ntt_equals_cpu_up_to_2_pow_14() {
    let (mut rng, _) = test_rng("ntt_vs_cpu");
    let mut icicle = common::backend();
    let mut cpu = CpuBackend::new();
    // Growing sizes (the domain is rebuilt), then smaller ones again (it is reused).
    for log_n in (0..=14).chain([3, 9, 1]) {
        let domain = Domain::with_halo2_root(log_n).unwrap();
        ntt_all_ops(&mut icicle, &mut cpu, &mut rng, &domain);
    }
    assert_eq!(icicle.counters().ntt_calls, 18 * 6);
}

#[test]
fn ntt_with_other_roots_is_permuted_correctly() {
    let (mut rng, _) = test_rng("ntt_other_roots");
    let mut icicle = common::backend();
    let mut cpu = CpuBackend::new();
    for log_n in [1, 2, 5, 11, 14] {
        // arkworks' root, and a random odd power of halo2's.
        let ark = Domain::with_default_root(log_n).unwrap();
        ntt_all_ops(&mut icicle, &mut cpu, &mut rng, &ark);
        let halo2 = Domain::with_halo2_root(log_n).unwrap();
        let j = rng.gen::<u64>() | 1;
        let other = Domain::new(log_n, ark_ff::Field::pow(&halo2.omega(), [j])).unwrap();
        ntt_all_ops(&mut icicle, &mut cpu, &mut rng, &other);
    }
}

#[test]
fn several_backends_on_several_threads() {
    // ICICLE's NTT domain is global and its active device per thread: backends created on one
    // thread and used on others, with different sizes at once, must all stay right.
    let handles: Vec<_> = (0..3u32)
        .map(|t| {
            let mut icicle = common::backend();
            std::thread::spawn(move || {
                let (mut rng, _) = test_rng("threads");
                let mut cpu = CpuBackend::new();
                for round in 0..4 {
                    let log_n = 6 + 3 * t + round % 2;
                    let domain = Domain::with_halo2_root(log_n).unwrap();
                    ntt_all_ops(&mut icicle, &mut cpu, &mut rng, &domain);
                    let b = points(&mut rng, 1 << log_n);
                    let s = scalars(&mut rng, 1 << log_n);
                    let h = icicle.load_bases(&b).unwrap();
                    let want = accel_backends::cpu::msm(&b, &s);
                    assert_eq!(icicle.msm(h, 0, &s).unwrap(), want);
                    icicle.release_bases(h).unwrap();
                }
                icicle
            })
        })
        .collect();
    for h in handles {
        // Dropped here, on the main thread, with its bases freed on its own device.
        let backend = h.join().expect("a worker thread failed");
        drop(backend);
    }
}

#[test]
fn backend_dropped_on_another_thread_frees_its_bases() {
    let (mut rng, _) = test_rng("drop_elsewhere");
    let mut icicle = common::backend();
    let b = points(&mut rng, 64);
    icicle.load_bases(&b).unwrap();
    std::thread::spawn(move || drop(icicle)).join().unwrap();
}

#[test]
fn device_choice_never_aborts() {
    // An unregistered type is an error, not the abort ICICLE's set_device would give.
    let got = IcicleBackend::new(&"NOSUCHDEVICE".parse().unwrap());
    assert!(
        matches!(got, Err(SetupError::Unavailable { .. })),
        "{got:?}"
    );
    let got = IcicleBackend::new(
        &DeviceChoice::cpu()
            .to_string()
            .replace(":0", ":7")
            .parse()
            .unwrap(),
    );
    assert!(
        matches!(got, Err(SetupError::Unavailable { .. })),
        "CPU:7: {got:?}"
    );
    // CUDA: an error here unless this machine has a GPU with ICICLE's CUDA backend.
    match IcicleBackend::new(&DeviceChoice::cuda(0)) {
        Ok(b) => eprintln!("CUDA present: {}", b.selected().note()),
        Err(e) => {
            assert!(matches!(e, SetupError::Unavailable { .. }), "{e:?}");
            eprintln!("no CUDA: {e}");
            // Then auto falls back to ICICLE's CPU device and says so.
            let auto = IcicleBackend::new(&DeviceChoice::Auto).unwrap();
            assert!(auto.selected().is_cpu());
            assert!(
                auto.selected().note().contains("CPU"),
                "{}",
                auto.selected().note()
            );
        }
    }
}

#[test]
fn limits_are_typed_errors() {
    let mut icicle = common::backend();
    let max = icicle.capabilities().max_ntt_log_n;
    let big = Domain::with_halo2_root(max + 1).unwrap();
    let mut v = vec![Fr::ZERO; 2];
    assert!(matches!(
        icicle.ntt(&mut v, &big, NttOp::forward()),
        Err(BackendError::SizeUnsupported { .. })
    ));
}

#[test]
fn ntt_batches_equal_cpu_one_by_one() {
    let (mut rng, _) = test_rng("ntt_batches");
    let mut icicle = common::backend();
    let mut cpu = CpuBackend::new();
    for (log_n, count) in [(1, 3), (12, 5), (7, 1)] {
        for domain in [
            Domain::with_halo2_root(log_n).unwrap(),
            Domain::with_default_root(log_n).unwrap(),
        ] {
            let g = Fr::rand(&mut rng);
            for op in [
                NttOp::forward(),
                NttOp::inverse(),
                NttOp::coset_forward(g),
                NttOp::coset_inverse(g),
            ] {
                let inputs: Vec<Vec<Fr>> =
                    (0..count).map(|_| scalars(&mut rng, 1 << log_n)).collect();
                let mut got = inputs.clone();
                let mut views: Vec<&mut [Fr]> = got.iter_mut().map(|v| v.as_mut_slice()).collect();
                icicle.ntt_batch(&mut views, &domain, op).unwrap();
                for (input, got) in inputs.iter().zip(&got) {
                    let mut want = input.clone();
                    cpu.ntt(&mut want, &domain, op).unwrap();
                    assert!(*got == want, "batch of {count}, {op:?} on 2^{log_n}");
                }
            }
        }
    }
}
