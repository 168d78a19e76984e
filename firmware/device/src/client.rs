//! Requests out, replies in: the client end of the wire protocol over a [`Line`].
//!
//! One request is in flight at a time (the protocol's flow control). Each reply is awaited
//! with a timeout; replies to earlier requests (late, after a timeout) are skipped; a damaged
//! or unreadable frame is answered with a `Fault` frame and fails the call. [`Client::job`]
//! runs a job (a `*Begin`, its chunks and its end) and starts it over after a failure on the
//! link, so that a lost byte costs one job, not the proof. Buffers are fixed when the client
//! is made; nothing here allocates afterwards.

use alloc::{boxed::Box, vec};

use accel_proto::{
    encode_request, parse_reply, Capabilities, ErrorCode, ErrorReply, Feed, FrameAccumulator,
    ReplyBody, RequestBody, RequestId, UNATTRIBUTED, VERSION,
};

use crate::{Line, LineError, FRAME};

/// How long to wait for replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Timeouts {
    /// A reply to a request that does little work: handshakes, `*Begin`, chunks.
    pub reply_ms: u32,
    /// A reply to a request that computes: an MSM, an NTT, loading bases, verifying a proof.
    pub work_ms: u32,
    /// The reply to the end of a witness: the host proves.
    pub prove_ms: u32,
    /// Silence on the line that ends a resynchronisation.
    pub quiet_ms: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            reply_ms: 3_000,
            work_ms: 120_000,
            prove_ms: 600_000,
            quiet_ms: 50,
        }
    }
}

/// How the client behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ClientConfig {
    /// Reply timeouts.
    pub timeouts: Timeouts,
    /// How many times a job that failed on the link is started over (0: never).
    pub retries: u32,
}

impl ClientConfig {
    /// These timeouts, `retries` retries per job.
    pub fn new(timeouts: Timeouts, retries: u32) -> Self {
        Self { timeouts, retries }
    }
}

/// What crossed the link, and what went wrong on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkStats {
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Requests sent (faults included).
    pub requests: u64,
    /// Replies that did not come in time.
    pub timeouts: u32,
    /// Damaged or unusable replies, each answered with a `Fault` frame.
    pub faults: u32,
    /// Replies to earlier requests, skipped.
    pub stale: u32,
    /// Jobs started over.
    pub retries: u32,
    /// Error replies (refusals) received.
    pub refusals: u32,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CallError {
    /// The line failed.
    #[error("line: {0}")]
    Line(#[from] LineError),
    /// No reply in time.
    #[error("no reply in time; is the host driver (`zkedge serve`) running?")]
    Timeout,
    /// A damaged frame arrived, or the host could not read ours.
    #[error("a damaged frame crossed the link")]
    Corrupt,
    /// A sound frame that is not the reply awaited (unreadable, of the wrong kind, or for a
    /// request not yet sent).
    #[error("the host sent an unexpected reply")]
    Unexpected,
    /// The host refused the request.
    #[error("the host refused: {}", .0.code)]
    Refused(ErrorReply),
    /// A reply carried an invalid element (a point off the curve, a non-canonical scalar).
    #[error("the host's reply carried an invalid element")]
    BadElement,
    /// The request does not fit a frame, or its arguments are inconsistent (a bug here).
    #[error("the request is malformed on this side")]
    BadRequest,
}

impl CallError {
    /// Whether starting the job over may succeed: the link lost or damaged something.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Line(e) => *e != LineError::Closed,
            CallError::Timeout | CallError::Corrupt | CallError::Unexpected => true,
            CallError::Refused(r) => matches!(
                r.code,
                ErrorCode::BadCrc
                    | ErrorCode::BadFraming
                    | ErrorCode::Oversize
                    | ErrorCode::OutOfSequence
                    | ErrorCode::BadOffset
                    | ErrorCode::Incomplete
            ),
            CallError::BadElement | CallError::BadRequest => false,
        }
    }
}

/// What one step of receiving found.
enum Received {
    More,
    Mine(usize),
    Stale,
    /// The host answered a frame it could not read (id 0).
    Unattributed,
    /// Refused here: answer with a fault, fail the call.
    Refuse(ErrorCode, u32),
}

