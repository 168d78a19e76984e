//! Where every value of an inference lives in the circuit: the one source of truth from which
//! the host builds its halo2 circuit and the device builds the same witness without halo2.
//! `docs/circuit.md` draws it; in short:
//!
//! - activations are stored as `u = q + 128 ∈ [0, 255]` (int8 seen as uint8), so that one
//!   8-bit range table checks inputs, limbs and comparisons alike;
//! - each output neuron is a block of rows: one multiply–accumulate per row (`A` the input,
//!   fixed `W` the weight, `B` the running sum, starting from the folded bias in fixed `BIAS`),
//!   then a requantisation row that looks up `(TAG, u, lo, hi)` in the threshold table and
//!   shows `lo ≤ acc < hi` by two distances split into three 8-bit limbs each, held in the
//!   range-checked column `R` at rotations 0..5;
//! - the last layer's outputs go through an argmax block and, with the class, to the instance
//!   column.

mod thresholds;
mod witness;

use alloc::vec::Vec;

use crate::{infer::taps, model::Model};

pub use thresholds::ThresholdRow;
pub use witness::{instance, Witness};

/// Bits of the range table (`0..2^RANGE_BITS`).
pub const RANGE_BITS: u32 = 8;
/// Limbs per requantisation distance.
pub const LIMBS: usize = 3;
/// Largest requantisation bucket (and accumulator span) the limbs can measure.
pub const MAX_SPAN: i64 = 1 << (RANGE_BITS as usize * LIMBS);
/// Rows of `R` a requantisation row reads (both distances' limbs); the most queries of any
/// advice column.
pub const MAX_ADVICE_QUERIES: usize = 2 * LIMBS;
/// Rows at the end of the domain that halo2 keeps for blinding: `max(3, queries) + 2` blinding
/// factors, plus one.
pub const RESERVED_ROWS: usize = if MAX_ADVICE_QUERIES > 3 {
    MAX_ADVICE_QUERIES
} else {
    3
} + 3;
/// Largest `k` the layout will pick.
pub const MAX_K: u32 = 20;

/// Advice columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Advice {
    /// MAC input; requantised output; argmax value.
    A,
    /// Running sum; argmax selection bit.
    B,
    /// Threshold below; argmax prefix sum of the bits.
    C,
    /// Threshold above; argmax maximum.
    D,
    /// Range-checked: inputs, distance limbs, argmax margins.
    R,
    /// Argmax: running sum of index × bit (ends as the class).
    E,
}

/// All advice columns, in column order.
pub const ADVICE: [Advice; 6] = [
    Advice::A,
    Advice::B,
    Advice::C,
    Advice::D,
    Advice::R,
    Advice::E,
];

/// Fixed (non-table) columns. All selectors are plain fixed columns, so the constraint system
/// is the same before and after halo2's keygen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Fixed {
    /// MAC weight.
    W,
    /// Folded bias at a neuron's first row.
    Bias,
    /// Threshold-table tag of a requantisation row.
    Tag,
    /// Index within the argmax block.
    Idx,
    /// Selector: MAC row.
    Mac,
    /// Selector: neuron's first row.
    Start,
    /// Selector: requantisation row.
    Requant,
    /// Selector: `R` is range-checked here.
    Range,
    /// Selector: argmax row.
    Argmax,
    /// Selector: first argmax row.
    ArgmaxFirst,
    /// Selector: argmax row after the first.
    ArgmaxRest,
    /// Selector: last argmax row.
    ArgmaxLast,
}

/// All fixed columns, in column order.
pub const FIXED: [Fixed; 12] = [
    Fixed::W,
    Fixed::Bias,
    Fixed::Tag,
    Fixed::Idx,
    Fixed::Mac,
    Fixed::Start,
    Fixed::Requant,
    Fixed::Range,
    Fixed::Argmax,
    Fixed::ArgmaxFirst,
    Fixed::ArgmaxRest,
    Fixed::ArgmaxLast,
];

/// A column that takes part in copy constraints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CopyColumn {
    /// Advice `A`.
    A,
    /// Advice `R`.
    R,
    /// Advice `E`.
    E,
    /// The instance column.
    Instance,
}

/// One end of a copy constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    /// The column.
    pub column: CopyColumn,
    /// The row.
    pub row: usize,
}

/// Why a model cannot be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LayoutError {
    /// A channel's accumulator range is wider than the requantisation limbs can measure.
    #[error(
        "layer {layer}, channel {channel}: accumulators span {span}, beyond the circuit's 2^24; \
         use smaller weights or fewer inputs per neuron"
    )]
    Span {
        /// The layer.
        layer: usize,
        /// The channel.
        channel: usize,
        /// `max − min + 1` of its accumulator.
        span: i64,
    },
    /// The circuit would need more than 2^MAX_K rows.
    #[error("the circuit needs {rows} rows, more than 2^{MAX_K}")]
    TooLarge {
        /// Rows needed (including halo2's reserved rows).
        rows: usize,
    },
}

