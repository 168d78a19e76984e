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
    /// One past its last limb: every field of the template moves a limb of the gate, so two
    /// templates are two circuits (a verifier bundle's shape is bound by the verifying key).
    /// Rows from here to `len` hold zeros (their range tag is 0 bits).
    pub upper_end: usize,
    /// Rows of a block.
    pub len: usize,
}

impl Template {
    /// Whether every quantity's limbs, at `limb_bits` each, stay within 120 bits: the gate
    /// weighs limb `j` by `2^(j·limb_bits)` as an `i128` (and no honest quantity is near it).
    pub fn fits(&self, limb_bits: u32) -> bool {
        [self.rho, self.sign, self.above, self.below, self.upper]
            .iter()
            .all(|&l| u32::from(l) * limb_bits <= 120)
    }

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
            upper_end: limbs,
            len: limbs.max(CONSTANTS).max(VALUES),
        }
    }
}

/// What the proof reveals of the model's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Nothing: the proof shows the output came from *some* input.
    #[default]
    Private,
    /// The input itself: its int8 values (as `u = q + 128`) follow the class in the instance.
    Public,
    /// A hiding Poseidon commitment of the input and a salt follows the class in the instance
    /// ([`super::hash`]).
    Hashed,
}

impl Visibility {
    /// Its name on the command line and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
            Visibility::Hashed => "hashed",
        }
    }
}

/// What the proof reveals of the model's weights and biases (those of conv2d, depthwise_conv2d
/// and dense; the quantisation and the ops' shapes are always public).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    /// In the verifying key: the verifier knows the model.
    #[default]
    Fixed,
    /// Private, in advice cells; their Poseidon hash follows the input's part of the instance
    /// ([`super::hash::weight_words`]). The verifying key is the same for any weights.
    Hashed,
}

impl Weights {
    /// Its name on the command line and in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Weights::Fixed => "fixed",
            Weights::Hashed => "hashed",
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
    /// What the instance reveals of the input.
    pub input: Visibility,
    /// Whether the weights are in the verifying key or hashed.
    pub weights: Weights,
}

/// Advice columns of the commitments (input, weights): the packing sum, the Poseidon state, its
/// squares.
pub const HASH_ADVICE: usize = 7;
/// Fixed columns of the commitments: two for packing, three round constants, six selectors and
/// flags.
pub const HASH_FIXED: usize = 11;
/// Of the commitments' advice columns, those in copy constraints: the packing sum (to the
/// absorbed words and the bias cells), the state's lane 1 (the hash, to the instance), the
/// absorbed words.
pub const HASH_COPIES: usize = 4;

/// Fixed columns of hashed weights: the row's weights are hashed ones, and the input's zero
/// point (`zp + 128`) they are taken from.
pub const WEIGHT_FIXED: usize = 2;

/// Fewest lanes: the argmax block uses five.
pub const MIN_LANES: u16 = 6;

impl Params {
    /// Lanes per accumulator where accumulators do not share inputs.
    pub fn group(&self) -> usize {
        usize::from(self.lanes / self.accs)
    }

    /// Where tap `index` of accumulator `a` lies in its block: the row offset and the lane.
    /// Accumulators of a conv2d or dense block share the row's lanes (`shared`); elsewhere each
    /// has its own group of lanes.
    pub fn tap_cell(&self, shared: bool, a: usize, index: usize) -> (usize, usize) {
        if shared {
            let w = usize::from(self.lanes);
            (index / w, index % w)
        } else {
            let group = self.group();
            (index / group, a * group + index % group)
        }
    }

    /// Whether the shape is one the circuit can be built with.
    pub fn valid(&self) -> bool {
        self.lanes >= MIN_LANES
            && self.accs >= 1
            && self.lanes.is_multiple_of(self.accs)
            && self.slots >= 1
            && (8..=16).contains(&self.limb_bits)
            && self.template.fits(self.limb_bits.into())
    }

    /// Whether the circuit has the Poseidon columns (a hashed input or hashed weights).
    pub fn hashed(&self) -> bool {
        self.input_hashed() || self.weights_hashed()
    }

    /// Whether the instance holds a commitment to the input.
    pub fn input_hashed(&self) -> bool {
        self.input == Visibility::Hashed
    }

    /// Whether the weights are private, their hash in the instance.
    pub fn weights_hashed(&self) -> bool {
        self.weights == Weights::Hashed
    }

    /// Advice weight and bias cells of a multiply–accumulate row (hashed weights).
    fn weight_cells(&self) -> usize {
        if self.weights_hashed() {
            usize::from(self.lanes) * usize::from(self.accs) + usize::from(self.accs)
        } else {
            0
        }
    }

    /// Advice columns: lanes, accumulators, two per slot, three for functions, the weight cells
    /// (hashed weights), and the commitments'.
    pub fn advice_columns(&self) -> usize {
        usize::from(self.lanes)
            + usize::from(self.accs)
            + 2 * usize::from(self.slots)
            + 3
            + self.weight_cells()
            + if self.hashed() { HASH_ADVICE } else { 0 }
    }

    /// Fixed columns (lookup tables not counted).
    pub fn fixed_columns(&self) -> usize {
        let (w, b, p) = (
            usize::from(self.lanes),
            usize::from(self.accs),
            usize::from(self.slots),
        );
        w * b
            + b
            + 2
            + 2 * p
            + 1
            + 2
            + 5
            + if self.hashed() { HASH_FIXED } else { 0 }
            + if self.weights_hashed() {
                WEIGHT_FIXED
            } else {
                0
            }
    }

