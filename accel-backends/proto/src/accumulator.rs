//! Assembling frames from a byte stream without allocating (the UART receive path).
//!
//! Modelled on postcard's `CobsAccumulator`, with two differences: it checks the CRC and hands
//! back the verified postcard bytes rather than a decoded value (so the caller can answer an
//! unreadable message under its id), and an oversize frame is reported once, when its
//! delimiter arrives, instead of once per buffer-full of bytes.

use crate::frame::{open, FrameError};

/// What one call to [`FrameAccumulator::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'buf, 'input> {
    /// All input was taken; no frame is complete yet.
    Consumed,
    /// A frame ended but was refused (oversize, bad COBS, bad CRC). Feed `remaining` next.
    Bad {
        /// Why.
        error: FrameError,
        /// Input after the frame's delimiter.
        remaining: &'input [u8],
    },
    /// A sound frame: its postcard bytes (CRC checked and removed). Feed `remaining` next.
    Frame {
        /// The message bytes, valid until the next `feed`.
        body: &'buf [u8],
        /// Input after the frame's delimiter.
        remaining: &'input [u8],
    },
}

/// Collects bytes up to each `0x00` delimiter in a fixed `N`-byte buffer. `N` is the largest
/// encoded frame accepted (the delimiter is not stored).
pub struct FrameAccumulator<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// The current frame outgrew the buffer: drop bytes until its delimiter.
    overflowed: bool,
}

impl<const N: usize> Default for FrameAccumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameAccumulator<N> {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// Forgets a partial frame (e.g. after a timeout, so that stale bytes do not prefix the
    /// next frame).
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Whether part of a frame is buffered.
    pub fn is_mid_frame(&self) -> bool {
        self.len > 0 || self.overflowed
    }

    /// Takes bytes from `input` up to and including the next delimiter. Empty frames (two
    /// delimiters in a row, which a sender may use to resynchronise) are skipped silently.
    pub fn feed<'s, 'i>(&'s mut self, mut input: &'i [u8]) -> Feed<'s, 'i> {
        loop {
            let Some(end) = input.iter().position(|&b| b == 0) else {
                self.append(input);
                return Feed::Consumed;
            };
            let (frame, rest) = input.split_at(end);
            let remaining = &rest[1..];
            self.append(frame);
            let (len, overflowed) = (self.len, self.overflowed);
            self.reset();
            if overflowed {
                return Feed::Bad {
                    error: FrameError::Oversize,
                    remaining,
                };
            }
            if len == 0 {
                input = remaining;
                continue;
            }
            return match open(&mut self.buf[..len]) {
                Ok(body) => Feed::Frame { body, remaining },
                Err(error) => Feed::Bad { error, remaining },
            };
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => {
                self.overflowed = true;
                self.len = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        frame::{encode_request, parse_request},
        msg::RequestBody,
    };
    use std::{vec, vec::Vec};

    fn frame(id: u32, body: RequestBody<'_>) -> Vec<u8> {
        let mut buf = [0u8; 512];
        encode_request(id, body, &mut buf, 511)
            .expect("fits")
            .to_vec()
    }

    #[test]
    fn frames_split_anywhere_are_reassembled() {
        let mut stream = frame(1, RequestBody::BasesEnd);
        stream.extend(frame(2, RequestBody::ReleaseBases { handle: 9 }));
        for split in 0..stream.len() {
            let mut acc = FrameAccumulator::<64>::new();
            let mut ids = Vec::new();
            for part in [&stream[..split], &stream[split..]] {
                let mut window = part;
                while !window.is_empty() {
                    window = match acc.feed(window) {
                        Feed::Consumed => break,
                        Feed::Frame { body, remaining } => {
                            ids.push(parse_request(body).expect("valid").id);
                            remaining
                        }
                        Feed::Bad { error, .. } => panic!("split {split}: {error:?}"),
                    };
                }
            }
            assert_eq!(ids, [1, 2], "split at {split}");
        }
    }

    #[test]
    fn oversize_is_reported_once_at_its_delimiter_and_the_next_frame_survives() {
        let mut stream = vec![0x11u8; 200];
        stream.push(0);
        stream.extend(frame(5, RequestBody::BasesEnd));
        let mut acc = FrameAccumulator::<64>::new();
        let Feed::Bad { error, remaining } = acc.feed(&stream) else {
            panic!("expected an oversize report");
        };
        assert_eq!(error, FrameError::Oversize);
        let Feed::Frame { body, remaining } = acc.feed(remaining) else {
            panic!("the next frame was lost");
        };
        assert_eq!(parse_request(body).map(|r| r.id), Ok(5));
        assert!(remaining.is_empty());
    }

    #[test]
    fn empty_frames_are_skipped_and_garbage_is_a_bad_frame() {
        let mut acc = FrameAccumulator::<64>::new();
        assert_eq!(acc.feed(&[0, 0, 0]), Feed::Consumed);
        assert!(matches!(
            acc.feed(&[3, 1, 0]),
            Feed::Bad {
                error: FrameError::BadCrc | FrameError::BadFraming,
                ..
            }
        ));
        assert!(matches!(
            acc.feed(&[9, 1, 0]),
            Feed::Bad {
                error: FrameError::BadFraming,
                ..
            }
        ));
    }
}
