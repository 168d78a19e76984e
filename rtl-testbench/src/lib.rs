//! Verilog RTL of hw-sim's arithmetic units, simulated in Verilator and held bit- and
//! cycle-exact against arkworks (values) and hw-sim's unit models (cycles).
//!
//! - `rtl/mont_mul.v`: pipelined Montgomery multiplier for BN254 `Fr` or `Fq`, latency `L_mul`;
//! - `rtl/butterfly.v`: radix-2 butterfly on it, latency `L_mul + 1`;
//! - `rtl/point_add.v`: the field datapath of a complete mixed point adder in `Fq`, latency
//!   `3·L_mul + D_add` (hw-sim's `L_padd`);
//! - [`model`]: Verilator builds of a unit (cached under `target/rtl-testbench/`), also of
//!   mutated sources;
//! - [`sim`]: running a build on a stream of inputs, one per cycle, through vector files;
//! - [`check`]: the comparison with arkworks and hw-sim, cycle by cycle;
//! - [`vectors`]: seeded random words, edge values, streams with bubbles;
//! - [`synth`]: the yosys sanity flow and its cell counts.
//!
//! `docs/rtl.md` describes the units, the harness and how to run it.

#![forbid(unsafe_code)]

pub mod check;
mod error;
pub mod model;
pub mod sim;
pub mod synth;
mod tools;
pub mod vectors;

pub use error::Error;
pub use tools::work_dir;
