//! Input visibility (`private` | `public` | `hashed`): the circuit against halo2's MockProver —
//! honest witnesses satisfy it, changing any kind of the commitment's cells by ±1, or a public
//! input or the commitment in the instance, does not — and full proofs of each visibility from
//! both provers, checked by halo2-axiom's `verify_proof`.

mod common;

use std::{collections::BTreeMap, sync::Arc};

use common::mock::{check, witness};

use ark_ff::{AdditiveGroup, Field};
use halo2_proofs::halo2curves::bn256::Fr;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use zkedge::{
    circuit::instance,
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen, ProofError, ProofFile, Revealed},
    srs,
};
use zkedge_kernel::{
    layout::{Layout, Visibility},
    model::{synthetic, synthetic::Spec, Model},
};

fn seed() -> u64 {
    accel_conformance::test_seed("visibility")
}

/// A small model on `c × h × w` inputs: a convolution, then dense layers.
fn model(rng: &mut StdRng, input: [u16; 3]) -> Model {
    synthetic::model(
        rng,
        input,
        &[
            Spec::Conv {
                out: 2,
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 0, 0, 0],
            },
            Spec::Flatten,
            Spec::Dense { out: 3 },
        ],
    )
}

#[test]
fn honest_witnesses_satisfy_every_visibility() {
    let mut rng = StdRng::seed_from_u64(seed());
    // 70 inputs: 4 words with the salt (the padding a block of its own); 40: 3 words (the
    // padding in lane 2 of the last block).
    for shape in [[2, 5, 7], [1, 4, 10]] {
        let model = Arc::new(model(&mut rng, shape));
        for input_visibility in [Visibility::Private, Visibility::Public, Visibility::Hashed] {
            let layout = Arc::new(Layout::with_input(&model, input_visibility).unwrap());
            assert_eq!(layout.input_visibility(), input_visibility);
            for input in [
                vec![i8::MIN; model.input_len()],
                vec![i8::MAX; model.input_len()],
                synthetic::input(&mut rng, &model),
            ] {
                let w = witness(&layout, &model, &input, rng.gen());
                let inst = instance(&w);
                assert_eq!(inst.len(), layout.instance_len());
                check(&model, &layout, w, inst)
                    .unwrap_or_else(|e| panic!("{input_visibility:?} {shape:?}: {e}"));
            }
        }
    }
}

#[test]
fn changing_any_kind_of_commitment_cell_breaks_the_circuit() {
    let mut rng = StdRng::seed_from_u64(seed());
    for shape in [[2, 5, 7], [1, 4, 10]] {
        let model = Arc::new(model(&mut rng, shape));
        let layout = Arc::new(Layout::with_input(&model, Visibility::Hashed).unwrap());
        let input = synthetic::input(&mut rng, &model);
        let honest = witness(&layout, &model, &input, rng.gen());
        let inst = instance(&honest);
        let integers = layout.advice_columns().integer_count();
        let mut kinds: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
        for (column, row, kind) in layout.assigned_cells(&model) {
            if column >= integers || kind == "input" {
                kinds.entry(kind).or_default().push((column, row));
            }
        }
        for expected in [
            "input",
            "packing sum",
            "salt",
            "absorbed word",
            "absorbed state",
            "full-round state",
            "full-round square",
            "partial-round state",
            "partial-round square",
            "final state",
        ] {
            assert!(kinds.contains_key(expected), "no {expected} cells laid out");
        }
        for (kind, mut cells) in kinds {
            cells.shuffle(&mut rng);
            for &(column, row) in cells.iter().take(3) {
                let up = rng.gen::<bool>();
                let mut w = honest.clone();
                let one = zkedge_kernel::prover::Fr::ONE;
                match column.checked_sub(integers) {
                    None => w.advice[column][row] += if up { 1 } else { -1 },
                    Some(c) if up => w.wide[c][row] += one,
                    Some(c) => w.wide[c][row] -= one,
                }
                assert!(
                    check(&model, &layout, w, inst.clone()).is_err(),
                    "{shape:?}: changing a {kind} cell (column {column}, row {row}) by ±1 \
                     still satisfies the circuit"
                );
            }
        }
        // The unused cells stay zero: the witness is what the layout says it is.
        assert_eq!(
            honest.wide[0][layout.rows() - 1],
            zkedge_kernel::prover::Fr::ZERO
        );
    }
}

