#!/usr/bin/env python3
"""Build the int8 .tflite models that zkedge's importer is tested against (run by hand).

Every model is a Keras model with random weights, its batch-norm statistics set from the
activations of random inputs as training would leave them (the converter folds them into the
weights), and its logits scaled to a few units; it is quantised by TensorFlow's converter with full-integer int8
post-training quantisation on a representative dataset of random inputs. Together they cover
every operator, fused activation, padding mode, stride, dilation and depth multiplier the
importer takes, and the MLPerf Tiny architectures. The script checks that each file holds the
operators and options it is meant to cover (COVERAGE below) and fails otherwise.

Writes firmware/models/tflite/<name>.tflite and firmware/models/tflite/refused/<name>.tflite
(models the importer must refuse, each for a stated reason).

  python3 -m venv target/tf-venv
  target/tf-venv/bin/pip install -r firmware/models/tools/requirements-tflite.txt
  target/tf-venv/bin/python firmware/models/tools/make_tflite_models.py [--only NAME]

Reference outputs never come from here: the parity test (check_tflm_parity.py) runs the
TensorFlow Lite Micro interpreter live on these files.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras
from keras import layers
from tensorflow.lite.python import schema_py_generated as schema

OUT = Path(__file__).resolve().parent.parent / "tflite"
SEED = 20261205

OP_NAMES = {v: k for k, v in schema.BuiltinOperator.__dict__.items() if not k.startswith("_")}
ACT_NAMES = {v: k for k, v in schema.ActivationFunctionType.__dict__.items() if not k.startswith("_")}
PAD_NAMES = {v: k for k, v in schema.Padding.__dict__.items() if not k.startswith("_")}


def clip1(x):
    """Clipping to [-1, 1] after a conv: the converter fuses it as RELU_N1_TO_1."""
    return layers.Lambda(lambda t: tf.clip_by_value(t, -1.0, 1.0))(x)


class DilatedConv(layers.Layer):
    """A (depthwise) convolution written with TensorFlow's own ops and their `dilations`
    attribute: Keras lowers a dilated convolution to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND,
    which the converter does not always fuse back into one dilated TFLite operator."""

    def __init__(self, filters, kernel, dilation, strides=(1, 1), padding="VALID",
                 depthwise=False, multiplier=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel, self.dilation = filters, kernel, dilation
        self.strides, self.padding = strides, padding
        self.depthwise, self.multiplier = depthwise, multiplier

    def build(self, input_shape):
        c = input_shape[-1]
        last, out = (self.multiplier, c * self.multiplier) if self.depthwise else (self.filters, self.filters)
        self.w = self.add_weight(name="kernel", shape=(*self.kernel, c, last))
        self.b = self.add_weight(name="bias", shape=(out,))

    def call(self, x):
        strides, dilations = [1, *self.strides, 1], [1, *self.dilation, 1]
        if self.depthwise and tf.executing_eagerly():
            # TensorFlow's CPU kernel has no dilated depthwise convolution; calibration runs
            # eagerly and takes the space-to-batch form (the same numbers).
            y = tf.nn.depthwise_conv2d(x, self.w, strides, self.padding, dilations=self.dilation)
        elif self.depthwise:
            y = tf.raw_ops.DepthwiseConv2dNative(
                input=x, filter=self.w, strides=strides, padding=self.padding, dilations=dilations)
        else:
            y = tf.nn.conv2d(x, self.w, strides=strides, padding=self.padding, dilations=dilations)
        return tf.nn.bias_add(y, self.b)


def bn_relu(x, act="relu"):
    x = layers.BatchNormalization()(x)
    return layers.Activation(act)(x) if act else x


# --- coverage models --------------------------------------------------------------------------

def conv_flatten_softmax():
    """SAME stride 1 and 2 on odd sizes, RELU and RELU6, MAX_POOL SAME, Keras Flatten, softmax."""
    inp = keras.Input(shape=(9, 7, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = layers.Conv2D(6, (3, 2), strides=2, padding="same", activation="relu6")(x)
    x = layers.MaxPooling2D(2, strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10)(x)
    return keras.Model(inp, layers.Softmax()(x))


def dilated_depthwise():
    """VALID with dilation, RELU_N1_TO_1, depth multiplier 2 with stride 2, dilated depthwise
    SAME, AVERAGE_POOL VALID, Flatten into a dense layer, no softmax."""
    inp = keras.Input(shape=(12, 11, 2))
    x = clip1(DilatedConv(4, (3, 3), (2, 2))(inp))
    x = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid", activation="relu")(x)
    x = layers.ReLU(6.0)(DilatedConv(0, (3, 3), (2, 1), padding="SAME", depthwise=True)(x))
    x = layers.AveragePooling2D(2, strides=1, padding="valid")(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(4)(x))


def per_tensor_dscnn():
    """Per-tensor weights throughout; AVERAGE_POOL SAME (padded taps left out of the count),
    MAX_POOL VALID, stride (2, 1)."""
    inp = keras.Input(shape=(10, 8, 1))
    x = layers.Conv2D(8, 3, strides=(2, 1), padding="same", activation="relu")(inp)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Conv2D(8, 1, activation="relu")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = layers.MaxPooling2D((2, 3), strides=1, padding="valid")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(3)(x)
    return keras.Model(inp, layers.Softmax()(x))


def residual_add():
    """ADD with a fused RELU and ADD without, inputs of different scales, global average pool."""
    inp = keras.Input(shape=(8, 8, 4))
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = layers.Conv2D(8, 3, padding="same")(a)
    x = layers.Activation("relu")(layers.Add()([a, b]))
    c = layers.Conv2D(4, 1)(x)
    x = layers.Add()([c, inp])
    x = layers.AveragePooling2D(8)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(5)(x))


def float_io():
    """Float input and output: QUANTIZE and DEQUANTIZE at the graph's edges, softmax inside."""
    inp = keras.Input(shape=(6, 6, 2))
    x = layers.Conv2D(4, 3, activation="relu")(inp)
    x = layers.Flatten()(x)
    x = layers.Dense(3)(x)
    return keras.Model(inp, layers.Softmax()(x))


