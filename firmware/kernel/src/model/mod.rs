//! The model format: small feed-forward int8 networks (`docs/model-format.md`).
//!
//! [`ModelFile`] is what a file holds, as parsed; [`Model`] is a validated model with its
//! tensor shapes worked out, the only thing inference and the circuit layout accept.

mod binary;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "synthetic")]
pub mod synthetic;

use alloc::{string::String, vec::Vec};

use serde::{Deserialize, Serialize};

pub use binary::{MAGIC, MAX_FILE_BYTES};
#[cfg(feature = "json")]
pub use json::JsonError;

/// The model format version this build reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Most layers a model may have.
pub const MAX_LAYERS: usize = 32;
/// Largest extent of a tensor dimension.
pub const MAX_DIM: u16 = 4096;
/// Most elements an activation tensor may have.
pub const MAX_TENSOR: usize = 1 << 20;
/// Most weights one layer may have.
pub const MAX_LAYER_WEIGHTS: usize = 1 << 20;
/// Most weights a model may have.
pub const MAX_MODEL_WEIGHTS: usize = 1 << 22;

/// Quantisation of a tensor: real value = `scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// Real value of one quantisation step.
    pub scale: f32,
    /// The int8 value that stands for real 0.
    pub zero_point: i8,
}

/// The model's input: its shape and quantisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// `[C, H, W]`.
    pub shape: [u16; 3],
    /// Real value of one quantisation step.
    pub scale: f32,
    /// The int8 value that stands for real 0.
    pub zero_point: i8,
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
pub struct Requant {
    /// In `[2^30, 2^31)`.
    pub multiplier: i32,
    /// In `[−31, 30]`; positive shifts left.
    pub shift: i8,
}

/// A 2-D convolution, weights `[O][C][KH][KW]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    /// Output channels `O`.
    pub out_channels: u16,
    /// `[KH, KW]`.
    pub kernel: [u16; 2],
    /// `[SH, SW]`.
    pub stride: [u16; 2],
    /// `[top, left, bottom, right]`, filled with the input zero point.
    pub padding: [u16; 4],
    /// `O·C·KH·KW` weights in `[−127, 127]`.
    pub weights: Vec<i8>,
    /// One per output channel.
    pub bias: Vec<i32>,
    /// One per output channel.
    pub requant: Vec<Requant>,
    /// The output's quantisation.
    pub output: Quant,
    /// Clamp the output below at its zero point.
    pub relu: bool,
}

/// A fully connected layer, weights `[O][I]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
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
    /// Clamp the output below at its zero point.
    pub relu: bool,
}

/// One layer of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Layer {
    /// A 2-D convolution.
    Conv2d(Conv2d),
    /// A fully connected layer.
    Dense(Dense),
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
    /// How requantisation rounds, in every layer.
    pub rounding: Rounding,
    /// The layers, in order.
    pub layers: Vec<Layer>,
    /// One label per output of the last layer.
    pub classes: Vec<String>,
}

/// What is wrong with one layer.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LayerProblem {
    /// A size is zero or above the limit.
    #[error("{what} is {value}, outside 1..={max}")]
    Size {
        /// Which size.
        what: &'static str,
        /// Its value.
        value: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A list has the wrong number of entries.
    #[error("expected {expected} {what}, found {found}")]
    Count {
        /// Which list.
        what: &'static str,
        /// What the shapes call for.
        expected: usize,
        /// What the file has.
        found: usize,
    },
    /// A weight is −128 (weights are symmetric, in [−127, 127]).
    #[error("weight {index} is −128; weights must lie in [−127, 127]")]
    Weight {
        /// Position in the weight list.
        index: usize,
    },
    /// A requantisation multiplier is outside `[2^30, 2^31)`.
    #[error("requant multiplier of channel {channel} is {value}, outside [2^30, 2^31)")]
    Multiplier {
        /// The channel.
        channel: usize,
        /// Its multiplier.
        value: i32,
    },
    /// A requantisation shift is outside `[−31, 30]`.
    #[error("requant shift of channel {channel} is {value}, outside [−31, 30]")]
    Shift {
        /// The channel.
        channel: usize,
        /// Its shift.
        value: i8,
    },
    /// The kernel does not fit the padded input.
    #[error("kernel {kernel:?} is larger than the padded input {padded:?}")]
    KernelTooLarge {
        /// `[KH, KW]`.
        kernel: [u16; 2],
        /// Padded `[H, W]`.
        padded: [usize; 2],
    },
    /// A channel's accumulator could leave int32 (after the left shift).
    #[error("channel {channel} can accumulate beyond int32 (worst case |acc|·2^shift = {worst})")]
    Overflow {
        /// The channel.
        channel: usize,
        /// The worst case magnitude.
        worst: u64,
    },
    /// A scale (the input's, or a layer's output scale) is not a positive finite number.
    #[error("scale {0} is not a positive finite number")]
    Scale(f32),
}

