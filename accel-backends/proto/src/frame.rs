//! Frames: `COBS(postcard(message) ‖ CRC-32(postcard(message)) as 4 LE bytes) ‖ 0x00`.
//!
//! The layers are postcard's own flavors (CRC over the serialized bytes, then COBS) on the
//! sending side; the receiving side undoes them one at a time so that it can tell a damaged
//! frame (bad COBS, bad CRC) from a message it cannot read (unknown kind, malformed body) and
//! answer each with its own error code.

use postcard::ser_flavors::{crc::CrcModifier, Cobs, Slice};
use serde::{Deserialize, Serialize};

use crate::msg::{
    ErrorCode, Reply, ReplyBody, Request, RequestBody, RequestId, REPLY_KINDS, REQUEST_KINDS,
    UNATTRIBUTED,
};

/// CRC-32 (ISO-HDLC, the zlib/Ethernet one) from the `crc` crate, as postcard's
/// `to_slice_crc32` uses it.
pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Bytes of CRC at the end of a decoded frame.
pub const CRC_BYTES: usize = 4;

/// Why a frame could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The encoded frame would exceed the buffer or the peer's frame size.
    TooBig,
}

/// Why a received frame was refused before its message was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Not valid COBS.
    BadFraming,
    /// Too short to hold a CRC, or the CRC does not match.
    BadCrc,
    /// Longer than the receiver's buffer.
    Oversize,
}

impl FrameError {
    /// The error code a server answers this with.
    pub const fn code(self) -> ErrorCode {
        match self {
            FrameError::BadFraming => ErrorCode::BadFraming,
            FrameError::BadCrc => ErrorCode::BadCrc,
            FrameError::Oversize => ErrorCode::Oversize,
        }
    }
}

/// A message that arrived in a sound frame but could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MessageError {
    /// The id, if the header could be read; [`UNATTRIBUTED`] otherwise.
    pub id: RequestId,
    /// [`ErrorCode::UnknownKind`] or [`ErrorCode::Malformed`].
    pub code: ErrorCode,
    /// The kind number for `UnknownKind`, else 0.
    pub detail: u32,
}

/// Serializes `msg` into `buf` as one frame (trailing delimiter included) no longer than
/// `max_frame + 1` bytes, and returns the frame.
pub fn encode<'b, T: Serialize + ?Sized>(
    msg: &T,
    buf: &'b mut [u8],
    max_frame: usize,
) -> Result<&'b mut [u8], EncodeError> {
    let limit = buf.len().min(max_frame.saturating_add(1));
    let buf = &mut buf[..limit];
    let cobs = Cobs::try_new(Slice::new(buf)).map_err(|_| EncodeError::TooBig)?;
    postcard::serialize_with_flavor(msg, CrcModifier::new(cobs, CRC32.digest()))
        .map_err(|_| EncodeError::TooBig)
}

/// The worst-case encoded length (delimiter excluded) of a frame whose decoded payload,
/// CRC included, is `raw` bytes: COBS adds one byte per started run of 254.
pub const fn encoded_len_bound(raw: usize) -> usize {
    raw + raw / 254 + 1
}

/// Undoes COBS in place on one frame (delimiter excluded) and checks its CRC; returns the
/// postcard bytes.
pub fn open(frame: &mut [u8]) -> Result<&[u8], FrameError> {
    let len = cobs::decode_in_place(frame).map_err(|_| FrameError::BadFraming)?;
    let decoded = frame.get(..len).ok_or(FrameError::BadFraming)?;
    if decoded.len() < CRC_BYTES {
        return Err(FrameError::BadCrc);
    }
    let (body, crc) = decoded.split_at(decoded.len() - CRC_BYTES);
    let mut want = [0u8; CRC_BYTES];
    want.copy_from_slice(crc);
    if CRC32.checksum(body) != u32::from_le_bytes(want) {
        return Err(FrameError::BadCrc);
    }
    Ok(body)
}

/// Reads a request from a frame's postcard bytes (as [`open`] returns them).
pub fn parse_request(body: &[u8]) -> Result<Request<'_>, MessageError> {
    parse(body, REQUEST_KINDS)
}

/// Reads a reply from a frame's postcard bytes.
pub fn parse_reply(body: &[u8]) -> Result<Reply<'_>, MessageError> {
    parse(body, REPLY_KINDS)
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], kinds: u32) -> Result<T, MessageError> {
    // Every message starts with its id and kind, both varints: read them first so that an
    // unreadable body is still answered under the right id.
    let (id, kind) = match postcard::take_from_bytes::<(RequestId, u32)>(body) {
        Ok(((id, kind), _)) => (id, kind),
        Err(_) => {
            return Err(MessageError {
                id: UNATTRIBUTED,
                code: ErrorCode::Malformed,
                detail: 0,
            })
        }
    };
    if kind >= kinds {
        return Err(MessageError {
            id,
            code: ErrorCode::UnknownKind,
            detail: kind,
        });
    }
    match postcard::take_from_bytes::<T>(body) {
        // Trailing bytes mean the sender and we disagree on the layout: refuse them.
        Ok((msg, [])) => Ok(msg),
        _ => Err(MessageError {
            id,
            code: ErrorCode::Malformed,
            detail: 0,
        }),
    }
}

