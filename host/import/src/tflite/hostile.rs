//! Hostile and unsupported files, built with the generated FlatBuffer builders: each is refused
//! with the error that names what is wrong, without panicking or allocating what the file
//! claims.

use flatbuffers::FlatBufferBuilder;
use zkedge_kernel::model::{Op, Order};

use super::import;
use crate::{
    error::{ImportError, Problem},
    tflite_generated::tflite as fb,
    Options,
};

#[derive(Clone)]
struct T {
    shape: Vec<i32>,
    ty: fb::TensorType,
    /// `(scales, zero points, quantized dimension)`.
    quant: Option<(Vec<f32>, Vec<i64>, i32)>,
    data: Option<Vec<u8>>,
}

#[derive(Clone)]
struct O {
    code: fb::BuiltinOperator,
    custom: Option<&'static str>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
}

#[derive(Clone)]
struct Spec {
    tensors: Vec<T>,
    ops: Vec<O>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    subgraphs: usize,
}

fn act(shape: &[i32], scale: f32, zp: i64) -> T {
    T {
        shape: shape.to_vec(),
        ty: fb::TensorType::INT8,
        quant: Some((vec![scale], vec![zp], 0)),
        data: None,
    }
}

/// input [1, 4] → FULLY_CONNECTED (3 outputs) → output [1, 3].
fn dense() -> Spec {
    let weights: Vec<u8> = (0..12).map(|i| (i as i8 - 6) as u8).collect();
    let bias: Vec<u8> = [100i32, -50, 7]
        .iter()
        .flat_map(|b| b.to_le_bytes())
        .collect();
    Spec {
        tensors: vec![
            act(&[1, 4], 0.1, 3),
            T {
                shape: vec![3, 4],
                ty: fb::TensorType::INT8,
                quant: Some((vec![0.05], vec![0], 0)),
                data: Some(weights),
            },
            T {
                shape: vec![3],
                ty: fb::TensorType::INT32,
                quant: None,
                data: Some(bias),
            },
            act(&[1, 3], 0.2, -5),
        ],
        ops: vec![O {
            code: fb::BuiltinOperator::FULLY_CONNECTED,
            custom: None,
            inputs: vec![0, 1, 2],
            outputs: vec![3],
        }],
        inputs: vec![0],
        outputs: vec![3],
        subgraphs: 1,
    }
}

