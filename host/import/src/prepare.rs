//! What TFLite Micro's `Prepare` functions compute from a model's float parameters, reproduced
//! operation for operation: the requantisation multipliers, the fused activations' int8 ranges,
//! SAME/VALID padding. Every `f64`/`f32` step here is TFLite's own, in its order.

use zkedge_kernel::{
    model::{Clamp, Quant, Requant},
    quant::quantize_multiplier,
};

use crate::error::Problem;

/// A real multiplier as a kernel [`Requant`] (TFLite's `QuantizeMultiplier`), refusing what
/// TFLite flushes to zero (a shift below −31) and what zkedge cannot shift (above 30).
pub(crate) fn requant(channel: usize, real: f64) -> Result<Requant, Problem> {
    let problem = |why| Problem::Multiplier { channel, real, why };
    if !(real.is_finite() && real > 0.0) {
        return Err(problem("is not a positive finite number"));
    }
    match quantize_multiplier(real) {
        Some((0, _)) => Err(problem(
            "is below 2^-32: TFLite flushes it to zero, so every output would be the zero \
             point; re-quantise the model",
        )),
        Some((multiplier, shift)) if (-31..=30).contains(&shift) => Ok(Requant {
            multiplier,
            shift: shift as i8,
        }),
        _ => Err(problem("is 2^30 or more, beyond TFLite's shift range")),
    }
}

/// `QuantizeMultiplierSmallerThanOneExp`: as [`requant`], for a multiplier TFLite requires to lie
/// in (0, 1) (ADD's rescalings).
pub(crate) fn requant_below_one(channel: usize, real: f64) -> Result<Requant, Problem> {
    if real.is_nan() || real >= 1.0 {
        return Err(Problem::Multiplier {
            channel,
            real,
            why: "must be below 1 (TFLite's ADD requires it: the output scale is too small \
                  for the inputs' scales)",
        });
    }
    requant(channel, real)
}

/// A convolution's or fully connected layer's multiplier for one channel, as TFLite computes it:
/// `PopulateConvolutionQuantizationParams` (every convolution; per-channel FULLY_CONNECTED) takes
/// the product in `f64`; per-tensor FULLY_CONNECTED (`GetQuantizedConvolutionMultipler`) takes it
/// in `f32` and widens the product.
pub(crate) fn mac_multiplier(input: f32, weight: f32, output: f32, f32_product: bool) -> f64 {
    let product = if f32_product {
        f64::from(input * weight)
    } else {
        f64::from(input) * f64::from(weight)
    };
    product / f64::from(output)
}

/// ADD's three multipliers (TFLite Micro's `CalculateOpDataAdd`, int8: left shift 20).
pub(crate) fn add_multipliers(a: f32, b: f32, output: f32) -> Result<[Requant; 3], Problem> {
    let twice_max_input_scale = 2.0 * f64::from(a.max(b));
    let real_a = f64::from(a) / twice_max_input_scale;
    let real_b = f64::from(b) / twice_max_input_scale;
    let left_shift = zkedge_kernel::model::ADD_LEFT_SHIFT;
    let real_out = twice_max_input_scale / (f64::from(1u32 << left_shift) * f64::from(output));
    Ok([
        requant_below_one(0, real_a)?,
        requant_below_one(1, real_b)?,
        requant_below_one(2, real_out)?,
    ])
}

/// A fused activation, as TFLite's `ActivationFunctionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activation {
    None,
    Relu,
    Relu6,
    ReluN1To1,
}

/// `CalculateActivationRangeQuantized` for an int8 output: each bound quantised in `f32`
/// (`round(f / scale)`, half away from zero) plus the zero point, clamped to the int8 range.
pub(crate) fn clamp(activation: Activation, output: Quant) -> Result<Clamp, Problem> {
    let quantize = |f: f32| -> Result<i64, Problem> {
        let tmp = (f / output.scale).round();
        // TFLite refuses a bound that leaves int32 (`Quantize`'s overflow check).
        if !(tmp >= i32::MIN as f32 && tmp <= i32::MAX as f32) {
            return Err(Problem::Options(format!(
                "activation bound {f} at output scale {} leaves int32",
                output.scale
            )));
        }
        Ok(i64::from(output.zero_point) + tmp as i64)
    };
    let (lo, hi) = match activation {
        Activation::None => (-128, 127),
        Activation::Relu => (quantize(0.0)?.max(-128), 127),
        Activation::Relu6 => (quantize(0.0)?.max(-128), quantize(6.0)?.min(127)),
        Activation::ReluN1To1 => (quantize(-1.0)?.max(-128), quantize(1.0)?.min(127)),
    };
    // lo ≤ zero point ≤ hi here, so both lie in the int8 range.
    Ok(Clamp {
        min: lo.clamp(-128, 127) as i8,
        max: hi.clamp(-128, 127) as i8,
    })
}

