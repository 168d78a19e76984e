//! `zkedge serve`: the host driver for a device on a serial line.
//!
//! The device speaks the wire protocol (`docs/protocol.md`) as a client. The generic
//! [`Server`] answers its MSMs (and NTTs, where the policy sends them) from the host's backend
//! — the CPU, hw-sim or ICICLE, behind the [`Router`](crate::router::Router) — and the
//! [`DeviceService`] extension answers the proving-session messages:
//!
//! - `Session`: the device names its model by hash; the service answers with the handles of
//!   the SRS bases it loaded into the backend at start (the SRS never crosses the link) and
//!   its NTT policy;
//! - witness mode (`WitnessBegin/Chunk/End`): the device sends its public output and private
//!   witness; the service proves with the zkedge prover on the backend, verifies with
//!   halo2-axiom's verifier, and answers with the proof's digest;
//! - device-proving mode (`ProofBegin/Chunk/End`): the device sends a proof it made; the
//!   service verifies it with halo2-axiom's verifier and answers with its digest;
//! - `Fault`: the device refused one of our replies; it is logged and counted.
//!
//! Every size the device announces is checked against the keys before anything is allocated.

pub mod port;

use std::{
    fs,
    io::{self, Read, Write},
    path::PathBuf,
    time::Instant,
};

use accel_backends::{
    wire::{Extension, ServeConfig, Server, FRAME},
    Backend, BasesConfig, BasesHandle, G1Affine,
};
use accel_proto::{
    witness, ErrorCode, ErrorReply, FrameAccumulator, MultiOpen as WireMultiOpen, ReplyBody,
    RequestBody, SessionInfo,
};
use rand::rngs::OsRng;
use serde::Serialize;
use zkedge_kernel::{
    layout::ADVICE,
    prover::{self, Prepared, ProveError, Srs},
};

use crate::{
    files::{hash, hash_hex},
    keys::Keys,
    proof::{self, MultiOpen, ProofFile, PROOF_VERSION},
    zk,
};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The keys were loaded without the zkedge proving key.
    #[error("the keys lack the zkedge proving key (zkedge.zpk); re-run `zkedge setup`")]
    NoProvingKey,
    /// Loading the SRS or preparing the key failed.
    #[error("preparing the prover: {0}")]
    Prove(#[from] ProveError),
}

/// The largest proof a device may upload.
pub const MAX_PROOF_BYTES: u32 = 1 << 20;

/// How the service behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// NTTs of `2^ntt_min_log` points or more may be sent by the device
    /// ([`accel_proto::NTT_NEVER`]: none, the default — see `docs/firmware.md`).
    pub ntt_min_log: u8,
    /// Where to write each proof file (`<digest>.proof`), if anywhere.
    pub out_dir: Option<PathBuf>,
    /// Print one line per event on stderr.
    pub verbose: bool,
    /// How the SRS is held by the backend: precomputed multiples pay off over the many MSMs
    /// of a long-running service ([`BasesConfig::precompute`]).
    pub bases: BasesConfig,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            ntt_min_log: accel_proto::NTT_NEVER,
            out_dir: None,
            verbose: false,
            bases: BasesConfig::plain(),
        }
    }
}

/// How a proof reached the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The device sent its witness; the host proved.
    Witness,
    /// The device proved; the host verified.
    DeviceProving,
}

/// One proof the service accepted.
#[derive(Clone, Debug, Serialize)]
pub struct Served {
    /// How it was made.
    pub mode: Mode,
    /// BLAKE2b-256 of the proof bytes, hex.
    pub digest: String,
    /// Proof bytes.
    pub len: usize,
    /// The proven output and class.
    pub output: Vec<i8>,
    /// The proven class.
    pub class: u32,
    /// Milliseconds spent proving (witness mode) and verifying.
    pub millis: u64,
    /// The proof file written, if any.
    pub file: Option<PathBuf>,
}

