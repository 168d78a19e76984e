//! The MSM engine: Pippenger with window `c` on `P` pipelined point adders.
//!
//! Three phases, each simulated cycle by cycle (`docs/hw-sim.md` draws them):
//! 1. **Bucket accumulation.** Adder `p` owns windows `w ≡ p (mod P)` and their buckets. It
//!    streams the points once, and for each point issues one mixed addition per owned window,
//!    `bucket[w][digit] += point`, one per cycle. A zero digit is a bubble. A bucket whose
//!    previous addition is still in the pipeline (a read-after-write hazard) cannot be read:
//!    the addition goes to a small retry queue and the cycle is a stall; each cycle the oldest
//!    queued addition whose bucket has come free issues before the stream moves on.
//! 2. **Bucket reduction** of each window, split into segments of running sums, and
//! 3. **window combination** (Horner: `c` doublings and one addition per window) — one
//!    dataflow graph list-scheduled on all adders ([`crate::sched`]).
//!
//! **Narrow jobs.** An MSM whose scalars all have magnitude below `2^bits` as signed integers
//! (the job's [`scalar_bits`](accel_backends::MsmJob::scalar_bits) hint, checked here) streams
//! each scalar's magnitude, with the point negated for a negative scalar (the adder's `y`
//! input through a negator: no extra cycle), over the windows that cover bits `0..bits` only,
//! the top one cut to end at `bits`. Fewer windows mean fewer slots per point in phase 1 and
//! fewer buckets in phases 2 and 3. If any scalar is wider than the hint, the job runs at full
//! width, as it would without one.

use std::collections::VecDeque;

use accel_backends::width;
use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::AdditiveGroup;
use ark_ff::{BigInt, BigInteger, PrimeField};

use crate::{
    config::{HwConfig, SCALAR_BITS},
    sched::{Dag, DagReport, NodeId},
};

/// Where an MSM's cycles went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsmReport {
    /// Terms.
    pub n: u64,
    /// Windows `⌈254/c⌉`.
    pub windows: u32,
    /// Bucket accumulation, until the last adder has drained.
    pub bucket_cycles: u64,
    /// What bucket accumulation takes with no hazard: `N·⌈W/P⌉ + L_padd`.
    pub bucket_ideal: u64,
    /// Stall cycles of the adder that finished last (`bucket_cycles − bucket_ideal` when
    /// every adder owns the same number of windows).
    pub stalls: u64,
    /// Stall cycles summed over all adders.
    pub stalls_all_adders: u64,
    /// Additions that found their bucket busy and were queued for retry.
    pub hazards: u64,
    /// Zero digits (bubbles in the stream).
    pub zero_digits: u64,
    /// Reduction and combination, as scheduled.
    pub reduce: DagReport,
    /// Everything: `bucket_cycles + reduce.cycles`.
    pub total_cycles: u64,
    /// The scalar width the job ran at: its hint if every scalar fitted, else the full 254.
    pub scalar_bits: u32,
}

impl MsmReport {
    /// The floor the design notes use: `N·⌈254/c⌉ / P` (one bucket addition per adder per
    /// cycle, nothing else).
    pub fn floor(&self, config: &HwConfig) -> f64 {
        self.n as f64 * f64::from(self.windows) / f64::from(config.adders)
    }
}

/// The `width` bits of a scalar's canonical integer from bit `offset` on.
fn digit(s: &BigInt<4>, offset: u32, width: u32) -> usize {
    let (limb, shift) = ((offset / 64) as usize, offset % 64);
    let mut v = s.0[limb] >> shift;
    if shift + width > 64 && limb + 1 < 4 {
        v |= s.0[limb + 1] << (64 - shift);
    }
    (v & ((1u64 << width) - 1)) as usize
}

/// What one adder's bucket accumulation took.
#[derive(Clone, Copy, Debug, Default)]
struct AdderRun {
    /// Cycles until the stream and the retry queue were empty (slots + stalls).
    cycles: u64,
    stalls: u64,
    hazards: u64,
    zeros: u64,
}

