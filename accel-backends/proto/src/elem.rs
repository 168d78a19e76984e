//! Field elements and points on the wire.
//!
//! A field element is its canonical integer (`0 ≤ x < p`) in 32 little-endian bytes — what
//! arkworks' `into_bigint().to_bytes_le()` and halo2curves' `to_repr()` give. A point is affine
//! `x ‖ y` (64 bytes); the identity is `(0, 0)`, as in halo2curves. Decoding rejects anything
//! else with an [`ElemError`]: values `≥ p`, points off the curve. Nothing here allocates.

use ark_bn254::{Fq, Fr, G1Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField};

use crate::msg::{WireFe, WirePoint};

/// Bytes per scalar (or NTT value) on the wire.
pub const FE_BYTES: usize = 32;
/// Bytes per point on the wire.
pub const POINT_BYTES: usize = 64;

/// Why bytes are not a valid element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ElemError {
    /// The integer is not below the field's modulus.
    NonCanonical,
    /// The coordinates are canonical but the point is not on BN254's G1 (nor `(0, 0)`).
    NotOnCurve,
}

fn limbs_to_bytes(limbs: &[u64; 4]) -> WireFe {
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(limbs) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

fn bytes_to_limbs(bytes: &WireFe) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
    }
    BigInt(limbs)
}

/// A scalar's canonical bytes.
pub fn encode_fr(x: &Fr) -> WireFe {
    limbs_to_bytes(&x.into_bigint().0)
}

/// The scalar whose canonical bytes these are; `NonCanonical` if the integer is `≥ r`.
pub fn decode_fr(bytes: &WireFe) -> Result<Fr, ElemError> {
    Fr::from_bigint(bytes_to_limbs(bytes)).ok_or(ElemError::NonCanonical)
}

/// A base-field element's canonical bytes.
pub fn encode_fq(x: &Fq) -> WireFe {
    limbs_to_bytes(&x.into_bigint().0)
}

/// The base-field element whose canonical bytes these are; `NonCanonical` if `≥ p`.
pub fn decode_fq(bytes: &WireFe) -> Result<Fq, ElemError> {
    Fq::from_bigint(bytes_to_limbs(bytes)).ok_or(ElemError::NonCanonical)
}

/// A point's wire form; the identity becomes `(0, 0)`.
pub fn encode_point(p: &G1Affine) -> WirePoint {
    match p.xy() {
        Some((x, y)) => WirePoint {
            x: encode_fq(&x),
            y: encode_fq(&y),
        },
        None => WirePoint {
            x: [0; 32],
            y: [0; 32],
        },
    }
}

/// The point of G1 this wire form names. BN254's G1 has cofactor 1, so on the curve means in
/// the group.
pub fn decode_point(w: &WirePoint) -> Result<G1Affine, ElemError> {
    let x = decode_fq(&w.x)?;
    let y = decode_fq(&w.y)?;
    if w.x == [0; 32] && w.y == [0; 32] {
        return Ok(G1Affine::identity());
    }
    let p = G1Affine::new_unchecked(x, y);
    if p.is_on_curve() {
        Ok(p)
    } else {
        Err(ElemError::NotOnCurve)
    }
}

/// Writes a point's 64 bytes into `out` (which must be exactly 64 bytes).
pub fn write_point(p: &G1Affine, out: &mut [u8; POINT_BYTES]) {
    let w = encode_point(p);
    out[..32].copy_from_slice(&w.x);
    out[32..].copy_from_slice(&w.y);
}

/// Reads the 64-byte point at the start of `bytes`.
pub fn read_point(bytes: &[u8; POINT_BYTES]) -> Result<G1Affine, ElemError> {
    let mut w = WirePoint {
        x: [0; 32],
        y: [0; 32],
    };
    w.x.copy_from_slice(&bytes[..32]);
    w.y.copy_from_slice(&bytes[32..]);
    decode_point(&w)
}

