//! The committed onnxruntime-quantised models (firmware/models/onnx): each imports into the ops
//! its graph holds, in ONNX's channels-first order with onnxruntime's multipliers; the refused
//! one says why. Agreement with onnxruntime itself is measured live by check_onnx_parity.py
//! (`cargo xtask test`).

use std::path::{Path, PathBuf};

use zkedge_import::{read, ImportError, Options};
use zkedge_kernel::model::{Op, Order, Rounding};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware/models/onnx")
}

fn kinds(name: &str) -> Vec<&'static str> {
    let m = read(&models().join(name), &Options::default()).unwrap();
    assert_eq!(m.file().input.order, Order::Chw);
    assert_eq!(m.rounding(), Rounding::Single);
    m.ops().iter().map(Op::kind).collect()
}

#[test]
fn qoperator_models_import_op_for_op() {
    // QGemm, QGemm, QLinearMatMul.
    assert_eq!(kinds("qop-dense-mlp.onnx"), ["dense", "dense", "dense"]);
    // QLinearConv ×2 (the second grouped: depthwise ×2), QLinearConv 1×1, QLinearAdd,
    // dilated QLinearConv, QLinearAveragePool (a rescaling average: unit-weight depthwise),
    // MaxPool, QLinearGlobalAveragePool (likewise), Flatten (nothing moves), QGemm.
    assert_eq!(
        kinds("qop-conv-net.onnx"),
        [
            "conv2d",
            "depthwise_conv2d",
            "conv2d",
            "add",
            "conv2d",
            "depthwise_conv2d",
            "max_pool2d",
            "depthwise_conv2d",
            "dense"
        ]
    );
    assert_eq!(
        kinds("qop-conv-reshape-per-tensor.onnx"),
        ["conv2d", "max_pool2d", "reshape", "dense"]
    );
}

#[test]
fn qdq_models_import_as_their_integer_operators() {
    assert_eq!(kinds("qdq-dense-mlp.onnx"), ["dense", "dense", "dense"]);
    // The AveragePool keeps its scale here: zkedge's own average pool.
    assert_eq!(
        kinds("qdq-conv-net.onnx"),
        [
            "conv2d",
            "depthwise_conv2d",
            "conv2d",
            "add",
            "conv2d",
            "avg_pool2d",
            "max_pool2d",
            "depthwise_conv2d",
            "dense"
        ]
    );
    assert_eq!(
        kinds("qdq-conv-reshape.onnx"),
        ["conv2d", "max_pool2d", "reshape", "dense"]
    );
}

#[test]
fn shapes_follow_the_graph() {
    let m = read(&models().join("qop-conv-net.onnx"), &Options::default()).unwrap();
    // Input [1, 3, 11, 9]; depthwise 3×3 stride 2 with pads [top 1, left 0, bottom 1, right 1]
    // → 6×4; the dilated conv keeps 6×4; 2×2 average → 5×3; 2×2 max stride 2 padded at the
    // bottom → 3×1; global → 1×1.
    assert_eq!(m.input_shape(), [3, 11, 9]);
    let shapes: Vec<_> = (1..m.tensor_count()).map(|t| m.shape(t)).collect();
    assert_eq!(
        shapes,
        [
            [8, 11, 9],
            [16, 6, 4],
            [16, 6, 4],
            [16, 6, 4],
            [12, 6, 4],
            [12, 5, 3],
            [12, 3, 1],
            [12, 1, 1],
            [5, 1, 1]
        ]
    );
    assert!(zkedge_import::circuit(&m).unwrap().k() <= zkedge_kernel::layout::MAX_K);
}

#[test]
fn uint8_activations_are_refused_with_the_fix() {
    let e = read(
        &models().join("refused/uint8-activations.onnx"),
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, ImportError::Op { index: 0, .. }),
        "the input's QuantizeLinear: {e}"
    );
    assert!(e.to_string().contains("QInt8"), "{e}");
}
