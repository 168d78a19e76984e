//! Conversions between arkworks' BN254 types and ICICLE's.
//!
//! - Scalars stay in arkworks' Montgomery form and are handed to ICICLE without a copy: arkworks'
//!   `Fr` is four little-endian `u64` limbs and ICICLE's `ScalarField` eight little-endian `u32`
//!   limbs, both with R = 2^256, so on a little-endian machine the bytes are the same integer
//!   (checked at compile time below). MSMs say so with `are_scalars_montgomery_form`; NTTs need
//!   no flag at all, because an NTT is linear: transforming `a·R` gives `NTT(a)·R`, which is the
//!   Montgomery form of the answer.
//! - Bases are converted once per handle to ICICLE's canonical (non-Montgomery) affine form,
//!   with the identity as (0, 0). ICICLE's CPU MSM ignores `are_bases_montgomery_form`, so
//!   Montgomery bases would give wrong, off-curve sums there; canonical bases are right on every
//!   device.
//! - ICICLE's MSM result is homogeneous projective in canonical form (x = X/Z, y = Y/Z).

use accel_backends::{Fr, G1Affine, G1Projective};
use ark_bn254::Fq;
use ark_ec::AffineRepr;
use ark_ff::{BigInt, Field, PrimeField};
use icicle_bn254::curve::{
    BaseField as IcicleFq, G1Affine as IcicleAffine, G1Projective as IcicleProjective,
    ScalarField as IcicleFr,
};
use icicle_core::bignum::BigNum;

#[cfg(not(target_endian = "little"))]
compile_error!("accel-icicle shares scalar memory with ICICLE and needs a little-endian target");

// The layout the zero-copy casts rely on: `Fr` is exactly its `BigInt<4>`, which is exactly its
// `[u64; 4]`, 32 bytes, at least as aligned as ICICLE's `#[repr(C)]` `[u32; 8]`.
const _: () = {
    assert!(core::mem::size_of::<Fr>() == 32);
    assert!(core::mem::size_of::<BigInt<4>>() == 32);
    assert!(core::mem::offset_of!(Fr, 0) == 0);
    assert!(core::mem::offset_of!(BigInt<4>, 0) == 0);
    assert!(core::mem::size_of::<IcicleFr>() == 32);
    assert!(core::mem::align_of::<Fr>() >= core::mem::align_of::<IcicleFr>());
};

/// The scalars as ICICLE scalars holding the same (Montgomery-form) integers.
pub(crate) fn scalars_as_icicle(scalars: &[Fr]) -> &[IcicleFr] {
    // SAFETY: `Fr` and `IcicleFr` are both 32 bytes of plain integer limbs with no padding and no
    // invalid bit patterns (layout asserted above); `Fr` is at least as aligned as `IcicleFr`; on
    // a little-endian target the bytes of `[u64; 4]` and `[u32; 8]` denote the same integer. The
    // returned slice borrows `scalars`, so lifetime and length carry over.
    unsafe { core::slice::from_raw_parts(scalars.as_ptr().cast::<IcicleFr>(), scalars.len()) }
}

/// The scalars as mutable ICICLE scalars holding the same (Montgomery-form) integers.
pub(crate) fn scalars_as_icicle_mut(scalars: &mut [Fr]) -> &mut [IcicleFr] {
    // SAFETY: as in `scalars_as_icicle`; in addition any bit pattern ICICLE writes is a valid
    // `[u64; 4]`, and the exclusive borrow of `scalars` is carried by the result. Whether what
    // was written is a reduced field element is checked by `all_reduced` afterwards.
    unsafe {
        core::slice::from_raw_parts_mut(scalars.as_mut_ptr().cast::<IcicleFr>(), scalars.len())
    }
}

/// Whether every element is a reduced representative (below the modulus), as arkworks requires.
pub(crate) fn all_reduced(values: &[Fr]) -> bool {
    let modulus = <Fr as PrimeField>::MODULUS;
    values.iter().all(|v| v.0 < modulus)
}

