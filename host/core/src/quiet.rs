//! Panics of third-party code we run under `catch_unwind` (halo2's key readers panic on some
//! malformed input), kept off stderr: the caller turns them into an error message of its own.

use std::{
    cell::Cell,
    panic::{self, AssertUnwindSafe},
    sync::Once,
};

thread_local! {
    /// How deep this thread is inside [`catch`]; the hook is silent while it is above zero.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic inside it becomes `Err` with its message, and is not printed. Panics
/// elsewhere (other threads, or this one outside `catch`) are reported as before.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked".into())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_caught_panic_is_an_error_with_its_message() {
        assert_eq!(super::catch(|| 7), Ok(7));
        let got = super::catch(|| -> u32 { panic!("shift overflow") });
        assert_eq!(got, Err("shift overflow".to_string()));
        // Nested, and after: still caught.
        let got = super::catch(|| super::catch(|| -> u8 { panic!("inner") }));
        assert_eq!(got, Ok(Err("inner".to_string())));
    }
}