def conv1d():
    """Keras Conv1D: rank-3 tensors, EXPAND_DIMS/RESHAPE around CONV_2D, odd length."""
    inp = keras.Input(shape=(21, 3))
    x = layers.Conv1D(6, 5, strides=2, padding="same", activation="relu")(inp)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(4)(x))


def dense_mlp():
    """Dense layers on a flat input, RELU and RELU6, per-channel dense weights, softmax."""
    inp = keras.Input(shape=(13,))
    x = layers.Dense(16, activation="relu")(inp)
    x = layers.Dense(8, activation="relu6")(x)
    x = layers.Dense(3)(x)
    return keras.Model(inp, layers.Softmax()(x))


def softmax_only(n):
    inp = keras.Input(shape=(n,))
    return keras.Model(inp, layers.Softmax()(inp))


# --- MLPerf Tiny architectures --------------------------------------------------------------

def ad_autoencoder():
    """Anomaly detection: dense autoencoder 640→128×4→8→128×4→640 (BN folded)."""
    inp = keras.Input(shape=(640,))
    x = inp
    for units in [128, 128, 128, 128, 8, 128, 128, 128, 128]:
        x = bn_relu(layers.Dense(units)(x))
    return keras.Model(inp, layers.Dense(640)(x))


def kws_dscnn():
    """Keyword spotting: DS-CNN (MLPerf Tiny), input 49×10×1, 12 classes."""
    inp = keras.Input(shape=(49, 10, 1))
    x = bn_relu(layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same")(inp))
    for _ in range(4):
        x = bn_relu(layers.DepthwiseConv2D(3, padding="same")(x))
        x = bn_relu(layers.Conv2D(64, 1)(x))
    x = layers.AveragePooling2D(pool_size=(25, 5))(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Softmax()(layers.Dense(12)(x)))


def vww_mobilenet():
    """Visual wake words: MobileNetV1 alpha 0.25 at 96×96×3, 2 classes."""
    inp = keras.Input(shape=(96, 96, 3))
    x = bn_relu(layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp), "relu6")
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
    for filters, stride in blocks:
        x = bn_relu(layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x), "relu6")
        x = bn_relu(layers.Conv2D(filters, 1, use_bias=False)(x), "relu6")
    x = layers.AveragePooling2D(pool_size=3)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Softmax()(layers.Dense(2)(x)))


