//! MSM checks.

use accel_backends::{
    Backend, BackendError, BasesConfig, BasesHandle, Fr, G1Affine, G1Projective, MsmJob,
};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ff::Field;
use rand::Rng;

use crate::{ensure, oracle, Check, Failure, Limits};

fn load<B: Backend + ?Sized>(b: &mut B, bases: &[G1Affine]) -> Result<BasesHandle, Failure> {
    b.load_bases(bases).map_err(|e| {
        Failure(format!(
            "{}: loading {} bases failed: {e}",
            b.name(),
            bases.len()
        ))
    })
}

/// One MSM on the backend, compared with arkworks and (when `naive`) the naive sum.
fn compare<B: Backend + ?Sized>(
    b: &mut B,
    what: &str,
    bases: &[G1Affine],
    scalars: &[Fr],
    naive: bool,
) -> Check {
    let handle = load(b, bases)?;
    let got = b.msm(handle, 0, scalars);
    b.release_bases(handle)
        .map_err(|e| Failure(format!("release failed: {e}")))?;
    let got = got.map_err(|e| Failure(format!("{what}: n = {}: {e}", scalars.len())))?;
    let ark = oracle::ark_msm(bases, scalars);
    ensure(got == ark, || {
        format!(
            "{what}: n = {}: backend {} ≠ arkworks {}",
            scalars.len(),
            oracle::show(&got),
            oracle::show(&ark)
        )
    })?;
    if naive {
        let slow = oracle::naive_msm(bases, scalars);
        ensure(got == slow, || {
            format!(
                "{what}: n = {}: backend ≠ naive double-and-add sum",
                scalars.len()
            )
        })?;
    }
    Ok(())
}

/// The sizes the issue lists (up to the backend's limit), random bases and scalars, against
/// arkworks and the naive sum.
pub fn random_sizes<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng, limits: Limits) -> Check {
    let mut sizes = vec![0, 1, 2, 3, 255, 1000, (1 << 13) + 7];
    sizes.extend((0..=limits.max_msm_log).map(|k| 1usize << k));
    sizes.retain(|&n| n <= 1 << limits.max_msm_log);
    sizes.sort_unstable();
    sizes.dedup();
    let largest = *sizes.last().unwrap_or(&0);
    let bases = oracle::points(rng, largest);
    for n in sizes {
        let scalars = oracle::scalars(rng, n);
        compare(b, "random", &bases[..n], &scalars, true)?;
    }
    Ok(())
}

/// Inputs that break bucket methods: zero and `r − 1` scalars, identity bases, repeated bases,
/// opposite bases, scalars with all digits at their extremes; at two sizes, so that a backend
/// with a small-MSM path and a large one (the CPU backend: every window's buckets in one pass up
/// to 2^11 points, one pass per window above) is held to both.
pub fn edge_cases<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    for n in [300, 5000] {
        edge_cases_of(b, rng, n)?;
    }
    Ok(())
}

