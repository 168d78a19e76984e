//! [`WireBackend`]: the hooks of a backend whose MSMs and NTTs are done by a wire server on the
//! other side of a [`Line`] — the host's link to an accelerator
//! ([`SerialBackend`](super::serial::SerialBackend)) and a device's link to the host driver
//! (`zkedge-device`) are both this type, behind the checked front ([`Checked`]).
//!
//! Bases are uploaded once per handle (or adopted: a host driver loads the SRS itself and
//! names its handles in a session); scalars and NTT values travel in chunks that fit the
//! peer's frame buffer, each retransmitted on its own when lost or damaged. Every job runs
//! under one deadline sized to its bytes and its work ([`Timeouts::job_ms`](super::Timeouts::job_ms)):
//! a silent, closed or garbled link comes back as a [`LinkError`] by then — never a hang,
//! and never a result that did not arrive whole and CRC-checked.
//!
//! An MSM's scalars travel as narrow as they are: the client measures the two's complement
//! width of every scalar (a hint is not trusted) and sends `MsmBeginNarrow` with that many bytes
//! per scalar (an int8 activation: one byte instead of 32), or full 32-byte scalars
//! where that is no saving or the peer does not know the kind (it answers `UnknownKind`; the
//! client then sends full width for the rest of the link's life).

use alloc::{collections::BTreeMap, vec::Vec};

use accel_proto::{
    chunk_capacity,
    elem::{self, FE_BYTES, POINT_BYTES},
    Capabilities as WireCaps, Direction, ErrorCode, ReplyBody, RequestBody, Stats,
};
use ark_ff::{AdditiveGroup, Zero};

use super::{CallError, Client, Line, LineError, Wait, Work};
use crate::{
    wire_error::wire_error_to_backend, BackendError, BackendHooks, BasesConfig, BasesHandle,
    Capabilities, Checked, DeviceFault, DeviceTiming, Domain, Fr, G1Affine, G1Projective,
    LinkError, Meter, MsmJob, NttDirection, NttOp, Op,
};

/// Bytes of a chunk's frame and its reply beyond its elements, at most (header, CRC, COBS,
/// delimiter, the `Ok`): for sizing job budgets.
const CHUNK_OVERHEAD: usize = 48;

/// A backend served over a [`Line`] by the wire protocol: the hooks, which
/// [`checked`](Self::checked) (or [`Checked::from_hooks`]) puts behind the checked front.
pub struct WireBackend<L: Line> {
    client: Client<L>,
    name: &'static str,
    /// The peer's set ids and their lengths.
    bases: BTreeMap<u32, usize>,
    /// The link bytes (the client's, both directions) already reported to the front.
    reported_bytes: u64,
    /// Device cycles the peer reported and the front has not been told of yet.
    unreported_cycles: u64,
    last_stats: Stats,
    /// The line's rate in baud, if it has one (for [`device_timing`](BackendHooks::device_timing)).
    baud: Option<u32>,
    /// One chunk of encoded elements.
    scratch: Vec<u8>,
    /// Whether the peer takes narrow scalars (until it refuses them once).
    narrow: bool,
}

impl<L: Line> WireBackend<L> {
    /// The hooks of a backend over `client`, named `name` in reports; call
    /// [`connect`](Self::connect) (or connect the client) before any job.
    pub fn new(client: Client<L>, name: &'static str) -> Self {
        Self {
            client,
            name,
            bases: BTreeMap::new(),
            reported_bytes: 0,
            unreported_cycles: 0,
            last_stats: Stats::default(),
            baud: None,
            scratch: Vec::new(),
            narrow: true,
        }
    }

    /// Says that the line runs at `baud` (for the device timing it reports).
    pub fn with_baud(mut self, baud: u32) -> Self {
        self.baud = Some(baud);
        self
    }

    /// These hooks behind the checked front: the backend callers use.
    pub fn checked(self) -> Checked<Self> {
        Checked::from_hooks(self)
    }

    /// Shakes hands with the peer, up to `attempts` times.
    pub fn connect(&mut self, attempts: u32) -> Result<WireCaps, BackendError> {
        let caps = self
            .client
            .connect(attempts)
            .map_err(|e| call_error(e, Op::LoadBases, None, 0, 0))?;
        if chunk_capacity(self.client.max_frame(), POINT_BYTES) == 0 {
            return Err(LinkError::Protocol.into());
        }
        Ok(caps)
    }

    /// The client, for requests beyond MSMs and NTTs (a device's session messages).
    pub fn client(&mut self) -> &mut Client<L> {
        &mut self.client
    }

    /// The client, to read its statistics.
    pub fn client_ref(&self) -> &Client<L> {
        &self.client
    }

    /// The client back.
    pub fn into_client(self) -> Client<L> {
        self.client
    }

