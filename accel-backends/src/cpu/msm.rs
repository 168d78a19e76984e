//! Pippenger's bucket method with signed digits and batch-affine bucket accumulation.
//!
//! Per window of `c` bits every scalar contributes a digit `d ∈ [−2^(c−1), 2^(c−1))`; the base
//! goes (negated when `d < 0`) into bucket `|d|`. Buckets are filled by sorting the points by
//! bucket and adding them pairwise in rounds, all additions of a round in affine coordinates
//! sharing one field inversion (Montgomery's trick): about 5M + 1S an addition, against
//! 7M + 4S for the mixed Jacobian addition a projective bucket costs. Small MSMs, whose windows
//! hold too few points to amortise an inversion each, sort all of a thread's windows into one
//! array of buckets so that a round's inversion is shared by them all. The buckets' weighted
//! sum `Σ b·B_b` is taken through their rows and columns (two more batch-affine additions a
//! bucket, then running sums over `≈ 2·√buckets` points; [`bucket_sums`]), and the windows are
//! combined by doubling.

use alloc::{vec, vec::Vec};

use ark_bn254::{Fq, Fr, G1Affine, G1Projective};
use ark_ec::{AdditiveGroup, AffineRepr, PrimeGroup};
use ark_ff::{BigInteger, Field, PrimeField, Zero};

use bn254_ifma::{Ifma, PairScratch};

use crate::{par, width, BackendError, FULL_SCALAR_BITS};

/// Below this many points a precomputed table is neither built nor used: an MSM this small is
/// all bucket sums and per-call work, which the table's extra points do not save.
const TABLE_MIN_POINTS: usize = 1 << 9;

/// Points sorted into buckets at a time (at least): bounds the scratch memory of one window
/// task (4 MiB of points) while keeping many points per bucket, since each bucket's value
/// carried from one chunk into the next costs an addition (2^14: ≈ 5 % slower at 2^16 points).
const MIN_CHUNK: usize = 1 << 16;

/// Signed digits must cover `256 ≥ 254 + 2` bits so that `s + K` cannot overflow the windows.
const DIGIT_BITS: u32 = 256;

/// How many windows of `c` bits signed digits need for magnitudes below `2^bits`: one window
/// holds digits in `[−2^(c−1), 2^(c−1))`, so `c > bits` suffices; with more windows the
/// recoded `s + K` must stay below `2^(W·c)`, which `W·c ≥ bits + 2` guarantees for `c ≥ 2`.
fn windows_for(bits: u32, c: u32) -> u32 {
    if bits == 0 {
        0
    } else if c > bits {
        1
    } else {
        (bits + 2).div_ceil(c)
    }
}

/// The window width (bits) the MSM uses for `n` points of full-width scalars: the one that
/// minimises the estimated cost in field multiplications.
pub fn window_bits(n: usize) -> u32 {
    plan(n, DIGIT_BITS - 2).c
}

/// Up to this many points an MSM adds every window's buckets in one batch-affine pass
/// ([`windows_sum_shared`]); above it each window is a pass of its own, whose rounds are long
/// enough to amortise their inversions.
const SHARED_MAX_POINTS: usize = 1 << 11;

/// How an MSM of `n` points runs: its window width, and whether its windows share their
/// rounds of affine additions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    c: u32,
    shared: bool,
}

/// The plan for `n` points whose scalars have magnitudes below `2^bits`: the window width that
/// minimises the estimated cost in field multiplications.
fn plan(n: usize, bits: u32) -> Plan {
    let shared = n <= SHARED_MAX_POINTS;
    let c = (2..=20u32)
        .min_by_key(|&c| plan_cost(n, bits, Plan { c, shared }))
        .unwrap_or(2);
    Plan { c, shared }
}

/// Estimated field multiplications of an MSM of `n` points of `bits` bits run as `plan`.
fn plan_cost(n: usize, bits: u32, plan: Plan) -> u64 {
    // Per point added to a bucket: ≈ 6 for an affine addition whose inversion is shared across
    // windows, 7 with one round's inversion per window.
    let per_point = if plan.shared { 6 } else { 7 };
    u64::from(windows_for(bits, plan.c)) * (per_point * n as u64 + buckets_cost(plan.c))
}

/// Estimated field multiplications to sum one set of `2^(c−1)` buckets: two affine additions a
/// bucket into rows and columns, or, below [`TWO_LEVEL_MIN`] buckets, a mixed and a full
/// projective addition in the running sum (≈ 32, measured).
fn buckets_cost(c: u32) -> u64 {
    let nb = 1u64 << (c - 1);
    nb * if nb >= TWO_LEVEL_MIN as u64 { 14 } else { 32 }
}

/// A point in affine coordinates, never the identity.
use bn254_ifma::Point as Pt;

/// Scalars recoded so that each window's signed digit is read off independently:
/// `s + K` with `K = Σ_w 2^(c−1) · 2^(w·c)`, so that `digit_w = bits_w(s + K) − 2^(c−1)` and
/// `s = Σ_w digit_w · 2^(w·c)`. A narrow scalar is recoded from its signed value `±m`, so
/// `−3` takes the windows of `3`, not of `r − 3`. Each recoded scalar keeps only the limbs its
/// windows reach (one for an 8-bit hint, five at full width): the sorts read them once a window.
struct Digits {
    c: u32,
    windows: usize,
    /// Limbs per scalar: enough for `windows · c` bits and a spare top bit ([`TOO_WIDE`]).
    stride: usize,
    shifted: Vec<u64>,
}

