//! The CPU reference backend: a Pippenger MSM with batch-affine bucket accumulation and a
//! cache-blocked radix-2 NTT, both over arkworks' BN254 field and curve arithmetic.
//!
//! Multi-threaded with rayon under the `parallel` feature; the same code runs serially in
//! `no_std` (the firmware's local fallback).

mod msm;
mod ntt;

use crate::{
    Backend, BackendError, BasesHandle, Capabilities, Counters, Domain, Fr, G1Affine, G1Projective,
    LoadedBases, MsmJob, NttOp, MAX_LOG_N,
};

pub use msm::window_bits;

/// The CPU backend. Holds loaded bases and a small cache of NTT twiddle tables.
pub struct CpuBackend {
    bases: LoadedBases,
    twiddles: ntt::TwiddleCache,
    counters: Counters,
}

impl CpuBackend {
    /// A backend with nothing loaded.
    pub fn new() -> Self {
        Self {
            bases: LoadedBases::new(),
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
        self.bases.len_of(handle)
    }

    fn load_bases_unchecked(&mut self, bases: &[G1Affine]) -> Result<BasesHandle, BackendError> {
        self.bases.load(bases)
    }

    fn release_bases(&mut self, handle: BasesHandle) -> Result<(), BackendError> {
        self.bases.release(handle)
    }

    fn msm_unchecked(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        let bases = self.bases.range(job.bases, job.start, job.scalars.len())?;
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
