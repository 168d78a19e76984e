//! Shared inputs for the benches: the same random data handed to zkedge and to each reference,
//! converted between arkworks and halo2curves types.

use accel_backends::{Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, PrimeGroup, ScalarMul};
use ark_ff::{BigInteger, PrimeField, UniformRand};
use halo2_proofs::halo2curves::{
    bn256::{Fq as H2Fq, Fr as H2Fr, G1Affine as H2G1Affine},
    ff::PrimeField as _,
};
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

/// An arkworks scalar in halo2curves' type.
pub fn fr_to_halo2(x: &Fr) -> H2Fr {
    let mut repr = [0u8; 32];
    repr.copy_from_slice(&x.into_bigint().to_bytes_le());
    Option::from(H2Fr::from_repr(repr)).expect("canonical scalar")
}

/// An arkworks point in halo2curves' type (the identity is (0, 0) there).
pub fn point_to_halo2(p: &G1Affine) -> H2G1Affine {
    let Some((x, y)) = p.xy() else {
        return H2G1Affine {
            x: H2Fq::zero(),
            y: H2Fq::zero(),
        };
    };
    let fq = |v: ark_bn254::Fq| {
        let mut repr = [0u8; 32];
        repr.copy_from_slice(&v.into_bigint().to_bytes_le());
        Option::<H2Fq>::from(H2Fq::from_repr(repr)).expect("canonical coordinate")
    };
    H2G1Affine { x: fq(x), y: fq(y) }
}
