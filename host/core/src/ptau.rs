//! snarkjs `.ptau` files (BN254): the Perpetual Powers of Tau ceremony and every ceremony made
//! with snarkjs (`powersoftau new / contribute / beacon / prepare phase2`).
//!
//! The format (snarkjs `src/powersoftau_utils.js`, `@iden3/binfileutils`): `"ptau"`, a version
//! (1) and a section count, then sections of `(type u32, size u64, bytes)`. Section 1 holds the
//! base field's size and modulus and the file's power `p`; section 2 the G1 powers
//! `[τ^i]₁, i < 2^(p+1) − 1`; section 3 the G2 powers `[τ^i]₂, i < 2^p`; after `prepare phase2`,
//! section 12 holds the Lagrange basis of every size `2^q, q ≤ p + 1`, one after the other. Points
//! are affine, coordinates little-endian in Montgomery form (R = 2^256); `(0, 0)` is infinity.
//!
//! Only the points a circuit of `2^k` rows needs are read (files of real ceremonies reach
//! hundreds of GB). The Lagrange points of a prepared file are for snarkjs's root of unity
//! (from the smallest non-residue, 5), halo2's is from 7: the same points in another order,
//! which is recovered here. Whatever the file says, the result passes [`srs::check`] — the powers
//! against `[τ]₂` by a pairing, the Lagrange basis against the powers — or is refused.

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
};

use halo2_proofs::halo2curves::{
    bn256::{Fq, Fq2, Fr, G1Affine, G2Affine},
    ff::{Field, PrimeField},
    group::prime::PrimeCurveAffine,
    CurveAffine,
};

use crate::{
    files::FileError,
    srs::{self, Srs, SrsError, MAX_SRS_K},
};

const MAGIC: &[u8; 4] = b"ptau";
const HEADER: u32 = 1;
const TAU_G1: u32 = 2;
const TAU_G2: u32 = 3;
const LAGRANGE_G1: u32 = 12;
/// More sections than any snarkjs file has (15): a bound on what is read before the points.
const MAX_SECTIONS: u32 = 64;
const G1_BYTES: u64 = 64;
const G2_BYTES: u64 = 128;

/// BN254's base field modulus, little-endian: section 1 must name it.
const BN254_Q: [u8; 32] = [
    0x47, 0xfd, 0x7c, 0xd8, 0x16, 0x8c, 0x20, 0x3c, 0x8d, 0xca, 0x71, 0x68, 0x91, 0x6a, 0x81, 0x97,
    0x5d, 0x58, 0x81, 0x81, 0xb6, 0x45, 0x50, 0xb8, 0x29, 0xa0, 0x31, 0xe1, 0x72, 0x4e, 0x64, 0x30,
];

