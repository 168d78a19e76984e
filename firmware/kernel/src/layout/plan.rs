//! Where every value of an inference goes: the placement that the fixed columns, the witness
//! and the copy constraints are all read from.
//!
//! Three groups of columns fill their rows independently from row 0: multiply–accumulate
//! blocks (lanes, accumulators), rescale blocks (`P` slots side by side, one block of `L` rows
//! each), and the function tape (inputs, add rescalings, max-pool steps). The argmax block
//! follows the multiply–accumulate and function rows.

use alloc::{collections::BTreeSet, vec, vec::Vec};

use super::{
    params::{AdviceColumns, Params, Visibility, Weights},
    rescale::{add_input, bits, Rescale},
    Cell, LayoutError,
};
use crate::{
    infer::{taps, Tap, Window},
    model::{Clamp, Model, Op},
};

/// Function tags of the function table.
pub(crate) const TAG_ZERO: i64 = 0;
/// `(u, 0)` for `u ∈ [0, 255]`: a range check.
pub(crate) const TAG_RANGE: i64 = 1;
/// `(d, max(d, 0))` for `d ∈ [−255, 255]`: a maximum step.
pub(crate) const TAG_RELU: i64 = 2;

/// A multiply–accumulate block: `B` accumulators over consecutive rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MacBlock {
    pub op: u16,
    pub row: u32,
    pub rows: u32,
    /// The output position (flat over the output's `H·W`).
    pub position: u32,
    /// The output channel of accumulator 0.
    pub channel: u32,
}

/// One rescale: of op `op`'s output `element`, from the accumulator in `acc`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site {
    pub op: u16,
    pub element: u32,
    pub acc: Cell,
}

/// One row of the function tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    /// A model input, range-checked.
    Input { element: u32 },
    /// Input `input` of an add, rescaled.
    AddIn { op: u16, input: u8, element: u32 },
    /// `m_tap = max(m_{tap−1}, t_tap)` of a max pool's window.
    MaxStep { op: u16, element: u32, tap: u16 },
    /// A max pool's maximum, clamped.
    MaxClamp { op: u16, element: u32 },
    /// Weight `index` of op `op` (hashed weights), range-checked and packed.
    Weight { op: u16, index: u32 },
    /// Byte `byte` (most significant first) of `bias + 2^31` of op `op`'s channel `channel`
    /// (hashed weights), range-checked and packed into the bias.
    BiasByte { op: u16, channel: u32, byte: u8 },
}

/// Where an op's hashed weights lie on the function tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WeightTape {
    /// The row of its first weight (weights follow in the op's order).
    pub weights: usize,
    /// The row of its first bias's first byte (four rows per channel).
    pub biases: usize,
}

impl WeightTape {
    /// The row whose packing sum is channel `ch`'s `bias + 2^31`.
    pub(crate) fn bias_row(&self, ch: usize) -> usize {
        self.biases + 4 * ch + 3
    }
}

/// The bias's offset on the tape: `bias + 2^31` is four bytes.
pub(crate) const BIAS_OFFSET: i64 = 1 << 31;

/// How an op's accumulators take their inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// All accumulators of a block read the same lanes (conv2d, dense).
    Shared,
    /// Each accumulator has its own group of lanes (depthwise, average pool, add).
    Own,
}

/// Whether `op`'s accumulators share their lanes ([`Sharing::Shared`]).
pub(crate) fn shared(op: &Op) -> bool {
    sharing(op) == Some(Sharing::Shared)
}

pub(crate) fn sharing(op: &Op) -> Option<Sharing> {
    match op {
        Op::Conv2d(_) | Op::Dense(_) => Some(Sharing::Shared),
        Op::DepthwiseConv2d(_) | Op::AvgPool2d(_) | Op::Add(_) => Some(Sharing::Own),
        _ => None,
    }
}

/// The function table's tags for the model's adds and max-pool clamps.
#[derive(Clone, Debug, Default)]
pub(crate) struct FuncTags {
    /// Per op: the tag of its first add input (the second is one more), or of its clamp.
    pub per_op: Vec<i64>,
    /// Whether any op takes maxima.
    pub relu: bool,
    /// Rows of the function table (the zero row included).
    pub rows: usize,
}

