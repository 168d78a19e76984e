//! halo2's lookup argument (the permuted-input construction of plookup's precursor): the input
//! and table tuples are compressed with θ; the prover commits to a permutation A′ of the inputs
//! that groups equal values and a permutation S′ of the table whose row starts each group with
//! the same value; a grand product shows both are permutations.

use alloc::{vec, vec::Vec};

use ark_ff::{batch_inversion, AdditiveGroup, Field, PrimeField, UniformRand};
use rand_core::RngCore;

use super::{par, Fr, Lookup, Op, ProveError, ProvingKey};

/// Column values (Lagrange basis, `n` rows) that expressions read. `fixed` is indexed by fixed
/// column and need only hold the columns the expressions read (see [`fixed_columns`]).
pub(super) struct Columns<'a> {
    pub fixed: &'a [Vec<Fr>],
    pub advice: &'a [Vec<Fr>],
    pub instance: &'a [Vec<Fr>],
    pub key: &'a ProvingKey,
}

/// `row + rotation` modulo `n` (a power of two).
#[inline]
pub(super) fn rotated(row: usize, rotation: i32, n: usize) -> usize {
    row.wrapping_add(rotation as isize as usize) & (n - 1)
}

/// The fixed columns a lookup's expressions read, each once.
pub(super) fn fixed_columns(lookup: &Lookup, key: &ProvingKey) -> Vec<usize> {
    let mut out: Vec<usize> = lookup
        .input
        .iter()
        .chain(&lookup.table)
        .flat_map(|e| e.ops())
        .filter_map(|op| match *op {
            Op::Fixed(q) => Some(key.fixed_queries[q].0),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl Columns<'_> {
    fn leaf(&self, op: Op, row: usize) -> Fr {
        let n = self.key.n();
        let (columns, (c, r)) = match op {
            Op::Fixed(q) => (self.fixed, self.key.fixed_queries[q]),
            Op::Advice(q) => (self.advice, self.key.advice_queries[q]),
            Op::Instance(q) => (self.instance, self.key.instance_queries[q]),
            _ => return Fr::ZERO,
        };
        columns
            .get(c)
            .and_then(|v| v.get(rotated(row, r, n)))
            .copied()
            .unwrap_or(Fr::ZERO)
    }

    /// `Σ θ^(m−1−i) · eᵢ` over the rows, for the expressions `e₀ … e_{m−1}`.
    fn compress(&self, expressions: &[super::Expression], theta: Fr) -> Vec<Fr> {
        par::filled(self.key.n(), Fr::ZERO, |first, out| {
            let mut scratch = Vec::new();
            for (offset, v) in out.iter_mut().enumerate() {
                let row = first + offset;
                *v = expressions.iter().fold(Fr::ZERO, |acc, e| {
                    acc * theta + e.evaluate(&mut scratch, |op| self.leaf(op, row))
                });
            }
        })
    }
}

/// A lookup after the permutation step.
pub(super) struct Permuted {
    pub compressed_input: Vec<Fr>,
    pub compressed_table: Vec<Fr>,
    /// A′ (Lagrange basis).
    pub input: Vec<Fr>,
    /// S′ (Lagrange basis).
    pub table: Vec<Fr>,
}

/// The values in increasing order of their canonical integers (equal values are equal
/// integers, so the order is the same however the sort splits its work).
fn sorted(v: &[Fr]) -> Vec<<Fr as PrimeField>::BigInt> {
    let mut keys: Vec<_> = par::map(v.len(), |i| v[i].into_bigint());
    par::sort_unstable(&mut keys);
    keys
}

fn from_key(k: <Fr as PrimeField>::BigInt) -> Fr {
    // Every key came from `into_bigint`, so it is canonical.
    Fr::from_bigint(k).unwrap_or(Fr::ZERO)
}

pub(super) fn permute(
    index: usize,
    lookup: &Lookup,
    columns: &Columns<'_>,
    theta: Fr,
    rng: &mut impl RngCore,
) -> Result<Permuted, ProveError> {
    let key = columns.key;
    let (n, usable) = (key.n(), key.usable_rows());
    let compressed_input = columns.compress(&lookup.input, theta);
    let compressed_table = columns.compress(&lookup.table, theta);
    let inputs = sorted(&compressed_input[..usable]);
    let table = sorted(&compressed_table[..usable]);

    // Each group of equal inputs starts with its value in S′; the table's other entries fill
    // the rows where an input repeats.
    let mut permuted_table = vec![Fr::ZERO; usable];
    let mut repeats = Vec::new();
    let mut leftovers = Vec::new();
    let mut j = 0;
    for (row, k) in inputs.iter().enumerate() {
        if row > 0 && inputs[row - 1] == *k {
            repeats.push(row);
            continue;
        }
        while j < table.len() && table[j] < *k {
            leftovers.push(table[j]);
            j += 1;
        }
        if j == table.len() || table[j] != *k {
            return Err(ProveError::LookupUnsatisfied(index));
        }
        permuted_table[row] = from_key(table[j]);
        j += 1;
    }
    leftovers.extend_from_slice(&table[j..]);
    drop(table);
    // Both sides count `usable` rows, so the repeats and the leftovers match in number.
    for (row, k) in repeats.into_iter().zip(leftovers) {
        permuted_table[row] = from_key(k);
    }
    let mut input = par::map(inputs.len(), |i| from_key(inputs[i]));
    drop(inputs);
    input.resize_with(n, || Fr::rand(rng));
    permuted_table.resize_with(n, || Fr::rand(rng));
    Ok(Permuted {
        compressed_input,
        compressed_table,
        input,
        table: permuted_table,
    })
}

/// The grand product `z`, with `z₀ = 1` and
/// `z_{i+1} = zᵢ · (Aᵢ + β)(Sᵢ + γ) / ((A′ᵢ + β)(S′ᵢ + γ))`, blinded in its last rows. Takes the
/// compressed columns, which nothing needs afterwards, and works in their memory.
pub(super) fn product(
    key: &ProvingKey,
    p: &mut Permuted,
    beta: Fr,
    gamma: Fr,
    rng: &mut impl RngCore,
) -> Vec<Fr> {
    let n = key.n();
    let b = key.blinding_factors;
    let mut ratio = core::mem::take(&mut p.compressed_input);
    let mut z = core::mem::take(&mut p.compressed_table);
    let (input, table) = (&p.input, &p.table);
    // ratio ← (A + β)(S + γ); then z's buffer ← (A′ + β)(S′ + γ), inverted; ratio ← the quotient.
    {
        let compressed_table = &z;
        par::chunks_mut(&mut ratio, 1, |first, out| {
            for (i, r) in out.iter_mut().enumerate() {
                *r = (*r + beta) * (compressed_table[first + i] + gamma);
            }
        });
    }
    par::chunks_mut(&mut z, 1, |first, out| {
        for (i, d) in out.iter_mut().enumerate() {
            *d = (input[first + i] + beta) * (table[first + i] + gamma);
        }
    });
    batch_inversion(&mut z);
    {
        let inverses = &z;
        par::chunks_mut(&mut ratio, 1, |first, out| {
            for (i, r) in out.iter_mut().enumerate() {
                *r *= inverses[first + i];
            }
        });
    }
    let mut acc = Fr::ONE;
    z[0] = acc;
    for (i, r) in ratio.iter().take(n - b - 1).enumerate() {
        acc *= r;
        z[i + 1] = acc;
    }
    drop(ratio);
    z[n - b..].iter_mut().for_each(|v| *v = Fr::rand(rng));
    z
}