fn build(spec: &Spec) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let mut buffers = vec![fb::Buffer::create(&mut fbb, &fb::BufferArgs::default())];
    let mut tensors = Vec::new();
    for (i, t) in spec.tensors.iter().enumerate() {
        let buffer = match &t.data {
            Some(d) => {
                let data = fbb.create_vector(d);
                buffers.push(fb::Buffer::create(
                    &mut fbb,
                    &fb::BufferArgs { data: Some(data) },
                ));
                (buffers.len() - 1) as u32
            }
            None => 0,
        };
        let quantization = t.quant.as_ref().map(|(s, z, d)| {
            let (scale, zero_point) = (fbb.create_vector(s), fbb.create_vector(z));
            fb::QuantizationParameters::create(
                &mut fbb,
                &fb::QuantizationParametersArgs {
                    scale: Some(scale),
                    zero_point: Some(zero_point),
                    quantized_dimension: *d,
                    ..Default::default()
                },
            )
        });
        let (shape, name) = (
            fbb.create_vector(&t.shape),
            fbb.create_string(&format!("t{i}")),
        );
        tensors.push(fb::Tensor::create(
            &mut fbb,
            &fb::TensorArgs {
                shape: Some(shape),
                type_: t.ty,
                buffer,
                name: Some(name),
                quantization,
                ..Default::default()
            },
        ));
    }
    let mut codes = Vec::new();
    let mut operators = Vec::new();
    for (i, o) in spec.ops.iter().enumerate() {
        let custom_code = o.custom.map(|c| fbb.create_string(c));
        codes.push(fb::OperatorCode::create(
            &mut fbb,
            &fb::OperatorCodeArgs {
                deprecated_builtin_code: o.code.0.min(127) as i8,
                custom_code,
                version: 1,
                builtin_code: o.code,
            },
        ));
        let (inputs, outputs) = (fbb.create_vector(&o.inputs), fbb.create_vector(&o.outputs));
        let (options_type, options) = match o.code {
            fb::BuiltinOperator::FULLY_CONNECTED => (
                fb::BuiltinOptions::FullyConnectedOptions,
                Some(
                    fb::FullyConnectedOptions::create(&mut fbb, &Default::default())
                        .as_union_value(),
                ),
            ),
            fb::BuiltinOperator::ADD => (
                fb::BuiltinOptions::AddOptions,
                Some(fb::AddOptions::create(&mut fbb, &Default::default()).as_union_value()),
            ),
            _ => (fb::BuiltinOptions::NONE, None),
        };
        operators.push(fb::Operator::create(
            &mut fbb,
            &fb::OperatorArgs {
                opcode_index: i as u32,
                inputs: Some(inputs),
                outputs: Some(outputs),
                builtin_options_type: options_type,
                builtin_options: options,
                ..Default::default()
            },
        ));
    }
    let (tensors, operators) = (fbb.create_vector(&tensors), fbb.create_vector(&operators));
    let (inputs, outputs) = (
        fbb.create_vector(&spec.inputs),
        fbb.create_vector(&spec.outputs),
    );
    let subgraph = fb::SubGraph::create(
        &mut fbb,
        &fb::SubGraphArgs {
            tensors: Some(tensors),
            inputs: Some(inputs),
            outputs: Some(outputs),
            operators: Some(operators),
            name: None,
        },
    );
    let subgraphs = fbb.create_vector(&vec![subgraph; spec.subgraphs]);
    let (codes, buffers) = (fbb.create_vector(&codes), fbb.create_vector(&buffers));
    let model = fb::Model::create(
        &mut fbb,
        &fb::ModelArgs {
            version: 3,
            operator_codes: Some(codes),
            subgraphs: Some(subgraphs),
            buffers: Some(buffers),
            ..Default::default()
        },
    );
    fb::finish_model_buffer(&mut fbb, model);
    fbb.finished_data().to_vec()
}

fn refused(spec: &Spec) -> ImportError {
    match import(&build(spec), &Options::default()) {
        Ok(_) => panic!("the importer accepted a model it must refuse"),
        Err(e) => e,
    }
}

fn op_problem(e: ImportError) -> Problem {
    match e {
        ImportError::Op { problem, .. } | ImportError::Edge { problem, .. } => problem,
        other => panic!("expected a problem with an operator or the input, got {other}"),
    }
}

#[test]
fn a_small_dense_model_imports_with_tflites_parameters() {
    let model = import(&build(&dense()), &Options::default().name("d")).unwrap();
    assert_eq!(model.file().name, "d");
    assert_eq!(model.file().input.order, Order::Hwc);
    let Op::Dense(d) = &model.ops()[0] else {
        panic!("expected a dense op, got {:?}", model.ops());
    };
    assert_eq!(d.weights, (0..12).map(|i| i as i8 - 6).collect::<Vec<_>>());
    assert_eq!(d.bias, vec![100, -50, 7]);
    // Per-tensor FULLY_CONNECTED: the scales multiplied in f32, widened, divided in f64.
    let real = f64::from(0.1f32 * 0.05f32) / f64::from(0.2f32);
    let (m, s) = zkedge_kernel::quant::quantize_multiplier(real).unwrap();
    assert!(d
        .requant
        .iter()
        .all(|r| r.multiplier == m && i32::from(r.shift) == s));
}

#[test]
fn several_subgraphs_or_none_are_refused() {
    for n in [0, 2] {
        let spec = Spec {
            subgraphs: n,
            ..dense()
        };
        assert!(matches!(refused(&spec), ImportError::Subgraphs(k) if k == n));
    }
}

#[test]
fn several_inputs_are_refused() {
    let mut spec = dense();
    spec.inputs = vec![0, 3];
    assert!(matches!(
        refused(&spec),
        ImportError::Arity {
            what: "input",
            count: 2
        }
    ));
}

