//! The compact binary form: `ZKM1` + postcard.

use alloc::vec::Vec;

use super::{Model, ModelError, ModelFile};

/// The first four bytes of a `.zkm` file.
pub const MAGIC: [u8; 4] = *b"ZKM1";
/// Largest `.zkm` file the loader reads; bounds every allocation decoding makes.
pub const MAX_FILE_BYTES: usize = 16 << 20;

impl Model {
    /// Reads the binary form. Never panics; allocates at most a small multiple of `bytes.len()`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ModelError::TooLarge {
                size: bytes.len(),
                max: MAX_FILE_BYTES,
            });
        }
        let body = bytes.strip_prefix(&MAGIC).ok_or(ModelError::BadMagic)?;
        let (file, rest) = postcard::take_from_bytes::<ModelFile>(body).map_err(|e| {
            ModelError::Decode(match e {
                postcard::Error::DeserializeUnexpectedEnd => "it ends early",
                postcard::Error::DeserializeBadEnum => "unknown layer type",
                postcard::Error::DeserializeBadUtf8 => "a text field is not UTF-8",
                postcard::Error::DeserializeBadVarint => "a number is malformed",
                _ => "not a model of this format",
            })
        })?;
        if !rest.is_empty() {
            return Err(ModelError::TrailingBytes(rest.len()));
        }
        Model::new(file)
    }

    /// Writes the binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(MAGIC);
        // Serialising owned, in-memory data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(&self.file).unwrap_or_default());
        out
    }
}
