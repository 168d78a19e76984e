//! The zkedge proving key without halo2's `keygen_pk`.
//!
//! The zkedge prover needs of a proving key only the constraint system (from the verifying
//! key), the fixed columns and the permutation's σ columns, in Lagrange form. halo2-axiom's
//! `keygen_pk` computes far more (every fixed and σ column twice, in Lagrange and coefficient
//! form, the Lagrange selectors, the evaluator, and `Assigned` fractions for every fixed cell on
//! the way), so this module synthesises the circuit once more with its own assignment — fixed
//! cells as field elements, selectors as bits, copies in a compact union of cycles — and
//! computes σ exactly as halo2-axiom 0.5.3's `permutation::keygen` does (same cycle-merging
//! algorithm, same `δ^column · ω^row` labels).
//!
//! It is checked against the verifying key, which halo2's `keygen_vk` makes: one random linear
//! combination of all fixed and σ columns, committed, must equal the same combination of the
//! verifying key's commitments (a wrong column passes with probability about 2⁻²⁵⁴). On a
//! mismatch the columns are checked one by one and the first wrong one is named.

use std::ops::Range;

use halo2_proofs::{
    arithmetic::best_multiexp,
    circuit::Value,
    halo2curves::{
        bn256::{Fr, G1Affine},
        ff::{Field, PrimeField},
        group::Curve,
    },
    plonk::{
        Advice, Any, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem, Error,
        Fixed, FloorPlanner, Instance, Selector, VerifyingKey,
    },
    poly::commitment::{Blind, Params},
};
use rand::rngs::OsRng;
use rayon::prelude::*;
use thiserror::Error;
use zkedge_kernel::prover::{ColumnValues, ProvingKey};

use crate::{export, srs::Srs};

