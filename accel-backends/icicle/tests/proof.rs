//! A full zkedge proof of the bundled model with every MSM and NTT on ICICLE, checked by
//! halo2-axiom's stock verifier.

mod common;

use accel_backends::Backend;
use rand::rngs::OsRng;
use zkedge::{
    bundled,
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen},
    srs,
};
use zkedge_kernel::{layout::Layout, model::Model};

fn keys() -> Keys {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let k = Layout::new(&model).unwrap().k();
    keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap()
}

#[test]
fn proofs_made_on_icicle_verify() {
    let keys = keys();
    let samples = bundled::samples().unwrap();
    for (sample, multiopen) in [(5, MultiOpen::Gwc), (2, MultiOpen::Shplonk)] {
        let input = &samples.inputs[sample];
        let backend = common::backend();
        let (proved, times, backend) =
            proof::prove_zkedge(&keys, input, multiopen, backend, &mut OsRng).unwrap();
        let counters = *backend.counters();
        eprintln!(
            "{multiopen:?} on {}: {counters:?}\n{times:?}",
            backend.selected()
        );
        assert!(counters.msm_calls > 0 && counters.ntt_calls > 0);
        // The SRS went over once: two sets of bases (monomial, Lagrange), each loaded once.
        assert_eq!(counters.bases_loads, 2);
        proof::verify(&keys, &proved.file).unwrap();

        // A proof with one byte changed does not verify: the check can fail.
        let mut bad = proved.file.clone();
        let last = bad.proof.len() - 1;
        bad.proof[last] ^= 1;
        assert!(proof::verify(&keys, &bad).is_err());
    }
}