/// Marks a scalar too wide for its hint in [`Digits::narrow`]: the top limb's top bit is past
/// every window, so no recoded value sets it.
const TOO_WIDE: u64 = u64::MAX;

impl Digits {
    /// `K` for `windows` windows of `c` bits.
    fn offset(c: u32, windows: u32) -> [u64; 5] {
        let mut k = [0u64; 5];
        for w in 0..windows {
            let bit = (w * c + c - 1) as usize;
            k[bit / 64] |= 1 << (bit % 64);
        }
        k
    }

    /// Full-width scalars, `⌈256/c⌉` windows.
    fn full(scalars: &[Fr], c: u32) -> Self {
        let windows = full_windows(c);
        Self::recode(scalars, c, windows, |s| Some((false, s.into_bigint().0)))
    }

    /// Scalars with magnitudes below `2^bits`, as signed values; the ones that are not (a wrong
    /// hint) get all-zero digits and their indices are returned.
    fn narrow(scalars: &[Fr], bits: u32, c: u32) -> (Self, Vec<usize>) {
        let windows = windows_for(bits, c);
        let mut digits = Self::recode(scalars, c, windows, |s| {
            let (negative, m) = width::signed(s);
            (m.num_bits() <= bits).then_some((negative, m.0))
        });
        let k = Self::offset(c, windows);
        let stride = digits.stride;
        let mut wide = Vec::new();
        for (i, v) in digits.shifted.chunks_exact_mut(stride).enumerate() {
            if v[stride - 1] == TOO_WIDE {
                wide.push(i);
                v.copy_from_slice(&k[..stride]);
            }
        }
        (digits, wide)
    }

    /// `K ± m` for each scalar's signed magnitude from `signed` (`None`: [`TOO_WIDE`]).
    fn recode(
        scalars: &[Fr],
        c: u32,
        windows: u32,
        signed: impl Fn(&Fr) -> Option<(bool, [u64; 4])> + Sync,
    ) -> Self {
        let k = Self::offset(c, windows);
        let stride = (windows * c) as usize / 64 + 1;
        let mut shifted = vec![0u64; scalars.len() * stride];
        const CHUNK: usize = 1 << 12;
        par::for_each_chunk_mut(&mut shifted, CHUNK * stride, |i, out| {
            let first = i * CHUNK;
            for (o, s) in out.chunks_exact_mut(stride).zip(&scalars[first..]) {
                match signed(s) {
                    Some((negative, m)) => o.copy_from_slice(&add5(&k, &m, negative)[..stride]),
                    None => o.fill(TOO_WIDE),
                }
            }
        });
        Self {
            c,
            windows: windows as usize,
            stride,
            shifted,
        }
    }

    #[inline]
    fn digit(&self, i: usize, window: usize) -> i32 {
        let v = &self.shifted[i * self.stride..(i + 1) * self.stride];
        let bit = window * self.c as usize;
        let (limb, off) = (bit / 64, bit % 64);
        let mut x = v[limb] >> off;
        if off + self.c as usize > 64 {
            x |= v[limb + 1] << (64 - off);
        }
        let mask = (1u64 << self.c) - 1;
        (x & mask) as i32 - (1i32 << (self.c - 1))
    }
}

/// `k + m` (or `k − m` when `negative`) over five limbs; `m < k` when subtracting.
#[inline]
fn add5(k: &[u64; 5], m: &[u64; 4], negative: bool) -> [u64; 5] {
    let mut out = [0u64; 5];
    let mut carry = 0u64;
    for j in 0..5 {
        let m_j = if j < 4 { m[j] } else { 0 };
        if negative {
            let (a, b1) = k[j].overflowing_sub(m_j);
            let (b, b2) = a.overflowing_sub(carry);
            out[j] = b;
            carry = u64::from(b1 | b2);
        } else {
            let (a, c1) = k[j].overflowing_add(m_j);
            let (b, c2) = a.overflowing_add(carry);
            out[j] = b;
            carry = u64::from(c1 | c2);
        }
    }
    out
}

/// `Σ scalars[i] · bases[i]` where (as a hint) every scalar's magnitude is below `2^bits`;
/// [`FULL_SCALAR_BITS`] for any scalars. Scalars wider than the hint are summed apart at full
/// width, so the result never depends on the hint.
pub(super) fn msm(bases: &[G1Affine], scalars: &[Fr], bits: u32) -> G1Projective {
    msm_on(bases, scalars, bits, par::threads())
}

/// Up to this many points an MSM is small enough that a batch of them runs one MSM a thread
/// ([`msm_one_thread`]) rather than each split across the threads.
pub(super) const SMALL_MAX_POINTS: usize = SHARED_MAX_POINTS;

/// [`msm`] on the calling thread alone, for a batch of small MSMs run side by side: splitting
/// each across threads pays every split's fixed costs (its scratch, its bucket sums) again.
pub(super) fn msm_one_thread(bases: &[G1Affine], scalars: &[Fr], bits: u32) -> G1Projective {
    debug_assert!(scalars.len() <= SMALL_MAX_POINTS);
    msm_on(bases, scalars, bits, 1)
}

