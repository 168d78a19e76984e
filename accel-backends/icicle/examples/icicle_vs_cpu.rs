//! ICICLE (its CPU device unless `--device` says otherwise) beside zkedge's CPU backend:
//! medians of MSMs over loaded bases and of NTTs at a few sizes, both through the `Backend`
//! trait, interleaved in one run.
//!
//! ```text
//! cargo run [--release] --example icicle_vs_cpu -- [--device cpu|cuda] [--runs N] [--max-log K]
//! ```

use std::time::{Duration, Instant};

use accel_backends::{Backend, BackendError, CpuBackend, Domain, Fr, G1Affine, NttOp};
use accel_icicle::{DeviceChoice, IcicleBackend};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::UniformRand;
use rand::SeedableRng;

fn median(mut t: Vec<Duration>) -> Duration {
    t.sort();
    t[t.len() / 2]
}

fn time<T>(
    runs: usize,
    mut f: impl FnMut() -> Result<T, BackendError>,
) -> Result<Duration, BackendError> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut device = DeviceChoice::cpu();
    let mut runs = 5;
    let mut max_log = 16u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => device = args.next().ok_or("--device needs a value")?.parse()?,
            "--runs" => runs = args.next().ok_or("--runs needs a value")?.parse()?,
            "--max-log" => max_log = args.next().ok_or("--max-log needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut icicle = IcicleBackend::new(&device)?;
    let mut cpu = CpuBackend::new();
    println!(
        "# {} vs zkedge CPU backend ({} threads), median of {runs}",
        icicle.selected(),
        rayon::current_num_threads()
    );
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let n_max = 1usize << max_log;
    let g = G1Affine::generator();
    let bases: Vec<G1Affine> = (0..n_max)
        .map(|_| (g * Fr::rand(&mut rng)).into_affine())
        .collect();
    let hi = icicle.load_bases(&bases)?;
    let hc = cpu.load_bases(&bases)?;

    println!("| op | n | icicle ms | cpu ms | icicle/cpu |");
    println!("|---|---|---|---|---|");
    for log in (10..=max_log).step_by(2) {
        let s: Vec<Fr> = (0..1usize << log).map(|_| Fr::rand(&mut rng)).collect();
        let a = icicle.msm(hi, 0, &s)?;
        let b = cpu.msm(hc, 0, &s)?;
        assert_eq!(a, b, "MSM 2^{log} differs");
        let ti = time(runs, || icicle.msm(hi, 0, &s))?;
        let tc = time(runs, || cpu.msm(hc, 0, &s))?;
        println!(
            "| MSM | 2^{log} | {} | {} | {:.2} |",
            ms(ti),
            ms(tc),
            ti.as_secs_f64() / tc.as_secs_f64()
        );
    }
    for log in (12..=max_log + 2).step_by(2) {
        let domain = Domain::with_halo2_root(log)?;
        let v: Vec<Fr> = (0..1usize << log).map(|_| Fr::rand(&mut rng)).collect();
        let zeta = Fr::from(5u64);
        for (name, op) in [
            ("NTT", NttOp::forward()),
            ("coset NTT", NttOp::coset_forward(zeta)),
        ] {
            let (mut x, mut y) = (v.clone(), v.clone());
            icicle.ntt(&mut x, &domain, op)?;
            cpu.ntt(&mut y, &domain, op)?;
            assert!(x == y, "{name} 2^{log} differs");
            let ti = time(runs, || icicle.ntt(&mut x, &domain, op))?;
            let tc = time(runs, || cpu.ntt(&mut y, &domain, op))?;
            println!(
                "| {name} | 2^{log} | {} | {} | {:.2} |",
                ms(ti),
                ms(tc),
                ti.as_secs_f64() / tc.as_secs_f64()
            );
        }
    }
    Ok(())
}