/// One request the service refused.
#[derive(Clone, Debug, Serialize)]
pub struct Refused {
    /// The request's kind.
    pub request: &'static str,
    /// Why, as the wire's error code.
    pub code: String,
}

/// What the service did, for `--report`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Sessions opened.
    pub sessions: u64,
    /// Proofs accepted, in order.
    pub proofs: Vec<Served>,
    /// Requests refused.
    pub refused: Vec<Refused>,
    /// Replies the device refused (`Fault` frames).
    pub faults: u64,
    /// Bytes from the device: witness uploads.
    pub witness_bytes: u64,
    /// Bytes from the device: proof uploads.
    pub proof_bytes: u64,
}

enum Upload {
    None,
    Witness {
        columns: Vec<Vec<i64>>,
        rows: usize,
        output: Vec<i8>,
        class: u32,
    },
    Proof {
        bytes: Vec<u8>,
        len: usize,
        output: Vec<i8>,
        class: u32,
        multiopen: MultiOpen,
    },
}

/// The proving-session half of `zkedge serve`, as an [`Extension`] of the wire server.
pub struct DeviceService {
    keys: Keys,
    prepared: Prepared,
    monomial: Vec<G1Affine>,
    lagrange: Vec<G1Affine>,
    srs: Srs,
    config: ServiceConfig,
    session: bool,
    upload: Upload,
    report: Report,
}

type Answer = Option<Result<ReplyBody<'static>, ErrorReply>>;

fn refuse(code: ErrorCode, detail: usize) -> ErrorReply {
    ErrorReply {
        code,
        detail: u32::try_from(detail).unwrap_or(u32::MAX),
    }
}

