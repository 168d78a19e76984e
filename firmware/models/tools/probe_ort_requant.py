#!/usr/bin/env python3
"""Establish empirically how onnxruntime requantises in an int8 QLinearConv.

Each probe graph is one QLinearConv on an int8 [N, 2, 1, 1] input with 1x1
weights (1, 127) in each of 64 output channels, fed all 65,536 input pairs: every
channel then sees the contiguous accumulator run bias + [-16384 .. 16255] (input
zero point 0), which covers its whole unsaturated output range. numpy computes
the exact accumulators and each hypothesis predicts the int8 outputs; the
script counts the outputs each hypothesis gets wrong.

Channels are not random: for each question the script draws weight scales until
the competing hypotheses predict different outputs somewhere in the channel's
range, so every channel can tell them apart.

  ties     scales with 1..4-bit mantissas (exact .5 products are common):
           round half to even vs half away from zero vs half up.
  order    random scales: the float32 multiplier as (xs*ws)/ys, xs*(ws/ys),
           (xs/ys)*ws, or rounded once from double.
  product  random scales: float32(acc)*M rounded to float32 before rounding to
           an integer, vs the exact product rounded once.

The hypothesis "ORT" is qarith.ort_requant with qarith.ort_multiplier. Exit
status 0 when it predicts every output and every alternative is refuted by its
question. Also printed, for the record: how many outputs the zkedge Q31 formula
gets wrong with double rounding (the format today) and with single rounding.

Run:  python probe_ort_requant.py [--seed S] [--graphs G]
"""

import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import qarith

CHANNELS = 64
ACC_SPAN = np.arange(-16384, 16256 + 1, dtype=np.int64)  # (x0 + 127*x1) over int8 pairs, zp 0


