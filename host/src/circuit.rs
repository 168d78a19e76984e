//! The halo2 circuit of a model, built from the kernel's layout (`zkedge_kernel::layout`).
//!
//! The constraint system is the same for every model; the model lives in the fixed columns
//! (weights, folded biases, tags) and the lookup tables (requantisation thresholds), so the
//! verifying key commits to it.

use std::{collections::HashMap, sync::Arc};

use halo2_proofs::{
    circuit::{Cell, Layouter, SimpleFloorPlanner, Value},
    halo2curves::bn256::Fr,
    plonk::{
        Advice as AdviceColumn, Circuit, Column, ConstraintSystem, Error, Expression,
        Fixed as FixedColumn, Instance, TableColumn, VirtualCells,
    },
    poly::Rotation,
};
use zkedge_kernel::{
    layout::{Advice, CopyColumn, Fixed, Layout, Witness, ADVICE, FIXED, LIMBS, RANGE_BITS},
    model::Model,
};

/// An integer as a field element (negative values as their negation).
pub fn field(v: i64) -> Fr {
    let x = Fr::from(v.unsigned_abs());
    if v < 0 {
        -x
    } else {
        x
    }
}

/// The columns of the circuit.
#[derive(Clone, Debug)]
pub struct Config {
    advice: [Column<AdviceColumn>; ADVICE.len()],
    fixed: [Column<FixedColumn>; FIXED.len()],
    instance: Column<Instance>,
    /// Threshold table: tag, u, lo, hi.
    thresholds: [TableColumn; 4],
    range: TableColumn,
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
    witness.instance.iter().map(|&v| field(v)).collect()
}

fn advice(meta: &mut VirtualCells<'_, Fr>, c: &Config, column: Advice, rot: i32) -> Expression<Fr> {
    meta.query_advice(c.advice[column as usize], Rotation(rot))
}

fn fixed(meta: &mut VirtualCells<'_, Fr>, c: &Config, column: Fixed) -> Expression<Fr> {
    meta.query_fixed(c.fixed[column as usize], Rotation::cur())
}

fn constant(v: i64) -> Expression<Fr> {
    Expression::Constant(field(v))
}

impl Circuit<Fr> for ModelCircuit {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        Self {
            witness: None,
            ..self.clone()
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        let c = Config {
            advice: [(); ADVICE.len()].map(|_| meta.advice_column()),
            fixed: [(); FIXED.len()].map(|_| meta.fixed_column()),
            instance: meta.instance_column(),
            thresholds: [(); 4].map(|_| meta.lookup_table_column()),
            range: meta.lookup_table_column(),
        };
        for column in [Advice::A, Advice::R, Advice::E] {
            meta.enable_equality(c.advice[column as usize]);
        }
        meta.enable_equality(c.instance);

