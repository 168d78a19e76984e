//! One TFLite operator → zkedge ops, with TFLite Micro's `Prepare` arithmetic (`crate::prepare`).

use std::collections::HashMap;

use zkedge_kernel::model::{
    Add, Conv2d, Dense, DepthwiseConv2d, Model, Op, Order, Pool, Quant, Reshape, MAX_DIM,
    MAX_LAYER_WEIGHTS, MAX_OPS,
};

use super::{
    chw,
    graph::{Code, Graph},
};
use crate::{
    error::{ImportError, Problem},
    prepare::{self, Activation, Padding},
    tflite_generated::tflite as fb,
};

/// A TFLite tensor that zkedge computes: its zkedge tensor number, shape and quantisation.
#[derive(Clone, Copy, Debug)]
struct Value {
    id: u16,
    shape: [usize; 3],
    quant: Quant,
}

/// The zkedge ops so far, and which TFLite tensor each zkedge tensor stands for.
pub(crate) struct Builder<'g, 'a> {
    graph: &'g Graph<'a>,
    ops: Vec<Op>,
    /// The TFLite operator each zkedge op came from.
    origin: Vec<usize>,
    values: HashMap<usize, Value>,
    /// `(zkedge tensor, TFLite tensor)` pairs whose shapes and quantisations must agree.
    expected: Vec<(u16, usize)>,
}

/// The translated ops, dead ones removed.
pub(crate) struct Built {
    pub ops: Vec<Op>,
    pub origin: Vec<usize>,
    expected: Vec<(u16, usize)>,
}

fn activation_kind(f: fb::ActivationFunctionType) -> Result<Activation, Problem> {
    use fb::ActivationFunctionType as A;
    match f {
        A::NONE => Ok(Activation::None),
        A::RELU => Ok(Activation::Relu),
        A::RELU6 => Ok(Activation::Relu6),
        A::RELU_N1_TO_1 => Ok(Activation::ReluN1To1),
        other => Err(Problem::Activation(
            other
                .variant_name()
                .map_or_else(|| format!("{}", other.0), str::to_string),
        )),
    }
}

fn padding_kind(p: fb::Padding) -> Result<Padding, Problem> {
    match p {
        fb::Padding::SAME => Ok(Padding::Same),
        fb::Padding::VALID => Ok(Padding::Valid),
        other => Err(Problem::Options(format!(
            "unknown padding mode {}",
            other.0
        ))),
    }
}

/// A stride, dilation or window size from the options.
fn positive(what: &str, v: i32) -> Result<usize, Problem> {
    match usize::try_from(v) {
        Ok(v) if (1..=usize::from(MAX_DIM)).contains(&v) => Ok(v),
        _ => Err(Problem::Options(format!(
            "{what} is {v}; it must lie in 1..={MAX_DIM}"
        ))),
    }
}

impl<'g, 'a> Builder<'g, 'a> {
    pub(crate) fn new(graph: &'g Graph<'a>) -> Result<Self, ImportError> {
        let input = graph.input;
        let mut values = HashMap::new();
        values.insert(
            input.tensor,
            Value {
                id: 0,
                shape: input.shape,
                quant: input.quant,
            },
        );
        Ok(Self {
            graph,
            ops: Vec::new(),
            origin: Vec::new(),
            values,
            expected: Vec::new(),
        })
    }

