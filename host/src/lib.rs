//! zkedge: the command line behind `zkedge` ([`cli`]) over the host's library
//! (`zkedge-core`, re-exported here whole) and the backend benchmarks (`zkedge-bench`, as
//! `bench`).
#![forbid(unsafe_code)]

pub mod cli;

pub use zkedge_bench as bench;
pub use zkedge_core::*;
