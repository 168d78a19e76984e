//! Hostile and unsupported ONNX files, built with the generated prost types or cut from a real
//! quantiser's output: each is refused with an error naming what is wrong, without panicking or
//! allocating what the file claims.

use prost::Message;

use super::import;
use crate::{
    onnx_generated::{
        attribute_proto::AttributeType, tensor_proto::DataType, type_proto, AttributeProto,
        GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
        TypeProto, ValueInfoProto,
    },
    Options,
};

fn value(name: &str, elem: DataType, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| crate::onnx_generated::tensor_shape_proto::Dimension {
                            value: Some(
                                crate::onnx_generated::tensor_shape_proto::dimension::Value::DimValue(d),
                            ),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tensor(name: &str, dtype: DataType, dims: &[i64], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        data_type: Some(dtype as i32),
        dims: dims.to_vec(),
        raw_data: Some(raw),
        ..Default::default()
    }
}

fn node(op: &str, domain: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        domain: Some(domain.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn model(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// float input [1, 4] → QuantizeLinear → QLinearMatMul (4 → 3) → DequantizeLinear → output.
fn matmul() -> GraphProto {
    let f32s = |v: f32| v.to_le_bytes().to_vec();
    let w: Vec<u8> = (0..12).map(|i| (i as i8 - 6) as u8).collect();
    GraphProto {
        node: vec![
            node("QuantizeLinear", "", &["x", "xs", "xz"], "xq"),
            node(
                "QLinearMatMul",
                "",
                &["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
                "yq",
            ),
            node("DequantizeLinear", "", &["yq", "ys", "yz"], "y"),
        ],
        initializer: vec![
            tensor("xs", DataType::Float, &[], f32s(0.1)),
            tensor("xz", DataType::Int8, &[], vec![3]),
            tensor("w", DataType::Int8, &[4, 3], w),
            tensor("ws", DataType::Float, &[], f32s(0.05)),
            tensor("wz", DataType::Int8, &[], vec![0]),
            tensor("ys", DataType::Float, &[], f32s(0.2)),
            tensor("yz", DataType::Int8, &[], vec![(-5i8) as u8]),
        ],
        input: vec![value("x", DataType::Float, &[1, 4])],
        output: vec![value("y", DataType::Float, &[1, 3])],
        ..Default::default()
    }
}

fn refused(bytes: &[u8]) -> String {
    match import(bytes, &Options::default()) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_minimal_qoperator_graph_imports_with_the_weights_transposed() {
    let m = import(&model(matmul()), &Options::default()).unwrap();
    assert_eq!(m.ops().len(), 1);
    let zkedge_kernel::model::Op::Dense(d) = &m.ops()[0] else {
        panic!("{:?}", m.ops()[0])
    };
    // MatMul's B is [K, N] = [4, 3]; zkedge's dense rows are outputs: row o holds B[·][o].
    assert_eq!(d.weights[..4], [-6, -3, 0, 3]);
    assert_eq!(m.file().input.zero_point, 3);
    assert_eq!(m.quant(1).zero_point, -5);
    // 0.1 · 0.05 / 0.2 in float32, held exactly: 0.025 = 0.8 · 2^-5.
    let r = d.requant[0];
    let exact = f64::from(r.multiplier) * 2f64.powi(i32::from(r.shift) - 31);
    assert_eq!(exact, f64::from(0.1f32 * 0.05f32 / 0.2f32));
}

#[test]
fn counts_are_checked_before_anything_is_decoded() {
    // 200,000 empty nodes: 400 kB of file that would decode into ~50 MB of structs.
    let mut g = matmul();
    g.node = vec![NodeProto::default(); 200_000];
    let e = refused(&model(g));
    assert!(e.contains("200000 nodes"), "{e}");
    // Attributes of one node, likewise.
    let mut g = matmul();
    g.node[1].attribute = vec![AttributeProto::default(); 10_000];
    let e = refused(&model(g));
    assert!(e.contains("attributes in one node"), "{e}");
}

#[test]
fn subgraphs_and_nested_types_are_refused_unread() {
    let mut g = matmul();
    g.node[1].attribute = vec![AttributeProto {
        name: Some("then_branch".into()),
        r#type: Some(AttributeType::Graph as i32),
        g: Some(matmul()),
        ..Default::default()
    }];
    assert!(refused(&model(g)).contains("graph"));
    let mut g = matmul();
    g.input[0].r#type = Some(TypeProto {
        value: Some(type_proto::Value::SequenceType(Box::new(
            type_proto::Sequence { elem_type: None },
        ))),
        ..Default::default()
    });
    assert!(refused(&model(g)).contains("not a tensor"));
}

#[test]
fn unsupported_and_float_graphs_name_the_node() {
    let mut g = matmul();
    g.node[1].op_type = Some("QLinearSigmoid".into());
    let e = refused(&model(g));
    assert!(e.contains("node 1 (QLinearSigmoid)"), "{e}");
    // A float MatMul with no QuantizeLinear after it: a float model.
    let mut g = matmul();
    g.node[1] = node("MatMul", "", &["x", "w"], "yq");
    g.node.remove(0);
    let e = refused(&model(g));
    assert!(e.contains("QuantizeLinear"), "{e}");
}

#[test]
fn uint8_activations_and_external_data_say_what_to_do() {
    let mut g = matmul();
    g.initializer[1] = tensor("xz", DataType::Uint8, &[], vec![128]);
    let e = refused(&model(g));
    assert!(e.contains("QInt8"), "{e}");
    let mut g = matmul();
    g.initializer[2].raw_data = None;
    g.initializer[2].data_location = Some(1);
    let e = refused(&model(g));
    assert!(e.contains("external"), "{e}");
    // Data shorter than the shape says.
    let mut g = matmul();
    g.initializer[2].raw_data = Some(vec![1; 11]);
    let e = refused(&model(g));
    assert!(e.contains("11 bytes"), "{e}");
    // A weight of -128 (asymmetric range).
    let mut g = matmul();
    g.initializer[2].raw_data = Some(vec![0x80; 12]);
    let e = refused(&model(g));
    assert!(e.contains("[-127, 127]"), "{e}");
}

#[test]
fn not_onnx_bytes_are_refused() {
    for bytes in [&b""[..], b"TFL3 not a protobuf", b"\x08", &[0xff; 64]] {
        assert!(import(bytes, &Options::default()).is_err());
    }
}

#[test]
fn every_truncation_and_random_corruption_of_a_real_file_is_refused_or_imported() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../firmware/models/onnx/qop-conv-net.onnx");
    let bytes = std::fs::read(path).unwrap();
    assert!(import(&bytes, &Options::default()).is_ok());
    for len in 0..bytes.len() {
        let _ = import(&bytes[..len], &Options::default());
    }
    // Seeded like the TFLite corruption test: a failure prints its seed.
    use rand::Rng;
    let (mut rng, _) = accel_conformance::test_rng("onnx corruptions");
    let mut refused = 0;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..b.len());
            b[at] = rng.gen();
        }
        refused += usize::from(import(&b, &Options::default()).is_err());
    }
    assert!(refused > 0);
}

