//! Version 1 of the format: a list of `conv2d`/`dense` layers, each reading the one before.
//! Still read (binary and JSON), and converted to the op graph on load.

use alloc::{string::String, vec::Vec};

use serde::{Deserialize, Serialize};

use super::{
    Clamp, Conv2d, Dense, InputSpec, ModelFile, Op, Order, Quant, Requant, Rounding, FORMAT_VERSION,
};

/// Version 1's input: `[C, H, W]`, always in that order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct InputV1 {
    pub shape: [u16; 3],
    pub scale: f32,
    pub zero_point: i8,
}

/// Version 1's layers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) enum LayerV1 {
    Conv2d {
        out_channels: u16,
        kernel: [u16; 2],
        stride: [u16; 2],
        padding: [u16; 4],
        weights: Vec<i8>,
        bias: Vec<i32>,
        requant: Vec<Requant>,
        output: Quant,
        relu: bool,
    },
    Dense {
        out_features: u16,
        weights: Vec<i8>,
        bias: Vec<i32>,
        requant: Vec<Requant>,
        output: Quant,
        relu: bool,
    },
}

/// A version-1 file, field for field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct FileV1 {
    pub version: u16,
    pub name: String,
    pub description: String,
    pub source: String,
    pub input: InputV1,
    pub rounding: Rounding,
    pub layers: Vec<LayerV1>,
    pub classes: Vec<String>,
}

/// A fused ReLU clamps below at the output's zero point.
fn relu(relu: bool, output: Quant) -> Clamp {
    Clamp {
        min: if relu { output.zero_point } else { i8::MIN },
        max: i8::MAX,
    }
}

impl LayerV1 {
    /// The op of layer `i` (which reads tensor `i`).
    pub fn into_op(self, i: usize) -> Op {
        // Version 1 allowed at most 32 layers.
        let input = u16::try_from(i).unwrap_or(u16::MAX);
        match self {
            LayerV1::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
                weights,
                bias,
                requant,
                output,
                relu: r,
            } => Op::Conv2d(Conv2d {
                input,
                out_channels,
                kernel,
                stride,
                dilation: [1, 1],
                padding,
                weights,
                bias,
                requant,
                output,
                clamp: relu(r, output),
            }),
            LayerV1::Dense {
                out_features,
                weights,
                bias,
                requant,
                output,
                relu: r,
            } => Op::Dense(Dense {
                input,
                out_features,
                weights,
                bias,
                requant,
                output,
                clamp: relu(r, output),
            }),
        }
    }
}

impl FileV1 {
    /// The same model in the current format.
    pub fn upgrade(self) -> ModelFile {
        ModelFile {
            version: FORMAT_VERSION,
            name: self.name,
            description: self.description,
            source: self.source,
            input: InputSpec {
                shape: self.input.shape,
                scale: self.input.scale,
                zero_point: self.input.zero_point,
                order: Order::Chw,
            },
            rounding: self.rounding,
            ops: self
                .layers
                .into_iter()
                .enumerate()
                .map(|(i, l)| l.into_op(i))
                .collect(),
            softmax: None,
            classes: self.classes,
        }
    }
}
