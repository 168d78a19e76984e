//! The circuit against halo2's MockProver: honest witnesses of every op satisfy it, in several
//! shapes; changing any kind of assigned cell by ±1, a public output or the class does not.

use std::{collections::BTreeMap, sync::Arc};

use halo2_proofs::{
    dev::MockProver,
    halo2curves::bn256::Fr,
    plonk::{Circuit, ConstraintSystem},
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use zkedge::circuit::{field, instance, ModelCircuit, Shape};
use zkedge_kernel::{
    infer::infer,
    layout::{Layout, Params, Witness},
    model::{synthetic, synthetic::Spec, Model},
};

fn seed() -> u64 {
    accel_conformance::test_seed("circuit")
}

/// A model with every op: convolutions (stride, padding, dilation), depthwise (multiplier 1
/// and 2), a residual add, both pools (a 3×3 average whose divisors 9, 6 and 4 are not all
/// powers of two, so the rescale's `ρ < d` limbs are used; a max pool with a clamp), a
/// channels-last flatten, dense layers.
fn every_op(rng: &mut StdRng) -> Model {
    let model = synthetic::model(
        rng,
        [2, 7, 6],
        &[
            Spec::Conv {
                out: 3,
                kernel: [3, 3],
                stride: [1, 1],
                padding: [1, 1, 1, 1],
            },
            Spec::Depthwise {
                multiplier: 2,
                kernel: [3, 2],
                stride: [2, 1],
                padding: [1, 0, 1, 1],
            },
            Spec::Depthwise {
                multiplier: 1,
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 0, 1, 1],
            },
            Spec::Add { back: 1 },
            Spec::DilatedConv {
                out: 4,
                kernel: [2, 2],
                dilation: [2, 1],
            },
            Spec::AvgPool {
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 0, 1, 1],
            },
            Spec::AvgPool {
                kernel: [3, 3],
                stride: [1, 1],
                padding: [1, 1, 1, 1],
            },
            Spec::MaxPool {
                kernel: [2, 2],
                stride: [1, 2],
                padding: [1, 0, 0, 1],
            },
            Spec::Flatten,
            Spec::Dense { out: 5 },
            Spec::Dense { out: 3 },
        ],
    );
    // The synthetic model clamps a pool at random; the max pool's clamp has its own tape rows.
    let mut json: serde_json::Value = serde_json::from_str(&model.to_json()).unwrap();
    for op in json["ops"].as_array_mut().unwrap() {
        if op["type"] == "max_pool2d" {
            op["clamp"] = serde_json::json!({ "min": -100, "max": 90 });
        }
    }
    Model::from_json(&json.to_string()).unwrap()
}

/// Shapes other than the cost model's choice: shared and own lanes, several slots, wide limbs
/// (16-bit limbs leave a block's last rows spare: fewer limbs than the constants' ten rows).
fn shapes(layout: &Layout) -> Vec<Params> {
    let base = *layout.params();
    [
        (6, 1, 1, 8),
        (8, 4, 2, 8),
        (12, 3, 3, 10),
        (6, 2, 1, 9),
        (6, 1, 2, 16),
    ]
    .into_iter()
    .map(|(lanes, accs, slots, limb_bits)| Params {
        lanes,
        accs,
        slots,
        limb_bits,
        ..base
    })
    .collect()
}

fn check(model: &Arc<Model>, layout: &Arc<Layout>, witness: Witness) -> Result<(), String> {
    let inst = instance(&witness);
    let circuit = ModelCircuit::prove(model.clone(), layout.clone(), Arc::new(witness));
    let prover = MockProver::run(layout.k(), &circuit, vec![inst]).map_err(|e| e.to_string())?;
    // halo2-axiom 0.5.3's MockProver formats each failing gate's cells, and reaches an
    // `unreachable!` (dev/util.rs, `cell_value`) when one of them is a poisoned (blinding-row)
    // cell: that code runs only for a constraint that failed, so its panic is a rejection.
    // Any other panic is the test's own and is raised again.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prover.verify_par())) {
        Ok(result) => result.map_err(|e| format!("{} failures, first: {:?}", e.len(), e.first())),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if message.contains("entered unreachable code") {
                Err("a failing gate over a poisoned cell (MockProver's reporter panicked)".into())
            } else {
                std::panic::resume_unwind(panic)
            }
        }
    }
}

#[test]
fn reserved_rows_match_halo2() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = every_op(&mut rng);
    let layout = Layout::new(&model).unwrap();
    let mut all: Vec<Params> = shapes(&layout)
        .into_iter()
        .chain([*layout.params()])
        .map(|p| *Layout::with_params(&model, p).unwrap().params())
        .collect();
    // A block with fewer limbs than its constants' ten rows: its last rows are spare, and
    // halo2 counts only the rotations `R_p` is read at.
    let mut small = all[0];
    small.template = zkedge_kernel::layout::Template {
        rho: 1,
        sign: 0,
        above: 1,
        below: 1,
        upper: 0,
    };
    let o = small.template.offsets();
    assert!(o.upper_end < o.len);
    all.push(small);
    for params in all {
        let mut cs = ConstraintSystem::<Fr>::default();
        ModelCircuit::configure_with_params(&mut cs, Shape(params));
        assert_eq!(
            cs.blinding_factors() + 1,
            params.reserved_rows(),
            "{params:?}"
        );
        assert!(cs.degree() <= 5, "degree {}", cs.degree());
    }
}

