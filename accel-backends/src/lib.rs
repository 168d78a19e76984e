//! The one door to hardware.
//!
//! Everything in zkedge that computes a multi-scalar multiplication (MSM) or a number-theoretic
//! transform (NTT) for a proof calls a [`Backend`]; nothing else touches a CPU kernel, a GPU or
//! the accelerator on the other side of a serial link. The trait is `no_std` + `alloc` so that
//! the firmware's prover uses it too.
//!
//! All arithmetic is over BN254: scalars are [`Fr`], bases are [`G1Affine`], sums are
//! [`G1Projective`] (the arkworks types).
//!
//! # Shape
//! - Bases are loaded once ([`Backend::load_bases`]) and referred to by a [`BasesHandle`]; an MSM
//!   runs over any sub-range of them, as a prover commits polynomials of several lengths against
//!   one SRS. An accelerator keeps the SRS; nothing re-sends it per MSM.
//! - NTTs are in place, natural order in and out, over an explicit [`Domain`] (so a caller can
//!   match halo2's root of unity), forward or inverse, optionally on a coset ([`NttOp`]).
//! - Every entry point validates its input and returns a typed [`BackendError`]. Implementors
//!   write [`BackendHooks`] — the `*_unchecked` operations and their capabilities — and the
//!   checked front [`Checked`] over them is the backend callers use: it validates, brands each
//!   [`BasesHandle`] with its backend, and keeps the [`Counters`] and the clock, the same way
//!   for every backend.
//! - An MSM may say how wide its scalars are ([`MsmJob::scalar_bits`]); a circuit's columns of
//!   small signed values then cost a fraction of a full MSM, with the same result.
//!
//! ```
//! use accel_backends::{Backend, CpuBackend, Domain, NttOp, Fr, G1Affine};
//! use ark_ec::AffineRepr;
//!
//! let mut cpu = CpuBackend::new();
//! let g = G1Affine::generator();
//! let srs = cpu.load_bases(&[g, g, g])?;
//! // 1·g + 2·g over the first two bases.
//! let sum = cpu.msm(srs, 0, &[Fr::from(1u64), Fr::from(2u64)])?;
//! assert_eq!(sum, g * Fr::from(3u64));
//!
//! let domain = Domain::with_default_root(2)?;
//! let mut values = [Fr::from(1u64), Fr::from(2u64), Fr::from(3u64), Fr::from(4u64)];
//! cpu.ntt(&mut values, &domain, NttOp::forward())?;
//! cpu.ntt(&mut values, &domain, NttOp::inverse())?;
//! assert_eq!(values[3], Fr::from(4u64));
//! assert_eq!(cpu.counters().ntt_calls, 2);
//! # Ok::<(), accel_backends::BackendError>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod backend;
mod bases;
mod counters;
pub mod cpu;
mod domain;
mod error;
mod handle;
mod hooks;
mod job;
mod par;
pub mod router;
pub mod width;
#[cfg(feature = "proto")]
pub mod wire;
#[cfg(feature = "proto")]
pub mod wire_error;

pub use ark_bn254::{Fr, G1Affine, G1Projective};
pub use backend::{Backend, Capabilities, Checked};
pub use bases::LoadedBases;
pub use counters::{Counters, DeviceTiming};
pub use cpu::CpuBackend;
pub use domain::{Domain, MAX_LOG_N};
pub use error::{BackendError, DeviceFault, LinkError, Op};
pub use handle::BasesHandle;
pub use hooks::{BackendHooks, Meter};
pub use job::{BasesConfig, MsmJob, NttDirection, NttOp, FULL_SCALAR_BITS};
pub use router::{Policy, Router};