/// One adder's bucket accumulation over the windows it owns, cycle by cycle; `negative[i]`
/// (where given) negates point `i`, whose scalar is then the magnitude `scalars[i]`.
fn accumulate(
    config: &HwConfig,
    windows: &[u32],
    spans: &[(u32, u32)],
    scalars: &[BigInt<4>],
    negative: Option<&[bool]>,
    bases: &[G1Affine],
    buckets: &mut [G1Projective],
) -> AdderRun {
    let c = config.window_bits;
    let latency = u64::from(config.adder_latency());
    let depth = config.retry_depth as usize;
    // A bucket may be read again from cycle `busy_until[b]`, when its new sum is written.
    let mut busy_until = vec![0u64; buckets.len()];
    let mut in_flight: VecDeque<(u64, usize, G1Projective)> = VecDeque::new();
    // Held-back additions: (bucket, point).
    let mut retry: VecDeque<(usize, usize)> = VecDeque::with_capacity(depth);
    let mut run = AdderRun::default();
    // The stream position: point `i`, its `k`-th owned window.
    let (mut i, mut k) = (0usize, 0usize);
    let mut t = 0u64;
    loop {
        while in_flight.front().is_some_and(|&(done, _, _)| done <= t) {
            if let Some((_, b, sum)) = in_flight.pop_front() {
                buckets[b] = sum;
            }
        }
        let issue = if let Some(pos) = retry.iter().position(|&(b, _)| busy_until[b] <= t) {
            retry.remove(pos)
        } else if i < scalars.len() {
            let w = windows[k];
            let (offset, width) = spans[w as usize];
            let d = digit(&scalars[i], offset, width);
            let b = ((w as usize) << c) + d;
            let point = i;
            let held = d != 0 && busy_until[b] > t;
            if held && retry.len() == depth {
                // The queue is full: the stream waits on this addition.
                run.stalls += 1;
                t += 1;
                continue;
            }
            k += 1;
            if k == windows.len() {
                (i, k) = (i + 1, 0);
            }
            if d == 0 {
                run.zeros += 1;
                None
            } else if held {
                run.hazards += 1;
                run.stalls += 1;
                retry.push_back((b, point));
                None
            } else {
                Some((b, point))
            }
        } else if retry.is_empty() {
            break;
        } else {
            // Only held-back additions remain, all waiting on their buckets.
            run.stalls += 1;
            None
        };
        if let Some((b, point)) = issue {
            // The bucket's sum was written back (retired above), so this reads the latest.
            let p = if negative.is_some_and(|neg| neg[point]) {
                -bases[point]
            } else {
                bases[point]
            };
            let sum = buckets[b] + p;
            busy_until[b] = t + latency;
            in_flight.push_back((t + latency, b, sum));
        }
        t += 1;
    }
    for (_, b, sum) in in_flight {
        buckets[b] = sum;
    }
    run.cycles = t;
    run
}

/// Kinds of operation in the reduction graph.
#[derive(Clone, Copy, Debug)]
enum PointOp {
    Add,
    Double,
}