/// The client end of the protocol over a line.
pub struct Client<L: Line> {
    line: L,
    config: ClientConfig,
    acc: Box<FrameAccumulator<FRAME>>,
    tx: Box<[u8]>,
    /// The awaited reply's postcard bytes, copied out of the accumulator.
    reply: Box<[u8]>,
    rx: [u8; 64],
    rx_pos: usize,
    rx_len: usize,
    next_id: RequestId,
    last_id: RequestId,
    /// Whether the last frame sent was a `Fault` (about the reply that made a call fail).
    faulted: bool,
    max_frame: usize,
    server: Option<Capabilities>,
    stats: LinkStats,
}

impl<L: Line> Client<L> {
    /// A client on `line`; call [`connect`](Self::connect) before anything else.
    pub fn new(line: L, config: ClientConfig) -> Self {
        Self {
            line,
            config,
            acc: Box::new(FrameAccumulator::new()),
            tx: vec![0u8; FRAME + 1].into_boxed_slice(),
            reply: vec![0u8; FRAME].into_boxed_slice(),
            rx: [0; 64],
            rx_pos: 0,
            rx_len: 0,
            next_id: 1,
            last_id: 0,
            faulted: false,
            max_frame: FRAME,
            server: None,
            stats: LinkStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The line's clock, in milliseconds.
    pub fn now_ms(&mut self) -> u64 {
        self.line.now_ms()
    }

    /// What crossed the link so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The server's capabilities, once connected.
    pub fn server(&self) -> Option<Capabilities> {
        self.server
    }

    /// The frame size both ends accept.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Shakes hands: up to `attempts` times, a `Hello` and `reply_ms` for the answer (the
    /// first bytes on a fresh line may be lost, and the host may not be up yet).
    pub fn connect(&mut self, attempts: u32) -> Result<Capabilities, CallError> {
        let mut last = CallError::Timeout;
        for _ in 0..attempts.max(1) {
            match self.hello() {
                Ok(caps) => return Ok(caps),
                Err(e) if e.is_transient() => {
                    last = e;
                    self.drain()?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn hello(&mut self) -> Result<Capabilities, CallError> {
        // A lone delimiter ends whatever partial frame the host may hold.
        self.line.write_all(&[0])?;
        self.stats.tx_bytes += 1;
        let body = RequestBody::Hello {
            version: VERSION,
            max_frame: FRAME as u32,
        };
        let caps = match self.call(body, self.config.timeouts.reply_ms)? {
            ReplyBody::Hello(caps) => caps,
            _ => return Err(CallError::Unexpected),
        };
        if caps.version != VERSION {
            return Err(CallError::Refused(ErrorReply {
                code: ErrorCode::VersionMismatch,
                detail: u32::from(caps.version),
            }));
        }
        self.max_frame = (caps.max_frame as usize).min(FRAME);
        self.server = Some(caps);
        Ok(caps)
    }

    /// Runs `job` and, when it fails on the link, resynchronises and starts it over, up to
    /// the configured number of retries. `job` must start from its `*Begin` each time.
    pub fn job<T>(
        &mut self,
        mut job: impl FnMut(&mut Self) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let mut attempt = 0;
        loop {
            let error = match job(self) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= self.config.retries {
                return Err(error);
            }
            attempt += 1;
            self.stats.retries += 1;
            // A reply the receive path already refused has had its Fault.
            if error == CallError::Unexpected && !self.faulted {
                self.fault(self.last_id, ErrorCode::OutOfSequence, 0)?;
            }
            match self.resync() {
                Ok(()) => {}
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for the line to fall quiet, forgets any partial frame, and shakes hands again.
    pub fn resync(&mut self) -> Result<(), CallError> {
        self.drain()?;
        self.hello().map(|_| ())
    }

    /// Reads and drops bytes until the line has been quiet for `quiet_ms` (at most 40 times
    /// that in all).
    fn drain(&mut self) -> Result<(), CallError> {
        let quiet = self.config.timeouts.quiet_ms;
        let start = self.line.now_ms();
        let limit = u64::from(quiet) * 40;
        self.rx_pos = 0;
        self.rx_len = 0;
        while self.line.now_ms().saturating_sub(start) < limit {
            let n = self.line.read(&mut self.rx, quiet)?;
            self.stats.rx_bytes += n as u64;
            if n == 0 {
                break;
            }
        }
        self.acc.reset();
        Ok(())
    }

    /// Sends `body` and waits up to `timeout_ms` for its reply. An error reply is
    /// [`CallError::Refused`].
    pub fn call(
        &mut self,
        body: RequestBody<'_>,
        timeout_ms: u32,
    ) -> Result<ReplyBody<'_>, CallError> {
        let id = self.send(body)?;
        let len = self.await_reply(id, timeout_ms)?;
        let reply = parse_reply(&self.reply[..len]).map_err(|_| CallError::Unexpected)?;
        match reply.body {
            ReplyBody::Error(e) => {
                self.stats.refusals += 1;
                Err(CallError::Refused(e))
            }
            body => Ok(body),
        }
    }

    /// [`call`](Self::call) for requests answered by `Ok`.
    pub fn call_ok(&mut self, body: RequestBody<'_>, timeout_ms: u32) -> Result<(), CallError> {
        match self.call(body, timeout_ms)? {
            ReplyBody::Ok => Ok(()),
            _ => Err(CallError::Unexpected),
        }
    }

    fn take_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id = match id.wrapping_add(1) {
            UNATTRIBUTED => 1,
            next => next,
        };
        id
    }

    fn send(&mut self, body: RequestBody<'_>) -> Result<RequestId, CallError> {
        let id = self.take_id();
        let len = encode_request(id, body, &mut self.tx, self.max_frame)
            .map_err(|_| CallError::BadRequest)?
            .len();
        self.line.write_all(&self.tx[..len])?;
        self.stats.tx_bytes += len as u64;
        self.stats.requests += 1;
        self.last_id = id;
        self.faulted = false;
        Ok(id)
    }

    /// Tells the host why its reply to `about` was refused. Its own `Ok` is skipped later as
    /// stale.
    fn fault(&mut self, about: RequestId, code: ErrorCode, detail: u32) -> Result<(), CallError> {
        self.stats.faults += 1;
        let body = RequestBody::Fault {
            about,
            code,
            detail,
        };
        let sent = match self.send(body) {
            Ok(_) | Err(CallError::BadRequest) => Ok(()),
            Err(e) => Err(e),
        };
        self.faulted = true;
        sent
    }

    /// Receives until the reply to `id` has been copied into `self.reply`; returns its length.
    fn await_reply(&mut self, id: RequestId, timeout_ms: u32) -> Result<usize, CallError> {
        let start = self.line.now_ms();
        loop {
            if self.rx_pos == self.rx_len {
                let elapsed = self.line.now_ms().saturating_sub(start);
                if elapsed >= u64::from(timeout_ms) {
                    self.stats.timeouts += 1;
                    return Err(CallError::Timeout);
                }
                let wait = u32::try_from(u64::from(timeout_ms) - elapsed).unwrap_or(u32::MAX);
                let n = self.line.read(&mut self.rx, wait)?;
                self.rx_pos = 0;
                self.rx_len = n;
                self.stats.rx_bytes += n as u64;
                continue;
            }
            let input = &self.rx[self.rx_pos..self.rx_len];
            let before = input.len();
            let (left, received) = match self.acc.feed(input) {
                Feed::Consumed => (0, Received::More),
                Feed::Bad { error, remaining } => {
                    (remaining.len(), Received::Refuse(error.code(), 0))
                }
                Feed::Frame { body, remaining } => {
                    let received = match parse_reply(body) {
                        Ok(r) if r.id == id => match self.reply.get_mut(..body.len()) {
                            Some(dst) => {
                                dst.copy_from_slice(body);
                                Received::Mine(body.len())
                            }
                            None => Received::Refuse(ErrorCode::Oversize, 0),
                        },
                        Ok(r) if r.id == UNATTRIBUTED => Received::Unattributed,
                        // Ids grow: a smaller one (modulo wrap-around) answers an earlier
                        // request that timed out.
                        Ok(r) if id.wrapping_sub(r.id) < 1 << 31 => Received::Stale,
                        Ok(_) => Received::Refuse(ErrorCode::OutOfSequence, 0),
                        Err(e) => Received::Refuse(e.code, e.detail),
                    };
                    (remaining.len(), received)
                }
            };
            self.rx_pos += before - left;
            match received {
                Received::More => {}
                Received::Mine(len) => return Ok(len),
                Received::Stale => self.stats.stale += 1,
                Received::Unattributed => return Err(CallError::Corrupt),
                Received::Refuse(code, detail) => {
                    self.fault(id, code, detail)?;
                    return Err(match code {
                        ErrorCode::BadCrc | ErrorCode::BadFraming | ErrorCode::Oversize => {
                            CallError::Corrupt
                        }
                        _ => CallError::Unexpected,
                    });
                }
            }
        }
    }
}
