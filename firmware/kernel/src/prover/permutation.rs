//! halo2's permutation argument: one grand product per chunk of `degree − 2` columns, each
//! starting where the previous one ended, blinded in its last rows.

use alloc::{vec, vec::Vec};

use ark_ff::{batch_inversion, Field, UniformRand};
use rand_core::RngCore;

use super::{ColumnKind, Fr, ProvingKey};

/// The Lagrange values of each chunk's grand product.
pub(super) fn products(
    key: &ProvingKey,
    advice: &[Vec<Fr>],
    instance: &[Vec<Fr>],
    beta: Fr,
    gamma: Fr,
    rng: &mut impl RngCore,
) -> Vec<Vec<Fr>> {
    let n = key.n();
    let b = key.blinding_factors;
    let values = |c: &super::Column| -> &[Fr] {
        let i = c.index as usize;
        match c.kind {
            ColumnKind::Advice => &advice[i],
            ColumnKind::Fixed => &key.fixed[i],
            ColumnKind::Instance => &instance[i],
        }
    };
    // δ^c · ωⁱ for column c (counted across chunks) and row i.
    let mut delta_omega = Fr::ONE;
    let mut last_z = Fr::ONE;
    let mut out = Vec::new();
    for (columns, sigmas) in key
        .permutation
        .chunks(key.chunk_len())
        .zip(key.sigmas.chunks(key.chunk_len()))
    {
        let mut ratio = vec![Fr::ONE; n];
        for (column, sigma) in columns.iter().zip(sigmas) {
            for ((r, v), s) in ratio.iter_mut().zip(values(column)).zip(sigma) {
                *r *= beta * s + gamma + v;
            }
        }
        batch_inversion(&mut ratio);
        for column in columns {
            let mut id = delta_omega;
            for (r, v) in ratio.iter_mut().zip(values(column)) {
                *r *= id * beta + gamma + v;
                id *= key.omega;
            }
            delta_omega *= key.delta;
        }
        let mut z = Vec::with_capacity(n);
        z.push(last_z);
        for r in 0..n - 1 {
            z.push(z[r] * ratio[r]);
        }
        z[n - b..].iter_mut().for_each(|v| *v = Fr::rand(rng));
        last_z = z[n - (b + 1)];
        out.push(z);
    }
    out
}
