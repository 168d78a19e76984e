//! ONNX nodes → zkedge ops. Both forms of onnxruntime's quantiser are read into one shape
//! first ([`QNode`]): a QOperator node states its int8 operands and their quantisation itself;
//! a QDQ node is a float operator whose inputs come from `DequantizeLinear` and whose single
//! reader is a `QuantizeLinear`, and the pair stands for the same integer operator (which is
//! what onnxruntime runs once its optimiser has fused them).

use std::collections::HashMap;

use zkedge_kernel::model::{
    Add, Clamp, Conv2d, Dense, DepthwiseConv2d, Op, Order, Pool, Quant, Requant, Reshape, MAX_DIM,
    MAX_LAYER_WEIGHTS, MAX_OPS, MAX_TENSOR,
};

use super::graph::{
    attr_float, attr_int, attr_ints, attr_string, operand, type_name, values, Data, Graph,
};
use crate::{
    error::{ImportError, Problem},
    onnx_generated::{tensor_proto::DataType, NodeProto},
    prepare::{self, Padding},
};

/// What a node computes, in integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Conv,
    Gemm,
    MatMul,
    Add,
    AvgPool,
    GlobalAvgPool,
    MaxPool,
    Reshape,
    Flatten,
}

/// An int8 operand: the tensor holding it and the quantisation the node states for it.
#[derive(Clone, Debug)]
struct QIn {
    name: String,
    quant: Option<Quant>,
}

/// A quantised constant: int8 weights or int32 bias with their scales and zero points.
#[derive(Clone, Debug)]
struct QConst {
    data: String,
    scale: Option<String>,
    zero_point: Option<String>,
    /// The `DequantizeLinear`'s `axis` (a QDQ constant), along which per-channel scales lie.
    axis: Option<i64>,
}

/// A node in integer form: its activations, constants and int8 output.
struct QNode {
    /// The node carrying the attributes (the float node of a QDQ group).
    index: usize,
    kind: Kind,
    inputs: Vec<QIn>,
    weights: Option<QConst>,
    bias: Option<QConst>,
    /// Reshape's target shape.
    shape: Option<String>,
    output: String,
    output_quant: Option<Quant>,
}

/// An int8 tensor zkedge computes: its zkedge tensor number, ONNX shape (batch first) and
/// quantisation.
#[derive(Clone, Debug)]
struct Value {
    id: u16,
    dims: Vec<usize>,
    quant: Quant,
}

/// The translated model.
pub(crate) struct Built {
    pub ops: Vec<Op>,
    /// The ONNX node each zkedge op came from.
    pub origin: Vec<usize>,
    pub input_shape: [usize; 3],
    pub input_quant: Quant,
}

fn is(n: &NodeProto, op: &str) -> bool {
    n.op_type() == op && matches!(n.domain(), "" | "ai.onnx")
}

/// ONNX's shape (batch first) as zkedge's `[C, H, W]`.
pub(crate) fn chw(tensor: &str, dims: &[usize]) -> Result<[usize; 3], Problem> {
    let bad = |why: &str| Problem::Shape {
        tensor: tensor.to_string(),
        shape: dims
            .iter()
            .map(|&d| d.min(i32::MAX as usize) as i32)
            .collect(),
        why: why.to_string(),
    };
    if dims.contains(&0) {
        return Err(bad("a dimension is zero"));
    }
    if dims.len() >= 2 && dims[0] != 1 {
        return Err(bad(
            "the batch (first) dimension must be 1: zkedge proves one inference",
        ));
    }
    let out = match dims.len() {
        0 => [1, 1, 1],
        1 => [dims[0], 1, 1],
        2 => [dims[1], 1, 1],
        3 => [dims[1], 1, dims[2]],
        4 => [dims[1], dims[2], dims[3]],
        _ => return Err(bad("zkedge takes tensors of rank 4 at most (NCHW)")),
    };
    if out.iter().any(|&x| x > usize::from(MAX_DIM)) {
        return Err(bad("a dimension exceeds zkedge's limit of 65,535"));
    }
    let elements = out.iter().map(|&x| x as u64).product::<u64>();
    if elements > MAX_TENSOR as u64 {
        return Err(Problem::TooLarge {
            tensor: tensor.to_string(),
            elements,
            max: MAX_TENSOR,
        });
    }
    Ok(out)
}

/// The graph read into [`QNode`]s, the int8 input tensor and its quantisation, and the int8
/// tensor holding the logits.
struct Lowered {
    nodes: Vec<QNode>,
    input: String,
    input_quant: Quant,
    logits: String,
}

/// An activation operand of a float (QDQ) node: the int8 tensor its `DequantizeLinear` reads.
fn dequantized(g: &Graph, index: usize, name: &str) -> Result<QIn, ImportError> {
    let at = |why: String| g.node_error(index, Problem::Options(why));
    let Some(&p) = g.producer.get(name) else {
        return Err(at(format!(
            "input {name:?} is not produced by a DequantizeLinear (a float operand): zkedge \
             needs every activation quantised to int8"
        )));
    };
    let d = &g.nodes[p];
    if !is(d, "DequantizeLinear") {
        return Err(at(format!(
            "input {name:?} comes from {} rather than a DequantizeLinear: a float activation \
             inside the graph (partial quantisation); quantise every operator",
            g.node_name(p)
        )));
    }
    let source = operand(d, 0).unwrap_or_default();
    if g.constant(source).is_some() {
        return Err(at(format!(
            "input {name:?} is a constant where zkedge needs a computed tensor"
        )));
    }
    Ok(QIn {
        name: source.to_string(),
        quant: Some(activation_quant(g, p, 1)?),
    })
}

