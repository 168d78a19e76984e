//! The circuit's shape for one model: how many lanes and accumulators a multiply–accumulate
//! row has, how many rescale units run side by side, how wide the range limbs are, and the
//! rows of a rescale block.

use serde::{Deserialize, Serialize};

/// Rows of `k` a rescale block reads its constants from.
pub const CONSTANTS: usize = 10;
/// Rows of `V` a rescale block uses: `a`, `σ`, `v`, `out`.
pub const VALUES: usize = 4;

/// Limbs per quantity of a rescale block (the most any rescale of the model needs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Template {
    /// The remainder `ρ`.
    pub rho: u8,
    /// The sign witness `g`.
    pub sign: u8,
    /// How far `v` lies above the clamp.
    pub above: u8,
    /// How far `v` lies below the clamp.
    pub below: u8,
    /// `d − 1 − ρ` (divisors that are not powers of two).
    pub upper: u8,
}

/// Where each quantity's limbs start in a block, and the block's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// First limb of `ρ`.
    pub rho: usize,
    /// First limb of `g`.
    pub sign: usize,
    /// First limb of the distance above.
    pub above: usize,
    /// First limb of the distance below.
    pub below: usize,
    /// The limb of `out − lo`.
    pub out_lo: usize,
    /// The limb of `hi − out`.
    pub out_hi: usize,
    /// First limb of `d − 1 − ρ`.
    pub upper: usize,
    /// Rows of a block.
    pub len: usize,
}

impl Template {
    /// The limb offsets and the block length.
    pub fn offsets(&self) -> Offsets {
        let rho = 0;
        let sign = rho + usize::from(self.rho);
        let above = sign + usize::from(self.sign);
        let below = above + usize::from(self.above);
        let out_lo = below + usize::from(self.below);
        let out_hi = out_lo + 1;
        let upper = out_hi + 1;
        let limbs = upper + usize::from(self.upper);
        Offsets {
            rho,
            sign,
            above,
            below,
            out_lo,
            out_hi,
            upper,
            len: limbs.max(CONSTANTS).max(VALUES),
        }
    }
}

/// The circuit's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Params {
    /// Input lanes of a multiply–accumulate row (`W`).
    pub lanes: u16,
    /// Accumulators of a multiply–accumulate row (`B`); divides `lanes`.
    pub accs: u16,
    /// Rescale units side by side (`P`).
    pub slots: u16,
    /// Bits of a full range limb.
    pub limb_bits: u8,
    /// The rescale block.
    pub template: Template,
}

/// Fewest lanes: the argmax block uses five.
pub const MIN_LANES: u16 = 6;

impl Params {
    /// Lanes per accumulator where accumulators do not share inputs.
    pub fn group(&self) -> usize {
        usize::from(self.lanes / self.accs)
    }

    /// Whether the shape is one the circuit can be built with.
    pub fn valid(&self) -> bool {
        self.lanes >= MIN_LANES
            && self.accs >= 1
            && self.lanes % self.accs == 0
            && self.slots >= 1
            && (8..=16).contains(&self.limb_bits)
    }

    /// Advice columns: lanes, accumulators, two per slot, three for functions.
    pub fn advice_columns(&self) -> usize {
        usize::from(self.lanes) + usize::from(self.accs) + 2 * usize::from(self.slots) + 3
    }

    /// Fixed columns (lookup tables not counted).
    pub fn fixed_columns(&self) -> usize {
        let (w, b, p) = (
            usize::from(self.lanes),
            usize::from(self.accs),
            usize::from(self.slots),
        );
        w * b + b + 2 + 2 * p + 1 + 2 + 5
    }

    /// Columns that take part in copy constraints (the instance column included).
    pub fn copy_columns(&self) -> usize {
        usize::from(self.lanes) + usize::from(self.accs) + usize::from(self.slots) + 3 + 1
    }

    /// The most rotations any advice column is read at.
    pub fn max_queries(&self) -> usize {
        self.template.offsets().len.max(VALUES)
    }

    /// Rows halo2 keeps at the end of the domain: its blinding factors (`max(3, queries) + 2`)
    /// and the last row.
    pub fn reserved_rows(&self) -> usize {
        self.max_queries().max(3) + 3
    }
}

/// Advice column indices, in the order the circuit creates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdviceColumns {
    w: usize,
    b: usize,
    p: usize,
}

impl AdviceColumns {
    /// The columns of `params`.
    pub fn new(params: &Params) -> Self {
        Self {
            w: params.lanes.into(),
            b: params.accs.into(),
            p: params.slots.into(),
        }
    }

    /// Multiply–accumulate input lane `i`.
    pub fn x(&self, i: usize) -> usize {
        i
    }

    /// Accumulator `b`.
    pub fn acc(&self, b: usize) -> usize {
        self.w + b
    }

    /// Rescale values of slot `p`.
    pub fn v(&self, p: usize) -> usize {
        self.w + self.b + 2 * p
    }

    /// Range limbs of slot `p`.
    pub fn r(&self, p: usize) -> usize {
        self.w + self.b + 2 * p + 1
    }

    /// Function tape column `j` (0: previous maximum, 1: input, 2: output).
    pub fn f(&self, j: usize) -> usize {
        self.w + self.b + 2 * self.p + j
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.w + self.b + 2 * self.p + 3
    }

    /// Whether column `c` takes part in copy constraints (every one but the limbs).
    pub fn copies(&self, c: usize) -> bool {
        c < self.w + self.b || c >= self.f(0) || (c - self.w - self.b) % 2 == 0
    }
}

/// Fixed column indices, in the order the circuit creates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedColumns {
    w: usize,
    b: usize,
    p: usize,
}

/// The argmax block's fixed columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgmaxFixed {
    /// Selector: an argmax row.
    Row,
    /// Selector: the first argmax row.
    First,
    /// Selector: an argmax row after the first.
    Rest,
    /// Selector: the last argmax row.
    Last,
    /// The output's index.
    Index,
}

impl FixedColumns {
    /// The columns of `params`.
    pub fn new(params: &Params) -> Self {
        Self {
            w: params.lanes.into(),
            b: params.accs.into(),
            p: params.slots.into(),
        }
    }

    /// Weight of lane `i` into accumulator `b`.
    pub fn weight(&self, b: usize, i: usize) -> usize {
        b * self.w + i
    }

    /// Bias added to accumulator `b` on a block's first row.
    pub fn bias(&self, b: usize) -> usize {
        self.w * self.b + b
    }

    /// 1 where a row continues the sums of the row above.
    pub fn cont(&self) -> usize {
        self.w * self.b + self.b
    }

    /// Selector of multiply–accumulate rows.
    pub fn mac(&self) -> usize {
        self.cont() + 1
    }

    /// Rescale constants of slot `p` (at the block's rotations 0..10).
    pub fn k(&self, p: usize) -> usize {
        self.mac() + 1 + 2 * p
    }

    /// Limb widths (range tags) of slot `p`.
    pub fn tag(&self, p: usize) -> usize {
        self.k(p) + 1
    }

    /// Selector of a rescale block's first row.
    pub fn rescale(&self) -> usize {
        self.mac() + 1 + 2 * self.p
    }

    /// Function tag of the function tape.
    pub fn function(&self) -> usize {
        self.rescale() + 1
    }

    /// 1 where the function tape takes differences from column 0 (maximum steps).
    pub fn relative(&self) -> usize {
        self.function() + 1
    }

    /// An argmax column.
    pub fn argmax(&self, c: ArgmaxFixed) -> usize {
        self.relative() + 1 + c as usize
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.argmax(ArgmaxFixed::Index) + 1
    }
}
