//! Radix-2 NTT: decimation in frequency, depth-first so that sub-transforms run inside the
//! cache, then a bit-reversal permutation back to natural order.
//!
//! A twiddle of 1 (each block's first) costs no multiplication, and the bit reversal of a large
//! transform is a parallel gather. What is left is arithmetic: at 2^18 on two threads the
//! butterflies' multiplications and additions (arkworks' field operations) accounted for all
//! but a few percent of the time — a pass fusing two levels to halve memory traffic measured no
//! faster — so where the CPU has AVX-512 IFMA a level's butterflies, and the coset and `1/n`
//! scalings, run eight at a time on lanes (0.80 → 0.44 of ark-poly at 2^18).
//!
//! Twiddles are precomputed per domain and kept contiguous per level (level `h` holds
//! `w_{2h}^j` for `j < h`), which costs `n − 1` field elements per cached domain.

use alloc::vec::Vec;

use ark_ff::{Field, Zero};

use crate::{par, BackendError, Domain, Fr, NttDirection, NttOp};

/// Transforms at most this long run serially, level by level.
const SERIAL_MAX: usize = 1 << 10;
/// Domains whose twiddles are kept between calls.
const CACHED_DOMAINS: usize = 6;
/// Larger domains get their twiddles computed per call rather than cached.
const CACHED_MAX_LOG_N: u32 = 24;

/// Per-level twiddles for one root of unity.
pub(super) struct Twiddles {
    log_n: u32,
    root: Fr,
    /// Level `h` (a power of two below `n`) starts at index `h − 1`.
    levels: Vec<Fr>,
}

impl Twiddles {
    fn new(log_n: u32, root: Fr) -> Result<Self, BackendError> {
        let n = 1usize << log_n;
        let mut levels = Vec::new();
        levels
            .try_reserve_exact(n.saturating_sub(1))
            .map_err(|_| BackendError::OutOfMemory { elements: n })?;
        levels.resize(n.saturating_sub(1), Fr::zero());
        if n >= 2 {
            // Top level: w^j for j < n/2, filled in parallel chunks.
            let top = &mut levels[n / 2 - 1..];
            par::for_each_chunk_mut(top, 1 << 12, |i, chunk| {
                let mut w = root.pow([(i as u64) << 12]);
                for t in chunk {
                    *t = w;
                    w *= root;
                }
            });
            // Each lower level takes every other twiddle of the level above.
            let mut h = n / 4;
            while h >= 1 {
                let (lower, upper) = levels.split_at_mut(2 * h - 1);
                let dst = &mut lower[h - 1..];
                for (j, t) in dst.iter_mut().enumerate() {
                    *t = upper[2 * j];
                }
                h /= 2;
            }
        }
        Ok(Self {
            log_n,
            root,
            levels,
        })
    }

    #[inline]
    fn level(&self, h: usize) -> &[Fr] {
        &self.levels[h - 1..2 * h - 1]
    }
}

/// The most recently used twiddle tables, most recent first.
#[derive(Default)]
pub(super) struct TwiddleCache {
    entries: Vec<Twiddles>,
}

impl TwiddleCache {
    fn with<R>(
        &mut self,
        log_n: u32,
        root: Fr,
        f: impl FnOnce(&Twiddles) -> R,
    ) -> Result<R, BackendError> {
        if let Some(i) = self
            .entries
            .iter()
            .position(|t| t.log_n == log_n && t.root == root)
        {
            let hit = self.entries.remove(i);
            self.entries.insert(0, hit);
            return Ok(f(&self.entries[0]));
        }
        let fresh = Twiddles::new(log_n, root)?;
        if log_n > CACHED_MAX_LOG_N {
            return Ok(f(&fresh));
        }
        self.entries.truncate(CACHED_DOMAINS - 1);
        self.entries.insert(0, fresh);
        Ok(f(&self.entries[0]))
    }
}

/// Transforms every vector of `batch` over `domain`. Vectors short enough to run serially are
/// spread over the threads, one whole transform per task: a prover's NTTs of one round come as
/// one batch of many small columns, which one at a time would leave all threads but one idle.
pub(super) fn ntt_batch(
    cache: &mut TwiddleCache,
    batch: &mut [&mut [Fr]],
    domain: &Domain,
    op: NttOp,
) -> Result<(), BackendError> {
    let log_n = domain.log_n();
    let (root, unscale) = match (op.direction, op.coset) {
        (NttDirection::Forward, _) => (domain.omega(), None),
        (NttDirection::Inverse, None) => (domain.omega_inv(), None),
        (NttDirection::Inverse, Some(g)) => (
            domain.omega_inv(),
            Some(g.inverse().ok_or(BackendError::ZeroCosetGenerator)?),
        ),
    };
    cache.with(log_n, root, |tw| {
        let one = |values: &mut [Fr]| transform(values, tw, domain, op, unscale);
        let threads = par::threads();
        if threads > 1 && batch.len() > 1 && domain.size() <= SERIAL_MAX {
            par::for_each_chunk_mut(batch, batch.len().div_ceil(threads), |_, part| {
                part.iter_mut().for_each(|v| one(v))
            });
        } else {
            batch.iter_mut().for_each(|v| one(v));
        }
    })
}

/// One transform with the twiddles of its root; `unscale` is `g⁻¹` for an inverse coset NTT.
fn transform(values: &mut [Fr], tw: &Twiddles, domain: &Domain, op: NttOp, unscale: Option<Fr>) {
    if let (NttDirection::Forward, Some(g)) = (op.direction, op.coset) {
        distribute_powers(values, g, Fr::ONE);
    }
    dif(values, tw);
    bit_reverse(values, domain.log_n());
    if op.direction == NttDirection::Inverse {
        match unscale {
            Some(g_inv) => distribute_powers(values, g_inv, domain.size_inv()),
            None => scale(values, domain.size_inv()),
        }
    }
}

