//! The line to the device: a serial port (a USB-UART adapter, or the pseudo-terminal QEMU
//! creates with `-serial pty`) or a Unix socket (QEMU's `-serial unix:PATH,server=on`).

use std::{
    io::{self, Read, Write},
    os::unix::net::UnixStream,
    thread,
    time::{Duration, Instant},
};

use thiserror::Error;

/// Why the line could not be opened.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PortError {
    /// The serial port refused.
    #[error("cannot open serial port {path}: {source}")]
    Serial {
        /// The port.
        path: String,
        /// Why.
        source: serialport::Error,
    },
    /// Nothing listened on the socket in time.
    #[error(
        "cannot connect to {path} (is QEMU running with -serial unix:{path},server=on?): {source}"
    )]
    Unix {
        /// The socket.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// An open line.
pub enum Port {
    /// A serial device or pseudo-terminal.
    Serial(Box<dyn serialport::SerialPort>),
    /// A Unix socket.
    Unix(UnixStream),
}

/// How long a read waits before the serve loop looks again.
const POLL: Duration = Duration::from_millis(200);

/// Opens `spec`: `unix:PATH` connects to a socket (retrying for up to `wait`, as QEMU may not
/// have created it yet); anything else is a serial device path, opened raw at `baud`.
pub fn open(spec: &str, baud: u32, wait: Duration) -> Result<Port, PortError> {
    if let Some(path) = spec.strip_prefix("unix:") {
        let start = Instant::now();
        loop {
            match UnixStream::connect(path) {
                Ok(s) => {
                    let _ = s.set_read_timeout(Some(POLL));
                    return Ok(Port::Unix(s));
                }
                Err(source) if start.elapsed() >= wait => {
                    return Err(PortError::Unix {
                        path: path.into(),
                        source,
                    })
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    serialport::new(spec, baud)
        .timeout(POLL)
        .open()
        .map(Port::Serial)
        .map_err(|source| PortError::Serial {
            path: spec.into(),
            source,
        })
}

/// A device's line as `zkedge serve` drives it: reads and writes that give up after a wait,
/// so that one direction never blocks the other.
pub trait DeviceLine: Read + Write {
    /// Makes reads and writes return `TimedOut`/`WouldBlock` after `wait`.
    fn set_wait(&mut self, wait: Duration) -> io::Result<()>;
}

impl DeviceLine for UnixStream {
    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(wait))?;
        self.set_write_timeout(Some(wait))
    }
}

impl DeviceLine for Port {
    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        match self {
            Port::Serial(p) => p.set_timeout(wait).map_err(io::Error::other),
            Port::Unix(s) => s.set_wait(wait),
        }
    }
}

/// Whether a read error means the other side of the line went away (a pseudo-terminal whose
/// master was closed reads `EIO`; a socket may report a reset).
pub fn is_hangup(e: &io::Error) -> bool {
    e.raw_os_error() == Some(5)
        || matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof
        )
}

impl Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Port::Serial(p) => p.read(buf),
            Port::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Port {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Port::Serial(p) => p.write(buf),
            Port::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Port::Serial(p) => p.flush(),
            Port::Unix(s) => s.flush(),
        }
    }
}
