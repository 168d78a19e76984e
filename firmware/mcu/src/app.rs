//! The device app: sample the sensor, run the model, build the witness, and have it proven.
//!
//! What runs is a [`Plan`] (by default two samples in witness mode, one in input mode, then
//! one proven on the device):
//!
//! 1. **Witness mode**, for the first samples: the public output and the
//!    private witness go to the host driver, which proves, verifies and answers with the
//!    proof's digest.
//! 1. **Input mode**, for the next: only the input and the output go up; the host runs the
//!    model itself, refuses an output other than the one claimed, proves and verifies. The
//!    link carries the input's bytes instead of the witness.
//!    With `hashed=N` in the plan (host keys that hash the input), input mode sends a fresh
//!    salt and the commitment Poseidon(salt, input) computed here; the host's proof must
//!    carry that commitment.
//! 2. **Device-proving mode** (feature `device-proving`), for the next samples: the zkedge
//!    prover runs here, its MSMs on the host by SRS handle (`zkedge_device::Remote`), its
//!    NTTs here unless the host's policy takes them; the proof goes to the host, which
//!    verifies it with halo2-axiom's verifier and answers with its digest, which must be the
//!    digest of what was sent.
//!
//! A host that does not answer is retried in rounds, each logged, before the app gives up
//! with [`Exit::HostLost`]; nothing the host sends can make it panic.

use alloc::{vec, vec::Vec};
use core::fmt;

use accel_backends::{Backend as _, Checked};
use accel_proto::MultiOpen;
use zkedge_device::{
    session::{self, Proved, Session},
    CallError, Client, ClientConfig, LinkStats, Remote, Timeouts,
};
use zkedge_kernel::{
    infer::infer,
    layout::{Layout, Witness},
    model::Model,
};

use crate::{
    assets,
    board::BOARD,
    clock, commit, heap,
    line::UartLine,
    mark,
    plan::Plan,
    report::Report,
    sensor::{Error as _, Recorded, Sensor},
    uart::Uart,
};

/// Rounds of reconnecting to a silent host before giving up.
const HOST_ROUNDS: u32 = 5;
/// Handshakes per round (each waits `reply_ms`).
const HELLO_ATTEMPTS: u32 = 10;
/// Times one job is started over after a link failure.
const JOB_RETRIES: u32 = 3;

/// How the app ended: the process exit code under QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
#[repr(u32)]
pub enum Exit {
    /// Every proof was accepted.
    Ok = 0,
    /// The embedded model, key or samples are unusable.
    Setup = 2,
    /// The host stopped answering.
    HostLost = 3,
    /// The host refused a proof or a request.
    Refused = 4,
    /// The host's digest is not that of the proof sent.
    DigestMismatch = 5,
    /// The prover on the device failed.
    Prove = 6,
    /// The sensor failed.
    Sensor = 7,
}

/// Hex for the report.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The host driver behind the link, with the session reopened whenever it is lost.
struct Host {
    remote: Checked<Remote<UartLine>>,
    session: Option<Session>,
    model: [u8; 32],
}

impl Host {
    fn session(&mut self) -> Result<Session, Exit> {
        if let Some(s) = self.session {
            return Ok(s);
        }
        for round in 1..=HOST_ROUNDS {
            let connected = self
                .remote
                .hooks_mut()
                .client()
                .connect(HELLO_ATTEMPTS)
                .and_then(|_| session::open(&mut self.remote, &self.model));
            match connected {
                Ok(s) => {
                    defmt::info!(
                        "session open: k = {}, SRS handles {} and {}, NTTs from 2^{} on the host",
                        s.info.k,
                        s.info.monomial,
                        s.info.lagrange,
                        s.info.ntt_min_log
                    );
                    self.session = Some(s);
                    return Ok(s);
                }
                Err(e) if e.is_transient() => {
                    defmt::warn!(
                        "host not answering (round {}/{}): {}",
                        round,
                        HOST_ROUNDS,
                        e
                    );
                    // Back off before the next round.
                    embedded_hal::delay::DelayNs::delay_ms(&mut clock::Delay, 1_000);
                }
                Err(e) => {
                    defmt::error!("the host refused the session: {}", e);
                    return Err(Exit::Refused);
                }
            }
        }
        defmt::error!("giving up on the host after {} rounds", HOST_ROUNDS);
        Err(Exit::HostLost)
    }