/// Builds reduction and combination for all windows; returns the graph and the node holding
/// the MSM's sum.
fn reduction_graph(
    config: &HwConfig,
    spans: &[(u32, u32)],
    buckets: &[G1Projective],
) -> (Dag<G1Projective, PointOp>, NodeId) {
    let c = config.window_bits;
    let windows = spans.len();
    let mut dag = Dag::with_capacity(windows * (3 << c) + 64);
    let zero = dag.input(G1Projective::ZERO);
    let add = |dag: &mut Dag<G1Projective, PointOp>, a, b| dag.op(PointOp::Add, a, Some(b));
    let mut acc: Option<NodeId> = None;
    // Top window first: the combination chain starts there, and lower node numbers issue
    // first, so the chain is never starved by reductions it does not need yet.
    for w in (0..windows).rev() {
        let width = spans[w].1;
        let segments = config.reduction_segments.min(1 << width) as usize;
        let per = (1usize << width) / segments;
        let bucket = |d: usize| buckets[(w << c) + d];
        let mut sums = Vec::with_capacity(segments);
        let mut totals = Vec::with_capacity(segments);
        for s in 0..segments {
            let bottom = s * per;
            let top = bottom + per - 1;
            // Suffix sums R^(k) = Σ_{d ≥ bottom + k} B_d from the top; S = Σ_{k ≥ 1} R^(k) =
            // Σ_d (d − bottom)·B_d; R^(0) is the segment's plain total.
            let mut r = dag.input(bucket(top));
            let mut s_acc: Option<NodeId> = None;
            for d in (bottom..top).rev() {
                s_acc = Some(match s_acc {
                    None => r,
                    Some(prev) => add(&mut dag, prev, r),
                });
                let b = dag.input(bucket(d));
                r = add(&mut dag, r, b);
            }
            sums.push(s_acc.unwrap_or(zero));
            totals.push(r);
        }
        // Σ_d d·B_d = Σ_s S_s + per·Σ_s s·R_s; the second sum by running sums over segments.
        let mut weighted: Option<NodeId> = None;
        let mut q: Option<NodeId> = None;
        for &total in totals.iter().skip(1).rev() {
            let next = match q {
                None => total,
                Some(prev) => add(&mut dag, prev, total),
            };
            q = Some(next);
            weighted = Some(match weighted {
                None => next,
                Some(prev) => add(&mut dag, prev, next),
            });
        }
        let mut window_sum = sums[0];
        for &s in &sums[1..] {
            window_sum = add(&mut dag, window_sum, s);
        }
        if let Some(mut u) = weighted {
            for _ in 0..per.trailing_zeros() {
                u = dag.op(PointOp::Double, u, None);
            }
            window_sum = add(&mut dag, window_sum, u);
        }
        acc = Some(match acc {
            None => window_sum,
            Some(mut a) => {
                // Shift the windows above this one past its width.
                for _ in 0..width {
                    a = dag.op(PointOp::Double, a, None);
                }
                add(&mut dag, a, window_sum)
            }
        });
    }
    (dag, acc.unwrap_or(zero))
}

/// Computes `Σ scalars[i]·bases[i]` on the simulated engine; the sum is exact, the cycles are
/// the schedule's.
pub fn msm(config: &HwConfig, bases: &[G1Affine], scalars: &[Fr]) -> (G1Projective, MsmReport) {
    msm_hinted(config, bases, scalars, SCALAR_BITS)
}

/// [`msm`] for a job that says its scalars' magnitudes are below `2^bits` (see the module's
/// *Narrow jobs*); the sum is exact whatever the hint.
pub fn msm_hinted(
    config: &HwConfig,
    bases: &[G1Affine],
    scalars: &[Fr],
    bits: u32,
) -> (G1Projective, MsmReport) {
    let n = scalars.len().min(bases.len());
    let narrow = if bits < SCALAR_BITS - 1 {
        let signed: Vec<(bool, BigInt<4>)> = scalars[..n].iter().map(width::signed).collect();
        signed
            .iter()
            .all(|(_, m)| m.num_bits() <= bits)
            .then_some(signed)
    } else {
        None
    };
    match narrow {
        Some(signed) => {
            // Windows over bits 0..bits, the top one cut to end there.
            let spans: Vec<(u32, u32)> = config
                .window_spans()
                .into_iter()
                .filter(|&(offset, _)| offset < bits)
                .map(|(offset, width)| (offset, width.min(bits - offset)))
                .collect();
            let (negative, ints): (Vec<bool>, Vec<BigInt<4>>) = signed.into_iter().unzip();
            let (sum, mut report) = engine(config, &spans, bases, &ints, Some(&negative));
            report.scalar_bits = bits;
            (sum, report)
        }
        None => {
            let ints: Vec<BigInt<4>> = scalars[..n].iter().map(|s| s.into_bigint()).collect();
            let (sum, mut report) = engine(config, &config.window_spans(), bases, &ints, None);
            report.scalar_bits = SCALAR_BITS;
            (sum, report)
        }
    }
}

