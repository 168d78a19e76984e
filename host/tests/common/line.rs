//! The device's side of a link over a Unix socket, as the tests drive it.

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    time::{Duration, Instant},
};

use zkedge_device::{Line, LineError};

/// The device's line over a socket, optionally damaging what it receives.
pub struct SocketLine {
    pub stream: UnixStream,
    start: Instant,
    /// Flip one received byte in every `n`.
    pub damage: Option<usize>,
    received: usize,
}

impl SocketLine {
    pub fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            start: Instant::now(),
            damage: None,
            received: 0,
        }
    }
}

impl Line for SocketLine {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        self.stream.write_all(bytes).map_err(|_| LineError::Io)
    }

    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError> {
        let wait = Duration::from_millis(u64::from(timeout_ms.max(1)));
        self.stream
            .set_read_timeout(Some(wait))
            .map_err(|_| LineError::Io)?;
        match self.stream.read(buf) {
            Ok(0) => Err(LineError::Closed),
            Ok(n) => {
                if let Some(every) = self.damage {
                    for b in &mut buf[..n] {
                        self.received += 1;
                        if self.received % every == every / 2 {
                            *b ^= 0x5a;
                        }
                    }
                }
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(0)
            }
            Err(_) => Err(LineError::Io),
        }
    }

    fn now_ms(&mut self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}