/// Whether `path` starts with the `.ptau` magic.
pub fn is_ptau(path: &Path) -> Result<bool, FileError> {
    let mut file = File::open(path).map_err(|source| io_error(path, source))?;
    let mut magic = [0u8; 4];
    match file.read_exact(&mut magic) {
        Ok(()) => Ok(&magic == MAGIC),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(source) => Err(io_error(path, source)),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> FileError {
    FileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where a section lies in the file.
#[derive(Clone, Copy, Debug)]
struct Section {
    offset: u64,
    size: u64,
}

struct PtauFile {
    file: File,
    name: String,
    sections: Vec<(u32, Section)>,
    power: u32,
}

impl PtauFile {
    fn format(&self, reason: impl Into<String>) -> SrsError {
        SrsError::Format {
            path: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn open(path: &Path) -> Result<Self, SrsError> {
        let name = path.display().to_string();
        let format = |reason: String| SrsError::Format {
            path: name.clone(),
            reason,
        };
        let mut file = File::open(path).map_err(|source| io_error(path, source))?;
        let len = file
            .metadata()
            .map_err(|source| io_error(path, source))?
            .len();
        let mut head = [0u8; 12];
        file.read_exact(&mut head)
            .map_err(|_| format("too short for a .ptau file".into()))?;
        let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if &head[..4] != MAGIC || word(&head[4..8]) != 1 {
            return Err(format(format!(
                "not a version-1 .ptau file (version {})",
                word(&head[4..8])
            )));
        }
        let count = word(&head[8..12]);
        if count > MAX_SECTIONS {
            return Err(format(format!("{count} sections")));
        }
        let mut sections = Vec::new();
        let mut at = 12u64;
        for _ in 0..count {
            let mut h = [0u8; 12];
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut h))
                .map_err(|_| format("truncated section table".into()))?;
            let kind = word(&h[..4]);
            let size = u64::from_le_bytes([h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]]);
            let offset = at + 12;
            let end = offset
                .checked_add(size)
                .filter(|&e| e <= len)
                .ok_or_else(|| format(format!("section {kind} runs past the end of the file")))?;
            if sections.iter().any(|(k, _)| *k == kind) {
                return Err(format(format!("section {kind} appears twice")));
            }
            sections.push((kind, Section { offset, size }));
            at = end;
        }
        if at != len {
            return Err(format(format!("{} bytes after the last section", len - at)));
        }
        let mut ptau = Self {
            file,
            name,
            sections,
            power: 0,
        };
        let header = ptau.section(HEADER)?;
        let bytes = ptau.read_at(header, 0, header.size.min(64))?;
        if header.size != 4 + 32 + 8 || word(&bytes) != 32 || bytes[4..36] != BN254_Q {
            return Err(ptau.format("not a BN254 (bn128) ceremony"));
        }
        ptau.power = word(&bytes[36..40]);
        if ptau.power > 28 {
            return Err(ptau.format(format!("claims 2^{} powers", ptau.power)));
        }
        let p = u64::from(ptau.power);
        let expect = [
            (TAU_G1, ((2u64 << p) - 1) * G1_BYTES),
            (TAU_G2, (1u64 << p) * G2_BYTES),
            (LAGRANGE_G1, ((4u64 << p) - 1) * G1_BYTES),
        ];
        for (kind, size) in expect {
            match ptau.find(kind) {
                Some(s) if s.size != size => {
                    return Err(ptau.format(format!(
                        "section {kind} has {} bytes; a file of power {p} has {size}",
                        s.size
                    )))
                }
                None if kind != LAGRANGE_G1 => {
                    return Err(ptau.format(format!("section {kind} is missing")))
                }
                _ => {}
            }
        }
        Ok(ptau)
    }

    fn find(&self, kind: u32) -> Option<Section> {
        self.sections
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| *s)
    }

    fn section(&self, kind: u32) -> Result<Section, SrsError> {
        self.find(kind)
            .ok_or_else(|| self.format(format!("section {kind} is missing")))
    }

    /// `len` bytes at `from` within `section` (the caller bounds `len`).
    fn read_at(&mut self, section: Section, from: u64, len: u64) -> Result<Vec<u8>, SrsError> {
        if from + len > section.size {
            return Err(self.format("a section is shorter than its points"));
        }
        let mut out = vec![0u8; len as usize];
        let name = self.name.clone();
        self.file
            .seek(SeekFrom::Start(section.offset + from))
            .and_then(|_| self.file.read_exact(&mut out))
            .map_err(|source| SrsError::File(FileError::Io { path: name, source }))?;
        Ok(out)
    }

    fn g1_points(&mut self, kind: u32, first: u64, count: u64) -> Result<Vec<G1Affine>, SrsError> {
        let section = self.section(kind)?;
        let bytes = self.read_at(section, first * G1_BYTES, count * G1_BYTES)?;
        bytes
            .chunks_exact(G1_BYTES as usize)
            .enumerate()
            .map(|(i, b)| {
                g1(b).ok_or_else(|| {
                    self.format(format!(
                        "point {} of section {kind} is not a point of G1",
                        first + i as u64
                    ))
                })
            })
            .collect()
    }
}

/// A base field element from snarkjs's little-endian Montgomery form; `None` if not below q.
fn fq(bytes: &[u8]) -> Option<Fq> {
    let mut repr = [0u8; 32];
    repr.copy_from_slice(bytes);
    let montgomery: Option<Fq> = Fq::from_repr(repr).into();
    // x·R ↦ x: multiply by R⁻¹ = 2^−256.
    let r_inv: Option<Fq> = Fq::from(2).pow_vartime([256]).invert().into();
    Some(montgomery? * r_inv?)
}

/// A G1 point of the tau sections: on the curve and not infinity (no power of τ is).
fn g1(bytes: &[u8]) -> Option<G1Affine> {
    let (x, y) = (fq(&bytes[..32])?, fq(&bytes[32..64])?);
    Option::from(G1Affine::from_xy(x, y)).filter(|p: &G1Affine| !bool::from(p.is_identity()))
}

fn g2(bytes: &[u8]) -> Option<G2Affine> {
    let x = Fq2::new(fq(&bytes[..32])?, fq(&bytes[32..64])?);
    let y = Fq2::new(fq(&bytes[64..96])?, fq(&bytes[96..128])?);
    Option::from(G2Affine::from_xy(x, y))
}

/// `(r − 1) >> shift` as little-endian limbs, for exponents of the scalar field.
fn r_minus_one_shr(shift: u32) -> [u64; 4] {
    let bytes = (-Fr::ONE).to_repr();
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes.as_ref()[8 * i..8 * i + 8]);
        *limb = u64::from_le_bytes(word);
    }
    for _ in 0..shift {
        for i in 0..4 {
            let carry = if i < 3 { limbs[i + 1] << 63 } else { 0 };
            limbs[i] = (limbs[i] >> 1) | carry;
        }
    }
    limbs
}

