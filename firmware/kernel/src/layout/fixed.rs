//! What the verifying key commits to: the fixed columns (weights, biases, rescale constants,
//! limb widths, selectors), the lookup tables, and the copy constraints.

use alloc::{vec, vec::Vec};

use super::{
    hash::Hashed,
    params::{ArgmaxFixed, Visibility, CONSTANTS},
    plan::{all_rescales, func_table, shared, Func, MacBlock, TAG_RANGE, TAG_RELU},
    rescale::{constants, limbs},
    Cell, Layout,
};
use crate::{
    infer::{taps, Tap},
    model::{Model, Op},
};

impl Layout {
    /// Every fixed column's values over the used rows, in [`super::FixedColumns`] order.
    /// Rescale constants exceed 64 bits, hence `i128`.
    pub fn fixed(&self, model: &Model) -> Vec<Vec<i128>> {
        let plan = &self.plan;
        let fc = self.fixed_columns();
        let b = usize::from(self.params.accs);
        let mut col = vec![vec![0i128; plan.rows]; fc.count()];

        let hashed = self.params.weights_hashed();
        for block in &plan.blocks {
            let i = usize::from(block.op);
            let op = &model.ops()[i];
            let zp_u = op
                .inputs()
                .first()
                .map_or(0, |&t| i64::from(model.quant(t).zero_point) + 128);
            let row0 = block.row as usize;
            // Hashed weights come from advice cells: the fixed columns say only which lanes and
            // biases are used, and the zero point the gate subtracts.
            let private = hashed && op.mac().is_some();
            for r in 0..block.rows as usize {
                col[fc.mac()][row0 + r] = 1;
                col[fc.cont()][row0 + r] = i128::from(r > 0);
                if private {
                    col[fc.hashed_row()][row0 + r] = 1;
                    col[fc.zero_point()][row0 + r] = zp_u.into();
                }
            }
            for (a, taps) in plan.block_taps(model, block, b).iter().enumerate() {
                if let (Some(p), false) = (op.mac(), taps.is_empty()) {
                    let sum_w: i64 = taps.iter().map(|(_, wt)| wt).sum();
                    let ch = block.channel as usize + a;
                    col[fc.bias(a)][row0] = if private {
                        1
                    } else {
                        (i64::from(p.bias[ch]) - zp_u * sum_w).into()
                    };
                }
                for (index, (_, wt)) in taps.iter().enumerate() {
                    let (r, lane) = self.params.tap_cell(shared(op), a, index);
                    col[fc.weight(a, lane)][row0 + r] = if private { 1 } else { (*wt).into() };
                }
            }
        }

        let channels = all_rescales(model, self.params.weights);
        let offsets = self.params.template.offsets();
        let p = usize::from(self.params.slots);
        for (s, site) in plan.sites.iter().enumerate() {
            let (slot, row) = (s % p, (s / p) * offsets.len);
            let r = site.rescale(model, &channels);
            for (j, c) in constants(&r).into_iter().enumerate() {
                col[fc.k(slot)][row + j] = c;
            }
            for (j, (tag, _)) in limbs(&r, None, &offsets, self.params.limb_bits.into())
                .into_iter()
                .enumerate()
            {
                col[fc.tag(slot)][row + j] = tag.into();
            }
        }
        for block in 0..plan.sites.len().div_ceil(p) {
            col[fc.rescale()][block * offsets.len] = 1;
        }
        const _: () = assert!(CONSTANTS <= 10);

        for (row, f) in plan.funcs.iter().enumerate() {
            let (tag, relative) = match *f {
                Func::Input { .. } => (TAG_RANGE, 0),
                Func::AddIn { op, input, .. } => {
                    (plan.tags.per_op[usize::from(op)] + i64::from(input), 0)
                }
                Func::MaxStep { .. } => (TAG_RELU, 1),
                Func::MaxClamp { op, .. } => (plan.tags.per_op[usize::from(op)], 0),
                Func::Weight { .. } | Func::BiasByte { .. } => (TAG_RANGE, 0),
            };
            col[fc.function()][row] = tag.into();
            col[fc.relative()][row] = relative;
        }

        let (first, rows) = (plan.argmax, plan.classes);
        for j in 0..rows {
            let r = first + j;
            col[fc.argmax(ArgmaxFixed::Row)][r] = 1;
            col[fc.argmax(ArgmaxFixed::First)][r] = i128::from(j == 0);
            col[fc.argmax(ArgmaxFixed::Rest)][r] = i128::from(j > 0);
            col[fc.argmax(ArgmaxFixed::Last)][r] = i128::from(j + 1 == rows);
            col[fc.argmax(ArgmaxFixed::Index)][r] = j as i128;
            col[fc.function()][r] = TAG_RANGE.into();
        }
        self.hash_fixed(&mut col);
        col
    }

