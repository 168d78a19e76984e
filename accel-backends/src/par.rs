//! What differs between a `parallel` build (rayon, a clock) and a bare `no_std` one.

/// Measures wall time where the build has a clock; reads 0 where it has none.
#[derive(Clone, Copy)]
pub(crate) struct Stopwatch {
    #[cfg(feature = "std")]
    start: std::time::Instant,
}

impl Stopwatch {
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "std")]
            start: std::time::Instant::now(),
        }
    }

    pub(crate) fn elapsed_nanos(&self) -> u64 {
        #[cfg(feature = "std")]
        {
            u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
        #[cfg(not(feature = "std"))]
        {
            0
        }
    }
}

/// Runs both closures, in parallel when the build has threads.
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    #[cfg(feature = "parallel")]
    {
        rayon::join(a, b)
    }
    #[cfg(not(feature = "parallel"))]
    {
        (a(), b())
    }
}

/// Threads available for splitting work (1 without `parallel`).
pub(crate) fn threads() -> usize {
    #[cfg(feature = "parallel")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "parallel"))]
    {
        1
    }
}

/// Calls `f(chunk_index, chunk)` for each `chunk`-sized piece of `data`, in parallel when the
/// build has threads.
pub(crate) fn for_each_chunk_mut<T: Send, F>(data: &mut [T], chunk: usize, f: F)
where
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
    #[cfg(not(feature = "parallel"))]
    {
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
}

/// `(0..n).map(f).collect()`, in parallel when the build has threads.
pub(crate) fn map_collect<R: Send, F>(n: usize, f: F) -> alloc::vec::Vec<R>
where
    F: Fn(usize) -> R + Send + Sync,
{
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        (0..n).map(f).collect()
    }
}
