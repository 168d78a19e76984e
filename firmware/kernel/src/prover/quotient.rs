//! The vanishing argument's quotient `h(X) = (Σ yⁱ·Cᵢ(X)) / (Xⁿ − 1)`.
//!
//! The constraints `Cᵢ` are, in the verifier's order: every gate polynomial; the permutation's
//! first-row, last-row, chunk-linking and product constraints; five per lookup. They are
//! evaluated on the extended domain `ζ·⟨ω_ext⟩` one coset `ζ·ω_extʲ·⟨ω⟩` at a time (each a
//! size-`n` coset NTT on the backend), interleaved, divided by `Xⁿ − 1` and brought back to
//! coefficients with one size-`N` coset NTT.

use alloc::{vec, vec::Vec};

use accel_backends::{Backend, NttOp};
use ark_ff::{batch_inversion, AdditiveGroup, Field};

use super::{lookup::rotated, ColumnKind, Fr, Op, Prepared, ProveError};

/// The polynomials of one proof, in coefficient form.
pub(super) struct Polys<'a> {
    pub advice: &'a [Vec<Fr>],
    pub instance: &'a [Vec<Fr>],
    /// A′, S′ and the product z of each lookup, in that order.
    pub lookups: &'a [Vec<Fr>],
    /// The grand product of each permutation chunk.
    pub permutation: &'a [Vec<Fr>],
}

pub(super) struct Challenges {
    pub theta: Fr,
    pub beta: Fr,
    pub gamma: Fr,
    pub y: Fr,
}

/// One coset's evaluations of everything the constraints read.
struct Coset {
    fixed: Vec<Vec<Fr>>,
    advice: Vec<Vec<Fr>>,
    instance: Vec<Vec<Fr>>,
    /// l0, l_last, l_active.
    selectors: Vec<Vec<Fr>>,
    sigmas: Vec<Vec<Fr>>,
    permutation: Vec<Vec<Fr>>,
    lookups: Vec<Vec<Fr>>,
    /// The coset's generator: the point of row 0.
    generator: Fr,
}

/// `h`'s pieces (`degree − 1` polynomials of `n` coefficients), and the nanoseconds spent
/// evaluating constraints.
pub(super) fn quotient<B: Backend + ?Sized>(
    prep: &Prepared,
    backend: &mut B,
    polys: &Polys<'_>,
    ch: &Challenges,
    now: Option<super::Now>,
) -> Result<(Vec<Vec<Fr>>, u64), ProveError> {
    let key = &prep.key;
    let n = key.n();
    let parts = 1usize << (key.extended_k - key.k);
    let mut extended = vec![Fr::ZERO; n * parts];
    let mut evaluation_nanos = 0;
    let mut factor = Fr::ONE;
    for part in 0..parts {
        let generator = key.zeta * factor;
        let mut coset = |polys: &[Vec<Fr>]| -> Result<Vec<Vec<Fr>>, ProveError> {
            let mut out = polys.to_vec();
            if !out.is_empty() {
                let mut views: Vec<&mut [Fr]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
                backend.ntt_batch(&mut views, &prep.domain, NttOp::coset_forward(generator))?;
            }
            Ok(out)
        };
        let c = Coset {
            fixed: coset(&prep.fixed_polys)?,
            advice: coset(polys.advice)?,
            instance: coset(polys.instance)?,
            selectors: coset(&prep.selectors)?,
            sigmas: coset(&prep.sigma_polys)?,
            permutation: coset(polys.permutation)?,
            lookups: coset(polys.lookups)?,
            generator,
        };
        let clock = super::Clock::start(now);
        let values = evaluate(prep, &c, ch);
        evaluation_nanos += clock.nanos();
        for (i, v) in values.into_iter().enumerate() {
            extended[i * parts + part] = v;
        }
        factor *= key.extended_omega;
    }

    // Xⁿ − 1 at ζ·ω_ext^m depends only on m mod parts.
    let zeta_n = key.zeta.pow([n as u64]);
    let step = key.extended_omega.pow([n as u64]);
    let mut t: Vec<Fr> = (0..parts as u64)
        .map(|j| zeta_n * step.pow([j]) - Fr::ONE)
        .collect();
    batch_inversion(&mut t);
    for (m, v) in extended.iter_mut().enumerate() {
        *v *= t[m % parts];
    }
    backend.ntt(
        &mut extended,
        &prep.extended,
        NttOp::coset_inverse(key.zeta),
    )?;
    extended.truncate(n * (key.degree - 1));
    let pieces = extended.chunks_exact(n).map(<[Fr]>::to_vec).collect();
    Ok((pieces, evaluation_nanos))
}

