//! A wide synthetic circuit shaped like a packed model layout, sized by its [`Shape`]: many
//! advice columns of small (8-bit) values, dot products against weights in fixed columns with a
//! running accumulator per group (rotation −1), a window gate at rotation +1, selector-gated
//! range lookups (degree 5, so four cosets), a permutation over many columns (copies between
//! rows, a constant, public outputs), and padding "bias" columns so that the fixed-column count
//! is what the shape asks for. The witness is random from a seed and is computed directly
//! ([`Wide::advice`]), so that k = 18–20 can be proved without halo2's witness synthesis.

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    halo2curves::{bn256::Fr, ff::Field},
    plonk::{
        Advice, Circuit, Column, ConstraintSystem, Error, Fixed, Instance, Selector, TableColumn,
    },
    poly::Rotation,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The circuit's size in columns. `advice`, `fixed`, `lookups` and `equality` are the counts
/// the constraint system ends up with (selectors included in `fixed`), as far as the shape
/// allows: see [`Shape::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Advice columns: inputs and one accumulator per group of (at most) ten.
    pub advice: usize,
    /// Fixed columns, counting the three selectors, the chain column, the lookup table and the
    /// constants column.
    pub fixed: usize,
    /// Range lookups (each on one input column, gated by a selector).
    pub lookups: usize,
    /// Advice columns in the permutation (the instance and constants columns join them).
    pub equality: usize,
}

impl Default for Shape {
    /// The middle of what the packed layout is expected to need.
    fn default() -> Self {
        Self {
            advice: 40,
            fixed: 70,
            lookups: 4,
            equality: 14,
        }
    }
}

/// Fixed columns that are not weights or biases: q_dot, q_lookup, q_window (selectors),
/// chain, the range table, constants.
const FIXED_OVERHEAD: usize = 6;
/// Inputs per accumulator.
const GROUP: usize = 10;
/// Rows per accumulation chain (the chain restarts after this many rows).
const CHAIN: usize = 64;
/// Range of the inputs (the lookup table's size).
const RANGE: usize = 256;

impl Shape {
    /// Whether the shape can be built: at least one group of two inputs, enough fixed columns
    /// for the weights, lookups and equality columns among the inputs.
    pub fn check(&self) -> Result<(), String> {
        let groups = self.groups();
        let inputs = self.advice.saturating_sub(groups);
        if inputs < 2 {
            return Err(format!("{} advice columns: at least 3", self.advice));
        }
        if self.fixed < inputs + FIXED_OVERHEAD {
            return Err(format!(
                "{} fixed columns: at least {} (one weight per input and {FIXED_OVERHEAD} more)",
                self.fixed,
                inputs + FIXED_OVERHEAD
            ));
        }
        if self.lookups > inputs {
            return Err(format!("{} lookups: at most {inputs}", self.lookups));
        }
        if self.equality < 2 || self.equality > inputs - 1 + groups {
            return Err(format!(
                "{} equality columns: 2 to {} (not the window gate's last input)",
                self.equality,
                inputs - 1 + groups
            ));
        }
        Ok(())
    }

    fn groups(&self) -> usize {
        // advice = inputs + groups, groups = ceil(inputs / GROUP).
        self.advice.div_ceil(GROUP + 1).max(1)
    }

    fn inputs(&self) -> usize {
        self.advice - self.groups()
    }

    fn biases(&self) -> usize {
        self.fixed - self.inputs() - FIXED_OVERHEAD
    }

    /// Input columns of group `g`.
    fn group(&self, g: usize) -> std::ops::Range<usize> {
        let (inputs, groups) = (self.inputs(), self.groups());
        let per = inputs.div_ceil(groups);
        (g * per).min(inputs)..((g + 1) * per).min(inputs)
    }

    /// Which advice columns take part in the permutation: the accumulators, then inputs from the
    /// first (never the window gate's last input).
    fn equality_columns(&self) -> (Vec<usize>, usize) {
        let accs = self.groups().min(self.equality - 1);
        ((0..self.equality - accs).collect(), accs)
    }
}