/// Why a model was rejected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The binary form does not start with `ZKM1`.
    #[error("not a zkedge model: the file does not start with \"ZKM1\"")]
    BadMagic,
    /// The binary form is larger than the loader accepts.
    #[error("model file is {size} bytes; the limit is {max}")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// [`MAX_FILE_BYTES`].
        max: usize,
    },
    /// The binary form could not be decoded (truncated, or not a model).
    #[error("model file is damaged or truncated ({0})")]
    Decode(&'static str),
    /// Bytes follow the model in the binary form.
    #[error("model file has {0} unexpected bytes after the model")]
    TrailingBytes(usize),
    /// The file is of another format version.
    #[error(
        "model format version {found} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    Version {
        /// The file's version.
        found: u16,
    },
    /// The model has no layers or too many.
    #[error("a model needs 1..={MAX_LAYERS} layers; this one has {0}")]
    LayerCount(usize),
    /// The input description is invalid.
    #[error("input: {0}")]
    Input(LayerProblem),
    /// One layer is invalid.
    #[error("layer {index} ({kind}): {problem}")]
    Layer {
        /// Position of the layer (0-based).
        index: usize,
        /// `"conv2d"` or `"dense"`.
        kind: &'static str,
        /// What is wrong.
        problem: LayerProblem,
    },
    /// The model as a whole has too many weights.
    #[error("the model has {0} weights; the limit is {MAX_MODEL_WEIGHTS}")]
    TooManyWeights(usize),
    /// The class list does not match the last layer.
    #[error("{found} class labels for {expected} outputs of the last layer")]
    Classes {
        /// Outputs of the last layer.
        expected: usize,
        /// Labels given.
        found: usize,
    },
}

/// Shape `[C, H, W]` of an activation tensor.
pub type Shape = [usize; 3];

/// A validated model: the file plus every tensor's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    file: ModelFile,
    /// `shapes[0]` is the input; `shapes[i + 1]` is layer `i`'s output.
    shapes: Vec<Shape>,
}

impl Model {
    /// Checks every limit and consistency rule of `docs/model-format.md`.
    pub fn new(file: ModelFile) -> Result<Self, ModelError> {
        if file.version != FORMAT_VERSION {
            return Err(ModelError::Version {
                found: file.version,
            });
        }
        if file.layers.is_empty() || file.layers.len() > MAX_LAYERS {
            return Err(ModelError::LayerCount(file.layers.len()));
        }
        let input: Shape = file.input.shape.map(usize::from);
        check_shape(&input).map_err(ModelError::Input)?;
        // Real-valued inputs are divided by it (quantised with the model's input scale).
        let scale = file.input.scale;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(ModelError::Input(LayerProblem::Scale(scale)));
        }
        let mut shapes = Vec::with_capacity(file.layers.len() + 1);
        shapes.push(input);
        let mut total_weights = 0usize;
        for (index, layer) in file.layers.iter().enumerate() {
            let at = |problem| ModelError::Layer {
                index,
                kind: layer.kind(),
                problem,
            };
            let in_shape = shapes[index];
            let in_zp = if index == 0 {
                file.input.zero_point
            } else {
                file.layers[index - 1].output().zero_point
            };
            let out = layer.check(in_shape, in_zp).map_err(at)?;
            total_weights += layer.weights().len();
            shapes.push(out);
        }
        if total_weights > MAX_MODEL_WEIGHTS {
            return Err(ModelError::TooManyWeights(total_weights));
        }
        let outputs = shapes.last().map_or(0, |s| s.iter().product());
        if file.classes.len() != outputs {
            return Err(ModelError::Classes {
                expected: outputs,
                found: file.classes.len(),
            });
        }
        Ok(Self { file, shapes })
    }

    /// The model as stored.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.file.layers
    }

    /// Shape of the input.
    pub fn input_shape(&self) -> Shape {
        self.shapes[0]
    }

    /// Number of input elements.
    pub fn input_len(&self) -> usize {
        self.shapes[0].iter().product()
    }

    /// Shape of layer `i`'s input.
    pub fn layer_input_shape(&self, i: usize) -> Shape {
        self.shapes[i]
    }

    /// Shape of layer `i`'s output.
    pub fn layer_output_shape(&self, i: usize) -> Shape {
        self.shapes[i + 1]
    }

    /// Zero point of layer `i`'s input.
    pub fn layer_input_zero_point(&self, i: usize) -> i8 {
        match i {
            0 => self.file.input.zero_point,
            _ => self.file.layers[i - 1].output().zero_point,
        }
    }

    /// Number of outputs of the last layer (= classes).
    pub fn output_len(&self) -> usize {
        self.file.classes.len()
    }

    /// Total weights of all layers.
    pub fn weight_count(&self) -> usize {
        self.layers().iter().map(|l| l.weights().len()).sum()
    }

    /// Multiply–accumulates of one inference (padded taps excluded).
    pub fn mac_count(&self) -> usize {
        (0..self.layers().len())
            .map(|i| {
                let out = self.layer_output_shape(i);
                let positions = out[1] * out[2];
                (0..positions)
                    .map(|p| crate::infer::taps(self, i, p).len())
                    .sum::<usize>()
                    * out[0]
            })
            .sum()
    }
}

