//! Between halo2's field and curve types (halo2curves) and arkworks', which zkedge's prover,
//! backends and wire protocol use: every crossing goes through here. Both sides' bytes are
//! canonical little-endian, so the wire codec (`accel_proto::elem`) does the work.

use accel_backends::{Fr, G1Affine};
use halo2_proofs::halo2curves::{
    bn256::{Fq as H2Fq, Fr as H2Fr, G1Affine as H2G1Affine},
    ff::{Field as _, PrimeField as _},
    CurveAffine,
};

/// A halo2curves scalar in arkworks. halo2curves' bytes are canonical little-endian, the wire
/// protocol's form, so the wire codec reads them.
pub fn fr(x: &H2Fr) -> Fr {
    accel_proto::elem::decode_fr(&x.to_repr()).unwrap_or_default()
}

/// A halo2curves base-field element in arkworks.
pub fn fq(x: &H2Fq) -> ark_bn254::Fq {
    accel_proto::elem::decode_fq(&x.to_repr()).unwrap_or_default()
}

/// A halo2curves point in arkworks (halo2curves' (0, 0) is the identity).
pub fn point(p: &H2G1Affine) -> G1Affine {
    let c = p.coordinates();
    match Option::from(c) {
        Some(c) => {
            let c: halo2_proofs::halo2curves::Coordinates<H2G1Affine> = c;
            G1Affine::new_unchecked(fq(c.x()), fq(c.y()))
        }
        None => G1Affine::identity(),
    }
}

/// An arkworks scalar in halo2curves (a reduced arkworks scalar is a canonical halo2 one).
pub fn halo2_fr(x: &Fr) -> H2Fr {
    H2Fr::from_repr(accel_proto::elem::encode_fr(x)).unwrap_or(H2Fr::ZERO)
}

/// An arkworks base-field element in halo2curves.
pub fn halo2_fq(x: &ark_bn254::Fq) -> H2Fq {
    H2Fq::from_repr(accel_proto::elem::encode_fq(x)).unwrap_or(H2Fq::ZERO)
}

/// An arkworks point in halo2curves (the identity is (0, 0) there).
pub fn halo2_point(p: &G1Affine) -> H2G1Affine {
    use ark_ec::AffineRepr as _;
    match p.xy() {
        Some((x, y)) => H2G1Affine {
            x: halo2_fq(&x),
            y: halo2_fq(&y),
        },
        None => H2G1Affine {
            x: H2Fq::ZERO,
            y: H2Fq::ZERO,
        },
    }
}

#[cfg(test)]
mod tests {
    use ark_ec::{AffineRepr as _, CurveGroup as _};
    use halo2_proofs::halo2curves::{
        bn256::G1,
        group::{prime::PrimeCurveAffine as _, Curve as _},
    };
    use rand::{rngs::StdRng, SeedableRng};

    use super::*;

    /// Both directions against the other library's own arithmetic: a conversion that permuted
    /// bytes or mixed up Montgomery form would not commute with multiplication and addition.
    #[test]
    fn conversions_commute_with_each_librarys_arithmetic() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..64 {
            let (a, b) = (H2Fr::random(&mut rng), H2Fr::random(&mut rng));
            assert_eq!(fr(&(a * b)), fr(&a) * fr(&b));
            assert_eq!(fr(&(a + b)), fr(&a) + fr(&b));
            assert_eq!(halo2_fr(&fr(&a)), a);
            let p = (G1::generator() * a).to_affine();
            let q = (G1::generator() * b).to_affine();
            let ark_sum = (point(&p) + point(&q)).into_affine();
            assert_eq!(ark_sum, point(&(p + q).to_affine()));
            assert_eq!(point(&p), (G1Affine::generator() * fr(&a)).into_affine());
            assert_eq!(halo2_point(&point(&p)), p);
        }
        assert_eq!(point(&H2G1Affine::identity()), G1Affine::identity());
        assert_eq!(halo2_point(&G1Affine::identity()), H2G1Affine::identity());
    }
}
