//! The halo2 circuit of a model, built from the kernel's layout (`zkedge_kernel::layout`).
//!
//! The constraint system depends only on the layout's shape ([`Params`]: lanes, accumulators,
//! rescale slots, limb width, rescale block, visibilities), which the verifier re-derives from
//! the model; the model itself lives in the fixed columns (weights, biases, rescale constants,
//! limb widths) and the lookup tables, so the verifying key commits to it — but for hashed
//! weights, which are advice cells whose hash is public.

use std::sync::Arc;

use halo2_proofs::{
    circuit::{Cell, Layouter, SimpleFloorPlanner, Value},
    halo2curves::{bn256::Fr, ff::PrimeField},
    plonk::{
        Advice as AdviceColumn, Any, Circuit, Column, ConstraintSystem, Error, Expression,
        Fixed as FixedColumn, Instance, TableColumn, VirtualCells,
    },
    poly::Rotation,
};
use zkedge_kernel::{
    layout::{
        hash::{is_full, ROUNDS, WIDTH},
        AdviceColumns, ArgmaxFixed, Cell as LayoutCell, FixedColumns, HashFixed, Layout, Params,
        Template, Visibility, Weights, Witness,
    },
    model::Model,
};

/// An integer as a field element (negative values as their negation).
pub fn field(v: i64) -> Fr {
    field128(v.into())
}

/// A 128-bit integer as a field element.
pub fn field128(v: i128) -> Fr {
    let m = v.unsigned_abs();
    let x = Fr::from_u128(m);
    if v < 0 {
        -x
    } else {
        x
    }
}

/// The circuit's shape as halo2's configuration parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape(pub Params);

impl Default for Shape {
    /// The smallest valid shape (halo2 asks for a default; every real circuit passes its own).
    fn default() -> Self {
        Shape(Params {
            lanes: 6,
            accs: 1,
            slots: 1,
            limb_bits: 8,
            template: Template::default(),
            input: Visibility::Private,
            weights: Weights::Fixed,
        })
    }
}

/// The columns of the circuit.
#[derive(Clone, Debug)]
pub struct Config {
    params: Params,
    advice: Vec<Column<AdviceColumn>>,
    fixed: Vec<Column<FixedColumn>>,
    instance: Column<Instance>,
    /// Range table: width, value.
    range: [TableColumn; 2],
    /// Function table: tag, input, output.
    function: [TableColumn; 3],
}

/// The circuit of one model, with or without a witness.
#[derive(Clone, Debug)]
pub struct ModelCircuit {
    model: Arc<Model>,
    layout: Arc<Layout>,
    witness: Option<Arc<Witness>>,
}

impl ModelCircuit {
    /// The circuit for key generation (no witness).
    pub fn keygen(model: Arc<Model>, layout: Arc<Layout>) -> Self {
        Self {
            model,
            layout,
            witness: None,
        }
    }

    /// The circuit of one inference.
    pub fn prove(model: Arc<Model>, layout: Arc<Layout>, witness: Arc<Witness>) -> Self {
        Self {
            model,
            layout,
            witness: Some(witness),
        }
    }
}

/// The instance column of a witness, as field elements.
pub fn instance(witness: &Witness) -> Vec<Fr> {
    witness
        .instance
        .iter()
        .map(|&v| field(v))
        .chain(witness.commitment.as_ref().map(crate::convert::halo2_fr))
        .chain(witness.weights_hash.as_ref().map(crate::convert::halo2_fr))
        .collect()
}

fn constant(v: i128) -> Expression<Fr> {
    Expression::Constant(field128(v))
}

/// Queries of one gate's rows.
struct Q<'a, 'b> {
    m: &'a mut VirtualCells<'b, Fr>,
    c: &'a Config,
}

impl Q<'_, '_> {
    fn advice(&mut self, column: usize, rot: i32) -> Expression<Fr> {
        self.m.query_advice(self.c.advice[column], Rotation(rot))
    }

    fn fixed(&mut self, column: usize, rot: i32) -> Expression<Fr> {
        self.m.query_fixed(self.c.fixed[column], Rotation(rot))
    }
}

