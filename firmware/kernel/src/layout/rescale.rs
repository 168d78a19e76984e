//! Rescaling an integer sum to an int8 output, as one exact integer division.
//!
//! Every rescale of the model — a requantisation after a convolution or dense layer (either
//! rounding), an average pool's rounded division, an add's output — is
//!
//! ```text
//! N   = a·m + c − σ·s            σ = [a < τ]  (the sign the rounding looks at)
//! v   = ⌊N / d⌋                   ρ = N − v·d ∈ [0, d)
//! out = clamp(v, lo, hi)          (all in the u = q + 128 domain)
//! ```
//!
//! TFLite's double rounding `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(a, M), e)`
//! folds into one floor because `⌊(⌊X/2^31⌋ + k)/2^e⌋ = ⌊(X + k·2^31)/2^(31+e)⌋`: with
//! `X = a·M + 2^30` and `k = 2^(e−1) − σ`, where `σ` is the sign of the high product, which
//! for `M ≥ 2^30` is `a < τ` with `τ = 0` (or `−1` when `M = 2^30`). The circuit checks `ρ`,
//! `σ` and the clamp with range-checked limbs; no table depends on the channel.

use alloc::{vec, vec::Vec};

use super::params::Offsets;
use crate::{
    infer::average,
    model::{Clamp, Requant, Rounding, ADD_LEFT_SHIFT},
    quant::multiply_by_quantized_multiplier_rounded,
};

/// The constants of one rescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rescale {
    /// Multiplier of the input.
    pub m: i128,
    /// Additive constant (rounding offset and output zero point).
    pub c: i128,
    /// What the sign bit subtracts (0: the sign does not matter).
    pub s: i128,
    /// The divisor.
    pub d: i128,
    /// The sign bit is `a < tau`.
    pub tau: i128,
    /// Lowest output (`u` domain).
    pub lo: i64,
    /// Highest output (`u` domain).
    pub hi: i64,
    /// Smallest input the circuit can produce.
    pub a_min: i64,
    /// Largest input the circuit can produce.
    pub a_max: i64,
}

/// The witness of one rescale of input `a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RescaleValues {
    /// The sign bit.
    pub sigma: i64,
    /// The unclamped quotient.
    pub v: i64,
    /// The remainder `N − v·d`.
    pub rho: i128,
    /// `a − τ + σ·2^A`, the sign's range-checked witness.
    pub g: i128,
    /// How far `v` lies above `hi` (else 0).
    pub above: i64,
    /// How far `v` lies below `lo` (else 0).
    pub below: i64,
    /// The output.
    pub out: i64,
}

/// Bits of `x ≥ 0` (0 for 0).
pub(crate) fn bits(x: i128) -> u32 {
    128 - x.leading_zeros()
}

fn u_range(clamp: Clamp) -> (i64, i64) {
    (i64::from(clamp.min) + 128, i64::from(clamp.max) + 128)
}

impl Rescale {
    /// TFLite's `MultiplyByQuantizedMultiplier` of `a ∈ [a_min, a_max]`, plus the output zero
    /// point, clamped: a requantisation.
    pub fn requant(
        r: Requant,
        rounding: Rounding,
        zero_point: i8,
        clamp: Clamp,
        (a_min, a_max): (i64, i64),
    ) -> Self {
        let m = i128::from(r.multiplier);
        let shift = i32::from(r.shift);
        let zp_u = i128::from(zero_point) + 128;
        let (lo, hi) = u_range(clamp);
        let (m, c0, s, d, tau) = match rounding {
            Rounding::Single => {
                let total = 31 - shift;
                (m, 1i128 << (total - 1), 0, 1i128 << total, 0)
            }
            Rounding::Double if shift >= 0 => (m << shift, 1i128 << 30, 0, 1i128 << 31, 0),
            Rounding::Double => {
                let e = -shift;
                let tau = if m > 1 << 30 { 0 } else { -1 };
                (
                    m,
                    (1i128 << 30) + (1i128 << (30 + e)),
                    1i128 << 31,
                    1i128 << (31 + e),
                    tau,
                )
            }
        };
        Self {
            m,
            c: c0 + zp_u * d,
            s,
            d,
            tau,
            lo,
            hi,
            a_min,
            a_max,
        }
    }

    /// TFLite's int8 average of `count` inputs, from the sum `a` of their `u = q + 128`,
    /// clamped.
    pub fn average(count: usize, clamp: Clamp) -> Self {
        let n = count as i128;
        let h = n / 2;
        let (lo, hi) = u_range(clamp);
        Self {
            m: 1,
            c: h,
            s: 2 * h + 1 - n,
            d: n,
            // σ = [sum_q ≤ 0], sum_q = a − 128·count.
            tau: 128 * n + 1,
            lo,
            hi,
            a_min: 0,
            a_max: 255 * count as i64,
        }
    }

