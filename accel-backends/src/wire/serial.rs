//! [`SerialBackend`]: MSMs and NTTs done by a wire server (hw-sim, a board, a host driver)
//! behind a serial port or pseudo-terminal — the [`WireBackend`] over a [`SerialLine`].
//!
//! The client is the one every zkedge link uses ([`Client`]): a lost or damaged frame is
//! retransmitted on its own, every job runs under a deadline sized to its bytes at the line's
//! rate and its work at the peer's measured speed, and the handshake is tried several times.

use std::{
    io::{self, Read, Write},
    time::{Duration, Instant},
};

use super::{Client, ClientConfig, Line, LineError, Timeouts, WireBackend};
use crate::{BackendError, Checked};

/// How to talk to the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SerialConfig {
    /// Line rate (ignored by pseudo-terminals, but still the rate job budgets assume).
    pub baud: u32,
    /// Reply windows and job budgets.
    pub timeouts: Timeouts,
    /// Handshakes tried before [`SerialBackend::open`] gives up.
    pub connect_attempts: u32,
}

impl SerialConfig {
    /// A line at `baud` whose small requests are retransmitted when their reply is `reply`
    /// late (plus the frames' transfer time); the other timeouts are the defaults, with the
    /// line's rate taken from `baud` (8N1: ten bits a byte).
    pub fn new(baud: u32, reply: Duration) -> Self {
        let timeouts = Timeouts {
            reply_ms: u32::try_from(reply.as_millis()).unwrap_or(u32::MAX),
            link_bytes_per_s: (baud / 10).max(1),
            quiet_ms: 20,
            ..Timeouts::default()
        };
        Self {
            baud,
            timeouts,
            connect_attempts: 3,
        }
    }

    /// The same with other timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The same with `attempts` handshakes.
    pub fn with_connect_attempts(mut self, attempts: u32) -> Self {
        self.connect_attempts = attempts.max(1);
        self
    }
}

impl Default for SerialConfig {
    fn default() -> Self {
        Self::new(115_200, Duration::from_millis(500))
    }
}

/// Why [`SerialBackend::open`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The port could not be opened or configured.
    #[error("could not open serial port {path}: {source}; check the path and permissions")]
    Port {
        /// The path given.
        path: String,
        /// What the OS said.
        #[source]
        source: serialport::Error,
    },
    /// The port opened but the handshake failed.
    #[error("handshake with the peer on {path} failed: {source}")]
    Handshake {
        /// The path given.
        path: String,
        /// Why.
        #[source]
        source: BackendError,
    },
}

/// A serial port as a [`Line`].
pub struct SerialLine {
    port: Box<dyn serialport::SerialPort>,
    start: Instant,
}

impl SerialLine {
    /// The line over an open port.
    pub fn new(port: Box<dyn serialport::SerialPort>) -> Self {
        Self {
            port,
            start: Instant::now(),
        }
    }
}

fn line_error(e: &io::Error) -> LineError {
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => LineError::Closed,
        // A pseudo-terminal whose other end is gone reads EIO.
        _ if e.raw_os_error() == Some(5) => LineError::Closed,
        _ => LineError::Io,
    }
}

impl Line for SerialLine {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        self.port.write_all(bytes).map_err(|e| line_error(&e))
    }

    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError> {
        self.port
            .set_timeout(Duration::from_millis(u64::from(timeout_ms.max(1))))
            .map_err(|_| LineError::Io)?;
        match self.port.read(buf) {
            Ok(0) => Err(LineError::Closed),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(line_error(&e)),
        }
    }

    fn now_ms(&mut self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A backend served over a serial port by the wire protocol: the hooks, which
/// [`open`](WireBackend::open) and [`over`](WireBackend::over) put behind the checked front.
pub type SerialBackend = WireBackend<SerialLine>;

impl WireBackend<SerialLine> {
    /// Opens `path`, resynchronises the line and shakes hands with the peer (up to
    /// [`SerialConfig::connect_attempts`] times).
    pub fn open(path: &str, config: SerialConfig) -> Result<Checked<Self>, OpenError> {
        let port = serialport::new(path, config.baud)
            .timeout(Duration::from_millis(u64::from(
                config.timeouts.reply_ms.max(1),
            )))
            .open()
            .map_err(|source| OpenError::Port {
                path: path.into(),
                source,
            })?;
        Self::over(port, config).map_err(|source| OpenError::Handshake {
            path: path.into(),
            source,
        })
    }

    /// Shakes hands over an already open port.
    pub fn over(
        port: Box<dyn serialport::SerialPort>,
        config: SerialConfig,
    ) -> Result<Checked<Self>, BackendError> {
        let client = Client::new(SerialLine::new(port), ClientConfig::new(config.timeouts, 0));
        let mut backend = WireBackend::new(client, "serial").with_baud(config.baud);
        backend.connect(config.connect_attempts)?;
        Ok(backend.checked())
    }
}
