//! The verifier bundle: a few kilobytes, verifying without the SRS; damaged or non-canonical
//! bundles are refused without panicking, and what it carries is what the proof is checked
//! against.

use halo2_proofs::halo2curves::{
    bn256::{G2Affine, G2},
    group::{Curve, GroupEncoding},
};
use rand::{rngs::StdRng, SeedableRng};
use zkedge::{
    bundle::{Bundle, BundleError, Pins},
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen, ProofFile},
    srs,
};
use zkedge_kernel::{
    layout::Layout,
    model::{synthetic, synthetic::Spec},
};

fn setup() -> (Keys, ProofFile) {
    let mut rng = StdRng::seed_from_u64(accel_conformance::test_seed("bundle"));
    let model = synthetic::model(&mut rng, [1, 1, 16], &[Spec::Dense { out: 2 }]);
    let k = Layout::new(&model).unwrap().k();
    let keys = keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap();
    let input = synthetic::input(&mut rng, &keys.model);
    let file = proof::prove_halo2(&keys, &input, MultiOpen::Shplonk, &mut rng)
        .unwrap()
        .file;
    (keys, file)
}

#[test]
fn a_bundle_round_trips_and_verifies_without_the_srs() {
    let (keys, file) = setup();
    let bytes = Bundle::of(&keys).to_bytes();
    assert!(bytes.len() < 8 << 10, "{} bytes", bytes.len());
    let bundle = Bundle::from_bytes(&bytes).unwrap();
    assert_eq!(bundle.to_bytes(), bytes);
    assert_eq!(bundle.vk_hash, keys.vk_hash);
    assert_eq!(bundle.srs_id, keys.srs_id);
    bundle.verify(&file).unwrap();
    // The dev SRS is recognised by its [τ]₂ whatever the labels say.
    assert!(bundle.insecure_srs().is_some());
    assert!(matches!(
        bundle.check_pins(&Pins::default()),
        Err(BundleError::InsecureSrs { .. })
    ));
    let allowed = Pins {
        allow_insecure_srs: true,
        ..Pins::default()
    };
    bundle.check_pins(&allowed).unwrap();
    // Another output is another statement.
    let mut edited = file.clone();
    edited.output[0] = edited.output[0].wrapping_add(1);
    assert!(bundle.verify(&edited).is_err());
}

#[test]
fn damaged_bundles_are_refused_and_never_verify_a_proof() {
    let (keys, file) = setup();
    let good = Bundle::of(&keys);
    let bytes = good.to_bytes();
    for len in [0, 3, 4, 5, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            Bundle::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    assert!(Bundle::from_bytes(&[bytes.clone(), vec![0]].concat()).is_err());
    // Every single-bit flip: refused, or the proof no longer verifies, or only what the bundle
    // displays changed (the model's name and labels, which nothing binds: docs/trust.md).
    let shown = |b: &Bundle| (b.file.model.name.clone(), b.file.model.classes.clone());
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        if let Ok(b) = Bundle::from_bytes(&damaged) {
            if b.verify(&file).is_ok() {
                assert_ne!(shown(&b), shown(&good), "bit {bit} flipped, same bundle");
                assert_eq!(
                    (b.vk_hash, b.srs_id, b.file.model.hash),
                    (good.vk_hash, good.srs_id, good.file.model.hash),
                    "bit {bit}"
                );
            }
        }
    }
    // [τ]₂ on the curve but outside the prime-order subgroup (a point of the twist's cofactor
    // part), and the generator itself (τ = 1).
    let mut file_b = good.file.clone();
    let outside = (0u64..)
        .find_map(|x| {
            let mut repr = <G2Affine as GroupEncoding>::Repr::default();
            repr.as_mut()[..8].copy_from_slice(&x.to_le_bytes());
            Option::<G2Affine>::from(G2Affine::from_bytes(&repr))
        })
        .unwrap();
    assert_ne!(
        (G2::from(outside)
            * -<halo2_proofs::halo2curves::bn256::Fr as halo2_proofs::halo2curves::ff::Field>::ONE)
            .to_affine(),
        -outside
    );
    file_b.s_g2 = outside.to_bytes().as_ref().to_vec();
    let encode = |f: &zkedge::bundle::BundleFile| {
        [b"ZKV1".to_vec(), postcard::to_allocvec(f).unwrap()].concat()
    };
    let err = Bundle::from_bytes(&encode(&file_b)).err().unwrap();
    assert!(err.to_string().contains("subgroup"), "{err}");
    file_b.s_g2 = G2Affine::generator().to_bytes().as_ref().to_vec();
    let one = Bundle::from_bytes(&encode(&file_b)).unwrap();
    assert!(matches!(
        one.check_pins(&Pins::default()),
        Err(BundleError::InsecureSrs { .. })
    ));
    assert!(one.verify(&file).is_err());
}
