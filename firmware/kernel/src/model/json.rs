//! The human-readable JSON form. Layers are tagged inline (`"type": "conv2d"`), which postcard
//! cannot express, so JSON has its own mirror of [`ModelFile`].

use alloc::{string::String, vec::Vec};

use serde::{Deserialize, Serialize};

use super::{
    Conv2d, Dense, InputSpec, Layer, Model, ModelError, ModelFile, Quant, Requant, Rounding,
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
    layers: Vec<JsonLayer>,
    classes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum JsonLayer {
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

impl Model {
    /// Reads the JSON form.
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        let m: JsonModel = serde_json::from_str(text)?;
        if m.format != "zkedge-model" {
            return Err(JsonError::Format(m.format));
        }
        let layers = m
            .layers
            .into_iter()
            .map(|l| match l {
                JsonLayer::Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    weights,
                    bias,
                    requant,
                    output,
                    relu,
                } => Layer::Conv2d(Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    weights,
                    bias,
                    requant,
                    output,
                    relu,
                }),
                JsonLayer::Dense {
                    out_features,
                    weights,
                    bias,
                    requant,
                    output,
                    relu,
                } => Layer::Dense(Dense {
                    out_features,
                    weights,
                    bias,
                    requant,
                    output,
                    relu,
                }),
            })
            .collect();
        let file = ModelFile {
            version: m.version,
            name: m.name,
            description: m.description,
            source: m.source,
            input: m.input,
            rounding: m.rounding,
            layers,
            classes: m.classes,
        };
        Ok(Model::new(file)?)
    }

    /// Writes the JSON form.
    pub fn to_json(&self) -> String {
        let f = &self.file;
        let layers = f
            .layers
            .iter()
            .cloned()
            .map(|l| match l {
                Layer::Conv2d(c) => JsonLayer::Conv2d {
                    out_channels: c.out_channels,
                    kernel: c.kernel,
                    stride: c.stride,
                    padding: c.padding,
                    weights: c.weights,
                    bias: c.bias,
                    requant: c.requant,
                    output: c.output,
                    relu: c.relu,
                },
                Layer::Dense(d) => JsonLayer::Dense {
                    out_features: d.out_features,
                    weights: d.weights,
                    bias: d.bias,
                    requant: d.requant,
                    output: d.output,
                    relu: d.relu,
                },
            })
            .collect();
        let m = JsonModel {
            format: "zkedge-model".into(),
            version: f.version,
            name: f.name.clone(),
            description: f.description.clone(),
            source: f.source.clone(),
            input: f.input.clone(),
            rounding: f.rounding,
            layers,
            classes: f.classes.clone(),
        };
        // A model built from validated data always serialises.
        serde_json::to_string_pretty(&m).unwrap_or_default()
    }
}
