//! `zkedge serve`: the host driver for a device on a serial line.
//!
//! The device speaks the wire protocol (`docs/protocol.md`) as a client. The generic
//! [`Server`] answers its MSMs (and NTTs, where the policy sends them) from the host's backend
//! — the CPU, hw-sim or ICICLE, behind the [`crate::router::Router`] — and the
//! [`DeviceService`] extension answers the proving-session messages:
//!
//! - `Session`: the device names its model by hash; the service answers with the handles of
//!   the SRS bases it loaded into the backend at start (the SRS never crosses the link) and
//!   its NTT policy;
//! - witness mode (`WitnessBegin/Chunk/End`): the device sends its public output and private
//!   witness; the service proves with the zkedge prover on the backend, verifies with
//!   halo2-axiom's verifier, and answers with the proof's digest;
//! - input mode (`InputBegin/Chunk/End`): the device sends its input and the output it
//!   computed; the service runs the model itself, refuses an output that differs, then proves
//!   and verifies as in witness mode (the link carries the input, not the witness); with a
//!   [`Gateway`] (`zkedge serve --nats`) the input becomes a cluster job instead, proven by a
//!   `zkedge worker`, and the service verifies the stored proof before answering;
//! - device-proving mode (`ProofBegin/Chunk/End`): the device sends a proof it made; the
//!   service verifies it with halo2-axiom's verifier and answers with its digest;
//! - `Fault`: the device refused one of our replies; it is logged and counted.
//!
//! Every size the device announces is checked against the keys before anything is allocated.

pub mod gateway;
pub mod port;

use std::{
    collections::VecDeque,
    fs, io,
    path::PathBuf,
    time::{Duration, Instant},
};

use accel_backends::{
    wire::{Extension, ServeConfig, Server, Upload, FRAME},
    Backend, BasesConfig, BasesHandle, Checked,
};
use accel_proto::{
    witness, ErrorCode, ErrorReply, FrameAccumulator, ReplyBody, RequestBody, RequestId,
    SessionInfo,
};
use halo2_proofs::halo2curves::bn256::Fr;
use rand::rngs::OsRng;
use serde::Serialize;
use zkedge_kernel::{
    layout::Visibility,
    prover::{self, ProveError},
};

pub use gateway::{Gateway, Outcome};

use crate::{
    cluster::{Job, JobId},
    files::{hash, hash_hex},
    keys::Keys,
    proof::{self, MultiOpen, ProofFile},
    router::Router,
    zk_prover,
};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The keys were loaded without the zkedge proving key.
    #[error("the keys lack the zkedge proving key (zkedge.zpk); re-run `zkedge setup`")]
    NoProvingKey,
    /// The keys hash the input and the service was asked to send inputs to the cluster, whose
    /// jobs carry no salt.
    #[error(
        "these keys hash the input, and cluster jobs carry no salt: serve hashed-input keys \
         without --nats, or the cluster with private- or public-input keys"
    )]
    HashedInput,
    /// Loading the SRS or preparing the key failed.
    #[error("preparing the prover: {0}")]
    Prove(#[from] zk_prover::SetupError),
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
    /// The device sent its input and output; the host ran the model and proved.
    Input,
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
    /// The cluster job that proved it (`serve --nats`), and the worker.
    pub job: Option<(String, String)>,
    /// The input's commitment the proof carries (hashed-input keys), hex as `zkedge verify
    /// --commitment` takes it: what the device may have signed.
    pub commitment: Option<String>,
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
    /// Bytes from the device: input uploads (input mode).
    pub input_bytes: u64,
    /// The accelerator whose proof failed verification, suspect for the rest of the run.
    pub suspect: Option<String>,
    /// Sessions dropped because the device stopped reading its replies.
    pub dropped_sessions: u64,
}

/// A device's upload in progress. Witness values are numbered across columns (column `c`,
/// row `r` is value `c·rows + r`), so one [`Upload`] holds them and a `BadOffset` names where
/// the whole upload stands.
enum Uploading {
    None,
    Witness {
        values: Upload<i64>,
        rows: usize,
        output: Vec<i8>,
        class: u32,
    },
    Proof {
        bytes: Upload<u8>,
        output: Vec<i8>,
        class: u32,
        multiopen: MultiOpen,
    },
    Input {
        bytes: Upload<u8>,
        output: Vec<i8>,
        class: u32,
        salted: Option<Salted>,
    },
}

