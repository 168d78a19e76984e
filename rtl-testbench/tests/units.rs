//! The committed RTL against arkworks (values) and hw-sim's unit models (cycles), on random
//! streams with fresh seeds, edge values, back-to-back issue and bubbles.

mod common;

use rtl_testbench::{
    model::{Rtl, Unit, UnitSpec},
    vectors::StreamShape,
};
use zkedge_hwsim::{units::FieldKind, HwConfig};

/// Random inputs per unit at hw-sim's default latency (plus the edge section).
const RANDOM: usize = 20_000;

fn check_unit(spec: UnitSpec, random: usize) {
    let name = format!("{spec}");
    let (_, run, result) = common::run_stream(
        &name,
        &Rtl::committed(),
        spec,
        StreamShape {
            random,
            edges: true,
        },
    );
    let checked = result.unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{spec}: {} vectors over {} cycles bit- and cycle-exact (latency {}); {:.0} cycles/s CPU",
        checked.vectors,
        checked.cycles,
        spec.latency(),
        run.cycles_per_cpu_second()
    );
    assert!(checked.vectors >= random);
}

fn default_spec(unit: Unit, field: FieldKind) -> UnitSpec {
    UnitSpec::from_config(unit, field, &HwConfig::default()).expect("the default latency")
}

#[test]
fn multiplier_matches_arkworks_and_hwsim_in_fr_at_the_default_latency() {
    let spec = default_spec(Unit::MontMul, FieldKind::Scalar);
    assert_eq!(spec.latency(), 16, "docs/rtl.md quotes L_mul = 16");
    check_unit(spec, RANDOM);
}

#[test]
fn multiplier_matches_arkworks_and_hwsim_in_fq_at_the_default_latency() {
    check_unit(default_spec(Unit::MontMul, FieldKind::Base), RANDOM);
}

#[test]
fn butterfly_matches_arkworks_and_hwsim_in_fr_at_the_default_latency() {
    let spec = default_spec(Unit::Butterfly, FieldKind::Scalar);
    assert_eq!(spec.latency(), HwConfig::default().butterfly_latency());
    check_unit(spec, RANDOM);
}

#[test]
fn butterfly_matches_arkworks_and_hwsim_in_fq_at_the_default_latency() {
    check_unit(default_spec(Unit::Butterfly, FieldKind::Base), RANDOM);
}

/// hw-sim's `mul-latency` is a parameter; so is the RTL's. Two stages (one 256-bit digit),
/// seven (digits of 43 and 42 bits) and a butterfly on a three-stage multiplier.
#[test]
fn other_latencies_match_too() {
    for (unit, field, l_mul) in [
        (Unit::MontMul, FieldKind::Base, 2),
        (Unit::MontMul, FieldKind::Scalar, 7),
        (Unit::Butterfly, FieldKind::Base, 3),
    ] {
        check_unit(UnitSpec::new(unit, field, l_mul).expect("supported"), 2_000);
    }
}

#[test]
fn latencies_outside_the_rtl_are_refused() {
    assert!(UnitSpec::new(Unit::MontMul, FieldKind::Scalar, 1).is_err());
    assert!(UnitSpec::new(Unit::Butterfly, FieldKind::Scalar, 258).is_err());
}

/// The point adder's datapath at hw-sim's default `L_padd = 3·L_mul + D_add` (54 cycles):
/// bit-exact with the formula evaluated by arkworks and `P1 + P2` by arkworks' group law.
#[test]
fn point_adder_matches_arkworks_at_hwsims_adder_latency() {
    let config = HwConfig::default();
    let spec = default_spec(Unit::PointAdd, FieldKind::Base);
    assert_eq!(spec.latency(), config.adder_latency());
    check_unit(spec, 3_000);
}

/// hw-sim's adder parameters map onto the RTL's: a short multiplier and the fewest add stages.
#[test]
fn point_adder_follows_other_adder_configurations() {
    let config = HwConfig {
        mul_latency: 3,
        adder_add_depth: 2,
        ..HwConfig::default()
    };
    let spec = UnitSpec::from_config(Unit::PointAdd, FieldKind::Base, &config).expect("supported");
    assert_eq!(spec.latency(), config.adder_latency());
    check_unit(spec, 2_000);
    let four_muls = HwConfig {
        adder_mul_depth: 4,
        ..HwConfig::default()
    };
    assert!(UnitSpec::from_config(Unit::PointAdd, FieldKind::Base, &four_muls).is_err());
    assert!(UnitSpec::point_add(16, 1).is_err());
    assert!(UnitSpec::new(Unit::PointAdd, FieldKind::Scalar, 16).is_err());
}
