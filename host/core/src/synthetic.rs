//! A synthetic halo2 circuit that exercises what the zkedge prover must handle, at any `k`
//! from 4 up: gates at rotations −2…+3 (with constants, negation and scaling), a selector that
//! halo2's keygen compresses, a two-column lookup into fixed tables, a
//! lookup whose table is an advice column, a permutation over eight columns (several chunks)
//! with constants and copies, and two instance columns. Its witness is random (from a seed).

use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    halo2curves::{bn256::Fr, ff::Field},
    plonk::{
        Advice, Circuit, Column, ConstraintSystem, Error, Expression, Fixed, Instance, Selector,
        TableColumn,
    },
    poly::Rotation,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub mod wide;

/// The circuit's columns.
#[derive(Clone, Debug)]
pub struct Config {
    a: Column<Advice>,
    b: Column<Advice>,
    c: Column<Advice>,
    d: Column<Advice>,
    e: Column<Advice>,
    g: Column<Advice>,
    h: Column<Advice>,
    t: Column<Advice>,
    sq: Column<Advice>,
    s_mul: Selector,
    q_rot: Column<Fixed>,
    q_rec: Column<Fixed>,
    q_poly: Column<Fixed>,
    q_dyn: Column<Fixed>,
    range: TableColumn,
    square: TableColumn,
    instance: Column<Instance>,
    instance2: Column<Instance>,
}

/// Which parts of the circuit are switched on (all by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The lookup of `(a, a²)` into fixed tables.
    pub fixed_lookup: bool,
    /// The lookup of `e` into the advice column `t`.
    pub advice_lookup: bool,
    /// The recurrence over rotations −2…+3.
    pub far_rotations: bool,
    /// The constant cell (a fixed column in the permutation).
    pub constant: bool,
}

impl Default for Parts {
    fn default() -> Self {
        Self {
            fixed_lookup: true,
            advice_lookup: true,
            far_rotations: true,
            constant: true,
        }
    }
}

/// The synthetic circuit for `2^k` rows, witness drawn from `seed` (or absent for keygen).
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// log2 of the rows.
    pub k: u32,
    /// Seed of the random witness.
    pub seed: u64,
    /// Whether to assign the witness (false for keygen).
    pub witness: bool,
    /// Which parts are on.
    pub parts: Parts,
}

impl Synthetic {
    /// The whole circuit.
    pub fn new(k: u32, seed: u64, witness: bool) -> Self {
        Self {
            k,
            seed,
            witness,
            parts: Parts::default(),
        }
    }
}

/// Rows the circuit's region assigns: halo2's usable rows but one, which holds the constant.
pub fn usable_rows(k: u32) -> usize {
    let mut cs = ConstraintSystem::<Fr>::default();
    // The far rotations set the blinding factors; keep them in the count either way.
    Synthetic::configure(&mut cs);
    (1usize << k) - (cs.blinding_factors() + 1) - 1
}

/// The values a witness of `Synthetic { k, seed }` assigns.
struct Values {
    cols: [Vec<Fr>; 9],
    instance: Vec<Fr>,
    instance2: Vec<Fr>,
}

/// Rows whose `c` is a copy of `a` three rows down.
fn copy_rows(rows: usize) -> Vec<usize> {
    (0..rows.saturating_sub(3)).step_by(7).collect()
}

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const E: usize = 4;
const G: usize = 5;
const H: usize = 6;
const T: usize = 7;
const SQ: usize = 8;

fn table_len(k: u32) -> usize {
    usable_rows(k).min(256)
}

