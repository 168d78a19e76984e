//! Proof files (here), proving into them with either prover (`prove.rs`: [`prove_zkedge`],
//! [`prove_halo2`]) and verifying them with stock halo2-axiom (`verify.rs`: [`verify()`]).
//!
//! A proof file carries the public output it proves, and nothing that is not checked: every
//! field either selects the keys (model, verifying-key and SRS hashes, each compared with the
//! verifier's), the verifier (multi-open scheme), or enters verification (output and class as
//! the instance, the proof bytes, which must be consumed exactly).
//!
//! Files are canonical: each proof has exactly one encoding. The header must be the one this
//! build writes (no overlong integers), and every point and scalar of the transcript must be the
//! canonical encoding of its value — checked here before halo2 reads it, because
//! halo2curves-axiom 0.7.3 decodes a compressed point ignoring its infinity flag when x ≠ 0. So
//! changing any bit of a file makes verification fail, and a proof's digest names it.

mod prove;
mod verify;

use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkedge_kernel::{
    infer::InferError,
    layout::{Visibility, Weights},
};

use crate::{circuit::field, keys::Keys};

pub use prove::*;
pub use verify::*;

/// The first four bytes of a proof file.
pub const MAGIC: [u8; 4] = *b"ZKP1";
/// The proof file version this build reads and writes (2: the SRS's identity in the header,
/// canonical encodings only; 3: what the proof reveals of the input; 4: the weights' hash).
pub const PROOF_VERSION: u16 = 4;
/// Largest proof file accepted.
pub const MAX_PROOF_FILE: u64 = 4 << 20;

pub use accel_proto::MultiOpen;

/// Which prover makes the proof; the verifier is halo2-axiom's either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProverKind {
    /// zkedge's own prover: every MSM and NTT on the chosen backend.
    Zkedge,
    /// Stock halo2-axiom `create_proof`, the baseline (its MSMs and FFTs stay inside halo2).
    Halo2,
}

/// A proof and the public output it proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFile {
    /// [`PROOF_VERSION`].
    pub version: u16,
    /// BLAKE2b-256 of the model's binary form.
    pub model_hash: [u8; 32],
    /// BLAKE2b-256 of the verifying key (halo2's compressed serialisation).
    pub vk_hash: [u8; 32],
    /// The SRS's identity: [`SrsId::tau`](crate::srs::SrsId) of the SRS the keys were made with.
    pub srs: [u8; 32],
    /// The multi-open scheme the proof uses.
    pub multiopen: MultiOpen,
    /// The model's output (int8 logits).
    pub output: Vec<i8>,
    /// The predicted class.
    pub class: u32,
    /// What the proof reveals of the input (as the keys' input visibility says).
    pub input: Revealed,
    /// The Poseidon hash of the model's weights and biases (hashed weights), a canonical
    /// scalar, little-endian: the last value of the instance.
    pub weights: Option<[u8; 32]>,
    /// The halo2 transcript.
    pub proof: Vec<u8>,
}

/// What a proof reveals of the model's input: part of the instance it is checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revealed {
    /// Nothing (private input).
    Nothing,
    /// The int8 input (public input).
    Input(Vec<i8>),
    /// The Poseidon commitment of the input and a salt (hashed input), a canonical scalar,
    /// little-endian.
    Commitment([u8; 32]),
}

impl Revealed {
    /// The visibility this reveals.
    pub fn visibility(&self) -> Visibility {
        match self {
            Revealed::Nothing => Visibility::Private,
            Revealed::Input(_) => Visibility::Public,
            Revealed::Commitment(_) => Visibility::Hashed,
        }
    }
}