fn configure(meta: &mut ConstraintSystem<Fr>, params: Params) -> Config {
    let ac = AdviceColumns::new(&params);
    let fc = FixedColumns::new(&params);
    let c = Config {
        params,
        advice: (0..ac.count()).map(|_| meta.advice_column()).collect(),
        fixed: (0..fc.count()).map(|_| meta.fixed_column()).collect(),
        instance: meta.instance_column(),
        range: [(); 2].map(|_| meta.lookup_table_column()),
        function: [(); 3].map(|_| meta.lookup_table_column()),
    };
    for (i, column) in c.advice.iter().enumerate() {
        if ac.copies(i) {
            meta.enable_equality(*column);
        }
    }
    meta.enable_equality(c.instance);
    let (w, b, p) = (
        usize::from(params.lanes),
        usize::from(params.accs),
        usize::from(params.slots),
    );

    meta.create_gate("multiply-accumulate", |m| {
        let mut q = Q { m, c: &c };
        let sel = q.fixed(fc.mac(), 0);
        let cont = q.fixed(fc.cont(), 0);
        let x: Vec<_> = (0..w).map(|i| q.advice(ac.x(i), 0)).collect();
        // Hashed weights: on a hashed op's rows (h = 1) the fixed weight and bias are 1 where
        // used, the weight cell holds `w + 128` and the bias cell `bias + 2^31` (copies of the
        // hashed tape), and the lanes are taken from the zero point; elsewhere (pools, adds)
        // the fixed weight is the weight, as without hashed weights.
        let hashed = params
            .weights_hashed()
            .then(|| (q.fixed(fc.hashed_row(), 0), q.fixed(fc.zero_point(), 0)));
        (0..b)
            .map(|a| {
                let dot = (0..w).fold(constant(0), |s, i| {
                    let weight = q.fixed(fc.weight(a, i), 0);
                    s + match &hashed {
                        None => x[i].clone() * weight,
                        Some((h, zp)) => {
                            weight
                                * (x[i].clone() - zp.clone())
                                * (constant(1)
                                    + h.clone() * (q.advice(ac.weight(a, i), 0) - constant(129)))
                        }
                    }
                });
                let bias = match &hashed {
                    None => q.fixed(fc.bias(a), 0),
                    Some(_) => {
                        q.fixed(fc.bias(a), 0) * (q.advice(ac.bias(a), 0) - constant(1 << 31))
                    }
                };
                sel.clone()
                    * (q.advice(ac.acc(a), 0) - cont.clone() * q.advice(ac.acc(a), -1) - bias - dot)
            })
            .collect::<Vec<_>>()
    });

    let o = params.template.offsets();
    let base = 1i128 << params.limb_bits;
    for slot in 0..p {
        meta.create_gate("rescale", |m| {
            let mut q = Q { m, c: &c };
            let sel = q.fixed(fc.rescale(), 0);
            let (vc, rc, kc) = (ac.v(slot), ac.r(slot), fc.k(slot));
            let [a, sigma, v, out] = [0, 1, 2, 3].map(|j| q.advice(vc, j));
            let k: Vec<_> = (0..10).map(|j| q.fixed(kc, j)).collect();
            let mut limbs = |start: usize, end: usize| {
                (start..end)
                    .fold((constant(0), 1i128), |(sum, place), j| {
                        (sum + q.advice(rc, j as i32) * constant(place), place * base)
                    })
                    .0
            };
            let rho = limbs(o.rho, o.sign);
            let g = limbs(o.sign, o.above);
            let above = limbs(o.above, o.below);
            let below = limbs(o.below, o.out_lo);
            let out_lo = limbs(o.out_lo, o.out_hi);
            let out_hi = limbs(o.out_hi, o.upper);
            let upper = limbs(o.upper, o.upper_end);
            let one = constant(1);
            vec![
                // ρ = a·m + c − σ·s − v·d.
                a.clone() * k[0].clone() + k[1].clone()
                    - sigma.clone() * k[2].clone()
                    - v.clone() * k[3].clone()
                    - rho.clone(),
                sigma.clone() * (one.clone() - sigma.clone()),
                // σ = [a < τ]: a − τ + σ·2^A ∈ [0, 2^A) when the sign matters, else σ = 0.
                k[8].clone() * (a - k[4].clone() + sigma.clone() * k[5].clone() - g),
                (one.clone() - k[8].clone()) * sigma,
                // out = clamp(v, lo, hi).
                v - out.clone() - above.clone() + below.clone(),
                above * (k[7].clone() - out.clone()),
                below * (out.clone() - k[6].clone()),
                out.clone() - k[6].clone() - out_lo,
                k[7].clone() - out - out_hi,
                // ρ < d where d is not a power of two.
                k[9].clone() * (k[3].clone() - one - rho - upper),
            ]
            .into_iter()
            .map(|e| sel.clone() * e)
            .collect::<Vec<_>>()
        });
        meta.lookup("range", |m| {
            let mut q = Q { m, c: &c };
            vec![
                (q.fixed(fc.tag(slot), 0), c.range[0]),
                (q.advice(ac.r(slot), 0), c.range[1]),
            ]
        });
    }

    meta.lookup("function", |m| {
        let mut q = Q { m, c: &c };
        let rel = q.fixed(fc.relative(), 0);
        let prev = q.advice(ac.f(0), 0);
        vec![
            (q.fixed(fc.function(), 0), c.function[0]),
            (
                q.advice(ac.f(1), 0) - rel.clone() * prev.clone(),
                c.function[1],
            ),
            (q.advice(ac.f(2), 0) - rel * prev, c.function[2]),
        ]
    });

    meta.create_gate("argmax", |m| {
        let mut q = Q { m, c: &c };
        let row = q.fixed(fc.argmax(ArgmaxFixed::Row), 0);
        let first = q.fixed(fc.argmax(ArgmaxFixed::First), 0);
        let rest = q.fixed(fc.argmax(ArgmaxFixed::Rest), 0);
        let last = q.fixed(fc.argmax(ArgmaxFixed::Last), 0);
        let idx = q.fixed(fc.argmax(ArgmaxFixed::Index), 0);
        let v = q.advice(ac.x(0), 0);
        let bit = q.advice(ac.x(1), 0);
        let (s, s_prev) = (q.advice(ac.x(2), 0), q.advice(ac.x(2), -1));
        let (max, max_prev) = (q.advice(ac.x(3), 0), q.advice(ac.x(3), -1));
        let (class, class_prev) = (q.advice(ac.x(4), 0), q.advice(ac.x(4), -1));
        let margin = q.advice(ac.f(1), 0);
        let one = constant(1);
        vec![
            // One-hot bits whose prefix sums end at 1: exactly one is set.
            row.clone() * bit.clone() * (one.clone() - bit.clone()),
            first.clone() * (s.clone() - bit.clone()),
            rest.clone() * (s.clone() - s_prev - bit.clone()),
            last * (s.clone() - one.clone()),
            // The selected output is the maximum, strictly above those before it and at least
            // those after (the margin is range-checked): the first index of the maximum.
            row.clone() * bit.clone() * (max.clone() - v.clone()),
            rest.clone() * (max.clone() - max_prev),
            row * (margin - (max - v - one + s)),
            // The class is Σ index · bit.
            first * (class.clone() - idx.clone() * bit.clone()),
            rest * (class - class_prev - idx * bit),
        ]
    });
    if params.hashed() {
        configure_hash(meta, &c, &ac, &fc);
    }
    c
}