fn millis(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl DeviceService {
    /// Loads the keys' SRS into `backend` and prepares the proving key with it.
    pub fn new<B: Backend + ?Sized>(
        keys: Keys,
        backend: &mut B,
        config: ServiceConfig,
    ) -> Result<Self, ServeError> {
        let key = keys.zk.clone().ok_or(ServeError::NoProvingKey)?;
        let n = key.n();
        let (mut monomial, mut lagrange) = zk::bases(&keys.srs);
        if monomial.len() < n || lagrange.len() < n {
            return Err(ProveError::SrsTooShort {
                have: monomial.len().min(lagrange.len()),
                need: n,
            }
            .into());
        }
        monomial.truncate(n);
        lagrange.truncate(n);
        let srs = Srs {
            monomial: backend
                .load_bases_with(&monomial, config.bases)
                .map_err(ProveError::from)?,
            lagrange: backend
                .load_bases_with(&lagrange, config.bases)
                .map_err(ProveError::from)?,
        };
        let prepared = Prepared::new(key, backend)?;
        Ok(Self {
            keys,
            prepared,
            monomial,
            lagrange,
            srs,
            config,
            session: false,
            upload: Upload::None,
            report: Report::default(),
        })
    }

    /// What the service has done.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The keys served.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.config.verbose {
            eprintln!("zkedge serve: {line}");
        }
    }

    fn refused(&mut self, request: &'static str, e: ErrorReply) -> ErrorReply {
        self.log(format_args!("refused {request}: {}", e.code));
        self.report.refused.push(Refused {
            request,
            code: format!("{:?}", e.code),
        });
        e
    }

    /// Re-loads the SRS if the device released it.
    fn ensure_bases<B: Backend + ?Sized>(&mut self, backend: &mut B) -> Result<(), ErrorReply> {
        let n = self.prepared.key().n();
        let device = |_| refuse(ErrorCode::Device, 0);
        if backend.bases_len(self.srs.monomial) != Some(n) {
            self.srs.monomial = backend
                .load_bases_with(&self.monomial, self.config.bases)
                .map_err(device)?;
        }
        if backend.bases_len(self.srs.lagrange) != Some(n) {
            self.srs.lagrange = backend
                .load_bases_with(&self.lagrange, self.config.bases)
                .map_err(device)?;
        }
        Ok(())
    }

    fn session<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        model: &[u8; 32],
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if *model != self.keys.model_hash {
            return Err(refuse(ErrorCode::UnknownModel, 0));
        }
        self.ensure_bases(backend)?;
        self.session = true;
        self.upload = Upload::None;
        self.report.sessions += 1;
        let raw = |h: BasesHandle| h.id();
        let info = SessionInfo {
            k: u8::try_from(self.prepared.key().k).unwrap_or(u8::MAX),
            monomial: raw(self.srs.monomial),
            lagrange: raw(self.srs.lagrange),
            ntt_min_log: self.config.ntt_min_log,
        };
        self.log(format_args!(
            "session open for {} (k = {}); NTTs from 2^{} on the host",
            self.keys.manifest.model, info.k, info.ntt_min_log
        ));
        Ok(ReplyBody::Session(info))
    }

    fn check_output(&self, output: &[u8], class: u32) -> Result<Vec<i8>, ErrorReply> {
        let want = self.keys.model.output_len();
        if output.len() != want {
            return Err(refuse(ErrorCode::BadLength, want));
        }
        if class as usize >= want {
            return Err(refuse(ErrorCode::Unsatisfied, 0));
        }
        Ok(output.iter().map(|&b| b as i8).collect())
    }

    fn witness_begin(
        &mut self,
        columns: u16,
        rows: u32,
        output: &[u8],
        class: u32,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if !self.session {
            return Err(refuse(ErrorCode::NoSession, 0));
        }
        if usize::from(columns) != ADVICE.len() {
            return Err(refuse(ErrorCode::BadLength, ADVICE.len()));
        }
        let want = self.keys.layout.rows();
        if rows as usize != want {
            return Err(refuse(ErrorCode::BadLength, want));
        }
        let output = self.check_output(output, class)?;
        // Sizes checked against the keys: the allocation is the circuit's, not the peer's.
        self.upload = Upload::Witness {
            columns: (0..ADVICE.len())
                .map(|_| Vec::with_capacity(want))
                .collect(),
            rows: want,
            output,
            class,
        };
        Ok(ReplyBody::Ok)
    }

    fn witness_chunk(
        &mut self,
        column: u16,
        offset: u32,
        values: &[u8],
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        let Upload::Witness { columns, rows, .. } = &mut self.upload else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        let rows = *rows;
        // Columns arrive in order: the chunk must extend the first incomplete one.
        let current = columns.iter().position(|c| c.len() < rows);
        let column = usize::from(column);
        if current != Some(column) {
            return Err(refuse(ErrorCode::OutOfSequence, current.unwrap_or(0)));
        }
        let col = &mut columns[column];
        if offset as usize != col.len() {
            return Err(refuse(ErrorCode::BadOffset, col.len()));
        }
        let mut overflow = false;
        witness::decode(values, |v| {
            if col.len() < rows {
                col.push(v);
            } else {
                overflow = true;
            }
        })
        .map_err(|_| refuse(ErrorCode::Malformed, 0))?;
        if overflow {
            return Err(refuse(ErrorCode::BadLength, rows));
        }
        self.report.witness_bytes += values.len() as u64;
        Ok(ReplyBody::Ok)
    }

    fn witness_end<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        multiopen: WireMultiOpen,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        let Upload::Witness {
            columns,
            rows,
            output,
            class,
        } = std::mem::replace(&mut self.upload, Upload::None)
        else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        let filled: usize = columns.iter().map(Vec::len).sum();
        if filled != rows * columns.len() {
            return Err(refuse(ErrorCode::Incomplete, filled));
        }
        let multiopen = host_multiopen(multiopen);
        let start = Instant::now();
        let (advice, instance) = zkedge_kernel::layout::Witness {
            advice: columns,
            instance: zkedge_kernel::layout::instance(&output, class as usize),
        }
        .to_field();
        let made = prover::prove(
            &self.prepared,
            backend,
            &self.srs,
            advice,
            &instance,
            multiopen.into(),
            &mut OsRng,
        );
        let proof = match made {
            Ok(p) => p.bytes,
            Err(ProveError::Backend(e)) => {
                self.log(format_args!("proving failed on the backend: {e}"));
                return Err(refuse(ErrorCode::Device, 0));
            }
            Err(e) => {
                self.log(format_args!("the device's witness does not prove: {e}"));
                return Err(refuse(ErrorCode::Unsatisfied, 0));
            }
        };
        self.accept(Mode::Witness, proof, output, class, multiopen, start)
            .map_err(|_| refuse(ErrorCode::Unsatisfied, 0))
    }

    fn proof_begin(
        &mut self,
        len: u32,
        output: &[u8],
        class: u32,
        multiopen: WireMultiOpen,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if !self.session {
            return Err(refuse(ErrorCode::NoSession, 0));
        }
        if len == 0 || len > MAX_PROOF_BYTES {
            return Err(refuse(ErrorCode::SizeUnsupported, MAX_PROOF_BYTES as usize));
        }
        let output = self.check_output(output, class)?;
        self.upload = Upload::Proof {
            bytes: Vec::with_capacity(len as usize),
            len: len as usize,
            output,
            class,
            multiopen: host_multiopen(multiopen),
        };
        Ok(ReplyBody::Ok)
    }

    fn proof_chunk(&mut self, offset: u32, chunk: &[u8]) -> Result<ReplyBody<'static>, ErrorReply> {
        let Upload::Proof { bytes, len, .. } = &mut self.upload else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        if offset as usize != bytes.len() {
            return Err(refuse(ErrorCode::BadOffset, bytes.len()));
        }
        if bytes.len() + chunk.len() > *len {
            return Err(refuse(ErrorCode::BadLength, *len));
        }
        bytes.extend_from_slice(chunk);
        self.report.proof_bytes += chunk.len() as u64;
        Ok(ReplyBody::Ok)
    }

    fn proof_end(&mut self) -> Result<ReplyBody<'static>, ErrorReply> {
        let Upload::Proof {
            bytes,
            len,
            output,
            class,
            multiopen,
        } = std::mem::replace(&mut self.upload, Upload::None)
        else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        if bytes.len() != len {
            return Err(refuse(ErrorCode::Incomplete, bytes.len()));
        }
        self.accept(
            Mode::DeviceProving,
            bytes,
            output,
            class,
            multiopen,
            Instant::now(),
        )
        .map_err(|_| refuse(ErrorCode::InvalidProof, 0))
    }

    /// Verifies a proof with halo2-axiom's verifier; keeps and reports it if it holds.
    fn accept(
        &mut self,
        mode: Mode,
        proof: Vec<u8>,
        output: Vec<i8>,
        class: u32,
        multiopen: MultiOpen,
        start: Instant,
    ) -> Result<ReplyBody<'static>, proof::ProofError> {
        let file = ProofFile {
            version: PROOF_VERSION,
            model_hash: self.keys.model_hash,
            vk_hash: self.keys.vk_hash,
            multiopen,
            output: output.clone(),
            class,
            proof,
        };
        if let Err(e) = proof::verify(&self.keys, &file) {
            self.log(format_args!("{mode:?} proof rejected: {e}"));
            return Err(e);
        }
        let digest = hash(&file.proof);
        let hex = hash_hex(&file.proof);
        let path = self.config.out_dir.as_ref().and_then(|dir| {
            let path = dir.join(format!("{hex}.proof"));
            let written = fs::create_dir_all(dir).and_then(|()| fs::write(&path, file.to_bytes()));
            match written {
                Ok(()) => Some(path),
                Err(e) => {
                    self.log(format_args!("cannot write {}: {e}", path.display()));
                    None
                }
            }
        });
        let ms = millis(start);
        self.log(format_args!(
            "{} proof verified: class {class}, logits {output:?}, {} bytes, digest {hex}, {ms} ms",
            match mode {
                Mode::Witness => "witness-mode",
                Mode::DeviceProving => "device-made",
            },
            file.proof.len()
        ));
        let len = file.proof.len();
        self.report.proofs.push(Served {
            mode,
            digest: hex,
            len,
            output,
            class,
            millis: ms,
            file: path,
        });
        Ok(ReplyBody::Proved {
            digest,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            millis: u32::try_from(ms).unwrap_or(u32::MAX),
        })
    }
}

