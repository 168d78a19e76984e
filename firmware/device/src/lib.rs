//! The device's side of the link to the host driver (`zkedge serve`), `no_std` + `alloc`, so
//! that the Cortex-M firmware runs it and host tests run the very same code against the real
//! host driver.
//!
//! - [`Line`]: the byte link (a UART on the board, a socket in tests), with a clock for
//!   timeouts.
//! - [`Client`]: requests and replies in `accel-proto` frames. Every reply is awaited with a
//!   timeout; a damaged or unexpected reply is answered with a [`Fault`] frame; a job that
//!   fails on the link is started over after a resynchronisation, a bounded number of times.
//!   Nothing the host sends can make it panic or allocate.
//! - [`Remote`]: a [`Backend`] for the device's prover. MSMs go to the host by bases handle
//!   (the SRS never crosses the link; only scalars do, in the cheap device→host direction);
//!   NTTs stay on the device unless the host's policy asks for them.
//! - [`session`]: opening a proving session, sending a witness (witness mode), submitting a
//!   proof made on the device (device-proving mode).
//!
//! [`Fault`]: accel_proto::RequestBody::Fault
//! [`Backend`]: accel_backends::Backend
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod client;
mod line;
mod remote;
pub mod session;

pub use client::{CallError, Client, ClientConfig, LinkStats, Timeouts};
pub use line::{Line, LineError};
pub use remote::Remote;
pub use session::Proved;

/// The largest frame this side sends or accepts: the protocol's minimum, what a 4 KiB
/// receive buffer holds.
pub const FRAME: usize = accel_proto::MIN_MAX_FRAME;
