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
//! The verifying key comes from one of two places ([`VkSource`]):
//! - halo2's `keygen_vk`, and the columns made here are checked against it: one random linear
//!   combination of all fixed and σ columns, committed, must equal the same combination of the
//!   verifying key's commitments (a wrong column passes with probability about 2⁻²⁵⁴); on a
//!   mismatch the columns are checked one by one and the first wrong one is named;
//! - or, where `keygen_vk` would not fit in memory (it too holds every fixed cell as an
//!   `Assigned` fraction, 72 bytes, beside a 40-byte denominator and the 32-byte result), from
//!   these columns' own commitments, serialised in halo2's verifying-key format and read back
//!   with halo2's `VerifyingKey::read`, which rebuilds the constraint system and the key's hash
//!   itself. The tests hold the two verifying keys equal byte for byte.

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
        keygen_vk, Advice, Any, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem,
        Error, Fixed, FloorPlanner, Instance, Selector, VerifyingKey,
    },
    poly::{
        commitment::{Blind, Params},
        EvaluationDomain,
    },
    SerdeCurveAffine, SerdeFormat,
};
use rand::rngs::OsRng;
use rayon::prelude::*;
use thiserror::Error;
use zkedge_kernel::prover::{ColumnValues, ProvingKey};

use crate::{export, srs::Srs};

/// Where [`keys`] takes the verifying key from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum VkSource {
    /// halo2's `keygen_vk` when its estimated peak memory is at most
    /// [`HALO2_VK_AUTO_BYTES`], else zkedge's.
    #[default]
    Auto,
    /// halo2's `keygen_vk`; the zkedge key is checked against it.
    Halo2,
    /// The zkedge key's own commitments, read back as a halo2 verifying key.
    Zkedge,
}

/// The largest estimated peak of `keygen_vk` that [`VkSource::Auto`] accepts.
pub const HALO2_VK_AUTO_BYTES: u64 = 4 << 30;

/// Whether setup makes halo2's proving key (`pk.bin`), which only `--prover halo2` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Halo2Key {
    /// When it is at most [`HALO2_KEY_AUTO_BYTES`] (its fixed and σ columns in two forms).
    #[default]
    Auto,
    /// Always (halo2's keygen_pk holds several copies of every column: slow and large at k ≥ 18).
    Always,
    /// Never.
    Never,
}

/// The largest halo2 proving key [`Halo2Key::Auto`] makes.
pub const HALO2_KEY_AUTO_BYTES: u64 = 512 << 20;

impl Halo2Key {
    /// Whether to make it for a circuit with this verifying key.
    pub fn wanted(self, vk: &VerifyingKey<G1Affine>) -> bool {
        match self {
            Halo2Key::Always => true,
            Halo2Key::Never => false,
            Halo2Key::Auto => {
                // Fixed values and polynomials, σ values and polynomials, three selectors.
                let columns =
                    2 * vk.fixed_commitments().len() + 2 * vk.permutation().commitments().len() + 3;
                (columns as u64) * (vk.get_domain().get_n() << 5) <= HALO2_KEY_AUTO_BYTES
            }
        }
    }
}

/// What key generation starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupStep {
    /// halo2's `keygen_vk`.
    Halo2VerifyingKey,
    /// Synthesising the circuit for its fixed columns and copies.
    Synthesis,
    /// Committing the fixed and σ columns for the verifying key.
    Commitments,
    /// Checking the columns against halo2's verifying key.
    Check,
    /// halo2's `keygen_pk` (for `--prover halo2`).
    Halo2ProvingKey,
    /// Writing the keys.
    Writing,
}

impl SetupStep {
    /// A short description for people.
    pub fn label(self) -> &'static str {
        match self {
            SetupStep::Halo2VerifyingKey => "verifying key (halo2 keygen_vk)",
            SetupStep::Synthesis => "fixed columns and copies",
            SetupStep::Commitments => "committing fixed and σ columns",
            SetupStep::Check => "checking against the verifying key",
            SetupStep::Halo2ProvingKey => "halo2 proving key (keygen_pk)",
            SetupStep::Writing => "writing the keys",
        }
    }
}

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

/// The estimated peak memory of halo2's `keygen_vk` for `circuit` at `k`: per row, each fixed
/// cell as `Assigned` (72 bytes), its denominator (40) and value (32); each permutation cell's
/// mapping, cycle and size (40), label table (32) and σ (32); each selector's bit and column.
pub fn halo2_vk_bytes<C: Circuit<Fr>>(k: u32, circuit: &C) -> u64 {
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = C::configure_with_params(&mut cs, circuit.params());
    let per_row = cs.num_fixed_columns() as u64 * 144
        + cs.permutation().get_columns().len() as u64 * 104
        + cs.num_selectors() as u64 * 33;
    per_row << k
}

/// Columns in Lagrange form, each `2^k` values.
pub type Columns = Vec<Vec<Fr>>;

/// The fixed columns (selectors appended, as halo2's keygen appends them, compressed or not as
/// `compress_selectors` says) and σ columns of `circuit`, in Lagrange form, for `2^k` rows.
pub fn columns<C: Circuit<Fr>>(
    k: u32,
    circuit: &C,
    compress_selectors: bool,
) -> Result<(Columns, Columns), KeygenError> {
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
    let (cs, selector_columns) = if compress_selectors {
        cs.compress_selectors(selectors)
    } else {
        cs.directly_convert_selectors_to_fixed(selectors)
    };
    fixed.extend(selector_columns);
    let domain = EvaluationDomain::<Fr>::new(cs.degree() as u32, k);
    let sigmas = copies.sigmas(domain.get_omega());
    Ok((fixed, sigmas))
}

