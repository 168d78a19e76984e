//! The byte link under a wire client: a UART on a device, a serial port or pseudo-terminal on
//! the host, a socket in tests.

/// Why the line failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LineError {
    /// The peer closed the link.
    #[error("the line was closed")]
    Closed,
    /// Received bytes were lost (a receive buffer overflowed).
    #[error("received bytes were lost (receive overrun)")]
    Overrun,
    /// The hardware or the OS reported an error.
    #[error("I/O error on the line")]
    Io,
}

/// A full-duplex byte link with a millisecond clock.
pub trait Line {
    /// Sends all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError>;

    /// Reads what has arrived into `buf`, waiting at most `timeout_ms` for the first byte;
    /// `Ok(0)` if nothing arrived in time. Never busy-waits on a device (sleep until an
    /// interrupt).
    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError>;

    /// Milliseconds since an arbitrary start; only differences are used.
    fn now_ms(&mut self) -> u64;
}

impl<L: Line + ?Sized> Line for &mut L {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        (**self).write_all(bytes)
    }

    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError> {
        (**self).read(buf, timeout_ms)
    }

    fn now_ms(&mut self) -> u64 {
        (**self).now_ms()
    }
}

impl<L: Line + ?Sized> Line for alloc::boxed::Box<L> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        (**self).write_all(bytes)
    }

    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError> {
        (**self).read(buf, timeout_ms)
    }

    fn now_ms(&mut self) -> u64 {
        (**self).now_ms()
    }
}
