//! The compact binary form: `ZKM1` + postcard. The format version comes first, so a reader
//! knows which structure follows.

use alloc::vec::Vec;

use super::{v1::FileV1, Model, ModelError, ModelFile, FORMAT_VERSION};

/// The first four bytes of a `.zkm` file.
pub const MAGIC: [u8; 4] = *b"ZKM1";
/// Largest `.zkm` file the loader reads; bounds every allocation decoding makes.
pub const MAX_FILE_BYTES: usize = 16 << 20;

fn decode_error(e: postcard::Error) -> ModelError {
    ModelError::Decode(match e {
        postcard::Error::DeserializeUnexpectedEnd => "it ends early",
        postcard::Error::DeserializeBadEnum => "unknown op type",
        postcard::Error::DeserializeBadUtf8 => "a text field is not UTF-8",
        postcard::Error::DeserializeBadVarint => "a number is malformed",
        _ => "not a model of this format",
    })
}

fn take<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ModelError> {
    let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(decode_error)?;
    if !rest.is_empty() {
        return Err(ModelError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

impl Model {
    /// Reads the binary form (either version). Never panics; allocates at most a small
    /// multiple of `bytes.len()`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ModelError::TooLarge {
                size: bytes.len(),
                max: MAX_FILE_BYTES,
            });
        }
        let body = bytes.strip_prefix(&MAGIC).ok_or(ModelError::BadMagic)?;
        let (version, _) = postcard::take_from_bytes::<u16>(body).map_err(decode_error)?;
        let file = match version {
            1 => take::<FileV1>(body)?.upgrade(),
            FORMAT_VERSION => take::<ModelFile>(body)?,
            found => return Err(ModelError::Version { found }),
        };
        Model::new(file)
    }

    /// Writes the binary form (always the current version).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(MAGIC);
        // Serialising owned, in-memory data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(&self.file).unwrap_or_default());
        out
    }
}
