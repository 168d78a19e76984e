//! Random valid models, for tests and benches: the shapes are the caller's, the numbers are
//! drawn so that outputs spread over the int8 range rather than saturating.

use alloc::{format, string::String, vec::Vec};

use rand::Rng;

use super::{
    Add, Clamp, Conv2d, Dense, DepthwiseConv2d, InputSpec, Model, ModelFile, Op, Order, Pool,
    Quant, Requant, Reshape, Rounding, Shape, FORMAT_VERSION,
};

/// An op to generate; each reads the tensor before it unless it says otherwise.
#[derive(Clone, Copy, Debug)]
pub enum Spec {
    /// A `conv2d`.
    Conv {
        /// Output channels.
        out: u16,
        /// `[KH, KW]`.
        kernel: [u16; 2],
        /// `[SH, SW]`.
        stride: [u16; 2],
        /// `[top, left, bottom, right]`.
        padding: [u16; 4],
    },
    /// A `conv2d` with dilation.
    DilatedConv {
        /// Output channels.
        out: u16,
        /// `[KH, KW]`.
        kernel: [u16; 2],
        /// `[DH, DW]`.
        dilation: [u16; 2],
    },
    /// A `depthwise_conv2d`.
    Depthwise {
        /// Depth multiplier.
        multiplier: u16,
        /// `[KH, KW]`.
        kernel: [u16; 2],
        /// `[SH, SW]`.
        stride: [u16; 2],
        /// `[top, left, bottom, right]`.
        padding: [u16; 4],
    },
    /// A `dense` layer.
    Dense {
        /// Outputs.
        out: u16,
    },
    /// An `avg_pool2d`.
    AvgPool {
        /// `[KH, KW]`.
        kernel: [u16; 2],
        /// `[SH, SW]`.
        stride: [u16; 2],
        /// `[top, left, bottom, right]`.
        padding: [u16; 4],
    },
    /// A `max_pool2d`.
    MaxPool {
        /// `[KH, KW]`.
        kernel: [u16; 2],
        /// `[SH, SW]`.
        stride: [u16; 2],
        /// `[top, left, bottom, right]`.
        padding: [u16; 4],
    },
    /// An `add` of the tensor before it and the tensor `back` tensors earlier (same shape).
    Add {
        /// How many tensors back the second input is (≥ 1).
        back: u16,
    },
    /// A channels-last `reshape` to a flat `[N, 1, 1]`.
    Flatten,
}

/// Requantisation that brings a sum of about `typical` magnitude to about ±64.
fn requant(rng: &mut impl Rng, typical: f64) -> Requant {
    let shift = -((typical / 64.0).log2().ceil().max(0.0) as i8);
    Requant {
        multiplier: rng.gen_range(1 << 30..=i32::MAX),
        shift,
    }
}

/// A random activation: none, ReLU or a narrower range.
fn clamp(rng: &mut impl Rng, output: Quant) -> Clamp {
    match rng.gen_range(0..3) {
        0 => Clamp::NONE,
        1 => Clamp {
            min: output.zero_point,
            max: i8::MAX,
        },
        _ => Clamp {
            min: output.zero_point,
            max: output.zero_point.saturating_add(100),
        },
    }
}

