"""Integer arithmetic shared by the model builder and the ORT probes.

Two requantisation formulas live here side by side:

* ``q31_requant`` -- the zkedge / TFLite / CMSIS-NN fixed-point form
  (docs/model-format.md): SaturatingRoundingDoublingHighMul followed by
  RoundingDivideByPOT, then zero point and clamp. Exact integer maths (int64).
* ``ort_requant`` -- what onnxruntime's CPU QLinearConv does (MlasRequantizeOutput,
  see README "What onnxruntime does"): float32(acc) * float32 scale in float32,
  clamp in float, round-half-to-even, add the zero point, saturate.

``ort_multiplier`` reproduces the float32 scale ORT computes, in ORT's operation
order, and ``q31_from_f32`` turns that float32 into {multiplier, shift} without
any loss (a float32 mantissa has 24 bits, the Q31 multiplier 31). The two
formulas can then only disagree through rounding; ``channel_mismatches`` checks
every accumulator value a channel can reach.
"""

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def f32(x):
    """Round a Python/numpy number to float32 (round-to-nearest-even, like C's float)."""
    return np.float32(x)


def ort_multiplier(x_scale, w_scale, y_scale):
    """The per-channel float32 ORT uses: ``X_scale * W_scale[i] / Y_scale``.

    onnxruntime/core/providers/cpu/quantization/qlinearconv.cc, ComputeOutputScale:
    ``output_scales[i] = (X_scale_value * W_scale_data[i] / Y_scale_value);`` -- all
    three are float, C++ evaluates left to right, so the product is rounded to
    float32 before the division, which is rounded again. numpy float32 scalars do
    the same IEEE single-precision operations.
    """
    return (f32(x_scale) * f32(w_scale)) / f32(y_scale)


def q31_from_f32(m):
    """Exact Q31 form of a positive float32: m == multiplier * 2**(shift - 31).

    Returns (multiplier, shift) with multiplier in [2**30, 2**31). Raises if m is
    not a positive normal float32 or the shift leaves the format's [-31, 30].
    """
    m = float(f32(m))  # exact: a float32 is a double
    if not (m > 0 and math.isfinite(m)):
        raise ValueError(f"requant multiplier must be positive and finite, got {m!r}")
    mant, exp = math.frexp(m)  # m = mant * 2**exp, mant in [0.5, 1)
    multiplier = mant * 2**31
    if multiplier != int(multiplier):
        raise ValueError(f"{m!r} is not a float32 (mantissa wider than 31 bits)")
    multiplier, shift = int(multiplier), exp
    if not (2**30 <= multiplier < 2**31):
        raise AssertionError("frexp mantissa out of range")
    if not (-31 <= shift <= 30):
        raise ValueError(f"requant shift {shift} outside [-31, 30] (multiplier {m!r})")
    # The real value must come back bit for bit.
    assert math.ldexp(multiplier, shift - 31) == m
    return multiplier, shift


def q31_requant(acc, multiplier, shift, zero_point, relu, rounding="double"):
    """docs/model-format.md, "The arithmetic, exactly", vectorised over int64 ``acc``.

    rounding="double": SaturatingRoundingDoublingHighMul + RoundingDivideByPOT, as the
    format doc states today (TFLite/CMSIS-NN default).
    rounding="single": one rounding, half up, of the exact product
    acc * multiplier * 2^(shift-31): TFLite's TFLITE_SINGLE_ROUNDING and CMSIS-NN's
    CMSIS_NN_USE_SINGLE_ROUNDING, i.e. floor(acc*2^max(shift,0)*multiplier / 2^(31+max(-shift,0)) + 1/2).
    """
    if rounding not in ("double", "single"):
        raise ValueError(f"rounding must be 'double' or 'single', not {rounding!r}")
    acc = np.asarray(acc, dtype=np.int64)
    left = max(shift, 0)
    right = max(-shift, 0)
    a = acc << left
    if np.any(a < INT32_MIN) or np.any(a > INT32_MAX):
        raise OverflowError("acc * 2^shift leaves int32")
    if rounding == "single":
        total = 31 + right
        y = (a * np.int64(multiplier) + (np.int64(1) << (total - 1))) >> total
        lo = zero_point if relu else -128
        return np.clip(y + zero_point, lo, 127).astype(np.int64)
    # SaturatingRoundingDoublingHighMul == floor((a*m + 2^30) / 2^31) (see the doc);
    # |a*m| < 2^62 so int64 holds it; >> is an arithmetic (floor) shift.
    y = (a * np.int64(multiplier) + (1 << 30)) >> 31
    if right:
        # RoundingDivideByPOT: round half away from zero.
        mask = (1 << right) - 1
        rem = y & mask
        threshold = (mask >> 1) + (y < 0)
        y = (y >> right) + (rem > threshold)
    lo = zero_point if relu else -128
    return np.clip(y + zero_point, lo, 127).astype(np.int64)


def ort_requant(acc, scale_f32, zero_point):
    """MlasRequantizeOutput for int8 output, vectorised over int64 ``acc``.

    _mm_cvtepi32_ps (float32 conversion, round to nearest even), _mm_mul_ps by the
    float32 scale, _mm_max_ps/_mm_min_ps against float(-128 - zp) / float(127 - zp),
    _mm_cvtps_epi32 (round half to even under the default MXCSR), + zp,
    _mm_packs_epi32/_mm_packs_epi16 (saturate).
    """
    acc = np.asarray(acc, dtype=np.int64)
    if np.any(acc < INT32_MIN) or np.any(acc > INT32_MAX):
        raise OverflowError("accumulator leaves int32")
    v = acc.astype(np.float32) * np.float32(scale_f32)  # float32 * float32 -> float32
    v = np.minimum(np.maximum(v, np.float32(-128 - zero_point)), np.float32(127 - zero_point))
    q = np.rint(v).astype(np.int64) + zero_point  # np.rint: round half to even
    return np.clip(q, -128, 127)


def acc_bound(weights_row, bias):
    """Largest |accumulator| a channel can reach: sum|w| * 255 + |bias|.

    (x - zp_in) lies in [-128 - zp, 127 - zp], so |x - zp| <= 255; padded cells add 0.
    """
    return int(np.abs(np.asarray(weights_row, dtype=np.int64)).sum()) * 255 + abs(int(bias))


def channel_mismatches(bound, scale_f32, multiplier, shift, zero_point, relu, rounding, chunk=1 << 22, limit=8):
    """Every accumulator in [-bound, bound] where ORT's float formula and the Q31
    formula disagree (at most ``limit`` of them are returned; [] means they agree
    everywhere)."""
    bad = []
    lo = -bound
    while lo <= bound:
        hi = min(bound, lo + chunk - 1)
        acc = np.arange(lo, hi + 1, dtype=np.int64)
        a = ort_requant(acc, scale_f32, zero_point)
        # ORT's clamp at -128 is the ReLU when zero_point == -128; a ReLU layer with
        # another zero point could not be expressed by QLinearConv alone.
        if relu and zero_point != -128:
            raise ValueError("a fused ReLU needs output zero point -128 to be exact in ONNX")
        b = q31_requant(acc, multiplier, shift, zero_point, relu, rounding)
        idx = np.nonzero(a != b)[0]
        for i in idx[: limit - len(bad)]:
            bad.append((int(acc[i]), int(a[i]), int(b[i])))
        if len(bad) >= limit:
            break
        lo = hi + 1
    return bad