/// [`msm`] with the windows of a small MSM split among `threads` threads.
fn msm_on(bases: &[G1Affine], scalars: &[Fr], bits: u32, threads: usize) -> G1Projective {
    debug_assert_eq!(bases.len(), scalars.len());
    let n = scalars.len();
    if n == 0 {
        return G1Projective::zero();
    }
    if bits >= FULL_SCALAR_BITS - 1 {
        let plan = plan(n, DIGIT_BITS - 2);
        return msm_digits(bases, &Digits::full(scalars, plan.c), plan, threads);
    }
    let plan = plan(n, bits);
    let (digits, wide) = Digits::narrow(scalars, bits, plan.c);
    let mut sum = if digits.windows == 0 {
        G1Projective::zero()
    } else {
        msm_digits(bases, &digits, plan, threads)
    };
    if !wide.is_empty() {
        let (b, s): (Vec<G1Affine>, Vec<Fr>) = wide.iter().map(|&i| (bases[i], scalars[i])).unzip();
        sum += msm_on(&b, &s, FULL_SCALAR_BITS, threads);
    }
    sum
}

/// Points sorted into buckets at a time for windows of `c` bits.
fn chunk_for(c: u32) -> usize {
    MIN_CHUNK.max(4 << c)
}

#[cfg(test)]
fn msm_chunked(bases: &[G1Affine], scalars: &[Fr], chunk: usize) -> G1Projective {
    let digits = Digits::full(scalars, window_bits(scalars.len()));
    windows_combined(
        &per_window_sums(bases, &digits, chunk),
        digits.c,
        digits.windows,
    )
}

fn msm_digits(bases: &[G1Affine], digits: &Digits, plan: Plan, threads: usize) -> G1Projective {
    let sums = if plan.shared {
        shared_window_sums(bases, digits, threads)
    } else {
        per_window_sums(bases, digits, chunk_for(plan.c))
    };
    windows_combined(&sums, digits.c, digits.windows)
}

/// `Σ_w 2^(c·w) · S_w` from the windows' sums, where `sums` holds parts of each window's sum
/// (part `p` of window `w` at `p·windows + w`).
fn windows_combined(sums: &[G1Projective], c: u32, windows: usize) -> G1Projective {
    let parts = sums.len() / windows.max(1);
    let mut acc = G1Projective::zero();
    for window in (0..windows).rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        for part in 0..parts {
            acc += sums[part * windows + window];
        }
    }
    acc
}

/// Each window's sum, every window a pass of its own (its additions sharing the inversions
/// of its rounds only), split by points too where windows are fewer than the threads.
fn per_window_sums(bases: &[G1Affine], digits: &Digits, chunk: usize) -> Vec<G1Projective> {
    let n = bases.len();
    let windows = digits.windows;

    // Windows are independent; with more threads than windows can keep busy, split the points
    // too (each part then pays its own bucket reduction).
    let parts = (2 * par::threads())
        .div_ceil(windows)
        .min(n.div_ceil(1 << 12))
        .max(1);
    let part_len = n.div_ceil(parts);
    par::map_collect(windows * parts, |task| {
        let (window, part) = (task % windows, task / windows);
        let lo = part * part_len;
        let hi = n.min(lo + part_len);
        window_sum(&bases[lo..hi], digits, lo, window, chunk)
    })
}

/// Each window's sum, the windows split among the threads and each thread's windows added in
/// one batch-affine pass ([`Scratch::sort_windows`]): a round's inversion is shared by all of
/// them, so that small MSMs, whose windows hold too few points to amortise one inversion a
/// round each, still get affine additions instead of mixed Jacobian ones.
fn shared_window_sums(bases: &[G1Affine], digits: &Digits, threads: usize) -> Vec<G1Projective> {
    let windows = digits.windows;
    let groups = threads.min(windows).max(1);
    let per = windows.div_ceil(groups);
    let sums = par::map_collect(groups, |g| {
        let lo = g * per;
        windows_sum_shared(bases, digits, lo..windows.min(lo + per))
    });
    sums.into_iter().flatten().collect()
}

/// The sums of windows `windows` of `digits` over `bases`, all their buckets filled in one
/// batch-affine pass.
fn windows_sum_shared(
    bases: &[G1Affine],
    digits: &Digits,
    windows: core::ops::Range<usize>,
) -> Vec<G1Projective> {
    let nb = 1usize << (digits.c - 1);
    Scratch::with(windows.len() * nb, |scratch| {
        scratch.sort_windows(bases, digits, windows.clone());
        scratch.reduce();
        let buckets: Vec<Option<Pt>> = (0..windows.len() * nb).map(|b| scratch.single(b)).collect();
        bucket_sums(scratch, windows.len(), &buckets)
            .into_iter()
            .map(|(weighted, _)| weighted)
            .collect()
    })
}

/// Multiples of a set of bases kept for MSMs over it (the CPU backend's precomputation).
///
/// With windows of `c` bits and `W` of them, window `w = j·rows + r` of a scalar meets copy `j`
/// of the bases, `2^(c·rows·j)·P`, in bucket set `r`: the `W` windows share `rows` sets of
/// buckets instead of one set each, so the bucket sums are paid `rows` times, and a larger `c`
/// (fewer windows) pays off up to [`TABLE_MAX_C`]. Since the bucket sums became cheap (rows
/// and columns, [`bucket_sums`]) that pays for small MSMs mostly (0.73 of the plain MSM at
/// 2^10, 0.98 at 2^16). `copies·n` points are kept, copy 0 being the bases themselves.
pub(super) struct Table {
    c: u32,
    rows: usize,
    copies: usize,
    n: usize,
    points: Vec<G1Affine>,
}

/// The widest windows a table is built for. Wider windows would mean fewer of them, but their
/// bucket sets (8192 buckets and more, each filled from every copy of the bases) outgrow the
/// cache: with windows of 16 and 18 bits a table measured 1.06 and 1.2 times the plain MSM at
/// 2^16 and 2^18 points, with 13 bits 0.96 and 1.00 (0.89 at 2^14).
const TABLE_MAX_C: u32 = 13;