    /// Whether the sign bit matters.
    pub fn signed(&self) -> bool {
        self.s != 0
    }

    /// Whether `ρ < d` needs its own check (`d` not a power of two).
    pub fn upper(&self) -> bool {
        self.d & (self.d - 1) != 0
    }

    /// Bits of the remainder's limbs: `log2 d` for a power of two, else those of `d − 1`.
    pub fn rho_bits(&self) -> u32 {
        if self.upper() {
            bits(self.d - 1)
        } else {
            self.d.trailing_zeros()
        }
    }

    /// Bits `A` of the sign witness: `2^A > max(a_max − τ, τ − 1 − a_min)`; 0 when unsigned.
    pub fn sign_bits(&self) -> u32 {
        if !self.signed() {
            return 0;
        }
        let span = (i128::from(self.a_max) - self.tau).max(self.tau - 1 - i128::from(self.a_min));
        bits(span.max(0)).max(1)
    }

    fn sigma(&self, a: i64) -> i64 {
        i64::from(self.signed() && i128::from(a) < self.tau)
    }

    fn quotient(&self, a: i64) -> (i64, i128) {
        let n = i128::from(a) * self.m + self.c - i128::from(self.sigma(a)) * self.s;
        (n.div_euclid(self.d) as i64, n.rem_euclid(self.d))
    }

    /// The unclamped quotient's range over the inputs (it is monotone in `a`).
    pub fn v_range(&self) -> (i64, i64) {
        (self.quotient(self.a_min).0, self.quotient(self.a_max).0)
    }

    /// Bits of how far `v` can lie above `hi`.
    pub fn above_bits(&self) -> u32 {
        bits(i128::from((self.v_range().1 - self.hi).max(0)))
    }

    /// Bits of how far `v` can lie below `lo`.
    pub fn below_bits(&self) -> u32 {
        bits(i128::from((self.lo - self.v_range().0).max(0)))
    }

    /// The witness for input `a`.
    pub fn eval(&self, a: i64) -> RescaleValues {
        let sigma = self.sigma(a);
        let (v, rho) = self.quotient(a);
        let out = v.clamp(self.lo, self.hi);
        let g = if self.signed() {
            i128::from(a) - self.tau + (i128::from(sigma) << self.sign_bits())
        } else {
            0
        };
        RescaleValues {
            sigma,
            v,
            rho,
            g,
            above: (v - self.hi).max(0),
            below: (self.lo - v).max(0),
            out,
        }
    }
}

/// The limbs of a rescale block's range column, with their widths (tags): each quantity in
/// `limb_bits`-bit limbs from its offset, the top limb as wide as the quantity needs, unused
/// limbs of width 0 (and value 0). Without `values`, the widths only.
pub fn limbs(
    r: &Rescale,
    values: Option<&RescaleValues>,
    offsets: &Offsets,
    limb_bits: u32,
) -> Vec<(u32, i64)> {
    let mut out = vec![(0u32, 0i64); offsets.len];
    let mut put = |start: usize, end: usize, width: u32, value: i128| {
        let mask = (1i128 << limb_bits) - 1;
        let count = width.div_ceil(limb_bits) as usize;
        for (j, slot) in out[start..end].iter_mut().enumerate().take(count) {
            let tag = if j + 1 < count {
                limb_bits
            } else {
                width - limb_bits * (count as u32 - 1)
            };
            *slot = (tag, ((value >> (limb_bits as usize * j)) & mask) as i64);
        }
    };
    let w = values.copied().unwrap_or(RescaleValues {
        sigma: 0,
        v: 0,
        rho: 0,
        g: 0,
        above: 0,
        below: 0,
        out: r.lo,
    });
    put(offsets.rho, offsets.sign, r.rho_bits(), w.rho);
    put(offsets.sign, offsets.above, r.sign_bits(), w.g);
    put(offsets.above, offsets.below, r.above_bits(), w.above.into());
    put(
        offsets.below,
        offsets.out_lo,
        r.below_bits(),
        w.below.into(),
    );
    put(offsets.out_lo, offsets.out_hi, 8, (w.out - r.lo).into());
    put(offsets.out_hi, offsets.upper, 8, (r.hi - w.out).into());
    if r.upper() {
        put(offsets.upper, offsets.len, bits(r.d - 1), r.d - 1 - w.rho);
    }
    out
}

/// The constants of a rescale block, at its rotations 0..10: `m, c, s, d, τ, 2^A, lo, hi`,
/// whether the sign is checked, whether `ρ < d` is checked apart.
pub fn constants(r: &Rescale) -> [i128; super::params::CONSTANTS] {
    [
        r.m,
        r.c,
        r.s,
        r.d,
        r.tau,
        if r.signed() {
            1i128 << r.sign_bits()
        } else {
            0
        },
        r.lo.into(),
        r.hi.into(),
        r.signed().into(),
        r.upper().into(),
    ]
}

