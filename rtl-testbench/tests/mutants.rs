//! The checks can fail: mutants generated here from the committed sources (never committed
//! themselves) must each be caught, and caught by the right check.

mod common;

use rtl_testbench::{
    check::{arkworks, CheckFailure, Culprit},
    model::{Rtl, Unit, UnitSpec},
    vectors::StreamShape,
};
use zkedge_hwsim::{units::FieldKind, HwConfig};

const SHAPE: StreamShape = StreamShape {
    random: 1_500,
    edges: true,
};

fn spec(unit: Unit) -> UnitSpec {
    UnitSpec::from_config(unit, FieldKind::Scalar, &HwConfig::default()).expect("default")
}

fn mismatches(name: &str, result: Result<impl std::fmt::Debug, CheckFailure>) -> CheckFailure {
    let failure = result.expect_err(&format!("{name}: the mutant passed the check"));
    eprintln!("{name}: caught as expected: {failure}");
    assert!(
        failure
            .mismatches()
            .iter()
            .all(|m| m.culprit == Culprit::Rtl),
        "hw-sim itself disagreed with arkworks: {failure}"
    );
    failure
}

/// One digit stage fewer: the multiplier still computes every product right (the digits are
/// re-cut over 14 stages) but delivers it one cycle early. Only the cycle check can see that.
#[test]
fn a_multiplier_with_one_pipeline_stage_removed_fails_on_cycles() {
    let spec = spec(Unit::MontMul);
    let mutant = Rtl::committed()
        .mutated(
            "mont_mul.v",
            "localparam integer ND = L - 1;",
            "localparam integer ND = L - 2;",
        )
        .expect("mutation target");
    let (inputs, run, result) = common::run_stream("stage removed", &mutant, spec, SHAPE);
    let failure = mismatches("stage removed", result);
    assert!(matches!(failure, CheckFailure::Mismatches { total, .. } if total > 100));
    // Every product is right and exactly one cycle early.
    let latency = spec.latency() as usize;
    for (t, out) in run.outputs.iter().enumerate() {
        let want = (t + 1)
            .checked_sub(latency)
            .and_then(|i| inputs[i])
            .map(|i| arkworks(spec, &i).expect("reduced"));
        assert_eq!(
            *out, want,
            "cycle {t}: the mutant is the unit one cycle early"
        );
    }
}

/// No final conditional subtraction: on time, but results in [p, 2p) escape unreduced.
#[test]
fn a_multiplier_without_its_final_subtraction_fails_on_values() {
    let spec = spec(Unit::MontMul);
    let mutant = Rtl::committed()
        .mutated(
            "mont_mul.v",
            "out_c <= t_minus_p[256] ? t_last : t_minus_p[255:0];",
            "out_c <= t_last;",
        )
        .expect("mutation target");
    let (_, _, result) = common::run_stream("no final subtraction", &mutant, spec, SHAPE);
    let failure = mismatches("no final subtraction", result);
    // Same cycles, wrong values.
    for m in failure.mismatches() {
        assert!(m.got.is_some() && m.want.is_some(), "{m}");
    }
}

/// The butterfly's operand delay line one stage short: `a` meets the product of the next
/// input's `w·b`.
#[test]
fn a_butterfly_with_a_short_delay_line_fails() {
    let spec = spec(Unit::Butterfly);
    let mutant = Rtl::committed()
        .mutated(
            "butterfly.v",
            "delay #(.W(256), .N(L)) a_delay",
            "delay #(.W(256), .N(L - 1)) a_delay",
        )
        .expect("mutation target");
    let (_, _, result) = common::run_stream("short delay line", &mutant, spec, SHAPE);
    mismatches("short delay line", result);
}

#[test]
fn a_mutation_that_misses_its_target_is_an_error() {
    assert!(Rtl::committed()
        .mutated("mont_mul.v", "no such text", "")
        .is_err());
    assert!(Rtl::committed()
        .mutated("nonexistent.v", "module", "")
        .is_err());
}

/// The point adder with one side path (`t0·t3`, into Z3) a cycle late: Z3 mixes two inputs.
/// Built small (`L_mul = 3`, `D_add = 2`) to keep the build short.
#[test]
fn a_point_adder_with_a_misaligned_side_path_fails() {
    let spec = UnitSpec::point_add(3, 2).expect("supported");
    let mutant = Rtl::committed()
        .mutated(
            "point_add.v",
            "delay #(.W(256), .N(L - 1)) d_t0c",
            "delay #(.W(256), .N(L)) d_t0c",
        )
        .expect("mutation target");
    let shape = StreamShape {
        random: 500,
        edges: true,
    };
    let (_, _, result) = common::run_stream("misaligned side path", &mutant, spec, shape);
    mismatches("misaligned side path", result);
}
