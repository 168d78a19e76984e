use core::fmt;

use crate::BasesHandle;

/// The operation an error refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Op {
    /// Loading a set of bases.
    LoadBases,
    /// A multi-scalar multiplication.
    Msm,
    /// A number-theoretic transform.
    Ntt,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::LoadBases => "loading bases",
            Op::Msm => "MSM",
            Op::Ntt => "NTT",
        })
    }
}

/// A failure of the link to a backend that lives elsewhere (a serial port, a socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LinkError {
    /// No complete reply arrived within the request's timeout.
    #[error(
        "no reply within the timeout; check that the peer is running and the baud rate matches"
    )]
    Timeout,
    /// The peer closed the link or the port went away.
    #[error("the link was closed by the peer")]
    Closed,
    /// The operating system reported an I/O error on the port.
    #[error("I/O error on the link")]
    Io,
    /// A frame arrived damaged (bad CRC, bad framing, oversize).
    #[error("a damaged frame arrived (bad CRC, framing or length)")]
    Corrupt,
    /// The peer sent a well-formed message that makes no sense at this point.
    #[error("the peer sent an unexpected message")]
    Protocol,
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak {ours}, the peer speaks {theirs}")]
    Version {
        /// Our protocol version.
        ours: u16,
        /// The peer's protocol version.
        theirs: u16,
    },
}

/// A fault reported by a device (GPU runtime, accelerator) in its own numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceFault {
    /// Which kind of device reported it, e.g. `"icicle"` or `"hw-sim"`.
    pub device: &'static str,
    /// The device's own error code.
    pub code: u32,
}

impl fmt::Display for DeviceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} reported error code {}", self.device, self.code)
    }
}

/// Why a backend refused or failed an operation.
///
/// Every variant is the caller's to handle: a router may retry a refused size on another
/// backend; none of these is ever a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BackendError {
    /// The size is beyond what this backend can do.
    #[error("{op} of size {size} is beyond this backend's limit of {max}")]
    SizeUnsupported {
        /// The operation.
        op: Op,
        /// The size asked for (elements).
        size: usize,
        /// The largest size the backend takes.
        max: usize,
    },
    /// The NTT input's length does not match the domain.
    #[error(
        "NTT input has {len} elements but the domain has 2^{log_n}; pass exactly the domain's size"
    )]
    DomainMismatch {
        /// Length of the values passed.
        len: usize,
        /// log2 of the domain's size.
        log_n: u32,
    },
    /// The root given for a domain is not a primitive root of unity of the right order.
    #[error("ω is not a primitive 2^{log_n}-th root of unity in Fr")]
    InvalidRoot {
        /// log2 of the domain size asked for.
        log_n: u32,
    },
    /// A coset generator of zero was given.
    #[error("the coset generator must be non-zero")]
    ZeroCosetGenerator,
    /// The handle was never returned by this backend's `load_bases`, or was released.
    #[error("bases handle {0} is unknown to this backend (never loaded here, or released)")]
    UnknownBases(BasesHandle),
    /// The MSM reaches past the end of the loaded bases.
    #[error("MSM over bases {start}..{end} of handle {handle} exceeds the {loaded} bases loaded")]
    BasesOutOfRange {
        /// The handle.
        handle: BasesHandle,
        /// First base index asked for.
        start: usize,
        /// One past the last base index asked for.
        end: usize,
        /// How many bases the handle holds.
        loaded: usize,
    },
    /// A base is not a point of BN254's G1 (off the curve).
    #[error("base {index} is not a point of BN254 G1; check the SRS file it came from")]
    InvalidBase {
        /// Position of the first bad base.
        index: usize,
    },
    /// The backend has no free slot for another set of bases.
    #[error("no free bases slot (this backend holds at most {max}); release a handle first")]
    NoBasesSlot {
        /// How many sets of bases the backend holds at once.
        max: u32,
    },
    /// The link to a remote backend failed.
    #[error("link failure: {0}")]
    Link(#[from] LinkError),
    /// The device reported a fault.
    #[error("device failure: {0}")]
    Device(DeviceFault),
    /// The backend could not allocate memory for the job.
    #[error("out of memory for a job of {elements} elements")]
    OutOfMemory {
        /// The job's size in elements.
        elements: usize,
    },
    /// The backend returned a result that failed its check (an MSM whose KZG opening does not
    /// hold, an NTT whose output is not its input's evaluations): it computed wrongly or lied.
    #[error("{op} result from {backend} failed its check: the backend computed wrongly")]
    WrongResult {
        /// The operation.
        op: Op,
        /// The backend's name.
        backend: &'static str,
    },
}

impl BackendError {
    /// Whether another backend may do the job: the backend refused what it cannot do (size,
    /// slots, memory, bases it does not hold), or failed (its link, its device, a wrong result).
    /// `false` for errors in the job itself (a domain that does not match, an invalid root or
    /// base, a range past the bases), which every backend would refuse alike.
    pub const fn try_elsewhere(&self) -> bool {
        matches!(
            self,
            BackendError::SizeUnsupported { .. }
                | BackendError::NoBasesSlot { .. }
                | BackendError::OutOfMemory { .. }
                | BackendError::UnknownBases(_)
                | BackendError::Link(_)
                | BackendError::Device(_)
                | BackendError::WrongResult { .. }
        )
    }

    /// Whether the error speaks against the backend's health (its link or device failed, or
    /// it computed wrongly), as opposed to a refusal of a job it cannot take: what a circuit
    /// breaker counts.
    pub const fn is_fault(&self) -> bool {
        matches!(
            self,
            BackendError::Link(_) | BackendError::Device(_) | BackendError::WrongResult { .. }
        )
    }

    /// Whether the backend did not answer in time.
    pub const fn is_timeout(&self) -> bool {
        matches!(self, BackendError::Link(LinkError::Timeout))
    }
}