    /// The range table: `(width, value)` for every limb width the model uses and every value
    /// below `2^width`; the all-zero row first.
    pub fn range_table(&self) -> Vec<[i64; 2]> {
        let mut t = vec![[0, 0]];
        for &b in &self.range_widths {
            t.extend((0..1i64 << b).map(|v| [i64::from(b), v]));
        }
        t
    }

    /// The function table: `(tag, input, output)`; the all-zero row first.
    pub fn function_table(&self, model: &Model) -> Vec<[i64; 3]> {
        func_table(model, &self.plan.tags)
    }

    /// Every copy constraint: multiply–accumulate inputs from where their values were produced,
    /// accumulators into rescale blocks, the function tape's inputs, the argmax block from the
    /// outputs, and the instance from the argmax block.
    pub fn copies(&self, model: &Model) -> Vec<(Cell, Cell)> {
        let plan = &self.plan;
        let cols = self.advice_columns();
        let b = usize::from(self.params.accs);
        let mut out = Vec::new();
        for block in &plan.blocks {
            let op = &model.ops()[usize::from(block.op)];
            let per_acc = plan.block_taps(model, block, b);
            for (a, taps) in per_acc.iter().enumerate() {
                // A shared block's inputs are the same for every accumulator: copy them once.
                if shared(op) && a > 0 {
                    break;
                }
                for (index, (t, _)) in taps.iter().enumerate() {
                    let (r, lane) = self.params.tap_cell(shared(op), a, index);
                    let to = Cell::new(cols.x(lane), block.row as usize + r);
                    out.push((plan.tap_source(model, block, t), to));
                }
            }
            out.extend(self.weight_copies(model, block, &per_acc));
        }
        let offsets = self.params.template.offsets();
        let p = usize::from(self.params.slots);
        for (s, site) in plan.sites.iter().enumerate() {
            let to = Cell::new(cols.v(s % p), (s / p) * offsets.len);
            out.push((site.acc, to));
        }
        let f = |j: usize, row: usize| Cell::new(cols.f(j), row);
        for (row, func) in plan.funcs.iter().enumerate() {
            match *func {
                Func::Input { .. } | Func::Weight { .. } | Func::BiasByte { .. } => {}
                Func::AddIn { op, input, element } => {
                    let Op::Add(a) = &model.ops()[usize::from(op)] else {
                        continue;
                    };
                    let from =
                        plan.cells[usize::from(a.inputs[usize::from(input)])][element as usize];
                    out.push((from, f(1, row)));
                }
                Func::MaxStep { op, element, tap } => {
                    let i = usize::from(op);
                    let src = &plan.cells[model.ops()[i].inputs()[0]];
                    let window = taps(model, i, element as usize);
                    let prev = if tap == 1 {
                        src[window[0].input]
                    } else {
                        f(2, row - 1)
                    };
                    out.push((prev, f(0, row)));
                    out.push((src[window[usize::from(tap)].input], f(1, row)));
                }
                Func::MaxClamp { op, element } => {
                    let i = usize::from(op);
                    let window = taps(model, i, element as usize);
                    let prev = if window.len() == 1 {
                        plan.cells[model.ops()[i].inputs()[0]][window[0].input]
                    } else {
                        f(2, row - 1)
                    };
                    out.push((prev, f(1, row)));
                }
            }
        }
        let logits = &plan.cells[model.output_tensor()];
        for (j, &cell) in logits.iter().enumerate() {
            let at = Cell::new(cols.x(0), plan.argmax + j);
            out.push((cell, at));
            out.push((at, Cell::instance(j)));
        }
        out.push((
            Cell::new(cols.x(4), plan.argmax + plan.classes - 1),
            Cell::instance(plan.classes),
        ));
        let after = plan.classes + 1;
        match self.params.input {
            Visibility::Private => {}
            Visibility::Public => {
                for (e, &cell) in plan.cells[0].iter().enumerate() {
                    out.push((cell, Cell::instance(after + e)));
                }
            }
            Visibility::Hashed => {
                let sponge = self
                    .sponge(Hashed::Input)
                    .expect("a hashed input has a sponge");
                out.push((
                    Cell::new(cols.state(1), sponge.output_row()),
                    Cell::instance(after),
                ));
            }
        }
        if let Some(sponge) = self.sponge(Hashed::Weights) {
            out.push((
                Cell::new(cols.state(1), sponge.output_row()),
                Cell::instance(self.instance_len() - 1),
            ));
        }
        out.extend(self.hash_copies());
        out
    }

