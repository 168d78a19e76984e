//! The input commitment (hashed input) and the weights' hash (hashed weights) against
//! independent implementations:
//! - circomlibjs (circom's Poseidon in JavaScript, from npm): the words — the salt, then the
//!   input's bytes `q + 128`, 31 to a word, big-endian — packed in JS with BigInt, and the
//!   permutation, driven as halo2-base's fixed-length sponge;
//! - halo2-base's `PoseidonHasher::hash_fix_len_array` (axiom's gadget on the same
//!   halo2-axiom, its own optimised permutation): the sponge over the same words.
//!
//! The weights' hash the same way: its words — each op's weights `w + 128`, 31 to a word, then
//! each bias `b + 2^31` as a word — packed in JS from the model's JSON, and our words through
//! halo2-base.
//!
//! Needs `node` and `npm` (as tests/ptau.rs).

use std::{path::Path, process::Command};

use halo2_base::{
    gates::{circuit::builder::BaseCircuitBuilder, GateChip},
    halo2_proofs::halo2curves::{bn256::Fr, ff::PrimeField},
    poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher},
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use zkedge::proof::commitment;
use zkedge_kernel::layout::hash;

/// circomlibjs's Poseidon permutation over the words of `input` and `salt` (packed here in
/// JS), driven as halo2-base's fixed-length sponge: state `[2^64, 0, 0]`, words added two at a
/// time to lanes 1 and 2, a 1 after the last word (a whole block if the words fill the last
/// one), output `state[1]`. Returns the commitment in decimal.
fn circomlibjs(input: &[i8], salt: &str) -> String {
    let packing = r#"
const input = JSON.parse(process.argv[2]);
const salt = BigInt(process.argv[3]);
const words = [salt];
for (let i = 0; i < input.length; i += 31) {
  let w = 0n;
  for (const q of input.slice(i, i + 31)) w = w * 256n + BigInt(q + 128);
  words.push(w);
}
"#;
    node_sponge("commit.mjs", packing, &[&format!("{input:?}"), salt])
}

/// circomlibjs's Poseidon over the words of `ops` (each op's weights and biases), packed in
/// JS: for each op its weights `w + 128`, 31 to a word (the op's last word shorter), then each
/// bias `b + 2^31` as one word; no salt. Returns the hash in decimal.
fn circomlibjs_weights(ops: &[(Vec<i8>, Vec<i32>)]) -> String {
    let packing = r#"
const ops = JSON.parse(process.argv[2]);
const words = [];
for (const [ws, bs] of ops) {
  for (let i = 0; i < ws.length; i += 31) {
    let w = 0n;
    for (const q of ws.slice(i, i + 31)) w = w * 256n + BigInt(q + 128);
    words.push(w);
  }
  for (const b of bs) words.push(BigInt(b) + (1n << 31n));
}
"#;
    node_sponge(
        "weights.mjs",
        packing,
        &[&format!("{ops:?}").replace('(', "[").replace(')', "]")],
    )
}

