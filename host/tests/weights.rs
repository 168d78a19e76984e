//! Hashed weights: the circuit against halo2's MockProver — honest witnesses satisfy it in
//! several shapes, changing any kind of cell by ±1 (the weight and bias cells of the
//! multiply–accumulate rows, the hashed tape, its packing sums, the sponge) or the weights'
//! hash in the instance does not — a verifying key that is the same for any weights, and full
//! proofs from both provers checked by halo2-axiom's `verify_proof`, naming the weights they
//! were made with.

mod common;

use std::{collections::BTreeMap, sync::Arc};

use common::mock::{check, witness};

use ark_ff::Field as _;
use halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use zkedge::{
    bundle::{self, Bundle},
    circuit::{instance, ModelCircuit},
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen, ProofError, ProofFile},
    srs,
};
use zkedge_kernel::{
    layout::{Layout, Params, Visibility, Weights},
    model::{synthetic, synthetic::Spec, Model},
};

fn seed() -> u64 {
    accel_conformance::test_seed("weights")
}

/// Every op with weights (a padded convolution, a depthwise one with multiplier 2, dense) and
/// the ops whose coefficients stay public beside them (an add, an average pool).
fn model(rng: &mut StdRng) -> Model {
    synthetic::model(
        rng,
        [2, 5, 4],
        &[
            Spec::Conv {
                out: 3,
                kernel: [3, 3],
                stride: [1, 1],
                padding: [1, 1, 1, 1],
            },
            Spec::Depthwise {
                multiplier: 2,
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 1, 0, 1],
            },
            Spec::Depthwise {
                multiplier: 1,
                kernel: [1, 1],
                stride: [1, 1],
                padding: [0, 0, 0, 0],
            },
            Spec::Add { back: 1 },
            Spec::AvgPool {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0, 0, 0],
            },
            Spec::Flatten,
            Spec::Dense { out: 4 },
        ],
    )
}

/// `model` with other weights and biases drawn at random (shapes and quantisation kept).
fn reweighted(rng: &mut StdRng, model: &Model) -> Model {
    let mut json: serde_json::Value = serde_json::from_str(&model.to_json()).unwrap();
    for op in json["ops"].as_array_mut().unwrap() {
        if let Some(w) = op.get_mut("weights") {
            for v in w.as_array_mut().unwrap() {
                *v = serde_json::json!(rng.gen_range(-127..=127));
            }
        }
        if let Some(b) = op.get_mut("bias") {
            for v in b.as_array_mut().unwrap() {
                *v = serde_json::json!(rng.gen_range(-5000..5000));
            }
        }
    }
    Model::from_json(&json.to_string()).unwrap()
}

fn layout(model: &Model, input: Visibility) -> Layout {
    Layout::with_visibility(model, input, Weights::Hashed).unwrap()
}

#[test]
fn honest_witnesses_satisfy_hashed_weights_in_every_shape() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(model(&mut rng));
    for input in [Visibility::Private, Visibility::Hashed] {
        let chosen = layout(&model, input);
        assert_eq!(chosen.weights(), Weights::Hashed);
        let base = *chosen.params();
        // Shared lanes over several accumulators, own lanes, several slots.
        for (lanes, accs, slots) in [(6, 1, 1), (8, 4, 2), (12, 3, 3), (6, 2, 1)] {
            let params = Params {
                lanes,
                accs,
                slots,
                ..base
            };
            let layout = Arc::new(Layout::with_params(&model, params).unwrap());
            let x = synthetic::input(&mut rng, &model);
            let w = witness(&layout, &model, &x, rng.gen());
            let expected =
                zkedge_kernel::layout::hash::weights_hash(zkedge::poseidon::poseidon(), &model);
            // The sponge over the tape gives the hash of the model's own words.
            assert_eq!(w.weights_hash, Some(expected));
            assert_eq!(w.commitment.is_some(), input == Visibility::Hashed);
            let inst = instance(&w);
            assert_eq!(inst.len(), layout.instance_len());
            check(&model, &layout, w, inst).unwrap_or_else(|e| panic!("{params:?}: {e}"));
        }
    }
}

