//! Checks of an accelerator's results, cheap next to computing them, that a wrong result fails
//! except with negligible probability (over the verifier's randomness, which the accelerator
//! never sees before it answers).
//!
//! - **NTT**: the output must be the input's transform. Both sides are read as one polynomial
//!   — coefficients on one side, evaluations on the coset `g·⟨ω⟩` on the other — and compared
//!   at a random point `ρ`: Horner on the coefficients, the barycentric formula on the
//!   evaluations. A wrong output passes with probability at most `n / |Fr|` (about `2^-238`).
//!   Cost: about seven field multiplications per element (one batch inversion), against
//!   `n/2 · log n` for the NTT itself.
//! - **MSM over an SRS basis** (the only bases a prover uses): an MSM over the monomial basis
//!   `[τⁱ]G` is the KZG commitment to the polynomial whose coefficients are its scalars (over
//!   the Lagrange basis `[Lᵢ(τ)]G`, to the polynomial whose evaluations they are). The results
//!   of a batch over one basis are combined with random powers of `γ`, and the combination is
//!   opened at a random point `z`: the quotient's commitment `π` is one more MSM, asked of the
//!   accelerator too, and `e(C − v·G + z·π, H) = e(π, [τ]H)` must hold. A wrong `C` passes
//!   only if the accelerator can open a wrong commitment (it cannot, under the q-SDH
//!   assumption KZG rests on) or guessed `γ` or `z` (probability `~n/|Fr|`). Cost: one MSM of
//!   the basis' length on the accelerator per batch, a few field multiplications per scalar,
//!   and two pairings.

use alloc::vec::Vec;

use ark_bn254::{Bn254, G2Affine};
use ark_ec::{pairing::Pairing, AffineRepr, CurveGroup};
use ark_ff::{batch_inversion, AdditiveGroup, Field, One, Zero};

use crate::{Domain, Fr, G1Affine, G1Projective, NttDirection, NttOp};

/// What a router needs of an SRS to check MSMs over its bases: `G`, `H` and `[τ]H`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrsCheck {
    /// The generator of G1 the SRS starts from (`[τ⁰]G`).
    pub g1: G1Affine,
    /// The generator of G2.
    pub g2: G2Affine,
    /// `[τ]H`.
    pub tau_g2: G2Affine,
}

/// Which SRS basis a set of bases is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// `[τⁱ]G`, `i < len`.
    Monomial,
    /// `[Lᵢ(τ)]G` over the domain (halo2's root of unity).
    Lagrange(Domain),
}

impl SrsCheck {
    /// Which basis `bases` is, if it is one: the monomial basis starts `G, [τ]G` (checked with
    /// a pairing), and the Lagrange basis of a domain sums to `G` (`Σ Lᵢ = 1`). Anything else
    /// (or a basis that only looks like one) cannot be checked this way; a wrong guess only
    /// makes checks fail, and the jobs run on the reference.
    pub fn classify(&self, bases: &[G1Affine]) -> Option<Basis> {
        if bases.len() < 2 {
            return None;
        }
        if bases[0] == self.g1 {
            let lhs = Bn254::pairing(bases[1], self.g2);
            let rhs = Bn254::pairing(self.g1, self.tau_g2);
            return (lhs == rhs).then_some(Basis::Monomial);
        }
        let n = bases.len();
        if !n.is_power_of_two() {
            return None;
        }
        let sum: G1Projective = bases.iter().map(|p| p.into_group()).sum();
        if sum.into_affine() != self.g1 {
            return None;
        }
        let domain = Domain::with_halo2_root(n.trailing_zeros()).ok()?;
        Some(Basis::Lagrange(domain))
    }
}

/// `Σ c_i x^i`.
fn horner(c: &[Fr], x: Fr) -> Fr {
    c.iter().rev().fold(Fr::ZERO, |acc, &ci| acc * x + ci)
}

/// `1 / (u − ωⁱ)` for every `i < n`, and `ωⁱ` beside it; `None` if `u` is one of the `ωⁱ`.
fn inverse_distances(domain: &Domain, u: Fr) -> Option<(Vec<Fr>, Vec<Fr>)> {
    let n = domain.size();
    let mut powers = Vec::with_capacity(n);
    let mut w = Fr::ONE;
    for _ in 0..n {
        powers.push(w);
        w *= domain.omega();
    }
    let mut inv: Vec<Fr> = powers.iter().map(|&wi| u - wi).collect();
    if inv.iter().any(Zero::is_zero) {
        return None;
    }
    batch_inversion(&mut inv);
    Some((powers, inv))
}

