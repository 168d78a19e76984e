//! Between the Backend's typed errors and the wire protocol's error codes (both ends: a
//! server answering with a code, a client turning a code back into a [`BackendError`]).

use accel_proto::{ErrorCode, ErrorReply, VERSION};

use crate::{BackendError, BasesHandle, DeviceFault, LinkError, Op};

/// The error code (and detail) a server answers a backend failure with.
pub fn backend_error_to_wire(e: &BackendError) -> ErrorReply {
    let sat = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    let (code, detail) = match *e {
        BackendError::SizeUnsupported { max, .. } => (ErrorCode::SizeUnsupported, sat(max)),
        BackendError::DomainMismatch { len, .. } => (ErrorCode::BadLength, sat(len)),
        BackendError::InvalidRoot { log_n } => (ErrorCode::InvalidRoot, log_n),
        BackendError::ZeroCosetGenerator => (ErrorCode::ZeroCosetGenerator, 0),
        BackendError::UnknownBases(h) => (ErrorCode::UnknownBases, h.id()),
        BackendError::BasesOutOfRange { loaded, .. } => (ErrorCode::BasesOutOfRange, sat(loaded)),
        BackendError::InvalidBase { index } => (ErrorCode::NotOnCurve, sat(index)),
        BackendError::NoBasesSlot { max } => (ErrorCode::NoBasesSlot, max),
        BackendError::OutOfMemory { elements } => (ErrorCode::OutOfMemory, sat(elements)),
        BackendError::Device(fault) => (ErrorCode::Device, fault.code),
        BackendError::Declined { .. } => (ErrorCode::Forbidden, 0),
        _ => (ErrorCode::Device, 0),
    };
    ErrorReply { code, detail }
}

/// What a client makes of an error reply to a request about `op`.
///
/// `handle`, `size` and `first_index` give the context the wire's compact reply leaves out:
/// the handle the request named, the job's size, and the element index where the failing
/// chunk began; `peer` names the other end in a [`DeviceFault`].
pub fn wire_error_to_backend(
    reply: ErrorReply,
    op: Op,
    handle: Option<BasesHandle>,
    size: usize,
    first_index: usize,
    log_n: u32,
    peer: &'static str,
) -> BackendError {
    let detail = reply.detail as usize;
    match reply.code {
        ErrorCode::SizeUnsupported => BackendError::SizeUnsupported {
            op,
            size,
            max: detail,
        },
        ErrorCode::UnknownBases => {
            BackendError::UnknownBases(handle.unwrap_or(BasesHandle::detached(reply.detail)))
        }
        ErrorCode::BasesOutOfRange => BackendError::BasesOutOfRange {
            handle: handle.unwrap_or(BasesHandle::detached(0)),
            start: first_index,
            end: first_index.saturating_add(size),
            loaded: detail,
        },
        ErrorCode::NotOnCurve => BackendError::InvalidBase {
            index: first_index.saturating_add(detail),
        },
        ErrorCode::NoBasesSlot => BackendError::NoBasesSlot { max: reply.detail },
        ErrorCode::InvalidRoot => BackendError::InvalidRoot { log_n },
        ErrorCode::ZeroCosetGenerator => BackendError::ZeroCosetGenerator,
        ErrorCode::OutOfMemory => BackendError::OutOfMemory { elements: detail },
        // A policy refusal, not a fault: the router sends the job elsewhere without counting
        // it against the peer's breaker.
        ErrorCode::Forbidden => BackendError::Declined { op, size },
        ErrorCode::BadCrc | ErrorCode::BadFraming | ErrorCode::Oversize => {
            BackendError::Link(LinkError::Corrupt)
        }
        ErrorCode::VersionMismatch => BackendError::Link(LinkError::Version {
            ours: VERSION,
            theirs: u16::try_from(reply.detail).unwrap_or(u16::MAX),
        }),
        ErrorCode::Device => BackendError::Device(DeviceFault {
            device: peer,
            code: reply.detail,
        }),
        // Our own request was refused as ill-formed: the two ends disagree on the protocol.
        _ => BackendError::Link(LinkError::Protocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_refusal_goes_elsewhere_without_counting_against_the_peer() {
        let reply = ErrorReply {
            code: ErrorCode::Forbidden,
            detail: 12,
        };
        let e = wire_error_to_backend(reply, Op::Ntt, None, 1 << 10, 0, 10, "host");
        assert_eq!(
            e,
            BackendError::Declined {
                op: Op::Ntt,
                size: 1 << 10
            }
        );
        assert!(e.try_elsewhere() && !e.is_fault());
        // And back: a server refusing by policy says Forbidden.
        assert_eq!(backend_error_to_wire(&e).code, ErrorCode::Forbidden);
    }
}
