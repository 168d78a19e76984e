//! Random valid models, for tests and benches: the shapes are the caller's, the numbers are
//! drawn so that outputs spread over the int8 range rather than saturating.

use alloc::{format, string::String, vec::Vec};

use rand::Rng;

use super::{
    Conv2d, Dense, InputSpec, Layer, Model, ModelFile, Quant, Requant, Rounding, FORMAT_VERSION,
};

/// A layer to generate.
#[derive(Clone, Copy, Debug)]
pub enum Spec {
    /// A `conv2d` layer.
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
    /// A `dense` layer.
    Dense {
        /// Outputs.
        out: u16,
    },
}

/// A random model with input shape `input` and the given layers; ReLU on all but the last.
pub fn model(rng: &mut impl Rng, input: [u16; 3], layers: &[Spec]) -> Model {
    let mut shape = input.map(usize::from);
    let mut file_layers = Vec::new();
    for (i, spec) in layers.iter().enumerate() {
        let relu = i + 1 < layers.len();
        let output = Quant {
            scale: 0.05,
            zero_point: if relu { -128 } else { rng.gen_range(-20..=20) },
        };
        let (o, fan_in, next) = match *spec {
            Spec::Conv {
                out,
                kernel,
                stride,
                padding,
            } => {
                let [kh, kw] = kernel.map(usize::from);
                let [sh, sw] = stride.map(usize::from);
                let [pt, pl, pb, pr] = padding.map(usize::from);
                let h = (shape[1] + pt + pb - kh) / sh + 1;
                let w = (shape[2] + pl + pr - kw) / sw + 1;
                (
                    usize::from(out),
                    shape[0] * kh * kw,
                    [usize::from(out), h, w],
                )
            }
            Spec::Dense { out } => (
                usize::from(out),
                shape.iter().product(),
                [usize::from(out), 1, 1],
            ),
        };
        let weights: Vec<i8> = (0..o * fan_in).map(|_| rng.gen_range(-127..=127)).collect();
        let bias: Vec<i32> = (0..o).map(|_| rng.gen_range(-5000..=5000)).collect();
        // Typical |acc| ≈ √fan_in · 127 · 64; aim it at ±64 after requantisation.
        let typical = (fan_in as f64).sqrt() * 127.0 * 64.0;
        let shift = -((typical / 64.0).log2().ceil() as i8);
        let requant = (0..o)
            .map(|_| Requant {
                multiplier: rng.gen_range(1 << 30..=i32::MAX),
                shift,
            })
            .collect();
        file_layers.push(match *spec {
            Spec::Conv {
                out,
                kernel,
                stride,
                padding,
            } => Layer::Conv2d(Conv2d {
                out_channels: out,
                kernel,
                stride,
                padding,
                weights,
                bias,
                requant,
                output,
                relu,
            }),
            Spec::Dense { out } => Layer::Dense(Dense {
                out_features: out,
                weights,
                bias,
                requant,
                output,
                relu,
            }),
        });
        shape = next;
    }
    let classes: Vec<String> = (0..shape.iter().product())
        .map(|i| format!("class {i}"))
        .collect();
    let file = ModelFile {
        version: FORMAT_VERSION,
        name: "synthetic".into(),
        description: "random weights, for tests".into(),
        source: "zkedge_kernel::model::synthetic".into(),
        input: InputSpec {
            shape: input,
            scale: 0.1,
            zero_point: rng.gen_range(-10..=10),
        },
        rounding: if rng.gen() {
            Rounding::Single
        } else {
            Rounding::Double
        },
        layers: file_layers,
        classes,
    };
    Model::new(file).expect("synthetic models are valid by construction")
}

/// A random int8 input for `model`.
pub fn input(rng: &mut impl Rng, model: &Model) -> Vec<i8> {
    (0..model.input_len()).map(|_| rng.gen()).collect()
}
