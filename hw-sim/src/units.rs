//! Cycle-stepped models of the arithmetic units, for checking RTL bit- and cycle-exact.
//!
//! Each model is clocked by one call to `step` per cycle. An input given at call `t` appears
//! as the output of call `t + latency`; calls with no input (`None`) are bubbles and come out
//! as `None` `latency` calls later. Words are 256-bit integers as four little-endian `u64`
//! limbs, and must be reduced (`< p`): the units compute on Montgomery representatives
//! (`x·R mod p`, `R = 2^256`) exactly as the hardware does.

use std::collections::VecDeque;

use ark_ff::{BigInt, Fp, MontBackend, MontConfig, PrimeField};

/// A 256-bit word: four little-endian 64-bit limbs.
pub type Word = [u64; 4];

/// Which BN254 prime field a unit works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// The scalar field `Fr` (order of G1), where NTTs run.
    Scalar,
    /// The base field `Fq` (point coordinates), where point adders run.
    Base,
}

impl FieldKind {
    /// The modulus.
    pub fn modulus(self) -> Word {
        match self {
            FieldKind::Scalar => ark_bn254::Fr::MODULUS.0,
            FieldKind::Base => ark_bn254::Fq::MODULUS.0,
        }
    }
}

/// A unit was given a word that is not reduced modulo its field's prime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("input word is not reduced modulo the {field:?} field's prime; the unit takes values < p")]
pub struct NotReduced {
    /// The unit's field.
    pub field: FieldKind,
}

/// A unit was built with an impossible latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unit latency must be at least {min} cycle(s), got {got}")]
pub struct BadLatency {
    /// The smallest latency the unit can have.
    pub min: u32,
    /// What was asked.
    pub got: u32,
}

fn reduced(field: FieldKind, x: &Word) -> bool {
    BigInt(*x) < BigInt(field.modulus())
}

/// `a ⊗ b = a·b·R⁻¹ mod p`, the Montgomery product, on raw words.
///
/// arkworks keeps field elements as Montgomery representatives: wrapping a word `x` unchecked
/// makes the element `x·R⁻¹`, and the product of two such elements is represented by
/// `(a·R⁻¹)(b·R⁻¹)·R = a·b·R⁻¹` — the Montgomery product of the raw words.
fn mont_mul_in<C: MontConfig<4>>(a: &Word, b: &Word) -> Word {
    let x = Fp::<MontBackend<C, 4>, 4>::new_unchecked(BigInt(*a));
    let y = Fp::<MontBackend<C, 4>, 4>::new_unchecked(BigInt(*b));
    (x * y).0 .0
}

fn add_in<C: MontConfig<4>>(a: &Word, b: &Word, subtract: bool) -> Word {
    let x = Fp::<MontBackend<C, 4>, 4>::new_unchecked(BigInt(*a));
    let y = Fp::<MontBackend<C, 4>, 4>::new_unchecked(BigInt(*b));
    if subtract {
        (x - y).0 .0
    } else {
        (x + y).0 .0
    }
}

/// The Montgomery product `a·b·R⁻¹ mod p` of two reduced words.
pub fn mont_mul(field: FieldKind, a: &Word, b: &Word) -> Word {
    match field {
        FieldKind::Scalar => mont_mul_in::<ark_bn254::FrConfig>(a, b),
        FieldKind::Base => mont_mul_in::<ark_bn254::FqConfig>(a, b),
    }
}

fn mod_add(field: FieldKind, a: &Word, b: &Word, subtract: bool) -> Word {
    match field {
        FieldKind::Scalar => add_in::<ark_bn254::FrConfig>(a, b, subtract),
        FieldKind::Base => add_in::<ark_bn254::FqConfig>(a, b, subtract),
    }
}

/// A fully pipelined Montgomery multiplier: one product may issue every cycle; each comes out
/// exactly `latency` cycles after it went in.
#[derive(Clone, Debug)]
pub struct MontMul {
    field: FieldKind,
    pipe: VecDeque<Option<Word>>,
}

