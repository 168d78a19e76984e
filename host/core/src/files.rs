//! Reading untrusted files: bounded in size, with errors that name the file.

use std::{fs, io::Read, path::Path};

use thiserror::Error;

/// Why a file could not be read.
#[derive(Debug, Error)]
pub enum FileError {
    /// The operating system refused.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than anything of its kind can be.
    #[error("{path} is larger than {max} bytes; is it the right file?")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        max: u64,
    },
}

/// A small text file (a routing file, simulator parameters): at most 1 MiB of UTF-8.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = read_bounded(path, 1 << 20)?;
    String::from_utf8(bytes).map_err(|_| FileError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Reads at most `max` bytes of `path`; a longer file is an error, not a truncation.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge {
            path: path.display().to_string(),
            max,
        });
    }
    Ok(bytes)
}

/// BLAKE2b-256 of `bytes`, as lowercase hex.
pub fn hash_hex(bytes: &[u8]) -> String {
    hash(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits (as [`hash_hex`] writes them) as 32 bytes.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// BLAKE2b-256 of `bytes`: the wire protocol's digest, so that the host and a device name
/// models and proofs alike.
pub use accel_proto::digest as hash;