impl Layer {
    /// `"conv2d"` or `"dense"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv2d(_) => "conv2d",
            Layer::Dense(_) => "dense",
        }
    }

    /// The weights.
    pub fn weights(&self) -> &[i8] {
        match self {
            Layer::Conv2d(c) => &c.weights,
            Layer::Dense(d) => &d.weights,
        }
    }

    /// One bias per output channel.
    pub fn bias(&self) -> &[i32] {
        match self {
            Layer::Conv2d(c) => &c.bias,
            Layer::Dense(d) => &d.bias,
        }
    }

    /// One requantisation per output channel.
    pub fn requant(&self) -> &[Requant] {
        match self {
            Layer::Conv2d(c) => &c.requant,
            Layer::Dense(d) => &d.requant,
        }
    }

    /// The output quantisation.
    pub fn output(&self) -> Quant {
        match self {
            Layer::Conv2d(c) => c.output,
            Layer::Dense(d) => d.output,
        }
    }

    /// Whether the output is clamped below at its zero point.
    pub fn relu(&self) -> bool {
        match self {
            Layer::Conv2d(c) => c.relu,
            Layer::Dense(d) => d.relu,
        }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        match self {
            Layer::Conv2d(c) => c.out_channels.into(),
            Layer::Dense(d) => d.out_features.into(),
        }
    }

    /// Validates the layer against its input and returns its output shape.
    fn check(&self, input: Shape, in_zp: i8) -> Result<Shape, LayerProblem> {
        let o = self.out_channels();
        size("output channels", o, MAX_DIM.into())?;
        let (out, fan_in) = match self {
            Layer::Conv2d(c) => {
                let [kh, kw] = c.kernel.map(usize::from);
                let [sh, sw] = c.stride.map(usize::from);
                let [pt, pl, pb, pr] = c.padding.map(usize::from);
                size("kernel height", kh, MAX_DIM.into())?;
                size("kernel width", kw, MAX_DIM.into())?;
                size("stride height", sh, MAX_DIM.into())?;
                size("stride width", sw, MAX_DIM.into())?;
                let padded = [input[1] + pt + pb, input[2] + pl + pr];
                if kh > padded[0] || kw > padded[1] {
                    return Err(LayerProblem::KernelTooLarge {
                        kernel: c.kernel,
                        padded,
                    });
                }
                let out = [o, (padded[0] - kh) / sh + 1, (padded[1] - kw) / sw + 1];
                (
                    out,
                    [input[0], kh, kw]
                        .iter()
                        .map(|&d| d as u64)
                        .product::<u64>(),
                )
            }
            Layer::Dense(_) => ([o, 1, 1], input.iter().map(|&d| d as u64).product::<u64>()),
        };
        check_shape(&out)?;
        let weights = self.weights();
        size("weight count", weights.len(), MAX_LAYER_WEIGHTS)?;
        if o as u64 * fan_in != weights.len() as u64 {
            return Err(LayerProblem::Count {
                what: "weights",
                expected: usize::try_from(o as u64 * fan_in).unwrap_or(usize::MAX),
                found: weights.len(),
            });
        }
        // Now known to fit: o · fan_in = weights.len().
        let fan_in = fan_in as usize;
        count("biases", o, self.bias().len())?;
        count("requant entries", o, self.requant().len())?;
        if let Some(index) = weights.iter().position(|&w| w == i8::MIN) {
            return Err(LayerProblem::Weight { index });
        }
        let scale = self.output().scale;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(LayerProblem::Scale(scale));
        }
        let max_dx = (127 - i32::from(in_zp)).max(i32::from(in_zp) + 128) as u64;
        for (channel, r) in self.requant().iter().enumerate() {
            if !(1 << 30..=i32::MAX).contains(&r.multiplier) {
                return Err(LayerProblem::Multiplier {
                    channel,
                    value: r.multiplier,
                });
            }
            if !(-31..=30).contains(&r.shift) {
                return Err(LayerProblem::Shift {
                    channel,
                    value: r.shift,
                });
            }
            let w = &weights[channel * fan_in..(channel + 1) * fan_in];
            let abs_w: u64 = w.iter().map(|&x| u64::from(x.unsigned_abs())).sum();
            let worst =
                (u64::from(self.bias()[channel].unsigned_abs()) + abs_w * max_dx) << r.shift.max(0);
            if worst > i32::MAX as u64 {
                return Err(LayerProblem::Overflow { channel, worst });
            }
        }
        Ok(out)
    }
}

fn size(what: &'static str, value: usize, max: usize) -> Result<(), LayerProblem> {
    if value == 0 || value > max {
        return Err(LayerProblem::Size { what, value, max });
    }
    Ok(())
}

fn count(what: &'static str, expected: usize, found: usize) -> Result<(), LayerProblem> {
    if expected != found {
        return Err(LayerProblem::Count {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

fn check_shape(s: &Shape) -> Result<(), LayerProblem> {
    for (what, &d) in ["channels", "height", "width"].iter().zip(s) {
        size(what, d, MAX_DIM.into())?;
    }
    let elements = s.iter().map(|&d| d as u64).product::<u64>();
    size(
        "tensor size",
        usize::try_from(elements).unwrap_or(usize::MAX),
        MAX_TENSOR,
    )
}
