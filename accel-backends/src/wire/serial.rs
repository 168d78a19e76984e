//! [`SerialBackend`]: MSMs and NTTs done by a wire server (hw-sim, a board, a host driver)
//! behind a serial port.
//!
//! Every request waits for its reply under one deadline ([`SerialConfig::timeout`]); a silent,
//! closed or garbled link comes back as a [`LinkError`] by then — never a hang, and never a
//! result that did not arrive whole and CRC-checked. Bases are uploaded once per handle;
//! scalars and NTT values travel in chunks that fit the peer's frame buffer.

use std::{
    collections::BTreeMap,
    io::{self, Read, Write},
    time::{Duration, Instant},
};

use accel_proto::{
    chunk_capacity,
    elem::{self, FE_BYTES, POINT_BYTES},
    encode_request, parse_reply, Capabilities as WireCaps, Direction, Feed, FrameAccumulator,
    ReplyBody, RequestBody, RequestId, Stats, UNATTRIBUTED, VERSION,
};

use super::{wire_error_to_backend, FRAME};
use crate::{
    BackendError, BackendHooks, BasesConfig, BasesHandle, Capabilities, Checked, Counters,
    DeviceTiming, Domain, Fr, G1Affine, G1Projective, LinkError, Meter, MsmJob, NttDirection,
    NttOp, Op,
};

/// How to talk to the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SerialConfig {
    /// Line rate (ignored by pseudo-terminals).
    pub baud: u32,
    /// How long one request may wait for its reply, computing time on the peer included.
    pub timeout: Duration,
}

impl SerialConfig {
    /// The given rate and per-request timeout.
    pub const fn new(baud: u32, timeout: Duration) -> Self {
        Self { baud, timeout }
    }
}

impl Default for SerialConfig {
    fn default() -> Self {
        Self::new(115_200, Duration::from_secs(60))
    }
}

/// Why [`SerialBackend::open`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The port could not be opened or configured.
    #[error("could not open serial port {path}: {source}; check the path and permissions")]
    Port {
        /// The path given.
        path: String,
        /// What the OS said.
        #[source]
        source: serialport::Error,
    },
    /// The port opened but the handshake failed.
    #[error("handshake with the peer on {path} failed: {source}")]
    Handshake {
        /// The path given.
        path: String,
        /// Why.
        #[source]
        source: BackendError,
    },
}

/// A backend served over a serial port by the wire protocol: the hooks, which
/// [`open`](Self::open) and [`over`](Self::over) put behind the checked front.
///
/// Scalars travel at full width (32 bytes each) whatever an MSM's
/// [`scalar_bits`](crate::MsmJob::scalar_bits) says: the protocol has no narrower encoding yet.
pub struct SerialBackend {
    port: Box<dyn serialport::SerialPort>,
    config: SerialConfig,
    peer: WireCaps,
    max_frame: usize,
    next_id: RequestId,
    acc: Box<FrameAccumulator<FRAME>>,
    /// Bytes read past the last reply (none in a well-behaved session).
    pending: Vec<u8>,
    out: Vec<u8>,
    bases: BTreeMap<u32, usize>,
    /// Link bytes and device cycles so far (the front gets each call's share).
    counters: Counters,
    last_stats: Stats,
    link_cycles: u64,
}

impl SerialBackend {
    /// Opens `path`, resynchronises the line and shakes hands with the peer.
    pub fn open(path: &str, config: SerialConfig) -> Result<Checked<Self>, OpenError> {
        let port = serialport::new(path, config.baud)
            .timeout(config.timeout)
            .open()
            .map_err(|source| OpenError::Port {
                path: path.into(),
                source,
            })?;
        Self::over(port, config).map_err(|source| OpenError::Handshake {
            path: path.into(),
            source,
        })
    }

