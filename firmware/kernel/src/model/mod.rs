//! The model format: int8 networks as a graph of TFLite-semantics operators
//! (`docs/model-format.md`).
//!
//! [`ModelFile`] is what a file holds, as parsed; [`Model`] is a validated model with every
//! tensor's shape and quantisation worked out, the only thing inference and the circuit layout
//! accept.
//!
//! Tensors are numbered: tensor 0 is the input, tensor `i + 1` the output of op `i`. An op reads
//! tensors produced before it, so a model is a DAG in topological order (ResNet's skip
//! connections are an `add` of an earlier tensor). Every tensor is `[C, H, W]` and flattened in
//! that order; models from channels-last formats (TFLite) are reordered at import, and a
//! `reshape` says in which order it keeps elements.

mod binary;
mod check;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "synthetic")]
pub mod synthetic;
mod v1;

use alloc::{string::String, vec::Vec};

use serde::{Deserialize, Serialize};

pub use binary::{MAGIC, MAX_FILE_BYTES};
pub use check::{LayerProblem, ModelError};
#[cfg(feature = "json")]
pub use json::JsonError;

/// The model format version this build writes (it also reads version 1).
pub const FORMAT_VERSION: u16 = 2;
/// Most ops a model may have.
pub const MAX_OPS: usize = 128;
/// Largest extent of a tensor dimension.
pub const MAX_DIM: u16 = u16::MAX;
/// Most elements an activation tensor may have.
pub const MAX_TENSOR: usize = 1 << 20;
/// Most weights one op may have.
pub const MAX_LAYER_WEIGHTS: usize = 1 << 20;
/// Most weights a model may have.
pub const MAX_MODEL_WEIGHTS: usize = 1 << 22;
/// Most activation elements over all tensors of a model.
pub const MAX_MODEL_ACTIVATIONS: usize = 1 << 22;
/// Most class labels, and most bytes of each.
pub const MAX_CLASSES: usize = 4096;
/// TFLite's fixed left shift of both inputs of an int8 `ADD`.
pub const ADD_LEFT_SHIFT: u32 = 20;

/// Quantisation of a tensor: real value = `scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quant {
    /// Real value of one quantisation step.
    pub scale: f32,
    /// The int8 value that stands for real 0.
    pub zero_point: i8,
}

/// Order in which a flat list of a tensor's values is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// `[C][H][W]` (ONNX, PyTorch; zkedge's own order).
    #[default]
    Chw,
    /// `[H][W][C]` (TFLite, TensorFlow).
    Hwc,
}

/// The model's input: its shape, quantisation, and the order input files list it in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// `[C, H, W]`.
    pub shape: [u16; 3],
    /// Real value of one quantisation step.
    pub scale: f32,
    /// The int8 value that stands for real 0.
    pub zero_point: i8,
    /// The order input files (and the device's sensor) give the values in.
    #[serde(default)]
    pub order: Order,
}

/// How the Q31 requantisation rounds. Both are TFLite's and CMSIS-NN's arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rounding {
    /// TFLite's default: `SaturatingRoundingDoublingHighMul` then `RoundingDivideByPOT`
    /// (rounds twice).
    #[default]
    Double,
    /// `TFLITE_SINGLE_ROUNDING` / `CMSIS_NN_USE_SINGLE_ROUNDING`: the exact product rounded
    /// once, half up. The form that onnxruntime's float requantisation can match exactly.
    Single,
}

/// A Q31 fixed-point multiplier: `multiplier · 2^(shift − 31)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requant {
    /// In `[2^30, 2^31)`.
    pub multiplier: i32,
    /// In `[−31, 30]`; positive shifts left.
    pub shift: i8,
}

/// The int8 range an op's output is clamped to (TFLite's `quantized_activation_min/max`): a
/// fused `RELU`, `RELU6` or `RELU_N1_TO_1`, or `[−128, 127]` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clamp {
    /// Smallest output.
    pub min: i8,
    /// Largest output.
    pub max: i8,
}

