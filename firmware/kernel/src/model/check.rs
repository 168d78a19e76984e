//! Validation: every limit and consistency rule of `docs/model-format.md`, and the shapes and
//! quantisations of every tensor.

use alloc::vec::Vec;

use crate::softmax::{SoftmaxError, SoftmaxParams, MAX_SOFTMAX_LEN};

use super::{
    Add, Clamp, Conv2d, Dense, DepthwiseConv2d, ModelFile, Op, Pool, Quant, Requant, Reshape,
    Shape, Softmax, FORMAT_VERSION, MAX_CLASSES, MAX_DIM, MAX_LAYER_WEIGHTS, MAX_MODEL_ACTIVATIONS,
    MAX_MODEL_WEIGHTS, MAX_OPS, MAX_TENSOR,
};

/// Longest class label, in bytes.
const MAX_LABEL: usize = 256;

/// What is wrong with one op (or the input).
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
    /// A requantisation shift is outside its range.
    #[error("requant shift of channel {channel} is {value}, outside [{min}, {max}]")]
    Shift {
        /// The channel.
        channel: usize,
        /// Its shift.
        value: i8,
        /// Smallest allowed.
        min: i8,
        /// Largest allowed.
        max: i8,
    },
    /// The kernel does not fit the padded input.
    #[error("kernel {kernel:?} (dilated) is larger than the padded input {padded:?}")]
    KernelTooLarge {
        /// `[KH, KW]` after dilation.
        kernel: [usize; 2],
        /// Padded `[H, W]`.
        padded: [usize; 2],
    },
    /// A pool's padding is as large as its window: some outputs would see no input.
    #[error("padding {padding:?} must be smaller than the window {kernel:?} on each side")]
    PoolPadding {
        /// `[top, left, bottom, right]`.
        padding: [u16; 4],
        /// `[KH, KW]`.
        kernel: [u16; 2],
    },
    /// A channel's accumulator could leave int32 (after the left shift).
    #[error("channel {channel} can accumulate beyond int32 (worst case |acc|·2^shift = {worst})")]
    Overflow {
        /// The channel.
        channel: usize,
        /// The worst case magnitude.
        worst: u64,
    },
    /// A scale is not a positive finite number.
    #[error("scale {0} is not a positive finite number")]
    Scale(f32),
    /// The activation's range is empty.
    #[error("activation range [{min}, {max}] is empty")]
    Clamp {
        /// Its low end.
        min: i8,
        /// Its high end.
        max: i8,
    },
    /// The op reads a tensor that is not produced before it.
    #[error("reads tensor {tensor}, but only tensors 0..{available} exist before it")]
    Input {
        /// The tensor named.
        tensor: usize,
        /// Tensors produced so far.
        available: usize,
    },
    /// The two inputs of an add differ in shape (broadcasting is not supported).
    #[error("inputs have shapes {a:?} and {b:?}; add needs equal shapes (no broadcasting)")]
    Broadcast {
        /// First input's `[C, H, W]`.
        a: Shape,
        /// Second input's `[C, H, W]`.
        b: Shape,
    },
    /// The softmax cannot run as TFLite Micro's.
    #[error("{0}")]
    Softmax(crate::softmax::SoftmaxError),
    /// A reshape changes the number of elements.
    #[error("reshape of {from} elements into {to}")]
    Reshape {
        /// Input elements.
        from: usize,
        /// Output elements.
        to: usize,
    },
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
        /// [`super::MAX_FILE_BYTES`].
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
        "model format version {found} is not supported (this build reads versions 1 and \
         {FORMAT_VERSION})"
    )]
    Version {
        /// The file's version.
        found: u16,
    },
    /// The model has no ops or too many.
    #[error("a model needs 1..={MAX_OPS} ops; this one has {0}")]
    OpCount(usize),
    /// The input description is invalid.
    #[error("input: {0}")]
    Input(LayerProblem),
    /// One op is invalid.
    #[error("op {index} ({kind}): {problem}")]
    Op {
        /// Position of the op (0-based).
        index: usize,
        /// Its kind, as in the JSON form.
        kind: &'static str,
        /// What is wrong.
        problem: LayerProblem,
    },
    /// The model as a whole has too many weights.
    #[error("the model has {0} weights; the limit is {MAX_MODEL_WEIGHTS}")]
    TooManyWeights(usize),
    /// The model as a whole has too many activations.
    #[error("the model's tensors hold {0} values in all; the limit is {MAX_MODEL_ACTIVATIONS}")]
    TooManyActivations(usize),
    /// The class list does not match the output.
    #[error("{found} class labels for {expected} outputs (give one per output, or none)")]
    Classes {
        /// Outputs of the model.
        expected: usize,
        /// Labels given.
        found: usize,
    },
    /// A class label is too long.
    #[error("class label {0} is longer than {MAX_LABEL} bytes")]
    Label(usize),
    /// The softmax's parameters are invalid.
    #[error("softmax: {0}")]
    Softmax(LayerProblem),
}

