//! The zkedge prover: halo2-axiom's PLONK with KZG (GWC or SHPLONK multi-opening), written over
//! the [`Backend`] trait so that every MSM and every NTT of a proof goes to the backend the
//! caller chose. Its proofs are checked by halo2-axiom's own `verify_proof`.
//!
//! The protocol follows halo2-axiom 0.5.3's `create_proof` step for step — the transcript must
//! read back in the verifier's order — for single-phase circuits with custom gates at any
//! rotation, lookups (the permuted-input argument), the permutation argument in chunks and
//! instance columns. The quotient is evaluated coset by coset on `2^(extended_k − k)` cosets of
//! the rows' domain, as halo2-axiom does, which keeps one coset of each polynomial in memory at
//! a time.

mod key;
mod lookup;
mod open;
mod par;
mod permutation;
mod poly;
mod progress;
mod quotient;
mod transcript;

use alloc::{vec, vec::Vec};

use accel_backends::{width, Backend, BackendError, BasesHandle, Domain, MsmJob, NttOp};
use ark_ec::CurveGroup;
use ark_ff::{AdditiveGroup, Field, UniformRand};
use rand_core::RngCore;

use ark_bn254::G1Projective;
pub use ark_bn254::{Fr, G1Affine};
pub use key::{
    bytes, to_bytes, Bytes32, Column, ColumnKind, ColumnValues, Expression, ExpressionFile,
    KeyError, KeyFile, Lookup, LookupFile, Node, Op, ProvingKey, Query, KEY_MAGIC, KEY_VERSION,
    MAX_KEY_K,
};
pub use open::MultiOpen;
use progress::Tracker;
pub use progress::{Phase, Progress};
pub use transcript::{compress, Transcript};

/// Why a proof could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProveError {
    /// The backend failed or refused.
    #[error("backend: {0}")]
    Backend(#[from] BackendError),
    /// The SRS loaded into the backend is shorter than the circuit.
    #[error("the SRS holds {have} points; the circuit needs {need}")]
    SrsTooShort {
        /// Points loaded.
        have: usize,
        /// Points needed.
        need: usize,
    },
    /// The witness has the wrong shape.
    #[error("expected {expected} {what}, got {found}")]
    Shape {
        /// What was counted.
        what: &'static str,
        /// What the key calls for.
        expected: usize,
        /// What was given.
        found: usize,
    },
    /// A lookup's input is not in its table: the witness does not satisfy the circuit.
    #[error(
        "lookup {0}: an input row is not in the table (the witness does not satisfy the circuit)"
    )]
    LookupUnsatisfied(usize),
    /// A commitment came out as the identity, which halo2's transcript cannot encode.
    #[error("a commitment is the identity point (an all-zero polynomial)")]
    IdentityCommitment,
}

/// The SRS as loaded into the backend: the monomial basis `[τⁱ]G` and the Lagrange basis, each
/// at least `2^k` points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Srs {
    /// `[τⁱ]G`, for committing polynomials in coefficient form.
    pub monomial: BasesHandle,
    /// `[Lᵢ(τ)]G`, for committing columns in Lagrange form.
    pub lagrange: BasesHandle,
}

/// A proving key ready to prove with: its fixed and σ columns in coefficient form (moved out of
/// the key and transformed in place, so that each column is held once), the first/last/active-row
/// selectors, and the order in which the quotient evaluates its constraints.
pub struct Prepared {
    key: ProvingKey,
    domain: Domain,
    extended: Domain,
    fixed_polys: Vec<Vec<Fr>>,
    sigma_polys: Vec<Vec<Fr>>,
    /// `l_0`, `l_last`, `l_active_row` in coefficient form, in that order.
    selectors: Vec<Vec<Fr>>,
    plan: quotient::Plan,
}

/// Wall time of the prover's phases in nanoseconds (zero where the build has no clock; the
/// clock's units with [`prove_clocked`]). MSM and NTT time is in the backend's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Advice, lookup, permutation and random-polynomial commitments.
    pub commit: u64,
    /// The quotient: coset NTTs, constraint evaluation, division, its commitments.
    pub quotient: u64,
    /// Of which the constraint evaluation alone (field arithmetic, no NTT).
    pub quotient_evaluation: u64,
    /// Evaluations at `x` and the multi-opening argument.
    pub open: u64,
}

/// A proof and how long its parts took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The transcript, as halo2-axiom's verifier reads it.
    pub bytes: Vec<u8>,
    /// Phase times.
    pub times: PhaseTimes,
}

