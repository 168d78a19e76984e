//! [`Backend`], what callers use, and [`Checked`], the front that implements it over any
//! [`BackendHooks`]: validation, handle brands, counters and the clock live here, once, for
//! every backend.

use alloc::vec::Vec;
use core::ops::Deref;

use crate::{
    handle::Brand, hooks::Meter, par::Stopwatch, BackendError, BackendHooks, BasesConfig,
    BasesHandle, Counters, DeviceTiming, Domain, Fr, G1Affine, G1Projective, MsmJob, NttOp, Op,
};

/// What a backend can do. The router reads this to decide where a job may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Capabilities {
    /// The most scalar–base pairs one MSM may have.
    pub max_msm_len: usize,
    /// The most points one set of bases may hold.
    pub max_bases_len: usize,
    /// How many sets of bases the backend holds at once.
    pub max_bases_sets: u32,
    /// log2 of the largest NTT.
    pub max_ntt_log_n: u32,
    /// The largest [`BasesConfig::precompute`] factor the backend honours (1: it precomputes
    /// nothing).
    pub max_precompute: u32,
}

impl Capabilities {
    /// Limits as given, no precomputation.
    pub const fn new(
        max_msm_len: usize,
        max_bases_len: usize,
        max_bases_sets: u32,
        max_ntt_log_n: u32,
    ) -> Self {
        Self {
            max_msm_len,
            max_bases_len,
            max_bases_sets,
            max_ntt_log_n,
            max_precompute: 1,
        }
    }

