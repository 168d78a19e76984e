//! The zkedge wire protocol, spoken verbatim by the host driver, the hw-sim accelerator and the
//! Cortex-M firmware (see `docs/protocol.md`).
//!
//! - **Messages** ([`msg`]): a [`Request`] or [`Reply`] with an id, postcard-encoded. The enums
//!   are `#[non_exhaustive]` and their variant numbers are the wire numbering, pinned by a test;
//!   new kinds are appended, and a peer answers a kind it does not know with
//!   [`ErrorCode::UnknownKind`] rather than failing.
//! - **Frames** ([`frame`]): postcard bytes, then their CRC-32, COBS-encoded, then a `0x00`
//!   delimiter. Every peer accepts frames of at least [`MIN_MAX_FRAME`] (4 KiB) encoded bytes;
//!   uploads are chunked to fit ([`chunk_capacity`]).
//! - **Receiving** ([`FrameAccumulator`]): a fixed buffer fed from the port; reports a complete
//!   sound frame, a bad one, or that it needs more bytes. No allocation anywhere.
//! - **Elements** ([`elem`]): canonical 32-byte little-endian field elements, 64-byte affine
//!   points with `(0, 0)` for the identity; decoding refuses non-canonical values and points
//!   off the curve.
//!
//! ```
//! use accel_proto::{encode_request, parse_request, Feed, FrameAccumulator, RequestBody};
//!
//! let mut out = [0u8; 64];
//! let frame = encode_request(1, RequestBody::BasesBegin { len: 4 }, &mut out, 4096).unwrap();
//!
//! let mut acc = FrameAccumulator::<4096>::new();
//! match acc.feed(frame) {
//!     Feed::Frame { body, .. } => {
//!         let req = parse_request(body).unwrap();
//!         assert_eq!((req.id, req.body), (1, RequestBody::BasesBegin { len: 4 }));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```
#![no_std]
#![forbid(unsafe_code)]

// Tests, and clap's derive (the host's command line), need std.
#[cfg(any(test, feature = "clap"))]
extern crate std;

mod accumulator;
pub mod elem;
pub mod frame;
pub mod msg;
pub mod witness;

pub use accumulator::{Feed, FrameAccumulator};

/// BLAKE2b-256 of `bytes`: how models and proofs are named on the wire (a session names its
/// model by the digest of its binary form; a proof is acknowledged by its digest).
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(
        blake2b_simd::Params::new()
            .hash_length(32)
            .hash(bytes)
            .as_bytes(),
    );
    out
}
pub use frame::{
    chunk_capacity, encode, encode_reply, encode_request, open, parse_reply, parse_request,
    EncodeError, FrameError, MessageError, MIN_MAX_FRAME,
};
pub use msg::{
    Capabilities, Direction, ErrorCode, ErrorReply, MultiOpen, Reply, ReplyBody, Request,
    RequestBody, RequestId, SessionInfo, Stats, WireFe, WirePoint, NTT_NEVER, UNATTRIBUTED,
};

/// The protocol version this crate speaks. Peers of different versions refuse each other at
/// the handshake ([`ErrorCode::VersionMismatch`]); additions that old peers can ignore (new
/// message kinds answered with `UnknownKind`) do not bump it.
///
/// Version 2 made uploads resumable and their ends repeatable, so that a client retransmits a
/// lost or damaged chunk instead of starting its job over: a chunk at the wrong offset is
/// refused with `BadOffset` (detail = the offset expected) *without* abandoning the upload,
/// and a repeated `BasesEnd`, `MsmEnd`, `NttRun`, `WitnessEnd`, `ProofEnd` or `InputEnd` is
/// answered with the job's result again instead of `OutOfSequence`. (Input mode, kinds 21–23,
/// came later as an addition: a version 2 server without it answers `UnknownKind`.)
pub const VERSION: u16 = 2;

#[cfg(test)]
mod wire_numbering {
    //! Pins every message and error number: changing one breaks every deployed peer.
    use super::*;
    use std::vec::Vec;

    fn kind_of<T: serde::Serialize>(msg: &T) -> (u32, Vec<u8>) {
        let bytes = postcard::to_slice(msg, &mut [0u8; 256])
            .expect("fits")
            .to_vec();
        let ((_, kind), _) = postcard::take_from_bytes::<(u32, u32)>(&bytes).expect("header");
        (kind, bytes)
    }