impl MontMul {
    /// A multiplier over `field` with `latency ≥ 1` pipeline stages, empty.
    pub fn new(field: FieldKind, latency: u32) -> Result<Self, BadLatency> {
        if latency == 0 {
            return Err(BadLatency { min: 1, got: 0 });
        }
        Ok(Self {
            field,
            pipe: std::iter::repeat_n(None, latency as usize).collect(),
        })
    }

    /// Cycles from input to output.
    pub fn latency(&self) -> u32 {
        self.pipe.len() as u32
    }

    /// One clock: takes this cycle's input (or a bubble), returns the output of the input
    /// given `latency` cycles ago. Refuses unreduced words without clocking.
    pub fn step(&mut self, input: Option<(Word, Word)>) -> Result<Option<Word>, NotReduced> {
        let field = self.field;
        let result = match input {
            Some((a, b)) if reduced(field, &a) && reduced(field, &b) => {
                Some(mont_mul(field, &a, &b))
            }
            Some(_) => return Err(NotReduced { field }),
            None => None,
        };
        let out = self.pipe.pop_front().flatten();
        self.pipe.push_back(result);
        Ok(out)
    }
}

/// A radix-2 decimation-in-time butterfly: `(a, b, w) ↦ (a + w⊗b, a − w⊗b) mod p`, with `⊗`
/// the Montgomery product — a [`MontMul`] followed by one add/subtract stage, so its latency is
/// the multiplier's plus one. With every word a Montgomery representative, the outputs
/// represent `a + w·b` and `a − w·b`.
#[derive(Clone, Debug)]
pub struct Butterfly {
    field: FieldKind,
    pipe: VecDeque<Option<(Word, Word)>>,
}

/// One butterfly input: the two operands and the twiddle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ButterflyIn {
    /// Upper operand.
    pub a: Word,
    /// Lower operand (multiplied by the twiddle).
    pub b: Word,
    /// Twiddle factor.
    pub w: Word,
}

impl Butterfly {
    /// A butterfly whose multiplier has `mul_latency ≥ 1` stages; total latency
    /// `mul_latency + 1`.
    pub fn new(field: FieldKind, mul_latency: u32) -> Result<Self, BadLatency> {
        if mul_latency == 0 {
            return Err(BadLatency { min: 1, got: 0 });
        }
        Ok(Self {
            field,
            pipe: std::iter::repeat_n(None, mul_latency as usize + 1).collect(),
        })
    }

    /// Cycles from input to output.
    pub fn latency(&self) -> u32 {
        self.pipe.len() as u32
    }