fn edge_cases_of<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng, n: usize) -> Check {
    let bases = oracle::points(rng, n);
    let random = oracle::scalars(rng, n);
    let minus_one = -Fr::ONE;

    compare(b, "all scalars zero", &bases, &vec![Fr::ZERO; n], true)?;
    let some_zero: Vec<Fr> = random
        .iter()
        .enumerate()
        .map(|(i, s)| if i % 3 == 0 { Fr::ZERO } else { *s })
        .collect();
    compare(b, "every third scalar zero", &bases, &some_zero, false)?;
    compare(b, "all scalars r − 1", &bases, &vec![minus_one; n], true)?;
    compare(b, "all scalars one", &bases, &vec![Fr::ONE; n], false)?;
    let small: Vec<Fr> = (0..n).map(|i| Fr::from((i % 5) as u64)).collect();
    compare(b, "small scalars", &bases, &small, false)?;
    // 2^k − 1 and 2^k: every window digit at an extreme, carries running through all windows.
    let extremes: Vec<Fr> = (0..n)
        .map(|i| {
            let k = (i % 253) as u64 + 1;
            let p = Fr::from(2u64).pow([k]);
            if i % 2 == 0 {
                p - Fr::ONE
            } else {
                p
            }
        })
        .collect();
    compare(b, "scalars 2^k and 2^k − 1", &bases, &extremes, false)?;

    let mut with_identity = bases.clone();
    for p in with_identity.iter_mut().step_by(4) {
        *p = G1Affine::zero();
    }
    compare(
        b,
        "every fourth base the identity",
        &with_identity,
        &random,
        true,
    )?;
    compare(
        b,
        "all bases the identity",
        &vec![G1Affine::zero(); n],
        &random,
        false,
    )?;

    let same = vec![bases[0]; n];
    compare(b, "one base repeated", &same, &random, false)?;
    compare(
        b,
        "one base repeated, scalar repeated",
        &same,
        &vec![random[0]; n],
        true,
    )?;
    // P and −P with equal scalars: every pair cancels, in every bucket.
    let opposite: Vec<G1Affine> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                bases[i / 2]
            } else {
                -bases[i / 2]
            }
        })
        .collect();
    let paired: Vec<Fr> = (0..n).map(|i| random[i / 2]).collect();
    compare(
        b,
        "opposite bases, equal scalars",
        &opposite,
        &paired,
        false,
    )?;
    // Few distinct bases and scalars: many equal points meet in the same bucket.
    let few: Vec<G1Affine> = (0..n).map(|i| bases[i % 3]).collect();
    let few_s: Vec<Fr> = (0..n).map(|i| random[i % 7]).collect();
    compare(b, "three bases, seven scalars", &few, &few_s, true)?;
    Ok(())
}

/// MSMs over sub-ranges of one loaded set, as a prover commits polynomials of several lengths
/// against one SRS.
pub fn sub_ranges<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    let len = 4096;
    let bases = oracle::points(rng, len);
    let handle = load(b, &bases)?;
    let ranges = [
        (0, len),
        (0, 1),
        (0, 1000),
        (17, 1000),
        (len - 700, 700),
        (2048, 2048),
        (len, 0),
    ];
    for (start, n) in ranges {
        let scalars = oracle::scalars(rng, n);
        let got = b
            .msm(handle, start, &scalars)
            .map_err(|e| Failure(format!("range {start}..{}: {e}", start + n)))?;
        let want = oracle::ark_msm(&bases[start..start + n], &scalars);
        ensure(got == want, || {
            format!("range {start}..{}: backend ≠ arkworks", start + n)
        })?;
    }
    b.release_bases(handle)
        .map_err(|e| Failure(format!("release failed: {e}")))
}

/// A batch of MSMs equals the same MSMs one by one, and the counters count them.
pub fn batches<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    // Large and small jobs interleaved, one of them narrow: a backend may run the small ones
    // side by side and the large ones apart, and must still answer in the jobs' order.
    let n = 4200;
    let bases = oracle::points(rng, n);
    let handle = load(b, &bases)?;
    let sizes = [2048, 4100, 1024, 3, 0, 600];
    let mut scalars: Vec<Vec<Fr>> = sizes[..5]
        .iter()
        .map(|&m| oracle::scalars(rng, m))
        .collect();
    scalars.push((0..sizes[5]).map(|_| Fr::from(rng.gen::<u8>())).collect());
    let jobs: Vec<MsmJob<'_>> = scalars
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let job = MsmJob::new(handle, n - s.len() - i, s);
            if i == 5 {
                job.with_scalar_bits(8)
            } else {
                job
            }
        })
        .collect();
    let before = *b.counters();
    let got = b
        .msm_batch(&jobs)
        .map_err(|e| Failure(format!("batch: {e}")))?;
    let counted = b.counters().since(&before);
    ensure(got.len() == jobs.len(), || {
        format!("batch of {} gave {} results", jobs.len(), got.len())
    })?;
    for (k, (job, sum)) in jobs.iter().zip(&got).enumerate() {
        let want = oracle::ark_msm(&bases[job.start..], job.scalars);
        ensure(*sum == want, || {
            format!("batch job {k} of {} ≠ arkworks", job.scalars.len())
        })?;
    }
    let terms: usize = sizes.iter().sum();
    ensure(
        counted.msm_calls == jobs.len() as u64 && counted.msm_elements == terms as u64,
        || format!("counters after a batch of 6 MSMs ({terms} terms): {counted:?}"),
    )?;
    b.release_bases(handle)
        .map_err(|e| Failure(format!("release failed: {e}")))
}