/// The polynomial of degree `< n` whose values on `⟨ω⟩` are `evals`, at `u` (barycentric).
fn barycentric(evals: &[Fr], domain: &Domain, u: Fr) -> Option<Fr> {
    let (powers, inv) = inverse_distances(domain, u)?;
    let sum: Fr = evals
        .iter()
        .zip(powers.iter().zip(&inv))
        .map(|(&e, (&w, &d))| e * w * d)
        .sum();
    Some((u.pow([domain.size() as u64]) - Fr::ONE) * domain.size_inv() * sum)
}

/// Whether `output` is the NTT `op` of `input` over `domain`, tested at `rho`.
pub fn ntt_holds(input: &[Fr], output: &[Fr], domain: &Domain, op: NttOp, rho: Fr) -> bool {
    if input.len() != domain.size() || output.len() != domain.size() {
        return false;
    }
    let (coeffs, evals) = match op.direction {
        NttDirection::Forward => (input, output),
        NttDirection::Inverse => (output, input),
    };
    // Evaluations on g·⟨ω⟩ are those of p(g·X) on ⟨ω⟩: compare p(ρ) with them at ρ / g.
    let g = op.coset.unwrap_or(Fr::ONE);
    let Some(g_inv) = g.inverse() else {
        return false;
    };
    match barycentric(evals, domain, rho * g_inv) {
        Some(v) => v == horner(coeffs, rho),
        // ρ hit the domain (probability n/|Fr|): no verdict from this point.
        None => false,
    }
}

/// One MSM result to check: `Σ scalars[i] · B[start + i]`, claimed to be `sum`.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// The first base.
    pub start: usize,
    /// The scalars.
    pub scalars: &'a [Fr],
    /// The result claimed.
    pub sum: G1Projective,
}

/// An opening to be computed: the quotient's scalars (over the whole basis from 0), and what
/// the pairing check needs besides its commitment.
pub struct Opening {
    /// Scalars of the quotient's commitment `π`, over the basis from index 0.
    pub quotient: Vec<Fr>,
    /// The combined claim `C`.
    pub combined: G1Projective,
    /// The combined polynomial at `z`.
    pub value: Fr,
    /// The opening point.
    pub z: Fr,
}

