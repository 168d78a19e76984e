//! ARM MPS3 with the AN547 image (QEMU `mps3-an547`): Corstone SSE-300 with a Cortex-M55
//! (Armv8.1-M; runs `thumbv7em` code), 512 KiB ITCM at 0 for code, 512 KiB DTCM at
//! `0x2000_0000`, 8 MiB QSPI flash at `0x2800_0000` for the proving key, 2 GiB DDR at
//! `0x6000_0000` (the heap takes 64 MiB of it), 32 MHz.

use super::{Board, MIB};

/// The board.
pub const BOARD: Board = Board {
    name: "mps3-an547 (Cortex-M55)",
    uart: 0x4930_3000,
    uart_irqs: [33, 34],
    sysclk_hz: 32_000_000,
    heap: (0x6000_0000, 64 * MIB),
};