/// The salt a device sent with a hashed input, and the commitment it claims.
#[derive(Clone, Copy)]
struct Salted {
    salt: Fr,
    commitment: [u8; 32],
}

/// The proving-session half of `zkedge serve`, as an [`Extension`] of the wire server.
pub struct DeviceService {
    keys: Keys,
    prover: zk_prover::Prover,
    config: ServiceConfig,
    session: bool,
    upload: Uploading,
    /// The answer to the last finished upload, given again to a repeated `*End` (its reply
    /// was lost and the device retransmitted it).
    finished: Option<ReplyBody<'static>>,
    report: Report,
    gateway: Option<Gateway>,
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
        let prover = zk_prover::Prover::new(key, &keys.srs, backend, config.bases)?;
        Ok(Self {
            keys,
            prover,
            config,
            session: false,
            upload: Uploading::None,
            finished: None,
            report: Report::default(),
            gateway: None,
        })
    }

    /// Sends input-mode uploads to the cluster behind `gateway` instead of proving them here.
    /// Hashed-input keys cannot be served so: a job names its input, not a salt.
    pub fn set_gateway(&mut self, gateway: Gateway) -> Result<(), ServeError> {
        if self.keys.layout.input_visibility() == Visibility::Hashed {
            return Err(ServeError::HashedInput);
        }
        self.gateway = Some(gateway);
        Ok(())
    }

    /// What the service has done.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Drops the session of a device that stopped reading its replies (`pending` bytes of
    /// them waited for `for_`): it must say hello and open a new one. Says so once per session.
    pub fn drop_session(&mut self, pending: usize, for_: Duration) {
        let had = self.session || !matches!(self.upload, Uploading::None);
        self.session = false;
        self.upload = Uploading::None;
        self.finished = None;
        if !had {
            return;
        }
        self.report.dropped_sessions += 1;
        eprintln!(
            "zkedge serve: the device stopped reading its replies ({pending} bytes waiting, none \
             taken for {:.1} s): its session is dropped and the replies discarded; serving on \
             (the device must open a new session)",
            for_.as_secs_f64()
        );
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

    fn session<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        model: &[u8; 32],
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if *model != self.keys.model_id {
            return Err(refuse(ErrorCode::UnknownModel, 0));
        }
        if let Err(e) = self.prover.ensure_loaded(backend, &self.keys.srs) {
            self.log(format_args!(
                "cannot load the SRS into the backend again: {e}"
            ));
            return Err(refuse(ErrorCode::Device, 0));
        }
        self.session = true;
        self.upload = Uploading::None;
        self.finished = None;
        self.report.sessions += 1;
        let raw = |h: BasesHandle| h.id();
        let srs = self.prover.srs();
        let info = SessionInfo {
            k: u8::try_from(self.prover.prepared().key().k).unwrap_or(u8::MAX),
            monomial: raw(srs.monomial),
            lagrange: raw(srs.lagrange),
            ntt_min_log: self.config.ntt_min_log,
        };
        let ntts = if info.ntt_min_log == accel_proto::NTT_NEVER {
            "NTTs stay on the device".to_string()
        } else {
            format!("NTTs from 2^{} on the host", info.ntt_min_log)
        };
        self.log(format_args!(
            "session open for {} (k = {}); {ntts}",
            self.keys.manifest.model, info.k
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
        self.private_only()?;
        if usize::from(columns) != self.keys.layout.advice_columns().count() {
            return Err(refuse(
                ErrorCode::BadLength,
                self.keys.layout.advice_columns().count(),
            ));
        }
        let want = self.keys.layout.rows();
        if rows as usize != want {
            return Err(refuse(ErrorCode::BadLength, want));
        }
        let output = self.check_output(output, class)?;
        // Sizes checked against the keys: the allocation is the circuit's, not the peer's.
        self.upload = Uploading::Witness {
            values: Upload::new(self.keys.layout.advice_columns().count() * want)?,
            rows: want,
            output,
            class,
        };
        self.finished = None;
        Ok(ReplyBody::Ok)
    }

    fn witness_chunk(
        &mut self,
        column: u16,
        offset: u32,
        chunk: &[u8],
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        let Uploading::Witness { values, rows, .. } = &mut self.upload else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        let rows = *rows;
        // Columns arrive in order, each from row 0: the chunk must start where the upload
        // stands.
        let at = usize::from(column)
            .checked_mul(rows)
            .and_then(|a| a.checked_add(offset as usize))
            .filter(|_| (offset as usize) < rows.max(1))
            .ok_or(refuse(ErrorCode::BadOffset, values.received()))?;
        values.expect(u32::try_from(at).unwrap_or(u32::MAX))?;
        // A chunk stays within its column.
        let room = rows - (at % rows.max(1));
        let mut taken = 0;
        let mut overflow = false;
        witness::decode(chunk, |v| {
            if taken < room && values.push(v).is_ok() {
                taken += 1;
            } else {
                overflow = true;
            }
        })
        .map_err(|_| refuse(ErrorCode::Malformed, 0))?;
        if overflow {
            return Err(refuse(ErrorCode::BadLength, rows));
        }
        self.report.witness_bytes += chunk.len() as u64;
        Ok(ReplyBody::Ok)
    }

    fn witness_end(
        &mut self,
        router: &mut Checked<Router>,
        multiopen: MultiOpen,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if let (Uploading::None, Some(done)) = (&self.upload, self.finished) {
            return Ok(done);
        }
        let Uploading::Witness {
            values,
            rows,
            output,
            class,
        } = std::mem::replace(&mut self.upload, Uploading::None)
        else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        let values = values.finish()?;
        let columns: Vec<Vec<i64>> = values.chunks(rows.max(1)).map(<[i64]>::to_vec).collect();
        let start = Instant::now();
        let witness = zkedge_kernel::layout::Witness {
            advice: columns,
            instance: zkedge_kernel::layout::instance(&output, class as usize),
            // A device sends integer columns only: served keys keep their input private.
            wide: Vec::new(),
            commitment: None,
            weights_hash: None,
        };
        let done = self.prove_and_keep(
            router,
            &witness,
            &output,
            class,
            multiopen,
            (Mode::Witness, &proof::Revealed::Nothing),
            start,
        )?;
        self.finished = Some(done);
        Ok(done)
    }

    /// Proves `witness`, verifies with halo2-axiom and keeps the proof. A proof made with the
    /// accelerator's help that does not verify makes it suspect and is made again on the CPU;
    /// one the CPU made that does not verify means the witness is wrong (`Unsatisfied`).
    #[allow(clippy::too_many_arguments)]
    fn prove_and_keep(
        &mut self,
        router: &mut Checked<Router>,
        witness: &zkedge_kernel::layout::Witness,
        output: &[i8],
        class: u32,
        multiopen: MultiOpen,
        (mode, revealed): (Mode, &proof::Revealed),
        start: Instant,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        let accel_before = router.stats().accel_jobs;
        let proof = self.prove(router, witness, multiopen)?;
        let accelerated = router.stats().accel_jobs > accel_before;
        let file = self.file(proof, output, class, multiopen, revealed);
        let verified = proof::verify(&self.keys, &file);
        Ok(match verified {
            Ok(()) => self.keep(mode, file, start, None),
            // Made with the accelerator's help and rejected: the accelerator or the witness
            // is wrong. The CPU alone tells which.
            Err(e) if accelerated => {
                let name = router.accelerator().name().to_string();
                router.hooks_mut().mark_suspect();
                self.report.suspect = Some(name.clone());
                self.log(format_args!(
                    "the proof made with {name} does not verify ({e}); {name} is suspect for \
                     the rest of this run: proving again on the CPU"
                ));
                let proof = self.prove(router, witness, multiopen)?;
                let file = self.file(proof, output, class, multiopen, revealed);
                self.accept(mode, file, start)
                    .map_err(|_| refuse(ErrorCode::Unsatisfied, 0))?
            }
            Err(e) => {
                self.log(format_args!("the device's witness does not prove: {e}"));
                return Err(refuse(ErrorCode::Unsatisfied, 0));
            }
        })
    }

    fn input_begin(
        &mut self,
        len: u32,
        output: &[u8],
        class: u32,
        salted: Option<([u8; 32], [u8; 32])>,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if !self.session {
            return Err(refuse(ErrorCode::NoSession, 0));
        }
        // Hashed-input keys take salted inputs only, and only they do: a commitment is
        // claimed and proven, or neither.
        let hashed = self.keys.layout.input_visibility() == Visibility::Hashed;
        if hashed != salted.is_some() {
            self.log(format_args!(
                "input mode: {}",
                if hashed {
                    "these keys hash the input, and the device sent no salt (InputBegin instead \
                     of InputBeginHashed)"
                } else {
                    "the device sent a salt, and these keys do not hash the input"
                }
            ));
            return Err(refuse(ErrorCode::Forbidden, 0));
        }
        let salted = match salted {
            Some((salt, commitment)) => Some(Salted {
                salt: proof::salt_from_bytes(salt)
                    .map_err(|_| refuse(ErrorCode::NonCanonical, 0))?,
                commitment,
            }),
            None => None,
        };
        let want = self.keys.model.input_len();
        if len as usize != want {
            return Err(refuse(ErrorCode::BadLength, want));
        }
        let output = self.check_output(output, class)?;
        // The length is the model's, checked above: the allocation is not the peer's choice.
        self.upload = Uploading::Input {
            bytes: Upload::new(want)?,
            output,
            class,
            salted,
        };
        self.finished = None;
        Ok(ReplyBody::Ok)
    }

    fn input_chunk(&mut self, offset: u32, chunk: &[u8]) -> Result<ReplyBody<'static>, ErrorReply> {
        let Uploading::Input { bytes, .. } = &mut self.upload else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        accept_bytes(bytes, offset, chunk)?;
        self.report.input_bytes += chunk.len() as u64;
        Ok(ReplyBody::Ok)
    }

    /// Runs the model on the device's input, holds the device to the output it claimed, and
    /// proves what the model computed.
    fn input_end(
        &mut self,
        router: &mut Checked<Router>,
        multiopen: MultiOpen,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if let (Uploading::None, Some(done)) = (&self.upload, self.finished) {
            return Ok(done);
        }
        let Uploading::Input {
            bytes,
            output,
            class,
            salted,
        } = std::mem::replace(&mut self.upload, Uploading::None)
        else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        let input: Vec<i8> = bytes.finish()?.into_iter().map(|b| b as i8).collect();
        let start = Instant::now();
        let trace = match zkedge_kernel::infer::infer(&self.keys.model, &input) {
            Ok(t) => t,
            Err(e) => {
                self.log(format_args!("the device's input does not run: {e}"));
                return Err(refuse(ErrorCode::Unsatisfied, 0));
            }
        };
        if trace.output() != output.as_slice() || trace.class() as u32 != class {
            self.log(format_args!(
                "input mode: the device claimed class {class}, logits {output:?}; the model \
                 gives class {}, logits {:?} on its input: refused",
                trace.class(),
                trace.output()
            ));
            return Err(refuse(ErrorCode::Unsatisfied, 0));
        }
        if let Some(gateway) = &self.gateway {
            let job = Job::new(self.keys.model_id, input, multiopen);
            let outcome = gateway.prove(&job);
            let done = self.answer_from_cluster(outcome, &output, class, start)?;
            self.finished = Some(done);
            return Ok(done);
        }
        // Public-input keys put the input in the instance and the proof file; hashed ones its
        // commitment under the device's salt, which must be the one the device claimed.
        let salt = salted.map(|s| s.salt);
        let (witness, revealed, _) = match proof::witness(&self.keys, &trace, salt, &mut OsRng) {
            Ok(w) => w,
            Err(e) => {
                self.log(format_args!("no witness for the device's input: {e}"));
                return Err(refuse(ErrorCode::Unsatisfied, 0));
            }
        };
        if let (Some(s), proof::Revealed::Commitment(c)) = (salted, &revealed) {
            if s.commitment != *c {
                self.log(format_args!(
                    "input mode: the device claimed commitment {}; its input and salt give {}: \
                     refused",
                    crate::srs::hex(&s.commitment),
                    crate::srs::hex(c)
                ));
                return Err(refuse(ErrorCode::Unsatisfied, 0));
            }
        }
        let done = self.prove_and_keep(
            router,
            &witness,
            &output,
            class,
            multiopen,
            (Mode::Input, &revealed),
            start,
        )?;
        self.finished = Some(done);
        Ok(done)
    }

    /// Answers the device from how its cluster job ended: a stored proof is read back,
    /// verified with halo2-axiom against the served keys and held to the device's claim.
    fn answer_from_cluster(
        &mut self,
        outcome: Result<Outcome, crate::cluster::ClusterError>,
        output: &[i8],
        class: u32,
        start: Instant,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        let (id, bytes, worker) = match outcome {
            Ok(Outcome::Proved { id, file, worker }) => (id, file, worker),
            Ok(Outcome::Dead { id, reason }) => {
                self.log(format_args!(
                    "job {id} was given up by the workers: {reason}"
                ));
                return Err(refuse(ErrorCode::Unsatisfied, 0));
            }
            Ok(Outcome::Waiting(id)) => {
                let waited = self.gateway.as_ref().map(Gateway::wait).unwrap_or_default();
                self.log(format_args!(
                    "job {id} is not done after {} s (is a `zkedge worker` holding these keys \
                     running?); it stays queued, and the device's next try waits on it again",
                    waited.as_secs()
                ));
                return Err(refuse(ErrorCode::Device, 0));
            }
            Err(e) => {
                self.log(format_args!("the cluster failed: {e}"));
                return Err(refuse(ErrorCode::Device, 0));
            }
        };
        let file = match ProofFile::from_bytes(&bytes) {
            Ok(f) => f,
            Err(e) => {
                self.log(format_args!(
                    "job {id}: the stored proof does not parse: {e}"
                ));
                return Err(refuse(ErrorCode::InvalidProof, 0));
            }
        };
        if file.output != output || file.class != class {
            self.log(format_args!(
                "job {id}: the stored proof is of class {}, logits {:?}; the device claimed \
                 class {class}, logits {output:?}",
                file.class, file.output
            ));
            return Err(refuse(ErrorCode::Unsatisfied, 0));
        }
        if let Err(e) = proof::verify(&self.keys, &file) {
            self.log(format_args!(
                "job {id}: the proof worker {worker} stored does not verify with the keys \
                 served here ({e}): give the gateway and the workers the same keys"
            ));
            return Err(refuse(ErrorCode::InvalidProof, 0));
        }
        Ok(self.keep(Mode::Input, file, start, Some((id, worker))))
    }

    /// The zkedge prover on `router` over the session's SRS.
    fn prove(
        &mut self,
        router: &mut Checked<Router>,
        witness: &zkedge_kernel::layout::Witness,
        multiopen: MultiOpen,
    ) -> Result<Vec<u8>, ErrorReply> {
        let (advice, instance) = witness.to_field();
        let made = self.prover.prove(
            router,
            advice,
            &instance,
            prover::Options::new(multiopen),
            &mut OsRng,
        );
        match made {
            Ok(p) => Ok(p.bytes),
            Err(ProveError::Backend(e)) => {
                self.log(format_args!("proving failed on the backend: {e}"));
                Err(refuse(ErrorCode::Device, 0))
            }
            Err(e) => {
                self.log(format_args!("the device's witness does not prove: {e}"));
                Err(refuse(ErrorCode::Unsatisfied, 0))
            }
        }
    }

    fn file(
        &self,
        proof: Vec<u8>,
        output: &[i8],
        class: u32,
        multiopen: MultiOpen,
        revealed: &proof::Revealed,
    ) -> ProofFile {
        ProofFile::new(
            &self.keys,
            multiopen,
            output.to_vec(),
            class,
            revealed.clone(),
            proof,
        )
    }

    /// Witness mode and device-made proofs carry no input and no weights' hash: only keys that
    /// keep the input private and the weights fixed serve them (input mode serves the others).
    fn private_only(&self) -> Result<(), ErrorReply> {
        if self.keys.layout.input_visibility() == Visibility::Private
            && self.keys.layout.weights() == zkedge_kernel::layout::Weights::Fixed
        {
            Ok(())
        } else {
            Err(refuse(ErrorCode::Forbidden, 0))
        }
    }

    fn proof_begin(
        &mut self,
        len: u32,
        output: &[u8],
        class: u32,
        multiopen: MultiOpen,
    ) -> Result<ReplyBody<'static>, ErrorReply> {
        if !self.session {
            return Err(refuse(ErrorCode::NoSession, 0));
        }
        self.private_only()?;
        if len == 0 || len > MAX_PROOF_BYTES {
            return Err(refuse(ErrorCode::SizeUnsupported, MAX_PROOF_BYTES as usize));
        }
        let output = self.check_output(output, class)?;
        self.upload = Uploading::Proof {
            bytes: Upload::new(len as usize)?,
            output,
            class,
            multiopen,
        };
        self.finished = None;
        Ok(ReplyBody::Ok)
    }

    fn proof_chunk(&mut self, offset: u32, chunk: &[u8]) -> Result<ReplyBody<'static>, ErrorReply> {
        let Uploading::Proof { bytes, .. } = &mut self.upload else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        accept_bytes(bytes, offset, chunk)?;
        self.report.proof_bytes += chunk.len() as u64;
        Ok(ReplyBody::Ok)
    }

    fn proof_end(&mut self) -> Result<ReplyBody<'static>, ErrorReply> {
        if let (Uploading::None, Some(done)) = (&self.upload, self.finished) {
            return Ok(done);
        }
        let Uploading::Proof {
            bytes,
            output,
            class,
            multiopen,
        } = std::mem::replace(&mut self.upload, Uploading::None)
        else {
            return Err(refuse(ErrorCode::OutOfSequence, 0));
        };
        let bytes = bytes.finish()?;
        let file = self.file(bytes, &output, class, multiopen, &proof::Revealed::Nothing);
        let done = self
            .accept(Mode::DeviceProving, file, Instant::now())
            .map_err(|_| refuse(ErrorCode::InvalidProof, 0))?;
        self.finished = Some(done);
        Ok(done)
    }

    /// Verifies a proof with halo2-axiom's verifier; keeps and reports it if it holds.
    fn accept(
        &mut self,
        mode: Mode,
        file: ProofFile,
        start: Instant,
    ) -> Result<ReplyBody<'static>, proof::ProofError> {
        if let Err(e) = proof::verify(&self.keys, &file) {
            self.log(format_args!("{mode:?} proof rejected: {e}"));
            return Err(e);
        }
        Ok(self.keep(mode, file, start, None))
    }

    /// Keeps and reports a proof halo2-axiom's verifier accepted.
    fn keep(
        &mut self,
        mode: Mode,
        file: ProofFile,
        start: Instant,
        job: Option<(JobId, String)>,
    ) -> ReplyBody<'static> {
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
        let (output, class) = (file.output.clone(), file.class);
        let by = match &job {
            Some((id, worker)) => format!(" (job {id}, proven by {worker})"),
            None => String::new(),
        };
        self.log(format_args!(
            "{} proof verified{by}: class {class}, logits {output:?}, {} bytes, digest {hex}, \
             {ms} ms",
            match mode {
                Mode::Witness => "witness-mode",
                Mode::DeviceProving => "device-made",
                Mode::Input => "input-mode",
            },
            file.proof.len()
        ));
        let len = file.proof.len();
        let commitment = match &file.input {
            proof::Revealed::Commitment(c) => Some(crate::srs::hex(c)),
            _ => None,
        };
        self.report.proofs.push(Served {
            mode,
            digest: hex,
            len,
            output,
            class,
            millis: ms,
            file: path,
            job: job.map(|(id, worker)| (id.to_string(), worker)),
            commitment,
        });
        ReplyBody::Proved {
            digest,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            millis: u32::try_from(ms).unwrap_or(u32::MAX),
        }
    }
}