/// The three phases over `spans`, for scalars `ints` (magnitudes, with `negative` points).
fn engine(
    config: &HwConfig,
    spans: &[(u32, u32)],
    bases: &[G1Affine],
    ints: &[BigInt<4>],
    negative: Option<&[bool]>,
) -> (G1Projective, MsmReport) {
    let c = config.window_bits;
    let windows = spans.len() as u32;
    let latency = u64::from(config.adder_latency());
    let n = ints.len();
    let mut report = MsmReport {
        n: n as u64,
        windows,
        ..MsmReport::default()
    };
    if windows == 0 {
        // Every scalar is zero: nothing to stream, nothing to reduce.
        return (G1Projective::ZERO, report);
    }
    let adders = config.adders.min(windows);
    let mut buckets = vec![G1Projective::ZERO; (windows as usize) << c];

    let mut finish = Vec::with_capacity(adders as usize);
    for p in 0..adders {
        let owned: Vec<u32> = (p..windows).step_by(adders as usize).collect();
        let run = accumulate(
            config,
            &owned,
            spans,
            ints,
            negative,
            &bases[..n],
            &mut buckets,
        );
        report.stalls_all_adders += run.stalls;
        report.hazards += run.hazards;
        report.zero_digits += run.zeros;
        // The controller drains the adder for L_padd cycles after its last slot.
        finish.push((run.cycles + latency, run.stalls));
    }
    let most_windows = u64::from(windows.div_ceil(adders));
    report.bucket_ideal = n as u64 * most_windows + latency;
    let (bucket_cycles, stalls) = finish.iter().copied().max().unwrap_or((latency, 0));
    report.bucket_cycles = bucket_cycles;
    report.stalls = stalls;

    let (dag, out) = reduction_graph(config, spans, &buckets);
    drop(buckets);
    let (values, reduce) = dag.run(adders, config.adder_latency(), |op, a, b| match op {
        PointOp::Add => *a + b.copied().unwrap_or(G1Projective::ZERO),
        PointOp::Double => a.double(),
    });
    report.reduce = reduce;
    report.total_cycles = report.bucket_cycles + reduce.cycles;
    (values[out as usize], report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
    use ark_ff::{Field, UniformRand};
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn points(rng: &mut ChaCha20Rng, n: usize) -> Vec<G1Affine> {
        let g = G1Affine::generator();
        let v: Vec<G1Projective> = (0..n).map(|_| g * Fr::rand(rng)).collect();
        G1Projective::normalize_batch(&v)
    }

    fn small() -> HwConfig {
        HwConfig {
            window_bits: 4,
            adders: 2,
            mul_latency: 2,
            adder_mul_depth: 2,
            adder_add_depth: 1,
            reduction_segments: 2,
            ..HwConfig::default()
        }
    }

    #[test]
    fn digits_cover_the_scalar() {
        let rng = &mut ChaCha20Rng::seed_from_u64(1);
        for c in [1, 3, 7, 12, 13, 16] {
            for _ in 0..20 {
                let s = Fr::rand(rng);
                let int = s.into_bigint();
                let config = HwConfig {
                    window_bits: c,
                    ..HwConfig::default()
                };
                let mut back = Fr::ZERO;
                for &(offset, width) in config.window_spans().iter().rev() {
                    back *= Fr::from(2u64).pow([u64::from(width)]);
                    back += Fr::from(digit(&int, offset, width) as u64);
                }
                assert_eq!(back, s, "c = {c}");
            }
        }
    }

    #[test]
    fn sums_equal_arkworks_for_many_shapes() {
        let rng = &mut ChaCha20Rng::seed_from_u64(2);
        let bases = points(rng, 300);
        for config in [
            small(),
            HwConfig {
                adders: 3,
                retry_depth: 1,
                ..small()
            },
            HwConfig {
                window_bits: 5,
                reduction_segments: 1,
                ..small()
            },
            HwConfig {
                window_bits: 8,
                reduction_segments: 256,
                ..small()
            },
            HwConfig {
                window_bits: 7,
                window_layout: crate::WindowLayout::Uniform,
                ..small()
            },
        ] {
            for n in [0, 1, 2, 17, 300] {
                let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
                let (got, _) = msm(&config, &bases[..n], &scalars);
                let want = G1Projective::msm(&bases[..n], &scalars).expect("lengths");
                assert_eq!(got.into_affine(), want.into_affine(), "{config:?}, n = {n}");
            }
            // Every scalar the same: every addition of a window hits one bucket.
            let same = vec![-Fr::ONE; 100];
            let (got, _) = msm(&config, &bases[..100], &same);
            assert_eq!(
                got,
                G1Projective::msm(&bases[..100], &same).expect("lengths")
            );
        }
    }

    /// Scalars whose digit in every window is `(i mod m) + 1`: consecutive points never share
    /// a bucket, so no addition ever waits.
    fn staircase(config: &HwConfig, n: usize) -> Vec<Fr> {
        let spans = config.window_spans();
        (0..n)
            .map(|i| {
                let mut int = BigInt::<4>::zero();
                for &(offset, width) in &spans {
                    // Keep the top window below r's top bits so the integer stays canonical.
                    let room = if offset + width >= 253 {
                        width - 2
                    } else {
                        width
                    };
                    let d = (i % ((1usize << room) - 1)) as u64 + 1;
                    let (limb, shift) = ((offset / 64) as usize, offset % 64);
                    int.0[limb] |= d << shift;
                    if shift + width > 64 && limb + 1 < 4 {
                        int.0[limb + 1] |= d >> (64 - shift);
                    }
                }
                Fr::from_bigint(int).expect("canonical by construction")
            })
            .collect()
    }

    #[test]
    fn hazard_free_inputs_take_exactly_the_ideal() {
        let rng = &mut ChaCha20Rng::seed_from_u64(7);
        let config = HwConfig::default();
        let n = 1000;
        let bases = points(rng, n);
        let scalars = staircase(&config, n);
        let (sum, r) = msm(&config, &bases, &scalars);
        assert_eq!(sum, G1Projective::msm(&bases, &scalars).expect("lengths"));
        assert_eq!((r.hazards, r.stalls, r.zero_digits), (0, 0, 0));
        // 22 windows on 2 adders: 11 slots a point, then the adder pipeline drains.
        assert_eq!(
            r.bucket_ideal,
            1000 * 11 + u64::from(config.adder_latency())
        );
        assert_eq!(r.bucket_cycles, r.bucket_ideal);

        // When an adder owns at least L_padd windows, no bucket can be revisited in flight.
        let wide = HwConfig {
            window_bits: 4,
            adders: 2,
            ..small()
        };
        assert!(wide.windows() / 2 >= wide.adder_latency());
        let random: Vec<Fr> = (0..300).map(|_| Fr::rand(rng)).collect();
        let (_, r) = msm(&wide, &bases[..300], &random);
        assert_eq!((r.hazards, r.stalls), (0, 0));
        assert_eq!(r.bucket_cycles, r.bucket_ideal);
    }

    #[test]
    fn hazards_cost_exactly_the_counted_stalls() {
        let rng = &mut ChaCha20Rng::seed_from_u64(8);
        let config = HwConfig::default();
        let latency = u64::from(config.adder_latency());
        let n = 400;
        let bases = points(rng, n);
        // Every scalar equal: each window's additions all go to one bucket, so each must wait
        // for the previous one — N·L_padd cycles at least, however the adder interleaves.
        let same = vec![Fr::rand(rng); n];
        let (sum, r) = msm(&config, &bases, &same);
        assert_eq!(sum, G1Projective::msm(&bases, &same).expect("lengths"));
        assert!(r.stalls > 0 && r.hazards > 0);
        assert_eq!(r.bucket_cycles, r.bucket_ideal + r.stalls);
        assert!(r.bucket_cycles >= n as u64 * latency, "{r:?}");
        // …and not much more: 11 serial chains run side by side.
        assert!(
            r.bucket_cycles <= (n as u64 + 11) * latency + 11 * 16,
            "{r:?}"
        );

        // Random scalars: few hazards, still accounted for cycle by cycle.
        let random: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
        let (sum, r) = msm(&config, &bases, &random);
        assert_eq!(sum, G1Projective::msm(&bases, &random).expect("lengths"));
        assert_eq!(r.bucket_cycles, r.bucket_ideal + r.stalls);
    }

    #[test]
    fn a_narrow_top_window_stalls_and_the_balanced_layout_does_not() {
        let rng = &mut ChaCha20Rng::seed_from_u64(10);
        let n = 2000;
        let bases = points(rng, n);
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
        let balanced = HwConfig::default();
        let uniform = HwConfig {
            window_layout: crate::WindowLayout::Uniform,
            ..balanced
        };
        let (a, rb) = msm(&balanced, &bases, &scalars);
        let (b, ru) = msm(&uniform, &bases, &scalars);
        assert_eq!(a, b);
        // The uniform top window has 2 bits: 3 buckets for 2000 additions, 54 cycles apart.
        assert!(ru.stalls > 10 * rb.stalls.max(1), "{ru:?} vs {rb:?}");
        assert!(ru.bucket_cycles >= (n as u64 / 3) * u64::from(balanced.adder_latency()));
    }

    #[test]
    fn narrow_jobs_are_exact_and_take_their_windows_only() {
        let rng = &mut ChaCha20Rng::seed_from_u64(12);
        let config = HwConfig::default();
        let n = 600;
        let bases = points(rng, n);
        // int8-like values, a third of them negative (r − v as field elements).
        let int8: Vec<Fr> = (0..n as u64)
            .map(|i| {
                let v = Fr::from(i * 37 % 256);
                if i % 3 == 0 {
                    -v
                } else {
                    v
                }
            })
            .collect();
        let want = G1Projective::msm(&bases, &int8).expect("lengths");
        let (full_sum, full) = msm(&config, &bases, &int8);
        let (sum, narrow) = msm_hinted(&config, &bases, &int8, 8);
        assert_eq!(full_sum, want);
        assert_eq!(sum, want);
        assert_eq!((narrow.scalar_bits, full.scalar_bits), (8, SCALAR_BITS));
        // 8 bits fit the lowest window (c = 12): one slot a point instead of 11.
        assert_eq!(narrow.windows, 1);
        assert_eq!(
            narrow.bucket_ideal,
            n as u64 + u64::from(config.adder_latency())
        );
        assert!(
            narrow.total_cycles * 5 < full.total_cycles,
            "{narrow:?} vs {full:?}"
        );

        // 16 bits: two windows of the balanced layout.
        let int16: Vec<Fr> = (0..n as u64).map(|i| -Fr::from(i * 977 % 65536)).collect();
        let (sum, r) = msm_hinted(&config, &bases, &int16, 16);
        assert_eq!(sum, G1Projective::msm(&bases, &int16).expect("lengths"));
        assert_eq!(r.windows, 2);

        // One scalar wider than the hint: the whole job runs at full width, still exact.
        let mut wrong = int8.clone();
        wrong[7] = Fr::rand(rng);
        let (sum, r) = msm_hinted(&config, &bases, &wrong, 8);
        assert_eq!(sum, G1Projective::msm(&bases, &wrong).expect("lengths"));
        assert_eq!((r.scalar_bits, r.windows), (SCALAR_BITS, full.windows));

        // Width 0: all zeros, no cycles.
        let (sum, r) = msm_hinted(&config, &bases, &vec![Fr::ZERO; n], 0);
        assert_eq!((sum, r.total_cycles), (G1Projective::ZERO, 0));
    }

    #[test]
    fn reduction_is_data_independent_and_within_its_bound() {
        let rng = &mut ChaCha20Rng::seed_from_u64(11);
        let config = HwConfig::default();
        let bases = points(rng, 64);
        let r1 = msm(&config, &bases, &vec![Fr::ONE; 64]).1.reduce;
        let random: Vec<Fr> = (0..64).map(|_| Fr::rand(rng)).collect();
        let r2 = msm(&config, &bases, &random).1.reduce;
        assert_eq!(r1, r2);
        assert!(r1.cycles >= r1.bound);
        // Segmented running sums keep the adders busy: within 25% of the bound.
        assert!(r1.cycles * 4 <= r1.bound * 5, "{r1:?}");
    }
}
