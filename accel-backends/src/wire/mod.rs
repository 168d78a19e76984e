//! Both ends of the wire protocol (`accel-proto`) over `std` I/O.
//!
//! - [`Server`] (feature `wire`) answers requests from a byte stream with any [`Backend`]: the
//!   hw-sim accelerator serves its engines with it, and the host driver (`zkedge serve`)
//!   serves a device with it.
//! - [`SerialBackend`](serial::SerialBackend) (feature `serial`) is a [`Backend`] whose work is
//!   done by such a server on the other side of a serial port.
//!
//! [`Backend`]: crate::Backend

#[cfg(feature = "serial")]
pub mod serial;
pub mod server;

pub use crate::wire_error::{backend_error_to_wire, wire_error_to_backend};
pub use server::{Extension, NoExtension, ServeConfig, Server};

/// The frame size both ends use: what a 4 KiB receive buffer on the firmware holds, so that
/// the host and the simulator exercise exactly the framing the board will.
pub const FRAME: usize = accel_proto::MIN_MAX_FRAME;
