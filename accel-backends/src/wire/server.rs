//! The server side: requests in, replies out, work done by any [`Backend`].
//!
//! The server is a state machine over frames ([`Server::on_bytes`]) with a thin blocking loop
//! around it ([`Server::serve`]). It holds at most one job (an upload of bases, an MSM or an
//! NTT) at a time; a `*Begin` or `Hello` abandons the current one. Every malformed, damaged or
//! out-of-place frame gets an error reply and the server takes the next frame: nothing a peer
//! sends can stop it, make it panic, or make it allocate more than the limits it announced.
//!
//! Retransmissions are expected (protocol version 2): a chunk the upload already holds is
//! refused with `BadOffset` and the upload kept ([`Upload`]), a repeated `BasesEnd`/`MsmEnd`
//! is answered with the finished job's result, a repeated `NttRun` with the finished NTT's
//! statistics, and a `Fault` is counted without touching the job.
//!
//! An application that speaks more of the protocol than MSMs and NTTs (the host driver answers
//! a device's proving-session messages) plugs in an [`Extension`]: it sees every request
//! first, with the backend, and answers the ones it serves.

use std::{
    collections::BTreeSet,
    io::{self, Read, Write},
};

use accel_proto::{
    elem::{self, FE_BYTES, POINT_BYTES},
    encode_reply, parse_request, Capabilities, Direction, ErrorCode, ErrorReply, Feed,
    FrameAccumulator, ReplyBody, RequestBody, RequestId, Stats, WireFe, UNATTRIBUTED, VERSION,
};

use super::{
    backend_error_to_wire,
    upload::{element_refusal, Upload},
    FRAME,
};
use crate::{Backend, BasesHandle, Domain, Fr, G1Affine, MsmJob, NttOp};

/// How a server presents itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The device clock announced in the handshake; cycle counts are in this clock.
    pub clock_mhz: u32,
    /// The link's rate in baud (8N1: 10 bits a byte) for the link-time model; `None` for a
    /// link with no meaningful rate (a pseudo-terminal).
    pub link_baud: Option<u32>,
    /// How many sets of bases the server keeps at once (also capped by the backend's).
    pub bases_slots: u16,
}

impl ServeConfig {
    /// A server with the given clock, link rate and slots.
    pub const fn new(clock_mhz: u32, link_baud: Option<u32>, bases_slots: u16) -> Self {
        Self {
            clock_mhz,
            link_baud,
            bases_slots,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self::new(0, None, 8)
    }
}

/// Requests beyond the generic MSM/NTT service, answered by the application that embeds the
/// server. The extension sees every request before the server does (so that it can, e.g., drop
/// state on a `Hello`) and answers the ones it serves; a request it leaves (`None`) goes to the
/// server, which answers kinds it does not serve with [`ErrorCode::UnknownKind`].
pub trait Extension<B: Backend> {
    /// Answers `body`, or leaves it to the server.
    fn answer(
        &mut self,
        backend: &mut B,
        body: &RequestBody<'_>,
    ) -> Option<Result<ReplyBody<'static>, ErrorReply>>;

    /// The client refused our reply to request `about` (a `Fault` frame); the server has
    /// counted it and answers it. For logs.
    fn fault(&mut self, about: RequestId, code: ErrorCode, detail: u32) {
        let _ = (about, code, detail);
    }
}

/// No extension: the server answers everything itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExtension;

impl<B: Backend> Extension<B> for NoExtension {
    fn answer(
        &mut self,
        _: &mut B,
        _: &RequestBody<'_>,
    ) -> Option<Result<ReplyBody<'static>, ErrorReply>> {
        None
    }
}

/// The job in progress.
enum Job {
    Idle,
    Bases(Upload<G1Affine>),
    Msm {
        handle: BasesHandle,
        start: usize,
        scalars: Upload<Fr>,
        /// Bytes per scalar on the wire: 32, or a narrow width (1 to 16).
        width: usize,
    },
    NttLoading {
        domain: Domain,
        op: NttOp,
        values: Upload<Fr>,
    },
    NttDone {
        values: Vec<Fr>,
        stats: Stats,
    },
}

/// The result of the last finished upload job, answered again to a repeated end.
#[derive(Clone, Copy)]
enum Finished {
    Bases { handle: u32, stats: Stats },
    Msm { sum: G1Affine, stats: Stats },
}

/// What went wrong with a request: the error reply to send.
type Refusal = ErrorReply;

fn refuse(code: ErrorCode, detail: u32) -> Refusal {
    ErrorReply { code, detail }
}