    /// The statistics of the last completed job (load, MSM or NTT).
    pub fn last_stats(&self) -> Stats {
        self.last_stats
    }

    /// Refers to bases the peer loaded itself (a host driver's SRS, named in a session): `len`
    /// points under the peer's set `id`, which is then this backend's set `id`
    /// ([`Backend::handle_for`](crate::Backend::handle_for) on the front gives its handle).
    pub fn adopt_bases(&mut self, id: u32, len: usize) {
        self.bases.insert(id, len);
    }

    /// Reports the link bytes (the handshake and session messages included) and device cycles
    /// since the last report.
    fn sync(&mut self, meter: &mut Meter) {
        let s = self.client.stats();
        let total = s.tx_bytes + s.rx_bytes;
        meter.add_link_bytes(total.saturating_sub(self.reported_bytes));
        self.reported_bytes = total;
        meter.add_device_cycles(core::mem::take(&mut self.unreported_cycles));
    }

    fn record(&mut self, stats: Stats) {
        self.unreported_cycles = self.unreported_cycles.saturating_add(stats.compute_cycles);
        self.last_stats = stats;
    }

    fn cap(&self, elem_bytes: usize) -> usize {
        chunk_capacity(self.client.max_frame(), elem_bytes).max(1)
    }
}

/// Sends `values` as consecutive chunks from element `from`, each retransmitted on its own;
/// resumes where the server says the upload stands when it already holds a chunk.
fn upload<L: Line, T>(
    c: &mut Client<L>,
    scratch: &mut Vec<u8>,
    values: &[T],
    elem_bytes: usize,
    encode: impl Fn(&T, &mut [u8]),
    chunk: impl Fn(u32, &[u8]) -> RequestBody<'_>,
    deadline: u64,
) -> Result<(), CallError> {
    let cap = chunk_capacity(c.max_frame(), elem_bytes).max(1);
    let mut at = 0;
    while at < values.len() {
        let part = &values[at..values.len().min(at + cap)];
        scratch.clear();
        scratch.resize(part.len() * elem_bytes, 0);
        for (dst, v) in scratch.chunks_exact_mut(elem_bytes).zip(part) {
            encode(v, dst);
        }
        let offset = to_u32(at)?;
        match c.call_ok(chunk(offset, scratch), Wait::Reply(16), deadline) {
            Ok(()) => at += part.len(),
            // The server already holds this chunk (its reply was lost) or missed an earlier
            // one: carry on from where it stands.
            Err(CallError::Refused(r))
                if r.code == ErrorCode::BadOffset
                    && (r.detail as usize) <= values.len()
                    && r.detail as usize != at =>
            {
                at = r.detail as usize;
                c.note_resumed();
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The fewest bytes that hold every scalar as a two's complement integer, if 16 or fewer do.
fn narrow_width(scalars: &[Fr]) -> Option<usize> {
    use ark_ff::BigInteger;
    let mut widest = 1;
    for s in scalars {
        let (negative, mut m) = crate::width::signed(s);
        // −2^(8w−1) fits w bytes, +2^(8w−1) does not.
        if negative {
            m.sub_with_borrow(&ark_ff::BigInt::from(1u64));
        }
        widest = widest.max((m.num_bits() as usize + 1).div_ceil(8));
        if widest > elem::MAX_NARROW_BYTES {
            return None;
        }
    }
    Some(widest)
}

/// `x` as a signed integer, for a scalar whose magnitude is at most `2^127`.
fn signed_i128(x: &Fr) -> i128 {
    let (negative, m) = crate::width::signed(x);
    let v = u128::from(m.0[1]) << 64 | u128::from(m.0[0]);
    if negative {
        // −2^127 included.
        0i128.wrapping_sub_unsigned(v)
    } else {
        v as i128
    }
}

fn to_u32(x: usize) -> Result<u32, CallError> {
    u32::try_from(x).map_err(|_| CallError::BadRequest)
}

/// A failed call as the Backend trait reports it; the peer's refusals as any wire client reads
/// them ([`wire_error_to_backend`]).
pub fn call_error(
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
            device: "wire peer",
            code: u32::MAX,
        }),
        CallError::Refused(r) => wire_error_to_backend(r, op, handle, size, 0, log_n, "wire peer"),
    }
}

impl<L: Line> BackendHooks for WireBackend<L> {
    fn name(&self) -> &str {
        self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.client
            .server()
            .map_or(Capabilities::new(0, 0, 0, 0), |c| {
                Capabilities::new(
                    c.max_msm_len as usize,
                    c.max_bases_len as usize,
                    u32::from(c.bases_slots),
                    u32::from(c.max_ntt_log_n),
                )
            })
    }

    /// The clock the peer announced (none if it announced 0), behind the line's rate.
    fn device_timing(&self) -> Option<DeviceTiming> {
        let mhz = self.client.server()?.clock_mhz;
        (mhz > 0).then(|| DeviceTiming::new(u64::from(mhz) * 1_000_000, self.baud))
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases.get(&id).copied()
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        _config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        let fail = |e| call_error(e, Op::LoadBases, None, bases.len(), 0);
        let len = to_u32(bases.len()).map_err(fail)?;
        let cap = self.cap(POINT_BYTES);
        let bytes = bases.len() * POINT_BYTES + bases.len().div_ceil(cap) * CHUNK_OVERHEAD;
        let Self {
            client, scratch, ..
        } = &mut *self;
        let handle = client
            .job(|c| {
                let deadline = c.job_deadline(bytes, Work::LoadBases, bases.len());
                c.call_ok(RequestBody::BasesBegin { len }, Wait::Reply(16), deadline)?;
                upload(
                    c,
                    scratch,
                    bases,
                    POINT_BYTES,
                    |p, dst| {
                        let mut b = [0u8; POINT_BYTES];
                        elem::write_point(p, &mut b);
                        dst.copy_from_slice(&b);
                    },
                    |offset, points| RequestBody::BasesChunk { offset, points },
                    deadline,
                )?;
                let wait = Wait::Work(Work::LoadBases, bases.len());
                match c.call(RequestBody::BasesEnd, wait, deadline)? {
                    ReplyBody::BasesLoaded { handle, stats } => Ok((handle, stats)),
                    _ => Err(CallError::Unexpected),
                }
            })
            .map_err(fail);
        let done = handle.map(|(handle, stats)| {
            self.record(stats);
            self.adopt_bases(handle, bases.len());
            handle
        });
        self.sync(meter);
        done
    }

    /// Forgets a set of bases here at once, then tells the peer within one short reply
    /// window, never retried: a release must never hold up an exit behind a silent peer.
    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        let handle = BasesHandle::detached(id);
        if self.bases.remove(&id).is_none() {
            return Err(BackendError::UnknownBases(handle));
        }
        let window = u64::from(self.client.config().timeouts.reply_ms);
        let deadline = self.client.now_ms().saturating_add(window);
        let body = RequestBody::ReleaseBases { handle: id };
        let result = match self.client.call_ok(body, Wait::Reply(16), deadline) {
            // Already released: a retransmitted release.
            Ok(()) | Err(CallError::Refused(_)) => Ok(()),
            Err(e) => Err(call_error(e, Op::LoadBases, Some(handle), 0, 0)),
        };
        self.sync(meter);
        result
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        if job.scalars.is_empty() {
            return Ok(G1Projective::zero());
        }
        let n = job.scalars.len();
        let fail = |e| call_error(e, Op::Msm, Some(job.bases), n, 0);
        let (start, len) = (to_u32(job.start).map_err(fail)?, to_u32(n).map_err(fail)?);
        let handle = job.bases.id();
        // Measured only while the peer takes narrow scalars.
        let mut width = self
            .narrow
            .then(|| narrow_width(job.scalars))
            .flatten()
            .unwrap_or(FE_BYTES);
        let bytes = |width: usize| n * width + n.div_ceil(self.cap(width)) * CHUNK_OVERHEAD;
        let (narrow_bytes, full_bytes) = (bytes(width), bytes(FE_BYTES));
        let Self {
            client,
            scratch,
            narrow,
            ..
        } = &mut *self;
        let sum = client
            .job(|c| {
                let mut deadline = c.job_deadline(narrow_bytes, Work::Msm, n);
                let begin = if width < FE_BYTES {
                    let narrow_begin = RequestBody::MsmBeginNarrow {
                        handle,
                        start,
                        len,
                        width: width as u8,
                    };
                    match c.call_ok(narrow_begin, Wait::Reply(16), deadline) {
                        Ok(()) => None,
                        // A peer of this protocol version that predates narrow scalars.
                        Err(CallError::Refused(r)) if r.code == ErrorCode::UnknownKind => {
                            *narrow = false;
                            width = FE_BYTES;
                            deadline = c.job_deadline(full_bytes, Work::Msm, n);
                            Some(RequestBody::MsmBegin { handle, start, len })
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    Some(RequestBody::MsmBegin { handle, start, len })
                };
                if let Some(begin) = begin {
                    c.call_ok(begin, Wait::Reply(16), deadline)?;
                }
                upload(
                    c,
                    scratch,
                    job.scalars,
                    width,
                    |x, dst| {
                        if width == FE_BYTES {
                            dst.copy_from_slice(&elem::encode_fr(x));
                        } else {
                            // Fits: the width was measured from these scalars.
                            let _ = elem::encode_narrow(signed_i128(x), dst);
                        }
                    },
                    |offset, scalars| RequestBody::MsmChunk { offset, scalars },
                    deadline,
                )?;
                match c.call(RequestBody::MsmEnd, Wait::Work(Work::Msm, n), deadline)? {
                    ReplyBody::MsmDone { sum, stats } => elem::decode_point(&sum)
                        .map(|p| (p, stats))
                        .map_err(|_| CallError::BadElement),
                    _ => Err(CallError::Unexpected),
                }
            })
            .map_err(fail);
        let done = sum.map(|(sum, stats)| {
            self.record(stats);
            sum.into()
        });
        self.sync(meter);
        done
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        let n = values.len();
        let log_n = domain.log_n();
        let fail = |e| call_error(e, Op::Ntt, None, n, log_n);
        // Results land in a copy first: a link failure half-way leaves the input untouched.
        let mut out: Vec<Fr> = Vec::new();
        out.try_reserve_exact(n)
            .map_err(|_| BackendError::OutOfMemory { elements: n })?;
        out.resize(n, Fr::ZERO);
        let wire_log_n = u8::try_from(log_n).map_err(|_| LinkError::Protocol)?;
        let cap = self.cap(FE_BYTES);
        let bytes = 2 * (n * FE_BYTES + n.div_ceil(cap) * CHUNK_OVERHEAD);
        let Self {
            client, scratch, ..
        } = &mut *self;
        let stats = client
            .job(|c| {
                let deadline = c.job_deadline(bytes, Work::Ntt, n);
                let begin = RequestBody::NttBegin {
                    log_n: wire_log_n,
                    omega: elem::encode_fr(&domain.omega()),
                    direction: match op.direction {
                        NttDirection::Forward => Direction::Forward,
                        NttDirection::Inverse => Direction::Inverse,
                    },
                    coset: op.coset.as_ref().map(elem::encode_fr),
                };
                c.call_ok(begin, Wait::Reply(16), deadline)?;
                upload(
                    c,
                    scratch,
                    values,
                    FE_BYTES,
                    |x, dst| dst.copy_from_slice(&elem::encode_fr(x)),
                    |offset, values| RequestBody::NttChunk { offset, values },
                    deadline,
                )?;
                let stats = match c.call(RequestBody::NttRun, Wait::Work(Work::Ntt, n), deadline)? {
                    ReplyBody::NttDone { stats } => stats,
                    _ => return Err(CallError::Unexpected),
                };
                for start in (0..n).step_by(cap) {
                    let count = cap.min(n - start);
                    let read = RequestBody::NttRead {
                        offset: to_u32(start)?,
                        count: to_u32(count)?,
                    };
                    let dst = &mut out[start..start + count];
                    match c.call(read, Wait::Reply(count * FE_BYTES + 16), deadline)? {
                        ReplyBody::NttValues { offset, values }
                            if offset as usize == start && values.len() == count * FE_BYTES =>
                        {
                            elem::decode_fr_chunk(values, |i, x| dst[i] = x)
                                .map_err(|_| CallError::BadElement)?;
                        }
                        _ => return Err(CallError::Unexpected),
                    }
                }
                Ok(stats)
            })
            .map_err(fail);
        let done = stats.map(|stats| {
            values.copy_from_slice(&out);
            self.record(stats);
        });
        self.sync(meter);
        done
    }
}

#[cfg(test)]
mod tests {
    use ark_ff::{AdditiveGroup, Field};

    use super::*;

    /// Each width's two's complement range ends: 2^(8w−1) − 1 and −2^(8w−1) fit w bytes,
    /// 2^(8w−1) and −2^(8w−1) − 1 need one more (and past 16 bytes, full width).
    #[test]
    fn narrow_widths_at_each_range_end() {
        assert_eq!(narrow_width(&[]), Some(1));
        assert_eq!(narrow_width(&[Fr::ZERO]), Some(1));
        for w in 1..=elem::MAX_NARROW_BYTES {
            let top = Fr::from(2u64).pow([8 * w as u64 - 1]);
            let wider = (w < elem::MAX_NARROW_BYTES).then_some(w + 1);
            assert_eq!(narrow_width(&[top - Fr::ONE]), Some(w), "{w}");
            assert_eq!(narrow_width(&[-top]), Some(w), "{w}");
            assert_eq!(narrow_width(&[top]), wider, "{w}");
            assert_eq!(narrow_width(&[-top - Fr::ONE]), wider, "{w}");
            for v in [top - Fr::ONE, -top] {
                let mut out = [0u8; elem::MAX_NARROW_BYTES];
                elem::encode_narrow(signed_i128(&v), &mut out[..w]).unwrap();
                assert_eq!(elem::decode_narrow(&out[..w]), Ok(v), "{w}");
            }
        }
    }
}
