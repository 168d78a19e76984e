//! Witness values on the wire: each a signed integer as a zigzag LEB128 varint (postcard's
//! encoding of `i64`), concatenated. The model circuit's witness is mostly bytes, so most values
//! take one or two bytes instead of the 32 of a field element.
//!
//! ```
//! use accel_proto::witness::{decode, encode};
//!
//! let mut buf = [0u8; 32];
//! let mut n = 0;
//! for v in [0i64, -1, 300, i64::MIN] {
//!     n += encode(v, &mut buf[n..]).unwrap();
//! }
//! let mut out = Vec::new();
//! assert_eq!(decode(&buf[..n], |v| out.push(v)), Ok(4));
//! assert_eq!(out, [0, -1, 300, i64::MIN]);
//! ```

use crate::frame::chunk_capacity;

/// The longest encoding of one value.
pub const MAX_VARINT_BYTES: usize = 10;

/// Why witness bytes could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VarintError {
    /// The bytes end inside a value.
    Truncated,
    /// A value is longer than ten bytes or overflows 64 bits.
    Overlong,
}

/// Writes `v` into `out`; returns the bytes written, or `None` if `out` is too short.
pub fn encode(v: i64, out: &mut [u8]) -> Option<usize> {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 0;
    loop {
        let byte = out.get_mut(n)?;
        n += 1;
        if z < 0x80 {
            *byte = z as u8;
            return Some(n);
        }
        *byte = (z as u8 & 0x7f) | 0x80;
        z >>= 7;
    }
}

/// The encoded length of `v`.
pub fn encoded_len(v: i64) -> usize {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    (64 - z.leading_zeros() as usize).max(1).div_ceil(7)
}

/// Calls `f` with each value of `bytes`, in order; returns how many there were. Stops at the
/// first malformed value (values before it have been passed to `f`).
pub fn decode(mut bytes: &[u8], mut f: impl FnMut(i64)) -> Result<usize, VarintError> {
    let mut count = 0;
    while !bytes.is_empty() {
        let mut z = 0u64;
        let mut i = 0;
        loop {
            let &b = bytes.get(i).ok_or(VarintError::Truncated)?;
            // The tenth byte holds only the top bit of a u64.
            if i == MAX_VARINT_BYTES - 1 && b > 1 {
                return Err(VarintError::Overlong);
            }
            z |= u64::from(b & 0x7f) << (7 * i);
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        bytes = &bytes[i..];
        f(((z >> 1) as i64) ^ -((z & 1) as i64));
        count += 1;
    }
    Ok(count)
}

/// Bytes of varints one [`WitnessChunk`](crate::RequestBody::WitnessChunk) may carry so that
/// its frame stays within `max_frame` whatever the bytes (the column index adds up to 3 bytes
/// to a chunk's header).
pub const fn chunk_bytes(max_frame: usize) -> usize {
    chunk_capacity(max_frame, 1).saturating_sub(3)
}

/// Bytes of transcript one [`ProofChunk`](crate::RequestBody::ProofChunk) may carry.
pub const fn proof_chunk_bytes(max_frame: usize) -> usize {
    chunk_capacity(max_frame, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn round_trips_and_lengths() {
        let values = [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            255,
            1 << 20,
            -(1 << 40),
            i64::MAX,
            i64::MIN,
        ];
        let mut buf = [0u8; 256];
        let mut n = 0;
        for &v in &values {
            let len = encode(v, &mut buf[n..]).expect("room");
            assert_eq!(len, encoded_len(v), "{v}");
            n += len;
        }
        let mut out = Vec::new();
        assert_eq!(decode(&buf[..n], |v| out.push(v)), Ok(values.len()));
        assert_eq!(out, values);
        // postcard's own i64 encoding is the same.
        let mut pc = [0u8; 16];
        for &v in &values {
            let want = postcard::to_slice(&v, &mut pc).expect("fits").to_vec();
            let mut ours = [0u8; 10];
            let len = encode(v, &mut ours).expect("room");
            assert_eq!(&ours[..len], &want[..], "{v}");
        }
    }

    #[test]
    fn malformed_input_is_refused() {
        assert_eq!(decode(&[0x80], |_| {}), Err(VarintError::Truncated));
        assert_eq!(decode(&[0xff; 10], |_| {}), Err(VarintError::Overlong));
        assert_eq!(decode(&[0xff; 11], |_| {}), Err(VarintError::Overlong));
        let mut tenth = [0xffu8; 10];
        tenth[9] = 0x01;
        assert_eq!(decode(&tenth, |_| {}), Ok(1));
        assert_eq!(encode(300, &mut [0u8; 1]), None);
    }

    #[test]
    fn a_full_witness_chunk_fits_its_frame() {
        use crate::{encode_request, RequestBody};
        let data = std::vec![0xa5u8; chunk_bytes(4096)];
        let mut buf = std::vec![0u8; 4097];
        let frame = encode_request(
            u32::MAX,
            RequestBody::WitnessChunk {
                column: u16::MAX,
                offset: u32::MAX,
                values: &data,
            },
            &mut buf,
            4096,
        )
        .expect("fits");
        assert!(frame.len() <= 4097);
    }
}