impl Clamp {
    /// No activation: the whole int8 range.
    pub const NONE: Clamp = Clamp {
        min: i8::MIN,
        max: i8::MAX,
    };

    /// `v` clamped to the range.
    pub fn apply(self, v: i64) -> i8 {
        v.clamp(i64::from(self.min), i64::from(self.max)) as i8
    }
}

/// A 2-D convolution (`CONV_2D`), weights `[O][C][KH][KW]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2d {
    /// The tensor it reads.
    pub input: u16,
    /// Output channels `O`.
    pub out_channels: u16,
    /// `[KH, KW]`.
    pub kernel: [u16; 2],
    /// `[SH, SW]`.
    pub stride: [u16; 2],
    /// `[DH, DW]`: the kernel's taps are this far apart.
    pub dilation: [u16; 2],
    /// `[top, left, bottom, right]`; padded taps contribute nothing.
    pub padding: [u16; 4],
    /// `O·C·KH·KW` weights in `[−127, 127]`.
    pub weights: Vec<i8>,
    /// One per output channel.
    pub bias: Vec<i32>,
    /// One per output channel.
    pub requant: Vec<Requant>,
    /// The output's quantisation.
    pub output: Quant,
    /// The fused activation.
    pub clamp: Clamp,
}

/// A depthwise convolution (`DEPTHWISE_CONV_2D`): output channel `c·m + j` reads input channel
/// `c` only; weights `[C·m][KH][KW]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthwiseConv2d {
    /// The tensor it reads.
    pub input: u16,
    /// The depth multiplier `m` (output channels per input channel).
    pub multiplier: u16,
    /// `[KH, KW]`.
    pub kernel: [u16; 2],
    /// `[SH, SW]`.
    pub stride: [u16; 2],
    /// `[DH, DW]`.
    pub dilation: [u16; 2],
    /// `[top, left, bottom, right]`; padded taps contribute nothing.
    pub padding: [u16; 4],
    /// `C·m·KH·KW` weights in `[−127, 127]`.
    pub weights: Vec<i8>,
    /// One per output channel.
    pub bias: Vec<i32>,
    /// One per output channel.
    pub requant: Vec<Requant>,
    /// The output's quantisation.
    pub output: Quant,
    /// The fused activation.
    pub clamp: Clamp,
}

/// A fully connected layer (`FULLY_CONNECTED`) over its input flattened in `[C][H][W]` order,
/// weights `[O][I]`; the output is `[O, 1, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    /// The tensor it reads.
    pub input: u16,
    /// Outputs `O`.
    pub out_features: u16,
    /// `O·I` weights in `[−127, 127]`.
    pub weights: Vec<i8>,
    /// One per output.
    pub bias: Vec<i32>,
    /// One per output.
    pub requant: Vec<Requant>,
    /// The output's quantisation.
    pub output: Quant,
    /// The fused activation.
    pub clamp: Clamp,
}

/// A 2-D pooling window (`AVERAGE_POOL_2D`, `MAX_POOL_2D`); the output keeps the input's
/// quantisation, as TFLite requires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The tensor it reads.
    pub input: u16,
    /// `[KH, KW]`.
    pub kernel: [u16; 2],
    /// `[SH, SW]`.
    pub stride: [u16; 2],
    /// `[top, left, bottom, right]`; padded taps are left out (and not counted).
    pub padding: [u16; 4],
    /// The fused activation.
    pub clamp: Clamp,
}

/// TFLite's int8 `ADD` of two tensors of one shape: each input, less its zero point, shifted
/// left by [`ADD_LEFT_SHIFT`] and rescaled by its own multiplier; the sum rescaled to the
/// output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Add {
    /// The two tensors it reads.
    pub inputs: [u16; 2],
    /// Each input's rescaling (`shift ≤ 0`).
    pub input_requant: [Requant; 2],
    /// The sum's rescaling (`shift ≤ 0`).
    pub output_requant: Requant,
    /// The output's quantisation.
    pub output: Quant,
    /// The fused activation.
    pub clamp: Clamp,
}