/// A constant operand of a float (QDQ) node: the initializer its `DequantizeLinear` reads.
fn dequantized_const(g: &Graph, index: usize, name: &str) -> Result<QConst, ImportError> {
    let at = |why: String| g.node_error(index, Problem::Options(why));
    match g.producer.get(name) {
        Some(&p) if is(&g.nodes[p], "DequantizeLinear") => {
            let d = &g.nodes[p];
            let data = operand(d, 0).unwrap_or_default();
            if g.constant(data).is_none() {
                return Err(at(format!(
                    "weights {name:?} are computed; zkedge needs them constant"
                )));
            }
            Ok(QConst {
                data: data.to_string(),
                scale: operand(d, 1).map(str::to_string),
                zero_point: operand(d, 2).map(str::to_string),
                // ONNX's default axis is 1.
                axis: Some(
                    attr_int(d, "axis")
                        .map_err(|problem| g.node_error(p, problem))?
                        .unwrap_or(1),
                ),
            })
        }
        _ if g.constant(name).is_some() => Err(at(format!(
            "constant {name:?} is float: quantise the weights to int8 and the bias to int32"
        ))),
        _ => Err(at(format!(
            "weights {name:?} are computed; zkedge needs them constant"
        ))),
    }
}

/// The quantisation a node states for operand `slot` (scale) and `slot + 1` (zero point).
fn activation_quant(g: &Graph, index: usize, slot: usize) -> Result<Quant, ImportError> {
    let n = &g.nodes[index];
    let at = |p| g.node_error(index, p);
    let scale = scalar_f32(g, operand(n, slot)).map_err(at)?;
    let zp_name = operand(n, slot + 1);
    let Some(zp_name) = zp_name else {
        return Err(at(Problem::Quantization {
            tensor: operand(n, 0).unwrap_or_default().into(),
            why: "no zero point, so the tensor is uint8 by ONNX's default; zkedge computes with \
                  int8 activations: quantise with activation_type=QuantType.QInt8"
                .into(),
        }));
    };
    let t = g.constant(zp_name).ok_or_else(|| {
        at(Problem::Operand {
            tensor: zp_name.into(),
            why: "a zero point must be a constant",
        })
    })?;
    let v = values(t, 1).map_err(at)?;
    let zero_point = match v.data {
        Data::I8(z) if z.len() == 1 => z[0],
        Data::U8 => {
            return Err(at(Problem::Quantization {
                tensor: zp_name.into(),
                why: "uint8 activations; zkedge computes with int8 activations: quantise with \
                      activation_type=QuantType.QInt8 (onnxruntime.quantization's default is \
                      QUInt8)"
                    .into(),
            }))
        }
        _ => {
            return Err(at(Problem::Quantization {
                tensor: zp_name.into(),
                why: format!(
                    "an activation's zero point must be one int8 value (it is {} with {} \
                     dimensions)",
                    type_name(v.dtype),
                    v.dims.len()
                ),
            }))
        }
    };
    Ok(Quant { scale, zero_point })
}

fn scalar_f32(g: &Graph, name: Option<&str>) -> Result<f32, Problem> {
    let name = name.ok_or_else(|| Problem::Options("a scale operand is omitted".into()))?;
    let t = g.constant(name).ok_or(Problem::Operand {
        tensor: name.into(),
        why: "a scale must be a constant",
    })?;
    match values(t, 1)?.data {
        Data::F32(s) if s.len() == 1 && s[0].is_finite() && s[0] > 0.0 => Ok(s[0]),
        _ => Err(Problem::Quantization {
            tensor: name.into(),
            why: "an activation's scale must be one positive finite float".into(),
        }),
    }
}

