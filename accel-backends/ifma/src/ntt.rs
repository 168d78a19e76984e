//! The NTT's element-wise kernels on eight lanes: radix-2 butterflies and the scaling by
//! powers (a coset's shift, an inverse's `1/n`), over BN254's scalar field.

use core::arch::x86_64::*;
use core::mem::{offset_of, size_of};

use ark_bn254::Fr;
use ark_ff::{BigInt, Field};

use crate::lanes::{Fr8, Words};

// Eight consecutive `Fr`s are 256 bytes of limbs, nothing between them.
const _: () = assert!(size_of::<Fr>() == 32 && offset_of!(Fr, 0) + offset_of!(BigInt<4>, 0) == 0);

/// Stage one of the transposes: from two zmm of two elements each, a word's four elements.
const EVEN: [i64; 8] = [0, 4, 8, 12, 1, 5, 9, 13];
const ODD: [i64; 8] = [2, 6, 10, 14, 3, 7, 11, 15];

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn index(i: [i64; 8]) -> __m512i {
    _mm512_set_epi64(i[7], i[6], i[5], i[4], i[3], i[2], i[1], i[0])
}

/// Eight elements, in memory one after another, as lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn load(x: &[Fr; 8]) -> Fr8 {
    let p = x.as_ptr().cast::<i64>();
    // SAFETY: `x` is 256 bytes of limbs (asserted above); `loadu` needs no alignment.
    let z: [__m512i; 4] = core::array::from_fn(|k| unsafe { _mm512_loadu_epi64(p.add(8 * k)) });
    let (even, odd) = (index(EVEN), index(ODD));
    // t0: words 0 and 1 of elements 0–3, t1: words 2 and 3; t2, t3 the same for 4–7.
    let t0 = _mm512_permutex2var_epi64(z[0], even, z[1]);
    let t1 = _mm512_permutex2var_epi64(z[0], odd, z[1]);
    let t2 = _mm512_permutex2var_epi64(z[2], even, z[3]);
    let t3 = _mm512_permutex2var_epi64(z[2], odd, z[3]);
    let w: Words = [
        _mm512_shuffle_i64x2::<0x44>(t0, t2),
        _mm512_shuffle_i64x2::<0xee>(t0, t2),
        _mm512_shuffle_i64x2::<0x44>(t1, t3),
        _mm512_shuffle_i64x2::<0xee>(t1, t3),
    ];
    Fr8::from_words(w)
}

/// Writes lanes back as eight elements one after another.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn store(v: Fr8, x: &mut [Fr; 8]) {
    let w = v.to_words();
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

/// See [`crate::Ifma::dif_butterflies`]; `lo`, `hi` and `t` are equally long.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn dif_butterflies(lo: &mut [Fr], hi: &mut [Fr], t: &[Fr]) {
    let (lo8, lo_rest) = lo.as_chunks_mut::<8>();
    let (hi8, hi_rest) = hi.as_chunks_mut::<8>();
    let (t8, t_rest) = t.as_chunks::<8>();
    for ((u, v), w) in lo8.iter_mut().zip(hi8.iter_mut()).zip(t8) {
        let (a, b) = (load(u), load(v));
        store(a.add(b), u);
        store(a.sub(b).mul(load(w)), v);
    }
    for ((u, v), w) in lo_rest.iter_mut().zip(hi_rest.iter_mut()).zip(t_rest) {
        let d = *u - *v;
        *u += *v;
        *v = d * w;
    }
}

/// See [`crate::Ifma::scale_by_powers`].
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn scale_by_powers(values: &mut [Fr], c: Fr, g: Fr) {
    let (v8, rest) = values.as_chunks_mut::<8>();
    let mut first = [c; 8];
    for l in 1..8 {
        first[l] = first[l - 1] * g;
    }
    let mut p = Fr8::from_fq(&first);
    let step = Fr8::splat(g.pow([8]));
    for x in v8.iter_mut() {
        store(load(x).mul(p), x);
        p = p.mul(step);
    }
    let mut p = first[0] * g.pow([8 * v8.len() as u64]);
    for x in rest {
        *x *= p;
        p *= g;
    }
}

#[cfg(test)]
mod tests {
    use ark_bn254::Fr;
    use ark_ff::{Field, UniformRand};
    use ark_std::rand::{rngs::StdRng, SeedableRng};
    use std::vec::Vec;

    use crate::Ifma;

    /// Every length up to three groups and some long ones, against arkworks' arithmetic;
    /// values include 0, 1 and −1.
    #[test]
    fn butterflies_and_powers_match_arkworks() {
        let Some(ifma) = Ifma::detect() else {
            std::eprintln!("no AVX-512 IFMA on this CPU: NTT kernels not exercised");
            return;
        };
        let mut rng = StdRng::seed_from_u64(14);
        for n in (0..=25).chain([255, 1024]) {
            let mut draw = || -> Vec<Fr> {
                (0..n)
                    .map(|i| match i % 7 {
                        0 => Fr::from(0u64),
                        3 => -Fr::ONE,
                        5 => Fr::ONE,
                        _ => Fr::rand(&mut rng),
                    })
                    .collect()
            };
            let (lo, hi, t) = (draw(), draw(), draw());
            let (mut l, mut h) = (lo.clone(), hi.clone());
            ifma.dif_butterflies(&mut l, &mut h, &t);
            for i in 0..n {
                assert_eq!(l[i], lo[i] + hi[i], "n = {n}, lo[{i}]");
                assert_eq!(h[i], (lo[i] - hi[i]) * t[i], "n = {n}, hi[{i}]");
            }
            let (c, g) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
            let mut v = lo.clone();
            ifma.scale_by_powers(&mut v, c, g);
            for i in 0..n {
                assert_eq!(v[i], lo[i] * c * g.pow([i as u64]), "n = {n}, power {i}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "unequal")]
    fn unequal_slices_are_refused() {
        let Some(ifma) = Ifma::detect() else {
            panic!("unequal (no IFMA here: nothing to refuse)");
        };
        ifma.dif_butterflies(&mut [Fr::ONE; 9], &mut [Fr::ONE; 9], &[Fr::ONE; 8]);
    }
}
