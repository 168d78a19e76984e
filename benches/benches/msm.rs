//! MSM: the zkedge CPU backend beside arkworks' `VariableBaseMSM` and halo2curves' `msm_best`
//! (halo2's `best_multiexp`), on the same random inputs, sizes 2^10..2^18.

use accel_backends::{Backend, CpuBackend, G1Projective};
use ark_ec::VariableBaseMSM;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use halo2_proofs::arithmetic::best_multiexp;
use zkedge_benches::{fr_to_halo2, point_to_halo2, points, rng, scalars};

fn msm(c: &mut Criterion) {
    let max_log = 18;
    let rng = &mut rng();
    let bases = points(rng, 1 << max_log);
    let h2_bases: Vec<_> = bases.iter().map(point_to_halo2).collect();
    let mut cpu = CpuBackend::new();
    let handle = cpu.load_bases(&bases).expect("bases load");

    let mut group = c.benchmark_group("msm");
    for log_n in (10..=max_log).step_by(2) {
        let n = 1usize << log_n;
        let s = scalars(rng, n);
        let h2_s: Vec<_> = s.iter().map(fr_to_halo2).collect();
        group.sample_size(if log_n >= 16 { 10 } else { 20 });
        group.bench_function(BenchmarkId::new("zkedge-cpu", log_n), |b| {
            b.iter(|| cpu.msm(handle, 0, &s).expect("msm"))
        });
        group.bench_function(BenchmarkId::new("arkworks", log_n), |b| {
            b.iter(|| G1Projective::msm(&bases[..n], &s).expect("lengths match"))
        });
        group.bench_function(BenchmarkId::new("halo2curves", log_n), |b| {
            b.iter(|| best_multiexp(&h2_s, &h2_bases[..n]))
        });
    }
    group.finish();
}

criterion_group!(benches, msm);
criterion_main!(benches);
