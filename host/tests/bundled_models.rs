//! The bundled models in the circuit: honest inferences of their test samples satisfy it, and
//! changing assigned cells does not.

use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use rand::{seq::SliceRandom, Rng, SeedableRng};
use zkedge::circuit::{instance, ModelCircuit};
use zkedge_kernel::{infer::infer, layout::Layout, model::Model};

#[derive(serde::Deserialize)]
struct Samples {
    inputs: Vec<Vec<i8>>,
}

fn load(name: &str) -> (Arc<Model>, Samples) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models");
    let model =
        Model::from_json(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let samples = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.samples.json"))).unwrap(),
    )
    .unwrap();
    (Arc::new(model), samples)
}

fn mock(
    model: &Arc<Model>,
    layout: &Arc<Layout>,
    input: &[i8],
    tamper: Option<(usize, usize, i64)>,
) -> bool {
    let trace = infer(model, input).unwrap();
    let mut witness = layout.witness(model, &trace).unwrap();
    if let Some((column, row, delta)) = tamper {
        witness.advice[column][row] += delta;
    }
    let inst = instance(&witness);
    let circuit = ModelCircuit::prove(model.clone(), layout.clone(), Arc::new(witness));
    MockProver::run(layout.k(), &circuit, vec![inst])
        .unwrap()
        .verify_par()
        .is_ok()
}

#[test]
fn bundled_models_prove_their_test_samples() {
    let seed = accel_conformance::test_seed("bundled_models_prove_their_test_samples");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for name in ["italy-power-demand", "digits-cnn"] {
        let (model, samples) = load(name);
        let layout = Arc::new(Layout::new(&model).unwrap());
        eprintln!("{name}: k = {}, {} rows", layout.k(), layout.rows());
        // No larger than the per-channel threshold tables made them (12 and 13).
        assert!(layout.k() <= [12, 13][usize::from(name == "digits-cnn")]);
        for _ in 0..2 {
            let i = rng.gen_range(0..samples.inputs.len());
            assert!(
                mock(&model, &layout, &samples.inputs[i], None),
                "{name}: sample {i} rejected"
            );
        }
        let input = &samples.inputs[0];
        let mut cells = layout.assigned_cells(&model);
        cells.shuffle(&mut rng);
        for &(column, row, kind) in &cells[..8] {
            assert!(
                !mock(&model, &layout, input, Some((column, row, 1))),
                "{name}: changing a {kind} cell ({column}, {row}) was accepted"
            );
        }
    }
}
