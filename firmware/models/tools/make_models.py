#!/usr/bin/env python3
"""Train, quantise and export zkedge's reference models, deterministically.

For each model this writes, next to this tools/ folder:
  <name>.json          the zkedge model (docs/model-format.md)
  <name>.onnx          the same model as a QLinear ONNX graph (QLinearConv throughout)
  <name>.samples.json  every test-set sample, quantised to int8, and its label
and build-report.txt with the measured numbers (accuracies, nudged channels).

  python make_models.py [--out DIR] [--aeon-wheel PATH] [--only NAME]

Quantisation is post-training: weights symmetric int8 in [-127, 127] per output
channel, activations asymmetric int8 calibrated (min/max) on the training set,
int32 bias = round(b / (s_in * s_w[o])). ReLU layers get output zero point -128
so that int8 saturation is the ReLU. Each output channel's requantisation is then
checked over its whole reachable accumulator range (|acc| <= sum|w|*255 + |bias|)
against onnxruntime's float formula; a channel that disagrees anywhere gets its
weight scale nudged up by 2^-16 (relative) and is re-quantised until it agrees.
See README.md for why the check is made against single rounding.
"""

import os

# One BLAS thread: float sums then come out the same on machines with any core count.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import datasets
import nn
import qarith

TOOLS = Path(__file__).resolve().parent
NUDGE_STEP = 2.0**-16  # relative weight-scale step per nudge
MAX_NUDGES = 256
ROUNDING = "single"  # the Q31 rounding the channels are made to agree with ORT under

ITALY_SOURCE = (
    "Data: UCR time-series archive 'ItalyPowerDemand' (Keogh et al., 'Intelligent Icons', ICDM 2006; "
    "Dau et al., 'The UCR Time Series Archive', 2019), the 67 train / 1029 test split, read from "
    "aeon==1.6.0's wheel (PyPI), aeon/datasets/data/ItalyPowerDemand/ItalyPowerDemand_{TRAIN,TEST}.ts. "
    "Trained with firmware/models/tools/make_models.py (numpy, Adam), post-training int8 quantisation "
    "calibrated on the training set.")
DIGITS_SOURCE = (
    "Data: scikit-learn's bundled 8x8 handwritten digits (sklearn.datasets.load_digits, a copy of the "
    "UCI 'Optical Recognition of Handwritten Digits' test set, Alpaydin & Kaynak 1998), stratified "
    "75/25 split (random_state 0). Trained with firmware/models/tools/make_models.py (numpy, Adam), "
    "post-training int8 quantisation calibrated on the training set.")


# ---------------------------------------------------------------- the two models

def build_italy(args):
    rng = np.random.default_rng(20261121)
    xtr, ytr, xte, yte = datasets.italy_power_demand(args.aeon_wheel)
    xtr, xte = xtr.reshape(-1, 1, 1, 24), xte.reshape(-1, 1, 1, 24)
    net = nn.Net([
        nn.Conv2d(1, 1, 24, 4, kernel=(1, 5), relu=True, rng=rng),
        nn.Dense(80, 8, relu=True, rng=rng),
        nn.Dense(8, 2, relu=False, rng=rng),
    ])
    train = dict(epochs=600, lr=3e-3, batch=16, weight_decay=1e-3, noise=0.05)
    net.train(xtr, ytr, rng=rng, log=200, **train)
    return dict(
        name="italy-power-demand",
        description=(
            "Smart-city power-grid sensor: a substation smart meter sees the 24 hourly electricity-demand "
            "readings of one day (z-normalised per day) and tells the seasonal load regime -- a winter "
            "day (October-March: lighting-driven evening peak) or a summer day (April-September) -- the "
            "regime a grid operator's load forecasting and tariff scheduling switch on. Input: 24 int8 "
            "readings, shape [1, 1, 24]; output: 2 int8 logits."),
        source=ITALY_SOURCE, classes=["winter (Oct-Mar)", "summer (Apr-Sep)"],
        net=net, xtr=xtr, ytr=ytr, xte=xte, yte=yte, train=train)


