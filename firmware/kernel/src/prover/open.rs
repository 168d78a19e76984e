//! Evaluations at `x` and the KZG multi-opening arguments, in halo2-axiom's order.
//!
//! GWC (the PLONK paper's batching): one witness `(Σ vⁱ·pᵢ − Σ vⁱ·pᵢ(z)) / (X − z)` per distinct
//! point. SHPLONK (BDFG20): polynomials grouped by the set of points they are opened at, one
//! commitment to the combined quotient and one to the linearised remainder.

use alloc::{vec, vec::Vec};

use accel_backends::Backend;
use ark_ff::{AdditiveGroup, Field, PrimeField};

use super::{
    commit_coeffs, par,
    poly::{eval, kate_division_in_place, lagrange_interpolate, powers, vanishing_at},
    quotient::Polys,
    rotate, Fr, Prepared, ProveError, Srs, Transcript,
};

pub use accel_proto::MultiOpen;

/// One opening: polynomial `id` (coefficients `poly`) at `point`, where it takes `value`.
pub(super) struct Opening<'a> {
    id: usize,
    poly: &'a [Fr],
    point: Fr,
    value: Fr,
}

/// Every opening of the proof, in the order halo2-axiom's prover chains its queries, with its
/// value (each evaluated once, on as many threads as there are).
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
            value: Fr::ZERO,
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
            value: Fr::ZERO,
        });
        q.push(Opening {
            id: a + i,
            poly: z,
            point: x_next,
            value: Fr::ZERO,
        });
    }
    for (i, z) in polys.permutation.iter().enumerate().rev().skip(1) {
        q.push(Opening {
            id: a + i,
            poly: z,
            point: x_last,
            value: Fr::ZERO,
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
            value: Fr::ZERO,
        });
        q.push(Opening {
            id: id(0),
            poly: input,
            point: x,
            value: Fr::ZERO,
        });
        q.push(Opening {
            id: id(1),
            poly: table,
            point: x,
            value: Fr::ZERO,
        });
        q.push(Opening {
            id: id(0),
            poly: input,
            point: x_prev,
            value: Fr::ZERO,
        });
        q.push(Opening {
            id: id(2),
            poly: z,
            point: x_next,
            value: Fr::ZERO,
        });
    }
    let base = a + p + 3 * l;
    for &(c, r) in &key.fixed_queries {
        q.push(Opening {
            id: base + c,
            poly: &prep.fixed_polys[c],
            point: rotate(d, x, r),
            value: Fr::ZERO,
        });
    }
    for (i, sigma) in prep.sigma_polys.iter().enumerate() {
        q.push(Opening {
            id: base + f + i,
            poly: sigma,
            point: x,
            value: Fr::ZERO,
        });
    }
    q.push(Opening {
        id: base + f + s,
        poly: h_poly,
        point: x,
        value: Fr::ZERO,
    });
    q.push(Opening {
        id: base + f + s + 1,
        poly: random_poly,
        point: x,
        value: Fr::ZERO,
    });
    let values = par::map(q.len(), |i| eval(q[i].poly, q[i].point));
    for (o, v) in q.iter_mut().zip(values) {
        o.value = v;
    }
    q
}