#[test]
fn honest_witnesses_satisfy_the_circuit_in_every_shape() {
    let mut rng = StdRng::seed_from_u64(seed());
    for _ in 0..2 {
        let model = Arc::new(every_op(&mut rng));
        let chosen = Layout::new(&model).unwrap();
        for params in shapes(&chosen).into_iter().chain([*chosen.params()]) {
            let layout = Arc::new(Layout::with_params(&model, params).unwrap());
            let mut inputs = vec![
                vec![i8::MIN; model.input_len()],
                vec![i8::MAX; model.input_len()],
            ];
            inputs.push(synthetic::input(&mut rng, &model));
            for input in inputs {
                let trace = infer(&model, &input).unwrap();
                let witness = layout.witness(&model, &trace).unwrap();
                check(&model, &layout, witness).unwrap_or_else(|e| panic!("{params:?}: {e}"));
            }
        }
    }
}

#[test]
fn changing_any_kind_of_assigned_cell_breaks_the_circuit() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(every_op(&mut rng));
    let chosen = Layout::new(&model).unwrap();
    // One shape with shared lanes over several accumulators, one with 9-bit limbs.
    for params in [shapes(&chosen)[1], shapes(&chosen)[3]] {
        let layout = Arc::new(Layout::with_params(&model, params).unwrap());
        let trace = infer(&model, &synthetic::input(&mut rng, &model)).unwrap();
        let honest = layout.witness(&model, &trace).unwrap();
        let mut kinds: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
        for (column, row, kind) in layout.assigned_cells(&model) {
            kinds.entry(kind).or_default().push((column, row));
        }
        for expected in [
            "conv2d",
            "depthwise_conv2d",
            "dense",
            "avg_pool2d",
            "add",
            "accumulator",
            "rescale input",
            "sign",
            "quotient",
            "output",
            "remainder limb",
            "sign limb",
            "above-clamp limb",
            "below-clamp limb",
            "out − lo limb",
            "hi − out limb",
            "upper limb",
            "input",
            "input (table side)",
            "add input",
            "add input rescaled",
            "max step candidate",
            "max step running max",
            "max step previous max",
            "max clamp input",
            "max clamp output",
            "argmax logit",
            "argmax bit",
            "argmax prefix sum",
            "argmax running max",
            "argmax class",
            "argmax margin",
            "argmax margin (table side)",
        ] {
            assert!(kinds.contains_key(expected), "no {expected} cells laid out");
        }
        // Each kind twice, each time +1 or −1 at random (a MockProver run is ~1 s here).
        for (kind, mut cells) in kinds {
            cells.shuffle(&mut rng);
            for &(column, row) in cells.iter().take(2) {
                let delta = if rng.gen() { 1 } else { -1 };
                let mut w = honest.clone();
                w.advice[column][row] += delta;
                assert!(
                    check(&model, &layout, w).is_err(),
                    "{params:?}: changing a {kind} cell (column {column}, row {row}) by \
                     {delta} still satisfies the circuit"
                );
            }
        }
    }
}

#[test]
fn a_wrong_public_output_or_class_is_rejected() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(every_op(&mut rng));
    let layout = Arc::new(Layout::new(&model).unwrap());
    let trace = infer(&model, &synthetic::input(&mut rng, &model)).unwrap();
    let witness = Arc::new(layout.witness(&model, &trace).unwrap());
    let circuit = ModelCircuit::prove(model.clone(), layout.clone(), witness.clone());
    for i in 0..witness.instance.len() {
        for delta in [1, -1] {
            let mut inst = instance(&witness);
            inst[i] += field(delta);
            let prover = MockProver::run(layout.k(), &circuit, vec![inst]).unwrap();
            assert!(
                prover.verify_par().is_err(),
                "instance {i} changed by {delta}, still accepted"
            );
        }
    }
}

#[test]
fn tables_and_rows_leave_halo2_a_row_to_spare() {
    let mut rng = StdRng::seed_from_u64(seed());
    for _ in 0..20 {
        let model = every_op(&mut rng);
        let layout = Layout::new(&model).unwrap();
        let usable = (1usize << layout.k()) - layout.params().reserved_rows();
        assert!(layout.rows() <= usable);
        assert!(layout.range_table().len() < usable);
        assert!(layout.function_table(&model).len() < usable);
        let _ = rng.gen::<u8>();
    }
}