def build_digits(args):
    rng = np.random.default_rng(20261122)
    xtr, xte, ytr, yte = datasets.digits(test_fraction=0.25, seed=0)
    xtr, xte = xtr.reshape(-1, 1, 8, 8) / 16.0, xte.reshape(-1, 1, 8, 8) / 16.0  # real input in [0, 1]
    net = nn.Net([
        nn.Conv2d(1, 8, 8, 4, kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1), relu=True, rng=rng),
        nn.Conv2d(4, 8, 8, 8, kernel=(3, 3), stride=(2, 2), padding=(1, 1, 1, 1), relu=True, rng=rng),
        nn.Dense(128, 10, relu=False, rng=rng),
    ])
    train = dict(epochs=30, lr=3e-3, batch=32, weight_decay=1e-4, noise=0.0)
    net.train(xtr, ytr, rng=rng, log=10, **train)
    return dict(
        name="digits-cnn",
        description=(
            "Handwritten digit recogniser for an 8x8 grey-level sensor (e.g. a meter-reading camera "
            "patch): pixels 0..16 scaled to [0, 1], shape [1, 8, 8]; two 3x3 convolutions (the second "
            "with 4 input channels and stride 2, both zero-padded) and a dense layer to 10 int8 logits. "
            "The test model for true 2-D convolution."),
        source=DIGITS_SOURCE, classes=[str(d) for d in range(10)],
        net=net, xtr=xtr, ytr=ytr, xte=xte, yte=yte, train=train)


BUILDERS = {"italy-power-demand": build_italy, "digits-cnn": build_digits}


# ---------------------------------------------------------------- quantisation

