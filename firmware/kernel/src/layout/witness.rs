//! The advice and instance values of one inference.

use alloc::{vec, vec::Vec};

use super::{
    plan::{all_rescales, shared, Func, MacBlock, BIAS_OFFSET},
    rescale::{add_input, limbs},
    Layout, Poseidon, Visibility,
};
use crate::{
    infer::{taps, InferError, Tap, Trace},
    model::{Model, Op},
    prover::Fr,
};

/// Advice columns (over the layout's used rows) and the instance column, as integers; a
/// negative value stands for its negation in the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// One vector per advice column, in [`super::AdviceColumns`] order.
    pub advice: Vec<Vec<i64>>,
    /// The outputs as `u = q + 128`, then the class, then (public input) the input's
    /// `u = q + 128`.
    pub instance: Vec<i64>,
    /// The commitments' advice columns (hashed input or weights), in [`super::AdviceColumns`] order
    /// after the integer ones: field elements.
    pub wide: Vec<Vec<Fr>>,
    /// The input's commitment (hashed input): after the class in the instance.
    pub commitment: Option<Fr>,
    /// The weights' hash (hashed weights): the instance's last value.
    pub weights_hash: Option<Fr>,
}

impl Witness {
    /// The value of advice column `column` at `row` (0 past the used rows).
    pub fn get(&self, column: usize, row: usize) -> i64 {
        self.advice
            .get(column)
            .and_then(|c| c.get(row))
            .copied()
            .unwrap_or(0)
    }

    /// The value of advice column `column` at `row` as a field element (0 past the used rows).
    pub fn value(&self, column: usize, row: usize) -> Fr {
        match column.checked_sub(self.advice.len()) {
            None => Fr::from(self.get(column, row)),
            Some(c) => self
                .wide
                .get(c)
                .and_then(|c| c.get(row))
                .copied()
                .unwrap_or_default(),
        }
    }

    /// The instance column as field elements.
    pub fn instance_field(&self) -> Vec<Fr> {
        self.instance
            .iter()
            .map(|&v| Fr::from(v))
            .chain(self.commitment)
            .chain(self.weights_hash)
            .collect()
    }

