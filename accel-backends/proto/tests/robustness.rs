//! Untrusted bytes: ≥ 10^5 random and mutated frames through the accumulator, the message
//! parsers and the element decoders. Nothing may panic or allocate, and every sound frame that
//! went in unharmed must come out unharmed.

// The counting allocator below implements `GlobalAlloc`, an unsafe trait; nothing else here is.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::OnceLock,
};

use accel_proto::{
    elem::{decode_fr_chunk, decode_point, decode_point_chunk, encode_fr, encode_point},
    encode_reply, encode_request, parse_reply, parse_request, Capabilities, Direction, ErrorCode,
    ErrorReply, Feed, FrameAccumulator, ReplyBody, RequestBody, Stats, WireFe, WirePoint,
    MIN_MAX_FRAME,
};
use ark_bn254::{Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::UniformRand;
use proptest::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Counts allocations made on this thread while `COUNTING` is set.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the thread-locals touched
// are `const`-initialised `Cell`s, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const FRAMES_PER_CASE: usize = 50;
const CASES: u32 = 2_100;

const POOL: usize = 64;

/// Random scalars and points, made once: curve arithmetic would dominate the test's time.
fn pool() -> &'static (Vec<WireFe>, Vec<WirePoint>) {
    static POOL_CELL: OnceLock<(Vec<WireFe>, Vec<WirePoint>)> = OnceLock::new();
    POOL_CELL.get_or_init(|| {
        let rng = &mut StdRng::seed_from_u64(1);
        let g = G1Affine::generator();
        let mut points: Vec<WirePoint> = (0..POOL - 1)
            .map(|_| encode_point(&(g * Fr::rand(rng)).into_affine()))
            .collect();
        points.push(encode_point(&G1Affine::identity()));
        let scalars = (0..POOL).map(|_| encode_fr(&Fr::rand(rng))).collect();
        (scalars, points)
    })
}

