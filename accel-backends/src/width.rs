//! Scalar widths: how many bits a scalar needs as a signed integer, the measure behind
//! [`MsmJob::scalar_bits`](crate::MsmJob::scalar_bits).
//!
//! A circuit's columns hold int8 activations, small limbs and accumulators: read as field
//! elements, a negative value `−v` is `r − v`, a 254-bit number, but read as a signed integer
//! it is as narrow as `v`. An MSM over such scalars needs windows for their width only.

use ark_ff::{BigInt, BigInteger, PrimeField};

use crate::{Fr, FULL_SCALAR_BITS};

/// `s` as a signed integer in `(−r/2, r/2)`: whether it is negative, and its magnitude.
#[inline]
pub fn signed(s: &Fr) -> (bool, BigInt<4>) {
    let v = s.into_bigint();
    if v > Fr::MODULUS_MINUS_ONE_DIV_TWO {
        let mut m = Fr::MODULUS;
        m.sub_with_borrow(&v);
        (true, m)
    } else {
        (false, v)
    }
}

/// The bits `s` needs as a signed integer: the least `w` with `|s| < 2^w` (0 for zero, 1 for
/// ±1, 8 for −255..=255, at most 253).
#[inline]
pub fn bits(s: &Fr) -> u32 {
    signed(s).1.num_bits()
}

/// The least width that holds every scalar of `scalars` (see [`bits`]); stops reading at the
/// first scalar that needs 253 bits, so a column of random values costs a few conversions
/// (a third of random scalars are that wide).
pub fn scalar_bits(scalars: &[Fr]) -> u32 {
    let mut widest = 0;
    for s in scalars {
        widest = widest.max(bits(s));
        if widest >= FULL_SCALAR_BITS - 1 {
            return FULL_SCALAR_BITS;
        }
    }
    widest
}

#[cfg(test)]
mod tests {
    use ark_ff::{AdditiveGroup, Field};

    use super::*;

    #[test]
    fn widths_of_edge_values() {
        assert_eq!(bits(&Fr::ZERO), 0);
        assert_eq!(bits(&Fr::ONE), 1);
        assert_eq!(bits(&-Fr::ONE), 1);
        assert_eq!(bits(&Fr::from(255u64)), 8);
        assert_eq!(bits(&-Fr::from(255u64)), 8);
        assert_eq!(bits(&Fr::from(256u64)), 9);
        assert_eq!(bits(&-Fr::from(128u64)), 8);
        assert_eq!(bits(&Fr::from(u64::MAX)), 64);
        assert_eq!(bits(&-Fr::from(u64::MAX)), 64);
        // (r − 1)/2 is the largest magnitude there is.
        let half = Fr::from_bigint(Fr::MODULUS_MINUS_ONE_DIV_TWO).unwrap();
        assert_eq!(bits(&half), 253);
        assert_eq!(bits(&(half + Fr::ONE)), 253);
        assert!(signed(&(half + Fr::ONE)).0);
        assert_eq!(scalar_bits(&[Fr::from(3u64), -Fr::from(1000u64)]), 10);
        assert_eq!(scalar_bits(&[]), 0);
        assert_eq!(scalar_bits(&[half, Fr::ONE]), FULL_SCALAR_BITS);
        let (neg, m) = signed(&-Fr::from(7u64));
        assert!(neg);
        assert_eq!(m, BigInt::from(7u64));
        assert_eq!(Fr::from(2u64).pow([200]) - Fr::ONE, {
            let (neg, m) = signed(&(Fr::from(2u64).pow([200]) - Fr::ONE));
            assert!(!neg);
            Fr::from_bigint(m).unwrap()
        });
    }
}
