//! What checking an accelerator's result costs the host (`accel_backends::router::check`),
//! beside what computing it on the CPU costs, in the same run:
//! - an NTT checked at a random point, against the CPU backend's NTT of that size;
//! - an MSM over an SRS basis checked by a KZG opening: the host's share (combining a batch of
//!   4 MSMs, the quotient, two pairings) against one CPU MSM of that size. The opening's own
//!   MSM runs on the accelerator and is not in the host's share.

use accel_backends::{
    router::check::{self, Basis, Claim, SrsCheck},
    Backend, CpuBackend, Domain, Fr, G1Projective, NttOp,
};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::{Field, UniformRand};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use zkedge_benches::{rng, scalars};

fn checks(c: &mut Criterion) {
    let rng = &mut rng();
    let mut cpu = CpuBackend::new();
    let mut group = c.benchmark_group("check");
    for log_n in [12u32, 14, 16] {
        let n = 1usize << log_n;
        let input = scalars(rng, n);
        let domain = Domain::with_halo2_root(log_n).expect("domain");
        let op = NttOp::coset_forward(Fr::from(7u64));
        let mut output = input.clone();
        cpu.ntt(&mut output, &domain, op).expect("ntt");
        group.sample_size(if log_n >= 16 { 10 } else { 20 });
        group.bench_function(BenchmarkId::new("ntt-cpu", log_n), |b| {
            b.iter_batched_ref(
                || input.clone(),
                |v| cpu.ntt(v, &domain, op).expect("ntt"),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("ntt-check", log_n), |b| {
            b.iter(|| {
                let rho = Fr::rand(rng);
                assert!(check::ntt_holds(&input, &output, &domain, op, rho));
            })
        });

        // A monomial basis [τⁱ]G of n points and a batch of four MSMs over it.
        let tau = Fr::rand(rng);
        let g = G1Projective::generator();
        let powers: Vec<Fr> = (0..n as u64).map(|i| tau.pow([i])).collect();
        let bases =
            G1Projective::normalize_batch(&powers.iter().map(|t| g * t).collect::<Vec<_>>());
        let h = ark_bn254::G2Projective::generator();
        let srs = SrsCheck {
            g1: g.into_affine(),
            g2: h.into_affine(),
            tau_g2: (h * tau).into_affine(),
        };
        let batch: Vec<Vec<Fr>> = (0..4).map(|_| scalars(rng, n)).collect();
        let sums: Vec<G1Projective> = batch
            .iter()
            .map(|s| accel_backends::cpu::msm(&bases, s))
            .collect();
        let claims: Vec<Claim<'_>> = batch
            .iter()
            .zip(&sums)
            .map(|(s, &sum)| Claim {
                start: 0,
                scalars: s,
                sum,
            })
            .collect();
        let opening =
            check::open(Basis::Monomial, n, &claims, Fr::rand(rng), Fr::rand(rng)).expect("opens");
        let pi = accel_backends::cpu::msm(&bases, &opening.quotient);
        group.bench_function(BenchmarkId::new("msm-cpu", log_n), |b| {
            b.iter(|| accel_backends::cpu::msm(&bases, &batch[0]))
        });
        group.bench_function(BenchmarkId::new("msm-check-batch4", log_n), |b| {
            b.iter(|| {
                let o = check::open(Basis::Monomial, n, &claims, Fr::rand(rng), opening.z)
                    .expect("opens");
                // π is for the fixed γ above: time the pairing on the matching opening.
                std::hint::black_box(&o);
                assert!(check::opening_holds(&srs, &opening, pi));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