    /// The advice columns and the instance column as field elements, as the prover takes them.
    pub fn to_field(&self) -> (Vec<Vec<Fr>>, Vec<Vec<Fr>>) {
        let column = |c: &[i64]| c.iter().map(|&v| Fr::from(v)).collect();
        (
            self.advice
                .iter()
                .map(|c| column(c))
                .chain(self.wide.iter().cloned())
                .collect(),
            vec![self.instance_field()],
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

fn u(q: i8) -> i64 {
    i64::from(q) + 128
}

/// The value of tap `t` of `block`'s op in `trace`: an input's `u`, or an add's rescaled input.
fn tap_value(model: &Model, trace: &Trace, block: &MacBlock, t: &Tap) -> i64 {
    let i = usize::from(block.op);
    match &model.ops()[i] {
        Op::Add(a) => {
            let k = t.weight;
            let t_in = usize::from(a.inputs[k]);
            let q = trace.tensor(t_in)[t.input];
            let zp = model.quant(t_in).zero_point;
            i64::from(add_input(q, zp, a.input_requant[k], model.rounding()))
        }
        op => u(trace.tensor(op.inputs()[0])[t.input]),
    }
}

impl Layout {
    /// The witness of `trace`, an inference of `model` (the model this layout was made from).
    /// A layout that hashes its input or its weights needs Poseidon (and a salt for the input):
    /// [`Layout::witness_with_salt`].
    pub fn witness(&self, model: &Model, trace: &Trace) -> Result<Witness, InferError> {
        if self.params.hashed() {
            return Err(InferError::NoSalt);
        }
        self.integer_witness(model, trace)
    }

    /// The witness of `trace` with the input's commitment under `salt` where the layout
    /// commits to its input (elsewhere the salt is not used), and the weights' hash where it
    /// hashes them.
    pub fn witness_with_salt(
        &self,
        model: &Model,
        trace: &Trace,
        poseidon: &Poseidon,
        salt: Fr,
    ) -> Result<Witness, InferError> {
        let mut w = self.integer_witness(model, trace)?;
        if self.params.hashed() {
            let tape = &w.advice[self.advice_columns().f(1)];
            let (wide, hashes) = self.hash_witness(poseidon, salt, tape);
            w.wide = wide;
            let mut hashes = hashes.into_iter();
            if self.params.input_hashed() {
                w.commitment = hashes.next();
            }
            if self.params.weights_hashed() {
                w.weights_hash = hashes.next();
            }
        }
        Ok(w)
    }

    fn integer_witness(&self, model: &Model, trace: &Trace) -> Result<Witness, InferError> {
        if trace.input.len() != model.input_len() || trace.ops.len() != model.ops().len() {
            return Err(InferError::InputLength {
                expected: model.input_len(),
                found: trace.input.len(),
            });
        }
        let plan = &self.plan;
        let cols = self.advice_columns();
        let (w, b) = (
            usize::from(self.params.lanes),
            usize::from(self.params.accs),
        );
        let group = self.params.group();
        let mut col = vec![vec![0i64; plan.rows]; cols.integer_count()];

        // Multiply–accumulate blocks, and the accumulators they end with.
        let mut finals = Vec::with_capacity(plan.sites.len());
        for block in &plan.blocks {
            let i = usize::from(block.op);
            let op = &model.ops()[i];
            let zp_u = op
                .inputs()
                .first()
                .map_or(0, |&t| u(model.quant(t).zero_point));
            let per_acc = plan.block_taps(model, block, b);
            let row0 = block.row as usize;
            if let (Some(_), Some(p)) = (plan.weight_tape[i], op.mac()) {
                for (a, taps) in per_acc.iter().enumerate() {
                    if taps.is_empty() {
                        continue;
                    }
                    let ch = block.channel as usize + a;
                    col[cols.bias(a)][row0] = i64::from(p.bias[ch]) + BIAS_OFFSET;
                    for (index, (_, wt)) in taps.iter().enumerate() {
                        let (r, lane) = self.params.tap_cell(shared(op), a, index);
                        col[cols.weight(a, lane)][row0 + r] = wt + 128;
                    }
                }
            }
            let rows = block.rows as usize;
            let mut sums = vec![0i64; b];
            // Fixed weights fold the zero point into the bias (a fixed column); hashed ones take
            // it from each lane, row by row, as the gate does. The block's sums are the same.
            let hashed = plan.weight_tape[i].is_some();
            let lane_zp = if hashed { zp_u } else { 0 };
            for (a, taps) in per_acc.iter().enumerate() {
                let bias = match op.mac() {
                    Some(p) if !taps.is_empty() => {
                        let ch = block.channel as usize + a;
                        let sum_w: i64 = taps.iter().map(|(_, wt)| wt).sum();
                        i64::from(p.bias[ch]) - (zp_u - lane_zp) * sum_w
                    }
                    _ => 0,
                };
                sums[a] = bias;
            }
            for r in 0..rows {
                for (a, taps) in per_acc.iter().enumerate() {
                    let lanes: Vec<(usize, usize)> = match op {
                        Op::Conv2d(_) | Op::Dense(_) => (0..w).map(|l| (l, r * w + l)).collect(),
                        _ => (0..group).map(|l| (a * group + l, r * group + l)).collect(),
                    };
                    for (lane, index) in lanes {
                        if let Some((t, wt)) = taps.get(index) {
                            let x = tap_value(model, trace, block, t);
                            col[cols.x(lane)][row0 + r] = x;
                            sums[a] += (x - lane_zp) * wt;
                        }
                    }
                    col[cols.acc(a)][row0 + r] = sums[a];
                }
            }
            // One rescale per accumulator that has an output channel, as the plan made them.
            let channels = model.shape(i + 1)[0] - block.channel as usize;
            finals.extend_from_slice(&sums[..b.min(channels)]);
        }

        // Rescale blocks.
        let channels = all_rescales(model, self.params.weights);
        let offsets = self.params.template.offsets();
        let p = usize::from(self.params.slots);
        for (s, site) in plan.sites.iter().enumerate() {
            let (slot, row) = (s % p, (s / p) * offsets.len);
            let r = site.rescale(model, &channels);
            let a = finals[s];
            let v = r.eval(a);
            debug_assert_eq!(
                v.out,
                u(trace.ops[usize::from(site.op)].out[site.element as usize]),
                "rescale of op {} element {}",
                site.op,
                site.element
            );
            for (j, value) in [a, v.sigma, v.v, v.out].into_iter().enumerate() {
                col[cols.v(slot)][row + j] = value;
            }
            let limbs = limbs(&r, Some(&v), &offsets, self.params.limb_bits.into());
            for (j, (_, limb)) in limbs.into_iter().enumerate() {
                col[cols.r(slot)][row + j] = limb;
            }
        }

        // The function tape.
        for (row, f) in plan.funcs.iter().enumerate() {
            let (f0, f1, f2) = match *f {
                Func::Input { element } => (0, u(trace.input[element as usize]), 0),
                Func::AddIn { op, input, element } => {
                    let i = usize::from(op);
                    let Op::Add(a) = &model.ops()[i] else {
                        continue;
                    };
                    let k = usize::from(input);
                    let t = usize::from(a.inputs[k]);
                    let q = trace.tensor(t)[element as usize];
                    let s = add_input(
                        q,
                        model.quant(t).zero_point,
                        a.input_requant[k],
                        model.rounding(),
                    );
                    (0, u(q), i64::from(s))
                }
                Func::MaxStep { op, element, tap } => {
                    let i = usize::from(op);
                    let x = trace.tensor(model.ops()[i].inputs()[0]);
                    let window = taps(model, i, element as usize);
                    let tap = usize::from(tap);
                    let prev = window[..tap]
                        .iter()
                        .map(|t| u(x[t.input]))
                        .max()
                        .unwrap_or(0);
                    let t = u(x[window[tap].input]);
                    (prev, t, prev.max(t))
                }
                Func::MaxClamp { op, element } => {
                    let i = usize::from(op);
                    let x = trace.tensor(model.ops()[i].inputs()[0]);
                    let m = taps(model, i, element as usize)
                        .iter()
                        .map(|t| u(x[t.input]))
                        .max()
                        .unwrap_or(0);
                    (0, m, u(trace.ops[i].out[element as usize]))
                }
                Func::Weight { op, index } => (
                    0,
                    i64::from(model.ops()[usize::from(op)].weights()[index as usize]) + 128,
                    0,
                ),
                Func::BiasByte { op, channel, byte } => {
                    let bias = model.ops()[usize::from(op)]
                        .mac()
                        .map_or(0, |p| i64::from(p.bias[channel as usize]));
                    (0, ((bias + BIAS_OFFSET) >> (8 * (3 - byte))) & 0xff, 0)
                }
            };
            col[cols.f(0)][row] = f0;
            col[cols.f(1)][row] = f1;
            col[cols.f(2)][row] = f2;
        }

        // The argmax block.
        let out: Vec<i64> = trace.output().iter().map(|&q| u(q)).collect();
        let class = trace.class();
        let max = out.get(class).copied().unwrap_or(0);
        let (mut prefix, mut class_acc) = (0, 0);
        for (j, &v) in out.iter().enumerate() {
            let r = plan.argmax + j;
            let bit = i64::from(j == class);
            prefix += bit;
            class_acc += j as i64 * bit;
            for (lane, value) in [v, bit, prefix, max, class_acc].into_iter().enumerate() {
                col[cols.x(lane)][r] = value;
            }
            // max − v − 1 + prefix ≥ 0: strictly above the outputs before the class, at least
            // the ones from it on.
            col[cols.f(1)][r] = max - v - 1 + prefix;
        }
        let mut instance = instance(trace.output(), class);
        if self.params.input == Visibility::Public {
            instance.extend(trace.input.iter().map(|&q| u(q)));
        }
        Ok(Witness {
            advice: col,
            instance,
            wide: Vec::new(),
            commitment: None,
            weights_hash: None,
        })
    }
}
