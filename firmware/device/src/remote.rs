//! A [`Backend`] on the device whose MSMs run on the host.
//!
//! The policy, and why: the device has the scalars and the host has the bases (the SRS it
//! loaded itself and names by handle in the session), so an MSM sends 32 bytes per scalar in
//! the device→host direction, the fast one on a UART (≈150 KB/s in QEMU), and gets 64 bytes
//! back. An NTT would send 32 bytes per value *and* bring as many back in the slow direction
//! (≈11–27 KB/s in QEMU), to save work the device does in a fraction of that time, so NTTs stay on
//! the device's own [`CpuBackend`] unless the host's session asks for them
//! ([`SessionInfo::ntt_min_log`](accel_proto::SessionInfo::ntt_min_log)).

use alloc::vec::Vec;

use accel_backends::{
    wire_error::wire_error_to_backend, Backend, BackendError, BackendHooks, BasesConfig,
    BasesHandle, Capabilities, Checked, CpuBackend, DeviceFault, Domain, Fr, G1Affine,
    G1Projective, LinkError, Meter, MsmJob, NttDirection, NttOp, Op, MAX_LOG_N,
};
use accel_proto::{
    chunk_capacity,
    elem::{self, FE_BYTES, POINT_BYTES},
    Direction, ReplyBody, RequestBody, NTT_NEVER,
};
use ark_ff::{AdditiveGroup, Zero};

use crate::{CallError, Client, Line, LineError};

/// The device's backend: MSMs over the link by bases handle, NTTs local unless the host's
/// policy takes them.
pub struct Remote<L: Line> {
    client: Client<L>,
    local: CpuBackend,
    /// Server handles and their lengths.
    bases: Vec<(u32, usize)>,
    ntt_min_log: u8,
    remote_ntts: u64,
    /// The link bytes already reported to the front.
    reported_bytes: u64,
    /// One chunk of encoded elements.
    scratch: Vec<u8>,
}

impl<L: Line> Remote<L> {
    /// A backend over a connected client; every NTT local until a session says otherwise.
    pub fn new(client: Client<L>) -> Checked<Self> {
        Checked::from_hooks(Self {
            client,
            local: CpuBackend::new(),
            bases: Vec::new(),
            ntt_min_log: NTT_NEVER,
            remote_ntts: 0,
            reported_bytes: 0,
            scratch: Vec::new(),
        })
    }

    /// The client, for session messages.
    pub fn client(&mut self) -> &mut Client<L> {
        &mut self.client
    }

    /// The client back.
    pub fn into_client(self) -> Client<L> {
        self.client
    }

    /// The device's own backend (what stayed on the device is in its counters).
    pub fn local(&self) -> &CpuBackend {
        &self.local
    }

    /// NTTs sent to the host.
    pub fn remote_ntts(&self) -> u64 {
        self.remote_ntts
    }

    /// Refers to bases the host loaded itself (the SRS of a session): `len` points under the
    /// host's handle `raw`, which is then this backend's set `raw`
    /// ([`Checked::handle_for`] gives its handle).
    pub fn adopt_bases(&mut self, raw: u32, len: usize) {
        match self.bases.iter_mut().find(|(h, _)| *h == raw) {
            Some(entry) => entry.1 = len,
            None => self.bases.push((raw, len)),
        }
    }

    /// NTTs of `2^log` points or more go to the host ([`NTT_NEVER`]: none).
    pub fn set_ntt_min_log(&mut self, log: u8) {
        self.ntt_min_log = log;
    }

    /// Reports the link bytes since the last report (session messages included).
    fn sync(&mut self, meter: &mut Meter) {
        let s = self.client.stats();
        let total = s.tx_bytes + s.rx_bytes;
        meter.add_link_bytes(total.saturating_sub(self.reported_bytes));
        self.reported_bytes = total;
    }

    fn remote_ntt(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), CallError> {
        let n = values.len();
        let mut out: Vec<Fr> = Vec::new();
        out.try_reserve_exact(n)
            .map_err(|_| CallError::BadRequest)?;
        out.resize(n, Fr::ZERO);
        let Self {
            client, scratch, ..
        } = &mut *self;
        let cap = chunk_capacity(client.max_frame(), FE_BYTES);
        let t = client.config().timeouts;
        let log_n = u8::try_from(domain.log_n()).map_err(|_| CallError::BadRequest)?;
        client.job(|c| {
            let begin = RequestBody::NttBegin {
                log_n,
                omega: elem::encode_fr(&domain.omega()),
                direction: match op.direction {
                    NttDirection::Forward => Direction::Forward,
                    NttDirection::Inverse => Direction::Inverse,
                },
                coset: op.coset.as_ref().map(elem::encode_fr),
            };
            c.call_ok(begin, t.reply_ms)?;
            for (i, chunk) in values.chunks(cap).enumerate() {
                scratch.clear();
                chunk
                    .iter()
                    .for_each(|x| scratch.extend_from_slice(&elem::encode_fr(x)));
                let offset = offset(i * cap)?;
                c.call_ok(
                    RequestBody::NttChunk {
                        offset,
                        values: scratch,
                    },
                    t.reply_ms,
                )?;
            }
            match c.call(RequestBody::NttRun, t.work_ms)? {
                ReplyBody::NttDone { .. } => {}
                _ => return Err(CallError::Unexpected),
            }
            for start in (0..n).step_by(cap.max(1)) {
                let count = cap.min(n - start);
                let read = RequestBody::NttRead {
                    offset: offset(start)?,
                    count: offset(count)?,
                };
                let dst = &mut out[start..start + count];
                match c.call(read, t.reply_ms)? {
                    ReplyBody::NttValues { offset: o, values }
                        if o as usize == start && values.len() == count * FE_BYTES =>
                    {
                        elem::decode_fr_chunk(values, |i, x| dst[i] = x)
                            .map_err(|_| CallError::BadElement)?;
                    }
                    _ => return Err(CallError::Unexpected),
                }
            }
            Ok(())
        })?;
        values.copy_from_slice(&out);
        self.remote_ntts += 1;
        Ok(())
    }
}

