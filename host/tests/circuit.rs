//! The circuit against halo2's MockProver: honest witnesses satisfy it; changing any assigned
//! cell, the public output or the class does not.

use std::sync::Arc;

use halo2_proofs::{
    dev::MockProver,
    halo2curves::bn256::Fr,
    plonk::{Circuit, ConstraintSystem},
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use zkedge::circuit::{field, instance, ModelCircuit};
use zkedge_kernel::{
    infer::infer,
    layout::{Layout, Witness, RESERVED_ROWS},
    model::{synthetic, synthetic::Spec, Model},
};

fn seed() -> u64 {
    accel_conformance::test_seed("circuit")
}

fn small_model(rng: &mut StdRng) -> Model {
    synthetic::model(
        rng,
        [2, 5, 6],
        &[
            Spec::Conv {
                out: 3,
                kernel: [3, 3],
                stride: [2, 1],
                padding: [1, 1, 0, 1],
            },
            Spec::Dense { out: 6 },
            Spec::Dense { out: 4 },
        ],
    )
}

fn check(model: &Arc<Model>, layout: &Arc<Layout>, witness: Witness) -> Result<(), String> {
    let inst = instance(&witness);
    let circuit = ModelCircuit::prove(model.clone(), layout.clone(), Arc::new(witness));
    let prover = MockProver::run(layout.k(), &circuit, vec![inst]).map_err(|e| e.to_string())?;
    prover
        .verify()
        .map_err(|e| format!("{} failures, first: {:?}", e.len(), e.first()))
}

#[test]
fn reserved_rows_match_halo2() {
    let mut cs = ConstraintSystem::<Fr>::default();
    ModelCircuit::configure(&mut cs);
    assert_eq!(cs.blinding_factors() + 1, RESERVED_ROWS);
}

#[test]
fn honest_witnesses_satisfy_the_circuit() {
    let mut rng = StdRng::seed_from_u64(seed());
    for _ in 0..3 {
        let model = Arc::new(small_model(&mut rng));
        let layout = Arc::new(Layout::new(&model).unwrap());
        for _ in 0..3 {
            let trace = infer(&model, &synthetic::input(&mut rng, &model)).unwrap();
            let witness = layout.witness(&model, &trace).unwrap();
            check(&model, &layout, witness).unwrap();
        }
    }
}

#[test]
fn changing_any_assigned_cell_breaks_the_circuit() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(small_model(&mut rng));
    let layout = Arc::new(Layout::new(&model).unwrap());
    let trace = infer(&model, &synthetic::input(&mut rng, &model)).unwrap();
    let honest = layout.witness(&model, &trace).unwrap();
    let mut cells = layout.assigned_cells(&model);
    cells.shuffle(&mut rng);
    let sample = 120.min(cells.len());
    for &(column, row) in &cells[..sample] {
        let mut w = honest.clone();
        let delta = if rng.gen() { 1 } else { -1 };
        w.advice[column as usize][row] += delta;
        assert!(
            check(&model, &layout, w).is_err(),
            "changing {column:?}[{row}] by {delta} still satisfies the circuit"
        );
    }
}

#[test]
fn a_wrong_public_output_or_class_is_rejected() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(small_model(&mut rng));
    let layout = Arc::new(Layout::new(&model).unwrap());
    let trace = infer(&model, &synthetic::input(&mut rng, &model)).unwrap();
    let witness = Arc::new(layout.witness(&model, &trace).unwrap());
    let circuit = ModelCircuit::prove(model.clone(), layout.clone(), witness.clone());
    for i in 0..witness.instance.len() {
        let mut inst = instance(&witness);
        inst[i] += field(1);
        let prover = MockProver::run(layout.k(), &circuit, vec![inst]).unwrap();
        assert!(
            prover.verify().is_err(),
            "instance {i} changed, still accepted"
        );
    }
}

#[test]
fn tables_leave_halo2_a_row_to_spare() {
    // Regression: a threshold table exactly as long as the usable rows made halo2 fill past them.
    let mut rng = StdRng::seed_from_u64(4229686103139432635);
    let model = Arc::new(small_model(&mut rng));
    let layout = Arc::new(Layout::new(&model).unwrap());
    let trace = infer(&model, &synthetic::input(&mut rng, &model)).unwrap();
    check(&model, &layout, layout.witness(&model, &trace).unwrap()).unwrap();

    let mut rng = StdRng::seed_from_u64(seed());
    for _ in 0..200 {
        let model = small_model(&mut rng);
        let layout = Layout::new(&model).unwrap();
        let usable = (1usize << layout.k()) - RESERVED_ROWS;
        assert!(layout.threshold_table().len() < usable && 256 < usable && layout.rows() <= usable);
    }
}
