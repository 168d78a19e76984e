//! zkedge's key generation (`zkedge::keygen`, no `keygen_pk`) against halo2-axiom's own: the
//! zkedge key it makes must be byte for byte the one exported from halo2's `keygen_pk`, and the
//! verifying key it builds from its own commitments byte for byte `keygen_vk`'s.

use halo2_proofs::{
    halo2curves::bn256::{Fr, G1Affine},
    plonk::{keygen_pk, keygen_vk, Circuit, VerifyingKey},
    SerdeFormat,
};
use zkedge::{
    bundled,
    circuit::ModelCircuit,
    export::export,
    keygen::{self, KeygenError, VkSource},
    srs,
    synthetic::{
        wide::{Shape, Wide},
        Synthetic,
    },
};
use zkedge_kernel::{
    layout::Layout,
    model::Model,
    prover::{to_bytes, KeyError, ProvingKey},
};

fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.write(&mut out, SerdeFormat::RawBytes).unwrap();
    out
}

/// Both verifying-key sources against halo2's keygen_vk + keygen_pk + export.
fn same_as_halo2<C: Circuit<Fr>>(k: u32, circuit: &C) {
    let params = srs::dev(k);
    let vk = keygen_vk(&params, circuit).unwrap();
    let pk = keygen_pk(&params, vk.clone(), circuit).unwrap();
    let reference = to_bytes(&export(&pk).unwrap());
    let mut steps = Vec::new();
    let (vk_halo2, key, from_halo2) =
        keygen::keys(&params, circuit, VkSource::Halo2, &mut |s| steps.push(s)).unwrap();
    assert!(from_halo2 && !steps.is_empty());
    assert_eq!(vk_bytes(&vk_halo2), vk_bytes(&vk));
    assert!(
        key.to_bytes() == reference,
        "k = {k}: the zkedge key differs from halo2's export"
    );
    let (vk_own, key, from_halo2) =
        keygen::keys(&params, circuit, VkSource::Zkedge, &mut |_| {}).unwrap();
    assert!(!from_halo2);
    assert!(
        vk_bytes(&vk_own) == vk_bytes(&vk),
        "k = {k}: the verifying key from zkedge's commitments differs from keygen_vk's"
    );
    assert_eq!(vk_own.transcript_repr(), vk.transcript_repr());
    assert!(key.to_bytes() == reference);
    // The key file reads back to the same key.
    assert!(ProvingKey::from_bytes(&reference).unwrap() == key);
}

#[test]
fn synthetic_circuit_keys_equal_halo2s() {
    same_as_halo2(9, &Synthetic::new(9, 0, false));
}

#[test]
fn wide_circuit_keys_equal_halo2s() {
    let shape = Shape {
        advice: 14,
        fixed: 20,
        lookups: 2,
        equality: 6,
    };
    let circuit = Wide {
        k: 10,
        shape,
        seed: 0,
        witness: false,
    };
    same_as_halo2(10, &circuit);
}

#[test]
fn model_circuit_keys_equal_halo2s() {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let layout = Layout::new(&model).unwrap();
    let k = layout.k();
    let circuit = ModelCircuit::keygen(model.into(), layout.into());
    same_as_halo2(k, &circuit);
}

#[test]
fn a_wrong_column_is_named() {
    let k = 8;
    let circuit = Synthetic::new(k, 0, false);
    let params = srs::dev(k);
    let vk = keygen_vk(&params, &circuit).unwrap();
    let (fixed, mut sigmas) = keygen::columns(k, &circuit, false).unwrap();
    keygen::check(&params, &vk, &fixed, &sigmas).unwrap();
    // Two labels of one σ column swapped: the cycles' order is wrong there.
    sigmas[2].swap(3, 40);
    match keygen::check(&params, &vk, &fixed, &sigmas) {
        Err(KeygenError::Mismatch(what)) => assert_eq!(what, "the σ of permutation column 2"),
        other => panic!("a wrong σ passed the check: {other:?}"),
    }
    sigmas[2].swap(3, 40);
    let mut fixed = fixed;
    fixed[1][7] += Fr::from(1u64);
    match keygen::check(&params, &vk, &fixed, &sigmas) {
        Err(KeygenError::Mismatch(what)) => assert_eq!(what, "fixed column 1"),
        other => panic!("a wrong fixed column passed the check: {other:?}"),
    }
}

#[test]
fn a_non_canonical_element_is_refused() {
    let k = 6;
    let circuit = Synthetic::new(k, 0, false);
    let params = srs::dev(k);
    let (_, key, _) = keygen::keys(&params, &circuit, VkSource::Zkedge, &mut |_| {}).unwrap();
    let mut bytes = key.to_bytes();
    // The last σ element is the file's last 32 bytes: make it the modulus r itself.
    let r = [
        0x01, 0x00, 0x00, 0xf0, 0x93, 0xf5, 0xe1, 0x43, 0x91, 0x70, 0xb9, 0x79, 0x48, 0xe8, 0x33,
        0x28, 0x5d, 0x58, 0x81, 0x81, 0xb6, 0x45, 0x50, 0xb8, 0x29, 0xa0, 0x31, 0xe1, 0x72, 0x4e,
        0x64, 0x30,
    ];
    let at = bytes.len() - 32;
    bytes[at..].copy_from_slice(&r);
    assert_eq!(ProvingKey::from_bytes(&bytes), Err(KeyError::NonCanonical));
}
