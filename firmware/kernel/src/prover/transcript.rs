//! halo2's BLAKE2b transcript (`Blake2bWrite` with `Challenge255`), byte for byte: a running
//! BLAKE2b-512 state personalised `"Halo2-Transcript"`; points absorbed as prefix 1 and their
//! affine coordinates' canonical little-endian bytes and written compressed; scalars as prefix
//! 2 and their bytes; a challenge absorbs prefix 0 and reduces a snapshot of the state (64
//! bytes, little-endian) modulo r.

use alloc::vec::Vec;

use ark_bn254::Fq;
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use blake2b_simd::{Params, State};

use super::{Fr, G1Affine, ProveError};

const PREFIX_CHALLENGE: u8 = 0;
const PREFIX_POINT: u8 = 1;
const PREFIX_SCALAR: u8 = 2;

/// The proof being written.
pub struct Transcript {
    state: State,
    proof: Vec<u8>,
}

fn le(x: &Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_le());
    out
}

/// halo2curves' compressed encoding of a G1 point: `x` little-endian, bit 6 of the last byte the
/// parity of `y`, bit 7 set for the identity.
pub fn compress(p: &G1Affine) -> [u8; 32] {
    match p.xy() {
        None => {
            let mut out = [0u8; 32];
            out[31] = 0x80;
            out
        }
        Some((x, y)) => {
            let mut out = le(&x);
            out[31] |= (y.into_bigint().as_ref()[0] as u8 & 1) << 6;
            out
        }
    }
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Self {
            state: Params::new()
                .hash_length(64)
                .personal(b"Halo2-Transcript")
                .to_state(),
            proof: Vec::new(),
        }
    }

    /// Absorbs a point without writing it.
    pub fn common_point(&mut self, p: &G1Affine) -> Result<(), ProveError> {
        let (x, y) = p.xy().ok_or(ProveError::IdentityCommitment)?;
        self.state.update(&[PREFIX_POINT]);
        self.state.update(&le(&x));
        self.state.update(&le(&y));
        Ok(())
    }

    /// Absorbs a scalar without writing it.
    pub fn common_scalar(&mut self, s: &Fr) {
        self.state.update(&[PREFIX_SCALAR]);
        self.state.update(&s.into_bigint().to_bytes_le());
    }

    /// Absorbs and writes a point.
    pub fn write_point(&mut self, p: &G1Affine) -> Result<(), ProveError> {
        self.common_point(p)?;
        self.proof.extend_from_slice(&compress(p));
        Ok(())
    }

    /// Absorbs and writes a scalar.
    pub fn write_scalar(&mut self, s: &Fr) {
        self.common_scalar(s);
        self.proof.extend_from_slice(&s.into_bigint().to_bytes_le());
    }

    /// The next challenge.
    pub fn squeeze(&mut self) -> Fr {
        self.state.update(&[PREFIX_CHALLENGE]);
        let hash = self.state.clone().finalize();
        Fr::from_le_bytes_mod_order(hash.as_bytes())
    }

    /// The proof bytes written so far.
    pub fn finish(self) -> Vec<u8> {
        self.proof
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}
