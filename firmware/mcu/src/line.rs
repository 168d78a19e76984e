//! The host link: the UART with the SysTick clock, as `zkedge-device` wants it.

use zkedge_device::{Line, LineError};

use crate::{clock, uart::Uart};

/// The UART plus timeouts.
pub struct UartLine {
    uart: Uart,
}

impl UartLine {
    /// The line over `uart`.
    pub fn new(uart: Uart) -> Self {
        Self { uart }
    }
}

impl Line for UartLine {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        embedded_io::Write::write_all(&mut self.uart, bytes).map_err(|_| LineError::Io)
    }

    fn read(&mut self, buf: &mut [u8], timeout_ms: u32) -> Result<usize, LineError> {
        let start = clock::millis();
        self.uart
            .read_until(buf, || clock::millis().wrapping_sub(start) >= timeout_ms)
            .map_err(|_| LineError::Overrun)
    }

    fn now_ms(&mut self) -> u64 {
        u64::from(clock::millis())
    }
}