/// With the eight-lane additions, tables pay up to this many points only: 0.64–0.82 of the
/// plain MSM from 2^10 to 2^13 points, 1.06–1.40 at 2^14, 1.02–1.03 at 2^15, 0.93–0.98 at 2^16
/// (factor 16, one process, medians of 7). Their copies' points are gathered from ten times
/// the memory, which the faster arithmetic no longer hides.
const TABLE_MAX_POINTS_ON_LANES: usize = 1 << 13;

/// Windows of `c` bits that full-width signed digits need.
fn full_windows(c: u32) -> u32 {
    DIGIT_BITS.div_ceil(c)
}

/// Estimated cost (field multiplications) of a precomputed MSM of `m` points with windows of
/// `c` bits and `rows` bucket sets.
fn precomputed_cost(m: usize, c: u32, rows: u32) -> u64 {
    u64::from(full_windows(c)) * 7 * m as u64 + u64::from(rows) * buckets_cost(c)
}

/// Estimated cost of a plain MSM of `m` full-width points.
fn plain_cost(m: usize) -> u64 {
    let bits = DIGIT_BITS - 2;
    plan_cost(m, bits, plan(m, bits))
}

impl Table {
    /// The multiples for `bases` within `factor` times their memory, or `None` where no choice
    /// beats the plain MSM.
    pub(super) fn new(bases: &[G1Affine], factor: u32) -> Result<Option<Self>, BackendError> {
        let n = bases.len();
        if factor < 2 || n < TABLE_MIN_POINTS {
            return Ok(None);
        }
        let best = (8..=TABLE_MAX_C)
            .map(|c| {
                let windows = full_windows(c);
                let rows = windows.div_ceil(factor);
                (precomputed_cost(n, c, rows), c, rows)
            })
            .min();
        let Some((cost, c, rows)) = best else {
            return Ok(None);
        };
        if cost >= plain_cost(n) {
            return Ok(None);
        }
        let copies = full_windows(c).div_ceil(rows) as usize;
        let mut points = Vec::new();
        points
            .try_reserve_exact(copies * n)
            .map_err(|_| BackendError::OutOfMemory {
                elements: copies * n,
            })?;
        points.extend_from_slice(bases);
        points.resize(copies * n, G1Affine::zero());
        let shift = c as usize * rows as usize;
        for j in 1..copies {
            let (done, rest) = points.split_at_mut(j * n);
            let previous = &done[(j - 1) * n..];
            par::for_each_chunk_mut(&mut rest[..n], 1 << 10, |k, out| {
                let first = k << 10;
                let proj: Vec<G1Projective> = previous[first..first + out.len()]
                    .iter()
                    .map(|p| {
                        let mut q = G1Projective::from(*p);
                        for _ in 0..shift {
                            q.double_in_place();
                        }
                        q
                    })
                    .collect();
                let affine = <G1Projective as ark_ec::CurveGroup>::normalize_batch(&proj);
                out.copy_from_slice(&affine);
            });
        }
        Ok(Some(Self {
            c,
            rows: rows as usize,
            copies,
            n,
            points,
        }))
    }

    /// How many times the bases' own memory the table takes.
    pub(super) fn memory_factor(&self) -> u32 {
        self.copies as u32
    }

    /// Whether [`Self::msm`] computes an MSM of `m` points from `start`: not where the plain
    /// MSM is the cheaper (a sub-range much shorter than the set).
    pub(super) fn takes(&self, start: usize, m: usize) -> bool {
        m >= TABLE_MIN_POINTS
            && (m <= TABLE_MAX_POINTS_ON_LANES || Ifma::detect().is_none())
            && precomputed_cost(m, self.c, self.rows as u32) < plain_cost(m)
            && start + m <= self.n
    }

    /// `Σ scalars[i] · bases[start + i]` with the table, or `None` where it does not
    /// [take](Self::takes) the MSM.
    pub(super) fn msm(&self, start: usize, scalars: &[Fr]) -> Option<G1Projective> {
        let m = scalars.len();
        if !self.takes(start, m) {
            return None;
        }
        let digits = Digits::full(scalars, self.c);
        let windows = digits.windows;
        let nb = 1usize << (self.c - 1);
        // Each bucket set is split by bucket range across threads: every thread reads all the
        // digits, but no bucket reduction is paid twice.
        let ranges = par::threads().div_ceil(self.rows).max(1);
        let per = nb.div_ceil(ranges);
        let chunk = chunk_for(self.c);
        let sums = par::map_collect(self.rows * ranges, |task| {
            let (row, range) = (task % self.rows, task / self.rows);
            let segments: Vec<Segment<'_>> = (0..self.copies)
                .map(|j| (j, j * self.rows + row))
                .filter(|&(_, w)| w < windows)
                .map(|(j, window)| Segment {
                    bases: &self.points[j * self.n + start..j * self.n + start + m],
                    window,
                    offset: 0,
                })
                .collect();
            let lo = range * per;
            bucket_sum(&segments, &digits, chunk, lo..nb.min(lo + per))
        });
        let mut acc = G1Projective::zero();
        for row in (0..self.rows).rev() {
            for _ in 0..self.c {
                acc.double_in_place();
            }
            for range in 0..ranges {
                acc += sums[range * self.rows + row];
            }
        }
        Some(acc)
    }
}

