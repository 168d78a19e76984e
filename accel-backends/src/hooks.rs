//! [`BackendHooks`]: what an implementor writes. The checked front, [`Checked`], does the rest.

use alloc::vec::Vec;

use crate::{
    BackendError, BasesConfig, Capabilities, DeviceTiming, Domain, Fr, G1Affine, G1Projective,
    MsmJob, NttOp,
};

/// What a backend's hooks report beyond their results: device cycles and link bytes.
///
/// Only [`Checked`](crate::Checked) makes one and hands it to a hook, so a hook can be called
/// from inside a front only — anything that holds a backend's hooks (through
/// [`Checked::hooks_mut`](crate::Checked::hooks_mut), say) can configure them but not run
/// uncounted work on them. A wrapper passes the meter it was given on to the hooks it wraps.
#[derive(Debug)]
pub struct Meter {
    pub(crate) device_cycles: u64,
    pub(crate) link_bytes: u64,
}

impl Meter {
    pub(crate) const fn new() -> Self {
        Self {
            device_cycles: 0,
            link_bytes: 0,
        }
    }

    /// Cycles the device spent (simulated or reported by it).
    pub fn add_device_cycles(&mut self, cycles: u64) {
        self.device_cycles = self.device_cycles.saturating_add(cycles);
    }

    /// Bytes sent and received over the backend's link.
    pub fn add_link_bytes(&mut self, bytes: u64) {
        self.link_bytes = self.link_bytes.saturating_add(bytes);
    }
}

/// A provider of BN254 MSMs and NTTs — the CPU, a GPU, an accelerator over a link — as its
/// implementor writes it: the raw `*_unchecked` operations and what the backend can do.
///
/// Callers never see this trait: they use [`Backend`](crate::Backend), implemented by the
/// front [`Checked<H>`](crate::Checked) for every `H: BackendHooks`. The front checks every
/// argument against [`capabilities`](Self::capabilities) and the handle's brand, keeps the
/// [`Counters`](crate::Counters) and the clock, and only then calls a hook — so a hook may
/// assume that:
/// - an MSM's bases `id` is one it returned from `load_bases_unchecked` and has not released
///   (it still answers an unknown id with `UnknownBases`, never a panic), and
///   `start + scalars.len()` is within the set and within `max_msm_len`;
/// - an NTT's values are exactly the domain's size, the domain is within `max_ntt_log_n`, and
///   a coset generator is non-zero;
/// - loaded bases are on the curve and within `max_bases_len`.
///
/// Sets of bases are named by the backend's own `u32` ids; the front brands them into
/// [`BasesHandle`](crate::BasesHandle)s, and a hook reads an MSM's id with
/// `job.bases.id()`. Ids should not be reused while the backend lives.
///
/// Each hook gets a [`Meter`] for the device cycles and link bytes it knows of.
pub trait BackendHooks {
    /// A short name for reports, e.g. `"cpu"`.
    fn name(&self) -> &str;

    /// The backend's limits.
    fn capabilities(&self) -> Capabilities;

    /// How many bases the set `id` holds, or `None` if there is no such set.
    fn bases_len(&self, id: u32) -> Option<usize>;

    /// Stores `bases` as asked by `config` and returns the new set's id.
    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError>;

    /// Forgets the set `id`.
    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError>;

    /// Computes one checked MSM. The exact sum is required whatever `job.scalar_bits` says.
    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError>;

    /// Transforms `values` in place (see [`NttOp`] for the map).
    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError>;

    /// Computes several checked MSMs; override to overlap them.
    fn msm_batch_unchecked(
        &mut self,
        jobs: &[MsmJob<'_>],
        meter: &mut Meter,
    ) -> Result<Vec<G1Projective>, BackendError> {
        jobs.iter()
            .map(|job| self.msm_unchecked(job, meter))
            .collect()
    }

    /// Transforms several checked vectors over one domain; override to overlap them.
    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        batch
            .iter_mut()
            .try_for_each(|values| self.ntt_unchecked(values, domain, op, meter))
    }

    /// The clock and link that turn counted device cycles and link bytes into time; `None`
    /// (the default) for a backend that counts no cycles.
    fn device_timing(&self) -> Option<DeviceTiming> {
        None
    }

    /// How many times the set's own memory the set `id` takes with its precomputed
    /// multiples (1, the default, for a backend that precomputes nothing).
    fn bases_memory_factor(&self, id: u32) -> Option<u32> {
        self.bases_len(id).map(|_| 1)
    }
}

/// A boxed implementor is an implementor, so that fronts can hold `Box<dyn BackendHooks>`.
impl<H: BackendHooks + ?Sized> BackendHooks for alloc::boxed::Box<H> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        (**self).bases_len(id)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        (**self).load_bases_unchecked(bases, config, meter)
    }

    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        (**self).release_bases_unchecked(id, meter)
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        (**self).msm_unchecked(job, meter)
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        (**self).ntt_unchecked(values, domain, op, meter)
    }

    fn msm_batch_unchecked(
        &mut self,
        jobs: &[MsmJob<'_>],
        meter: &mut Meter,
    ) -> Result<Vec<G1Projective>, BackendError> {
        (**self).msm_batch_unchecked(jobs, meter)
    }

    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        (**self).ntt_batch_unchecked(batch, domain, op, meter)
    }

    fn device_timing(&self) -> Option<DeviceTiming> {
        (**self).device_timing()
    }

    fn bases_memory_factor(&self, id: u32) -> Option<u32> {
        (**self).bases_memory_factor(id)
    }
}
