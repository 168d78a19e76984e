//! A fault-injecting relay between a wire client and a served accelerator: the client opens
//! the pseudo-terminal the relay creates, the relay opens the accelerator's line, and every
//! frame crossing it goes through an [`Injector`] — damaged bytes, dropped or duplicated
//! frames, stalls, a peer that falls silent, sums that lie
//! ([`accel_backends::wire::faults::Faults`]).
//!
//! The same injector damages frames in the in-process
//! [`Loopback`](accel_backends::wire::loopback::Loopback), so a scenario measured in a unit
//! test and one measured between real processes (`zkedge-hwsim relay`, `cargo xtask faults`)
//! meet the same faults. Each direction is one thread; a delivery held for a stall holds what
//! follows it in its direction too, as a stalled line would.

use std::{
    fs::File,
    io::{self, Read, Write},
    os::fd::AsFd,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use accel_backends::wire::faults::{Faults, Injected, Injector, Way};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::serve::{open_device, open_pty, LineError, Pty};

/// A running relay; stopped when dropped.
pub struct Relay {
    /// The pseudo-terminal a client opens (e.g. `zkedge prove --backend serial:PATH`).
    pub path: PathBuf,
    injector: Arc<Mutex<Injector>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    _pty: Pty,
}

impl Relay {
    /// Starts relaying between a new pseudo-terminal and the line at `upstream` (the
    /// accelerator's, e.g. the path `zkedge-hwsim serve --pty` printed), applying `faults`.
    pub fn start(upstream: &Path, faults: Faults) -> Result<Self, LineError> {
        let pty = open_pty()?;
        // A pseudo-terminal's rate is not set by termios; any standard rate will do.
        let line = open_device(upstream, 115_200)?;
        let injector = Arc::new(Mutex::new(Injector::new(faults)));
        let stop = Arc::new(AtomicBool::new(false));
        let open_err = |source| LineError::Open {
            path: upstream.to_path_buf(),
            source,
        };
        let client = (
            pty.master.try_clone().map_err(open_err)?,
            pty.master.try_clone().map_err(open_err)?,
        );
        let server = (
            line.try_clone().map_err(open_err)?,
            line.try_clone().map_err(open_err)?,
        );
        let threads = vec![
            pump(client.0, server.1, Way::Up, injector.clone(), stop.clone()),
            pump(
                server.0,
                client.1,
                Way::Down,
                injector.clone(),
                stop.clone(),
            ),
        ];
        Ok(Self {
            path: pty.path.clone(),
            injector,
            stop,
            threads,
            _pty: pty,
        })
    }

    /// What the relay did so far.
    pub fn injected(&self) -> Injected {
        self.injector
            .lock()
            .map(|i| i.injected())
            .unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Forwards `from` → `to` through the injector until stopped or `from` fails.
fn pump(
    mut from: File,
    mut to: File,
    way: Way,
    injector: Arc<Mutex<Injector>>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let ready = {
                let mut fds = [PollFd::new(from.as_fd(), PollFlags::POLLIN)];
                poll(&mut fds, PollTimeout::from(100u16)).unwrap_or(0)
            };
            if ready == 0 {
                continue;
            }
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pseudo-terminal with no client open reads EIO until one opens it.
                Err(e) if e.raw_os_error() == Some(5) => {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(_) => break,
            };
            let deliveries = match injector.lock() {
                Ok(mut i) => i.pass(way, &buf[..n]),
                Err(_) => break,
            };
            for d in deliveries {
                if d.delay_ms > 0 {
                    thread::sleep(Duration::from_millis(d.delay_ms));
                }
                if to.write_all(&d.bytes).is_err() {
                    return;
                }
            }
        }
    })
}