/// Combines the `claims` over one basis of `len` points with powers of `gamma` and prepares
/// their opening at `z`; `None` if `z` hit the domain (negligible) or a claim runs past the
/// basis.
pub fn open(basis: Basis, len: usize, claims: &[Claim<'_>], gamma: Fr, z: Fr) -> Option<Opening> {
    let mut c = Vec::new();
    c.try_reserve_exact(len).ok()?;
    c.resize(len, Fr::ZERO);
    let mut combined = G1Projective::zero();
    let mut power = Fr::ONE;
    for claim in claims {
        let end = claim.start.checked_add(claim.scalars.len())?;
        let dst = c.get_mut(claim.start..end)?;
        for (d, &s) in dst.iter_mut().zip(claim.scalars) {
            *d += power * s;
        }
        combined += claim.sum * power;
        power *= gamma;
    }
    let (quotient, value) = match basis {
        Basis::Monomial => {
            // Synthetic division of p by (X − z): q_{i−1} = c_i + z·q_i, remainder p(z).
            let mut q = Vec::with_capacity(len.saturating_sub(1));
            let mut acc = Fr::ZERO;
            for &ci in c.iter().rev() {
                acc = acc * z + ci;
                q.push(acc);
            }
            let value = q.pop().unwrap_or(Fr::ZERO);
            q.reverse();
            (q, value)
        }
        Basis::Lagrange(domain) => {
            if domain.size() != len {
                return None;
            }
            // q(ωⁱ) = (p(ωⁱ) − p(z)) / (ωⁱ − z).
            let value = barycentric(&c, &domain, z)?;
            let (_, inv) = inverse_distances(&domain, z)?;
            let q = c
                .iter()
                .zip(&inv)
                .map(|(&ci, &d)| (value - ci) * d)
                .collect();
            (q, value)
        }
    };
    Some(Opening {
        quotient,
        combined,
        value,
        z,
    })
}

/// Whether the opening holds with `pi`, the commitment to its quotient.
pub fn opening_holds(srs: &SrsCheck, opening: &Opening, pi: G1Projective) -> bool {
    let lhs = opening.combined - srs.g1 * opening.value + pi * opening.z;
    let pairs = Bn254::multi_pairing(
        [lhs.into_affine(), (-pi).into_affine()],
        [srs.g2, srs.tau_g2],
    );
    pairs.0.is_one()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, CpuBackend};
    use ark_ec::PrimeGroup;
    use ark_std::{test_rng, UniformRand};

    fn srs(n: usize) -> (SrsCheck, Vec<G1Affine>, Vec<G1Affine>, Domain) {
        let rng = &mut test_rng();
        let tau = Fr::rand(rng);
        let g = G1Projective::generator();
        let h = ark_bn254::G2Projective::generator();
        let monomial: Vec<G1Affine> = (0..n as u64)
            .map(|i| (g * tau.pow([i])).into_affine())
            .collect();
        let domain = Domain::with_halo2_root(n.trailing_zeros()).unwrap();
        // L_i(τ) = (τⁿ − 1)/n · ωⁱ/(τ − ωⁱ).
        let (powers, inv) = inverse_distances(&domain, tau).unwrap();
        let scale = (tau.pow([n as u64]) - Fr::ONE) * domain.size_inv();
        let lagrange = powers
            .iter()
            .zip(&inv)
            .map(|(&w, &d)| (g * (scale * w * d)).into_affine())
            .collect();
        let check = SrsCheck {
            g1: g.into_affine(),
            g2: h.into_affine(),
            tau_g2: (h * tau).into_affine(),
        };
        (check, monomial, lagrange, domain)
    }

    #[test]
    fn right_ntts_hold_and_wrong_ones_fail_at_a_random_point() {
        let rng = &mut test_rng();
        let domain = Domain::with_halo2_root(6).unwrap();
        let input: Vec<Fr> = (0..64).map(|_| Fr::rand(rng)).collect();
        for op in [
            NttOp::forward(),
            NttOp::inverse(),
            NttOp::coset_forward(Fr::from(7u64)),
            NttOp::coset_inverse(Fr::from(5u64)),
        ] {
            let mut out = input.clone();
            CpuBackend::new().ntt(&mut out, &domain, op).unwrap();
            let rho = Fr::rand(rng);
            assert!(ntt_holds(&input, &out, &domain, op, rho), "{op:?}");
            let mut wrong = out.clone();
            wrong[37] += Fr::ONE;
            assert!(!ntt_holds(&input, &wrong, &domain, op, rho), "{op:?}");
            // The coset forgotten.
            let mut plain = input.clone();
            let no_coset = NttOp { coset: None, ..op };
            CpuBackend::new()
                .ntt(&mut plain, &domain, no_coset)
                .unwrap();
            if op.coset.is_some() {
                assert!(!ntt_holds(&input, &plain, &domain, op, rho), "{op:?}");
            }
        }
    }

    #[test]
    fn msm_openings_hold_for_right_sums_and_fail_for_lies() {
        let rng = &mut test_rng();
        let n = 64;
        let (check, monomial, lagrange, domain) = srs(n);
        assert_eq!(check.classify(&monomial), Some(Basis::Monomial));
        assert_eq!(check.classify(&lagrange), Some(Basis::Lagrange(domain)));
        assert_eq!(check.classify(&monomial[1..]), None);
        for (basis, bases) in [
            (Basis::Monomial, &monomial),
            (Basis::Lagrange(domain), &lagrange),
        ] {
            let s1: Vec<Fr> = (0..40).map(|_| Fr::rand(rng)).collect();
            let s2: Vec<Fr> = (0..64).map(|_| Fr::rand(rng)).collect();
            let sum1 = crate::cpu::msm(&bases[10..], &s1);
            let sum2 = crate::cpu::msm(bases, &s2);
            let mut verdict = |sum1: G1Projective| {
                let claims = [
                    Claim {
                        start: 10,
                        scalars: &s1,
                        sum: sum1,
                    },
                    Claim {
                        start: 0,
                        scalars: &s2,
                        sum: sum2,
                    },
                ];
                let o = open(basis, n, &claims, Fr::rand(rng), Fr::rand(rng)).unwrap();
                let pi = crate::cpu::msm(bases, &o.quotient);
                opening_holds(&check, &o, pi)
            };
            assert!(verdict(sum1), "{basis:?}");
            assert!(!verdict(-sum1), "{basis:?}: the negated sum");
            assert!(!verdict(sum1 + G1Projective::generator()), "{basis:?}");
        }
    }
}
