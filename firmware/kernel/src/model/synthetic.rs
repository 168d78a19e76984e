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
    /// A `conv2d` of the tensor `back` tensors before the current one (a shortcut).
    ConvOf {
        /// How many tensors back its input is (0: the current one).
        back: u16,
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
        let last = shapes.len() - 1;
        let t = match *spec {
            Spec::ConvOf { back, .. } => last - usize::from(back),
            _ => last,
        };
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
            Spec::Conv { .. } | Spec::DilatedConv { .. } | Spec::ConvOf { .. } => {
                let (out, kernel, stride, padding, dilation) = match *spec {
                    Spec::Conv {
                        out,
                        kernel,
                        stride,
                        padding,
                    }
                    | Spec::ConvOf {
                        out,
                        kernel,
                        stride,
                        padding,
                        ..
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
                let other = last - usize::from(back);
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

/// The MLPerf Tiny reference architectures (random weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Anomaly detection: the dense autoencoder 640→128×4→8→128×4→640 (0.26 M MACs).
    AnomalyDetection,
    /// A streaming-wake-word-sized depthwise-separable CNN (0.84 M MACs).
    StreamingWakeWord,
    /// Keyword spotting: DS-CNN on 49×10 MFCCs (2.66 M MACs).
    KeywordSpotting,
    /// Visual wake words: MobileNetV1 0.25 at 96×96×3 (7.5 M MACs).
    VisualWakeWords,
    /// Image classification: ResNet-8 on 32×32×3 (12.5 M MACs).
    ResNet8,
}

impl Arch {
    /// All of them, smallest first.
    pub const ALL: [Arch; 5] = [
        Arch::AnomalyDetection,
        Arch::StreamingWakeWord,
        Arch::KeywordSpotting,
        Arch::VisualWakeWords,
        Arch::ResNet8,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::AnomalyDetection => "anomaly-detection",
            Arch::StreamingWakeWord => "streaming-wake-word",
            Arch::KeywordSpotting => "keyword-spotting",
            Arch::VisualWakeWords => "visual-wake-words",
            Arch::ResNet8 => "resnet8",
        }
    }

    /// The input shape and ops.
    pub fn specs(self) -> ([u16; 3], Vec<Spec>) {
        let conv = |out, k: u16, s: u16, pad: [u16; 4]| Spec::Conv {
            out,
            kernel: [k, k],
            stride: [s, s],
            padding: pad,
        };
        let dw = |s: u16, pad: [u16; 4]| Spec::Depthwise {
            multiplier: 1,
            kernel: [3, 3],
            stride: [s, s],
            padding: pad,
        };
        let same1 = [1, 1, 1, 1];
        // TFLite's SAME padding for a 3×3 window at stride 2 on an even size.
        let same2 = [0, 0, 1, 1];
        match self {
            Arch::AnomalyDetection => {
                let mut ops = Vec::new();
                for out in [128, 128, 128, 128, 8, 128, 128, 128, 128, 640] {
                    ops.push(Spec::Dense { out });
                }
                ([640, 1, 1], ops)
            }
            Arch::StreamingWakeWord => (
                [1, 40, 40],
                alloc::vec![
                    conv(32, 3, 2, same2),
                    dw(2, same2),
                    conv(64, 1, 1, [0; 4]),
                    dw(1, same1),
                    conv(64, 1, 1, [0; 4]),
                    Spec::Flatten,
                    Spec::Dense { out: 3 },
                ],
            ),
            Arch::KeywordSpotting => {
                let mut ops = alloc::vec![Spec::Conv {
                    out: 64,
                    kernel: [10, 4],
                    stride: [2, 2],
                    padding: [4, 1, 5, 1],
                }];
                for _ in 0..4 {
                    ops.push(dw(1, same1));
                    ops.push(conv(64, 1, 1, [0; 4]));
                }
                ops.push(Spec::AvgPool {
                    kernel: [25, 5],
                    stride: [1, 1],
                    padding: [0; 4],
                });
                ops.push(Spec::Flatten);
                ops.push(Spec::Dense { out: 12 });
                ([1, 49, 10], ops)
            }
            Arch::VisualWakeWords => {
                let mut ops = alloc::vec![conv(8, 3, 2, same2)];
                let blocks: [(u16, u16); 13] = [
                    (1, 16),
                    (2, 32),
                    (1, 32),
                    (2, 64),
                    (1, 64),
                    (2, 128),
                    (1, 128),
                    (1, 128),
                    (1, 128),
                    (1, 128),
                    (1, 128),
                    (2, 256),
                    (1, 256),
                ];
                for (stride, out) in blocks {
                    ops.push(dw(stride, if stride == 2 { same2 } else { same1 }));
                    ops.push(conv(out, 1, 1, [0; 4]));
                }
                ops.push(Spec::AvgPool {
                    kernel: [3, 3],
                    stride: [1, 1],
                    padding: [0; 4],
                });
                ops.push(Spec::Flatten);
                ops.push(Spec::Dense { out: 2 });
                ([3, 96, 96], ops)
            }
            Arch::ResNet8 => {
                let mut ops = alloc::vec![
                    conv(16, 3, 1, same1),
                    // Stack 1: identity shortcut.
                    conv(16, 3, 1, same1),
                    conv(16, 3, 1, same1),
                    Spec::Add { back: 2 },
                ];
                for out in [32, 64] {
                    ops.extend([
                        conv(out, 3, 2, same2),
                        conv(out, 3, 1, same1),
                        // The 1×1 stride-2 shortcut of the stack's input.
                        Spec::ConvOf {
                            back: 2,
                            out,
                            kernel: [1, 1],
                            stride: [2, 2],
                            padding: [0; 4],
                        },
                        Spec::Add { back: 1 },
                    ]);
                }
                ops.push(Spec::AvgPool {
                    kernel: [8, 8],
                    stride: [1, 1],
                    padding: [0; 4],
                });
                ops.push(Spec::Flatten);
                ops.push(Spec::Dense { out: 10 });
                ([3, 32, 32], ops)
            }
        }
    }

    /// The architecture with random weights.
    pub fn model(self, rng: &mut impl Rng) -> Model {
        let (input, specs) = self.specs();
        model(rng, input, &specs)
    }
}
