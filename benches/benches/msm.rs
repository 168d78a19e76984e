//! MSM: the zkedge CPU backend beside arkworks' `VariableBaseMSM` and halo2curves' `msm_best`
//! (halo2's `best_multiexp`), on the same inputs, in one run:
//! - `msm`: random 254-bit scalars, sizes 2^9 (the bundled model's commitments) and 2^10..2^18;
//! - `msm-u8`: 2^16 scalars in 0..=255, zkedge with an 8-bit hint beside arkworks' `msm_u8`;
//! - `msm-int8`: 2^16 int8 values (a third negative, `r − v`), zkedge with an 8-bit hint beside
//!   the full MSMs of arkworks and halo2curves (neither has a signed small-scalar path);
//! - `msm-advice`: the demo circuit's real advice columns (its six columns' usable rows, tiled
//!   to 2^16, random blinding rows at the end), committed as the prover commits them (narrow
//!   job + blinding job) beside the same MSMs at full width (zkedge before width hints);
//! - `msm-precomputed`: random 254-bit scalars over bases loaded with precomputed multiples.
//!
//! `ZKEDGE_BENCH_MAX_LOG` (default 18) caps the `msm` sizes.

use accel_backends::{
    width, Backend, BasesConfig, BasesHandle, CpuBackend, Fr, G1Projective, MsmJob,
};
use ark_ec::VariableBaseMSM;
use ark_ff::UniformRand;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use halo2_proofs::arithmetic::best_multiexp;
use rand::Rng;
use zkedge_benches::{fr_to_halo2, point_to_halo2, points, rng, scalars};

fn max_log() -> u32 {
    std::env::var("ZKEDGE_BENCH_MAX_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18)
}

fn msm(c: &mut Criterion) {
    let max_log = max_log();
    let rng = &mut rng();
    let bases = points(rng, 1 << max_log);
    let h2_bases: Vec<_> = bases.iter().map(point_to_halo2).collect();
    let mut cpu = CpuBackend::new();
    let handle = cpu.load_bases(&bases).expect("bases load");

    let mut group = c.benchmark_group("msm");
    for log_n in [9, 10, 12, 14, 16, 18]
        .into_iter()
        .filter(|&l| l <= max_log)
    {
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

const LOG_N: u32 = 16;

fn small_scalars(c: &mut Criterion) {
    let n = 1usize << LOG_N;
    let rng = &mut rng();
    let bases = points(rng, n);
    let h2_bases: Vec<_> = bases.iter().map(point_to_halo2).collect();
    let mut cpu = CpuBackend::new();
    let handle = cpu.load_bases(&bases).expect("bases load");

    let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
    let u8s: Vec<Fr> = bytes.iter().map(|&b| Fr::from(b)).collect();
    let mut group = c.benchmark_group("msm-u8");
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("zkedge-cpu", LOG_N), |b| {
        let job = MsmJob::new(handle, 0, &u8s).with_scalar_bits(8);
        b.iter(|| cpu.msm_job(&job).expect("msm"))
    });
    group.bench_function(BenchmarkId::new("arkworks-msm_u8", LOG_N), |b| {
        b.iter(|| G1Projective::msm_u8(&bases, &bytes))
    });
    group.finish();

    let int8: Vec<Fr> = (0..n)
        .map(|i| {
            let v = Fr::from(rng.gen_range(0u64..=128));
            if i % 3 == 0 {
                -v
            } else {
                v
            }
        })
        .collect();
    let h2_int8: Vec<_> = int8.iter().map(fr_to_halo2).collect();
    let mut group = c.benchmark_group("msm-int8");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("zkedge-cpu", LOG_N), |b| {
        let job = MsmJob::new(handle, 0, &int8).with_scalar_bits(8);
        b.iter(|| cpu.msm_job(&job).expect("msm"))
    });
    group.bench_function(BenchmarkId::new("arkworks", LOG_N), |b| {
        b.iter(|| G1Projective::msm(&bases, &int8).expect("lengths match"))
    });
    group.bench_function(BenchmarkId::new("halo2curves", LOG_N), |b| {
        b.iter(|| best_multiexp(&h2_int8, &h2_bases))
    });
    group.finish();
}

/// The demo model's advice columns (usable rows) tiled to `n` rows, the last `blinding` rows
/// random as the prover blinds them.
fn demo_advice(n: usize, rng: &mut impl Rng) -> Vec<Vec<Fr>> {
    use zkedge::bundled;
    use zkedge_kernel::{infer::infer, layout::Layout, model::Model};
    let model = Model::from_json(bundled::MODEL_JSON).expect("bundled model");
    let input = bundled::samples()
        .expect("bundled samples")
        .inputs
        .swap_remove(0);
    let layout = Layout::new(&model).expect("layout");
    let trace = infer(&model, &input).expect("inference");
    let witness = layout.witness(&model, &trace).expect("witness");
    let blinding = 6;
    witness
        .advice
        .iter()
        .map(|column| {
            let usable: Vec<Fr> = column.iter().map(|&v| fr_from_i64(v)).collect();
            let mut tiled: Vec<Fr> = usable.iter().copied().cycle().take(n - blinding).collect();
            tiled.extend((0..blinding).map(|_| Fr::rand(rng)));
            tiled
        })
        .collect()
}

fn fr_from_i64(v: i64) -> Fr {
    if v < 0 {
        -Fr::from(v.unsigned_abs())
    } else {
        Fr::from(v as u64)
    }
}

/// The prover's jobs for one column (see `zkedge_kernel::prover`'s `commit`): the narrow prefix
/// with its width, then the rest at full width.
fn hinted_jobs(handle: BasesHandle, column: &[Fr]) -> Vec<MsmJob<'_>> {
    let head = column
        .iter()
        .position(|s| width::bits(s) > 128)
        .unwrap_or(column.len());
    let bits = width::scalar_bits(&column[..head]);
    let mut jobs = vec![MsmJob::new(handle, 0, &column[..head]).with_scalar_bits(bits)];
    if head < column.len() {
        jobs.push(MsmJob::new(handle, head, &column[head..]));
    }
    jobs
}