fn sat(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// A wire server over one backend, with an optional [`Extension`].
pub struct Server<B: Backend, E: Extension<B> = NoExtension> {
    backend: B,
    extension: E,
    config: ServeConfig,
    job: Job,
    finished: Option<Finished>,
    faults: u64,
    /// Sets loaded through this server (their slots), by the id the wire names them with.
    live: BTreeSet<u32>,
    /// Bytes of the current job's frames so far, both directions.
    job_bytes: u64,
    /// Received bytes not yet attributed to a frame.
    pending_rx: u64,
    out: Box<[u8]>,
    /// NTT results encoded for a reply, before they are framed into `out`.
    scratch: Box<[u8]>,
    total_frames: u64,
}

impl<B: Backend> Server<B> {
    /// A server with nothing loaded.
    pub fn new(backend: B, config: ServeConfig) -> Self {
        Self {
            backend,
            extension: NoExtension,
            config,
            job: Job::Idle,
            finished: None,
            faults: 0,
            live: BTreeSet::new(),
            job_bytes: 0,
            pending_rx: 0,
            out: vec![0u8; FRAME + 1].into_boxed_slice(),
            scratch: vec![0u8; FRAME].into_boxed_slice(),
            total_frames: 0,
        }
    }

    /// The same server with `extension` answering the requests it serves.
    pub fn with_extension<E: Extension<B>>(self, extension: E) -> Server<B, E> {
        Server {
            backend: self.backend,
            extension,
            config: self.config,
            job: self.job,
            finished: self.finished,
            faults: self.faults,
            live: self.live,
            job_bytes: self.job_bytes,
            pending_rx: self.pending_rx,
            out: self.out,
            scratch: self.scratch,
            total_frames: self.total_frames,
        }
    }
}

impl<B: Backend, E: Extension<B>> Server<B, E> {
    /// The extension.
    pub fn extension(&self) -> &E {
        &self.extension
    }

    /// The extension, mutably.
    pub fn extension_mut(&mut self) -> &mut E {
        &mut self.extension
    }

    /// The backend doing the work.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// How many frames (sound or not) the server has answered.
    pub fn frames_answered(&self) -> u64 {
        self.total_frames
    }

    /// How many of our replies clients refused (`Fault` frames).
    pub fn faults(&self) -> u64 {
        self.faults
    }

    /// Forgets the job in progress and any finished result (a client that left).
    pub fn reset_job(&mut self) {
        self.job = Job::Idle;
        self.finished = None;
    }

    /// What the handshake announces.
    pub fn capabilities(&self) -> Capabilities {
        let caps = self.backend.capabilities();
        let slots = u32::from(self.config.bases_slots).min(caps.max_bases_sets);
        Capabilities {
            version: VERSION,
            max_frame: sat(FRAME),
            max_msm_len: sat(caps.max_msm_len),
            max_bases_len: sat(caps.max_bases_len),
            bases_slots: u16::try_from(slots).unwrap_or(u16::MAX),
            max_ntt_log_n: u8::try_from(caps.max_ntt_log_n).unwrap_or(u8::MAX),
            clock_mhz: self.config.clock_mhz,
        }
    }

    /// Answers requests from `link` until the peer closes it (a read of 0 bytes), then returns.
    /// I/O errors other than interruptions end the loop with the error.
    pub fn serve<L: Read + Write>(&mut self, link: &mut L) -> io::Result<()> {
        let mut acc = FrameAccumulator::<FRAME>::new();
        let mut buf = vec![0u8; FRAME];
        loop {
            let n = match link.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.on_bytes(&mut acc, &buf[..n], |frame| {
                link.write_all(frame)?;
                link.flush()
            })?;
        }
    }

    /// Feeds received bytes through `acc`; calls `emit` with each reply frame.
    pub fn on_bytes<const N: usize>(
        &mut self,
        acc: &mut FrameAccumulator<N>,
        mut input: &[u8],
        mut emit: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        while !input.is_empty() {
            let before = input.len();
            let (id, reply) = match acc.feed(input) {
                Feed::Consumed => {
                    self.pending_rx += before as u64;
                    return Ok(());
                }
                Feed::Bad { error, remaining } => {
                    self.pending_rx += (before - remaining.len()) as u64;
                    input = remaining;
                    tracing::debug!(?error, "refused a damaged frame");
                    (UNATTRIBUTED, Err(refuse(error.code(), 0)))
                }
                Feed::Frame { body, remaining } => {
                    self.pending_rx += (before - remaining.len()) as u64;
                    input = remaining;
                    match parse_request(body) {
                        Ok(req) => (req.id, self.handle(req.body)),
                        Err(e) => {
                            tracing::debug!(?e, "refused an unreadable message");
                            (e.id, Err(refuse(e.code, e.detail)))
                        }
                    }
                }
            };
            self.job_bytes += std::mem::take(&mut self.pending_rx);
            self.total_frames += 1;
            let len = self.encode(id, reply).len();
            self.job_bytes += len as u64;
            emit(&self.out[..len])?;
        }
        Ok(())
    }

    fn encode(&mut self, id: RequestId, reply: Result<Answer, Refusal>) -> &[u8] {
        let Self {
            job, out, scratch, ..
        } = self;
        let body = match reply {
            Ok(Answer::Hello(c)) => ReplyBody::Hello(c),
            Ok(Answer::Ok) => ReplyBody::Ok,
            Ok(Answer::BasesLoaded { handle, stats }) => ReplyBody::BasesLoaded { handle, stats },
            Ok(Answer::MsmDone { sum, stats }) => ReplyBody::MsmDone {
                sum: elem::encode_point(&sum),
                stats,
            },
            Ok(Answer::NttDone { stats }) => ReplyBody::NttDone { stats },
            Ok(Answer::Extension(body)) => body,
            Ok(Answer::NttValues { offset, count }) => {
                // `dispatch` checked the job and the range just now.
                let src = match job {
                    Job::NttDone { values, .. } => values.get(offset..offset + count),
                    _ => None,
                };
                let (Some(src), Some(bytes)) = (src, scratch.get_mut(..count * FE_BYTES)) else {
                    return Self::write(out, id, ReplyBody::Error(refuse(ErrorCode::Device, 0)));
                };
                for (dst, v) in bytes.chunks_exact_mut(FE_BYTES).zip(src) {
                    dst.copy_from_slice(&elem::encode_fr(v));
                }
                let body = ReplyBody::NttValues {
                    offset: sat(offset),
                    values: bytes,
                };
                return Self::write(out, id, body);
            }
            Err(e) => ReplyBody::Error(e),
        };
        Self::write(out, id, body)
    }

    fn write<'o>(out: &'o mut [u8], id: RequestId, body: ReplyBody<'_>) -> &'o [u8] {
        let len = match encode_reply(id, body, out, FRAME) {
            Ok(frame) => frame.len(),
            // Every reply is sized to fit (NttRead is capped at a chunk): this is a bug, so
            // say so on the wire rather than send nothing and leave the client to time out.
            Err(_) => {
                let device = ReplyBody::Error(refuse(ErrorCode::Device, u32::MAX));
                encode_reply(id, device, out, FRAME)
                    .map(|f| f.len())
                    .unwrap_or(0)
            }
        };
        &out[..len]
    }

    /// The backend's handle for the set the wire calls `id` (loaded through this server, or
    /// by an extension).
    fn wire_handle(&self, id: u32) -> Result<BasesHandle, Refusal> {
        self.backend
            .handle_for(id)
            .ok_or(refuse(ErrorCode::UnknownBases, id))
    }

    fn stats(&self, cycles: u64) -> Stats {
        let link_cycles = match self.config.link_baud {
            Some(baud) if baud > 0 => {
                // 8N1: ten bit times a byte.
                let bits = u128::from(self.job_bytes) * 10;
                let hz = u128::from(self.config.clock_mhz) * 1_000_000;
                u64::try_from(bits * hz / u128::from(baud)).unwrap_or(u64::MAX)
            }
            _ => 0,
        };
        Stats {
            compute_cycles: cycles,
            link_bytes: self.job_bytes,
            link_cycles,
        }
    }

    /// Starts an MSM over loaded bases whose scalars arrive `width` bytes each.
    fn msm_begin(
        &mut self,
        handle: u32,
        start: u32,
        len: u32,
        width: usize,
    ) -> Result<Answer, Refusal> {
        let h = self.wire_handle(handle)?;
        let loaded = self
            .backend
            .bases_len(h)
            .ok_or(refuse(ErrorCode::UnknownBases, handle))?;
        let max = self.capabilities().max_msm_len;
        if len > max {
            return Err(refuse(ErrorCode::SizeUnsupported, max));
        }
        let (start, len) = (start as usize, len as usize);
        if start.checked_add(len).is_none_or(|end| end > loaded) {
            return Err(refuse(ErrorCode::BasesOutOfRange, sat(loaded)));
        }
        self.begin_job(Job::Msm {
            handle: h,
            start,
            scalars: Upload::new(len)?,
            width,
        });
        Ok(Answer::Ok)
    }

    fn begin_job(&mut self, job: Job) {
        self.job = job;
        self.finished = None;
        self.job_bytes = 0;
    }

    fn handle(&mut self, body: RequestBody<'_>) -> Result<Answer, Refusal> {
        if let RequestBody::Fault {
            about,
            code,
            detail,
        } = body
        {
            // The client will retransmit the request it was waiting on: keep the job.
            self.faults += 1;
            tracing::debug!(about, ?code, detail, "the client refused a reply");
            self.extension.fault(about, code, detail);
            return Ok(Answer::Ok);
        }
        if let Some(answer) = self.extension.answer(&mut self.backend, &body) {
            // Requests the extension serves end any MSM or NTT job in progress; a refusal
            // (e.g. a job the session's policy forbids) too.
            self.reset_job();
            return answer.map(Answer::Extension);
        }
        let result = self.dispatch(body);
        match &result {
            // A chunk the upload already holds, or one after a lost chunk: the upload stays
            // and the client resumes from the offset given.
            Err(e) if e.code == ErrorCode::BadOffset => {}
            // Any other refused step abandons its job: the client starts over with a *Begin.
            Err(_) => self.reset_job(),
            Ok(_) => {}
        }
        result
    }

    fn dispatch(&mut self, body: RequestBody<'_>) -> Result<Answer, Refusal> {
        match body {
            RequestBody::Hello { version, .. } => {
                self.reset_job();
                if version != VERSION {
                    return Err(refuse(ErrorCode::VersionMismatch, u32::from(VERSION)));
                }
                Ok(Answer::Hello(self.capabilities()))
            }
            RequestBody::Abort => {
                self.reset_job();
                Ok(Answer::Ok)
            }
            RequestBody::BasesBegin { len } => {
                let caps = self.capabilities();
                if len > caps.max_bases_len {
                    return Err(refuse(ErrorCode::SizeUnsupported, caps.max_bases_len));
                }
                if self.live.len() >= usize::from(caps.bases_slots) {
                    return Err(refuse(ErrorCode::NoBasesSlot, u32::from(caps.bases_slots)));
                }
                self.begin_job(Job::Bases(Upload::new(len as usize)?));
                Ok(Answer::Ok)
            }
            RequestBody::BasesChunk { offset, points } => {
                let Job::Bases(upload) = &mut self.job else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                upload.accept(offset, points, POINT_BYTES, |b, sink| {
                    elem::decode_point_chunk(b, sink)
                })?;
                Ok(Answer::Ok)
            }
            RequestBody::BasesEnd => {
                if let (Job::Idle, Some(Finished::Bases { handle, stats })) =
                    (&self.job, self.finished)
                {
                    return Ok(Answer::BasesLoaded { handle, stats });
                }
                let Job::Bases(upload) = std::mem::replace(&mut self.job, Job::Idle) else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                let points = upload.finish()?;
                let before = self.backend.counters().device_cycles;
                let handle = self
                    .backend
                    .load_bases(&points)
                    .map_err(|e| backend_error_to_wire(&e))?;
                self.live.insert(handle.id());
                let cycles = self.backend.counters().device_cycles - before;
                let (handle, stats) = (handle.id(), self.stats(cycles));
                self.finished = Some(Finished::Bases { handle, stats });
                Ok(Answer::BasesLoaded { handle, stats })
            }
            RequestBody::ReleaseBases { handle } => {
                let h = self.wire_handle(handle)?;
                self.backend
                    .release_bases(h)
                    .map_err(|e| backend_error_to_wire(&e))?;
                self.live.remove(&handle);
                self.finished = None;
                Ok(Answer::Ok)
            }
            RequestBody::MsmBegin { handle, start, len } => {
                self.msm_begin(handle, start, len, FE_BYTES)
            }
            RequestBody::MsmBeginNarrow {
                handle,
                start,
                len,
                width,
            } => {
                let width = usize::from(width);
                if !(1..=elem::MAX_NARROW_BYTES).contains(&width) {
                    return Err(refuse(ErrorCode::Malformed, sat(elem::MAX_NARROW_BYTES)));
                }
                self.msm_begin(handle, start, len, width)
            }
            RequestBody::MsmChunk { offset, scalars } => {
                let Job::Msm {
                    scalars: upload,
                    width,
                    ..
                } = &mut self.job
                else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                let width = *width;
                if width == FE_BYTES {
                    upload.accept(offset, scalars, FE_BYTES, |b, sink| {
                        elem::decode_fr_chunk(b, sink)
                    })?;
                } else {
                    upload.accept(offset, scalars, width, |b, sink| {
                        elem::decode_narrow_chunk(b, width, sink)
                    })?;
                }
                Ok(Answer::Ok)
            }
            RequestBody::MsmEnd => {
                if let (Job::Idle, Some(Finished::Msm { sum, stats })) = (&self.job, self.finished)
                {
                    return Ok(Answer::MsmDone { sum, stats });
                }
                let Job::Msm {
                    handle,
                    start,
                    scalars,
                    width,
                } = std::mem::replace(&mut self.job, Job::Idle)
                else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                let scalars = scalars.finish()?;
                let before = self.backend.counters().device_cycles;
                // Narrow scalars keep their width (|v| ≤ 2^(8·width − 1) < 2^(8·width)): the
                // backend runs the windows they need.
                let mut job = MsmJob::new(handle, start, &scalars);
                if width < FE_BYTES {
                    job = job.with_scalar_bits(8 * width as u32);
                }
                let sum = self
                    .backend
                    .msm_job(&job)
                    .map_err(|e| backend_error_to_wire(&e))?;
                let cycles = self.backend.counters().device_cycles - before;
                let (sum, stats) = (sum.into(), self.stats(cycles));
                self.finished = Some(Finished::Msm { sum, stats });
                Ok(Answer::MsmDone { sum, stats })
            }
            RequestBody::NttBegin {
                log_n,
                omega,
                direction,
                coset,
            } => {
                let max = self.capabilities().max_ntt_log_n;
                if log_n > max {
                    return Err(refuse(
                        ErrorCode::SizeUnsupported,
                        1u32.checked_shl(u32::from(max)).unwrap_or(u32::MAX),
                    ));
                }
                let omega = decode_scalar(&omega)?;
                let domain = Domain::new(u32::from(log_n), omega)
                    .map_err(|_| refuse(ErrorCode::InvalidRoot, u32::from(log_n)))?;
                let coset = coset.as_ref().map(decode_scalar).transpose()?;
                let op = NttOp {
                    direction: match direction {
                        Direction::Forward => crate::NttDirection::Forward,
                        Direction::Inverse => crate::NttDirection::Inverse,
                    },
                    coset,
                };
                let values = Upload::new(domain.size())?;
                self.begin_job(Job::NttLoading { domain, op, values });
                Ok(Answer::Ok)
            }
            RequestBody::NttChunk { offset, values } => {
                let Job::NttLoading { values: upload, .. } = &mut self.job else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                upload.accept(offset, values, FE_BYTES, |b, sink| {
                    elem::decode_fr_chunk(b, sink)
                })?;
                Ok(Answer::Ok)
            }
            RequestBody::NttRun => {
                if let Job::NttDone { stats, .. } = &self.job {
                    return Ok(Answer::NttDone { stats: *stats });
                }
                let Job::NttLoading { domain, op, values } =
                    std::mem::replace(&mut self.job, Job::Idle)
                else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                let mut values = values.finish()?;
                let before = self.backend.counters().device_cycles;
                self.backend
                    .ntt(&mut values, &domain, op)
                    .map_err(|e| backend_error_to_wire(&e))?;
                let cycles = self.backend.counters().device_cycles - before;
                let stats = self.stats(cycles);
                self.job = Job::NttDone { values, stats };
                Ok(Answer::NttDone { stats })
            }
            RequestBody::NttRead { offset, count } => {
                let Job::NttDone { values, .. } = &self.job else {
                    return Err(refuse(ErrorCode::OutOfSequence, 0));
                };
                let cap = accel_proto::chunk_capacity(FRAME, FE_BYTES);
                let (offset, count) = (offset as usize, count as usize);
                if count > cap || offset.checked_add(count).is_none_or(|e| e > values.len()) {
                    return Err(refuse(ErrorCode::BadLength, sat(cap)));
                }
                Ok(Answer::NttValues { offset, count })
            }
            _ => Err(refuse(ErrorCode::UnknownKind, 0)),
        }
    }
}

fn decode_scalar(w: &WireFe) -> Result<Fr, Refusal> {
    elem::decode_fr(w).map_err(|e| element_refusal(0, e))
}

/// A successful answer, before encoding (NTT values are encoded straight from the job).
enum Answer {
    Hello(Capabilities),
    Ok,
    BasesLoaded { handle: u32, stats: Stats },
    MsmDone { sum: G1Affine, stats: Stats },
    NttDone { stats: Stats },
    NttValues { offset: usize, count: usize },
    Extension(ReplyBody<'static>),
}
