//! Proving an inference with stock halo2-axiom or the zkedge prover, into a proof file.

use std::sync::Arc;

use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::create_proof,
    poly::kzg::{
        commitment::KZGCommitmentScheme,
        multiopen::{ProverGWC, ProverSHPLONK},
    },
    transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
};
use rand::{CryptoRng, RngCore};
use zkedge_kernel::{
    infer::{infer, Trace},
    layout::Visibility,
};

use crate::{
    circuit::{instance, ModelCircuit},
    keys::Keys,
};

use super::{MultiOpen, ProofError, ProofFile, Revealed};

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
    crate::convert::halo2_fr(&zkedge_kernel::layout::hash::commitment(
        crate::poseidon::poseidon(),
        crate::convert::fr(salt),
        input,
    ))
}

/// The hash of `model`'s weights and biases, as a hashed-weights proof carries it.
pub fn weights_hash(model: &zkedge_kernel::model::Model) -> Fr {
    crate::convert::halo2_fr(&zkedge_kernel::layout::hash::weights_hash(
        crate::poseidon::poseidon(),
        model,
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
/// from `rng`), what the proof reveals, and the salt used.
pub fn witness(
    keys: &Keys,
    trace: &Trace,
    salt: Option<Fr>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(zkedge_kernel::layout::Witness, Revealed, Option<Fr>), ProofError> {
    let visibility = keys.layout.input_visibility();
    let salt = (visibility == Visibility::Hashed).then(|| salt.unwrap_or_else(|| random_salt(rng)));
    // Elsewhere than a hashed input the salt is not read.
    let w = keys.layout.witness_with_salt(
        &keys.model,
        trace,
        crate::poseidon::poseidon(),
        crate::convert::fr(&salt.unwrap_or(Fr::from(0u64))),
    )?;
    let revealed = match visibility {
        Visibility::Private => Revealed::Nothing,
        Visibility::Public => Revealed::Input(trace.input.clone()),
        Visibility::Hashed => {
            let c = w
                .commitment
                .as_ref()
                .map(crate::convert::halo2_fr)
                .unwrap_or(Fr::from(0u64));
            Revealed::Commitment(c.to_repr())
        }
    };
    Ok((w, revealed, salt))
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
/// key first: to prove many times, make a [`ZkProver`](crate::zk_prover::ZkProver) with
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
) -> Result<crate::zk_prover::ZkProver<B>, ProofError> {
    let key = keys.zk.clone().ok_or(ProofError::NoProvingKey)?;
    crate::zk_prover::ZkProver::new(key, &keys.srs, backend)
        .map_err(|e| ProofError::Prover(e.to_string()))
}

/// Runs the model on `input` and proves the result with a prover made by [`zk_prover`] for
/// these keys.
pub fn prove_zkedge_with<B: accel_backends::Backend>(
    keys: &Keys,
    prover: &mut crate::zk_prover::ZkProver<B>,
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
    prover: &mut crate::zk_prover::ZkProver<B>,
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
