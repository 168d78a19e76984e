//! A circuit breaker for one backend: after a timeout, or a few faults in a row, no job goes
//! to the backend for a back-off period; then one job probes it, and its outcome closes the
//! breaker or opens it again for twice as long (up to a ceiling).
//!
//! Why: a silent peer costs its timeout once, not once per job. Refusals of a job the backend
//! cannot take (too large, no slot) are not faults and leave the breaker alone.

/// A millisecond clock for back-off periods.
pub trait Clock {
    /// Milliseconds since an arbitrary start; only differences are used.
    fn now_ms(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Clock for F {
    fn now_ms(&mut self) -> u64 {
        self()
    }
}

/// The wall clock (`std`).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct StdClock(std::time::Instant);

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

#[cfg(feature = "std")]
impl Clock for StdClock {
    fn now_ms(&mut self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// When the breaker opens and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct BreakerConfig {
    /// Faults in a row that open the breaker (a timeout opens it at once).
    pub faults: u32,
    /// The first back-off, in milliseconds.
    pub backoff_ms: u64,
    /// The longest back-off.
    pub max_backoff_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            faults: 3,
            backoff_ms: 30_000,
            max_backoff_ms: 600_000,
        }
    }
}

impl BreakerConfig {
    /// These thresholds.
    pub const fn new(faults: u32, backoff_ms: u64, max_backoff_ms: u64) -> Self {
        Self {
            faults,
            backoff_ms,
            max_backoff_ms,
        }
    }
}

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BreakerState {
    /// Jobs go to the backend; `faults` in a row so far.
    Closed {
        /// Consecutive faults.
        faults: u32,
    },
    /// No job goes to the backend before `until`.
    Open {
        /// When the next job may probe it.
        until: u64,
        /// The back-off that led here.
        backoff: u64,
    },
    /// One job is probing the backend.
    Probing {
        /// The back-off that preceded the probe.
        backoff: u64,
    },
}

/// A circuit breaker.
#[derive(Clone, Copy, Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    trips: u32,
}

impl Breaker {
    /// A closed breaker.
    pub const fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: BreakerState::Closed { faults: 0 },
            trips: 0,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// How many times it opened.
    pub fn trips(&self) -> u32 {
        self.trips
    }

    /// Whether it is open (or probing): the backend is not trusted with jobs for now.
    pub fn is_open(&self) -> bool {
        !matches!(self.state, BreakerState::Closed { .. })
    }

    /// Whether a job may go to the backend at `now`; once the back-off has run out, one job
    /// is let through as the probe.
    pub fn allow(&mut self, now: u64) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until, backoff } if now >= until => {
                self.state = BreakerState::Probing { backoff };
                true
            }
            BreakerState::Open { .. } | BreakerState::Probing { .. } => false,
        }
    }

    /// The backend did a job.
    pub fn success(&mut self) {
        self.state = BreakerState::Closed { faults: 0 };
    }

    /// The backend failed a job at `now` (`timeout`: it did not answer in time).
    pub fn failure(&mut self, now: u64, timeout: bool) {
        let backoff = match self.state {
            BreakerState::Closed { faults } => {
                let faults = faults + 1;
                if !timeout && faults < self.config.faults {
                    self.state = BreakerState::Closed { faults };
                    return;
                }
                self.config.backoff_ms
            }
            // A failed probe doubles the back-off.
            BreakerState::Probing { backoff } | BreakerState::Open { backoff, .. } => {
                backoff.saturating_mul(2).min(self.config.max_backoff_ms)
            }
        };
        self.trips += 1;
        self.state = BreakerState::Open {
            until: now.saturating_add(backoff),
            backoff,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_opens_at_once_faults_after_a_run_and_probes_back_off() {
        let mut b = Breaker::new(BreakerConfig::new(3, 1_000, 3_000));
        // Two faults, a success: still closed, count reset.
        b.failure(0, false);
        b.failure(0, false);
        assert!(b.allow(0));
        b.success();
        b.failure(0, false);
        b.failure(0, false);
        assert!(!b.is_open());
        b.failure(10, false);
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: 1_010,
                backoff: 1_000
            }
        );
        assert!(!b.allow(1_009));
        // The probe fails: twice the back-off; then the ceiling.
        assert!(b.allow(1_010));
        assert!(!b.allow(1_010), "one probe at a time");
        b.failure(1_020, true);
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: 3_020,
                backoff: 2_000
            }
        );
        assert!(b.allow(3_020));
        b.failure(3_020, true);
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: 6_020,
                backoff: 3_000
            }
        );
        // A probe that succeeds closes it.
        assert!(b.allow(6_020));
        b.success();
        assert!(b.allow(6_021) && !b.is_open());
        assert_eq!(b.trips(), 3);
        // A timeout opens a closed breaker at once.
        b.failure(7_000, true);
        assert!(b.is_open() && !b.allow(7_999));
    }
}
