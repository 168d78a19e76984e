//! [`Router`]: one [`Backend`] in front of an accelerator and a reference backend (the CPU),
//! used by the host driver and by a device alike. Each MSM and NTT goes where the [`Policy`]
//! says — small jobs stay on the reference (a link's or a GPU call's fixed cost outweighs
//! them) — unless the accelerator cannot take it or cannot be trusted with it now:
//!
//! - a job the accelerator refuses or fails ([`BackendError::try_elsewhere`]) runs on the
//!   reference instead; a batch it fails is retried job by job, so one failure does not send
//!   the whole batch elsewhere;
//! - a [`Breaker`] counts the accelerator's faults ([`BackendError::is_fault`]): after a
//!   timeout, or a few faults in a row, jobs skip it for a back-off period, then one job probes
//!   it. A silent accelerator costs its timeout once, not once per job;
//! - with [`check_results`](Router::check_results), every accelerator result is checked as it
//!   arrives ([`check`]: NTTs at a random point, MSMs over SRS bases by a KZG opening the
//!   accelerator must also compute). A result that fails is redone on the reference and the
//!   accelerator becomes suspect;
//! - a backend [`mark_suspect`](Router::mark_suspect)ed (a result or a proof made with it was
//!   wrong) gets no further job for the life of the router.
//!
//! Bases live on both sides (so that any MSM can fall back), or only on the accelerator when
//! the reference cannot hold them (a device's session adopts the host's SRS by handle): those
//! MSMs have nowhere else to go, and their failures are the caller's.
//!
//! Its jobs keep their scalar-width hints and its bases their [`BasesConfig`] on whichever
//! backend runs them. It is a backend's hooks itself, so behind the checked front
//! ([`Checked`](crate::Checked)) it is a `Backend` and the prover neither knows nor cares.

mod breaker;
pub mod check;

use alloc::{collections::BTreeMap, vec, vec::Vec};

use ark_std::UniformRand;
use check::{Basis, Claim, SrsCheck};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

#[cfg(feature = "std")]
pub use breaker::StdClock;
pub use breaker::{Breaker, BreakerConfig, BreakerState, Clock};

use crate::{
    Backend, BackendError, BackendHooks, BasesConfig, BasesHandle, Capabilities, DeviceTiming,
    Domain, Fr, G1Affine, G1Projective, Meter, MsmJob, NttOp,
};

/// Where jobs go: MSMs shorter than `msm_min` and NTTs smaller than `2^ntt_min_log` stay on
/// the reference backend; everything else goes to the accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Policy {
    /// Shortest MSM sent to the accelerator.
    pub msm_min: usize,
    /// log2 of the smallest NTT sent to the accelerator.
    pub ntt_min_log: u32,
}

impl Policy {
    /// Everything to the accelerator.
    pub const ALL: Policy = Policy {
        msm_min: 0,
        ntt_min_log: 0,
    };

    /// Nothing to the accelerator.
    pub const NONE: Policy = Policy {
        msm_min: usize::MAX,
        ntt_min_log: u32::MAX,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::ALL
    }
}

/// What the router did with the jobs it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RouterStats {
    /// Jobs (MSMs and NTTs, each job of a batch once) the accelerator did.
    pub accel_jobs: u64,
    /// Jobs the reference did.
    pub reference_jobs: u64,
    /// Jobs meant for the accelerator that ran on the reference: refused, failed, skipped
    /// while its breaker was open, or over bases it could not hold.
    pub fallbacks: u64,
    /// Failures of the accelerator that counted against it (link, device, wrong results).
    pub faults: u64,
    /// Accelerator results checked ([`check`]).
    pub checked: u64,
    /// Accelerator results that failed their check (redone on the reference).
    pub wrong: u64,
    /// MSMs the accelerator computed for the checks (one opening per batch and basis).
    pub check_msms: u64,
}