/// `Σ_b b · bucket_b` for one window over `bases`, whose first point is scalar `offset`.
fn window_sum(
    bases: &[G1Affine],
    digits: &Digits,
    offset: usize,
    window: usize,
    chunk: usize,
) -> G1Projective {
    let nb = 1usize << (digits.c - 1);
    bucket_sum(
        &[Segment {
            bases,
            window,
            offset,
        }],
        digits,
        chunk,
        0..nb,
    )
}

/// Points whose digits come from one window of the scalars from index `offset` on.
#[derive(Clone, Copy)]
struct Segment<'a> {
    bases: &'a [G1Affine],
    window: usize,
    offset: usize,
}

/// `Σ_b b · bucket_b` of one set of buckets filled from `segments`, for the buckets of
/// magnitudes `buckets.start + 1 ..= buckets.end` only (so that threads can split one set).
fn bucket_sum(
    segments: &[Segment<'_>],
    digits: &Digits,
    chunk: usize,
    buckets: core::ops::Range<usize>,
) -> G1Projective {
    let (first, nb) = (buckets.start, buckets.len());
    // Bucket `b` of the range holds magnitude `first + b + 1`: the running sum gives
    // `Σ (b + 1)·B`, and `first · Σ B` makes up the rest.
    let shifted = |total: G1Projective, running: G1Projective| {
        if first == 0 {
            total
        } else {
            total + running.mul_bigint([first as u64])
        }
    };
    let mut carried: Vec<Option<Pt>> = vec![None; nb];
    let (total, running) = Scratch::with(nb, |scratch| {
        // Chunks span segments: each chunk's buckets carry into the next at the cost of an
        // addition each, which many short segments (a table's copies) would pay over and over.
        let mut pieces: Vec<Segment<'_>> = Vec::new();
        let mut filled = 0;
        let mut flush = |pieces: &mut Vec<Segment<'_>>, scratch: &mut Scratch| {
            scratch.sort(&mut carried, pieces, digits, first);
            scratch.reduce();
            for (b, bucket) in carried.iter_mut().enumerate() {
                *bucket = scratch.single(b);
            }
            pieces.clear();
        };
        for seg in segments {
            let mut lo = 0;
            while lo < seg.bases.len() {
                let take = (chunk - filled).min(seg.bases.len() - lo);
                pieces.push(Segment {
                    bases: &seg.bases[lo..lo + take],
                    window: seg.window,
                    offset: seg.offset + lo,
                });
                (lo, filled) = (lo + take, filled + take);
                if filled == chunk {
                    flush(&mut pieces, scratch);
                    filled = 0;
                }
            }
        }
        if !pieces.is_empty() {
            flush(&mut pieces, scratch);
        }
        bucket_sums(scratch, 1, &carried).pop().unwrap_or_default()
    });
    shifted(total, running)
}

/// Below this many buckets a set is summed by a plain running sum: its rows and columns would
/// be too short to pay for their sort and rounds (measured at 2^9 points, 32 buckets).
const TWO_LEVEL_MIN: usize = 64;

/// `(Σ_b (b + 1)·B_b, Σ_b B_b)` for each of `sets` sets of buckets, `buckets` holding them one
/// set after another (`None`: the identity); `scratch` is reused for the additions.
///
/// A running sum over the buckets costs two projective additions a bucket (≈ 32
/// multiplications, measured). Instead, with `b = hi·cols + lo`, the rows `R_hi = Σ_lo B_b` and the
/// columns `C_lo = Σ_hi B_b` are two sums of every bucket, all of them added in one batch-affine
/// pass (≈ 6 multiplications an addition, the inversions shared by every set), and
/// `Σ (b + 1)·B_b = cols · Σ hi·R_hi + Σ (lo + 1)·C_lo` leaves running sums over `rows + cols`
/// points only, `≈ 2·√nb`.
fn bucket_sums(
    scratch: &mut Scratch,
    sets: usize,
    buckets: &[Option<Pt>],
) -> Vec<(G1Projective, G1Projective)> {
    let nb = buckets.len() / sets.max(1);
    let bucket = |s: usize, b: usize| buckets[s * nb + b];
    let add = |acc: &mut G1Projective, p: Option<Pt>| {
        if let Some(p) = p {
            *acc += G1Affine::new_unchecked(p.x, p.y);
        }
    };
    if nb < TWO_LEVEL_MIN {
        return (0..sets)
            .map(|s| running_sum((0..nb).rev().map(|b| bucket(s, b)), add))
            .collect();
    }
    // Square-ish: a table's thread may hold a range of buckets that is no power of two.
    let log_cols = nb.ilog2() / 2;
    let cols = 1usize << log_cols;
    let rows = nb.div_ceil(cols);
    let per = rows + cols;
    scratch.reset(sets * per);
    for s in 0..sets {
        for b in 0..nb {
            if bucket(s, b).is_some() {
                scratch.lens[s * per + b / cols] += 1;
                scratch.lens[s * per + rows + b % cols] += 1;
            }
        }
    }
    scratch.lay_out();
    for s in 0..sets {
        for b in 0..nb {
            if let Some(p) = bucket(s, b) {
                scratch.push(s * per + b / cols, p);
                scratch.push(s * per + rows + b % cols, p);
            }
        }
    }
    scratch.reduce();
    (0..sets)
        .map(|s| {
            let group = |g: usize| scratch.single(s * per + g);
            // Σ_hi (hi + 1)·R_hi and Σ R_hi; the rows' weights are hi.
            let (rows_weighted, sum) = running_sum((0..rows).rev().map(group), add);
            let (cols_weighted, _) = running_sum((0..cols).rev().map(|lo| group(rows + lo)), add);
            let mut weighted = rows_weighted - sum;
            for _ in 0..log_cols {
                weighted.double_in_place();
            }
            (weighted + cols_weighted, sum)
        })
        .collect()
}