#[test]
fn changing_any_kind_of_cell_breaks_hashed_weights() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(model(&mut rng));
    let base = *layout(&model, Visibility::Hashed).params();
    // Several accumulators sharing lanes, and a hashed input's sponge before the weights'.
    let params = Params {
        lanes: 8,
        accs: 4,
        slots: 2,
        ..base
    };
    let layout = Arc::new(Layout::with_params(&model, params).unwrap());
    let x = synthetic::input(&mut rng, &model);
    let honest = witness(&layout, &model, &x, rng.gen());
    let inst = instance(&honest);
    let integers = layout.advice_columns().integer_count();
    let mut kinds: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for (column, row, kind) in layout.assigned_cells(&model) {
        kinds.entry(kind).or_default().push((column, row));
    }
    for expected in [
        "hashed weight",
        "hashed bias",
        "weight",
        "weight (table side)",
        "bias byte",
        "bias byte (table side)",
        "weight packing sum",
        "packing sum",
        "absorbed word",
        "absorbed state",
        "full-round state",
        "partial-round square",
        "final state",
        "conv2d",
        "depthwise_conv2d",
        "dense",
        "avg_pool2d",
        "add",
        "accumulator",
    ] {
        assert!(kinds.contains_key(expected), "no {expected} cells laid out");
    }
    for (kind, mut cells) in kinds {
        cells.shuffle(&mut rng);
        for &(column, row) in cells.iter().take(2) {
            let up = rng.gen::<bool>();
            let mut w = honest.clone();
            match column.checked_sub(integers) {
                None => w.advice[column][row] += if up { 1 } else { -1 },
                Some(c) if up => w.wide[c][row] += zkedge_kernel::prover::Fr::ONE,
                Some(c) => w.wide[c][row] -= zkedge_kernel::prover::Fr::ONE,
            }
            assert!(
                check(&model, &layout, w, inst.clone()).is_err(),
                "changing a {kind} cell (column {column}, row {row}) by ±1 still satisfies \
                 the circuit"
            );
        }
    }
    // Each public output, the class, and the weights' hash (the instance's last value), moved
    // by ±1.
    let outputs = model.output_len();
    for at in (0..=outputs).chain([inst.len() - 1]) {
        for delta in [Fr::from(1u64), -Fr::from(1u64)] {
            let mut wrong = inst.clone();
            wrong[at] += delta;
            assert!(
                check(&model, &layout, honest.clone(), wrong).is_err(),
                "instance value {at} moved by ±1 still verifies"
            );
        }
    }
    // Other weights, consistently hashed: the circuit is satisfied, with their own hash only.
    let other = Arc::new(reweighted(&mut rng, &model));
    let theirs = witness(&layout, &other, &x, rng.gen());
    assert_ne!(theirs.weights_hash, honest.weights_hash);
    let mut claimed = instance(&theirs);
    check(&other, &layout, theirs.clone(), claimed.clone()).unwrap();
    *claimed.last_mut().unwrap() = *inst.last().unwrap();
    assert!(check(&other, &layout, theirs, claimed).is_err());
}

#[test]
fn the_verifying_key_is_the_same_for_any_weights() {
    let mut rng = StdRng::seed_from_u64(seed());
    let a = model(&mut rng);
    let b = reweighted(&mut rng, &a);
    let k = layout(&a, Visibility::Private).k();
    assert_eq!(k, layout(&b, Visibility::Private).k());
    let srs = srs::dev(k);
    let vk = |m: &Model, w| bundle::derive_vk_hash(m, &srs, Visibility::Private, w).unwrap();
    let hashed = vk(&a, Weights::Hashed);
    assert_eq!(hashed, vk(&b, Weights::Hashed));
    assert_eq!(hashed, vk(&a.without_weights(), Weights::Hashed));
    // Fixed weights are in the key: the same comparison tells the models apart (each over an
    // SRS of its own layout's size).
    let fixed = |m: &Model| {
        let k = Layout::with_input(m, Visibility::Private).unwrap().k();
        bundle::derive_vk_hash(m, &srs::dev(k), Visibility::Private, Weights::Fixed).unwrap()
    };
    assert_ne!(fixed(&a), fixed(&b));
}

fn keys_for(model: Model) -> Keys {
    let k = layout(&model, Visibility::Private).k();
    keys::generate_visible(
        model,
        srs::dev(k),
        SrsOrigin::InsecureDev,
        Visibility::Private,
        Weights::Hashed,
    )
    .unwrap()
}

