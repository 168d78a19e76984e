//! zkedge's ICICLE backend: BN254 MSMs and NTTs on an NVIDIA GPU through ICICLE v4 (or on
//! ICICLE's CPU device where no GPU is present), behind the [`Backend`] trait.
//!
//! - **Device**: ICICLE's backends are loaded once per process from `ICICLE_BACKEND_INSTALL_DIR`
//!   (or `/opt/icicle/lib/backend`); [`DeviceChoice::Auto`] prefers CUDA and falls back to
//!   ICICLE's CPU device, and [`Selected::note`] says which and why. A device is activated only
//!   after ICICLE confirms it (activating an unknown one aborts the process), and again on
//!   every thread that calls the backend (ICICLE's active device is per thread).
//! - **MSM**: bases converted once per handle and kept on the device; scalars shared zero-copy
//!   in arkworks' Montgomery form.
//! - **NTT**: ICICLE's single global domain always holds halo2's roots for the largest size in
//!   use; other roots are served by a permutation ([`domain`](crate::domain) explains).
//! - **Errors**: ICICLE's codes become [`BackendError::Device`] with device `"icicle"`, or
//!   [`BackendError::OutOfMemory`]; outputs that are not field elements or curve points are
//!   refused ([`FAULT_BAD_OUTPUT`]). Nothing here panics on caller input.
//!
//! This crate is its own workspace: ICICLE's Rust crates come from git, and naming them in the
//! main workspace would break its offline builds. `docs/backends/icicle.md` says how to build.
//!
//! [`Backend`]: accel_backends::Backend
//! [`BackendError::Device`]: accel_backends::BackendError::Device
//! [`BackendError::OutOfMemory`]: accel_backends::BackendError::OutOfMemory
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod backend;
mod convert;
mod device;
pub mod domain;
mod error;

pub use backend::IcicleBackend;
pub use device::{load_backends, select, BackendsLoaded, DeviceChoice, Selected};
pub use error::{SetupError, DEVICE, FAULT_BAD_OUTPUT};
