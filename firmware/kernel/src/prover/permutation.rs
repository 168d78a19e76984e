//! halo2's permutation argument: one grand product per chunk of `degree − 2` columns, each
//! starting where the previous one ended, blinded in its last rows.

use alloc::vec::Vec;

use accel_backends::Backend;
use ark_ff::{batch_inversion, Field, UniformRand};
use rand_core::RngCore;

use super::{par, ColumnKind, Fr, Prepared, ProveError};

/// The Lagrange values of each chunk's grand product. The σ columns (and fixed columns in the
/// permutation) are brought back to Lagrange form one chunk at a time.
pub(super) fn products<B: Backend + ?Sized>(
    prep: &Prepared,
    backend: &mut B,
    advice: &[Vec<Fr>],
    instance: &[Vec<Fr>],
    beta: Fr,
    gamma: Fr,
    rng: &mut impl RngCore,
) -> Result<Vec<Vec<Fr>>, ProveError> {
    let key = &prep.key;
    let n = key.n();
    let b = key.blinding_factors;
    let chunk_len = key.chunk_len();
    // δ^c · ωⁱ for column c (counted across chunks) and row i.
    let mut delta_omega = Fr::ONE;
    let mut last_z = Fr::ONE;
    let mut out = Vec::new();
    for (c, columns) in key.permutation.chunks(chunk_len).enumerate() {
        let first = c * chunk_len;
        let sigmas: Vec<&[Fr]> = prep.sigma_polys[first..first + columns.len()]
            .iter()
            .map(Vec::as_slice)
            .collect();
        let sigmas = prep.lagrange(backend, &sigmas)?;
        let fixed: Vec<&[Fr]> = columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Fixed)
            .map(|c| prep.fixed_polys[c.index as usize].as_slice())
            .collect();
        let fixed = prep.lagrange(backend, &fixed)?;
        let mut fixed = fixed.iter();
        let column_values: Vec<&[Fr]> = columns
            .iter()
            .map(|column| {
                let i = column.index as usize;
                match column.kind {
                    ColumnKind::Advice => advice[i].as_slice(),
                    ColumnKind::Instance => instance[i].as_slice(),
                    ColumnKind::Fixed => fixed.next().map_or(&[][..], Vec::as_slice),
                }
            })
            .collect();

        // The denominators Π (v + β·σ + γ), inverted, times the numerators Π (v + β·δ^c·ωⁱ + γ).
        let mut ratio = par::filled(n, Fr::ONE, |row, out| {
            for (v, sigma) in column_values.iter().zip(&sigmas) {
                for (i, r) in out.iter_mut().enumerate() {
                    *r *= beta * sigma[row + i] + gamma + v[row + i];
                }
            }
        });
        drop(sigmas);
        batch_inversion(&mut ratio);
        let omega = key.omega;
        let delta = key.delta;
        let start = delta_omega;
        par::chunks_mut(&mut ratio, 1, |row, out| {
            let mut column_delta = start * omega.pow([row as u64]);
            for v in &column_values {
                let mut id = column_delta;
                for (i, r) in out.iter_mut().enumerate() {
                    *r *= id * beta + gamma + v[row + i];
                    id *= omega;
                }
                column_delta *= delta;
            }
        });
        delta_omega *= delta.pow([columns.len() as u64]);

        let mut z = ratio;
        // z₀ = the previous chunk's last value, zᵢ₊₁ = zᵢ · ratioᵢ, in place: each ratio is
        // read before its slot is overwritten.
        let mut acc = last_z;
        for r in z.iter_mut() {
            let next = acc * *r;
            *r = acc;
            acc = next;
        }
        z[n - b..].iter_mut().for_each(|v| *v = Fr::rand(rng));
        last_z = z[n - (b + 1)];
        out.push(z);
    }
    Ok(out)
}
