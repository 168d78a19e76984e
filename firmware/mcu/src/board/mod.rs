//! What differs between the QEMU boards: memory map, UART, interrupts, clock. One module per
//! board; the `board-*` feature picks it (and `build.rs` writes its `memory.x`).

#[cfg(feature = "board-an386")]
mod an386;
#[cfg(feature = "board-an500")]
mod an500;
#[cfg(feature = "board-an547")]
mod an547;

#[cfg(feature = "board-an386")]
pub use an386::BOARD;
#[cfg(feature = "board-an500")]
pub use an500::BOARD;
#[cfg(feature = "board-an547")]
pub use an547::BOARD;

#[cfg(not(any(
    feature = "board-an500",
    feature = "board-an386",
    feature = "board-an547"
)))]
compile_error!("enable one board feature: board-an500, board-an386 or board-an547");

/// A board's facts.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// QEMU's machine name and the core.
    pub name: &'static str,
    /// Base address of the CMSDK APB UART the host link uses.
    pub uart: usize,
    /// Its receive and transmit interrupt numbers (NVIC, external interrupts).
    pub uart_irqs: [u16; 2],
    /// The clock of the core, the SysTick and the UART's APB bus, in Hz.
    pub sysclk_hz: u32,
    /// The heap: start address and size (external RAM; statics and the stack keep the
    /// internal RAM).
    pub heap: (usize, usize),
}

const MIB: usize = 1 << 20;
