//! The host driver's router: one [`Backend`] in front of an accelerator and the CPU, sending
//! each MSM and NTT where the policy says — small jobs stay on the CPU (a link's or a GPU
//! call's fixed cost outweighs them), and a job the accelerator refuses (size, a dead link)
//! falls back to the CPU. It is a `Backend` itself, so the prover neither knows nor cares.

use std::collections::BTreeMap;

use accel_backends::{
    Backend, BackendError, BackendHooks, BasesConfig, BasesHandle, Capabilities, Checked,
    CpuBackend, DeviceTiming, Domain, Fr, G1Affine, G1Projective, Meter, MsmJob, NttOp,
};
use serde::{Deserialize, Serialize};

use crate::backends::DynBackend;

/// Where jobs go: MSMs shorter than `msm_min` and NTTs smaller than `2^ntt_min_log` stay on
/// the CPU; everything else goes to the accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Default for Policy {
    fn default() -> Self {
        Self::ALL
    }
}

/// An accelerator with the CPU beside it.
pub struct Router {
    accel: DynBackend,
    cpu: CpuBackend,
    policy: Policy,
    /// Our handle → (the accelerator's, the CPU's).
    bases: BTreeMap<u32, (Option<BasesHandle>, BasesHandle)>,
    next: u32,
    /// Jobs the accelerator refused and the CPU took instead.
    fallbacks: u64,
}

impl Router {
    /// Routes between `accel` and a CPU backend by `policy`.
    pub fn new(accel: DynBackend, policy: Policy) -> Checked<Self> {
        Checked::from_hooks(Self {
            accel,
            cpu: CpuBackend::new(),
            policy,
            bases: BTreeMap::new(),
            next: 0,
            fallbacks: 0,
        })
    }

    /// What the accelerator did.
    pub fn accelerator(&self) -> &dyn Backend {
        &*self.accel
    }

    /// What the CPU did.
    pub fn cpu(&self) -> &CpuBackend {
        &self.cpu
    }

    /// Jobs the accelerator refused and the CPU took.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    fn handles(&self, h: BasesHandle) -> Result<(Option<BasesHandle>, BasesHandle), BackendError> {
        self.bases
            .get(&h.id())
            .copied()
            .ok_or(BackendError::UnknownBases(h))
    }

    /// Whether an error means "try the CPU instead" rather than "the input is wrong".
    fn refusal(e: &BackendError) -> bool {
        matches!(
            e,
            BackendError::SizeUnsupported { .. }
                | BackendError::Link(_)
                | BackendError::Device(_)
                | BackendError::NoBasesSlot { .. }
                | BackendError::OutOfMemory { .. }
        )
    }

    /// Whether the policy sends `job` to the accelerator.
    fn to_accel(&self, job: &MsmJob<'_>) -> bool {
        job.scalars.len() >= self.policy.msm_min
    }

    /// The device cycles and link bytes of both backends, to report what a call added.
    fn usage(&self) -> (u64, u64) {
        let (a, c) = (self.accel.counters(), self.cpu.counters());
        (
            a.device_cycles + c.device_cycles,
            a.link_bytes + c.link_bytes,
        )
    }

    fn report_since(&self, before: (u64, u64), meter: &mut Meter) {
        let (cycles, bytes) = self.usage();
        meter.add_device_cycles(cycles.saturating_sub(before.0));
        meter.add_link_bytes(bytes.saturating_sub(before.1));
    }
}

impl BackendHooks for Router {
    fn name(&self) -> &str {
        "router"
    }

    fn capabilities(&self) -> Capabilities {
        // The CPU takes whatever the accelerator cannot.
        self.cpu.capabilities()
    }

    /// The accelerator's: the device cycles and link bytes counted are its.
    fn device_timing(&self) -> Option<DeviceTiming> {
        self.accel.device_timing()
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        let (_, cpu) = self.bases.get(&id)?;
        self.cpu.bases_len(*cpu)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        let before = self.usage();
        let cpu = self.cpu.load_bases_with(bases, config)?;
        // An accelerator that cannot hold these bases leaves their MSMs to the CPU.
        let accel = match self.accel.load_bases_with(bases, config) {
            Ok(h) => Some(h),
            Err(e) if Self::refusal(&e) => None,
            Err(e) => return Err(e),
        };
        self.report_since(before, meter);
        let raw = self.next;
        self.next = raw
            .checked_add(1)
            .ok_or(BackendError::NoBasesSlot { max: u32::MAX })?;
        self.bases.insert(raw, (accel, cpu));
        Ok(raw)
    }

    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        let (accel, cpu) = self.handles(BasesHandle::detached(id))?;
        self.bases.remove(&id);
        let before = self.usage();
        if let Some(a) = accel {
            // The accelerator may be gone; its copy goes with it.
            let _ = self.accel.release_bases(a);
        }
        let done = self.cpu.release_bases(cpu);
        self.report_since(before, meter);
        done
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        Ok(self.msm_batch_unchecked(std::slice::from_ref(job), meter)?[0])
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
        let before = self.usage();
        let sums = self.route_msms(jobs);
        self.report_since(before, meter);
        sums
    }

    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        let before = self.usage();
        let done = self.route_ntts(batch, domain, op);
        self.report_since(before, meter);
        done
    }
}

impl Router {
    fn route_msms(&mut self, jobs: &[MsmJob<'_>]) -> Result<Vec<G1Projective>, BackendError> {
        let mut on_accel = Vec::new();
        let mut at = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            if !self.to_accel(job) {
                continue;
            }
            match self.handles(job.bases)?.0 {
                Some(a) => {
                    on_accel.push(MsmJob { bases: a, ..*job });
                    at.push(i);
                }
                // The accelerator refused these bases when they were loaded.
                None => self.fallbacks += 1,
            }
        }
        let mut sums = vec![None; jobs.len()];
        if !on_accel.is_empty() {
            match self.accel.msm_batch(&on_accel) {
                Ok(done) => {
                    at.iter().zip(done).for_each(|(&i, s)| sums[i] = Some(s));
                }
                Err(e) if Self::refusal(&e) => self.fallbacks += on_accel.len() as u64,
                Err(e) => return Err(e),
            }
        }
        jobs.iter()
            .zip(sums)
            .map(|(job, sum)| match sum {
                Some(s) => Ok(s),
                None => self.cpu.msm_job(&MsmJob {
                    bases: self.handles(job.bases)?.1,
                    ..*job
                }),
            })
            .collect()
    }

    fn route_ntts(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        let log_n = domain.log_n();
        if log_n >= self.policy.ntt_min_log && log_n <= self.accel.capabilities().max_ntt_log_n {
            // A failed NTT may have touched its values; work on copies until they succeed.
            let mut copies: Vec<Vec<Fr>> = batch.iter().map(|v| v.to_vec()).collect();
            let mut views: Vec<&mut [Fr]> = copies.iter_mut().map(Vec::as_mut_slice).collect();
            match self.accel.ntt_batch(&mut views, domain, op) {
                Ok(()) => {
                    for (values, copy) in batch.iter_mut().zip(&copies) {
                        values.copy_from_slice(copy);
                    }
                    return Ok(());
                }
                Err(e) if Self::refusal(&e) => self.fallbacks += batch.len() as u64,
                Err(e) => return Err(e),
            }
        }
        self.cpu.ntt_batch(batch, domain, op)
    }
}