/// The commitments' gates (`zkedge_kernel::layout::hash`): the packing sum beside the function
/// tape's inputs and weights, and Poseidon's absorb and round rows. Every gate has degree ≤ 4:
/// an S-box `t⁵` is `q²·t` with the square `q = t²` in its own cell.
fn configure_hash(
    meta: &mut ConstraintSystem<Fr>,
    c: &Config,
    ac: &AdviceColumns,
    fc: &FixedColumns,
) {
    let mds = crate::poseidon::constants().mds;
    meta.create_gate("input packing", |m| {
        let mut q = Q { m, c };
        let sel = q.fixed(fc.hash(HashFixed::Pack), 0);
        let shift = q.fixed(fc.hash(HashFixed::Shift), 0);
        // A word's bytes, most significant first: sum = 256·sum[−1] + u (0·… where a word
        // starts).
        vec![
            sel * (q.advice(ac.pack(), 0) - shift * q.advice(ac.pack(), -1) - q.advice(ac.f(1), 0)),
        ]
    });
    meta.create_gate("poseidon absorb", |m| {
        let mut q = Q { m, c };
        let sel = q.fixed(fc.hash(HashFixed::Absorb), 0);
        let chain = q.fixed(fc.hash(HashFixed::Chain), 0);
        let take = [
            constant(0),
            q.fixed(fc.hash(HashFixed::Take1), 0),
            q.fixed(fc.hash(HashFixed::Take2), 0),
        ];
        let consts = lane_constants(&mut q, fc);
        (0..WIDTH)
            .map(|i| {
                sel.clone()
                    * (q.advice(ac.state(i), 1)
                        - chain.clone() * q.advice(ac.state(i), 0)
                        - take[i].clone() * q.advice(ac.square(i), 0)
                        - consts[i].clone())
            })
            .collect::<Vec<_>>()
    });
    for full in [true, false] {
        meta.create_gate(
            if full {
                "poseidon full round"
            } else {
                "poseidon partial round"
            },
            |m| {
                let mut q = Q { m, c };
                let sel = q.fixed(
                    fc.hash(if full {
                        HashFixed::Full
                    } else {
                        HashFixed::Partial
                    }),
                    0,
                );
                let consts = lane_constants(&mut q, fc);
                let t: Vec<_> = (0..WIDTH)
                    .map(|i| q.advice(ac.state(i), 0) + consts[i].clone())
                    .collect();
                let boxed = |i: usize| full || i == 0;
                let sq: Vec<_> = (0..WIDTH).map(|i| q.advice(ac.square(i), 0)).collect();
                let after: Vec<_> = (0..WIDTH)
                    .map(|j| {
                        if boxed(j) {
                            sq[j].clone() * sq[j].clone() * t[j].clone()
                        } else {
                            t[j].clone()
                        }
                    })
                    .collect();
                let mut out: Vec<_> = (0..WIDTH)
                    .filter(|&i| boxed(i))
                    .map(|i| sel.clone() * (sq[i].clone() - t[i].clone() * t[i].clone()))
                    .collect();
                out.extend((0..WIDTH).map(|i| {
                    let mixed = (0..WIDTH).fold(constant(0), |s, j| {
                        s + Expression::Constant(mds[i][j]) * after[j].clone()
                    });
                    sel.clone() * (q.advice(ac.state(i), 1) - mixed)
                }));
                out
            },
        );
    }
    debug_assert_eq!(
        (0..ROUNDS).filter(|&r| is_full(r)).count(),
        zkedge_kernel::layout::hash::FULL_ROUNDS
    );
}

