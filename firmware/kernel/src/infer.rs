//! int8 inference with TFLite's reference-kernel arithmetic, keeping every op's sums: the trace
//! the witness is built from.

use alloc::{vec, vec::Vec};

use crate::{
    model::{Model, Op, Order, Shape, ADD_LEFT_SHIFT},
    quant::{multiply_by_quantized_multiplier_rounded, requantize},
};

/// One input of a multiply–accumulate (or one tap of a pool): which element of the op's input,
/// and which weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    /// Flat index into the op's input (`[C][H][W]` order).
    pub input: usize,
    /// Index into the op's weights (for a pool: the offset `ky·KW + kx` in its window).
    pub weight: usize,
}

/// A window (kernel) sliding over a `[H, W]` plane: which input pixels each output position
/// sees. Padded taps are left out.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    in_hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: [usize; 2],
    out_w: usize,
}

impl Window {
    fn new(
        input: Shape,
        output: Shape,
        kernel: [u16; 2],
        stride: [u16; 2],
        dilation: [u16; 2],
        padding: [u16; 4],
    ) -> Self {
        Self {
            in_hw: [input[1], input[2]],
            kernel: kernel.map(usize::from),
            stride: stride.map(usize::from),
            dilation: dilation.map(usize::from),
            pad: [padding[0].into(), padding[1].into()],
            out_w: output[2],
        }
    }

    /// The window of op `op` of `model` (a convolution or a pool), if it has one.
    pub fn of(model: &Model, op: usize) -> Option<Self> {
        let (input, output) = (
            model.shape(model.ops()[op].inputs()[0]),
            model.shape(op + 1),
        );
        Some(match &model.ops()[op] {
            Op::Conv2d(c) => Self::new(input, output, c.kernel, c.stride, c.dilation, c.padding),
            Op::DepthwiseConv2d(c) => {
                Self::new(input, output, c.kernel, c.stride, c.dilation, c.padding)
            }
            Op::AvgPool2d(p) | Op::MaxPool2d(p) => {
                Self::new(input, output, p.kernel, p.stride, [1, 1], p.padding)
            }
            _ => return None,
        })
    }