fn host_multiopen(m: WireMultiOpen) -> MultiOpen {
    match m {
        WireMultiOpen::Gwc => MultiOpen::Gwc,
        WireMultiOpen::Shplonk => MultiOpen::Shplonk,
    }
}

impl<B: Backend> Extension<B> for DeviceService {
    fn answer(&mut self, backend: &mut B, body: &RequestBody<'_>) -> Answer {
        let (request, result) = match *body {
            RequestBody::Hello { .. } => {
                // A device that says hello starts its jobs over; the session survives.
                self.upload = Upload::None;
                return None;
            }
            RequestBody::Session { ref model } => ("Session", self.session(backend, model)),
            RequestBody::WitnessBegin {
                columns,
                rows,
                output,
                class,
            } => (
                "WitnessBegin",
                self.witness_begin(columns, rows, output, class),
            ),
            RequestBody::WitnessChunk {
                column,
                offset,
                values,
            } => ("WitnessChunk", self.witness_chunk(column, offset, values)),
            RequestBody::WitnessEnd { multiopen } => {
                ("WitnessEnd", self.witness_end(backend, multiopen))
            }
            RequestBody::ProofBegin {
                len,
                output,
                class,
                multiopen,
            } => (
                "ProofBegin",
                self.proof_begin(len, output, class, multiopen),
            ),
            RequestBody::ProofChunk { offset, bytes } => {
                ("ProofChunk", self.proof_chunk(offset, bytes))
            }
            RequestBody::ProofEnd => ("ProofEnd", self.proof_end()),
            RequestBody::Fault {
                about,
                code,
                detail,
            } => {
                self.report.faults += 1;
                self.log(format_args!(
                    "the device refused our reply to request {about}: {code} ({detail})"
                ));
                self.upload = Upload::None;
                return Some(Ok(ReplyBody::Ok));
            }
            _ => return None,
        };
        Some(result.map_err(|e| {
            // A refused step abandons its upload: the device starts over from its Begin.
            self.upload = Upload::None;
            self.refused(request, e)
        }))
    }
}