/// `(Σ_b b · bucket_b, Σ_b bucket_b)` given the buckets from the highest down (`b` from 1): a
/// running sum of buckets, summed.
fn running_sum<T>(
    buckets_high_to_low: impl Iterator<Item = T>,
    add: impl Fn(&mut G1Projective, T),
) -> (G1Projective, G1Projective) {
    let mut running = G1Projective::zero();
    let mut total = G1Projective::zero();
    for bucket in buckets_high_to_low {
        add(&mut running, bucket);
        total += running;
    }
    (total, running)
}

/// The most scratch memory a thread keeps between MSMs (the shared pass of an MSM of 2^11
/// points takes about 4 MiB; larger MSMs amortise their allocations themselves).
#[cfg(feature = "std")]
const SPARE_MAX_BYTES: usize = 8 << 20;

#[cfg(feature = "std")]
std::thread_local! {
    /// Each thread's spare [`Scratch`], see [`Scratch::with`].
    static SPARE: core::cell::RefCell<Option<Scratch>> = const { core::cell::RefCell::new(None) };
}

/// Working memory of one window task, reused across chunks.
struct Scratch {
    /// Points, grouped by bucket: bucket `b` holds `pts[starts[b]..starts[b] + lens[b]]`.
    pts: Vec<Pt>,
    starts: Vec<u32>,
    lens: Vec<u32>,
    /// Each point's bucket and sign ([`slot`]), read once per sort.
    slots: Vec<u32>,
    /// Buckets that still hold two points or more, in the order of `pts`.
    active: Vec<u32>,
    next: Vec<u32>,
    /// Denominators of the current round's additions, and their prefix products.
    dens: Vec<Fq>,
    prefix: Vec<Fq>,
    /// The vector rounds' pairs (each first point's index), their sums, the sums that are the
    /// identity, and the kernel's own memory.
    firsts: Vec<u32>,
    sums: Vec<Pt>,
    identity: Vec<bool>,
    lanes: PairScratch,
}

/// A point left out of the buckets (zero digit, another thread's bucket, the identity).
const NO_SLOT: u32 = u32::MAX;

/// Bucket `b` and the sign of the digit, packed.
#[inline]
fn slot(b: usize, negative: bool) -> u32 {
    (b as u32) << 1 | u32::from(negative)
}

impl Scratch {
    fn new(nb: usize) -> Self {
        let mut scratch = Self {
            pts: Vec::new(),
            starts: Vec::new(),
            lens: Vec::new(),
            slots: Vec::new(),
            active: Vec::new(),
            next: Vec::new(),
            dens: Vec::new(),
            prefix: Vec::new(),
            firsts: Vec::new(),
            sums: Vec::new(),
            identity: Vec::new(),
            lanes: PairScratch::default(),
        };
        scratch.reset(nb);
        scratch
    }

    /// Runs `f` with a scratch for `nb` buckets: this thread's spare one where it has one, its
    /// memory kept from an earlier MSM. A small MSM allocates and frees a megabyte or two of
    /// scratch, which the allocator maps and unmaps each time: in a proof at 2^9 rows the
    /// page faults took 10 % of the MSMs' time.
    fn with<R>(nb: usize, f: impl FnOnce(&mut Scratch) -> R) -> R {
        #[cfg(feature = "std")]
        {
            let mut scratch = SPARE
                .with(|spare| spare.borrow_mut().take())
                .unwrap_or_else(|| Scratch::new(0));
            scratch.reset(nb);
            let out = f(&mut scratch);
            if scratch.bytes() <= SPARE_MAX_BYTES {
                SPARE.with(|spare| *spare.borrow_mut() = Some(scratch));
            }
            out
        }
        #[cfg(not(feature = "std"))]
        {
            f(&mut Scratch::new(nb))
        }
    }

    /// The memory the scratch holds.
    #[cfg(feature = "std")]
    fn bytes(&self) -> usize {
        use core::mem::size_of;
        (self.pts.capacity() + self.sums.capacity()) * size_of::<Pt>()
            + (self.starts.capacity()
                + self.lens.capacity()
                + self.slots.capacity()
                + self.active.capacity()
                + self.next.capacity()
                + self.firsts.capacity())
                * size_of::<u32>()
            + (self.dens.capacity() + self.prefix.capacity()) * size_of::<Fq>()
            + self.identity.capacity()
            + self.lanes.bytes()
    }

    /// Empties the scratch for `nb` buckets, keeping its memory.
    fn reset(&mut self, nb: usize) {
        self.starts.clear();
        self.starts.resize(nb, 0);
        self.lens.clear();
        self.lens.resize(nb, 0);
    }

