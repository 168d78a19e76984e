//! The zkedge prover's proofs, checked by halo2-axiom's stock verifier.

use std::sync::Arc;

use accel_backends::{Backend, CpuBackend};
use rand::{rngs::StdRng, SeedableRng};
use zkedge::{
    bundled,
    export::export,
    keys::{self, SrsOrigin},
    proof::{self, MultiOpen as FileMultiOpen, ProofFile, PROOF_VERSION},
    srs,
    zk_prover::ZkProver,
};
use zkedge_kernel::{
    infer::infer,
    layout::Layout,
    model::Model,
    prover::{MultiOpen, ProvingKey},
};

#[test]
fn demo_model_proofs_verify_with_the_stock_verifier() {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let input = bundled::samples().unwrap().inputs.swap_remove(3);
    let k = Layout::new(&model).unwrap().k();
    let keys = keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap();
    let key = ProvingKey::from_file(export(keys.pk.as_ref().unwrap()).unwrap()).unwrap();
    let mut prover = ZkProver::new(key, &keys.srs, CpuBackend::new()).unwrap();
    let trace = infer(&keys.model, &input).unwrap();
    let witness = Arc::new(keys.layout.witness(&keys.model, &trace).unwrap());
    let mut rng = StdRng::from_entropy();
    for (multiopen, file_multiopen) in [
        (MultiOpen::Gwc, FileMultiOpen::Gwc),
        (MultiOpen::Shplonk, FileMultiOpen::Shplonk),
    ] {
        let before = *prover.backend().counters();
        let proof = prover.prove_witness(&witness, multiopen, &mut rng).unwrap();
        let used = prover.backend().counters().since(&before);
        eprintln!("{multiopen:?}: {} bytes, {used:?}", proof.bytes.len());
        let file = ProofFile {
            version: PROOF_VERSION,
            model_hash: keys.model_hash,
            vk_hash: keys.vk_hash,
            srs: keys.srs_id.tau,
            multiopen: file_multiopen,
            output: trace.output().to_vec(),
            class: trace.class() as u32,
            input: zkedge::proof::Revealed::Nothing,
            weights: None,
            proof: proof.bytes,
        };
        proof::verify(&keys, &file).unwrap();
    }
}

mod synthetic_circuits {
    use accel_backends::{Backend, CpuBackend};
    use halo2_proofs::{
        halo2curves::bn256::{Bn256, Fr as H2Fr, G1Affine},
        plonk::{keygen_pk, keygen_vk, synthesize_witness},
        poly::kzg::{commitment::KZGCommitmentScheme, multiopen::ProverGWC},
        transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
    };
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use zkedge::{
        convert::fr,
        export::export,
        proof::{verify_transcript, MultiOpen as FileMultiOpen},
        srs,
        synthetic::{usable_rows, Parts, Synthetic},
        zk_prover::ZkProver,
    };
    use zkedge_kernel::prover::{MultiOpen, ProvingKey};

    fn file(m: MultiOpen) -> FileMultiOpen {
        match m {
            MultiOpen::Gwc => FileMultiOpen::Gwc,
            MultiOpen::Shplonk => FileMultiOpen::Shplonk,
        }
    }

    /// Keygen with stock halo2, the witness from halo2's own synthesis, the proof from the zkedge
    /// prover on the CPU backend, the verdict from halo2's verifier.
    fn round(k: u32, multiopens: &[MultiOpen], rng: &mut StdRng) {
        round_with(k, Parts::default(), multiopens, rng)
    }