/// A chunk of a byte upload (a proof, an input): one byte per element, through the upload's
/// own offset and length checks.
fn accept_bytes(upload: &mut Upload<u8>, offset: u32, chunk: &[u8]) -> Result<(), ErrorReply> {
    upload.accept(offset, chunk, 1, |chunk, sink| {
        chunk.iter().enumerate().for_each(|(i, &b)| sink(i, b));
        Ok(())
    })
}

impl Extension<Checked<Router>> for DeviceService {
    fn answer(&mut self, backend: &mut Checked<Router>, body: &RequestBody<'_>) -> Answer {
        let (request, result) = match *body {
            RequestBody::Hello { .. } => {
                // A device that says hello starts its jobs over; the session survives.
                self.upload = Uploading::None;
                self.finished = None;
                return None;
            }
            RequestBody::NttBegin { log_n, .. } => {
                // The session's NTT policy is the host's: a device that sends an NTT the
                // policy keeps on the device is refused, whatever it was told.
                let min = self.config.ntt_min_log;
                if log_n >= min {
                    return None;
                }
                (
                    "NttBegin",
                    Err(refuse(ErrorCode::Forbidden, usize::from(min))),
                )
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
            RequestBody::InputBegin { len, output, class } => {
                ("InputBegin", self.input_begin(len, output, class, None))
            }
            RequestBody::InputBeginHashed {
                len,
                output,
                class,
                salt,
                commitment,
            } => (
                "InputBeginHashed",
                self.input_begin(len, output, class, Some((salt, commitment))),
            ),
            RequestBody::InputChunk { offset, bytes } => {
                ("InputChunk", self.input_chunk(offset, bytes))
            }
            RequestBody::InputEnd { multiopen } => ("InputEnd", self.input_end(backend, multiopen)),
            _ => return None,
        };
        Some(result.map_err(|e| {
            // A chunk the upload already holds (a retransmission) keeps it; any other refused
            // step abandons it, and the device starts over from its Begin.
            if e.code != ErrorCode::BadOffset {
                self.upload = Uploading::None;
            }
            self.refused(request, e)
        }))
    }

    fn fault(&mut self, about: RequestId, code: ErrorCode, detail: u32) {
        // The device retransmits the request it was waiting on: its upload stays.
        self.report.faults += 1;
        self.log(format_args!(
            "the device refused our reply to request {about}: {code} ({detail})"
        ));
    }
}

/// Replies waiting for a device that does not read them, at most; beyond this (or after
/// [`STALL`] without a byte taken) its session is dropped.
pub const MAX_PENDING: usize = 64 << 10;

/// How long replies may wait without a byte taken before the session is dropped.
pub const STALL: Duration = Duration::from_secs(10);

/// How long a read waits when nothing is to be written, and when replies are waiting.
const POLL: Duration = Duration::from_millis(200);
const POLL_BUSY: Duration = Duration::from_millis(10);

/// Serves `link` with `server` until the device closes it (end of file, or `EIO` from a
/// pseudo-terminal whose other side went away).
///
/// Replies go out as fast as the device takes them, without blocking the service: they wait
/// in a bounded buffer while the device reads slowly (QEMU's UART takes one byte at a time).
/// A device that stops reading altogether — [`MAX_PENDING`] bytes waiting, or none taken for
/// [`STALL`] — loses its session, with a log line saying so; the service goes on, and the
/// device is served again once it says hello and opens a new session.
pub fn serve_link<L: port::DeviceLine>(
    server: &mut Server<Checked<Router>, DeviceService>,
    link: &mut L,
) -> io::Result<()> {
    let mut acc = FrameAccumulator::<FRAME>::new();
    let mut buf = vec![0u8; FRAME];
    let mut out: VecDeque<u8> = VecDeque::new();
    let mut stalled: Option<Instant> = None;
    let waiting = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::Interrupted | io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    };
    loop {
        while !out.is_empty() {
            link.set_wait(POLL_BUSY)?;
            match link.write(out.as_slices().0) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    out.drain(..n);
                    stalled = None;
                }
                Err(e) if waiting(&e) => {
                    stalled.get_or_insert_with(Instant::now);
                    break;
                }
                Err(e) if port::is_hangup(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if let Some(since) = stalled.filter(|_| !out.is_empty()) {
            if out.len() > MAX_PENDING || since.elapsed() >= STALL {
                server
                    .extension_mut()
                    .drop_session(out.len(), since.elapsed());
                server.reset_job();
                out.clear();
                stalled = None;
            }
        }
        link.set_wait(if out.is_empty() { POLL } else { POLL_BUSY })?;
        let n = match link.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if waiting(&e) => continue,
            Err(e) if port::is_hangup(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        server.on_bytes(&mut acc, &buf[..n], |frame| {
            out.extend(frame);
            Ok(())
        })?;
    }
}

/// The server `zkedge serve` runs: the wire server over `router` (the reference backend alone,
/// or an accelerator beside it) with a [`DeviceService`].
pub fn server(
    keys: Keys,
    mut router: Checked<Router>,
    config: ServiceConfig,
) -> Result<Server<Checked<Router>, DeviceService>, ServeError> {
    let service = DeviceService::new(keys, &mut router, config)?;
    Ok(Server::new(router, ServeConfig::default()).with_extension(service))
}