        meta.create_gate("multiply-accumulate", |m| {
            let q = fixed(m, &c, Fixed::Mac);
            let (x, acc, next) = (
                advice(m, &c, Advice::A, 0),
                advice(m, &c, Advice::B, 0),
                advice(m, &c, Advice::B, 1),
            );
            vec![q * (next - acc - x * fixed(m, &c, Fixed::W))]
        });
        meta.create_gate("folded bias", |m| {
            let q = fixed(m, &c, Fixed::Start);
            vec![q * (advice(m, &c, Advice::B, 0) - fixed(m, &c, Fixed::Bias))]
        });
        meta.create_gate("requantisation distances", |m| {
            let q = fixed(m, &c, Fixed::Requant);
            let acc = advice(m, &c, Advice::B, 0);
            let (lo, hi) = (advice(m, &c, Advice::C, 0), advice(m, &c, Advice::D, 0));
            let mut limbs = |first: usize| {
                (0..LIMBS).fold(constant(0), |sum, k| {
                    sum + advice(m, &c, Advice::R, (first + k) as i32)
                        * constant(1 << (RANGE_BITS as usize * k))
                })
            };
            let (below, above) = (limbs(0), limbs(LIMBS));
            vec![
                q.clone() * (acc.clone() - lo - below),
                q * (hi - constant(1) - acc - above),
            ]
        });
        meta.create_gate("argmax", |m| {
            let q = fixed(m, &c, Fixed::Argmax);
            let first = fixed(m, &c, Fixed::ArgmaxFirst);
            let rest = fixed(m, &c, Fixed::ArgmaxRest);
            let last = fixed(m, &c, Fixed::ArgmaxLast);
            let idx = fixed(m, &c, Fixed::Idx);
            let v = advice(m, &c, Advice::A, 0);
            let bit = advice(m, &c, Advice::B, 0);
            let (s, s_prev) = (advice(m, &c, Advice::C, 0), advice(m, &c, Advice::C, -1));
            let (max, max_prev) = (advice(m, &c, Advice::D, 0), advice(m, &c, Advice::D, -1));
            let margin = advice(m, &c, Advice::R, 0);
            let (class, class_prev) = (advice(m, &c, Advice::E, 0), advice(m, &c, Advice::E, -1));
            vec![
                // One-hot bits whose prefix sums end at 1: exactly one is set.
                q.clone() * bit.clone() * (constant(1) - bit.clone()),
                first.clone() * (s.clone() - bit.clone()),
                rest.clone() * (s.clone() - s_prev - bit.clone()),
                last * (s.clone() - constant(1)),
                // The selected output is the maximum, strictly above those before it and at least
                // those after (the margin is range-checked): the first index of the maximum.
                q.clone() * bit.clone() * (max.clone() - v.clone()),
                rest.clone() * (max.clone() - max_prev),
                q * (margin - (max - v - constant(1) + s)),
                // The class is Σ index · bit.
                first * (class.clone() - idx.clone() * bit.clone()),
                rest * (class - class_prev - idx * bit),
            ]
        });
        meta.lookup("requantisation thresholds", |m| {
            let q = fixed(m, &c, Fixed::Requant);
            let inputs = [
                fixed(m, &c, Fixed::Tag),
                advice(m, &c, Advice::A, 0),
                advice(m, &c, Advice::C, 0),
                advice(m, &c, Advice::D, 0),
            ];
            inputs
                .into_iter()
                .zip(c.thresholds)
                .map(|(x, t)| (q.clone() * x, t))
                .collect()
        });
        meta.lookup("range", |m| {
            vec![(
                fixed(m, &c, Fixed::Range) * advice(m, &c, Advice::R, 0),
                c.range,
            )]
        });
        c
    }

    fn synthesize(&self, config: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let table = self.layout.threshold_table();
        layouter.assign_table(
            || "requantisation thresholds",
            |mut t| {
                for (i, row) in table.iter().enumerate() {
                    let values = [i64::from(row.tag), i64::from(row.u), row.lo, row.hi];
                    for (column, v) in config.thresholds.iter().zip(values) {
                        t.assign_cell(|| "threshold", *column, i, || Value::known(field(v)))?;
                    }
                }
                Ok(())
            },
        )?;
        layouter.assign_table(
            || "range",
            |mut t| {
                for v in 0..1u64 << RANGE_BITS {
                    t.assign_cell(
                        || "range",
                        config.range,
                        v as usize,
                        || Value::known(Fr::from(v)),
                    )?;
                }
                Ok(())
            },
        )?;

        let to_instance = layouter.assign_region(
            || "model",
            |mut region| {
                for column in FIXED {
                    for (row, v) in self
                        .layout
                        .fixed(&self.model, column)
                        .into_iter()
                        .enumerate()
                    {
                        if v != 0 {
                            region.assign_fixed(config.fixed[column as usize], row, field(v));
                        }
                    }
                }
                let mut cells: HashMap<(CopyColumn, usize), Cell> = HashMap::new();
                for column in ADVICE {
                    let copy = match column {
                        Advice::A => Some(CopyColumn::A),
                        Advice::R => Some(CopyColumn::R),
                        Advice::E => Some(CopyColumn::E),
                        _ => None,
                    };
                    for row in 0..self.layout.rows() {
                        let value = match &self.witness {
                            Some(w) => Value::known(field(w.get(column, row))),
                            None => Value::unknown(),
                        };
                        let cell = region
                            .assign_advice(config.advice[column as usize], row, value)
                            .cell();
                        if let Some(copy) = copy {
                            cells.insert((copy, row), cell);
                        }
                    }
                }
                let mut to_instance = Vec::new();
                for (x, y) in self.layout.copies(&self.model) {
                    let cell = |c: zkedge_kernel::layout::Cell| {
                        cells
                            .get(&(c.column, c.row))
                            .copied()
                            .ok_or(Error::Synthesis)
                    };
                    if y.column == CopyColumn::Instance {
                        to_instance.push((cell(x)?, y.row));
                    } else {
                        region.constrain_equal(cell(x)?, cell(y)?);
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