fn values(k: u32, seed: u64) -> Values {
    let rows = usable_rows(k);
    let t_len = table_len(k) as u64;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut cols: [Vec<Fr>; 9] = Default::default();
    cols[A] = (0..rows)
        .map(|_| Fr::from(rng.gen_range(0..t_len)))
        .collect();
    cols[B] = (0..rows).map(|_| Fr::random(&mut rng)).collect();
    cols[C] = (0..rows).map(|_| Fr::random(&mut rng)).collect();
    for i in copy_rows(rows) {
        cols[C][i] = cols[A][i + 3];
    }
    // The constant row.
    cols[B][1] = Fr::from(42u64);
    cols[D] = (0..rows)
        .map(|i| cols[A][i] * cols[B][i] + cols[C][i])
        .collect();
    cols[E] = (0..rows)
        .map(|i| {
            if i >= 1 && i + 1 < rows {
                cols[A][i - 1] + cols[B][i + 1]
            } else {
                Fr::random(&mut rng)
            }
        })
        .collect();
    // g[i+3] = g[i−2] + g[i] wherever the recurrence's selector is set (i ≡ 2 mod 5).
    cols[G] = (0..rows).map(|_| Fr::random(&mut rng)).collect();
    for i in (2..rows.saturating_sub(3)).step_by(5) {
        cols[G][i + 3] = cols[G][i - 2] + cols[G][i];
    }
    cols[H] = (0..rows)
        .map(|i| cols[A][i].square() - Fr::from(3u64) * cols[B][i] + Fr::from(7u64))
        .collect();
    // The dynamic table holds e's values on the rows that look them up (every fourth), reversed.
    let looked_up: Vec<Fr> = (0..rows).step_by(4).map(|i| cols[E][i]).collect();
    cols[T] = vec![Fr::ZERO; rows];
    for (j, v) in looked_up.into_iter().rev().enumerate() {
        cols[T][rows - 1 - j] = v;
    }
    cols[SQ] = cols[A].iter().map(|a| a.square()).collect();
    let instance = (0..rows).step_by(5).take(8).map(|i| cols[D][i]).collect();
    let instance2 = vec![cols[E][1]];
    Values {
        cols,
        instance,
        instance2,
    }
}

impl Synthetic {
    /// The instance columns of this witness.
    pub fn instances(&self) -> Vec<Vec<Fr>> {
        let v = values(self.k, self.seed);
        vec![v.instance, v.instance2]
    }

    /// The advice columns of this witness, in column order, over the assigned rows.
    pub fn advice(&self) -> Vec<Vec<Fr>> {
        values(self.k, self.seed).cols.to_vec()
    }
}