/// Serves `link` with `server` until the device closes it (end of file, or `EIO` from a
/// pseudo-terminal whose other side went away). Read timeouts are waited through.
pub fn serve_link<B: Backend, L: Read + Write>(
    server: &mut Server<B, DeviceService>,
    link: &mut L,
) -> io::Result<()> {
    let mut acc = FrameAccumulator::<FRAME>::new();
    let mut buf = vec![0u8; FRAME];
    loop {
        let n = match link.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            Err(e) if port::is_hangup(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        server.on_bytes(&mut acc, &buf[..n], |frame| write_fully(link, frame))?;
    }
}

/// Writes all of `frame`, waiting through write timeouts (a device reads slowly: QEMU's UART
/// takes one byte at a time) for up to a minute.
fn write_fully<L: Write>(link: &mut L, mut frame: &[u8]) -> io::Result<()> {
    let start = Instant::now();
    while !frame.is_empty() {
        match link.write(frame) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => frame = &frame[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                ) && start.elapsed().as_secs() < 60 => {}
            Err(e) => return Err(e),
        }
    }
    link.flush()
}

/// The server `zkedge serve` runs: the wire server over `backend` with a [`DeviceService`].
pub fn server<B: Backend>(
    keys: Keys,
    mut backend: B,
    config: ServiceConfig,
) -> Result<Server<B, DeviceService>, ServeError> {
    let service = DeviceService::new(keys, &mut backend, config)?;
    Ok(Server::new(backend, ServeConfig::default()).with_extension(service))
}
