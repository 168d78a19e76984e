//! The advice and instance values of one inference.

use alloc::{vec, vec::Vec};

use super::{Advice, Layout, ADVICE, LIMBS, RANGE_BITS};
use crate::{
    infer::{InferError, Trace},
    model::Model,
    prover::Fr,
};

/// Advice columns (over the layout's used rows) and the instance column, as integers; a
/// negative value stands for its negation in the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// One vector per advice column, in [`ADVICE`] order.
    pub advice: Vec<Vec<i64>>,
    /// The outputs as `u = q + 128`, then the class.
    pub instance: Vec<i64>,
}

impl Witness {
    /// The value of `column` at `row` (0 past the used rows).
    pub fn get(&self, column: Advice, row: usize) -> i64 {
        self.advice[column as usize].get(row).copied().unwrap_or(0)
    }

    /// The advice columns and the instance column as field elements, as the prover takes them.
    pub fn to_field(&self) -> (Vec<Vec<Fr>>, Vec<Vec<Fr>>) {
        let column = |c: &[i64]| c.iter().map(|&v| Fr::from(v)).collect();
        (
            self.advice.iter().map(|c| column(c)).collect(),
            vec![column(&self.instance)],
        )
    }
}

/// The instance column of an inference with int8 `output` and argmax `class`: each output as
/// `u = q + 128`, then the class.
pub fn instance(output: &[i8], class: usize) -> Vec<i64> {
    output
        .iter()
        .map(|&q| i64::from(q) + 128)
        .chain([class as i64])
        .collect()
}

impl Layout {
    /// The witness of `trace`, an inference of `model` (the model this layout was made from).
    pub fn witness(&self, model: &Model, trace: &Trace) -> Result<Witness, InferError> {
        if trace.input.len() != self.inputs {
            return Err(InferError::InputLength {
                expected: self.inputs,
                found: trace.input.len(),
            });
        }
        let mut col = vec![vec![0i64; self.rows]; ADVICE.len()];
        let u = |q: i8| i64::from(q) + 128;
        for (i, &x) in trace.input.iter().enumerate() {
            col[Advice::R as usize][i] = u(x);
        }
        self.for_each_neuron(model, |n| {
            let inputs = match n.layer {
                0 => &trace.input,
                l => &trace.layers[l - 1].out,
            };
            let mut acc = n.folded_bias();
            col[Advice::B as usize][n.start] = acc;
            for (j, t) in n.taps.iter().enumerate() {
                let x = u(inputs[t.input]);
                acc += x * i64::from(n.weights[t.weight]);
                col[Advice::A as usize][n.start + j] = x;
                col[Advice::B as usize][n.start + j + 1] = acc;
            }
            let out = u(trace.layers[n.layer].out[n.index]);
            debug_assert_eq!(acc, i64::from(trace.layers[n.layer].acc[n.index]));
            let (lo, hi) = self
                .threshold(n.tag, out as u8)
                .map_or((0, 0), |t| (t.lo, t.hi));
            let r = n.requant;
            col[Advice::A as usize][r] = out;
            col[Advice::C as usize][r] = lo;
            col[Advice::D as usize][r] = hi;
            let limbs = |v: i64| (0..LIMBS).map(move |k| (v >> (RANGE_BITS as usize * k)) & 0xff);
            for (k, limb) in limbs(acc - lo).chain(limbs(hi - 1 - acc)).enumerate() {
                col[Advice::R as usize][r + k] = limb;
            }
        });

        let out: Vec<i64> = trace.output().iter().map(|&q| u(q)).collect();
        let class = trace.class();
        let max = out.get(class).copied().unwrap_or(0);
        let mut prefix = 0;
        let mut class_acc = 0;
        for (j, &v) in out.iter().enumerate() {
            let r = self.argmax + j;
            let bit = i64::from(j == class);
            prefix += bit;
            class_acc += j as i64 * bit;
            col[Advice::A as usize][r] = v;
            col[Advice::B as usize][r] = bit;
            col[Advice::C as usize][r] = prefix;
            col[Advice::D as usize][r] = max;
            // max − v − 1 + prefix ≥ 0: strictly above the outputs before the class, at least
            // the ones from it on.
            col[Advice::R as usize][r] = max - v - 1 + prefix;
            col[Advice::E as usize][r] = class_acc;
        }
        Ok(Witness {
            advice: col,
            instance: instance(trace.output(), class),
        })
    }
}
