//! Eight values of a 254-bit prime field in five 52-bit limbs each (`Lanes`), and their
//! arithmetic; BN254's base field (`Fq8`, the MSM's) and scalar field (`Fr8`, the NTT's). Every
//! value is kept fully reduced (`< p`) with limbs below 2^52 between operations, so equality of
//! values is equality of limbs.

use core::arch::x86_64::*;
use core::marker::PhantomData;
use core::mem::{offset_of, size_of};

use ark_ff::{BigInt, Fp, MontBackend, MontConfig};

const MASK: i64 = (1 << 52) - 1;

/// The modulus in 52-bit limbs and `−p⁻¹ mod 2^52`, from arkworks' own constants.
trait Limbs52 {
    const P: [i64; 5];
    const P_INV: i64;
}

impl<C: MontConfig<4>> Limbs52 for C {
    const P: [i64; 5] = {
        let m = C::MODULUS.0;
        // Below 2^254 (asserted): the fifth limb takes the top 46 bits.
        assert!(m[3] >> 62 == 0);
        [
            (m[0] & MASK as u64) as i64,
            ((m[0] >> 52 | m[1] << 12) & MASK as u64) as i64,
            ((m[1] >> 40 | m[2] << 24) & MASK as u64) as i64,
            ((m[2] >> 28 | m[3] << 36) & MASK as u64) as i64,
            (m[3] >> 16) as i64,
        ]
    };
    // `INV` is `−p⁻¹ mod 2^64`; its low 52 bits are `−p⁻¹ mod 2^52`.
    const P_INV: i64 = (C::INV & MASK as u64) as i64;
}

/// Eight elements of the field of `C`, limb `k` of lane `l` in `self.0[k]`'s lane `l`.
pub(crate) struct Lanes<C>(pub(crate) [__m512i; 5], PhantomData<C>);

impl<C> Clone for Lanes<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Lanes<C> {}

/// BN254's base field on eight lanes.
pub(crate) type Fq8 = Lanes<ark_bn254::FqConfig>;
/// BN254's scalar field on eight lanes.
pub(crate) type Fr8 = Lanes<ark_bn254::FrConfig>;

type Field<C> = Fp<MontBackend<C, 4>, 4>;

/// The four 64-bit words of eight `Fq`s, word `k` of lane `l` in `[k]`'s lane `l`.
pub(crate) type Words = [__m512i; 4];

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn splat(x: i64) -> __m512i {
    _mm512_set1_epi64(x)
}

impl<C: MontConfig<4>> Lanes<C> {
    fn new(limbs: [__m512i; 5]) -> Self {
        Lanes(limbs, PhantomData)
    }

