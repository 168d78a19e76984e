//! Verifying a proof file with stock halo2-axiom's verifier, canonical encodings first.

use std::{
    cell::Cell,
    io::{self, Read},
    rc::Rc,
};

use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::verify_proof,
    poly::{
        commitment::ParamsProver,
        kzg::{
            commitment::KZGCommitmentScheme,
            multiopen::{VerifierGWC, VerifierSHPLONK},
            strategy::SingleStrategy,
        },
    },
    transcript::{Blake2bRead, Challenge255, TranscriptReadBuffer},
};
use halo2_proofs::{
    halo2curves::{ff::PrimeField, group::GroupEncoding},
    transcript::{Transcript, TranscriptRead},
};
use zkedge_kernel::layout::{Visibility, Weights};

use crate::keys::Keys;

use super::{MultiOpen, ProofError, ProofFile, Revealed};

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
    /// Whether the keys hash the weights.
    pub weights: Weights,
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
    if proof.weights_visibility() != expected.weights {
        return Err(ProofError::WrongWeights {
            expected: expected.weights.name(),
            found: proof.weights_visibility().name(),
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
        weights: keys.layout.weights(),
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
