//! `zkedge bench-backends` and `zkedge calibrate`: the same freshly generated MSMs and NTTs on
//! several backends, checked to agree bit for bit, then timed; a report (table, CSV, SVG plot)
//! and, from the measurements, a routing policy.
//!
//! Backends come from the [`Registry`](zkedge_core::backends::Registry) the CLI was started with, so
//! a binary that registers more (`zkedge-icicle`) benchmarks them too. Three kinds of time:
//! - **wall**: the host's wall time of the call (median of the repeats, with min and max);
//! - **device**: for a backend that counts cycles and reports its clock
//!   ([`Backend::device_timing`](accel_backends::Backend::device_timing)), `cycles / clock` —
//!   for hw-sim that is the accelerator's time, not the simulator's;
//! - **link**: the bytes the job puts on the device's line at its baud (10 bit times a byte):
//!   counted for a backend behind a real link, modelled from the wire protocol's frames for a
//!   simulator in process. **device+link** (no overlap assumed) is the projected time.

mod calibrate;
mod plot;
mod proof;
mod report;
mod run;
mod workload;

use std::{fmt, str::FromStr};

use accel_backends::BackendError;
use thiserror::Error;

pub use calibrate::{crossovers, routing_file, Crossover, RouteBy};
pub use plot::write_svg;
pub use report::{Measured, Outcome, Report, Row, Spread};
pub use run::{run, Progress, Silent};
pub use workload::{msm_wire_bytes, ntt_wire_bytes};

/// The operations a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// Multi-scalar multiplication of `2^k` terms.
    Msm,
    /// Forward NTT of `2^k` points.
    Ntt,
    /// A whole proof of the bundled model (`2^k` rows).
    Proof,
}

impl OpKind {
    /// Lower-case name, as in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Msm => "msm",
            OpKind::Ntt => "ntt",
            OpKind::Proof => "proof",
        }
    }

    /// MSM or NTT: the operations routing decides.
    pub fn is_kernel(self) -> bool {
        self != OpKind::Proof
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Msm => "MSM",
            OpKind::Ntt => "NTT",
            OpKind::Proof => "proof",
        })
    }
}

impl FromStr for OpKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "msm" => Ok(OpKind::Msm),
            "ntt" => Ok(OpKind::Ntt),
            "proof" => Ok(OpKind::Proof),
            other => Err(format!("unknown operation {other:?}")),
        }
    }
}

/// Largest log2 size of a benchmarked MSM (memory for bases grows as 2^k).
pub const MAX_MSM_LOG: u32 = 24;

/// An inclusive range of log2 sizes, written `LO..HI` (or `LO..=HI`, or one number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRange {
    /// Smallest log2 size.
    pub lo: u32,
    /// Largest log2 size (included).
    pub hi: u32,
}

impl LogRange {
    /// Every log2 size of the range.
    pub fn sizes(self) -> impl Iterator<Item = u32> {
        self.lo..=self.hi
    }
}

impl FromStr for LogRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let num = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("{s:?} is not a range of log2 sizes like 10..14"))
        };
        let (lo, hi) = match s.split_once("..") {
            Some((lo, hi)) => (num(lo)?, num(hi.strip_prefix('=').unwrap_or(hi))?),
            None => {
                let k = num(s)?;
                (k, k)
            }
        };
        if lo > hi {
            return Err(format!(
                "{s:?} is empty: write LOW..HIGH with LOW ≤ HIGH (both included)"
            ));
        }
        if hi > accel_backends::MAX_LOG_N {
            return Err(format!(
                "{s:?}: sizes above 2^{} do not exist for BN254",
                accel_backends::MAX_LOG_N
            ));
        }
        Ok(Self { lo, hi })
    }
}

impl fmt::Display for LogRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "2^{}..2^{}", self.lo, self.hi)
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Backend specs as the registry takes them (a sweep already expanded); each one's label
    /// in the report is its spec.
    pub backends: Vec<String>,
    /// MSM sizes, if any.
    pub msm: Option<LogRange>,
    /// NTT sizes, if any.
    pub ntt: Option<LogRange>,
    /// Timed runs per backend and size, after one untimed run that checks agreement.
    pub repeat: u32,
    /// Seed of every input (bases, scalars, NTT values, a proof's randomness).
    pub seed: u64,
    /// Also prove the bundled model on every backend (whole proofs, no router).
    pub proof: bool,
}

/// Why a benchmark stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The plan cannot run.
    #[error("{0}")]
    Plan(String),
    /// A backend could not be built.
    #[error(transparent)]
    Registry(#[from] zkedge_core::backends::RegistryError),
    /// Two backends gave different results for the same input.
    #[error(
        "{backend} disagrees with {reference} on {what}: {detail} (inputs from --seed {seed})"
    )]
    Disagree {
        /// The backend that differs.
        backend: String,
        /// The backend it was compared with (the first in the list that ran the job).
        reference: String,
        /// Which job, e.g. `MSM of 2^12 terms`.
        what: String,
        /// How they differ.
        detail: String,
        /// The seed that reproduces the inputs.
        seed: u64,
    },
    /// A backend failed on a job it had accepted.
    #[error("{backend} failed on {what}: {source}")]
    Backend {
        /// The backend.
        backend: String,
        /// Which job.
        what: String,
        /// Its error.
        #[source]
        source: BackendError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_refuse_nonsense() {
        assert_eq!("10..14".parse(), Ok(LogRange { lo: 10, hi: 14 }));
        assert_eq!("10..=14".parse(), Ok(LogRange { lo: 10, hi: 14 }));
        assert_eq!("12".parse(), Ok(LogRange { lo: 12, hi: 12 }));
        assert!("18..10".parse::<LogRange>().unwrap_err().contains("empty"));
        assert!("a..b".parse::<LogRange>().is_err());
        assert!("10..40".parse::<LogRange>().unwrap_err().contains("2^28"));
        assert_eq!("msm".parse(), Ok(OpKind::Msm));
    }
}
