//! Shared inputs for the benches: the same random data handed to zkedge and to each reference,
//! converted between arkworks and halo2curves types by the host's own conversions (`zkedge::convert`).
#![forbid(unsafe_code)]

use accel_backends::{Fr, G1Affine, G1Projective};
use ark_ec::{PrimeGroup, ScalarMul};
use ark_ff::UniformRand;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// A deterministic rng: benches compare like with like across runs.
pub fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x7a6b_6564_6765)
}

/// `n` random scalars.
pub fn scalars(rng: &mut ChaCha20Rng, n: usize) -> Vec<Fr> {
    (0..n).map(|_| Fr::rand(rng)).collect()
}

/// `n` random points of G1.
pub fn points(rng: &mut ChaCha20Rng, n: usize) -> Vec<G1Affine> {
    G1Projective::generator().batch_mul(&scalars(rng, n))
}

pub use zkedge::convert::{halo2_fr as fr_to_halo2, halo2_point as point_to_halo2};
