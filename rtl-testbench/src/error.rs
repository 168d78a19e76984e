//! One error type for building, running and checking the RTL.

use std::path::PathBuf;

/// What went wrong while building, simulating or synthesising a unit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tool (verilator, make, a C++ compiler, yosys) is not installed.
    #[error("{tool} not found; `cargo xtask test` installs it (or: apt-get install {package})")]
    ToolMissing {
        /// The program that could not be started.
        tool: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A tool ran and failed; `log` holds the end of what it printed.
    #[error("`{command}` failed ({status}):\n{log}")]
    ToolFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines of its stdout and stderr.
        log: String,
    },
    /// The unit cannot be built with this latency.
    #[error("the RTL {unit} supports multiplier latencies {min}..={max}, not {got}")]
    UnsupportedLatency {
        /// The unit's name.
        unit: &'static str,
        /// Smallest supported multiplier latency.
        min: u32,
        /// Largest supported multiplier latency.
        max: u32,
        /// What was asked.
        got: u32,
    },
    /// The unit cannot be built in this configuration.
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
    /// A source mutation did not find the text it replaces exactly once.
    #[error("mutation of {file}: expected exactly one occurrence of {needle:?}, found {found}")]
    MutationTarget {
        /// The source file.
        file: String,
        /// The text to replace.
        needle: String,
        /// How many times it occurs.
        found: usize,
    },
    /// The simulator's output file does not have the expected shape.
    #[error("simulator output {path}: {what}")]
    BadOutput {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// yosys output could not be understood.
    #[error("yosys: {0}")]
    Synth(String),
    /// File-system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
