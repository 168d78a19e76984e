//! `.onnx` → [`Model`]: quantised ONNX as onnxruntime's quantiser writes it (QOperator or QDQ,
//! int8 activations, int8 weights per tensor or per channel, int32 bias), decoded with prost
//! from `onnx.proto` after a census of its counts, then translated node by node.
//!
//! ONNX is channels-first (NCHW) like zkedge, so tensors map without reordering (`[1, C, H, W]`
//! as `[C, H, W]`, `[1, C, L]` as `[C, 1, L]`, `[1, K]` as `[K, 1, 1]`) and reshapes keep the
//! channels-first order. The arithmetic is onnxruntime's where zkedge's kernel can hold it
//! exactly (the multiply–accumulate multipliers, exact float32 values held as Q31 and rounded
//! once) and TFLite's where it cannot (ADD); `docs/model-format.md` states the measured
//! agreement.

mod census;
mod graph;
#[cfg(test)]
mod hostile;
mod ops;

use prost::Message;
use zkedge_kernel::model::{InputSpec, Model, ModelFile, Order, Rounding, FORMAT_VERSION};

use crate::{error::ImportError, Options};
use graph::{Graph, ModelView};

/// Largest `.onnx` file the importer reads. Decoding a protobuf allocates a small multiple of
/// the file's size (`census`); a model zkedge can prove holds at most 4 Mi weights.
pub const MAX_ONNX_BYTES: usize = 16 << 20;

/// Imports a quantised `.onnx` model: a validated zkedge [`Model`] whose logits are the int8
/// tensor before the graph's final `DequantizeLinear`.
pub fn import(bytes: &[u8], options: &Options) -> Result<Model, ImportError> {
    if bytes.len() > MAX_ONNX_BYTES {
        return Err(ImportError::TooLarge {
            size: bytes.len() as u64,
            max: MAX_ONNX_BYTES,
        });
    }
    census::census(bytes)?;
    let model = ModelView::decode(bytes)?;
    let Some(g) = model.graph else {
        return Err(ImportError::Onnx(
            "not an ONNX model: the file holds no graph".into(),
        ));
    };
    if let Some(o) = model
        .opset_import
        .iter()
        .find(|o| !matches!(o.domain(), "" | "ai.onnx" | "com.microsoft"))
    {
        return Err(ImportError::Onnx(format!(
            "the model imports operator set {:?}; zkedge reads the standard ONNX operators and \
             onnxruntime's com.microsoft quantised ones",
            o.domain()
        )));
    }
    let graph = Graph::new(g)?;
    let built = ops::build(&graph)?;
    let file = ModelFile {
        version: FORMAT_VERSION,
        name: options.name.clone().unwrap_or_else(|| "imported".into()),
        description: model.doc_string.unwrap_or_default(),
        source: match model.producer_name.as_deref() {
            Some(p) if !p.is_empty() => format!("imported from ONNX (produced by {p})"),
            _ => "imported from ONNX".into(),
        },
        input: InputSpec {
            shape: built.input_shape.map(|d| d as u16),
            scale: built.input_quant.scale,
            zero_point: built.input_quant.zero_point,
            order: Order::Chw,
        },
        // onnxruntime rounds the exact float32 product once; TFLite's single rounding is the
        // fixed-point form of that (docs/model-format.md).
        rounding: Rounding::Single,
        ops: built.ops,
        softmax: None,
        classes: options.classes.clone(),
    };
    let origin = built.origin;
    Model::new(file).map_err(|error| {
        let node = match &error {
            zkedge_kernel::model::ModelError::Op { index, .. } => {
                origin.get(*index).map(|&i| (i, graph.node_name(i)))
            }
            _ => None,
        };
        ImportError::Model {
            tflite_op: node,
            error,
        }
    })
}

/// Whether `bytes` could be an ONNX file: a protobuf whose first field is `ir_version` (field 1,
/// varint), as every ONNX writer emits it.
pub fn is_onnx(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x08)
}
