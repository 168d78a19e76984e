//! zkedge on a Cortex-M: the device end of verifiable edge inference (see `app.rs` and
//! `docs/firmware.md`).
#![no_std]
#![no_main]

extern crate alloc;

mod app;
mod assets;
mod board;
mod clock;
mod commit;
mod heap;
mod line;
mod mark;
mod plan;
mod report;
mod rng;
mod sensor;
mod stack;
mod uart;

use cortex_m::{interrupt::InterruptNumber, peripheral::NVIC};
use cortex_m_rt::{entry, exception, ExceptionFrame};

#[cfg(feature = "rtt")]
use defmt_rtt as _;
#[cfg(feature = "semihosting")]
use defmt_semihosting as _;

use board::BOARD;

defmt::timestamp!("{=u32:ms}", clock::millis());

/// An external interrupt line, for the NVIC.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: the numbers are the board's UART interrupt lines, valid external interrupts.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

#[entry]
fn main() -> ! {
    stack::paint();
    heap::init(BOARD.heap.0, BOARD.heap.1);
    let Some(core) = cortex_m::Peripherals::take() else {
        exit(app::Exit::Setup as u32)
    };
    clock::start(core.SYST, BOARD.sysclk_hz);
    let mut report = report::Report::open(cfg!(feature = "semihosting"));
    let uart = match uart::Uart::take(BOARD.uart, BOARD.sysclk_hz, uart::Config::default()) {
        Ok(u) => u,
        Err(e) => {
            defmt::error!("UART: {}", e);
            exit(app::Exit::Setup as u32)
        }
    };
    for irq in BOARD.uart_irqs {
        // SAFETY: the UART's handler is installed (DefaultHandler dispatches it) and shares
        // nothing unguarded with the main thread (its ring is behind a critical section).
        unsafe { NVIC::unmask(Irq(irq)) };
    }
    let plan = plan::Plan::from_host();
    let code = app::run(uart, plan, &mut report);
    let (_, peak) = heap::usage();
    let stack = stack::peak();
    report.line("stack.peak_bytes", format_args!("{stack}"));
    defmt::info!(
        "done: {}, busy {} ms of {} ms, heap peak {} B, stack peak {} B",
        code,
        clock::busy_nanos() / 1_000_000,
        clock::millis(),
        peak,
        stack
    );
    exit(code as u32)
}

/// Ends the program: under QEMU, exits it with `code` (semihosting `SYS_EXIT_EXTENDED`);
/// on a board without a debugger, sleeps.
fn exit(code: u32) -> ! {
    #[cfg(feature = "semihosting")]
    {
        // ADP_Stopped_ApplicationExit with a subcode: QEMU exits with `code`.
        let block = [0x20026usize, code as usize];
        // SAFETY: SYS_EXIT_EXTENDED (0x20) reads the two-word block; QEMU ends the run.
        unsafe { cortex_m_semihosting::syscall1(0x20, block.as_ptr() as usize) };
    }
    let _ = code;
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
fn SysTick() {
    clock::on_tick();
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if BOARD
        .uart_irqs
        .iter()
        .any(|&n| i32::from(n) == i32::from(irqn))
    {
        uart::on_interrupt();
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("hard fault at pc {=u32:#x}", frame.pc());
    exit(1)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(1)
}