    /// Has the host prove sample `i` with `send` (witness or input mode), logs what it took and
    /// writes the report line `mode sample=… digest=…` the host's side is checked against.
    fn have_proven(
        &mut self,
        mode: &'static str,
        i: u32,
        class: u32,
        report: &mut Report,
        mut send: impl FnMut(&mut Client<UartLine>) -> Result<Proved, CallError>,
    ) -> Result<(), Exit> {
        let before = self.remote.hooks_mut().client().stats();
        let t0 = clock::nanos();
        let proved = self.with(mode, |h, _| send(h.remote.hooks_mut().client()))?;
        let ms = (clock::nanos() - t0) / 1_000_000;
        let (tx, rx) = traffic(before, self.remote.hooks_mut().client().stats());
        defmt::info!(
            "{=str} mode, sample {}: class {}, host proved and verified in {} ms ({} ms here), proof {} B, digest {=[u8]:x}; link {} B up, {} B down",
            mode,
            i,
            class,
            proved.millis,
            ms,
            proved.len,
            proved.digest,
            tx,
            rx
        );
        report.line(
            mode,
            format_args!(
                "sample={i} class={class} digest={} len={} host_ms={} device_ms={ms} tx={tx} rx={rx}",
                Hex(&proved.digest),
                proved.len,
                proved.millis
            ),
        );
        Ok(())
    }

    /// Runs `op` in a session, reconnecting when the link fails.
    fn with<T, E: Into<OpError>>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&mut Self, Session) -> Result<T, E>,
    ) -> Result<T, Exit> {
        for round in 1..=HOST_ROUNDS {
            let s = self.session()?;
            let e = match op(self, s).map_err(Into::into) {
                Ok(v) => return Ok(v),
                Err(OpError::Prove) => return Err(Exit::Prove),
                Err(OpError::Call(e)) => e,
            };
            match e {
                e if e.is_transient() || lost_session(&e) => {
                    defmt::warn!("{}: link failed (round {}): {}", what, round, e);
                    self.session = None;
                }
                e => {
                    defmt::error!("{}: the host refused: {}", what, e);
                    return Err(Exit::Refused);
                }
            }
        }
        Err(Exit::HostLost)
    }
}

/// Why an operation in a session failed: on the link or at the host, or in this device's prover
/// (which no reconnection mends).
enum OpError {
    Call(CallError),
    Prove,
}

impl From<CallError> for OpError {
    fn from(e: CallError) -> Self {
        OpError::Call(e)
    }
}

/// The host restarted: its session and bases handles are gone.
fn lost_session(e: &CallError) -> bool {
    matches!(e, CallError::Refused(r) if matches!(r.code,
        accel_proto::ErrorCode::NoSession | accel_proto::ErrorCode::UnknownBases))
}

/// Link traffic between two readings.
fn traffic(before: LinkStats, after: LinkStats) -> (u64, u64) {
    (
        after.tx_bytes - before.tx_bytes,
        after.rx_bytes - before.rx_bytes,
    )
}

/// Runs the app; returns how it ended.
pub fn run(uart: Uart, plan: Plan, report: &mut Report) -> Exit {
    let result = run_inner(uart, plan, report);
    let exit = result.err().unwrap_or(Exit::Ok);
    let (_, peak) = heap::usage();
    report.line("heap.peak_bytes", format_args!("{peak}"));
    report.line("result", format_args!("{}", exit as u32));
    exit
}