/// The QDQ form: x → QuantizeLinear → DequantizeLinear → Gemm(DequantizeLinear(w) per channel,
/// DequantizeLinear(bias)) → QuantizeLinear → DequantizeLinear → y.
fn qdq_gemm() -> GraphProto {
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (xs, ws) = (0.1f32, [0.05f32, 0.02, 0.04]);
    let bias_scales: Vec<f32> = ws.iter().map(|w| xs * w).collect();
    let mut dqw = node("DequantizeLinear", "", &["w", "ws", "wz"], "wf");
    dqw.attribute = vec![AttributeProto {
        name: Some("axis".into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(0),
        ..Default::default()
    }];
    let mut dqb = node("DequantizeLinear", "", &["b", "bs", "bz"], "bf");
    dqb.attribute = dqw.attribute.clone();
    let mut gemm = node("Gemm", "", &["xf", "wf", "bf"], "yf");
    gemm.attribute = vec![AttributeProto {
        name: Some("transB".into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(1),
        ..Default::default()
    }];
    GraphProto {
        node: vec![
            node("QuantizeLinear", "", &["x", "xs", "xz"], "xq"),
            node("DequantizeLinear", "", &["xq", "xs", "xz"], "xf"),
            dqw,
            dqb,
            gemm,
            node("QuantizeLinear", "", &["yf", "ys", "yz"], "yq"),
            node("DequantizeLinear", "", &["yq", "ys", "yz"], "y"),
        ],
        initializer: vec![
            tensor("xs", DataType::Float, &[], f32s(&[xs])),
            tensor("xz", DataType::Int8, &[], vec![3]),
            tensor(
                "w",
                DataType::Int8,
                &[3, 4],
                (0..12).map(|i| i as u8).collect(),
            ),
            tensor("ws", DataType::Float, &[3], f32s(&ws)),
            tensor("wz", DataType::Int8, &[3], vec![0; 3]),
            tensor(
                "b",
                DataType::Int32,
                &[3],
                [7i32, -8, 9].iter().flat_map(|b| b.to_le_bytes()).collect(),
            ),
            tensor("bs", DataType::Float, &[3], f32s(&bias_scales)),
            tensor("bz", DataType::Int32, &[3], vec![0; 12]),
            tensor("ys", DataType::Float, &[], f32s(&[0.2])),
            tensor("yz", DataType::Int8, &[], vec![0]),
        ],
        input: vec![value("x", DataType::Float, &[1, 4])],
        output: vec![value("y", DataType::Float, &[1, 3])],
        ..Default::default()
    }
}

#[test]
fn a_qdq_group_imports_as_its_integer_operator() {
    let m = import(&model(qdq_gemm()), &Options::default()).unwrap();
    let zkedge_kernel::model::Op::Dense(d) = &m.ops()[0] else {
        panic!("{:?}", m.ops())
    };
    assert_eq!(d.bias, [7, -8, 9]);
    assert_eq!(d.weights[4..8], [4, 5, 6, 7]);
    // Channel 1's multiplier is 0.1 · 0.02 / 0.2 in float32.
    let r = d.requant[1];
    let exact = f64::from(r.multiplier) * 2f64.powi(i32::from(r.shift) - 31);
    assert_eq!(exact, f64::from(0.1f32 * 0.02f32 / 0.2f32));
}

#[test]
fn qdq_constants_that_the_fused_operator_would_misread_are_refused() {
    // Per-channel scales along the input axis.
    let mut g = qdq_gemm();
    g.node[2].attribute[0].i = Some(1);
    let e = refused(&model(g));
    assert!(e.contains("along axis 1"), "{e}");
    // A bias scale that is not x_scale · w_scale.
    let mut g = qdq_gemm();
    g.initializer[6] = tensor(
        "bs",
        DataType::Float,
        &[3],
        [0.1f32; 3].iter().flat_map(|x| x.to_le_bytes()).collect(),
    );
    let e = refused(&model(g));
    assert!(e.contains("bias scale"), "{e}");
    // A float result read by something other than one QuantizeLinear.
    let mut g = qdq_gemm();
    g.node[5].input[0] = "xf".into();
    let e = refused(&model(g));
    assert!(e.contains("exactly one QuantizeLinear"), "{e}");
    // A symbolic dimension other than the batch.
    let mut g = qdq_gemm();
    g.input[0] = value("x", DataType::Float, &[-1, -1]);
    let e = refused(&model(g));
    assert!(e.contains("every dimension but the batch"), "{e}");
}