def resnet8():
    """Image classification: ResNet-8 (MLPerf Tiny) for 32×32×3, 10 classes."""
    inp = keras.Input(shape=(32, 32, 3))
    x = bn_relu(layers.Conv2D(16, 3, padding="same")(inp))
    for filters, stride in [(16, 1), (32, 2), (64, 2)]:
        y = bn_relu(layers.Conv2D(filters, 3, strides=stride, padding="same")(x))
        y = bn_relu(layers.Conv2D(filters, 3, padding="same")(y), None)
        if stride != 1:
            x = layers.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.AveragePooling2D(pool_size=8)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Softmax()(layers.Dense(10)(x)))


def streaming_ww():
    """Streaming wake word (MLPerf Tiny's op set: CONV_2D, DEPTHWISE_CONV_2D, RESHAPE,
    FULLY_CONNECTED, SOFTMAX): 30 frames × 40 features, dilated depthwise convolutions along
    time, ~0.83 M MACs."""
    inp = keras.Input(shape=(30, 1, 40))
    x = bn_relu(layers.Conv2D(88, (3, 1))(inp))
    for dilation in [1, 2, 4]:
        x = bn_relu(DilatedConv(0, (3, 1), (dilation, 1), depthwise=True)(x))
        x = bn_relu(layers.Conv2D(88, 1)(x))
    x = bn_relu(layers.Conv2D(32, (14, 1))(x))
    x = layers.Reshape((32,))(x)
    return keras.Model(inp, layers.Softmax()(layers.Dense(3)(x)))


# --- models the importer must refuse ---------------------------------------------------------

def refused_two_inputs():
    a, b = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    return keras.Model([a, b], layers.Dense(2)(layers.Add()([a, b])))


def refused_tanh():
    inp = keras.Input(shape=(6,))
    return keras.Model(inp, layers.Activation("tanh")(layers.Dense(4)(inp)))


def refused_batch():
    inp = keras.Input(shape=(5,), batch_size=2)
    return keras.Model(inp, layers.Dense(3)(inp))


