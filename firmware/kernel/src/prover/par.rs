//! The prover's loops over rows, serial or on rayon's threads.
//!
//! With the `parallel` feature each helper runs on rayon's pool — unless that pool has one
//! thread, when it runs the very code a `no_std` build compiles, so that a one-thread pool
//! reproduces the firmware's computation exactly (`host/tests/zk_prover.rs` compares the two,
//! byte for byte). Every helper computes the same field elements however the work is split:
//! field arithmetic is exact, so the order of independent operations cannot change a result.

use alloc::vec::Vec;

/// Whether to hand work to rayon.
#[cfg(feature = "parallel")]
fn threaded() -> bool {
    rayon::current_num_threads() > 1
}

/// Elements per task for `len` elements: a few tasks per thread, so that the work balances,
/// and between 64 and 4096 of them.
fn task_len(len: usize) -> usize {
    #[cfg(feature = "parallel")]
    if threaded() {
        return (len / (4 * rayon::current_num_threads())).clamp(1 << 6, 1 << 12);
    }
    let _ = len;
    1 << 12
}

/// Calls `f(first_index, chunk)` for consecutive pieces of `data` that cover it, each a
/// multiple of `unit` elements long.
pub(crate) fn chunks_mut<T: Send, F>(data: &mut [T], unit: usize, f: F)
where
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    let unit = unit.max(1);
    let size = unit * task_len(data.len() / unit);
    #[cfg(feature = "parallel")]
    if threaded() {
        use rayon::prelude::*;
        data.par_chunks_mut(size)
            .enumerate()
            .for_each(|(i, c)| f(i * size, c));
        return;
    }
    data.chunks_mut(size)
        .enumerate()
        .for_each(|(i, c)| f(i * size, c));
}

/// `(0..n).map(f).collect()`.
pub(crate) fn map<R: Send, F>(n: usize, f: F) -> Vec<R>
where
    F: Fn(usize) -> R + Send + Sync,
{
    #[cfg(feature = "parallel")]
    if threaded() {
        use rayon::prelude::*;
        return (0..n).into_par_iter().map(f).collect();
    }
    (0..n).map(f).collect()
}

/// `items.iter_mut().for_each(f)`.
pub(crate) fn each_mut<T: Send, F>(items: &mut [T], f: F)
where
    F: Fn(&mut T) + Send + Sync,
{
    #[cfg(feature = "parallel")]
    if threaded() {
        use rayon::prelude::*;
        items.par_iter_mut().for_each(f);
        return;
    }
    items.iter_mut().for_each(f);
}

/// A vector of `n` values, filled by [`chunks_mut`]'s `f(first_index, chunk)`.
pub(crate) fn filled<T: Send + Copy, F>(n: usize, zero: T, f: F) -> Vec<T>
where
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    let mut out = alloc::vec![zero; n];
    chunks_mut(&mut out, 1, f);
    out
}

/// Sorts `data` (unstably: callers sort keys whose equal elements are identical).
pub(crate) fn sort_unstable<T: Ord + Send>(data: &mut [T]) {
    #[cfg(feature = "parallel")]
    if threaded() {
        use rayon::prelude::*;
        data.par_sort_unstable();
        return;
    }
    data.sort_unstable();
}
