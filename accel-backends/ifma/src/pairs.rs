//! A round of batch-affine pair additions on eight lanes (see [`crate::Ifma::add_pairs`]).

use core::arch::x86_64::*;
use core::mem::{offset_of, size_of};

use alloc::vec::Vec;
use ark_bn254::Fq;
use ark_ff::BigInt;

use crate::lanes::{one, Fq8, Words};
use crate::Point;

/// Words (8 bytes) from a point's start to its coordinates' limbs.
const X_WORDS: usize = (offset_of!(Point, x) + offset_of!(Fq, 0) + offset_of!(BigInt<4>, 0)) / 8;
const Y_WORDS: usize = (offset_of!(Point, y) + offset_of!(Fq, 0) + offset_of!(BigInt<4>, 0)) / 8;
const POINT_WORDS: usize = size_of::<Point>() / 8;
const _: () = assert!(size_of::<Point>().is_multiple_of(8) && size_of::<Fq>() >= 32);

/// The pairs of group `g`: their first points' offsets in words (lanes past the end repeat
/// pair 0) and the lanes that hold a pair.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn group(firsts: &[u32], g: usize) -> (__m512i, __mmask8) {
    let rest = &firsts[8 * g..];
    let live = rest.len().min(8);
    let idx: [i64; 8] = core::array::from_fn(|l| {
        i64::from(if l < live { rest[l] } else { firsts[0] }) * POINT_WORDS as i64
    });
    (
        _mm512_set_epi64(
            idx[7], idx[6], idx[5], idx[4], idx[3], idx[2], idx[1], idx[0],
        ),
        ((1u16 << live) - 1) as __mmask8,
    )
}

/// One coordinate (`words` from a point's start) of the points at offsets `at` (in words).
///
/// # Safety
/// Every lane of `at` is the offset of a point of `pts`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn gather(pts: &[Point], at: __m512i, words: usize) -> Fq8 {
    let at = _mm512_add_epi64(at, _mm512_set1_epi64(words as i64));
    let base = pts.as_ptr().cast::<i64>();
    let w: Words = core::array::from_fn(|k| {
        let at = _mm512_add_epi64(at, _mm512_set1_epi64(k as i64));
        // SAFETY: the caller's indices are in `pts`, and `words + k` is within a point.
        unsafe { _mm512_i64gather_epi64::<8>(at, base) }
    });
    Fq8::from_words(w)
}

/// Writes `v` as coordinate `words` of `out[l]` for each lane `l` set in `mask`.
///
/// # Safety
/// `out` holds at least as many points as the highest lane set in `mask`, plus one.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn scatter(out: &mut [Point], mask: __mmask8, v: Fq8, words: usize) {
    let n = POINT_WORDS as i64;
    let at = _mm512_add_epi64(
        _mm512_set_epi64(7 * n, 6 * n, 5 * n, 4 * n, 3 * n, 2 * n, n, 0),
        _mm512_set1_epi64(words as i64),
    );
    let base = out.as_mut_ptr().cast::<i64>();
    for (k, w) in v.to_words().into_iter().enumerate() {
        let at = _mm512_add_epi64(at, _mm512_set1_epi64(k as i64));
        // SAFETY: the caller's lanes are in `out`, and `words + k` is within a point.
        unsafe { _mm512_mask_i64scatter_epi64::<8>(base, mask, at, w) };
    }
}

/// A group's pairs: both points, the lanes where `x_p = x_q` (doubling or cancelling) and
/// the lanes where the sum is the identity.
struct Loaded {
    xp: Fq8,
    yp: Fq8,
    xq: Fq8,
    yq: Fq8,
    same_x: __mmask8,
    cancel: __mmask8,
}

impl Loaded {
    /// The group's pairs; their y coordinates only where `with_y` asks for them or some lane
    /// doubles or cancels (the forward pass needs only the x coordinates otherwise, and `yp`,
    /// `yq` are then placeholders no method reads).
    ///
    /// # Safety
    /// `at`'s lanes are offsets of points of `pts`, each followed by another point.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn new(pts: &[Point], at: __m512i, live: __mmask8, with_y: bool) -> Self {
        let next = _mm512_add_epi64(at, _mm512_set1_epi64(POINT_WORDS as i64));
        // SAFETY: as the caller says.
        let (xp, xq) = unsafe { (gather(pts, at, X_WORDS), gather(pts, next, X_WORDS)) };
        let same_x = xp.eq(xq) & live;
        let (yp, yq) = if with_y || same_x != 0 {
            // SAFETY: as the caller says.
            unsafe { (gather(pts, at, Y_WORDS), gather(pts, next, Y_WORDS)) }
        } else {
            (xp, xq)
        };
        let cancel = if same_x == 0 { 0 } else { same_x & !yp.eq(yq) };
        Self {
            xp,
            yp,
            xq,
            yq,
            same_x,
            cancel,
        }
    }

    /// The denominator of each lane's sum: `x_q − x_p`, `2·y_p` for a doubling, and 1 where no
    /// division happens (the identity, or no pair).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn denominator(&self, live: __mmask8, one: Fq8) -> Fq8 {
        let mut den = self.xq.sub(self.xp);
        if self.same_x != 0 {
            den = den.blend(self.same_x, self.yp.add(self.yp));
        }
        den.blend(self.cancel | !live, one)
    }

    /// The numerator of each lane's slope: `y_q − y_p`, `3·x_p²` for a doubling.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn numerator(&self) -> Fq8 {
        let num = self.yq.sub(self.yp);
        if self.same_x == 0 {
            return num;
        }
        let xx = self.xp.square();
        num.blend(self.same_x, xx.add(xx).add(xx))
    }
}