fn offset(i: usize) -> Result<u32, CallError> {
    u32::try_from(i).map_err(|_| CallError::BadRequest)
}

/// A failed call as the Backend trait reports it; the host's refusals as any wire client reads
/// them ([`wire_error_to_backend`]).
fn backend_error(
    e: CallError,
    op: Op,
    handle: Option<BasesHandle>,
    size: usize,
    log_n: u32,
) -> BackendError {
    match e {
        CallError::Line(LineError::Closed) => LinkError::Closed.into(),
        CallError::Line(_) => LinkError::Io.into(),
        CallError::Timeout => LinkError::Timeout.into(),
        CallError::Corrupt => LinkError::Corrupt.into(),
        CallError::Unexpected | CallError::BadRequest => LinkError::Protocol.into(),
        CallError::BadElement => BackendError::Device(DeviceFault {
            device: "host",
            code: u32::MAX,
        }),
        CallError::Refused(r) => wire_error_to_backend(r, op, handle, size, 0, log_n, "host"),
    }
}

impl<L: Line> BackendHooks for Remote<L> {
    fn name(&self) -> &str {
        "host-link"
    }

    fn capabilities(&self) -> Capabilities {
        let (msm, bases, sets) = self.client.server().map_or((0, 0, 0), |c| {
            (
                c.max_msm_len as usize,
                c.max_bases_len as usize,
                u32::from(c.bases_slots),
            )
        });
        // NTTs the host does not take run here, at any size.
        Capabilities::new(msm, bases, sets, MAX_LOG_N)
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases
            .iter()
            .find(|(h, _)| *h == id)
            .map(|&(_, len)| len)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        _config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        let Self {
            client, scratch, ..
        } = &mut *self;
        let cap = chunk_capacity(client.max_frame(), POINT_BYTES);
        let t = client.config().timeouts;
        let fail = |e| backend_error(e, Op::LoadBases, None, bases.len(), 0);
        let len = offset(bases.len()).map_err(fail)?;
        let handle = client
            .job(|c| {
                c.call_ok(RequestBody::BasesBegin { len }, t.reply_ms)?;
                for (i, chunk) in bases.chunks(cap).enumerate() {
                    scratch.clear();
                    for p in chunk {
                        let mut bytes = [0u8; POINT_BYTES];
                        elem::write_point(p, &mut bytes);
                        scratch.extend_from_slice(&bytes);
                    }
                    let body = RequestBody::BasesChunk {
                        offset: offset(i * cap)?,
                        points: scratch,
                    };
                    c.call_ok(body, t.reply_ms)?;
                }
                match c.call(RequestBody::BasesEnd, t.work_ms)? {
                    ReplyBody::BasesLoaded { handle, .. } => Ok(handle),
                    _ => Err(CallError::Unexpected),
                }
            })
            .map_err(fail);
        self.sync(meter);
        let handle = handle?;
        self.adopt_bases(handle, bases.len());
        Ok(handle)
    }

    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        let handle = BasesHandle::detached(id);
        if self.bases_len(id).is_none() {
            return Err(BackendError::UnknownBases(handle));
        }
        let t = self.client.config().timeouts;
        let done = self
            .client
            .job(|c| c.call_ok(RequestBody::ReleaseBases { handle: id }, t.reply_ms))
            .map_err(|e| backend_error(e, Op::LoadBases, Some(handle), 0, 0));
        self.sync(meter);
        done?;
        self.bases.retain(|(h, _)| *h != id);
        Ok(())
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        if job.scalars.is_empty() {
            return Ok(G1Projective::zero());
        }
        let Self {
            client, scratch, ..
        } = &mut *self;
        let cap = chunk_capacity(client.max_frame(), FE_BYTES);
        let t = client.config().timeouts;
        let fail = |e| backend_error(e, Op::Msm, Some(job.bases), job.scalars.len(), 0);
        let (start, len) = (
            offset(job.start).map_err(fail)?,
            offset(job.scalars.len()).map_err(fail)?,
        );
        let handle = job.bases.id();
        let sum = client
            .job(|c| {
                c.call_ok(RequestBody::MsmBegin { handle, start, len }, t.reply_ms)?;
                for (i, chunk) in job.scalars.chunks(cap).enumerate() {
                    scratch.clear();
                    chunk
                        .iter()
                        .for_each(|x| scratch.extend_from_slice(&elem::encode_fr(x)));
                    let body = RequestBody::MsmChunk {
                        offset: offset(i * cap)?,
                        scalars: scratch,
                    };
                    c.call_ok(body, t.reply_ms)?;
                }
                match c.call(RequestBody::MsmEnd, t.work_ms)? {
                    ReplyBody::MsmDone { sum, .. } => {
                        elem::decode_point(&sum).map_err(|_| CallError::BadElement)
                    }
                    _ => Err(CallError::Unexpected),
                }
            })
            .map_err(fail);
        self.sync(meter);
        Ok(sum?.into())
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        let offload = domain.log_n() >= u32::from(self.ntt_min_log)
            && self
                .client
                .server()
                .is_some_and(|c| domain.log_n() <= u32::from(c.max_ntt_log_n));
        if !offload {
            return self.local.ntt(values, domain, op);
        }
        let result = self
            .remote_ntt(values, domain, op)
            .map_err(|e| backend_error(e, Op::Ntt, None, values.len(), domain.log_n()));
        self.sync(meter);
        result
    }
}