    /// Lanes from the words of arkworks' (Montgomery-form, reduced) limbs.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn from_words(w: Words) -> Self {
        let m = splat(MASK);
        let or = _mm512_or_si512;
        Self::new([
            _mm512_and_si512(w[0], m),
            _mm512_and_si512(
                or(_mm512_srli_epi64::<52>(w[0]), _mm512_slli_epi64::<12>(w[1])),
                m,
            ),
            _mm512_and_si512(
                or(_mm512_srli_epi64::<40>(w[1]), _mm512_slli_epi64::<24>(w[2])),
                m,
            ),
            _mm512_and_si512(
                or(_mm512_srli_epi64::<28>(w[2]), _mm512_slli_epi64::<36>(w[3])),
                m,
            ),
            _mm512_srli_epi64::<16>(w[3]),
        ])
    }

    /// The words of arkworks' limbs.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn to_words(self) -> Words {
        let [l0, l1, l2, l3, l4] = self.0;
        let or = _mm512_or_si512;
        [
            or(l0, _mm512_slli_epi64::<52>(l1)),
            or(_mm512_srli_epi64::<12>(l1), _mm512_slli_epi64::<40>(l2)),
            or(_mm512_srli_epi64::<24>(l2), _mm512_slli_epi64::<28>(l3)),
            or(_mm512_srli_epi64::<36>(l3), _mm512_slli_epi64::<16>(l4)),
        ]
    }

    /// `x` in every lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn splat(x: Field<C>) -> Self {
        let w = x.0 .0;
        Self::from_words(w.map(|w| splat(w as i64)))
    }

    /// The eight lanes as arkworks values.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn to_fq(self) -> [Field<C>; 8] {
        let mut out = [Field::<C>::new_unchecked(BigInt([0; 4])); 8];
        self.store(&mut out);
        out
    }

    /// Eight elements, in memory one after another, as lanes: four loads and a transpose.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn load(x: &[Field<C>; 8]) -> Self {
        const { assert!(size_of::<Field<C>>() == 32 && limbs_at::<C>() == 0) };
        let p = x.as_ptr().cast::<i64>();
        // SAFETY: `x` is 256 bytes of limbs (asserted above); `loadu` needs no alignment.
        let z: [__m512i; 4] = core::array::from_fn(|k| unsafe { _mm512_loadu_epi64(p.add(8 * k)) });
        let (even, odd) = (index(EVEN), index(ODD));
        // t0: words 0 and 1 of elements 0–3, t1: words 2 and 3; t2, t3 the same for 4–7.
        let t0 = _mm512_permutex2var_epi64(z[0], even, z[1]);
        let t1 = _mm512_permutex2var_epi64(z[0], odd, z[1]);
        let t2 = _mm512_permutex2var_epi64(z[2], even, z[3]);
        let t3 = _mm512_permutex2var_epi64(z[2], odd, z[3]);
        Self::from_words([
            _mm512_shuffle_i64x2::<0x44>(t0, t2),
            _mm512_shuffle_i64x2::<0xee>(t0, t2),
            _mm512_shuffle_i64x2::<0x44>(t1, t3),
            _mm512_shuffle_i64x2::<0xee>(t1, t3),
        ])
    }

    /// Writes the lanes as eight elements one after another.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn store(self, x: &mut [Field<C>; 8]) {
        const { assert!(size_of::<Field<C>>() == 32 && limbs_at::<C>() == 0) };
        let w = self.to_words();
        let t0 = _mm512_shuffle_i64x2::<0x44>(w[0], w[1]);
        let t2 = _mm512_shuffle_i64x2::<0xee>(w[0], w[1]);
        let t1 = _mm512_shuffle_i64x2::<0x44>(w[2], w[3]);
        let t3 = _mm512_shuffle_i64x2::<0xee>(w[2], w[3]);
        let (even, odd) = (index(EVEN), index(ODD));
        let z = [
            _mm512_permutex2var_epi64(t0, even, t1),
            _mm512_permutex2var_epi64(t0, odd, t1),
            _mm512_permutex2var_epi64(t2, even, t3),
            _mm512_permutex2var_epi64(t2, odd, t3),
        ];
        let p = x.as_mut_ptr().cast::<i64>();
        for (k, z) in z.into_iter().enumerate() {
            // SAFETY: as in `load`, and `x` is borrowed mutably.
            unsafe { _mm512_storeu_epi64(p.add(8 * k), z) };
        }
    }

    /// Lanes where `self` and `other` are equal.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn eq(self, other: Self) -> __mmask8 {
        (0..5).fold(0xff, |m, k| {
            m & _mm512_cmpeq_epi64_mask(self.0[k], other.0[k])
        })
    }

    /// `self` where `mask` is clear, `other` where it is set.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn blend(self, mask: __mmask8, other: Self) -> Self {
        Self::new(core::array::from_fn(|k| {
            _mm512_mask_blend_epi64(mask, self.0[k], other.0[k])
        }))
    }

    /// `self − other`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn sub(self, other: Self) -> Self {
        let d = carry(core::array::from_fn(|k| {
            _mm512_sub_epi64(self.0[k], other.0[k])
        }));
        // Negative where the top limb is: add p back there.
        let negative = _mm512_cmplt_epi64_mask(d[4], _mm512_setzero_si512());
        Self::new(carry(core::array::from_fn(|k| {
            _mm512_mask_add_epi64(d[k], negative, d[k], splat(C::P[k]))
        })))
    }

    /// `self + other`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn add(self, other: Self) -> Self {
        reduce_once::<C>(carry(core::array::from_fn(|k| {
            _mm512_add_epi64(self.0[k], other.0[k])
        })))
    }

    /// `self · other`, arkworks' Montgomery product.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn mul(self, other: Self) -> Self {
        reduce_once::<C>(carry(mont::<C>(times16(self.0), other.0)))
    }

    /// `self²`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(crate) fn square(self) -> Self {
        self.mul(self)
    }
}

/// Where an element's limbs start within it.
const fn limbs_at<C: MontConfig<4>>() -> usize {
    offset_of!(Field<C>, 0) + offset_of!(BigInt<4>, 0)
}

/// Stage one of the transposes: from two zmm of two elements each, a word's four elements.
const EVEN: [i64; 8] = [0, 4, 8, 12, 1, 5, 9, 13];
const ODD: [i64; 8] = [2, 6, 10, 14, 3, 7, 11, 15];

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn index(i: [i64; 8]) -> __m512i {
    _mm512_set_epi64(i[7], i[6], i[5], i[4], i[3], i[2], i[1], i[0])
}

