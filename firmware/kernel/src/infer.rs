//! int8 inference, keeping every accumulator: the trace the witness is built from.

use alloc::{vec, vec::Vec};

use crate::{
    model::{Layer, Model},
    quant::requantize,
};

/// One input of a multiply–accumulate: which element of the layer's input, and which weight
/// (counted within one output channel's weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    /// Flat index into the layer's input (`[C][H][W]` order).
    pub input: usize,
    /// Index into one output channel's weights.
    pub weight: usize,
}

/// The taps of output position `position` (flat over `H·W` of the output) of layer `layer`, in
/// the order the accumulator sums them. Padded taps (which contribute 0) are left out.
pub fn taps(model: &Model, layer: usize, position: usize) -> Vec<Tap> {
    let [c, h, w] = model.layer_input_shape(layer);
    match &model.layers()[layer] {
        Layer::Dense(_) => (0..c * h * w)
            .map(|i| Tap {
                input: i,
                weight: i,
            })
            .collect(),
        Layer::Conv2d(conv) => {
            let [kh, kw] = conv.kernel.map(usize::from);
            let [sh, sw] = conv.stride.map(usize::from);
            let [pt, pl, _, _] = conv.padding.map(usize::from);
            let out_w = model.layer_output_shape(layer)[2];
            let (oy, ox) = (position / out_w, position % out_w);
            let mut taps = Vec::with_capacity(c * kh * kw);
            for ch in 0..c {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let (py, px) = (oy * sh + ky, ox * sw + kx);
                        if py < pt || px < pl || py - pt >= h || px - pl >= w {
                            continue;
                        }
                        taps.push(Tap {
                            input: (ch * h + (py - pt)) * w + (px - pl),
                            weight: (ch * kh + ky) * kw + kx,
                        });
                    }
                }
            }
            taps
        }
    }
}

/// Accumulators and outputs of one layer, both in `[C][H][W]` order of the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerTrace {
    /// The int32 accumulators.
    pub acc: Vec<i32>,
    /// The requantised int8 outputs.
    pub out: Vec<i8>,
}

/// Everything one inference computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The input.
    pub input: Vec<i8>,
    /// Per layer.
    pub layers: Vec<LayerTrace>,
}

impl Trace {
    /// The last layer's output (the logits).
    pub fn output(&self) -> &[i8] {
        self.layers.last().map_or(&[], |l| &l.out)
    }

    /// The predicted class: the first index of the largest output.
    pub fn class(&self) -> usize {
        argmax(self.output())
    }
}

/// The first index of the largest value (0 for an empty slice).
pub fn argmax(values: &[i8]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Why an inference could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InferError {
    /// The input has the wrong number of elements.
    #[error("the model takes {expected} input values; got {found}")]
    InputLength {
        /// What the model takes.
        expected: usize,
        /// What was given.
        found: usize,
    },
}

/// Runs the model on `input` (int8, `[C][H][W]` order).
pub fn infer(model: &Model, input: &[i8]) -> Result<Trace, InferError> {
    if input.len() != model.input_len() {
        return Err(InferError::InputLength {
            expected: model.input_len(),
            found: input.len(),
        });
    }
    let mut layers: Vec<LayerTrace> = Vec::with_capacity(model.layers().len());
    for (i, layer) in model.layers().iter().enumerate() {
        let x = layers.last().map_or(input, |l| &l.out);
        let zp = i32::from(model.layer_input_zero_point(i));
        let [o, oh, ow] = model.layer_output_shape(i);
        let fan_in = layer.weights().len() / o;
        let mut acc = vec![0i32; o * oh * ow];
        let mut out = vec![0i8; o * oh * ow];
        for p in 0..oh * ow {
            let taps = taps(model, i, p);
            for ch in 0..o {
                let w = &layer.weights()[ch * fan_in..(ch + 1) * fan_in];
                // Model validation bounds every partial sum by i32::MAX.
                let a = taps.iter().fold(layer.bias()[ch], |a, t| {
                    a + (i32::from(x[t.input]) - zp) * i32::from(w[t.weight])
                });
                acc[ch * oh * ow + p] = a;
                out[ch * oh * ow + p] = requantize(
                    a,
                    layer.requant()[ch],
                    model.file().rounding,
                    layer.output().zero_point,
                    layer.relu(),
                );
            }
        }
        layers.push(LayerTrace { acc, out });
    }
    Ok(Trace {
        input: input.to_vec(),
        layers,
    })
}