    fn round_with(k: u32, parts: Parts, multiopens: &[MultiOpen], rng: &mut StdRng) {
        let seed = rng.gen();
        let params = srs::dev(k);
        let keygen = Synthetic {
            k,
            seed,
            witness: false,
            parts,
        };
        let vk = keygen_vk(&params, &keygen).unwrap();
        let pk = keygen_pk(&params, vk, &keygen).unwrap();
        let circuit = Synthetic {
            k,
            seed,
            witness: true,
            parts,
        };
        let instances = circuit.instances();
        let refs: Vec<&[H2Fr]> = instances.iter().map(Vec::as_slice).collect();
        let mut scratch = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        let (_, advice, _) =
            synthesize_witness::<KZGCommitmentScheme<Bn256>, ProverGWC<_>, _, _, _, _>(
                &params,
                &pk,
                &[circuit],
                &[&refs],
                rand::rngs::OsRng,
                &mut scratch,
            )
            .unwrap();
        let rows = usable_rows(k);
        let advice: Vec<Vec<_>> = advice[0]
            .advice_values
            .iter()
            .map(|col| col.values()[..rows].iter().map(fr).collect())
            .collect();
        let ark_instances: Vec<Vec<_>> = instances
            .iter()
            .map(|c| c.iter().map(fr).collect())
            .collect();
        let key = ProvingKey::from_file(export(&pk).unwrap()).unwrap();
        assert!(
            key.permutation.len() > key.degree - 2,
            "the permutation should span several chunks"
        );
        let mut prover = ZkProver::new(key, &params, CpuBackend::new()).unwrap();
        for &m in multiopens {
            prover.backend_mut().reset_counters();
            let proof = prover
                .prove(advice.clone(), &ark_instances, m, rng)
                .unwrap();
            let counters = *prover.backend().counters();
            eprintln!(
                "k = {k}, {m:?}: {} bytes; {} MSMs, {} NTTs",
                proof.bytes.len(),
                counters.msm_calls,
                counters.ntt_calls
            );
            assert!(counters.msm_calls > 0 && counters.ntt_calls > 0);
            verify_transcript(&params, pk.get_vk(), &refs, &proof.bytes, file(m))
                .unwrap_or_else(|e| panic!("k = {k}, {m:?}: rejected: {e}"));
            // A damaged proof and a wrong instance are rejected.
            let mut bad = proof.bytes.clone();
            let i = rng.gen_range(0..bad.len());
            bad[i] ^= 1 << rng.gen_range(0..8);
            assert!(
                verify_transcript(&params, pk.get_vk(), &refs, &bad, file(m)).is_err(),
                "flipped byte {i} accepted"
            );
            let mut wrong = instances.clone();
            wrong[0][0] += H2Fr::from(1u64);
            let wrong_refs: Vec<&[H2Fr]> = wrong.iter().map(Vec::as_slice).collect();
            assert!(
                verify_transcript(&params, pk.get_vk(), &wrong_refs, &proof.bytes, file(m))
                    .is_err()
            );
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(accel_conformance::test_seed("zk_prover"))
    }

    #[test]
    fn without_lookups_degree_three() {
        // Degree 3: two cosets, one column per permutation chunk.
        let off = Parts {
            fixed_lookup: false,
            advice_lookup: false,
            far_rotations: false,
            constant: true,
        };
        round_with(8, off, &[MultiOpen::Gwc, MultiOpen::Shplonk], &mut rng());
    }

    #[test]
    fn small_circuits_k4_to_k9() {
        let mut rng = rng();
        for k in [4, 5, 7, 9] {
            round(k, &[MultiOpen::Gwc, MultiOpen::Shplonk], &mut rng);
        }
    }

    #[test]
    fn k12_both_openings() {
        round(12, &[MultiOpen::Gwc, MultiOpen::Shplonk], &mut rng());
    }

    #[test]
    fn k16() {
        round(16, &[MultiOpen::Shplonk], &mut rng());
    }
}

/// The prover's threads (the kernel's `parallel` feature, which the host enables) change
/// nothing: a one-thread pool runs the kernel's serial code — the code the no_std firmware
/// builds — and must give the same bytes as a pool of four from the same RNG. Also the
/// progress reports count every step.
mod threads {
    use std::sync::{Arc, Mutex};

    use accel_backends::CpuBackend;
    use halo2_proofs::halo2curves::bn256::Fr as H2Fr;
    use rand::{rngs::StdRng, SeedableRng};
    use zkedge::{
        convert::fr,
        keygen::{self, VkSource},
        proof::{verify_transcript, MultiOpen as FileMultiOpen},
        srs,
        synthetic::wide::{Shape, Wide},
        zk_prover::ZkProver,
    };
    use zkedge_kernel::prover::{MultiOpen, Phase};

    #[test]
    fn one_thread_and_four_make_the_same_proof() {
        let (k, seed) = (10, accel_conformance::test_seed("zk_prover threads"));
        let shape = Shape {
            advice: 14,
            fixed: 20,
            lookups: 2,
            equality: 6,
        };
        let params = srs::dev(k);
        let keygen_circuit = Wide {
            k,
            shape,
            seed: 0,
            witness: false,
        };
        let (vk, key, _) =
            keygen::keys(&params, &keygen_circuit, VkSource::Zkedge, &mut |_| {}).unwrap();
        let (advice, instances) = Wide::new(k, shape, seed).witness_columns();
        let refs: Vec<&[H2Fr]> = instances.iter().map(Vec::as_slice).collect();
        let advice: Vec<Vec<_>> = advice.iter().map(|c| c.iter().map(fr).collect()).collect();
        let instances: Vec<Vec<_>> = instances
            .iter()
            .map(|c| c.iter().map(fr).collect())
            .collect();
        let mut prover = ZkProver::new(key, &params, CpuBackend::new()).unwrap();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let log = reports.clone();
        prover.set_progress(Box::new(move |phase: Phase, done: u32, total: u32| {
            log.lock().unwrap().push((phase, done, total));
        }));
        for (m, file) in [
            (MultiOpen::Gwc, FileMultiOpen::Gwc),
            (MultiOpen::Shplonk, FileMultiOpen::Shplonk),
        ] {
            let mut prove = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    prover
                        .prove(
                            advice.clone(),
                            &instances,
                            m,
                            &mut StdRng::seed_from_u64(seed),
                        )
                        .unwrap()
                })
            };
            let one = prove(1);
            let four = prove(4);
            assert!(one.bytes == four.bytes, "{m:?}: threads changed the proof");
            verify_transcript(&params, &vk, &refs, &one.bytes, file).unwrap();
        }
        // Four proofs, each reporting steps 0, 1, … and then Done at its total.
        let reports = reports.lock().unwrap();
        let total = reports[0].2;
        assert!(total > 10);
        let proofs: Vec<&[(Phase, u32, u32)]> =
            reports.split_inclusive(|r| r.0 == Phase::Done).collect();
        assert_eq!(proofs.len(), 4);
        for p in proofs {
            assert_eq!(p.len() as u32, total + 1);
            assert_eq!(p[0].0, Phase::Advice);
            for (i, r) in p.iter().enumerate() {
                assert_eq!((r.1, r.2), (i as u32, total));
            }
        }
    }
}
