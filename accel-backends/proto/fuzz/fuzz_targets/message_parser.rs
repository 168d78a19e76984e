//! The message layer alone, past the CRC that shields it from random bytes in
//! `frame_decoder`: the request and reply parsers and the element decoders on arbitrary
//! postcard bytes. Fails on any panic or out-of-bounds access.

#![no_main]

use accel_proto::{
    elem::{decode_fr, decode_fr_chunk, decode_point, decode_point_chunk},
    parse_reply, parse_request, ReplyBody, RequestBody,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let mut sink = 0u64;
    if let Ok(req) = parse_request(body) {
        match req.body {
            RequestBody::BasesChunk { points, .. } => {
                let _ = decode_point_chunk(points, |i, _| sink += i as u64);
            }
            RequestBody::MsmChunk { scalars: v, .. } | RequestBody::NttChunk { values: v, .. } => {
                let _ = decode_fr_chunk(v, |i, _| sink += i as u64);
            }
            RequestBody::NttBegin { omega, coset, .. } => {
                sink += u64::from(decode_fr(&omega).is_ok());
                sink += u64::from(coset.is_some_and(|g| decode_fr(&g).is_ok()));
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
    std::hint::black_box(sink);
});