/// snarkjs's primitive `2^k`-th root of unity (ffjavascript's `FFT`: the smallest quadratic
/// non-residue `g`, then `g^t` with `r − 1 = t·2^28`, squared down to order `2^k`).
fn snarkjs_omega(k: u32) -> Fr {
    let half = r_minus_one_shr(1);
    let mut nqr = Fr::from(2);
    while nqr.pow_vartime(half) == Fr::ONE {
        nqr += Fr::ONE;
    }
    let mut w = nqr.pow_vartime(r_minus_one_shr(Fr::S));
    for _ in k..Fr::S {
        w = w.square();
    }
    w
}

/// halo2's primitive `2^k`-th root of unity (its `EvaluationDomain`'s omega, without building
/// the domain).
fn halo2_omega(k: u32) -> Fr {
    let mut w = Fr::ROOT_OF_UNITY;
    for _ in k..Fr::S {
        w = w.square();
    }
    w
}

/// `j` with `base^j = target`, both of order `2^k` (a discrete log in a 2-group, bit by bit).
fn log2_group(base: Fr, target: Fr, k: u32) -> Option<u64> {
    let inv: Option<Fr> = base.invert().into();
    let inv = inv?;
    let mut j = 0u64;
    for bit in 0..k {
        let mut t = target * inv.pow_vartime([j]);
        for _ in 0..k - 1 - bit {
            t = t.square();
        }
        if t != Fr::ONE {
            j |= 1 << bit;
        }
    }
    (base.pow_vartime([j]) == target).then_some(j)
}

/// Reads the SRS for circuits of `2^k` rows from a `.ptau` file of power `p ≥ k`.
pub fn load(path: &Path, k: u32) -> Result<Srs, SrsError> {
    let mut ptau = PtauFile::open(path)?;
    if k > MAX_SRS_K {
        return Err(SrsError::K {
            path: ptau.name.clone(),
            k,
        });
    }
    if ptau.power < k {
        return Err(SrsError::TooSmall {
            path: ptau.name.clone(),
            have: ptau.power,
            need: k,
        });
    }
    let n = 1u64 << k;
    let g = ptau.g1_points(TAU_G1, 0, n)?;
    let section = ptau.section(TAU_G2)?;
    let bytes = ptau.read_at(section, 0, 2 * G2_BYTES)?;
    let (one, tau) = match (g2(&bytes[..128]), g2(&bytes[128..256])) {
        (Some(one), Some(tau)) => (one, tau),
        _ => return Err(ptau.format("its first G2 powers are not points of G2")),
    };
    if one != G2Affine::generator() {
        return Err(ptau.format("its first G2 power is not the generator"));
    }
    let lagrange = match ptau.find(LAGRANGE_G1) {
        Some(_) => {
            // The Lagrange points of size 2^k follow those of sizes 1, 2, …, 2^(k−1).
            let theirs = ptau.g1_points(LAGRANGE_G1, n - 1, n)?;
            let j = log2_group(halo2_omega(k), snarkjs_omega(k), k)
                .ok_or_else(|| ptau.format("roots of unity do not match"))?;
            // snarkjs's point m is the Lagrange polynomial at ω_s^m = ω^(j·m).
            let mut ours = vec![G1Affine::identity(); n as usize];
            for (m, p) in theirs.into_iter().enumerate() {
                ours[((j * m as u64) % n) as usize] = p;
            }
            Some(ours)
        }
        None => None,
    };
    srs::from_parts(&ptau.name, g, lagrange, tau)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snarkjs_root_has_order_exactly_2_to_the_k() {
        for k in [1, 5, 12, 28] {
            let w = snarkjs_omega(k);
            let mut x = w;
            for _ in 0..k - 1 {
                x = x.square();
            }
            assert_eq!(x, -Fr::ONE, "k = {k}");
            let j = log2_group(halo2_omega(k), w, k).unwrap();
            assert_eq!(j % 2, 1);
        }
        for k in [1, 5, 9] {
            let domain = halo2_proofs::poly::EvaluationDomain::<Fr>::new(1, k);
            assert_eq!(halo2_omega(k), domain.get_omega(), "k = {k}");
        }
    }

    #[test]
    fn montgomery_coordinates_are_converted() {
        // 1 in Montgomery form is R mod q = 2^256 mod q.
        let r = Fq::from(2).pow_vartime([256]);
        let one = fq(r.to_repr().as_ref()).unwrap();
        assert_eq!(one, Fq::ONE);
        assert!(fq(&BN254_Q).is_none(), "q itself is not canonical");
    }
}
