//! A [`Backend`] on the device whose MSMs run on the host: the generic
//! [`Router`] with the host link ([`WireBackend`]) as its accelerator and the device's own
//! [`CpuBackend`] as its reference.
//!
//! The policy, and why: the device has the scalars and the host has the bases (the SRS it
//! loaded itself and names by handle in the session), so an MSM sends 32 bytes per scalar in
//! the device→host direction, the fast one on a UART (≈150 KB/s in QEMU), and gets 64 bytes
//! back. An NTT would send 32 bytes per value *and* bring as many back in the slow direction
//! (≈11–27 KB/s in QEMU), to save work the device does in a fraction of that time, so NTTs stay on
//! the device unless the host's session asks for them
//! ([`SessionInfo::ntt_min_log`](accel_proto::SessionInfo::ntt_min_log)); an NTT the host
//! fails runs here instead.

use accel_backends::{
    router::Router, wire::WireBackend, Backend, BackendError, BackendHooks, BasesConfig,
    Capabilities, Checked, CpuBackend, DeviceTiming, Domain, Fr, G1Affine, G1Projective, Meter,
    MsmJob, NttOp, Policy,
};
use accel_proto::NTT_NEVER;
use alloc::vec::Vec;

use crate::{Client, Line};

/// The device's clock for the router's breaker: milliseconds since boot.
pub type Millis = fn() -> u64;

/// The device's backend's hooks: MSMs over the link by bases handle, NTTs local unless the
/// host's policy takes them. [`new`](Self::new) gives them behind the checked front.
pub struct Remote<L: Line> {
    router: Router<Checked<WireBackend<L>>, CpuBackend, Millis>,
}

impl<L: Line> Remote<L> {
    /// A backend over a client; every NTT local until a session says otherwise. `millis`
    /// times the breaker's back-off.
    pub fn new(client: Client<L>, millis: Millis) -> Checked<Self> {
        let policy = Policy {
            msm_min: 0,
            ntt_min_log: u32::MAX,
        };
        Checked::from_hooks(Self {
            router: Router::with_parts(
                WireBackend::new(client, "host-link").checked(),
                CpuBackend::new(),
                policy,
                millis,
            ),
        })
    }

    /// The client, for session messages.
    pub fn client(&mut self) -> &mut Client<L> {
        self.router.accelerator_mut().hooks_mut().client()
    }

    /// The client, to read its statistics.
    pub fn client_ref(&self) -> &Client<L> {
        self.router.accelerator().client_ref()
    }

    /// The client back.
    pub fn into_client(self) -> Client<L> {
        let Self { router } = self;
        let (wire, _) = router.into_parts();
        wire.into_hooks().into_client()
    }

    /// The device's own backend (what stayed on the device is in its counters).
    pub fn local(&self) -> &CpuBackend {
        self.router.reference()
    }

    /// NTTs the host did.
    pub fn remote_ntts(&self) -> u64 {
        self.router.accelerator().counters().ntt_calls
    }

    /// Refers to bases the host loaded itself (the SRS of a session): `len` points under the
    /// host's set `raw`. Their MSMs can only run on the host. Returns this backend's set id
    /// for them ([`Backend::handle_for`] on the front gives its handle).
    pub fn adopt_bases(&mut self, raw: u32, len: usize) -> Result<u32, BackendError> {
        let link = self.router.accelerator_mut();
        link.hooks_mut().adopt_bases(raw, len);
        let adopted = link.handle_for(raw).ok_or(BackendError::UnknownBases(
            accel_backends::BasesHandle::detached(raw),
        ))?;
        // A fresh id per adoption is at most one per session: u32 does not run out.
        self.router.adopt_accel_bases(adopted, len)
    }

    /// NTTs of `2^log` points or more go to the host ([`NTT_NEVER`]: none).
    pub fn set_ntt_min_log(&mut self, log: u8) {
        let ntt_min_log = if log == NTT_NEVER {
            u32::MAX
        } else {
            u32::from(log)
        };
        self.router.set_policy(Policy {
            msm_min: 0,
            ntt_min_log,
        });
    }
}

/// Every hook goes to the router's.
impl<L: Line> BackendHooks for Remote<L> {
    fn name(&self) -> &str {
        "host-link"
    }

    fn capabilities(&self) -> Capabilities {
        self.router.capabilities()
    }

    fn device_timing(&self) -> Option<DeviceTiming> {
        self.router.device_timing()
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.router.bases_len(id)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        self.router.load_bases_unchecked(bases, config, meter)
    }

    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        self.router.release_bases_unchecked(id, meter)
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        self.router.msm_unchecked(job, meter)
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.router.ntt_unchecked(values, domain, op, meter)
    }

    fn msm_batch_unchecked(
        &mut self,
        jobs: &[MsmJob<'_>],
        meter: &mut Meter,
    ) -> Result<Vec<G1Projective>, BackendError> {
        self.router.msm_batch_unchecked(jobs, meter)
    }

    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.router.ntt_batch_unchecked(batch, domain, op, meter)
    }

    fn bases_memory_factor(&self, id: u32) -> Option<u32> {
        self.router.bases_memory_factor(id)
    }
}