/// Zero in every lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn zero<C: MontConfig<4>>() -> Lanes<C> {
    Lanes::new([_mm512_setzero_si512(); 5])
}

/// The field's one, in every lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn one<C: MontConfig<4>>() -> Lanes<C> {
    Lanes::splat(<Field<C> as ark_ff::Field>::ONE)
}

/// Limbs carried into 52-bit limbs, borrows included; the top limb keeps the rest and the sign.
/// Every limb is below 2^62 in magnitude, so the arithmetic shift also serves non-negative ones.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn carry(mut t: [__m512i; 5]) -> [__m512i; 5] {
    let m = splat(MASK);
    for k in 0..4 {
        t[k + 1] = _mm512_add_epi64(t[k + 1], _mm512_srai_epi64::<52>(t[k]));
        t[k] = _mm512_and_si512(t[k], m);
    }
    t
}

/// `t − p` where that is not negative, `t` elsewhere (`t < 2p`, carried).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn reduce_once<C: MontConfig<4>>(t: [__m512i; 5]) -> Lanes<C> {
    let d = carry(core::array::from_fn(|k| {
        _mm512_sub_epi64(t[k], splat(C::P[k]))
    }));
    let negative = _mm512_cmplt_epi64_mask(d[4], _mm512_setzero_si512());
    Lanes::new(core::array::from_fn(|k| {
        _mm512_mask_blend_epi64(negative, d[k], t[k])
    }))
}

/// `16·a` in 52-bit limbs: below 2^258 for `a < p`, so the top limb stays under 2^50.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn times16(a: [__m512i; 5]) -> [__m512i; 5] {
    let m = splat(MASK);
    let shifted = |k: usize| {
        let up = _mm512_slli_epi64::<4>(a[k]);
        if k == 0 {
            up
        } else {
            _mm512_or_si512(up, _mm512_srli_epi64::<48>(a[k - 1]))
        }
    };
    [
        _mm512_and_si512(shifted(0), m),
        _mm512_and_si512(shifted(1), m),
        _mm512_and_si512(shifted(2), m),
        _mm512_and_si512(shifted(3), m),
        shifted(4),
    ]
}