    /// Translates operator `index`.
    pub(crate) fn op(&mut self, index: usize) -> Result<(), ImportError> {
        use fb::BuiltinOperator as B;
        let at = |problem| self.graph.op_error(index, problem);
        // Each TFLite operator adds at most two zkedge ops; refuse early what cannot fit.
        if self.ops.len() >= 2 * MAX_OPS {
            return Err(ImportError::Model {
                tflite_op: Some((index, self.graph.op_name(index))),
                error: zkedge_kernel::model::ModelError::OpCount(self.ops.len()),
            });
        }
        let result = match self.graph.code(index) {
            Code::Builtin(B::CONV_2D) => self.conv(index),
            Code::Builtin(B::DEPTHWISE_CONV_2D) => self.depthwise(index),
            Code::Builtin(B::FULLY_CONNECTED) => self.dense(index),
            Code::Builtin(B::AVERAGE_POOL_2D) => self.pool(index, false),
            Code::Builtin(B::MAX_POOL_2D) => self.pool(index, true),
            Code::Builtin(B::ADD) => self.add(index),
            Code::Builtin(B::RESHAPE | B::SQUEEZE | B::EXPAND_DIMS) => self.reshape(index),
            _ => {
                return Err(ImportError::Unsupported {
                    index,
                    name: self.graph.op_name(index),
                })
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(Failure::Problem(p)) => Err(at(p)),
            Err(Failure::Import(e)) => Err(e),
        }
    }

    /// The computed tensor read as operand `slot`.
    fn activation(&self, op: usize, slot: usize) -> Result<Value, Failure> {
        let t = self.graph.operand(op, slot)?.ok_or_else(|| {
            Problem::Options(format!("operand {slot} is omitted; it must be a tensor"))
        })?;
        self.values.get(&t).copied().ok_or_else(|| {
            let why = if self.graph.data(t).is_some() {
                "is a constant where zkedge needs a computed tensor (operations on constants \
                 are not supported)"
            } else {
                "is not computed by the graph's input or an earlier supported operator"
            };
            Problem::Operand {
                tensor: self.graph.tensor_name(t),
                why,
            }
            .into()
        })
    }

    /// The operator's single output, with its `[C, H, W]` shape and quantisation.
    fn output(&self, op: usize) -> Result<(usize, [usize; 3], Quant), Failure> {
        let t = self.graph.output(op)?;
        let shape = chw(&self.graph.tensor_name(t), &self.graph.shape(t))?;
        Ok((t, shape, self.graph.quant(t)?))
    }

    fn push(&mut self, op: Op, origin: usize) -> u16 {
        self.ops.push(op);
        self.origin.push(origin);
        self.ops.len() as u16
    }

    /// Pushes `op` as the computation of TFLite tensor `t`.
    fn define(&mut self, origin: usize, op: Op, t: usize, shape: [usize; 3], quant: Quant) {
        let id = self.push(op, origin);
        self.values.insert(t, Value { id, shape, quant });
        self.expected.push((id, t));
    }

    /// An int8 constant of `len` elements: the weights of a multiply–accumulate.
    fn weights(&self, t: usize, len: u64) -> Result<Vec<i8>, Failure> {
        let g = self.graph;
        let tensor = g.tensor(t);
        let name = g.tensor_name(t);
        if tensor.type_() != fb::TensorType::INT8 {
            return Err(Problem::TensorType {
                tensor: name,
                found: tensor
                    .type_()
                    .variant_name()
                    .unwrap_or("an unknown type")
                    .into(),
                why: "weights must be int8 (full-integer quantisation; int4 and float weights \
                      are not supported)",
            }
            .into());
        }
        if tensor.sparsity().is_some() {
            return Err(Problem::Operand {
                tensor: name,
                why: "sparse weights are not supported",
            }
            .into());
        }
        if len > MAX_LAYER_WEIGHTS as u64 {
            return Err(Problem::TooLarge {
                tensor: name,
                elements: len,
                max: MAX_LAYER_WEIGHTS,
            }
            .into());
        }
        let data = g.data(t).ok_or(Problem::Operand {
            tensor: name.clone(),
            why: "weights must be a constant held in the file",
        })?;
        if data.len() as u64 != len {
            return Err(Problem::Data {
                tensor: name,
                expected: len,
                found: data.len(),
            }
            .into());
        }
        Ok(data.iter().map(|&b| b as i8).collect())
    }

    /// One weight scale per output channel (a per-tensor scale repeated); zero points must be 0.
    fn weight_scales(
        &self,
        t: usize,
        channels: usize,
        dimension: i32,
    ) -> Result<(Vec<f32>, bool), Failure> {
        let g = self.graph;
        let name = g.tensor_name(t);
        let bad = |why: String| -> Failure {
            Problem::Quantization {
                tensor: name.clone(),
                why,
            }
            .into()
        };
        let q = g
            .tensor(t)
            .quantization()
            .ok_or_else(|| bad("weights carry no quantisation parameters".into()))?;
        let scales: Vec<f32> = q.scale().map(|v| v.iter().collect()).unwrap_or_default();
        let zero_points: Vec<i64> = q
            .zero_point()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        if let Some((channel, &zp)) = zero_points.iter().enumerate().find(|(_, &z)| z != 0) {
            return Err(bad(format!(
                "weight zero point {zp} (channel {channel}); TFLite's int8 weights are \
                 symmetric (zero point 0)"
            )));
        }
        let per_channel = scales.len() > 1;
        if per_channel && (scales.len() != channels || q.quantized_dimension() != dimension) {
            return Err(bad(format!(
                "{} scales along dimension {}; expected 1, or {channels} along dimension \
                 {dimension}",
                scales.len(),
                q.quantized_dimension()
            )));
        }
        if scales.is_empty() {
            return Err(bad("weights have no scale".into()));
        }
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(bad(format!(
                "weight scale {s} is not a positive finite number"
            )));
        }
        let scales = if per_channel {
            scales
        } else {
            vec![scales[0]; channels]
        };
        Ok((scales, per_channel))
    }