fn limbs32(x: BigInt<4>) -> [u32; 8] {
    let mut out = [0u32; 8];
    for (i, limb) in x.0.iter().enumerate() {
        out[2 * i] = *limb as u32;
        out[2 * i + 1] = (*limb >> 32) as u32;
    }
    out
}

fn limbs64(x: &[u32; 8]) -> BigInt<4> {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        *limb = u64::from(x[2 * i]) | (u64::from(x[2 * i + 1]) << 32);
    }
    BigInt(out)
}

/// A scalar in ICICLE's canonical form (for roots of unity and coset generators).
pub(crate) fn scalar_canonical(x: Fr) -> IcicleFr {
    IcicleFr::from(limbs32(x.into_bigint()))
}

fn fq_canonical(x: Fq) -> IcicleFq {
    IcicleFq::from(limbs32(x.into_bigint()))
}

fn fq_from_icicle(x: &IcicleFq) -> Option<Fq> {
    Fq::from_bigint(limbs64(x.limbs()))
}

/// A base in ICICLE's canonical affine form; the identity becomes (0, 0).
pub(crate) fn base(p: &G1Affine) -> IcicleAffine {
    match p.xy() {
        Some((x, y)) => IcicleAffine {
            x: fq_canonical(x),
            y: fq_canonical(y),
        },
        None => IcicleAffine {
            x: IcicleFq::zero(),
            y: IcicleFq::zero(),
        },
    }
}

/// ICICLE's projective sum as an arkworks point, or `None` if it is not a point of the curve
/// (a coordinate out of range, or off the curve).
pub(crate) fn sum(p: &IcicleProjective) -> Option<G1Projective> {
    let z = fq_from_icicle(&p.z)?;
    let x = fq_from_icicle(&p.x)?;
    let y = fq_from_icicle(&p.y)?;
    let Some(z_inv) = z.inverse() else {
        // Z = 0: the point at infinity.
        return Some(G1Projective::default());
    };
    let affine = G1Affine::new_unchecked(x * z_inv, y * z_inv);
    if affine.is_on_curve() {
        Some(affine.into_group())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_ff::UniformRand;
    use rand::SeedableRng;

    #[test]
    fn limbs_round_trip() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for _ in 0..100 {
            let x = Fr::rand(&mut rng);
            assert_eq!(limbs64(&limbs32(x.into_bigint())), x.into_bigint());
            // The cast shares the Montgomery integer, limb for limb.
            let cast = scalars_as_icicle(core::slice::from_ref(&x))[0];
            assert_eq!(limbs64(cast.limbs()), x.0);
        }
    }

    #[test]
    fn canonical_scalar_is_the_integer() {
        let c = scalar_canonical(Fr::from(7u64));
        assert_eq!(c.limbs(), &[7, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn projective_sum_converts_back() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let p = (G1Affine::generator() * Fr::rand(&mut rng)).into_affine();
        let b = base(&p);
        let z = Fq::from(5u64);
        let (x, y) = p.xy().unwrap_or_default();
        let proj = IcicleProjective {
            x: fq_canonical(x * z),
            y: fq_canonical(y * z),
            z: fq_canonical(z),
        };
        assert_eq!(sum(&proj), Some(p.into_group()));
        assert_eq!(b.x, fq_canonical(x));
        // Infinity both ways; an off-curve point is refused.
        assert_eq!(base(&G1Affine::identity()), IcicleAffine::default());
        let zero = IcicleProjective {
            x: IcicleFq::zero(),
            y: fq_canonical(Fq::from(1u64)),
            z: IcicleFq::zero(),
        };
        assert_eq!(sum(&zero), Some(G1Projective::default()));
        let bad = IcicleProjective {
            x: fq_canonical(x),
            y: fq_canonical(y + Fq::from(1u64)),
            z: fq_canonical(Fq::from(1u64)),
        };
        assert_eq!(sum(&bad), None);
    }

    #[test]
    fn reduced_check_catches_out_of_range_limbs() {
        let mut v = vec![Fr::from(3u64), -Fr::from(1u64)];
        assert!(all_reduced(&v));
        scalars_as_icicle_mut(&mut v)[1] = IcicleFr::from([u32::MAX; 8]);
        assert!(!all_reduced(&v));
    }
}