/// Every tensor's shape and quantisation, or what is wrong.
pub(super) fn model(file: &ModelFile) -> Result<(Vec<Shape>, Vec<Quant>), ModelError> {
    if file.version != FORMAT_VERSION {
        return Err(ModelError::Version {
            found: file.version,
        });
    }
    if file.ops.is_empty() || file.ops.len() > MAX_OPS {
        return Err(ModelError::OpCount(file.ops.len()));
    }
    let input: Shape = file.input.shape.map(usize::from);
    shape(&input).map_err(ModelError::Input)?;
    scale(file.input.scale).map_err(ModelError::Input)?;
    let mut shapes = Vec::with_capacity(file.ops.len() + 1);
    let mut quants = Vec::with_capacity(file.ops.len() + 1);
    shapes.push(input);
    quants.push(Quant {
        scale: file.input.scale,
        zero_point: file.input.zero_point,
    });
    let (mut weights, mut activations) = (0usize, elements(&input));
    for (index, op) in file.ops.iter().enumerate() {
        let at = |problem| ModelError::Op {
            index,
            kind: op.kind(),
            problem,
        };
        for t in op.inputs() {
            if t >= shapes.len() {
                return Err(at(LayerProblem::Input {
                    tensor: t,
                    available: shapes.len(),
                }));
            }
        }
        let (out, quant) = check_op(op, &shapes, &quants).map_err(at)?;
        weights += op.weights().len();
        activations += elements(&out);
        shapes.push(out);
        quants.push(quant);
    }
    if weights > MAX_MODEL_WEIGHTS {
        return Err(ModelError::TooManyWeights(weights));
    }
    if activations > MAX_MODEL_ACTIVATIONS {
        return Err(ModelError::TooManyActivations(activations));
    }
    let outputs = shapes.last().map_or(0, elements);
    if !file.classes.is_empty() && file.classes.len() != outputs {
        return Err(ModelError::Classes {
            expected: outputs,
            found: file.classes.len(),
        });
    }
    if let Some(i) = file.classes.iter().position(|c| c.len() > MAX_LABEL) {
        return Err(ModelError::Label(i));
    }
    if file.classes.len() > MAX_CLASSES {
        return Err(ModelError::Classes {
            expected: outputs,
            found: file.classes.len(),
        });
    }
    if let Some(s) = &file.softmax {
        if !(s.beta.is_finite() && s.beta > 0.0) {
            return Err(ModelError::Softmax(LayerProblem::Scale(s.beta)));
        }
        let logits = quants.last().map_or(file.input.scale, |q| q.scale);
        softmax(s, logits, outputs).map_err(|e| ModelError::Softmax(LayerProblem::Softmax(e)))?;
    }
    Ok((shapes, quants))
}

/// The softmax's parameters can be prepared as TFLite Micro prepares them, it covers at most
/// [`MAX_SOFTMAX_LEN`] values, and its output is quantised as TFLite's int8 softmax requires.
fn softmax(s: &Softmax, logits_scale: f32, outputs: usize) -> Result<(), SoftmaxError> {
    if outputs > MAX_SOFTMAX_LEN {
        return Err(SoftmaxError::Length(outputs));
    }
    if s.output.scale != 1.0 / 256.0 || s.output.zero_point != -128 {
        return Err(SoftmaxError::Output {
            scale: s.output.scale,
            zero_point: s.output.zero_point,
        });
    }
    SoftmaxParams::new(s.beta, logits_scale).map(|_| ())
}