/// A random model with input shape `input` and the given ops.
pub fn model(rng: &mut impl Rng, input: [u16; 3], specs: &[Spec]) -> Model {
    let mut shapes: Vec<Shape> = alloc::vec![input.map(usize::from)];
    let mut ops = Vec::new();
    for spec in specs {
        let t = shapes.len() - 1;
        let shape = shapes[t];
        let tensor = t as u16;
        let output = Quant {
            scale: 0.05,
            zero_point: rng.gen_range(-20..=20),
        };
        let weights = |rng: &mut dyn rand::RngCore, n: usize| -> Vec<i8> {
            (0..n).map(|_| rng.gen_range(-127..=127)).collect()
        };
        let (op, next): (Op, Shape) = match *spec {
            Spec::Conv { .. } | Spec::DilatedConv { .. } => {
                let (out, kernel, stride, padding, dilation) = match *spec {
                    Spec::Conv {
                        out,
                        kernel,
                        stride,
                        padding,
                    } => (out, kernel, stride, padding, [1, 1]),
                    Spec::DilatedConv {
                        out,
                        kernel,
                        dilation,
                    } => (out, kernel, [1, 1], [0; 4], dilation),
                    _ => unreachable!(),
                };
                let o = usize::from(out);
                let [kh, kw] = kernel.map(usize::from);
                let [sh, sw] = stride.map(usize::from);
                let [dh, dw] = dilation.map(usize::from);
                let [pt, pl, pb, pr] = padding.map(usize::from);
                let h = (shape[1] + pt + pb - (kh - 1) * dh - 1) / sh + 1;
                let w = (shape[2] + pl + pr - (kw - 1) * dw - 1) / sw + 1;
                let fan_in = shape[0] * kh * kw;
                let typical = (fan_in as f64).sqrt() * 127.0 * 64.0;
                (
                    Op::Conv2d(Conv2d {
                        input: tensor,
                        out_channels: out,
                        kernel,
                        stride,
                        dilation,
                        padding,
                        weights: weights(rng, o * fan_in),
                        bias: (0..o).map(|_| rng.gen_range(-5000..=5000)).collect(),
                        requant: (0..o).map(|_| requant(rng, typical)).collect(),
                        output,
                        clamp: clamp(rng, output),
                    }),
                    [o, h, w],
                )
            }
            Spec::Depthwise {
                multiplier,
                kernel,
                stride,
                padding,
            } => {
                let o = shape[0] * usize::from(multiplier);
                let [kh, kw] = kernel.map(usize::from);
                let [sh, sw] = stride.map(usize::from);
                let [pt, pl, pb, pr] = padding.map(usize::from);
                let h = (shape[1] + pt + pb - kh) / sh + 1;
                let w = (shape[2] + pl + pr - kw) / sw + 1;
                let typical = ((kh * kw) as f64).sqrt() * 127.0 * 64.0;
                (
                    Op::DepthwiseConv2d(DepthwiseConv2d {
                        input: tensor,
                        multiplier,
                        kernel,
                        stride,
                        dilation: [1, 1],
                        padding,
                        weights: weights(rng, o * kh * kw),
                        bias: (0..o).map(|_| rng.gen_range(-2000..=2000)).collect(),
                        requant: (0..o).map(|_| requant(rng, typical)).collect(),
                        output,
                        clamp: clamp(rng, output),
                    }),
                    [o, h, w],
                )
            }
            Spec::Dense { out } => {
                let o = usize::from(out);
                let fan_in: usize = shape.iter().product();
                let typical = (fan_in as f64).sqrt() * 127.0 * 64.0;
                (
                    Op::Dense(Dense {
                        input: tensor,
                        out_features: out,
                        weights: weights(rng, o * fan_in),
                        bias: (0..o).map(|_| rng.gen_range(-5000..=5000)).collect(),
                        requant: (0..o).map(|_| requant(rng, typical)).collect(),
                        output,
                        clamp: clamp(rng, output),
                    }),
                    [o, 1, 1],
                )
            }
            Spec::AvgPool {
                kernel,
                stride,
                padding,
            }
            | Spec::MaxPool {
                kernel,
                stride,
                padding,
            } => {
                let [kh, kw] = kernel.map(usize::from);
                let [sh, sw] = stride.map(usize::from);
                let [pt, pl, pb, pr] = padding.map(usize::from);
                let h = (shape[1] + pt + pb - kh) / sh + 1;
                let w = (shape[2] + pl + pr - kw) / sw + 1;
                let pool = Pool {
                    input: tensor,
                    kernel,
                    stride,
                    padding,
                    clamp: if rng.gen() {
                        Clamp::NONE
                    } else {
                        Clamp { min: -100, max: 90 }
                    },
                };
                let op = match spec {
                    Spec::AvgPool { .. } => Op::AvgPool2d(pool),
                    _ => Op::MaxPool2d(pool),
                };
                (op, [shape[0], h, w])
            }
            Spec::Add { back } => {
                let other = t - usize::from(back);
                assert_eq!(shapes[other], shape, "add: shapes differ");
                let input_requant = [0, 1].map(|_| Requant {
                    multiplier: rng.gen_range(1 << 30..=i32::MAX),
                    shift: rng.gen_range(-3..=0),
                });
                (
                    Op::Add(Add {
                        inputs: [tensor, other as u16],
                        input_requant,
                        // The inputs come out near 2^20·|x|; bring their sum back to int8.
                        output_requant: Requant {
                            multiplier: rng.gen_range(1 << 30..=i32::MAX),
                            shift: -20,
                        },
                        output,
                        clamp: clamp(rng, output),
                    }),
                    shape,
                )
            }
            Spec::Flatten => {
                let n: usize = shape.iter().product();
                (
                    Op::Reshape(Reshape {
                        input: tensor,
                        shape: [n as u16, 1, 1],
                        order: Order::Hwc,
                    }),
                    [n, 1, 1],
                )
            }
        };
        ops.push(op);
        shapes.push(next);
    }
    let outputs: usize = shapes.last().map_or(0, |s| s.iter().product());
    let classes: Vec<String> = (0..outputs).map(|i| format!("class {i}")).collect();
    let file = ModelFile {
        version: FORMAT_VERSION,
        name: "synthetic".into(),
        description: "random weights, for tests".into(),
        source: "zkedge_kernel::model::synthetic".into(),
        input: InputSpec {
            shape: input,
            scale: 0.1,
            zero_point: rng.gen_range(-10..=10),
            order: Order::Chw,
        },
        rounding: if rng.gen() {
            Rounding::Single
        } else {
            Rounding::Double
        },
        ops,
        softmax: None,
        classes,
    };
    Model::new(file).expect("synthetic models are valid by construction")
}

/// A random int8 input for `model`.
pub fn input(rng: &mut impl Rng, model: &Model) -> Vec<i8> {
    (0..model.input_len()).map(|_| rng.gen()).collect()
}
