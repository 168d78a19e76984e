//! Why a model could not be imported.

use std::path::PathBuf;

use zkedge_kernel::model::ModelError;

/// The TFLite operators the importer translates, for error messages.
pub const SUPPORTED_TFLITE: &str = "CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, \
     AVERAGE_POOL_2D, MAX_POOL_2D, ADD, RESHAPE, SQUEEZE, EXPAND_DIMS, the shape-only \
     SHAPE/STRIDED_SLICE/PACK of a Keras Flatten, QUANTIZE as the first and DEQUANTIZE as the \
     last operator, and SOFTMAX as the last computing operator";

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Neither the extension nor the content says which format the file is.
    #[error("{0}: not a model the importer reads (expected a .tflite file)")]
    UnknownFormat(PathBuf),
    /// The file is larger than the importer reads.
    #[error("model file is {size} bytes; the importer reads at most {max}")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// [`crate::MAX_IMPORT_BYTES`].
        max: usize,
    },
    /// The bytes are not a TFLite FlatBuffer.
    #[error(
        "not a TFLite model: a .tflite file is a FlatBuffer with the identifier \"TFL3\" at \
         bytes 4..8, and this one has none"
    )]
    NotTflite,
    /// The FlatBuffer failed verification (truncated, damaged, or too deeply nested).
    #[error("damaged or truncated TFLite file: {0}")]
    Flatbuffer(#[from] flatbuffers::InvalidFlatbuffer),
    /// The file holds several subgraphs (or none).
    #[error("the model has {0} subgraphs; zkedge imports models with exactly one")]
    Subgraphs(usize),
    /// The graph has several inputs or outputs (or none).
    #[error("the model has {count} {what}s; zkedge imports models with exactly one input and one output")]
    Arity {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// How many it has.
        count: usize,
    },
    /// No tensor is int8: a float model.
    #[error(
        "this is a float model: zkedge imports int8 models. Quantise it with full-integer \
         quantisation (TFLiteConverter with optimizations = [DEFAULT], a representative \
         dataset and supported_ops = [TFLITE_BUILTINS_INT8])"
    )]
    FloatModel,
    /// An operator zkedge does not run.
    #[error("operator {index} ({name}) is not supported; zkedge imports {SUPPORTED_TFLITE}")]
    Unsupported {
        /// Its position in the graph's operator list.
        index: usize,
        /// Its TFLite name.
        name: String,
    },
    /// A supported operator whose parameters zkedge cannot reproduce exactly.
    #[error("operator {index} ({name}): {problem}")]
    Op {
        /// Its position in the graph's operator list.
        index: usize,
        /// Its TFLite name.
        name: String,
        /// What is wrong.
        problem: Problem,
    },
    /// The graph's input or output.
    #[error("graph {what}: {problem}")]
    Edge {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// What is wrong.
        problem: Problem,
    },
    /// The translated model breaks one of zkedge's limits (`docs/model-format.md`).
    #[error("{}the model exceeds what zkedge proves: {error}", at_op(.tflite_op))]
    Model {
        /// The TFLite operator the failing zkedge op came from, if one did.
        tflite_op: Option<(usize, String)>,
        /// The kernel's reason.
        error: ModelError,
    },
}

fn at_op(op: &Option<(usize, String)>) -> String {
    op.as_ref()
        .map(|(i, name)| format!("operator {i} ({name}): "))
        .unwrap_or_default()
}

/// What is wrong with one operator or tensor.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A tensor of a type zkedge does not compute with.
    #[error("tensor {tensor:?} is {found}; {why}")]
    TensorType {
        /// The tensor's name.
        tensor: String,
        /// Its type.
        found: String,
        /// What zkedge needs instead.
        why: &'static str,
    },
    /// A tensor's quantisation is missing or not what TFLite's int8 kernels use.
    #[error("tensor {tensor:?}: {why}")]
    Quantization {
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        why: String,
    },
    /// An operand that must be a constant in the file is computed, or the reverse.
    #[error("tensor {tensor:?}: {why}")]
    Operand {
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A tensor's shape is one zkedge cannot take.
    #[error("tensor {tensor:?} has shape {shape:?}: {why}")]
    Shape {
        /// The tensor's name.
        tensor: String,
        /// Its TFLite (NHWC) shape.
        shape: Vec<i32>,
        /// What is wrong.
        why: String,
    },
    /// A tensor with more elements than zkedge takes, refused before allocating.
    #[error("tensor {tensor:?} has {elements} elements; the limit is {max}")]
    TooLarge {
        /// The tensor's name.
        tensor: String,
        /// Its element count (saturated).
        elements: u64,
        /// The limit.
        max: usize,
    },
    /// A constant's data does not match its shape.
    #[error("tensor {tensor:?} holds {found} bytes of data; its shape needs {expected}")]
    Data {
        /// The tensor's name.
        tensor: String,
        /// Bytes the shape calls for.
        expected: u64,
        /// Bytes in the file.
        found: usize,
    },
    /// A requantisation multiplier outside what TFLite (or zkedge) can represent.
    #[error("channel {channel}: the real multiplier {real:e} {why}")]
    Multiplier {
        /// The channel.
        channel: usize,
        /// The real multiplier (input scale · weight scale / output scale, or ADD's).
        real: f64,
        /// What is wrong.
        why: &'static str,
    },
    /// A fused activation other than NONE, RELU, RELU6, RELU_N1_TO_1.
    #[error("fused activation {0} is not supported (NONE, RELU, RELU6 and RELU_N1_TO_1 are)")]
    Activation(String),
    /// The operator's options are missing or inconsistent.
    #[error("{0}")]
    Options(String),
}
