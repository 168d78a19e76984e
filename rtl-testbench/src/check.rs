//! The checks: RTL outputs against arkworks (values) and hw-sim's unit models (cycles).
//!
//! For a stream of inputs (one per cycle, `None` a bubble) the expected output on cycle `t` is
//! arkworks' result for the input of cycle `t − latency`, or nothing if that cycle was a bubble
//! (or `t < latency`). arkworks computes it from the integers' canonical field elements
//! (`a·b·R⁻¹` with `R⁻¹ = (2^256)⁻¹` in the field), not through hw-sim's Montgomery-form
//! shortcut; hw-sim's `MontMul`/`Butterfly` are stepped on the same stream and must give the
//! same thing on the same cycle. The RTL must equal both, cycle for cycle.
//!
//! The point adder has no unit model in hw-sim, only its latency `L_padd = D_mul·L_mul + D_add`:
//! its outputs are held to arkworks' evaluation of the formula at that latency, and every
//! result is also checked to be `P1 + P2` by arkworks' group law.

use std::fmt;

use ark_bn254::{Fq, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInt, Field, PrimeField, Zero};
use zkedge_hwsim::units::{self, ButterflyIn, FieldKind, NotReduced, Word};

use crate::{
    model::{Unit, UnitSpec},
    sim::{hex, In, Out},
};

/// The field element an integer word stands for, canonically (`None` if not reduced).
fn element<F: PrimeField<BigInt = BigInt<4>>>(w: &Word) -> Option<F> {
    F::from_bigint(BigInt(*w))
}

fn word<F: PrimeField<BigInt = BigInt<4>>>(x: F) -> Word {
    x.into_bigint().0
}

/// `R⁻¹ = (2^256)⁻¹` in the field.
fn r_inv<F: PrimeField>() -> F {
    F::from(2u64)
        .pow([256])
        .inverse()
        .expect("2 is invertible mod an odd prime")
}

/// arkworks' value of one input, `None` if a word is not reduced:
/// - multiplier: `a·b·R⁻¹`;
/// - butterfly: `(a + w·b·R⁻¹, a − w·b·R⁻¹)`;
/// - point adder: the complete mixed-addition formula (Renes–Costello–Batina 2016, algorithm 8,
///   `b3 = 9`) evaluated on the field elements the words represent in Montgomery form
///   (`x = w·R⁻¹`), written back in Montgomery form.
pub fn arkworks(spec: UnitSpec, input: &In) -> Option<Out> {
    match (spec.unit(), spec.field()) {
        (Unit::PointAdd, _) => point_add(input),
        (unit, FieldKind::Scalar) => field_unit::<ark_bn254::Fr>(unit, input),
        (unit, FieldKind::Base) => field_unit::<ark_bn254::Fq>(unit, input),
    }
}

fn field_unit<F: PrimeField<BigInt = BigInt<4>>>(unit: Unit, input: &In) -> Option<Out> {
    let [a, b, w, _, _] = &input.words;
    let (a, b) = (element::<F>(a)?, element::<F>(b)?);
    let r_inv = r_inv::<F>();
    match unit {
        Unit::MontMul => Some(Out {
            words: [word(a * b * r_inv), [0; 4], [0; 4]],
        }),
        Unit::Butterfly => {
            let t = element::<F>(w)? * b * r_inv;
            Some(Out {
                words: [word(a + t), word(a - t), [0; 4]],
            })
        }
        Unit::PointAdd => unreachable!("handled by point_add"),
    }
}

/// Montgomery words → field elements.
fn from_mont(words: &[Word]) -> Option<Vec<Fq>> {
    let r_inv = r_inv::<Fq>();
    words
        .iter()
        .map(|w| element::<Fq>(w).map(|x| x * r_inv))
        .collect()
}

/// A field element as its Montgomery word `x·R mod q`.
pub(crate) fn to_mont(x: Fq) -> Word {
    word(x * Fq::from(2u64).pow([256]))
}

fn point_add(input: &In) -> Option<Out> {
    let v = from_mont(&input.words)?;
    let (x1, y1, z1, x2, y2) = (v[0], v[1], v[2], v[3], v[4]);
    let b3 = Fq::from(9u64);
    let t0 = x1 * x2;
    let t1 = y1 * y2;
    let t3 = (x2 + y2) * (x1 + y1) - (t0 + t1);
    let t4 = y2 * z1 + y1;
    let y3 = b3 * (x2 * z1 + x1);
    let t0 = t0 + t0 + t0;
    let t2 = b3 * z1;
    let z3 = t1 + t2;
    let t1 = t1 - t2;
    let x3 = t3 * t1 - t4 * y3;
    let y3out = y3 * t0 + t1 * z3;
    let z3out = z3 * t4 + t0 * t3;
    Some(Out {
        words: [to_mont(x3), to_mont(y3out), to_mont(z3out)],
    })
}