/// A random valid request or reply frame.
fn valid_frame(rng: &mut StdRng, scratch: &mut [u8]) -> Vec<u8> {
    let (pool_s, pool_p) = pool();
    let n = rng.gen_range(0..8);
    let scalars: Vec<u8> = (0..n)
        .flat_map(|_| pool_s[rng.gen_range(0..POOL)])
        .collect();
    let points: Vec<u8> = (0..n)
        .flat_map(|_| {
            let w = pool_p[rng.gen_range(0..POOL)];
            w.x.into_iter().chain(w.y)
        })
        .collect();
    let id = rng.gen();
    let omega = pool_s[rng.gen_range(0..POOL)];
    let frame = match rng.gen_range(0..16) {
        0 => encode_request(
            id,
            RequestBody::Hello {
                version: rng.gen(),
                max_frame: rng.gen(),
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        1 => encode_request(
            id,
            RequestBody::BasesBegin { len: rng.gen() },
            scratch,
            MIN_MAX_FRAME,
        ),
        2 => encode_request(
            id,
            RequestBody::BasesChunk {
                offset: rng.gen(),
                points: &points,
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        3 => encode_request(
            id,
            RequestBody::MsmBegin {
                handle: rng.gen(),
                start: rng.gen(),
                len: rng.gen(),
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        4 => encode_request(
            id,
            RequestBody::MsmChunk {
                offset: rng.gen(),
                scalars: &scalars,
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        5 => encode_request(
            id,
            RequestBody::NttBegin {
                log_n: rng.gen(),
                omega,
                direction: Direction::Inverse,
                coset: rng.gen::<bool>().then_some(omega),
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        6 => encode_request(
            id,
            RequestBody::NttChunk {
                offset: rng.gen(),
                values: &scalars,
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        7 => encode_request(
            id,
            RequestBody::NttRead {
                offset: rng.gen(),
                count: rng.gen(),
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        8 => encode_request(id, RequestBody::MsmEnd, scratch, MIN_MAX_FRAME),
        9 => encode_reply(
            id,
            ReplyBody::Hello(Capabilities {
                version: rng.gen(),
                max_frame: rng.gen(),
                max_msm_len: rng.gen(),
                max_bases_len: rng.gen(),
                bases_slots: rng.gen(),
                max_ntt_log_n: rng.gen(),
                clock_mhz: rng.gen(),
            }),
            scratch,
            MIN_MAX_FRAME,
        ),
        10 => encode_reply(
            id,
            ReplyBody::MsmDone {
                sum: pool_p[rng.gen_range(0..POOL)],
                stats: Stats {
                    compute_cycles: rng.gen(),
                    link_bytes: rng.gen(),
                    link_cycles: rng.gen(),
                },
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        11 => encode_reply(
            id,
            ReplyBody::NttValues {
                offset: rng.gen(),
                values: &scalars,
            },
            scratch,
            MIN_MAX_FRAME,
        ),
        12 => encode_reply(
            id,
            ReplyBody::Error(ErrorReply {
                code: ErrorCode::NotOnCurve,
                detail: rng.gen(),
            }),
            scratch,
            MIN_MAX_FRAME,
        ),
        _ => encode_reply(id, ReplyBody::Ok, scratch, MIN_MAX_FRAME),
    };
    frame.expect("a small message fits").to_vec()
}

/// Damages a frame the ways a UART does, and a few ways an attacker would.
fn mutate(rng: &mut StdRng, frame: &mut Vec<u8>) {
    for _ in 0..rng.gen_range(1..4) {
        let len = frame.len().max(1);
        match rng.gen_range(0..7) {
            0 => {
                let i = rng.gen_range(0..len).min(frame.len().saturating_sub(1));
                if let Some(b) = frame.get_mut(i) {
                    *b ^= 1 << rng.gen_range(0..8);
                }
            }
            1 => frame.truncate(rng.gen_range(0..len)),
            2 => {
                let i = rng.gen_range(0..=frame.len());
                frame.insert(i, rng.gen());
            }
            3 => {
                let i = rng.gen_range(0..=frame.len());
                frame.insert(i, 0);
            }
            4 => {
                if !frame.is_empty() {
                    let i = rng.gen_range(0..frame.len());
                    frame.remove(i);
                }
            }
            5 => {
                // Oversize: a long run without a delimiter.
                let extra = rng.gen_range(MIN_MAX_FRAME..MIN_MAX_FRAME + 300);
                let at = rng.gen_range(0..=frame.len());
                let run: Vec<u8> = (0..extra).map(|_| rng.gen_range(1..=255)).collect();
                frame.splice(at..at, run);
            }
            _ => {
                let i = rng.gen_range(0..len).min(frame.len().saturating_sub(1));
                if let Some(b) = frame.get_mut(i) {
                    *b = rng.gen();
                }
            }
        }
    }
}

/// Everything a server or client does with a frame's bytes, on untrusted input.
fn consume(body: &[u8]) -> Option<u32> {
    let mut sink = 0u64;
    if let Ok(req) = parse_request(body) {
        match req.body {
            RequestBody::BasesChunk { points, .. } => {
                let _ = decode_point_chunk(points, |i, _| sink += i as u64);
            }
            RequestBody::MsmChunk { scalars: v, .. } | RequestBody::NttChunk { values: v, .. } => {
                let _ = decode_fr_chunk(v, |i, _| sink += i as u64);
            }
            _ => {}
        }
        return Some(req.id);
    }
    if let Ok(rep) = parse_reply(body) {
        match rep.body {
            ReplyBody::MsmDone { sum, .. } => {
                let _ = decode_point(&sum);
            }
            ReplyBody::NttValues { values, .. } => {
                let _ = decode_fr_chunk(values, |i, _| sink += i as u64);
            }
            _ => {}
        }
        return Some(rep.id);
    }
    std::hint::black_box(sink);
    None
}

/// Feeds `stream` in pieces of random sizes; returns ids of frames that parsed, and how many
/// frames (sound or not) ended.
fn feed_all(
    acc: &mut FrameAccumulator<MIN_MAX_FRAME>,
    stream: &[u8],
    cuts: &[usize],
) -> (Vec<u32>, usize) {
    let mut ids = Vec::with_capacity(FRAMES_PER_CASE * 2);
    let mut ended = 0;
    let mut last = 0;
    let pieces = cuts
        .iter()
        .copied()
        .chain([stream.len()])
        .filter(|&c| c <= stream.len());
    for cut in pieces {
        let cut = cut.max(last);
        let mut window = &stream[last..cut];
        last = cut;
        ALLOCS.with(|a| a.set(0));
        COUNTING.with(|c| c.set(true));
        while !window.is_empty() {
            window = match acc.feed(window) {
                Feed::Consumed => break,
                Feed::Bad { remaining, .. } => {
                    ended += 1;
                    remaining
                }
                Feed::Frame { body, remaining } => {
                    ended += 1;
                    if let Some(id) = consume(body) {
                        if ids.len() < ids.capacity() {
                            ids.push(id);
                        }
                    }
                    remaining
                }
            };
        }
        COUNTING.with(|c| c.set(false));
        assert_eq!(
            ALLOCS.with(Cell::get),
            0,
            "the receive path allocated memory"
        );
    }
    (ids, ended)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// 2,100 cases × 50 frames = 105,000 frames, a third of them left sound.
    #[test]
    fn random_and_mutated_frames_never_panic_or_allocate(seed: u64, cuts in prop::collection::vec(0usize..20_000, 0..8)) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut scratch = vec![0u8; MIN_MAX_FRAME + 1];
        let mut stream = Vec::new();
        let mut sound_ids = Vec::new();
        for _ in 0..FRAMES_PER_CASE {
            let kind = rng.gen_range(0..3);
            let mut frame = if kind == 2 {
                // Pure noise, zeros included.
                let n = rng.gen_range(0..200);
                (0..n).map(|_| if rng.gen_ratio(1, 40) { 0 } else { rng.gen() }).collect()
            } else {
                valid_frame(&mut rng, &mut scratch)
            };
            if kind == 1 {
                mutate(&mut rng, &mut frame);
            } else if kind == 0 {
                // Sound frames must survive, so only if they follow a delimiter.
                if stream.last().is_some_and(|&b| b != 0) {
                    stream.push(0);
                }
                let len = frame.len() - 1;
                let body = accel_proto::open(&mut frame.clone()[..len]).map(<[u8]>::to_vec);
                if let Ok(body) = body {
                    if let Some(id) = consume(&body) { sound_ids.push(id) }
                }
            }
            stream.extend(frame);
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut acc = FrameAccumulator::<MIN_MAX_FRAME>::new();
        let (ids, _) = feed_all(&mut acc, &stream, &cuts);
        // Every sound frame's id comes out, in order (among others from lucky mutations).
        prop_assert!(!sound_ids.is_empty());
        let mut it = ids.iter();
        for id in &sound_ids {
            prop_assert!(it.any(|x| x == id), "sound frame {id} was lost");
        }
    }
}

#[test]
fn the_allocation_counter_counts() {
    COUNTING.with(|c| c.set(true));
    let v = std::hint::black_box(vec![1u8; 100]);
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert!(ALLOCS.with(Cell::get) > 0);
}