/// One input of TFLite's int8 add, rescaled: `(q − zp)·2^20` through its multiplier.
pub fn add_input(q: i8, zero_point: i8, r: Requant, rounding: Rounding) -> i32 {
    let shifted = (i32::from(q) - i32::from(zero_point)) << ADD_LEFT_SHIFT;
    multiply_by_quantized_multiplier_rounded(shifted, r, rounding)
}

/// The average's output through [`Rescale::average`] equals TFLite's (used by tests).
pub fn average_matches(sum_q: i32, count: usize, clamp: Clamp) -> bool {
    let r = Rescale::average(count, clamp);
    let a = i64::from(sum_q) + 128 * count as i64;
    r.eval(a).out - 128 == i64::from(clamp.apply(average(sum_q, count).into()))
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::quant::requantize;

    fn check(r: Requant, rounding: Rounding, zp: i8, clamp: Clamp, a: i64, bounds: (i64, i64)) {
        let re = Rescale::requant(r, rounding, zp, clamp, bounds);
        let w = re.eval(a);
        let want = i64::from(requantize(a as i32, r, rounding, zp, clamp)) + 128;
        assert_eq!(w.out, want, "{r:?} {rounding:?} zp {zp} {clamp:?} a {a}");
        // The circuit's equations.
        let n = i128::from(a) * re.m + re.c - i128::from(w.sigma) * re.s;
        assert_eq!(n, i128::from(w.v) * re.d + w.rho);
        assert!((0..re.d).contains(&w.rho));
        assert!(w.rho < 1i128 << re.rho_bits());
        if re.signed() {
            assert!((0..1i128 << re.sign_bits()).contains(&w.g), "g {}", w.g);
        }
        assert_eq!(w.v - w.out, w.above - w.below);
        assert!(w.above < 1 << re.above_bits() || w.above == 0);
        assert!(w.below < 1 << re.below_bits() || w.below == 0);
    }

    #[test]
    fn requant_is_tflite_exactly() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let edges = [1 << 30, (1 << 30) + 1, i32::MAX, 1_518_500_250];
        for _ in 0..400_000 {
            let multiplier = if rng.gen_bool(0.2) {
                edges[rng.gen_range(0..edges.len())]
            } else {
                rng.gen_range(1 << 30..=i32::MAX)
            };
            let shift: i8 = if rng.gen_bool(0.1) {
                rng.gen_range(0..=4)
            } else {
                rng.gen_range(-31..=0)
            };
            let r = Requant { multiplier, shift };
            let limit = (i32::MAX >> shift.max(0)) as i64;
            let a_min = -rng.gen_range(0..=limit);
            let a_max = rng.gen_range(0..=limit);
            let a = match rng.gen_range(0..4) {
                0 => a_min,
                1 => a_max,
                2 => rng.gen_range(-3..=3).clamp(a_min, a_max),
                _ => rng.gen_range(a_min..=a_max),
            };
            let clamp = match rng.gen_range(0..3) {
                0 => Clamp::NONE,
                1 => Clamp { min: -5, max: 127 },
                _ => Clamp { min: -100, max: 20 },
            };
            for rounding in [Rounding::Double, Rounding::Single] {
                check(r, rounding, rng.gen(), clamp, a, (a_min, a_max));
            }
        }
    }

    #[test]
    fn ties_round_as_tflite_does() {
        // a·M/2^31 = a/2 exactly: halves round away from zero under double rounding.
        let r = Requant {
            multiplier: 1 << 30,
            shift: -1,
        };
        for a in -40..40 {
            for rounding in [Rounding::Double, Rounding::Single] {
                check(r, rounding, 0, Clamp::NONE, a, (-40, 40));
            }
        }
    }

    #[test]
    fn average_is_tflite_exactly() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for count in 1..=50 {
            for _ in 0..2_000 {
                let sum = rng.gen_range(-128 * count as i32..=127 * count as i32);
                let clamp = if rng.gen() {
                    Clamp::NONE
                } else {
                    Clamp { min: -20, max: 30 }
                };
                assert!(average_matches(sum, count, clamp), "{sum} / {count}");
                let r = Rescale::average(count, clamp);
                let w = r.eval(i64::from(sum) + 128 * count as i64);
                assert!(w.rho < 1 << r.rho_bits());
                if r.signed() {
                    assert!((0..1i128 << r.sign_bits()).contains(&w.g));
                }
            }
            for sum in [-(count as i32) / 2, 0, 1, count as i32 / 2] {
                assert!(average_matches(sum, count, Clamp::NONE), "{sum} / {count}");
            }
        }
    }
}
