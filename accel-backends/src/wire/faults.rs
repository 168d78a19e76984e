//! Fault injection for wire links: what a noisy, lossy, stalling or lying line does to the
//! frames crossing it. The in-process [`Loopback`](super::loopback::Loopback) and the
//! `zkedge-hwsim relay` between two serial lines both apply it, so that a scenario measured
//! in a unit test and one measured against real processes damage frames the same way.
//!
//! An [`Injector`] takes the bytes one side sends, cuts them into frames at their `0x00`
//! delimiters, and hands back what the other side receives, each piece with the delay (in
//! milliseconds) it is held for. Everything is seeded: a scenario repeats exactly.

use std::{collections::BTreeSet, vec::Vec};

use accel_proto::{elem, encode_reply, open, parse_reply, ReplyBody, MIN_MAX_FRAME as FRAME};

/// Which way a frame travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Client → server (requests).
    Up,
    /// Server → client (replies).
    Down,
}

/// What to do to the frames. The default does nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability that a byte is damaged (one random bit flipped), client → server.
    pub flip_up: f64,
    /// Probability that a byte is damaged, server → client.
    pub flip_down: f64,
    /// Requests dropped whole (0-based frame numbers, client → server, counting every frame).
    pub drop_up: BTreeSet<u64>,
    /// Replies dropped whole (0-based, server → client).
    pub drop_down: BTreeSet<u64>,
    /// Every `n`-th frame, both ways, is delivered twice.
    pub duplicate_every: Option<u64>,
    /// Reply number `.0` (0-based) is held for `.1` milliseconds, and what follows it with it.
    pub stall: Option<(u64, u64)>,
    /// After this many requests, the line carries nothing more either way (the peer falls
    /// silent mid-job).
    pub silent_after: Option<u64>,
    /// The `n`-th `MsmDone` reply (0-based) carries the negated sum, its CRC recomputed: a lie
    /// no framing check can see.
    pub lie_msm: Option<u64>,
    /// The `n`-th `NttValues` reply (0-based) carries its first value plus one, CRC
    /// recomputed.
    pub lie_ntt: Option<u64>,
    /// The seed of the random damage.
    pub seed: u64,
}

impl Faults {
    /// Random byte damage at `rate` in both directions.
    pub fn noise(rate: f64, seed: u64) -> Self {
        Self {
            flip_up: rate,
            flip_down: rate,
            seed,
            ..Self::default()
        }
    }
}

/// What the injector did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    /// Frames seen, client → server.
    pub frames_up: u64,
    /// Frames seen, server → client.
    pub frames_down: u64,
    /// Bytes damaged.
    pub flipped: u64,
    /// Frames dropped (silence included).
    pub dropped: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Replies rewritten to lie.
    pub lies: u64,
}

/// One piece of output: bytes to deliver after `delay_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Milliseconds to hold the bytes.
    pub delay_ms: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Applies [`Faults`] to two byte streams.
#[derive(Debug)]
pub struct Injector {
    faults: Faults,
    rng: u64,
    partial_up: Vec<u8>,
    partial_down: Vec<u8>,
    msm_replies: u64,
    ntt_replies: u64,
    stats: Injected,
}

impl Injector {
    /// An injector for `faults`.
    pub fn new(faults: Faults) -> Self {
        Self {
            rng: faults.seed ^ 0x9e37_79b9_7f4a_7c15,
            faults,
            partial_up: Vec::new(),
            partial_down: Vec::new(),
            msm_replies: 0,
            ntt_replies: 0,
            stats: Injected::default(),
        }
    }

    /// What was done so far.
    pub fn injected(&self) -> Injected {
        self.stats
    }