/// Decodes a chunk of concatenated 32-byte scalars, calling `sink(index, value)` for each;
/// stops at the first bad element and returns its index within the chunk.
///
/// The chunk's length must be a multiple of 32 (check with [`whole_elements`] first): trailing
/// bytes are ignored here.
pub fn decode_fr_chunk(
    bytes: &[u8],
    mut sink: impl FnMut(usize, Fr),
) -> Result<(), (usize, ElemError)> {
    for (i, chunk) in bytes.chunks_exact(FE_BYTES).enumerate() {
        let mut fe = [0u8; FE_BYTES];
        fe.copy_from_slice(chunk);
        sink(i, decode_fr(&fe).map_err(|e| (i, e))?);
    }
    Ok(())
}

/// Decodes a chunk of concatenated 64-byte points like [`decode_fr_chunk`].
pub fn decode_point_chunk(
    bytes: &[u8],
    mut sink: impl FnMut(usize, G1Affine),
) -> Result<(), (usize, ElemError)> {
    for (i, chunk) in bytes.chunks_exact(POINT_BYTES).enumerate() {
        let mut p = [0u8; POINT_BYTES];
        p.copy_from_slice(chunk);
        sink(i, read_point(&p).map_err(|e| (i, e))?);
    }
    Ok(())
}

/// The widest narrow scalar ([`decode_narrow`]): 16 bytes, an `i128`.
pub const MAX_NARROW_BYTES: usize = 16;

/// A narrow scalar: `bytes` (1 to [`MAX_NARROW_BYTES`] of them) holding a little-endian two's
/// complement integer `v` (`−2^(8·len − 1) ≤ v < 2^(8·len − 1)`), read as the field element `v`
/// (a negative `v` is `r − |v|`). Every pattern of a given length is a distinct scalar, so at the
/// width a job announces each scalar has one encoding.
pub fn decode_narrow(bytes: &[u8]) -> Result<Fr, ElemError> {
    let len = bytes.len();
    if len == 0 || len > MAX_NARROW_BYTES {
        return Err(ElemError::NonCanonical);
    }
    let negative = bytes[len - 1] & 0x80 != 0;
    let mut wide = [if negative { 0xff } else { 0 }; MAX_NARROW_BYTES];
    wide[..len].copy_from_slice(bytes);
    let v = i128::from_le_bytes(wide);
    let magnitude = Fr::from(v.unsigned_abs());
    Ok(if v < 0 { -magnitude } else { magnitude })
}

/// The `len`-byte narrow encoding of the signed integer `v` (see [`decode_narrow`]); `None`
/// where `v` is outside that width's range or `len` is not 1 to [`MAX_NARROW_BYTES`].
pub fn encode_narrow(v: i128, out: &mut [u8]) -> Option<()> {
    let len = out.len();
    if len == 0 || len > MAX_NARROW_BYTES {
        return None;
    }
    let shift = 128 - 8 * len;
    // Fits iff sign-extending its low `len` bytes gives it back.
    if (v << shift) >> shift != v {
        return None;
    }
    out.copy_from_slice(&v.to_le_bytes()[..len]);
    Some(())
}

/// Decodes a chunk of concatenated `width`-byte narrow scalars like [`decode_fr_chunk`].
pub fn decode_narrow_chunk(
    bytes: &[u8],
    width: usize,
    mut sink: impl FnMut(usize, Fr),
) -> Result<(), (usize, ElemError)> {
    for (i, chunk) in bytes.chunks_exact(width.max(1)).enumerate() {
        sink(i, decode_narrow(chunk).map_err(|e| (i, e))?);
    }
    Ok(())
}