    /// Hashed weights: where each used weight and bias cell of `block` (whose accumulators'
    /// taps are `per_acc`) is copied from — its one cell on the function tape — as
    /// `(tape cell, row cell)`.
    fn weight_copies(
        &self,
        model: &Model,
        block: &MacBlock,
        per_acc: &[Vec<(Tap, i64)>],
    ) -> Vec<(Cell, Cell)> {
        let plan = &self.plan;
        let i = usize::from(block.op);
        let Some(tape) = plan.weight_tape[i] else {
            return Vec::new();
        };
        let cols = self.advice_columns();
        let op = &model.ops()[i];
        let fan_in = op.weights().len() / model.shape(i + 1)[0];
        let row0 = block.row as usize;
        let mut out = Vec::new();
        for (a, taps) in per_acc.iter().enumerate() {
            if taps.is_empty() {
                continue;
            }
            let ch = block.channel as usize + a;
            out.push((
                Cell::new(cols.pack(), tape.bias_row(ch)),
                Cell::new(cols.bias(a), row0),
            ));
            for (index, (t, _)) in taps.iter().enumerate() {
                let (r, lane) = self.params.tap_cell(shared(op), a, index);
                let weight = if shared(op) {
                    ch * fan_in + t.weight
                } else {
                    t.weight
                };
                out.push((
                    Cell::new(cols.f(1), tape.weights + weight),
                    Cell::new(cols.weight(a, lane), row0 + r),
                ));
            }
        }
        out
    }

    /// The advice cells the layout assigns, as `(column, row, kind)`: every one of them is
    /// constrained, so changing any makes the circuit unsatisfied. `kind` names what the cell
    /// holds, for tests that must try each kind.
    pub fn assigned_cells(&self, model: &Model) -> Vec<(usize, usize, &'static str)> {
        let plan = &self.plan;
        let cols = self.advice_columns();
        let b = usize::from(self.params.accs);
        let mut cells = Vec::new();
        for block in &plan.blocks {
            let op = &model.ops()[usize::from(block.op)];
            let o = model.shape(usize::from(block.op) + 1)[0];
            let shared = shared(op);
            for (a, taps) in plan.block_taps(model, block, b).iter().enumerate() {
                if a == 0 || !shared {
                    for index in 0..taps.len() {
                        let (r, lane) = self.params.tap_cell(shared, a, index);
                        cells.push((cols.x(lane), block.row as usize + r, op.kind()));
                    }
                }
                if block.channel as usize + a < o {
                    for r in 0..block.rows as usize {
                        cells.push((cols.acc(a), block.row as usize + r, "accumulator"));
                    }
                }
                if self.plan.weight_tape[usize::from(block.op)].is_some() && !taps.is_empty() {
                    cells.push((cols.bias(a), block.row as usize, "hashed bias"));
                    for index in 0..taps.len() {
                        let (r, lane) = self.params.tap_cell(shared, a, index);
                        cells.push((
                            cols.weight(a, lane),
                            block.row as usize + r,
                            "hashed weight",
                        ));
                    }
                }
            }
        }
        let offsets = self.params.template.offsets();
        let p = usize::from(self.params.slots);
        let limb = |j: usize| match j {
            j if j < offsets.sign => "remainder limb",
            j if j < offsets.above => "sign limb",
            j if j < offsets.below => "above-clamp limb",
            j if j < offsets.out_lo => "below-clamp limb",
            j if j == offsets.out_lo => "out − lo limb",
            j if j < offsets.upper => "hi − out limb",
            j if j < offsets.upper_end => "upper limb",
            _ => "spare limb",
        };
        for s in 0..plan.sites.len() {
            let (slot, row) = (s % p, (s / p) * offsets.len);
            for (j, kind) in ["rescale input", "sign", "quotient", "output"]
                .into_iter()
                .enumerate()
            {
                cells.push((cols.v(slot), row + j, kind));
            }
            cells.extend((0..offsets.len).map(|j| (cols.r(slot), row + j, limb(j))));
        }
        for (row, func) in plan.funcs.iter().enumerate() {
            // Each column of the tape its own kind: a test that moves a few cells of each kind
            // then moves every column the lookup reads.
            let [f1, f2] = match func {
                Func::Input { .. } => ["input", "input (table side)"],
                Func::Weight { .. } => ["weight", "weight (table side)"],
                Func::BiasByte { .. } => ["bias byte", "bias byte (table side)"],
                Func::AddIn { .. } => ["add input", "add input rescaled"],
                Func::MaxStep { .. } => ["max step candidate", "max step running max"],
                Func::MaxClamp { .. } => ["max clamp input", "max clamp output"],
            };
            cells.push((cols.f(1), row, f1));
            cells.push((cols.f(2), row, f2));
            if matches!(func, Func::MaxStep { .. }) {
                cells.push((cols.f(0), row, "max step previous max"));
            }
        }
        for r in plan.argmax..plan.argmax + plan.classes {
            let lanes = [
                "argmax logit",
                "argmax bit",
                "argmax prefix sum",
                "argmax running max",
                "argmax class",
            ];
            cells.extend(
                lanes
                    .into_iter()
                    .enumerate()
                    .map(|(lane, kind)| (cols.x(lane), r, kind)),
            );
            cells.push((cols.f(1), r, "argmax margin"));
            cells.push((cols.f(2), r, "argmax margin (table side)"));
        }
        cells.extend(self.hash_cells());
        cells
    }
}
