//! The attacks of issue 15, each a regression test: on the code before it, `zkedge verify` said
//! `valid` to every one of them.
//!
//! 1. A forged proof over the development SRS (whose secret τ is public) claiming logits no
//!    inference of the model gave — made here for real, and accepted by halo2's stock verifier.
//! 2. The same with the manifest relabelled, which used to silence the dev-SRS note.
//! 3. A keys folder holding model A's name and model B's verifying key (hashes recomputed): a
//!    model-B proof used to verify as model A's.

mod common;

use common::{path, zkedge};

use accel_backends::CpuBackend;
use ark_ff::{AdditiveGroup, Field, PrimeField};
use halo2_proofs::halo2curves::ff::PrimeField as _;
use rand::{rngs::StdRng, SeedableRng};
use zkedge::{
    bundle::{Bundle, BundleError, Pins},
    bundled,
    export::export,
    keys::{self, Keys, SrsOrigin, BUNDLE},
    proof::{self, MultiOpen, ProofFile, PROOF_VERSION},
    srs,
    zk_prover::ZkProver,
};
use zkedge_kernel::{
    infer::infer,
    layout::Layout,
    model::Model,
    prover::{self as kernel, ProvingKey},
};

type ArkFr = ark_bn254::Fr;

fn bundled_json() -> serde_json::Value {
    serde_json::from_str(bundled::MODEL_JSON).unwrap()
}

/// Model A with its last layer's biases pushed far apart: B's logits saturate at [127, −128]
/// on every input; its circuit differs from A's in fixed columns only (folded biases and the
/// requantisation table), which the dev SRS's public τ lets a forger hide.
fn saturating_twin() -> Model {
    let mut json = bundled_json();
    let last = json["layers"].as_array_mut().unwrap().last_mut().unwrap();
    let bias = last["bias"].as_array_mut().unwrap();
    bias[0] = (bias[0].as_i64().unwrap() + 300_000).into();
    bias[1] = (bias[1].as_i64().unwrap() - 300_000).into();
    Model::from_json(&json.to_string()).unwrap()
}

fn dev_keys(model: Model) -> Keys {
    let k = Layout::new(&model).unwrap().k();
    keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap()
}

fn zk_key(keys: &Keys) -> ProvingKey {
    ProvingKey::from_file(export(keys.pk.as_ref().unwrap()).unwrap()).unwrap()
}

fn ark(x: halo2_proofs::halo2curves::bn256::Fr) -> ArkFr {
    ArkFr::from_le_bytes_mod_order(x.to_repr().as_ref())
}

/// `L_i(τ)`: the Lagrange polynomial of row `i` at τ, `ωⁱ(τⁿ − 1) / (n(τ − ωⁱ))`.
fn lagrange_at(tau: ArkFr, omega: ArkFr, n: usize, i: usize) -> ArkFr {
    let w = omega.pow([i as u64]);
    w * (tau.pow([n as u64]) - ArkFr::ONE) / (ArkFr::from(n as u64) * (tau - w))
}