/// Bad handles and ranges come back as the matching typed error, never as a panic or a sum.
pub fn errors<B: Backend + ?Sized>(b: &mut B) -> Check {
    let g = G1Affine::generator();
    let handle = load(b, &[g; 8])?;
    let one = [Fr::ONE; 4];

    let got = b.msm(handle, 6, &one);
    ensure(
        matches!(
            got,
            Err(BackendError::BasesOutOfRange {
                start: 6,
                end: 10,
                loaded: 8,
                ..
            })
        ),
        || format!("MSM past the end of the bases gave {got:?}"),
    )?;
    let got = b.msm(handle, usize::MAX, &one);
    ensure(
        matches!(got, Err(BackendError::BasesOutOfRange { .. })),
        || format!("MSM whose range overflows gave {got:?}"),
    )?;
    let ok = b
        .msm(handle, 4, &one)
        .map_err(|e| Failure(format!("last four bases: {e}")))?;
    ensure(ok == G1Projective::from(g) * Fr::from(4u64), || {
        "4·g over the last four bases".into()
    })?;

    b.release_bases(handle)
        .map_err(|e| Failure(format!("release failed: {e}")))?;
    let got = b.msm(handle, 0, &one);
    ensure(got == Err(BackendError::UnknownBases(handle)), || {
        format!("MSM on a released handle gave {got:?}")
    })?;
    let got = b.release_bases(handle);
    ensure(got == Err(BackendError::UnknownBases(handle)), || {
        format!("releasing twice gave {got:?}")
    })?;

    // Handles are branded by their backend: another backend's handle, with whatever number,
    // names nothing here — not this backend's set of the same number.
    let mine = load(b, &[g; 8])?;
    let mut other = accel_backends::CpuBackend::new();
    for _ in 0..3 {
        let theirs = other
            .load_bases(&[g; 8])
            .map_err(|e| Failure(format!("second backend: {e}")))?;
        let got = b.msm(theirs, 0, &one);
        ensure(got == Err(BackendError::UnknownBases(theirs)), || {
            format!("MSM with another backend's handle {theirs} gave {got:?}")
        })?;
        let got = b.release_bases(theirs);
        ensure(got == Err(BackendError::UnknownBases(theirs)), || {
            format!("releasing another backend's handle gave {got:?}")
        })?;
    }
    let detached = BasesHandle::detached(mine.id());
    let got = b.msm(detached, 0, &one);
    ensure(got == Err(BackendError::UnknownBases(detached)), || {
        format!("MSM with a detached handle of a live set's id gave {got:?}")
    })?;
    ensure(b.bases_len(detached).is_none(), || {
        "bases_len of a detached handle".into()
    })?;
    b.release_bases(mine)
        .map_err(|e| Failure(format!("release failed: {e}")))?;

    let off_curve = G1Affine::new_unchecked(ark_bn254::Fq::ONE, ark_bn254::Fq::ONE);
    let got = b.load_bases(&[g, g, off_curve]);
    ensure(got == Err(BackendError::InvalidBase { index: 2 }), || {
        format!("loading a point off the curve gave {got:?}")
    })?;
    // The identity and a negated point are valid bases.
    let got = b.load_bases(&[G1Affine::zero(), -g]);
    ensure(got.is_ok(), || {
        format!("loading the identity and −g gave {got:?}")
    })?;
    if let Ok(h) = got {
        let sum = b.msm(h, 0, &[Fr::from(5u64), Fr::from(2u64)]);
        ensure(
            sum.map(|s| s.into_affine()) == Ok((-g * Fr::from(2u64)).into_affine()),
            || "5·∞ + 2·(−g)".into(),
        )?;
        b.release_bases(h)
            .map_err(|e| Failure(format!("release failed: {e}")))?;
    }
    Ok(())
}

