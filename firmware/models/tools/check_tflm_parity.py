#!/usr/bin/env python3
"""TensorFlow Lite Micro parity: do zkedge's importer and kernel compute what TFLM computes?

For every .tflite in firmware/models/tflite (not refused/), runs the TensorFlow Lite Micro
interpreter (PyPI tflite-micro, reference kernels) live on random int8 inputs (see
random_inputs) plus the edge inputs all -128 and all 127, runs zkedge on the same inputs
through

    ZKEDGE --model <name>.tflite --batch <batch.json>

(zkedge-import-parity: the importer and the kernel's inference, plus the softmax where the
model ends in one), and compares TFLM's final output with zkedge's, element for element:
the softmax output where the model has one, the logits where it has none. Models whose inputs
or outputs are float (QUANTIZE/DEQUANTIZE edges) get the float input that TFLM's QUANTIZE maps
to the int8 input exactly, and their float output is compared both as TFLM's float and as the
int8 value it dequantised. softmax-*.tflite hold a lone SOFTMAX (which zkedge does not import:
it computes nothing to prove); they test the kernel's softmax alone through
`ZKEDGE --softmax-scale S` with the input scale TFLM reports (beta 1, as Keras writes it).

  check_tflm_parity.py --zkedge target/debug/zkedge-import-parity [--random 1000] [--seed N]

Closes with "parity: N passed, M failed" (one input of one model = one check) and exits
non-zero on any mismatch or error, or if a model's TFLM outputs take fewer than 50 distinct
values (a model whose output does not depend on its input tests nothing).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    from tflite_micro.python.tflite_micro import runtime
except ImportError:
    sys.exit("error: tflite-micro is not installed (pip install -r firmware/models/tools/requirements-test.txt)")

MODELS_DIR = Path(__file__).resolve().parent.parent / "tflite"


def tflm_outputs(blob, xs, input_quant, output_quant):
    """TFLM's outputs for int8 inputs `xs` (N × elements), as int8, and the raw outputs.
    A float input gets the float that the model's QUANTIZE (of quantisation `input_quant`, as
    zkedge imported it: a wrong one makes TFLM see other int8 values) maps to each int8 input;
    a float output is read back as the int8 value of quantisation `output_quant` (zkedge's
    again: the caller also compares the floats exactly, so a wrong one fails)."""
    it = runtime.Interpreter.from_bytes(blob, arena_size=16 << 20)
    inp, out = it.get_input_details(0), it.get_output_details(0)
    shape = [int(d) for d in inp["shape"]]
    raw = []
    for x in xs:
        x = x.reshape(shape)
        if inp["dtype"] == np.float32:
            # The float whose QUANTIZE (round(v / scale) + zero point) is x.
            scale, zp = np.float32(input_quant[0]), int(input_quant[1])
            x = ((x.astype(np.int32) - zp).astype(np.float32) * scale).astype(np.float32)
        it.set_input(x, 0)
        it.invoke()
        raw.append(np.array(it.get_output(0)).reshape(-1))
    raw = np.stack(raw)
    if out["dtype"] == np.int8:
        return raw.astype(np.int64), raw, None
    scale, zp = float(np.float32(output_quant[0])), int(output_quant[1])
    ints = np.rint(raw.astype(np.float64) / scale).astype(np.int64) + zp
    return ints, raw, (scale, zp)


def input_scale(blob):
    it = runtime.Interpreter.from_bytes(blob, arena_size=1 << 20)
    return float(it.get_input_details(0)["quantization_parameters"]["scales"][0])


def input_size(blob):
    it = runtime.Interpreter.from_bytes(blob, arena_size=16 << 20)
    return int(np.prod(it.get_input_details(0)["shape"]))


def random_inputs(rng, count, n):
    """`count` random int8 inputs of `n` values, in three families: independent uniform values;
    Gaussian values around a random level with a random spread; and a few random spikes on a
    random background. Independent values alone average out in a network that pools over its
    whole input (every such input then gives the same logits); the other two families move the
    input's global statistics."""
    k = count // 3
    uniform = rng.integers(-128, 128, size=(count - 2 * k, n))
    level = rng.uniform(-128, 128, size=(k, 1))
    spread = rng.uniform(1, 64, size=(k, 1))
    gaussian = np.rint(level + spread * rng.standard_normal((k, n)))
    spikes = np.repeat(rng.integers(-128, 128, size=(k, 1)), n, axis=1)
    where = rng.random((k, n)) < rng.uniform(0.01, 0.2, size=(k, 1))
    spikes[where] = rng.integers(-128, 128, size=int(where.sum()))
    xs = np.concatenate([uniform, gaussian, spikes])
    return np.clip(xs, -128, 127).astype(np.int8)


