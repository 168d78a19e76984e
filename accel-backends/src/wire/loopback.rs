//! [`Loopback`]: a [`Line`] whose other end is a [`Server`] in the same thread, on a
//! simulated clock, through an optional [`Injector`].
//!
//! Writing a frame runs the server on it at once; its replies wait in a queue for the time the
//! line's rate and any injected stall say. Reading advances the simulated clock to the next
//! delivery, or by the whole timeout when none is due — so a test of timeouts, retransmission
//! and silence runs in microseconds and repeats exactly. Also how byte counts are modelled for
//! a backend that has no link of its own (the bench's in-process simulator): the real client
//! and the real server exchange the real frames, and the line counts them.

use std::collections::VecDeque;

use accel_proto::FrameAccumulator;

use super::{
    faults::{Faults, Injected, Injector, Way},
    Extension, Line, LineError, NoExtension, Server, FRAME,
};
use crate::Backend;

/// A line to an in-process server on a simulated millisecond clock.
pub struct Loopback<B: Backend, E: Extension<B> = NoExtension> {
    server: Server<B, E>,
    acc: FrameAccumulator<FRAME>,
    injector: Injector,
    /// Replies on their way: (due at, bytes).
    queue: VecDeque<(u64, Vec<u8>)>,
    now: u64,
    /// Line rate in bytes per simulated millisecond (0: instantaneous).
    bytes_per_ms: u64,
    tx: u64,
    rx: u64,
}

impl<B: Backend> Loopback<B> {
    /// A clean, instantaneous line to `server`.
    pub fn new(server: Server<B>) -> Self {
        Self::with_faults(server, Faults::default())
    }
}

impl<B: Backend, E: Extension<B>> Loopback<B, E> {
    /// A line to `server` that applies `faults`.
    pub fn with_faults(server: Server<B, E>, faults: Faults) -> Self {
        Self {
            server,
            acc: FrameAccumulator::new(),
            injector: Injector::new(faults),
            queue: VecDeque::new(),
            now: 0,
            bytes_per_ms: 0,
            tx: 0,
            rx: 0,
        }
    }

    /// The same line at `bytes_per_s` (each byte then costs simulated time).
    pub fn with_rate(mut self, bytes_per_s: u64) -> Self {
        self.bytes_per_ms = bytes_per_s / 1000;
        self
    }

    /// The server.
    pub fn server(&self) -> &Server<B, E> {
        &self.server
    }

    /// What the injector did.
    pub fn injected(&self) -> Injected {
        self.injector.injected()
    }

    /// Bytes the client wrote and read.
    pub fn bytes(&self) -> (u64, u64) {
        (self.tx, self.rx)
    }

    fn cost(&self, bytes: usize) -> u64 {
        (bytes as u64).checked_div(self.bytes_per_ms).unwrap_or(0)
    }
}

impl<B: Backend, E: Extension<B>> Line for Loopback<B, E> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        self.tx += bytes.len() as u64;
        self.now += self.cost(bytes.len());
        let mut replies = Vec::new();
        for d in self.injector.pass(Way::Up, bytes) {
            let Self { server, acc, .. } = &mut *self;
            server
                .on_bytes(acc, &d.bytes, |r| {
                    replies.push(r.to_vec());
                    Ok(())
                })
                .map_err(|_| LineError::Io)?;
        }
        for r in replies {
            for d in self.injector.pass(Way::Down, &r) {
                let last = self.queue.back().map_or(0, |q| q.0);
                let due = (self.now + d.delay_ms + self.cost(d.bytes.len())).max(last);
                self.queue.push_back((due, d.bytes));
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError> {
        let deadline = self.now + u64::from(timeout_ms);
        match self.queue.front_mut() {
            Some((due, bytes)) if *due <= deadline => {
                self.now = self.now.max(*due);
                let n = buf.len().min(bytes.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                bytes.drain(..n);
                if bytes.is_empty() {
                    self.queue.pop_front();
                }
                self.rx += n as u64;
                Ok(n)
            }
            _ => {
                self.now = deadline;
                Ok(0)
            }
        }
    }

    fn now_ms(&mut self) -> u64 {
        self.now
    }
}
