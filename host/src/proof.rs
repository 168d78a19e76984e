//! Proof files, and proving and verifying with stock halo2-axiom.
//!
//! A proof file carries the public output it proves, and nothing that is not checked: every
//! field either selects the keys (model and verifying-key hashes), the verifier (multi-open
//! scheme), or enters verification (output and class as the instance, the proof bytes, which
//! must be consumed exactly). So changing any byte makes verification fail.

use std::{
    cell::Cell,
    io::{self, Read},
    rc::Rc,
    sync::Arc,
};

use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, verify_proof},
    poly::{
        commitment::ParamsProver,
        kzg::{
            commitment::KZGCommitmentScheme,
            multiopen::{ProverGWC, ProverSHPLONK, VerifierGWC, VerifierSHPLONK},
            strategy::SingleStrategy,
        },
    },
    transcript::{
        Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
    },
};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkedge_kernel::infer::{infer, InferError, Trace};

use crate::{
    circuit::{field, instance, ModelCircuit},
    keys::Keys,
};

/// The first four bytes of a proof file.
pub const MAGIC: [u8; 4] = *b"ZKP1";
/// The proof file version this build reads and writes.
pub const PROOF_VERSION: u16 = 1;
/// Largest proof file accepted.
pub const MAX_PROOF_FILE: u64 = 4 << 20;

/// halo2's multi-opening argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum MultiOpen {
    /// GWC19, the multi-point opening of the PLONK paper: one opening proof per point.
    Gwc,
    /// SHPLONK (BDFG20): smaller proofs.
    Shplonk,
}

impl std::fmt::Display for MultiOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MultiOpen::Gwc => "GWC",
            MultiOpen::Shplonk => "SHPLONK",
        })
    }
}

impl From<MultiOpen> for zkedge_kernel::prover::MultiOpen {
    fn from(m: MultiOpen) -> Self {
        match m {
            MultiOpen::Gwc => Self::Gwc,
            MultiOpen::Shplonk => Self::Shplonk,
        }
    }
}

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
    /// BLAKE2b-256 of the verifying key.
    pub vk_hash: [u8; 32],
    /// The multi-open scheme the proof uses.
    pub multiopen: MultiOpen,
    /// The model's output (int8 logits).
    pub output: Vec<i8>,
    /// The predicted class.
    pub class: u32,
    /// The halo2 transcript.
    pub proof: Vec<u8>,
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
        Ok(file)
    }

    /// The instance column the proof is checked against.
    pub fn instance(&self) -> Vec<Fr> {
        let mut v: Vec<Fr> = self
            .output
            .iter()
            .map(|&q| field(i64::from(q) + 128))
            .collect();
        v.push(Fr::from(u64::from(self.class)));
        v
    }
}

/// An inference and its proof.
pub struct Proved {
    /// Every value the inference computed.
    pub trace: Trace,
    /// The proof file.
    pub file: ProofFile,
}

/// Runs the model on `input` and proves the result with stock halo2-axiom.
pub fn prove_halo2(
    keys: &Keys,
    input: &[i8],
    multiopen: MultiOpen,
    rng: impl RngCore + CryptoRng,
) -> Result<Proved, ProofError> {
    let pk = keys.pk.as_ref().ok_or(ProofError::NoProvingKey)?;
    let trace = infer(&keys.model, input)?;
    let witness = Arc::new(keys.layout.witness(&keys.model, &trace)?);
    let inst = instance(&witness);
    let circuit = ModelCircuit::prove(keys.model.clone(), keys.layout.clone(), witness);
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    let result = match multiopen {
        MultiOpen::Gwc => create_proof::<KZGCommitmentScheme<Bn256>, ProverGWC<_>, _, _, _, _>(
            &keys.srs,
            pk,
            &[circuit],
            &[&[&inst]],
            rng,
            &mut transcript,
        ),
        MultiOpen::Shplonk => {
            create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<_>, _, _, _, _>(
                &keys.srs,
                pk,
                &[circuit],
                &[&[&inst]],
                rng,
                &mut transcript,
            )
        }
    };
    result.map_err(|e| ProofError::Prover(format!("{e:?}")))?;
    let file = ProofFile {
        version: PROOF_VERSION,
        model_hash: keys.model_hash,
        vk_hash: keys.vk_hash,
        multiopen,
        output: trace.output().to_vec(),
        class: trace.class() as u32,
        proof: transcript.finalize(),
    };
    Ok(Proved { trace, file })
}

