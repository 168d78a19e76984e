//! The suite is only worth something if it fails broken backends: each fault below must be
//! caught, while the same suite passes the CPU backend (see `cpu_conformance.rs`).

use accel_backends::cpu::Cpu;
use accel_conformance::{
    all_checks,
    faulty::{Fault, Faulty},
    test_rng, Limits,
};

fn caught(fault: Fault, limits: Limits) {
    let (mut rng, seed) = test_rng("faulty");
    let mut backend = Faulty::new(Cpu::new(), fault);
    match all_checks(&mut backend, &mut rng, limits) {
        Ok(()) => panic!("{fault:?} passed the conformance suite (seed {seed})"),
        Err(failure) => eprintln!("{fault:?} caught: {failure}"),
    }
}

#[test]
fn msm_plus_generator_is_caught() {
    caught(Fault::MsmPlusGenerator, Limits::SMALL);
}

#[test]
fn msm_wrong_only_on_large_inputs_is_caught() {
    caught(Fault::MsmWrongAbove(4096), Limits::CPU);
}

#[test]
fn msm_ignoring_the_start_offset_is_caught() {
    caught(Fault::MsmIgnoresStart, Limits::SMALL);
}

#[test]
fn msm_reading_hinted_scalars_unsigned_is_caught() {
    caught(Fault::MsmWidthUnsigned, Limits::SMALL);
}

#[test]
fn msm_one_bit_short_of_the_hint_is_caught() {
    caught(Fault::MsmWidthOneBitShort, Limits::SMALL);
}

#[test]
fn msm_trusting_a_wrong_hint_is_caught() {
    caught(Fault::MsmWidthTrusted, Limits::SMALL);
}

#[test]
fn ntt_skipping_one_butterfly_is_caught() {
    caught(Fault::NttSkipsButterfly, Limits::SMALL);
}

#[test]
fn ntt_with_bit_reversed_output_is_caught() {
    caught(Fault::NttBitReversed, Limits::SMALL);
}

#[test]
fn ntt_ignoring_the_coset_is_caught() {
    caught(Fault::NttIgnoresCoset, Limits::SMALL);
}