#[test]
fn a_huge_tensor_is_refused_before_anything_is_allocated() {
    // 4096 × 4096 × 3 values (50 M) for a file of a few hundred bytes.
    let mut spec = dense();
    spec.tensors[0].shape = vec![1, 4096, 4096, 3];
    assert!(matches!(
        op_problem(refused(&spec)),
        Problem::TooLarge { .. }
    ));
    // A dimension beyond 65,535.
    spec.tensors[0].shape = vec![1, 1 << 30, 1, 1];
    assert!(matches!(op_problem(refused(&spec)), Problem::Shape { .. }));
    // Weights claiming 2^24 values with 12 bytes of data.
    let mut spec = dense();
    spec.tensors[0].shape = vec![1, 4096];
    spec.tensors[1].shape = vec![4096, 4096];
    assert!(matches!(
        op_problem(refused(&spec)),
        Problem::TooLarge { .. }
    ));
}

#[test]
fn weights_whose_data_does_not_match_their_shape_are_refused() {
    let mut spec = dense();
    spec.tensors[1].data.as_mut().unwrap().truncate(7);
    assert!(matches!(
        op_problem(refused(&spec)),
        Problem::Data {
            expected: 12,
            found: 7,
            ..
        }
    ));
}

#[test]
fn asymmetric_weights_are_refused() {
    let mut spec = dense();
    spec.tensors[1].quant = Some((vec![0.05], vec![3], 0));
    assert!(matches!(
        op_problem(refused(&spec)),
        Problem::Quantization { .. }
    ));
}

#[test]
fn a_multiplier_tflite_flushes_to_zero_is_refused() {
    let mut spec = dense();
    spec.tensors[1].quant = Some((vec![1e-12], vec![0], 0));
    assert!(matches!(
        op_problem(refused(&spec)),
        Problem::Multiplier { channel: 0, .. }
    ));
}

#[test]
fn float_activations_inside_an_int8_graph_are_refused() {
    let mut spec = dense();
    spec.tensors[3].ty = fb::TensorType::FLOAT32;
    spec.tensors[3].quant = None;
    assert!(matches!(
        refused(&spec),
        ImportError::Edge { what: "output", .. }
    ));
    let mut spec = dense();
    spec.tensors[0].ty = fb::TensorType::INT16;
    assert!(matches!(
        op_problem(refused(&spec)),
        Problem::TensorType { .. }
    ));
}

#[test]
fn unsupported_and_custom_operators_are_named() {
    let mut spec = dense();
    spec.ops[0].code = fb::BuiltinOperator::MUL;
    match refused(&spec) {
        ImportError::Unsupported { index: 0, name } => assert_eq!(name, "MUL"),
        other => panic!("{other}"),
    }
    spec.ops[0].code = fb::BuiltinOperator::CUSTOM;
    spec.ops[0].custom = Some("MyOp");
    match refused(&spec) {
        ImportError::Unsupported { index: 0, name } => assert!(name.contains("MyOp"), "{name}"),
        other => panic!("{other}"),
    }
}

#[test]
fn an_add_that_broadcasts_is_refused() {
    // t4 = ADD(t3 of shape [1, 3], t0 of shape [1, 4]).
    let mut spec = dense();
    spec.tensors.push(act(&[1, 4], 0.3, 0));
    spec.ops.push(O {
        code: fb::BuiltinOperator::ADD,
        custom: None,
        inputs: vec![3, 0],
        outputs: vec![4],
    });
    spec.outputs = vec![4];
    assert!(matches!(op_problem(refused(&spec)), Problem::Options(_)));
}

#[test]
fn an_operand_index_outside_the_graph_is_refused() {
    let mut spec = dense();
    spec.ops[0].inputs = vec![0, 1, 99];
    assert!(matches!(op_problem(refused(&spec)), Problem::Options(_)));
}

#[test]
fn every_truncation_and_many_corruptions_are_refused_without_panicking() {
    let bytes = build(&dense());
    for cut in 0..bytes.len() {
        assert!(
            import(&bytes[..cut], &Options::default()).is_err(),
            "cut {cut}"
        );
    }
    // Single-byte corruptions anywhere: an error or a (different) valid model, never a panic.
    for i in 0..bytes.len() {
        for v in [0u8, 0xff, 0x80, 7] {
            let mut b = bytes.clone();
            b[i] = v;
            let _ = import(&b, &Options::default());
        }
    }
}