fn advice_columns(c: &mut Criterion) {
    let n = 1usize << LOG_N;
    let rng = &mut rng();
    let bases = points(rng, n);
    let mut cpu = CpuBackend::new();
    let handle = cpu.load_bases(&bases).expect("bases load");
    let columns = demo_advice(n, rng);
    let widths: Vec<u32> = columns
        .iter()
        .map(|c| width::scalar_bits(&c[..n - 6]))
        .collect();
    eprintln!(
        "msm-advice: the demo's {} advice columns are {widths:?} bits wide",
        columns.len()
    );
    let hinted: Vec<MsmJob<'_>> = columns
        .iter()
        .flat_map(|c| hinted_jobs(handle, c))
        .collect();
    let full: Vec<MsmJob<'_>> = columns.iter().map(|c| MsmJob::new(handle, 0, c)).collect();
    let mut group = c.benchmark_group("msm-advice");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("zkedge-cpu", LOG_N), |b| {
        b.iter(|| cpu.msm_batch(&hinted).expect("msm"))
    });
    group.bench_function(BenchmarkId::new("zkedge-full-width", LOG_N), |b| {
        b.iter(|| cpu.msm_batch(&full).expect("msm"))
    });
    group.finish();
}

fn precomputed(c: &mut Criterion) {
    let n = 1usize << LOG_N;
    let rng = &mut rng();
    let bases = points(rng, n);
    let h2_bases: Vec<_> = bases.iter().map(point_to_halo2).collect();
    let s = scalars(rng, n);
    let h2_s: Vec<_> = s.iter().map(fr_to_halo2).collect();
    let mut cpu = CpuBackend::new();
    let factor = cpu.capabilities().max_precompute;
    let plain = cpu.load_bases(&bases).expect("bases load");
    let handle = cpu
        .load_bases_with(&bases, BasesConfig::precomputed(factor))
        .expect("bases load");
    eprintln!(
        "msm-precomputed: bases take {}× their memory",
        cpu.bases_memory_factor(handle).unwrap_or(1)
    );
    let mut group = c.benchmark_group("msm-precomputed");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("zkedge-cpu", LOG_N), |b| {
        b.iter(|| cpu.msm(handle, 0, &s).expect("msm"))
    });
    group.bench_function(BenchmarkId::new("zkedge-plain-bases", LOG_N), |b| {
        b.iter(|| cpu.msm(plain, 0, &s).expect("msm"))
    });
    group.bench_function(BenchmarkId::new("arkworks", LOG_N), |b| {
        b.iter(|| G1Projective::msm(&bases, &s).expect("lengths match"))
    });
    group.bench_function(BenchmarkId::new("halo2curves", LOG_N), |b| {
        b.iter(|| best_multiexp(&h2_s, &h2_bases))
    });
    group.finish();
}

criterion_group!(benches, msm, small_scalars, advice_columns, precomputed);
criterion_main!(benches);