    /// Whether the line has gone silent.
    pub fn is_silent(&self) -> bool {
        self.faults
            .silent_after
            .is_some_and(|n| self.stats.frames_up >= n)
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    /// Takes bytes travelling `way`; returns what arrives on the other side.
    pub fn pass(&mut self, way: Way, bytes: &[u8]) -> Vec<Delivery> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == 0) {
            let partial = match way {
                Way::Up => &mut self.partial_up,
                Way::Down => &mut self.partial_down,
            };
            partial.extend_from_slice(&rest[..=end]);
            let frame = core::mem::take(partial);
            rest = &rest[end + 1..];
            self.frame(way, frame, &mut out);
        }
        match way {
            Way::Up => self.partial_up.extend_from_slice(rest),
            Way::Down => self.partial_down.extend_from_slice(rest),
        }
        out
    }

    fn frame(&mut self, way: Way, mut frame: Vec<u8>, out: &mut Vec<Delivery>) {
        if frame.len() == 1 {
            // A lone delimiter (a resynchronisation): not counted, but silenced with the rest.
            if !self.is_silent() {
                out.push(Delivery {
                    delay_ms: 0,
                    bytes: frame,
                });
            }
            return;
        }
        let n = match way {
            Way::Up => {
                self.stats.frames_up += 1;
                self.stats.frames_up - 1
            }
            Way::Down => {
                self.stats.frames_down += 1;
                self.stats.frames_down - 1
            }
        };
        let silent = self.faults.silent_after.is_some_and(|after| match way {
            Way::Up => n >= after,
            Way::Down => self.stats.frames_up > after,
        });
        let dropped = match way {
            Way::Up => self.faults.drop_up.contains(&n),
            Way::Down => self.faults.drop_down.contains(&n),
        };
        if silent || dropped {
            self.stats.dropped += 1;
            return;
        }
        if way == Way::Down {
            self.lie(&mut frame);
        }
        let rate = match way {
            Way::Up => self.faults.flip_up,
            Way::Down => self.faults.flip_down,
        };
        if rate > 0.0 {
            for byte in frame.iter_mut() {
                if self.chance(rate) {
                    let bit = self.next() % 8;
                    *byte ^= 1 << bit;
                    self.stats.flipped += 1;
                }
            }
        }
        let delay_ms = match (way, self.faults.stall) {
            (Way::Down, Some((at, ms))) if n == at => ms,
            _ => 0,
        };
        let twice = self.faults.duplicate_every.is_some_and(|every| {
            every > 0 && (self.stats.frames_up + self.stats.frames_down).is_multiple_of(every)
        });
        if twice {
            self.stats.duplicated += 1;
            out.push(Delivery {
                delay_ms,
                bytes: frame.clone(),
            });
        }
        out.push(Delivery {
            delay_ms,
            bytes: frame,
        });
    }

    /// Rewrites an `MsmDone` or `NttValues` reply whose turn it is to lie.
    fn lie(&mut self, frame: &mut Vec<u8>) {
        if self.faults.lie_msm.is_none() && self.faults.lie_ntt.is_none() {
            return;
        }
        let mut raw = frame[..frame.len() - 1].to_vec();
        let Ok(body) = open(&mut raw) else {
            return;
        };
        let Ok(reply) = parse_reply(body) else {
            return;
        };
        let mut out = std::vec![0u8; FRAME + 1];
        let mut values = [0u8; FRAME];
        let rewritten = match reply.body {
            ReplyBody::MsmDone { sum, stats } => {
                let turn = self.msm_replies;
                self.msm_replies += 1;
                if self.faults.lie_msm != Some(turn) {
                    return;
                }
                let Ok(p) = elem::decode_point(&sum) else {
                    return;
                };
                let negated = -p;
                let body = ReplyBody::MsmDone {
                    sum: elem::encode_point(&negated),
                    stats,
                };
                encode_reply(reply.id, body, &mut out, FRAME).map(|f| f.to_vec())
            }
            ReplyBody::NttValues { offset, values: v } if v.len() >= elem::FE_BYTES => {
                let turn = self.ntt_replies;
                self.ntt_replies += 1;
                if self.faults.lie_ntt != Some(turn) {
                    return;
                }
                let mut first = [0u8; elem::FE_BYTES];
                first.copy_from_slice(&v[..elem::FE_BYTES]);
                let Ok(x) = elem::decode_fr(&first) else {
                    return;
                };
                let values = &mut values[..v.len()];
                values.copy_from_slice(v);
                values[..elem::FE_BYTES]
                    .copy_from_slice(&elem::encode_fr(&(x + ark_bn254::Fr::from(1u64))));
                let body = ReplyBody::NttValues { offset, values };
                encode_reply(reply.id, body, &mut out, FRAME).map(|f| f.to_vec())
            }
            _ => return,
        };
        if let Ok(lie) = rewritten {
            self.stats.lies += 1;
            *frame = lie;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_proto::{encode_request, Feed, FrameAccumulator, RequestBody, Stats};
    use ark_ec::{AffineRepr, CurveGroup};

    fn frames(bytes: &[u8]) -> usize {
        bytes.iter().filter(|&&b| b == 0).count()
    }

    #[test]
    fn drops_duplicates_and_silence_count_frames() {
        let mut buf = [0u8; 64];
        let frame = encode_request(1, RequestBody::MsmEnd, &mut buf, 4096)
            .unwrap()
            .to_vec();
        let faults = Faults {
            drop_up: [1].into(),
            silent_after: Some(4),
            ..Faults::default()
        };
        let mut inj = Injector::new(faults);
        let mut got = Vec::new();
        for _ in 0..6 {
            // Split across calls: frames are cut at delimiters, not at call boundaries.
            let (a, b) = frame.split_at(3);
            got.extend(inj.pass(Way::Up, a));
            got.extend(inj.pass(Way::Up, b));
        }
        let delivered: usize = got.iter().map(|d| frames(&d.bytes)).sum();
        // Frames 0, 2, 3 get through; 1 is dropped; 4 and 5 fall into the silence.
        assert_eq!(delivered, 3);
        assert_eq!(inj.injected().dropped, 3);
        assert!(inj.is_silent());
    }

    #[test]
    fn a_lying_reply_is_a_sound_frame_with_the_negated_sum() {
        let g = ark_bn254::G1Affine::generator();
        let mut buf = [0u8; 256];
        let body = ReplyBody::MsmDone {
            sum: elem::encode_point(&g),
            stats: Stats::default(),
        };
        let frame = encode_reply(9, body, &mut buf, 4096).unwrap().to_vec();
        let faults = Faults {
            lie_msm: Some(1),
            ..Faults::default()
        };
        let mut inj = Injector::new(faults);
        let mut acc = FrameAccumulator::<4096>::new();
        let mut sums = Vec::new();
        for _ in 0..3 {
            for d in inj.pass(Way::Down, &frame) {
                let Feed::Frame { body, .. } = acc.feed(&d.bytes) else {
                    panic!("a sound frame");
                };
                let ReplyBody::MsmDone { sum, .. } = parse_reply(body).unwrap().body else {
                    panic!("an MsmDone");
                };
                sums.push(elem::decode_point(&sum).unwrap());
            }
        }
        assert_eq!(sums, [g, (-g.into_group()).into_affine(), g]);
        assert_eq!(inj.injected().lies, 1);
    }

    #[test]
    fn noise_damages_about_the_rate_asked() {
        let mut inj = Injector::new(Faults::noise(1e-2, 7));
        let data = std::vec![0x55u8; 100_000];
        let mut frame = data.clone();
        frame.push(0);
        let out = inj.pass(Way::Up, &frame);
        let flipped = inj.injected().flipped;
        assert!((700..1300).contains(&flipped), "{flipped}");
        let delivered: Vec<u8> = out.into_iter().flat_map(|d| d.bytes).collect();
        let differ = delivered[..data.len()]
            .iter()
            .zip(&data)
            .filter(|(a, b)| a != b)
            .count() as u64;
        assert_eq!(differ, flipped);
    }
}
