#!/usr/bin/env python3
"""onnxruntime parity check: does an implementation's int8 inference equal ORT's?

For every model in firmware/models (a <name>.json with its <name>.onnx and
<name>.samples.json), runs onnxruntime live on every test sample plus random
int8 inputs, runs the implementation under test on the same inputs, and compares
every output element:

    PATH infer --model <name>.json --batch <batch.json> --json

with batch.json = {"inputs": [[int8, ...], ...]} and stdout
{"outputs": [[int8, ...], ...], "classes": [int, ...]}.

  check_ort_parity.py --zkedge target/release/zkedge
  check_ort_parity.py --zkedge tools/reference_infer.py --zkedge-arg=--rounding=single

Random inputs: --random N uniform int8 vectors and --perturbed N test samples
with integer noise in [-16, 16] added (defaults 2000 and 1000 per model), from a fresh
seed that is printed; --seed pins it. Closes with "parity: N passed, M failed"
(one input = one check; it passes when all outputs and the class match) and
exits non-zero on any mismatch or error.
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
    import onnxruntime as ort
except ImportError:
    sys.exit("error: onnxruntime is not installed (pip install -r firmware/models/tools/requirements-test.txt)")

MODELS_DIR = Path(__file__).resolve().parent.parent


def find_models(folder, names):
    found = []
    for j in sorted(folder.glob("*.json")):
        if j.name.endswith(".samples.json"):
            continue
        name = j.stem
        if names and name not in names:
            continue
        onnx_path, samples = folder / f"{name}.onnx", folder / f"{name}.samples.json"
        missing = [p.name for p in (onnx_path, samples) if not p.is_file()]
        if missing:
            raise SystemExit(f"error: model {name}: missing {', '.join(missing)} in {folder}")
        found.append((name, j, onnx_path, samples))
    unknown = set(names or []) - {f[0] for f in found}
    if unknown:
        raise SystemExit(f"error: no model named {', '.join(sorted(unknown))} in {folder}")
    if not found:
        raise SystemExit(f"error: no models in {folder}")
    return found


def run_ort(onnx_path, shape, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    logits, cls = sess.run(["logits", "class"], {"input": x.reshape(len(x), *shape).astype(np.int8)})
    return logits.astype(np.int64), cls.astype(np.int64)


def run_impl(cmd, model_path, x, timeout):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"inputs": x.tolist()}, f)
    try:
        full = cmd[:1] + ["infer", "--model", str(model_path), "--batch", f.name, "--json"] + cmd[1:]
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise RuntimeError(f"cannot run {cmd[0]!r}: no such file")
    except PermissionError:
        raise RuntimeError(f"cannot run {cmd[0]!r}: not executable")
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{cmd[0]} did not finish within {timeout} s")
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    try:
        out = json.loads(r.stdout)
        outputs = np.array(out["outputs"], dtype=np.int64)
        classes = np.array(out["classes"], dtype=np.int64)
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"unreadable output from {cmd[0]} ({e}): {r.stdout[:300]!r}")
    return outputs, classes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zkedge", required=True, help="the implementation to check (zkedge binary or reference_infer.py)")
    ap.add_argument("--zkedge-arg", action="append", default=[], help="extra argument for it (repeatable)")
    ap.add_argument("--models-dir", default=str(MODELS_DIR), help="folder with the models (default: firmware/models)")
    ap.add_argument("--model", action="append", help="check only this model (repeatable)")
    ap.add_argument("--random", type=int, default=2000, help="uniform random int8 inputs per model")
    ap.add_argument("--perturbed", type=int, default=1000, help="noisy test samples per model")
    ap.add_argument("--seed", type=int, help="pin the random seed (default: a fresh one, printed)")
    ap.add_argument("--show", type=int, default=10, help="mismatching elements to print")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per implementation run")
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else secrets.randbits(32)
    print(f"onnxruntime {ort.__version__}, seed {seed} (--seed {seed} repeats this run)")
    rng = np.random.default_rng(seed)
    cmd = [args.zkedge] + args.zkedge_arg
    passed = failed = 0
    shown = 0
    for name, model_path, onnx_path, samples_path in find_models(Path(args.models_dir), args.model):
        model = json.loads(model_path.read_text())
        samples = json.loads(samples_path.read_text())
        shape = model["input"]["shape"]
        n_in = int(np.prod(shape))
        test = np.array(samples["inputs"], dtype=np.int64).reshape(-1, n_in)
        labels = np.array(samples["labels"], dtype=np.int64)
        uniform = rng.integers(-128, 128, size=(args.random, n_in))
        pick = test[rng.integers(0, len(test), size=args.perturbed)] if len(test) else np.empty((0, n_in), np.int64)
        noisy = np.clip(pick + rng.integers(-16, 17, size=pick.shape), -128, 127)
        x = np.concatenate([test, uniform, noisy])
        origin = ([f"test #{i}" for i in range(len(test))] + [f"random #{i}" for i in range(len(uniform))]
                  + [f"perturbed #{i}" for i in range(len(noisy))])
        try:
            ort_out, ort_cls = run_ort(onnx_path, shape, x)
            got_out, got_cls = run_impl(cmd, model_path, x, args.timeout)
            if got_out.shape != ort_out.shape or got_cls.shape != ort_cls.shape:
                raise RuntimeError(f"{args.zkedge} returned outputs of shape {got_out.shape} and "
                                   f"{got_cls.shape} classes, expected {ort_out.shape} and {ort_cls.shape}")
        except RuntimeError as e:
            print(f"{name}: error: {e}")
            failed += len(x)
            continue
        ok = np.all(got_out == ort_out, axis=1) & (got_cls == ort_cls)
        passed += int(ok.sum())
        failed += int((~ok).sum())
        nt = len(test)
        print(f"{name}: {int(ok.sum())}/{len(x)} inputs identical ({nt} test, {len(uniform)} random, "
              f"{len(noisy)} perturbed); test accuracy onnxruntime {np.mean(ort_cls[:nt] == labels):.4f}, "
              f"{Path(args.zkedge).name} {np.mean(got_cls[:nt] == labels):.4f}")
        for s in np.nonzero(~ok)[0]:
            for i in np.nonzero(got_out[s] != ort_out[s])[0]:
                if shown < args.show:
                    print(f"  mismatch: model {name}, sample {origin[s]}, output {i}: "
                          f"onnxruntime {ort_out[s, i]}, zkedge {got_out[s, i]}")
                shown += 1
            if got_cls[s] != ort_cls[s] and shown < args.show:
                print(f"  mismatch: model {name}, sample {origin[s]}, class: onnxruntime {ort_cls[s]}, "
                      f"zkedge {got_cls[s]}")
                shown += 1
    if shown > args.show:
        print(f"  ... {shown - args.show} more mismatching elements")
    print(f"parity: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