/// Montgomery product with R' = 2^260: `a·b / 2^260 mod p`, below `p + a·b / 2^260` and not
/// carried. Operand scanning, one reduction step per limb of `b`; each accumulator takes at
/// most 20 terms below 2^52, so none overflows 64 bits.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn mont<C: MontConfig<4>>(a: [__m512i; 5], b: [__m512i; 5]) -> [__m512i; 5] {
    let zero = _mm512_setzero_si512();
    let p: [__m512i; 5] = core::array::from_fn(|k| splat(C::P[k]));
    let p_inv = splat(C::P_INV);
    let mut t = [zero; 6];
    for bi in b {
        for j in 0..5 {
            t[j] = _mm512_madd52lo_epu64(t[j], a[j], bi);
            t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], a[j], bi);
        }
        let m = _mm512_madd52lo_epu64(zero, t[0], p_inv);
        for j in 0..5 {
            t[j] = _mm512_madd52lo_epu64(t[j], m, p[j]);
            t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], m, p[j]);
        }
        // The low 52 bits of t[0] are zero now: divide by 2^52.
        let low = _mm512_srli_epi64::<52>(t[0]);
        t = [_mm512_add_epi64(t[1], low), t[2], t[3], t[4], t[5], zero];
    }
    [t[0], t[1], t[2], t[3], t[4]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fq, FqConfig, FrConfig};
    use ark_ff::{BigInteger, UniformRand};
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    /// Representations at the limbs' and the modulus' edges (Montgomery form, as stored), and
    /// random ones.
    fn values<C: MontConfig<4>>() -> std::vec::Vec<Field<C>> {
        let p = C::MODULUS;
        let minus = |k: u64| {
            let mut v = p;
            v.sub_with_borrow(&BigInt::from(k));
            Field::<C>::new_unchecked(v)
        };
        let pow2 = |e: u32| {
            let mut v = BigInt::<4>::zero();
            v.0[(e / 64) as usize] = 1 << (e % 64);
            Field::<C>::new_unchecked(v)
        };
        let mut half = p;
        half.div2();
        let mut v = std::vec![
            Field::<C>::new_unchecked(BigInt::zero()),
            Field::<C>::new_unchecked(BigInt::one()),
            minus(1),
            minus(2),
            Field::<C>::new_unchecked(half),
            Field::<C>::new_unchecked(BigInt([u64::MAX, u64::MAX, u64::MAX, 0])),
            Field::<C>::new_unchecked(BigInt([(1 << 52) - 1, 0, 0, 0])),
        ];
        v.extend([52, 104, 156, 208, 253].map(pow2));
        v.extend([51, 103, 155, 207].map(|e| pow2(e + 1) - pow2(0)));
        let mut rng = StdRng::seed_from_u64(14);
        v.extend((0..40).map(|_| Field::<C>::rand(&mut rng)));
        v
    }

    /// The lane operations, callable where [`with_ifma`] found the CPU's features.
    macro_rules! safe {
        ($($name:ident => $op:ident),*) => {$(
            fn $name<C: MontConfig<4>>(a: Lanes<C>, b: Lanes<C>) -> Lanes<C> {
                assert!(crate::Ifma::detect().is_some());
                // SAFETY: the CPU has avx512f and avx512ifma (asserted).
                unsafe { a.$op(b) }
            }
        )*};
    }
    safe!(mul => mul, add => add, sub => sub);

    fn lanes<C: MontConfig<4>>(x: &[Field<C>; 8]) -> Lanes<C> {
        assert!(crate::Ifma::detect().is_some());
        // SAFETY: as above.
        unsafe { Lanes::load(x) }
    }

    fn values_of<C: MontConfig<4>>(x: Lanes<C>) -> [Field<C>; 8] {
        assert!(crate::Ifma::detect().is_some());
        // SAFETY: as above.
        unsafe { x.to_fq() }
    }

    /// Every pair of `values`, eight at a time, through `op` against `scalar`.
    fn check<C: MontConfig<4>>(
        op: fn(Lanes<C>, Lanes<C>) -> Lanes<C>,
        scalar: impl Fn(Field<C>, Field<C>) -> Field<C>,
    ) {
        let v = values::<C>();
        let pairs: std::vec::Vec<(Field<C>, Field<C>)> = v
            .iter()
            .flat_map(|&a| v.iter().map(move |&b| (a, b)))
            .collect();
        for chunk in pairs.chunks(8) {
            let a: [Field<C>; 8] = core::array::from_fn(|l| chunk[l % chunk.len()].0);
            let b: [Field<C>; 8] = core::array::from_fn(|l| chunk[l % chunk.len()].1);
            let got = values_of(op(lanes(&a), lanes(&b)));
            for l in 0..8 {
                assert_eq!(
                    got[l],
                    scalar(a[l], b[l]),
                    "lane {l}: {:?} and {:?}",
                    a[l],
                    b[l]
                );
                assert!(got[l].0 < C::MODULUS, "not reduced: {:?}", got[l]);
            }
        }
    }

    fn with_ifma(f: impl FnOnce()) {
        if crate::ifma_or_skip("lane arithmetic").is_some() {
            f()
        }
    }

    #[test]
    fn products_match_arkworks() {
        with_ifma(|| {
            check::<FqConfig>(mul, |a, b| a * b);
            check::<FrConfig>(mul, |a, b| a * b);
        });
    }

    #[test]
    fn sums_and_differences_match_arkworks() {
        with_ifma(|| {
            check::<FqConfig>(add, |a, b| a + b);
            check::<FqConfig>(sub, |a, b| a - b);
            check::<FrConfig>(add, |a, b| a + b);
            check::<FrConfig>(sub, |a, b| a - b);
        });
    }

    #[test]
    fn limbs_round_trip_and_compare() {
        with_ifma(|| {
            let v = values::<FqConfig>();
            for chunk in v.chunks(8) {
                let a: [Fq; 8] = core::array::from_fn(|l| chunk[l % chunk.len()]);
                let x = lanes(&a);
                let y = lanes(&core::array::from_fn(|l| a[(l + 1) % 8]));
                // SAFETY: `with_ifma` runs this only where the CPU has the features.
                let (eq, ne) = unsafe { (x.eq(x), x.eq(y)) };
                let back = values_of(x);
                assert_eq!(back, a);
                assert_eq!(eq, 0xff);
                let expected = (0..8).fold(0u8, |m, l| m | u8::from(a[l] == a[(l + 1) % 8]) << l);
                assert_eq!(ne, expected);
            }
        });
    }

    /// Where the tests above ran matters: they must not skip on a CPU that has IFMA.
    #[test]
    fn detected_where_the_cpu_says() {
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
            return;
        };
        let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        let off = std::env::var_os("ZKEDGE_NO_IFMA").is_some_and(|v| v != "0");
        assert_eq!(
            crate::Ifma::detect().is_some(),
            has("avx512f") && has("avx512ifma") && !off
        );
    }
}
