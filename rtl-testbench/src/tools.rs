//! Running the external tools (verilator, make, yosys) with clear errors.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::Error;

/// The Debian package that provides a program.
fn package_of(tool: &'static str) -> &'static str {
    match tool {
        "verilator" => "verilator",
        "yosys" => "yosys",
        "make" => "make",
        _ => "g++",
    }
}

/// Runs `cmd`, capturing its output; fails with the output's tail if it exits non-zero.
pub(crate) fn run(tool: &'static str, cmd: &mut Command) -> Result<Output, Error> {
    let output = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::ToolMissing {
                tool,
                package: package_of(tool),
            }
        } else {
            Error::Io {
                context: format!("starting {tool}"),
                source: e,
            }
        }
    })?;
    if !output.status.success() {
        return Err(Error::ToolFailed {
            command: describe(cmd),
            status: output.status.to_string(),
            log: tail(&output, 40),
        });
    }
    Ok(output)
}

/// A command line as text, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `lines` lines of stdout followed by those of stderr.
pub(crate) fn tail(output: &Output, lines: usize) -> String {
    let mut text = String::new();
    for stream in [&output.stdout, &output.stderr] {
        let s = String::from_utf8_lossy(stream);
        let all: Vec<&str> = s.lines().collect();
        for line in &all[all.len().saturating_sub(lines)..] {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// `verilator --version`, e.g. "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)".
pub(crate) fn verilator_version() -> Result<String, Error> {
    let out = run("verilator", Command::new("verilator").arg("--version"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Where the testbench keeps what it builds: `<target>/rtl-testbench`, with `<target>` the
/// cargo target directory (`CARGO_TARGET_DIR`, relative to the workspace root, else the
/// workspace's `target/`).
pub fn work_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits inside the workspace");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace.join(dir))
        .unwrap_or_else(|| workspace.join("target"));
    target.join("rtl-testbench")
}
