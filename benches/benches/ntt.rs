//! Forward NTT: the zkedge CPU backend beside ark-poly's radix-2 domain and halo2's `best_fft`,
//! on the same random input, sizes 2^10..2^20, natural order in and out for all three.

use accel_backends::{Backend, CpuBackend, Domain, Fr, NttOp};
use ark_poly::{EvaluationDomain as _, Radix2EvaluationDomain};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use halo2_proofs::{arithmetic::best_fft, halo2curves::bn256::Fr as H2Fr, poly::EvaluationDomain};
use zkedge_benches::{fr_to_halo2, rng, scalars};

fn ntt(c: &mut Criterion) {
    let rng = &mut rng();
    let mut cpu = CpuBackend::new();
    let mut group = c.benchmark_group("ntt");
    for log_n in (10..=20).step_by(2) {
        let n = 1usize << log_n;
        let a = scalars(rng, n);
        let h2_a: Vec<H2Fr> = a.iter().map(fr_to_halo2).collect();
        let domain = Domain::with_halo2_root(log_n).expect("domain");
        let ark = Radix2EvaluationDomain::<Fr>::new(n).expect("domain");
        let h2 = EvaluationDomain::<H2Fr>::new(1, log_n);
        group.sample_size(if log_n >= 18 { 10 } else { 20 });
        group.bench_function(BenchmarkId::new("zkedge-cpu", log_n), |b| {
            b.iter_batched_ref(
                || a.clone(),
                |v| cpu.ntt(v, &domain, NttOp::forward()).expect("ntt"),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("ark-poly", log_n), |b| {
            b.iter_batched_ref(|| a.clone(), |v| ark.fft_in_place(v), BatchSize::LargeInput)
        });
        group.bench_function(BenchmarkId::new("halo2", log_n), |b| {
            b.iter_batched_ref(
                || h2_a.clone(),
                |v| best_fft(v, h2.get_omega(), log_n, h2.get_fft_data(n), false),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, ntt);
criterion_main!(benches);