    /// Taps of one kernel plane.
    pub fn size(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// The valid taps at output position `position` (flat over the output's `H·W`), in kernel
    /// order: `(pixel, offset)` with `pixel` the flat index into the input's `H·W` and
    /// `offset = ky·KW + kx`.
    pub fn taps(&self, position: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (oy, ox) = (position / self.out_w, position % self.out_w);
        let [kh, kw] = self.kernel;
        (0..kh * kw).filter_map(move |offset| {
            let (ky, kx) = (offset / kw, offset % kw);
            let py = oy * self.stride[0] + ky * self.dilation[0];
            let px = ox * self.stride[1] + kx * self.dilation[1];
            let (iy, ix) = (py.checked_sub(self.pad[0])?, px.checked_sub(self.pad[1])?);
            (iy < self.in_hw[0] && ix < self.in_hw[1]).then_some((iy * self.in_hw[1] + ix, offset))
        })
    }
}

/// The taps of output element `element` (flat `[C][H][W]` index of the output) of op `op`, in
/// the order the accumulator sums them: input channel, then kernel row, then column. Empty for
/// adds and reshapes.
pub fn taps(model: &Model, op: usize, element: usize) -> Vec<Tap> {
    let o = &model.ops()[op];
    let [_, oh, ow] = model.shape(op + 1);
    let (channel, position) = (element / (oh * ow), element % (oh * ow));
    let input = model.shape(o.inputs().first().copied().unwrap_or(0));
    let plane = input[1] * input[2];
    let window = Window::of(model, op);
    match (o, window) {
        (Op::Dense(_), _) => {
            let fan_in = model.len(o.inputs()[0]);
            (0..fan_in)
                .map(|i| Tap {
                    input: i,
                    weight: channel * fan_in + i,
                })
                .collect()
        }
        (Op::Conv2d(_), Some(w)) => {
            let k = w.size();
            (0..input[0])
                .flat_map(|c| {
                    w.taps(position).map(move |(pixel, offset)| Tap {
                        input: c * plane + pixel,
                        weight: (channel * input[0] + c) * k + offset,
                    })
                })
                .collect()
        }
        (Op::DepthwiseConv2d(d), Some(w)) => {
            let c = channel / usize::from(d.multiplier);
            let k = w.size();
            w.taps(position)
                .map(|(pixel, offset)| Tap {
                    input: c * plane + pixel,
                    weight: channel * k + offset,
                })
                .collect()
        }
        (Op::AvgPool2d(_) | Op::MaxPool2d(_), Some(w)) => w
            .taps(position)
            .map(|(pixel, offset)| Tap {
                input: channel * plane + pixel,
                weight: offset,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Which element of a reshape's input becomes output element `element`.
pub fn reshape_source(model: &Model, op: usize, element: usize) -> usize {
    let Op::Reshape(r) = &model.ops()[op] else {
        return element;
    };
    match r.order {
        Order::Chw => element,
        Order::Hwc => {
            let from = model.shape(usize::from(r.input));
            let to = model.shape(op + 1);
            from_hwc(from, to_hwc(to, element))
        }
    }
}

/// The `[H][W][C]` flat index of the `[C][H][W]` flat index `i` of a tensor of shape `s`.
pub fn to_hwc(s: Shape, i: usize) -> usize {
    let [_, h, w] = s;
    let (c, y, x) = (i / (h * w), i / w % h, i % w);
    (y * w + x) * s[0] + c
}

/// The `[C][H][W]` flat index of the `[H][W][C]` flat index `i` of a tensor of shape `s`.
pub fn from_hwc(s: Shape, i: usize) -> usize {
    let [c, h, w] = s;
    let (y, x, ch) = (i / (w * c), i / c % w, i % c);
    (ch * h + y) * w + x
}

/// What one op computed, in `[C][H][W]` order of its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpTrace {
    /// The int32 value each output was rescaled from: a multiply–accumulate's accumulator
    /// (bias included), an average pool's sum of its inputs, an add's sum of its rescaled
    /// inputs. Empty for max pools and reshapes.
    pub acc: Vec<i32>,
    /// The int8 outputs.
    pub out: Vec<i8>,
}

/// Everything one inference computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The input, `[C][H][W]`.
    pub input: Vec<i8>,
    /// Per op.
    pub ops: Vec<OpTrace>,
}

impl Trace {
    /// The values of tensor `t` (0 the input, `i + 1` op `i`'s output).
    pub fn tensor(&self, t: usize) -> &[i8] {
        match t {
            0 => &self.input,
            t => self.ops.get(t - 1).map_or(&[], |o| &o.out),
        }
    }

    /// The last op's output (the logits).
    pub fn output(&self) -> &[i8] {
        self.ops.last().map_or(&[], |o| &o.out)
    }

    /// The predicted class: the first index of the largest output.
    pub fn class(&self) -> usize {
        argmax(self.output())
    }
}

/// The first index of the largest value (0 for an empty slice).
pub fn argmax(values: &[i8]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Why an inference could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InferError {
    /// The input has the wrong number of elements.
    #[error("the model takes {expected} input values; got {found}")]
    InputLength {
        /// What the model takes.
        expected: usize,
        /// What was given.
        found: usize,
    },
    /// The circuit hashes its input or its weights, and the witness was asked for without
    /// Poseidon and a salt.
    #[error(
        "the circuit hashes its input or its weights: its witness needs Poseidon, and a salt \
         for the input (Layout::witness_with_salt)"
    )]
    NoSalt,
}

/// TFLite's int8 average: the sum over `count` taps rounded to nearest, ties away from zero
/// (`(sum ± count/2) / count` in C's truncating division).
pub fn average(sum: i32, count: usize) -> i32 {
    let c = count as i32;
    if sum > 0 {
        (sum + c / 2) / c
    } else {
        (sum - c / 2) / c
    }
}

/// Runs the model on `input` (int8, `[C][H][W]` order).
pub fn infer(model: &Model, input: &[i8]) -> Result<Trace, InferError> {
    if input.len() != model.input_len() {
        return Err(InferError::InputLength {
            expected: model.input_len(),
            found: input.len(),
        });
    }
    let mut trace = Trace {
        input: input.to_vec(),
        ops: Vec::with_capacity(model.ops().len()),
    };
    for i in 0..model.ops().len() {
        let op = run(model, i, &trace);
        trace.ops.push(op);
    }
    Ok(trace)
}

/// Op `i` on the tensors of `trace` (which holds every tensor before it).
fn run(model: &Model, i: usize, trace: &Trace) -> OpTrace {
    let op = &model.ops()[i];
    let n = model.len(i + 1);
    let rounding = model.rounding();
    let inputs = op.inputs();
    let x = trace.tensor(inputs.first().copied().unwrap_or(0));
    let zp = i32::from(model.quant(inputs.first().copied().unwrap_or(0)).zero_point);
    match op {
        Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::Dense(_) => {
            let p = op.mac().expect("a multiply-accumulate op");
            let [o, oh, ow] = model.shape(i + 1);
            let plane = oh * ow;
            let weights = op.weights();
            let fan_in = weights.len() / o;
            let mut acc = vec![0i32; n];
            let mut out = vec![0i8; n];
            for position in 0..plane {
                // A convolution's or dense layer's channels share their taps (channel 0's,
                // weights offset by the channel); a depthwise channel has its own input channel.
                let shared = match op {
                    Op::DepthwiseConv2d(_) => None,
                    _ => Some(taps(model, i, position)),
                };
                for ch in 0..o {
                    let e = ch * plane + position;
                    let own;
                    let (t, base) = match &shared {
                        Some(t) => (t.as_slice(), ch * fan_in),
                        None => {
                            own = taps(model, i, e);
                            (own.as_slice(), 0)
                        }
                    };
                    // Model validation bounds every partial sum by i32::MAX.
                    let a = t.iter().fold(p.bias[ch], |a, t| {
                        a + (i32::from(x[t.input]) - zp) * i32::from(weights[base + t.weight])
                    });
                    acc[e] = a;
                    out[e] = requantize(a, p.requant[ch], rounding, p.output.zero_point, p.clamp);
                }
            }
            OpTrace { acc, out }
        }
        Op::AvgPool2d(pool) => {
            let mut acc = vec![0i32; n];
            let mut out = vec![0i8; n];
            for e in 0..n {
                let taps = taps(model, i, e);
                let sum: i32 = taps.iter().map(|t| i32::from(x[t.input])).sum();
                acc[e] = sum;
                out[e] = pool.clamp.apply(average(sum, taps.len()).into());
            }
            OpTrace { acc, out }
        }
        Op::MaxPool2d(pool) => {
            let out = (0..n)
                .map(|e| {
                    let max = taps(model, i, e)
                        .iter()
                        .map(|t| x[t.input])
                        .max()
                        .unwrap_or(i8::MIN);
                    pool.clamp.apply(max.into())
                })
                .collect();
            OpTrace {
                acc: Vec::new(),
                out,
            }
        }
        Op::Add(add) => {
            let (a, b) = (trace.tensor(inputs[0]), trace.tensor(inputs[1]));
            let zps = inputs.iter().map(|&t| i32::from(model.quant(t).zero_point));
            let zps: Vec<i32> = zps.collect();
            let mut acc = vec![0i32; n];
            let mut out = vec![0i8; n];
            for e in 0..n {
                let scaled = |v: i8, k: usize| {
                    let shifted = (i32::from(v) - zps[k]) << ADD_LEFT_SHIFT;
                    multiply_by_quantized_multiplier_rounded(
                        shifted,
                        add.input_requant[k],
                        rounding,
                    )
                };
                let raw = scaled(a[e], 0) + scaled(b[e], 1);
                acc[e] = raw;
                out[e] = requantize(
                    raw,
                    add.output_requant,
                    rounding,
                    add.output.zero_point,
                    add.clamp,
                );
            }
            OpTrace { acc, out }
        }
        Op::Reshape(_) => OpTrace {
            acc: Vec::new(),
            out: (0..n).map(|e| x[reshape_source(model, i, e)]).collect(),
        },
    }
}