/// Which accelerator results a router checks ([`Router::check_results`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// The SRS the bases come from: MSMs over its monomial and Lagrange bases are checked.
    pub srs: Option<SrsCheck>,
    /// Check NTTs.
    pub ntt: bool,
    /// MSMs that cannot be checked (over bases that are no SRS basis) go to the reference,
    /// unless only the accelerator holds their bases.
    pub require: bool,
}

struct Checks {
    config: CheckConfig,
    rng: ChaCha20Rng,
}

/// One set of bases, as both backends know it (their own handles).
#[derive(Clone, Copy, Debug)]
struct Bases {
    accel: Option<BasesHandle>,
    reference: Option<BasesHandle>,
    len: usize,
    /// Which SRS basis these are, when results are checked.
    basis: Option<Basis>,
}

/// An accelerator `A` with a reference backend `C` beside it, and a clock `K` for the
/// breaker's back-off: a backend's hooks. `Router::new` (with `std`) gives one behind the
/// checked front; [`with_parts`](Self::with_parts) gives the hooks, to configure
/// ([`with_breaker`](Self::with_breaker)) and put behind one
/// ([`Checked::from_hooks`](crate::Checked::from_hooks)).
pub struct Router<A: Backend, C: Backend, K: Clock> {
    accel: A,
    reference: C,
    policy: Policy,
    clock: K,
    breaker: Breaker,
    suspect: bool,
    /// By the router's own set ids.
    bases: BTreeMap<u32, Bases>,
    next: u32,
    /// Device cycles and link bytes of both backends already reported to the front.
    reported: (u64, u64),
    stats: RouterStats,
    checks: Option<Checks>,
}

#[cfg(feature = "std")]
impl<A: Backend> Router<A, crate::CpuBackend, StdClock> {
    /// A backend that routes between `accel` and the CPU backend by `policy`, on the wall
    /// clock, with the default breaker.
    pub fn new(accel: A, policy: Policy) -> crate::Checked<Self> {
        crate::Checked::from_hooks(Self::with_parts(
            accel,
            crate::CpuBackend::new(),
            policy,
            StdClock::default(),
        ))
    }
}

impl<A: Backend, C: Backend, K: Clock> Router<A, C, K> {
    /// The hooks of a router between `accel` and `reference` by `policy`; `clock` times the
    /// breaker.
    pub fn with_parts(accel: A, reference: C, policy: Policy, clock: K) -> Self {
        Self {
            accel,
            reference,
            policy,
            clock,
            breaker: Breaker::new(BreakerConfig::default()),
            suspect: false,
            bases: BTreeMap::new(),
            next: 0,
            reported: (0, 0),
            stats: RouterStats::default(),
            checks: None,
        }
    }

    /// Checks the accelerator's results from now on, drawing challenges from a generator
    /// seeded with `seed` (keep it from the accelerator: a fresh random seed). Bases loaded
    /// afterwards are classified against `config.srs`.
    pub fn check_results(&mut self, config: CheckConfig, seed: [u8; 32]) {
        self.checks = Some(Checks {
            config,
            rng: ChaCha20Rng::from_seed(seed),
        });
    }

