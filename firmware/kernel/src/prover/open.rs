//! Evaluations at `x` and the KZG multi-opening arguments, in halo2-axiom's order.
//!
//! GWC (the PLONK paper's batching): one witness `(Σ vⁱ·pᵢ − Σ vⁱ·pᵢ(z)) / (X − z)` per distinct
//! point. SHPLONK (BDFG20): polynomials grouped by the set of points they are opened at, one
//! commitment to the combined quotient and one to the linearised remainder.

use alloc::{vec, vec::Vec};

use accel_backends::Backend;
use ark_ff::{AdditiveGroup, Field, PrimeField};

use super::{
    commit_coeffs,
    poly::{eval, kate_division, lagrange_interpolate, powers, vanishing_at},
    quotient::Polys,
    rotate, Fr, Prepared, ProveError, Srs, Transcript,
};

/// Which multi-opening argument a proof uses; the verifier must use the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MultiOpen {
    /// GWC19.
    Gwc,
    /// SHPLONK (BDFG20).
    Shplonk,
}

/// One opening: polynomial `id` (coefficients `poly`) at `point`.
pub(super) struct Opening<'a> {
    id: usize,
    poly: &'a [Fr],
    point: Fr,
}

/// Every opening of the proof, in the order halo2-axiom's prover chains its queries.
pub(super) fn queries<'a>(
    prep: &'a Prepared,
    polys: &Polys<'a>,
    random_poly: &'a [Fr],
    h_poly: &'a [Fr],
    x: Fr,
) -> Vec<Opening<'a>> {
    let key = &prep.key;
    let d = &prep.domain;
    let (a, p, l, f) = (
        polys.advice.len(),
        polys.permutation.len(),
        key.lookups.len(),
        prep.fixed_polys.len(),
    );
    let s = prep.sigma_polys.len();
    let mut q = Vec::new();
    for &(c, r) in &key.advice_queries {
        q.push(Opening {
            id: c,
            poly: &polys.advice[c],
            point: rotate(d, x, r),
        });
    }
    let (x_next, x_prev, x_last) = (
        rotate(d, x, 1),
        rotate(d, x, -1),
        rotate(d, x, -((key.blinding_factors + 1) as i32)),
    );
    for (i, z) in polys.permutation.iter().enumerate() {
        q.push(Opening {
            id: a + i,
            poly: z,
            point: x,
        });
        q.push(Opening {
            id: a + i,
            poly: z,
            point: x_next,
        });
    }
    for (i, z) in polys.permutation.iter().enumerate().rev().skip(1) {
        q.push(Opening {
            id: a + i,
            poly: z,
            point: x_last,
        });
    }
    for i in 0..l {
        let id = |w: usize| a + p + 3 * i + w;
        let (input, table, z) = (
            &polys.lookups[3 * i],
            &polys.lookups[3 * i + 1],
            &polys.lookups[3 * i + 2],
        );
        q.push(Opening {
            id: id(2),
            poly: z,
            point: x,
        });
        q.push(Opening {
            id: id(0),
            poly: input,
            point: x,
        });
        q.push(Opening {
            id: id(1),
            poly: table,
            point: x,
        });
        q.push(Opening {
            id: id(0),
            poly: input,
            point: x_prev,
        });
        q.push(Opening {
            id: id(2),
            poly: z,
            point: x_next,
        });
    }
    let base = a + p + 3 * l;
    for &(c, r) in &key.fixed_queries {
        q.push(Opening {
            id: base + c,
            poly: &prep.fixed_polys[c],
            point: rotate(d, x, r),
        });
    }
    for (i, sigma) in prep.sigma_polys.iter().enumerate() {
        q.push(Opening {
            id: base + f + i,
            poly: sigma,
            point: x,
        });
    }
    q.push(Opening {
        id: base + f + s,
        poly: h_poly,
        point: x,
    });
    q.push(Opening {
        id: base + f + s + 1,
        poly: random_poly,
        point: x,
    });
    q
}

/// Writes the evaluations the verifier reads after `x`, in its order.
pub(super) fn write_evaluations(
    prep: &Prepared,
    polys: &Polys<'_>,
    random_poly: &[Fr],
    x: Fr,
    t: &mut Transcript,
) {
    let key = &prep.key;
    let d = &prep.domain;
    for &(c, r) in &key.advice_queries {
        t.write_scalar(&eval(&polys.advice[c], rotate(d, x, r)));
    }
    for &(c, r) in &key.fixed_queries {
        t.write_scalar(&eval(&prep.fixed_polys[c], rotate(d, x, r)));
    }
    t.write_scalar(&eval(random_poly, x));
    for sigma in &prep.sigma_polys {
        t.write_scalar(&eval(sigma, x));
    }
    let (x_next, x_prev, x_last) = (
        rotate(d, x, 1),
        rotate(d, x, -1),
        rotate(d, x, -((key.blinding_factors + 1) as i32)),
    );
    let sets = polys.permutation.len();
    for (i, z) in polys.permutation.iter().enumerate() {
        t.write_scalar(&eval(z, x));
        t.write_scalar(&eval(z, x_next));
        if i + 1 < sets {
            t.write_scalar(&eval(z, x_last));
        }
    }
    for l in polys.lookups.chunks_exact(3) {
        let (input, table, z) = (&l[0], &l[1], &l[2]);
        for (p, at) in [(z, x), (z, x_next), (input, x), (input, x_prev), (table, x)] {
            t.write_scalar(&eval(p, at));
        }
    }
}

