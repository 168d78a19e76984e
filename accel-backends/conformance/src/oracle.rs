//! Independent references, and the conversions to reach them.

use accel_backends::{Fr, G1Affine, G1Projective};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup, PrimeGroup, ScalarMul, VariableBaseMSM};
use ark_ff::{BigInteger, Field, PrimeField, UniformRand};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use halo2_proofs::halo2curves::{bn256::Fr as H2Fr, ff::PrimeField as _};
use rand::Rng;
use rayon::prelude::*;

/// `n` random scalars.
pub fn scalars(rng: &mut impl Rng, n: usize) -> Vec<Fr> {
    (0..n).map(|_| Fr::rand(rng)).collect()
}

/// `n` random points of G1 (random multiples of the generator).
pub fn points(rng: &mut impl Rng, n: usize) -> Vec<G1Affine> {
    let k = scalars(rng, n);
    G1Projective::generator().batch_mul(&k)
}

/// arkworks' own MSM.
pub fn ark_msm(bases: &[G1Affine], scalars: &[Fr]) -> G1Projective {
    G1Projective::msm(&bases[..scalars.len()], scalars).expect("lengths match")
}

/// `Σ sᵢ·Pᵢ` by schoolbook double-and-add on each term; no windows, no buckets.
pub fn naive_msm(bases: &[G1Affine], scalars: &[Fr]) -> G1Projective {
    scalars
        .par_iter()
        .zip(bases)
        .map(|(s, p)| {
            let bits = s.into_bigint().to_bits_be();
            let mut acc = G1Projective::ZERO;
            for bit in bits {
                acc.double_in_place();
                if bit {
                    acc += p;
                }
            }
            acc
        })
        .reduce(|| G1Projective::ZERO, |a, b| a + b)
}

/// Evaluations at `g·ωⁱ` by the quadratic definition.
pub fn naive_dft(coeffs: &[Fr], omega: Fr, g: Fr) -> Vec<Fr> {
    let n = coeffs.len();
    let mut point = g;
    (0..n)
        .map(|_| {
            // Horner at `point`.
            let v = coeffs.iter().rev().fold(Fr::ZERO, |acc, c| acc * point + c);
            point *= omega;
            v
        })
        .collect()
}

/// ark-poly's radix-2 domain of size `2^log_n`, made to use the root `omega` and, if given, the
/// coset `g·⟨ω⟩`.
pub fn ark_domain(log_n: u32, omega: Fr, coset: Option<Fr>) -> Radix2EvaluationDomain<Fr> {
    let mut d = Radix2EvaluationDomain::<Fr>::new(1 << log_n).expect("size within two-adicity");
    d.group_gen = omega;
    d.group_gen_inv = omega.inverse().expect("root is non-zero");
    match coset {
        Some(g) => d.get_coset(g).expect("non-zero offset"),
        None => d,
    }
}

/// ark-poly's forward transform (coefficients to evaluations).
pub fn ark_fft(d: &Radix2EvaluationDomain<Fr>, coeffs: &[Fr]) -> Vec<Fr> {
    d.fft(coeffs)
}

/// ark-poly's inverse transform (evaluations to coefficients).
pub fn ark_ifft(d: &Radix2EvaluationDomain<Fr>, evals: &[Fr]) -> Vec<Fr> {
    d.ifft(evals)
}

/// An arkworks scalar as halo2curves sees it (both are canonical little-endian 32 bytes).
pub fn to_halo2(x: &Fr) -> H2Fr {
    let mut repr = [0u8; 32];
    repr.copy_from_slice(&x.into_bigint().to_bytes_le());
    Option::from(H2Fr::from_repr(repr)).expect("canonical encoding")
}

/// A halo2curves scalar as arkworks sees it.
pub fn from_halo2(x: &H2Fr) -> Fr {
    Fr::from_le_bytes_mod_order(x.to_repr().as_ref())
}

/// `acc` as an affine point, for messages.
pub fn show(p: &G1Projective) -> String {
    let a = p.into_affine();
    if a.is_zero() {
        "∞".into()
    } else {
        format!("({}, {})", a.x, a.y)
    }
}
