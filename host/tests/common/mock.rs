//! halo2's MockProver over a model's circuit, and witnesses with the Poseidon the host uses.

use std::sync::Arc;

use halo2_proofs::{dev::MockProver, halo2curves::bn256::Fr};
use zkedge::circuit::ModelCircuit;
use zkedge_kernel::{
    infer::infer,
    layout::{Layout, Witness},
    model::Model,
};

/// The witness of `model` on `input`, a hashed input's commitment under `salt` (the salt is
/// not read elsewhere), hashed weights hashed.
pub fn witness(layout: &Layout, model: &Model, input: &[i8], salt: u64) -> Witness {
    let trace = infer(model, input).unwrap();
    layout
        .witness_with_salt(
            model,
            &trace,
            zkedge::poseidon::poseidon(),
            zkedge_kernel::prover::Fr::from(salt),
        )
        .unwrap()
}

/// Whether `w` with instance `inst` satisfies the circuit, by MockProver.
pub fn check(
    model: &Arc<Model>,
    layout: &Arc<Layout>,
    w: Witness,
    inst: Vec<Fr>,
) -> Result<(), String> {
    let circuit = ModelCircuit::prove(model.clone(), layout.clone(), Arc::new(w));
    let prover = MockProver::run(layout.k(), &circuit, vec![inst]).map_err(|e| e.to_string())?;
    // MockProver panics while describing some failures (a gate that reads the row above, failing
    // on row 0, shows the wrapped-around cell, which it poisons): a failure all the same.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prover.verify_par()))
        .map_err(|_| "MockProver panicked describing a failure".to_string())?
        .map_err(|e| format!("{} failures, first: {:?}", e.len(), e.first()))
}
