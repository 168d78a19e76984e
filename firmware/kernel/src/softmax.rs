//! TFLite Micro's int8 `SOFTMAX`, bit for bit: its `Prepare` (the input multiplier, shift and
//! `diff_min`, in `f64` as TFLite computes them) and the reference kernel's fixed-point
//! arithmetic (gemmlowp's `exp_on_negative_values` in Q5.26, the sum of exponentials in Q12.19,
//! the reciprocal by Newton–Raphson in Q2.29). Output quantisation is TFLite's fixed scale 1/256,
//! zero point −128.
//!
//! zkedge never proves the softmax: it is applied to the proven logits afterwards, by anyone who
//! holds them, and is monotone, so the predicted class is the logits' argmax.

use alloc::vec::Vec;

use crate::{
    model::Model,
    quant::{quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul},
};

/// Integer bits of the scaled input differences (`kScaledDiffIntegerBits`).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (`kAccumulationIntegerBits`).
const ACCUMULATION_INTEGER_BITS: i32 = 12;
/// Most values one softmax may cover: the sum of their exponentials (each at most 1.0 in Q12.19)
/// must stay below 2^31.
pub const MAX_SOFTMAX_LEN: usize = 4095;

/// Why a softmax cannot be prepared or run as TFLite Micro would.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SoftmaxError {
    /// `beta · input_scale · 2^26` is at most 1: TFLite's `QuantizeMultiplierGreaterThanOne`
    /// refuses it (`Prepare` fails).
    #[error(
        "beta {beta} times the logits' scale {scale} is too small for TFLite's softmax \
         (beta · scale · 2^26 must exceed 1)"
    )]
    Multiplier {
        /// The softmax's beta.
        beta: f32,
        /// The logits' scale.
        scale: f32,
    },
    /// More values than [`MAX_SOFTMAX_LEN`].
    #[error("softmax over {0} values; at most {MAX_SOFTMAX_LEN} are supported")]
    Length(usize),
    /// The softmax's output is not quantised as TFLite's int8 softmax requires.
    #[error(
        "softmax output quantisation is scale {scale}, zero point {zero_point}; TFLite's int8 \
         softmax requires scale 1/256 and zero point −128"
    )]
    Output {
        /// The scale given.
        scale: f32,
        /// The zero point given.
        zero_point: i8,
    },
    /// So many values lie near the maximum that their exponentials sum to 512 or more: TFLite
    /// Micro's reference kernel stops on a check here (its output shift would exceed 31).
    #[error("the exponentials sum to 512 or more; TFLite Micro's softmax aborts on such input")]
    Saturated,
}

/// What TFLite's `Prepare` computes for an int8 softmax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// Q31 multiplier of `beta · input_scale · 2^26`.
    pub input_multiplier: i32,
    /// Its left shift, in `[0, 31]`.
    pub input_left_shift: i32,
    /// Differences from the row's maximum below this contribute nothing (`−CalculateInputRadius`).
    pub diff_min: i32,
}

impl SoftmaxParams {
    /// `PreprocessSoftmaxScaling` and `CalculateInputRadius` as TFLite Micro's `SoftmaxPrepare`
    /// calls them (double rounding build).
    pub fn new(beta: f32, input_scale: f32) -> Result<Self, SoftmaxError> {
        let refused = SoftmaxError::Multiplier {
            beta,
            scale: input_scale,
        };
        let max_real_multiplier = ((1i64 << 31) - 1) as f64;
        let product = f64::from(beta)
            * f64::from(input_scale)
            * f64::from(1i32 << (31 - SCALED_DIFF_INTEGER_BITS));
        // `std::min<double>`; a NaN fails the check below as TFLite's would.
        let real = if product > max_real_multiplier {
            max_real_multiplier
        } else {
            product
        };
        // QuantizeMultiplierGreaterThanOne: the multiplier must exceed 1, the shift be ≥ 0.
        if real.is_nan() || real <= 1.0 {
            return Err(refused);
        }
        let (input_multiplier, input_left_shift) = quantize_multiplier(real).ok_or(refused)?;
        if !(0..=31).contains(&input_left_shift) {
            return Err(refused);
        }
        // CalculateInputRadius(5, shift, 31): ⌊(2^5 − 1) · 2^26 / 2^shift⌋, exact in f64; the
        // quotient is a power-of-two multiple of 31, so an integer shift computes its floor.
        let radius = (((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS))
            >> input_left_shift;
        Ok(Self {
            input_multiplier,
            input_left_shift,
            diff_min: -(radius as i32),
        })
    }
}

/// `SaturatingRoundingMultiplyByPOT` for a run-time exponent: a saturating left shift, or a
/// rounding right shift for a negative exponent.
fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    match exponent {
        0 => x,
        e if e > 0 => {
            let threshold = (1i32 << (31 - e)) - 1;
            if x > threshold {
                i32::MAX
            } else if x < -threshold {
                i32::MIN
            } else {
                x << e
            }
        }
        e => rounding_divide_by_pot(x, e.unsigned_abs()),
    }
}

