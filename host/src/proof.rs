//! Proof files, and proving and verifying with stock halo2-axiom.
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
use halo2_proofs::{
    halo2curves::{ff::PrimeField, group::GroupEncoding},
    transcript::{Transcript, TranscriptRead},
};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkedge_kernel::{
    infer::{infer, InferError, Trace},
    layout::Visibility,
};

use crate::{
    circuit::{field, instance, ModelCircuit},
    keys::Keys,
};

/// The first four bytes of a proof file.
pub const MAGIC: [u8; 4] = *b"ZKP1";
/// The proof file version this build reads and writes (2: the SRS's identity in the header,
/// canonical encodings only; 3: what the proof reveals of the input).
pub const PROOF_VERSION: u16 = 3;
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
        v
    }
}

/// A salt for a hashed input: 32 bytes, a canonical scalar (little-endian).
pub fn salt_from_bytes(bytes: [u8; 32]) -> Result<Fr, ProofError> {
    Option::from(Fr::from_repr(bytes)).ok_or(ProofError::BadSalt)
}

/// A fresh random salt.
pub fn random_salt(rng: &mut (impl RngCore + CryptoRng)) -> Fr {
    <Fr as halo2_proofs::halo2curves::ff::Field>::random(rng)
}

/// The commitment to `input` with `salt` (hashed input): what a sensor signs, and what the
/// proof's instance holds.
pub fn commitment(input: &[i8], salt: &Fr) -> Fr {
    crate::zk::halo2_fr(&zkedge_kernel::layout::hash::commitment(
        crate::poseidon::poseidon(),
        crate::zk::fr(salt),
        input,
    ))
}

/// An inference and its proof.
pub struct Proved {
    /// Every value the inference computed.
    pub trace: Trace,
    /// The proof file.
    pub file: ProofFile,
    /// The salt of the input's commitment (hashed input).
    pub salt: Option<Fr>,
}

/// The witness of `trace` for `keys`, with the salt a hashed input needs (`salt`, or a fresh one
/// from `rng`), and what the proof reveals.
fn witness(
    keys: &Keys,
    trace: &Trace,
    salt: Option<Fr>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(zkedge_kernel::layout::Witness, Revealed, Option<Fr>), ProofError> {
    Ok(match keys.layout.input_visibility() {
        Visibility::Private => (
            keys.layout.witness(&keys.model, trace)?,
            Revealed::Nothing,
            None,
        ),
        Visibility::Public => (
            keys.layout.witness(&keys.model, trace)?,
            Revealed::Input(trace.input.clone()),
            None,
        ),
        Visibility::Hashed => {
            let salt = salt.unwrap_or_else(|| random_salt(rng));
            let w = keys.layout.witness_with_salt(
                &keys.model,
                trace,
                crate::poseidon::poseidon(),
                crate::zk::fr(&salt),
            )?;
            let c = w
                .commitment
                .as_ref()
                .map(crate::zk::halo2_fr)
                .unwrap_or(Fr::from(0u64));
            (w, Revealed::Commitment(c.to_repr()), Some(salt))
        }
    })
}

/// Runs the model on `input` and proves the result with stock halo2-axiom.
pub fn prove_halo2(
    keys: &Keys,
    input: &[i8],
    multiopen: MultiOpen,
    rng: impl RngCore + CryptoRng,
) -> Result<Proved, ProofError> {
    prove_halo2_salted(keys, input, None, multiopen, rng)
}

/// As [`prove_halo2`], with the salt of a hashed input's commitment (`None`: a fresh one).
pub fn prove_halo2_salted(
    keys: &Keys,
    input: &[i8],
    salt: Option<Fr>,
    multiopen: MultiOpen,
    mut rng: impl RngCore + CryptoRng,
) -> Result<Proved, ProofError> {
    let pk = keys.pk.as_ref().ok_or(ProofError::NoProvingKey)?;
    let trace = infer(&keys.model, input)?;
    let (witness, revealed, salt) = witness(keys, &trace, salt, &mut rng)?;
    let witness = Arc::new(witness);
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
    let file = ProofFile::new(
        keys,
        multiopen,
        trace.output().to_vec(),
        trace.class() as u32,
        revealed,
        transcript.finalize(),
    );
    Ok(Proved { trace, file, salt })
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
    let (proved, times) = prove_zkedge_with_salt(keys, &mut prover, input, None, multiopen, rng)?;
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
    prove_zkedge_with_salt(keys, prover, input, None, multiopen, rng)
}

/// As [`prove_zkedge_with`], with the salt of a hashed input's commitment (`None`: a fresh
/// one).
pub fn prove_zkedge_with_salt<B: accel_backends::Backend>(
    keys: &Keys,
    prover: &mut crate::zk::ZkProver<B>,
    input: &[i8],
    salt: Option<Fr>,
    multiopen: MultiOpen,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Proved, zkedge_kernel::prover::PhaseTimes), ProofError> {
    let trace = infer(&keys.model, input)?;
    let (witness, revealed, salt) = witness(keys, &trace, salt, rng)?;
    let proof = prover
        .prove_witness(&witness, multiopen, rng)
        .map_err(|e| ProofError::Prover(e.to_string()))?;
    let file = ProofFile::new(
        keys,
        multiopen,
        trace.output().to_vec(),
        trace.class() as u32,
        revealed,
        proof.bytes,
    );
    Ok((Proved { trace, file, salt }, proof.times))
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

/// What a proof's header must match: the verifier's model, verifying key, SRS and output size.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    /// BLAKE2b-256 of the model.
    pub model_hash: [u8; 32],
    /// BLAKE2b-256 of the verifying key.
    pub vk_hash: [u8; 32],
    /// The SRS's [`SrsId::tau`](crate::srs::SrsId).
    pub srs: [u8; 32],
    /// The model's outputs.
    pub outputs: usize,
    /// The model's inputs, where known (a public input of another length fails verification
    /// anyway; knowing it names the mistake).
    pub inputs: Option<usize>,
    /// What the keys make public of the input.
    pub input: Visibility,
}

/// Checks `proof`'s header against `expected`, then its transcript with halo2-axiom's verifier
/// over `params` (a full SRS, or [`crate::srs::verifier_params`]) and `vk`.
pub fn verify_with(
    params: &crate::srs::Srs,
    vk: &halo2_proofs::plonk::VerifyingKey<G1Affine>,
    expected: &Expected,
    proof: &ProofFile,
) -> Result<(), ProofError> {
    if proof.model_hash != expected.model_hash {
        return Err(ProofError::WrongModel);
    }
    if proof.vk_hash != expected.vk_hash {
        return Err(ProofError::WrongKeys);
    }
    if proof.srs != expected.srs {
        return Err(ProofError::WrongSrs {
            proof: crate::srs::hex(&proof.srs),
            keys: crate::srs::hex(&expected.srs),
        });
    }
    if proof.output.len() != expected.outputs {
        return Err(ProofError::OutputShape {
            expected: expected.outputs,
            found: proof.output.len(),
        });
    }
    if proof.input.visibility() != expected.input {
        return Err(ProofError::WrongVisibility {
            expected: expected.input.name(),
            found: proof.input.visibility().name(),
        });
    }
    if let (Revealed::Input(x), Some(inputs)) = (&proof.input, expected.inputs) {
        if x.len() != inputs {
            return Err(ProofError::InputShape {
                expected: inputs,
                found: x.len(),
            });
        }
    }
    let inst = proof.instance();
    verify_transcript(params, vk, &[&inst], &proof.proof, proof.multiopen).map_err(|reason| {
        ProofError::Invalid {
            class: proof.class,
            reason,
        }
    })
}

/// Checks `proof` with halo2-axiom's verifier against `keys`. This checks the proof, not the
/// keys: whoever made the keys chose the model and the SRS (see `docs/trust.md`).
pub fn verify(keys: &Keys, proof: &ProofFile) -> Result<(), ProofError> {
    let expected = Expected {
        model_hash: keys.model_hash,
        vk_hash: keys.vk_hash,
        srs: keys.srs_id.tau,
        outputs: keys.model.output_len(),
        inputs: Some(keys.model.input_len()),
        input: keys.layout.input_visibility(),
    };
    verify_with(&keys.srs, &keys.vk, &expected, proof)
}

/// halo2's Blake2b transcript reader that first refuses any point or scalar whose bytes are not
/// the canonical encoding of the value they decode to (halo2 would accept some of them).
struct Canonical<'a> {
    inner: Blake2bRead<Counted<'a>, G1Affine, Challenge255<G1Affine>>,
    proof: &'a [u8],
    read: Rc<Cell<usize>>,
    /// What was refused, and where: halo2 replaces some transcript errors with its own.
    refused: Option<String>,
}

