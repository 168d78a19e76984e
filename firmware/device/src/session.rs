//! Proving sessions: what the device asks of the host driver beyond MSMs.
//!
//! - [`open`]: names the model (by hash); the host answers with the SRS handles its MSMs use
//!   and its NTT policy.
//! - [`send_witness`] (witness mode): the public output and the private witness go up; the
//!   host proves, verifies, and answers with the proof's digest.
//! - [`submit_proof`] (device-proving mode): a proof made here goes up; the host verifies it
//!   with the stock verifier and answers with its digest.

use alloc::vec::Vec;

use accel_backends::{Backend, BasesHandle, Checked};
use accel_proto::{witness, MultiOpen, ReplyBody, RequestBody, SessionInfo};

use crate::{CallError, Client, Line, Remote};

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
    let t = remote.hooks_mut().client().config().timeouts;
    let info = remote.hooks_mut().client().job(|c| {
        match c.call(RequestBody::Session { model: *model }, t.work_ms)? {
            ReplyBody::Session(info) => Ok(info),
            _ => Err(CallError::Unexpected),
        }
    })?;
    let n = 1usize
        .checked_shl(u32::from(info.k))
        .filter(|_| info.k < 32)
        .ok_or(CallError::Unexpected)?;
    let hooks = remote.hooks_mut();
    hooks.adopt_bases(info.monomial, n);
    hooks.adopt_bases(info.lagrange, n);
    hooks.set_ntt_min_log(info.ntt_min_log);
    let adopted = |id| remote.handle_for(id).ok_or(CallError::Unexpected);
    let (monomial, lagrange) = (adopted(info.monomial)?, adopted(info.lagrange)?);
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
    let rows = u32::try_from(rows).map_err(|_| CallError::BadRequest)?;
    let output = output_bytes(output);
    let budget = witness::chunk_bytes(client.max_frame());
    let mut chunk = Vec::with_capacity(budget);
    let t = client.config().timeouts;
    client.job(|c| {
        let begin = RequestBody::WitnessBegin {
            columns,
            rows,
            output: &output,
            class,
        };
        c.call_ok(begin, t.reply_ms)?;
        for (column, values) in (0u16..).zip(advice) {
            let mut offset = 0u32;
            let mut pending = 0u32;
            chunk.clear();
            for &v in values {
                if chunk.len() + witness::encoded_len(v) > budget {
                    send_chunk(c, column, offset, &chunk, t.reply_ms)?;
                    offset += pending;
                    pending = 0;
                    chunk.clear();
                }
                let mut bytes = [0u8; witness::MAX_VARINT_BYTES];
                let len = witness::encode(v, &mut bytes).ok_or(CallError::BadRequest)?;
                chunk.extend_from_slice(&bytes[..len]);
                pending += 1;
            }
            if !chunk.is_empty() {
                send_chunk(c, column, offset, &chunk, t.reply_ms)?;
            }
        }
        proved(c.call(RequestBody::WitnessEnd { multiopen }, t.prove_ms)?)
    })
}

fn send_chunk<L: Line>(
    c: &mut Client<L>,
    column: u16,
    offset: u32,
    values: &[u8],
    timeout_ms: u32,
) -> Result<(), CallError> {
    c.call_ok(
        RequestBody::WitnessChunk {
            column,
            offset,
            values,
        },
        timeout_ms,
    )
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
    let t = client.config().timeouts;
    client.job(|c| {
        let begin = RequestBody::ProofBegin {
            len,
            output: &output,
            class,
            multiopen,
        };
        c.call_ok(begin, t.reply_ms)?;
        for (i, bytes) in proof.chunks(cap).enumerate() {
            let offset = u32::try_from(i * cap).map_err(|_| CallError::BadRequest)?;
            c.call_ok(RequestBody::ProofChunk { offset, bytes }, t.reply_ms)?;
        }
        proved(c.call(RequestBody::ProofEnd, t.work_ms)?)
    })
}