/// A fixed-point product: `SaturatingRoundingDoublingHighMul` of the raw values (the integer
/// bits of the operands add up).
fn mul(a: i32, b: i32) -> i32 {
    saturating_rounding_doubling_high_mul(a, b)
}

/// `Rescale<to>` of a raw value with `from` integer bits.
fn rescale(x: i32, from: i32, to: i32) -> i32 {
    saturating_rounding_multiply_by_pot(x, from - to)
}

/// gemmlowp's `RoundingHalfSum`: `(a + b) / 2` rounded half away from zero.
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp's `exp_on_interval_between_negative_one_quarter_and_0_excl`, Q0.31 in and out.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(−1/8)
    const ONE_THIRD: i32 = 715_827_883;
    // Taylor expansion around −1/8: x = a + 1/8.
    let x = a.wrapping_add(1 << 28);
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let poly = saturating_rounding_multiply_by_pot(
        mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(mul(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// gemmlowp's `exp_on_negative_values` for a Q5.26 input; Q0.31 out.
fn exp_on_negative_values(a: i32) -> i32 {
    const INTEGER_BITS: i32 = SCALED_DIFF_INTEGER_BITS;
    const FRACTIONAL_BITS: i32 = 31 - INTEGER_BITS;
    let one_quarter = 1i32 << (FRACTIONAL_BITS - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        INTEGER_BITS,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // exp(−2^k) in Q0.31 for each bit of the remainder (the barrel shifter).
    for (exponent, multiplier) in [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ] {
        if INTEGER_BITS > exponent && remainder & (1 << (FRACTIONAL_BITS + exponent)) != 0 {
            result = mul(result, multiplier);
        }
    }
    // (The clamp to 0 below −32 exists only for more than 5 integer bits.)
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// gemmlowp's `one_over_one_plus_x_for_x_in_0_1`, Q0.31 in and out.
fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const F2_ONE: i32 = 1 << 29; // Q2.29
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810;
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = CONSTANT_48_OVER_17.wrapping_add(mul(half_denominator, CONSTANT_NEG_32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus = F2_ONE.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(rescale(mul(x, one_minus), 4, 2));
    }
    // ExactMulByPot<−1> makes it Q1.30 (same raw value); Rescale<0>.
    rescale(x, 1, 0)
}

/// TFLite's `GetReciprocal` of a positive Q12.19 value: `(1/x scaled, num_bits_over_unit)`.
fn reciprocal(x: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one as i32;
    let shifted_sum_minus_one = (x as u32)
        .checked_shl(headroom_plus_one)
        .unwrap_or(0)
        .wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

/// `MultiplyByQuantizedMultiplierGreaterThanOne` (double rounding): the difference shifted left
/// in int32, then the Q31 product.
fn rescale_difference(diff: i32, p: &SoftmaxParams) -> i32 {
    let shifted = diff.wrapping_mul(1i32.wrapping_shl(p.input_left_shift as u32));
    saturating_rounding_doubling_high_mul(shifted, p.input_multiplier)
}

/// TFLite Micro's int8 → int8 softmax of one row of logits, into `out` (same length).
pub fn softmax_into(p: &SoftmaxParams, input: &[i8], out: &mut [i8]) -> Result<(), SoftmaxError> {
    if input.len() > MAX_SOFTMAX_LEN {
        return Err(SoftmaxError::Length(input.len()));
    }
    let max_in_row = input.iter().copied().max().unwrap_or(i8::MIN);
    let scaled = |v: i8| {
        let diff = i32::from(v) - i32::from(max_in_row);
        (diff >= p.diff_min).then(|| rescale_difference(diff, p))
    };
    let sum_of_exps = input
        .iter()
        .filter_map(|&v| scaled(v))
        .map(|d| rescale(exp_on_negative_values(d), 0, ACCUMULATION_INTEGER_BITS))
        .fold(0i32, i32::wrapping_add);
    let (shifted_scale, num_bits_over_unit) = reciprocal(sum_of_exps);
    let exponent = num_bits_over_unit + 31 - 8;
    if !(0..=31).contains(&exponent) {
        return Err(SoftmaxError::Saturated);
    }
    for (o, &v) in out.iter_mut().zip(input) {
        *o = match scaled(v) {
            Some(d) => {
                let exp_in_0 = exp_on_negative_values(d);
                let unsat = rounding_divide_by_pot(mul(shifted_scale, exp_in_0), exponent as u32);
                (i64::from(unsat) + i64::from(i8::MIN)).clamp(-128, 127) as i8
            }
            None => i8::MIN,
        };
    }
    Ok(())
}

/// TFLite Micro's int8 softmax of one row of logits.
pub fn softmax(p: &SoftmaxParams, input: &[i8]) -> Result<Vec<i8>, SoftmaxError> {
    let mut out = alloc::vec![0i8; input.len()];
    softmax_into(p, input, &mut out)?;
    Ok(out)
}

/// The model's softmax of `logits` (its output tensor), or `None` if it has none.
pub fn apply(model: &Model, logits: &[i8]) -> Option<Result<Vec<i8>, SoftmaxError>> {
    let s = model.file().softmax?;
    let scale = model.quant(model.output_tensor()).scale;
    Some(SoftmaxParams::new(s.beta, scale).and_then(|p| softmax(&p, logits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(scale: f32) -> SoftmaxParams {
        SoftmaxParams::new(1.0, scale).unwrap()
    }

    #[test]
    fn prepare_matches_tflite_for_known_scales() {
        // beta · scale · 2^26 for scale 1/16 is 2^22: frexp → (0.5, 23), so 2^30 and shift 23;
        // radius ⌊31 · 2^26 / 2^23⌋ = 248.
        let p = params(1.0 / 16.0);
        assert_eq!(
            p,
            SoftmaxParams {
                input_multiplier: 1 << 30,
                input_left_shift: 23,
                diff_min: -248
            }
        );
        // Capped at 2^31 − 1: frexp → (1 − 2^−31, 31), the fraction rounds to 2^31 − 1.
        let p = params(64.0);
        assert_eq!(
            (p.input_multiplier, p.input_left_shift, p.diff_min),
            (i32::MAX, 31, 0)
        );
        assert!(SoftmaxParams::new(1.0, 1e-9).is_err());
    }

    #[test]
    fn equal_logits_share_the_probability() {
        let p = params(0.1);
        for n in [1usize, 2, 4, 10] {
            let out = softmax(&p, &alloc::vec![17i8; n]).unwrap();
            // 1/n in units of 1/256, less the zero point −128 (1.0 saturates at 127).
            let expected = ((256 / n) as i32 - 128).min(127) as i8;
            assert!(
                out.iter().all(|&o| (o - expected).abs() <= 1),
                "{n}: {out:?}"
            );
        }
    }

    #[test]
    fn outputs_are_monotone_and_far_logits_vanish() {
        let p = params(0.25);
        let logits = [-128i8, -40, 0, 3, 90, 100];
        let out = softmax(&p, &logits).unwrap();
        assert!(out.windows(2).all(|w| w[0] <= w[1]), "{out:?}");
        // exp(−0.25 · 228) is far below 1/256.
        assert_eq!(out[0], -128);
        let real: f64 = out.iter().map(|&o| (f64::from(o) + 128.0) / 256.0).sum();
        assert!((real - 1.0).abs() < 0.05, "{real}");
    }

    #[test]
    fn where_tflite_micro_stops_zkedge_reports_an_error() {
        // Each logit equal to the maximum adds exp(0) = 2^19 in Q12.19: 511 of them keep the
        // output shift at 31, 512 push it to 32, which TFLM's TFLITE_CHECK refuses.
        let p = params(0.1);
        assert!(softmax(&p, &alloc::vec![5i8; 511]).is_ok());
        assert_eq!(
            softmax(&p, &alloc::vec![5i8; 512]),
            Err(SoftmaxError::Saturated)
        );
        assert_eq!(
            softmax(&p, &alloc::vec![0i8; MAX_SOFTMAX_LEN + 1]),
            Err(SoftmaxError::Length(MAX_SOFTMAX_LEN + 1))
        );
    }

    #[test]
    fn exp_matches_the_real_function() {
        for raw in [
            -1i32 << 26,
            -(1 << 24),
            -(3 << 25),
            -(5 << 26),
            -1,
            -(31 << 26),
        ] {
            let x = f64::from(raw) / f64::from(1 << 26);
            let got = f64::from(exp_on_negative_values(raw)) / 2_147_483_648.0;
            let want = libm_exp(x);
            assert!((got - want).abs() < 1e-6, "exp({x}) = {got}, want {want}");
        }
    }

    /// exp(x) by its series, for the test only.
    fn libm_exp(x: f64) -> f64 {
        let (mut term, mut sum, halvings) = (1.0, 1.0, 10);
        let y = x / f64::from(1 << halvings);
        for k in 1..30 {
            term *= y / f64::from(k);
            sum += term;
        }
        (0..halvings).fold(sum, |s, _| s * s)
    }
}