impl Canonical<'_> {
    /// The next `N` bytes, not yet consumed.
    fn peek<const N: usize>(&self) -> io::Result<[u8; N]> {
        let at = self.read.get();
        self.proof
            .get(at..at + N)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    }
}

impl Canonical<'_> {
    fn refuse(&mut self, what: &str) -> io::Error {
        let reason = format!(
            "non-canonical {what} at byte {} of the proof",
            self.read.get()
        );
        self.refused = Some(reason.clone());
        io::Error::new(io::ErrorKind::InvalidData, reason)
    }
}

impl Transcript<G1Affine, Challenge255<G1Affine>> for Canonical<'_> {
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        self.inner.squeeze_challenge()
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.inner.common_point(point)
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.inner.common_scalar(scalar)
    }
}

impl TranscriptRead<G1Affine, Challenge255<G1Affine>> for Canonical<'_> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let bytes: [u8; 32] = self.peek()?;
        let mut repr = <G1Affine as GroupEncoding>::Repr::default();
        repr.as_mut().copy_from_slice(&bytes);
        let point: Option<G1Affine> = G1Affine::from_bytes(&repr).into();
        if point.map(|p| p.to_bytes().as_ref() == bytes) != Some(true) {
            return Err(self.refuse("point encoding"));
        }
        self.inner.read_point()
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let bytes: [u8; 32] = self.peek()?;
        let scalar: Option<Fr> = Fr::from_repr(bytes).into();
        if scalar.map(|s| s.to_repr() == bytes) != Some(true) {
            return Err(self.refuse("scalar"));
        }
        self.inner.read_scalar()
    }
}

/// Checks a halo2 transcript with halo2-axiom's `verify_proof` and a single strategy, that every
/// point and scalar in it is canonically encoded, and that the verifier read every byte of it.
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
    let mut transcript = Canonical {
        inner: Blake2bRead::<_, G1Affine, Challenge255<_>>::init(reader),
        proof,
        read: read.clone(),
        refused: None,
    };
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
    if let Some(refused) = transcript.refused {
        return Err(refused);
    }
    result.map_err(|e| format!("{e:?}"))?;
    if read.get() != proof.len() {
        return Err(format!(
            "{} bytes of the proof were never read",
            proof.len() - read.get()
        ));
    }
    Ok(())
}
