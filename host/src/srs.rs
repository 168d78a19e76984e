//! The KZG structured reference string: an insecure deterministic one for development, or a
//! standard one (halo2's `ParamsKZG` serialisation) for real use.

use std::path::Path;

use halo2_proofs::{
    arithmetic::best_multiexp,
    halo2curves::{
        bn256::{Bn256, Fr, G1Affine},
        group::Curve,
        pairing::Engine,
    },
    poly::{
        commitment::{Blind, Params, ParamsProver},
        kzg::commitment::ParamsKZG,
        EvaluationDomain,
    },
    SerdeFormat,
};
use rand::{rngs::OsRng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use thiserror::Error;

use crate::files::{read_bounded, FileError};

/// KZG parameters over BN254.
pub type Srs = ParamsKZG<Bn256>;

/// Largest SRS this build reads (2^26 points and their Lagrange basis: ≈ 8 GiB uncompressed).
pub const MAX_SRS_K: u32 = 26;

/// The seed of the development SRS. Anyone can recompute its secret: proofs made with it prove
/// nothing. It exists so that demos and tests need no download.
const DEV_SEED: [u8; 32] = *b"zkedge insecure development SRS!";

/// Printed whenever the development SRS is used.
pub const DEV_WARNING: &str =
    "WARNING: using the INSECURE development SRS, whose secret is public. \
Proofs made with it convince no one. For real use pass --srs FILE (a halo2 ParamsKZG file from a \
trusted setup ceremony).";

/// Why an SRS file was rejected.
#[derive(Debug, Error)]
pub enum SrsError {
    /// It could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// Its size fits no known layout.
    #[error(
        "{path}: {size} bytes is not a halo2 ParamsKZG file for BN254 (k = {k}); expected {processed} \
         bytes (compressed) or {raw} (uncompressed)"
    )]
    Size {
        /// The file.
        path: String,
        /// Its size.
        size: usize,
        /// The `k` its header claims.
        k: u32,
        /// Expected size in the compressed format.
        processed: u64,
        /// Expected size in the uncompressed format.
        raw: u64,
    },
    /// Its header claims an absurd size.
    #[error("{path}: header claims 2^{k} points; this build reads at most 2^{MAX_SRS_K}")]
    K {
        /// The file.
        path: String,
        /// The claimed `k`.
        k: u32,
    },
    /// A point in it is not on the curve.
    #[error("{path}: invalid SRS ({reason})")]
    Invalid {
        /// The file.
        path: String,
        /// What halo2 reported.
        reason: String,
    },
    /// Its points are valid but not a powers-of-τ structure.
    #[error("{path}: not a consistent KZG setup ({reason}); the file is damaged or not an SRS")]
    Inconsistent {
        /// The file.
        path: String,
        /// Which check failed.
        reason: &'static str,
    },
    /// It is too small for the circuit.
    #[error("{path} supports circuits up to 2^{have} rows; this model needs 2^{need}")]
    TooSmall {
        /// The file.
        path: String,
        /// Its `k`.
        have: u32,
        /// The circuit's `k`.
        need: u32,
    },
}

/// The development SRS for circuits of `2^k` rows (deterministic, insecure).
pub fn dev(k: u32) -> Srs {
    ParamsKZG::setup(k, ChaCha20Rng::from_seed(DEV_SEED))
}

fn expected_sizes(k: u32) -> (u64, u64) {
    let n = 1u64 << k;
    // k, then g and g_lagrange (G1), then g2 and s_g2 (G2).
    (4 + 2 * n * 32 + 2 * 64, 4 + 2 * n * 64 + 2 * 128)
}