/// A proof that model A output [127, −128], made with the development SRS's public τ: B's
/// witness, proved with B's fixed columns adjusted on one blinding row so that their KZG
/// commitments equal A's (binding is gone once τ is known), under A's transcript key.
fn forge(a: &Keys, b: &Keys, input: &[i8]) -> ProofFile {
    let mut key = zk_key(b);
    let theirs = zk_key(a);
    let tau = ark(srs::dev_secret());
    let n = key.n();
    for (ours, want) in key.fixed.iter_mut().zip(&theirs.fixed) {
        let delta: ArkFr = (0..n)
            .filter(|&i| ours[i] != want[i])
            .map(|i| (ours[i] - want[i]) * lagrange_at(tau, key.omega, n, i))
            .sum();
        if delta != ArkFr::ZERO {
            // The last row is a blinding row: no gate is on there, no lookup reads it.
            ours[n - 1] -= delta / lagrange_at(tau, key.omega, n, n - 1);
        }
    }
    key.transcript_repr = theirs.transcript_repr;
    let trace = infer(&b.model, input).unwrap();
    let witness = b.layout.witness(&b.model, &trace).unwrap();
    let mut prover = ZkProver::new(key, &b.srs, CpuBackend::new()).unwrap();
    let proof = prover
        .prove_witness(
            &witness,
            kernel::MultiOpen::Gwc,
            &mut StdRng::from_entropy(),
        )
        .unwrap();
    ProofFile {
        version: PROOF_VERSION,
        model_hash: a.model_hash,
        vk_hash: a.vk_hash,
        srs: a.srs_id.tau,
        multiopen: MultiOpen::Gwc,
        output: trace.output().to_vec(),
        class: trace.class() as u32,
        input: zkedge::proof::Revealed::Nothing,
        weights: None,
        proof: proof.bytes,
    }
}