    /// The same router with another breaker.
    pub fn with_breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = Breaker::new(config);
        self
    }

    /// The accelerator.
    pub fn accelerator(&self) -> &A {
        &self.accel
    }

    /// The accelerator, mutably (for requests beyond the `Backend` trait, e.g. a device's
    /// session messages on its link).
    pub fn accelerator_mut(&mut self) -> &mut A {
        &mut self.accel
    }

    /// The reference backend.
    pub fn reference(&self) -> &C {
        &self.reference
    }

    /// The two backends back.
    pub fn into_parts(self) -> (A, C) {
        (self.accel, self.reference)
    }

    /// The routing policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Changes the routing policy (e.g. when a session announces the host's).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// What the router did.
    pub fn stats(&self) -> RouterStats {
        self.stats
    }

    /// Jobs meant for the accelerator that ran on the reference.
    pub fn fallbacks(&self) -> u64 {
        self.stats.fallbacks
    }

    /// The accelerator's breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Whether the accelerator was marked suspect.
    pub fn is_suspect(&self) -> bool {
        self.suspect
    }

    /// Sends no further job to the accelerator (its result, or a proof made with it, was
    /// wrong), except those only it can do.
    pub fn mark_suspect(&mut self) {
        self.suspect = true;
    }

    /// The router's set id for bases that only the accelerator holds, under the accelerator's
    /// handle `accel` (a host driver's SRS, named in a session): `len` points. The front's
    /// [`handle_for`](Backend::handle_for) gives the router's handle for it.
    pub fn adopt_accel_bases(
        &mut self,
        accel: BasesHandle,
        len: usize,
    ) -> Result<u32, BackendError> {
        let accel = Some(accel);
        if let Some((&ours, _)) = self.bases.iter().find(|(_, b)| b.accel == accel) {
            self.bases.insert(
                ours,
                Bases {
                    accel,
                    reference: None,
                    len,
                    basis: None,
                },
            );
            return Ok(ours);
        }
        self.insert(Bases {
            accel,
            reference: None,
            len,
            basis: None,
        })
    }

    fn insert(&mut self, bases: Bases) -> Result<u32, BackendError> {
        let id = self.next;
        self.next = id
            .checked_add(1)
            .ok_or(BackendError::NoBasesSlot { max: u32::MAX })?;
        self.bases.insert(id, bases);
        Ok(id)
    }

    fn entry(&self, h: BasesHandle) -> Result<Bases, BackendError> {
        self.bases
            .get(&h.id())
            .copied()
            .ok_or(BackendError::UnknownBases(h))
    }

    /// Whether the accelerator may get a job now (asks the breaker once: an open breaker whose
    /// back-off ran out lets this one through as its probe).
    fn accel_allowed(&mut self) -> bool {
        if self.suspect {
            return false;
        }
        let now = self.clock.now_ms();
        self.breaker.allow(now)
    }

    /// Records an accelerator failure; returns whether the job may go elsewhere.
    fn accel_failed(&mut self, e: &BackendError) -> bool {
        if e.is_fault() {
            self.stats.faults += 1;
            let now = self.clock.now_ms();
            self.breaker.failure(now, e.is_timeout());
        }
        e.try_elsewhere()
    }

    /// Reports the device cycles and link bytes both backends counted since the last report.
    fn sync_counters(&mut self, meter: &mut Meter) {
        let (a, c) = (self.accel.counters(), self.reference.counters());
        let cycles = a.device_cycles.saturating_add(c.device_cycles);
        let bytes = a.link_bytes.saturating_add(c.link_bytes);
        meter.add_device_cycles(cycles.saturating_sub(self.reported.0));
        meter.add_link_bytes(bytes.saturating_sub(self.reported.1));
        self.reported = (cycles, bytes);
    }

    /// Runs `jobs` (indices `at` of the caller's batch, over accelerator handles) on the
    /// accelerator: as one batch, and when that fails with the breaker still closed, one by
    /// one. Fills `sums` with what it did; returns the last failure, if any.
    fn msm_on_accel(
        &mut self,
        jobs: &[MsmJob<'_>],
        at: &[usize],
        sums: &mut [Option<G1Projective>],
    ) -> Result<Option<BackendError>, BackendError> {
        let mut last = match self.accel.msm_batch(jobs) {
            Ok(done) => {
                self.breaker.success();
                at.iter().zip(done).for_each(|(&i, s)| sums[i] = Some(s));
                return Ok(None);
            }
            Err(e) if self.accel_failed(&e) => e,
            Err(e) => return Err(e),
        };
        if jobs.len() > 1 {
            for (job, &i) in jobs.iter().zip(at) {
                if self.breaker.is_open() {
                    break;
                }
                match self.accel.msm_job(job) {
                    Ok(s) => {
                        self.breaker.success();
                        sums[i] = Some(s);
                    }
                    Err(e) if self.accel_failed(&e) => last = e,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Some(last))
    }

    /// Runs an NTT batch on the accelerator, on copies: as one batch, and when that fails with
    /// the breaker still closed, one by one. Returns which vectors it transformed.
    fn ntt_on_accel(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<Vec<bool>, BackendError> {
        // A failed NTT may have touched its values; work on copies until they succeed.
        let mut copies: Vec<Vec<Fr>> = batch.iter().map(|v| v.to_vec()).collect();
        let mut views: Vec<&mut [Fr]> = copies.iter_mut().map(Vec::as_mut_slice).collect();
        let mut done = vec![false; batch.len()];
        match self.accel.ntt_batch(&mut views, domain, op) {
            Ok(()) => {
                self.breaker.success();
                done.fill(true);
            }
            Err(e) if self.accel_failed(&e) => {
                if batch.len() > 1 {
                    for (i, view) in views.iter_mut().enumerate() {
                        if self.breaker.is_open() {
                            break;
                        }
                        view.copy_from_slice(batch[i]);
                        match self.accel.ntt(view, domain, op) {
                            Ok(()) => {
                                self.breaker.success();
                                done[i] = true;
                            }
                            Err(e) if self.accel_failed(&e) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            Err(e) => return Err(e),
        }
        self.check_ntts(batch, &copies, domain, op, &mut done);
        for ((values, copy), &ok) in batch.iter_mut().zip(&copies).zip(&done) {
            if ok {
                values.copy_from_slice(copy);
            }
        }
        Ok(done)
    }

    /// Checks the accelerator's NTT outputs against their inputs; a wrong one is undone (and
    /// the accelerator becomes suspect).
    fn check_ntts(
        &mut self,
        inputs: &[&mut [Fr]],
        outputs: &[Vec<Fr>],
        domain: &Domain,
        op: NttOp,
        done: &mut [bool],
    ) {
        let Some(checks) = self.checks.as_mut().filter(|c| c.config.ntt) else {
            return;
        };
        for ((input, output), ok) in inputs.iter().zip(outputs).zip(done.iter_mut()) {
            if !*ok {
                continue;
            }
            let rho = Fr::rand(&mut checks.rng);
            self.stats.checked += 1;
            if !check::ntt_holds(input, output, domain, op, rho) {
                *ok = false;
                self.stats.wrong += 1;
                self.stats.faults += 1;
                self.suspect = true;
            }
        }
    }

    /// Checks the accelerator's MSM results (`sums`, for `jobs` over `entries`) basis by basis
    /// with one KZG opening each; the results of a basis whose opening fails are dropped (and
    /// the accelerator becomes suspect). Returns the error to report for jobs with nowhere
    /// else to go.
    fn check_msms(
        &mut self,
        jobs: &[MsmJob<'_>],
        entries: &[Bases],
        sums: &mut [Option<G1Projective>],
    ) -> Option<BackendError> {
        let srs = self.checks.as_ref()?.config.srs?;
        let mut wrong = None;
        let mut handles: Vec<u32> = jobs.iter().map(|j| j.bases.id()).collect();
        handles.sort_unstable();
        handles.dedup();
        for id in handles {
            let members: Vec<usize> = (0..jobs.len())
                .filter(|&i| jobs[i].bases.id() == id && sums[i].is_some())
                .collect();
            let Some(&first) = members.first() else {
                continue;
            };
            let entry = entries[first];
            let (Some(basis), Some(accel)) = (entry.basis, entry.accel) else {
                continue;
            };
            let claims: Vec<Claim<'_>> = members
                .iter()
                .map(|&i| Claim {
                    start: jobs[i].start,
                    scalars: jobs[i].scalars,
                    sum: sums[i].unwrap_or_default(),
                })
                .collect();
            let checks = self.checks.as_mut()?;
            let (gamma, z) = (Fr::rand(&mut checks.rng), Fr::rand(&mut checks.rng));
            self.stats.checked += members.len() as u64;
            let verdict = match check::open(basis, entry.len, &claims, gamma, z) {
                Some(opening) => {
                    self.stats.check_msms += 1;
                    match self.accel.msm(accel, 0, &opening.quotient) {
                        Ok(pi) => Ok(check::opening_holds(&srs, &opening, pi)),
                        Err(e) => Err(e),
                    }
                }
                // z hit the domain: no verdict, nothing kept.
                None => Err(BackendError::WrongResult {
                    op: crate::Op::Msm,
                    backend: "accelerator",
                }),
            };
            match verdict {
                Ok(true) => continue,
                // A wrong result: the accelerator computed wrongly or lied.
                Ok(false) => {
                    self.stats.wrong += members.len() as u64;
                    self.stats.faults += 1;
                    self.suspect = true;
                    wrong = Some(BackendError::WrongResult {
                        op: crate::Op::Msm,
                        backend: "accelerator",
                    });
                }
                // The opening could not be had: the results stay unchecked, so unused.
                Err(e) => {
                    self.accel_failed(&e);
                    wrong = Some(e);
                }
            }
            members.iter().for_each(|&i| sums[i] = None);
        }
        wrong
    }
}

impl<A: Backend, C: Backend, K: Clock> BackendHooks for Router<A, C, K> {
    fn name(&self) -> &str {
        "router"
    }

    fn capabilities(&self) -> Capabilities {
        // The reference takes whatever the accelerator cannot; bases only the accelerator
        // holds are adopted, not loaded, so they do not count here.
        let r = self.reference.capabilities();
        let a = self.accel.capabilities();
        Capabilities::new(
            r.max_msm_len.max(a.max_msm_len),
            r.max_bases_len,
            r.max_bases_sets,
            r.max_ntt_log_n.max(a.max_ntt_log_n),
        )
        .with_max_precompute(r.max_precompute)
    }

    /// The accelerator's: the device cycles and link bytes counted are its.
    fn device_timing(&self) -> Option<DeviceTiming> {
        self.accel.device_timing()
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases.get(&id).map(|b| b.len)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        let reference = self.reference.load_bases_with(bases, config);
        let reference = match reference {
            Ok(h) => Some(h),
            Err(e) => {
                self.sync_counters(meter);
                return Err(e);
            }
        };
        // An accelerator that cannot hold these bases (or is not trusted now, or is given no
        // MSM by the policy) leaves their MSMs to the reference.
        let accel = if self.policy.msm_min != usize::MAX && self.accel_allowed() {
            match self.accel.load_bases_with(bases, config) {
                Ok(h) => {
                    self.breaker.success();
                    Some(h)
                }
                Err(e) if self.accel_failed(&e) => None,
                Err(e) => {
                    self.sync_counters(meter);
                    return Err(e);
                }
            }
        } else {
            None
        };
        self.sync_counters(meter);
        let basis = self
            .checks
            .as_ref()
            .and_then(|c| c.config.srs)
            .filter(|_| accel.is_some())
            .and_then(|srs| srs.classify(bases));
        self.insert(Bases {
            accel,
            reference,
            len: bases.len(),
            basis,
        })
    }

    /// Forgets the bases on both sides. The accelerator is told only while its breaker is
    /// closed (and a wire accelerator waits one short reply window at most): a release never
    /// holds up an exit behind a silent peer.
    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        let entry = self.entry(BasesHandle::detached(id))?;
        self.bases.remove(&id);
        if let Some(a) = entry.accel {
            if !self.breaker.is_open() {
                if let Err(e) = self.accel.release_bases(a) {
                    self.accel_failed(&e);
                }
            }
        }
        let done = match entry.reference {
            Some(r) => self.reference.release_bases(r),
            None => Ok(()),
        };
        self.sync_counters(meter);
        done
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        Ok(self.msm_batch_unchecked(core::slice::from_ref(job), meter)?[0])
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.ntt_batch_unchecked(&mut [values], domain, op, meter)
    }

    /// The accelerator's share of a batch goes to it as one batch (a GPU overlaps them).
    fn msm_batch_unchecked(
        &mut self,
        jobs: &[MsmJob<'_>],
        meter: &mut Meter,
    ) -> Result<Vec<G1Projective>, BackendError> {
        let sums = self.route_msms(jobs);
        self.sync_counters(meter);
        sums
    }

    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        let done = self.route_ntts(batch, domain, op);
        self.sync_counters(meter);
        done
    }
}

impl<A: Backend, C: Backend, K: Clock> Router<A, C, K> {
    /// Runs a batch of MSMs (over the router's handles) where they may go.
    fn route_msms(&mut self, jobs: &[MsmJob<'_>]) -> Result<Vec<G1Projective>, BackendError> {
        let wanted: Vec<bool> = jobs
            .iter()
            .map(|j| j.scalars.len() >= self.policy.msm_min)
            .collect();
        let entries: Vec<Bases> = jobs
            .iter()
            .map(|j| self.entry(j.bases))
            .collect::<Result<_, _>>()?;
        let any_wanted = entries
            .iter()
            .zip(&wanted)
            .any(|(e, &w)| e.accel.is_some() && (w || e.reference.is_none()));
        let allowed = any_wanted && self.accel_allowed();
        let mut on_accel = Vec::new();
        let mut at = Vec::new();
        let require = self.checks.as_ref().is_some_and(|c| c.config.require);
        for (i, (job, entry)) in jobs.iter().zip(&entries).enumerate() {
            // Bases only the accelerator holds: it is the only place the job can go.
            let only_there = entry.reference.is_none();
            let checkable = !require || entry.basis.is_some();
            match entry.accel {
                Some(a) if only_there || (wanted[i] && allowed && checkable) => {
                    on_accel.push(MsmJob { bases: a, ..*job });
                    at.push(i);
                }
                _ if wanted[i] => self.stats.fallbacks += 1,
                _ => {}
            }
        }
        let mut sums = vec![None; jobs.len()];
        let mut failure = None;
        if !on_accel.is_empty() {
            failure = self.msm_on_accel(&on_accel, &at, &mut sums)?;
            if let Some(wrong) = self.check_msms(jobs, &entries, &mut sums) {
                failure = Some(wrong);
            }
            let kept = sums.iter().filter(|s| s.is_some()).count() as u64;
            // Counted here, after the checks: a result they rejected was not the accelerator's.
            self.stats.accel_jobs += kept;
            self.stats.fallbacks += on_accel.len() as u64 - kept;
        }
        jobs.iter()
            .zip(&entries)
            .zip(sums)
            .map(|((job, entry), sum)| match (sum, entry.reference) {
                (Some(s), _) => Ok(s),
                (None, Some(r)) => {
                    self.stats.reference_jobs += 1;
                    self.reference.msm_job(&MsmJob { bases: r, ..*job })
                }
                // Only the accelerator holds these bases and it failed: its error is the
                // caller's.
                (None, None) => Err(failure.unwrap_or(BackendError::UnknownBases(job.bases))),
            })
            .collect()
    }

    /// Runs a batch of NTTs where they may go.
    fn route_ntts(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        let log_n = domain.log_n();
        let wanted =
            log_n >= self.policy.ntt_min_log && log_n <= self.accel.capabilities().max_ntt_log_n;
        if wanted && !self.accel_allowed() {
            self.stats.fallbacks += batch.len() as u64;
        } else if wanted {
            let done = self.ntt_on_accel(batch, domain, op)?;
            let did = done.iter().filter(|&&d| d).count();
            self.stats.accel_jobs += did as u64;
            self.stats.fallbacks += (batch.len() - did) as u64;
            if did == batch.len() {
                return Ok(());
            }
            let mut rest: Vec<&mut [Fr]> = batch
                .iter_mut()
                .zip(&done)
                .filter(|(_, &d)| !d)
                .map(|(v, _)| &mut **v)
                .collect();
            self.stats.reference_jobs += rest.len() as u64;
            return self.reference.ntt_batch(&mut rest, domain, op);
        }
        self.stats.reference_jobs += batch.len() as u64;
        self.reference.ntt_batch(batch, domain, op)
    }
}
