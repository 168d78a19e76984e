//! Requests out, replies in: the client end of the wire protocol over a [`Line`], the one
//! every link of zkedge uses (a device's link to the host driver, the host's link to an
//! accelerator).
//!
//! One request is in flight at a time (the protocol's flow control). A request is
//! retransmitted, under a fresh id, when its reply does not come in time, comes damaged (the
//! client first tells the server with a `Fault` frame), or the server could not read the
//! request (an unattributed error reply); replies to earlier requests are skipped as stale.
//! Protocol version 2 makes this safe: a chunk the server already has is refused with
//! `BadOffset` naming where the upload stands, without abandoning it, and a repeated end of a
//! job is answered with the job's result again. So a damaged or lost frame costs one frame and
//! one short wait, not the job.
//!
//! Every call runs under a deadline that the caller sizes to the job ([`Timeouts::job_ms`]):
//! past it the call fails with [`CallError::Timeout`] whatever the line does; and a request is
//! sent at most [`ClientConfig::attempts`] times (a silent peer then fails the call with
//! `Timeout`, a garbling one with `Corrupt`). [`Client::job`]
//! adds the outer layer: a job that failed on the link is started over after a
//! resynchronisation, a configured number of times. Buffers are fixed when the client is
//! made; nothing here allocates afterwards, and nothing a peer sends can make it panic.

use alloc::{boxed::Box, vec};

use accel_proto::{
    encode_request, parse_reply, Capabilities, ErrorCode, ErrorReply, Feed, FrameAccumulator,
    ReplyBody, RequestBody, RequestId, UNATTRIBUTED, VERSION,
};

use super::{Line, LineError, FRAME};

/// How long to wait, and how long a job may take.
///
/// A small request is retransmitted after [`reply_ms`](Self::reply_ms) plus its frames'
/// transfer time at [`link_bytes_per_s`](Self::link_bytes_per_s); a request that computes is
/// given [`work_ms`](Self::work_ms) plus [`margin`](Self::margin) times the peer's measured
/// compute time for its size (before the first measurement,
/// [`work_ns_per_element`](Self::work_ns_per_element) stands in for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Timeouts {
    /// A reply to a request that does little work (handshake, `*Begin`, chunks, reads), before
    /// transfer time: the request is retransmitted after this.
    pub reply_ms: u32,
    /// A fixed allowance for a request that computes (an MSM, an NTT, loading bases,
    /// verifying a proof), on top of its estimated compute time.
    pub work_ms: u32,
    /// The first estimate of the peer's compute time per element, until a job was timed.
    pub work_ns_per_element: u32,
    /// The reply to the end of a witness: the host proves.
    pub prove_ms: u32,
    /// Silence on the line that ends a resynchronisation.
    pub quiet_ms: u32,
    /// The line's rate in its slower direction, in bytes per second (a UART at `b` baud moves
    /// `b / 10`).
    pub link_bytes_per_s: u32,
    /// Estimates are multiplied by this before they become timeouts.
    pub margin: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            reply_ms: 1_000,
            work_ms: 3_000,
            work_ns_per_element: 200_000,
            prove_ms: 600_000,
            quiet_ms: 50,
            link_bytes_per_s: 10_000,
            margin: 4,
        }
    }
}

impl Timeouts {
    /// Milliseconds `bytes` take on the line.
    pub fn transfer_ms(&self, bytes: usize) -> u64 {
        let rate = u64::from(self.link_bytes_per_s.max(1));
        (bytes as u64).saturating_mul(1000).div_ceil(rate)
    }

    /// The budget of a whole job that moves `bytes` over the line (both directions) and
    /// computes over `elements` elements at `ns_per_element`: the fixed allowances, plus the
    /// margin times the estimates, plus room for retransmitting a few frames.
    pub fn job_ms(&self, bytes: usize, elements: usize, ns_per_element: u64) -> u64 {
        let margin = u64::from(self.margin.max(1));
        let compute = (elements as u64).saturating_mul(ns_per_element) / 1_000_000;
        u64::from(self.reply_ms)
            .saturating_mul(8)
            .saturating_add(u64::from(self.work_ms))
            .saturating_add(margin.saturating_mul(self.transfer_ms(bytes).saturating_add(compute)))
    }
}

