//! Poseidon's round constants and MDS matrix for the commitments, generated here by the crate
//! halo2-base and the firmware take them from (`poseidon-primitives`: width 3, rate 2, x⁵, 8 full
//! and 57 partial rounds, the Poseidon paper's Grain LFSR), so that a process does not run the
//! LFSR (a quarter of a hashed-weights `zkedge verify`). `src/poseidon.rs` reads them back
//! canonically and checks their count.

use std::{env, fs, path::PathBuf};

use halo2curves::{
    bn256::Fr,
    ff::{Field, PrimeField},
};
use poseidon_primitives::poseidon::primitives::Spec;

#[derive(Debug)]
struct Bn254Width3;

impl Spec<Fr, 3, 2> for Bn254Width3 {
    fn full_rounds() -> usize {
        8
    }

    fn partial_rounds() -> usize {
        57
    }

    fn sbox(val: Fr) -> Fr {
        val.pow_vartime([5])
    }

    fn secure_mds() -> usize {
        0
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let (round_constants, mds, _) = Bn254Width3::constants();
    let bytes: Vec<u8> = round_constants
        .iter()
        .chain(mds.iter())
        .flatten()
        .flat_map(|x| x.to_repr())
        .collect();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("poseidon.bin"), bytes).expect("write poseidon.bin");
}
