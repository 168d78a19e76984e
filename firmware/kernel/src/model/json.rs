//! The human-readable JSON form. Ops are tagged inline (`"type": "conv2d"`), which postcard
//! cannot express, so JSON has its own mirror of [`ModelFile`]. Version 1 files (a `layers`
//! list) are read too.

use alloc::{string::String, vec::Vec};

use serde::{Deserialize, Serialize};

use super::{
    v1::{FileV1, InputV1, LayerV1},
    Add, Conv2d, Dense, DepthwiseConv2d, InputSpec, Model, ModelError, ModelFile, Op, Pool,
    Reshape, Rounding, Softmax, FORMAT_VERSION,
};

/// Why a JSON model was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON, or not shaped like a model.
    #[error("not a zkedge JSON model: {0}")]
    Syntax(#[from] serde_json::Error),
    /// The `format` field is not `"zkedge-model"`.
    #[error("\"format\" is {0:?}; expected \"zkedge-model\"")]
    Format(String),
    /// Parsed, but invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The fields every version has, read first to choose the structure.
#[derive(Deserialize)]
struct Probe {
    format: String,
    version: u16,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonModel {
    format: String,
    version: u16,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: String,
    input: InputSpec,
    #[serde(default)]
    rounding: Rounding,
    ops: Vec<JsonOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    softmax: Option<Softmax>,
    #[serde(default)]
    classes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsonOp {
    Conv2d(Conv2d),
    DepthwiseConv2d(DepthwiseConv2d),
    Dense(Dense),
    AvgPool2d(Pool),
    MaxPool2d(Pool),
    Add(Add),
    Reshape(Reshape),
}

impl From<JsonOp> for Op {
    fn from(op: JsonOp) -> Op {
        match op {
            JsonOp::Conv2d(c) => Op::Conv2d(c),
            JsonOp::DepthwiseConv2d(c) => Op::DepthwiseConv2d(c),
            JsonOp::Dense(d) => Op::Dense(d),
            JsonOp::AvgPool2d(p) => Op::AvgPool2d(p),
            JsonOp::MaxPool2d(p) => Op::MaxPool2d(p),
            JsonOp::Add(a) => Op::Add(a),
            JsonOp::Reshape(r) => Op::Reshape(r),
        }
    }
}

impl From<Op> for JsonOp {
    fn from(op: Op) -> JsonOp {
        match op {
            Op::Conv2d(c) => JsonOp::Conv2d(c),
            Op::DepthwiseConv2d(c) => JsonOp::DepthwiseConv2d(c),
            Op::Dense(d) => JsonOp::Dense(d),
            Op::AvgPool2d(p) => JsonOp::AvgPool2d(p),
            Op::MaxPool2d(p) => JsonOp::MaxPool2d(p),
            Op::Add(a) => JsonOp::Add(a),
            Op::Reshape(r) => JsonOp::Reshape(r),
        }
    }
}

/// Version 1's JSON form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonModelV1 {
    #[allow(dead_code)]
    format: String,
    version: u16,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: String,
    input: InputV1,
    #[serde(default)]
    rounding: Rounding,
    layers: Vec<JsonLayerV1>,
    classes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum JsonLayerV1 {
    Conv2d {
        out_channels: u16,
        kernel: [u16; 2],
        stride: [u16; 2],
        padding: [u16; 4],
        weights: Vec<i8>,
        bias: Vec<i32>,
        requant: Vec<super::Requant>,
        output: super::Quant,
        relu: bool,
    },
    Dense {
        out_features: u16,
        weights: Vec<i8>,
        bias: Vec<i32>,
        requant: Vec<super::Requant>,
        output: super::Quant,
        relu: bool,
    },
}

impl From<JsonLayerV1> for LayerV1 {
    fn from(l: JsonLayerV1) -> LayerV1 {
        match l {
            JsonLayerV1::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
                weights,
                bias,
                requant,
                output,
                relu,
            } => LayerV1::Conv2d {
                out_channels,
                kernel,
                stride,
                padding,
                weights,
                bias,
                requant,
                output,
                relu,
            },
            JsonLayerV1::Dense {
                out_features,
                weights,
                bias,
                requant,
                output,
                relu,
            } => LayerV1::Dense {
                out_features,
                weights,
                bias,
                requant,
                output,
                relu,
            },
        }
    }
}

impl Model {
    /// Reads the JSON form (either version).
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        let probe: Probe = serde_json::from_str(text)?;
        if probe.format != "zkedge-model" {
            return Err(JsonError::Format(probe.format));
        }
        let file = match probe.version {
            1 => {
                let m: JsonModelV1 = serde_json::from_str(text)?;
                FileV1 {
                    version: m.version,
                    name: m.name,
                    description: m.description,
                    source: m.source,
                    input: m.input,
                    rounding: m.rounding,
                    layers: m.layers.into_iter().map(LayerV1::from).collect(),
                    classes: m.classes,
                }
                .upgrade()
            }
            FORMAT_VERSION => {
                let m: JsonModel = serde_json::from_str(text)?;
                ModelFile {
                    version: m.version,
                    name: m.name,
                    description: m.description,
                    source: m.source,
                    input: m.input,
                    rounding: m.rounding,
                    ops: m.ops.into_iter().map(Op::from).collect(),
                    softmax: m.softmax,
                    classes: m.classes,
                }
            }
            found => return Err(ModelError::Version { found }.into()),
        };
        Ok(Model::new(file)?)
    }

    /// Writes the JSON form (always the current version).
    pub fn to_json(&self) -> String {
        let f = self.file.clone();
        let m = JsonModel {
            format: "zkedge-model".into(),
            version: f.version,
            name: f.name,
            description: f.description,
            source: f.source,
            input: f.input,
            rounding: f.rounding,
            ops: f.ops.into_iter().map(JsonOp::from).collect(),
            softmax: f.softmax,
            classes: f.classes,
        };
        // A model built from validated data always serialises.
        serde_json::to_string_pretty(&m).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_refused_inside_ops() {
        let op = r#"{"type":"reshape","input":0,"shape":[1,1,4],"order":"hwc","stray":1}"#;
        assert!(serde_json::from_str::<JsonOp>(op).is_err());
        let op = r#"{"type":"reshape","input":0,"shape":[1,1,4],"order":"hwc"}"#;
        assert!(serde_json::from_str::<JsonOp>(op).is_ok());
    }
}