/// Decimation in frequency, natural order in, bit-reversed order out.
fn dif(a: &mut [Fr], tw: &Twiddles) {
    let n = a.len();
    if n <= SERIAL_MAX {
        dif_serial(a, tw);
        return;
    }
    let h = n / 2;
    let (lo, hi) = a.split_at_mut(h);
    butterflies(lo, hi, tw.level(h));
    par::join(|| dif(lo, tw), || dif(hi, tw));
}

/// The levels of a small transform one after another; it fits in cache.
fn dif_serial(a: &mut [Fr], tw: &Twiddles) {
    let mut h = a.len() / 2;
    while h >= 2 {
        // Each block's first twiddle is 1.
        let t = &tw.level(h)[1..];
        for block in a.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            let (u, v) = (lo[0], hi[0]);
            lo[0] = u + v;
            hi[0] = u - v;
            butterfly_run(&mut lo[1..], &mut hi[1..], t);
        }
        h /= 2;
    }
    // The last level's twiddle is 1.
    for pair in a.chunks_exact_mut(2) {
        let (u, v) = (pair[0], pair[1]);
        pair[0] = u + v;
        pair[1] = u - v;
    }
}

/// One level's butterflies over two halves, split across threads.
fn butterflies(lo: &mut [Fr], hi: &mut [Fr], t: &[Fr]) {
    const CHUNK: usize = 1 << 11;
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        lo.par_chunks_mut(CHUNK)
            .zip(hi.par_chunks_mut(CHUNK))
            .zip(t.par_chunks(CHUNK))
            .for_each(|((lo, hi), t)| butterfly_run(lo, hi, t));
    }
    #[cfg(not(feature = "parallel"))]
    {
        lo.chunks_mut(CHUNK)
            .zip(hi.chunks_mut(CHUNK))
            .zip(t.chunks(CHUNK))
            .for_each(|((lo, hi), t)| butterfly_run(lo, hi, t));
    }
}

/// `(u, v) ← (u + v, (u − v)·t)` element-wise.
#[inline]
fn butterfly_run(lo: &mut [Fr], hi: &mut [Fr], t: &[Fr]) {
    if let Some(ifma) = bn254_ifma::Ifma::detect() {
        return ifma.dif_butterflies(lo, hi, &t[..lo.len()]);
    }
    for ((u, v), w) in lo.iter_mut().zip(hi.iter_mut()).zip(t) {
        let d = *u - *v;
        *u += *v;
        *v = d * w;
    }
}

fn bit_reverse(a: &mut [Fr], log_n: u32) {
    if log_n < 2 {
        return;
    }
    let shift = usize::BITS - log_n;
    let rev = |i: usize| i.reverse_bits() >> shift;
    // With threads, large transforms gather from a copy on every thread; without threads, room
    // for the copy, or size, swap in place (a device keeps its memory).
    let mut copy = Vec::new();
    if cfg!(feature = "parallel") && a.len() > SERIAL_MAX && copy.try_reserve_exact(a.len()).is_ok()
    {
        copy.extend_from_slice(a);
        const CHUNK: usize = 1 << 12;
        par::for_each_chunk_mut(a, CHUNK, |c, out| {
            for (k, x) in out.iter_mut().enumerate() {
                *x = copy[rev(c * CHUNK + k)];
            }
        });
        return;
    }
    for i in 0..a.len() {
        let j = rev(i);
        if i < j {
            a.swap(i, j);
        }
    }
}

/// `a[i] ← a[i] · c · gⁱ`.
fn distribute_powers(a: &mut [Fr], g: Fr, c: Fr) {
    const CHUNK: usize = 1 << 12;
    par::for_each_chunk_mut(a, CHUNK, |i, chunk| {
        let mut p = c * g.pow([(i * CHUNK) as u64]);
        if let Some(ifma) = bn254_ifma::Ifma::detect() {
            return ifma.scale_by_powers(chunk, p, g);
        }
        for x in chunk {
            *x *= p;
            p *= g;
        }
    });
}

fn scale(a: &mut [Fr], c: Fr) {
    par::for_each_chunk_mut(a, 1 << 12, |_, chunk| match bn254_ifma::Ifma::detect() {
        Some(ifma) => ifma.scale_by_powers(chunk, c, Fr::ONE),
        None => chunk.iter_mut().for_each(|x| *x *= c),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_hold_the_right_powers() {
        let domain = Domain::with_default_root(6).unwrap();
        let tw = Twiddles::new(6, domain.omega()).unwrap();
        let mut h = 32;
        while h >= 1 {
            // w_{2h} = ω^(n / 2h)
            let w = domain.omega().pow([64 / (2 * h) as u64]);
            for (j, t) in tw.level(h).iter().enumerate() {
                assert_eq!(*t, w.pow([j as u64]), "level {h}, j = {j}");
            }
            h /= 2;
        }
    }

    #[test]
    fn cache_keeps_recent_domains() {
        let mut cache = TwiddleCache::default();
        for log_n in 1..=(CACHED_DOMAINS as u32 + 2) {
            let d = Domain::with_default_root(log_n).unwrap();
            cache.with(log_n, d.omega(), |_| ()).unwrap();
        }
        assert_eq!(cache.entries.len(), CACHED_DOMAINS);
        assert_eq!(cache.entries[0].log_n, CACHED_DOMAINS as u32 + 2);
    }
}
