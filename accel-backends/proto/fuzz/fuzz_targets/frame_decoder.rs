//! The whole receive path on arbitrary bytes: the frame accumulator (fed in pieces whose sizes
//! the input chooses), COBS + CRC, the request and reply parsers, and the element decoders.
//! Fails on any panic, any out-of-bounds access (the sanitizer), and any heap allocation made
//! while decoding (the receive path must work with no allocator at all).

#![no_main]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicBool, Ordering},
};

use accel_proto::{
    elem::{decode_fr_chunk, decode_point, decode_point_chunk},
    parse_reply, parse_request, Feed, FrameAccumulator, ReplyBody, RequestBody, MIN_MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;

static DECODING: AtomicBool = AtomicBool::new(false);

struct NoAllocWhileDecoding;

// SAFETY: forwards every call unchanged to the system allocator; only adds a check.
unsafe impl GlobalAlloc for NoAllocWhileDecoding {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if DECODING.load(Ordering::Relaxed) {
            DECODING.store(false, Ordering::Relaxed);
            panic!("the receive path allocated {} bytes", layout.size());
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
static GLOBAL: NoAllocWhileDecoding = NoAllocWhileDecoding;

fn consume(body: &[u8]) -> u64 {
    let mut sink = 0u64;
    if let Ok(req) = parse_request(body) {
        sink += u64::from(req.id);
        match req.body {
            RequestBody::BasesChunk { points, .. } => {
                let _ = decode_point_chunk(points, |i, _| sink += i as u64);
            }
            RequestBody::MsmChunk { scalars: v, .. } | RequestBody::NttChunk { values: v, .. } => {
                let _ = decode_fr_chunk(v, |i, _| sink += i as u64);
            }
            RequestBody::NttBegin { omega, coset, .. } => {
                sink += u64::from(accel_proto::elem::decode_fr(&omega).is_ok());
                if let Some(g) = coset {
                    sink += u64::from(accel_proto::elem::decode_fr(&g).is_ok());
                }
            }
            _ => {}
        }
    }
    if let Ok(rep) = parse_reply(body) {
        match rep.body {
            ReplyBody::MsmDone { sum, .. } => sink += u64::from(decode_point(&sum).is_ok()),
            ReplyBody::NttValues { values, .. } => {
                let _ = decode_fr_chunk(values, |i, _| sink += i as u64);
            }
            _ => {}
        }
    }
    sink
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split).max(1) * 16;
    let mut acc = FrameAccumulator::<MIN_MAX_FRAME>::new();
    let mut sink = 0u64;
    DECODING.store(true, Ordering::Relaxed);
    for chunk in data.chunks(piece) {
        let mut window = chunk;
        while !window.is_empty() {
            window = match acc.feed(window) {
                Feed::Consumed => break,
                Feed::Bad { remaining, .. } => remaining,
                Feed::Frame { body, remaining } => {
                    assert!(body.len() <= MIN_MAX_FRAME);
                    sink += consume(body);
                    remaining
                }
            };
        }
    }
    DECODING.store(false, Ordering::Relaxed);
    std::hint::black_box(sink);
});