fn run_inner(uart: Uart, plan: Plan, report: &mut Report) -> Result<(), Exit> {
    defmt::info!("zkedge-firmware on {=str}; plan {}", BOARD.name, plan);
    report.line("board", format_args!("{}", BOARD.name));
    let model = Model::from_bytes(assets::MODEL).map_err(|e| {
        defmt::error!(
            "the embedded model is invalid: {}",
            defmt::Display2Format(&e)
        );
        Exit::Setup
    })?;
    let layout = Layout::new(&model).map_err(|e| {
        defmt::error!(
            "the model has no circuit layout: {}",
            defmt::Display2Format(&e)
        );
        Exit::Setup
    })?;
    let model_hash = session::digest(&model.to_bytes());
    defmt::info!(
        "model {=str}: {} inputs → {} outputs, {} MACs, circuit k = {}",
        model.file().name.as_str(),
        model.input_len(),
        model.output_len(),
        model.mac_count(),
        layout.k()
    );
    report.line("model", format_args!("{}", model.file().name));
    report.line("model.hash", format_args!("{}", Hex(&model_hash)));
    report.line("k", format_args!("{}", layout.k()));
    let mut sensor = Recorded::new(assets::SAMPLES, model.input_len());
    if sensor.samples() == 0 {
        defmt::error!("no recorded samples");
        return Err(Exit::Sensor);
    }

    let config = ClientConfig::new(Timeouts::default(), JOB_RETRIES);
    let mut host = Host {
        remote: Remote::new(Client::new(UartLine::new(uart), config), || {
            u64::from(clock::millis())
        }),
        session: None,
        model: model_hash,
    };
    let mut entropy = crate::rng::Entropy::new();
    host.session()?;
    entropy.mix(clock::nanos());

    let mut input = vec![0i8; sensor.sample_len()];
    for i in 0..plan.witness {
        let (witness, output, class) = observe(&model, &layout, &mut sensor, &mut input, report)?;
        host.have_proven("witness", i, class, report, |client| {
            session::send_witness(client, &witness.advice, &output, class, MultiOpen::Gwc)
        })?;
        entropy.mix(clock::nanos());
    }

    for i in 0..plan.input {
        // Input mode: only the input and the output go up; no witness is built here.
        let (output, class) = run_model(&model, &mut sensor, &mut input)?;
        host.have_proven("input", i, class, report, |client| {
            session::send_input(client, &input, &output, class, MultiOpen::Gwc)
        })?;
        entropy.mix(clock::nanos());
    }

    if plan.hashed > 0 {
        let poseidon = commit::poseidon();
        let mut rng = entropy.rng();
        for i in 0..plan.hashed {
            // Input mode for keys that hash the input: the salt and the commitment go up too,
            // and the host's proof must carry this commitment (what the sensor would sign).
            let (output, class) = run_model(&model, &mut sensor, &mut input)?;
            let salted = commit::salted(&poseidon, &input, &mut rng);
            defmt::info!(
                "hashed input, sample {}: commitment {=[u8]:x}",
                i,
                salted.commitment
            );
            report.line(
                "commitment",
                format_args!("sample={i} commitment={}", Hex(&salted.commitment)),
            );
            host.have_proven("hashed", i, class, report, |client| {
                session::send_hashed_input(client, &input, &salted, &output, class, MultiOpen::Gwc)
            })?;
        }
        entropy.mix(clock::nanos());
    }

    #[cfg(feature = "device-proving")]
    if plan.device > 0 {
        device_proving(
            &mut host,
            &model,
            &layout,
            &mut sensor,
            &mut input,
            report,
            plan.device,
            &entropy,
        )?;
    }

    let s = host.remote.hooks_mut().client().stats();
    defmt::info!(
        "link: {} B up, {} B down, {} requests, {} timeouts, {} faults, {} retransmits, {} retries",
        s.tx_bytes,
        s.rx_bytes,
        s.requests,
        s.timeouts,
        s.faults,
        s.retransmits,
        s.retries
    );
    report.line(
        "link",
        format_args!(
            "tx={} rx={} requests={} timeouts={} faults={} retransmits={} resumed={} retries={} stale={}",
            s.tx_bytes,
            s.rx_bytes,
            s.requests,
            s.timeouts,
            s.faults,
            s.retransmits,
            s.resumed,
            s.retries,
            s.stale
        ),
    );
    Ok(())
}

