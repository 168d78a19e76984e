//! Proving sessions: what the device asks of the host driver beyond MSMs.
//!
//! - [`open`]: names the model (by hash); the host answers with the SRS handles its MSMs use
//!   and its NTT policy.
//! - [`send_witness`] (witness mode): the public output and the private witness go up; the
//!   host proves, verifies, and answers with the proof's digest.
//! - [`send_input`] (input mode): the input and the claimed output go up; the host runs the
//!   model itself, refuses an output that differs, proves, verifies and answers likewise;
//!   [`send_hashed_input`] also sends a salt and the input's commitment, for host keys that
//!   hash the input.
//! - [`submit_proof`] (device-proving mode): a proof made here goes up; the host verifies it
//!   with the stock verifier and answers with its digest.

use alloc::vec::Vec;

use accel_backends::{Backend, BasesHandle, Checked};
use accel_proto::{witness, ErrorCode, MultiOpen, ReplyBody, RequestBody, SessionInfo};

use crate::{CallError, Client, Line, Remote, Wait, Work};

pub use accel_proto::digest;

/// An open session: the host's SRS, by handle, as this device's [`Remote`] knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Session {
    /// What the host said.
    pub info: SessionInfo,
    /// The monomial basis `[τⁱ]G`.
    pub monomial: BasesHandle,
    /// The Lagrange basis.
    pub lagrange: BasesHandle,
}

/// A proof the host holds and has verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Proved {
    /// BLAKE2b-256 of the proof's bytes.
    pub digest: [u8; 32],
    /// The proof's length in bytes.
    pub len: u32,
    /// Milliseconds the host spent on it.
    pub millis: u32,
}

/// Opens a session for the model whose binary form hashes to `model`, and adopts the host's
/// SRS handles and NTT policy into `remote`.
pub fn open<L: Line>(
    remote: &mut Checked<Remote<L>>,
    model: &[u8; 32],
) -> Result<Session, CallError> {
    let info = remote.hooks_mut().client().job(|c| {
        // The host may have to load its SRS into its backend again: a computing request.
        let deadline = c.job_deadline(0, Work::LoadBases, 0);
        let wait = Wait::Work(Work::LoadBases, 0);
        match c.call(RequestBody::Session { model: *model }, wait, deadline)? {
            ReplyBody::Session(info) => Ok(info),
            _ => Err(CallError::Unexpected),
        }
    })?;
    let n = 1usize
        .checked_shl(u32::from(info.k))
        .filter(|_| info.k < 32)
        .ok_or(CallError::Unexpected)?;
    let hooks = remote.hooks_mut();
    // The host's handles as this backend's: only an exhausted id counter refuses them.
    let adopt = |h: &mut Remote<L>, raw| h.adopt_bases(raw, n).map_err(|_| CallError::Unexpected);
    let monomial = adopt(hooks, info.monomial)?;
    let lagrange = adopt(hooks, info.lagrange)?;
    hooks.set_ntt_min_log(info.ntt_min_log);
    let adopted = |id| remote.handle_for(id).ok_or(CallError::Unexpected);
    let (monomial, lagrange) = (adopted(monomial)?, adopted(lagrange)?);
    Ok(Session {
        info,
        monomial,
        lagrange,
    })
}

fn proved(reply: ReplyBody<'_>) -> Result<Proved, CallError> {
    match reply {
        ReplyBody::Proved {
            digest,
            len,
            millis,
        } => Ok(Proved {
            digest,
            len,
            millis,
        }),
        _ => Err(CallError::Unexpected),
    }
}

fn output_bytes(output: &[i8]) -> Vec<u8> {
    output.iter().map(|&q| q as u8).collect()
}