/// Runs the model on `input` and proves the result with the zkedge prover on `backend`;
/// returns the backend too, with what it counted. Loads the SRS into `backend` and prepares the
/// key first: to prove many times, make a [`ZkProver`](crate::zk::ZkProver) with
/// [`zk_prover`] once and call [`prove_zkedge_with`].
pub fn prove_zkedge<B: accel_backends::Backend>(
    keys: &Keys,
    input: &[i8],
    multiopen: MultiOpen,
    backend: B,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Proved, zkedge_kernel::prover::PhaseTimes, B), ProofError> {
    let mut prover = zk_prover(keys, backend)?;
    let (proved, times) = prove_zkedge_with(keys, &mut prover, input, multiopen, rng)?;
    Ok((proved, times, prover.into_backend()))
}

/// The zkedge prover for `keys` on `backend`: the SRS loaded, the key prepared.
pub fn zk_prover<B: accel_backends::Backend>(
    keys: &Keys,
    backend: B,
) -> Result<crate::zk::ZkProver<B>, ProofError> {
    let key = keys.zk.clone().ok_or(ProofError::NoProvingKey)?;
    crate::zk::ZkProver::new(key, &keys.srs, backend).map_err(|e| ProofError::Prover(e.to_string()))
}

/// Runs the model on `input` and proves the result with a prover made by [`zk_prover`] for
/// these keys.
pub fn prove_zkedge_with<B: accel_backends::Backend>(
    keys: &Keys,
    prover: &mut crate::zk::ZkProver<B>,
    input: &[i8],
    multiopen: MultiOpen,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Proved, zkedge_kernel::prover::PhaseTimes), ProofError> {
    let trace = infer(&keys.model, input)?;
    let witness = keys.layout.witness(&keys.model, &trace)?;
    let proof = prover
        .prove_witness(&witness, multiopen.into(), rng)
        .map_err(|e| ProofError::Prover(e.to_string()))?;
    let file = ProofFile {
        version: PROOF_VERSION,
        model_hash: keys.model_hash,
        vk_hash: keys.vk_hash,
        multiopen,
        output: trace.output().to_vec(),
        class: trace.class() as u32,
        proof: proof.bytes,
    };
    Ok((Proved { trace, file }, proof.times))
}

/// Counts the bytes a reader hands out, so that a proof with bytes left over is rejected.
struct Counted<'a> {
    bytes: &'a [u8],
    read: Rc<Cell<usize>>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.bytes.read(buf)?;
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

/// Checks `proof` with halo2-axiom's verifier against `keys`.
pub fn verify(keys: &Keys, proof: &ProofFile) -> Result<(), ProofError> {
    if proof.model_hash != keys.model_hash {
        return Err(ProofError::WrongModel);
    }
    if proof.vk_hash != keys.vk_hash {
        return Err(ProofError::WrongKeys);
    }
    if proof.output.len() != keys.model.output_len() {
        return Err(ProofError::OutputShape {
            expected: keys.model.output_len(),
            found: proof.output.len(),
        });
    }
    let inst = proof.instance();
    verify_transcript(&keys.srs, &keys.vk, &[&inst], &proof.proof, proof.multiopen).map_err(
        |reason| ProofError::Invalid {
            class: proof.class,
            reason,
        },
    )
}

/// Checks a halo2 transcript with halo2-axiom's `verify_proof` and a single strategy, and that
/// the verifier read every byte of it.
pub fn verify_transcript(
    srs: &crate::srs::Srs,
    vk: &halo2_proofs::plonk::VerifyingKey<G1Affine>,
    instance: &[&[Fr]],
    proof: &[u8],
    multiopen: MultiOpen,
) -> Result<(), String> {
    let read = Rc::new(Cell::new(0));
    let reader = Counted {
        bytes: proof,
        read: read.clone(),
    };
    let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(reader);
    let strategy = SingleStrategy::new(srs);
    let params = srs.verifier_params();
    let result =
        match multiopen {
            MultiOpen::Gwc => verify_proof::<KZGCommitmentScheme<Bn256>, VerifierGWC<_>, _, _, _>(
                params,
                vk,
                strategy,
                &[instance],
                &mut transcript,
            ),
            MultiOpen::Shplonk => verify_proof::<
                KZGCommitmentScheme<Bn256>,
                VerifierSHPLONK<_>,
                _,
                _,
                _,
            >(params, vk, strategy, &[instance], &mut transcript),
        };
    result.map_err(|e| format!("{e:?}"))?;
    if read.get() != proof.len() {
        return Err(format!(
            "{} bytes of the proof were never read",
            proof.len() - read.get()
        ));
    }
    Ok(())
}
