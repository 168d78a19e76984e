//! The accelerator behind a serial line: a pseudo-terminal this process creates, or a device
//! that exists. Requests are answered by the generic wire [`Server`] over [`HwSim`].

use std::{
    fs::{File, OpenOptions},
    io,
    os::fd::{AsFd, OwnedFd},
    path::{Path, PathBuf},
};

use accel_backends::{
    wire::{ServeConfig, Server},
    Checked,
};
use nix::sys::termios::{self, BaudRate, SetArg};

use crate::{HwConfig, HwSim};

/// Why the line could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// Creating the pseudo-terminal pair failed.
    #[error("could not create a pseudo-terminal: {0}")]
    Pty(#[source] nix::Error),
    /// Opening the device failed.
    #[error("could not open {path}: {source}")]
    Open {
        /// The device.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Setting raw mode or the baud rate failed.
    #[error("could not configure the line {path}: {source}")]
    Termios {
        /// The device.
        path: PathBuf,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// The baud rate is not one the OS can set.
    #[error("baud rate {0} is not a standard rate; use e.g. 115200, 921600 or 3000000")]
    Baud(u32),
}

/// A pseudo-terminal pair: the simulator serves on the master side, a client opens `path`.
pub struct Pty {
    /// The master side, read and written by the server.
    pub master: File,
    /// Held open so that the line survives clients coming and going (with no slave open,
    /// reading the master fails with EIO).
    _slave: OwnedFd,
    /// The slave's path, e.g. `/dev/pts/3`.
    pub path: PathBuf,
}

fn raw(fd: impl AsFd, path: &Path, baud: Option<BaudRate>) -> Result<(), LineError> {
    let err = |source| LineError::Termios {
        path: path.to_path_buf(),
        source,
    };
    let mut t = termios::tcgetattr(&fd).map_err(err)?;
    termios::cfmakeraw(&mut t);
    if let Some(rate) = baud {
        termios::cfsetspeed(&mut t, rate).map_err(err)?;
    }
    termios::tcsetattr(&fd, SetArg::TCSANOW, &t).map_err(err)
}

/// Opens a pseudo-terminal pair in raw mode (no echo, no line editing, 8-bit clean).
pub fn open_pty() -> Result<Pty, LineError> {
    let pair = nix::pty::openpty(None, None).map_err(LineError::Pty)?;
    let path = nix::unistd::ttyname(pair.slave.as_fd()).map_err(LineError::Pty)?;
    raw(&pair.slave, &path, None)?;
    Ok(Pty {
        master: File::from(pair.master),
        _slave: pair.slave,
        path,
    })
}

fn baud_rate(baud: u32) -> Result<BaudRate, LineError> {
    Ok(match baud {
        9_600 => BaudRate::B9600,
        19_200 => BaudRate::B19200,
        38_400 => BaudRate::B38400,
        57_600 => BaudRate::B57600,
        115_200 => BaudRate::B115200,
        230_400 => BaudRate::B230400,
        460_800 => BaudRate::B460800,
        921_600 => BaudRate::B921600,
        1_000_000 => BaudRate::B1000000,
        2_000_000 => BaudRate::B2000000,
        3_000_000 => BaudRate::B3000000,
        4_000_000 => BaudRate::B4000000,
        other => return Err(LineError::Baud(other)),
    })
}

/// Opens an existing serial device read-write, raw, at `baud`.
pub fn open_device(path: &Path, baud: u32) -> Result<File, LineError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| LineError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    raw(&file, path, Some(baud_rate(baud)?))?;
    Ok(file)
}

/// The wire server's presentation of a simulator with these parameters.
pub fn serve_config(config: &HwConfig) -> ServeConfig {
    ServeConfig::new(config.clock_mhz, Some(config.link_baud), config.bases_slots)
}

/// Serves `sim` on `line` until the line reports end of file.
pub fn serve(sim: Checked<HwSim>, line: &mut File) -> io::Result<()> {
    let config = serve_config(sim.config());
    let mut server = Server::new(sim, config);
    server.serve(line)
}