fn lane_constants(q: &mut Q<'_, '_>, fc: &FixedColumns) -> [Expression<Fr>; WIDTH] {
    [
        HashFixed::Constant0,
        HashFixed::Constant1,
        HashFixed::Constant2,
    ]
    .map(|c| q.fixed(fc.hash(c), 0))
}

impl Circuit<Fr> for ModelCircuit {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        Self {
            witness: None,
            ..self.clone()
        }
    }

    fn params(&self) -> Shape {
        Shape(*self.layout.params())
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: Shape) -> Config {
        configure(meta, params.0)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        configure(meta, Shape::default().0)
    }

    fn synthesize(&self, config: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        if config.params != *self.layout.params() {
            return Err(Error::Synthesis);
        }
        let range = self.layout.range_table();
        layouter.assign_table(
            || "range",
            |mut t| {
                for (i, row) in range.iter().enumerate() {
                    for (column, &v) in config.range.iter().zip(row) {
                        t.assign_cell(|| "range", *column, i, || Value::known(field(v)))?;
                    }
                }
                Ok(())
            },
        )?;
        let function = self.layout.function_table(&self.model);
        layouter.assign_table(
            || "function",
            |mut t| {
                for (i, row) in function.iter().enumerate() {
                    for (column, &v) in config.function.iter().zip(row) {
                        t.assign_cell(|| "function", *column, i, || Value::known(field(v)))?;
                    }
                }
                Ok(())
            },
        )?;

        let rows = self.layout.rows();
        let to_instance = layouter.assign_region(
            || "model",
            |mut region| {
                for (column, values) in self.layout.fixed(&self.model).into_iter().enumerate() {
                    for (row, v) in values.into_iter().enumerate() {
                        if v != 0 {
                            region.assign_fixed(config.fixed[column], row, field128(v));
                        }
                    }
                }
                let fc = self.layout.fixed_columns();
                let lanes = [
                    HashFixed::Constant0,
                    HashFixed::Constant1,
                    HashFixed::Constant2,
                ];
                let constants = self.layout.hash_constants(crate::poseidon::poseidon());
                for (lane, values) in lanes.into_iter().zip(constants) {
                    for (row, v) in values.iter().enumerate() {
                        let v = crate::convert::halo2_fr(v);
                        if v != Fr::from(0u64) {
                            region.assign_fixed(config.fixed[fc.hash(lane)], row, v);
                        }
                    }
                }
                let integers = self.layout.advice_columns().integer_count();
                for (column, &c) in config.advice.iter().enumerate() {
                    for row in 0..rows {
                        let value = match &self.witness {
                            Some(w) if column < integers => Value::known(field(w.get(column, row))),
                            Some(w) => {
                                Value::known(crate::convert::halo2_fr(&w.value(column, row)))
                            }
                            None => Value::unknown(),
                        };
                        region.assign_advice(c, row, value);
                    }
                }
                let cell = |c: LayoutCell| Cell {
                    row_offset: c.row as usize,
                    column: Column::<Any>::from(config.advice[c.column as usize]),
                };
                let mut to_instance = Vec::new();
                for (x, y) in self.layout.copies(&self.model) {
                    if y.column == LayoutCell::INSTANCE {
                        to_instance.push((cell(x), y.row as usize));
                    } else {
                        region.constrain_equal(cell(x), cell(y));
                    }
                }
                Ok(to_instance)
            },
        )?;
        for (cell, row) in to_instance {
            layouter.constrain_instance(cell, config.instance, row);
        }
        Ok(())
    }
}