    /// The same limits, precomputing bases up to `factor` times their memory.
    pub const fn with_max_precompute(self, factor: u32) -> Self {
        Self {
            max_precompute: factor,
            ..self
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A provider of BN254 MSMs and NTTs — the CPU, a GPU, an accelerator over a link — as callers
/// see it.
///
/// Every entry point validates its arguments against [`capabilities`](Self::capabilities) and
/// the handle's brand, returns a typed [`BackendError`] instead of panicking, and keeps the
/// [`Counters`]. The trait is sealed: its one implementation is the front [`Checked`] (and a
/// `Box` of a backend), so those guarantees hold for every backend. Backends are written as
/// [`BackendHooks`].
///
/// ```
/// use accel_backends::{Backend, CpuBackend, Domain, NttOp, Fr, G1Affine};
/// use ark_ec::AffineRepr;
///
/// let mut cpu = CpuBackend::new();
/// let g = G1Affine::generator();
/// let srs = cpu.load_bases(&[g, g, g])?;
/// // 1·g + 2·g over the first two bases.
/// let sum = cpu.msm(srs, 0, &[Fr::from(1u64), Fr::from(2u64)])?;
/// assert_eq!(sum, g * Fr::from(3u64));
/// // A handle means nothing to another backend.
/// assert!(CpuBackend::new().msm(srs, 0, &[Fr::from(1u64)]).is_err());
/// # Ok::<(), accel_backends::BackendError>(())
/// ```
pub trait Backend: sealed::Sealed {
    /// A short name for reports, e.g. `"cpu"`.
    fn name(&self) -> &str;

    /// The backend's limits.
    fn capabilities(&self) -> Capabilities;

    /// What the backend has done since it was made or its counters were reset.
    fn counters(&self) -> &Counters;

    /// Zeroes the counters.
    fn reset_counters(&mut self);

    /// The clock and link that turn [`Counters::device_cycles`] and [`Counters::link_bytes`]
    /// into device time; `None` for a backend that counts no cycles.
    fn device_timing(&self) -> Option<DeviceTiming>;

    /// How many bases `handle` holds, or `None` if it is not a live handle of this backend.
    fn bases_len(&self, handle: BasesHandle) -> Option<usize>;

    /// How many times the set's own memory `handle`'s bases take with what the backend
    /// precomputed for them (1 for none); `None` if it is not a live handle of this backend.
    fn bases_memory_factor(&self, handle: BasesHandle) -> Option<u32>;

    /// This backend's handle for its live set number `id` ([`BasesHandle::id`]), for whoever
    /// names sets by number — a wire server, a link client adopting its peer's sets. It never
    /// gives a handle of another backend.
    fn handle_for(&self, id: u32) -> Option<BasesHandle>;

    /// Loads a set of bases held as `config` says; MSMs then refer to it by the returned
    /// handle. Each base is checked to lie on the curve (BN254's G1 has cofactor 1, so that
    /// puts it in the group).
    fn load_bases_with(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
    ) -> Result<BasesHandle, BackendError>;

    /// Loads a set of bases once, nothing precomputed.
    fn load_bases(&mut self, bases: &[G1Affine]) -> Result<BasesHandle, BackendError> {
        self.load_bases_with(bases, BasesConfig::plain())
    }

    /// Forgets a set of bases; its handle is dead from then on.
    fn release_bases(&mut self, handle: BasesHandle) -> Result<(), BackendError>;

    /// One MSM as described by `job` (a sub-range of loaded bases, a scalar-width hint).
    fn msm_job(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError>;

    /// `Σ scalars[i] · bases[start + i]` over the bases loaded as `handle`.
    fn msm(
        &mut self,
        handle: BasesHandle,
        start: usize,
        scalars: &[Fr],
    ) -> Result<G1Projective, BackendError> {
        self.msm_job(&MsmJob::new(handle, start, scalars))
    }

    /// Several MSMs at once, results in the order of `jobs`. All jobs are checked before any
    /// runs.
    fn msm_batch(&mut self, jobs: &[MsmJob<'_>]) -> Result<Vec<G1Projective>, BackendError>;

    /// Transforms `values` in place, natural order in and out; see [`NttOp`] for the exact map.
    fn ntt(&mut self, values: &mut [Fr], domain: &Domain, op: NttOp) -> Result<(), BackendError>;

    /// Transforms several vectors over one domain. All are checked before any is touched.
    fn ntt_batch(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError>;
}

/// The checked front over a backend's hooks: the only implementation of [`Backend`].
///
/// It owns what must mean the same for every backend: argument validation, the brand that
/// ties each [`BasesHandle`] to this backend, the [`Counters`] (calls, elements and time are
/// counted here; device cycles and link bytes as the hooks report them through their
/// [`Meter`]). Read access to the hooks goes through `Deref` (`sim.last_msm()`), write access
/// for an implementor's own settings through [`hooks_mut`](Self::hooks_mut).
pub struct Checked<H: ?Sized> {
    brand: Brand,
    counters: Counters,
    hooks: H,
}

impl<H: BackendHooks> Checked<H> {
    /// A backend over `hooks`, with a brand of its own and zeroed counters.
    pub fn from_hooks(hooks: H) -> Self {
        Self {
            brand: Brand::fresh(),
            counters: Counters::default(),
            hooks,
        }
    }

    /// The hooks back; every handle this backend issued dies with it.
    pub fn into_hooks(self) -> H {
        self.hooks
    }
}

impl<H: BackendHooks> From<H> for Checked<H> {
    fn from(hooks: H) -> Self {
        Self::from_hooks(hooks)
    }
}

impl<H: BackendHooks + ?Sized> Checked<H> {
    /// The hooks, for settings their implementor offers (a link client's session messages).
    /// The hooks themselves cannot be run through it: they take a [`Meter`], which only the
    /// front makes. Replacing the hooks wholesale would leave handles of this front naming
    /// sets of the new hooks; do not.
    pub fn hooks_mut(&mut self) -> &mut H {
        &mut self.hooks
    }

    /// The id a handle of this backend names, if it is one.
    fn own(&self, handle: BasesHandle) -> Result<u32, BackendError> {
        if handle.is_of(self.brand) {
            Ok(handle.id())
        } else {
            Err(BackendError::UnknownBases(handle))
        }
    }

    fn fold(&mut self, meter: Meter) {
        self.counters.device_cycles = self
            .counters
            .device_cycles
            .saturating_add(meter.device_cycles);
        self.counters.link_bytes = self.counters.link_bytes.saturating_add(meter.link_bytes);
    }

    fn check_msm(&self, job: &MsmJob<'_>) -> Result<(), BackendError> {
        let id = self.own(job.bases)?;
        let loaded = self
            .hooks
            .bases_len(id)
            .ok_or(BackendError::UnknownBases(job.bases))?;
        let end = job.start.checked_add(job.scalars.len());
        match end {
            Some(end) if end <= loaded => {}
            _ => {
                return Err(BackendError::BasesOutOfRange {
                    handle: job.bases,
                    start: job.start,
                    end: end.unwrap_or(usize::MAX),
                    loaded,
                })
            }
        }
        let max = self.hooks.capabilities().max_msm_len;
        if job.scalars.len() > max {
            return Err(BackendError::SizeUnsupported {
                op: Op::Msm,
                size: job.scalars.len(),
                max,
            });
        }
        Ok(())
    }

    fn check_ntt(&self, len: usize, domain: &Domain, op: NttOp) -> Result<(), BackendError> {
        let max_log_n = self.hooks.capabilities().max_ntt_log_n;
        if domain.log_n() > max_log_n {
            return Err(BackendError::SizeUnsupported {
                op: Op::Ntt,
                size: domain.size(),
                max: 1usize.checked_shl(max_log_n).unwrap_or(usize::MAX),
            });
        }
        if len != domain.size() {
            return Err(BackendError::DomainMismatch {
                len,
                log_n: domain.log_n(),
            });
        }
        if op.coset.is_some_and(|g| g == Fr::from(0u64)) {
            return Err(BackendError::ZeroCosetGenerator);
        }
        Ok(())
    }

    fn count_msms(&mut self, jobs: &[MsmJob<'_>], watch: Stopwatch) {
        let nanos = watch.elapsed_nanos();
        let c = &mut self.counters;
        c.msm_calls += jobs.len() as u64;
        c.msm_elements += jobs.iter().map(|j| j.scalars.len() as u64).sum::<u64>();
        c.msm_nanos += nanos;
    }

    fn count_ntts(&mut self, calls: usize, elements_each: usize, watch: Stopwatch) {
        let nanos = watch.elapsed_nanos();
        let c = &mut self.counters;
        c.ntt_calls += calls as u64;
        c.ntt_elements += (calls * elements_each) as u64;
        c.ntt_nanos += nanos;
    }
}

impl<H: ?Sized> Deref for Checked<H> {
    type Target = H;

    fn deref(&self) -> &H {
        &self.hooks
    }
}

impl<H: BackendHooks + ?Sized> sealed::Sealed for Checked<H> {}

impl<H: BackendHooks + ?Sized> Backend for Checked<H> {
    fn name(&self) -> &str {
        self.hooks.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.hooks.capabilities()
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    fn device_timing(&self) -> Option<DeviceTiming> {
        self.hooks.device_timing()
    }

    fn bases_len(&self, handle: BasesHandle) -> Option<usize> {
        self.hooks.bases_len(self.own(handle).ok()?)
    }

    fn bases_memory_factor(&self, handle: BasesHandle) -> Option<u32> {
        self.hooks.bases_memory_factor(self.own(handle).ok()?)
    }

    fn handle_for(&self, id: u32) -> Option<BasesHandle> {
        self.hooks
            .bases_len(id)
            .map(|_| BasesHandle::new(self.brand, id))
    }

    fn load_bases_with(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
    ) -> Result<BasesHandle, BackendError> {
        let max = self.hooks.capabilities().max_bases_len;
        if bases.len() > max {
            return Err(BackendError::SizeUnsupported {
                op: Op::LoadBases,
                size: bases.len(),
                max,
            });
        }
        if let Some(index) = bases.iter().position(|p| !p.is_on_curve()) {
            return Err(BackendError::InvalidBase { index });
        }
        let mut meter = Meter::new();
        let id = self.hooks.load_bases_unchecked(bases, config, &mut meter);
        self.fold(meter);
        let id = id?;
        self.counters.bases_loads += 1;
        self.counters.bases_points += bases.len() as u64;
        Ok(BasesHandle::new(self.brand, id))
    }

    fn release_bases(&mut self, handle: BasesHandle) -> Result<(), BackendError> {
        let id = self.own(handle)?;
        if self.hooks.bases_len(id).is_none() {
            return Err(BackendError::UnknownBases(handle));
        }
        let mut meter = Meter::new();
        let done = self.hooks.release_bases_unchecked(id, &mut meter);
        self.fold(meter);
        done
    }

    fn msm_job(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        self.check_msm(job)?;
        let watch = Stopwatch::start();
        let mut meter = Meter::new();
        let sum = self.hooks.msm_unchecked(job, &mut meter);
        self.fold(meter);
        let sum = sum?;
        self.count_msms(core::slice::from_ref(job), watch);
        Ok(sum)
    }

    fn msm_batch(&mut self, jobs: &[MsmJob<'_>]) -> Result<Vec<G1Projective>, BackendError> {
        jobs.iter().try_for_each(|job| self.check_msm(job))?;
        let watch = Stopwatch::start();
        let mut meter = Meter::new();
        let sums = self.hooks.msm_batch_unchecked(jobs, &mut meter);
        self.fold(meter);
        let sums = sums?;
        if sums.len() != jobs.len() {
            // A hook that lost a result is a broken backend, not a caller's mistake.
            return Err(BackendError::Device(crate::DeviceFault {
                device: "backend hooks",
                code: u32::MAX,
            }));
        }
        self.count_msms(jobs, watch);
        Ok(sums)
    }

    fn ntt(&mut self, values: &mut [Fr], domain: &Domain, op: NttOp) -> Result<(), BackendError> {
        self.check_ntt(values.len(), domain, op)?;
        let watch = Stopwatch::start();
        let mut meter = Meter::new();
        let done = self.hooks.ntt_unchecked(values, domain, op, &mut meter);
        self.fold(meter);
        done?;
        self.count_ntts(1, values.len(), watch);
        Ok(())
    }

    fn ntt_batch(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        batch
            .iter()
            .try_for_each(|values| self.check_ntt(values.len(), domain, op))?;
        let watch = Stopwatch::start();
        let mut meter = Meter::new();
        let done = self
            .hooks
            .ntt_batch_unchecked(batch, domain, op, &mut meter);
        self.fold(meter);
        done?;
        self.count_ntts(batch.len(), domain.size(), watch);
        Ok(())
    }
}

impl<B: Backend + ?Sized> sealed::Sealed for alloc::boxed::Box<B> {}

/// A boxed backend is a backend (so that routers and registries can hold `Box<dyn Backend>`);
/// every entry point is forwarded.
impl<B: Backend + ?Sized> Backend for alloc::boxed::Box<B> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn counters(&self) -> &Counters {
        (**self).counters()
    }

    fn reset_counters(&mut self) {
        (**self).reset_counters()
    }

    fn device_timing(&self) -> Option<DeviceTiming> {
        (**self).device_timing()
    }

    fn bases_len(&self, handle: BasesHandle) -> Option<usize> {
        (**self).bases_len(handle)
    }

    fn bases_memory_factor(&self, handle: BasesHandle) -> Option<u32> {
        (**self).bases_memory_factor(handle)
    }

    fn handle_for(&self, id: u32) -> Option<BasesHandle> {
        (**self).handle_for(id)
    }

    fn load_bases_with(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
    ) -> Result<BasesHandle, BackendError> {
        (**self).load_bases_with(bases, config)
    }

    fn release_bases(&mut self, handle: BasesHandle) -> Result<(), BackendError> {
        (**self).release_bases(handle)
    }

    fn msm_job(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        (**self).msm_job(job)
    }

    fn msm_batch(&mut self, jobs: &[MsmJob<'_>]) -> Result<Vec<G1Projective>, BackendError> {
        (**self).msm_batch(jobs)
    }

    fn ntt(&mut self, values: &mut [Fr], domain: &Domain, op: NttOp) -> Result<(), BackendError> {
        (**self).ntt(values, domain, op)
    }

    fn ntt_batch(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        (**self).ntt_batch(batch, domain, op)
    }
}