/// The circuit's columns.
#[derive(Clone, Debug)]
pub struct Config {
    x: Vec<Column<Advice>>,
    acc: Vec<Column<Advice>>,
    w: Vec<Column<Fixed>>,
    bias: Vec<Column<Fixed>>,
    chain: Column<Fixed>,
    q_dot: Selector,
    q_lookup: Selector,
    q_window: Selector,
    range: TableColumn,
    instance: Column<Instance>,
}

/// The wide synthetic circuit for `2^k` rows, witness drawn from `seed`.
#[derive(Clone, Debug)]
pub struct Wide {
    /// log2 of the rows.
    pub k: u32,
    /// Its shape.
    pub shape: Shape,
    /// Seed of the random witness (the weights are the same for every seed).
    pub seed: u64,
    /// Whether to assign the witness (false for keygen).
    pub witness: bool,
}

/// The seed of the fixed values (weights and biases).
const FIXED_SEED: u64 = 0x5EED;

/// Public outputs: the accumulator of group 0 at the end of the first few chains.
const OUTPUTS: usize = 4;

/// Rows the circuit assigns: halo2's usable rows but one (the constant's row is row 0 of the
/// region, so all usable rows but the last stay free for the layouter).
pub fn usable_rows(k: u32, shape: Shape) -> usize {
    let mut cs = ConstraintSystem::<Fr>::default();
    Wide::configure_with_params(&mut cs, shape);
    (1usize << k) - (cs.blinding_factors() + 1)
}

/// The fixed values and the witness, from the seed.
struct Values {
    /// Weights per input column (int8), biases per bias column.
    w: Vec<Vec<i8>>,
    bias: Vec<Vec<i16>>,
    chain: Vec<bool>,
    x: Vec<Vec<u8>>,
    acc: Vec<Vec<Fr>>,
    copies: Vec<(usize, usize, usize, usize)>,
}

fn int(v: i64) -> Fr {
    let x = Fr::from(v.unsigned_abs());
    if v < 0 {
        -x
    } else {
        x
    }
}

/// Rows whose window gate is on: every other row, not the last.
fn window(row: usize, rows: usize) -> bool {
    row % 2 == 1 && row + 1 < rows
}