    /// Shakes hands over an already open port.
    pub fn over(
        port: Box<dyn serialport::SerialPort>,
        config: SerialConfig,
    ) -> Result<Checked<Self>, BackendError> {
        let mut backend = Self {
            port,
            config,
            peer: WireCaps {
                version: VERSION,
                max_frame: 0,
                max_msm_len: 0,
                max_bases_len: 0,
                bases_slots: 0,
                max_ntt_log_n: 0,
                clock_mhz: 0,
            },
            max_frame: FRAME,
            next_id: UNATTRIBUTED,
            acc: Box::new(FrameAccumulator::new()),
            pending: Vec::new(),
            out: vec![0; FRAME + 1],
            bases: BTreeMap::new(),
            counters: Counters::default(),
            last_stats: Stats::default(),
            link_cycles: 0,
        };
        // A lone delimiter ends whatever partial frame the peer holds from an earlier session.
        backend.send(&[0])?;
        let hello = RequestBody::Hello {
            version: VERSION,
            max_frame: FRAME as u32,
        };
        let peer = backend.call(hello, |body| match body {
            ReplyBody::Hello(caps) => Ok(caps),
            other => Err(unexpected(other, Op::Msm, None, 0, 0, 0)),
        })?;
        if peer.version != VERSION {
            return Err(LinkError::Version {
                ours: VERSION,
                theirs: peer.version,
            }
            .into());
        }
        backend.max_frame = FRAME.min(peer.max_frame as usize);
        if chunk_capacity(backend.max_frame, POINT_BYTES) == 0 {
            return Err(LinkError::Protocol.into());
        }
        backend.peer = peer;
        Ok(Checked::from_hooks(backend))
    }

    /// What the peer announced in the handshake.
    pub fn peer_capabilities(&self) -> WireCaps {
        self.peer
    }

    /// The statistics of the last completed job (load, MSM or NTT).
    pub fn last_stats(&self) -> Stats {
        self.last_stats
    }

    /// The link time the peer modelled for all jobs so far, in its clock cycles.
    pub fn link_cycles(&self) -> u64 {
        self.link_cycles
    }

    fn next_id(&mut self) -> RequestId {
        self.next_id = self.next_id.wrapping_add(1);
        if self.next_id == UNATTRIBUTED {
            self.next_id = 1;
        }
        self.next_id
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), BackendError> {
        self.port.write_all(bytes).map_err(link_error)?;
        self.counters.link_bytes += bytes.len() as u64;
        Ok(())
    }

    fn record(&mut self, stats: Stats) {
        self.counters.device_cycles += stats.compute_cycles;
        self.link_cycles += stats.link_cycles;
        self.last_stats = stats;
    }