/// A clock for the prover's phase times where the build has no `std`: any monotonic count
/// (the firmware passes nanoseconds of its SysTick, which under QEMU's `-icount` also count
/// instructions).
pub type Now = fn() -> u64;

pub(crate) struct Clock {
    now: Option<Now>,
    ticks: u64,
    #[cfg(feature = "std")]
    start: std::time::Instant,
}

impl Clock {
    pub(crate) fn start(now: Option<Now>) -> Self {
        Self {
            now,
            ticks: now.map_or(0, |f| f()),
            #[cfg(feature = "std")]
            start: std::time::Instant::now(),
        }
    }

    pub(crate) fn nanos(&self) -> u64 {
        if let Some(now) = self.now {
            return now().wrapping_sub(self.ticks);
        }
        #[cfg(feature = "std")]
        {
            u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
        #[cfg(not(feature = "std"))]
        {
            0
        }
    }
}

/// Coefficients from Lagrange values, through the backend.
fn to_coeffs<B: Backend + ?Sized>(
    backend: &mut B,
    domain: &Domain,
    columns: &mut [Vec<Fr>],
) -> Result<(), ProveError> {
    if columns.is_empty() {
        return Ok(());
    }
    let mut views: Vec<&mut [Fr]> = columns.iter_mut().map(|c| c.as_mut_slice()).collect();
    backend.ntt_batch(&mut views, domain, NttOp::inverse())?;
    Ok(())
}

impl Prepared {
    /// Takes the key's fixed and σ columns and brings them to coefficient form with `backend`.
    pub fn new<B: Backend + ?Sized>(
        mut key: ProvingKey,
        backend: &mut B,
    ) -> Result<Self, ProveError> {
        let domain = Domain::new(key.k, key.omega)?;
        let extended = Domain::new(key.extended_k, key.extended_omega)?;
        let n = key.n();
        let mut fixed_polys = core::mem::take(&mut key.fixed);
        to_coeffs(backend, &domain, &mut fixed_polys)?;
        let mut sigma_polys = core::mem::take(&mut key.sigmas);
        to_coeffs(backend, &domain, &mut sigma_polys)?;
        let u = key.usable_rows();
        let mut selectors = vec![vec![Fr::ZERO; n]; 3];
        selectors[0][0] = Fr::ONE;
        selectors[1][u] = Fr::ONE;
        selectors[2][..u].iter_mut().for_each(|v| *v = Fr::ONE);
        to_coeffs(backend, &domain, &mut selectors)?;
        let plan = quotient::Plan::new(&key);
        Ok(Self {
            key,
            domain,
            extended,
            fixed_polys,
            sigma_polys,
            selectors,
            plan,
        })
    }

    /// The proving key's description of the circuit. Its fixed and σ columns are empty: they
    /// live here, in coefficient form.
    pub fn key(&self) -> &ProvingKey {
        &self.key
    }

    /// How many coset evaluations (of `2^k` elements each) the quotient holds at once at most.
    pub fn quotient_columns(&self) -> usize {
        self.plan.peak()
    }

    /// Lagrange values of the given coefficient-form columns, by forward NTTs on `backend`:
    /// for the few columns the lookups and the permutation read by row, which the key no longer
    /// holds in that form.
    fn lagrange<B: Backend + ?Sized>(
        &self,
        backend: &mut B,
        polys: &[&[Fr]],
    ) -> Result<Vec<Vec<Fr>>, ProveError> {
        let mut out: Vec<Vec<Fr>> = polys.iter().map(|p| p.to_vec()).collect();
        if !out.is_empty() {
            let mut views: Vec<&mut [Fr]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
            backend.ntt_batch(&mut views, &self.domain, NttOp::forward())?;
        }
        Ok(out)
    }