/// Bytes of a chunk message around its elements, at most: id (5) + kind (1) + offset (5) +
/// slice length (3) + CRC (4).
pub const CHUNK_OVERHEAD: usize = 5 + 1 + 5 + 3 + CRC_BYTES;

/// How many `elem_bytes`-sized elements one chunk frame may carry so that the encoded frame
/// stays within `max_frame` bytes (delimiter excluded), whatever the bytes are.
pub const fn chunk_capacity(max_frame: usize, elem_bytes: usize) -> usize {
    // Largest raw length whose worst-case COBS encoding fits.
    let mut raw = max_frame.saturating_sub(max_frame / 255 + 1);
    while raw > 0 && encoded_len_bound(raw) > max_frame {
        raw -= 1;
    }
    if raw <= CHUNK_OVERHEAD || elem_bytes == 0 {
        0
    } else {
        (raw - CHUNK_OVERHEAD) / elem_bytes
    }
}

/// The largest frame any peer of this version must accept: what a 4 KiB receive buffer holds.
pub const MIN_MAX_FRAME: usize = 4096;

/// Shorthand: encode a request.
pub fn encode_request<'b>(
    id: RequestId,
    body: RequestBody<'_>,
    buf: &'b mut [u8],
    max_frame: usize,
) -> Result<&'b mut [u8], EncodeError> {
    encode(&Request { id, body }, buf, max_frame)
}

/// Shorthand: encode a reply.
pub fn encode_reply<'b>(
    id: RequestId,
    body: ReplyBody<'_>,
    buf: &'b mut [u8],
    max_frame: usize,
) -> Result<&'b mut [u8], EncodeError> {
    encode(&Reply { id, body }, buf, max_frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elem::{FE_BYTES, POINT_BYTES};
    use std::vec;

    #[test]
    fn frames_round_trip_and_match_postcard_crc_flavor() {
        let req = Request {
            id: 7,
            body: RequestBody::MsmChunk {
                offset: 3,
                scalars: &[0, 1, 2, 0, 0, 255],
            },
        };
        let mut buf = [0u8; 64];
        let frame = encode(&req, &mut buf, 4096).expect("fits");
        assert_eq!(frame.last(), Some(&0));
        assert!(frame[..frame.len() - 1].iter().all(|&b| b != 0));
        // The same bytes postcard's own CRC flavor gives, then COBS.
        let mut plain = [0u8; 64];
        let raw = postcard::to_slice_crc32(&req, &mut plain, CRC32.digest()).expect("fits");
        let mut cobs_buf = [0u8; 64];
        let n = cobs::encode(raw, &mut cobs_buf);
        assert_eq!(&frame[..frame.len() - 1], &cobs_buf[..n]);

        let len = frame.len() - 1;
        let body = open(&mut frame[..len]).expect("sound frame");
        assert_eq!(parse_request(body), Ok(req));
    }

    #[test]
    fn a_flipped_bit_is_a_bad_crc() {
        let mut buf = [0u8; 64];
        let frame = encode_request(9, RequestBody::BasesEnd, &mut buf, 4096).expect("fits");
        let len = frame.len() - 1;
        frame[1] ^= 0x10;
        if frame[1] == 0 {
            frame[1] = 0x10;
        }
        assert!(open(&mut frame[..len]).is_err());
    }

    #[test]
    fn unknown_kinds_keep_their_id() {
        let body = postcard::to_slice(&(42u32, 200u32), &mut [0u8; 16])
            .expect("fits")
            .to_vec();
        assert_eq!(
            parse_request(&body),
            Err(MessageError {
                id: 42,
                code: ErrorCode::UnknownKind,
                detail: 200
            })
        );
        // Known kind, truncated body.
        let body = postcard::to_slice(&(43u32, 5u32, 1u32), &mut [0u8; 16])
            .expect("fits")
            .to_vec();
        assert_eq!(
            parse_request(&body).map_err(|e| (e.id, e.code)),
            Err((43, ErrorCode::Malformed))
        );
    }

    #[test]
    fn a_full_chunk_fits_the_frame_size_in_the_worst_case() {
        for max_frame in [256usize, 1000, 4096, 65536] {
            for elem in [FE_BYTES, POINT_BYTES] {
                let n = chunk_capacity(max_frame, elem);
                assert!(n > 0, "{max_frame}/{elem}");
                // Worst case: no zero bytes (COBS overhead maximal), varints at full length.
                let data = vec![0xa5u8; n * elem];
                let req = Request {
                    id: u32::MAX,
                    body: RequestBody::MsmChunk {
                        offset: u32::MAX,
                        scalars: &data,
                    },
                };
                let mut buf = vec![0u8; max_frame + 1];
                let frame = encode(&req, &mut buf, max_frame).expect("capacity fits");
                assert!(frame.len() <= max_frame + 1);
                // One more element would not always fit: the capacity is tight to within one.
                let more = vec![0xa5u8; (n + 2) * elem];
                let req = Request {
                    id: u32::MAX,
                    body: RequestBody::MsmChunk {
                        offset: u32::MAX,
                        scalars: &more,
                    },
                };
                assert_eq!(
                    encode(&req, &mut buf, max_frame).map(|f| f.len()),
                    Err(EncodeError::TooBig)
                );
            }
        }
        assert_eq!(chunk_capacity(4096, FE_BYTES), 126);
        assert_eq!(chunk_capacity(4096, POINT_BYTES), 63);
    }
}
