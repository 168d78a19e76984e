//! yosys: a synthesis sanity check of each unit and its resource figures.
//!
//! The flow elaborates the unit with its parameters, lowers processes, flattens, optimises,
//! narrows arithmetic to the widths actually used, and checks the netlist (`check -assert`:
//! no combinational loops, undriven or multiply-driven wires). It stops at yosys' coarse cells
//! (`$mul`, `$add`, `$dff`, … with their widths): [`Flow::Coarse`], seconds. [`Flow::Gates`]
//! goes on to yosys' generic gate library (`synth -noabc`: `$_AND_`, `$_XOR_`, `$_DFF_P_`, …),
//! minutes per unit and gigabytes of memory, so only `rtl-testbench synth --gates` runs it;
//! `docs/rtl.md` gives both.

use std::{collections::BTreeMap, process::Command};

use crate::{
    model::{rtl_dir, Rtl, Unit, UnitSpec},
    tools, Error,
};

/// How far synthesis goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Coarse cells with widths (`$mul_17`, `$add_273`, `$dff_256`): seconds.
    Coarse,
    /// Generic single-bit gates (`synth -flatten -noabc`): minutes.
    Gates,
}

/// The yosys script run on a unit (after `read_verilog -defer` of the sources).
pub fn script(spec: UnitSpec, flow: Flow) -> String {
    let params = match spec.unit() {
        Unit::PointAdd => format!(
            "-chparam L {} -chparam D_ADD {}",
            spec.mul_latency(),
            spec.add_depth()
        ),
        _ => format!(
            "-chparam FIELD {} -chparam L {}",
            spec.field_param(),
            spec.mul_latency()
        ),
    };
    let elaborate = format!(
        "hierarchy -check -top {top} {params}",
        top = spec.unit().module()
    );
    match flow {
        Flow::Coarse => format!(
            "{elaborate}; proc; flatten; opt; memory; opt; wreduce; opt_clean; \
             check -assert; stat -width"
        ),
        Flow::Gates => format!(
            "{elaborate}; synth -flatten -top {top} -noabc; check -assert; stat",
            top = spec.unit().module()
        ),
    }
}

/// What yosys reports for a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthReport {
    /// Total cells.
    pub cells: u64,
    /// Cells by type and width, e.g. `$mul_17` → 14.
    pub by_type: BTreeMap<String, u64>,
    /// Warnings yosys printed (a clean run has none).
    pub warnings: Vec<String>,
}

impl SynthReport {
    /// Flip-flop bits: the widths of every `$dff`/`$sdff`-like cell added up, or the number of
    /// single-bit `$_DFF_*`/`$_SDFF_*` gates.
    pub fn flop_bits(&self) -> u64 {
        self.cells_where(|kind| kind.to_ascii_lowercase().contains("dff"))
    }

    /// One-bit flip-flops with a synchronous reset (`$sdff_1`, or `$_SDFF_*` gates): the valid
    /// pipeline, the only registers with a reset.
    pub fn valid_flops(&self) -> u64 {
        self.by_type
            .iter()
            .filter(|(name, _)| *name == "$sdff_1" || name.starts_with("$_SDFF_"))
            .map(|(_, n)| n)
            .sum()
    }

    /// Cells of a kind (`$mul`, `$add`, …), any width.
    pub fn count(&self, kind: &str) -> u64 {
        self.by_type
            .iter()
            .filter(|(name, _)| split(name).0 == kind)
            .map(|(_, n)| n)
            .sum()
    }

    fn cells_where(&self, keep: impl Fn(&str) -> bool) -> u64 {
        self.by_type
            .iter()
            .filter_map(|(name, n)| {
                let (kind, width) = split(name);
                keep(kind).then_some(width * n)
            })
            .sum()
    }
}

/// `$mul_17` → (`$mul`, 17).
fn split(name: &str) -> (&str, u64) {
    match name.rsplit_once('_') {
        Some((kind, width)) if width.parse::<u64>().is_ok() => {
            (kind, width.parse().expect("checked"))
        }
        _ => (name, 1),
    }
}

/// Runs the flow on the committed RTL of `spec`'s unit.
pub fn synth(spec: UnitSpec, flow: Flow) -> Result<SynthReport, Error> {
    let dir = rtl_dir();
    let files: Vec<String> = Rtl::committed()
        .files()
        .map(|(name, _)| dir.join(name).display().to_string())
        .collect();
    let out = tools::run(
        "yosys",
        Command::new("yosys")
            .arg("-p")
            .arg(format!(
                "read_verilog -defer {}; {}",
                files.join(" "),
                script(spec, flow)
            ))
            .current_dir(&dir),
    )?;
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn parse(log: &str) -> Result<SynthReport, Error> {
    let warnings = log
        .lines()
        .filter(|l| l.trim_start().starts_with("Warning"))
        .map(str::to_owned)
        .collect();
    // The statistics of the flattened top are the last block.
    let start = log
        .rfind("Number of cells:")
        .ok_or_else(|| Error::Synth("no `stat` output".into()))?;
    let mut lines = log[start..].lines();
    let cells = lines
        .next()
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| Error::Synth("unreadable cell count".into()))?;
    let mut by_type = BTreeMap::new();
    for line in lines {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(kind), Some(n), None) if kind.starts_with('$') => {
                let n = n
                    .parse()
                    .map_err(|_| Error::Synth(format!("unreadable line {line:?}")))?;
                by_type.insert(kind.to_owned(), n);
            }
            _ if line.trim().is_empty() => break,
            _ => {}
        }
    }
    if by_type.values().sum::<u64>() != cells {
        return Err(Error::Synth(format!(
            "cell types add to {}, not {cells}",
            by_type.values().sum::<u64>()
        )));
    }
    Ok(SynthReport {
        cells,
        by_type,
        warnings,
    })
}