    /// Columns that take part in copy constraints (the instance column included).
    pub fn copy_columns(&self) -> usize {
        usize::from(self.lanes)
            + usize::from(self.accs)
            + usize::from(self.slots)
            + 3
            + 1
            + self.weight_cells()
            + if self.hashed() { HASH_COPIES } else { 0 }
    }

    /// The most rotations any advice column is read at.
    pub fn max_queries(&self) -> usize {
        // `R_p` is read at every limb's rotation, `V_p` at its four values (the block's spare
        // rows and the constants' ten rotations are fixed-column or unread).
        self.template.offsets().upper_end.max(VALUES)
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
    hashed: bool,
    weights: bool,
}

impl AdviceColumns {
    /// The columns of `params`.
    pub fn new(params: &Params) -> Self {
        Self {
            w: params.lanes.into(),
            b: params.accs.into(),
            p: params.slots.into(),
            hashed: params.hashed(),
            weights: params.weights_hashed(),
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

    /// Hashed weights: the weight (`w + 128`) of lane `i` into accumulator `b` on a
    /// multiply–accumulate row, a copy of its one cell on the function tape.
    pub fn weight(&self, b: usize, i: usize) -> usize {
        self.f(3) + b * self.w + i
    }

    /// Hashed weights: the bias (`bias + 2^31`) of accumulator `b` on a block's first row, a
    /// copy of its packing sum.
    pub fn bias(&self, b: usize) -> usize {
        self.f(3) + self.w * self.b + b
    }

    /// The packing sum of the commitments (beside the function tape's inputs and weights); the
    /// commitments' columns follow the integer ones, and hold field elements.
    pub fn pack(&self) -> usize {
        self.f(3)
            + if self.weights {
                self.w * self.b + self.b
            } else {
                0
            }
    }

    /// Lane `i` of the Poseidon state.
    pub fn state(&self, i: usize) -> usize {
        self.pack() + 1 + i
    }

    /// `(s_i + c_i)²` of a round, or the word absorbed into lane `i` on an absorb row.
    pub fn square(&self, i: usize) -> usize {
        self.pack() + 4 + i
    }

    /// Columns holding integers (the witness's `advice`); the commitment's columns follow.
    pub fn integer_count(&self) -> usize {
        self.pack()
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.integer_count() + if self.hashed { HASH_ADVICE } else { 0 }
    }

    /// Whether column `c` takes part in copy constraints (every one but the limbs, and of the
    /// commitments', the packing sum, the absorbed words and the state's lane 1).
    pub fn copies(&self, c: usize) -> bool {
        if c >= self.pack() {
            return c == self.pack()
                || c == self.state(1)
                || c == self.square(1)
                || c == self.square(2);
        }
        c < self.w + self.b || c >= self.f(0) || (c - self.w - self.b).is_multiple_of(2)
    }
}

/// Fixed column indices, in the order the circuit creates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedColumns {
    w: usize,
    b: usize,
    p: usize,
    hashed: bool,
    weights: bool,
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

/// The commitments' fixed columns (hashed input or weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFixed {
    /// Selector: a packing row (a model input, a weight or a bias byte on the function tape).
    Pack,
    /// 256 where the packing sum continues from the row above, 0 where a word starts.
    Shift,
    /// Round constant of lane 0 (rounds), or what an absorb row adds to lane 0 (the initial
    /// capacity, padding).
    Constant0,
    /// As [`HashFixed::Constant0`], lane 1.
    Constant1,
    /// As [`HashFixed::Constant0`], lane 2.
    Constant2,
    /// Selector: a full round.
    Full,
    /// Selector: a partial round.
    Partial,
    /// Selector: an absorb row.
    Absorb,
    /// 1 where an absorb row continues the state of the row above (all but the first).
    Chain,
    /// 1 where an absorb row takes a word into lane 1.
    Take1,
    /// 1 where an absorb row takes a word into lane 2.
    Take2,
}

impl FixedColumns {
    /// The columns of `params`.
    pub fn new(params: &Params) -> Self {
        Self {
            w: params.lanes.into(),
            b: params.accs.into(),
            p: params.slots.into(),
            hashed: params.hashed(),
            weights: params.weights_hashed(),
        }
    }

    /// Weight of lane `i` into accumulator `b` (hashed weights: 1 where the lane is used).
    pub fn weight(&self, b: usize, i: usize) -> usize {
        b * self.w + i
    }

    /// Bias added to accumulator `b` on a block's first row (hashed weights: 1 where the
    /// block's op has a bias).
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

    /// A column of the commitments (present only where the input or the weights are hashed).
    pub fn hash(&self, c: HashFixed) -> usize {
        self.argmax(ArgmaxFixed::Index) + 1 + c as usize
    }

    /// Hashed weights: 1 on the multiply–accumulate rows of ops whose weights are hashed.
    pub fn hashed_row(&self) -> usize {
        self.argmax(ArgmaxFixed::Index) + 1 + if self.hashed { HASH_FIXED } else { 0 }
    }

    /// Hashed weights: the input's zero point `zp + 128` on those rows.
    pub fn zero_point(&self) -> usize {
        self.hashed_row() + 1
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.hashed_row() + if self.weights { WEIGHT_FIXED } else { 0 }
    }
}