/// Bases loaded with precomputed multiples ([`BasesConfig::precomputed`]) give the same sums as
/// plain ones, over the whole set and sub-ranges, for edge-case scalars and width hints, at
/// every precomputation factor up to the backend's.
pub fn precomputed<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    let n = (1 << 13) + 7;
    let mut bases = oracle::points(rng, n);
    // Identity and opposite bases survive the doublings too.
    bases[3] = G1Affine::zero();
    bases[4] = -bases[5];
    let max = b.capabilities().max_precompute;
    let mut factors = vec![2, 4, max];
    factors.retain(|&f| f <= max.max(2));
    factors.dedup();
    for factor in factors {
        let handle = b
            .load_bases_with(&bases, BasesConfig::precomputed(factor))
            .map_err(|e| Failure(format!("loading with precompute {factor}: {e}")))?;
        let memory = b.bases_memory_factor(handle).unwrap_or(0);
        ensure((1..=factor.max(1)).contains(&memory), || {
            format!("precompute {factor}: memory factor {memory}")
        })?;
        // One batch: large jobs and small ones, some of which the table takes and some not.
        let ranges = [
            (0, n),
            (0, n - 100),
            (17, 5000),
            (n - 600, 600),
            (0, 1),
            (100, 300),
        ];
        let scalars: Vec<Vec<Fr>> = ranges
            .iter()
            .map(|&(_, len)| oracle::scalars(rng, len))
            .collect();
        let jobs: Vec<MsmJob<'_>> = ranges
            .iter()
            .zip(&scalars)
            .map(|(&(start, _), s)| MsmJob::new(handle, start, s))
            .collect();
        let sums = b
            .msm_batch(&jobs)
            .map_err(|e| Failure(format!("precompute {factor}, batch: {e}")))?;
        for ((&(start, len), s), got) in ranges.iter().zip(&scalars).zip(&sums) {
            let want = oracle::ark_msm(&bases[start..start + len], s);
            ensure(*got == want, || {
                format!("precompute {factor}: range {start}..+{len}: backend ≠ arkworks")
            })?;
        }
        let edges: Vec<Fr> = (0..n)
            .map(|i| match i % 4 {
                0 => -Fr::ONE,
                1 => Fr::ZERO,
                2 => Fr::from(2u64).pow([(i % 253) as u64]),
                _ => Fr::from(2u64).pow([(i % 253) as u64]) - Fr::ONE,
            })
            .collect();
        let got = b
            .msm(handle, 0, &edges)
            .map_err(|e| Failure(format!("precompute {factor}, edge scalars: {e}")))?;
        ensure(got == oracle::ark_msm(&bases, &edges), || {
            format!("precompute {factor}: edge scalars: backend ≠ arkworks")
        })?;
        let small: Vec<Fr> = (0..n as u64)
            .map(|i| {
                if i % 2 == 0 {
                    Fr::from(i % 200)
                } else {
                    -Fr::from(i % 200)
                }
            })
            .collect();
        let job = MsmJob::new(handle, 0, &small).with_scalar_bits(8);
        let got = b
            .msm_job(&job)
            .map_err(|e| Failure(format!("precompute {factor}, int8 scalars: {e}")))?;
        ensure(got == oracle::ark_msm(&bases, &small), || {
            format!("precompute {factor}: int8 scalars with a hint: backend ≠ arkworks")
        })?;
        b.release_bases(handle)
            .map_err(|e| Failure(format!("release failed: {e}")))?;
    }
    Ok(())
}
