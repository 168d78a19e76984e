//! The simulated accelerator: host wall time per simulated MSM and NTT (the simulator must stay
//! usable: a 2^16 MSM in ≤ 10 s), and the simulated cycles beside the floor
//! `N·⌈254/c⌉ / P` (MSM) and the conflict-free stage ideal (NTT), printed before the timings.

use accel_backends::{Backend, Domain, NttOp};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use zkedge_benches::{points, rng, scalars};
use zkedge_hwsim::{HwConfig, HwSim};

fn hwsim(c: &mut Criterion) {
    let config = HwConfig::default();
    let rng = &mut rng();
    let max_log = 16;
    let bases = points(rng, 1 << max_log);
    let mut sim = HwSim::new(config).expect("default parameters are valid");
    let handle = sim.load_bases(&bases).expect("bases load");

    println!("\nhw-sim, default parameters: {config:?}");
    println!(
        "{:>6} {:>12} {:>12} {:>8} {:>10} {:>10} {:>9} {:>10}",
        "MSM", "cycles", "floor", "÷floor", "bucket", "ideal", "stalls", "reduce"
    );
    let inputs: Vec<_> = (12..=max_log)
        .step_by(2)
        .map(|log_n| (log_n, scalars(rng, 1 << log_n)))
        .collect();
    for (log_n, s) in &inputs {
        let sum = sim.msm(handle, 0, s).expect("msm");
        assert_eq!(
            sum,
            accel_backends::cpu::msm(&bases, s),
            "simulated MSM ≠ CPU"
        );
        let r = sim.last_msm().expect("an MSM ran");
        println!(
            "{:>6} {:>12} {:>12.0} {:>8.3} {:>10} {:>10} {:>9} {:>10}",
            format!("2^{log_n}"),
            r.total_cycles,
            r.floor(&config),
            r.total_cycles as f64 / r.floor(&config),
            r.bucket_cycles,
            r.bucket_ideal,
            r.stalls,
            r.reduce.cycles
        );
    }
    println!(
        "{:>6} {:>12} {:>12} {:>8} {:>10}",
        "NTT", "cycles", "stages", "ideal", "prepare"
    );
    for (log_n, s) in &inputs {
        let domain = Domain::with_halo2_root(*log_n).expect("domain");
        let mut v = s.clone();
        sim.ntt(&mut v, &domain, NttOp::forward()).expect("ntt");
        let r = sim.last_ntt().expect("an NTT ran");
        println!(
            "{:>6} {:>12} {:>12} {:>8} {:>10}",
            format!("2^{log_n}"),
            r.total_cycles,
            r.stage_cycles,
            r.stage_ideal,
            r.prepare.cycles
        );
    }

    let mut group = c.benchmark_group("hwsim");
    group.sample_size(10);
    for (log_n, s) in &inputs {
        group.bench_function(BenchmarkId::new("msm-host-time", log_n), |b| {
            b.iter(|| sim.msm(handle, 0, s).expect("msm"))
        });
        let domain = Domain::with_halo2_root(*log_n).expect("domain");
        group.bench_function(BenchmarkId::new("ntt-host-time", log_n), |b| {
            b.iter(|| {
                let mut v = s.clone();
                sim.ntt(&mut v, &domain, NttOp::forward()).expect("ntt");
                v
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hwsim);
criterion_main!(benches);