/// For a point-adder input whose `(X1 : Y1 : Z1)` and `(x2, y2)` are points of G1: whether
/// `out` is the point `P1 + P2` by arkworks' group law (checks the formula itself). `None` if
/// the input is not two points (the formula's words are then all that is checked).
pub fn point_add_group_law(input: &In, out: &Out) -> Option<bool> {
    let v = from_mont(&input.words)?;
    let p1 = if v[2].is_zero() {
        (v[0].is_zero() && !v[1].is_zero()).then(G1Affine::zero)?
    } else {
        let z_inv = v[2].inverse()?;
        let p = G1Affine::new_unchecked(v[0] * z_inv, v[1] * z_inv);
        p.is_on_curve().then_some(p)?
    };
    let p2 = G1Affine::new_unchecked(v[3], v[4]);
    if !p2.is_on_curve() {
        return None;
    }
    let want = (G1Projective::from(p1) + p2).into_affine();
    let o = from_mont(&out.words)?;
    Some(if o[2].is_zero() {
        want.is_zero() && o[0].is_zero() && !o[1].is_zero()
    } else {
        let z_inv = o[2].inverse()?;
        !want.is_zero() && want.x == o[0] * z_inv && want.y == o[1] * z_inv
    })
}

/// hw-sim's cycle-stepped model of the unit, fed the stream: its output on each cycle. `None`
/// for the point adder, which hw-sim models by its latency `L_padd` alone (no unit model).
pub fn hwsim_stream(
    spec: UnitSpec,
    inputs: &[Option<In>],
) -> Option<Result<Vec<Option<Out>>, NotReduced>> {
    let l = spec.mul_latency();
    let words = |x: Word, y: Word| Out {
        words: [x, y, [0; 4]],
    };
    match spec.unit() {
        Unit::MontMul => {
            let mut unit = units::MontMul::new(spec.field(), l).expect("UnitSpec keeps L_mul >= 2");
            Some(
                inputs
                    .iter()
                    .map(|i| {
                        let out = unit.step(i.map(|i| (i.words[0], i.words[1])))?;
                        Ok(out.map(|x| words(x, [0; 4])))
                    })
                    .collect(),
            )
        }
        Unit::Butterfly => {
            let mut unit =
                units::Butterfly::new(spec.field(), l).expect("UnitSpec keeps L_mul >= 2");
            Some(
                inputs
                    .iter()
                    .map(|i| {
                        let out = unit.step(i.map(|i| ButterflyIn {
                            a: i.words[0],
                            b: i.words[1],
                            w: i.words[2],
                        }))?;
                        Ok(out.map(|(x, y)| words(x, y)))
                    })
                    .collect(),
            )
        }
        Unit::PointAdd => None,
    }
}

/// Whose output was wrong on a mismatching cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Culprit {
    /// The RTL differs from arkworks at the documented latency, with which hw-sim agrees.
    Rtl,
    /// hw-sim's unit model differs from arkworks at the documented latency (a bug in hw-sim or
    /// its documentation; the RTL is not compared on that cycle).
    HwSim,
    /// The point adder's words follow the formula but are not `P1 + P2` by arkworks' group law
    /// (a wrong formula, in the reference and the RTL alike).
    Formula,
}

/// One cycle on which an output was not what arkworks at the documented latency says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The cycle.
    pub cycle: usize,
    /// Whose output was wrong.
    pub culprit: Culprit,
    /// What it showed.
    pub got: Option<Out>,
    /// What arkworks says, `latency` cycles after the input.
    pub want: Option<Out>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |o: &Option<Out>| match o {
            None => "nothing (out_valid = 0)".to_owned(),
            Some(o) => o.words.iter().map(hex).collect::<Vec<_>>().join(" "),
        };
        let who = match self.culprit {
            Culprit::Rtl => "the RTL shows",
            Culprit::HwSim => "hw-sim's model shows",
            Culprit::Formula => "the formula gives a point other than P1 + P2:",
        };
        write!(
            f,
            "cycle {}: {who} {}; arkworks wants {}",
            self.cycle,
            show(&self.got),
            show(&self.want)
        )
    }
}