    /// The int32 bias, or zeros when the operand is omitted.
    fn bias(&self, t: Option<usize>, channels: usize) -> Result<Vec<i32>, Failure> {
        let Some(t) = t else {
            return Ok(vec![0; channels]);
        };
        let g = self.graph;
        let tensor = g.tensor(t);
        let name = g.tensor_name(t);
        if tensor.type_() != fb::TensorType::INT32 {
            return Err(Problem::TensorType {
                tensor: name,
                found: tensor.type_().variant_name().unwrap_or("unknown").into(),
                why: "an int8 model's bias is int32",
            }
            .into());
        }
        let data = g.data(t).ok_or(Problem::Operand {
            tensor: name.clone(),
            why: "the bias must be a constant held in the file",
        })?;
        if data.len() != 4 * channels {
            return Err(Problem::Data {
                tensor: name,
                expected: 4 * channels as u64,
                found: data.len(),
            }
            .into());
        }
        Ok(data
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// A weight tensor's TFLite shape, of rank `rank`, as sizes.
    fn weight_shape(&self, t: usize, rank: usize) -> Result<Vec<usize>, Failure> {
        let shape = self.graph.shape(t);
        let ok =
            shape.len() == rank && shape.iter().all(|&d| (1..=i32::from(MAX_DIM)).contains(&d));
        if !ok {
            return Err(Problem::Shape {
                tensor: self.graph.tensor_name(t),
                shape,
                why: format!("expected {rank} dimensions, each in 1..={MAX_DIM}"),
            }
            .into());
        }
        Ok(shape.iter().map(|&d| d as usize).collect())
    }

    fn required(&self, op: usize, slot: usize) -> Result<usize, Failure> {
        self.graph
            .operand(op, slot)?
            .ok_or_else(|| Problem::Options(format!("operand {slot} is omitted")).into())
    }

    /// Requantisation of every channel of a multiply–accumulate op.
    fn requants(
        &self,
        input: Quant,
        scales: &[f32],
        output: Quant,
        f32_product: bool,
    ) -> Result<Vec<zkedge_kernel::model::Requant>, Failure> {
        scales
            .iter()
            .enumerate()
            .map(|(c, &s)| {
                let real = prepare::mac_multiplier(input.scale, s, output.scale, f32_product);
                prepare::requant(c, real).map_err(Failure::from)
            })
            .collect()
    }

    fn conv(&mut self, index: usize) -> Result<(), Failure> {
        let o = self
            .graph
            .op(index)
            .builtin_options_as_conv_2_doptions()
            .ok_or_else(|| Problem::Options("CONV_2D without its options".into()))?;
        let x = self.activation(index, 0)?;
        let w = self.required(index, 1)?;
        let (out_t, out_shape, out_q) = self.output(index)?;
        let [oc, kh, kw, ic] = self.weight_shape(w, 4)?[..] else {
            unreachable!("weight_shape checked the rank")
        };
        if ic != x.shape[0] {
            return Err(Problem::Options(format!(
                "the filter has {ic} input channels but the input {} (grouped convolution is \
                 not supported)",
                x.shape[0]
            ))
            .into());
        }
        let ohwi = self.weights(w, [oc, kh, kw, ic].iter().map(|&d| d as u64).product())?;
        // OHWI → OIHW.
        let mut weights = vec![0i8; ohwi.len()];
        for (i, &v) in ohwi.iter().enumerate() {
            let (c, kx, ky, och) = (i % ic, i / ic % kw, i / (ic * kw) % kh, i / (ic * kw * kh));
            weights[((och * ic + c) * kh + ky) * kw + kx] = v;
        }
        let (scales, _) = self.weight_scales(w, oc, 0)?;
        let bias = self.bias(self.graph.operand(index, 2)?, oc)?;
        let stride = [
            positive("stride_h", o.stride_h())?,
            positive("stride_w", o.stride_w())?,
        ];
        let dilation = [
            positive("dilation_h_factor", o.dilation_h_factor())?,
            positive("dilation_w_factor", o.dilation_w_factor())?,
        ];
        let padding = window_padding(
            padding_kind(o.padding())?,
            x.shape,
            [kh, kw],
            stride,
            dilation,
        )?;
        let op = Op::Conv2d(Conv2d {
            input: x.id,
            out_channels: oc as u16,
            kernel: [kh as u16, kw as u16],
            stride: stride.map(|s| s as u16),
            dilation: dilation.map(|d| d as u16),
            padding,
            weights,
            bias,
            requant: self.requants(x.quant, &scales, out_q, false)?,
            output: out_q,
            clamp: prepare::clamp(activation_kind(o.fused_activation_function())?, out_q)?,
        });
        self.define(index, op, out_t, out_shape, out_q);
        Ok(())
    }

    fn depthwise(&mut self, index: usize) -> Result<(), Failure> {
        let o = self
            .graph
            .op(index)
            .builtin_options_as_depthwise_conv_2_doptions()
            .ok_or_else(|| Problem::Options("DEPTHWISE_CONV_2D without its options".into()))?;
        let x = self.activation(index, 0)?;
        let w = self.required(index, 1)?;
        let (out_t, out_shape, out_q) = self.output(index)?;
        let [one, kh, kw, oc] = self.weight_shape(w, 4)?[..] else {
            unreachable!("weight_shape checked the rank")
        };
        let ic = x.shape[0];
        let multiplier = usize::try_from(o.depth_multiplier()).unwrap_or(0);
        if one != 1 || oc != ic * multiplier {
            return Err(Problem::Options(format!(
                "filter shape [{one}, {kh}, {kw}, {oc}] does not match {ic} input channels \
                 times depth multiplier {}",
                o.depth_multiplier()
            ))
            .into());
        }
        let hwc = self.weights(w, [kh, kw, oc].iter().map(|&d| d as u64).product())?;
        // 1HW(C·m) → (C·m)HW.
        let mut weights = vec![0i8; hwc.len()];
        for (i, &v) in hwc.iter().enumerate() {
            let (ch, pos) = (i % oc, i / oc);
            weights[ch * kh * kw + pos] = v;
        }
        let (scales, _) = self.weight_scales(w, oc, 3)?;
        let bias = self.bias(self.graph.operand(index, 2)?, oc)?;
        let stride = [
            positive("stride_h", o.stride_h())?,
            positive("stride_w", o.stride_w())?,
        ];
        let dilation = [
            positive("dilation_h_factor", o.dilation_h_factor())?,
            positive("dilation_w_factor", o.dilation_w_factor())?,
        ];
        let padding = window_padding(
            padding_kind(o.padding())?,
            x.shape,
            [kh, kw],
            stride,
            dilation,
        )?;
        let op = Op::DepthwiseConv2d(DepthwiseConv2d {
            input: x.id,
            multiplier: multiplier as u16,
            kernel: [kh as u16, kw as u16],
            stride: stride.map(|s| s as u16),
            dilation: dilation.map(|d| d as u16),
            padding,
            weights,
            bias,
            requant: self.requants(x.quant, &scales, out_q, false)?,
            output: out_q,
            clamp: prepare::clamp(activation_kind(o.fused_activation_function())?, out_q)?,
        });
        self.define(index, op, out_t, out_shape, out_q);
        Ok(())
    }

    fn dense(&mut self, index: usize) -> Result<(), Failure> {
        let o = self
            .graph
            .op(index)
            .builtin_options_as_fully_connected_options();
        if let Some(o) = o {
            if o.weights_format() != fb::FullyConnectedOptionsWeightsFormat::DEFAULT {
                return Err(Problem::Options(
                    "shuffled weights (SHUFFLED4x16INT8) are not supported".into(),
                )
                .into());
            }
        }
        let activation = o.map_or(Ok(Activation::None), |o| {
            activation_kind(o.fused_activation_function())
        })?;
        let mut x = self.activation(index, 0)?;
        let w = self.required(index, 1)?;
        let (out_t, out_shape, out_q) = self.output(index)?;
        let [oc, fan_in] = self.weight_shape(w, 2)?[..] else {
            unreachable!("weight_shape checked the rank")
        };
        let elements: usize = x.shape.iter().product();
        if elements != fan_in {
            return Err(Problem::Options(format!(
                "the weights take {fan_in} inputs per row but the input has {elements} \
                 elements (a batched FULLY_CONNECTED, which zkedge does not support)"
            ))
            .into());
        }
        let weights = self.weights(w, oc as u64 * fan_in as u64)?;
        let (scales, per_channel) = self.weight_scales(w, oc, 0)?;
        let bias = self.bias(self.graph.operand(index, 2)?, oc)?;
        // FULLY_CONNECTED reads its input flattened channels-last. Where that differs from
        // zkedge's channels-first flattening, an explicit reshape keeps TFLite's order.
        let [c, h, wd] = x.shape;
        if c != elements && c != 1 {
            let id = self.push(
                Op::Reshape(Reshape {
                    input: x.id,
                    shape: [fan_in as u16, 1, 1],
                    order: Order::Hwc,
                }),
                index,
            );
            x = Value {
                id,
                shape: [c * h * wd, 1, 1],
                quant: x.quant,
            };
        }
        let op = Op::Dense(Dense {
            input: x.id,
            out_features: oc as u16,
            weights,
            bias,
            // TFLM's per-tensor path multiplies the scales in f32 (GetQuantizedConvolutionMultipler).
            requant: self.requants(x.quant, &scales, out_q, !per_channel)?,
            output: out_q,
            clamp: prepare::clamp(activation, out_q)?,
        });
        self.define(index, op, out_t, out_shape, out_q);
        Ok(())
    }

    fn pool(&mut self, index: usize, max: bool) -> Result<(), Failure> {
        let o = self
            .graph
            .op(index)
            .builtin_options_as_pool_2_doptions()
            .ok_or_else(|| Problem::Options("pooling without its options".into()))?;
        let x = self.activation(index, 0)?;
        let (out_t, out_shape, out_q) = self.output(index)?;
        if out_q != x.quant {
            return Err(Problem::Options(format!(
                "output quantisation {out_q:?} differs from the input's {:?}; TFLite's int8 \
                 pools keep it",
                x.quant
            ))
            .into());
        }
        let kernel = [
            positive("filter_height", o.filter_height())?,
            positive("filter_width", o.filter_width())?,
        ];
        let stride = [
            positive("stride_h", o.stride_h())?,
            positive("stride_w", o.stride_w())?,
        ];
        let padding = window_padding(padding_kind(o.padding())?, x.shape, kernel, stride, [1, 1])?;
        let pool = Pool {
            input: x.id,
            kernel: kernel.map(|k| k as u16),
            stride: stride.map(|s| s as u16),
            padding,
            clamp: prepare::clamp(activation_kind(o.fused_activation_function())?, out_q)?,
        };
        let op = if max {
            Op::MaxPool2d(pool)
        } else {
            Op::AvgPool2d(pool)
        };
        self.define(index, op, out_t, out_shape, out_q);
        Ok(())
    }

    fn add(&mut self, index: usize) -> Result<(), Failure> {
        let activation = self
            .graph
            .op(index)
            .builtin_options_as_add_options()
            .map_or(Ok(Activation::None), |o| {
                activation_kind(o.fused_activation_function())
            })?;
        let a = self.activation(index, 0)?;
        let b = self.activation(index, 1)?;
        let (out_t, out_shape, out_q) = self.output(index)?;
        let shapes = [0, 1].map(|s| {
            self.graph
                .operand(index, s)
                .ok()
                .flatten()
                .map(|t| self.graph.shape(t))
        });
        if shapes[0] != shapes[1] || a.shape != b.shape {
            return Err(Problem::Options(format!(
                "inputs of shapes {:?} and {:?}: broadcasting is not supported",
                shapes[0].clone().unwrap_or_default(),
                shapes[1].clone().unwrap_or_default()
            ))
            .into());
        }
        let [ra, rb, ro] = prepare::add_multipliers(a.quant.scale, b.quant.scale, out_q.scale)?;
        let op = Op::Add(Add {
            inputs: [a.id, b.id],
            input_requant: [ra, rb],
            output_requant: ro,
            output: out_q,
            clamp: prepare::clamp(activation, out_q)?,
        });
        self.define(index, op, out_t, out_shape, out_q);
        Ok(())
    }

    fn reshape(&mut self, index: usize) -> Result<(), Failure> {
        let x = self.activation(index, 0)?;
        let (out_t, out_shape, out_q) = self.output(index)?;
        if out_q != x.quant {
            return Err(Problem::Options(format!(
                "output quantisation {out_q:?} differs from the input's {:?} (TFLite copies the \
                 bytes; zkedge's reshape keeps the quantisation)",
                x.quant
            ))
            .into());
        }
        let (from, to) = (
            x.shape.iter().product::<usize>(),
            out_shape.iter().product::<usize>(),
        );
        if from != to {
            return Err(Problem::Options(format!("reshapes {from} elements into {to}")).into());
        }
        if out_shape == x.shape {
            // Same [C, H, W] and both channels-last flattened the same: nothing moves.
            self.values.insert(out_t, x);
            return Ok(());
        }
        // A reshape of a reshape (both keeping the channels-last order) is one reshape.
        let source = match x.id.checked_sub(1).map(|i| &self.ops[usize::from(i)]) {
            Some(Op::Reshape(r)) if r.order == Order::Hwc => r.input,
            _ => x.id,
        };
        let op = Op::Reshape(Reshape {
            input: source,
            shape: out_shape.map(|d| d as u16),
            order: Order::Hwc,
        });
        self.define(index, op, out_t, out_shape, out_q);
        Ok(())
    }

    /// The ops computing `logits`, those whose results nothing reads removed.
    pub(crate) fn finish(self, logits: usize) -> Result<Built, ImportError> {
        let Some(out) = self.values.get(&logits) else {
            return Err(ImportError::Edge {
                what: "output",
                problem: Problem::Operand {
                    tensor: self.graph.tensor_name(logits),
                    why: "is not computed by the supported operators",
                },
            });
        };
        let mut live = vec![false; self.ops.len() + 1];
        live[usize::from(out.id)] = true;
        for (i, op) in self.ops.iter().enumerate().rev() {
            if live[i + 1] {
                for t in op.inputs() {
                    live[t] = true;
                }
            }
        }
        // New numbers: the input stays 0, live op outputs are numbered in order.
        let mut renumber = vec![0u16; self.ops.len() + 1];
        let (mut ops, mut origin) = (Vec::new(), Vec::new());
        for (i, mut op) in self.ops.into_iter().enumerate() {
            if !live[i + 1] {
                continue;
            }
            remap_inputs(&mut op, &renumber);
            ops.push(op);
            origin.push(self.origin[i]);
            renumber[i + 1] = ops.len() as u16;
        }
        if ops.is_empty() {
            return Err(ImportError::Edge {
                what: "output",
                problem: Problem::Operand {
                    tensor: self.graph.tensor_name(logits),
                    why: "is the input itself: the model computes nothing",
                },
            });
        }
        let expected = self
            .expected
            .into_iter()
            .filter(|&(id, _)| live[usize::from(id)])
            .map(|(id, t)| (renumber[usize::from(id)], t))
            .collect();
        Ok(Built {
            ops,
            origin,
            expected,
        })
    }
}

impl Built {
    /// Every zkedge tensor standing for a TFLite tensor has the shape and quantisation the file
    /// states: the importer's layout arithmetic agrees with the converter's.
    pub(crate) fn check_shapes(&self, model: &Model, graph: &Graph) -> Result<(), ImportError> {
        for &(id, t) in &self.expected {
            let id = usize::from(id);
            let file = chw(&graph.tensor_name(t), &graph.shape(t));
            let op = self.origin[id - 1];
            let file = file.map_err(|p| graph.op_error(op, p))?;
            if model.shape(id) != file {
                return Err(graph.op_error(
                    op,
                    Problem::Shape {
                        tensor: graph.tensor_name(t),
                        shape: graph.shape(t),
                        why: format!(
                            "its options and input give [C, H, W] = {:?} instead of {file:?}",
                            model.shape(id)
                        ),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// `[top, left, bottom, right]` padding as TFLite computes it for `padding` mode.
fn window_padding(
    padding: Padding,
    input: [usize; 3],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[u16; 4], Problem> {
    let axis = |i: usize| {
        prepare::pad_axis(padding, input[i + 1], kernel[i], stride[i], dilation[i]).ok_or_else(
            || {
                Problem::Options(format!(
                    "a {}×{} window (dilation {:?}) does not fit the {}×{} input with VALID \
                     padding",
                    kernel[0], kernel[1], dilation, input[1], input[2]
                ))
            },
        )
    };
    let (_, top, bottom) = axis(0)?;
    let (_, left, right) = axis(1)?;
    let pads = [top, left, bottom, right];
    if pads.iter().any(|&p| p > usize::from(MAX_DIM)) {
        return Err(Problem::Options(format!("padding {pads:?} is too large")));
    }
    Ok(pads.map(|p| p as u16))
}

fn remap_inputs(op: &mut Op, renumber: &[u16]) {
    let r = |t: &mut u16| *t = renumber[usize::from(*t)];
    match op {
        Op::Conv2d(c) => r(&mut c.input),
        Op::DepthwiseConv2d(c) => r(&mut c.input),
        Op::Dense(d) => r(&mut d.input),
        Op::AvgPool2d(p) | Op::MaxPool2d(p) => r(&mut p.input),
        Op::Add(a) => a.inputs.iter_mut().for_each(r),
        Op::Reshape(x) => r(&mut x.input),
    }
}

/// An operator's failure: a problem with it, or an error already naming its operator.
enum Failure {
    Problem(Problem),
    Import(ImportError),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Failure::Problem(p)
    }
}

impl From<ImportError> for Failure {
    fn from(e: ImportError) -> Self {
        Failure::Import(e)
    }
}