#[test]
fn a_wrong_public_input_or_commitment_is_rejected() {
    let mut rng = StdRng::seed_from_u64(seed());
    let model = Arc::new(model(&mut rng, [1, 4, 10]));
    let input = synthetic::input(&mut rng, &model);
    for input_visibility in [Visibility::Public, Visibility::Hashed] {
        let layout = Arc::new(Layout::with_input(&model, input_visibility).unwrap());
        let w = witness(&layout, &model, &input, 5);
        let honest = instance(&w);
        let after = model.output_len() + 1;
        // The commitment, or the first, a middle and the last input.
        let rows: Vec<usize> = match input_visibility {
            Visibility::Hashed => vec![after],
            _ => vec![after, after + model.input_len() / 2, honest.len() - 1],
        };
        for row in rows {
            for delta in [Fr::from(1), -Fr::from(1)] {
                let mut inst = honest.clone();
                inst[row] += delta;
                assert!(
                    check(&model, &layout, w.clone(), inst).is_err(),
                    "{input_visibility:?}: instance {row} changed, still accepted"
                );
            }
        }
        if input_visibility == Visibility::Hashed {
            // A witness with another salt does not match the honest commitment.
            let other = witness(&layout, &model, &input, 6);
            assert!(check(&model, &layout, other, honest.clone()).is_err());
            // A consistent hash of another input (one byte changed in each word) beside the
            // inference of this one: the packed words are tied to the input cells.
            for word in 0..model.input_len().div_ceil(31) {
                let mut forged_input = input.clone();
                forged_input[word * 31] = forged_input[word * 31].wrapping_add(1);
                let forged = witness(&layout, &model, &forged_input, 5);
                // The forged packing sums (against the input cells' gate), or this input's
                // (against the copies to the absorbed words).
                for keep_packing in [false, true] {
                    let mut mixed = w.clone();
                    mixed.wide = forged.wide.clone();
                    if keep_packing {
                        mixed.wide[0] = w.wide[0].clone();
                    }
                    mixed.commitment = forged.commitment;
                    let inst = instance(&mixed);
                    assert!(
                        check(&model, &layout, mixed, inst).is_err(),
                        "word {word}: a commitment to another input is accepted \
                         (packing kept: {keep_packing})"
                    );
                }
            }
        }
    }
}

fn keys_for(rng: &mut StdRng, input: Visibility) -> Keys {
    let model = model(rng, [1, 4, 10]);
    let k = Layout::with_input(&model, input).unwrap().k();
    keys::generate_with(model, srs::dev(k), SrsOrigin::InsecureDev, input).unwrap()
}

#[test]
fn both_provers_make_proofs_of_every_visibility_that_halo2_verifies() {
    let mut rng = StdRng::seed_from_u64(seed());
    for input_visibility in [Visibility::Private, Visibility::Public, Visibility::Hashed] {
        let keys = keys_for(&mut rng, input_visibility);
        let input = synthetic::input(&mut rng, &keys.model);
        let salt = Fr::from(rng.gen::<u64>());
        let halo2 =
            proof::prove_halo2_salted(&keys, &input, Some(salt), MultiOpen::Gwc, &mut rng).unwrap();
        let backend = accel_backends::CpuBackend::new();
        let mut prover = proof::zk_prover(&keys, backend).unwrap();
        let (zkedge, _) = proof::prove_zkedge_with_salt(
            &keys,
            &mut prover,
            &input,
            Some(salt),
            MultiOpen::Shplonk,
            &mut rng,
        )
        .unwrap();
        for proved in [halo2, zkedge] {
            let file = ProofFile::from_bytes(&proved.file.to_bytes()).unwrap();
            match (&file.input, input_visibility) {
                (Revealed::Nothing, Visibility::Private) => {}
                (Revealed::Input(x), Visibility::Public) => assert_eq!(x, &input),
                (Revealed::Commitment(c), Visibility::Hashed) => {
                    use halo2_proofs::halo2curves::ff::PrimeField;
                    assert_eq!(*c, proof::commitment(&input, &salt).to_repr());
                }
                (r, v) => panic!("{v:?} keys revealed {r:?}"),
            }
            proof::verify(&keys, &file).unwrap();
            // Another public input, or another commitment, does not verify.
            let mut forged = file.clone();
            match &mut forged.input {
                Revealed::Nothing => continue,
                Revealed::Input(x) => x[3] = x[3].wrapping_add(1),
                Revealed::Commitment(_) => {
                    use halo2_proofs::halo2curves::ff::PrimeField;
                    let other = proof::commitment(&input, &(salt + Fr::from(1)));
                    forged.input = Revealed::Commitment(other.to_repr());
                }
            }
            assert!(matches!(
                proof::verify(&keys, &forged),
                Err(ProofError::Invalid { .. })
            ));
        }
    }
}

#[test]
fn a_proof_of_one_visibility_is_refused_by_keys_of_another() {
    let mut rng = StdRng::seed_from_u64(seed());
    let public = keys_for(&mut rng, Visibility::Public);
    let input = synthetic::input(&mut rng, &public.model);
    let file = proof::prove_halo2(&public, &input, MultiOpen::Gwc, &mut rng)
        .unwrap()
        .file;
    // The same file stripped of its input claims the private visibility: the header check
    // names it before halo2 is asked.
    let mut stripped = file.clone();
    stripped.input = Revealed::Nothing;
    assert!(matches!(
        proof::verify(&public, &stripped),
        Err(ProofError::WrongVisibility { .. })
    ));
    // A commitment that is not a canonical scalar is not a proof file.
    let mut bad = file;
    bad.input = Revealed::Commitment([0xff; 32]);
    assert!(matches!(
        ProofFile::from_bytes(&bad.to_bytes()),
        Err(ProofError::NonCanonical(_))
    ));
}