fn values(k: u32, shape: Shape, seed: u64, witness: bool) -> Values {
    let rows = usable_rows(k, shape);
    let inputs = shape.inputs();
    // The fixed values are the circuit's (its "model"): the same for every witness.
    let mut rng = ChaCha20Rng::seed_from_u64(FIXED_SEED);
    let w: Vec<Vec<i8>> = (0..inputs)
        .map(|_| (0..rows).map(|_| rng.gen_range(-127..=127)).collect())
        .collect();
    let bias: Vec<Vec<i16>> = (0..shape.biases())
        .map(|_| (0..rows).map(|_| rng.gen_range(-1000..=1000)).collect())
        .collect();
    let chain: Vec<bool> = (0..rows).map(|i| i % CHAIN != 0).collect();
    // Copies: every fourth row, an equality input copies a cell of another equality input
    // 1..=8 rows above.
    let (eq, _) = shape.equality_columns();
    let mut copies = Vec::new();
    for dest_row in (8..rows).step_by(4) {
        let to = eq[dest_row / 4 % eq.len()];
        let from = eq[(dest_row / 4 + 1) % eq.len()];
        let from_row = dest_row - 1 - (dest_row / 4) % 8;
        copies.push((from, from_row, to, dest_row));
    }
    if !witness {
        return Values {
            w,
            bias,
            chain,
            x: Vec::new(),
            acc: Vec::new(),
            copies,
        };
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut x: Vec<Vec<u8>> = (0..inputs)
        .map(|_| (0..rows).map(|_| rng.gen_range(0..=u8::MAX)).collect())
        .collect();
    // Row 0 of input 0 holds the constant.
    x[0][0] = 7;
    // Copies in row order: sources are above their destinations, so each reads its final value.
    for &(from, from_row, to, dest_row) in &copies {
        x[to][dest_row] = x[from][from_row];
    }
    // The window gate: the last input is the one before it, a row down.
    let (last, before) = (inputs - 1, inputs - 2);
    for row in 0..rows {
        if window(row, rows) {
            x[last][row] = x[before][row + 1];
        }
    }
    let acc = (0..shape.groups())
        .map(|g| {
            let mut out = Vec::with_capacity(rows);
            let mut a = Fr::ZERO;
            for row in 0..rows {
                let mut sum: i64 = shape
                    .group(g)
                    .map(|j| i64::from(x[j][row]) * i64::from(w[j][row]))
                    .sum();
                if g == 0 {
                    sum += bias.iter().map(|b| i64::from(b[row])).sum::<i64>();
                }
                a = if chain[row] { a + int(sum) } else { int(sum) };
                out.push(a);
            }
            out
        })
        .collect();
    Values {
        w,
        bias,
        chain,
        x,
        acc,
        copies,
    }
}

impl Wide {
    /// The circuit with a witness.
    pub fn new(k: u32, shape: Shape, seed: u64) -> Self {
        Self {
            k,
            shape,
            seed,
            witness: true,
        }
    }

    /// The instance column: group 0's accumulator at the end of the first chains.
    pub fn instances(&self) -> Vec<Vec<Fr>> {
        self.witness_columns().1
    }

    /// The advice columns of the witness in column order (inputs, then accumulators), over the
    /// assigned rows, as halo2 field elements.
    pub fn advice(&self) -> Vec<Vec<Fr>> {
        self.witness_columns().0
    }

    /// Advice and instance columns at once.
    pub fn witness_columns(&self) -> (Vec<Vec<Fr>>, Vec<Vec<Fr>>) {
        let v = values(self.k, self.shape, self.seed, true);
        let instance = output_rows(self.k, self.shape)
            .into_iter()
            .map(|r| v.acc[0][r])
            .collect();
        let advice =
            v.x.iter()
                .map(|c| c.iter().map(|&x| Fr::from(u64::from(x))).collect())
                .chain(v.acc)
                .collect();
        (advice, vec![instance])
    }
}

fn output_rows(k: u32, shape: Shape) -> Vec<usize> {
    let rows = usable_rows(k, shape);
    (1..=OUTPUTS)
        .map(|c| c * CHAIN - 1)
        .filter(|&r| r < rows)
        .collect()
}

impl Circuit<Fr> for Wide {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: false,
            ..self.clone()
        }
    }

    fn params(&self) -> Shape {
        self.shape
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        Self::configure_with_params(meta, Shape::default())
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Config {
        let x: Vec<_> = (0..shape.inputs()).map(|_| meta.advice_column()).collect();
        let acc: Vec<_> = (0..shape.groups()).map(|_| meta.advice_column()).collect();
        let w: Vec<_> = (0..shape.inputs()).map(|_| meta.fixed_column()).collect();
        let bias: Vec<_> = (0..shape.biases()).map(|_| meta.fixed_column()).collect();
        let c = Config {
            x,
            acc,
            w,
            bias,
            chain: meta.fixed_column(),
            q_dot: meta.selector(),
            q_lookup: meta.complex_selector(),
            q_window: meta.selector(),
            range: meta.lookup_table_column(),
            instance: meta.instance_column(),
        };
        let constants = meta.fixed_column();
        meta.enable_constant(constants);
        let (eq, accs) = shape.equality_columns();
        for &j in &eq {
            meta.enable_equality(c.x[j]);
        }
        for a in &c.acc[..accs] {
            meta.enable_equality(*a);
        }
        meta.enable_equality(c.instance);

        for g in 0..shape.groups() {
            let cfg = c.clone();
            meta.create_gate("dot product with a running sum", move |m| {
                let q = m.query_selector(cfg.q_dot);
                let chain = m.query_fixed(cfg.chain, Rotation::cur());
                let prev = m.query_advice(cfg.acc[g], Rotation::prev());
                let here = m.query_advice(cfg.acc[g], Rotation::cur());
                let mut sum = chain * prev;
                for j in shape.group(g) {
                    sum = sum
                        + m.query_advice(cfg.x[j], Rotation::cur())
                            * m.query_fixed(cfg.w[j], Rotation::cur());
                }
                if g == 0 {
                    for b in &cfg.bias {
                        sum = sum + m.query_fixed(*b, Rotation::cur());
                    }
                }
                vec![q * (sum - here)]
            });
        }
        let (last, before) = (shape.inputs() - 1, shape.inputs() - 2);
        meta.create_gate("window", |m| {
            let q = m.query_selector(c.q_window);
            vec![
                q * (m.query_advice(c.x[before], Rotation::next())
                    - m.query_advice(c.x[last], Rotation::cur())),
            ]
        });
        for l in 0..shape.lookups {
            meta.lookup("8-bit input", |m| {
                let q = m.query_selector(c.q_lookup);
                vec![(q * m.query_advice(c.x[l], Rotation::cur()), c.range)]
            });
        }
        c
    }

    fn synthesize(&self, c: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let (k, shape) = (self.k, self.shape);
        let rows = usable_rows(k, shape);
        layouter.assign_table(
            || "range",
            |mut t| {
                for i in 0..RANGE {
                    t.assign_cell(|| "range", c.range, i, || Value::known(Fr::from(i as u64)))?;
                }
                Ok(())
            },
        )?;
        let v = values(k, shape, self.seed, self.witness);
        let outputs = output_rows(k, shape);
        // The constant sits in the constants column, which the region does not use.
        let region_rows = rows;
        let cells = layouter.assign_region(
            || "rows",
            |mut region| {
                for i in 0..region_rows {
                    // Row 0 has no row above it: its chain is off, so acc[-1] is never read.
                    c.q_dot.enable(&mut region, i)?;
                    c.q_lookup.enable(&mut region, i)?;
                    if window(i, region_rows) {
                        c.q_window.enable(&mut region, i)?;
                    }
                    let on = if v.chain[i] { Fr::ONE } else { Fr::ZERO };
                    region.assign_fixed(c.chain, i, on);
                    for (col, w) in c.w.iter().zip(&v.w) {
                        region.assign_fixed(*col, i, int(i64::from(w[i])));
                    }
                    for (col, b) in c.bias.iter().zip(&v.bias) {
                        region.assign_fixed(*col, i, int(i64::from(b[i])));
                    }
                }
                let value = |f: &dyn Fn() -> Fr| {
                    if self.witness {
                        Value::known(f())
                    } else {
                        Value::unknown()
                    }
                };
                let mut x_cells = Vec::with_capacity(c.x.len());
                for (j, col) in c.x.iter().enumerate() {
                    let mut column = Vec::with_capacity(region_rows);
                    for i in 0..region_rows {
                        let x = u64::from(v.x.get(j).map_or(0, |c| c[i]));
                        let cell = region.assign_advice(*col, i, value(&|| Fr::from(x)));
                        column.push(cell.cell());
                    }
                    x_cells.push(column);
                }
                let mut acc_cells = Vec::with_capacity(c.acc.len());
                for (g, col) in c.acc.iter().enumerate() {
                    let mut column = Vec::with_capacity(region_rows);
                    for i in 0..region_rows {
                        let cell = region.assign_advice(
                            *col,
                            i,
                            value(&|| v.acc.get(g).map_or(Fr::ZERO, |c| c[i])),
                        );
                        column.push(cell.cell());
                    }
                    acc_cells.push(column);
                }
                for &(from, from_row, to, dest_row) in &v.copies {
                    if dest_row < region_rows {
                        region.constrain_equal(x_cells[from][from_row], x_cells[to][dest_row]);
                    }
                }
                region.constrain_constant(x_cells[0][0], Fr::from(7u64))?;
                Ok(acc_cells.swap_remove(0))
            },
        )?;
        for (j, &r) in outputs.iter().enumerate() {
            if r < region_rows {
                layouter.constrain_instance(cells[r], c.instance, j);
            }
        }
        Ok(())
    }
}
