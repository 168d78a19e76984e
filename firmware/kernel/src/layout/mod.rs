//! Where every value of an inference lives in the circuit: the one source of truth from which
//! the host builds its halo2 circuit and the device builds the same witness without halo2.
//! `docs/circuit.md` draws it; in short:
//!
//! - activations are stored as `u = q + 128 ∈ [0, 255]`;
//! - multiply–accumulate rows hold `W` input lanes and `B` accumulators, the weights in fixed
//!   columns: a convolution's or dense layer's `B` output channels share one row of inputs, a
//!   depthwise convolution's, average pool's or add's accumulators each take `W/B` lanes;
//! - every rescale (requantisation, average, add output) is one exact integer division checked
//!   with range-limbed remainders in a block of `L` rows of a rescale slot, `P` slots side by
//!   side — no table depends on the channel;
//! - a function tape looks up int8 functions (the inputs' range, an add's input rescaling, a
//!   max pool's steps);
//! - the outputs go through an argmax block and, with the class, to the instance column.
//!
//! The shape (`W`, `B`, `P`, limb width) is chosen per model by a cost model ([`Layout::new`], `cost.rs`).

mod cost;
mod fixed;
pub mod hash;
mod params;
mod plan;
pub mod rescale;
mod witness;

use alloc::vec::Vec;

pub use cost::Estimate;
pub use hash::Poseidon;
pub use params::{
    AdviceColumns, ArgmaxFixed, FixedColumns, HashFixed, Offsets, Params, Template, Visibility,
    Weights,
};
pub use witness::{instance, Witness};

use crate::model::Model;
use plan::{Census, Plan};

/// Largest `k` the layout will pick.
pub const MAX_K: u32 = 24;

/// A cell of an advice column, or of the instance column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    /// The advice column's index, or [`Cell::INSTANCE`].
    pub column: u32,
    /// The row.
    pub row: u32,
}

impl Cell {
    /// The instance column.
    pub const INSTANCE: u32 = u32::MAX;

    pub(crate) fn new(column: usize, row: usize) -> Self {
        Self {
            column: column as u32,
            row: row as u32,
        }
    }

    /// Row `row` of the instance column.
    pub fn instance(row: usize) -> Self {
        Self {
            column: Self::INSTANCE,
            row: row as u32,
        }
    }
}

/// Why a model cannot be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LayoutError {
    /// The circuit would need more than 2^MAX_K rows.
    #[error("the circuit needs {rows} rows, more than 2^{MAX_K}")]
    TooLarge {
        /// Rows needed (including halo2's reserved rows).
        rows: usize,
    },
    /// The shape asked for is not one the circuit can take.
    #[error(
        "layout parameters {lanes} lanes, {accs} accumulators, {slots} slots, {limb_bits}-bit \
         limbs are invalid (lanes ≥ 6 and a multiple of the accumulators; limbs 8..=16 bits)"
    )]
    Params {
        /// Lanes asked for.
        lanes: u16,
        /// Accumulators asked for.
        accs: u16,
        /// Slots asked for.
        slots: u16,
        /// Limb bits asked for.
        limb_bits: u8,
    },
}

/// The circuit layout of one model.
#[derive(Clone, Debug)]
pub struct Layout {
    params: Params,
    k: u32,
    plan: Plan,
    range_widths: Vec<u32>,
}

impl Layout {
    /// Lays out `model`, its input private, in the shape the cost model finds fastest to
    /// prove.
    pub fn new(model: &Model) -> Result<Self, LayoutError> {
        Self::with_input(model, Visibility::Private)
    }

    /// Lays out `model` with `input` visibility in the shape the cost model finds fastest to
    /// prove.
    pub fn with_input(model: &Model, input: Visibility) -> Result<Self, LayoutError> {
        Self::with_visibility(model, input, Weights::Fixed)
    }

    /// Lays out `model` with `input` visibility and `weights` in the shape the cost model finds
    /// fastest to prove. With hashed weights the layout does not depend on the weights' values.
    pub fn with_visibility(
        model: &Model,
        input: Visibility,
        weights: Weights,
    ) -> Result<Self, LayoutError> {
        let mut census = Census::new(model, weights);
        census.input = input;
        let (params, _) =
            cost::search(&census).ok_or(LayoutError::TooLarge { rows: census.sites })?;
        Self::build(model, params, &census)
    }

    /// Lays out `model` in the shape `params` (its template is recomputed for the model).
    pub fn with_params(model: &Model, params: Params) -> Result<Self, LayoutError> {
        let mut census = Census::new(model, params.weights);
        census.input = params.input;
        let params = cost::fit(&census, params).ok_or(LayoutError::Params {
            lanes: params.lanes,
            accs: params.accs,
            slots: params.slots,
            limb_bits: params.limb_bits,
        })?;
        Self::build(model, params, &census)
    }

    fn build(model: &Model, params: Params, census: &Census) -> Result<Self, LayoutError> {
        let plan = Plan::new(model, &params)?;
        let widths = plan::range_widths(&census.widths, params.limb_bits.into());
        let range_rows = widths.iter().map(|&b| 1usize << b).sum::<usize>() + 1;
        // halo2 fills a lookup table's unassigned rows from its first unused row, which must
        // itself be a usable row: tables need one row to spare.
        let needed = plan
            .rows
            .max(range_rows + 1)
            .max(plan.tags.rows + 1)
            .max(census.instance_len())
            + params.reserved_rows();
        let k = (0..=MAX_K)
            .find(|k| (1usize << k) >= needed)
            .ok_or(LayoutError::TooLarge { rows: needed })?;
        Ok(Self {
            params,
            k,
            plan,
            range_widths: widths.into_iter().collect(),
        })
    }

    /// The circuit's shape.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// log2 of the number of rows of the circuit.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Rows the layout uses (from row 0).
    pub fn rows(&self) -> usize {
        self.plan.rows
    }

    /// Multiply–accumulate rows.
    pub fn mac_rows(&self) -> usize {
        self.plan.mac_rows
    }

    /// Rescales.
    pub fn rescales(&self) -> usize {
        self.plan.sites.len()
    }

    /// Rows of the function tape.
    pub fn function_rows(&self) -> usize {
        self.plan.funcs.len()
    }

    /// Length of the instance column: the outputs (as `u = q + 128`), the class, then the
    /// input's `u = q + 128` (public) or its commitment (hashed), then the weights' hash
    /// (hashed weights).
    pub fn instance_len(&self) -> usize {
        plan::instance_len(
            self.plan.classes,
            self.plan.cells[0].len(),
            self.params.input,
            self.params.weights,
        )
    }

    /// What the instance reveals of the input.
    pub fn input_visibility(&self) -> Visibility {
        self.params.input
    }

    /// Whether the weights are in the verifying key or hashed.
    pub fn weights(&self) -> Weights {
        self.params.weights
    }

    /// The advice columns.
    pub fn advice_columns(&self) -> AdviceColumns {
        AdviceColumns::new(&self.params)
    }

    /// The fixed columns.
    pub fn fixed_columns(&self) -> FixedColumns {
        FixedColumns::new(&self.params)
    }

    /// The cost model's figures for this layout.
    pub fn estimate(&self) -> Estimate {
        cost::estimate(&self.params, self.k)
    }
}
