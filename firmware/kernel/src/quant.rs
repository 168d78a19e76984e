//! TFLite's fixed-point requantisation (gemmlowp's `SaturatingRoundingDoublingHighMul` and
//! `RoundingDivideByPOT`, as CMSIS-NN's `arm_nn_requantize` with its default double rounding).

use crate::model::{Clamp, Requant, Rounding};

/// `round(a · b / 2^31)`, rounding half up, saturating the one overflowing case.
///
/// gemmlowp nudges by `±2^30` and truncates toward zero; for every product that equals
/// `⌊(a·b + 2^30) / 2^31⌋` (the tests hold it against a literal port), the form the circuit
/// uses too.
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    ((i64::from(a) * i64::from(b) + (1 << 30)) >> 31) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero; `exponent ≤ 31`.
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent.min(31);
    let x = i64::from(x);
    let mask = (1i64 << exponent) - 1;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> exponent) + i64::from(remainder > threshold)) as i32
}

/// TFLite's `MultiplyByQuantizedMultiplier`: `acc · multiplier · 2^(shift − 31)`, rounded.
pub fn multiply_by_quantized_multiplier(acc: i32, r: Requant) -> i32 {
    let left = r.shift.max(0) as u32;
    let right = (-i32::from(r.shift)).max(0) as u32;
    // Model validation bounds |acc| · 2^left by i32::MAX; saturate rather than wrap regardless.
    let shifted = (i64::from(acc) << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, r.multiplier),
        right,
    )
}

/// `TFLITE_SINGLE_ROUNDING`'s `MultiplyByQuantizedMultiplier`:
/// `⌊(acc · multiplier + 2^(30 − shift)) / 2^(31 − shift)⌋`, the exact product rounded once,
/// half up.
pub fn multiply_by_quantized_multiplier_single(acc: i32, r: Requant) -> i32 {
    let total_shift = 31 - i64::from(r.shift.clamp(-31, 30));
    let product = i64::from(acc) * i64::from(r.multiplier) + (1i64 << (total_shift - 1));
    (product >> total_shift).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `acc · multiplier · 2^(shift − 31)` rounded as `rounding` says (no zero point, no clamp).
pub fn multiply_by_quantized_multiplier_rounded(acc: i32, r: Requant, rounding: Rounding) -> i32 {
    match rounding {
        Rounding::Double => multiply_by_quantized_multiplier(acc, r),
        Rounding::Single => multiply_by_quantized_multiplier_single(acc, r),
    }
}

/// The int8 output of one channel for accumulator `acc`: requantise, add the output zero
/// point, clamp to the activation's range.
pub fn requantize(acc: i32, r: Requant, rounding: Rounding, zero_point: i8, clamp: Clamp) -> i8 {
    let scaled = multiply_by_quantized_multiplier_rounded(acc, r, rounding);
    clamp.apply(i64::from(scaled) + i64::from(zero_point))
}

/// `x = m · 2^e` with `|m|` in `[0.5, 1)` (C's `frexp`), for finite non-zero `x`.
fn frexp(x: f64) -> (f64, i32) {
    const EXP_MASK: u64 = 0x7ff << 52;
    let bits = x.to_bits();
    let biased = ((bits & EXP_MASK) >> 52) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first (2^64 is exact).
        let (m, e) = frexp(x * 18_446_744_073_709_551_616.0);
        return (m, e - 64);
    }
    // Keep sign and fraction, set the exponent so that |m| lies in [0.5, 1).
    let m = f64::from_bits((bits & !EXP_MASK) | (1022 << 52));
    (m, biased - 1022)
}

