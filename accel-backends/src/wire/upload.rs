//! The receiving end of a chunked upload, for every server: the accelerator's [`Server`]
//! (bases, scalars, NTT values) and the host driver's device service (witnesses, proofs).
//!
//! An upload is announced with its length, which the server has checked against its limits
//! before [`Upload::new`] reserves memory for it — never a length a peer merely claims. Chunks
//! then extend it at explicit offsets. A chunk at another offset is refused with `BadOffset`
//! naming where the upload stands, and the upload stays as it was (protocol version 2): it is a
//! retransmission of a chunk already taken, or follows a lost one, and the client resumes from
//! the offset given.
//!
//! [`Server`]: super::Server

use alloc::vec::Vec;

use accel_proto::{elem::ElemError, ErrorCode, ErrorReply};

fn refuse(code: ErrorCode, detail: usize) -> ErrorReply {
    ErrorReply {
        code,
        detail: u32::try_from(detail).unwrap_or(u32::MAX),
    }
}

/// A refusal for a bad element at `index` of the upload.
pub fn element_refusal(index: usize, e: ElemError) -> ErrorReply {
    match e {
        ElemError::NonCanonical => refuse(ErrorCode::NonCanonical, index),
        ElemError::NotOnCurve => refuse(ErrorCode::NotOnCurve, index),
    }
}

/// An upload of `len` elements in progress.
#[derive(Debug)]
pub struct Upload<T> {
    len: usize,
    items: Vec<T>,
}

impl<T> Upload<T> {
    /// An upload of `len` elements, their memory reserved (refused with `OutOfMemory` if it
    /// cannot be). `len` must already be within the server's limits.
    pub fn new(len: usize) -> Result<Self, ErrorReply> {
        let mut items = Vec::new();
        items
            .try_reserve_exact(len)
            .map_err(|_| refuse(ErrorCode::OutOfMemory, len))?;
        Ok(Self { len, items })
    }

    /// The announced length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was announced.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many elements arrived.
    pub fn received(&self) -> usize {
        self.items.len()
    }

    /// What arrived so far.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Checks that a chunk at `offset` extends the upload; otherwise `BadOffset` with the
    /// offset expected, and the upload is kept.
    pub fn expect(&self, offset: u32) -> Result<(), ErrorReply> {
        if offset as usize == self.items.len() {
            Ok(())
        } else {
            Err(refuse(ErrorCode::BadOffset, self.items.len()))
        }
    }

    /// Appends one element; `BadLength` (detail = the length) past the announced length.
    pub fn push(&mut self, x: T) -> Result<(), ErrorReply> {
        if self.items.len() >= self.len {
            return Err(refuse(ErrorCode::BadLength, self.len));
        }
        self.items.push(x);
        Ok(())
    }

    /// Takes a chunk of `size`-byte elements at `offset`: checks the offset, that the chunk
    /// holds whole elements and fits the length, then decodes it with `decode` (which calls its
    /// sink per element and returns the index of a bad one in the chunk). A bad element is
    /// refused under its index in the upload.
    pub fn accept(
        &mut self,
        offset: u32,
        bytes: &[u8],
        size: usize,
        decode: impl FnOnce(&[u8], &mut dyn FnMut(usize, T)) -> Result<(), (usize, ElemError)>,
    ) -> Result<(), ErrorReply> {
        self.expect(offset)?;
        let have = self.items.len();
        let n = accel_proto::elem::whole_elements(bytes, size)
            .ok_or(refuse(ErrorCode::BadLength, 0))?;
        if have + n > self.len {
            return Err(refuse(ErrorCode::BadLength, self.len));
        }
        let items = &mut self.items;
        decode(bytes, &mut |_, x| items.push(x)).map_err(|(i, e)| element_refusal(have + i, e))
    }

    /// The elements, if all arrived; `Incomplete` (detail = how many did) otherwise.
    pub fn finish(self) -> Result<Vec<T>, ErrorReply> {
        if self.items.len() == self.len {
            Ok(self.items)
        } else {
            Err(refuse(ErrorCode::Incomplete, self.items.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_proto::elem::{decode_fr_chunk, encode_fr, FE_BYTES};
    use alloc::vec;
    use ark_bn254::Fr;

    fn chunk(values: &[u64]) -> Vec<u8> {
        values
            .iter()
            .flat_map(|&v| encode_fr(&Fr::from(v)))
            .collect()
    }

    #[test]
    fn a_repeated_or_early_chunk_is_refused_with_the_offset_and_the_upload_kept() {
        let mut up = Upload::<Fr>::new(4).unwrap();
        up.accept(0, &chunk(&[1, 2]), FE_BYTES, |b, s| decode_fr_chunk(b, s))
            .unwrap();
        // The same chunk again (its reply was lost): refused, nothing appended.
        let again = up.accept(0, &chunk(&[1, 2]), FE_BYTES, |b, s| decode_fr_chunk(b, s));
        assert_eq!(again, Err(refuse(ErrorCode::BadOffset, 2)));
        // A chunk after a lost one.
        let early = up.accept(3, &chunk(&[4]), FE_BYTES, |b, s| decode_fr_chunk(b, s));
        assert_eq!(early, Err(refuse(ErrorCode::BadOffset, 2)));
        assert_eq!(up.received(), 2);
        // Too long, then not whole elements.
        let long = up.accept(2, &chunk(&[3, 4, 5]), FE_BYTES, |b, s| {
            decode_fr_chunk(b, s)
        });
        assert_eq!(long, Err(refuse(ErrorCode::BadLength, 4)));
        let ragged = up.accept(2, &[0u8; 33], FE_BYTES, |b, s| decode_fr_chunk(b, s));
        assert_eq!(ragged, Err(refuse(ErrorCode::BadLength, 0)));
        // A non-canonical element is named by its index in the upload.
        let mut bad = chunk(&[3]);
        bad.extend([0xffu8; 32]);
        let refused = up.accept(2, &bad, FE_BYTES, |b, s| decode_fr_chunk(b, s));
        assert_eq!(refused, Err(refuse(ErrorCode::NonCanonical, 3)));
    }

    #[test]
    fn finish_wants_every_element() {
        let mut up = Upload::<u8>::new(3).unwrap();
        up.push(1).unwrap();
        assert_eq!(
            Upload::<u8>::new(3).unwrap().finish(),
            Err(refuse(ErrorCode::Incomplete, 0))
        );
        up.push(2).unwrap();
        up.push(3).unwrap();
        assert_eq!(up.push(4), Err(refuse(ErrorCode::BadLength, 3)));
        assert_eq!(up.finish().unwrap(), vec![1, 2, 3]);
        assert!(Upload::<[u8; 64]>::new(usize::MAX / 2).is_err());
    }
}
