//! Proving, zkedge prover (CPU backend) beside stock halo2-axiom `create_proof`, from input to
//! proof, in one run: the bundled demo model (k = 12) and the synthetic circuit at k = 16. Also
//! setup and verify for the demo model. Each configuration's phase split is printed once.

use accel_backends::{Backend, CpuBackend};
use criterion::{criterion_group, criterion_main, Criterion};
use halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr as H2Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk},
    poly::kzg::{commitment::KZGCommitmentScheme, multiopen::ProverGWC},
    transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
};
use rand::rngs::OsRng;
use zkedge::{
    bundled,
    convert::fr,
    export::export,
    keys::{self, SrsOrigin},
    proof::{self, MultiOpen},
    srs,
    synthetic::Synthetic,
    zk_prover::ZkProver,
};
use zkedge_kernel::{layout::Layout, model::Model, prover::ProvingKey};

fn split(label: &str, times: zkedge_kernel::prover::PhaseTimes, c: &accel_backends::Counters) {
    let ms = |ns: u64| ns as f64 / 1e6;
    eprintln!(
        "{label}: MSM {:.0} ms ({} calls), NTT {:.0} ms ({} calls), constraint evaluation {:.0} ms; \
         phases: commit {:.0} ms, quotient {:.0} ms, evaluations + multi-open {:.0} ms",
        ms(c.msm_nanos),
        c.msm_calls,
        ms(c.ntt_nanos),
        c.ntt_calls,
        ms(times.quotient_evaluation),
        ms(times.commit),
        ms(times.quotient),
        ms(times.open)
    );
}

fn demo_model(c: &mut Criterion) {
    let model = Model::from_json(bundled::MODEL_JSON).expect("bundled model");
    let input = bundled::samples()
        .expect("bundled samples")
        .inputs
        .swap_remove(0);
    let k = Layout::new(&model).expect("layout").k();
    let mut group = c.benchmark_group("demo-model");
    group.sample_size(10);
    group.bench_function("setup (dev SRS + keygen)", |b| {
        b.iter(|| {
            keys::generate(model.clone(), srs::dev(k), SrsOrigin::InsecureDev).expect("keygen")
        })
    });
    let keys = keys::generate(model.clone(), srs::dev(k), SrsOrigin::InsecureDev).expect("keygen");
    for multiopen in [MultiOpen::Gwc, MultiOpen::Shplonk] {
        group.bench_function(format!("prove halo2 {multiopen}"), |b| {
            b.iter(|| proof::prove_halo2(&keys, &input, multiopen, OsRng).expect("prove"))
        });
        // Like `create_proof` with its `pk`: the key prepared and the SRS loaded beforehand.
        let mut prover = proof::zk_prover(&keys, CpuBackend::new()).expect("prover");
        group.bench_function(format!("prove zkedge-cpu {multiopen}"), |b| {
            b.iter(|| {
                proof::prove_zkedge_with(&keys, &mut prover, &input, multiopen, &mut OsRng)
                    .expect("prove")
            })
        });
        prover.backend_mut().reset_counters();
        let (proved, times) =
            proof::prove_zkedge_with(&keys, &mut prover, &input, multiopen, &mut OsRng)
                .expect("prove");
        split(
            &format!("demo model, zkedge {multiopen}"),
            times,
            prover.backend().counters(),
        );
        group.bench_function(format!("verify {multiopen}"), |b| {
            b.iter(|| proof::verify(&keys, &proved.file).expect("valid"))
        });
        eprintln!(
            "proof file with {multiopen}: {} bytes",
            proved.file.to_bytes().len()
        );
    }
    group.finish();
}

fn synthetic_k16(c: &mut Criterion) {
    let k = 16;
    let params = srs::dev(k);
    let keygen = Synthetic::new(k, 1, false);
    let vk = keygen_vk(&params, &keygen).expect("keygen_vk");
    let pk = keygen_pk(&params, vk, &keygen).expect("keygen_pk");
    let circuit = Synthetic::new(k, 1, true);
    let instances = circuit.instances();
    let refs: Vec<&[H2Fr]> = instances.iter().map(Vec::as_slice).collect();
    let ark_instances: Vec<Vec<_>> = instances
        .iter()
        .map(|c| c.iter().map(fr).collect())
        .collect();
    let key = ProvingKey::from_file(export(&pk).expect("export")).expect("key");
    let mut prover = ZkProver::new(key, &params, CpuBackend::new()).expect("prover");

    let mut group = c.benchmark_group("synthetic-k16");
    group.sample_size(10);
    group.bench_function("prove halo2 GWC", |b| {
        b.iter(|| {
            let mut t = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
            create_proof::<KZGCommitmentScheme<Bn256>, ProverGWC<_>, _, _, _, _>(
                &params,
                &pk,
                std::slice::from_ref(&circuit),
                &[&refs],
                OsRng,
                &mut t,
            )
            .expect("prove");
            t.finalize()
        })
    });
    group.bench_function("prove zkedge-cpu GWC", |b| {
        b.iter(|| {
            let advice: Vec<Vec<_>> = circuit
                .advice()
                .iter()
                .map(|c| c.iter().map(fr).collect())
                .collect();
            prover
                .prove(
                    advice,
                    &ark_instances,
                    zkedge_kernel::prover::MultiOpen::Gwc,
                    &mut OsRng,
                )
                .expect("prove")
        })
    });
    prover.backend_mut().reset_counters();
    let advice: Vec<Vec<_>> = circuit
        .advice()
        .iter()
        .map(|c| c.iter().map(fr).collect())
        .collect();
    let proof = prover
        .prove(
            advice,
            &ark_instances,
            zkedge_kernel::prover::MultiOpen::Gwc,
            &mut OsRng,
        )
        .expect("prove");
    split(
        "synthetic k16, zkedge GWC",
        proof.times,
        prover.backend().counters(),
    );
    group.finish();
}

criterion_group!(benches, demo_model, synthetic_k16);
criterion_main!(benches);
