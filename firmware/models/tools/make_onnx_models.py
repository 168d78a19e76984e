#!/usr/bin/env python3
"""Build the quantised ONNX models that zkedge's ONNX importer is tested against (run by hand).

Each model is a small float graph written with onnx.helper and numpy (random weights, fixed
seed), quantised by onnxruntime's own static quantiser (onnxruntime.quantization.quantize_static)
with int8 activations and int8 weights, calibrated on random inputs, in both forms the quantiser
writes: QOperator (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, QLinearAveragePool,
QLinearGlobalAveragePool, ...) and QDQ (QuantizeLinear/DequantizeLinear around float Conv,
MatMul, Gemm, Add, pools, Reshape/Flatten). The script checks that each file holds the operators
it is meant to cover (COVERAGE below) and fails otherwise.

Writes firmware/models/onnx/<name>.onnx and firmware/models/onnx/refused/<name>.onnx (models the
importer must refuse, each for a stated reason).

  target/py-venv/bin/pip install -r firmware/models/tools/requirements-test.txt
  target/py-venv/bin/python firmware/models/tools/make_onnx_models.py

Reference outputs never come from here: the parity check (check_onnx_parity.py) runs
onnxruntime live on these files.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

OUT = Path(__file__).resolve().parent.parent / "onnx"
SEED = 20261205


class Builder:
    """A float ONNX graph under construction."""

    def __init__(self, rng, input_shape):
        self.rng = rng
        self.nodes, self.inits = [], []
        self.input_shape = input_shape
        self.n = 0

    def name(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, array, prefix="c"):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower() + "_")
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, dilation=1, relu=True):
        fan_in = cin // group * k * k
        w = self.rng.normal(0, 1.6 / np.sqrt(fan_in), (cout, cin // group, k, k)).astype(np.float32)
        b = self.rng.normal(0, 0.1, cout).astype(np.float32)
        pads = [pad] * 4 if isinstance(pad, int) else pad
        y = self.node("Conv", [x, self.const(w, "w"), self.const(b, "b")], kernel_shape=[k, k],
                      strides=[stride, stride], pads=pads, group=group,
                      dilations=[dilation, dilation])
        return self.node("Relu", [y]) if relu else y

    def gemm(self, x, fan_in, fan_out, relu=True):
        w = self.rng.normal(0, 1.6 / np.sqrt(fan_in), (fan_out, fan_in)).astype(np.float32)
        b = self.rng.normal(0, 0.1, fan_out).astype(np.float32)
        y = self.node("Gemm", [x, self.const(w, "w"), self.const(b, "b")], transB=1)
        return self.node("Relu", [y]) if relu else y

    def matmul(self, x, fan_in, fan_out):
        w = self.rng.normal(0, 1.6 / np.sqrt(fan_in), (fan_in, fan_out)).astype(np.float32)
        return self.node("MatMul", [x, self.const(w, "w")])

    def model(self, output, output_shape):
        graph = helper.make_graph(
            self.nodes, "g",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, self.input_shape)],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)],
            self.inits,
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def dense_mlp(rng):
    """Flat input; Gemm (transB) with ReLU, Gemm, MatMul without bias."""
    b = Builder(rng, [1, 20])
    h = b.gemm("input", 20, 24)
    h = b.gemm(h, 24, 16, relu=False)
    h = b.matmul(h, 16, 7)
    return b.model(h, [1, 7])


def conv_net(rng):
    """Conv (odd size, SAME-like pads, stride 2, dilation), depthwise with multiplier 2,
    residual Add, AveragePool, MaxPool, GlobalAveragePool, Flatten, Gemm."""
    b = Builder(rng, [1, 3, 11, 9])
    x = b.conv("input", 3, 8, 3, pad=1)                       # 8×11×9
    d = b.conv(x, 8, 16, 3, stride=2, pad=[1, 0, 1, 1], group=8)  # depthwise ×2: 16×6×4
    p = b.conv(d, 16, 16, 1)                                  # 16×6×4
    s = b.node("Add", [d, p])
    s = b.conv(s, 16, 12, 3, pad=2, dilation=2, relu=False)   # 12×6×4
    a = b.node("AveragePool", [s], kernel_shape=[2, 2], strides=[1, 1])  # 12×5×3
    m = b.node("MaxPool", [a], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 0])  # 12×3×1
    g = b.node("GlobalAveragePool", [m])                      # 12×1×1
    f = b.node("Flatten", [g])
    y = b.gemm(f, 12, 5, relu=False)
    return b.model(y, [1, 5])


def conv_reshape(rng):
    """Conv, then Reshape of a multi-channel map into a dense layer (channels-first order)."""
    b = Builder(rng, [1, 2, 6, 6])
    x = b.conv("input", 2, 4, 3, stride=1, pad=0)             # 4×4×4
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])  # 4×2×2
    r = b.node("Reshape", [x, b.const(np.array([1, 16], np.int64), "shape")])
    y = b.gemm(r, 16, 6, relu=False)
    return b.model(y, [1, 6])


class Reader(CalibrationDataReader):
    def __init__(self, shape, rng, count=64):
        self.data = iter([{"input": rng.normal(0, 1, shape).astype(np.float32)} for _ in range(count)])

    def get_next(self):
        return next(self.data, None)


def quantise(float_model, path, fmt, per_channel, activation=QuantType.QInt8, seed=0):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "float.onnx"
        onnx.save(float_model, src)
        shape = [d.dim_value for d in float_model.graph.input[0].type.tensor_type.shape.dim]
        quantize_static(
            str(src), str(path), Reader(shape, np.random.default_rng(seed)),
            quant_format=fmt, per_channel=per_channel, activation_type=activation,
            weight_type=QuantType.QInt8,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    m = onnx.load(str(path))
    # Strip the producer's local paths and any version noise that would make rebuilds differ.
    m.producer_version = ""
    onnx.save(m, str(path))
    return m


# name -> (builder, format, per-channel, activation type, op types the file must hold)
MODELS = {
    "qop-dense-mlp": (dense_mlp, QuantFormat.QOperator, True, QuantType.QInt8,
                      {"QGemm", "QLinearMatMul"}),
    "qdq-dense-mlp": (dense_mlp, QuantFormat.QDQ, False, QuantType.QInt8,
                      {"QuantizeLinear", "DequantizeLinear", "Gemm", "MatMul"}),
    "qop-conv-net": (conv_net, QuantFormat.QOperator, True, QuantType.QInt8,
                     {"QLinearConv", "QLinearAdd", "QLinearAveragePool", "MaxPool",
                      "QLinearGlobalAveragePool", "Flatten", "QGemm"}),
    "qdq-conv-net": (conv_net, QuantFormat.QDQ, True, QuantType.QInt8,
                     {"Conv", "Add", "AveragePool", "MaxPool", "GlobalAveragePool", "Flatten",
                      "Gemm"}),
    "qop-conv-reshape-per-tensor": (conv_reshape, QuantFormat.QOperator, False, QuantType.QInt8,
                                    {"QLinearConv", "MaxPool", "Reshape", "QGemm"}),
    "qdq-conv-reshape": (conv_reshape, QuantFormat.QDQ, True, QuantType.QInt8,
                         {"Conv", "MaxPool", "Reshape", "Gemm"}),
    # Refused: uint8 activations (onnxruntime's default activation type).
    "refused/uint8-activations": (dense_mlp, QuantFormat.QOperator, True, QuantType.QUInt8,
                                  {"QGemm"}),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="build only this model (repeatable)")
    args = ap.parse_args()
    (OUT / "refused").mkdir(parents=True, exist_ok=True)
    failed = False
    for i, (name, (build, fmt, per_channel, act, cover)) in enumerate(MODELS.items()):
        if args.only and name not in args.only:
            continue
        rng = np.random.default_rng(SEED + i)
        path = OUT / f"{name}.onnx"
        m = quantise(build(rng), path, fmt, per_channel, act, seed=SEED + 100 + i)
        ops = {n.op_type for n in m.graph.node}
        missing = cover - ops
        print(f"{name}: {path.stat().st_size} bytes; ops {sorted(ops)}")
        if missing:
            print(f"  error: {name} lacks {sorted(missing)}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
