//! `rtl-testbench`: check the RTL against arkworks and hw-sim, write waveforms, print yosys
//! figures. `cargo xtask rtl` runs it; see docs/rtl.md.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rtl_testbench::{
    check::check,
    model::{build, BuildOptions, Rtl, Unit, UnitSpec},
    sim::RunOptions,
    synth::{synth, Flow},
    vectors::{stream, test_rng, StreamShape},
    work_dir,
};
use zkedge_hwsim::{units::FieldKind, HwConfig};

#[derive(Parser)]
#[command(
    name = "rtl-testbench",
    about = "zkedge RTL units in Verilator against arkworks and hw-sim"
)]
struct Cli {
    /// The multiplier latency L_mul (default: hw-sim's default configuration).
    #[arg(long, global = true)]
    mul_latency: Option<u32>,
    /// The point adder's add/subtract stages D_add (default: hw-sim's default configuration).
    #[arg(long, global = true)]
    add_depth: Option<u32>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check every unit in both fields on random streams; print vectors and cycles per second.
    Check {
        /// Random inputs per unit and field.
        #[arg(long, default_value_t = 20_000)]
        vectors: usize,
    },
    /// Simulate a short checked stream on each unit and write its VCD waveform.
    Vcd {
        /// Output folder (default: target/rtl-testbench/vcd).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the yosys flow on each unit and print its cells.
    Synth {
        /// Map to yosys' generic gates (minutes per unit, GBs of memory) instead of stopping at
        /// coarse cells.
        #[arg(long)]
        gates: bool,
        /// Only this unit (mont_mul, butterfly or point_add).
        #[arg(long)]
        unit: Option<String>,
        /// Only this field (fr or fq).
        #[arg(long)]
        field: Option<String>,
    },
}

const UNITS: [(Unit, FieldKind); 5] = [
    (Unit::MontMul, FieldKind::Scalar),
    (Unit::MontMul, FieldKind::Base),
    (Unit::Butterfly, FieldKind::Scalar),
    (Unit::Butterfly, FieldKind::Base),
    (Unit::PointAdd, FieldKind::Base),
];

fn main() -> Result<()> {
    let cli = Cli::parse();
    let defaults = HwConfig::default();
    let config = HwConfig {
        mul_latency: cli.mul_latency.unwrap_or(defaults.mul_latency),
        adder_add_depth: cli.add_depth.unwrap_or(defaults.adder_add_depth),
        ..defaults
    };
    match cli.command {
        Cmd::Check { vectors } => {
            let (mut rng, seed) = test_rng("rtl-testbench check");
            for (unit, field) in UNITS {
                let spec = UnitSpec::from_config(unit, field, &config)?;
                let model = build(&Rtl::committed(), spec, BuildOptions::default())?;
                let inputs = stream(
                    spec,
                    &mut rng,
                    StreamShape {
                        // The adder simulates ~40× slower (13 multipliers).
                        random: if unit == Unit::PointAdd {
                            vectors / 4
                        } else {
                            vectors
                        },
                        edges: true,
                    },
                );
                let run = model.run(
                    &inputs,
                    &RunOptions {
                        vcd: None,
                        power_up_seed: seed as u32,
                    },
                )?;
                let checked = check(spec, &inputs, &run.outputs)?;
                println!(
                    "{spec}: latency {} cycles, {} vectors over {} cycles bit- and cycle-exact; \
                     {:.0} cycles/s (CPU), {:.0} cycles/s (wall)",
                    spec.latency(),
                    checked.vectors,
                    checked.cycles,
                    run.cycles_per_cpu_second(),
                    run.cycles as f64 / run.wall.as_secs_f64().max(1e-9),
                );
            }
        }
        Cmd::Vcd { out } => {
            let out = out.unwrap_or_else(|| work_dir().join("vcd"));
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let (mut rng, seed) = test_rng("rtl-testbench vcd");
            for (unit, field, name) in [
                (Unit::MontMul, FieldKind::Scalar, "fr"),
                (Unit::Butterfly, FieldKind::Scalar, "fr"),
                (Unit::PointAdd, FieldKind::Base, "fq"),
            ] {
                let spec = UnitSpec::from_config(unit, field, &config)?;
                let model = build(&Rtl::committed(), spec, BuildOptions { trace: true })?;
                let inputs = stream(
                    spec,
                    &mut rng,
                    StreamShape {
                        random: 48,
                        edges: false,
                    },
                );
                let vcd = out.join(format!("{}_{name}.vcd", unit.module()));
                let run = model.run(
                    &inputs,
                    &RunOptions {
                        vcd: Some(vcd.clone()),
                        power_up_seed: seed as u32,
                    },
                )?;
                let checked = check(spec, &inputs, &run.outputs)?;
                println!(
                    "{}: {spec}, {} cycles ({} vectors, checked); clock period = 2 time units, \
                     cycle 0 after one reset cycle",
                    vcd.display(),
                    checked.cycles,
                    checked.vectors
                );
            }
        }
        Cmd::Synth {
            gates,
            unit: only_unit,
            field: only_field,
        } => {
            let flow = if gates { Flow::Gates } else { Flow::Coarse };
            for (unit, field) in UNITS {
                let name = match field {
                    FieldKind::Scalar => "fr",
                    FieldKind::Base => "fq",
                };
                if only_unit.as_deref().is_some_and(|m| m != unit.module())
                    || only_field.as_deref().is_some_and(|f| f != name)
                {
                    continue;
                }
                let spec = UnitSpec::from_config(unit, field, &config)?;
                let report = synth(spec, flow)?;
                println!(
                    "{spec}: {} cells ({} $mul, {} $add/$sub, {} flip-flop bits, {} valid flops), {} warnings",
                    report.cells,
                    report.count("$mul"),
                    report.count("$add") + report.count("$sub"),
                    report.flop_bits(),
                    report.valid_flops(),
                    report.warnings.len()
                );
                for (kind, n) in &report.by_type {
                    println!("    {kind:<12} {n}");
                }
            }
        }
    }
    Ok(())
}
