#!/usr/bin/env python3
"""Independent reference inference for zkedge JSON models: pure Python, integers only.

Implements docs/model-format.md from the text of the spec (no numpy, nothing
shared with the model builder), with the same command-line contract as
``zkedge infer`` so the parity harness can run either:

    reference_infer.py infer --model M.json --batch BATCH.json --json

BATCH.json is {"inputs": [[int8, ...], ...]} (each input flattened CHW); stdout is
{"outputs": [[int8, ...], ...], "classes": [int, ...]}.

--rounding picks the requantisation rounding:
  double  SaturatingRoundingDoublingHighMul + RoundingDivideByPOT, the TFLite /
          CMSIS-NN default that docs/model-format.md specifies today;
  single  one rounding (half up) of the exact product, TFLite's
          TFLITE_SINGLE_ROUNDING / CMSIS-NN's CMSIS_NN_USE_SINGLE_ROUNDING -- the
          form onnxruntime's QLinearConv can be made to match exactly (README).
"""

import argparse
import json
import sys

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class ModelError(Exception):
    pass


# ---- TFLite's fixed-point primitives, transcribed (gemmlowp / tflite common.h) ----

def saturating_rounding_doubling_high_mul(a, b):
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    q = abs(ab + nudge) >> 31  # C++ integer division truncates toward zero
    return q if ab + nudge >= 0 else -q


def rounding_divide_by_pot(x, exponent):
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def requantize_double(acc, multiplier, shift):
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    a = acc * (1 << left)
    if not INT32_MIN <= a <= INT32_MAX:
        raise OverflowError("acc * 2^shift leaves int32")
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(a, multiplier), right)


def requantize_single(acc, multiplier, shift):
    total_shift = 31 - shift
    return (acc * multiplier + (1 << (total_shift - 1))) >> total_shift


# ---- model loading ----

def _ints(layer_name, field, values, n, lo, hi):
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise ModelError(f"{layer_name}: `{field}` must hold {n} values, has {got}")
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ModelError(f"{layer_name}: `{field}` value {v!r} is not an integer in [{lo}, {hi}]")
    return values


def load_model(path):
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: {e}")
    if m.get("format") != "zkedge-model" or m.get("version") != 1:
        raise ModelError(f"{path}: not a zkedge-model version 1 file")
    shape = m["input"]["shape"]
    if len(shape) != 3 or any(not isinstance(d, int) or not 1 <= d <= 4096 for d in shape):
        raise ModelError(f"input.shape {shape} must be [C, H, W], each in [1, 4096]")
    zp = m["input"]["zero_point"]
    layers = []
    for li, L in enumerate(m["layers"]):
        name = f"layer {li} ({L.get('type')})"
        c, h, w = shape
        if L["type"] == "conv2d":
            o = L["out_channels"]
            kh, kw = L["kernel"]
            sh, sw = L["stride"]
            top, left, bottom, right = L["padding"]
            if sh < 1 or sw < 1:
                raise ModelError(f"{name}: stride must be >= 1")
            if kh > h + top + bottom or kw > w + left + right:
                raise ModelError(f"{name}: kernel larger than the padded input")
            oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
            n_in = c * kh * kw
            # For each output position, the (input index, kernel offset) pairs inside the
            # input; cells in the padding hold the zero point, i.e. contribute 0.
            taps = []
            for oy in range(oh):
                for ox in range(ow):
                    t = []
                    for ci in range(c):
                        for ky in range(kh):
                            for kx in range(kw):
                                iy, ix = oy * sh - top + ky, ox * sw - left + kx
                                if 0 <= iy < h and 0 <= ix < w:
                                    t.append(((ci * h + iy) * w + ix, (ci * kh + ky) * kw + kx))
                    taps.append(t)
            out_shape = [o, oh, ow]
        elif L["type"] == "dense":
            o = L["out_features"]
            n_in = c * h * w
            taps = [[(i, i) for i in range(n_in)]]
            out_shape = [o, 1, 1]
        else:
            raise ModelError(f"{name}: unknown layer type")
        weights = _ints(name, "weights", L["weights"], o * n_in, -127, 127)
        bias = _ints(name, "bias", L["bias"], o, INT32_MIN, INT32_MAX)
        if len(L["requant"]) != o:
            raise ModelError(f"{name}: `requant` must hold {o} entries, has {len(L['requant'])}")
        requant = []
        for r in L["requant"]:
            if not (1 << 30) <= r["multiplier"] < (1 << 31):
                raise ModelError(f"{name}: multiplier {r['multiplier']} outside [2^30, 2^31)")
            if not -31 <= r["shift"] <= 30:
                raise ModelError(f"{name}: shift {r['shift']} outside [-31, 30]")
            requant.append((r["multiplier"], r["shift"]))
        out_zp = L["output"]["zero_point"]
        for oc in range(o):  # the worst-case accumulator must stay in int32
            worst = sum(abs(v) for v in weights[oc * n_in:(oc + 1) * n_in]) * 255 + abs(bias[oc])
            if worst * (1 << max(requant[oc][1], 0)) > INT32_MAX:
                raise ModelError(f"{name}: channel {oc} accumulator can overflow int32")
        layers.append(dict(in_zp=zp, o=o, n_in=n_in, taps=taps, weights=weights, bias=bias,
                           requant=requant, out_zp=out_zp, relu=bool(L["relu"])))
        shape, zp = out_shape, out_zp
    if len(m["classes"]) != shape[0] * shape[1] * shape[2]:
        raise ModelError(f"classes: {len(m['classes'])} labels for {shape[0] * shape[1] * shape[2]} outputs")
    m["_layers"], m["_input_len"] = layers, m["input"]["shape"][0] * m["input"]["shape"][1] * m["input"]["shape"][2]
    return m