    /// Lagrange values of the fixed columns in `columns`, as a list indexed by fixed column
    /// (empty for the others).
    fn fixed_lagrange<B: Backend + ?Sized>(
        &self,
        backend: &mut B,
        columns: &[usize],
    ) -> Result<Vec<Vec<Fr>>, ProveError> {
        let polys: Vec<&[Fr]> = columns
            .iter()
            .map(|&c| self.fixed_polys[c].as_slice())
            .collect();
        let mut values = self.lagrange(backend, &polys)?.into_iter();
        let mut out = vec![Vec::new(); self.fixed_polys.len()];
        for &c in columns {
            out[c] = values.next().unwrap_or_default();
        }
        Ok(out)
    }
}

/// Commits Lagrange-form columns with one batched MSM (see [`commit`]).
fn commit_lagrange<B: Backend + ?Sized>(
    backend: &mut B,
    srs: &Srs,
    columns: &[&[Fr]],
) -> Result<Vec<G1Affine>, ProveError> {
    commit(backend, srs.lagrange, columns)
}

/// Commits coefficient-form polynomials with one batched MSM (see [`commit`]).
fn commit_coeffs<B: Backend + ?Sized>(
    backend: &mut B,
    srs: &Srs,
    polys: &[&[Fr]],
) -> Result<Vec<G1Affine>, ProveError> {
    commit(backend, srs.monomial, polys)
}

/// Commits each of `columns` against `bases` with one batched MSM, telling the backend how wide
/// the scalars are.
///
/// An inference circuit's columns hold small signed values (int8 activations, limbs) in
/// their usable rows and random blinding values in the last few. Each column is read up to
/// its first wide value (over [`NARROW_BITS`]): if that prefix is most of the column, it
/// becomes one job with the prefix's width ([`MsmJob::with_scalar_bits`]) and the rest a
/// full-width job of a few terms; the two sums add up to the column's commitment. Reading
/// stops at the first wide value, so a column of random values costs one conversion.
fn commit<B: Backend + ?Sized>(
    backend: &mut B,
    bases: BasesHandle,
    columns: &[&[Fr]],
) -> Result<Vec<G1Affine>, ProveError> {
    let mut jobs: Vec<MsmJob<'_>> = Vec::with_capacity(2 * columns.len());
    // How many jobs each column became.
    let mut parts: Vec<usize> = Vec::with_capacity(columns.len());
    for column in columns {
        let (head, bits) = narrow_prefix(column);
        if head == column.len() {
            jobs.push(MsmJob::new(bases, 0, column).with_scalar_bits(bits));
            parts.push(1);
        } else if head >= column.len() / 2 && head > 0 {
            jobs.push(MsmJob::new(bases, 0, &column[..head]).with_scalar_bits(bits));
            jobs.push(MsmJob::new(bases, head, &column[head..]));
            parts.push(2);
        } else {
            jobs.push(MsmJob::new(bases, 0, column));
            parts.push(1);
        }
    }
    let sums = backend.msm_batch(&jobs)?;
    let mut sums = sums.into_iter();
    let commitments: Vec<G1Projective> =
        parts.iter().map(|&k| sums.by_ref().take(k).sum()).collect();
    Ok(G1Projective::normalize_batch(&commitments))
}

/// The widest value a narrow commitment job holds: past it, a narrow MSM saves too little to
/// be worth a second job (and a random field element is 250-odd bits wide).
const NARROW_BITS: u32 = 128;

/// The length of `column`'s prefix before its first value wider than [`NARROW_BITS`], and the
/// prefix's width.
fn narrow_prefix(column: &[Fr]) -> (usize, u32) {
    let mut bits = 0;
    for (i, s) in column.iter().enumerate() {
        let b = width::bits(s);
        if b > NARROW_BITS {
            return (i, bits);
        }
        bits = bits.max(b);
    }
    (column.len(), bits)
}

/// `x · ωʳ`.
fn rotate(domain: &Domain, x: Fr, rotation: i32) -> Fr {
    let w = if rotation >= 0 {
        domain.omega()
    } else {
        domain.omega_inv()
    };
    x * w.pow([u64::from(rotation.unsigned_abs())])
}

/// How to make a proof: the multi-opening argument, and optional hooks for a clock and for
/// progress reports.
#[non_exhaustive]
pub struct Options<'a> {
    /// The multi-opening argument; the verifier must use the same.
    pub multiopen: MultiOpen,
    /// Where phase times come from where the build has no `std` clock.
    pub now: Option<Now>,
    /// Told of each step as the proof advances.
    pub progress: Option<&'a mut dyn Progress>,
}

impl<'a> Options<'a> {
    /// `multiopen`, the `std` clock (none without `std`), no progress reports.
    pub fn new(multiopen: MultiOpen) -> Self {
        Self {
            multiopen,
            now: None,
            progress: None,
        }
    }

    /// Phase times from `now`.
    pub fn clock(mut self, now: Now) -> Self {
        self.now = Some(now);
        self
    }

