//! Stimulus: seeded random words, edge values, and streams with back-to-back issue and bubbles.

use ark_bn254::{Fq, Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{BigInt, BigInteger, One, UniformRand, Zero};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkedge_hwsim::units::{FieldKind, Word};

use crate::{
    check::to_mont,
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
    /// Issue the edge section first, back to back: every pair of edge values for the
    /// multiplier, triples of a subset for the butterfly, identity/doubling/inverse cases for
    /// the point adder.
    pub edges: bool,
}

/// A stream for `spec`: the edge section back to back; single inputs separated by gaps longer
/// than the latency (the pipeline empties between them); then random inputs with random
/// bubbles (single bubbles and runs up to twice the latency) between back-to-back runs; then
/// `latency` bubbles so that every input comes out.
pub fn stream(spec: UnitSpec, rng: &mut impl Rng, shape: StreamShape) -> Vec<Option<In>> {
    let latency = spec.latency() as usize;
    let edges = edge_inputs(spec);
    let mut inputs: Vec<Option<In>> = Vec::new();
    if shape.edges {
        inputs.extend(edges.iter().copied().map(Some));
    }
    // Isolated inputs: the pipeline drains between them.
    for gap in [latency + 1, latency, latency - 1, 1] {
        inputs.push(Some(edges[edges.len() / 2]));
        inputs.extend(std::iter::repeat_n(None, gap));
    }
    let mut issued = 0;
    while issued < shape.random {
        match rng.gen_range(0..40) {
            0..=33 => {
                inputs.push(Some(random_input(spec, rng)));
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

/// The edge section of `spec`'s stream.
pub fn edge_inputs(spec: UnitSpec) -> Vec<In> {
    let edges = edge_values(spec.field());
    match spec.unit() {
        Unit::MontMul => edges
            .iter()
            .flat_map(|&a| edges.iter().map(move |&b| In::mul(a, b)))
            .collect(),
        Unit::Butterfly => {
            let few = &edges[..10];
            let mut out = Vec::new();
            for &a in few {
                for &b in few {
                    for &w in few {
                        out.push(In::butterfly(a, b, w));
                    }
                }
            }
            out
        }
        Unit::PointAdd => point_edges(),
    }
}

/// One random input: words 80 % uniform `< p`, 10 % in `[2^253, p)`, 10 % edge values; for the
/// point adder, random points (10 % each: P1 the identity, P1 = P2, P1 = −P2).
pub fn random_input<R: Rng + ?Sized>(spec: UnitSpec, rng: &mut R) -> In {
    let field = spec.field();
    let edges = edge_values(field);
    let word = |rng: &mut R| match rng.gen_range(0..10) {
        0 => random_high(rng, field),
        1 => edges[rng.gen_range(0..edges.len())],
        _ => random_reduced(rng, field),
    };
    match spec.unit() {
        Unit::MontMul => In::mul(word(rng), word(rng)),
        Unit::Butterfly => In::butterfly(word(rng), word(rng), word(rng)),
        Unit::PointAdd => {
            let p2 = random_point(rng);
            let p1 = match rng.gen_range(0..10) {
                0 => G1Affine::zero(),
                1 => p2,
                2 => -p2,
                _ => random_point(rng),
            };
            let z = match rng.gen_range(0..10) {
                0 => Fq::one(),
                _ => loop {
                    let z = Fq::rand(rng);
                    if !z.is_zero() {
                        break z;
                    }
                },
            };
            In::point_add(projective(p1, z), affine(p2))
        }
    }
}

fn random_point<R: Rng + ?Sized>(rng: &mut R) -> G1Affine {
    (G1Projective::generator() * Fr::rand(rng)).into_affine()
}

/// `p` as Montgomery words `(x·z : y·z : z)`; the identity as `(0 : z : 0)`.
fn projective(p: G1Affine, z: Fq) -> [Word; 3] {
    match p.xy() {
        None => [[0; 4], to_mont(z), [0; 4]],
        Some((x, y)) => [to_mont(x * z), to_mont(y * z), to_mont(z)],
    }
}

fn affine(p: G1Affine) -> [Word; 2] {
    let (x, y) = p.xy().expect("P2 is an affine point, not the identity");
    [to_mont(x), to_mont(y)]
}

/// P2 ∈ {G, −G, 2G, 7G}; P1 the identity (two representatives), P2 itself (doubling) and −P2
/// (identity result) with several Z, and other multiples of G.
fn point_edges() -> Vec<In> {
    let g = G1Projective::generator();
    let mul = |k: u64| (g * Fr::from(k)).into_affine();
    let z_values = [
        Fq::one(),
        -Fq::one(),
        Fq::from(BigInt::<4>::from(1u64) << 253),
        Fq::from(12345u64),
    ];
    let mut out = Vec::new();
    for p2 in [mul(1), -mul(1), mul(2), mul(7)] {
        let mut p1s = vec![
            projective(G1Affine::zero(), Fq::one()),
            projective(G1Affine::zero(), Fq::from(5u64)),
        ];
        for z in z_values {
            p1s.push(projective(p2, z));
            p1s.push(projective(-p2, z));
        }
        p1s.push(projective(mul(3), Fq::one()));
        p1s.push(projective(mul(5), z_values[2]));
        out.extend(p1s.into_iter().map(|p1| In::point_add(p1, affine(p2))));
    }
    out
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