def infer(model, x, rounding):
    requantize = requantize_double if rounding == "double" else requantize_single
    for L in model["_layers"]:
        zp = L["in_zp"]
        xc = [v - zp for v in x]
        lo = L["out_zp"] if L["relu"] else -128
        out = []
        for oc in range(L["o"]):
            w = L["weights"][oc * L["n_in"]:(oc + 1) * L["n_in"]]
            mult, shift = L["requant"][oc]
            for taps in L["taps"]:
                acc = L["bias"][oc] + sum(xc[i] * w[k] for i, k in taps)
                if not INT32_MIN <= acc <= INT32_MAX:
                    raise OverflowError("accumulator leaves int32")
                out.append(min(127, max(lo, requantize(acc, mult, shift) + L["out_zp"])))
        x = out  # [O][OH][OW] order == CHW
    return x


def main():
    ap = argparse.ArgumentParser(description="zkedge reference inference (pure Python)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("infer", help="run a batch of int8 inputs")
    p.add_argument("--model", required=True)
    p.add_argument("--batch", required=True, help='JSON file {"inputs": [[int8, ...], ...]}')
    p.add_argument("--json", action="store_true", help="print {outputs, classes} as JSON")
    p.add_argument("--rounding", choices=["double", "single"], default=None,
                   help="override the model's \"rounding\" field (absent means double)")
    args = ap.parse_args()
    try:
        model = load_model(args.model)
        with open(args.batch) as f:
            batch = json.load(f)
        inputs = batch["inputs"] if isinstance(batch, dict) else None
        if not isinstance(inputs, list):
            raise ModelError(f"{args.batch}: expected an object with an `inputs` list")
        outputs, classes = [], []
        for n, x in enumerate(inputs):
            _ints(f"{args.batch}: input {n}", "inputs", x, model["_input_len"], -128, 127)
            y = infer(model, x, args.rounding or model.get("rounding", "double"))
            outputs.append(y)
            classes.append(y.index(max(y)))  # first index of the maximum
    except (ModelError, OverflowError, KeyError, TypeError, ValueError, OSError) as e:
        print(f"error: {e.__class__.__name__ + ': ' if isinstance(e, KeyError) else ''}{e}", file=sys.stderr)
        return 1
    if args.json:
        json.dump({"outputs": outputs, "classes": classes}, sys.stdout, separators=(",", ":"))
        print()
    else:
        for y, c in zip(outputs, classes):
            print(f"class {c} ({model['classes'][c]}): {y}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