impl FuncTags {
    pub(crate) fn new(model: &Model) -> Self {
        let mut next = TAG_RELU + 1;
        let mut rows = 1 + 256;
        let mut relu = false;
        let per_op = model
            .ops()
            .iter()
            .map(|op| match op {
                Op::Add(_) => {
                    let t = next;
                    next += 2;
                    rows += 512;
                    t
                }
                Op::MaxPool2d(p) => {
                    relu = true;
                    if p.clamp == Clamp::NONE {
                        0
                    } else {
                        let t = next;
                        next += 1;
                        rows += 256;
                        t
                    }
                }
                _ => 0,
            })
            .collect();
        if relu {
            rows += 511;
        }
        Self { per_op, relu, rows }
    }
}

/// The function table: `(tag, input, output)` rows, the all-zero row first.
pub(crate) fn func_table(model: &Model, tags: &FuncTags) -> Vec<[i64; 3]> {
    let mut t = Vec::with_capacity(tags.rows);
    t.push([TAG_ZERO, 0, 0]);
    t.extend((0..256).map(|u| [TAG_RANGE, u, 0]));
    if tags.relu {
        t.extend((-255..=255).map(|d: i64| [TAG_RELU, d, d.max(0)]));
    }
    for (i, op) in model.ops().iter().enumerate() {
        let tag = tags.per_op[i];
        match op {
            Op::Add(a) => {
                for k in 0..2 {
                    let zp = model.quant(a.inputs[k].into()).zero_point;
                    t.extend((0..256).map(|u: i64| {
                        let s =
                            add_input((u - 128) as i8, zp, a.input_requant[k], model.rounding());
                        [tag + k as i64, u, i64::from(s)]
                    }));
                }
            }
            Op::MaxPool2d(p) if tag != 0 => {
                t.extend((0..256).map(|u: i64| [tag, u, i64::from(p.clamp.apply(u - 128)) + 128]));
            }
            _ => {}
        }
    }
    t
}

/// The range of an add's rescaled input `k` over all int8 values.
fn add_range(model: &Model, op: usize, k: usize) -> (i64, i64) {
    let Op::Add(a) = &model.ops()[op] else {
        return (0, 0);
    };
    let zp = model.quant(a.inputs[k].into()).zero_point;
    let s = |q: i8| i64::from(add_input(q, zp, a.input_requant[k], model.rounding()));
    // Monotone in q.
    (s(i8::MIN), s(i8::MAX))
}

/// The rescale constants of every output channel of a multiply–accumulate op, and of adds.
/// With hashed weights the accumulator's bounds are those of any int8 weights and int32 bias,
/// so that the circuit does not depend on the weights.
pub(crate) fn channel_rescales(model: &Model, op: usize, weights: Weights) -> Vec<Rescale> {
    let o = &model.ops()[op];
    let rounding = model.rounding();
    if let Op::Add(a) = o {
        let (x, y) = (add_range(model, op, 0), add_range(model, op, 1));
        return vec![Rescale::requant(
            a.output_requant,
            rounding,
            a.output.zero_point,
            a.clamp,
            (x.0 + y.0, x.1 + y.1),
        )];
    }
    let Some(p) = o.mac() else {
        return Vec::new();
    };
    let zp = i64::from(model.quant(o.inputs()[0]).zero_point);
    let channels = p.bias.len();
    let fan_in = o.weights().len() / channels;
    let term = |w: i64| {
        let (a, b) = ((-128 - zp) * w, (127 - zp) * w);
        (a.min(b), a.max(b))
    };
    (0..channels)
        .map(|ch| {
            let (mut lo, mut hi);
            if weights == Weights::Hashed {
                let (a, b) = (term(-128), term(127));
                let n = fan_in as i64;
                lo = i64::from(i32::MIN) + n * a.0.min(b.0);
                hi = i64::from(i32::MAX) + n * a.1.max(b.1);
            } else {
                (lo, hi) = (i64::from(p.bias[ch]), i64::from(p.bias[ch]));
                for &w in &o.weights()[ch * fan_in..(ch + 1) * fan_in] {
                    let (a, b) = term(i64::from(w));
                    lo += a;
                    hi += b;
                }
            }
            Rescale::requant(
                p.requant[ch],
                rounding,
                p.output.zero_point,
                p.clamp,
                (lo, hi),
            )
        })
        .collect()
}

