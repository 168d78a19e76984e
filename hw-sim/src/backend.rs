//! [`HwSim`]: the simulated accelerator as a [`Backend`], so it can be served, benchmarked and
//! tested like any other.

use accel_backends::{
    Backend, BackendError, BasesHandle, Capabilities, Counters, DeviceTiming, Domain, Fr, G1Affine,
    G1Projective, LoadedBases, MsmJob, NttDirection, NttOp,
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
    bases: LoadedBases,
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
            bases: LoadedBases::with_max_sets(u32::from(config.bases_slots)),
            config,
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
