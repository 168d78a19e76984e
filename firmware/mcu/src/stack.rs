//! Stack high-water mark: the free RAM between the statics and the stack is painted at boot,
//! and the deepest unpainted word found later is how deep the stack went.

const PAINT: u32 = 0x5afe_57ac;
/// Below the live stack when painting: what `paint` itself may use.
const MARGIN: usize = 1024;

extern "C" {
    /// End of `.bss` (cortex-m-rt's linker script).
    static __ebss: u32;
    /// Initial stack pointer: the top of RAM.
    static _stack_start: u32;
}

fn bounds() -> (usize, usize) {
    // Only the symbols' addresses are taken, never their values.
    (
        core::ptr::addr_of!(__ebss) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

/// Paints the free stack area. Call first thing in `main`.
pub fn paint() {
    let (bottom, _) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = (bottom + 3) & !3;
    while p + MARGIN < sp {
        // SAFETY: `bottom..sp − MARGIN` is RAM above the statics and below the live stack,
        // used by nothing yet; each write is an aligned word.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
}

/// Bytes of stack used at the deepest so far.
pub fn peak() -> usize {
    let (bottom, top) = bounds();
    let mut p = (bottom + 3) & !3;
    // SAFETY: reads aligned words of RAM between the statics and the top of the stack.
    while p < top && unsafe { (p as *const u32).read_volatile() } == PAINT {
        p += 4;
    }
    top - p
}
