//! The CPU reference backend: a Pippenger MSM with batch-affine bucket accumulation and a
//! cache-blocked radix-2 NTT, both over arkworks' BN254 field and curve arithmetic; where the
//! CPU has AVX-512 IFMA, the MSM's pair additions and the NTT's butterflies and scalings run
//! on eight lanes instead ([`bn254_ifma`], the same values).
//!
//! Multi-threaded with rayon under the `parallel` feature; the same code runs serially in
//! `no_std` (the firmware's local fallback).

mod msm;
mod ntt;

use alloc::{collections::BTreeMap, vec, vec::Vec};

use crate::{
    BackendError, BackendHooks, BasesConfig, Capabilities, Checked, Domain, Fr, G1Affine,
    G1Projective, LoadedBases, Meter, MsmJob, NttOp, MAX_LOG_N,
};

pub use msm::window_bits;

/// Whether the CPU backend's MSM rounds and NTT butterflies run on eight lanes (AVX-512 IFMA):
/// the CPU has it and `ZKEDGE_NO_IFMA` does not turn it off. Either way the results are the
/// same; only the time differs.
pub fn eight_lanes() -> bool {
    bn254_ifma::Ifma::detect().is_some()
}

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

/// The most memory, in multiples of a set of bases, the CPU backend spends on precomputing
/// for it ([`BasesConfig::precompute`]); a table takes what pays within it (10 copies for
/// windows of 13 bits, two bucket sets of 10 windows each).
pub const MAX_PRECOMPUTE: u32 = 16;

/// The CPU backend's hooks: loaded bases (with their precomputed multiples where asked for)
/// and a small cache of NTT twiddle tables.
pub struct Cpu {
    bases: LoadedBases,
    tables: BTreeMap<u32, msm::Table>,
    twiddles: ntt::TwiddleCache,
}

impl Cpu {
    /// Hooks with nothing loaded; [`CpuBackend::new`] puts them behind the checked front.
    pub fn new() -> Self {
        Self {
            bases: LoadedBases::new(),
            tables: BTreeMap::new(),
            twiddles: ntt::TwiddleCache::default(),
        }
    }

    /// The precomputed table that computes `job`, if one does. Narrow jobs have few windows:
    /// the plain bases serve them best.
    fn table_for(&self, job: &MsmJob<'_>) -> Option<&msm::Table> {
        if job.is_narrow() {
            return None;
        }
        self.tables
            .get(&job.bases.id())
            .filter(|t| t.takes(job.start, job.scalars.len()))
    }

    /// Whether `job` is small enough to run on one thread beside others in a batch (and no
    /// precomputed table takes it).
    fn runs_on_one_thread(&self, job: &MsmJob<'_>) -> bool {
        job.scalars.len() <= msm::SMALL_MAX_POINTS && self.table_for(job).is_none()
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
/// If `bases` is shorter than `scalars`; the [`Backend`](crate::Backend) entry points check this for you.
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
            .with_max_precompute(MAX_PRECOMPUTE)
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases.len_of(id)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        _meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        let table = msm::Table::new(bases, config.precompute.min(MAX_PRECOMPUTE))?;
        let id = self.bases.load(bases)?;
        if let Some(table) = table {
            self.tables.insert(id, table);
        }
        Ok(id)
    }

    fn release_bases_unchecked(&mut self, id: u32, _meter: &mut Meter) -> Result<(), BackendError> {
        self.tables.remove(&id);
        self.bases.release(id)
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        _meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        if let Some(sum) = self
            .table_for(job)
            .and_then(|t| t.msm(job.start, job.scalars))
        {
            return Ok(sum);
        }
        let bases = self.bases.range(job.bases, job.start, job.scalars.len())?;
        Ok(msm::msm(bases, job.scalars, job.scalar_bits))
    }

    /// Small jobs run side by side, one a thread (a prover's batches hold dozens of MSMs of a
    /// few hundred points); the others one after another, each across all threads.
    fn msm_batch_unchecked(
        &mut self,
        jobs: &[MsmJob<'_>],
        meter: &mut Meter,
    ) -> Result<Vec<G1Projective>, BackendError> {
        let small: Vec<usize> = (0..jobs.len())
            .filter(|&i| self.runs_on_one_thread(&jobs[i]))
            .collect();
        if crate::par::threads() < 2 || small.len() < 2 {
            return jobs
                .iter()
                .map(|job| self.msm_unchecked(job, meter))
                .collect();
        }
        let inputs = small
            .iter()
            .map(|&i| {
                let job = &jobs[i];
                let bases = self.bases.range(job.bases, job.start, job.scalars.len())?;
                Ok((bases, job.scalars, job.scalar_bits))
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        let small_sums = crate::par::map_collect(inputs.len(), |k| {
            let (bases, scalars, bits) = inputs[k];
            msm::msm_one_thread(bases, scalars, bits)
        });
        let mut sums = vec![G1Projective::default(); jobs.len()];
        for (&i, sum) in small.iter().zip(small_sums) {
            sums[i] = sum;
        }
        let mut small = small.into_iter().peekable();
        for (i, job) in jobs.iter().enumerate() {
            if small.next_if_eq(&i).is_none() {
                sums[i] = self.msm_unchecked(job, meter)?;
            }
        }
        Ok(sums)
    }

    fn bases_memory_factor(&self, id: u32) -> Option<u32> {
        self.bases_len(id)?;
        Some(1 + self.tables.get(&id).map_or(0, |t| t.memory_factor() - 1))
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        _meter: &mut Meter,
    ) -> Result<(), BackendError> {
        ntt::ntt_batch(&mut self.twiddles, &mut [values], domain, op)
    }

    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        _meter: &mut Meter,
    ) -> Result<(), BackendError> {
        ntt::ntt_batch(&mut self.twiddles, batch, domain, op)
    }
}
