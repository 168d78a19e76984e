//! The NTT's element-wise kernels on eight lanes: radix-2 butterflies and the scaling by
//! powers (a coset's shift, an inverse's `1/n`), over BN254's scalar field.

use ark_bn254::Fr;
use ark_ff::Field;

use crate::lanes::Fr8;

/// See [`crate::Ifma::dif_butterflies`]; `lo`, `hi` and `t` are equally long.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn dif_butterflies(lo: &mut [Fr], hi: &mut [Fr], t: &[Fr]) {
    let (lo8, lo_rest) = lo.as_chunks_mut::<8>();
    let (hi8, hi_rest) = hi.as_chunks_mut::<8>();
    let (t8, t_rest) = t.as_chunks::<8>();
    for ((u, v), w) in lo8.iter_mut().zip(hi8.iter_mut()).zip(t8) {
        let (a, b) = (Fr8::load(u), Fr8::load(v));
        a.add(b).store(u);
        a.sub(b).mul(Fr8::load(w)).store(v);
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
    let mut p = Fr8::load(&first);
    let step = Fr8::splat(g.pow([8]));
    for x in v8.iter_mut() {
        Fr8::load(x).mul(p).store(x);
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

    use crate::{assert_refused, ifma_or_skip};

    /// Every length up to three groups and some long ones, against arkworks' arithmetic;
    /// values include 0, 1 and −1.
    #[test]
    fn butterflies_and_powers_match_arkworks() {
        let Some(ifma) = ifma_or_skip("NTT kernels") else {
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
    fn unequal_slices_are_refused() {
        let Some(ifma) = ifma_or_skip("butterflies over unequal slices") else {
            return;
        };
        assert_refused("unequal", || {
            ifma.dif_butterflies(&mut [Fr::ONE; 9], &mut [Fr::ONE; 9], &[Fr::ONE; 8]);
        });
    }
}