/// Why the zkedge key could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeygenError {
    /// The circuit did not synthesise (or asked for a cell it may not use).
    #[error("synthesising the circuit for its fixed columns: {0}")]
    Synthesis(String),
    /// The circuit is not the one the verifying key was made from.
    #[error(
        "the circuit has {found} {what} but its verifying key has {expected}; the keys are not \
         for this circuit"
    )]
    Shape {
        /// What was counted.
        what: &'static str,
        /// In the verifying key.
        expected: usize,
        /// In the circuit.
        found: usize,
    },
    /// A column's commitment is not the verifying key's: the key would make proofs that fail.
    #[error(
        "{0} does not match the verifying key's commitment: zkedge's key generation disagrees \
         with halo2's (a bug; use --prover halo2 and report it)"
    )]
    Mismatch(String),
    /// The key cannot be exported for the zkedge prover.
    #[error(transparent)]
    Export(#[from] export::ExportError),
    /// The key failed the kernel's own checks.
    #[error("the zkedge key: {0}")]
    Key(#[from] zkedge_kernel::prover::KeyError),
}

/// Copies, as halo2-axiom's (single-threaded) `permutation::keygen::Assembly` records them:
/// every cell points to the next cell of its cycle (`mapping`), to its cycle's distinguished
/// cell (`aux`), and a distinguished cell knows its cycle's size. Cells are (column, row) pairs
/// of `u32`, half of halo2's `usize` pairs.
struct Copies {
    columns: Vec<Column<Any>>,
    mapping: Vec<Vec<(u32, u32)>>,
    aux: Vec<Vec<(u32, u32)>>,
    sizes: Vec<Vec<u32>>,
}

impl Copies {
    fn new(n: usize, columns: Vec<Column<Any>>) -> Self {
        let identity: Vec<Vec<(u32, u32)>> = (0..columns.len())
            .map(|i| (0..n).map(|j| (i as u32, j as u32)).collect())
            .collect();
        Self {
            sizes: vec![vec![1; n]; columns.len()],
            mapping: identity.clone(),
            aux: identity,
            columns,
        }
    }

    fn column(&self, c: Column<Any>) -> Result<usize, String> {
        self.columns
            .iter()
            .position(|x| *x == c)
            .ok_or_else(|| format!("{c:?} is copied but not in the permutation"))
    }

    /// halo2's `Assembly::copy`, step for step: merge the smaller cycle into the larger, then
    /// swap the two cells' successors.
    fn copy(
        &mut self,
        left: Column<Any>,
        lr: usize,
        right: Column<Any>,
        rr: usize,
    ) -> Result<(), String> {
        let (lc, rc) = (self.column(left)?, self.column(right)?);
        if lr >= self.mapping[lc].len() || rr >= self.mapping[rc].len() {
            return Err("a copy names a row outside the circuit".into());
        }
        let mut left_cycle = self.aux[lc][lr];
        let mut right_cycle = self.aux[rc][rr];
        if left_cycle == right_cycle {
            return Ok(());
        }
        let size = |s: &Self, c: (u32, u32)| s.sizes[c.0 as usize][c.1 as usize];
        if size(self, left_cycle) < size(self, right_cycle) {
            std::mem::swap(&mut left_cycle, &mut right_cycle);
        }
        self.sizes[left_cycle.0 as usize][left_cycle.1 as usize] += size(self, right_cycle);
        let mut i = right_cycle;
        loop {
            self.aux[i.0 as usize][i.1 as usize] = left_cycle;
            i = self.mapping[i.0 as usize][i.1 as usize];
            if i == right_cycle {
                break;
            }
        }
        let tmp = self.mapping[lc][lr];
        self.mapping[lc][lr] = self.mapping[rc][rr];
        self.mapping[rc][rr] = tmp;
        Ok(())
    }

    /// The σ columns (Lagrange basis): cell (i, j) holds the label `δ^i' · ω^j'` of the cell
    /// (i', j') after it in its cycle, as halo2's `build_pk`/`build_vk` compute it.
    fn sigmas(self, omega: Fr) -> Vec<Vec<Fr>> {
        let n = self.mapping.first().map_or(0, Vec::len);
        let mut omega_powers = vec![Fr::ZERO; n];
        omega_powers
            .par_chunks_mut(1 << 12)
            .enumerate()
            .for_each(|(c, out)| {
                let mut cur = omega.pow_vartime([(c << 12) as u64]);
                for v in out {
                    *v = cur;
                    cur *= omega;
                }
            });
        let deltas: Vec<Fr> = std::iter::successors(Some(Fr::ONE), |d| Some(*d * Fr::DELTA))
            .take(self.columns.len())
            .collect();
        self.mapping
            .into_par_iter()
            .map(|column| {
                column
                    .into_iter()
                    .map(|(i, j)| deltas[i as usize] * omega_powers[j as usize])
                    .collect()
            })
            .collect()
    }
}

/// What the circuit's synthesis fixes: fixed cells, selectors, copies.
struct Assembly {
    k: u32,
    fixed: Vec<Vec<Fr>>,
    selectors: Vec<Vec<bool>>,
    copies: Copies,
    usable: Range<usize>,
    /// The first thing that went wrong (halo2's own assembly panics instead).
    error: Option<String>,
}

impl Assembly {
    fn fail(&mut self, e: String) {
        self.error.get_or_insert(e);
    }

    fn rows_error(&self) -> String {
        format!("{:?}", Error::NotEnoughRowsAvailable { current_k: self.k })
    }
}

impl Assignment<Fr> for Assembly {
    fn enter_region<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }

    fn annotate_column<A, AR>(&mut self, _: A, _: Column<Any>)
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
    }

    fn exit_region(&mut self) {}

    fn enable_selector<A, AR>(&mut self, _: A, selector: &Selector, row: usize) -> Result<(), Error>
    where
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        if !self.usable.contains(&row) {
            return Err(Error::NotEnoughRowsAvailable { current_k: self.k });
        }
        match self.selectors.get_mut(selector.index()) {
            Some(s) => s[row] = true,
            None => return Err(Error::BoundsFailure),
        }
        Ok(())
    }

    fn query_instance(&self, _: Column<Instance>, row: usize) -> Result<Value<Fr>, Error> {
        if !self.usable.contains(&row) {
            return Err(Error::NotEnoughRowsAvailable { current_k: self.k });
        }
        Ok(Value::unknown())
    }

    fn assign_advice<'v>(
        &mut self,
        _: Column<Advice>,
        _: usize,
        _: Value<Assigned<Fr>>,
    ) -> Value<&'v Assigned<Fr>> {
        Value::unknown()
    }

    fn assign_fixed(&mut self, column: Column<Fixed>, row: usize, to: Assigned<Fr>) {
        if !self.usable.contains(&row) {
            let e = self.rows_error();
            return self.fail(e);
        }
        match self
            .fixed
            .get_mut(column.index())
            .and_then(|c| c.get_mut(row))
        {
            // halo2 batch-inverts the denominators; an inverse is unique, so one by one gives
            // the same values (and a zero denominator gives zero either way).
            Some(cell) => *cell = to.evaluate(),
            None => self.fail(format!("{:?}", Error::BoundsFailure)),
        }
    }

    fn copy(&mut self, left: Column<Any>, left_row: usize, right: Column<Any>, right_row: usize) {
        if !self.usable.contains(&left_row) || !self.usable.contains(&right_row) {
            let e = self.rows_error();
            return self.fail(e);
        }
        if let Err(e) = self.copies.copy(left, left_row, right, right_row) {
            self.fail(e);
        }
    }

    fn fill_from_row(
        &mut self,
        column: Column<Fixed>,
        from_row: usize,
        to: Value<Assigned<Fr>>,
    ) -> Result<(), Error> {
        if !self.usable.contains(&from_row) {
            return Err(Error::NotEnoughRowsAvailable { current_k: self.k });
        }
        let mut filler = None;
        to.map(|v| filler = Some(v.evaluate()));
        // As halo2's keygen: an unknown filler is a synthesis error.
        let filler = filler.ok_or(Error::Synthesis)?;
        let usable = self.usable.clone();
        let col = self
            .fixed
            .get_mut(column.index())
            .ok_or(Error::BoundsFailure)?;
        for row in usable.skip(from_row) {
            col[row] = filler;
        }
        Ok(())
    }

    fn get_challenge(&self, _: Challenge) -> Value<Fr> {
        Value::unknown()
    }

    fn push_namespace<NR, N>(&mut self, _: N)
    where
        NR: Into<String>,
        N: FnOnce() -> NR,
    {
    }

    fn pop_namespace(&mut self, _: Option<String>) {}
}

