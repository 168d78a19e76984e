//! NTT checks.

use accel_backends::{Backend, BackendError, Domain, Fr, NttOp, MAX_LOG_N};
use ark_ff::{AdditiveGroup, Field, UniformRand};
use halo2_proofs::{
    arithmetic::best_fft,
    halo2curves::{bn256::Fr as H2Fr, ff::WithSmallOrderMulGroup},
    poly::{EvaluationDomain, Polynomial},
};
use rand::Rng;

use crate::{ensure, oracle, Check, Failure, Limits};

fn run<B: Backend + ?Sized>(
    b: &mut B,
    what: &str,
    values: &[Fr],
    domain: &Domain,
    op: NttOp,
) -> Result<Vec<Fr>, Failure> {
    let mut v = values.to_vec();
    b.ntt(&mut v, domain, op)
        .map_err(|e| Failure(format!("{what}: 2^{}: {e}", domain.log_n())))?;
    Ok(v)
}

fn same(what: &str, log_n: u32, got: &[Fr], want: &[Fr]) -> Check {
    let first_bad = got.iter().zip(want).position(|(g, w)| g != w);
    ensure(got.len() == want.len() && first_bad.is_none(), || {
        format!(
            "{what}: 2^{log_n}: {} of {} outputs differ, first at index {:?}",
            got.iter().zip(want).filter(|(g, w)| g != w).count(),
            want.len(),
            first_bad
        )
    })
}

fn nonzero(rng: &mut impl Rng) -> Fr {
    loop {
        let g = Fr::rand(rng);
        if g != Fr::ZERO {
            return g;
        }
    }
}

/// Every size from 2^0 to the limit, with arkworks' root and halo2's, forward and inverse, on the
/// subgroup and on a random coset, against ark-poly.
pub fn against_ark_poly<B: Backend + ?Sized>(
    b: &mut B,
    rng: &mut impl Rng,
    limits: Limits,
) -> Check {
    for log_n in 0..=limits.max_ntt_log {
        for domain in [
            Domain::with_default_root(log_n),
            Domain::with_halo2_root(log_n),
        ] {
            let domain = domain.map_err(|e| Failure(format!("domain 2^{log_n}: {e}")))?;
            let a = oracle::scalars(rng, domain.size());
            let g = nonzero(rng);
            for (coset, op_f, op_i) in [
                (None, NttOp::forward(), NttOp::inverse()),
                (Some(g), NttOp::coset_forward(g), NttOp::coset_inverse(g)),
            ] {
                let ark = oracle::ark_domain(log_n, domain.omega(), coset);
                let got = run(b, "forward", &a, &domain, op_f)?;
                same(
                    "forward vs ark-poly fft",
                    log_n,
                    &got,
                    &oracle::ark_fft(&ark, &a),
                )?;
                let got = run(b, "inverse", &a, &domain, op_i)?;
                same(
                    "inverse vs ark-poly ifft",
                    log_n,
                    &got,
                    &oracle::ark_ifft(&ark, &a),
                )?;
            }
        }
    }
    Ok(())
}

/// Small sizes against the quadratic definition, with random cosets.
pub fn against_naive_dft<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    for log_n in 0..=6 {
        let domain = Domain::with_halo2_root(log_n).map_err(|e| Failure(e.to_string()))?;
        let n_inv = domain.size_inv();
        for g in [Fr::ONE, nonzero(rng)] {
            let a = oracle::scalars(rng, domain.size());
            let got = run(b, "forward", &a, &domain, NttOp::coset_forward(g))?;
            same(
                "forward vs naive DFT",
                log_n,
                &got,
                &oracle::naive_dft(&a, domain.omega(), g),
            )?;
            let got = run(b, "inverse", &a, &domain, NttOp::coset_inverse(g))?;
            let g_inv = g.inverse().unwrap_or(Fr::ONE);
            let mut want = oracle::naive_dft(&a, domain.omega_inv(), Fr::ONE);
            let mut s = n_inv;
            for w in &mut want {
                *w *= s;
                s *= g_inv;
            }
            same("inverse vs naive DFT", log_n, &got, &want)?;
        }
    }
    Ok(())
}