/// Witness mode: sends the public `output` and `class` and the private witness (`advice`,
/// one column per advice column of the circuit, all of the same length), and waits while the
/// host proves and verifies. Needs an open session.
///
/// Values are numbered across columns (column `c`, row `r` is value `c·rows + r`); a chunk the
/// host already holds is answered with `BadOffset` naming that number, and the upload resumes
/// from it.
pub fn send_witness<L: Line>(
    client: &mut Client<L>,
    advice: &[Vec<i64>],
    output: &[i8],
    class: u32,
    multiopen: MultiOpen,
) -> Result<Proved, CallError> {
    let rows = advice.first().map_or(0, Vec::len);
    if advice.iter().any(|c| c.len() != rows) {
        return Err(CallError::BadRequest);
    }
    let columns = u16::try_from(advice.len()).map_err(|_| CallError::BadRequest)?;
    let rows32 = u32::try_from(rows).map_err(|_| CallError::BadRequest)?;
    let total = rows * advice.len();
    let output = output_bytes(output);
    let budget = witness::chunk_bytes(client.max_frame());
    let mut chunk = Vec::with_capacity(budget);
    // At most MAX_VARINT_BYTES a value on the wire.
    let bytes = total * witness::MAX_VARINT_BYTES;
    client.job(|c| {
        let deadline = c.job_deadline(bytes, Work::Verify, 0);
        let begin = RequestBody::WitnessBegin {
            columns,
            rows: rows32,
            output: &output,
            class,
        };
        c.call_ok(begin, Wait::Reply(16), deadline)?;
        let mut at = 0;
        while at < total {
            let (column, row) = (at / rows, at % rows);
            chunk.clear();
            let mut count = 0;
            for &v in &advice[column][row..] {
                if chunk.len() + witness::encoded_len(v) > budget {
                    break;
                }
                let mut bytes = [0u8; witness::MAX_VARINT_BYTES];
                let len = witness::encode(v, &mut bytes).ok_or(CallError::BadRequest)?;
                chunk.extend_from_slice(&bytes[..len]);
                count += 1;
            }
            let body = RequestBody::WitnessChunk {
                column: u16::try_from(column).map_err(|_| CallError::BadRequest)?,
                offset: u32::try_from(row).map_err(|_| CallError::BadRequest)?,
                values: &chunk,
            };
            match c.call_ok(body, Wait::Reply(16), deadline) {
                Ok(()) => at += count.max(1),
                Err(e) => at = resume(c, e, at, total)?,
            }
        }
        // The host proves: its own budget, on top of the upload's.
        let deadline = deadline.saturating_add(u64::from(c.config().timeouts.prove_ms));
        proved(c.call(RequestBody::WitnessEnd { multiopen }, Wait::Prove, deadline)?)
    })
}

/// Where an upload resumes after a chunk was refused: the offset the host names in a
/// `BadOffset` (it holds that chunk already, or missed one), or the refusal stands.
fn resume<L: Line>(
    c: &mut Client<L>,
    e: CallError,
    at: usize,
    total: usize,
) -> Result<usize, CallError> {
    match e {
        CallError::Refused(r)
            if r.code == ErrorCode::BadOffset
                && (r.detail as usize) <= total
                && r.detail as usize != at =>
        {
            c.note_resumed();
            Ok(r.detail as usize)
        }
        e => Err(e),
    }
}

/// Device-proving mode: sends a proof made here, with the public output it proves, and waits
/// while the host verifies it. Needs an open session.
pub fn submit_proof<L: Line>(
    client: &mut Client<L>,
    proof: &[u8],
    output: &[i8],
    class: u32,
    multiopen: MultiOpen,
) -> Result<Proved, CallError> {
    let len = u32::try_from(proof.len()).map_err(|_| CallError::BadRequest)?;
    let output = output_bytes(output);
    let cap = witness::proof_chunk_bytes(client.max_frame()).max(1);
    client.job(|c| {
        let deadline = c.job_deadline(proof.len(), Work::Verify, proof.len());
        let begin = RequestBody::ProofBegin {
            len,
            output: &output,
            class,
            multiopen,
        };
        c.call_ok(begin, Wait::Reply(16), deadline)?;
        let mut at = 0;
        while at < proof.len() {
            let bytes = &proof[at..proof.len().min(at + cap)];
            let offset = u32::try_from(at).map_err(|_| CallError::BadRequest)?;
            let body = RequestBody::ProofChunk { offset, bytes };
            match c.call_ok(body, Wait::Reply(16), deadline) {
                Ok(()) => at += bytes.len(),
                Err(e) => at = resume(c, e, at, proof.len())?,
            }
        }
        let wait = Wait::Work(Work::Verify, proof.len());
        proved(c.call(RequestBody::ProofEnd, wait, deadline)?)
    })
}