def act_qparams(lo, hi):
    """Asymmetric int8 (scale, zero point) covering [lo, hi] and real 0 exactly."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = qarith.f32((hi - lo) / 255.0)
    zp = int(np.clip(np.rint(-128 - lo / float(scale)), -128, 127))
    return scale, zp


def quantise_input(x, scale, zp):
    """Real -> int8 like ONNX QuantizeLinear: round half to even, saturate."""
    return np.clip(np.rint(x / float(scale)) + zp, -128, 127).astype(np.int64)


def quantise_channel(w_real, b_real, s_in, s_w0, s_out, zp_out, relu, nudge=True):
    """Quantise one output channel at weight scale s_w0 * (1 + k * 2^-16), k = 0, 1, ...

    Returns the first k at which ORT's float requantisation and the Q31 formula
    agree on every accumulator the channel can reach.
    """
    for k in range(MAX_NUDGES):
        s_w = qarith.f32(float(s_w0) * (1 + k * NUDGE_STEP))
        wq = np.clip(np.rint(w_real / float(s_w)), -127, 127).astype(np.int64)
        bq = int(np.rint(b_real / (float(s_in) * float(s_w))))
        if abs(bq) > qarith.INT32_MAX:
            raise OverflowError("bias does not fit int32")
        m = qarith.ort_multiplier(s_in, s_w, s_out)
        mult, shift = qarith.q31_from_f32(m)
        bound = qarith.acc_bound(wq, bq)
        # docs/model-format.md: acc * 2^shift must stay in int32. Also keep float32(acc)
        # exact (|acc| < 2^24), which the exhaustive check models anyway.
        if bound * 2 ** max(shift, 0) > qarith.INT32_MAX or bound >= 2**24:
            raise OverflowError(f"accumulator bound {bound} too large")
        bad = qarith.channel_mismatches(bound, m, mult, shift, zp_out, relu, ROUNDING, limit=1) if nudge else []
        if not bad:
            double_bad = qarith.channel_mismatches(bound, m, mult, shift, zp_out, relu, "double",
                                                   limit=1 << 30)
            return dict(s_w=s_w, wq=wq, bq=bq, mult=mult, shift=shift, nudges=k, bound=bound,
                        double_mismatches=len(double_bad))
    raise RuntimeError(f"no weight scale within {MAX_NUDGES} nudges agrees with onnxruntime")


def quantise(spec, nudge=True):
    net, xtr = spec["net"], spec["xtr"]
    acts = [np.concatenate(z) for z in zip(*[net.forward(xtr[i:i + 256], keep=True)
                                              for i in range(0, len(xtr), 256)])]
    s_in, zp_in = act_qparams(xtr.min(), xtr.max())
    model = {
        "format": "zkedge-model", "version": 1, "name": spec["name"],
        "description": spec["description"], "source": spec["source"],
        "input": {"shape": list(xtr.shape[1:]), "scale": float(s_in), "zero_point": zp_in},
        # Single rounding is the TFLite/CMSIS-NN mode onnxruntime agrees with exactly (README).
        "rounding": "single",
        "layers": [],
        "classes": spec["classes"],
    }
    report = []
    for li, (layer, a) in enumerate(zip(net.layers, acts)):
        s_out, zp_out = act_qparams(a.min(), a.max())
        assert not layer.relu or zp_out == -128
        W = layer.W.reshape(layer.W.shape[0], -1)
        chans = []
        for o in range(W.shape[0]):
            s_w0 = qarith.f32(max(np.abs(W[o]).max(), 1e-12) / 127.0)
            chans.append(quantise_channel(W[o], layer.b[o], s_in, s_w0, s_out, zp_out, layer.relu, nudge))
        entry = {}
        if isinstance(layer, nn.Conv2d):
            entry.update(type="conv2d", out_channels=layer.o, kernel=list(layer.kernel),
                         stride=list(layer.stride), padding=list(layer.padding))
        else:
            entry.update(type="dense", out_features=layer.o)
        entry.update(
            weights=[int(v) for c in chans for v in c["wq"]],
            bias=[c["bq"] for c in chans],
            requant=[{"multiplier": c["mult"], "shift": c["shift"]} for c in chans],
            output={"scale": float(s_out), "zero_point": zp_out},
            relu=bool(layer.relu),
        )
        # The weight scales are not part of the zkedge format (only M is), but the ONNX
        # graph needs them; keep them aside.
        entry["_w_scale"] = [float(c["s_w"]) for c in chans]
        entry["_x"] = (float(s_in), zp_in)
        model["layers"].append(entry)
        report.append(dict(layer=li, type=entry["type"], channels=len(chans),
                           nudged=[(o, c["nudges"]) for o, c in enumerate(chans) if c["nudges"]],
                           double_mismatches=[c["double_mismatches"] for c in chans],
                           bounds=[c["bound"] for c in chans],
                           shifts=sorted({c["shift"] for c in chans})))
        s_in, zp_in = s_out, zp_out
    return model, report


# ---------------------------------------------------------------- ONNX export

def to_onnx(model):
    """QLinear ONNX graph: int8 input [N, C, H, W] -> int8 logits [N, K] and ArgMax class [N]."""
    c, h, w = model["input"]["shape"]
    nodes, inits = [], []
    cur, cur_shape = "input", (c, h, w)

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr, name))
        return name

    for li, L in enumerate(model["layers"]):
        p = f"l{li}_"
        xs, xzp = L["_x"]
        o = L["out_channels"] if L["type"] == "conv2d" else L["out_features"]
        if L["type"] == "conv2d":
            kh, kw = L["kernel"]
            wshape = (o, cur_shape[0], kh, kw)
            attrs = dict(kernel_shape=[kh, kw], strides=L["stride"], pads=L["padding"])  # [t, l, b, r]
            top, left, bottom, right = L["padding"]
            out_shape = (o, (cur_shape[1] + top + bottom - kh) // L["stride"][0] + 1,
                         (cur_shape[2] + left + right - kw) // L["stride"][1] + 1)
        else:
            # FullyConnected as a 1x1 QLinearConv: it has the int32 bias and per-channel
            # weight scales a dense layer needs. Reshape flattens CHW, as the format does.
            n_in = cur_shape[0] * cur_shape[1] * cur_shape[2]
            if cur_shape != (n_in, 1, 1):
                nodes.append(helper.make_node("Reshape", [cur, const(p + "shape", np.array([-1, n_in, 1, 1], np.int64))],
                                              [p + "flat"]))
                cur = p + "flat"
            wshape, attrs, out_shape = (o, n_in, 1, 1), {}, (o, 1, 1)
        ins = [cur, const(p + "x_scale", np.array(xs, np.float32)), const(p + "x_zp", np.array(xzp, np.int8)),
               const(p + "w", np.array(L["weights"], np.int8).reshape(wshape)),
               const(p + "w_scale", np.array(L["_w_scale"], np.float32)),
               const(p + "w_zp", np.zeros(o, np.int8)),
               const(p + "y_scale", np.array(L["output"]["scale"], np.float32)),
               const(p + "y_zp", np.array(L["output"]["zero_point"], np.int8)),
               const(p + "bias", np.array(L["bias"], np.int32))]
        # Fused ReLU: y_zp == -128 makes int8 saturation the clamp at real 0.
        nodes.append(helper.make_node("QLinearConv", ins, [p + "y"], name=f"layer{li}_{L['type']}", **attrs))
        cur, cur_shape = p + "y", out_shape
    k = cur_shape[0] * cur_shape[1] * cur_shape[2]
    nodes.append(helper.make_node("Reshape", [cur, const("logits_shape", np.array([-1, k], np.int64))], ["logits"]))
    nodes.append(helper.make_node("ArgMax", ["logits"], ["class"], axis=1, keepdims=0))
    graph = helper.make_graph(
        nodes, model["name"],
        [helper.make_tensor_value_info("input", TensorProto.INT8, ["N", c, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.INT8, ["N", k]),
         helper.make_tensor_value_info("class", TensorProto.INT64, ["N"])],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkedge make_models.py",
                          doc_string=model["description"])
    m.ir_version = 8
    helper.set_model_props(m, {"zkedge_model": model["name"], "source": model["source"],
                               "classes": json.dumps(model["classes"])})
    onnx.checker.check_model(m, full_check=True)
    return m


# ---------------------------------------------------------------- files

def dumps(obj, ind=0):
    """JSON with 2-space indentation but lists of numbers on one line."""
    pad, pad1 = "  " * ind, "  " * (ind + 1)
    if isinstance(obj, dict) and all(not isinstance(v, (dict, list)) for v in obj.values()) \
            and len(json.dumps(obj)) <= 60:
        return json.dumps(obj)  # e.g. {"multiplier": ..., "shift": ...} on one line
    if isinstance(obj, dict):
        items = [f"{pad1}{json.dumps(k)}: {dumps(v, ind + 1)}" for k, v in obj.items() if not k.startswith("_")]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and all(isinstance(v, list) for v in obj) and ind >= 1:
        return "[\n" + ",\n".join(pad1 + json.dumps(v, separators=(",", ":")) for v in obj) + "\n" + pad + "]"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(pad1 + dumps(v, ind + 1) for v in obj) + "\n" + pad + "]"
    if isinstance(obj, list):
        return "[" + ", ".join(json.dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def ort_session(onnx_bytes):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def reference_outputs(model_path, inputs, rounding):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"inputs": inputs}, f)
    try:
        r = subprocess.run([sys.executable, str(TOOLS / "reference_infer.py"), "infer", "--model", str(model_path),
                            "--batch", f.name, "--json", "--rounding", rounding],
                           capture_output=True, text=True, check=True)
    finally:
        os.unlink(f.name)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(TOOLS.parent), help="output folder (default: firmware/models)")
    ap.add_argument("--aeon-wheel", help="a local aeon-1.6.0-py3-none-any.whl instead of pip download")
    ap.add_argument("--only", choices=sorted(BUILDERS), action="append", help="build only this model")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# make_models.py build report (numpy {np.__version__}, onnx {onnx.__version__}, "
             f"onnxruntime {ort.__version__}); regenerate with make_models.py", ""]
    for name in args.only or list(BUILDERS):
        print(f"== {name}: training")
        spec = BUILDERS[name](args)
        float_train = float(np.mean(spec["net"].predict(spec["xtr"]) == spec["ytr"]))
        float_test = float(np.mean(spec["net"].predict(spec["xte"]) == spec["yte"]))
        print(f"== {name}: quantising (exhaustive ORT-vs-Q31 check per channel)")
        model, report = quantise(spec)
        onnx_model = to_onnx(model)
        xq = quantise_input(spec["xte"], model["input"]["scale"], model["input"]["zero_point"])
        inputs = xq.reshape(len(xq), -1).tolist()
        labels = spec["yte"].tolist()

        (out / f"{name}.json").write_text(dumps(model) + "\n")
        (out / f"{name}.onnx").write_bytes(onnx_model.SerializeToString())
        (out / f"{name}.samples.json").write_text(dumps({"inputs": inputs, "labels": labels}, 0) + "\n")

        # Measured int8 accuracy: onnxruntime, and the pure-Python reference (both roundings).
        sess = ort_session(onnx_model.SerializeToString())
        logits, cls = sess.run(None, {"input": xq.astype(np.int8)})
        acc_ort = float(np.mean(cls == spec["yte"]))
        ref = {r: reference_outputs(out / f"{name}.json", inputs, r) for r in ("single", "double")}
        acc_ref = {r: float(np.mean(np.array(v["classes"]) == spec["yte"])) for r, v in ref.items()}
        same = {r: int(np.sum(np.all(np.array(v["outputs"]) == logits, axis=1))) for r, v in ref.items()}
        # The accuracy cost of nudging: the same model quantised without it, run by ORT.
        plain, _ = quantise(spec, nudge=False)
        _, cls_plain = ort_session(to_onnx(plain).SerializeToString()).run(None, {"input": xq.astype(np.int8)})
        acc_plain = float(np.mean(cls_plain == spec["yte"]))

        macs, params = 0, 0
        for L, layer in zip(model["layers"], spec["net"].layers):
            n_out = int(np.prod(layer.out_shape))
            macs += n_out * (len(L["weights"]) // len(L["bias"]))
            params += len(L["weights"]) + len(L["bias"])
        lines += [f"## {name}",
                  f"architecture: " + " -> ".join(
                      f"{L['type']}({L.get('out_channels', L.get('out_features'))}"
                      + (f", k{L['kernel']}, s{L['stride']}, p{L['padding']}" if L["type"] == "conv2d" else "")
                      + (", relu" if L["relu"] else "") + ")" for L in model["layers"]),
                  f"input shape {model['input']['shape']}, MACs {macs}, parameters {params}",
                  f"training: {spec['train']}, {len(spec['ytr'])} train / {len(labels)} test samples",
                  f"float accuracy: train {float_train:.4f}, test {float_test:.4f}",
                  f"int8 test accuracy: onnxruntime {acc_ort:.4f}, reference single-rounding {acc_ref['single']:.4f}, "
                  f"reference double-rounding {acc_ref['double']:.4f}",
                  f"int8 test accuracy without scale nudging (onnxruntime): {acc_plain:.4f}",
                  f"test samples whose int8 logits equal onnxruntime's: single-rounding {same['single']}/{len(labels)}, "
                  f"double-rounding {same['double']}/{len(labels)}",
                  f"input: scale {model['input']['scale']!r}, zero point {model['input']['zero_point']}"]
        for r in report:
            nudged = ", ".join(f"ch{o}+{k}" for o, k in r["nudged"]) or "none"
            lines.append(f"layer {r['layer']} {r['type']}: {r['channels']} channels, shifts {r['shifts']}, "
                         f"max |acc| bound {max(r['bounds'])}; nudged (channel+steps of 2^-16): {nudged}; "
                         f"accumulators where double rounding != ORT, per channel: {r['double_mismatches']}")
        lines.append("")
        print("\n".join(lines[-(len(report) + 10):]))
    (out / "build-report.txt").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