# name: (builder, {converter options}, COVERAGE: strings that must appear in the op summary)
MODELS = {
    "conv-flatten-softmax": (conv_flatten_softmax, {}, [
        "CONV_2D SAME s1x1 d1x1 RELU", "CONV_2D SAME s2x2 d1x1 RELU6", "MAX_POOL_2D SAME",
        "SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE", "FULLY_CONNECTED NONE", "SOFTMAX"]),
    "dilated-depthwise": (dilated_depthwise, {}, [
        "CONV_2D VALID s1x1 d2x2 RELU_N1_TO_1", "DEPTHWISE_CONV_2D VALID s2x2 d1x1 m2 RELU",
        "DEPTHWISE_CONV_2D SAME s1x1 d2x1 m1 RELU6", "AVERAGE_POOL_2D VALID"]),
    "per-tensor-dscnn": (per_tensor_dscnn, {"per_tensor": True}, [
        "CONV_2D SAME s2x1 d1x1 RELU", "per-tensor", "AVERAGE_POOL_2D SAME",
        "MAX_POOL_2D VALID", "SOFTMAX"]),
    "residual-add": (residual_add, {}, ["ADD RELU", "ADD NONE", "AVERAGE_POOL_2D VALID"]),
    "float-io": (float_io, {"float_io": True}, ["QUANTIZE", "DEQUANTIZE", "SOFTMAX"]),
    "conv1d": (conv1d, {}, ["CONV_2D SAME s1x2 d1x1 RELU", "MAX_POOL_2D VALID"]),
    "dense-mlp": (dense_mlp, {}, ["FULLY_CONNECTED RELU", "FULLY_CONNECTED RELU6", "SOFTMAX"]),
    "softmax-10-narrow": (lambda: softmax_only(10), {"rep_scale": 0.3}, ["SOFTMAX"]),
    "softmax-10-wide": (lambda: softmax_only(10), {"rep_scale": 30.0}, ["SOFTMAX"]),
    "softmax-50-huge": (lambda: softmax_only(50), {"rep_scale": 3000.0}, ["SOFTMAX"]),
    "mlperf-ad-autoencoder": (ad_autoencoder, {}, ["FULLY_CONNECTED RELU"]),
    "mlperf-kws-dscnn": (kws_dscnn, {}, ["CONV_2D SAME s2x2", "DEPTHWISE_CONV_2D SAME", "AVERAGE_POOL_2D", "SOFTMAX"]),
    "mlperf-vww-mobilenet": (vww_mobilenet, {}, ["CONV_2D SAME s2x2 d1x1 RELU6", "DEPTHWISE_CONV_2D SAME s2x2", "SOFTMAX"]),
    "mlperf-resnet8": (resnet8, {}, ["CONV_2D SAME s2x2", "ADD RELU", "AVERAGE_POOL_2D", "SOFTMAX"]),
    "mlperf-streaming-ww": (streaming_ww, {}, ["CONV_2D VALID", "DEPTHWISE_CONV_2D VALID s1x1 d4x1", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]),
    "refused/two-inputs": (refused_two_inputs, {}, ["ADD"]),
    "refused/tanh": (refused_tanh, {}, ["TANH"]),
    "refused/batch-2": (refused_batch, {}, ["FULLY_CONNECTED"]),
    "refused/float": (dense_mlp, {"float_only": True}, ["FULLY_CONNECTED"]),
    "refused/int16-activations": (dense_mlp, {"int16": True}, ["FULLY_CONNECTED"]),
}


def mixture(rng, shape):
    """Random inputs whose statistics vary from one to the next (as check_tflm_parity.py's do):
    independent Gaussian values, values around a random level with a random spread, and sparse
    spikes. Calibrating on independent values alone would leave a network that pools over its
    whole input computing the same output for every input."""
    family = rng.integers(3)
    if family == 0:
        return rng.standard_normal(shape)
    if family == 1:
        return rng.uniform(-2, 2) + rng.uniform(0.05, 1.5) * rng.standard_normal(shape)
    x = np.full(shape, rng.uniform(-2, 2))
    where = rng.random(shape) < rng.uniform(0.01, 0.2)
    x[where] = rng.uniform(-3, 3, size=int(where.sum()))
    return x


def calibrate(model, rng):
    """What training would leave: batch-norm statistics that normalise each layer's actual
    input (so that activations neither die nor saturate), and logits spread over a few units
    (so that a softmax is not saturated)."""
    shapes = [tuple(i.shape[1:]) for i in model.inputs]
    batch = [np.stack([mixture(rng, s) for _ in range(256)]).astype(np.float32) for s in shapes]
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            feats = np.asarray(keras.Model(model.inputs, layer.input)(batch, training=False))
            axes = tuple(range(feats.ndim - 1))
            mean, var = feats.mean(axes), feats.var(axes) + 1e-3
            gamma = rng.uniform(0.5, 1.5, mean.shape)
            beta = rng.normal(0.0, 0.3, mean.shape)
            layer.set_weights([v.astype(np.float32) for v in (gamma, beta, mean, var)])
    dense = [l for l in model.layers if isinstance(l, layers.Dense)]
    if dense:
        last = dense[-1]
        logits = np.asarray(keras.Model(model.inputs, last.output)(batch, training=False))
        spread = float(logits.std()) / 2.0
        if spread > 0:
            kernel, bias = last.get_weights()
            last.set_weights([kernel / spread, bias / spread])