/// How the client behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ClientConfig {
    /// Reply timeouts and job budgets.
    pub timeouts: Timeouts,
    /// How many times [`Client::job`] starts a job over after it failed on the link (0: never).
    pub retries: u32,
    /// How many times one request is sent before its call fails, whatever time is left (a
    /// peer that answers everything with garbage fails calls quickly).
    pub attempts: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::new(Timeouts::default(), 0)
    }
}

impl ClientConfig {
    /// These timeouts, `retries` restarts per job, 12 attempts per request.
    pub fn new(timeouts: Timeouts, retries: u32) -> Self {
        Self {
            timeouts,
            retries,
            attempts: 12,
        }
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
    /// Requests sent (faults and retransmissions included).
    pub requests: u64,
    /// Calls that ran out of time (each ends a call with [`CallError::Timeout`]).
    pub timeouts: u32,
    /// Damaged or unusable replies, each answered with a `Fault` frame.
    pub faults: u32,
    /// Replies to earlier requests, skipped.
    pub stale: u32,
    /// Jobs started over.
    pub retries: u32,
    /// Error replies (refusals) received.
    pub refusals: u32,
    /// Requests sent again: their reply was late, damaged, or the server could not read them.
    pub retransmits: u32,
    /// Uploads resumed where the server said it stood (a chunk it already had).
    pub resumed: u32,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CallError {
    /// The line failed.
    #[error("line: {0}")]
    Line(#[from] LineError),
    /// No usable reply within the job's budget.
    #[error("no reply in time; is the peer running and the line's rate right?")]
    Timeout,
    /// A damaged frame crossed the link and could not be recovered.
    #[error("a damaged frame crossed the link")]
    Corrupt,
    /// A sound frame that is not the reply awaited (of the wrong kind, or carrying values that
    /// do not fit the request).
    #[error("the peer sent an unexpected reply")]
    Unexpected,
    /// The peer refused the request.
    #[error("the peer refused: {}", .0.code)]
    Refused(ErrorReply),
    /// A reply carried an invalid element (a point off the curve, a non-canonical scalar).
    #[error("the peer's reply carried an invalid element")]
    BadElement,
    /// The request does not fit a frame, or its arguments are inconsistent (a bug here).
    #[error("the request is malformed on this side")]
    BadRequest,
}

impl CallError {
    /// Whether starting the job over may succeed: the link lost or damaged something, or the
    /// server lost track of the job.
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

/// Work a server does for a request; each kind's time per element is measured apart (an MSM
/// costs the accelerator tens of times more per element than an NTT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Work {
    /// Checking and storing points (`BasesEnd`).
    LoadBases,
    /// An MSM (`MsmEnd`).
    Msm,
    /// An NTT (`NttRun`).
    Ntt,
    /// Verifying a proof (`ProofEnd`), elements being its bytes.
    Verify,
}

impl Work {
    const COUNT: usize = 4;

    const fn index(self) -> usize {
        match self {
            Work::LoadBases => 0,
            Work::Msm => 1,
            Work::Ntt => 2,
            Work::Verify => 3,
        }
    }
}

/// What a request does on the server, which sets how long its reply may take before the
/// request is sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Answered at once, with a reply of about this many bytes (handshakes, `*Begin`, chunks,
    /// reads).
    Reply(usize),
    /// Computes this work over this many elements. Its duration refines the estimate.
    Work(Work, usize),
    /// The server proves (the end of a witness upload).
    Prove,
}

/// What waiting for one reply found.
enum Awaited {
    /// The reply; its postcard bytes' length in `reply`.
    Mine(usize),
    /// Nothing usable within the window: send the request again.
    Again,
}

/// What one step of receiving found.
enum Received {
    More,
    Mine(usize),
    Stale,
    /// The server answered a frame it could not read (id 0).
    Unattributed,
    /// Refused here: answer with a fault.
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
    rx: [u8; 256],
    rx_pos: usize,
    rx_len: usize,
    next_id: RequestId,
    max_frame: usize,
    server: Option<Capabilities>,
    stats: LinkStats,
    /// The peer's measured compute time per element, per [`Work`] (0: not measured yet).
    work_ns: [u64; Work::COUNT],
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
            rx: [0; 256],
            rx_pos: 0,
            rx_len: 0,
            next_id: 1,
            max_frame: FRAME,
            server: None,
            stats: LinkStats::default(),
            work_ns: [0; Work::COUNT],
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Changes the timeouts (e.g. once the line's rate is known).
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.config.timeouts = timeouts;
    }

    /// The line.
    pub fn line(&self) -> &L {
        &self.line
    }

    /// The line's clock, in milliseconds.
    pub fn now_ms(&mut self) -> u64 {
        self.line.now_ms()
    }

    /// What crossed the link so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Counts an upload resumed where the server said it stood.
    pub fn note_resumed(&mut self) {
        self.stats.resumed += 1;
    }

    /// The server's capabilities, once connected.
    pub fn server(&self) -> Option<Capabilities> {
        self.server
    }

    /// The frame size both ends accept.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The estimate of the peer's compute time per element of `work`, in nanoseconds.
    pub fn work_ns_per_element(&self, work: Work) -> u64 {
        match self.work_ns[work.index()] {
            0 => u64::from(self.config.timeouts.work_ns_per_element),
            ns => ns,
        }
    }

    /// The absolute deadline (line clock) of a job that moves `bytes` and does `work` over
    /// `elements` elements: [`Timeouts::job_ms`] from now.
    pub fn job_deadline(&mut self, bytes: usize, work: Work, elements: usize) -> u64 {
        let budget = self
            .config
            .timeouts
            .job_ms(bytes, elements, self.work_ns_per_element(work));
        self.line.now_ms().saturating_add(budget)
    }

    /// Shakes hands: up to `attempts` times, a `Hello` and `reply_ms` (plus transfer time)
    /// for the answer — the first bytes on a fresh line may be lost, and the peer may not be
    /// up yet. A peer of another protocol version is refused at once.
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
        // A lone delimiter ends whatever partial frame the peer may hold.
        self.line.write_all(&[0])?;
        self.stats.tx_bytes += 1;
        let body = RequestBody::Hello {
            version: VERSION,
            max_frame: FRAME as u32,
        };
        // One window, no retransmission: `connect` decides how often to try.
        let window = self.window(Wait::Reply(64), 16);
        let deadline = self.line.now_ms().saturating_add(window);
        let caps = match self.call_once(body, window, deadline)? {
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
        let quiet = self.config.timeouts.quiet_ms.max(1);
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

    /// Sends `body` and returns its reply, retransmitting as the module explains until the
    /// reply is in or `deadline` (line clock, see [`job_deadline`](Self::job_deadline))
    /// passes. An error reply is [`CallError::Refused`].
    pub fn call(
        &mut self,
        body: RequestBody<'_>,
        wait: Wait,
        deadline: u64,
    ) -> Result<ReplyBody<'_>, CallError> {
        let started = self.line.now_ms();
        let heard_before = self.stats.rx_bytes;
        let mut sent = 0;
        let len = loop {
            let now = self.line.now_ms();
            let silent = self.stats.rx_bytes == heard_before;
            if sent > 0 && (now >= deadline || (silent && sent >= self.config.attempts.max(1))) {
                self.stats.timeouts += 1;
                return Err(CallError::Timeout);
            }
            if sent >= self.config.attempts.max(1) {
                // Answered, but never usably: a garbled line or a hostile peer.
                return Err(CallError::Corrupt);
            }
            if sent > 0 {
                self.stats.retransmits += 1;
            }
            sent += 1;
            let (id, frame_len) = self.send(body)?;
            let window = self
                .window(wait, frame_len)
                .min(deadline.saturating_sub(now).max(1));
            match self.await_reply(id, window)? {
                Awaited::Mine(len) => break len,
                Awaited::Again => {}
            }
        };
        if let Wait::Work(work, elements) = wait {
            let elapsed = self.line.now_ms().saturating_sub(started);
            self.learn(work, elements, elapsed);
        }
        self.parse(len)
    }

    /// [`call`](Self::call) for requests answered by `Ok`.
    pub fn call_ok(
        &mut self,
        body: RequestBody<'_>,
        wait: Wait,
        deadline: u64,
    ) -> Result<(), CallError> {
        match self.call(body, wait, deadline)? {
            ReplyBody::Ok => Ok(()),
            _ => Err(CallError::Unexpected),
        }
    }

    /// One request, one window, no retransmission (the handshake, whose retries are
    /// [`connect`](Self::connect)'s).
    fn call_once(
        &mut self,
        body: RequestBody<'_>,
        window: u64,
        deadline: u64,
    ) -> Result<ReplyBody<'_>, CallError> {
        let (id, _) = self.send(body)?;
        let window = window.min(deadline.saturating_sub(self.line.now_ms()).max(1));
        match self.await_reply(id, window)? {
            Awaited::Mine(len) => self.parse(len),
            Awaited::Again => {
                self.stats.timeouts += 1;
                Err(CallError::Timeout)
            }
        }
    }

    fn parse(&mut self, len: usize) -> Result<ReplyBody<'_>, CallError> {
        let reply = parse_reply(&self.reply[..len]).map_err(|_| CallError::Unexpected)?;
        match reply.body {
            ReplyBody::Error(e) => {
                self.stats.refusals += 1;
                Err(CallError::Refused(e))
            }
            body => Ok(body),
        }
    }

