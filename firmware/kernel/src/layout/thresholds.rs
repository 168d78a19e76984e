//! The requantisation threshold table.
//!
//! A channel's requantisation `acc ↦ u` is monotone non-decreasing (every step — the Q31
//! multiply, both roundings, the clamp — is), so each output `u` is taken on an interval
//! `[lo, hi)` of accumulators. The table lists those intervals over the channel's reachable
//! accumulator range, and the circuit proves `lo ≤ acc < hi` for the looked-up row.

use alloc::{vec, vec::Vec};

use super::{LayoutError, MAX_SPAN};
use crate::{model::Model, quant::requantize};

/// One row of the threshold table: channel `tag` outputs `u` exactly for `lo ≤ acc < hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThresholdRow {
    /// The channel's tag (1-based; 0 is the all-zero row).
    pub tag: u32,
    /// The output, as `q + 128`.
    pub u: u8,
    /// Smallest accumulator with this output.
    pub lo: i64,
    /// One past the largest accumulator with this output.
    pub hi: i64,
}

/// Per tag, the index of its first table row and its first `u`.
pub(super) type TagRows = Vec<(usize, u8)>;

/// The table (all-zero row first) and where each tag's rows start.
pub(super) fn table(model: &Model) -> Result<(Vec<ThresholdRow>, TagRows), LayoutError> {
    let mut table = vec![ThresholdRow {
        tag: 0,
        u: 0,
        lo: 0,
        hi: 0,
    }];
    let mut tag_rows = Vec::new();
    let mut tag = 1u32;
    for (l, layer) in model.layers().iter().enumerate() {
        let o = layer.out_channels();
        let fan_in = layer.weights().len() / o;
        let zp = i64::from(model.layer_input_zero_point(l));
        let out = layer.output();
        for ch in 0..o {
            // Each tap contributes (x − zp)·w with x ∈ [−128, 127]; padding contributes 0,
            // which lies inside that range, so padded positions stay within these bounds.
            let (mut a_min, mut a_max) = (i64::from(layer.bias()[ch]), i64::from(layer.bias()[ch]));
            for &w in &layer.weights()[ch * fan_in..(ch + 1) * fan_in] {
                let (p, q) = ((-128 - zp) * i64::from(w), (127 - zp) * i64::from(w));
                a_min += p.min(q);
                a_max += p.max(q);
            }
            let span = a_max - a_min + 1;
            if span > MAX_SPAN {
                return Err(LayoutError::Span {
                    layer: l,
                    channel: ch,
                    span,
                });
            }
            let r = layer.requant()[ch];
            // Model validation keeps every reachable accumulator within i32.
            let rounding = model.file().rounding;
            let u_of = |acc: i64| {
                i64::from(requantize(
                    acc as i32,
                    r,
                    rounding,
                    out.zero_point,
                    layer.relu(),
                )) + 128
            };
            let (u_lo, u_hi) = (u_of(a_min), u_of(a_max));
            // First accumulator in [a_min, a_max + 1] whose output is at least `u`.
            let first_at_least = |u: i64| {
                let (mut lo, mut hi) = (a_min, a_max + 1);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if u_of(mid) >= u {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                lo
            };
            tag_rows.push((table.len(), u_lo as u8));
            for u in u_lo..=u_hi {
                let lo = if u == u_lo { a_min } else { first_at_least(u) };
                let hi = if u == u_hi {
                    a_max + 1
                } else {
                    first_at_least(u + 1)
                };
                table.push(ThresholdRow {
                    tag,
                    u: u as u8,
                    lo,
                    hi,
                });
            }
            tag += 1;
        }
    }
    Ok((table, tag_rows))
}