    /// One clock, as [`MontMul::step`].
    pub fn step(&mut self, input: Option<ButterflyIn>) -> Result<Option<(Word, Word)>, NotReduced> {
        let field = self.field;
        let result = match input {
            Some(i) if [i.a, i.b, i.w].iter().all(|x| reduced(field, x)) => {
                let t = mont_mul(field, &i.w, &i.b);
                Some((
                    mod_add(field, &i.a, &t, false),
                    mod_add(field, &i.a, &t, true),
                ))
            }
            Some(_) => return Err(NotReduced { field }),
            None => None,
        };
        let out = self.pipe.pop_front().flatten();
        self.pipe.push_back(result);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn big(w: &Word) -> BigUint {
        BigUint::from_slice(
            &w.iter()
                .flat_map(|l| [*l as u32, (*l >> 32) as u32])
                .collect::<Vec<_>>(),
        )
    }

    fn word(x: &BigUint) -> Word {
        let mut digits = x.to_u64_digits();
        digits.resize(4, 0);
        [digits[0], digits[1], digits[2], digits[3]]
    }

    fn random_reduced(rng: &mut ChaCha20Rng, field: FieldKind) -> Word {
        let p = big(&field.modulus());
        let x = BigUint::from_bytes_le(&rng.gen::<[u8; 32]>()) % &p;
        word(&x)
    }

    /// The independent reference: schoolbook big integers, `R⁻¹ = R^(p−2) mod p`.
    fn reference(field: FieldKind, a: &Word, b: &Word) -> Word {
        let p = big(&field.modulus());
        let r: BigUint = BigUint::from(1u8) << 256u32;
        let r_inv = r.modpow(&(&p - 2u8), &p);
        word(&(big(a) * big(b) * r_inv % p))
    }

    #[test]
    fn multiplier_is_the_montgomery_product_in_both_fields() {
        let rng = &mut ChaCha20Rng::seed_from_u64(3);
        for field in [FieldKind::Scalar, FieldKind::Base] {
            let p = field.modulus();
            let mut pm1 = p;
            pm1[0] -= 1;
            let edge = [[0; 4], [1, 0, 0, 0], pm1];
            for a in edge {
                for b in edge {
                    assert_eq!(mont_mul(field, &a, &b), reference(field, &a, &b));
                }
            }
            for _ in 0..200 {
                let (a, b) = (random_reduced(rng, field), random_reduced(rng, field));
                assert_eq!(mont_mul(field, &a, &b), reference(field, &a, &b));
            }
        }
    }

    #[test]
    fn multiplier_outputs_come_exactly_latency_cycles_later_back_to_back() {
        let rng = &mut ChaCha20Rng::seed_from_u64(4);
        for latency in [1, 2, 16] {
            let mut unit = MontMul::new(FieldKind::Base, latency).expect("latency ≥ 1");
            assert_eq!(unit.latency(), latency);
            let mut issued: Vec<Option<Word>> = Vec::new();
            for cycle in 0..100usize {
                // Bubbles every seventh cycle.
                let input = (cycle % 7 != 3).then(|| {
                    (
                        random_reduced(rng, FieldKind::Base),
                        random_reduced(rng, FieldKind::Base),
                    )
                });
                issued.push(input.map(|(a, b)| reference(FieldKind::Base, &a, &b)));
                let out = unit.step(input).expect("reduced");
                let want = cycle.checked_sub(latency as usize).and_then(|t| issued[t]);
                assert_eq!(out, want, "latency {latency}, cycle {cycle}");
            }
        }
        assert!(MontMul::new(FieldKind::Scalar, 0).is_err());
    }

    #[test]
    fn unreduced_words_are_refused() {
        let mut unit = MontMul::new(FieldKind::Scalar, 3).expect("latency");
        let p = FieldKind::Scalar.modulus();
        assert_eq!(
            unit.step(Some((p, [0; 4]))),
            Err(NotReduced {
                field: FieldKind::Scalar
            })
        );
        let mut bf = Butterfly::new(FieldKind::Scalar, 3).expect("latency");
        assert!(bf
            .step(Some(ButterflyIn {
                a: [0; 4],
                b: [0; 4],
                w: [u64::MAX; 4]
            }))
            .is_err());
    }

    #[test]
    fn butterfly_is_a_plus_minus_w_times_b_after_mul_latency_plus_one() {
        let rng = &mut ChaCha20Rng::seed_from_u64(5);
        let field = FieldKind::Scalar;
        let p = big(&field.modulus());
        let mut bf = Butterfly::new(field, 5).expect("latency");
        assert_eq!(bf.latency(), 6);
        let mut want = Vec::new();
        for cycle in 0..60usize {
            let i = ButterflyIn {
                a: random_reduced(rng, field),
                b: random_reduced(rng, field),
                w: random_reduced(rng, field),
            };
            let t = big(&reference(field, &i.w, &i.b));
            let plus = (big(&i.a) + &t) % &p;
            let minus = (big(&i.a) + &p - &t) % &p;
            want.push((word(&plus), word(&minus)));
            let out = bf.step(Some(i)).expect("reduced");
            assert_eq!(out, cycle.checked_sub(6).map(|t| want[t]), "cycle {cycle}");
        }
    }

    #[test]
    fn montgomery_representatives_give_field_products() {
        // x·R ⊗ y·R = x·y·R: the unit multiplies field elements held in Montgomery form.
        use ark_bn254::Fr;
        let (x, y) = (Fr::from(1234567u64), Fr::from(7654321u64));
        assert_eq!(mont_mul(FieldKind::Scalar, &x.0 .0, &y.0 .0), (x * y).0 .0);
    }
}
