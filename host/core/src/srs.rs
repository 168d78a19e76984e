//! The KZG structured reference string: an insecure deterministic one for development, or one
//! from a trusted-setup ceremony (a snarkjs / Perpetual Powers of Tau `.ptau` file, or halo2's
//! `ParamsKZG` serialisation) for real use.
//!
//! An SRS is known by its content, never by a label: its [`SrsId`] hashes its G2 points (which
//! name the ceremony's secret τ) and records its size, and [`known_secret`] recognises SRSs whose
//! secret is public (the development SRS among them) from their points.

use std::path::Path;

use halo2_proofs::{
    arithmetic::best_multiexp,
    halo2curves::{
        bn256::{Bn256, Fr, G1Affine, G2Affine, G2},
        ff::Field,
        group::{cofactor::CofactorGroup, prime::PrimeCurveAffine, Curve, GroupEncoding},
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
use serde::{Deserialize, Serialize};
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
Proofs made with it convince no one, and `zkedge verify` refuses them. For real use pass --srs \
FILE (a .ptau file from a powers-of-tau ceremony, or a halo2 ParamsKZG file).";

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
    /// Its layout is not what its kind of file holds.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
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

/// The development SRS's secret τ: public by design. halo2's `ParamsKZG::setup` draws τ first
/// from the generator it is given, so this is the τ of [`dev`] at every size.
pub fn dev_secret() -> Fr {
    Fr::random(ChaCha20Rng::from_seed(DEV_SEED))
}

/// The identity of an SRS. Its G2 points name the ceremony's secret τ (`[τ]₂` determines τ, and
/// through the powers check every G1 point), so two files of one ceremony share `tau`, whatever
/// their size or format; `k` says how many powers the keys used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SrsId {
    /// BLAKE2b-256 of `"zkedge-srs-v1"`, `[1]₂` and `[τ]₂` (compressed, 64 bytes each).
    pub tau: [u8; 32],
    /// log2 of the number of G1 powers.
    pub k: u32,
}

impl SrsId {
    /// The identity of `srs`.
    pub fn of(srs: &Srs) -> Self {
        Self {
            tau: tau_digest(&srs.s_g2()),
            k: srs.k(),
        }
    }
}

impl std::fmt::Display for SrsId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (2^{} powers)", hex(&self.tau), self.k)
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `tau` of an [`SrsId`] from `[τ]₂` (`[1]₂` is always the standard generator: [`check`]
/// and the verifier bundle refuse any other).
pub fn tau_digest(s_g2: &G2Affine) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(13 + 128);
    bytes.extend_from_slice(b"zkedge-srs-v1");
    bytes.extend_from_slice(G2Affine::generator().to_bytes().as_ref());
    bytes.extend_from_slice(s_g2.to_bytes().as_ref());
    crate::files::hash(&bytes)
}

/// Decodes a compressed G2 point, `None` unless `bytes` are the canonical encoding of a point
/// on the curve. halo2curves-axiom 0.7.3's own decoder panics on a coordinate not below q, so
/// the coordinates are checked first.
pub fn g2_from_bytes(bytes: &[u8]) -> Option<G2Affine> {
    use halo2_proofs::halo2curves::bn256::Fq;
    let mut repr = <G2Affine as GroupEncoding>::Repr::default();
    if bytes.len() != repr.as_ref().len() {
        return None;
    }
    repr.as_mut().copy_from_slice(bytes);
    let mut c0 = [0u8; 32];
    let mut c1 = [0u8; 32];
    c0.copy_from_slice(&bytes[..32]);
    c1.copy_from_slice(&bytes[32..]);
    c1[31] &= 0b0011_1111; // the infinity and sign flags
    let below_q = |c: [u8; 32]| bool::from(Fq::from_bytes(&c).is_some());
    if !below_q(c0) || !below_q(c1) {
        return None;
    }
    Option::<G2Affine>::from(G2Affine::from_bytes(&repr)).filter(|p| p.to_bytes().as_ref() == bytes)
}

/// If τ is publicly known for an SRS with this `[τ]₂`, why: anyone can then open a commitment to
/// any value, so proofs over it prove nothing. Recognised by the point, not by any label.
pub fn known_secret(s_g2: &G2Affine) -> Option<&'static str> {
    let g2 = G2Affine::generator();
    if bool::from(s_g2.is_identity()) {
        Some("its secret is 0")
    } else if *s_g2 == g2 {
        Some("its secret is 1")
    } else if *s_g2 == -g2 {
        Some("its secret is -1")
    } else if *s_g2 == (g2 * dev_secret()).to_affine() {
        Some("it is zkedge's development SRS, whose secret is public")
    } else {
        None
    }
}

