//! Bring your own model: int8 TFLite files into zkedge's model format, computing bit for bit
//! what TensorFlow Lite Micro computes, and quantised ONNX files as onnxruntime's quantiser
//! writes them (`docs/model-format.md`, "Import"). Every imported model is checked to lay out in
//! the circuit.
//!
//! ```no_run
//! let model = zkedge_import::read(
//!     std::path::Path::new("kws.tflite"),
//!     &zkedge_import::Options::default().name("kws"),
//! )?;
//! println!("{} ops, {} MACs", model.ops().len(), model.mac_count());
//! # Ok::<(), zkedge_import::ImportError>(())
//! ```
// The generated FlatBuffer bindings use `unsafe` internally (reads the verifier has checked);
// nothing else here does.
#![deny(unsafe_code)]

mod emit;
mod error;
pub mod onnx;
mod prepare;
pub mod tflite;
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic
)]
#[rustfmt::skip]
mod onnx_generated;
#[allow(
    unsafe_code,
    missing_docs,
    unused_imports,
    dead_code,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    deprecated,
    mismatched_lifetime_syntaxes,
    clippy::all,
    clippy::pedantic
)]
#[rustfmt::skip]
mod tflite_generated;

use std::{io::Read, path::Path};

pub use error::{ImportError, Problem, SUPPORTED_ONNX, SUPPORTED_TFLITE};
use zkedge_kernel::{
    layout::{Layout, MAX_K},
    model::Model,
};

/// Largest model file the importer reads; bounds every allocation it makes.
pub const MAX_IMPORT_BYTES: usize = 64 << 20;

/// What the file does not say: the model's name and class labels.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// The model's name (default `"imported"`).
    pub name: Option<String>,
    /// One label per output, or none.
    pub classes: Vec<String>,
}

impl Options {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the class labels.
    pub fn classes(mut self, classes: Vec<String>) -> Self {
        self.classes = classes;
        self
    }
}

/// Model formats the importer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// A `.tflite` FlatBuffer.
    Tflite,
    /// A quantised `.onnx` protobuf.
    Onnx,
}

impl Format {
    /// The format a path names by its extension, if the importer reads it.
    pub fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "tflite" => Some(Format::Tflite),
            "onnx" => Some(Format::Onnx),
            _ => None,
        }
    }
}

/// Whether `path` names a file this crate imports (rather than a zkedge `.json`/`.zkm`).
pub fn is_importable(path: &Path) -> bool {
    Format::of_path(path).is_some()
}

/// Imports a model from its bytes, and checks that it lays out in the circuit (at most
/// 2^[`MAX_K`] rows).
pub fn import(bytes: &[u8], format: Format, options: &Options) -> Result<Model, ImportError> {
    let model = match format {
        Format::Tflite => tflite::import(bytes, options)?,
        Format::Onnx => onnx::import(bytes, options)?,
    };
    circuit(&model)?;
    Ok(model)
}

/// The circuit layout of an imported model, or why it does not fit.
pub fn circuit(model: &Model) -> Result<Layout, ImportError> {
    Layout::new(model).map_err(|e| match e {
        zkedge_kernel::layout::LayoutError::TooLarge { rows } => {
            ImportError::Circuit { rows, max_k: MAX_K }
        }
        other => ImportError::Onnx(format!("the model cannot be laid out: {other}")),
    })
}

/// Reads and imports a model file (at most [`MAX_IMPORT_BYTES`]); the extension names the
/// format, and the file's stem is the default name.
pub fn read(path: &Path, options: &Options) -> Result<Model, ImportError> {
    let format = Format::of_path(path).ok_or_else(|| ImportError::UnknownFormat(path.into()))?;
    let io = |source| ImportError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_IMPORT_BYTES as u64 {
        return Err(ImportError::TooLarge {
            size,
            max: MAX_IMPORT_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_IMPORT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            size: bytes.len() as u64,
            max: MAX_IMPORT_BYTES,
        });
    }
    let mut options = options.clone();
    if options.name.is_none() {
        options.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    import(&bytes, format, &options)
}