/// A reshape: the same values, another shape. The element order kept is that of `order`: a
/// TFLite `RESHAPE` keeps the channels-last order, an ONNX `Flatten` the channels-first one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reshape {
    /// The tensor it reads.
    pub input: u16,
    /// `[C, H, W]` of the result.
    pub shape: [u16; 3],
    /// The flat order that input and output share.
    pub order: Order,
}

/// One operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `CONV_2D`.
    Conv2d(Conv2d),
    /// `DEPTHWISE_CONV_2D`.
    DepthwiseConv2d(DepthwiseConv2d),
    /// `FULLY_CONNECTED`.
    Dense(Dense),
    /// `AVERAGE_POOL_2D`.
    AvgPool2d(Pool),
    /// `MAX_POOL_2D`.
    MaxPool2d(Pool),
    /// `ADD`.
    Add(Add),
    /// `RESHAPE` (and the shape-only subgraph of a Keras `Flatten`, folded at import).
    Reshape(Reshape),
}

/// TFLite's int8 `SOFTMAX` on the logits: computed from the proven logits after the proof,
/// never proven itself.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Softmax {
    /// The softmax's `beta`.
    pub beta: f32,
    /// Its output's quantisation (TFLite requires scale 1/256, zero point −128).
    pub output: Quant,
}

/// A model as a file holds it, before validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`FORMAT_VERSION`].
    pub version: u16,
    /// Short identifier.
    pub name: String,
    /// What the sensor is and what the classes mean.
    pub description: String,
    /// Where the data and training came from.
    pub source: String,
    /// The input tensor.
    pub input: InputSpec,
    /// How requantisation rounds, in every op.
    pub rounding: Rounding,
    /// The ops, in order; the last one's output is the model's output (the logits).
    pub ops: Vec<Op>,
    /// A softmax after the logits, applied outside the proof.
    pub softmax: Option<Softmax>,
    /// One label per output, or none (classes are then printed as their index).
    pub classes: Vec<String>,
}

/// Shape `[C, H, W]` of a tensor.
pub type Shape = [usize; 3];

/// A validated model: the file plus every tensor's shape and quantisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    file: ModelFile,
    /// `shapes[t]` of tensor `t` (0 the input, `i + 1` op `i`'s output).
    shapes: Vec<Shape>,
    /// `quants[t]` of tensor `t`.
    quants: Vec<Quant>,
}

impl Model {
    /// Checks every limit and consistency rule of `docs/model-format.md`.
    pub fn new(file: ModelFile) -> Result<Self, ModelError> {
        let (shapes, quants) = check::model(&file)?;
        Ok(Self {
            file,
            shapes,
            quants,
        })
    }

    /// The model as stored.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The ops.
    pub fn ops(&self) -> &[Op] {
        &self.file.ops
    }

    /// How requantisation rounds.
    pub fn rounding(&self) -> Rounding {
        self.file.rounding
    }

    /// Number of tensors (the input and one per op).
    pub fn tensor_count(&self) -> usize {
        self.shapes.len()
    }

    /// Shape of tensor `t`.
    pub fn shape(&self, t: usize) -> Shape {
        self.shapes[t]
    }

    /// Elements of tensor `t`.
    pub fn len(&self, t: usize) -> usize {
        self.shapes[t].iter().product()
    }

    /// Quantisation of tensor `t`.
    pub fn quant(&self, t: usize) -> Quant {
        self.quants[t]
    }

    /// Shape of the input.
    pub fn input_shape(&self) -> Shape {
        self.shapes[0]
    }

    /// Number of input elements.
    pub fn input_len(&self) -> usize {
        self.len(0)
    }

    /// The output tensor (the last op's).
    pub fn output_tensor(&self) -> usize {
        self.shapes.len() - 1
    }

    /// Number of outputs (logits).
    pub fn output_len(&self) -> usize {
        self.len(self.output_tensor())
    }

    /// The class labels (possibly none).
    pub fn classes(&self) -> &[String] {
        &self.file.classes
    }

    /// How output `class` is shown: its label, or `#class` for a model without labels.
    pub fn class_label(&self, class: usize) -> String {
        class_label(self.classes(), class)
    }

