/// What a backend has done since it was created (or its counters were reset).
///
/// The checked entry points of [`Backend`](crate::Backend) keep the call, element and time
/// counts, so they mean the same for every backend; a backend adds what only it can know
/// (simulated cycles, bytes on its link).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// MSMs computed (each job of a batch counts once).
    pub msm_calls: u64,
    /// Scalar–base pairs in those MSMs.
    pub msm_elements: u64,
    /// NTTs computed (each job of a batch counts once).
    pub ntt_calls: u64,
    /// Field elements transformed by those NTTs.
    pub ntt_elements: u64,
    /// Sets of bases loaded.
    pub bases_loads: u64,
    /// Points in those sets.
    pub bases_points: u64,
    /// Wall time inside MSM calls, in nanoseconds (0 where the build has no clock).
    pub msm_nanos: u64,
    /// Wall time inside NTT calls, in nanoseconds (0 where the build has no clock).
    pub ntt_nanos: u64,
    /// Cycles the device reports having spent (simulated or real; 0 if it reports none).
    pub device_cycles: u64,
    /// Bytes the backend sent and received over its link (0 for a local backend).
    pub link_bytes: u64,
}

impl Counters {
    /// The difference `self - earlier`, field by field; for measuring one stretch of work.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            msm_calls: self.msm_calls.saturating_sub(earlier.msm_calls),
            msm_elements: self.msm_elements.saturating_sub(earlier.msm_elements),
            ntt_calls: self.ntt_calls.saturating_sub(earlier.ntt_calls),
            ntt_elements: self.ntt_elements.saturating_sub(earlier.ntt_elements),
            bases_loads: self.bases_loads.saturating_sub(earlier.bases_loads),
            bases_points: self.bases_points.saturating_sub(earlier.bases_points),
            msm_nanos: self.msm_nanos.saturating_sub(earlier.msm_nanos),
            ntt_nanos: self.ntt_nanos.saturating_sub(earlier.ntt_nanos),
            device_cycles: self.device_cycles.saturating_sub(earlier.device_cycles),
            link_bytes: self.link_bytes.saturating_sub(earlier.link_bytes),
        }
    }
}

/// How a device turns its counters into time: the clock its [`Counters::device_cycles`] are
/// counted in, and the serial line (8N1: 10 bit times a byte) its data crosses. Reported by
/// [`Backend::device_timing`](crate::Backend::device_timing) for backends that count cycles;
/// benchmarks use it to project a device's time apart from the host's wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct DeviceTiming {
    /// The device clock in Hz.
    pub clock_hz: u64,
    /// The line rate in baud of the link the device sits behind, if it has one (a simulator
    /// in process names the link its model assumes, though no byte crosses it).
    pub link_baud: Option<u32>,
}

impl DeviceTiming {
    /// A clock of `clock_hz` behind a line of `link_baud`.
    pub const fn new(clock_hz: u64, link_baud: Option<u32>) -> Self {
        Self {
            clock_hz,
            link_baud,
        }
    }

    /// `cycles` of this clock in seconds (0 for a zero clock).
    pub fn cycles_to_secs(&self, cycles: u64) -> f64 {
        if self.clock_hz == 0 {
            0.0
        } else {
            cycles as f64 / self.clock_hz as f64
        }
    }

    /// `bytes` on the line in seconds at 10 bit times a byte (`None` without a link).
    pub fn link_secs(&self, bytes: u64) -> Option<f64> {
        self.link_baud
            .filter(|&baud| baud > 0)
            .map(|baud| bytes as f64 * 10.0 / f64::from(baud))
    }
}
