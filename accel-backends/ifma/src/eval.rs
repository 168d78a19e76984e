//! Straight-line programs over the scalar field, run at eight points at once (see
//! [`crate::Ifma::evaluate`]).

use alloc::vec::Vec;

use ark_bn254::Fr;

use crate::lanes::{zero, Fr8};
use crate::Step;

/// See [`crate::Ifma::evaluate`]; `steps` refer only to earlier steps and to `leaves`
/// (checked when their [`crate::Program`] was built).
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn evaluate(steps: &[Step], leaves: &[[Fr; 8]], values: &mut Vec<Fr8>) -> [Fr; 8] {
    values.clear();
    for step in steps {
        let v = match *step {
            Step::Constant(c) => Fr8::splat(c),
            Step::Leaf(k) => Fr8::load(&leaves[k]),
            Step::Negated(a) => zero().sub(values[a]),
            Step::Sum(a, b) => values[a].add(values[b]),
            Step::Product(a, b) => values[a].mul(values[b]),
            Step::Scaled(a, c) => values[a].mul(Fr8::splat(c)),
        };
        values.push(v);
    }
    values.last().map_or([Fr::from(0u64); 8], |v| v.to_fq())
}

#[cfg(test)]
mod tests {
    use ark_bn254::Fr;
    use ark_ff::{Field, UniformRand};
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
    use std::vec;
    use std::vec::Vec;

    use crate::{assert_refused, ifma_or_skip, EvalScratch, Program, Step};

    /// The same program, one point at a time with arkworks.
    fn scalar(steps: &[Step], leaves: &[[Fr; 8]], l: usize) -> Fr {
        let mut v: Vec<Fr> = Vec::new();
        for step in steps {
            let x = match *step {
                Step::Constant(c) => c,
                Step::Leaf(k) => leaves[k][l],
                Step::Negated(a) => -v[a],
                Step::Sum(a, b) => v[a] + v[b],
                Step::Product(a, b) => v[a] * v[b],
                Step::Scaled(a, c) => v[a] * c,
            };
            v.push(x);
        }
        v.last().copied().unwrap_or(Fr::from(0u64))
    }

    /// Random programs of every kind of step, leaves including 0, 1 and −1.
    #[test]
    fn programs_match_arkworks() {
        let Some(ifma) = ifma_or_skip("programs") else {
            return;
        };
        let mut rng = StdRng::seed_from_u64(14);
        let mut scratch = EvalScratch::default();
        for len in 0..40 {
            let leaves: Vec<[Fr; 8]> = (0..5)
                .map(|k| {
                    core::array::from_fn(|l| match (k + l) % 6 {
                        0 => Fr::from(0u64),
                        1 => Fr::from(1u64),
                        2 => -Fr::from(1u64),
                        _ => Fr::rand(&mut rng),
                    })
                })
                .collect();
            let mut steps = Vec::new();
            for i in 0..len {
                let (a, b) = (rng.gen_range(0..i.max(1)), rng.gen_range(0..i.max(1)));
                steps.push(match (i, rng.gen_range(0..6)) {
                    (0, _) | (_, 0) => Step::Leaf(rng.gen_range(0..leaves.len())),
                    (_, 1) => Step::Constant(Fr::rand(&mut rng)),
                    (_, 2) => Step::Negated(a),
                    (_, 3) => Step::Sum(a, b),
                    (_, 4) => Step::Product(a, b),
                    _ => Step::Scaled(a, Fr::rand(&mut rng)),
                });
            }
            let program = Program::new(steps.clone(), leaves.len());
            let got = ifma.evaluate(&program, &leaves, &mut scratch);
            for (l, g) in got.iter().enumerate() {
                assert_eq!(
                    *g,
                    scalar(&steps, &leaves, l),
                    "program of {len} steps, lane {l}"
                );
            }
        }
    }

    #[test]
    fn forward_references_and_missing_leaves_are_refused() {
        assert_refused("names a later step", || {
            Program::new(vec![Step::Leaf(0), Step::Sum(0, 2), Step::Leaf(0)], 1);
        });
        assert_refused("a missing leaf", || {
            Program::new(vec![Step::Leaf(1)], 1);
        });
        let Some(ifma) = ifma_or_skip("a program given too few leaves") else {
            return;
        };
        let program = Program::new(vec![Step::Leaf(0), Step::Leaf(1)], 2);
        assert_refused("the program's leaves", move || {
            ifma.evaluate(&program, &[[Fr::ONE; 8]], &mut EvalScratch::default());
        });
    }
}