/// One multiply–accumulate-like op as the cost model sees it: how its accumulators share
/// lanes, its output channels, and how many output positions have each tap count.
#[derive(Clone, Debug)]
pub(crate) struct MacOp {
    pub sharing: Sharing,
    pub channels: usize,
    pub taps: Vec<(usize, usize)>,
}

/// What the model needs, independent of the circuit's shape: the cost model's input.
#[derive(Clone, Debug)]
pub(crate) struct Census {
    /// The multiply–accumulate-like ops.
    pub macs: Vec<MacOp>,
    /// Rescales.
    pub sites: usize,
    /// Rows of the function tape.
    pub funcs: usize,
    /// Outputs (argmax rows).
    pub classes: usize,
    /// The most bits of each rescale quantity: ρ, sign, above, below, upper.
    pub bits: [u32; 5],
    /// Every bit count of any quantity (the range table needs each top-limb width).
    pub widths: BTreeSet<u32>,
    /// Function table rows.
    pub func_table: usize,
    /// What the instance reveals of the input.
    pub input: Visibility,
    /// Model inputs.
    pub inputs: usize,
    /// Whether the weights are hashed.
    pub weights: Weights,
    /// Words of the weights' hash (hashed weights).
    pub weight_words: usize,
}

impl Census {
    pub(crate) fn new(model: &Model, weights: Weights) -> Self {
        let mut macs = Vec::new();
        let mut sites = 0;
        let mut funcs = model.input_len();
        let mut weight_words = 0;
        if weights == Weights::Hashed {
            for op in model.ops() {
                if let Some(p) = op.mac() {
                    funcs += op.weights().len() + 4 * p.bias.len();
                    weight_words += super::hash::op_words(op.weights().len(), p.bias.len());
                }
            }
        }
        let mut most = [0u32; 5];
        let mut widths = BTreeSet::new();
        let mut note = |r: &Rescale| {
            let b = [
                r.rho_bits(),
                r.sign_bits(),
                r.above_bits(),
                r.below_bits(),
                if r.upper() { bits(r.d - 1) } else { 0 },
            ];
            for (m, v) in most.iter_mut().zip(b) {
                *m = (*m).max(v);
                if v > 0 {
                    widths.insert(v);
                }
            }
        };
        for (i, op) in model.ops().iter().enumerate() {
            let [o, oh, ow] = model.shape(i + 1);
            let plane = oh * ow;
            match op {
                Op::MaxPool2d(p) => {
                    let w = Window::of(model, i).expect("pools have windows");
                    for pos in 0..plane {
                        let n = w.taps(pos).count();
                        funcs += o * (n - 1 + usize::from(p.clamp != Clamp::NONE));
                    }
                    continue;
                }
                Op::Reshape(_) => continue,
                Op::Add(_) => funcs += 2 * o * plane,
                _ => {}
            }
            let Some(share) = sharing(op) else { continue };
            let mut hist: Vec<(usize, usize)> = Vec::new();
            for pos in 0..plane {
                let n = match op {
                    Op::Add(_) => 2,
                    _ => taps(model, i, pos).len(),
                };
                match hist.iter_mut().find(|(t, _)| *t == n) {
                    Some(h) => h.1 += 1,
                    None => hist.push((n, 1)),
                }
            }
            if let Op::AvgPool2d(p) = op {
                for &(n, _) in &hist {
                    note(&Rescale::average(n, p.clamp));
                }
            } else {
                for r in channel_rescales(model, i, weights) {
                    note(&r);
                }
            }
            sites += o * plane;
            macs.push(MacOp {
                sharing: share,
                channels: o,
                taps: hist,
            });
        }
        Self {
            macs,
            sites,
            funcs,
            classes: model.output_len(),
            bits: most,
            widths,
            func_table: FuncTags::new(model).rows,
            input: Visibility::Private,
            inputs: model.input_len(),
            weights,
            weight_words,
        }
    }

