//! ARM MPS2 with the AN386 image (QEMU `mps2-an386`): Cortex-M4F, 4 MiB SSRAM for code at 0,
//! 4 MiB SSRAM at `0x2000_0000`, and — unlike the AN500 — its 16 MiB PSRAM at `0x2100_0000`;
//! 25 MHz.

use super::{Board, MIB};

/// The board.
pub const BOARD: Board = Board {
    name: "mps2-an386 (Cortex-M4F)",
    uart: 0x4000_4000,
    uart_irqs: [0, 1],
    sysclk_hz: 25_000_000,
    heap: (0x2100_0000, 16 * MIB),
};