    /// Counting sort of the chunk's points, `pieces` of segments (and the carried bucket
    /// values), by bucket; bucket `b` holds the points of digit magnitude `first + b + 1`,
    /// points of other digits are left out.
    fn sort(
        &mut self,
        carried: &mut [Option<Pt>],
        pieces: &[Segment<'_>],
        digits: &Digits,
        first: usize,
    ) {
        let nb = self.lens.len();
        self.slots.clear();
        for piece in pieces {
            self.slots
                .extend(piece.bases.iter().enumerate().map(|(i, base)| {
                    let d = digits.digit(piece.offset + i, piece.window);
                    let b = (d.unsigned_abs() as usize).wrapping_sub(first + 1);
                    if b < nb && !base.is_zero() {
                        slot(b, d < 0)
                    } else {
                        NO_SLOT
                    }
                }));
        }
        self.lens
            .iter_mut()
            .zip(carried.iter())
            .for_each(|(l, c)| *l = u32::from(c.is_some()));
        self.count_slots();
        self.lay_out();
        for (b, c) in carried.iter_mut().enumerate() {
            if let Some(p) = c.take() {
                self.push(b, p);
            }
        }
        self.push_slots(pieces.iter().map(|piece| piece.bases));
    }

    /// Counting sort of `bases` into the buckets of each of `windows`: window `windows.start + k`
    /// takes buckets `k·nb ..`, its bucket `b` the points of digit magnitude `b + 1`.
    fn sort_windows(
        &mut self,
        bases: &[G1Affine],
        digits: &Digits,
        windows: core::ops::Range<usize>,
    ) {
        let nb = 1usize << (digits.c - 1);
        debug_assert_eq!(self.lens.len(), windows.len() * nb);
        self.slots.clear();
        for (k, window) in windows.clone().enumerate() {
            self.slots.extend(bases.iter().enumerate().map(|(i, base)| {
                let d = digits.digit(i, window);
                if d != 0 && !base.is_zero() {
                    slot(k * nb + d.unsigned_abs() as usize - 1, d < 0)
                } else {
                    NO_SLOT
                }
            }));
        }
        self.lens.iter_mut().for_each(|l| *l = 0);
        self.count_slots();
        self.lay_out();
        self.push_slots(core::iter::repeat_n(bases, windows.len()));
    }

    /// Adds the points of `slots` to the counts in `lens`.
    fn count_slots(&mut self) {
        for &s in &self.slots {
            if s != NO_SLOT {
                self.lens[(s >> 1) as usize] += 1;
            }
        }
    }

    /// Pushes the bases of `runs` (`−base` where the digit is negative) into their buckets:
    /// `slots` holds the runs' slots one run after another.
    fn push_slots<'b>(&mut self, runs: impl Iterator<Item = &'b [G1Affine]>) {
        let slots = core::mem::take(&mut self.slots);
        let mut rest = &slots[..];
        for bases in runs {
            let (run, after) = rest.split_at(bases.len().min(rest.len()));
            rest = after;
            for (&s, base) in run.iter().zip(bases) {
                if s != NO_SLOT {
                    let y = if s & 1 == 1 { -base.y } else { base.y };
                    self.push((s >> 1) as usize, Pt { x: base.x, y });
                }
            }
        }
        self.slots = slots;
    }

    /// Lays the buckets out from the point counts in `lens`: each bucket's start and room for
    /// every point; `lens` goes back to zero to serve as the fill cursor of [`Self::push`], and
    /// ends at the counts again.
    fn lay_out(&mut self) {
        let mut total = 0u32;
        for (s, l) in self.starts.iter_mut().zip(self.lens.iter_mut()) {
            *s = total;
            total += *l;
            *l = 0;
        }
        self.pts.clear();
        self.pts.resize(
            total as usize,
            Pt {
                x: Fq::ZERO,
                y: Fq::ZERO,
            },
        );
    }

    /// The point of bucket `b` once reduced (`None`: empty).
    #[inline]
    fn single(&self, b: usize) -> Option<Pt> {
        (self.lens[b] == 1).then(|| self.pts[self.starts[b] as usize])
    }

    /// Appends `p` to bucket `b`.
    #[inline]
    fn push(&mut self, b: usize, p: Pt) {
        self.pts[(self.starts[b] + self.lens[b]) as usize] = p;
        self.lens[b] += 1;
    }

    /// Adds the points of every bucket pairwise, round after round, until each bucket holds at
    /// most one point.
    ///
    /// A round takes the buckets still holding two points or more, multiplies up the
    /// denominators of their pairs (forward), inverts the product once, and walks back
    /// peeling off each inverse and adding its pair at once. Walking back, a bucket's sums are
    /// written from its last pair's slots downwards, so no slot is written before it is read and
    /// the bucket stays contiguous: `start` moves up to its first sum.
    fn reduce(&mut self) {
        self.active.clear();
        self.active
            .extend((0..self.lens.len() as u32).filter(|&b| self.lens[b as usize] >= 2));
        if let Some(ifma) = Ifma::detect() {
            return self.reduce_lanes(ifma);
        }
        while !self.active.is_empty() {
            self.dens.clear();
            self.prefix.clear();
            let mut acc = Fq::ONE;
            for &b in &self.active {
                let (start, len) = (self.starts[b as usize] as usize, self.lens[b as usize]);
                for k in 0..(len / 2) as usize {
                    let d = denominator(&self.pts[start + 2 * k], &self.pts[start + 2 * k + 1]);
                    self.prefix.push(acc);
                    acc *= d;
                    self.dens.push(d);
                }
            }
            // Valid points of a prime-order group have y ≠ 0, so no denominator is zero; bases
            // are validated when loaded.
            let mut inv = acc.inverse().unwrap_or(Fq::ZERO);
            let mut i = self.dens.len();
            self.next.clear();
            for &b in self.active.iter().rev() {
                let (start, len) = (self.starts[b as usize] as usize, self.lens[b as usize]);
                let pairs = (len / 2) as usize;
                let mut cursor = 2 * pairs;
                for k in (0..pairs).rev() {
                    i -= 1;
                    let inv_k = inv * self.prefix[i];
                    inv *= self.dens[i];
                    let (p, q) = (&self.pts[start + 2 * k], &self.pts[start + 2 * k + 1]);
                    if let Some(sum) = add(p, q, &inv_k) {
                        // `cursor − 1 ≥ 2k + 1`: slots of this pair or of pairs already added.
                        cursor -= 1;
                        self.pts[start + cursor] = sum;
                    }
                }
                let kept = (2 * pairs - cursor) as u32 + len % 2;
                self.starts[b as usize] = (start + cursor) as u32;
                self.lens[b as usize] = kept;
                if kept >= 2 {
                    self.next.push(b);
                }
            }
            self.next.reverse();
            core::mem::swap(&mut self.active, &mut self.next);
        }
    }

