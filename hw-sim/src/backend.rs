//! [`HwSim`]: the simulated accelerator as a [`Backend`], so it can be served, benchmarked and
//! tested like any other.

use accel_backends::{
    BackendError, BackendHooks, BasesConfig, Capabilities, Checked, DeviceTiming, Domain, Fr,
    G1Affine, G1Projective, LoadedBases, Meter, MsmJob, NttDirection, NttOp,
};

use crate::{
    config::HwConfig,
    msm::{msm_hinted, MsmReport},
    ntt::{NttEngine, NttJob, NttReport},
};

/// The simulated accelerator's hooks. Each MSM and NTT reports its simulated compute cycles
/// (they land in the front's [`Counters::device_cycles`](accel_backends::Counters)); the
/// per-phase breakdown of the last job is kept too.
pub struct HwSim {
    config: HwConfig,
    bases: LoadedBases,
    ntt: NttEngine,
    last_msm: Option<MsmReport>,
    last_ntt: Option<NttReport>,
}

impl HwSim {
    /// An accelerator with the given (validated) parameters, behind the checked front.
    pub fn new(config: HwConfig) -> Result<Checked<Self>, crate::ConfigError> {
        config.validate()?;
        Ok(Checked::from_hooks(Self {
            bases: LoadedBases::with_max_sets(u32::from(config.bases_slots)),
            config,
            ntt: NttEngine::default(),
            last_msm: None,
            last_ntt: None,
        }))
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

impl BackendHooks for HwSim {
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

    /// The configured clock, and the configured line (`link-baud`) as the link this device
    /// would sit behind: in process no byte crosses it, so `link_bytes` stays 0.
    fn device_timing(&self) -> Option<DeviceTiming> {
        Some(DeviceTiming::new(
            u64::from(self.config.clock_mhz) * 1_000_000,
            Some(self.config.link_baud),
        ))
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
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        let bases = self.bases.range(job.bases, job.start, job.scalars.len())?;
        let (sum, report) = msm_hinted(&self.config, bases, job.scalars, job.scalar_bits);
        meter.add_device_cycles(report.total_cycles);
        self.last_msm = Some(report);
        Ok(sum)
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        let job = NttJob {
            log_n: domain.log_n(),
            omega: domain.omega(),
            inverse: op.direction == NttDirection::Inverse,
            coset: op.coset,
        };
        let report = self.ntt.run(&self.config, values, job);
        meter.add_device_cycles(report.total_cycles);
        self.last_ntt = Some(report);
        Ok(())
    }
}
