//! [`HwSim`]: the simulated accelerator as a [`Backend`], so it can be served, benchmarked and
//! tested like any other.

use std::collections::BTreeMap;

use accel_backends::{
    Backend, BackendError, BasesHandle, Capabilities, Counters, DeviceTiming, Domain, Fr, G1Affine,
    G1Projective, MsmJob, NttDirection, NttOp,
};

use crate::{
    config::HwConfig,
    msm::{msm, MsmReport},
    ntt::{NttEngine, NttJob, NttReport},
};

/// The simulated accelerator. Each MSM and NTT adds its simulated compute cycles to
/// [`Counters::device_cycles`]; the per-phase breakdown of the last job is kept too.
pub struct HwSim {
    config: HwConfig,
    bases: BTreeMap<u32, Vec<G1Affine>>,
    next_handle: u32,
    ntt: NttEngine,
    counters: Counters,
    last_msm: Option<MsmReport>,
    last_ntt: Option<NttReport>,
}

impl HwSim {
    /// An accelerator with the given (validated) parameters.
    pub fn new(config: HwConfig) -> Result<Self, crate::ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            bases: BTreeMap::new(),
            next_handle: 0,
            ntt: NttEngine::default(),
            counters: Counters::default(),
            last_msm: None,
            last_ntt: None,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &HwConfig {
        &self.config
    }

    /// The cycle breakdown of the last MSM.
    pub fn last_msm(&self) -> Option<MsmReport> {
        self.last_msm
    }

    /// The cycle breakdown of the last NTT.
    pub fn last_ntt(&self) -> Option<NttReport> {
        self.last_ntt
    }
}

impl Backend for HwSim {
    fn name(&self) -> &str {
        "hw-sim"
    }

    fn capabilities(&self) -> Capabilities {
        let msm = 1usize << self.config.max_msm_log;
        Capabilities::new(
            msm,
            msm,
            u32::from(self.config.bases_slots),
            self.config.max_ntt_log,
        )
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    /// The configured clock, and the configured line (`link-baud`) as the link this device
    /// would sit behind: in process no byte crosses it, so `link_bytes` stays 0.
    fn device_timing(&self) -> Option<DeviceTiming> {
        Some(DeviceTiming::new(
            u64::from(self.config.clock_mhz) * 1_000_000,
            Some(self.config.link_baud),
        ))
    }

    fn bases_len(&self, handle: BasesHandle) -> Option<usize> {
        self.bases.get(&handle.raw()).map(Vec::len)
    }

    fn load_bases_unchecked(&mut self, bases: &[G1Affine]) -> Result<BasesHandle, BackendError> {
        let slots = u32::from(self.config.bases_slots);
        if self.bases.len() >= slots as usize {
            return Err(BackendError::NoBasesSlot { max: slots });
        }
        let raw = self.next_handle;
        self.next_handle = raw
            .checked_add(1)
            .ok_or(BackendError::NoBasesSlot { max: slots })?;
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
        let (sum, report) = msm(&self.config, bases, job.scalars);
        self.counters.device_cycles += report.total_cycles;
        self.last_msm = Some(report);
        Ok(sum)
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        let job = NttJob {
            log_n: domain.log_n(),
            omega: domain.omega(),
            inverse: op.direction == NttDirection::Inverse,
            coset: op.coset,
        };
        let report = self.ntt.run(&self.config, values, job);
        self.counters.device_cycles += report.total_cycles;
        self.last_ntt = Some(report);
        Ok(())
    }
}
