//! The decoded ONNX graph: constants, who produces and reads each tensor, and typed reads of
//! attributes and initializers (raw little-endian bytes or the typed fields, as onnx.proto
//! allows).

use std::collections::HashMap;

use prost::Message;

use crate::{
    error::{ImportError, Problem},
    onnx_generated::{attribute_proto::AttributeType, tensor_proto::DataType, *},
};

/// The parts of `ModelProto` the importer reads (same field numbers as onnx.proto); everything
/// else (functions, training info, metadata) is skipped by the decoder without being stored.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ModelView {
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, optional, tag = "2")]
    pub producer_name: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub doc_string: Option<String>,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphView>,
}

/// The parts of `GraphProto` the importer reads (value_info, annotations and sparse
/// initializers are skipped).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct GraphView {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// A graph input or output: its name, element type and shape.
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub name: String,
    pub elem_type: i32,
    pub dims: Vec<i64>,
}

pub(crate) struct Graph {
    pub nodes: Vec<NodeProto>,
    consts: HashMap<String, TensorProto>,
    /// The node producing each tensor.
    pub producer: HashMap<String, usize>,
    /// The nodes reading each tensor.
    pub consumers: HashMap<String, Vec<usize>>,
    pub input: Edge,
    pub output: Edge,
}

fn edge(what: &'static str, v: &ValueInfoProto) -> Result<Edge, ImportError> {
    let t = v.r#type.as_ref().and_then(|t| match &t.value {
        Some(type_proto::Value::TensorType(t)) => Some(t),
        _ => None,
    });
    let Some(t) = t else {
        return Err(ImportError::Edge {
            what,
            problem: Problem::Options("it has no tensor type".into()),
        });
    };
    let dims = t
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(tensor_shape_proto::dimension::Value::DimValue(v)) => v,
                    // A symbolic dimension (a free batch size) counts as 1: zkedge proves one
                    // inference.
                    _ => -1,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Edge {
        name: v.name.clone().unwrap_or_default(),
        elem_type: t.elem_type.unwrap_or(0),
        dims,
    })
}

impl Graph {
    pub(crate) fn new(g: GraphView) -> Result<Self, ImportError> {
        let mut consts = HashMap::new();
        for t in g.initializer {
            consts.insert(t.name.clone().unwrap_or_default(), t);
        }
        // Old IR versions list initializers among the inputs; the real input is the rest.
        let inputs: Vec<_> = g
            .input
            .iter()
            .filter(|v| !consts.contains_key(v.name.as_deref().unwrap_or_default()))
            .collect();
        for (what, count) in [("input", inputs.len()), ("output", g.output.len())] {
            if count != 1 {
                return Err(ImportError::Arity { what, count });
            }
        }
        let input = edge("input", inputs[0])?;
        let output = edge("output", &g.output[0])?;
        let mut nodes = g.node;
        // `Constant` nodes are constants: moved to the table, they are not operators.
        let mut kept = Vec::with_capacity(nodes.len());
        for n in nodes.drain(..) {
            if n.op_type() == "Constant" && n.domain().is_empty() {
                let value = n.attribute.iter().find(|a| a.name() == "value");
                match (value.and_then(|a| a.t.clone()), n.output.as_slice()) {
                    (Some(t), [name]) => {
                        consts.insert(name.clone(), t);
                        continue;
                    }
                    _ => {
                        return Err(ImportError::Onnx(format!(
                            "Constant node {:?} has no tensor value (sparse and scalar-list \
                             constants are not supported)",
                            n.name()
                        )))
                    }
                }
            }
            kept.push(n);
        }
        let mut producer = HashMap::new();
        let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in kept.iter().enumerate() {
            for t in &n.output {
                if producer.insert(t.clone(), i).is_some() || consts.contains_key(t) {
                    return Err(ImportError::Onnx(format!(
                        "tensor {t:?} is produced twice (the graph is not in SSA form)"
                    )));
                }
            }
            for t in n.input.iter().filter(|t| !t.is_empty()) {
                consumers.entry(t.clone()).or_default().push(i);
            }
        }
        Ok(Graph {
            nodes: kept,
            consts,
            producer,
            consumers,
            input,
            output,
        })
    }

    pub(crate) fn node_name(&self, i: usize) -> String {
        let n = &self.nodes[i];
        match (n.domain(), n.name()) {
            ("" | "ai.onnx", "") => n.op_type().to_string(),
            ("" | "ai.onnx", name) => format!("{} {name:?}", n.op_type()),
            (d, "") => format!("{d}.{}", n.op_type()),
            (d, name) => format!("{d}.{} {name:?}", n.op_type()),
        }
    }

    pub(crate) fn node_error(&self, i: usize, problem: Problem) -> ImportError {
        ImportError::Op {
            index: i,
            name: self.node_name(i),
            problem,
        }
    }

    pub(crate) fn constant(&self, name: &str) -> Option<&TensorProto> {
        self.consts.get(name)
    }

    /// The nodes reading `t`.
    pub(crate) fn readers(&self, t: &str) -> &[usize] {
        self.consumers.get(t).map_or(&[], Vec::as_slice)
    }
}

/// Operand `slot` of a node, `None` when omitted (absent or named "").
pub(crate) fn operand(n: &NodeProto, slot: usize) -> Option<&str> {
    n.input
        .get(slot)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// An attribute by name.
pub(crate) fn attribute<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}