    /// Folds a measured compute time into the estimate (a quick peer lowers it slowly, a
    /// slow one raises it at once).
    fn learn(&mut self, work: Work, elements: usize, elapsed_ms: u64) {
        if elements < 64 {
            return;
        }
        let per = elapsed_ms.saturating_mul(1_000_000) / elements as u64;
        let est = &mut self.work_ns[work.index()];
        *est = if *est == 0 || per > *est {
            per.max(1)
        } else {
            (*est * 3 + per) / 4
        };
    }

    /// How long to wait for the reply to a request of `wait` whose frame was `sent` bytes.
    fn window(&self, wait: Wait, sent: usize) -> u64 {
        let t = &self.config.timeouts;
        let margin = u64::from(t.margin.max(1));
        match wait {
            Wait::Reply(back) => u64::from(t.reply_ms)
                .saturating_add(margin.saturating_mul(t.transfer_ms(sent + back))),
            Wait::Work(work, elements) => {
                let compute =
                    (elements as u64).saturating_mul(self.work_ns_per_element(work)) / 1_000_000;
                u64::from(t.work_ms)
                    .saturating_add(u64::from(t.reply_ms))
                    .saturating_add(
                        margin.saturating_mul(compute.saturating_add(t.transfer_ms(sent))),
                    )
            }
            Wait::Prove => u64::from(t.prove_ms),
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

    /// Sends `body` under a fresh id; returns the id and the frame's length.
    fn send(&mut self, body: RequestBody<'_>) -> Result<(RequestId, usize), CallError> {
        let id = self.take_id();
        let len = encode_request(id, body, &mut self.tx, self.max_frame)
            .map_err(|_| CallError::BadRequest)?
            .len();
        self.line.write_all(&self.tx[..len])?;
        self.stats.tx_bytes += len as u64;
        self.stats.requests += 1;
        Ok((id, len))
    }

    /// Tells the server why its reply to `about` was refused. Its own `Ok` is skipped later
    /// as stale.
    fn fault(&mut self, about: RequestId, code: ErrorCode, detail: u32) -> Result<(), CallError> {
        self.stats.faults += 1;
        let body = RequestBody::Fault {
            about,
            code,
            detail,
        };
        match self.send(body) {
            Ok(_) | Err(CallError::BadRequest) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Receives until the reply to `id` has been copied into `self.reply` or `window_ms` has
    /// passed, or something arrived that calls for sending the request again.
    fn await_reply(&mut self, id: RequestId, window_ms: u64) -> Result<Awaited, CallError> {
        let start = self.line.now_ms();
        loop {
            if self.rx_pos == self.rx_len {
                let elapsed = self.line.now_ms().saturating_sub(start);
                if elapsed >= window_ms {
                    return Ok(Awaited::Again);
                }
                let wait = u32::try_from(window_ms - elapsed).unwrap_or(u32::MAX);
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
                        // request, retransmitted since or given up on.
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
                Received::Mine(len) => return Ok(Awaited::Mine(len)),
                Received::Stale => self.stats.stale += 1,
                // The server could not read a frame of ours: most likely this request.
                Received::Unattributed => return Ok(Awaited::Again),
                Received::Refuse(code, detail) => {
                    self.fault(id, code, detail)?;
                    return Ok(Awaited::Again);
                }
            }
        }
    }
}