fn elements(s: &Shape) -> usize {
    s.iter().product()
}

/// The op's output shape and quantisation, given the tensors before it.
fn check_op(op: &Op, shapes: &[Shape], quants: &[Quant]) -> Result<(Shape, Quant), LayerProblem> {
    let input = |t: u16| (shapes[usize::from(t)], quants[usize::from(t)]);
    let out = match op {
        Op::Conv2d(c) => conv(c, input(c.input))?,
        Op::DepthwiseConv2d(c) => depthwise(c, input(c.input))?,
        Op::Dense(d) => dense(d, input(d.input))?,
        Op::AvgPool2d(p) | Op::MaxPool2d(p) => pool(p, input(p.input))?,
        Op::Add(a) => add(a, input(a.inputs[0]), input(a.inputs[1]))?,
        Op::Reshape(r) => reshape(r, input(r.input))?,
    };
    shape(&out.0)?;
    Ok(out)
}

/// Output `[H, W]` of a window of `kernel` (dilated) moved by `stride` over `input` padded by
/// `padding`.
fn windowed(
    input: Shape,
    kernel: [u16; 2],
    stride: [u16; 2],
    dilation: [u16; 2],
    padding: [u16; 4],
) -> Result<[usize; 2], LayerProblem> {
    for (what, v) in [
        ("kernel height", kernel[0]),
        ("kernel width", kernel[1]),
        ("stride height", stride[0]),
        ("stride width", stride[1]),
        ("dilation height", dilation[0]),
        ("dilation width", dilation[1]),
    ] {
        size(what, v.into(), MAX_DIM.into())?;
    }
    let [pt, pl, pb, pr] = padding.map(usize::from);
    let padded = [input[1] + pt + pb, input[2] + pl + pr];
    let eff = [0, 1].map(|i| (usize::from(kernel[i]) - 1) * usize::from(dilation[i]) + 1);
    if eff[0] > padded[0] || eff[1] > padded[1] {
        return Err(LayerProblem::KernelTooLarge {
            kernel: eff,
            padded,
        });
    }
    Ok([0, 1].map(|i| (padded[i] - eff[i]) / usize::from(stride[i]) + 1))
}

fn conv(c: &Conv2d, (input, q): (Shape, Quant)) -> Result<(Shape, Quant), LayerProblem> {
    let o = usize::from(c.out_channels);
    size("output channels", o, MAX_DIM.into())?;
    let [h, w] = windowed(input, c.kernel, c.stride, c.dilation, c.padding)?;
    let fan_in = input[0] * usize::from(c.kernel[0]) * usize::from(c.kernel[1]);
    mac(
        o,
        fan_in,
        &c.weights,
        &c.bias,
        &c.requant,
        q.zero_point,
        c.clamp,
    )?;
    scale(c.output.scale)?;
    Ok(([o, h, w], c.output))
}

fn depthwise(
    c: &DepthwiseConv2d,
    (input, q): (Shape, Quant),
) -> Result<(Shape, Quant), LayerProblem> {
    size("depth multiplier", c.multiplier.into(), MAX_DIM.into())?;
    let o = input[0] * usize::from(c.multiplier);
    size("output channels", o, MAX_DIM.into())?;
    let [h, w] = windowed(input, c.kernel, c.stride, c.dilation, c.padding)?;
    let fan_in = usize::from(c.kernel[0]) * usize::from(c.kernel[1]);
    mac(
        o,
        fan_in,
        &c.weights,
        &c.bias,
        &c.requant,
        q.zero_point,
        c.clamp,
    )?;
    scale(c.output.scale)?;
    Ok(([o, h, w], c.output))
}

fn dense(d: &Dense, (input, q): (Shape, Quant)) -> Result<(Shape, Quant), LayerProblem> {
    let o = usize::from(d.out_features);
    size("output features", o, MAX_DIM.into())?;
    mac(
        o,
        elements(&input),
        &d.weights,
        &d.bias,
        &d.requant,
        q.zero_point,
        d.clamp,
    )?;
    scale(d.output.scale)?;
    Ok(([o, 1, 1], d.output))
}