def session(w_scale, bias, xs, ys, yzp):
    """QLinearConv int8 graph X[N,2,1,1] -> Y[N,64,1,1], weights (1, 127), x zero point 0."""
    o = len(w_scale)
    w = np.tile(np.array([1, 127], np.int8), (o, 1)).reshape(o, 2, 1, 1)
    inits = [
        numpy_helper.from_array(np.array(xs, np.float32), "xs"),
        numpy_helper.from_array(np.array(0, np.int8), "xzp"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.asarray(w_scale, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(o, np.int8), "wzp"),
        numpy_helper.from_array(np.array(ys, np.float32), "ys"),
        numpy_helper.from_array(np.array(yzp, np.int8), "yzp"),
        numpy_helper.from_array(np.asarray(bias, np.int32), "b"),
    ]
    node = helper.make_node("QLinearConv", ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp", "b"], ["y"])
    g = helper.make_graph(
        [node], "probe",
        [helper.make_tensor_value_info("x", TensorProto.INT8, ["N", 2, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, ["N", o, 1, 1])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


F = qarith.f32
MULTIPLIERS = {
    "(xs*ws)/ys": lambda xs, ws, ys: (F(xs) * F(ws)) / F(ys),
    "xs*(ws/ys)": lambda xs, ws, ys: F(xs) * (F(ws) / F(ys)),
    "(xs/ys)*ws": lambda xs, ws, ys: (F(xs) / F(ys)) * F(ws),
    "double, rounded once": lambda xs, ws, ys: F(float(F(xs)) * float(F(ws)) / float(F(ys))),
}


def round_mode(v, mode):
    """Round float64 values (exact here) to integers."""
    if mode == "even":
        return np.rint(v)
    if mode == "away":
        return np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.floor(v + 0.5)  # "up"


def predict(acc, xs, ws, ys, yzp):
    """Every hypothesis' int8 outputs for one channel, as a dict name -> array."""
    m = MULTIPLIERS["(xs*ws)/ys"](xs, ws, ys)
    prod32 = (acc.astype(np.float32) * np.float32(m)).astype(np.float64)
    exact = acc.astype(np.float64) * float(m)  # exact: |acc| < 2^17, 24-bit mantissa
    sat = lambda r: np.clip(r.astype(np.int64) + yzp, -128, 127)
    out = {"ORT": qarith.ort_requant(acc, m, yzp)}
    for name, fn in MULTIPLIERS.items():
        if name != "(xs*ws)/ys":
            mm = fn(xs, ws, ys)
            out[f"multiplier {name}"] = sat(np.rint((acc.astype(np.float32) * np.float32(mm)).astype(np.float64)))
    out["exact product, half-even"] = sat(np.rint(exact))
    out["float32 product, half-away"] = sat(round_mode(prod32, "away"))
    out["float32 product, half-up"] = sat(round_mode(prod32, "up"))
    mul, sh = qarith.q31_from_f32(m)
    out["zkedge Q31, double rounding"] = qarith.q31_requant(acc, mul, sh, yzp, False, rounding="double")
    out["zkedge Q31, single rounding"] = qarith.q31_requant(acc, mul, sh, yzp, False, rounding="single")
    return out


QUESTIONS = {
    "ties": ["float32 product, half-away", "float32 product, half-up"],
    "order": ["multiplier xs*(ws/ys)", "multiplier (xs/ys)*ws", "multiplier double, rounded once"],
    "product": ["exact product, half-even"],
}


def draw_channel(rng, question, xs, ys, yzp):
    """Draw (ws, bias) until the question's alternatives disagree with "ORT" in range."""
    for _ in range(20000):
        if question == "ties":
            ws = float(int(rng.integers(1, 16)) * 2.0 ** int(rng.integers(-14, -9)))
        else:
            ws = float(F(rng.uniform(0.0005, 0.01)))
        bias = int(rng.integers(-2000, 2000))
        p = predict(ACC_SPAN + bias, xs, ws, ys, yzp)
        if any(np.any(p[alt] != p["ORT"]) for alt in QUESTIONS[question]):
            return ws, bias
    raise RuntimeError(f"no discriminating channel found for {question}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="pin the random seed (default: fresh)")
    ap.add_argument("--graphs", type=int, default=2, help="graphs per question (64 channels each)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(np.random.bytes(4), "little")
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, seed {seed}")
    rng = np.random.default_rng(seed)
    x0, x1 = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    x = np.stack([x0.ravel(), x1.ravel()], axis=1)
    acc_no_bias = x[:, 0] + 127 * x[:, 1]
    feed = {"x": x.reshape(-1, 2, 1, 1).astype(np.int8)}

    ok = True
    for question, alternatives in QUESTIONS.items():
        wrong, total = {}, 0
        for _ in range(args.graphs):
            yzp = int(rng.integers(-128, 128))
            if question == "ties":
                xs, ys = 2.0 ** int(rng.integers(-7, -3)), 2.0 ** int(rng.integers(-7, -3))
            else:
                xs, ys = float(F(rng.uniform(0.005, 0.05))), float(F(rng.uniform(0.02, 0.2)))
            chans = [draw_channel(rng, question, xs, ys, yzp) for _ in range(CHANNELS)]
            ws = [c[0] for c in chans]
            bias = [c[1] for c in chans]
            y = session(ws, bias, xs, ys, yzp).run(None, feed)[0].reshape(-1, CHANNELS).astype(np.int64)
            total += y.size
            for c in range(CHANNELS):
                for name, pred in predict(acc_no_bias + bias[c], xs, ws[c], ys, yzp).items():
                    wrong[name] = wrong.get(name, 0) + int(np.count_nonzero(pred != y[:, c]))
        print(f"\n[{question}] {total} outputs ({args.graphs} graphs x {CHANNELS} channels x 65536 inputs)")
        for name, n in wrong.items():
            mark = " <- refuted" if name in alternatives and n > 0 else ""
            print(f"  {name:<34} {n:>7} wrong{mark}")
        ok &= wrong["ORT"] == 0 and all(wrong[a] > 0 for a in alternatives)
    print("\nverdict:", "onnxruntime == qarith.ort_requant: float32((xs*ws)/ys), float32 product, "
          "round half to even" if ok else "UNEXPECTED: the model of onnxruntime's requantisation failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