/// Why a proof file or a proof was rejected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not a proof file.
    #[error("not a zkedge proof file (it does not start with \"ZKP1\")")]
    BadMagic,
    /// Damaged or truncated.
    #[error("proof file is damaged or truncated")]
    Decode,
    /// Bytes after the proof.
    #[error("proof file has {0} unexpected trailing bytes")]
    Trailing(usize),
    /// Another version.
    #[error("proof file version {0} is not supported (this build reads {PROOF_VERSION})")]
    Version(u16),
    /// Made for another model.
    #[error("the proof is for another model than the one in these keys")]
    WrongModel,
    /// Made with other keys.
    #[error("the proof was made with other keys (verifying key differs)")]
    WrongKeys,
    /// Made over another SRS.
    #[error("the proof was made over another SRS than these keys' ({proof} ≠ {keys})")]
    WrongSrs {
        /// The SRS the proof names.
        proof: String,
        /// The keys' SRS.
        keys: String,
    },
    /// Not the one encoding this build writes.
    #[error("proof file is not canonical: {0}")]
    NonCanonical(&'static str),
    /// The proof names a weights' hash where the keys fix the weights, or the reverse.
    #[error(
        "the proof's weights are {found}; the verifying key makes them {expected} \
         (the proof was made with other keys)"
    )]
    WrongWeights {
        /// The keys' weights.
        expected: &'static str,
        /// The proof's.
        found: &'static str,
    },
    /// The proof reveals another part of the input than the keys make public.
    #[error(
        "the proof reveals a {found} input; the verifying key makes it {expected} \
         (the proof was made with other keys)"
    )]
    WrongVisibility {
        /// The keys' visibility.
        expected: &'static str,
        /// The proof's.
        found: &'static str,
    },
    /// A public input of the wrong length.
    #[error("the proof's public input has {found} values; the model takes {expected}")]
    InputShape {
        /// The model's inputs.
        expected: usize,
        /// The proof's.
        found: usize,
    },
    /// The keys commit to the input: a salt is needed.
    #[error("a salt must be 32 bytes, a canonical BN254 scalar (little-endian), as `zkedge commit` prints")]
    BadSalt,
    /// The output does not fit the model.
    #[error("the proof claims {found} outputs; the model has {expected}")]
    OutputShape {
        /// The model's outputs.
        expected: usize,
        /// The proof's.
        found: usize,
    },
    /// The proof does not verify.
    #[error("the proof does not verify for the claimed output (class {class}): {reason}")]
    Invalid {
        /// The claimed class.
        class: u32,
        /// What the verifier reported.
        reason: String,
    },
    /// The keys lack a proving key.
    #[error("these keys were loaded without a proving key")]
    NoProvingKey,
    /// Inference failed.
    #[error(transparent)]
    Infer(#[from] InferError),
    /// A prover failed.
    #[error("prover: {0}")]
    Prover(String),
}

impl ProofFile {
    /// The file of a proof made with `keys`: their model, verifying key and SRS named.
    pub fn new(
        keys: &Keys,
        multiopen: MultiOpen,
        output: Vec<i8>,
        class: u32,
        input: Revealed,
        proof: Vec<u8>,
    ) -> Self {
        Self {
            version: PROOF_VERSION,
            model_hash: keys.model_hash,
            vk_hash: keys.vk_hash,
            srs: keys.srs_id.tau,
            multiopen,
            output,
            class,
            input,
            weights: keys.weights_hash,
            proof,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(MAGIC);
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    /// Parses a proof file; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() as u64 > MAX_PROOF_FILE {
            return Err(ProofError::Decode);
        }
        let body = bytes.strip_prefix(&MAGIC).ok_or(ProofError::BadMagic)?;
        let (file, rest) =
            postcard::take_from_bytes::<ProofFile>(body).map_err(|_| ProofError::Decode)?;
        if !rest.is_empty() {
            return Err(ProofError::Trailing(rest.len()));
        }
        if file.version != PROOF_VERSION {
            return Err(ProofError::Version(file.version));
        }
        if let Revealed::Commitment(c) = &file.input {
            if Option::<Fr>::from(Fr::from_repr(*c)).is_none() {
                return Err(ProofError::NonCanonical(
                    "the commitment is not a canonical scalar",
                ));
            }
        }
        if let Some(h) = &file.weights {
            if Option::<Fr>::from(Fr::from_repr(*h)).is_none() {
                return Err(ProofError::NonCanonical(
                    "the weights' hash is not a canonical scalar",
                ));
            }
        }
        // postcard reads overlong varints; the one encoding is the one we write.
        if file.to_bytes() != bytes {
            return Err(ProofError::NonCanonical(
                "the header is not encoded as this build writes it",
            ));
        }
        Ok(file)
    }

    /// BLAKE2b-256 of the file's bytes: its name. Files are canonical, so one proof has one.
    pub fn digest(&self) -> [u8; 32] {
        crate::files::hash(&self.to_bytes())
    }

    /// The instance column the proof is checked against.
    pub fn instance(&self) -> Vec<Fr> {
        let mut v: Vec<Fr> = self
            .output
            .iter()
            .map(|&q| field(i64::from(q) + 128))
            .collect();
        v.push(Fr::from(u64::from(self.class)));
        match &self.input {
            Revealed::Nothing => {}
            Revealed::Input(x) => v.extend(x.iter().map(|&q| field(i64::from(q) + 128))),
            // Checked canonical when the file was read.
            Revealed::Commitment(c) => v.push(Fr::from_repr(*c).unwrap_or(Fr::from(0u64))),
        }
        // Checked canonical when the file was read.
        v.extend(
            self.weights
                .map(|h| Fr::from_repr(h).unwrap_or(Fr::from(0u64))),
        );
        v
    }

    /// The weights this proof was made with.
    pub fn weights_visibility(&self) -> Weights {
        if self.weights.is_some() {
            Weights::Hashed
        } else {
            Weights::Fixed
        }
    }
}