/// Where one layer's neurons are.
#[derive(Clone, Debug)]
struct LayerRows {
    /// First row of each neuron's block, in `[C][H][W]` output order.
    start: Vec<usize>,
    /// The requantisation row of each neuron.
    requant: Vec<usize>,
    /// Threshold-table tag of channel 0 (channel `c` has `first_tag + c`).
    first_tag: u32,
}

/// The circuit layout of one model.
#[derive(Clone, Debug)]
pub struct Layout {
    k: u32,
    rows: usize,
    inputs: usize,
    layers: Vec<LayerRows>,
    argmax: usize,
    classes: usize,
    table: Vec<ThresholdRow>,
    /// Index into `table` of each tag's first row (`tag − 1`), and its first `u`.
    tag_rows: Vec<(usize, u8)>,
}

impl Layout {
    /// Lays out `model`: places every neuron and builds the threshold table.
    pub fn new(model: &Model) -> Result<Self, LayoutError> {
        let (table, tag_rows) = thresholds::table(model)?;
        let inputs = model.input_len();
        // `row` is the next free row for a block; `window` the first row of `R` not yet
        // claimed. Inputs occupy `R` from row 0; each requantisation row `r` claims `R` at
        // `r..r + MAX_ADVICE_QUERIES`, which may run on into later blocks' MAC rows (they do
        // not use `R`) but never into another requantisation window.
        let mut row = 0;
        let mut window = inputs;
        let mut layers = Vec::with_capacity(model.layers().len());
        let mut tag = 1u32;
        for (l, layer) in model.layers().iter().enumerate() {
            let [o, h, w] = model.layer_output_shape(l);
            let mut start = Vec::with_capacity(o * h * w);
            let mut requant = Vec::with_capacity(o * h * w);
            let fan_in: Vec<usize> = (0..h * w).map(|p| taps(model, l, p).len()).collect();
            for _ in 0..o {
                for &m in &fan_in {
                    let s = row.max(window.saturating_sub(m));
                    start.push(s);
                    requant.push(s + m);
                    row = s + m + 1;
                    window = s + m + MAX_ADVICE_QUERIES;
                }
            }
            layers.push(LayerRows {
                start,
                requant,
                first_tag: tag,
            });
            tag += layer.out_channels() as u32;
        }
        let row = row.max(window);
        let argmax = row;
        let classes = model.output_len();
        let rows = argmax + classes;
        // halo2 fills a lookup table's unassigned rows from its first unused row, which must
        // itself be a usable row: tables need one row to spare.
        let needed = rows.max(table.len() + 1).max((1 << RANGE_BITS) + 1) + RESERVED_ROWS;
        let k = (0..=MAX_K)
            .find(|k| (1usize << k) >= needed)
            .ok_or(LayoutError::TooLarge { rows: needed })?;
        Ok(Self {
            k,
            rows,
            inputs,
            layers,
            argmax,
            classes,
            table,
            tag_rows,
        })
    }

    /// log2 of the number of rows of the circuit.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Rows the layout uses (from row 0).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Length of the instance column: the outputs (as `u = q + 128`), then the class.
    pub fn instance_len(&self) -> usize {
        self.classes + 1
    }

    /// The threshold table, first row all zero (the disabled lookup's value).
    pub fn threshold_table(&self) -> &[ThresholdRow] {
        &self.table
    }

    /// The values of a fixed column over the used rows.
    pub fn fixed(&self, model: &Model, column: Fixed) -> Vec<i64> {
        let mut v = alloc::vec![0i64; self.rows];
        let set = |v: &mut Vec<i64>, r: usize, x: i64| v[r] = x;
        match column {
            Fixed::Range => {
                (0..self.inputs).for_each(|r| set(&mut v, r, 1));
                for layer in &self.layers {
                    for &r in &layer.requant {
                        (r..r + MAX_ADVICE_QUERIES).for_each(|r| set(&mut v, r, 1));
                    }
                }
                (self.argmax..self.rows).for_each(|r| set(&mut v, r, 1));
            }
            Fixed::Argmax => (self.argmax..self.rows).for_each(|r| set(&mut v, r, 1)),
            Fixed::ArgmaxFirst => set(&mut v, self.argmax, 1),
            Fixed::ArgmaxRest => (self.argmax + 1..self.rows).for_each(|r| set(&mut v, r, 1)),
            Fixed::ArgmaxLast => set(&mut v, self.rows - 1, 1),
            Fixed::Idx => (0..self.classes).for_each(|j| set(&mut v, self.argmax + j, j as i64)),
            _ => self.for_each_neuron(model, |n| match column {
                Fixed::W => {
                    for (j, t) in n.taps.iter().enumerate() {
                        v[n.start + j] = i64::from(n.weights[t.weight]);
                    }
                }
                Fixed::Bias => v[n.start] = n.folded_bias(),
                Fixed::Mac => (n.start..n.requant).for_each(|r| v[r] = 1),
                Fixed::Start => v[n.start] = 1,
                Fixed::Requant => v[n.requant] = 1,
                Fixed::Tag => v[n.requant] = i64::from(n.tag),
                _ => {}
            }),
        }
        v
    }

