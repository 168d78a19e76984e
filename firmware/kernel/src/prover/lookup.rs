//! halo2's lookup argument (the permuted-input construction of plookup's precursor): the input
//! and table tuples are compressed with θ; the prover commits to a permutation A′ of the inputs
//! that groups equal values and a permutation S′ of the table whose row starts each group with
//! the same value; a grand product shows both are permutations.

use alloc::{vec, vec::Vec};

use ark_ff::{batch_inversion, AdditiveGroup, Field, PrimeField, UniformRand};
use rand_core::RngCore;

use super::{Fr, Lookup, Op, ProveError, ProvingKey};

/// Column values (Lagrange basis, `n` rows) that expressions read.
pub(super) struct Columns<'a> {
    pub fixed: &'a [Vec<Fr>],
    pub advice: &'a [Vec<Fr>],
    pub instance: &'a [Vec<Fr>],
    pub key: &'a ProvingKey,
}

/// `row + rotation` modulo `n`.
#[inline]
pub(super) fn rotated(row: usize, rotation: i32, n: usize) -> usize {
    (row as i64 + i64::from(rotation)).rem_euclid(n as i64) as usize
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
        columns[c][rotated(row, r, n)]
    }

    /// `Σ θ^(m−1−i) · eᵢ` over the rows, for the expressions `e₀ … e_{m−1}`.
    fn compress(&self, expressions: &[super::Expression], theta: Fr) -> Vec<Fr> {
        let mut scratch = Vec::new();
        (0..self.key.n())
            .map(|row| {
                expressions.iter().fold(Fr::ZERO, |acc, e| {
                    acc * theta + e.evaluate(&mut scratch, |op| self.leaf(op, row))
                })
            })
            .collect()
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

    let sort = |v: &[Fr]| {
        let mut keyed: Vec<_> = v.iter().map(|x| (x.into_bigint(), *x)).collect();
        keyed.sort_unstable_by_key(|a| a.0);
        keyed
    };
    let inputs = sort(&compressed_input[..usable]);
    let table = sort(&compressed_table[..usable]);

    // Each group of equal inputs starts with its value in S′; the table's other entries fill
    // the rows where an input repeats.
    let mut input = Vec::with_capacity(n);
    let mut permuted_table = vec![Fr::ZERO; usable];
    let mut repeats = Vec::new();
    let mut leftovers = Vec::new();
    let mut j = 0;
    for (row, (k, v)) in inputs.iter().enumerate() {
        input.push(*v);
        if row > 0 && inputs[row - 1].0 == *k {
            repeats.push(row);
            continue;
        }
        while j < table.len() && table[j].0 < *k {
            leftovers.push(table[j].1);
            j += 1;
        }
        if j == table.len() || table[j].0 != *k {
            return Err(ProveError::LookupUnsatisfied(index));
        }
        permuted_table[row] = table[j].1;
        j += 1;
    }
    leftovers.extend(table[j..].iter().map(|(_, v)| *v));
    // Both sides count `usable` rows, so the repeats and the leftovers match in number.
    for (row, v) in repeats.into_iter().zip(leftovers) {
        permuted_table[row] = v;
    }
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
/// `z_{i+1} = zᵢ · (Aᵢ + β)(Sᵢ + γ) / ((A′ᵢ + β)(S′ᵢ + γ))`, blinded in its last rows.
pub(super) fn product(
    key: &ProvingKey,
    p: &Permuted,
    beta: Fr,
    gamma: Fr,
    rng: &mut impl RngCore,
) -> Vec<Fr> {
    let n = key.n();
    let b = key.blinding_factors;
    let mut ratio: Vec<Fr> = p
        .input
        .iter()
        .zip(&p.table)
        .map(|(a, s)| (beta + a) * (gamma + s))
        .collect();
    batch_inversion(&mut ratio);
    for (i, r) in ratio.iter_mut().enumerate() {
        *r *= (p.compressed_input[i] + beta) * (p.compressed_table[i] + gamma);
    }
    let mut z = Vec::with_capacity(n);
    let mut acc = Fr::ONE;
    z.push(acc);
    for r in ratio.iter().take(n - b - 1) {
        acc *= r;
        z.push(acc);
    }
    z.resize_with(n, || Fr::rand(rng));
    z
}