/// `x` rounded to the nearest integer, ties away from zero (C's `round`), for `|x| < 2^62`.
fn round_half_away(x: f64) -> i64 {
    let t = x as i64; // truncates toward zero, exactly
    let frac = x - t as f64; // exact: both lie within one unit of each other
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

/// TFLite's `QuantizeMultiplier`: `(multiplier, shift)` with `real ≈ multiplier · 2^(shift − 31)`
/// and `|multiplier|` in `[2^30, 2^31)`, computed as TFLite does (`frexp`, the fraction times
/// 2^31 rounded half away from zero, a fraction that rounds up to 2^31 halved). Zero gives
/// `(0, 0)`, and so does a multiplier so small that its shift would be below −31 (TFLite flushes
/// it to zero). `None` for a non-finite `real`.
pub fn quantize_multiplier(real: f64) -> Option<(i32, i32)> {
    if !real.is_finite() {
        return None;
    }
    if real == 0.0 {
        return Some((0, 0));
    }
    let (q, mut shift) = frexp(real);
    // |q| < 1, so |q · 2^31| ≤ 2^31 and the product is exact.
    let mut q_fixed = round_half_away(q * 2_147_483_648.0);
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return Some((0, 0));
    }
    Some((q_fixed as i32, shift))
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// gemmlowp's `SaturatingRoundingDoublingHighMul`, ported line for line.
    fn gemmlowp_srdhm(a: i32, b: i32) -> i32 {
        let overflow = a == b && a == i32::MIN;
        let ab_64 = i64::from(a) * i64::from(b);
        let nudge: i64 = if ab_64 >= 0 { 1 << 30 } else { 1 - (1 << 30) };
        let ab_x2_high32 = ((ab_64 + nudge) / (1i64 << 31)) as i32;
        if overflow {
            i32::MAX
        } else {
            ab_x2_high32
        }
    }

    /// gemmlowp's `RoundingDivideByPOT` on scalars, ported line for line (in i32).
    fn gemmlowp_rdbpot(x: i32, exponent: u32) -> i32 {
        let mask: i32 = ((1i64 << exponent) - 1) as i32;
        let remainder = x & mask;
        let threshold = (mask >> 1) + (if x < 0 { 1 } else { 0 });
        (x >> exponent) + (if remainder > threshold { 1 } else { 0 })
    }

    fn edge_values() -> [i32; 12] {
        [
            0,
            1,
            -1,
            2,
            -2,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            1 << 30,
            -(1 << 30),
            12345,
            -54321,
        ]
    }

    #[test]
    fn high_mul_matches_gemmlowp() {
        let mut rng = rand::rngs::StdRng::from_entropy();
        for a in edge_values() {
            for b in edge_values() {
                assert_eq!(
                    saturating_rounding_doubling_high_mul(a, b),
                    gemmlowp_srdhm(a, b),
                    "{a} {b}"
                );
            }
        }
        for _ in 0..1_000_000 {
            let (a, b): (i32, i32) = (rng.gen(), rng.gen());
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b),
                gemmlowp_srdhm(a, b),
                "{a} {b}"
            );
            let small: i32 = rng.gen_range(-(1 << 20)..1 << 20);
            assert_eq!(
                saturating_rounding_doubling_high_mul(small, b),
                gemmlowp_srdhm(small, b)
            );
        }
    }

    #[test]
    fn divide_by_pot_matches_gemmlowp() {
        let mut rng = rand::rngs::StdRng::from_entropy();
        for e in 0..=31 {
            for x in edge_values() {
                assert_eq!(
                    rounding_divide_by_pot(x, e),
                    gemmlowp_rdbpot(x, e),
                    "{x} >> {e}"
                );
            }
            for _ in 0..20_000 {
                let x: i32 = rng.gen();
                assert_eq!(
                    rounding_divide_by_pot(x, e),
                    gemmlowp_rdbpot(x, e),
                    "{x} >> {e}"
                );
            }
        }
    }

    #[test]
    fn ties_round_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // −1.5 → −2
        assert_eq!(rounding_divide_by_pot(6, 2), 2); // 1.5 → 2
        assert_eq!(rounding_divide_by_pot(-5, 2), -1); // −1.25 → −1
    }

    #[test]
    fn requantize_clamps_and_applies_relu() {
        for rounding in [Rounding::Double, Rounding::Single] {
            let half = Requant {
                multiplier: 1 << 30,
                shift: 0,
            }; // × 0.5
            assert_eq!(requantize(10, half, rounding, 3, Clamp::NONE), 8);
            assert_eq!(requantize(-1000, half, rounding, 0, Clamp::NONE), -128);
            assert_eq!(requantize(1000, half, rounding, 0, Clamp::NONE), 127);
            assert_eq!(
                requantize(-20, half, rounding, -5, Clamp { min: -5, max: 127 }),
                -5
            );
            assert_eq!(requantize(-20, half, rounding, -5, Clamp::NONE), -15);
            let two = Requant {
                multiplier: 1 << 30,
                shift: 2,
            }; // × 2
            assert_eq!(requantize(7, two, rounding, 0, Clamp::NONE), 14);
        }
    }

    /// TFLite's single-rounding `MultiplyByQuantizedMultiplier`, ported line for line.
    fn tflite_single(x: i32, quantized_multiplier: i32, shift: i32) -> i32 {
        let total_shift: i64 = 31 - i64::from(shift);
        let round: i64 = 1 << (total_shift - 1);
        let result = i64::from(x) * i64::from(quantized_multiplier) + round;
        (result >> total_shift) as i32
    }

    /// CMSIS-NN's `arm_nn_requantize` under `CMSIS_NN_USE_SINGLE_ROUNDING`, ported line for line.
    fn cmsis_single(val: i32, multiplier: i32, shift: i32) -> i32 {
        let total_shift: i64 = 31 - i64::from(shift);
        let new_val: i64 = i64::from(val) * i64::from(multiplier);
        let result = (new_val >> (total_shift - 1)) as i32;
        (result + 1) >> 1
    }

    #[test]
    fn single_rounding_matches_tflite_and_cmsis_nn() {
        let mut rng = rand::rngs::StdRng::from_entropy();
        for _ in 0..1_000_000 {
            let shift: i8 = rng.gen_range(-31..=0);
            let r = Requant {
                multiplier: rng.gen_range(1 << 30..=i32::MAX),
                shift,
            };
            let acc: i32 = rng.gen_range(-(1 << 24)..1 << 24);
            let ours = multiply_by_quantized_multiplier_single(acc, r);
            assert_eq!(
                ours,
                tflite_single(acc, r.multiplier, shift.into()),
                "{acc} {r:?}"
            );
            assert_eq!(
                ours,
                cmsis_single(acc, r.multiplier, shift.into()),
                "{acc} {r:?}"
            );
        }
    }

    /// `QuantizeMultiplier` of `real`, worked out with exact rationals: the fraction in
    /// [0.5, 1) found by doubling/halving, times 2^31, rounded half away from zero.
    fn exact_quantize(real: f64) -> (i32, i32) {
        let (mut q, mut e) = (real, 0);
        while q >= 1.0 {
            q /= 2.0;
            e += 1;
        }
        while q < 0.5 {
            q *= 2.0;
            e -= 1;
        }
        let scaled = q * 2_147_483_648.0;
        let floor = scaled as i64;
        let mut fixed = if scaled - floor as f64 >= 0.5 {
            floor + 1
        } else {
            floor
        };
        if fixed == 1 << 31 {
            fixed /= 2;
            e += 1;
        }
        if e < -31 {
            return (0, 0);
        }
        (fixed as i32, e)
    }

    #[test]
    fn quantize_multiplier_is_tflites() {
        assert_eq!(quantize_multiplier(0.5), Some((1 << 30, 0)));
        assert_eq!(quantize_multiplier(1.0), Some((1 << 30, 1)));
        assert_eq!(quantize_multiplier(0.0), Some((0, 0)));
        assert_eq!(quantize_multiplier(f64::NAN), None);
        // A tie rounds away from zero (Python's `round` would give 2^30, the even neighbour).
        let tie = (f64::from(1 << 30) + 0.5) / 2_147_483_648.0;
        assert_eq!(quantize_multiplier(tie), Some(((1 << 30) + 1, 0)));
        // A fraction that rounds up to 2^31 is halved and the shift raised.
        assert_eq!(quantize_multiplier(1.0 - 1e-12), Some((1 << 30, 1)));
        // Below 2^−32 TFLite flushes the multiplier to zero.
        assert_eq!(quantize_multiplier(2f64.powi(-33)), Some((0, 0)));
        assert_eq!(quantize_multiplier(2f64.powi(-32)), Some((1 << 30, -31)));
        // Subnormals take the slow path of frexp.
        assert_eq!(quantize_multiplier(f64::MIN_POSITIVE / 4.0), Some((0, 0)));
        let mut rng = rand::rngs::StdRng::from_entropy();
        for _ in 0..100_000 {
            let real = rng.gen_range(-40.0f64..10.0).exp2() * rng.gen_range(1.0..2.0);
            let (m, shift) = quantize_multiplier(real).unwrap();
            assert_eq!((m, shift), exact_quantize(real), "{real}");
            if m != 0 {
                assert!((1 << 30..=i32::MAX).contains(&m));
                let back = f64::from(m) * 2f64.powi(shift - 31);
                assert!((back - real).abs() <= 2f64.powi(shift - 32), "{real}");
            }
        }
    }
}