    /// Rows of the commitments' permutations (0 unless the input or the weights are hashed).
    pub(crate) fn hash_rows(&self) -> usize {
        let input = match self.input {
            Visibility::Hashed => super::hash::sponge_rows(super::hash::word_count(self.inputs)),
            _ => 0,
        };
        let weights = match self.weights {
            Weights::Hashed => super::hash::sponge_rows(self.weight_words),
            Weights::Fixed => 0,
        };
        input + weights
    }

    /// Length of the instance column.
    pub(crate) fn instance_len(&self) -> usize {
        instance_len(self.classes, self.inputs, self.input, self.weights)
    }

    /// Multiply–accumulate rows with `lanes` lanes and `accs` accumulators.
    pub(crate) fn mac_rows(&self, lanes: usize, accs: usize) -> usize {
        self.macs
            .iter()
            .map(|m| {
                let per_row = match m.sharing {
                    Sharing::Shared => lanes,
                    Sharing::Own => lanes / accs,
                };
                let groups = m.channels.div_ceil(accs);
                m.taps
                    .iter()
                    .map(|&(taps, n)| n * groups * taps.div_ceil(per_row).max(1))
                    .sum::<usize>()
            })
            .sum()
    }

    /// The range table's rows with `limb_bits`-bit limbs: every full and top-limb width.
    pub(crate) fn range_table(&self, limb_bits: u32) -> usize {
        range_widths(&self.widths, limb_bits)
            .iter()
            .map(|&b| 1usize << b)
            .sum::<usize>()
            + 1
    }
}

/// Length of the instance column: the outputs, the class, the input or its commitment, and the
/// weights' hash.
pub(crate) fn instance_len(
    classes: usize,
    inputs: usize,
    input: Visibility,
    weights: Weights,
) -> usize {
    classes
        + 1
        + match input {
            Visibility::Private => 0,
            Visibility::Public => inputs,
            Visibility::Hashed => 1,
        }
        + usize::from(weights == Weights::Hashed)
}

/// The limb widths a range table needs: full limbs, each quantity's top limb, and the 8-bit
/// output limbs.
pub(crate) fn range_widths(widths: &BTreeSet<u32>, limb_bits: u32) -> BTreeSet<u32> {
    let mut out: BTreeSet<u32> = [limb_bits, 8].into_iter().collect();
    for &b in widths {
        out.insert(b - limb_bits * (b.div_ceil(limb_bits) - 1));
    }
    out
}

/// The placement.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub blocks: Vec<MacBlock>,
    pub mac_rows: usize,
    pub sites: Vec<Site>,
    pub funcs: Vec<Func>,
    pub argmax: usize,
    pub classes: usize,
    /// Per tensor, per element: the cell holding its `u = q + 128`.
    pub cells: Vec<Vec<Cell>>,
    pub tags: FuncTags,
    /// Rows used by any group.
    pub rows: usize,
    /// Per op: its first row on the function tape.
    pub op_funcs: Vec<usize>,
    /// Per op: where its hashed weights lie on the tape.
    pub weight_tape: Vec<Option<WeightTape>>,
    /// The Poseidon sponges of the commitments.
    pub sponges: Vec<super::hash::Sponge>,
    pub cols: AdviceColumns,
}