/// The combined constraint at every row of one coset.
fn evaluate(prep: &Prepared, c: &Coset, ch: &Challenges) -> Vec<Fr> {
    let n = prep.key.n();
    let mut values = vec![Fr::ZERO; n];
    const CHUNK: usize = 1 << 10;
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        values
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, out)| rows(prep, c, ch, i * CHUNK, out));
    }
    #[cfg(not(feature = "parallel"))]
    values
        .chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, out)| rows(prep, c, ch, i * CHUNK, out));
    values
}

fn rows(prep: &Prepared, c: &Coset, ch: &Challenges, first: usize, out: &mut [Fr]) {
    let key = &prep.key;
    let n = key.n();
    let (l0, l_last, l_active) = (&c.selectors[0], &c.selectors[1], &c.selectors[2]);
    let last_rotation = -((key.blinding_factors + 1) as i32);
    let column = |col: &super::Column| -> &[Fr] {
        let i = col.index as usize;
        match col.kind {
            ColumnKind::Advice => &c.advice[i],
            ColumnKind::Fixed => &c.fixed[i],
            ColumnKind::Instance => &c.instance[i],
        }
    };
    let mut scratch = Vec::new();
    // The point of the first row handled here: generator · ω^first.
    let mut x = c.generator * key.omega.pow([first as u64]);
    for (offset, value) in out.iter_mut().enumerate() {
        let i = first + offset;
        let leaf = |op: Op| {
            let (columns, (col, rot)) = match op {
                Op::Fixed(q) => (&c.fixed, key.fixed_queries[q]),
                Op::Advice(q) => (&c.advice, key.advice_queries[q]),
                Op::Instance(q) => (&c.instance, key.instance_queries[q]),
                _ => return Fr::ZERO,
            };
            columns[col][rotated(i, rot, n)]
        };
        let mut v = Fr::ZERO;
        for gate in &key.gates {
            v = v * ch.y + gate.evaluate(&mut scratch, leaf);
        }

        if let (Some(first_z), Some(last_z)) = (c.permutation.first(), c.permutation.last()) {
            let next = rotated(i, 1, n);
            let last = rotated(i, last_rotation, n);
            v = v * ch.y + (Fr::ONE - first_z[i]) * l0[i];
            v = v * ch.y + (last_z[i].square() - last_z[i]) * l_last[i];
            for s in 1..c.permutation.len() {
                v = v * ch.y + (c.permutation[s][i] - c.permutation[s - 1][last]) * l0[i];
            }
            let mut delta = ch.beta * x;
            let chunk = key.chunk_len();
            for ((columns, z), sigmas) in key
                .permutation
                .chunks(chunk)
                .zip(&c.permutation)
                .zip(c.sigmas.chunks(chunk))
            {
                let mut left = z[next];
                let mut right = z[i];
                for (col, sigma) in columns.iter().zip(sigmas) {
                    let value = column(col)[i];
                    left *= value + ch.beta * sigma[i] + ch.gamma;
                    right *= value + delta + ch.gamma;
                    delta *= key.delta;
                }
                v = v * ch.y + (left - right) * l_active[i];
            }
        }

        for (l, lookup) in key.lookups.iter().enumerate() {
            let (a, s, z) = (
                &c.lookups[3 * l],
                &c.lookups[3 * l + 1],
                &c.lookups[3 * l + 2],
            );
            let mut compress = |exprs: &[super::Expression]| {
                exprs.iter().fold(Fr::ZERO, |acc, e| {
                    acc * ch.theta + e.evaluate(&mut scratch, leaf)
                })
            };
            let table_value =
                (compress(&lookup.input) + ch.beta) * (compress(&lookup.table) + ch.gamma);
            let (next, prev) = (rotated(i, 1, n), rotated(i, -1, n));
            let a_minus_s = a[i] - s[i];
            v = v * ch.y + (Fr::ONE - z[i]) * l0[i];
            v = v * ch.y + (z[i].square() - z[i]) * l_last[i];
            v = v * ch.y
                + (z[next] * (a[i] + ch.beta) * (s[i] + ch.gamma) - z[i] * table_value)
                    * l_active[i];
            v = v * ch.y + a_minus_s * l0[i];
            v = v * ch.y + a_minus_s * (a[i] - a[prev]) * l_active[i];
        }
        *value = v;
        x *= key.omega;
    }
}