fn lower(g: &Graph) -> Result<Lowered, ImportError> {
    // The int8 input: the QuantizeLinear of the float input, or the input itself.
    let (input, input_quant) = match g.readers(&g.input.name) {
        _ if g.input.elem_type == DataType::Int8 as i32 => {
            let reader = g.readers(&g.input.name).first().copied();
            let quant = reader.map(|r| activation_quant(g, r, 1)).transpose()?;
            let quant = quant.ok_or_else(|| ImportError::Edge {
                what: "input",
                problem: Problem::Options("nothing reads the input".into()),
            })?;
            (g.input.name.clone(), quant)
        }
        &[q] if is(&g.nodes[q], "QuantizeLinear")
            && g.input.elem_type == DataType::Float as i32 =>
        {
            let out = g.nodes[q].output.first().cloned().unwrap_or_default();
            (out, activation_quant(g, q, 1)?)
        }
        _ => {
            let why = if g.input.elem_type == DataType::Uint8 as i32 {
                "the input is uint8; zkedge computes with int8 activations (quantise with \
                 activation_type=QuantType.QInt8)"
                    .to_string()
            } else {
                format!(
                    "a {} input must be read by exactly one QuantizeLinear (to int8) and \
                     nothing else",
                    type_name(g.input.elem_type)
                )
            };
            return Err(ImportError::Edge {
                what: "input",
                problem: Problem::Options(why),
            });
        }
    };
    // The int8 logits: the graph's output, or what its final DequantizeLinear reads.
    let logits = match g.producer.get(&g.output.name) {
        Some(&d) if is(&g.nodes[d], "DequantizeLinear") => {
            operand(&g.nodes[d], 0).unwrap_or_default().to_string()
        }
        _ if g.output.elem_type == DataType::Int8 as i32 => g.output.name.clone(),
        _ => {
            return Err(ImportError::Edge {
                what: "output",
                problem: Problem::Options(format!(
                    "a {} output must come from a DequantizeLinear of the int8 result",
                    type_name(g.output.elem_type)
                )),
            })
        }
    };
    let mut nodes = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        let unsupported = || ImportError::UnsupportedOnnx {
            index: i,
            name: g.node_name(i),
        };
        let direct = |slot: usize, quant: Option<usize>| -> Result<QIn, ImportError> {
            Ok(QIn {
                name: operand(n, slot).unwrap_or_default().to_string(),
                quant: quant.map(|s| activation_quant(g, i, s)).transpose()?,
            })
        };
        let konst = |data: usize, scale: usize, zp: usize| {
            operand(n, data).map(|d| QConst {
                data: d.to_string(),
                scale: operand(n, scale).map(str::to_string),
                zero_point: operand(n, zp).map(str::to_string),
                axis: None,
            })
        };
        let out = || n.output.first().cloned().unwrap_or_default();
        let node = |kind, inputs, weights, bias, output_quant| QNode {
            index: i,
            kind,
            inputs,
            weights,
            bias,
            shape: None,
            output: out(),
            output_quant,
        };
        let q = match n.domain() {
            "" | "ai.onnx" => match n.op_type() {
                "QuantizeLinear" | "DequantizeLinear" => continue,
                "QLinearConv" => node(
                    Kind::Conv,
                    vec![direct(0, Some(1))?],
                    konst(3, 4, 5),
                    operand(n, 8).map(|b| QConst {
                        data: b.into(),
                        scale: None,
                        zero_point: None,
                        axis: None,
                    }),
                    Some(activation_quant(g, i, 6)?),
                ),
                "QLinearMatMul" => node(
                    Kind::MatMul,
                    vec![direct(0, Some(1))?],
                    konst(3, 4, 5),
                    None,
                    Some(activation_quant(g, i, 6)?),
                ),
                "MaxPool" | "Reshape" | "Flatten"
                    if g.producer
                        .get(operand(n, 0).unwrap_or_default())
                        .is_none_or(|&p| !is(&g.nodes[p], "DequantizeLinear")) =>
                {
                    // QOperator form: int8 in, int8 out, the quantisation unchanged.
                    let kind = match n.op_type() {
                        "MaxPool" => Kind::MaxPool,
                        "Reshape" => Kind::Reshape,
                        _ => Kind::Flatten,
                    };
                    let mut q = node(kind, vec![direct(0, None)?], None, None, None);
                    q.shape = operand(n, 1).map(str::to_string);
                    q
                }
                op @ ("Conv" | "Gemm" | "MatMul" | "Add" | "AveragePool" | "GlobalAveragePool"
                | "MaxPool" | "Reshape" | "Flatten") => {
                    let kind = match op {
                        "Conv" => Kind::Conv,
                        "Gemm" => Kind::Gemm,
                        "MatMul" => Kind::MatMul,
                        "Add" => Kind::Add,
                        "AveragePool" => Kind::AvgPool,
                        "GlobalAveragePool" => Kind::GlobalAvgPool,
                        "MaxPool" => Kind::MaxPool,
                        "Reshape" => Kind::Reshape,
                        _ => Kind::Flatten,
                    };
                    qdq_node(g, i, kind)?
                }
                _ => return Err(unsupported()),
            },
            "com.microsoft" => match n.op_type() {
                "QGemm" => {
                    if operand(n, 7).is_none() {
                        return Err(g.node_error(
                            i,
                            Problem::Options(
                                "QGemm without an output scale produces float; zkedge needs \
                                 an int8 output"
                                    .into(),
                            ),
                        ));
                    }
                    node(
                        Kind::Gemm,
                        vec![direct(0, Some(1))?],
                        konst(3, 4, 5),
                        operand(n, 6).map(|b| QConst {
                            data: b.into(),
                            scale: None,
                            zero_point: None,
                            axis: None,
                        }),
                        Some(activation_quant(g, i, 7)?),
                    )
                }
                "QLinearAdd" => node(
                    Kind::Add,
                    vec![direct(0, Some(1))?, direct(3, Some(4))?],
                    None,
                    None,
                    Some(activation_quant(g, i, 6)?),
                ),
                "QLinearAveragePool" => node(
                    Kind::AvgPool,
                    vec![direct(0, Some(1))?],
                    None,
                    None,
                    Some(activation_quant(g, i, 3)?),
                ),
                "QLinearGlobalAveragePool" => node(
                    Kind::GlobalAvgPool,
                    vec![direct(0, Some(1))?],
                    None,
                    None,
                    Some(activation_quant(g, i, 3)?),
                ),
                _ => return Err(unsupported()),
            },
            _ => return Err(unsupported()),
        };
        nodes.push(q);
    }
    // Every QuantizeLinear and DequantizeLinear must be one the groups above account for.
    for (i, n) in g.nodes.iter().enumerate() {
        let data = operand(n, 0).unwrap_or_default();
        let ok = if is(n, "QuantizeLinear") {
            data == g.input.name
                || g.producer.get(data).is_some_and(|&p| {
                    nodes
                        .iter()
                        .any(|q| q.index == p && n.output.first() == Some(&q.output))
                })
        } else if is(n, "DequantizeLinear") {
            true
        } else {
            continue;
        };
        if !ok {
            return Err(g.node_error(
                i,
                Problem::Options(
                    "a QuantizeLinear that neither quantises the graph's input nor ends a \
                     quantised operator"
                        .into(),
                ),
            ));
        }
    }
    Ok(Lowered {
        nodes,
        input,
        input_quant,
        logits,
    })
}

