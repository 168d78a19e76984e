//! The host driver's router: the generic [`accel_backends::Router`] — the same one a device
//! runs — with a registry backend as its accelerator, the CPU as its reference, and the wall
//! clock for its circuit breaker. See that type for what goes where and why.

use accel_backends::CpuBackend;

pub use accel_backends::router::{BreakerConfig, BreakerState, Policy, RouterStats, StdClock};

use crate::backends::DynBackend;

/// An accelerator from the registry with the CPU beside it.
pub type Router = accel_backends::Router<DynBackend, CpuBackend, StdClock>;

/// What went wrong with the accelerator during a run, for the line `prove` prints: jobs that
/// fell back to the CPU, faults, breaker trips; empty when nothing did.
pub fn describe_faults(router: &Router, name: &str) -> String {
    let s = router.stats();
    let mut out = String::new();
    if s.fallbacks > 0 {
        out += &format!(
            "; {} of {} jobs meant for {name} ran on the CPU",
            s.fallbacks,
            s.fallbacks + s.accel_jobs
        );
    }
    if s.faults > 0 {
        out += &format!("; {name} failed {} times", s.faults);
    }
    let trips = router.breaker().trips();
    if trips > 0 {
        out += &format!(" (its breaker opened {trips} times)");
    }
    if router.is_suspect() {
        out += &format!("; {name} is suspect: it returned wrong results");
    }
    out
}