/// How many `size`-byte elements `bytes` holds, or `None` if it is not a whole number of them.
pub fn whole_elements(bytes: &[u8], size: usize) -> Option<usize> {
    (size != 0 && bytes.len().is_multiple_of(size)).then(|| bytes.len() / size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_ff::AdditiveGroup;
    use ark_ff::{BigInteger, Field, UniformRand};
    use ark_std::test_rng;

    /// Narrow scalars against arkworks' own `From<i128>`, at every width and its edges.
    #[test]
    fn narrow_scalars_are_arkworks_integers_with_one_encoding_each() {
        let rng = &mut test_rng();
        for len in 1..=MAX_NARROW_BYTES {
            let max = i128::MAX >> (128 - 8 * len);
            let mut values = std::vec![0, 1, -1, max, -max, max / 3, -(max / 7)];
            values.extend((0..50).map(|_| i128::rand(rng) % max));
            let mut buf = [0u8; MAX_NARROW_BYTES];
            let out = &mut buf[..len];
            for v in values {
                encode_narrow(v, out).unwrap();
                assert_eq!(decode_narrow(out), Ok(Fr::from(v)), "{v} in {len} bytes");
            }
            // −2^(8·len − 1) is the bottom of the range; one beyond either end does not fit.
            encode_narrow(-max - 1, out).unwrap();
            assert_eq!(decode_narrow(out), Ok(Fr::from(-max - 1)));
            if let (Some(over), Some(under)) = (max.checked_add(1), (-max - 1).checked_sub(1)) {
                assert!(encode_narrow(over, out).is_none());
                assert!(encode_narrow(under, out).is_none());
            }
        }
        assert_eq!(decode_narrow(&[]), Err(ElemError::NonCanonical));
        assert_eq!(decode_narrow(&[1; 17]), Err(ElemError::NonCanonical));
        // −3 in one byte is 0xfd, and the field element r − 3.
        assert_eq!(decode_narrow(&[0xfd]), Ok(-Fr::from(3u64)));
        let mut got = std::vec::Vec::new();
        decode_narrow_chunk(&[0x01, 0xff, 0x00, 0x80], 2, |i, x| got.push((i, x))).unwrap();
        assert_eq!(got, [(0, -Fr::from(255u64)), (1, -Fr::from(32768u64))]);
    }

    #[test]
    fn scalars_round_trip_and_match_arkworks_bytes() {
        let rng = &mut test_rng();
        for x in (0..100)
            .map(|_| Fr::rand(rng))
            .chain([Fr::ZERO, Fr::ONE, -Fr::ONE])
        {
            let b = encode_fr(&x);
            assert_eq!(b.to_vec(), x.into_bigint().to_bytes_le());
            assert_eq!(decode_fr(&b), Ok(x));
        }
    }

    #[test]
    fn non_canonical_values_are_refused() {
        // r itself, r + 1 and all ones are ≥ r.
        let r = limbs_to_bytes(&Fr::MODULUS.0);
        assert_eq!(decode_fr(&r), Err(ElemError::NonCanonical));
        let mut r1 = r;
        r1[0] = r1[0].wrapping_add(1);
        assert_eq!(decode_fr(&r1), Err(ElemError::NonCanonical));
        assert_eq!(decode_fr(&[0xff; 32]), Err(ElemError::NonCanonical));
        let p = limbs_to_bytes(&Fq::MODULUS.0);
        assert_eq!(decode_fq(&p), Err(ElemError::NonCanonical));
        // r − 1 is the largest canonical scalar.
        let mut rm1 = r;
        rm1[0] -= 1;
        assert_eq!(decode_fr(&rm1), Ok(-Fr::ONE));
    }

    #[test]
    fn points_round_trip_identity_is_zero_zero_and_off_curve_is_refused() {
        let rng = &mut test_rng();
        let g = G1Affine::generator();
        for p in (0..20)
            .map(|_| (g * Fr::rand(rng)).into_affine())
            .chain([g, -g])
        {
            assert_eq!(decode_point(&encode_point(&p)), Ok(p));
        }
        let id = encode_point(&G1Affine::identity());
        assert_eq!(id.x, [0; 32]);
        assert_eq!(id.y, [0; 32]);
        assert_eq!(decode_point(&id), Ok(G1Affine::identity()));
        let mut off = encode_point(&g);
        off.y[0] ^= 1;
        assert_eq!(decode_point(&off), Err(ElemError::NotOnCurve));
        let mut big = encode_point(&g);
        big.x = [0xff; 32];
        assert_eq!(decode_point(&big), Err(ElemError::NonCanonical));
    }

    #[test]
    fn chunks_report_the_first_bad_index() {
        let mut bytes = [0u8; 96];
        bytes[..32].copy_from_slice(&encode_fr(&Fr::from(7u64)));
        bytes[64..].copy_from_slice(&[0xff; 32]);
        let mut seen = 0;
        assert_eq!(
            decode_fr_chunk(&bytes, |_, _| seen += 1),
            Err((2, ElemError::NonCanonical))
        );
        assert_eq!(seen, 2);
        assert_eq!(whole_elements(&bytes, 32), Some(3));
        assert_eq!(whole_elements(&bytes[..95], 32), None);
    }
}