def randomise(model, rng):
    """Random weights everywhere, batch-norm statistics included (so that folding them changes
    the weights and biases, as in a trained model)."""
    for layer in model.layers:
        new = []
        for w in layer.weights:
            name, shape = w.name, tuple(w.shape)
            if "moving_variance" in name or "variance" in name:
                new.append(rng.uniform(0.5, 2.0, shape))
            elif "gamma" in name:
                new.append(rng.uniform(0.5, 1.5, shape))
            elif "moving_mean" in name or "beta" in name or "bias" in name:
                new.append(rng.normal(0.0, 0.2, shape))
            else:
                fan_in = max(1, int(np.prod(shape[:-1])))
                new.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape))
        if new:
            layer.set_weights([v.astype(np.float32) for v in new])


def convert(model, rng, per_tensor=False, float_io=False, float_only=False, int16=False, rep_scale=1.0):
    shapes = [tuple(i.shape) for i in model.inputs]

    def representative():
        for _ in range(200):
            yield [
                (rep_scale * mixture(rng, (s[0] or 1,) + s[1:])).astype(np.float32)
                for s in shapes
            ]

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if not float_only:
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = representative
        if int16:
            c.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:
            c.inference_input_type = tf.int16 if int16 else tf.int8
            c.inference_output_type = tf.int16 if int16 else tf.int8
        if per_tensor:
            c._experimental_disable_per_channel = True
    return c.convert()


def summary(blob):
    """One line per operator: name, padding, strides, dilation, multiplier, activation."""
    m = schema.Model.GetRootAsModel(blob, 0)
    sg = m.Subgraphs(0)
    lines = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = m.OperatorCodes(op.OpcodeIndex())
        name = OP_NAMES.get(max(oc.DeprecatedBuiltinCode(), oc.BuiltinCode()), "?")
        parts = [name]
        t = op.BuiltinOptionsType()
        table = op.BuiltinOptions()
        opts = None
        for cls in ("Conv2DOptions", "DepthwiseConv2DOptions", "Pool2DOptions",
                    "FullyConnectedOptions", "AddOptions"):
            if t == getattr(schema.BuiltinOptions, cls):
                opts = getattr(schema, cls)()
                opts.Init(table.Bytes, table.Pos)
        if opts is not None and hasattr(opts, "Padding"):
            parts.append(PAD_NAMES[opts.Padding()])
            parts.append(f"s{opts.StrideH()}x{opts.StrideW()}")
        if opts is not None and hasattr(opts, "DilationHFactor"):
            parts.append(f"d{opts.DilationHFactor()}x{opts.DilationWFactor()}")
        if opts is not None and hasattr(opts, "DepthMultiplier"):
            parts.append(f"m{opts.DepthMultiplier()}")
        if opts is not None and hasattr(opts, "FusedActivationFunction"):
            parts.append(ACT_NAMES[opts.FusedActivationFunction()])
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = sg.Tensors(op.Inputs(1))
            parts.append("per-channel" if w.Quantization().ScaleLength() > 1 else "per-tensor")
        lines.append(" ".join(parts))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="build only these models")
    args = ap.parse_args()
    (OUT / "refused").mkdir(parents=True, exist_ok=True)
    for name, (build, options, coverage) in MODELS.items():
        if args.only and name not in args.only:
            continue
        # Each model its own seed: rebuilding one leaves the others' bytes unchanged.
        seed = SEED + sum(name.encode())
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        model = build()
        randomise(model, rng)
        calibrate(model, rng)
        blob = convert(model, rng, **options)
        ops = summary(blob)
        text = "\n".join(ops)
        missing = [c for c in coverage if c not in text]
        if missing:
            sys.exit(f"error: {name}: expected {missing} among its operators:\n{text}")
        path = OUT / f"{name}.tflite"
        path.write_bytes(blob)
        print(f"{name}: {len(blob)} bytes, {len(ops)} operators")
        for line in ops:
            print(f"    {line}")


if __name__ == "__main__":
    main()