/// Reads a halo2 `ParamsKZG` file (compressed or uncompressed, detected by size) and fits it to
/// circuits of `2^k` rows; a larger SRS is cut down (which recomputes its Lagrange basis: slow).
pub fn load(path: &Path, k: u32) -> Result<Srs, SrsError> {
    let name = path.display().to_string();
    let (_, max) = expected_sizes(MAX_SRS_K);
    let bytes = read_bounded(path, max)?;
    let header: [u8; 4] = bytes
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .unwrap_or_default();
    let file_k = u32::from_le_bytes(header);
    if file_k > MAX_SRS_K {
        return Err(SrsError::K {
            path: name,
            k: file_k,
        });
    }
    let (processed, raw) = expected_sizes(file_k);
    let format = match bytes.len() as u64 {
        s if s == processed => SerdeFormat::Processed,
        s if s == raw => SerdeFormat::RawBytes,
        _ => {
            return Err(SrsError::Size {
                path: name,
                size: bytes.len(),
                k: file_k,
                processed,
                raw,
            })
        }
    };
    if file_k < k {
        return Err(SrsError::TooSmall {
            path: name,
            have: file_k,
            need: k,
        });
    }
    let mut srs = ParamsKZG::<Bn256>::read_custom(&mut bytes.as_slice(), format).map_err(|e| {
        SrsError::Invalid {
            path: name.clone(),
            reason: e.to_string(),
        }
    })?;
    // Cut first: the check then costs the circuit's size, not the file's, and covers exactly
    // the points proofs will use (downsize recomputes the Lagrange basis from them).
    if file_k > k {
        srs.downsize(k);
    }
    check(&srs).map_err(|reason| SrsError::Inconsistent { path: name, reason })?;
    Ok(srs)
}

/// Checks that `srs` is a powers-of-τ setup, with random linear combinations (false accept
/// probability ≈ 2^−254): `g[0]` is the generator; `e(Σ rᵢ·g[i+1], [1]₂) = e(Σ rᵢ·g[i], [τ]₂)`;
/// and the Lagrange basis matches, `Σ rᵢ·L[i] = Σ cⱼ·g[j]` with `c` the coefficients of the
/// polynomial that takes the values `r` on the domain.
pub fn check(srs: &Srs) -> Result<(), &'static str> {
    use halo2_proofs::halo2curves::ff::Field;
    let g = srs.get_g();
    let n = g.len();
    if g.first() != Some(&G1Affine::generator()) {
        return Err("the first point is not the generator");
    }
    let r: Vec<Fr> = (1..n).map(|_| Fr::random(OsRng)).collect();
    let next = best_multiexp(&r, &g[1..]).to_affine();
    let this = best_multiexp(&r, &g[..n - 1]).to_affine();
    if Bn256::pairing(&next, &srs.g2()) != Bn256::pairing(&this, &srs.s_g2()) {
        return Err("the points are not successive powers of the secret in [τ]₂");
    }
    let domain = EvaluationDomain::<Fr>::new(1, srs.k());
    let values: Vec<Fr> = (0..n).map(|_| Fr::random(OsRng)).collect();
    let lagrange = srs.commit_lagrange(&domain.lagrange_from_vec(values.clone()), Blind::default());
    let coeffs = domain.lagrange_to_coeff(domain.lagrange_from_vec(values));
    if lagrange.to_affine() != srs.commit(&coeffs, Blind::default()).to_affine() {
        return Err("the Lagrange basis does not match the powers");
    }
    Ok(())
}

/// The SRS as bytes (halo2's compressed `ParamsKZG` format).
pub fn to_bytes(srs: &Srs) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    srs.write_custom(&mut out, SerdeFormat::Processed)
        .unwrap_or_default();
    out
}

/// Reads SRS bytes written by [`to_bytes`] for circuits of exactly `2^k` rows.
pub fn from_bytes(bytes: &[u8], k: u32) -> Result<Srs, SrsError> {
    let (processed, _) = expected_sizes(k);
    let header_k = bytes
        .get(..4)
        .map(|h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]));
    if header_k != Some(k) || bytes.len() as u64 != processed {
        return Err(SrsError::Size {
            path: "params".into(),
            size: bytes.len(),
            k,
            processed,
            raw: expected_sizes(k).1,
        });
    }
    ParamsKZG::<Bn256>::read_custom(&mut &bytes[..], SerdeFormat::Processed).map_err(|e| {
        SrsError::Invalid {
            path: "params".into(),
            reason: e.to_string(),
        }
    })
}
