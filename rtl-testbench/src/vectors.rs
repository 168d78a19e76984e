//! Stimulus: seeded random words, edge values, and streams with back-to-back issue and bubbles.

use ark_ff::{BigInt, BigInteger};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkedge_hwsim::units::{FieldKind, Word};

use crate::{
    model::{Unit, UnitSpec},
    sim::In,
};

/// The random source of a check: a fresh seed each run unless `ZKEDGE_TEST_SEED` pins one.
/// Prints the seed.
pub fn test_rng(check: &str) -> (ChaCha20Rng, u64) {
    let seed = std::env::var("ZKEDGE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rngs::OsRng.next_u64());
    eprintln!("{check}: seed {seed} (rerun with ZKEDGE_TEST_SEED={seed})");
    (ChaCha20Rng::seed_from_u64(seed), seed)
}

fn modulus(field: FieldKind) -> BigInt<4> {
    BigInt(field.modulus())
}

fn from_u64(x: u64) -> BigInt<4> {
    BigInt::from(x)
}

fn pow2(k: u32) -> BigInt<4> {
    let mut x = BigInt::<4>::zero();
    x.0[(k / 64) as usize] = 1 << (k % 64);
    x
}

fn sub(a: BigInt<4>, b: BigInt<4>) -> BigInt<4> {
    let mut a = a;
    a.sub_with_borrow(&b);
    a
}

fn add(a: BigInt<4>, b: BigInt<4>) -> BigInt<4> {
    let mut a = a;
    a.add_with_carry(&b);
    a
}

/// `R mod p` and `R² mod p` (`R = 2^256`): the Montgomery forms of 1 and of `R`.
fn r_powers(field: FieldKind) -> [BigInt<4>; 2] {
    match field {
        FieldKind::Scalar => [ark_bn254::Fr::R, ark_bn254::Fr::R2],
        FieldKind::Base => [ark_bn254::Fq::R, ark_bn254::Fq::R2],
    }
}

/// Edge values of the units' contract (every word `< p`): 0, 1, 2, p − 1, p − 2, (p ± 1)/2,
/// 2^253 and 2^253 + 1 (≥ 2^253, still < p), the top value with all low limbs set below p,
/// limb boundaries (2^64 − 1, 2^64, 2^128, 2^192), and R, R² mod p.
pub fn edge_values(field: FieldKind) -> Vec<Word> {
    let p = modulus(field);
    let one = from_u64(1);
    let mut half = sub(p, one);
    half.div2();
    let [r, r2] = r_powers(field);
    let values = [
        BigInt::zero(),
        one,
        from_u64(2),
        sub(p, one),
        sub(p, from_u64(2)),
        half,
        add(half, one),
        pow2(253),
        add(pow2(253), one),
        BigInt([u64::MAX, u64::MAX, u64::MAX, p.0[3] - 1]),
        from_u64(u64::MAX),
        pow2(64),
        pow2(128),
        pow2(192),
        r,
        r2,
    ];
    for v in &values {
        assert!(*v < p, "edge value {v} is not reduced");
    }
    values.iter().map(|v| v.0).collect()
}

/// A uniformly random word `< p`.
pub fn random_reduced<R: Rng + ?Sized>(rng: &mut R, field: FieldKind) -> Word {
    let p = modulus(field);
    loop {
        let mut w: Word = rng.gen();
        w[3] &= (1 << 62) - 1; // p < 2^254
        if BigInt(w) < p {
            return w;
        }
    }
}

/// A random word in `[2^253, p)`: the top of the contract.
pub fn random_high<R: Rng + ?Sized>(rng: &mut R, field: FieldKind) -> Word {
    let p = modulus(field);
    loop {
        let mut w: Word = rng.gen();
        w[3] = (w[3] & ((1 << 61) - 1)) | (1 << 61);
        if BigInt(w) < p {
            return w;
        }
    }
}

/// How a stimulus stream is made.
#[derive(Clone, Copy, Debug)]
pub struct StreamShape {
    /// Random inputs (after the edge section).
    pub random: usize,
    /// Issue every edge combination back to back first (pairs for the multiplier, triples of a
    /// subset for the butterfly).
    pub edges: bool,
}

/// A stream for `spec`: the edge section back to back; single inputs separated by gaps longer
/// than the latency (the pipeline empties between them); then random inputs with random
/// bubbles (single bubbles and runs up to twice the latency) between back-to-back runs; then
/// `latency` bubbles so that every input comes out.
pub fn stream(spec: UnitSpec, rng: &mut impl Rng, shape: StreamShape) -> Vec<Option<In>> {
    let field = spec.field();
    let latency = spec.latency() as usize;
    let edges = edge_values(field);
    let make = |a: Word, b: Word, w: Word| match spec.unit() {
        Unit::MontMul => In::mul(a, b),
        Unit::Butterfly => In::butterfly(a, b, w),
    };
    let mut inputs = Vec::new();
    if shape.edges {
        match spec.unit() {
            Unit::MontMul => {
                for &a in &edges {
                    for &b in &edges {
                        inputs.push(Some(make(a, b, [0; 4])));
                    }
                }
            }
            Unit::Butterfly => {
                let few = &edges[..10];
                for &a in few {
                    for &b in few {
                        for &w in few {
                            inputs.push(Some(make(a, b, w)));
                        }
                    }
                }
            }
        }
    }
    // Isolated inputs: the pipeline drains between them.
    for gap in [latency + 1, latency, latency - 1, 1] {
        let (a, b, w) = (edges[3], edges[3], edges[3]);
        inputs.push(Some(make(a, b, w)));
        inputs.extend(std::iter::repeat_n(None, gap));
    }
    let word = |rng: &mut dyn RngCore| match rng.gen_range(0..10) {
        0 => random_high(rng, field),
        1 => edges[rng.gen_range(0..edges.len())],
        _ => random_reduced(rng, field),
    };
    let mut issued = 0;
    while issued < shape.random {
        match rng.gen_range(0..40) {
            0..=33 => {
                let (a, b, w) = (word(rng), word(rng), word(rng));
                inputs.push(Some(make(a, b, w)));
                issued += 1;
            }
            34..=38 => inputs.push(None),
            _ => {
                let run = rng.gen_range(1..=2 * latency);
                inputs.extend(std::iter::repeat_n(None, run));
            }
        }
    }
    inputs.extend(std::iter::repeat_n(None, latency));
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_and_random_words_are_in_the_contract() {
        let (mut rng, _) = test_rng("vectors");
        for field in [FieldKind::Scalar, FieldKind::Base] {
            let p = modulus(field);
            assert!(edge_values(field).iter().any(|w| BigInt(*w) >= pow2(253)));
            for _ in 0..1000 {
                assert!(BigInt(random_reduced(&mut rng, field)) < p);
                let high = BigInt(random_high(&mut rng, field));
                assert!(high < p && high >= pow2(253));
            }
        }
    }
}