impl Plan {
    pub(crate) fn new(model: &Model, params: &Params) -> Result<Self, LayoutError> {
        let cols = AdviceColumns::new(params);
        let (w, b, p) = (
            usize::from(params.lanes),
            usize::from(params.accs),
            usize::from(params.slots),
        );
        let len = params.template.offsets().len;
        let tags = FuncTags::new(model);
        let mut plan = Plan {
            blocks: Vec::new(),
            mac_rows: 0,
            sites: Vec::new(),
            funcs: Vec::new(),
            argmax: 0,
            classes: model.output_len(),
            cells: Vec::with_capacity(model.tensor_count()),
            tags,
            rows: 0,
            op_funcs: Vec::with_capacity(model.ops().len()),
            weight_tape: vec![None; model.ops().len()],
            sponges: Vec::new(),
            cols,
        };
        let f = |j: usize, row: usize| Cell::new(cols.f(j), row);
        plan.cells.push(
            (0..model.input_len())
                .map(|e| {
                    plan.funcs.push(Func::Input { element: e as u32 });
                    f(1, plan.funcs.len() - 1)
                })
                .collect(),
        );
        for (i, op) in model.ops().iter().enumerate() {
            let [o, oh, ow] = model.shape(i + 1);
            let plane = oh * ow;
            let mut out = vec![Cell::new(0, 0); o * plane];
            plan.op_funcs.push(plan.funcs.len());
            match op {
                Op::Reshape(r) => {
                    let src = &plan.cells[usize::from(r.input)];
                    for (e, cell) in out.iter_mut().enumerate() {
                        *cell = src[crate::infer::reshape_source(model, i, e)];
                    }
                }
                Op::MaxPool2d(pool) => {
                    let src = &plan.cells[usize::from(pool.input)];
                    for (e, cell) in out.iter_mut().enumerate() {
                        let window = taps(model, i, e);
                        let n = window.len();
                        let mut last = src[window[0].input];
                        for tap in 1..n {
                            plan.funcs.push(Func::MaxStep {
                                op: i as u16,
                                element: e as u32,
                                tap: tap as u16,
                            });
                            last = f(2, plan.funcs.len() - 1);
                        }
                        if pool.clamp != Clamp::NONE {
                            plan.funcs.push(Func::MaxClamp {
                                op: i as u16,
                                element: e as u32,
                            });
                            last = f(2, plan.funcs.len() - 1);
                        }
                        *cell = last;
                    }
                }
                _ => {
                    let share = sharing(op).expect("every other op accumulates");
                    if let Op::Add(_) = op {
                        for e in 0..o * plane {
                            for input in 0..2 {
                                plan.funcs.push(Func::AddIn {
                                    op: i as u16,
                                    input,
                                    element: e as u32,
                                });
                            }
                        }
                    }
                    let per_row = match share {
                        Sharing::Shared => w,
                        Sharing::Own => w / b,
                    };
                    for position in 0..plane {
                        let n = match op {
                            Op::Add(_) => 2,
                            _ => taps(model, i, position).len(),
                        };
                        let rows = n.div_ceil(per_row).max(1);
                        for channel in (0..o).step_by(b) {
                            let row = plan.mac_rows;
                            plan.blocks.push(MacBlock {
                                op: i as u16,
                                row: row as u32,
                                rows: rows as u32,
                                position: position as u32,
                                channel: channel as u32,
                            });
                            plan.mac_rows += rows;
                            for acc in 0..b.min(o - channel) {
                                let element = (channel + acc) * plane + position;
                                let site = plan.sites.len();
                                plan.sites.push(Site {
                                    op: i as u16,
                                    element: element as u32,
                                    acc: Cell::new(cols.acc(acc), row + rows - 1),
                                });
                                out[element] = Cell::new(cols.v(site % p), (site / p) * len + 3);
                            }
                        }
                    }
                }
            }
            plan.cells.push(out);
        }
        if params.weights_hashed() {
            for (i, op) in model.ops().iter().enumerate() {
                let Some(p) = op.mac() else { continue };
                let tape = WeightTape {
                    weights: plan.funcs.len(),
                    biases: plan.funcs.len() + op.weights().len(),
                };
                plan.funcs
                    .extend((0..op.weights().len()).map(|index| Func::Weight {
                        op: i as u16,
                        index: index as u32,
                    }));
                for channel in 0..p.bias.len() {
                    plan.funcs.extend((0..4).map(|byte| Func::BiasByte {
                        op: i as u16,
                        channel: channel as u32,
                        byte,
                    }));
                }
                plan.weight_tape[i] = Some(tape);
            }
        }
        plan.argmax = plan.mac_rows.max(plan.funcs.len());
        let rescale_rows = plan.sites.len().div_ceil(p) * len;
        plan.rows = (plan.argmax + plan.classes).max(rescale_rows);
        let weight_words =
            params.weights_hashed().then(|| {
                let mut words = Vec::new();
                for (i, tape) in plan.weight_tape.iter().enumerate() {
                    let Some(t) = tape else { continue };
                    let n = model.ops()[i].weights().len();
                    words.extend((0..n).step_by(super::hash::BYTES_PER_WORD).map(|s| {
                        t.weights + s..t.weights + (s + super::hash::BYTES_PER_WORD).min(n)
                    }));
                    let channels = model.ops()[i].mac().map_or(0, |p| p.bias.len());
                    words.extend((0..channels).map(|ch| t.biases + 4 * ch..t.biases + 4 * ch + 4));
                }
                words
            });
        plan.sponges = super::hash::sponges(
            params.input_hashed().then_some(model.input_len()),
            weight_words,
        );
        plan.rows = plan
            .rows
            .max(plan.sponges.last().map_or(0, super::hash::Sponge::end));
        Ok(plan)
    }