/// Runs `packing` (JS that sets `words` from the arguments) and halo2-base's fixed-length
/// sponge over circomlibjs's permutation: state `[2^64, 0, 0]`, words added two at a time to
/// lanes 1 and 2, a 1 after the last word (a whole block if the words fill the last one),
/// output `state[1]`, in decimal.
fn node_sponge(name: &str, packing: &str, args: &[&str]) -> String {
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
PACKING
let state = [F.e(1n << 64n), F.zero, F.zero];
const blocks = [];
for (let i = 0; i < words.length; i += 2) blocks.push(words.slice(i, i + 2));
if (words.length % 2 == 0) blocks.push([]);
for (const b of blocks) {
  const pad = [...b.map((x) => F.e(x)), F.one, F.zero].slice(0, 2);
  state = p([F.add(state[1], pad[0]), F.add(state[2], pad[1])], state[0], 3);
}
console.log(F.toString(state[1]));
"#
    .replace("PACKING", packing);
    std::fs::write(dir.join(name), script).unwrap();
    let out = Command::new("node")
        .arg(name)
        .args(args)
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

/// halo2-base's fixed-length Poseidon hash of `words` (its values are computed as the gadget
/// lays them out; no proof needed).
fn halo2_base(words: &[Fr]) -> Fr {
    let mut builder = BaseCircuitBuilder::<Fr>::new(false);
    let gate = GateChip::<Fr>::default();
    let ctx = builder.main(0);
    let mut hasher =
        PoseidonHasher::<Fr, 3, 2>::new(OptimizedPoseidonSpec::<Fr, 3, 2>::new::<8, 57, 0>());
    hasher.initialize_consts(ctx, &gate);
    let x = ctx.assign_witnesses(words.iter().copied());
    *hasher.hash_fix_len_array(ctx, &gate, &x).value()
}

fn decimal(x: &Fr) -> String {
    // Little-endian bytes to decimal by long division.
    let mut digits = vec![0u8]; // little-endian base 10
    for byte in x.to_repr().iter().rev() {
        let mut carry = u32::from(*byte);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
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

fn halo2(x: &zkedge_kernel::prover::Fr) -> Fr {
    zkedge::convert::halo2_fr(x)
}

#[test]
fn the_commitment_is_circomlibjs_and_halo2_base_poseidon() {
    let mut rng = StdRng::seed_from_u64(accel_conformance::test_seed("commitment"));
    // Word counts of both parities (the padding lands in lane 1 or in a block of its own),
    // bytes at both ends, a word cut short.
    let mut inputs = vec![
        vec![0i8],
        vec![i8::MIN; 31],
        vec![i8::MAX; 32],
        (0..62).map(|i| (i * 5 - 128) as i8).collect::<Vec<_>>(),
    ];
    inputs.push((0..100).map(|_| rng.gen()).collect());
    for input in inputs {
        let salt = <Fr as halo2_base::halo2_proofs::halo2curves::ff::Field>::random(&mut rng);
        let ours = commitment(&input, &salt);
        assert_eq!(
            decimal(&ours),
            circomlibjs(&input, &decimal(&salt)),
            "circomlibjs, {} bytes",
            input.len()
        );
        let words: Vec<Fr> = hash::words(zkedge::convert::fr(&salt), &input)
            .iter()
            .map(halo2)
            .collect();
        assert_eq!(
            ours,
            halo2_base(&words),
            "halo2-base, {} bytes",
            input.len()
        );
    }
}

#[test]
fn the_commitment_hides_nothing_it_should_bind() {
    // Another salt or one byte changed gives another commitment.
    let input: Vec<i8> = (0..40).map(|i| i as i8).collect();
    let salt = Fr::from(7u64);
    let c = commitment(&input, &salt);
    assert_ne!(c, commitment(&input, &Fr::from(8u64)));
    let mut other = input.clone();
    other[33] ^= 1;
    assert_ne!(c, commitment(&other, &salt));
}

#[test]
fn the_weights_hash_is_circomlibjs_and_halo2_base_poseidon() {
    use zkedge_kernel::model::{synthetic, synthetic::Spec, Model, Op};
    let mut rng = StdRng::seed_from_u64(accel_conformance::test_seed("weights hash"));
    // Ops of fewer and more weights than a word holds (a conv of 2·2·2·2 = 16, a depthwise of
    // 2·2 = 4, a dense of 12·3 = 36: a word of 31 and one of 5).
    let model = synthetic::model(
        &mut rng,
        [2, 4, 4],
        &[
            Spec::Conv {
                out: 2,
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 0, 0, 0],
            },
            Spec::Depthwise {
                multiplier: 1,
                kernel: [1, 2],
                stride: [1, 1],
                padding: [0, 0, 0, 0],
            },
            Spec::Flatten,
            Spec::Dense { out: 3 },
        ],
    );
    // Biases of both signs, one far from zero.
    let mut file = model.file().clone();
    if let Op::Conv2d(c) = &mut file.ops[0] {
        c.bias = vec![-2_000_000_000, 70_000];
    }
    let model = Model::new(file).unwrap();
    let ops: Vec<(Vec<i8>, Vec<i32>)> = model
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Conv2d(c) => Some((c.weights.clone(), c.bias.clone())),
            Op::DepthwiseConv2d(c) => Some((c.weights.clone(), c.bias.clone())),
            Op::Dense(d) => Some((d.weights.clone(), d.bias.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(ops.len(), 3);
    let ours = zkedge::proof::weights_hash(&model);
    assert_eq!(decimal(&ours), circomlibjs_weights(&ops), "circomlibjs");
    let words: Vec<Fr> = hash::weight_words(&model).iter().map(halo2).collect();
    assert_eq!(ours, halo2_base(&words), "halo2-base");
    // One weight changed gives another hash.
    let mut file = model.file().clone();
    if let Op::Dense(d) = &mut file.ops[3] {
        let last = d.weights.len() - 1;
        d.weights[last] = if d.weights[last] == 127 {
            126
        } else {
            d.weights[last] + 1
        };
    }
    assert_ne!(
        ours,
        zkedge::proof::weights_hash(&Model::new(file).unwrap())
    );
}
