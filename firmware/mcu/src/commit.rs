//! Input commitments, for host keys that hash the input: a fresh salt per reading and
//! Poseidon(salt, input) — the value a sensor signs, and the one the host's proof must carry
//! (it refuses another). The permutation is the kernel's (`zkedge_kernel::layout::hash`), the
//! host's own; its constants come from `build.rs`.

use alloc::vec::Vec;

use accel_proto::elem::{decode_fr, encode_fr};
use ark_ff::PrimeField;
use rand_chacha::rand_core::RngCore;
use zkedge_device::session::Salted;
use zkedge_kernel::{
    layout::{
        hash::{self, ROUNDS, WIDTH},
        Poseidon,
    },
    prover::Fr,
};

/// The round constants' rows, then the MDS matrix's: canonical scalars, 32 bytes each.
static CONSTANTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/poseidon.bin"));

fn scalar(i: usize) -> Fr {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&CONSTANTS[32 * i..32 * (i + 1)]);
    decode_fr(&bytes).expect("build.rs writes canonical scalars")
}

/// The permutation.
pub fn poseidon() -> Poseidon {
    let rounds: Vec<[Fr; WIDTH]> = (0..ROUNDS)
        .map(|r| core::array::from_fn(|j| scalar(r * WIDTH + j)))
        .collect();
    let mds = core::array::from_fn(|i| core::array::from_fn(|j| scalar((ROUNDS + i) * WIDTH + j)));
    Poseidon::new(rounds, mds).expect("build.rs writes one row per round")
}

/// A fresh salt (64 random bytes reduced: uniform to within 2^-250) and the commitment to
/// `input` under it.
pub fn salted(poseidon: &Poseidon, input: &[i8], rng: &mut impl RngCore) -> Salted {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    let salt = Fr::from_le_bytes_mod_order(&wide);
    Salted {
        salt: encode_fr(&salt),
        commitment: encode_fr(&hash::commitment(poseidon, salt, input)),
    }
}
