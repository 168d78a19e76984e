//! `cargo xtask rtl`: the RTL units in Verilator against arkworks and hw-sim (docs/rtl.md).

use anyhow::Result;

use crate::sh::{self, root};

/// What the RTL checks need from Debian: Verilator (and make, a C++ compiler) to simulate,
/// yosys to synthesise, Icarus Verilog as a second elaborator.
pub const APT_PACKAGES: &[&str] = &["verilator", "yosys", "iverilog", "make", "g++"];

pub fn run(vcd: bool, synth: bool, vectors: usize) -> Result<()> {
    sh::ensure_apt(APT_PACKAGES)?;
    let vectors = vectors.to_string();
    let cli = |args: &[&str]| -> Result<()> {
        let mut all = vec!["run", "--quiet", "-p", "rtl-testbench", "--"];
        all.extend(args);
        sh::run("cargo", &all)
    };
    cli(&["check", "--vectors", &vectors])?;
    if synth {
        cli(&["synth"])?;
    }
    if vcd {
        let out = root().join("target/rtl-testbench/vcd");
        cli(&["vcd", "--out", &out.to_string_lossy()])?;
        eprintln!(
            "\nwaveforms in {} (open with gtkwave; `apt-get install gtkwave`)",
            out.display()
        );
    }
    Ok(())
}
