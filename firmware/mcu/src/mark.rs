//! Instruction-count marks: every call of [`zkedge_mark`] makes QEMU's counting plugin
//! (`-plugin …/libinsncount.so,mark=<address of zkedge_mark>`) print the instructions executed
//! so far, so that consecutive marks bracket a region (see `docs/firmware.md`).

/// The marked instruction; its address is looked up in the ELF by name.
#[inline(never)]
#[no_mangle]
pub extern "C" fn zkedge_mark() {
    // Inline assembly: the call cannot be optimised away.
    cortex_m::asm::nop();
}

/// Marks this point.
pub fn mark() {
    zkedge_mark();
}