/// The columns' counts against the verifying key's.
fn same_shape(
    vk: &VerifyingKey<G1Affine>,
    fixed: &[Vec<Fr>],
    sigmas: &[Vec<Fr>],
) -> Result<(), KeygenError> {
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
    Ok(())
}

fn commit(srs: &Srs, vk: &VerifyingKey<G1Affine>, values: Vec<Fr>) -> G1Affine {
    srs.commit_lagrange(&vk.get_domain().lagrange_from_vec(values), Blind::default())
        .to_affine()
}

/// The columns against the verifying key's commitments, through one random combination; a
/// mismatch names the first wrong column.
pub fn check(
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

/// The verifying key of `circuit` over `srs` alone (a verifier deriving it from the model):
/// halo2's `keygen_vk` where it fits [`VkSource::Auto`]'s bound, else from the columns' own
/// commitments, which hold the key byte for byte equal (`tests/keygen.rs`).
pub fn verifying_key<C: Circuit<Fr>>(
    srs: &Srs,
    circuit: &C,
) -> Result<VerifyingKey<G1Affine>, KeygenError> {
    if halo2_vk_bytes(srs.k(), circuit) <= HALO2_VK_AUTO_BYTES {
        return keygen_vk(srs, circuit).map_err(|e| KeygenError::Synthesis(format!("{e:?}")));
    }
    Ok(keys(srs, circuit, VkSource::Zkedge, &mut |_| {})?.0)
}

/// halo2's verifying key and the zkedge proving key of `circuit` over `srs`, the verifying key
/// from `source`; `step` is told what starts. Also says whether the verifying key is halo2's.
pub fn keys<C: Circuit<Fr>>(
    srs: &Srs,
    circuit: &C,
    source: VkSource,
    step: &mut dyn FnMut(SetupStep),
) -> Result<(VerifyingKey<G1Affine>, ProvingKey, bool), KeygenError> {
    let k = srs.k();
    let from_halo2 = match source {
        VkSource::Halo2 => true,
        VkSource::Zkedge => false,
        VkSource::Auto => halo2_vk_bytes(k, circuit) <= HALO2_VK_AUTO_BYTES,
    };
    let (vk, fixed, sigmas) = if from_halo2 {
        step(SetupStep::Halo2VerifyingKey);
        let vk = keygen_vk(srs, circuit).map_err(|e| KeygenError::Synthesis(format!("{e:?}")))?;
        step(SetupStep::Synthesis);
        let (fixed, sigmas) = columns(k, circuit, vk.compress_selectors())?;
        same_shape(&vk, &fixed, &sigmas)?;
        step(SetupStep::Check);
        check(srs, &vk, &fixed, &sigmas)?;
        (vk, fixed, sigmas)
    } else {
        step(SetupStep::Synthesis);
        // keygen_vk's default: selectors become fixed columns, uncompressed.
        let (mut fixed, mut sigmas) = columns(k, circuit, false)?;
        step(SetupStep::Commitments);
        let vk = own_verifying_key(srs, circuit, &mut fixed, &mut sigmas)?;
        (vk, fixed, sigmas)
    };
    let mut file = export::describe(&vk)?;
    // Column by column, so that each halo2 column is freed as its copy is made.
    let convert = |columns: Vec<Vec<Fr>>| -> Vec<ColumnValues> {
        columns
            .into_iter()
            .map(|c| ColumnValues(c.par_iter().map(crate::convert::fr).collect()))
            .collect()
    };
    file.fixed = convert(fixed);
    file.sigmas = convert(sigmas);
    Ok((vk, ProvingKey::from_file(file)?, from_halo2))
}

/// The verifying key of these columns: their commitments in halo2's verifying-key format (an
/// uncompressed-selector key, as `keygen_vk` makes by default), read back by halo2.
fn own_verifying_key<C: Circuit<Fr>>(
    srs: &Srs,
    circuit: &C,
    fixed: &mut [Vec<Fr>],
    sigmas: &mut [Vec<Fr>],
) -> Result<VerifyingKey<G1Affine>, KeygenError> {
    let k = srs.k();
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = C::configure_with_params(&mut cs, circuit.params());
    let domain = EvaluationDomain::<Fr>::new(cs.degree() as u32, k);
    let commit = |column: &mut Vec<Fr>| {
        let poly = domain.lagrange_from_vec(std::mem::take(column));
        let c = srs.commit_lagrange(&poly, Blind::default()).to_affine();
        *column = poly.into_values();
        c
    };
    let mut bytes = vec![0x02];
    bytes.extend(k.to_le_bytes());
    bytes.push(0);
    bytes.extend((fixed.len() as u32).to_le_bytes());
    let written = (|| -> std::io::Result<()> {
        for c in fixed.iter_mut().chain(sigmas.iter_mut()) {
            commit(c).write(&mut bytes, SerdeFormat::RawBytes)?;
        }
        Ok(())
    })();
    let read = written.and_then(|()| {
        VerifyingKey::<G1Affine>::read::<_, C>(
            &mut bytes.as_slice(),
            SerdeFormat::RawBytes,
            circuit.params(),
        )
    });
    read.map_err(|e| KeygenError::Synthesis(format!("reading the verifying key back: {e}")))
}
