#!/usr/bin/env python3
"""onnxruntime agreement: how close are zkedge's imported ONNX models to onnxruntime?

For every .onnx in firmware/models/onnx (not refused/), runs onnxruntime (CPU provider, one
thread) live on random int8 inputs (the same three families as check_tflm_parity.py) plus the
all -128 and all 127 inputs, runs zkedge on the same inputs through

    ZKEDGE --model <name>.onnx --batch <batch.json>

(zkedge-import-parity: the importer and the kernel's inference), and compares the int8 logits
element for element. onnxruntime is given the model with two extra graph outputs, the int8
tensor its input QuantizeLinear produces (checked to equal the int8 input zkedge was given: the
float fed to it is (q - zero point) * scale) and the int8 tensor the final DequantizeLinear
reads (the logits), so that nothing is compared through a float.

onnxruntime runs in three modes: "int8" (ORT_ENABLE_ALL with session.qdqisint8allowed = 1: its
optimiser fuses QDQ groups into the int8 QLinear kernels of the QOperator form), "default"
(ORT_ENABLE_ALL as shipped: on x86-64 it rewrites int8 QDQ groups to uint8 first) and "float"
(ORT_DISABLE_ALL: a QDQ graph computed in float between QuantizeLinear and DequantizeLinear).
zkedge's arithmetic is not onnxruntime's everywhere (docs/model-format.md, "Importing ONNX"):
the numbers printed are the measurement, and the check fails when they leave the bounds the
docs state. Every model, every mode: the argmax agrees on at least 98 % of the inputs and no
logit is more than 8 from onnxruntime's. Models in EXACT, in the "int8" mode: every logit
within 1 and at least 95 % of the inputs with every logit equal (they hold no operator whose
onnxruntime kernel computes in float).

  check_onnx_parity.py --zkedge target/debug/zkedge-import-parity [--random 1000] [--seed N]

Closes with "agreement: N passed, M failed" (one model in one mode = one check) and exits
non-zero on any failure or error, or if a model's onnxruntime logits take fewer than 50
distinct values (a model whose output does not depend on its input tests nothing).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
except ImportError:
    sys.exit("error: onnx/onnxruntime are not installed (pip install -r firmware/models/tools/requirements-test.txt)")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_tflm_parity import random_inputs  # noqa: E402  (one definition of the input families)

MODELS_DIR = Path(__file__).resolve().parent.parent / "onnx"

# Models whose every operator zkedge computes as onnxruntime's int8 kernels do (up to exact
# ties of the float32 product). qdq-conv-net is not among them: its AveragePool keeps its
# input's scale, and onnxruntime averages dequantised floats and rounds half to even through
# float noise where zkedge (TFLite) rounds the exact integer mean half away from zero.
EXACT = {"qop-dense-mlp", "qdq-dense-mlp", "qop-conv-net", "qop-conv-reshape-per-tensor",
         "qdq-conv-reshape"}


def exposed(model):
    """The model with the int8 input and the int8 logits as extra outputs, and their names."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    by_output = {o: n for n in g.node for o in n.output}
    inp = g.input[0].name
    q_in = next((n.output[0] for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] == inp), inp)
    final = by_output.get(g.output[0].name)
    logits = final.input[0] if final is not None and final.op_type == "DequantizeLinear" else g.output[0].name
    for name in (q_in, logits):
        if name not in {o.name for o in g.output}:
            g.output.append(helper.make_tensor_value_info(name, TensorProto.INT8, None))
    return m, q_in, logits


def ort_logits(model, xs, quant, mode):
    """onnxruntime's int8 logits for int8 inputs `xs`, fed as the float that dequantises them."""
    m, q_in, logits = exposed(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_DISABLE_ALL if mode == "float"
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    if mode == "int8":
        # Keep int8 QDQ groups int8 when fusing them (x86 builds otherwise rewrite them to uint8).
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    shape = [1] + [d if isinstance(d, int) else 1 for d in inp.shape[1:]]
    scale, zp = np.float32(quant[0]), int(quant[1])
    float_input = inp.type == "tensor(float)"
    out_l, out_q = [], []
    for x in xs:
        if float_input:
            feed = ((x.astype(np.float32) - np.float32(zp)) * scale).reshape(shape)
        else:
            feed = x.reshape(shape)
        r = s.run([logits, q_in], {inp.name: feed})
        out_l.append(r[0].reshape(-1))
        out_q.append(r[1].reshape(-1))
    return np.array(out_l, dtype=np.int64), np.array(out_q, dtype=np.int64)


def zkedge(cmd, path, xs, timeout):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"inputs": xs.tolist()}, f)
    try:
        r = subprocess.run(cmd + ["--model", str(path), "--batch", f.name], capture_output=True,
                           text=True, timeout=timeout)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        raise RuntimeError(f"zkedge failed on {path.name}: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zkedge", required=True, help="the zkedge-import-parity binary")
    ap.add_argument("--models", type=Path, default=MODELS_DIR)
    ap.add_argument("--random", type=int, default=1000, help="random inputs per model (default 1000)")
    ap.add_argument("--seed", type=int, help="seed of the random inputs (default: fresh, printed)")
    ap.add_argument("--only", action="append", help="check only these models (file stems)")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbits(63)
    print(f"onnxruntime agreement: seed {seed} (rerun with --seed {seed})")
    rng = np.random.default_rng(seed)
    models = sorted(p for p in args.models.glob("*.onnx") if not args.only or p.stem in args.only)
    if not models:
        sys.exit(f"error: no .onnx models in {args.models}")
    passed = failed = 0
    modes = ["int8", "default", "float"]
    for path in models:
        try:
            model = onnx.load(str(path))
            info = zkedge([args.zkedge], path, np.zeros((0, 0), np.int8), args.timeout)
            n = int(np.prod([d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]))
            xs = np.concatenate([random_inputs(rng, args.random, n), np.full((1, n), -128, np.int8),
                                 np.full((1, n), 127, np.int8)])
            got = np.array(zkedge([args.zkedge], path, xs, args.timeout)["logits"], dtype=np.int64)
            for mode in modes:
                want, q_seen = ort_logits(model, xs, info["input"], mode)
                if not np.array_equal(q_seen, xs.astype(np.int64)):
                    raise RuntimeError("onnxruntime's QuantizeLinear did not give back the int8 inputs")
                if got.shape != want.shape:
                    raise RuntimeError(f"zkedge gave logits of shape {got.shape}, onnxruntime {want.shape}")
                diff = np.abs(got - want)
                exact = int(np.all(diff == 0, axis=1).sum())
                equal_elems = int((diff == 0).sum())
                classes = int((np.argmax(got, axis=1) == np.argmax(want, axis=1)).sum())
                distinct = len({tuple(r) for r in want.tolist()})
                worst = int(diff.max())
                ok = classes >= 0.98 * len(xs) and worst <= 8
                if mode == "int8" and path.stem in EXACT:
                    ok &= worst <= 1 and exact >= 0.95 * len(xs)
                ok &= distinct >= min(50, len(xs) // 4)
                passed += ok
                failed += not ok
                print(f"  {path.stem} [{mode}]: {exact}/{len(xs)} inputs exactly equal, "
                      f"{equal_elems}/{diff.size} logits equal, max |diff| {worst}, "
                      f"argmax equal {classes}/{len(xs)}, {distinct} distinct"
                      + ("" if ok else "  FAILED"))
        except Exception as e:  # one broken model must not hide the others' results
            print(f"  {path.stem}: ERROR {e}")
            failed += 1
    print(f"agreement: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