    /// Progress reports to `progress`.
    pub fn progress(mut self, progress: &'a mut dyn Progress) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// Proves that `advice` (one column per advice column of the key, `≤ usable_rows` values each,
/// the rest zero) satisfies the circuit with public `instance` columns.
///
/// Every MSM and NTT runs on `backend`, whose bases `srs` must hold the circuit's SRS.
pub fn prove<B: Backend + ?Sized>(
    prep: &Prepared,
    backend: &mut B,
    srs: &Srs,
    advice: Vec<Vec<Fr>>,
    instance: &[Vec<Fr>],
    multiopen: MultiOpen,
    rng: &mut impl RngCore,
) -> Result<Proof, ProveError> {
    prove_with(
        prep,
        backend,
        srs,
        advice,
        instance,
        rng,
        Options::new(multiopen),
    )
}

/// [`prove`] with the phase times read from `now` (in its units) instead of the `std` clock:
/// for builds without one.
#[allow(clippy::too_many_arguments)]
pub fn prove_clocked<B: Backend + ?Sized>(
    prep: &Prepared,
    backend: &mut B,
    srs: &Srs,
    advice: Vec<Vec<Fr>>,
    instance: &[Vec<Fr>],
    multiopen: MultiOpen,
    rng: &mut impl RngCore,
    now: Option<Now>,
) -> Result<Proof, ProveError> {
    let mut options = Options::new(multiopen);
    options.now = now;
    prove_with(prep, backend, srs, advice, instance, rng, options)
}

fn check_inputs<B: Backend + ?Sized>(
    key: &ProvingKey,
    backend: &B,
    srs: &Srs,
    advice: &[Vec<Fr>],
    instance: &[Vec<Fr>],
) -> Result<(), ProveError> {
    let n = key.n();
    let usable = key.usable_rows();
    for handle in [srs.monomial, srs.lagrange] {
        let have = backend
            .bases_len(handle)
            .ok_or(BackendError::UnknownBases(handle))?;
        if have < n {
            return Err(ProveError::SrsTooShort { have, need: n });
        }
    }
    if advice.len() != key.num_advice {
        return Err(ProveError::Shape {
            what: "advice columns",
            expected: key.num_advice,
            found: advice.len(),
        });
    }
    if instance.len() != key.num_instance {
        return Err(ProveError::Shape {
            what: "instance columns",
            expected: key.num_instance,
            found: instance.len(),
        });
    }
    for column in advice.iter().chain(instance) {
        if column.len() > usable {
            return Err(ProveError::Shape {
                what: "values per column at most",
                expected: usable,
                found: column.len(),
            });
        }
    }
    Ok(())
}

/// [`prove`] with [`Options`]. Each polynomial is dropped, or transformed in place, as soon as
/// the proof no longer needs the form it is in.
pub fn prove_with<B: Backend + ?Sized>(
    prep: &Prepared,
    backend: &mut B,
    srs: &Srs,
    mut advice: Vec<Vec<Fr>>,
    instance: &[Vec<Fr>],
    rng: &mut impl RngCore,
    options: Options<'_>,
) -> Result<Proof, ProveError> {
    let key = &prep.key;
    check_inputs(key, backend, srs, &advice, instance)?;
    let n = key.n();
    let usable = key.usable_rows();
    let now = options.now;
    let mut progress = Tracker::new(options.progress, prep);
    let mut times = PhaseTimes::default();
    let clock = Clock::start(now);
    let mut t = Transcript::new();
    t.common_scalar(&key.transcript_repr);

    // Instances are absorbed as scalars (neither GWC nor SHPLONK queries them).
    let mut instance_values: Vec<Vec<Fr>> = instance
        .iter()
        .map(|v| {
            v.iter().for_each(|x| t.common_scalar(x));
            let mut col = v.clone();
            col.resize(n, Fr::ZERO);
            col
        })
        .collect();

    // Advice: blinding rows at the end, commit in Lagrange form.
    progress.at(Phase::Advice);
    for column in advice.iter_mut() {
        column.resize(n, Fr::ZERO);
        column[usable..].iter_mut().for_each(|v| *v = Fr::rand(rng));
    }
    let views: Vec<&[Fr]> = advice.iter().map(Vec::as_slice).collect();
    for c in commit_lagrange(backend, srs, &views)? {
        t.write_point(&c)?;
    }

    let theta = t.squeeze();
    let mut permuted = Vec::with_capacity(key.lookups.len());
    for (i, l) in key.lookups.iter().enumerate() {
        progress.at(Phase::LookupPermuted);
        // The fixed columns this lookup reads, by row, only while it is compressed.
        let fixed = prep.fixed_lagrange(backend, &lookup::fixed_columns(l, key))?;
        let values = lookup::Columns {
            fixed: &fixed,
            advice: &advice,
            instance: &instance_values,
            key,
        };
        permuted.push(lookup::permute(i, l, &values, theta, rng)?);
    }
    let mut lookup_commit: Vec<&[Fr]> = Vec::new();
    for p in &permuted {
        lookup_commit.push(&p.input);
        lookup_commit.push(&p.table);
    }
    for c in commit_lagrange(backend, srs, &lookup_commit)? {
        t.write_point(&c)?;
    }

    let beta = t.squeeze();
    let gamma = t.squeeze();
    progress.at(Phase::PermutationProducts);
    let mut perm_polys =
        permutation::products(prep, backend, &advice, &instance_values, beta, gamma, rng)?;
    let views: Vec<&[Fr]> = perm_polys.iter().map(Vec::as_slice).collect();
    for c in commit_lagrange(backend, srs, &views)? {
        t.write_point(&c)?;
    }
    progress.at(Phase::LookupProducts);
    let lookup_z: Vec<Vec<Fr>> = permuted
        .iter_mut()
        .map(|p| lookup::product(key, p, beta, gamma, rng))
        .collect();
    let views: Vec<&[Fr]> = lookup_z.iter().map(Vec::as_slice).collect();
    for c in commit_lagrange(backend, srs, &views)? {
        t.write_point(&c)?;
    }

    progress.at(Phase::Vanishing);
    let random_poly: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
    t.write_point(&commit_coeffs(backend, srs, &[&random_poly])?[0])?;
    let y = t.squeeze();
    times.commit = clock.nanos();

    // Everything in coefficient form from here on, transformed in place.
    let clock = Clock::start(now);
    progress.at(Phase::Coefficients);
    to_coeffs(backend, &prep.domain, &mut instance_values)?;
    let instance_polys = instance_values;
    let mut advice_polys = advice;
    to_coeffs(backend, &prep.domain, &mut advice_polys)?;
    let mut lookup_polys: Vec<Vec<Fr>> = Vec::with_capacity(3 * permuted.len());
    for (p, z) in permuted.into_iter().zip(lookup_z) {
        lookup_polys.extend([p.input, p.table, z]);
    }
    to_coeffs(backend, &prep.domain, &mut lookup_polys)?;
    to_coeffs(backend, &prep.domain, &mut perm_polys)?;

    let polys = quotient::Polys {
        advice: &advice_polys,
        instance: &instance_polys,
        lookups: &lookup_polys,
        permutation: &perm_polys,
    };
    let challenges = quotient::Challenges {
        theta,
        beta,
        gamma,
        y,
    };
    let (h, evaluation_nanos) =
        quotient::quotient(prep, backend, &polys, &challenges, now, &mut progress)?;
    progress.at(Phase::QuotientCommit);
    let pieces: Vec<&[Fr]> = h.chunks_exact(n).collect();
    for c in commit_coeffs(backend, srs, &pieces)? {
        t.write_point(&c)?;
    }
    times.quotient = clock.nanos();
    times.quotient_evaluation = evaluation_nanos;

    let clock = Clock::start(now);
    let x = t.squeeze();
    // h(X) = Σ Xⁿⁱ·hᵢ(X) at X = x, as one polynomial: the pieces are not needed after this.
    let xn = x.pow([n as u64]);
    let mut h_poly = pieces.last().map_or_else(Vec::new, |p| p.to_vec());
    for piece in pieces.iter().rev().skip(1) {
        par::chunks_mut(&mut h_poly, 1, |first, out| {
            for (a, p) in out.iter_mut().zip(&piece[first..]) {
                *a = *a * xn + p;
            }
        });
    }
    drop(pieces);
    drop(h);
    progress.at(Phase::Evaluations);
    let queries = open::queries(prep, &polys, &random_poly, &h_poly, x);
    open::write_evaluations(prep, &polys, &queries, x, &mut t);
    progress.at(Phase::Opening);
    open::open(backend, srs, &queries, options.multiopen, &mut t)?;
    progress.finish();
    times.open = clock.nanos();
    Ok(Proof {
        bytes: t.finish(),
        times,
    })
}
