//! yosys elaborates, flattens and checks each unit cleanly; its netlist has the expected
//! pipeline (one valid flip-flop per stage of the critical path) and arithmetic. The point
//! adder is synthesised small (`L_mul = 3`, `D_add = 2`): at `L_mul = 16` yosys needs about
//! 90 s CPU for it (`rtl-testbench synth --unit point_add`; figures in docs/rtl.md).

use rtl_testbench::{
    model::{Unit, UnitSpec},
    synth::{synth, Flow},
};
use zkedge_hwsim::{units::FieldKind, HwConfig};

#[test]
fn each_unit_synthesises_cleanly_with_its_pipeline() {
    let l_mul = HwConfig::default().mul_latency;
    let mut specs: Vec<UnitSpec> = [Unit::MontMul, Unit::Butterfly]
        .into_iter()
        .flat_map(|unit| {
            [FieldKind::Scalar, FieldKind::Base]
                .map(|field| UnitSpec::new(unit, field, l_mul).expect("default latency"))
        })
        .collect();
    specs.push(UnitSpec::point_add(3, 2).expect("supported"));
    // One yosys per unit, three at a time.
    let reports: Vec<_> = specs
        .chunks(3)
        .flat_map(|pair| {
            std::thread::scope(|s| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|&spec| s.spawn(move || (spec, synth(spec, Flow::Coarse))))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("yosys thread"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (spec, report) in reports {
        let report = report.unwrap_or_else(|e| panic!("{spec}: {e}"));
        eprintln!(
            "{spec}: {} cells, {} flip-flop bits: {:?}",
            report.cells,
            report.flop_bits(),
            report.by_type
        );
        assert!(report.warnings.is_empty(), "{spec}: {:?}", report.warnings);
        // The valid bit travels through one reset flip-flop per stage; in the point adder
        // the valid chains of multipliers off the critical path steer nothing and are removed.
        assert_eq!(report.valid_flops(), u64::from(spec.latency()), "{spec}");
        // Three multiplications per digit stage (a_i·b, m, m·p), L_mul − 1 digit stages, in
        // each multiplier (13 in the point adder).
        let multipliers = if spec.unit() == Unit::PointAdd { 13 } else { 1 };
        assert_eq!(
            report.count("$mul"),
            multipliers * 3 * u64::from(spec.mul_latency() - 1),
            "{spec}"
        );
        for kind in ["$mem", "$dlatch", "$memrd", "$memwr"] {
            assert_eq!(report.count(kind), 0, "{spec}: {kind}");
        }
    }
}