/// TFLite's padding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    Same,
    Valid,
}

/// `ComputeOutSize` and `ComputePaddingWithOffset` along one axis: the output size and
/// `(before, after)` padding, the odd unit of a SAME padding going after (bottom or right).
pub(crate) fn pad_axis(
    padding: Padding,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Option<(usize, usize, usize)> {
    let effective = (kernel - 1) * dilation + 1;
    let out = match padding {
        Padding::Same => input.div_ceil(stride),
        Padding::Valid => (input + stride).checked_sub(effective)? / stride,
    };
    if out == 0 {
        return None;
    }
    let total = ((out - 1) * stride + effective).saturating_sub(input);
    Some((out, total / 2, total - total / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_unit_after() {
        // 5 wide, kernel 2, stride 1: out 5, one unit of padding, on the right.
        assert_eq!(pad_axis(Padding::Same, 5, 2, 1, 1), Some((5, 0, 1)));
        // 7 wide, kernel 3, stride 2: out 4, total (3·2 + 3 − 7) = 2.
        assert_eq!(pad_axis(Padding::Same, 7, 3, 2, 1), Some((4, 1, 1)));
        // 6 wide, kernel 3, stride 2: out 3, total 1 → (0, 1).
        assert_eq!(pad_axis(Padding::Same, 6, 3, 2, 1), Some((3, 0, 1)));
        // Dilation 2 makes a 3-kernel span 5: out 6, total 4.
        assert_eq!(pad_axis(Padding::Same, 6, 3, 1, 2), Some((6, 2, 2)));
        // Stride beyond the kernel: no padding needed.
        assert_eq!(pad_axis(Padding::Same, 5, 1, 2, 1), Some((3, 0, 0)));
    }

    #[test]
    fn valid_padding_has_none_and_floors() {
        assert_eq!(pad_axis(Padding::Valid, 7, 3, 2, 1), Some((3, 0, 0)));
        assert_eq!(pad_axis(Padding::Valid, 8, 3, 2, 1), Some((3, 0, 0)));
        assert_eq!(pad_axis(Padding::Valid, 2, 3, 1, 1), None);
    }

    #[test]
    fn activation_ranges_follow_tflite() {
        let q = Quant {
            scale: 0.05,
            zero_point: -10,
        };
        assert_eq!(clamp(Activation::None, q).unwrap(), Clamp::NONE);
        assert_eq!(
            clamp(Activation::Relu, q).unwrap(),
            Clamp { min: -10, max: 127 }
        );
        // 6 / 0.05 = 120 → 110.
        assert_eq!(
            clamp(Activation::Relu6, q).unwrap(),
            Clamp { min: -10, max: 110 }
        );
        // ±1 / 0.05 = ±20.
        assert_eq!(
            clamp(Activation::ReluN1To1, q).unwrap(),
            Clamp { min: -30, max: 10 }
        );
        // Ties round away from zero: 1 / 0.4 = 2.5 → 3 (in f32, 2.5 exactly).
        let q = Quant {
            scale: 0.4,
            zero_point: 0,
        };
        assert_eq!(
            clamp(Activation::ReluN1To1, q).unwrap(),
            Clamp { min: -3, max: 3 }
        );
    }

    #[test]
    fn add_multipliers_follow_tflite() {
        // Equal scales: each input ×0.5 (2^30, shift 0); output 2·s / (2^20 · s_out).
        let [a, b, out] = add_multipliers(0.1, 0.1, 0.2).unwrap();
        assert_eq!(
            a,
            Requant {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(a, b);
        // 0.2 / (2^20 · 0.2) = 2^−20 → (2^30, −19).
        assert_eq!(
            out,
            Requant {
                multiplier: 1 << 30,
                shift: -19
            }
        );
        assert!(add_multipliers(0.1, 0.1, 1e-9).is_err());
    }

    #[test]
    fn tiny_multipliers_are_refused_not_flushed() {
        assert!(requant(0, 2f64.powi(-40)).is_err());
        assert!(requant(0, 2f64.powi(31)).is_err());
        assert_eq!(
            requant(3, 0.75).unwrap(),
            Requant {
                multiplier: 3 << 29,
                shift: 0
            }
        );
    }
}