impl Circuit<Fr> for Synthetic {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Parts;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: false,
            ..self.clone()
        }
    }

    fn params(&self) -> Parts {
        self.parts
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        Self::configure_with_params(meta, Parts::default())
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, parts: Parts) -> Config {
        let [a, b, c, d, e, g, h, t, sq] = [(); 9].map(|_| meta.advice_column());
        let c_ = Config {
            a,
            b,
            c,
            d,
            e,
            g,
            h,
            t,
            sq,
            s_mul: meta.complex_selector(),
            q_rot: meta.fixed_column(),
            q_rec: meta.fixed_column(),
            q_poly: meta.fixed_column(),
            q_dyn: meta.fixed_column(),
            range: meta.lookup_table_column(),
            square: meta.lookup_table_column(),
            instance: meta.instance_column(),
            instance2: meta.instance_column(),
        };
        if parts.constant {
            let constants = meta.fixed_column();
            meta.enable_constant(constants);
        }
        for col in [a, b, c, d, e, g] {
            meta.enable_equality(col);
        }
        meta.enable_equality(c_.instance);
        meta.enable_equality(c_.instance2);
        let cur = Rotation::cur();
        meta.create_gate("multiply-add", |m| {
            let s = m.query_selector(c_.s_mul);
            let (a, b, c, d) = (
                m.query_advice(a, cur),
                m.query_advice(b, cur),
                m.query_advice(c, cur),
                m.query_advice(d, cur),
            );
            vec![s * (a * b + c - d)]
        });
        meta.create_gate("neighbours", |m| {
            let q = m.query_fixed(c_.q_rot, cur);
            vec![
                q * (m.query_advice(a, Rotation::prev()) + m.query_advice(b, Rotation::next())
                    - m.query_advice(e, cur)),
            ]
        });
        if parts.far_rotations {
            meta.create_gate("recurrence over −2…+3", |m| {
                let q = m.query_fixed(c_.q_rec, cur);
                let (back, here, ahead) = (
                    m.query_advice(g, Rotation(-2)),
                    m.query_advice(g, cur),
                    m.query_advice(g, Rotation(3)),
                );
                vec![q * (ahead - back - here)]
            });
        }
        meta.create_gate("square", |m| {
            let s = m.query_selector(c_.s_mul);
            let (a, sq) = (m.query_advice(a, cur), m.query_advice(sq, cur));
            vec![s * (a.clone() * a - sq)]
        });
        meta.create_gate("polynomial with constants", |m| {
            let q = m.query_fixed(c_.q_poly, cur);
            let (a, b, h) = (
                m.query_advice(a, cur),
                m.query_advice(b, cur),
                m.query_advice(h, cur),
            );
            vec![
                q * (a.clone() * a - b * Fr::from(3u64)
                    + Expression::Constant(Fr::from(7u64))
                    + (-h)),
            ]
        });
        if parts.fixed_lookup {
            meta.lookup("a and a² in the fixed tables", |m| {
                // a² sits in its own column: a lookup input of degree 3 would need degree 6,
                // beyond halo2-axiom's cap of 5.
                let s = m.query_selector(c_.s_mul);
                let (a, sq) = (m.query_advice(a, cur), m.query_advice(sq, cur));
                vec![(s.clone() * a, c_.range), (s * sq, c_.square)]
            });
        }
        if parts.advice_lookup {
            meta.lookup_any("e in the advice table", |m| {
                let q = m.query_fixed(c_.q_dyn, cur);
                vec![(q * m.query_advice(e, cur), m.query_advice(t, cur))]
            });
        }
        c_
    }

    fn synthesize(&self, c: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let k = self.k;
        let rows = usable_rows(k);
        let t_len = table_len(k);
        layouter.assign_table(
            || "range and squares",
            |mut t| {
                for i in 0..t_len {
                    let v = Fr::from(i as u64);
                    t.assign_cell(|| "range", c.range, i, || Value::known(v))?;
                    t.assign_cell(|| "square", c.square, i, || Value::known(v * v))?;
                }
                Ok(())
            },
        )?;
        let vals = self.witness.then(|| values(k, self.seed));
        let copies = copy_rows(rows);
        let instance_rows: Vec<usize> = (0..rows).step_by(5).take(8).collect();
        let cells = layouter.assign_region(
            || "rows",
            |mut region| {
                for i in 0..rows {
                    c.s_mul.enable(&mut region, i)?;
                    if i >= 1 && i + 1 < rows {
                        region.assign_fixed(c.q_rot, i, Fr::ONE);
                    }
                    if i >= 2 && i + 3 < rows && i % 5 == 2 {
                        region.assign_fixed(c.q_rec, i, Fr::ONE);
                    }
                    region.assign_fixed(c.q_poly, i, Fr::ONE);
                    if i % 4 == 0 {
                        region.assign_fixed(c.q_dyn, i, Fr::ONE);
                    }
                }
                let cols = [c.a, c.b, c.c, c.d, c.e, c.g, c.h, c.t, c.sq];
                let mut cells = vec![Vec::with_capacity(rows); cols.len()];
                for (j, col) in cols.iter().enumerate() {
                    for i in 0..rows {
                        let v = vals
                            .as_ref()
                            .map_or(Value::unknown(), |v| Value::known(v.cols[j][i]));
                        cells[j].push(region.assign_advice(*col, i, v).cell());
                    }
                }
                for &i in &copies {
                    region.constrain_equal(cells[C][i], cells[A][i + 3]);
                }
                if rows > 1 && self.parts.constant {
                    region.constrain_constant(cells[B][1], Fr::from(42u64))?;
                }
                Ok(cells)
            },
        )?;
        for (j, &i) in instance_rows.iter().enumerate() {
            layouter.constrain_instance(cells[D][i], c.instance, j);
        }
        if rows > 1 {
            layouter.constrain_instance(cells[E][1], c.instance2, 0);
        }
        Ok(())
    }
}
