//! The CPU reference backend: a Pippenger MSM with batch-affine bucket accumulation and a
//! cache-blocked radix-2 NTT, both over arkworks' BN254 field and curve arithmetic.
//!
//! Multi-threaded with rayon under the `parallel` feature; the same code runs serially in
//! `no_std` (the firmware's local fallback).

mod msm;
mod ntt;

use alloc::{collections::BTreeMap, vec::Vec};

use crate::{
    Backend, BackendError, BasesHandle, Capabilities, Counters, Domain, Fr, G1Affine, G1Projective,
    MsmJob, NttOp, MAX_LOG_N,
};

pub use msm::window_bits;

/// The CPU backend. Holds loaded bases and a small cache of NTT twiddle tables.
pub struct CpuBackend {
    bases: BTreeMap<u32, Vec<G1Affine>>,
    next_handle: u32,
    twiddles: ntt::TwiddleCache,
    counters: Counters,
}

impl CpuBackend {
    /// A backend with nothing loaded.
    pub fn new() -> Self {
        Self {
            bases: BTreeMap::new(),
            next_handle: 0,
            twiddles: ntt::TwiddleCache::default(),
            counters: Counters::default(),
        }
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// `Σ scalars[i] · bases[i]` over the first `scalars.len()` bases, computed by the CPU
/// backend's Pippenger without loading the bases first.
///
/// # Panics
/// If `bases` is shorter than `scalars`; the [`Backend`] entry points check this for you.
pub fn msm(bases: &[G1Affine], scalars: &[Fr]) -> G1Projective {
    assert!(bases.len() >= scalars.len(), "fewer bases than scalars");
    msm::msm(&bases[..scalars.len()], scalars)
}

impl Backend for CpuBackend {
    fn name(&self) -> &str {
        "cpu"
    }

    fn capabilities(&self) -> Capabilities {
        // Bounded by memory alone; these are the protocol's and the field's limits.
        Capabilities::new(u32::MAX as usize, u32::MAX as usize, u32::MAX, MAX_LOG_N)
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    fn bases_len(&self, handle: BasesHandle) -> Option<usize> {
        self.bases.get(&handle.raw()).map(Vec::len)
    }

    fn load_bases_unchecked(&mut self, bases: &[G1Affine]) -> Result<BasesHandle, BackendError> {
        let raw = self.next_handle;
        // Handles are never reused, so a stale handle cannot alias a newer set of bases.
        self.next_handle = raw
            .checked_add(1)
            .ok_or(BackendError::NoBasesSlot { max: u32::MAX })?;
        let mut copy = Vec::new();
        copy.try_reserve_exact(bases.len())
            .map_err(|_| BackendError::OutOfMemory {
                elements: bases.len(),
            })?;
        copy.extend_from_slice(bases);
        self.bases.insert(raw, copy);
        Ok(BasesHandle::from_raw(raw))
    }

    fn release_bases(&mut self, handle: BasesHandle) -> Result<(), BackendError> {
        self.bases
            .remove(&handle.raw())
            .map(drop)
            .ok_or(BackendError::UnknownBases(handle))
    }

    fn msm_unchecked(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        let bases = self
            .bases
            .get(&job.bases.raw())
            .ok_or(BackendError::UnknownBases(job.bases))?;
        let bases = &bases[job.start..job.start + job.scalars.len()];
        Ok(msm::msm(bases, job.scalars))
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        ntt::ntt(&mut self.twiddles, values, domain, op)
    }
}