#[test]
fn both_provers_make_hashed_weight_proofs_that_halo2_verifies() {
    let mut rng = StdRng::seed_from_u64(seed());
    let a = model(&mut rng);
    let b = reweighted(&mut rng, &a);
    let keys = keys_for(a.clone());
    let hash_a = proof::weights_hash(&a).to_repr();
    assert_eq!(keys.weights_hash, Some(hash_a));
    // The keys name the model without its weights; the bundle carries no weights at all.
    assert_eq!(
        keys.model_hash,
        zkedge::files::hash(&a.without_weights().to_bytes())
    );
    let verifier = Bundle::from_bytes(&Bundle::of(&keys).to_bytes()).unwrap();
    verifier
        .check_model(&a.without_weights(), &keys.srs)
        .unwrap();
    let input = synthetic::input(&mut rng, &keys.model);
    let halo2 = proof::prove_halo2(&keys, &input, MultiOpen::Gwc, &mut rng).unwrap();
    let mut prover = proof::zk_prover(&keys, accel_backends::CpuBackend::new()).unwrap();
    let (zkedge, _) = proof::prove_zkedge_with_salt(
        &keys,
        &mut prover,
        &input,
        None,
        MultiOpen::Shplonk,
        &mut rng,
    )
    .unwrap();
    for proved in [halo2, zkedge] {
        let file = ProofFile::from_bytes(&proved.file.to_bytes()).unwrap();
        assert_eq!(file.weights, Some(hash_a));
        proof::verify(&keys, &file).unwrap();
        verifier.verify(&file).unwrap();
        // Claiming other weights does not verify.
        let mut forged = file.clone();
        forged.weights = Some(proof::weights_hash(&b).to_repr());
        assert!(matches!(
            verifier.verify(&forged),
            Err(ProofError::Invalid { .. })
        ));
        // Nor does dropping the hash: the header names the mismatch.
        let mut dropped = file.clone();
        dropped.weights = None;
        assert!(matches!(
            verifier.verify(&dropped),
            Err(ProofError::WrongWeights { .. })
        ));
        // A hash that is not a canonical scalar is not a proof file.
        let mut bad = file;
        bad.weights = Some([0xff; 32]);
        assert!(matches!(
            ProofFile::from_bytes(&bad.to_bytes()),
            Err(ProofError::NonCanonical(_))
        ));
    }
    // Keys made from other weights share the verifying key: their proofs verify against the
    // same bundle, naming the other weights' hash — which is why a verifier pins the hash.
    let keys_b = keys_for(b.clone());
    assert_eq!(keys_b.vk_hash, keys.vk_hash);
    let file = proof::prove_halo2(&keys_b, &input, MultiOpen::Gwc, &mut rng)
        .unwrap()
        .file;
    verifier.verify(&file).unwrap();
    assert_eq!(file.weights, Some(proof::weights_hash(&b).to_repr()));
    assert_ne!(file.weights, Some(hash_a));
}

#[test]
fn hashed_weights_keep_the_constraint_degree() {
    use halo2_proofs::plonk::{Circuit, ConstraintSystem};
    let mut rng = StdRng::seed_from_u64(seed());
    let model = model(&mut rng);
    let degree = |weights| {
        let layout = Layout::with_visibility(&model, Visibility::Private, weights).unwrap();
        let mut cs = ConstraintSystem::<Fr>::default();
        ModelCircuit::configure_with_params(&mut cs, zkedge::circuit::Shape(*layout.params()));
        cs.degree()
    };
    // The weights' gate is of degree 5, as the function lookup already is: the extended domain
    // (4·2^k) does not grow.
    assert_eq!(degree(Weights::Hashed), degree(Weights::Fixed));
    assert_eq!(degree(Weights::Hashed), 5);
}

#[test]
fn one_models_inference_with_another_models_hashed_tape_is_rejected() {
    // The multiply–accumulate rows computed with model B's weights, the tape, packing sums and
    // sponge (and so the hash in the instance) of model A's: every cell of each part is
    // consistent on its own, so only the copies from the tape to the rows can refuse it.
    let mut rng = StdRng::seed_from_u64(seed());
    let a = Arc::new(model(&mut rng));
    let b = Arc::new(reweighted(&mut rng, &a));
    for input in [Visibility::Private, Visibility::Hashed] {
        let layout = Arc::new(layout(&a, input));
        let x = synthetic::input(&mut rng, &a);
        let salt = rng.gen();
        let (wa, wb) = (
            witness(&layout, &a, &x, salt),
            witness(&layout, &b, &x, salt),
        );
        let f1 = layout.advice_columns().f(1);
        let tape: Vec<usize> = layout
            .assigned_cells(&a)
            .into_iter()
            .filter(|&(c, _, kind)| c == f1 && (kind == "weight" || kind == "bias byte"))
            .map(|(_, row, _)| row)
            .collect();
        assert!(!tape.is_empty());
        let mut mixed = wb.clone();
        for &row in &tape {
            mixed.advice[f1][row] = wa.advice[f1][row];
        }
        mixed.wide.clone_from(&wa.wide);
        mixed.weights_hash = wa.weights_hash;
        // B's inference and hash satisfy the circuit; the mix does not.
        check(&b, &layout, wb.clone(), instance(&wb)).unwrap();
        let inst = instance(&mixed);
        assert!(
            check(&b, &layout, mixed, inst).is_err(),
            "{input:?}: model B's inference was accepted under model A's weights' hash"
        );
    }
}