    /// [`Self::reduce`]'s rounds on eight lanes: the kernel adds every pair of the round into
    /// `sums`, and each bucket takes its sums back from its start, then its odd point.
    fn reduce_lanes(&mut self, ifma: Ifma) {
        while !self.active.is_empty() {
            self.firsts.clear();
            for &b in &self.active {
                let (start, len) = (self.starts[b as usize], self.lens[b as usize]);
                self.firsts.extend((0..len / 2).map(|k| start + 2 * k));
            }
            ifma.add_pairs(
                &self.pts,
                &self.firsts,
                &mut self.sums,
                &mut self.identity,
                &mut self.lanes,
            );
            self.next.clear();
            let mut i = 0;
            for &b in &self.active {
                let (start, len) = (self.starts[b as usize] as usize, self.lens[b as usize]);
                let pairs = (len / 2) as usize;
                let mut kept = 0;
                for _ in 0..pairs {
                    if !self.identity[i] {
                        self.pts[start + kept] = self.sums[i];
                        kept += 1;
                    }
                    i += 1;
                }
                if len % 2 == 1 {
                    self.pts[start + kept] = self.pts[start + 2 * pairs];
                    kept += 1;
                }
                self.lens[b as usize] = kept as u32;
                if kept >= 2 {
                    self.next.push(b);
                }
            }
            core::mem::swap(&mut self.active, &mut self.next);
        }
    }
}

/// The denominator of `p + q` in affine coordinates: the chord's `x_q − x_p`, or the tangent's
/// `2·y_p` for a doubling; 1 where `p = −q` (no division happens).
#[inline]
fn denominator(p: &Pt, q: &Pt) -> Fq {
    if p.x != q.x {
        q.x - p.x
    } else if p.y == q.y {
        p.y.double()
    } else {
        Fq::ONE
    }
}

/// `p + q` given the inverse of their [`denominator`]; `None` for the identity (`p = −q`),
/// which a bucket omits.
#[inline]
fn add(p: &Pt, q: &Pt, inv: &Fq) -> Option<Pt> {
    let lambda = if p.x != q.x {
        (q.y - p.y) * inv
    } else if p.y == q.y {
        let xx = p.x.square();
        (xx.double() + xx) * inv
    } else {
        return None;
    };
    let x = lambda.square() - p.x - q.x;
    let y = lambda * (p.x - x) - p.y;
    Some(Pt { x, y })
}

#[cfg(test)]
mod tests {
    use ark_ec::{CurveGroup, PrimeGroup, ScalarMul, VariableBaseMSM};
    use ark_ff::UniformRand;
    use ark_std::test_rng;

    use super::*;

    #[test]
    fn buckets_carry_across_chunks() {
        let rng = &mut test_rng();
        let n = 5000;
        let k: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
        let mut bases = G1Projective::generator().batch_mul(&k);
        // Repeats and opposites so that carried buckets meet equal and opposite points.
        for i in (0..n).step_by(7) {
            bases[i] = bases[0];
        }
        for i in (3..n).step_by(11) {
            bases[i] = -bases[1];
        }
        let scalars: Vec<Fr> = (0..n)
            .map(|i| if i % 5 == 0 { Fr::ONE } else { Fr::rand(rng) })
            .collect();
        let want = G1Projective::msm(&bases, &scalars).unwrap().into_affine();
        for chunk in [1, 2, 3, 100, 1000, 4999, 5000] {
            assert_eq!(
                msm_chunked(&bases, &scalars, chunk).into_affine(),
                want,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn precomputed_tables_are_taken_where_they_pay() {
        let rng = &mut test_rng();
        let n = 5000;
        let k: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
        let bases = G1Projective::generator().batch_mul(&k);
        assert!(Table::new(&bases, 1).unwrap().is_none());
        assert!(Table::new(&bases[..100], 16).unwrap().is_none());
        for factor in [2, 4, 16] {
            let table = Table::new(&bases, factor)
                .unwrap()
                .expect("pays at 5000 points");
            assert!(table.memory_factor() <= factor && table.memory_factor() >= 2);
            let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
            let got = table
                .msm(0, &scalars)
                .expect("the whole set takes the table");
            assert_eq!(got, G1Projective::msm(&bases, &scalars).unwrap());
            let got = table.msm(700, &scalars[..4000]).expect("most of it too");
            assert_eq!(
                got,
                G1Projective::msm(&bases[700..4700], &scalars[..4000]).unwrap()
            );
            // A short sub-range is cheaper without the table.
            assert!(table.msm(0, &scalars[..50]).is_none());
        }
    }

    #[test]
    fn window_choice_grows_with_n() {
        let c: Vec<u32> = [1usize, 1 << 8, 1 << 12, 1 << 16, 1 << 20]
            .iter()
            .map(|&n| window_bits(n))
            .collect();
        assert!(c.windows(2).all(|w| w[0] <= w[1]), "{c:?}");
        assert!(c[4] >= 14 && c[4] <= 17, "{c:?}");
    }
}