/// A float node of a QDQ graph as an integer node.
fn qdq_node(g: &Graph, i: usize, kind: Kind) -> Result<QNode, ImportError> {
    let n = &g.nodes[i];
    let y = n.output.first().cloned().unwrap_or_default();
    let q = match g.readers(&y) {
        &[q] if is(&g.nodes[q], "QuantizeLinear") && y != g.output.name => q,
        _ => {
            return Err(g.node_error(
                i,
                Problem::Options(
                    "its float output must be read by exactly one QuantizeLinear (QDQ form); \
                     a float result inside the graph is not supported"
                        .into(),
                ),
            ))
        }
    };
    let activations = match kind {
        Kind::Add => vec![
            dequantized(g, i, operand(n, 0).unwrap_or_default())?,
            dequantized(g, i, operand(n, 1).unwrap_or_default())?,
        ],
        _ => vec![dequantized(g, i, operand(n, 0).unwrap_or_default())?],
    };
    let (weights, bias) = match kind {
        Kind::Conv | Kind::Gemm | Kind::MatMul => (
            Some(dequantized_const(g, i, operand(n, 1).unwrap_or_default())?),
            operand(n, 2)
                .filter(|_| kind != Kind::MatMul)
                .map(|b| dequantized_const(g, i, b))
                .transpose()?,
        ),
        _ => (None, None),
    };
    Ok(QNode {
        index: i,
        kind,
        inputs: activations,
        weights,
        bias,
        shape: (kind == Kind::Reshape).then(|| operand(n, 1).unwrap_or_default().to_string()),
        output: g.nodes[q].output.first().cloned().unwrap_or_default(),
        output_quant: Some(activation_quant(g, q, 1)?),
    })
}

/// Int8 weights as the file shapes them, with one scale per output channel.
struct Weights {
    data: Vec<i8>,
    dims: Vec<usize>,
    scales: Vec<f32>,
}

/// An operator's failure: a problem with it, or an error already naming its node.
enum Failure {
    Problem(Problem),
    Import(ImportError),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Failure::Problem(p)
    }
}

impl From<ImportError> for Failure {
    fn from(e: ImportError) -> Self {
        Failure::Import(e)
    }
}

struct Builder<'g> {
    g: &'g Graph,
    ops: Vec<Op>,
    origin: Vec<usize>,
    values: HashMap<String, Value>,
}

/// Translates the graph.
pub(crate) fn build(g: &Graph) -> Result<Built, ImportError> {
    let lowered = lower(g)?;
    // A free batch dimension counts as 1 (zkedge proves one inference); every other dimension
    // must be known.
    let dims = g
        .input
        .dims
        .iter()
        .enumerate()
        .map(|(i, &d)| match (i, d) {
            (0, d) if d <= 0 => Some(1),
            (_, d) if d > 0 && d <= i64::from(u32::MAX) => Some(d as usize),
            _ => None,
        })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ImportError::Edge {
            what: "input",
            problem: Problem::Shape {
                tensor: g.input.name.clone(),
                shape: g
                    .input
                    .dims
                    .iter()
                    .map(|&d| d.clamp(-1, i64::from(i32::MAX)) as i32)
                    .collect(),
                why: "every dimension but the batch must be known: export with a fixed input size"
                    .into(),
            },
        })?;
    let input_shape = chw(&g.input.name, &dims).map_err(|problem| ImportError::Edge {
        what: "input",
        problem,
    })?;
    let mut b = Builder {
        g,
        ops: Vec::new(),
        origin: Vec::new(),
        values: HashMap::new(),
    };
    b.values.insert(
        lowered.input.clone(),
        Value {
            id: 0,
            dims,
            quant: lowered.input_quant,
        },
    );
    for q in &lowered.nodes {
        if b.ops.len() >= 2 * MAX_OPS {
            return Err(ImportError::Model {
                tflite_op: Some((q.index, g.node_name(q.index))),
                error: zkedge_kernel::model::ModelError::OpCount(b.ops.len()),
            });
        }
        match b.node(q) {
            Ok(()) => {}
            Err(Failure::Problem(p)) => return Err(g.node_error(q.index, p)),
            Err(Failure::Import(e)) => return Err(e),
        }
    }
    let out = b
        .values
        .get(&lowered.logits)
        .ok_or_else(|| ImportError::Edge {
            what: "output",
            problem: Problem::Operand {
                tensor: lowered.logits.clone(),
                why: "is not computed by the supported operators",
            },
        })?;
    let (ops, origin) = crate::emit::prune(b.ops, b.origin, out.id).ok_or(ImportError::Edge {
        what: "output",
        problem: Problem::Operand {
            tensor: lowered.logits.clone(),
            why: "is the input itself: the model computes nothing",
        },
    })?;
    Ok(Built {
        ops,
        origin,
        input_shape,
        input_quant: lowered.input_quant,
    })
}

/// A positive window size, stride or dilation.
fn positive(what: &str, v: i64) -> Result<usize, Problem> {
    match usize::try_from(v) {
        Ok(v) if (1..=usize::from(MAX_DIM)).contains(&v) => Ok(v),
        _ => Err(Problem::Options(format!(
            "{what} is {v}; it must lie in 1..={MAX_DIM}"
        ))),
    }
}

/// A window's geometry: kernel, strides, dilations and `[top, left, bottom, right]` padding, as
/// the node's attributes (and `auto_pad`) state them, and the output's height and width.
struct Window {
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
    out: [usize; 2],
}

