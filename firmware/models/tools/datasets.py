"""The two data sets, loaded from files that Python packages ship.

ItalyPowerDemand comes out of the aeon wheel on PyPI. The wheel is fetched with
pip itself (``pip download aeon==1.6.0 --no-deps``) into a cache directory and
only the two .ts files are read out of the zip, so aeon and its dependencies are
never installed. The files' SHA-256 are pinned below.

digits comes from scikit-learn (``sklearn.datasets.load_digits``), which ships
it inside the package.
"""

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

AEON_VERSION = "1.6.0"
AEON_WHEEL = f"aeon-{AEON_VERSION}-py3-none-any.whl"
ITALY_DIR = "aeon/datasets/data/ItalyPowerDemand"
ITALY_SHA256 = {
    "ItalyPowerDemand_TRAIN.ts": "341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",
    "ItalyPowerDemand_TEST.ts": "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144",
}


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zkedge-models"


def aeon_wheel(path=None):
    """Path of the aeon wheel: ``path`` if given, else the cache, else pip download."""
    if path:
        p = Path(path)
        if not p.is_file():
            sys.exit(f"error: --aeon-wheel {p}: no such file")
        return p
    d = cache_dir()
    p = d / AEON_WHEEL
    if not p.is_file():
        d.mkdir(parents=True, exist_ok=True)
        print(f"downloading {AEON_WHEEL} from PyPI with pip (data set only; aeon is not installed)")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.11", f"aeon=={AEON_VERSION}", "-d", str(d)]
        r = subprocess.run(cmd)
        if r.returncode != 0 or not p.is_file():
            sys.exit(f"error: could not download aeon=={AEON_VERSION} with pip ({' '.join(cmd)}); "
                     f"download the wheel by hand and pass --aeon-wheel PATH")
    return p


def parse_ts(text):
    """Parse a univariate, equal-length sktime/aeon .ts file into (X [n, len], labels [n])."""
    xs, ys, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            in_data = True
            continue
        if not in_data:
            continue
        series, label = line.rsplit(":", 1)
        xs.append([float(v) for v in series.split(",")])
        ys.append(label)
    return np.array(xs, dtype=np.float64), ys


def italy_power_demand(wheel=None):
    """(X_train [67,24], y_train, X_test [1029,24], y_test); y: 0 = Oct-Mar, 1 = Apr-Sep."""
    w = aeon_wheel(wheel)
    out = {}
    with zipfile.ZipFile(w) as z:
        for name, sha in ITALY_SHA256.items():
            raw = z.read(f"{ITALY_DIR}/{name}")
            got = hashlib.sha256(raw).hexdigest()
            if got != sha:
                sys.exit(f"error: {w}:{ITALY_DIR}/{name} has SHA-256 {got}, expected {sha}")
            x, labels = parse_ts(raw.decode("utf-8"))
            # UCR labels "1" (October-March) and "2" (April-September) -> 0 and 1.
            y = np.array([{"1": 0, "2": 1}[s] for s in labels], dtype=np.int64)
            out[name] = (x, y)
    (xtr, ytr), (xte, yte) = out["ItalyPowerDemand_TRAIN.ts"], out["ItalyPowerDemand_TEST.ts"]
    assert xtr.shape == (67, 24) and xte.shape == (1029, 24), (xtr.shape, xte.shape)
    return xtr, ytr, xte, yte


def digits(test_fraction=0.25, seed=0):
    """scikit-learn's 8x8 digits (1,797 images, pixels 0..16), stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.float64)  # [n, 8, 8]
    return train_test_split(x, d.target.astype(np.int64), test_size=test_fraction,
                            random_state=seed, stratify=d.target)
