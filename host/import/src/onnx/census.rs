//! Counting before decoding. prost allocates a whole struct for every element of a repeated
//! message field, so two bytes of a hostile file (an empty `node` entry) would cost hundreds of
//! bytes of memory. These views of `onnx.proto` (same field numbers; `Item` is an empty message,
//! and a `Vec` of a zero-sized type never allocates) count every repeated message field the
//! importer later decodes, level by level, so that each level's counts are checked before the
//! next level is decoded with structs of its own. What is left after the census is bounded by a
//! small multiple of the file's size (a repeated string costs 24 bytes per 2 bytes of file).

use prost::Message;

use crate::error::ImportError;

/// An element that is counted, never kept: its content is skipped as unknown fields.
#[derive(Clone, Copy, PartialEq, Message)]
struct Item {}

/// Most nodes a graph may have.
pub(crate) const MAX_NODES: usize = 4096;
/// Most initializers (and graph inputs: IR < 4 lists every initializer as an input too).
pub(crate) const MAX_INITIALIZERS: usize = 4096;
/// Most attributes, metadata entries or opset imports in one place.
const MAX_SMALL: usize = 64;
/// Most dimensions of a declared tensor type.
const MAX_RANK: usize = 8;

#[derive(Clone, PartialEq, Message)]
struct ModelCounts {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphCounts>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<Item>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphCounts {
    #[prost(message, repeated, tag = "1")]
    node: Vec<Item>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<Item>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<Item>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<Item>,
}

#[derive(Clone, PartialEq, Message)]
struct ModelElements {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphElements>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphElements {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeCounts>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorCounts>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueCounts>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueCounts>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeCounts {
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<Item>,
    #[prost(message, repeated, tag = "9")]
    metadata_props: Vec<Item>,
    #[prost(message, repeated, tag = "10")]
    device_configurations: Vec<Item>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorCounts {
    #[prost(message, repeated, tag = "13")]
    external_data: Vec<Item>,
    #[prost(message, repeated, tag = "16")]
    metadata_props: Vec<Item>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueCounts {
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeCounts>,
    #[prost(message, repeated, tag = "4")]
    metadata_props: Vec<Item>,
}

/// `TypeProto`'s `value` oneof, each case as its own optional field: only a tensor type is
/// decoded later, so every other case is refused here.
#[derive(Clone, PartialEq, Message)]
struct TypeCounts {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeCounts>,
    #[prost(message, optional, tag = "4")]
    sequence_type: Option<Item>,
    #[prost(message, optional, tag = "5")]
    map_type: Option<Item>,
    #[prost(message, optional, tag = "7")]
    opaque_type: Option<Item>,
    #[prost(message, optional, tag = "8")]
    sparse_tensor_type: Option<Item>,
    #[prost(message, optional, tag = "9")]
    optional_type: Option<Item>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeCounts {
    #[prost(message, optional, tag = "2")]
    shape: Option<ShapeCounts>,
}

#[derive(Clone, PartialEq, Message)]
struct ShapeCounts {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Item>,
}

#[derive(Clone, PartialEq, Message)]
struct ModelAttributes {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphAttributes>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphAttributes {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeAttributes>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeAttributes {
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeCounts>,
}

/// An attribute's message-valued fields: a tensor (`Constant`'s value) is allowed and counted;
/// graphs, sparse tensors, type protos and lists of tensors belong to operators zkedge never
/// imports and are refused before they are decoded.
#[derive(Clone, PartialEq, Message)]
struct AttributeCounts {
    #[prost(message, optional, tag = "5")]
    t: Option<TensorCounts>,
    #[prost(message, optional, tag = "6")]
    g: Option<Item>,
    #[prost(message, optional, tag = "22")]
    sparse_tensor: Option<Item>,
    #[prost(message, optional, tag = "14")]
    tp: Option<Item>,
    #[prost(message, repeated, tag = "10")]
    tensors: Vec<Item>,
    #[prost(message, repeated, tag = "11")]
    graphs: Vec<Item>,
    #[prost(message, repeated, tag = "23")]
    sparse_tensors: Vec<Item>,
    #[prost(message, repeated, tag = "15")]
    type_protos: Vec<Item>,
}

fn too_many(what: &'static str, count: usize, max: usize) -> ImportError {
    ImportError::Onnx(format!(
        "the file holds {count} {what}; zkedge imports at most {max}"
    ))
}

fn check(what: &'static str, count: usize, max: usize) -> Result<(), ImportError> {
    if count > max {
        Err(too_many(what, count, max))
    } else {
        Ok(())
    }
}

fn tensor(what: &'static str, t: &TensorCounts) -> Result<(), ImportError> {
    check(what, t.external_data.len(), MAX_SMALL)?;
    check(what, t.metadata_props.len(), MAX_SMALL)
}

/// Checks every count the decoding of `bytes` into the generated types depends on.
pub(crate) fn census(bytes: &[u8]) -> Result<(), ImportError> {
    let counts = ModelCounts::decode(bytes)?;
    check("opset imports", counts.opset_import.len(), MAX_SMALL)?;
    let Some(g) = counts.graph else {
        return Ok(());
    };
    check("nodes", g.node.len(), MAX_NODES)?;
    check("initializers", g.initializer.len(), MAX_INITIALIZERS)?;
    check("graph inputs", g.input.len(), MAX_INITIALIZERS + MAX_SMALL)?;
    check("graph outputs", g.output.len(), MAX_SMALL)?;

    let elements = ModelElements::decode(bytes)?.graph.unwrap_or_default();
    for n in &elements.node {
        check("attributes in one node", n.attribute.len(), MAX_SMALL)?;
        check(
            "metadata entries in one node",
            n.metadata_props.len(),
            MAX_SMALL,
        )?;
        check(
            "device configurations in one node",
            n.device_configurations.len(),
            MAX_SMALL,
        )?;
    }
    for t in &elements.initializer {
        tensor("external-data or metadata entries in one tensor", t)?;
    }
    for v in elements.input.iter().chain(&elements.output) {
        check(
            "metadata entries in one value",
            v.metadata_props.len(),
            MAX_SMALL,
        )?;
        if let Some(t) = &v.r#type {
            let other = t.sequence_type.is_some()
                || t.map_type.is_some()
                || t.opaque_type.is_some()
                || t.sparse_tensor_type.is_some()
                || t.optional_type.is_some();
            if other {
                return Err(ImportError::Onnx(
                    "a graph input or output is not a tensor (a sequence, map, optional or \
                     sparse type); zkedge imports tensors only"
                        .into(),
                ));
            }
            let dims = t
                .tensor_type
                .as_ref()
                .and_then(|t| t.shape.as_ref())
                .map_or(0, |s| s.dim.len());
            check("dimensions in a graph input or output", dims, MAX_RANK)?;
        }
    }

    let attributes = ModelAttributes::decode(bytes)?.graph.unwrap_or_default();
    for n in &attributes.node {
        for a in &n.attribute {
            let nested = a.g.is_some()
                || a.sparse_tensor.is_some()
                || a.tp.is_some()
                || !a.tensors.is_empty()
                || !a.graphs.is_empty()
                || !a.sparse_tensors.is_empty()
                || !a.type_protos.is_empty();
            if nested {
                return Err(ImportError::Onnx(
                    "a node has a graph, sparse-tensor, type or tensor-list attribute (control \
                     flow or a function); zkedge imports none of the operators that take one"
                        .into(),
                ));
            }
            if let Some(t) = &a.t {
                tensor("external-data or metadata entries in one tensor", t)?;
            }
        }
    }
    Ok(())
}