fn window(n: &NodeProto, kernel: [usize; 2], input: [usize; 2]) -> Result<Window, Problem> {
    // A rank-3 (1-D) operator's lists have one entry, along W.
    let two = |name: &str, default: i64| -> Result<[usize; 2], Problem> {
        let v = attr_ints(n, name)?.unwrap_or_default();
        match v.as_slice() {
            [] => Ok([positive(name, default)?; 2]),
            [w] => Ok([1, positive(name, *w)?]),
            [h, w] => Ok([positive(name, *h)?, positive(name, *w)?]),
            _ => Err(Problem::Options(format!("{name} has {} entries", v.len()))),
        }
    };
    let stride = two("strides", 1)?;
    let dilation = two("dilations", 1)?;
    if attr_int(n, "ceil_mode")?.unwrap_or(0) != 0 {
        return Err(Problem::Options(
            "ceil_mode = 1 is not supported (TFLite's and zkedge's windows floor)".into(),
        ));
    }
    let auto_pad = attr_string(n, "auto_pad")?.unwrap_or_default();
    let pads = match auto_pad.as_str() {
        "" | "NOTSET" => {
            let p = attr_ints(n, "pads")?.unwrap_or_default();
            let p: Vec<usize> = p
                .iter()
                .map(|&v| {
                    usize::try_from(v)
                        .ok()
                        .filter(|&v| v <= usize::from(MAX_DIM))
                })
                .collect::<Option<_>>()
                .ok_or_else(|| Problem::Options(format!("pads {p:?} are out of range")))?;
            match p.as_slice() {
                [] => [0; 4],
                [b, e] => [0, *b, 0, *e],
                [t, l, b, r] => [*t, *l, *b, *r],
                _ => return Err(Problem::Options(format!("pads has {} entries", p.len()))),
            }
        }
        "VALID" => [0; 4],
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let axis = |i: usize| {
                prepare::pad_axis(Padding::Same, input[i], kernel[i], stride[i], dilation[i])
                    .ok_or_else(|| Problem::Options("the window does not fit".into()))
            };
            let (_, t, b) = axis(0)?;
            let (_, l, r) = axis(1)?;
            if mode == "SAME_UPPER" {
                [t, l, b, r]
            } else {
                [b, r, t, l]
            }
        }
        other => return Err(Problem::Options(format!("auto_pad {other:?} is unknown"))),
    };
    let out = |i: usize| {
        let effective = (kernel[i] - 1) * dilation[i] + 1;
        let padded = input[i] + pads[i] + pads[i + 2];
        padded
            .checked_sub(effective)
            .map(|s| s / stride[i] + 1)
            .ok_or_else(|| {
                Problem::Options(format!(
                    "a {}×{} window does not fit the {}×{} input and its padding",
                    kernel[0], kernel[1], input[0], input[1]
                ))
            })
    };
    Ok(Window {
        kernel,
        stride,
        dilation,
        pads,
        out: [out(0)?, out(1)?],
    })
}

fn u16s<const N: usize>(v: [usize; N]) -> [u16; N] {
    v.map(|x| x as u16)
}