/// The next sample through the model, without a witness: its output and class.
fn run_model(
    model: &Model,
    sensor: &mut Recorded<'_>,
    input: &mut [i8],
) -> Result<(Vec<i8>, u32), Exit> {
    sensor.read(input).map_err(|e| {
        defmt::error!("sensor: {}", e.kind());
        Exit::Sensor
    })?;
    let trace = infer(model, input).map_err(|e| {
        defmt::error!("inference: {}", defmt::Display2Format(&e));
        Exit::Setup
    })?;
    Ok((trace.output().to_vec(), trace.class() as u32))
}

/// One sample through the model: the witness, the output and the class; instruction marks
/// and counts around inference and witness building.
fn observe(
    model: &Model,
    layout: &Layout,
    sensor: &mut Recorded<'_>,
    input: &mut [i8],
    report: &mut Report,
) -> Result<(Witness, Vec<i8>, u32), Exit> {
    sensor.read(input).map_err(|e| {
        defmt::error!("sensor: {}", e.kind());
        Exit::Sensor
    })?;
    mark::mark();
    let t0 = clock::busy_nanos();
    let trace = infer(model, input).map_err(|e| {
        defmt::error!("inference: {}", defmt::Display2Format(&e));
        Exit::Setup
    })?;
    mark::mark();
    let t1 = clock::busy_nanos();
    let witness = layout.witness(model, &trace).map_err(|e| {
        defmt::error!("witness: {}", defmt::Display2Format(&e));
        Exit::Setup
    })?;
    mark::mark();
    let t2 = clock::busy_nanos();
    let class = trace.class() as u32;
    defmt::info!(
        "inference: class {}, logits {}; {} ns busy, witness {} ns busy",
        class,
        trace.output(),
        t1 - t0,
        t2 - t1
    );
    report.line("infer.busy_ns", format_args!("{}", t1 - t0));
    report.line("witness.busy_ns", format_args!("{}", t2 - t1));
    Ok((witness, trace.output().to_vec(), class))
}

#[cfg(feature = "device-proving")]
#[allow(clippy::too_many_arguments)]
fn device_proving(
    host: &mut Host,
    model: &Model,
    layout: &Layout,
    sensor: &mut Recorded<'_>,
    input: &mut [i8],
    report: &mut Report,
    samples: u32,
    entropy: &crate::rng::Entropy,
) -> Result<(), Exit> {
    use zkedge_kernel::prover::{Prepared, ProvingKey};

    heap::reset_peak();
    let t0 = clock::busy_nanos();
    mark::mark();
    let key = ProvingKey::from_bytes(&assets::ZPK).map_err(|e| {
        defmt::error!("the embedded proving key: {}", defmt::Display2Format(&e));
        Exit::Setup
    })?;
    let prepared = Prepared::new(key, &mut host.remote).map_err(|e| {
        defmt::error!("preparing the key: {}", defmt::Display2Format(&e));
        Exit::Prove
    })?;
    mark::mark();
    let t1 = clock::busy_nanos();
    defmt::info!(
        "proving key prepared: {} ns busy, heap peak {} B",
        t1 - t0,
        heap::usage().1
    );
    report.line("prepare.busy_ns", format_args!("{}", t1 - t0));
    let mut rng = entropy.rng();
    for i in 0..samples {
        let (witness, output, class) = observe(model, layout, sensor, input, report)?;
        prove_one(
            host, &prepared, &witness, &output, class, &mut rng, report, i,
        )?;
    }
    Ok(())
}