/// Checks the G2 points an SRS or a verifier bundle brings: `[1]₂` the standard generator,
/// `[τ]₂` in the prime-order subgroup (a point outside it would void the pairing check).
pub fn check_g2(g2: &G2Affine, s_g2: &G2Affine) -> Result<(), &'static str> {
    if *g2 != G2Affine::generator() {
        return Err("[1]₂ is not the standard generator");
    }
    if !bool::from(G2::from(*s_g2).is_torsion_free()) {
        return Err("[τ]₂ is not in the prime-order subgroup");
    }
    Ok(())
}

/// The parameters halo2-axiom's KZG verifier reads: `[1]₁` (its `g[0]`), `[1]₂`, `[τ]₂` and
/// `n = 2^k` — nothing of size `n`, so verifying costs the same at every `k`.
pub fn verifier_params(k: u32, s_g2: G2Affine) -> Srs {
    // `from_parts` is a method; any params will do as the receiver. k = 0 costs two points.
    ParamsKZG::<Bn256>::setup(0, ChaCha20Rng::from_seed([0; 32])).from_parts(
        k,
        vec![G1Affine::generator()],
        Some(Vec::new()),
        G2Affine::generator(),
        s_g2,
    )
}

/// Builds an SRS from its powers `g`, their Lagrange basis (derived from `g` if `None`: slow)
/// and `[τ]₂`, then [`check`]s it.
pub fn from_parts(
    path: &str,
    g: Vec<G1Affine>,
    lagrange: Option<Vec<G1Affine>>,
    s_g2: G2Affine,
) -> Result<Srs, SrsError> {
    let k = g.len().trailing_zeros();
    if g.is_empty() || g.len() != 1 << k || lagrange.as_ref().is_some_and(|l| l.len() != g.len()) {
        return Err(SrsError::Format {
            path: path.into(),
            reason: "the number of points is not a power of two".into(),
        });
    }
    let srs = ParamsKZG::<Bn256>::setup(0, ChaCha20Rng::from_seed([0; 32])).from_parts(
        k,
        g,
        lagrange,
        G2Affine::generator(),
        s_g2,
    );
    check(&srs).map_err(|reason| SrsError::Inconsistent {
        path: path.into(),
        reason,
    })?;
    Ok(srs)
}

fn expected_sizes(k: u32) -> (u64, u64) {
    let n = 1u64 << k;
    // k, then g and g_lagrange (G1), then g2 and s_g2 (G2).
    (4 + 2 * n * 32 + 2 * 64, 4 + 2 * n * 64 + 2 * 128)
}

/// Reads an SRS file and fits it to circuits of `2^k` rows: a `.ptau` file (told by its magic;
/// [`crate::ptau`]) or a halo2 `ParamsKZG` file. Either way it is [`check`]ed.
pub fn load(path: &Path, k: u32) -> Result<Srs, SrsError> {
    if crate::ptau::is_ptau(path)? {
        crate::ptau::load(path, k)
    } else {
        load_params(path, k)
    }
}

/// Reads a halo2 `ParamsKZG` file (compressed or uncompressed, detected by size) and fits it to
/// circuits of `2^k` rows; a larger SRS is cut down (which recomputes its Lagrange basis: slow).
pub fn load_params(path: &Path, k: u32) -> Result<Srs, SrsError> {
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
    let mut srs = read_params(&bytes, format).map_err(|reason| SrsError::Invalid {
        path: name.clone(),
        reason,
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
/// probability ≈ 2^−254): `g[0]` and `[1]₂` are the generators and `[τ]₂` is in the subgroup;
/// `e(Σ rᵢ·g[i+1], [1]₂) = e(Σ rᵢ·g[i], [τ]₂)`; and the Lagrange basis matches,
/// `Σ rᵢ·L[i] = Σ cⱼ·g[j]` with `c` the coefficients of the polynomial that takes the values `r`
/// on the domain.
pub fn check(srs: &Srs) -> Result<(), &'static str> {
    let g = srs.get_g();
    let n = g.len();
    if g.first() != Some(&G1Affine::generator()) {
        return Err("the first point is not the generator");
    }
    check_g2(&srs.g2(), &srs.s_g2())?;
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
    read_params(bytes, SerdeFormat::Processed).map_err(|reason| SrsError::Invalid {
        path: "params".into(),
        reason,
    })
}

/// halo2's `ParamsKZG` reader, whose G2 decoding panics on a coordinate not below q: a panic is
/// a malformed file.
fn read_params(bytes: &[u8], format: SerdeFormat) -> Result<Srs, String> {
    let read =
        std::panic::catch_unwind(|| ParamsKZG::<Bn256>::read_custom(&mut &bytes[..], format));
    match read {
        Ok(Ok(srs)) => Ok(srs),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("a point is not canonically encoded".into()),
    }
}
