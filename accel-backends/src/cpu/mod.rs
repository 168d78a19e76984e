//! The CPU reference backend: a Pippenger MSM with batch-affine bucket accumulation and a
//! cache-blocked radix-2 NTT, both over arkworks' BN254 field and curve arithmetic.
//!
//! Multi-threaded with rayon under the `parallel` feature; the same code runs serially in
//! `no_std` (the firmware's local fallback).

mod msm;
mod ntt;

use crate::{
    BackendError, BackendHooks, BasesConfig, Capabilities, Checked, Domain, Fr, G1Affine,
    G1Projective, LoadedBases, Meter, MsmJob, NttOp, MAX_LOG_N,
};

pub use msm::window_bits;

/// The CPU backend, as callers use it: [`Cpu`]'s hooks behind the checked front.
pub type CpuBackend = Checked<Cpu>;

impl Checked<Cpu> {
    /// A CPU backend with nothing loaded.
    pub fn new() -> Self {
        Checked::from_hooks(Cpu::new())
    }
}

impl Default for Checked<Cpu> {
    fn default() -> Self {
        Self::new()
    }
}

/// The CPU backend's hooks: loaded bases and a small cache of NTT twiddle tables.
pub struct Cpu {
    bases: LoadedBases,
    twiddles: ntt::TwiddleCache,
}

impl Cpu {
    /// Hooks with nothing loaded; [`CpuBackend::new`] puts them behind the checked front.
    pub fn new() -> Self {
        Self {
            bases: LoadedBases::new(),
            twiddles: ntt::TwiddleCache::default(),
        }
    }
}

impl Default for Cpu {
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
    msm::msm(&bases[..scalars.len()], scalars, crate::FULL_SCALAR_BITS)
}

impl BackendHooks for Cpu {
    fn name(&self) -> &str {
        "cpu"
    }

    fn capabilities(&self) -> Capabilities {
        // Bounded by memory alone; these are the protocol's and the field's limits.
        Capabilities::new(u32::MAX as usize, u32::MAX as usize, u32::MAX, MAX_LOG_N)
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases.len_of(id)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        _config: BasesConfig,
        _meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        self.bases.load(bases)
    }

    fn release_bases_unchecked(&mut self, id: u32, _meter: &mut Meter) -> Result<(), BackendError> {
        self.bases.release(id)
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        _meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        let bases = self.bases.range(job.bases, job.start, job.scalars.len())?;
        Ok(msm::msm(bases, job.scalars, job.scalar_bits))
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        _meter: &mut Meter,
    ) -> Result<(), BackendError> {
        ntt::ntt(&mut self.twiddles, values, domain, op)
    }
}