/// The fixed columns (selectors appended, as halo2's keygen appends them) and σ columns of
/// `circuit`, in Lagrange form.
pub fn columns<C: Circuit<Fr>>(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    circuit: &C,
) -> Result<(Vec<Vec<Fr>>, Vec<Vec<Fr>>), KeygenError> {
    let k = srs.k();
    let n = 1usize << k;
    let mut cs = ConstraintSystem::<Fr>::default();
    let config = C::configure_with_params(&mut cs, circuit.params());
    if n < cs.minimum_rows() {
        return Err(KeygenError::Synthesis(format!(
            "{:?}",
            Error::NotEnoughRowsAvailable { current_k: k }
        )));
    }
    let mut assembly = Assembly {
        k,
        fixed: vec![vec![Fr::ZERO; n]; cs.num_fixed_columns()],
        selectors: vec![vec![false; n]; cs.num_selectors()],
        copies: Copies::new(n, cs.permutation().get_columns()),
        usable: 0..n - (cs.blinding_factors() + 1),
        error: None,
    };
    C::FloorPlanner::synthesize(&mut assembly, circuit, config, cs.constants().clone())
        .map_err(|e| KeygenError::Synthesis(format!("{e:?}")))?;
    if let Some(e) = assembly.error {
        return Err(KeygenError::Synthesis(e));
    }
    let Assembly {
        mut fixed,
        selectors,
        copies,
        ..
    } = assembly;
    let (_, selector_columns) = if vk.compress_selectors() {
        cs.compress_selectors(selectors)
    } else {
        cs.directly_convert_selectors_to_fixed(selectors)
    };
    fixed.extend(selector_columns);
    let sigmas = copies.sigmas(vk.get_domain().get_omega());
    for (what, expected, found) in [
        ("fixed columns", vk.fixed_commitments().len(), fixed.len()),
        (
            "permutation columns",
            vk.permutation().commitments().len(),
            sigmas.len(),
        ),
    ] {
        if expected != found {
            return Err(KeygenError::Shape {
                what,
                expected,
                found,
            });
        }
    }
    check(srs, vk, &fixed, &sigmas)?;
    Ok((fixed, sigmas))
}

fn commit(srs: &Srs, vk: &VerifyingKey<G1Affine>, values: Vec<Fr>) -> G1Affine {
    srs.commit_lagrange(&vk.get_domain().lagrange_from_vec(values), Blind::default())
        .to_affine()
}

/// The columns against the verifying key's commitments, through one random combination.
fn check(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    fixed: &[Vec<Fr>],
    sigmas: &[Vec<Fr>],
) -> Result<(), KeygenError> {
    let columns: Vec<&[Fr]> = fixed.iter().chain(sigmas).map(Vec::as_slice).collect();
    let commitments: Vec<G1Affine> = vk
        .fixed_commitments()
        .iter()
        .chain(vk.permutation().commitments())
        .copied()
        .collect();
    let r: Vec<Fr> = columns.iter().map(|_| Fr::random(OsRng)).collect();
    let n = columns.first().map_or(0, |c| c.len());
    let mut combined = vec![Fr::ZERO; n];
    combined
        .par_chunks_mut(1 << 12)
        .enumerate()
        .for_each(|(c, out)| {
            let first = c << 12;
            for (column, r) in columns.iter().zip(&r) {
                for (o, v) in out.iter_mut().zip(&column[first..]) {
                    *o += *r * v;
                }
            }
        });
    let expected = best_multiexp(&r, &commitments).to_affine();
    if commit(srs, vk, combined) == expected {
        return Ok(());
    }
    // Which one: slow, but only on the way to an error.
    for (i, (column, c)) in columns.iter().zip(&commitments).enumerate() {
        if commit(srs, vk, column.to_vec()) != *c {
            return Err(KeygenError::Mismatch(if i < fixed.len() {
                format!("fixed column {i}")
            } else {
                format!("the σ of permutation column {}", i - fixed.len())
            }));
        }
    }
    Err(KeygenError::Mismatch("the columns' combination".into()))
}

/// The zkedge proving key of `circuit`, whose verifying key (from halo2's `keygen_vk` over
/// `srs`) is `vk`; checked against `vk`'s commitments.
pub fn zkedge_key<C: Circuit<Fr>>(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    circuit: &C,
) -> Result<ProvingKey, KeygenError> {
    let (fixed, sigmas) = columns(srs, vk, circuit)?;
    let mut file = export::describe(vk)?;
    // Column by column, so that each halo2 column is freed as its copy is made.
    let convert = |columns: Vec<Vec<Fr>>| -> Vec<ColumnValues> {
        columns
            .into_iter()
            .map(|c| ColumnValues(c.par_iter().map(crate::zk::fr).collect()))
            .collect()
    };
    file.fixed = convert(fixed);
    file.sigmas = convert(sigmas);
    Ok(ProvingKey::from_file(file)?)
}