/// halo2-axiom's `EvaluationDomain`: its roots, `best_fft`, `lagrange_to_coeff`,
/// `coeff_to_extended` (coset ζ) and `extended_to_coeff`.
pub fn against_halo2<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng, limits: Limits) -> Check {
    let zeta = oracle::from_halo2(&H2Fr::ZETA);
    // Degree-3 constraints: the extended domain is twice the size.
    for k in 1..limits.max_ntt_log.min(MAX_LOG_N) {
        let h = EvaluationDomain::<H2Fr>::new(3, k);
        let n = 1usize << k;
        let domain = Domain::with_halo2_root(k).map_err(|e| Failure(e.to_string()))?;
        let ext = Domain::with_halo2_root(h.extended_k()).map_err(|e| Failure(e.to_string()))?;
        ensure(domain.omega() == oracle::from_halo2(&h.get_omega()), || {
            format!("Domain::with_halo2_root({k}) ≠ halo2's omega")
        })?;
        ensure(
            ext.omega() == oracle::from_halo2(&h.get_extended_omega()),
            || {
                format!(
                    "Domain::with_halo2_root({}) ≠ halo2's extended omega",
                    h.extended_k()
                )
            },
        )?;

        let a = oracle::scalars(rng, n);
        let a_h: Vec<H2Fr> = a.iter().map(oracle::to_halo2).collect();

        let mut want = a_h.clone();
        best_fft(&mut want, h.get_omega(), k, h.get_fft_data(n), false);
        let got = run(b, "forward", &a, &domain, NttOp::forward())?;
        same("forward vs halo2 best_fft", k, &got, &to_ark(&want))?;

        let want = h.lagrange_to_coeff(h.lagrange_from_vec(a_h.clone()));
        let got = run(b, "inverse", &a, &domain, NttOp::inverse())?;
        same(
            "inverse vs halo2 lagrange_to_coeff",
            k,
            &got,
            &to_ark(&want),
        )?;

        let want = h.coeff_to_extended(&h.coeff_from_vec(a_h));
        let mut padded = a.clone();
        padded.resize(ext.size(), Fr::ZERO);
        let got = run(
            b,
            "coset forward",
            &padded,
            &ext,
            NttOp::coset_forward(zeta),
        )?;
        same(
            "coset forward vs halo2 coeff_to_extended",
            ext.log_n(),
            &got,
            &to_ark(&want),
        )?;

        let e = oracle::scalars(rng, ext.size());
        let want = h.extended_to_coeff(Polynomial::new(e.iter().map(oracle::to_halo2).collect()));
        let got = run(b, "coset inverse", &e, &ext, NttOp::coset_inverse(zeta))?;
        same(
            "coset inverse vs halo2 extended_to_coeff",
            ext.log_n(),
            &got[..want.len()],
            &to_ark(&want),
        )?;
    }
    Ok(())
}

fn to_ark(v: &[H2Fr]) -> Vec<Fr> {
    v.iter().map(oracle::from_halo2).collect()
}

/// forward ∘ inverse and coset-forward ∘ coset-inverse are the identity, both ways round.
pub fn round_trips<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng, limits: Limits) -> Check {
    for log_n in 0..=limits.max_ntt_log {
        let domain = Domain::with_halo2_root(log_n).map_err(|e| Failure(e.to_string()))?;
        let a = oracle::scalars(rng, domain.size());
        let g = nonzero(rng);
        for (f, i) in [
            (NttOp::forward(), NttOp::inverse()),
            (NttOp::coset_forward(g), NttOp::coset_inverse(g)),
        ] {
            let there = run(b, "forward", &a, &domain, f)?;
            same(
                "inverse(forward(a)) = a",
                log_n,
                &run(b, "inverse", &there, &domain, i)?,
                &a,
            )?;
            let back = run(b, "inverse", &a, &domain, i)?;
            same(
                "forward(inverse(a)) = a",
                log_n,
                &run(b, "forward", &back, &domain, f)?,
                &a,
            )?;
        }
    }
    Ok(())
}