    /// Every copy constraint: MAC inputs from where their value was produced, the argmax block
    /// from the last layer, and the instance from the argmax block.
    pub fn copies(&self, model: &Model) -> Vec<(Cell, Cell)> {
        let a = |row| Cell {
            column: CopyColumn::A,
            row,
        };
        let mut out = Vec::new();
        self.for_each_neuron(model, |n| {
            for (j, t) in n.taps.iter().enumerate() {
                let source = match n.layer {
                    0 => Cell {
                        column: CopyColumn::R,
                        row: t.input,
                    },
                    l => a(self.layers[l - 1].requant[t.input]),
                };
                out.push((source, a(n.start + j)));
            }
        });
        if let Some(last) = self.layers.last() {
            for (j, &r) in last.requant.iter().enumerate() {
                out.push((a(r), a(self.argmax + j)));
                out.push((
                    a(self.argmax + j),
                    Cell {
                        column: CopyColumn::Instance,
                        row: j,
                    },
                ));
            }
        }
        out.push((
            Cell {
                column: CopyColumn::E,
                row: self.rows - 1,
            },
            Cell {
                column: CopyColumn::Instance,
                row: self.classes,
            },
        ));
        out
    }

    /// Rows of the cells the layout assigns, per advice column: every one of them is
    /// constrained, so changing any makes the circuit unsatisfied.
    pub fn assigned_cells(&self, model: &Model) -> Vec<(Advice, usize)> {
        let mut cells = Vec::new();
        let used: Vec<bool> = self.used_inputs(model);
        cells.extend(
            (0..self.inputs)
                .filter(|&i| used[i])
                .map(|r| (Advice::R, r)),
        );
        self.for_each_neuron(model, |n| {
            for r in n.start..n.requant {
                cells.push((Advice::A, r));
                cells.push((Advice::B, r));
            }
            for c in [Advice::A, Advice::B, Advice::C, Advice::D] {
                cells.push((c, n.requant));
            }
            cells.extend((n.requant..n.requant + MAX_ADVICE_QUERIES).map(|r| (Advice::R, r)));
        });
        for r in self.argmax..self.rows {
            cells.extend(ADVICE.iter().map(|&c| (c, r)));
        }
        cells
    }

    fn used_inputs(&self, model: &Model) -> Vec<bool> {
        let mut used = alloc::vec![false; self.inputs];
        let [_, h, w] = model.layer_output_shape(0);
        for p in 0..h * w {
            taps(model, 0, p).iter().for_each(|t| used[t.input] = true);
        }
        used
    }

    fn for_each_neuron(&self, model: &Model, mut f: impl FnMut(&Neuron<'_>)) {
        for (l, (layer, rows)) in model.layers().iter().zip(&self.layers).enumerate() {
            let [o, h, w] = model.layer_output_shape(l);
            let fan_in = layer.weights().len() / o;
            let zp_u = i64::from(model.layer_input_zero_point(l)) + 128;
            for p in 0..h * w {
                let taps = taps(model, l, p);
                for ch in 0..o {
                    let index = ch * h * w + p;
                    f(&Neuron {
                        layer: l,
                        index,
                        start: rows.start[index],
                        requant: rows.requant[index],
                        taps: &taps,
                        weights: &layer.weights()[ch * fan_in..(ch + 1) * fan_in],
                        bias: layer.bias()[ch],
                        zp_u,
                        tag: rows.first_tag + ch as u32,
                    });
                }
            }
        }
    }

    /// The threshold-table row for `(tag, u)`.
    fn threshold(&self, tag: u32, u: u8) -> Option<&ThresholdRow> {
        let &(first, u0) = self.tag_rows.get(tag.checked_sub(1)? as usize)?;
        let row = self.table.get(first + usize::from(u.checked_sub(u0)?))?;
        (row.tag == tag && row.u == u).then_some(row)
    }
}

/// One output neuron, as the layout and the witness see it.
struct Neuron<'a> {
    layer: usize,
    /// Flat `[C][H][W]` index of the neuron's output.
    index: usize,
    start: usize,
    requant: usize,
    taps: &'a [crate::infer::Tap],
    weights: &'a [i8],
    bias: i32,
    zp_u: i64,
    tag: u32,
}

impl Neuron<'_> {
    /// `bias − zp_u · Σ w` over the taps: with inputs stored as `u = x + 128` and zero point
    /// `zp_u = zp + 128`, `bias + Σ (x − zp)·w = folded + Σ u·w`.
    fn folded_bias(&self) -> i64 {
        let sum_w: i64 = self
            .taps
            .iter()
            .map(|t| i64::from(self.weights[t.weight]))
            .sum();
        i64::from(self.bias) - self.zp_u * sum_w
    }
}
