//! The CMSDK APB UART (Arm's Cortex-M System Design Kit), as on the MPS2 and MPS3 boards.
//!
//! Receiving is interrupt-driven: the RX interrupt moves each byte into a `heapless` ring, and
//! a reader with nothing to read sleeps (`WFI`) until an interrupt — it never spins on the
//! status register. Transmitting writes a byte whenever the one-byte holding register is free,
//! sleeping on the TX interrupt while it is full.
//!
//! The ecosystem traits are at the end: `embedded-io`'s `Read`, `ReadReady`, `Write` and
//! `WriteReady`. embedded-hal 1.0 has no serial traits (they moved to embedded-io);
//! embedded-hal-nb's `serial::Read` would invite callers to spin on `WouldBlock`, which is
//! what this driver exists to avoid, so it is not implemented.

use core::{
    cell::RefCell,
    sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering},
};

use critical_section::Mutex;
use heapless::Deque;
use volatile_register::RW;

use crate::clock;

/// Bytes the receive ring holds: one full frame of the wire protocol.
pub const RX_RING: usize = 4096;

#[repr(C)]
struct Regs {
    data: RW<u32>,
    state: RW<u32>,
    ctrl: RW<u32>,
    /// INTSTATUS on read, INTCLEAR on write.
    int: RW<u32>,
    bauddiv: RW<u32>,
}

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const STATE_RX_OVERRUN: u32 = 1 << 3;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_TX_INT: u32 = 1 << 2;
const CTRL_RX_INT: u32 = 1 << 3;
const CTRL_RX_OVERRUN_INT: u32 = 1 << 5;
const INT_ALL: u32 = 0xf;

static RX: Mutex<RefCell<Deque<u8, RX_RING>>> = Mutex::new(RefCell::new(Deque::new()));
/// Bytes lost: the ring was full, or the hardware overran.
static LOST: AtomicU32 = AtomicU32::new(0);
static BASE: AtomicUsize = AtomicUsize::new(0);
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Why the UART could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
#[non_exhaustive]
pub enum ConfigError {
    /// The baud rate needs a divider outside `16..=2^20` at this clock.
    BaudOutOfRange,
    /// The UART was taken already.
    Taken,
}

/// A fault while running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
#[non_exhaustive]
pub enum Error {
    /// Received bytes were lost since the last read (the ring was full, or the hardware
    /// overran).
    Overrun,
}

/// Line settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Bits per second (8N1).
    pub baud: u32,
}

impl Default for Config {
    /// The fastest rate the divider allows at 25 MHz (1.5625 Mbaud); QEMU does not pace
    /// its UART by the rate, a board does.
    fn default() -> Self {
        Self { baud: 1_562_500 }
    }
}

/// The UART, owned: at most one handle exists.
pub struct Uart {
    regs: &'static Regs,
    lost_seen: u32,
}

fn regs(base: usize) -> &'static Regs {
    // SAFETY: `base` is the board's UART register block (`board::BOARD.uart`), valid for the
    // whole program; the registers are accessed only through volatile cells.
    unsafe { &*(base as *const Regs) }
}

impl Uart {
    /// Takes the UART at `base` (APB clock `pclk_hz`), enables it with the RX, RX-overrun and
    /// TX interrupts (the caller unmasks its lines in the NVIC).
    pub fn take(base: usize, pclk_hz: u32, config: Config) -> Result<Self, ConfigError> {
        let div = pclk_hz / config.baud.max(1);
        // QEMU ignores a UART whose divider is below 16.
        if !(16..=1 << 20).contains(&div) {
            return Err(ConfigError::BaudOutOfRange);
        }
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(ConfigError::Taken);
        }
        let regs = regs(base);
        BASE.store(base, Ordering::Release);
        // SAFETY (each write): documented register values for the CMSDK APB UART.
        unsafe {
            regs.ctrl.write(0);
            regs.int.write(INT_ALL);
            regs.bauddiv.write(div);
            regs.ctrl
                .write(CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT | CTRL_RX_OVERRUN_INT | CTRL_TX_INT);
        }
        Ok(Self { regs, lost_seen: 0 })
    }

    /// Whether received bytes wait in the ring.
    pub fn rx_ready(&self) -> bool {
        critical_section::with(|cs| !RX.borrow_ref(cs).is_empty())
    }

    /// Moves waiting bytes into `buf`; returns how many.
    fn take_rx(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let lost = LOST.load(Ordering::Acquire);
        if lost != self.lost_seen {
            self.lost_seen = lost;
            return Err(Error::Overrun);
        }
        Ok(critical_section::with(|cs| {
            let mut ring = RX.borrow_ref_mut(cs);
            let mut n = 0;
            for slot in buf.iter_mut() {
                match ring.pop_front() {
                    Some(b) => {
                        *slot = b;
                        n += 1;
                    }
                    None => break,
                }
            }
            n
        }))
    }

    /// Reads what has arrived, sleeping until at least one byte has or `expired()` says to
    /// stop (asked at every wake-up; the SysTick wakes the core each millisecond).
    pub fn read_until(
        &mut self,
        buf: &mut [u8],
        mut expired: impl FnMut() -> bool,
    ) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.take_rx(buf)?;
            if n > 0 || expired() {
                return Ok(n);
            }
            clock::sleep_unless(|| critical_section::with(|cs| !RX.borrow_ref(cs).is_empty()));
        }
    }

    fn tx_full(&self) -> bool {
        self.regs.state.read() & STATE_TX_FULL != 0
    }

    fn write_byte(&mut self, b: u8) {
        while self.tx_full() {
            clock::sleep_unless(|| !self.tx_full());
        }
        // SAFETY: writing DATA with the holding register free sends the byte.
        unsafe { self.regs.data.write(u32::from(b)) };
    }
}

/// The UART's interrupt handler (RX, RX overrun, TX): call it from the board's vector.
pub fn on_interrupt() {
    let base = BASE.load(Ordering::Acquire);
    if base == 0 {
        return;
    }
    let regs = regs(base);
    // Clear first, then drain: a byte that lands after the drain raises the interrupt anew
    // instead of having its request cleared unseen (which would leave it stuck in DATA).
    let status = regs.int.read();
    // SAFETY: writing INTCLEAR acknowledges the interrupts just read.
    unsafe { regs.int.write(status & INT_ALL) };
    let state = regs.state.read();
    if state & STATE_RX_OVERRUN != 0 {
        LOST.fetch_add(1, Ordering::AcqRel);
        // SAFETY: writing 1 clears the sticky overrun bit.
        unsafe { regs.state.write(STATE_RX_OVERRUN) };
    }
    while regs.state.read() & STATE_RX_FULL != 0 {
        let byte = regs.data.read() as u8;
        let full = critical_section::with(|cs| RX.borrow_ref_mut(cs).push_back(byte).is_err());
        if full {
            LOST.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("received bytes were lost (receive overrun)")
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Error;
}

impl embedded_io::Read for Uart {
    /// Blocks (asleep) until at least one byte has arrived.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.read_until(buf, || false)
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.rx_ready())
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        buf.iter().for_each(|&b| self.write_byte(b));
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        while self.tx_full() {
            clock::sleep_unless(|| !self.tx_full());
        }
        Ok(())
    }
}

impl embedded_io::WriteReady for Uart {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.tx_full())
    }
}