/// See [`crate::Ifma::add_pairs`].
///
/// # Safety
/// The CPU has avx512f and avx512ifma; every `firsts[i] + 1` is an index of `pts`; `sums` and
/// `identity` hold `firsts.len()` entries.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) unsafe fn add_pairs(
    pts: &[Point],
    firsts: &[u32],
    sums: &mut [Point],
    identity: &mut [bool],
    prefix: &mut Vec<Fq8>,
) {
    debug_assert!(sums.len() == firsts.len() && identity.len() == firsts.len());
    let groups = firsts.len().div_ceil(8);
    prefix.clear();
    let one = one();
    let mut acc = one;
    for g in 0..groups {
        let (idx, live) = group(firsts, g);
        // SAFETY: `group`'s indices are `firsts`' (or pair 0's), checked by the caller.
        let pair = unsafe { Loaded::new(pts, idx, live, false) };
        prefix.push(acc);
        acc = acc.mul(pair.denominator(live, one));
    }
    // No lane's product is zero (every denominator is nonzero for points of a prime-order
    // group), so one arkworks inversion of their product inverts them all.
    let mut inv = {
        let mut lanes = acc.to_fq();
        ark_ff::batch_inversion(&mut lanes);
        Fq8::load(&lanes)
    };
    for g in (0..groups).rev() {
        let (idx, live) = group(firsts, g);
        // SAFETY: as in the forward pass.
        let pair = unsafe { Loaded::new(pts, idx, live, true) };
        let inv_g = inv.mul(prefix[g]);
        inv = inv.mul(pair.denominator(live, one));
        let lambda = pair.numerator().mul(inv_g);
        let x = lambda.square().sub(pair.xp).sub(pair.xq);
        let y = lambda.mul(pair.xp.sub(x)).sub(pair.yp);
        let write = live & !pair.cancel;
        // SAFETY: `sums` holds `firsts.len()` points; `live` covers group `g`'s pairs only.
        unsafe {
            scatter(&mut sums[8 * g..], write, x, X_WORDS);
            scatter(&mut sums[8 * g..], write, y, Y_WORDS);
        }
        for l in 0..8 {
            if pair.cancel >> l & 1 == 1 {
                identity[8 * g + l] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ark_bn254::{G1Affine, G1Projective};
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::UniformRand;
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
    use std::vec::Vec;

    use crate::{assert_refused, ifma_or_skip, PairScratch, Point};

    fn point(p: G1Affine) -> Point {
        Point { x: p.x, y: p.y }
    }

    /// Pairs of random points, doublings and cancellations at random places, in rounds of
    /// every length up to three groups and a few long ones, against arkworks' group law.
    #[test]
    fn pair_sums_match_arkworks() {
        let Some(ifma) = ifma_or_skip("pair additions") else {
            return;
        };
        let mut rng = StdRng::seed_from_u64(14);
        let mut scratch = PairScratch::default();
        let (mut sums, mut identity) = (Vec::new(), Vec::new());
        for n in (0..=25).chain([64, 333]) {
            let mut pts = Vec::new();
            let mut firsts = Vec::new();
            for i in 0..n {
                let p = G1Projective::rand(&mut rng).into_affine();
                let q = match rng.gen_range(0..6) {
                    0 => p,
                    1 => -p,
                    _ => G1Projective::rand(&mut rng).into_affine(),
                };
                // Pairs sit at uneven places, with other points between them.
                if i % 3 == 1 {
                    pts.push(point(G1Projective::rand(&mut rng).into_affine()));
                }
                firsts.push(pts.len() as u32);
                pts.extend([point(p), point(q)]);
            }
            ifma.add_pairs(&pts, &firsts, &mut sums, &mut identity, &mut scratch);
            assert_eq!((sums.len(), identity.len()), (n, n));
            for (i, &f) in firsts.iter().enumerate() {
                let (p, q) = (pts[f as usize], pts[f as usize + 1]);
                let expected = (G1Affine::new_unchecked(p.x, p.y)
                    + G1Affine::new_unchecked(q.x, q.y))
                .into_affine();
                if expected.is_zero() {
                    assert!(identity[i], "round of {n}, pair {i}: p + (−p) not flagged");
                } else {
                    assert!(!identity[i], "round of {n}, pair {i}: flagged");
                    assert_eq!(sums[i], point(expected), "round of {n}, pair {i}");
                }
            }
        }
    }

    #[test]
    fn a_pair_past_the_end_is_refused() {
        let Some(ifma) = ifma_or_skip("pairs past the points") else {
            return;
        };
        let g = point(G1Affine::generator());
        assert_refused("past the points", move || {
            let (mut sums, mut identity) = (Vec::new(), Vec::new());
            let mut scratch = PairScratch::default();
            ifma.add_pairs(&[g, g], &[1], &mut sums, &mut identity, &mut scratch);
        });
    }
}