fn pool(p: &Pool, (input, q): (Shape, Quant)) -> Result<(Shape, Quant), LayerProblem> {
    let [h, w] = windowed(input, p.kernel, p.stride, [1, 1], p.padding)?;
    let [pt, pl, pb, pr] = p.padding;
    if pt >= p.kernel[0] || pb >= p.kernel[0] || pl >= p.kernel[1] || pr >= p.kernel[1] {
        return Err(LayerProblem::PoolPadding {
            padding: p.padding,
            kernel: p.kernel,
        });
    }
    clamp(p.clamp)?;
    Ok(([input[0], h, w], q))
}

fn add(
    a: &Add,
    (x, _): (Shape, Quant),
    (y, _): (Shape, Quant),
) -> Result<(Shape, Quant), LayerProblem> {
    if x != y {
        return Err(LayerProblem::Broadcast { a: x, b: y });
    }
    for (channel, r) in a
        .input_requant
        .iter()
        .chain([&a.output_requant])
        .enumerate()
    {
        requant(channel, *r, -31, 0)?;
    }
    clamp(a.clamp)?;
    scale(a.output.scale)?;
    Ok((x, a.output))
}

fn reshape(r: &Reshape, (input, q): (Shape, Quant)) -> Result<(Shape, Quant), LayerProblem> {
    let out = r.shape.map(usize::from);
    shape(&out)?;
    if elements(&out) != elements(&input) {
        return Err(LayerProblem::Reshape {
            from: elements(&input),
            to: elements(&out),
        });
    }
    Ok((out, q))
}

/// Weights, biases and requantisation of an op with `o` outputs of `fan_in` taps each.
fn mac(
    o: usize,
    fan_in: usize,
    weights: &[i8],
    bias: &[i32],
    requants: &[Requant],
    in_zp: i8,
    act: Clamp,
) -> Result<(), LayerProblem> {
    size("weight count", weights.len(), MAX_LAYER_WEIGHTS)?;
    let expected = o as u64 * fan_in as u64;
    if expected != weights.len() as u64 {
        return Err(LayerProblem::Count {
            what: "weights",
            expected: usize::try_from(expected).unwrap_or(usize::MAX),
            found: weights.len(),
        });
    }
    count("biases", o, bias.len())?;
    count("requant entries", o, requants.len())?;
    if let Some(index) = weights.iter().position(|&w| w == i8::MIN) {
        return Err(LayerProblem::Weight { index });
    }
    clamp(act)?;
    let max_dx = (127 - i32::from(in_zp)).max(i32::from(in_zp) + 128) as u64;
    for (channel, r) in requants.iter().enumerate() {
        requant(channel, *r, -31, 30)?;
        let w = &weights[channel * fan_in..(channel + 1) * fan_in];
        let abs_w: u64 = w.iter().map(|&x| u64::from(x.unsigned_abs())).sum();
        let worst = (u64::from(bias[channel].unsigned_abs()) + abs_w * max_dx) << r.shift.max(0);
        if worst > i32::MAX as u64 {
            return Err(LayerProblem::Overflow { channel, worst });
        }
    }
    Ok(())
}

fn requant(channel: usize, r: Requant, min: i8, max: i8) -> Result<(), LayerProblem> {
    if !(1 << 30..=i32::MAX).contains(&r.multiplier) {
        return Err(LayerProblem::Multiplier {
            channel,
            value: r.multiplier,
        });
    }
    if !(min..=max).contains(&r.shift) {
        return Err(LayerProblem::Shift {
            channel,
            value: r.shift,
            min,
            max,
        });
    }
    Ok(())
}

fn clamp(c: Clamp) -> Result<(), LayerProblem> {
    if c.min > c.max {
        return Err(LayerProblem::Clamp {
            min: c.min,
            max: c.max,
        });
    }
    Ok(())
}

fn scale(s: f32) -> Result<(), LayerProblem> {
    if !(s.is_finite() && s > 0.0) {
        return Err(LayerProblem::Scale(s));
    }
    Ok(())
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

fn shape(s: &Shape) -> Result<(), LayerProblem> {
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