/// Proves one witness on the device and has the host verify it.
#[cfg(feature = "device-proving")]
#[allow(clippy::too_many_arguments)]
fn prove_one(
    host: &mut Host,
    prepared: &zkedge_kernel::prover::Prepared,
    witness: &Witness,
    output: &[i8],
    class: u32,
    rng: &mut rand_chacha::ChaCha20Rng,
    report: &mut Report,
    sample: u32,
) -> Result<(), Exit> {
    use zkedge_kernel::prover::{prove_clocked, ProveError, Srs};

    let (advice, instance) = witness.to_field();

    let before = host.remote.hooks_mut().client().stats();
    let t_start = clock::nanos();
    let proof = host.with("device proving", |h, s| {
        let srs = Srs {
            monomial: s.monomial,
            lagrange: s.lagrange,
        };
        let made = prove_clocked(
            prepared,
            &mut h.remote,
            &srs,
            advice.clone(),
            &instance,
            zkedge_kernel::prover::MultiOpen::Gwc,
            rng,
            Some(phase_clock),
        );
        made.map_err(|e| match e {
            ProveError::Backend(b) => OpError::Call(link_error(b)),
            other => {
                defmt::error!("the prover failed: {}", defmt::Display2Format(&other));
                OpError::Prove
            }
        })
    })?;
    let prove_ns = clock::nanos() - t_start;
    let after_prove = host.remote.hooks_mut().client().stats();
    let digest = session::digest(&proof.bytes);
    let proved = host.with("submitting the proof", |h, _| {
        session::submit_proof(
            h.remote.hooks_mut().client(),
            &proof.bytes,
            output,
            class,
            MultiOpen::Gwc,
        )
    })?;
    let (tx, rx) = traffic(before, after_prove);
    let (stx, srx) = traffic(after_prove, host.remote.hooks_mut().client().stats());
    let t = proof.times;
    let local_ntts = host.remote.local().counters().ntt_calls;
    defmt::info!(
        "device proof {}: {} B in {} ms; busy ns: commit {}, quotient {} (evaluation {}), open {}; MSM traffic {} B up, {} B down; NTTs here {}, on the host {}",
        sample,
        proof.bytes.len(),
        prove_ns / 1_000_000,
        t.commit,
        t.quotient,
        t.quotient_evaluation,
        t.open,
        tx,
        rx,
        local_ntts,
        host.remote.remote_ntts()
    );
    report.line(
        "device.phases_busy_ns",
        format_args!(
            "commit={} quotient={} evaluation={} open={}",
            t.commit, t.quotient, t.quotient_evaluation, t.open
        ),
    );
    report.line(
        "device.proof",
        format_args!(
            "sample={sample} class={class} len={} wall_ms={} tx={tx} rx={rx} submit_tx={stx} submit_rx={srx} local_ntts={local_ntts} host_ntts={} msms={}",
            proof.bytes.len(),
            prove_ns / 1_000_000,
            host.remote.remote_ntts(),
            host.remote.counters().msm_calls,
        ),
    );
    report.line(
        "device.digest",
        format_args!("local={} host={}", Hex(&digest), Hex(&proved.digest)),
    );
    if proved.digest != digest {
        defmt::error!("the host verified another proof than the one sent");
        return Err(Exit::DigestMismatch);
    }
    defmt::info!(
        "device-proving mode: host verified the proof in {} ms, digest {=[u8]:x}",
        proved.millis,
        proved.digest
    );
    Ok(())
}

/// The prover's phase clock: busy nanoseconds (instructions under `-icount shift=0`), with a
/// mark for the instruction-counting plugin.
#[cfg(feature = "device-proving")]
fn phase_clock() -> u64 {
    mark::mark();
    clock::busy_nanos()
}

/// A backend failure inside the prover, as the link error it came from.
#[cfg(feature = "device-proving")]
fn link_error(e: accel_backends::BackendError) -> CallError {
    use accel_backends::{BackendError, LinkError};
    match e {
        BackendError::Link(LinkError::Timeout) => CallError::Timeout,
        BackendError::Link(LinkError::Closed) => CallError::Line(zkedge_device::LineError::Closed),
        BackendError::Link(_) => CallError::Corrupt,
        BackendError::UnknownBases(h) => CallError::Refused(accel_proto::ErrorReply {
            code: accel_proto::ErrorCode::UnknownBases,
            detail: h.id(),
        }),
        other => {
            defmt::error!("backend: {}", other);
            CallError::BadRequest
        }
    }
}
