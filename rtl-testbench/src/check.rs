//! The checks: RTL outputs against arkworks (values) and hw-sim's unit models (cycles).
//!
//! For a stream of inputs (one per cycle, `None` a bubble) the expected output on cycle `t` is
//! arkworks' result for the input of cycle `t − latency`, or nothing if that cycle was a bubble
//! (or `t < latency`). arkworks computes it from the integers' canonical field elements
//! (`a·b·R⁻¹` with `R⁻¹ = (2^256)⁻¹` in the field), not through hw-sim's Montgomery-form
//! shortcut; hw-sim's `MontMul`/`Butterfly` are stepped on the same stream and must give the
//! same thing on the same cycle. The RTL must equal both, cycle for cycle.

use std::fmt;

use ark_ff::{BigInt, PrimeField};
use zkedge_hwsim::units::{self, ButterflyIn, FieldKind, NotReduced, Word};

use crate::{
    model::{Unit, UnitSpec},
    sim::{hex, In, Out},
};

/// arkworks' value of one input: `a·b·R⁻¹` (multiplier) or `(a + w·b·R⁻¹, a − w·b·R⁻¹)`
/// (butterfly), on the canonical integers. `None` if a word is not reduced.
pub fn arkworks(spec: UnitSpec, input: &In) -> Option<Out> {
    match spec.field() {
        FieldKind::Scalar => arkworks_in::<ark_bn254::Fr>(spec.unit(), input),
        FieldKind::Base => arkworks_in::<ark_bn254::Fq>(spec.unit(), input),
    }
}

fn arkworks_in<F: PrimeField<BigInt = BigInt<4>>>(unit: Unit, input: &In) -> Option<Out> {
    let element = |w: &Word| F::from_bigint(BigInt(*w));
    let r_inv = F::from(2u64).pow([256]).inverse()?;
    let (a, b) = (element(&input.a)?, element(&input.b)?);
    let word = |x: F| x.into_bigint().0;
    match unit {
        Unit::MontMul => Some(Out {
            x: word(a * b * r_inv),
            y: [0; 4],
        }),
        Unit::Butterfly => {
            let t = element(&input.w)? * b * r_inv;
            Some(Out {
                x: word(a + t),
                y: word(a - t),
            })
        }
    }
}

/// hw-sim's cycle-stepped model of the unit, fed the stream: its output on each cycle.
pub fn hwsim_stream(spec: UnitSpec, inputs: &[Option<In>]) -> Result<Vec<Option<Out>>, NotReduced> {
    let l = spec.mul_latency();
    match spec.unit() {
        Unit::MontMul => {
            let mut unit = units::MontMul::new(spec.field(), l).expect("UnitSpec keeps L_mul >= 2");
            inputs
                .iter()
                .map(|i| {
                    let out = unit.step(i.map(|i| (i.a, i.b)))?;
                    Ok(out.map(|x| Out { x, y: [0; 4] }))
                })
                .collect()
        }
        Unit::Butterfly => {
            let mut unit =
                units::Butterfly::new(spec.field(), l).expect("UnitSpec keeps L_mul >= 2");
            inputs
                .iter()
                .map(|i| {
                    let out = unit.step(i.map(|i| ButterflyIn {
                        a: i.a,
                        b: i.b,
                        w: i.w,
                    }))?;
                    Ok(out.map(|(x, y)| Out { x, y }))
                })
                .collect()
        }
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
            Some(o) => format!("x={} y={}", hex(&o.x), hex(&o.y)),
        };
        let who = match self.culprit {
            Culprit::Rtl => "the RTL shows",
            Culprit::HwSim => "hw-sim's model shows",
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
    /// The stimulus broke the units' contract (a word ≥ p).
    #[error("{spec}: cycle {cycle}: {source}")]
    Stimulus {
        /// The unit.
        spec: UnitSpec,
        /// The offending cycle.
        cycle: usize,
        /// hw-sim's refusal.
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
        let source = hwsim_stream(spec, &inputs[..=cycle]).expect_err("hw-sim refuses it too");
        return Err(CheckFailure::Stimulus {
            spec,
            cycle,
            source,
        });
    }
    let hw = hwsim_stream(spec, inputs).map_err(|source| CheckFailure::Stimulus {
        spec,
        cycle: 0,
        source,
    })?;
    let latency = spec.latency() as usize;
    let mut first = Vec::new();
    let mut total = 0;
    let mut vectors = 0;
    for (cycle, (rtl, hw)) in outputs.iter().zip(&hw).enumerate() {
        let want = cycle
            .checked_sub(latency)
            .and_then(|t| inputs[t])
            .map(|i| arkworks(spec, &i).expect("reduced: checked above"));
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
        if *hw != want {
            note(Culprit::HwSim, hw);
        } else if *rtl != want {
            note(Culprit::Rtl, rtl);
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