pub(crate) fn attr_int(n: &NodeProto, name: &str) -> Result<Option<i64>, Problem> {
    match attribute(n, name) {
        None => Ok(None),
        Some(a) if a.r#type() == AttributeType::Int || a.i.is_some() => Ok(a.i),
        Some(_) => Err(Problem::Options(format!(
            "attribute {name} is not an integer"
        ))),
    }
}

pub(crate) fn attr_ints(n: &NodeProto, name: &str) -> Result<Option<Vec<i64>>, Problem> {
    match attribute(n, name) {
        None => Ok(None),
        Some(a) if a.r#type() == AttributeType::Ints || !a.ints.is_empty() => {
            Ok(Some(a.ints.clone()))
        }
        Some(_) => Err(Problem::Options(format!(
            "attribute {name} is not a list of integers"
        ))),
    }
}

pub(crate) fn attr_float(n: &NodeProto, name: &str) -> Result<Option<f32>, Problem> {
    match attribute(n, name) {
        None => Ok(None),
        Some(a) if a.r#type() == AttributeType::Float || a.f.is_some() => Ok(a.f),
        Some(_) => Err(Problem::Options(format!("attribute {name} is not a float"))),
    }
}

pub(crate) fn attr_string(n: &NodeProto, name: &str) -> Result<Option<String>, Problem> {
    match attribute(n, name) {
        None => Ok(None),
        Some(a) => match &a.s {
            Some(s) => Ok(Some(String::from_utf8_lossy(s).into_owned())),
            None => Err(Problem::Options(format!(
                "attribute {name} is not a string"
            ))),
        },
    }
}

/// An element type's name, for messages.
pub(crate) fn type_name(t: i32) -> String {
    DataType::try_from(t).map_or_else(|_| format!("type {t}"), |d| d.as_str_name().to_string())
}

/// The elements of a constant tensor (checked against its dims; external data refused).
pub(crate) struct Values {
    pub dims: Vec<usize>,
    pub dtype: i32,
    pub data: Data,
}

pub(crate) enum Data {
    F32(Vec<f32>),
    I8(Vec<i8>),
    /// uint8 (read only to be refused by name).
    U8,
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// Reads constant `t` as the element types zkedge uses, at most `max` elements.
pub(crate) fn values(t: &TensorProto, max: usize) -> Result<Values, Problem> {
    let name = t.name().to_string();
    if t.data_location() == tensor_proto::DataLocation::External || !t.external_data.is_empty() {
        return Err(Problem::Operand {
            tensor: name,
            why: "its data lives in an external file; save the model with its weights inside \
                  (onnx.save(model, path, save_as_external_data=False))",
        });
    }
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d <= max))
        .collect::<Option<Vec<usize>>>();
    let bad_shape = || Problem::Shape {
        tensor: name.clone(),
        shape: t
            .dims
            .iter()
            .map(|&d| d.clamp(-1, i32::MAX.into()) as i32)
            .collect(),
        why: format!("a constant's dimensions must be non-negative with at most {max} elements"),
    };
    let dims = dims.ok_or_else(bad_shape)?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d).filter(|&n| n <= max))
        .ok_or_else(bad_shape)?;
    let raw = t.raw_data.as_deref();
    let data_problem = |found: usize, width: usize| Problem::Data {
        tensor: name.clone(),
        expected: (count * width) as u64,
        found,
    };
    let dtype = t.data_type();
    let data = match DataType::try_from(dtype) {
        Ok(DataType::Float) => Data::F32(match raw {
            Some(r) if r.len() == 4 * count => r
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Some(r) => return Err(data_problem(r.len(), 4)),
            None if t.float_data.len() == count => t.float_data.clone(),
            None => return Err(data_problem(4 * t.float_data.len(), 4)),
        }),
        Ok(DataType::Int8) => Data::I8(match raw {
            Some(r) if r.len() == count => r.iter().map(|&b| b as i8).collect(),
            Some(r) => return Err(data_problem(r.len(), 1)),
            None if t.int32_data.len() == count => t.int32_data.iter().map(|&v| v as i8).collect(),
            None => return Err(data_problem(t.int32_data.len(), 1)),
        }),
        Ok(DataType::Uint8) => Data::U8,
        Ok(DataType::Int32) => Data::I32(match raw {
            Some(r) if r.len() == 4 * count => r
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Some(r) => return Err(data_problem(r.len(), 4)),
            None if t.int32_data.len() == count => t.int32_data.clone(),
            None => return Err(data_problem(4 * t.int32_data.len(), 4)),
        }),
        Ok(DataType::Int64) => Data::I64(match raw {
            Some(r) if r.len() == 8 * count => r
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
            Some(r) => return Err(data_problem(r.len(), 8)),
            None if t.int64_data.len() == count => t.int64_data.clone(),
            None => return Err(data_problem(8 * t.int64_data.len(), 8)),
        }),
        _ => {
            return Err(Problem::TensorType {
                tensor: name,
                found: type_name(dtype),
                why: "zkedge reads float, int8, int32 and int64 constants (int8 weights, \
                      int32 biases, float scales, int64 shapes)",
            })
        }
    };
    Ok(Values { dims, dtype, data })
}