#[test]
fn forged_logits_over_the_dev_srs_are_refused_even_with_a_relabelled_manifest() {
    let a = dev_keys(Model::from_json(bundled::MODEL_JSON).unwrap());
    let b = dev_keys(saturating_twin());
    let input = bundled::samples().unwrap().inputs.swap_remove(0);
    let honest = infer(&a.model, &input).unwrap();
    let forged = forge(&a, &b, &input);
    assert_eq!(forged.output, [127, -128]);
    assert_ne!(honest.output(), &forged.output[..]);
    // The forgery is real: halo2-axiom's stock verifier accepts it against A's own keys.
    proof::verify(&a, &forged).expect("the forged proof verifies with the stock verifier");

    let mut keys_a = a;
    let dir = std::env::temp_dir().join(format!("zkedge-trust-forge-{}", std::process::id()));
    keys_a.save(&dir.join("keys")).unwrap();
    let file = dir.join("forged.zkp");
    std::fs::write(&file, forged.to_bytes()).unwrap();
    let keys = dir.join("keys");
    let (code, out, err) = zkedge(&["verify", "--keys", path(&keys), "--proof", path(&file)]);
    assert_eq!(code, 1, "forged proof accepted: {out}");
    assert!(
        err.contains("insecure SRS") && err.contains("development SRS"),
        "{err}"
    );

    // Relabelling the SRS in the manifest changes nothing: the SRS is known by its points.
    let manifest = keys.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let relabelled = text.replace("\"insecure-dev\"", "{\"file\": \"ceremony.ptau\"}");
    assert_ne!(text, relabelled);
    std::fs::write(&manifest, relabelled).unwrap();
    let (code, out, err) = zkedge(&["verify", "--keys", path(&keys), "--proof", path(&file)]);
    assert_eq!(code, 1, "relabelled, the forged proof is accepted: {out}");
    assert!(err.contains("development SRS"), "{err}");

    // With the flag the proof is checked, and the output says what it is worth.
    let (code, out, err) = zkedge(&[
        "verify",
        "--keys",
        path(&keys),
        "--proof",
        path(&file),
        "--allow-insecure-dev-srs",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("INSECURE") && out.contains("shows nothing"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_verifying_key_swapped_in_from_another_model_is_caught_by_pinning() {
    let mut a = dev_keys(Model::from_json(bundled::MODEL_JSON).unwrap());
    let mut b = dev_keys(saturating_twin());
    let dir = std::env::temp_dir().join(format!("zkedge-trust-swap-{}", std::process::id()));
    let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
    a.save(&dir_a).unwrap();
    b.save(&dir_b).unwrap();
    let model_a = dir.join("a.json");
    std::fs::write(&model_a, bundled::MODEL_JSON).unwrap();

    // The tampered folder: A's model and name, B's verifying key, every hash recomputed.
    let tampered = dir.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    for entry in std::fs::read_dir(&dir_a).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tampered.join(entry.file_name())).unwrap();
    }
    std::fs::copy(dir_b.join("vk.bin"), tampered.join("vk.bin")).unwrap();
    let mut bundle = Bundle::load(&dir_b.join(BUNDLE)).unwrap();
    bundle.file.model = Bundle::load(&dir_a.join(BUNDLE)).unwrap().file.model;
    std::fs::write(tampered.join(BUNDLE), bundle.to_bytes()).unwrap();
    let manifest_path = tampered.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    for name in ["vk.bin", BUNDLE] {
        let bytes = std::fs::read(tampered.join(name)).unwrap();
        manifest["files"][name] = zkedge::files::hash_hex(&bytes).into();
    }
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();

    // A proof of B's inference, its header naming model A.
    let input = bundled::samples().unwrap().inputs.swap_remove(1);
    let mut file = proof::prove_halo2(&b, &input, MultiOpen::Gwc, StdRng::from_entropy())
        .unwrap()
        .file;
    file.model_hash = a.model_hash;
    let proof_path = dir.join("b-as-a.zkp");
    std::fs::write(&proof_path, file.to_bytes()).unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--keys",
            path(&tampered),
            "--proof",
            path(&proof_path),
            "--allow-insecure-dev-srs",
        ];
        args.extend_from_slice(extra);
        zkedge(&args)
    };

    // Unpinned, the proof checks against the folder's key, and the output says that this key
    // was not checked against any model.
    let (code, out, err) = verify(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("NOT checked"), "{out}");

    // Pinning the model: the key is derived from it and refused, naming both hashes.
    let (code, out, err) = verify(&["--model", path(&model_a)]);
    assert_eq!(code, 1, "swapped key accepted with --model: {out}");
    let (vk_a, vk_b) = (srs::hex(&a.vk_hash), srs::hex(&b.vk_hash));
    assert!(err.contains(&vk_a) && err.contains(&vk_b), "{err}");

    // Pinning the key's hash, as `zkedge vk-hash` prints it for model A.
    let (code, pin, err) = zkedge(&["vk-hash", "--model", path(&model_a)]);
    assert_eq!(code, 0, "{err}");
    assert!(pin.contains(&vk_a), "vk-hash printed another key: {pin}");
    let (code, out, err) = verify(&["--vk-hash", &vk_a]);
    assert_eq!(code, 1, "swapped key accepted with --vk-hash: {out}");
    assert!(err.contains("not the pinned"), "{err}");

    // The same checks through the library.
    let tampered_bundle = Bundle::load(&tampered.join(BUNDLE)).unwrap();
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    match tampered_bundle.check_model(&model, &a.srs) {
        Err(BundleError::VkMismatch { derived, keys }) => {
            assert_eq!((derived, keys), (vk_a.clone(), vk_b.clone()))
        }
        other => panic!("expected a key mismatch, got {:?}", other.err()),
    }
    let pins = Pins {
        vk_hash: Some(a.vk_hash),
        allow_insecure_srs: true,
        ..Pins::default()
    };
    assert!(matches!(
        tampered_bundle.check_pins(&pins),
        Err(BundleError::VkNotPinned { .. })
    ));
    // And the honest folder passes both, with an honest proof of A.
    let honest = Bundle::load(&dir_a.join(BUNDLE)).unwrap();
    honest.check_model(&model, &a.srs).unwrap();
    honest.check_pins(&pins).unwrap();
    let file = proof::prove_halo2(&a, &input, MultiOpen::Gwc, StdRng::from_entropy())
        .unwrap()
        .file;
    let honest_proof = dir.join("a.zkp");
    std::fs::write(&honest_proof, file.to_bytes()).unwrap();
    let (code, out, err) = zkedge(&[
        "verify",
        "--keys",
        path(&dir_a),
        "--proof",
        path(&honest_proof),
        "--allow-insecure-dev-srs",
        "--model",
        path(&model_a),
        "--vk-hash",
        &vk_a,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("derived here from"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}