def check_model(path, cmd, n_random, rng, timeout):
    blob = path.read_bytes()
    n = input_size(blob)
    xs = np.concatenate([random_inputs(rng, n_random, n), np.full((1, n), -128, np.int8), np.full((1, n), 127, np.int8)])
    softmax_only = path.name.startswith("softmax-")
    args = ["--softmax-scale", repr(input_scale(blob))] if softmax_only else ["--model", str(path)]
    # The quantisations zkedge imported (TFLM does not report a float input's or output's).
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"inputs": []}, f)
    try:
        r = subprocess.run(cmd + args + ["--batch", f.name], capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd + args)} failed: {r.stderr.strip()[-2000:]}")
    info = json.loads(r.stdout)
    input_quant, output_quant = info["input"], info["output"]
    # zkedge runs in its own process while TFLM runs here: the two overlap on a 2-core machine.
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"inputs": xs.tolist()}, f)
    proc = subprocess.Popen(cmd + args + ["--batch", f.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    try:
        want, raw, float_out = tflm_outputs(blob, xs, input_quant, output_quant)
        t_tflm = time.time() - t0
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.unlink(f.name)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd + args)} failed: {err.strip()[-2000:]}")
    got = json.loads(out)
    outputs = np.array(got["outputs"], dtype=np.int64)
    if outputs.shape != want.shape:
        raise RuntimeError(f"zkedge gave outputs of shape {outputs.shape}, TFLM {want.shape}")
    ok = np.all(outputs == want, axis=1)
    if float_out is not None:
        # TFLM's DEQUANTIZE: float(double(scale) * (q - zero point)).
        scale, zp = float_out
        deq = (scale * (outputs - zp).astype(np.float64)).astype(np.float32)
        ok &= np.all(deq == raw, axis=1)
    first = None
    if not ok.all():
        i = int(np.argmin(ok))
        first = f"input {i}: zkedge {outputs[i].tolist()} vs TFLM {want[i].tolist()}"
    distinct = len({tuple(row) for row in want.tolist()})
    return len(xs), int(ok.sum()), got.get("macs", 0), want.shape[1], distinct, t_tflm, first


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
    print(f"TFLM parity: seed {seed} (rerun with --seed {seed})")
    rng = np.random.default_rng(seed)
    models = sorted(p for p in args.models.glob("*.tflite") if not args.only or p.stem in args.only)
    if not models:
        sys.exit(f"error: no .tflite models in {args.models}")
    passed = failed = 0
    for path in models:
        try:
            checks, good, macs, width, distinct, t_tflm, first = check_model(path, [args.zkedge], args.random, rng, args.timeout)
        except Exception as e:  # one broken model must not hide the others' results
            print(f"  {path.stem}: ERROR {e}")
            failed += args.random + 2
            continue
        passed += good
        failed += checks - good
        status = "bit-exact" if good == checks else f"{checks - good} MISMATCHED"
        print(f"  {path.stem}: {good}/{checks} inputs {status} ({width} outputs each, "
              f"{distinct} distinct output vectors, {macs:,} MACs, TFLM {t_tflm:.1f} s)")
        # A model whose outputs barely vary with the input checks little of its arithmetic.
        if distinct < min(50, checks // 4):
            print(f"    ERROR: only {distinct} distinct outputs over {checks} inputs: the test "
                  "cannot see this model's arithmetic")
            failed += 1
        if first:
            print(f"    first mismatch: {first}")
    print(f"parity: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