    /// The model with every weight and bias zeroed (its shapes, quantisation and the rest
    /// kept): what a verifier of a hashed-weights proof knows of it.
    pub fn without_weights(&self) -> Model {
        let mut file = self.file.clone();
        for op in &mut file.ops {
            let (weights, bias) = match op {
                Op::Conv2d(c) => (&mut c.weights, &mut c.bias),
                Op::DepthwiseConv2d(c) => (&mut c.weights, &mut c.bias),
                Op::Dense(d) => (&mut d.weights, &mut d.bias),
                _ => continue,
            };
            weights.fill(0);
            bias.fill(0);
        }
        Model {
            file,
            shapes: self.shapes.clone(),
            quants: self.quants.clone(),
        }
    }

    /// Total weights of all ops.
    pub fn weight_count(&self) -> usize {
        self.ops().iter().map(|op| op.weights().len()).sum()
    }

    /// Multiply–accumulates of one inference (padded taps excluded; pools and adds count
    /// none).
    pub fn mac_count(&self) -> usize {
        (0..self.ops().len())
            .map(|i| match &self.ops()[i] {
                Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::Dense(_) => {
                    let [o, h, w] = self.shape(i + 1);
                    (0..o * h * w)
                        .map(|e| crate::infer::taps(self, i, e).len())
                        .sum()
                }
                _ => 0,
            })
            .sum()
    }
}

impl Op {
    /// The name of the op in files and messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "conv2d",
            Op::DepthwiseConv2d(_) => "depthwise_conv2d",
            Op::Dense(_) => "dense",
            Op::AvgPool2d(_) => "avg_pool2d",
            Op::MaxPool2d(_) => "max_pool2d",
            Op::Add(_) => "add",
            Op::Reshape(_) => "reshape",
        }
    }

    /// The tensors it reads.
    pub fn inputs(&self) -> Vec<usize> {
        match self {
            Op::Conv2d(c) => alloc::vec![c.input.into()],
            Op::DepthwiseConv2d(c) => alloc::vec![c.input.into()],
            Op::Dense(d) => alloc::vec![d.input.into()],
            Op::AvgPool2d(p) | Op::MaxPool2d(p) => alloc::vec![p.input.into()],
            Op::Add(a) => a.inputs.iter().map(|&t| t.into()).collect(),
            Op::Reshape(r) => alloc::vec![r.input.into()],
        }
    }

    /// The weights (none for pools, adds and reshapes).
    pub fn weights(&self) -> &[i8] {
        match self {
            Op::Conv2d(c) => &c.weights,
            Op::DepthwiseConv2d(c) => &c.weights,
            Op::Dense(d) => &d.weights,
            _ => &[],
        }
    }

    /// The bias, requantisation, output quantisation and activation of a multiply–accumulate
    /// op (conv2d, depthwise_conv2d, dense).
    pub fn mac(&self) -> Option<MacParams<'_>> {
        let (bias, requant, output, clamp) = match self {
            Op::Conv2d(c) => (&c.bias, &c.requant, c.output, c.clamp),
            Op::DepthwiseConv2d(c) => (&c.bias, &c.requant, c.output, c.clamp),
            Op::Dense(d) => (&d.bias, &d.requant, d.output, d.clamp),
            _ => return None,
        };
        Some(MacParams {
            bias,
            requant,
            output,
            clamp,
        })
    }
}

/// What a multiply–accumulate op does after its sums.
#[derive(Clone, Copy, Debug)]
pub struct MacParams<'a> {
    /// One per output channel.
    pub bias: &'a [i32],
    /// One per output channel.
    pub requant: &'a [Requant],
    /// The output's quantisation.
    pub output: Quant,
    /// The fused activation.
    pub clamp: Clamp,
}

/// How output `class` of a model with these labels is shown: its label, or `#class` where the
/// model has none (a verifier bundle carries the labels without the model).
pub fn class_label(classes: &[String], class: usize) -> String {
    classes
        .get(class)
        .cloned()
        .unwrap_or_else(|| alloc::format!("#{class}"))
}
