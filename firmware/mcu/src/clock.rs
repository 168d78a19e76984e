//! Time from the SysTick: a millisecond tick (its interrupt also wakes sleeping readers) and a
//! finer reading in nanoseconds. Under QEMU's `-icount shift=0` one nanosecond of virtual
//! time is one instruction, so [`nanos`] then counts instructions (and idle time).

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};

static MILLIS: AtomicU32 = AtomicU32::new(0);
/// Nanoseconds spent asleep (written by the main thread only).
static IDLE: critical_section::Mutex<core::cell::Cell<u64>> =
    critical_section::Mutex::new(core::cell::Cell::new(0));
static RELOAD: AtomicU32 = AtomicU32::new(0);
static HZ: AtomicU32 = AtomicU32::new(1);

/// Starts the 1 kHz tick from the core clock of `hz`.
pub fn start(mut syst: SYST, hz: u32) {
    let reload = hz / 1_000 - 1;
    RELOAD.store(reload, Ordering::Relaxed);
    HZ.store(hz, Ordering::Relaxed);
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(reload);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// The SysTick handler's work.
pub fn on_tick() {
    MILLIS.fetch_add(1, Ordering::AcqRel);
}

/// Milliseconds since [`start`] (wraps after 49 days).
pub fn millis() -> u32 {
    MILLIS.load(Ordering::Acquire)
}

/// Nanoseconds since [`start`], to the SysTick's resolution.
pub fn nanos() -> u64 {
    let reload = RELOAD.load(Ordering::Relaxed);
    let hz = u64::from(HZ.load(Ordering::Relaxed));
    loop {
        let ms = millis();
        let current = SYST::get_current();
        // A tick between the two reads would pair the old count with a reloaded counter.
        if millis() == ms {
            let elapsed = u64::from(reload.saturating_sub(current));
            return u64::from(ms) * 1_000_000 + elapsed * 1_000_000_000 / hz;
        }
    }
}

/// Sleeps until an interrupt unless `ready()` holds, without missing one that arrives
/// between the test and the sleep (interrupts are masked across both; `WFI` still wakes on a
/// pending one, which then runs). The time asleep (with the interrupt that ended it) is added
/// to [`idle_nanos`].
pub fn sleep_unless(ready: impl Fn() -> bool) {
    let t0 = nanos();
    cortex_m::interrupt::disable();
    let sleep = !ready();
    if sleep {
        cortex_m::asm::wfi();
    }
    // SAFETY: interrupts were enabled on entry (this is never called inside a critical
    // section), so enabling them restores that state.
    unsafe { cortex_m::interrupt::enable() };
    if sleep {
        let slept = nanos().saturating_sub(t0);
        critical_section::with(|cs| {
            let idle = IDLE.borrow(cs);
            idle.set(idle.get() + slept);
        });
    }
}

/// Nanoseconds spent asleep in [`sleep_unless`] since [`start`].
pub fn idle_nanos() -> u64 {
    critical_section::with(|cs| IDLE.borrow(cs).get())
}

/// Nanoseconds awake since [`start`]: under QEMU's `-icount shift=0`, the instructions
/// executed (to the SysTick's resolution).
pub fn busy_nanos() -> u64 {
    nanos().saturating_sub(idle_nanos())
}

/// Sleeps between ticks: embedded-hal's delay, without spinning.
pub struct Delay;

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        let end = nanos() + u64::from(ns);
        while nanos() < end {
            sleep_unless(|| nanos() >= end);
        }
    }
}