impl Builder<'_> {
    fn node(&mut self, q: &QNode) -> Result<(), Failure> {
        let inputs = q
            .inputs
            .iter()
            .map(|i| self.activation(i))
            .collect::<Result<Vec<_>, _>>()?;
        let x = inputs[0].clone();
        let n = &self.g.nodes[q.index];
        let out_q = q.output_quant.unwrap_or(x.quant);
        match q.kind {
            Kind::Conv => self.conv(q, n, &x, out_q),
            Kind::Gemm | Kind::MatMul => self.dense(q, n, &x, out_q),
            Kind::Add => {
                if inputs[0].dims != inputs[1].dims {
                    return Err(Problem::Options(format!(
                        "inputs of shapes {:?} and {:?}: broadcasting is not supported",
                        inputs[0].dims, inputs[1].dims
                    ))
                    .into());
                }
                let [ra, rb, ro] = prepare::add_multipliers(
                    inputs[0].quant.scale,
                    inputs[1].quant.scale,
                    out_q.scale,
                )?;
                let op = Op::Add(Add {
                    inputs: [inputs[0].id, inputs[1].id],
                    input_requant: [ra, rb],
                    output_requant: ro,
                    output: out_q,
                    clamp: Clamp::NONE,
                });
                self.define(q, op, x.dims.clone(), out_q);
                Ok(())
            }
            Kind::AvgPool | Kind::GlobalAvgPool | Kind::MaxPool => self.pool(q, n, &x, out_q),
            Kind::Reshape | Kind::Flatten => self.reshape(q, n, &x, out_q),
        }
    }

    /// The value an operand names, its stated quantisation checked against the producer's.
    fn activation(&self, i: &QIn) -> Result<Value, Failure> {
        let v = self.values.get(&i.name).cloned().ok_or_else(|| {
            let why = if self.g.constant(&i.name).is_some() {
                "is a constant where zkedge needs a computed tensor (operations on constants \
                 are not supported)"
            } else {
                "is not computed by the graph's input or an earlier supported operator"
            };
            Problem::Operand {
                tensor: i.name.clone(),
                why,
            }
        })?;
        if let Some(stated) = i.quant {
            if stated != v.quant {
                return Err(Problem::Quantization {
                    tensor: i.name.clone(),
                    why: format!(
                        "read with scale {} and zero point {} but produced with scale {} and \
                         zero point {}; zkedge needs one quantisation per tensor",
                        stated.scale, stated.zero_point, v.quant.scale, v.quant.zero_point
                    ),
                }
                .into());
            }
        }
        Ok(v)
    }

    fn push(&mut self, op: Op, origin: usize) -> u16 {
        self.ops.push(op);
        self.origin.push(origin);
        self.ops.len() as u16
    }

    fn define(&mut self, q: &QNode, op: Op, dims: Vec<usize>, quant: Quant) {
        let id = self.push(op, q.index);
        self.values
            .insert(q.output.clone(), Value { id, dims, quant });
    }

    /// Int8 weights (zero points 0) with one scale per output channel along `axis`.
    fn weights(
        &self,
        c: &QConst,
        rank: &[usize],
        channels: usize,
        axis: usize,
    ) -> Result<Weights, Failure> {
        let t = self.g.constant(&c.data).ok_or(Problem::Operand {
            tensor: c.data.clone(),
            why: "weights must be a constant held in the file",
        })?;
        let v = values(t, MAX_LAYER_WEIGHTS)?;
        let w = match v.data {
            Data::I8(w) => w,
            _ => {
                return Err(Problem::TensorType {
                    tensor: c.data.clone(),
                    found: type_name(v.dtype),
                    why: "weights must be int8 (weight_type=QuantType.QInt8)",
                }
                .into())
            }
        };
        if !rank.contains(&v.dims.len()) {
            return Err(Problem::Shape {
                tensor: c.data.clone(),
                shape: v.dims.iter().map(|&d| d as i32).collect(),
                why: format!("weights of rank {rank:?} expected"),
            }
            .into());
        }
        let channels = if channels == 0 {
            v.dims[axis]
        } else {
            channels
        };
        let bad = |why: String| -> Failure {
            Problem::Quantization {
                tensor: c.data.clone(),
                why,
            }
            .into()
        };
        let scales = match c.scale.as_deref().and_then(|s| self.g.constant(s)) {
            Some(s) => match values(s, MAX_LAYER_WEIGHTS)?.data {
                Data::F32(s) => s,
                _ => return Err(bad("the weight scale is not float".into())),
            },
            None => return Err(bad("weights carry no constant scale".into())),
        };
        if let Some(a) = c.axis.filter(|_| scales.len() > 1) {
            let rank = v.dims.len() as i64;
            if (if a < 0 { a + rank } else { a }) != axis as i64 {
                return Err(bad(format!(
                    "per-channel scales along axis {a}; zkedge needs them along the output \
                     channels (axis {axis})"
                )));
            }
        }
        let scales = match scales.len() {
            1 => vec![scales[0]; channels],
            n if n == channels => scales,
            n => {
                return Err(bad(format!(
                    "{n} weight scales; expected 1 or {channels} (one per output channel)"
                )))
            }
        };
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(bad(format!(
                "weight scale {s} is not a positive finite number"
            )));
        }
        if let Some(zp) = c.zero_point.as_deref() {
            let z = self.g.constant(zp).ok_or(Problem::Operand {
                tensor: zp.into(),
                why: "a zero point must be a constant",
            })?;
            let zero = match values(z, MAX_LAYER_WEIGHTS)?.data {
                Data::I8(z) => z.iter().all(|&z| z == 0),
                Data::U8 => return Err(bad("uint8 weights; zkedge needs int8".into())),
                _ => false,
            };
            if !zero {
                return Err(bad(
                    "weight zero points must be 0 (symmetric int8 weights: \
                     extra_options={'WeightSymmetric': True})"
                        .into(),
                ));
            }
        }
        if let Some(&bad_w) = w.iter().find(|&&w| w == i8::MIN) {
            return Err(bad(format!(
                "a weight is {bad_w}; zkedge (like TFLite) takes symmetric weights in \
                 [-127, 127]"
            )));
        }
        Ok(Weights {
            data: w,
            dims: v.dims,
            scales,
        })
    }

    /// The int32 bias (zeros when omitted). A QDQ bias's `DequantizeLinear` must have zero
    /// points 0 and scales `x_scale · w_scale[o]` (as the quantiser writes them, in float32):
    /// the fused integer operator adds the int32 values as they are.
    fn bias(
        &self,
        c: Option<&QConst>,
        channels: usize,
        product: impl Fn(usize) -> f32,
    ) -> Result<Vec<i32>, Failure> {
        let Some(c) = c else {
            return Ok(vec![0; channels]);
        };
        if let Some(s) = c.scale.as_deref() {
            let t = self.g.constant(s).ok_or(Problem::Operand {
                tensor: s.into(),
                why: "a bias scale must be a constant",
            })?;
            let scales = match values(t, MAX_LAYER_WEIGHTS)?.data {
                Data::F32(v) => v,
                _ => Vec::new(),
            };
            let fits = |o: usize| {
                let want = product(o);
                let got = if scales.len() == 1 {
                    scales[0]
                } else {
                    scales.get(o).copied().unwrap_or(f32::NAN)
                };
                (got - want).abs() <= want * 1e-6
            };
            if !(scales.len() == 1 || scales.len() == channels) || !(0..channels).all(fits) {
                return Err(Problem::Quantization {
                    tensor: c.data.clone(),
                    why: "the bias scale is not input scale × weight scale; zkedge (like \
                          onnxruntime's fused kernels) adds the int32 bias to the accumulator \
                          as it is"
                        .into(),
                }
                .into());
            }
        }
        if let Some(z) = c.zero_point.as_deref() {
            let zero = self
                .g
                .constant(z)
                .and_then(|t| values(t, MAX_LAYER_WEIGHTS).ok())
                .is_some_and(|v| match v.data {
                    Data::I32(z) => z.iter().all(|&z| z == 0),
                    Data::I8(z) => z.iter().all(|&z| z == 0),
                    _ => false,
                });
            if !zero {
                return Err(Problem::Quantization {
                    tensor: c.data.clone(),
                    why: "a bias zero point must be 0".into(),
                }
                .into());
            }
        }
        let t = self.g.constant(&c.data).ok_or(Problem::Operand {
            tensor: c.data.clone(),
            why: "the bias must be a constant held in the file",
        })?;
        let v = values(t, MAX_LAYER_WEIGHTS)?;
        match v.data {
            Data::I32(b) if b.len() == channels => Ok(b),
            Data::I32(b) => Err(Problem::Data {
                tensor: c.data.clone(),
                expected: 4 * channels as u64,
                found: 4 * b.len(),
            }
            .into()),
            _ => Err(Problem::TensorType {
                tensor: c.data.clone(),
                found: type_name(v.dtype),
                why: "an int8 model's bias is int32",
            }
            .into()),
        }
    }

    /// onnxruntime's per-channel multipliers, held exactly.
    fn requants(
        &self,
        alpha: f32,
        input: Quant,
        scales: &[f32],
        output: Quant,
    ) -> Result<Vec<Requant>, Failure> {
        scales
            .iter()
            .enumerate()
            .map(|(c, &s)| {
                let real = prepare::ort_mac_multiplier(alpha, input.scale, s, output.scale);
                prepare::requant(c, real).map_err(Failure::from)
            })
            .collect()
    }

    fn conv(&mut self, q: &QNode, n: &NodeProto, x: &Value, out_q: Quant) -> Result<(), Failure> {
        let w = q
            .weights
            .as_ref()
            .ok_or_else(|| Problem::Options("no weights".into()))?;
        let Weights {
            data: weights,
            dims: wd,
            scales,
        } = self.weights(w, &[3, 4], 0, 0)?;
        let [c, h, wid] = chw(&q.inputs[0].name, &x.dims)?;
        let (oc, per_group) = (wd[0], wd[1]);
        let kernel = if wd.len() == 4 {
            [wd[2], wd[3]]
        } else {
            [1, wd[2]]
        };
        let group = attr_int(n, "group")?.unwrap_or(1);
        let win = window(n, kernel, [h, wid])?;
        let bias = self.bias(q.bias.as_ref(), oc, |o| x.quant.scale * scales[o])?;
        let requant = self.requants(1.0, x.quant, &scales, out_q)?;
        let common = |weights| (weights, bias, requant);
        let op = if group == 1 && per_group == c {
            let (weights, bias, requant) = common(weights);
            Op::Conv2d(Conv2d {
                input: x.id,
                out_channels: oc as u16,
                kernel: u16s(kernel),
                stride: u16s(win.stride),
                dilation: u16s(win.dilation),
                padding: u16s(win.pads),
                weights,
                bias,
                requant,
                output: out_q,
                clamp: Clamp::NONE,
            })
        } else if group as usize == c && per_group == 1 && oc % c == 0 {
            // ONNX's grouped output channel o reads input channel o / m, zkedge's c·m + j
            // reads c: the same order, and the weights [C·m, 1, KH, KW] are zkedge's.
            let (weights, bias, requant) = common(weights);
            Op::DepthwiseConv2d(DepthwiseConv2d {
                input: x.id,
                multiplier: (oc / c) as u16,
                kernel: u16s(kernel),
                stride: u16s(win.stride),
                dilation: u16s(win.dilation),
                padding: u16s(win.pads),
                weights,
                bias,
                requant,
                output: out_q,
                clamp: Clamp::NONE,
            })
        } else {
            return Err(Problem::Options(format!(
                "group {group} with {c} input channels and weights {wd:?}: only ordinary \
                 (group 1) and depthwise (group = input channels) convolutions are supported"
            ))
            .into());
        };
        let dims = if x.dims.len() == 3 {
            vec![1, oc, win.out[1]]
        } else {
            vec![1, oc, win.out[0], win.out[1]]
        };
        self.define(q, op, dims, out_q);
        Ok(())
    }

    fn dense(&mut self, q: &QNode, n: &NodeProto, x: &Value, out_q: Quant) -> Result<(), Failure> {
        let w = q
            .weights
            .as_ref()
            .ok_or_else(|| Problem::Options("no weights".into()))?;
        let matmul = q.kind == Kind::MatMul;
        let trans_b = !matmul && attr_int(n, "transB")?.unwrap_or(0) != 0;
        if !matmul && attr_int(n, "transA")?.unwrap_or(0) != 0 {
            return Err(Problem::Options("transA = 1 is not supported".into()).into());
        }
        if !matmul && attr_float(n, "beta")?.unwrap_or(1.0) != 1.0 {
            return Err(Problem::Options("beta ≠ 1 is not supported".into()).into());
        }
        let alpha = if matmul {
            1.0
        } else {
            attr_float(n, "alpha")?.unwrap_or(1.0)
        };
        // [N, K] with transB, else [K, N]: the output channels lie along axis 0 or 1.
        let axis = if trans_b { 0 } else { 1 };
        let Weights {
            data: b,
            dims: wd,
            scales,
        } = self.weights(w, &[2], 0, axis)?;
        let (outs, fan_in) = if trans_b {
            (wd[0], wd[1])
        } else {
            (wd[1], wd[0])
        };
        let elements: usize = x.dims.iter().product();
        if x.dims.len() != 2 || elements != fan_in {
            return Err(Problem::Options(format!(
                "the input has shape {:?}; the weights take [1, {fan_in}] (zkedge's dense \
                 layers read one flat row; Flatten or Reshape first)",
                x.dims
            ))
            .into());
        }
        let weights = if trans_b {
            b
        } else {
            let mut t = vec![0i8; b.len()];
            for (i, &v) in b.iter().enumerate() {
                let (k, o) = (i / outs, i % outs);
                t[o * fan_in + k] = v;
            }
            t
        };
        let bias = self.bias(q.bias.as_ref(), outs, |o| x.quant.scale * scales[o])?;
        let op = Op::Dense(Dense {
            input: x.id,
            out_features: outs as u16,
            weights,
            bias,
            requant: self.requants(alpha, x.quant, &scales, out_q)?,
            output: out_q,
            clamp: Clamp::NONE,
        });
        self.define(q, op, vec![1, outs], out_q);
        Ok(())
    }

    fn pool(&mut self, q: &QNode, n: &NodeProto, x: &Value, out_q: Quant) -> Result<(), Failure> {
        let [c, h, w] = chw(&q.inputs[0].name, &x.dims)?;
        if x.dims.len() != 4 {
            return Err(Problem::Options("pools take NCHW (rank-4) tensors".into()).into());
        }
        if attr_int(n, "channels_last")?.unwrap_or(0) != 0 {
            return Err(Problem::Options("channels_last = 1 is not supported".into()).into());
        }
        let win = if q.kind == Kind::GlobalAvgPool {
            Window {
                kernel: [h, w],
                stride: [1, 1],
                dilation: [1, 1],
                pads: [0; 4],
                out: [1, 1],
            }
        } else {
            let k = attr_ints(n, "kernel_shape")?.unwrap_or_default();
            let kernel = match k.as_slice() {
                [kh, kw] => [
                    positive("kernel_shape", *kh)?,
                    positive("kernel_shape", *kw)?,
                ],
                _ => {
                    return Err(
                        Problem::Options("kernel_shape must have two entries".into()).into(),
                    )
                }
            };
            window(n, kernel, [h, w])?
        };
        if win.dilation != [1, 1] {
            return Err(Problem::Options("dilated pools are not supported".into()).into());
        }
        if q.kind == Kind::MaxPool && attr_int(n, "storage_order")?.unwrap_or(0) != 0 {
            return Err(Problem::Options("storage_order = 1 is not supported".into()).into());
        }
        let dims = vec![1, c, win.out[0], win.out[1]];
        let padded = win.pads.iter().any(|&p| p > 0);
        let count_pads = attr_int(n, "count_include_pad")?.unwrap_or(0) != 0;
        let pool = Pool {
            input: x.id,
            kernel: u16s(win.kernel),
            stride: u16s(win.stride),
            padding: u16s(win.pads),
            clamp: Clamp::NONE,
        };
        let op = match q.kind {
            Kind::MaxPool => {
                if out_q != x.quant {
                    return Err(Problem::Options(format!(
                        "output quantisation {out_q:?} differs from the input's {:?}; a max \
                         pool keeps it",
                        x.quant
                    ))
                    .into());
                }
                Op::MaxPool2d(pool)
            }
            _ if out_q == x.quant && !(padded && count_pads) => Op::AvgPool2d(pool),
            _ => {
                // A requantising average: a depthwise convolution with unit weights, its sum
                // rescaled by x_scale / (count · y_scale). Padded taps add nothing, so the count
                // must be the whole window (no padding, or padding counted).
                if padded && !count_pads {
                    return Err(Problem::Options(
                        "an average pool that changes the quantisation and pads without \
                         counting the padding (count_include_pad = 0) is not supported"
                            .into(),
                    )
                    .into());
                }
                let taps = win.kernel[0] * win.kernel[1];
                let real = f64::from(x.quant.scale) / (taps as f64 * f64::from(out_q.scale));
                let requant = (0..c)
                    .map(|ch| prepare::requant(ch, real))
                    .collect::<Result<Vec<_>, _>>()?;
                if (c * taps) as u64 > MAX_LAYER_WEIGHTS as u64 {
                    return Err(Problem::TooLarge {
                        tensor: q.inputs[0].name.clone(),
                        elements: (c * taps) as u64,
                        max: MAX_LAYER_WEIGHTS,
                    }
                    .into());
                }
                Op::DepthwiseConv2d(DepthwiseConv2d {
                    input: x.id,
                    multiplier: 1,
                    kernel: u16s(win.kernel),
                    stride: u16s(win.stride),
                    dilation: [1, 1],
                    padding: u16s(win.pads),
                    weights: vec![1; c * taps],
                    bias: vec![0; c],
                    requant,
                    output: out_q,
                    clamp: Clamp::NONE,
                })
            }
        };
        self.define(q, op, dims, out_q);
        Ok(())
    }

    fn reshape(
        &mut self,
        q: &QNode,
        n: &NodeProto,
        x: &Value,
        out_q: Quant,
    ) -> Result<(), Failure> {
        if out_q != x.quant {
            return Err(Problem::Options(format!(
                "output quantisation {out_q:?} differs from the input's {:?}; a reshape keeps \
                 it",
                x.quant
            ))
            .into());
        }
        let total: usize = x.dims.iter().product();
        let dims = if q.kind == Kind::Flatten {
            let axis = attr_int(n, "axis")?.unwrap_or(1);
            let rank = x.dims.len() as i64;
            let axis = if axis < 0 { axis + rank } else { axis };
            if !(0..=rank).contains(&axis) {
                return Err(
                    Problem::Options(format!("Flatten axis {axis} is out of range")).into(),
                );
            }
            let outer: usize = x.dims[..axis as usize].iter().product();
            vec![outer, total / outer.max(1)]
        } else {
            let name = q.shape.as_deref().unwrap_or_default();
            let t = self.g.constant(name).ok_or(Problem::Operand {
                tensor: name.into(),
                why: "a Reshape's shape must be a constant",
            })?;
            let target = match values(t, 8)?.data {
                Data::I64(v) => v,
                _ => return Err(Problem::Options("a Reshape's shape must be int64".into()).into()),
            };
            let allow_zero = attr_int(n, "allowzero")?.unwrap_or(0) != 0;
            let mut dims = Vec::with_capacity(target.len());
            let mut infer = None;
            for (i, &d) in target.iter().enumerate() {
                match d {
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        dims.push(1);
                    }
                    0 if !allow_zero => dims.push(*x.dims.get(i).ok_or_else(|| {
                        Problem::Options("Reshape copies a dimension the input lacks".into())
                    })?),
                    d if d > 0 && d <= i64::from(u32::MAX) => dims.push(d as usize),
                    _ => {
                        return Err(Problem::Options(format!(
                            "Reshape target {target:?} is invalid"
                        ))
                        .into())
                    }
                }
            }
            let known: usize = dims.iter().product();
            if let Some(i) = infer {
                if known == 0 || !total.is_multiple_of(known) {
                    return Err(Problem::Options(format!(
                        "Reshape target {target:?} does not fit"
                    ))
                    .into());
                }
                dims[i] = total / known;
            }
            dims
        };
        if dims.iter().product::<usize>() != total {
            return Err(
                Problem::Options(format!("reshapes {total} elements into {dims:?}")).into(),
            );
        }
        let shape = chw(&q.output, &dims)?;
        let from = chw(&q.inputs[0].name, &x.dims)?;
        if shape == from {
            // Same [C, H, W]; the flat order is ONNX's own: nothing moves.
            self.values.insert(
                q.output.clone(),
                Value {
                    id: x.id,
                    dims,
                    quant: x.quant,
                },
            );
            return Ok(());
        }
        let op = Op::Reshape(Reshape {
            input: x.id,
            shape: u16s(shape),
            order: Order::Chw,
        });
        self.define(q, op, dims, out_q);
        Ok(())
    }
}
