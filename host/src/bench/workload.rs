//! Inputs (seeded, so every backend gets the same ones and `--seed` repeats a run) and the
//! bytes a job would put on a wire-protocol link.

use accel_backends::{wire::FRAME, Domain, Fr, G1Affine, G1Projective, NttDirection, NttOp};
use accel_proto::{
    chunk_capacity,
    elem::{self, FE_BYTES},
    encode_reply, encode_request, Direction, ReplyBody, RequestBody, Stats,
};
use ark_ec::{CurveGroup, PrimeGroup, ScalarMul};
use ark_ff::UniformRand;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::OpKind;

/// The random source for one purpose (`stream`) of a run.
fn rng(seed: u64, stream: u64) -> ChaCha20Rng {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// `n` random points of G1 (random multiples of the generator).
pub(super) fn bases(seed: u64, n: usize) -> Vec<G1Affine> {
    let mut r = rng(seed, 1);
    let k: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut r)).collect();
    G1Projective::generator().batch_mul(&k)
}

/// `2^log_n` random field elements for an operation of that size.
pub(super) fn scalars(seed: u64, op: OpKind, log_n: u32) -> Vec<Fr> {
    let stream = 2 + u64::from(log_n) * 2 + u64::from(op == OpKind::Ntt);
    let mut r = rng(seed, stream);
    (0..1usize << log_n).map(|_| Fr::rand(&mut r)).collect()
}

/// The coset generator the agreement check uses for coset NTTs.
pub(super) fn coset_generator() -> Fr {
    Fr::from(7u64)
}

/// Frame lengths (delimiter included) as a `SerialBackend` and a wire server would send them.
struct Wire {
    buf: Vec<u8>,
    id: u32,
    bytes: u64,
}

impl Wire {
    fn new() -> Self {
        Self {
            buf: vec![0; FRAME + 1],
            // A session some way in: ids are 2-byte varints.
            id: 1000,
            bytes: 0,
        }
    }

    /// One request and its reply.
    fn exchange(&mut self, request: RequestBody<'_>, reply: ReplyBody<'_>) {
        self.id += 1;
        self.bytes +=
            encode_request(self.id, request, &mut self.buf, FRAME).map_or(0, |f| f.len()) as u64;
        self.bytes +=
            encode_reply(self.id, reply, &mut self.buf, FRAME).map_or(0, |f| f.len()) as u64;
    }

    fn upload(&mut self, values: &[Fr], chunk: impl Fn(u32, &[u8]) -> RequestBody<'_>) {
        let cap = chunk_capacity(FRAME, FE_BYTES);
        let mut raw = vec![0u8; cap * FE_BYTES];
        for (i, part) in values.chunks(cap).enumerate() {
            let raw = &mut raw[..part.len() * FE_BYTES];
            for (dst, x) in raw.chunks_exact_mut(FE_BYTES).zip(part) {
                dst.copy_from_slice(&elem::encode_fr(x));
            }
            let offset = (i * cap) as u32;
            let request = chunk(offset, raw);
            self.id += 1;
            self.bytes += encode_request(self.id, request, &mut self.buf, FRAME)
                .map_or(0, |f| f.len()) as u64;
            self.bytes += encode_reply(self.id, ReplyBody::Ok, &mut self.buf, FRAME)
                .map_or(0, |f| f.len()) as u64;
        }
    }
}

/// Bytes on the line, both directions, for one MSM of `scalars` whose result was `sum` and
/// which took `cycles`: `MsmBegin`, the scalar chunks, `MsmEnd` and their replies, framed with
/// the frame size the host uses ([`FRAME`]). Bases are loaded once and not counted.
pub fn msm_wire_bytes(scalars: &[Fr], sum: &G1Projective, cycles: u64) -> u64 {
    let mut w = Wire::new();
    let len = scalars.len() as u32;
    w.exchange(
        RequestBody::MsmBegin {
            handle: 0,
            start: 0,
            len,
        },
        ReplyBody::Ok,
    );
    w.upload(scalars, |offset, scalars| RequestBody::MsmChunk {
        offset,
        scalars,
    });
    let stats = Stats {
        compute_cycles: cycles,
        link_bytes: w.bytes,
        link_cycles: 0,
    };
    w.exchange(
        RequestBody::MsmEnd,
        ReplyBody::MsmDone {
            sum: elem::encode_point(&sum.into_affine()),
            stats,
        },
    );
    w.bytes
}

/// Bytes on the line, both directions, for one NTT that turned `input` into `output`:
/// `NttBegin`, the input chunks, `NttRun`, the `NttRead`s of the results and their replies.
pub fn ntt_wire_bytes(input: &[Fr], output: &[Fr], domain: &Domain, op: NttOp, cycles: u64) -> u64 {
    let mut w = Wire::new();
    w.exchange(
        RequestBody::NttBegin {
            log_n: domain.log_n() as u8,
            omega: elem::encode_fr(&domain.omega()),
            direction: match op.direction {
                NttDirection::Forward => Direction::Forward,
                NttDirection::Inverse => Direction::Inverse,
            },
            coset: op.coset.as_ref().map(elem::encode_fr),
        },
        ReplyBody::Ok,
    );
    w.upload(input, |offset, values| RequestBody::NttChunk {
        offset,
        values,
    });
    let stats = Stats {
        compute_cycles: cycles,
        link_bytes: w.bytes,
        link_cycles: 0,
    };
    w.exchange(RequestBody::NttRun, ReplyBody::NttDone { stats });
    let cap = chunk_capacity(FRAME, FE_BYTES);
    let mut raw = vec![0u8; cap * FE_BYTES];
    for (i, part) in output.chunks(cap).enumerate() {
        let raw = &mut raw[..part.len() * FE_BYTES];
        for (dst, x) in raw.chunks_exact_mut(FE_BYTES).zip(part) {
            dst.copy_from_slice(&elem::encode_fr(x));
        }
        let offset = (i * cap) as u32;
        w.exchange(
            RequestBody::NttRead {
                offset,
                count: part.len() as u32,
            },
            ReplyBody::NttValues {
                offset,
                values: raw,
            },
        );
    }
    w.bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes_match_the_measured_overhead() {
        // docs/protocol.md measures 32.25 bytes per scalar for an MSM of 2^12 and 64.51 bytes
        // per value for an NTT of 2^12 over a real pty.
        let s = scalars(1, OpKind::Msm, 12);
        let per = msm_wire_bytes(&s, &G1Projective::generator(), 123_456) as f64 / 4096.0;
        assert!((per - 32.25).abs() < 0.1, "{per}");
        let d = Domain::with_halo2_root(12).unwrap();
        let per = ntt_wire_bytes(&s, &s, &d, NttOp::forward(), 1000) as f64 / 4096.0;
        assert!((per - 64.51).abs() < 0.2, "{per}");
        assert_eq!(scalars(1, OpKind::Msm, 3), scalars(1, OpKind::Msm, 3));
        assert_ne!(
            scalars(1, OpKind::Msm, 3)[..],
            scalars(1, OpKind::Ntt, 3)[..]
        );
    }
}
