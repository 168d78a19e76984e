//! Small polynomial helpers (coefficients lowest first). The heavy operations — MSMs and NTTs —
//! are the Backend's; these are the linear-time ones around them.

use alloc::{vec, vec::Vec};

use ark_ff::{batch_inversion, AdditiveGroup, Field};

use super::Fr;

/// `p(x)` by Horner's rule.
pub fn eval(p: &[Fr], x: Fr) -> Fr {
    p.iter().rev().fold(Fr::ZERO, |acc, c| acc * x + c)
}

/// The quotient of `p(X) / (X − z)`, remainder dropped (halo2's `kate_division`): the
/// reference for [`kate_division_in_place`].
#[cfg(test)]
pub fn kate_division(p: &[Fr], z: Fr) -> Vec<Fr> {
    if p.is_empty() {
        return Vec::new();
    }
    let mut q = vec![Fr::ZERO; p.len() - 1];
    let mut carry = Fr::ZERO;
    for (q, &c) in q.iter_mut().rev().zip(p.iter().rev()) {
        let lead = c + carry;
        *q = lead;
        carry = lead * z;
    }
    q
}

/// [`kate_division`] in place: afterwards `p[0]` holds the remainder `p(z)` and `p[1..]` the
/// quotient.
pub fn kate_division_in_place(p: &mut [Fr], z: Fr) {
    for i in (1..p.len()).rev() {
        let carry = p[i] * z;
        p[i - 1] += carry;
    }
}

/// `Π (x − rᵢ)`.
pub fn vanishing_at(roots: &[Fr], x: Fr) -> Fr {
    roots.iter().fold(Fr::ONE, |acc, r| acc * (x - r))
}

/// The coefficients of the polynomial of degree `< points.len()` through `(pointsᵢ, evalsᵢ)`.
pub fn lagrange_interpolate(points: &[Fr], evals: &[Fr]) -> Vec<Fr> {
    let m = points.len();
    if m == 1 {
        return vec![evals[0]];
    }
    let mut out = vec![Fr::ZERO; m];
    for (j, (&xj, &yj)) in points.iter().zip(evals).enumerate() {
        // yⱼ · Π_{k≠j} (X − x_k) / (x_j − x_k)
        let mut denom: Vec<Fr> = points
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != j)
            .map(|(_, &xk)| xj - xk)
            .collect();
        batch_inversion(&mut denom);
        let mut basis = vec![Fr::ONE];
        for (&xk, d) in points
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != j)
            .map(|(_, x)| x)
            .zip(&denom)
        {
            let mut next = vec![Fr::ZERO; basis.len() + 1];
            for (i, b) in basis.iter().enumerate() {
                next[i] -= *b * xk * d;
                next[i + 1] += *b * d;
            }
            basis = next;
        }
        for (o, b) in out.iter_mut().zip(basis) {
            *o += b * yj;
        }
    }
    out
}

/// `xᵉ` for `e = 0..`: `1, x, x², …`.
pub fn powers(x: Fr) -> impl Iterator<Item = Fr> {
    core::iter::successors(Some(Fr::ONE), move |p| Some(*p * x))
}

#[cfg(test)]
mod tests {
    use ark_ff::UniformRand;

    use super::*;

    #[test]
    fn kate_division_divides() {
        let rng = &mut ark_std::test_rng();
        let p: Vec<Fr> = (0..17).map(|_| Fr::rand(rng)).collect();
        let z = Fr::rand(rng);
        let q = kate_division(&p, z);
        let x = Fr::rand(rng);
        // p(X) − p(z) = q(X)·(X − z)
        assert_eq!(eval(&p, x) - eval(&p, z), eval(&q, x) * (x - z));
    }

    #[test]
    fn kate_division_in_place_matches() {
        let rng = &mut ark_std::test_rng();
        let p: Vec<Fr> = (0..17).map(|_| Fr::rand(rng)).collect();
        let z = Fr::rand(rng);
        let mut w = p.clone();
        kate_division_in_place(&mut w, z);
        assert_eq!(w[1..], kate_division(&p, z)[..]);
        assert_eq!(w[0], eval(&p, z));
    }

    #[test]
    fn interpolation_goes_through_the_points() {
        let rng = &mut ark_std::test_rng();
        for m in 1..6 {
            let pts: Vec<Fr> = (0..m).map(|_| Fr::rand(rng)).collect();
            let ys: Vec<Fr> = (0..m).map(|_| Fr::rand(rng)).collect();
            let p = lagrange_interpolate(&pts, &ys);
            assert_eq!(p.len(), m);
            for (x, y) in pts.iter().zip(&ys) {
                assert_eq!(eval(&p, *x), *y);
            }
        }
    }
}
