//! The wire protocol (`accel-proto`) on both ends, for every link zkedge has: a device's link
//! to the host driver, and the host's link to an accelerator.
//!
//! Client side (`no_std` + `alloc`, feature `proto`):
//! - [`Line`]: the byte link with a clock (a UART, a serial port, a socket);
//! - [`Client`]: requests and replies with retransmission of lost or damaged frames, `Fault`
//!   frames, stale-reply skipping, resynchronisation and deadlines sized to each job;
//! - [`WireBackend`]: a [`Backend`] whose MSMs and NTTs run on the peer, over a `Client`.
//!
//! Server side:
//! - [`Upload`]: the receiving end of a chunked upload, for every server (`no_std`);
//! - [`Server`] (feature `wire`): answers requests from a byte stream with any [`Backend`];
//!   the hw-sim accelerator serves its engines with it, and the host driver (`zkedge serve`)
//!   serves a device with it;
//! - [`SerialBackend`](serial::SerialBackend) (feature `serial`): a `WireBackend` on a serial
//!   port or pseudo-terminal.
//!
//! Testing (feature `wire`): [`faults`] injects damage, loss, duplication, stalls, silence and
//! lies into frames; [`loopback`] runs a client against a server in process on a simulated
//! clock, through that injector.
//!
//! [`Backend`]: crate::Backend

mod client;
#[cfg(feature = "wire")]
pub mod faults;
mod line;
#[cfg(feature = "wire")]
pub mod loopback;
mod remote;
#[cfg(feature = "serial")]
pub mod serial;
#[cfg(feature = "wire")]
pub mod server;
pub mod upload;

pub use crate::wire_error::{backend_error_to_wire, wire_error_to_backend};
pub use client::{CallError, Client, ClientConfig, LinkStats, Timeouts, Wait, Work};
pub use line::{Line, LineError};
pub use remote::{call_error, WireBackend};
#[cfg(feature = "wire")]
pub use server::{Extension, NoExtension, ServeConfig, Server};
pub use upload::Upload;

/// The frame size every zkedge peer uses: what a 4 KiB receive buffer on the firmware holds,
/// so that the host and the simulator exercise exactly the framing the board will.
pub const FRAME: usize = accel_proto::MIN_MAX_FRAME;