/// Input mode: sends the int8 input (the model's own order) and the output computed here; the
/// host runs the model itself, refuses an output that differs (`Unsatisfied`), proves and
/// verifies. The link carries the input's bytes instead of the whole witness. Needs an open
/// session, and host keys that do not hash the input (else `Forbidden`: [`send_hashed_input`]).
pub fn send_input<L: Line>(
    client: &mut Client<L>,
    input: &[i8],
    output: &[i8],
    class: u32,
    multiopen: MultiOpen,
) -> Result<Proved, CallError> {
    upload_input(client, input, output, class, None, multiopen)
}

/// A salt and the commitment to an input under it, as canonical field elements (32 bytes,
/// little-endian): what a sensor signs, for host keys that hash the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Salted {
    /// The salt the device drew.
    pub salt: [u8; 32],
    /// Poseidon(salt, input), as the device computed it.
    pub commitment: [u8; 32],
}

/// Input mode for host keys that hash the input: as [`send_input`], with the salt, and the
/// commitment the device computed, which the host holds its proof to (`Unsatisfied` if the
/// input and salt give another): the proof answered commits to exactly what the device may
/// sign.
pub fn send_hashed_input<L: Line>(
    client: &mut Client<L>,
    input: &[i8],
    salted: &Salted,
    output: &[i8],
    class: u32,
    multiopen: MultiOpen,
) -> Result<Proved, CallError> {
    upload_input(client, input, output, class, Some(salted), multiopen)
}

fn upload_input<L: Line>(
    client: &mut Client<L>,
    input: &[i8],
    output: &[i8],
    class: u32,
    salted: Option<&Salted>,
    multiopen: MultiOpen,
) -> Result<Proved, CallError> {
    let len = u32::try_from(input.len()).map_err(|_| CallError::BadRequest)?;
    let input: Vec<u8> = input.iter().map(|&v| v as u8).collect();
    let output = output_bytes(output);
    // InputChunk frames like ProofChunk: an offset and bytes.
    let cap = witness::proof_chunk_bytes(client.max_frame()).max(1);
    client.job(|c| {
        let deadline = c.job_deadline(input.len(), Work::Verify, 0);
        let begin = match salted {
            None => RequestBody::InputBegin {
                len,
                output: &output,
                class,
            },
            Some(s) => RequestBody::InputBeginHashed {
                len,
                output: &output,
                class,
                salt: s.salt,
                commitment: s.commitment,
            },
        };
        c.call_ok(begin, Wait::Reply(16), deadline)?;
        let mut at = 0;
        while at < input.len() {
            let bytes = &input[at..input.len().min(at + cap)];
            let offset = u32::try_from(at).map_err(|_| CallError::BadRequest)?;
            let body = RequestBody::InputChunk { offset, bytes };
            match c.call_ok(body, Wait::Reply(16), deadline) {
                Ok(()) => at += bytes.len(),
                Err(e) => at = resume(c, e, at, input.len())?,
            }
        }
        // The host runs the model and proves: its own budget, on top of the upload's.
        let deadline = deadline.saturating_add(u64::from(c.config().timeouts.prove_ms));
        proved(c.call(RequestBody::InputEnd { multiopen }, Wait::Prove, deadline)?)
    })
}