/// A batch equals the same transforms one by one, for every kind of transform and for batches
/// of small vectors (which a backend may spread over threads, a transform each) as well as
/// larger ones; the counters count them.
pub fn batches<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    let g = nonzero(rng);
    for (log_n, count) in [(10u32, 3usize), (6, 7), (1, 2)] {
        let domain = Domain::with_halo2_root(log_n).map_err(|e| Failure(e.to_string()))?;
        let n = 1usize << log_n;
        let ops = [
            ("forward", NttOp::forward(), None, false),
            ("inverse", NttOp::inverse(), None, true),
            ("coset forward", NttOp::coset_forward(g), Some(g), false),
            ("coset inverse", NttOp::coset_inverse(g), Some(g), true),
        ];
        for (what, op, coset, inverse) in ops {
            let inputs: Vec<Vec<Fr>> = (0..count).map(|_| oracle::scalars(rng, n)).collect();
            let mut batch = inputs.clone();
            let before = *b.counters();
            {
                let mut views: Vec<&mut [Fr]> =
                    batch.iter_mut().map(|v| v.as_mut_slice()).collect();
                b.ntt_batch(&mut views, &domain, op).map_err(|e| {
                    Failure(format!("batch of {count} {what} NTTs of 2^{log_n}: {e}"))
                })?;
            }
            let counted = b.counters().since(&before);
            let ark = oracle::ark_domain(log_n, domain.omega(), coset);
            for (input, got) in inputs.iter().zip(&batch) {
                let want = if inverse {
                    oracle::ark_ifft(&ark, input)
                } else {
                    oracle::ark_fft(&ark, input)
                };
                same(&format!("batched {what}"), log_n, got, &want)?;
            }
            ensure(
                counted.ntt_calls == count as u64 && counted.ntt_elements == (count * n) as u64,
                || format!("counters after a batch of {count} 2^{log_n} NTTs: {counted:?}"),
            )?;
        }
    }
    Ok(())
}

/// Mismatched lengths, a zero coset generator, oversize and malformed domains are typed errors.
pub fn errors<B: Backend + ?Sized>(b: &mut B) -> Check {
    let domain = Domain::with_halo2_root(4).map_err(|e| Failure(e.to_string()))?;
    let mut short = vec![Fr::ONE; 15];
    let got = b.ntt(&mut short, &domain, NttOp::forward());
    ensure(
        got == Err(BackendError::DomainMismatch { len: 15, log_n: 4 }),
        || format!("15 values on a 2^4 domain gave {got:?}"),
    )?;
    ensure(short.iter().all(|x| *x == Fr::ONE), || {
        "a refused NTT changed its input".into()
    })?;
    let mut v = vec![Fr::ONE; 16];
    let got = b.ntt(&mut v, &domain, NttOp::coset_forward(Fr::ZERO));
    ensure(got == Err(BackendError::ZeroCosetGenerator), || {
        format!("coset generator 0 gave {got:?}")
    })?;

    let max = b.capabilities().max_ntt_log_n;
    if max < MAX_LOG_N {
        let big = Domain::with_halo2_root(max + 1).map_err(|e| Failure(e.to_string()))?;
        let got = b.ntt(&mut v, &big, NttOp::forward());
        ensure(
            matches!(got, Err(BackendError::SizeUnsupported { .. })),
            || format!("an NTT beyond the backend's 2^{max} gave {got:?}"),
        )?;
    }

    let got = Domain::new(4, domain.omega().square());
    ensure(got == Err(BackendError::InvalidRoot { log_n: 4 }), || {
        format!("a root of order 8 for a domain of 16 gave {got:?}")
    })?;
    let got = Domain::new(MAX_LOG_N + 1, Fr::ONE);
    ensure(
        matches!(got, Err(BackendError::SizeUnsupported { .. })),
        || format!("a domain of 2^29 gave {got:?}"),
    )?;
    Ok(())
}
