//! Spike for hashed inputs and weights (issue 15, item 4; research, not yet in the circuit):
//! halo2-base's Poseidon gadget — axiom's, on the same halo2-axiom 0.5.3, width 3 (rate 2),
//! 8 full and 57 partial rounds, x⁵ — in a single-phase circuit with no challenges, checked by
//! MockProver, its hash matched by circomlibjs (circom's Poseidon, an independent JS
//! implementation: same permutation, other sponge, so the sponge is replayed around it), and its
//! constraint system accepted by the zkedge prover's key export.
//! Needs `node` and `npm` (as tests/ptau.rs).

use std::{path::Path, process::Command};

use halo2_base::{
    gates::{circuit::builder::BaseCircuitBuilder, GateChip},
    halo2_proofs::{
        dev::MockProver,
        halo2curves::bn256::{Bn256, Fr},
        plonk::{keygen_pk, keygen_vk},
        poly::kzg::commitment::ParamsKZG,
    },
    poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher},
};

const K: u32 = 10;

/// circomlibjs's Poseidon permutation, driven as halo2-base's fixed-length sponge: state
/// `[2^64, 0, 0]`, inputs added two at a time to the rate part, a single 1 after the last input
/// (a whole extra block if the inputs fill the last one), output `state[1]`.
fn reference(inputs: &[u64]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("circomlibjs");
    if !dir.join("node_modules/circomlibjs").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg("circomlibjs@0.1.7")
            .output()
            .expect("npm runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let script = r#"
import { buildPoseidonOpt } from "circomlibjs";
const p = await buildPoseidonOpt();
const F = p.F;
const inputs = JSON.parse(process.argv[2]).map(BigInt);
let state = [F.e(1n << 64n), F.zero, F.zero];
const blocks = [];
for (let i = 0; i < inputs.length; i += 2) blocks.push(inputs.slice(i, i + 2));
if (inputs.length % 2 == 0) blocks.push([]);
for (const b of blocks) {
  const pad = [...b.map((x) => F.e(x)), F.one, F.zero].slice(0, 2);
  state = p([F.add(state[1], pad[0]), F.add(state[2], pad[1])], state[0], 3);
}
console.log(F.toString(state[1]));
"#;
    std::fs::write(dir.join("sponge.mjs"), script).unwrap();
    let out = Command::new("node")
        .arg("sponge.mjs")
        .arg(format!("{inputs:?}"))
        .current_dir(&dir)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn decimal(x: Fr) -> String {
    // Fr's Debug is big-endian hex; convert to decimal by long division.
    let hex = format!("{x:?}");
    let mut digits = vec![0u8]; // little-endian base 10
    for c in hex.trim_start_matches("0x").chars() {
        let mut carry = c.to_digit(16).unwrap();
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 16 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

fn circuit(inputs: &[u64]) -> (BaseCircuitBuilder<Fr>, Fr) {
    let mut builder = BaseCircuitBuilder::<Fr>::new(false)
        .use_k(K as usize)
        .use_instance_columns(1);
    let gate = GateChip::<Fr>::default();
    let ctx = builder.main(0);
    let spec = OptimizedPoseidonSpec::<Fr, 3, 2>::new::<8, 57, 0>();
    let mut hasher = PoseidonHasher::<Fr, 3, 2>::new(spec);
    hasher.initialize_consts(ctx, &gate);
    let x = ctx.assign_witnesses(inputs.iter().map(|&v| Fr::from(v)));
    let h = hasher.hash_fix_len_array(ctx, &gate, &x);
    builder.assigned_instances[0].push(h);
    builder.calculate_params(Some(9));
    (builder, *h.value())
}

#[test]
fn halo2_base_poseidon_is_circoms_permutation_in_a_single_phase_circuit() {
    for inputs in [vec![1u64, 2, 3], vec![7, 0, 255, 128], vec![42]] {
        let (builder, h) = circuit(&inputs);
        MockProver::run(K, &builder, vec![vec![h]])
            .unwrap()
            .assert_satisfied();
        // A wrong public hash fails.
        assert!(MockProver::run(K, &builder, vec![vec![h + Fr::from(1)]])
            .unwrap()
            .verify()
            .is_err());
        assert_eq!(decimal(h), reference(&inputs), "inputs {inputs:?}");
    }

    // One phase, no challenges: what the zkedge prover proves; its key export accepts it.
    let (builder, _) = circuit(&[1, 2, 3]);
    let params = ParamsKZG::<Bn256>::setup(K, rand::rngs::OsRng);
    let vk = keygen_vk(&params, &builder).unwrap();
    assert_eq!(vk.cs().num_challenges(), 0);
    assert!(vk.cs().advice_column_phase().iter().all(|&p| p == 0));
    let pk = keygen_pk(&params, vk, &builder).unwrap();
    zkedge::export::export(&pk).expect("the zkedge prover takes this constraint system");
}