    /// The `B` accumulators' taps of `block`, per accumulator (empty past the op's channels),
    /// with the weight each tap has; and where each tap's value comes from.
    pub(crate) fn block_taps(
        &self,
        model: &Model,
        block: &MacBlock,
        accs: usize,
    ) -> Vec<Vec<(Tap, i64)>> {
        let i = usize::from(block.op);
        let op = &model.ops()[i];
        let [o, oh, ow] = model.shape(i + 1);
        let plane = oh * ow;
        let position = block.position as usize;
        let channel = block.channel as usize;
        let weights = op.weights();
        (0..accs)
            .map(|b| {
                let ch = channel + b;
                if ch >= o {
                    return Vec::new();
                }
                let element = ch * plane + position;
                match op {
                    Op::Conv2d(_) | Op::Dense(_) => {
                        let fan_in = weights.len() / o;
                        taps(model, i, position)
                            .into_iter()
                            .map(|t| (t, i64::from(weights[ch * fan_in + t.weight])))
                            .collect()
                    }
                    Op::DepthwiseConv2d(_) => taps(model, i, element)
                        .into_iter()
                        .map(|t| (t, i64::from(weights[t.weight])))
                        .collect(),
                    Op::AvgPool2d(_) => taps(model, i, element)
                        .into_iter()
                        .map(|t| (t, 1))
                        .collect(),
                    // An add's two "taps" are its rescaled inputs on the function tape; `input`
                    // names which.
                    Op::Add(_) => (0..2)
                        .map(|k| {
                            (
                                Tap {
                                    input: element,
                                    weight: k,
                                },
                                1,
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            })
            .collect()
    }

    /// Where tap `t` of `block`'s op reads its value.
    pub(crate) fn tap_source(&self, model: &Model, block: &MacBlock, t: &Tap) -> Cell {
        let i = usize::from(block.op);
        let op = &model.ops()[i];
        match op {
            Op::Add(_) => Cell::new(self.cols.f(2), self.op_funcs[i] + 2 * t.input + t.weight),
            _ => self.cells[op.inputs()[0]][t.input],
        }
    }
}

/// Every op's per-channel rescale constants ([`channel_rescales`]), indexed by op.
pub(crate) fn all_rescales(model: &Model, weights: Weights) -> Vec<Vec<Rescale>> {
    (0..model.ops().len())
        .map(|i| channel_rescales(model, i, weights))
        .collect()
}

impl Site {
    /// The rescale's constants, given [`all_rescales`].
    pub(crate) fn rescale(&self, model: &Model, channels: &[Vec<Rescale>]) -> Rescale {
        let i = usize::from(self.op);
        let e = self.element as usize;
        match &model.ops()[i] {
            Op::AvgPool2d(p) => Rescale::average(taps(model, i, e).len(), p.clamp),
            Op::Add(_) => channels[i][0],
            _ => {
                let [_, h, w] = model.shape(i + 1);
                channels[i][e / (h * w)]
            }
        }
    }
}
