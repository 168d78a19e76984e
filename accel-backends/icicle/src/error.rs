//! Errors: why a backend could not be set up, and how ICICLE's failures become the trait's
//! typed [`BackendError`]s.

use accel_backends::{BackendError, DeviceFault, Op};
use icicle_runtime::{eIcicleError, IcicleError};

/// The device name in every [`DeviceFault`] this backend reports.
pub const DEVICE: &str = "icicle";

/// [`DeviceFault`] code: ICICLE returned a value that is not a field element or point of BN254
/// (a coordinate or an NTT output at or above the modulus, or a sum off the curve). Codes below
/// 1000 are ICICLE's own `eIcicleError` numbers (C++ numbering: 1 invalid device, 2 out of
/// memory, … 10 API not implemented, 11 invalid argument, 12 backend load failed, 13 licence
/// check failed, 14 unknown).
pub const FAULT_BAD_OUTPUT: u32 = 1001;

/// Why an [`IcicleBackend`](crate::IcicleBackend) could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The device spec is malformed.
    #[error(
        "bad ICICLE device {spec:?}: use auto, CPU, CUDA, or TYPE:ID (e.g. CUDA:1), letters, \
         digits, '-' and '_' only"
    )]
    BadSpec {
        /// The spec given.
        spec: String,
    },
    /// ICICLE does not confirm the device (type not loaded, no such index, no GPU, no licence).
    #[error(
        "ICICLE device {device} is not available: {reason}. For CUDA install ICICLE's CUDA \
         backend, point ICICLE_BACKEND_INSTALL_DIR at its lib/backend directory and set \
         ICICLE_LICENSE"
    )]
    Unavailable {
        /// The device asked for, `TYPE:ID`.
        device: String,
        /// What ICICLE said: registered types, backends loaded, the code it refused with.
        reason: String,
    },
}

/// ICICLE's error code as a number (its C++ numbering; see [`FAULT_BAD_OUTPUT`]).
pub(crate) fn code(e: &IcicleError) -> u32 {
    // A field-less `#[repr(C)]` enum: the cast reads its discriminant.
    match e.code {
        eIcicleError::Success => 0,
        eIcicleError::InvalidDevice => 1,
        eIcicleError::OutOfMemory => 2,
        eIcicleError::InvalidPointer => 3,
        eIcicleError::AllocationFailed => 4,
        eIcicleError::DeallocationFailed => 5,
        eIcicleError::CopyFailed => 6,
        eIcicleError::SynchronizationFailed => 7,
        eIcicleError::StreamCreationFailed => 8,
        eIcicleError::StreamDestructionFailed => 9,
        eIcicleError::ApiNotImplemented => 10,
        eIcicleError::InvalidArgument => 11,
        // The Rust wrapper's 12th variant; in C++ numbering 12 is "backend load failed".
        eIcicleError::UnknownError => 12,
    }
}

/// An ICICLE failure during `op` on `elements` elements, as the trait's error. Allocation
/// failures become [`BackendError::OutOfMemory`] (a router may then try a smaller device or the
/// CPU); everything else a [`DeviceFault`] carrying ICICLE's code.
pub(crate) fn map(e: IcicleError, op: Op, elements: usize) -> BackendError {
    let code = code(&e);
    tracing::warn!(
        target: "accel_icicle",
        "ICICLE failed during {op} of {elements} elements: code {code}, {}",
        e.message.as_deref().unwrap_or("no message")
    );
    match e.code {
        eIcicleError::OutOfMemory | eIcicleError::AllocationFailed => {
            BackendError::OutOfMemory { elements }
        }
        _ => fault(code),
    }
}

/// A [`DeviceFault`] from this backend.
pub(crate) fn fault(code: u32) -> BackendError {
    BackendError::Device(DeviceFault {
        device: DEVICE,
        code,
    })
}
