//! The device's side of the link to the host driver (`zkedge serve`), `no_std` + `alloc`, so
//! that the Cortex-M firmware runs it and host tests run the very same code against the real
//! host driver.
//!
//! - [`Line`] and [`Client`]: the wire client every zkedge link uses
//!   (`accel_backends::wire`), re-exported: the byte link with a clock, and requests and
//!   replies in `accel-proto` frames — a lost or damaged frame is retransmitted on its own
//!   (a damaged reply first answered with a [`Fault`] frame), every job runs under a deadline,
//!   and a job that fails on the link is started over after a resynchronisation, a bounded
//!   number of times. Nothing the host sends can make it panic or allocate.
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

extern crate alloc;

mod remote;
pub mod session;

pub use accel_backends::wire::{
    CallError, Client, ClientConfig, Line, LineError, LinkStats, Timeouts, Wait, Work, FRAME,
};
pub use remote::Remote;
pub use session::Proved;
