//! The conformance suite every zkedge [`Backend`] runs.
//!
//! Each check computes MSMs and NTTs on the backend under test and compares them with oracles
//! that share no code with any backend: arkworks' `VariableBaseMSM`, a naive double-and-add
//! sum, ark-poly's radix-2 domain, halo2-axiom's `EvaluationDomain` and a quadratic DFT. Inputs
//! are random with a fresh seed per run (printed, and pinned with `ZKEDGE_TEST_SEED=N`), plus the
//! edge cases that break bucket methods and butterflies.
//!
//! Checks return `Err(Failure)` rather than panic, so that a test can also show that a broken
//! backend ([`faulty::Faulty`]) fails them. A backend's test file is one macro call:
//!
//! ```ignore
//! accel_conformance::backend_conformance!(accel_backends::CpuBackend::new(), Limits::CPU);
//! ```
//!
//! [`Backend`]: accel_backends::Backend
#![forbid(unsafe_code)]

use std::fmt;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub mod faulty;
pub mod msm;
pub mod ntt;
pub mod oracle;
pub mod widths;

/// A check that did not hold: what was compared, and on what.
#[derive(Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// The outcome of one check.
pub type Check = Result<(), Failure>;

/// Fails with `msg` unless `ok`.
pub fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Check {
    if ok {
        Ok(())
    } else {
        Err(Failure(msg()))
    }
}

/// How far the suite pushes a backend.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// log2 of the largest MSM tried.
    pub max_msm_log: u32,
    /// log2 of the largest NTT tried.
    pub max_ntt_log: u32,
}

impl Limits {
    /// What the issue asks of the CPU backend: MSMs up to 2^14, NTTs up to 2^16.
    pub const CPU: Limits = Limits {
        max_msm_log: 14,
        max_ntt_log: 16,
    };
    /// For slow backends (a simulator behind a serial link): 2^12 each.
    pub const SMALL: Limits = Limits {
        max_msm_log: 12,
        max_ntt_log: 12,
    };
}

/// The random source of a check: a fresh seed each run unless `ZKEDGE_TEST_SEED` pins one.
pub fn test_rng(check: &str) -> (ChaCha20Rng, u64) {
    let seed = test_seed(check);
    (ChaCha20Rng::seed_from_u64(seed), seed)
}

/// A fresh seed each run unless `ZKEDGE_TEST_SEED` pins one; printed, so that a failure can be
/// rerun.
pub fn test_seed(check: &str) -> u64 {
    let seed = std::env::var("ZKEDGE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rngs::OsRng.next_u64());
    eprintln!("{check}: seed {seed} (rerun with ZKEDGE_TEST_SEED={seed})");
    seed
}

/// Runs one check with a fresh rng and panics with the failure and the seed if it fails.
pub fn run(check: &str, f: impl FnOnce(&mut ChaCha20Rng) -> Check) {
    let (mut rng, seed) = test_rng(check);
    if let Err(failure) = f(&mut rng) {
        panic!("{check} failed (seed {seed}): {failure}");
    }
}

/// Every check of the suite, in order; stops at the first failure.
pub fn all_checks<B: accel_backends::Backend + ?Sized>(
    backend: &mut B,
    rng: &mut ChaCha20Rng,
    limits: Limits,
) -> Check {
    msm::random_sizes(backend, rng, limits)?;
    msm::edge_cases(backend, rng)?;
    msm::sub_ranges(backend, rng)?;
    msm::batches(backend, rng)?;
    msm::precomputed(backend, rng)?;
    widths::scalar_widths(backend, rng)?;
    widths::wrong_hints(backend, rng)?;
    ntt::against_ark_poly(backend, rng, limits)?;
    ntt::against_naive_dft(backend, rng)?;
    ntt::against_halo2(backend, rng, limits)?;
    ntt::round_trips(backend, rng, limits)?;
    ntt::batches(backend, rng)?;
    msm::errors(backend)?;
    ntt::errors(backend)?;
    Ok(())
}

/// Declares one `#[test]` per check of the suite for the backend that `$make` builds.
#[macro_export]
macro_rules! backend_conformance {
    ($make:expr, $limits:expr) => {
        #[test]
        fn msm_random_sizes_match_arkworks_and_naive_sum() {
            $crate::run("msm_random_sizes", |rng| {
                $crate::msm::random_sizes(&mut $make, rng, $limits)
            });
        }
        #[test]
        fn msm_edge_cases() {
            $crate::run("msm_edge_cases", |rng| {
                $crate::msm::edge_cases(&mut $make, rng)
            });
        }
        #[test]
        fn msm_sub_ranges_of_loaded_bases() {
            $crate::run("msm_sub_ranges", |rng| {
                $crate::msm::sub_ranges(&mut $make, rng)
            });
        }
        #[test]
        fn msm_batches_and_counters() {
            $crate::run("msm_batches", |rng| $crate::msm::batches(&mut $make, rng));
        }
        #[test]
        fn msm_precomputed_bases_give_the_same_sums() {
            $crate::run("msm_precomputed", |rng| {
                $crate::msm::precomputed(&mut $make, rng)
            });
        }
        #[test]
        fn msm_scalar_width_hints_give_the_full_sum() {
            $crate::run("msm_scalar_widths", |rng| {
                $crate::widths::scalar_widths(&mut $make, rng)
            });
        }
        #[test]
        fn msm_wrong_width_hints_still_give_the_full_sum() {
            $crate::run("msm_wrong_hints", |rng| {
                $crate::widths::wrong_hints(&mut $make, rng)
            });
        }
        #[test]
        fn msm_bad_input_gives_typed_errors() {
            $crate::run("msm_errors", |_| $crate::msm::errors(&mut $make));
        }
        #[test]
        fn ntt_matches_ark_poly() {
            $crate::run("ntt_ark_poly", |rng| {
                $crate::ntt::against_ark_poly(&mut $make, rng, $limits)
            });
        }
        #[test]
        fn ntt_matches_naive_dft() {
            $crate::run("ntt_naive_dft", |rng| {
                $crate::ntt::against_naive_dft(&mut $make, rng)
            });
        }
        #[test]
        fn ntt_matches_halo2_evaluation_domain() {
            $crate::run("ntt_halo2", |rng| {
                $crate::ntt::against_halo2(&mut $make, rng, $limits)
            });
        }
        #[test]
        fn ntt_round_trips() {
            $crate::run("ntt_round_trips", |rng| {
                $crate::ntt::round_trips(&mut $make, rng, $limits)
            });
        }
        #[test]
        fn ntt_batches_and_counters() {
            $crate::run("ntt_batches", |rng| $crate::ntt::batches(&mut $make, rng));
        }
        #[test]
        fn ntt_bad_input_gives_typed_errors() {
            $crate::run("ntt_errors", |_| $crate::ntt::errors(&mut $make));
        }
    };
}