    /// Sends one request and hands its reply to `on_reply`, within the timeout.
    fn call<T>(
        &mut self,
        body: RequestBody<'_>,
        on_reply: impl FnOnce(ReplyBody<'_>) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let id = self.next_id();
        let len = encode_request(id, body, &mut self.out, self.max_frame)
            .map_err(|_| BackendError::Link(LinkError::Protocol))?
            .len();
        let frame = std::mem::take(&mut self.out);
        let sent = self.send(&frame[..len]);
        self.out = frame;
        sent?;
        let result = self.await_reply(id, on_reply);
        if matches!(result, Err(BackendError::Link(_))) {
            // What is buffered belongs to a reply we gave up on.
            self.acc.reset();
            self.pending.clear();
        }
        result
    }

    fn await_reply<T>(
        &mut self,
        id: RequestId,
        on_reply: impl FnOnce(ReplyBody<'_>) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let deadline = Instant::now() + self.config.timeout;
        let mut rx = [0u8; 1024];
        loop {
            let data = std::mem::take(&mut self.pending);
            let mut window = &data[..];
            while !window.is_empty() {
                window = match self.acc.feed(window) {
                    Feed::Consumed => break,
                    Feed::Bad { .. } => return Err(LinkError::Corrupt.into()),
                    Feed::Frame { body, remaining } => {
                        let reply = parse_reply(body)
                            .map_err(|_| BackendError::Link(LinkError::Protocol))?;
                        if reply.id == id {
                            self.pending = remaining.to_vec();
                            return on_reply(reply.body);
                        }
                        if reply.id == UNATTRIBUTED {
                            // The peer could not read a frame of ours.
                            return Err(LinkError::Corrupt.into());
                        }
                        // A late reply to a request we already gave up on.
                        remaining
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LinkError::Timeout.into());
            }
            self.port
                .set_timeout(deadline - now)
                .map_err(|_| BackendError::Link(LinkError::Io))?;
            match self.port.read(&mut rx) {
                Ok(0) => return Err(LinkError::Closed.into()),
                Ok(n) => {
                    self.counters.link_bytes += n as u64;
                    self.pending.extend_from_slice(&rx[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(link_error(e)),
            }
        }
    }

    /// Expects [`ReplyBody::Ok`].
    fn call_ok(&mut self, body: RequestBody<'_>, ctx: Ctx) -> Result<(), BackendError> {
        self.call(body, |reply| match reply {
            ReplyBody::Ok => Ok(()),
            other => Err(ctx.unexpected(other)),
        })
    }

    /// Sends `values` as consecutive chunks of encoded elements.
    fn upload<T>(
        &mut self,
        values: &[T],
        elem_bytes: usize,
        encode: impl Fn(&T, &mut [u8]),
        chunk: impl Fn(u32, &[u8]) -> RequestBody<'_>,
        ctx: Ctx,
    ) -> Result<(), BackendError> {
        let cap = chunk_capacity(self.max_frame, elem_bytes);
        let mut bytes = vec![0u8; cap * elem_bytes];
        for (i, part) in values.chunks(cap).enumerate() {
            let buf = &mut bytes[..part.len() * elem_bytes];
            for (dst, v) in buf.chunks_exact_mut(elem_bytes).zip(part) {
                encode(v, dst);
            }
            let offset = u32::try_from(i * cap).map_err(|_| LinkError::Protocol)?;
            self.call_ok(chunk(offset, buf), ctx)?;
        }
        Ok(())
    }
}

/// What a request was about, to turn an error reply into the right [`BackendError`].
#[derive(Clone, Copy)]
struct Ctx {
    op: Op,
    handle: Option<BasesHandle>,
    size: usize,
    first_index: usize,
    log_n: u32,
}

impl Ctx {
    fn unexpected(self, reply: ReplyBody<'_>) -> BackendError {
        unexpected(
            reply,
            self.op,
            self.handle,
            self.size,
            self.first_index,
            self.log_n,
        )
    }
}

fn unexpected(
    reply: ReplyBody<'_>,
    op: Op,
    handle: Option<BasesHandle>,
    size: usize,
    first_index: usize,
    log_n: u32,
) -> BackendError {
    match reply {
        ReplyBody::Error(e) => {
            wire_error_to_backend(e, op, handle, size, first_index, log_n, "serial peer")
        }
        _ => BackendError::Link(LinkError::Protocol),
    }
}

fn link_error(e: io::Error) -> BackendError {
    BackendError::Link(match e.kind() {
        io::ErrorKind::TimedOut => LinkError::Timeout,
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => LinkError::Closed,
        // A pseudo-terminal whose other end is gone reads EIO.
        _ if e.raw_os_error() == Some(5) => LinkError::Closed,
        _ => LinkError::Io,
    })
}

fn to_u32(x: usize) -> Result<u32, BackendError> {
    u32::try_from(x).map_err(|_| BackendError::Link(LinkError::Protocol))
}

impl SerialBackend {
    /// Runs `f`, reporting the link bytes and device cycles it counted to `meter`.
    fn metered<T>(
        &mut self,
        meter: &mut Meter,
        f: impl FnOnce(&mut Self) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let before = self.counters;
        let out = f(self);
        let spent = self.counters.since(&before);
        meter.add_link_bytes(spent.link_bytes);
        meter.add_device_cycles(spent.device_cycles);
        out
    }

    fn load(&mut self, bases: &[G1Affine]) -> Result<u32, BackendError> {
        let ctx = Ctx {
            op: Op::LoadBases,
            handle: None,
            size: bases.len(),
            first_index: 0,
            log_n: 0,
        };
        let len = to_u32(bases.len())?;
        self.call_ok(RequestBody::BasesBegin { len }, ctx)?;
        self.upload(
            bases,
            POINT_BYTES,
            |p, dst| {
                let mut b = [0u8; POINT_BYTES];
                elem::write_point(p, &mut b);
                dst.copy_from_slice(&b);
            },
            |offset, points| RequestBody::BasesChunk { offset, points },
            ctx,
        )?;
        let (handle, stats) = self.call(RequestBody::BasesEnd, |reply| match reply {
            ReplyBody::BasesLoaded { handle, stats } => Ok((handle, stats)),
            other => Err(ctx.unexpected(other)),
        })?;
        self.record(stats);
        self.bases.insert(handle, bases.len());
        Ok(handle)
    }

    fn release(&mut self, id: u32) -> Result<(), BackendError> {
        let handle = BasesHandle::detached(id);
        if !self.bases.contains_key(&id) {
            return Err(BackendError::UnknownBases(handle));
        }
        let ctx = Ctx {
            op: Op::LoadBases,
            handle: Some(handle),
            size: 0,
            first_index: 0,
            log_n: 0,
        };
        self.call_ok(RequestBody::ReleaseBases { handle: id }, ctx)?;
        self.bases.remove(&id);
        Ok(())
    }

    fn msm(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        let ctx = Ctx {
            op: Op::Msm,
            handle: Some(job.bases),
            size: job.scalars.len(),
            first_index: job.start,
            log_n: 0,
        };
        let begin = RequestBody::MsmBegin {
            handle: job.bases.id(),
            start: to_u32(job.start)?,
            len: to_u32(job.scalars.len())?,
        };
        self.call_ok(begin, ctx)?;
        self.upload(
            job.scalars,
            FE_BYTES,
            |x, dst| dst.copy_from_slice(&elem::encode_fr(x)),
            |offset, scalars| RequestBody::MsmChunk { offset, scalars },
            ctx,
        )?;
        let (sum, stats) = self.call(RequestBody::MsmEnd, |reply| match reply {
            ReplyBody::MsmDone { sum, stats } => elem::decode_point(&sum)
                .map(|p| (p, stats))
                .map_err(|_| BackendError::Link(LinkError::Protocol)),
            other => Err(ctx.unexpected(other)),
        })?;
        self.record(stats);
        Ok(sum.into())
    }

    fn ntt(&mut self, values: &mut [Fr], domain: &Domain, op: NttOp) -> Result<(), BackendError> {
        let ctx = Ctx {
            op: Op::Ntt,
            handle: None,
            size: values.len(),
            first_index: 0,
            log_n: domain.log_n(),
        };
        let begin = RequestBody::NttBegin {
            log_n: u8::try_from(domain.log_n()).map_err(|_| LinkError::Protocol)?,
            omega: elem::encode_fr(&domain.omega()),
            direction: match op.direction {
                NttDirection::Forward => Direction::Forward,
                NttDirection::Inverse => Direction::Inverse,
            },
            coset: op.coset.as_ref().map(elem::encode_fr),
        };
        self.call_ok(begin, ctx)?;
        self.upload(
            values,
            FE_BYTES,
            |x, dst| dst.copy_from_slice(&elem::encode_fr(x)),
            |offset, values| RequestBody::NttChunk { offset, values },
            ctx,
        )?;
        let stats = self.call(RequestBody::NttRun, |reply| match reply {
            ReplyBody::NttDone { stats } => Ok(stats),
            other => Err(ctx.unexpected(other)),
        })?;
        self.record(stats);
        // Results land in a copy first: a link failure half-way leaves the input untouched.
        let mut result = Vec::new();
        result
            .try_reserve_exact(values.len())
            .map_err(|_| BackendError::OutOfMemory {
                elements: values.len(),
            })?;
        let cap = chunk_capacity(self.max_frame, FE_BYTES);
        while result.len() < values.len() {
            let offset = result.len();
            let count = cap.min(values.len() - offset);
            let read = RequestBody::NttRead {
                offset: to_u32(offset)?,
                count: to_u32(count)?,
            };
            self.call(read, |reply| match reply {
                ReplyBody::NttValues { offset: o, values }
                    if o as usize == offset && values.len() == count * FE_BYTES =>
                {
                    elem::decode_fr_chunk(values, |_, x| result.push(x))
                        .map_err(|_| BackendError::Link(LinkError::Protocol))
                }
                other => Err(ctx.unexpected(other)),
            })?;
        }
        values.copy_from_slice(&result);
        Ok(())
    }
}

impl BackendHooks for SerialBackend {
    fn name(&self) -> &str {
        "serial"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(
            self.peer.max_msm_len as usize,
            self.peer.max_bases_len as usize,
            u32::from(self.peer.bases_slots),
            u32::from(self.peer.max_ntt_log_n),
        )
    }

    /// The clock the peer announced (none if it announced 0), behind the line rate this port
    /// was opened at.
    fn device_timing(&self) -> Option<DeviceTiming> {
        (self.peer.clock_mhz > 0).then(|| {
            DeviceTiming::new(
                u64::from(self.peer.clock_mhz) * 1_000_000,
                Some(self.config.baud),
            )
        })
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
        self.metered(meter, |s| s.load(bases))
    }

    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        self.metered(meter, |s| s.release(id))
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        self.metered(meter, |s| s.msm(job))
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.metered(meter, |s| s.ntt(values, domain, op))
    }
}
