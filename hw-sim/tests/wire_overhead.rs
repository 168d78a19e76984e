//! Bytes on the wire per element, counted by SerialBackend's `link_bytes`, against a served
//! simulator; printed for docs/protocol.md and bounded so that a framing regression fails.
//! Narrow scalars (int8 activations) too, with the simulator's cycles for them.

mod common;

use std::time::Duration;

use accel_backends::{Backend, Domain, Fr, G1Affine, G1Projective, NttOp};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::UniformRand;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

#[test]
fn bytes_per_msm_and_ntt_element() {
    let sim = common::Sim::spawn(&[]);
    let mut client = sim.connect(Duration::from_secs(60));
    let rng = &mut ChaCha20Rng::seed_from_u64(3);
    let n = 1usize << 12;
    let g = (G1Projective::generator() * Fr::rand(rng)).into_affine();
    let bases: Vec<G1Affine> = vec![g; n];
    let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();

    let before = *client.counters();
    let h = client.load_bases(&bases).expect("load");
    let load = client.counters().since(&before).link_bytes as f64 / n as f64;

    let before = *client.counters();
    let sum = client.msm(h, 0, &scalars).expect("msm");
    let msm = client.counters().since(&before);
    assert_eq!(sum, accel_backends::cpu::msm(&bases, &scalars));
    let msm_bytes = msm.link_bytes as f64 / n as f64;
    let stats = client.last_stats();

    let before = *client.counters();
    let domain = Domain::with_halo2_root(12).expect("domain");
    let mut values = scalars.clone();
    client
        .ntt(&mut values, &domain, NttOp::forward())
        .expect("ntt");
    let ntt_bytes = client.counters().since(&before).link_bytes as f64 / n as f64;

    println!(
        "bytes per element: bases {load:.2}, MSM {msm_bytes:.2}, NTT {ntt_bytes:.2}; \
         MSM 2^12: {} compute cycles, server-seen link {} bytes = {} cycles at the modelled baud",
        msm.device_cycles, stats.link_bytes, stats.link_cycles
    );
    // Payload is 64 / 32 / 64 bytes; framing, CRC, COBS and acknowledgements add at most 3%.
    assert!((64.0..64.0 * 1.03).contains(&load), "{load}");
    assert!((32.0..32.0 * 1.03).contains(&msm_bytes), "{msm_bytes}");
    assert!((64.0..64.0 * 1.03).contains(&ntt_bytes), "{ntt_bytes}");
    assert!(msm.device_cycles > 0 && stats.link_cycles > 0);

    // int8 activations: one byte each on the line, and the simulator, told their width, runs
    // the windows they need — fewer cycles than the same sum at full width.
    let int8: Vec<Fr> = (0..n)
        .map(|_| Fr::from(i64::from(rand::Rng::gen::<i8>(rng))))
        .collect();
    let before = *client.counters();
    let sum = client.msm(h, 0, &int8).expect("msm");
    let narrow = client.counters().since(&before);
    assert_eq!(sum, accel_backends::cpu::msm(&bases, &int8));
    let narrow_bytes = narrow.link_bytes as f64 / n as f64;
    println!(
        "int8 MSM 2^12: {narrow_bytes:.2} bytes per scalar, {} compute cycles (random: {})",
        narrow.device_cycles, msm.device_cycles
    );
    assert!((1.0..1.05).contains(&narrow_bytes), "{narrow_bytes}");
    assert!(narrow.device_cycles * 4 < msm.device_cycles);
}
