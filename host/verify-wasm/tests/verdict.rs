//! The browser's verdict, computed natively: what `check` says is what zkedge-core's verifier
//! (halo2-axiom's `verify_proof` behind the bundle) says, on valid proofs over the dev SRS and
//! over a random one, on proofs with a bit flipped across the whole file, and on damaged or
//! foreign bundles. `cargo xtask browser` runs the same code compiled to WASM in Chromium.

use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::{halo2curves::bn256::Bn256, poly::kzg::commitment::ParamsKZG};
use rand::{rngs::StdRng, SeedableRng};
use zkedge_core::{
    bundle::Bundle,
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen, ProofFile},
    srs::{self, hex},
};
use zkedge_kernel::{
    layout::{Layout, Visibility, Weights},
    model::{synthetic, synthetic::Spec, Model},
};
use zkedge_verify_wasm::{chart, check, verify};

fn model(seed: u64) -> Model {
    let mut rng = StdRng::seed_from_u64(seed);
    synthetic::model(&mut rng, [1, 1, 16], &[Spec::Dense { out: 2 }])
}

fn keys(model: Model, dev: bool) -> Keys {
    let k = Layout::new(&model).unwrap().k();
    if dev {
        keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap()
    } else {
        let srs = ParamsKZG::<Bn256>::setup(k, StdRng::seed_from_u64(7));
        keys::generate(model, srs, SrsOrigin::File("random τ".into())).unwrap()
    }
}

fn proved(keys: &Keys, seed: u64) -> ProofFile {
    let mut rng = StdRng::seed_from_u64(seed);
    let input = synthetic::input(&mut rng, &keys.model);
    proof::prove_halo2(keys, &input, MultiOpen::Shplonk, &mut rng)
        .unwrap()
        .file
}

#[test]
fn a_valid_proof_shows_what_it_proves_and_whether_the_srs_is_insecure() {
    for dev in [true, false] {
        let keys = keys(model(1), dev);
        let file = proved(&keys, 2);
        let bundle = Bundle::of(&keys);
        let v = check(&bundle.to_bytes(), &file.to_bytes());
        assert!(v.valid, "{v:?}");
        assert_eq!(v.error, None);
        assert_eq!(v.insecure_srs.is_some(), dev, "{v:?}");
        assert_eq!(v.output, file.output);
        assert_eq!(v.class, Some(file.class));
        assert_eq!(v.label, Some(bundle.label(file.class)));
        assert_eq!(v.vk_hash, Some(hex(&keys.vk_hash)));
        assert_eq!(v.digest, Some(hex(&file.digest())));
        assert_eq!(v.input.as_deref(), Some("private"));
        assert_eq!(v.weights_hash, None);
        // The JavaScript entry point says the same, as JSON.
        let json: serde_json::Value =
            serde_json::from_str(&verify(&bundle.to_bytes(), &file.to_bytes())).unwrap();
        assert_eq!(json["valid"], true);
        assert_eq!(json["class"], file.class);
    }
}

#[test]
fn a_hashed_weights_proof_shows_the_weights_hash() {
    let secret = model(5);
    let k = Layout::with_visibility(&secret, Visibility::Private, Weights::Hashed)
        .unwrap()
        .k();
    let keys = keys::generate_visible(
        secret,
        srs::dev(k),
        SrsOrigin::InsecureDev,
        Visibility::Private,
        Weights::Hashed,
    )
    .unwrap();
    let file = proved(&keys, 6);
    let bundle = Bundle::of(&keys).to_bytes();
    let v = check(&bundle, &file.to_bytes());
    assert!(v.valid, "{v:?}");
    let expected = file.weights.map(|h| hex(&h));
    assert!(expected.is_some());
    assert_eq!(v.weights_hash, expected);
    // Claiming other weights is refused, as the verifier refuses it.
    let mut forged = file;
    forged.weights = Some(proof::weights_hash(&model(6)).to_repr());
    let v = check(&bundle, &forged.to_bytes());
    assert!(!v.valid, "{v:?}");
}

#[test]
fn a_bit_flipped_every_37_bytes_of_a_proof_file_is_refused_as_the_verifier_refuses_it() {
    let keys = keys(model(3), true);
    let bundle_bytes = Bundle::of(&keys).to_bytes();
    let bundle = Bundle::from_bytes(&bundle_bytes).unwrap();
    let bytes = proved(&keys, 4).to_bytes();
    // Every 37th byte, a different bit each time: header, output, class, transcript.
    for at in (0..bytes.len()).step_by(37) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << (at % 8);
        let v = check(&bundle_bytes, &damaged);
        let core = ProofFile::from_bytes(&damaged).map(|f| bundle.verify(&f));
        assert!(!v.valid, "byte {at}: {v:?}");
        assert!(
            !matches!(core, Ok(Ok(()))),
            "byte {at}: the core accepts it"
        );
        assert!(v.error.is_some(), "byte {at}");
    }
}

#[test]
fn damaged_or_foreign_bundles_are_refused_with_a_reason() {
    let keys_a = keys(model(5), true);
    let keys_b = keys(model(6), true);
    let file = proved(&keys_a, 7).to_bytes();
    let v = check(&Bundle::of(&keys_b).to_bytes(), &file);
    assert!(!v.valid && v.error.is_some(), "{v:?}");
    let mut bundle = Bundle::of(&keys_a).to_bytes();
    for at in [0, 5, bundle.len() / 2, bundle.len() - 1] {
        bundle[at] ^= 0x10;
        let v = check(&bundle, &file);
        assert!(!v.valid, "bundle byte {at}: {v:?}");
        bundle[at] ^= 0x10;
    }
    let v = check(b"not a bundle", &file);
    assert!(v.error.unwrap().starts_with("the verifier bundle"));
    let v = check(&bundle, b"not a proof");
    assert!(v.error.unwrap().starts_with("the proof file"));
}

#[test]
fn the_chart_draws_each_sensor_and_the_class_labels() {
    let points = r#"[{"sensor":"lamppost7","t":1000,"class":0},
        {"sensor":"lamppost7","t":1060,"class":1},{"sensor":"bridge2","t":1030,"class":1}]"#;
    let svg = chart(points, r#"["winter","summer"]"#, 640, 300);
    assert!(svg.starts_with("<svg"), "{svg}");
    for text in ["lamppost7", "bridge2", "winter", "summer"] {
        assert!(svg.contains(text), "{text} missing");
    }
    assert_eq!(svg.matches("<circle").count(), 3);
    // Labels come from the bundle, which anyone can write: they stay text in the SVG.
    let svg = chart(
        points,
        r#"["<image href=x onerror=alert(1)/>","a&b"]"#,
        640,
        300,
    );
    assert!(!svg.contains("<image") && !svg.contains("a&b"), "{svg}");
    assert!(svg.contains("&lt;image") && svg.contains("a&amp;b"));
    // Nothing verified yet: an empty chart, not an error.
    assert!(chart("[]", "[]", 640, 300).starts_with("<svg"));
    // Not what it takes: nothing.
    assert_eq!(chart("{", "[]", 640, 300), "");
    assert_eq!(chart(r#"[{"sensor":1}]"#, "[]", 640, 300), "");
}
