//! End to end with stock halo2-axiom: setup, prove, verify; edited outputs and damaged keys
//! are rejected (every bit of a proof file: `canonical.rs`).

use rand::{rngs::StdRng, SeedableRng};
use zkedge::{
    keys::{self, Keys, Parts, SrsOrigin},
    proof::{self, MultiOpen, ProofFile},
    srs,
};
use zkedge_kernel::{
    layout::Layout,
    model::{synthetic, synthetic::Spec},
};

fn seed() -> u64 {
    accel_conformance::test_seed("prove_verify")
}

fn keys(rng: &mut StdRng) -> Keys {
    let model = synthetic::model(
        rng,
        [1, 4, 4],
        &[
            Spec::Conv {
                out: 2,
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 0, 0, 0],
            },
            Spec::Dense { out: 3 },
        ],
    );
    let k = Layout::new(&model).unwrap().k();
    keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap()
}

#[test]
fn proofs_verify_and_survive_a_round_trip_through_files() {
    let mut rng = StdRng::seed_from_u64(seed());
    let mut keys = keys(&mut rng);
    let dir = std::env::temp_dir().join(format!("zkedge-keys-{}", std::process::id()));
    keys.save(&dir).unwrap();
    let loaded = Keys::load(&dir, Parts::All).unwrap();
    assert_eq!(loaded.vk_hash, keys.vk_hash);
    for multiopen in [MultiOpen::Gwc, MultiOpen::Shplonk] {
        let input = synthetic::input(&mut rng, &loaded.model);
        let proved = proof::prove_halo2(&loaded, &input, multiopen, &mut rng).unwrap();
        let bytes = proved.file.to_bytes();
        let file = ProofFile::from_bytes(&bytes).unwrap();
        proof::verify(&keys, &file).unwrap();
        let verifier = Keys::load(&dir, Parts::Verify).unwrap();
        proof::verify(&verifier, &file).unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn editing_the_public_output_is_rejected() {
    let mut rng = StdRng::seed_from_u64(seed());
    let keys = keys(&mut rng);
    let input = synthetic::input(&mut rng, &keys.model);
    let file = proof::prove_halo2(&keys, &input, MultiOpen::Shplonk, &mut rng)
        .unwrap()
        .file;
    for i in 0..file.output.len() {
        let mut edited = file.clone();
        edited.output[i] = edited.output[i].wrapping_add(1);
        assert!(
            proof::verify(&keys, &edited).is_err(),
            "output {i} edited, still accepted"
        );
    }
    let mut edited = file.clone();
    edited.class = (edited.class + 1) % file.output.len() as u32;
    assert!(
        proof::verify(&keys, &edited).is_err(),
        "class edited, still accepted"
    );
}

#[test]
fn damaged_keys_are_reported_not_trusted() {
    let mut rng = StdRng::seed_from_u64(seed());
    let mut keys = keys(&mut rng);
    let dir = std::env::temp_dir().join(format!("zkedge-keys-damaged-{}", std::process::id()));
    keys.save(&dir).unwrap();
    for name in ["model.zkm", "params.srs", "vk.bin", "pk.bin", "zkedge.zpk"] {
        let path = dir.join(name);
        let original = std::fs::read(&path).unwrap();
        let mut damaged = original.clone();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        let err = Keys::load(&dir, Parts::All)
            .err()
            .expect("damaged keys loaded");
        assert!(err.to_string().contains(name), "{name}: {err}");
        std::fs::write(&path, &original[..original.len() / 3]).unwrap();
        assert!(
            Keys::load(&dir, Parts::All).is_err(),
            "{name} truncated, still loaded"
        );
        std::fs::write(&path, &original).unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