/// A failed check: the first mismatches and how many there were.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CheckFailure {
    /// Outputs differ from a reference.
    #[error("{spec}: {total} mismatching cycle(s) of {cycles}; first:\n{}",
        .first.iter().map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n"))]
    Mismatches {
        /// The unit.
        spec: UnitSpec,
        /// Cycles compared.
        cycles: usize,
        /// How many cycles mismatched.
        total: usize,
        /// The first few.
        first: Vec<Mismatch>,
    },
    /// The stimulus broke the units' contract (a word ≥ p, which hw-sim's models refuse too).
    #[error("{spec}: cycle {cycle}: {source}")]
    Stimulus {
        /// The unit.
        spec: UnitSpec,
        /// The offending cycle.
        cycle: usize,
        /// The contract broken.
        source: NotReduced,
    },
    /// The RTL run returned a different number of cycles than were given.
    #[error("{spec}: {got} output cycles for {want} input cycles")]
    Length {
        /// The unit.
        spec: UnitSpec,
        /// Output cycles.
        got: usize,
        /// Input cycles.
        want: usize,
    },
}

impl CheckFailure {
    /// The mismatches, if that is how it failed.
    pub fn mismatches(&self) -> &[Mismatch] {
        match self {
            CheckFailure::Mismatches { first, .. } => first,
            _ => &[],
        }
    }
}

/// A passed check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Inputs whose outputs were compared (inputs in the last `latency` cycles never came out).
    pub vectors: usize,
    /// Cycles compared.
    pub cycles: usize,
}

/// How many mismatches a failure lists.
const SHOWN: usize = 6;

/// Checks `outputs` (the RTL's, one per cycle) for the stream `inputs` against arkworks and
/// hw-sim, and hw-sim against arkworks.
pub fn check(
    spec: UnitSpec,
    inputs: &[Option<In>],
    outputs: &[Option<Out>],
) -> Result<Checked, CheckFailure> {
    if outputs.len() != inputs.len() {
        return Err(CheckFailure::Length {
            spec,
            got: outputs.len(),
            want: inputs.len(),
        });
    }
    if let Some(cycle) = inputs
        .iter()
        .position(|i| i.is_some_and(|i| arkworks(spec, &i).is_none()))
    {
        return Err(CheckFailure::Stimulus {
            spec,
            cycle,
            source: NotReduced {
                field: spec.field(),
            },
        });
    }
    let hw = match hwsim_stream(spec, inputs) {
        Some(stream) => Some(stream.map_err(|source| CheckFailure::Stimulus {
            spec,
            cycle: 0,
            source,
        })?),
        None => None,
    };
    let latency = spec.latency() as usize;
    let mut first = Vec::new();
    let mut total = 0;
    let mut vectors = 0;
    for (cycle, rtl) in outputs.iter().enumerate() {
        let input = cycle.checked_sub(latency).and_then(|t| inputs[t]);
        let want = input.map(|i| arkworks(spec, &i).expect("reduced: checked above"));
        vectors += usize::from(want.is_some());
        let mut note = |culprit, got: &Option<Out>| {
            total += 1;
            if first.len() < SHOWN {
                first.push(Mismatch {
                    cycle,
                    culprit,
                    got: *got,
                    want,
                });
            }
        };
        if let (Unit::PointAdd, Some(i), Some(w)) = (spec.unit(), input, want) {
            if point_add_group_law(&i, &w) == Some(false) {
                note(Culprit::Formula, &want);
                continue;
            }
        }
        match &hw {
            Some(hw) if hw[cycle] != want => note(Culprit::HwSim, &hw[cycle]),
            _ if *rtl != want => note(Culprit::Rtl, rtl),
            _ => {}
        }
    }
    if total > 0 {
        return Err(CheckFailure::Mismatches {
            spec,
            cycles: inputs.len(),
            total,
            first,
        });
    }
    Ok(Checked {
        vectors,
        cycles: inputs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::edge_inputs;

    #[test]
    fn the_group_law_check_catches_a_wrong_point() {
        let spec = UnitSpec::point_add(16, 6).expect("supported");
        for input in edge_inputs(spec) {
            let out = arkworks(spec, &input).expect("reduced");
            assert_eq!(point_add_group_law(&input, &out), Some(true), "{input:?}");
            let mut wrong = out;
            wrong.words.swap(0, 1);
            if wrong != out {
                assert_eq!(
                    point_add_group_law(&input, &wrong),
                    Some(false),
                    "{input:?}"
                );
            }
        }
    }

    #[test]
    fn the_multiplier_reference_is_the_montgomery_product() {
        // x·R ⊗ y·R = x·y·R: arkworks' internal words are Montgomery representatives.
        let spec = UnitSpec::new(Unit::MontMul, FieldKind::Scalar, 16).expect("supported");
        let (x, y) = (
            ark_bn254::Fr::from(1234567u64),
            ark_bn254::Fr::from(7654321u64),
        );
        let out = arkworks(spec, &In::mul(x.0 .0, y.0 .0)).expect("reduced");
        assert_eq!(out.words[0], (x * y).0 .0);
    }
}