/// The value of polynomial `id` at `point`, from the openings.
fn value(queries: &[Opening<'_>], id: usize, point: Fr) -> Fr {
    queries
        .iter()
        .find(|q| q.id == id && q.point == point)
        .map_or(Fr::ZERO, |q| q.value)
}

/// Writes the evaluations the verifier reads after `x`, in its order (the values the openings
/// hold, in the ids [`queries`] gave them).
pub(super) fn write_evaluations(
    prep: &Prepared,
    polys: &Polys<'_>,
    queries: &[Opening<'_>],
    x: Fr,
    t: &mut Transcript,
) {
    let key = &prep.key;
    let d = &prep.domain;
    let (a, p, l, f, s) = (
        polys.advice.len(),
        polys.permutation.len(),
        key.lookups.len(),
        prep.fixed_polys.len(),
        prep.sigma_polys.len(),
    );
    let base = a + p + 3 * l;
    let mut write = |id: usize, point: Fr| t.write_scalar(&value(queries, id, point));
    for &(c, r) in &key.advice_queries {
        write(c, rotate(d, x, r));
    }
    for &(c, r) in &key.fixed_queries {
        write(base + c, rotate(d, x, r));
    }
    write(base + f + s + 1, x);
    for i in 0..s {
        write(base + f + i, x);
    }
    let (x_next, x_prev, x_last) = (
        rotate(d, x, 1),
        rotate(d, x, -1),
        rotate(d, x, -((key.blinding_factors + 1) as i32)),
    );
    for i in 0..p {
        write(a + i, x);
        write(a + i, x_next);
        if i + 1 < p {
            write(a + i, x_last);
        }
    }
    for i in 0..l {
        let id = |w: usize| a + p + 3 * i + w;
        for (poly, at) in [(2, x), (2, x_next), (0, x), (0, x_prev), (1, x)] {
            write(id(poly), at);
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
    // Per point: (Σ vⁱ·pᵢ − Σ vⁱ·pᵢ(z)) / (X − z), whose coefficients are the batch's from 1 on.
    let mut witnesses: Vec<(Fr, Vec<Fr>)> = Vec::with_capacity(points.len());
    for (z, group) in &points {
        let mut batch = vec![Fr::ZERO; n];
        let mut eval_batch = Fr::ZERO;
        for (q, pv) in group.iter().zip(powers(v)) {
            add_scaled(&mut batch, q.poly, pv);
            eval_batch += pv * q.value;
        }
        batch[0] -= eval_batch;
        witnesses.push((*z, batch));
    }
    // The divisions are sequential in each polynomial: one point per thread.
    par::each_mut(&mut witnesses, |(z, w)| kate_division_in_place(w, *z));
    let views: Vec<&[Fr]> = witnesses
        .iter()
        .map(|(_, w)| w.get(1..).unwrap_or(&[]))
        .collect();
    for w in commit_coeffs(backend, srs, &views)? {
        t.write_point(&w)?;
    }
    Ok(())
}

/// `acc += scale · p`, coefficient by coefficient (`p` no longer than `acc`).
fn add_scaled(acc: &mut [Fr], p: &[Fr], scale: Fr) {
    par::chunks_mut(acc, 1, |first, out| {
        for (a, c) in out.iter_mut().zip(p.get(first..).unwrap_or(&[])) {
            *a += scale * c;
        }
    });
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

/// A polynomial (its query id and coefficients), the points it is opened at and its values
/// there.
type PolyPoints<'a> = (usize, &'a [Fr], Vec<Fr>, Vec<Fr>);

fn shplonk<B: Backend + ?Sized>(
    backend: &mut B,
    srs: &Srs,
    queries: &[Opening<'_>],
    t: &mut Transcript,
) -> Result<(), ProveError> {
    let y = t.squeeze();
    let n = queries.iter().map(|q| q.poly.len()).max().unwrap_or(0);
    // Each polynomial with the points it is opened at (and its values there), in order of
    // first appearance.
    let mut by_poly: Vec<PolyPoints<'_>> = Vec::new();
    let mut super_points: Vec<Fr> = Vec::new();
    for q in queries {
        if !super_points.contains(&q.point) {
            super_points.push(q.point);
        }
        match by_poly.iter_mut().find(|(id, _, _, _)| *id == q.id) {
            Some((_, _, pts, values)) => {
                if !pts.contains(&q.point) {
                    pts.push(q.point);
                    values.push(q.value);
                }
            }
            None => by_poly.push((q.id, q.poly, vec![q.point], vec![q.value])),
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
    for (_, poly, pts, values) in &by_poly {
        let low = lagrange_interpolate(pts, values);
        match sets.iter_mut().find(|s| same_set(&s.points, pts)) {
            Some(set) => {
                // Interpolated in this polynomial's point order: the interpolant is the same.
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
    let mut numerator = vec![Fr::ZERO; n];
    for (set, pv) in sets.iter().zip(powers(v)) {
        numerator.iter_mut().for_each(|c| *c = Fr::ZERO);
        for ((poly, low), py) in set.polys.iter().zip(&set.low).zip(powers(y)) {
            add_scaled(&mut numerator, poly, py);
            for (nu, r) in numerator.iter_mut().zip(low) {
                *nu -= py * r;
            }
        }
        // Divided by (X − z) for each point in turn; each quotient starts one place further on.
        let mut quotient = &mut numerator[..];
        for z in &set.points {
            kate_division_in_place(quotient, *z);
            quotient = &mut quotient[1..];
        }
        add_scaled(&mut h, quotient, pv);
    }
    drop(numerator);
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
            add_scaled(&mut l, poly, scale);
            l[0] -= scale * r_u;
        }
    }
    let zt = vanishing_at(&super_points, u);
    add_scaled(&mut l, &h, -zt);
    drop(h);
    let z0_inv = first_z.and_then(|z| z.inverse()).unwrap_or(Fr::ZERO);
    kate_division_in_place(&mut l, u);
    let witness = &mut l[1..];
    par::chunks_mut(witness, 1, |_, out| {
        out.iter_mut().for_each(|c| *c *= z0_inv)
    });
    t.write_point(&commit_coeffs(backend, srs, &[witness])?[0])?;
    Ok(())
}
