//! `.tflite` → [`Model`]: the FlatBuffer verified, then the graph walked operator by operator.
//!
//! TFLite is channels-last (NHWC); zkedge works channels-first. Every activation tensor of
//! rank ≤ 4 maps to `[C, H, W]` by its trailing dimensions (`[1, H, W, C]`, `[1, W, C]` as
//! `H = 1`, `[1, C]` as `H = W = 1`); weights are reordered to zkedge's layouts; a reshape keeps
//! TFLite's channels-last element order (`order: hwc`), and so does the flattening a
//! FULLY_CONNECTED does of a 4-D input (an explicit `reshape` before the `dense`).

mod graph;
#[cfg(test)]
mod hostile;
mod ops;

use flatbuffers::VerifierOptions;
use zkedge_kernel::model::{InputSpec, Model, ModelFile, Order, Rounding, Softmax, FORMAT_VERSION};

use crate::{
    error::{ImportError, Problem},
    tflite_generated::tflite as fb,
    Options, MAX_IMPORT_BYTES,
};
use graph::{Graph, Role};

/// Verifier bounds: a legitimate model nests tables a few levels deep and holds a table per
/// tensor, operator and buffer; these bounds are far above that and keep verification of a
/// hostile file cheap.
fn verifier_options() -> VerifierOptions {
    VerifierOptions {
        max_depth: 32,
        max_tables: 1 << 20,
        max_apparent_size: 1 << 30,
        ignore_missing_null_terminator: false,
    }
}

/// Reads and verifies the FlatBuffer.
fn parse(bytes: &[u8]) -> Result<fb::Model<'_>, ImportError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            size: bytes.len() as u64,
            max: MAX_IMPORT_BYTES,
        });
    }
    if bytes.len() < 8 || !fb::model_buffer_has_identifier(bytes) {
        return Err(ImportError::NotTflite);
    }
    Ok(fb::root_as_model_with_opts(&verifier_options(), bytes)?)
}

/// Whether `bytes` carry TFLite's FlatBuffer identifier.
pub fn is_tflite(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && fb::model_buffer_has_identifier(bytes)
}

/// Imports an int8 `.tflite` model: a validated zkedge [`Model`] computing, bit for bit, what
/// TensorFlow Lite Micro computes (the logits; the softmax, if the graph ends in one, as
/// [`ModelFile::softmax`]).
pub fn import(bytes: &[u8], options: &Options) -> Result<Model, ImportError> {
    let model = parse(bytes)?;
    let subgraphs = model.subgraphs().map_or(0, |s| s.len());
    if subgraphs != 1 {
        return Err(ImportError::Subgraphs(subgraphs));
    }
    let graph = Graph::new(model, model.subgraphs().unwrap_or_default().get(0))?;
    let mut builder = ops::Builder::new(&graph)?;
    for index in 0..graph.op_count() {
        match graph.role(index) {
            Role::Compute => builder.op(index)?,
            Role::Edge | Role::ShapeOnly => {}
        }
    }
    let softmax = match graph.softmax {
        Some(s) => Some(Softmax {
            beta: s.beta,
            output: graph.quant(s.output).map_err(|problem| ImportError::Op {
                index: s.index,
                name: "SOFTMAX".into(),
                problem,
            })?,
        }),
        None => None,
    };
    let mut built = builder.finish(graph.logits)?;
    let input = graph.input;
    let file = ModelFile {
        version: FORMAT_VERSION,
        name: options.name.clone().unwrap_or_else(|| "imported".into()),
        description: model.description().unwrap_or_default().to_string(),
        source: "imported from TFLite".into(),
        input: InputSpec {
            shape: input.shape.map(|d| d as u16),
            scale: input.quant.scale,
            zero_point: input.quant.zero_point,
            order: Order::Hwc,
        },
        rounding: Rounding::Double,
        ops: std::mem::take(&mut built.ops),
        softmax,
        classes: options.classes.clone(),
    };
    let validated = Model::new(file).map_err(|error| {
        let tflite_op = match &error {
            zkedge_kernel::model::ModelError::Op { index, .. } => {
                built.origin.get(*index).map(|&i| (i, graph.op_name(i)))
            }
            _ => None,
        };
        ImportError::Model { tflite_op, error }
    })?;
    built.check_shapes(&validated, &graph)?;
    Ok(validated)
}

/// Maps a TFLite shape to `[C, H, W]`, refusing batches other than 1 and ranks above 4.
pub(crate) fn chw(tensor: &str, shape: &[i32]) -> Result<[usize; 3], Problem> {
    let bad = |why: &str| Problem::Shape {
        tensor: tensor.to_string(),
        shape: shape.to_vec(),
        why: why.to_string(),
    };
    if shape.iter().any(|&d| d <= 0) {
        return Err(bad(
            "every dimension must be known and positive (export with a fixed input size)",
        ));
    }
    if shape.len() >= 2 && shape[0] != 1 {
        return Err(bad(
            "the batch (first) dimension must be 1: zkedge proves one inference",
        ));
    }
    let d = |i: usize| shape[i] as usize;
    let out = match shape.len() {
        0 => [1, 1, 1],
        1 => [d(0), 1, 1],
        2 => [d(1), 1, 1],
        3 => [d(2), 1, d(1)],
        4 => [d(3), d(1), d(2)],
        _ => return Err(bad("zkedge takes tensors of rank 4 at most (NHWC)")),
    };
    let max = usize::from(zkedge_kernel::model::MAX_DIM);
    if out.iter().any(|&x| x > max) {
        return Err(bad("a dimension exceeds zkedge's limit of 65,535"));
    }
    let elements = out.iter().map(|&x| x as u64).product::<u64>();
    if elements > zkedge_kernel::model::MAX_TENSOR as u64 {
        return Err(Problem::TooLarge {
            tensor: tensor.to_string(),
            elements,
            max: zkedge_kernel::model::MAX_TENSOR,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_map_channels_last_to_channels_first() {
        assert_eq!(chw("t", &[1, 4, 5, 3]).unwrap(), [3, 4, 5]);
        assert_eq!(chw("t", &[1, 49, 10]).unwrap(), [10, 1, 49]);
        assert_eq!(chw("t", &[1, 640]).unwrap(), [640, 1, 1]);
        assert!(chw("t", &[2, 640]).is_err());
        assert!(chw("t", &[1, -1, 3]).is_err());
        assert!(chw("t", &[1, 1, 1, 1, 3]).is_err());
        assert!(matches!(
            chw("t", &[1, 4096, 4096, 3]),
            Err(Problem::TooLarge { .. })
        ));
    }

    #[test]
    fn non_flatbuffers_are_refused() {
        assert!(matches!(
            import(b"", &Options::default()),
            Err(ImportError::NotTflite)
        ));
        assert!(matches!(
            import(b"\x08\x00\x00\x00ONNX\x00\x00\x00\x00", &Options::default()),
            Err(ImportError::NotTflite)
        ));
        // The identifier alone, pointing nowhere: the verifier refuses it.
        let mut fake = vec![0xffu8, 0xff, 0, 0];
        fake.extend_from_slice(b"TFL3");
        assert!(matches!(
            import(&fake, &Options::default()),
            Err(ImportError::Flatbuffer(_))
        ));
    }
}