    #[test]
    fn request_kinds_are_pinned() {
        let fe = [1u8; 32];
        let all: [(u32, RequestBody<'_>); 26] = [
            (
                0,
                RequestBody::Hello {
                    version: 1,
                    max_frame: 4096,
                },
            ),
            (1, RequestBody::BasesBegin { len: 1 }),
            (
                2,
                RequestBody::BasesChunk {
                    offset: 0,
                    points: &[],
                },
            ),
            (3, RequestBody::BasesEnd),
            (4, RequestBody::ReleaseBases { handle: 0 }),
            (
                5,
                RequestBody::MsmBegin {
                    handle: 0,
                    start: 0,
                    len: 0,
                },
            ),
            (
                6,
                RequestBody::MsmChunk {
                    offset: 0,
                    scalars: &[],
                },
            ),
            (7, RequestBody::MsmEnd),
            (
                8,
                RequestBody::NttBegin {
                    log_n: 3,
                    omega: fe,
                    direction: Direction::Inverse,
                    coset: Some(fe),
                },
            ),
            (
                9,
                RequestBody::NttChunk {
                    offset: 0,
                    values: &[],
                },
            ),
            (10, RequestBody::NttRun),
            (
                11,
                RequestBody::NttRead {
                    offset: 0,
                    count: 0,
                },
            ),
            (12, RequestBody::Abort),
            (13, RequestBody::Session { model: [2; 32] }),
            (
                14,
                RequestBody::WitnessBegin {
                    columns: 6,
                    rows: 100,
                    output: &[1, 0xff],
                    class: 0,
                },
            ),
            (
                15,
                RequestBody::WitnessChunk {
                    column: 0,
                    offset: 0,
                    values: &[],
                },
            ),
            (
                16,
                RequestBody::WitnessEnd {
                    multiopen: MultiOpen::Gwc,
                },
            ),
            (
                17,
                RequestBody::ProofBegin {
                    len: 1,
                    output: &[],
                    class: 1,
                    multiopen: MultiOpen::Shplonk,
                },
            ),
            (
                18,
                RequestBody::ProofChunk {
                    offset: 0,
                    bytes: &[],
                },
            ),
            (19, RequestBody::ProofEnd),
            (
                20,
                RequestBody::Fault {
                    about: 3,
                    code: ErrorCode::BadCrc,
                    detail: 0,
                },
            ),
            (
                21,
                RequestBody::InputBegin {
                    len: 24,
                    output: &[1, 0xff],
                    class: 0,
                },
            ),
            (
                22,
                RequestBody::InputChunk {
                    offset: 0,
                    bytes: &[],
                },
            ),
            (
                23,
                RequestBody::InputEnd {
                    multiopen: MultiOpen::Gwc,
                },
            ),
            (
                24,
                RequestBody::MsmBeginNarrow {
                    handle: 1,
                    start: 0,
                    len: 3,
                    width: 1,
                },
            ),
            (
                25,
                RequestBody::InputBeginHashed {
                    len: 24,
                    output: &[1, 0xff],
                    class: 0,
                    salt: [3; 32],
                    commitment: [4; 32],
                },
            ),
        ];
        assert_eq!(all.len() as u32, msg::REQUEST_KINDS);
        for (want, body) in all {
            let (kind, _) = kind_of(&Request { id: 300, body });
            assert_eq!(kind, want, "{body:?}");
        }
        // One full encoding pinned byte for byte: id 300 (varint ac 02), kind 8, log_n 3,
        // ω, direction 1, Some(1), g.
        let (_, bytes) = kind_of(&Request {
            id: 300,
            body: RequestBody::NttBegin {
                log_n: 3,
                omega: fe,
                direction: Direction::Inverse,
                coset: Some(fe),
            },
        });
        let mut want = std::vec![0xac, 0x02, 8, 3];
        want.extend([1u8; 32]);
        want.extend([1, 1]);
        want.extend([1u8; 32]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn reply_kinds_are_pinned() {
        let caps = Capabilities {
            version: VERSION,
            max_frame: 4096,
            max_msm_len: 1,
            max_bases_len: 1,
            bases_slots: 1,
            max_ntt_log_n: 1,
            clock_mhz: 1,
        };
        let point = WirePoint {
            x: [0; 32],
            y: [0; 32],
        };
        let stats = Stats::default();
        let session = SessionInfo {
            k: 12,
            monomial: 0,
            lagrange: 1,
            ntt_min_log: NTT_NEVER,
        };
        let all: [(u32, ReplyBody<'_>); 9] = [
            (0, ReplyBody::Hello(caps)),
            (1, ReplyBody::Ok),
            (2, ReplyBody::BasesLoaded { handle: 0, stats }),
            (3, ReplyBody::MsmDone { sum: point, stats }),
            (4, ReplyBody::NttDone { stats }),
            (
                5,
                ReplyBody::NttValues {
                    offset: 0,
                    values: &[],
                },
            ),
            (
                6,
                ReplyBody::Error(ErrorReply {
                    code: ErrorCode::Device,
                    detail: 0,
                }),
            ),
            (7, ReplyBody::Session(session)),
            (
                8,
                ReplyBody::Proved {
                    digest: [0; 32],
                    len: 0,
                    millis: 0,
                },
            ),
        ];
        assert_eq!(all.len() as u32, msg::REPLY_KINDS);
        for (want, body) in all {
            assert_eq!(kind_of(&Reply { id: 1, body }).0, want, "{body:?}");
        }
    }

    #[test]
    fn error_codes_and_directions_are_pinned() {
        use ErrorCode::*;
        let codes = [
            BadCrc,
            BadFraming,
            Oversize,
            Malformed,
            UnknownKind,
            VersionMismatch,
            OutOfSequence,
            BadOffset,
            BadLength,
            Incomplete,
            NonCanonical,
            NotOnCurve,
            UnknownBases,
            NoBasesSlot,
            SizeUnsupported,
            BasesOutOfRange,
            InvalidRoot,
            ZeroCosetGenerator,
            OutOfMemory,
            Device,
            UnknownModel,
            Unsatisfied,
            InvalidProof,
            NoSession,
            Forbidden,
        ];
        for (n, code) in codes.into_iter().enumerate() {
            let bytes = postcard::to_slice(&code, &mut [0u8; 8])
                .expect("fits")
                .to_vec();
            assert_eq!(bytes, [n as u8], "{code:?}");
        }
        for (n, m) in [MultiOpen::Gwc, MultiOpen::Shplonk].iter().enumerate() {
            assert_eq!(
                postcard::to_slice(m, &mut [0u8; 8]).expect("fits").to_vec(),
                [n as u8]
            );
        }
        for (n, d) in [Direction::Forward, Direction::Inverse].iter().enumerate() {
            assert_eq!(
                postcard::to_slice(d, &mut [0u8; 8]).expect("fits").to_vec(),
                [n as u8]
            );
        }
    }
}
