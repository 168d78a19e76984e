//! Shared by the integration tests: build, stream, run, check.

use rtl_testbench::{
    check::{check, CheckFailure, Checked},
    model::{build, BuildOptions, Rtl, UnitSpec},
    sim::{In, Run, RunOptions},
    vectors::{stream, test_rng, StreamShape},
};

/// Builds `rtl` for `spec`, runs a fresh random stream through it and checks it.
pub fn run_stream(
    name: &str,
    rtl: &Rtl,
    spec: UnitSpec,
    shape: StreamShape,
) -> (Vec<Option<In>>, Run, Result<Checked, CheckFailure>) {
    let model = build(rtl, spec, BuildOptions::default())
        .unwrap_or_else(|e| panic!("{name}: building {spec}: {e}"));
    let (mut rng, seed) = test_rng(name);
    let inputs = stream(spec, &mut rng, shape);
    let run = model
        .run(
            &inputs,
            &RunOptions {
                vcd: None,
                power_up_seed: seed as u32,
            },
        )
        .unwrap_or_else(|e| panic!("{name}: simulating {spec}: {e}"));
    let result = check(spec, &inputs, &run.outputs);
    (inputs, run, result)
}