pub(super) fn open<B: Backend + ?Sized>(
    backend: &mut B,
    srs: &Srs,
    queries: &[Opening<'_>],
    multiopen: MultiOpen,
    t: &mut Transcript,
) -> Result<(), ProveError> {
    match multiopen {
        MultiOpen::Gwc => gwc(backend, srs, queries, t),
        MultiOpen::Shplonk => shplonk(backend, srs, queries, t),
    }
}

fn gwc<B: Backend + ?Sized>(
    backend: &mut B,
    srs: &Srs,
    queries: &[Opening<'_>],
    t: &mut Transcript,
) -> Result<(), ProveError> {
    let v = t.squeeze();
    let mut points: Vec<(Fr, Vec<&Opening<'_>>)> = Vec::new();
    for q in queries {
        match points.iter_mut().find(|(p, _)| *p == q.point) {
            Some((_, group)) => group.push(q),
            None => points.push((q.point, vec![q])),
        }
    }
    let n = queries.iter().map(|q| q.poly.len()).max().unwrap_or(0);
    let witnesses: Vec<Vec<Fr>> = points
        .iter()
        .map(|(z, group)| {
            let mut batch = vec![Fr::ZERO; n];
            let mut eval_batch = Fr::ZERO;
            for (q, pv) in group.iter().zip(powers(v)) {
                for (b, c) in batch.iter_mut().zip(q.poly) {
                    *b += pv * c;
                }
                eval_batch += pv * eval(q.poly, *z);
            }
            batch[0] -= eval_batch;
            kate_division(&batch, *z)
        })
        .collect();
    let views: Vec<&[Fr]> = witnesses.iter().map(Vec::as_slice).collect();
    for w in commit_coeffs(backend, srs, &views)? {
        t.write_point(&w)?;
    }
    Ok(())
}

/// Two sets of points equal as sets.
fn same_set(a: &[Fr], b: &[Fr]) -> bool {
    let key = |v: &[Fr]| {
        let mut k: Vec<_> = v.iter().map(|x| x.into_bigint()).collect();
        k.sort_unstable();
        k
    };
    key(a) == key(b)
}

fn shplonk<B: Backend + ?Sized>(
    backend: &mut B,
    srs: &Srs,
    queries: &[Opening<'_>],
    t: &mut Transcript,
) -> Result<(), ProveError> {
    let y = t.squeeze();
    let n = queries.iter().map(|q| q.poly.len()).max().unwrap_or(0);
    // Each polynomial with the points it is opened at, in order of first appearance.
    let mut by_poly: Vec<(usize, &[Fr], Vec<Fr>)> = Vec::new();
    let mut super_points: Vec<Fr> = Vec::new();
    for q in queries {
        if !super_points.contains(&q.point) {
            super_points.push(q.point);
        }
        match by_poly.iter_mut().find(|(id, _, _)| *id == q.id) {
            Some((_, _, pts)) => {
                if !pts.contains(&q.point) {
                    pts.push(q.point);
                }
            }
            None => by_poly.push((q.id, q.poly, vec![q.point])),
        }
    }
    // Polynomials opened at the same set of points share a rotation set.
    struct Set<'a> {
        points: Vec<Fr>,
        polys: Vec<&'a [Fr]>,
        /// Each polynomial's interpolant through its values at `points`.
        low: Vec<Vec<Fr>>,
    }
    let mut sets: Vec<Set<'_>> = Vec::new();
    for (_, poly, pts) in &by_poly {
        let low =
            lagrange_interpolate(pts, &pts.iter().map(|p| eval(poly, *p)).collect::<Vec<_>>());
        match sets.iter_mut().find(|s| same_set(&s.points, pts)) {
            Some(set) => {
                // Interpolate in the set's point order (the interpolant is the same).
                set.polys.push(poly);
                set.low.push(low);
            }
            None => sets.push(Set {
                points: pts.clone(),
                polys: vec![poly],
                low: vec![low],
            }),
        }
    }

    let v = t.squeeze();
    let mut h = vec![Fr::ZERO; n];
    for (set, pv) in sets.iter().zip(powers(v)) {
        let mut numerator = vec![Fr::ZERO; n];
        for ((poly, low), py) in set.polys.iter().zip(&set.low).zip(powers(y)) {
            for (i, nu) in numerator.iter_mut().enumerate() {
                let r = low.get(i).copied().unwrap_or(Fr::ZERO);
                *nu += py * (poly.get(i).copied().unwrap_or(Fr::ZERO) - r);
            }
        }
        let quotient = set
            .points
            .iter()
            .fold(numerator, |p, z| kate_division(&p, *z));
        for (hi, qi) in h.iter_mut().zip(quotient) {
            *hi += pv * qi;
        }
    }
    t.write_point(&commit_coeffs(backend, srs, &[&h])?[0])?;

    let u = t.squeeze();
    let mut l = vec![Fr::ZERO; n];
    let mut first_z = None;
    for (set, pv) in sets.iter().zip(powers(v)) {
        let diffs: Vec<Fr> = super_points
            .iter()
            .filter(|p| !set.points.contains(p))
            .copied()
            .collect();
        let z = vanishing_at(&diffs, u);
        first_z.get_or_insert(z);
        for ((poly, low), py) in set.polys.iter().zip(&set.low).zip(powers(y)) {
            let r_u = eval(low, u);
            let scale = pv * z * py;
            for (li, c) in l.iter_mut().zip(poly.iter()) {
                *li += scale * c;
            }
            l[0] -= scale * r_u;
        }
    }
    let zt = vanishing_at(&super_points, u);
    for (li, hi) in l.iter_mut().zip(&h) {
        *li -= *hi * zt;
    }
    let z0_inv = first_z.and_then(|z| z.inverse()).unwrap_or(Fr::ZERO);
    let witness: Vec<Fr> = kate_division(&l, u)
        .into_iter()
        .map(|c| c * z0_inv)
        .collect();
    t.write_point(&commit_coeffs(backend, srs, &[&witness])?[0])?;
    Ok(())
}
