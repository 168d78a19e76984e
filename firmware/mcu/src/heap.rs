//! The heap, in the board's external RAM, with a count of its peak use for the footprint
//! report.

use core::{
    alloc::{GlobalAlloc, Layout},
    sync::atomic::{AtomicUsize, Ordering},
};

use embedded_alloc::TlsfHeap;

/// A TLSF heap (constant-time allocation, good with the prover's large vectors) that counts.
pub struct Counting {
    heap: TlsfHeap,
    used: AtomicUsize,
    peak: AtomicUsize,
}

#[global_allocator]
static HEAP: Counting = Counting {
    heap: TlsfHeap::empty(),
    used: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

/// Gives the heap `size` bytes from `start`. Call once, first thing.
pub fn init(start: usize, size: usize) {
    // SAFETY: `start..start + size` is the board's external RAM (`board::BOARD.heap`), used by
    // nothing else (the linker places statics and the stack in internal RAM), and `init` is
    // called once, before any allocation.
    unsafe { HEAP.heap.init(start, size) }
}

/// Bytes allocated now, and the most ever allocated at once.
pub fn usage() -> (usize, usize) {
    (
        HEAP.used.load(Ordering::Relaxed),
        HEAP.peak.load(Ordering::Relaxed),
    )
}

/// Starts a new peak measurement from the current use.
#[cfg(feature = "device-proving")]
pub fn reset_peak() {
    HEAP.peak
        .store(HEAP.used.load(Ordering::Relaxed), Ordering::Relaxed);
}

// SAFETY: forwards every call to the TLSF heap unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let p = unsafe { self.heap.alloc(layout) };
        if !p.is_null() {
            let used = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(used, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}
