//! The verified FlatBuffer as a graph: tensors, operators and what each operator is to zkedge
//! (computation, a float edge, or shape-only arithmetic that a reshape replaces).

use flatbuffers::{ForwardsUOffset, Vector};
use zkedge_kernel::model::Quant;

use super::chw;
use crate::{
    error::{ImportError, Problem},
    tflite_generated::tflite as fb,
};

/// What an operator is to zkedge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Translated into a zkedge op (or refused).
    Compute,
    /// The QUANTIZE of a float input, the DEQUANTIZE of a float output, or the final SOFTMAX.
    Edge,
    /// Integer shape arithmetic (SHAPE → STRIDED_SLICE → PACK of a Keras `Flatten`) whose only
    /// use is a RESHAPE's target shape, which the file also states statically.
    ShapeOnly,
}

/// The model's input after any QUANTIZE.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Input {
    /// The int8 tensor the first computing operator reads.
    pub tensor: usize,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Its quantisation.
    pub quant: Quant,
}

/// The SOFTMAX ending the graph.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FinalSoftmax {
    /// Its operator index.
    pub index: usize,
    /// Its beta.
    pub beta: f32,
    /// Its int8 output tensor.
    pub output: usize,
}

pub(crate) struct Graph<'a> {
    model: fb::Model<'a>,
    tensors: Vector<'a, ForwardsUOffset<fb::Tensor<'a>>>,
    ops: Vector<'a, ForwardsUOffset<fb::Operator<'a>>>,
    roles: Vec<Role>,
    /// The operator producing each tensor.
    producer: Vec<Option<usize>>,
    /// `(operator, input slot)` reading each tensor.
    consumers: Vec<Vec<(usize, usize)>>,
    pub input: Input,
    /// The int8 tensor holding the logits (before any softmax and dequantisation).
    pub logits: usize,
    pub softmax: Option<FinalSoftmax>,
}

/// A TFLite operator's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    Builtin(fb::BuiltinOperator),
    Custom,
}

fn type_name(t: fb::TensorType) -> String {
    t.variant_name()
        .map_or_else(|| format!("type {}", t.0), str::to_string)
}

impl<'a> Graph<'a> {
    pub(crate) fn new(model: fb::Model<'a>, sg: fb::SubGraph<'a>) -> Result<Self, ImportError> {
        let tensors = sg.tensors().unwrap_or_default();
        let ops = sg.operators().unwrap_or_default();
        let inputs = sg.inputs().map(|v| v.iter().collect::<Vec<_>>());
        let outputs = sg.outputs().map(|v| v.iter().collect::<Vec<_>>());
        let (inputs, outputs) = (inputs.unwrap_or_default(), outputs.unwrap_or_default());
        for (what, list) in [("input", &inputs), ("output", &outputs)] {
            if list.len() != 1 {
                return Err(ImportError::Arity {
                    what,
                    count: list.len(),
                });
            }
        }
        if !tensors.iter().any(|t| t.type_() == fb::TensorType::INT8) {
            return Err(ImportError::FloatModel);
        }
        let mut producer = vec![None; tensors.len()];
        let mut consumers = vec![Vec::new(); tensors.len()];
        let mut graph = Graph {
            model,
            tensors,
            ops,
            roles: vec![Role::Compute; ops.len()],
            producer: Vec::new(),
            consumers: Vec::new(),
            input: Input {
                tensor: 0,
                shape: [1, 1, 1],
                quant: Quant {
                    scale: 1.0,
                    zero_point: 0,
                },
            },
            logits: 0,
            softmax: None,
        };
        for i in 0..ops.len() {
            for (slot, t) in graph.op_inputs(i).into_iter().enumerate() {
                if let Some(t) = graph.checked(i, t)? {
                    consumers[t].push((i, slot));
                }
            }
            for t in graph.op_outputs(i) {
                if let Some(t) = graph.checked(i, t)? {
                    producer[t] = Some(i);
                }
            }
        }
        graph.producer = producer;
        graph.consumers = consumers;
        let input = graph.checked_edge("input", inputs[0])?;
        let output = graph.checked_edge("output", outputs[0])?;
        graph.find_input(input)?;
        graph.find_output(output)?;
        graph.find_shape_only()?;
        Ok(graph)
    }

    /// A tensor index of operator `op`, or `None` for an omitted optional operand (−1).
    fn checked(&self, op: usize, t: i32) -> Result<Option<usize>, ImportError> {
        if t == -1 {
            return Ok(None);
        }
        match usize::try_from(t) {
            Ok(t) if t < self.tensors.len() => Ok(Some(t)),
            _ => Err(self.op_error(
                op,
                Problem::Options(format!(
                    "names tensor {t}; the graph has {}",
                    self.tensors.len()
                )),
            )),
        }
    }

    fn checked_edge(&self, what: &'static str, t: i32) -> Result<usize, ImportError> {
        match usize::try_from(t) {
            Ok(t) if t < self.tensors.len() => Ok(t),
            _ => Err(ImportError::Edge {
                what,
                problem: Problem::Options(format!("names tensor {t}, which does not exist")),
            }),
        }
    }

    /// The int8 input: the graph's input, or the output of the QUANTIZE that reads a float one.
    fn find_input(&mut self, input: usize) -> Result<(), ImportError> {
        let edge = |problem| ImportError::Edge {
            what: "input",
            problem,
        };
        let mut tensor = input;
        let t = self.tensor(input);
        if t.type_() == fb::TensorType::FLOAT32 {
            let quantize = match self.consumers[input].as_slice() {
                &[(op, 0)] if self.code(op) == Code::Builtin(fb::BuiltinOperator::QUANTIZE) => op,
                _ => {
                    return Err(edge(Problem::Operand {
                        tensor: self.tensor_name(input),
                        why: "a float input must be read by exactly one QUANTIZE (to int8) and \
                              nothing else",
                    }))
                }
            };
            let out = self.op_outputs(quantize);
            tensor = match out.as_slice() {
                &[o] => self.checked(quantize, o)?.unwrap_or(input),
                _ => input,
            };
            self.roles[quantize] = Role::Edge;
        }
        let shape = chw(&self.tensor_name(tensor), &self.shape(tensor)).map_err(edge)?;
        let quant = self.quant(tensor).map_err(edge)?;
        self.input = Input {
            tensor,
            shape,
            quant,
        };
        Ok(())
    }

    /// The logits: the graph's output, or the input of a final DEQUANTIZE; and a SOFTMAX
    /// producing them, set aside.
    fn find_output(&mut self, output: usize) -> Result<(), ImportError> {
        let mut logits = output;
        if self.tensor(output).type_() == fb::TensorType::FLOAT32 {
            match self.producer[output] {
                Some(op) if self.code(op) == Code::Builtin(fb::BuiltinOperator::DEQUANTIZE) => {
                    self.roles[op] = Role::Edge;
                    logits = self.operand(op, 0)?.ok_or_else(|| {
                        self.op_error(op, Problem::Options("DEQUANTIZE has no input".into()))
                    })?;
                }
                _ => {
                    return Err(ImportError::Edge {
                        what: "output",
                        problem: Problem::TensorType {
                            tensor: self.tensor_name(output),
                            found: "FLOAT32".into(),
                            why: "a float output must come from a DEQUANTIZE of the int8 result",
                        },
                    })
                }
            }
        }
        if let Some(op) = self.producer[logits] {
            if self.code(op) == Code::Builtin(fb::BuiltinOperator::SOFTMAX) {
                let beta = self.op(op).builtin_options_as_softmax_options();
                let beta = beta.map_or(1.0, |o| o.beta());
                let input = self.operand(op, 0)?.ok_or_else(|| {
                    self.op_error(op, Problem::Options("SOFTMAX has no input".into()))
                })?;
                self.roles[op] = Role::Edge;
                self.softmax = Some(FinalSoftmax {
                    index: op,
                    beta,
                    output: logits,
                });
                logits = input;
            }
        }
        self.logits = logits;
        Ok(())
    }

    /// Marks SHAPE/STRIDED_SLICE/PACK on integer tensors as shape-only and checks that nothing
    /// but a RESHAPE's shape operand (or more shape arithmetic) reads their results.
    fn find_shape_only(&mut self) -> Result<(), ImportError> {
        use fb::BuiltinOperator as B;
        let integer = |t: fb::TensorType| t == fb::TensorType::INT32 || t == fb::TensorType::INT64;
        for i in 0..self.op_count() {
            let shape_op = matches!(
                self.code(i),
                Code::Builtin(B::SHAPE | B::STRIDED_SLICE | B::PACK)
            );
            let outs = self.op_outputs(i);
            if shape_op
                && !outs.is_empty()
                && outs.iter().all(|&o| {
                    usize::try_from(o)
                        .ok()
                        .filter(|&o| o < self.tensors.len())
                        .is_some_and(|o| integer(self.tensor(o).type_()))
                })
            {
                self.roles[i] = Role::ShapeOnly;
            }
        }
        for i in 0..self.op_count() {
            if self.roles[i] != Role::ShapeOnly {
                continue;
            }
            let misuse = |why| Err(self.op_error(i, Problem::Options(why)));
            for o in self.op_outputs(i) {
                let o = o as usize; // checked in `find_shape_only`'s first loop
                if o == self.logits {
                    return misuse("its integer result is the graph's output".into());
                }
                for &(reader, slot) in &self.consumers[o] {
                    let ok = self.roles[reader] == Role::ShapeOnly
                        || (slot == 1
                            && self.code(reader) == Code::Builtin(B::RESHAPE)
                            && self.roles[reader] == Role::Compute);
                    if !ok {
                        return misuse(format!(
                            "its integer result feeds operator {reader} ({}); zkedge only folds \
                             shape arithmetic that feeds a RESHAPE's target shape",
                            self.op_name(reader)
                        ));
                    }
                }
            }
            if self.code(i) != Code::Builtin(B::SHAPE) {
                for t in self.op_inputs(i) {
                    let t = self.checked(i, t)?;
                    let from_shape_op = t.and_then(|t| self.producer[t]).map(|p| self.roles[p]);
                    let constant = t.is_some_and(|t| self.data(t).is_some());
                    if !(constant || from_shape_op == Some(Role::ShapeOnly)) {
                        return misuse(
                            "its operands must be constants or other shape arithmetic".into(),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn op_count(&self) -> usize {
        self.ops.len()
    }

    pub(crate) fn role(&self, op: usize) -> Role {
        self.roles[op]
    }

    pub(crate) fn op(&self, op: usize) -> fb::Operator<'a> {
        self.ops.get(op)
    }

    pub(crate) fn code(&self, op: usize) -> Code {
        let index = self.op(op).opcode_index() as usize;
        let codes = self.model.operator_codes().unwrap_or_default();
        if index >= codes.len() {
            return Code::Custom;
        }
        let c = codes.get(index);
        // TFLite's GetBuiltinCode: the larger of the deprecated 8-bit field and the new one.
        let code = i32::from(c.deprecated_builtin_code()).max(c.builtin_code().0);
        if code == fb::BuiltinOperator::CUSTOM.0 {
            Code::Custom
        } else {
            Code::Builtin(fb::BuiltinOperator(code))
        }
    }

    pub(crate) fn op_name(&self, op: usize) -> String {
        match self.code(op) {
            Code::Builtin(b) => b
                .variant_name()
                .map_or_else(|| format!("builtin operator {}", b.0), str::to_string),
            Code::Custom => {
                let index = self.op(op).opcode_index() as usize;
                let codes = self.model.operator_codes().unwrap_or_default();
                let name = (index < codes.len())
                    .then(|| codes.get(index).custom_code())
                    .flatten();
                format!("custom operator {:?}", name.unwrap_or("?"))
            }
        }
    }

    pub(crate) fn op_error(&self, op: usize, problem: Problem) -> ImportError {
        ImportError::Op {
            index: op,
            name: self.op_name(op),
            problem,
        }
    }

    pub(crate) fn op_inputs(&self, op: usize) -> Vec<i32> {
        self.op(op)
            .inputs()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    pub(crate) fn op_outputs(&self, op: usize) -> Vec<i32> {
        self.op(op)
            .outputs()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// Operand `slot` of `op` as a tensor index, or `None` when omitted.
    pub(crate) fn operand(&self, op: usize, slot: usize) -> Result<Option<usize>, ImportError> {
        match self.op_inputs(op).get(slot) {
            Some(&t) => self.checked(op, t),
            None => Ok(None),
        }
    }

    /// The single output of `op`.
    pub(crate) fn output(&self, op: usize) -> Result<usize, ImportError> {
        match self.op_outputs(op).as_slice() {
            &[t] => self
                .checked(op, t)?
                .ok_or_else(|| self.op_error(op, Problem::Options("its output is omitted".into()))),
            other => Err(self.op_error(
                op,
                Problem::Options(format!("has {} outputs; expected one", other.len())),
            )),
        }
    }

    /// Tensor `t` (an index checked by the caller).
    pub(crate) fn tensor(&self, t: usize) -> fb::Tensor<'a> {
        self.tensors.get(t)
    }

    pub(crate) fn tensor_name(&self, t: usize) -> String {
        self.tensor(t).name().unwrap_or("?").to_string()
    }

    pub(crate) fn shape(&self, t: usize) -> Vec<i32> {
        self.tensor(t)
            .shape()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// The tensor's constant data, if the file holds any.
    pub(crate) fn data(&self, t: usize) -> Option<&'a [u8]> {
        let buffer = self.tensor(t).buffer() as usize;
        let buffers = self.model.buffers()?;
        if buffer == 0 || buffer >= buffers.len() {
            return None;
        }
        buffers.get(buffer).data().map(|d| d.bytes())
    }

    /// The per-tensor quantisation of an int8 activation tensor.
    pub(crate) fn quant(&self, t: usize) -> Result<Quant, Problem> {
        let tensor = self.tensor(t);
        let name = self.tensor_name(t);
        match tensor.type_() {
            fb::TensorType::INT8 => {}
            fb::TensorType::INT16 => {
                return Err(Problem::TensorType {
                    tensor: name,
                    found: "INT16".into(),
                    why: "int16 activations (16x8 quantisation) are not supported; quantise \
                          activations to int8",
                })
            }
            fb::TensorType::FLOAT32 => {
                return Err(Problem::TensorType {
                    tensor: name,
                    found: "FLOAT32".into(),
                    why: "float activations inside the graph (dynamic-range or partial \
                          quantisation); zkedge needs full-integer int8 quantisation",
                })
            }
            other => {
                return Err(Problem::TensorType {
                    tensor: name,
                    found: type_name(other),
                    why: "zkedge computes with int8 activations",
                })
            }
        }
        let q = tensor.quantization();
        let scales: Vec<f32> = q
            .and_then(|q| q.scale())
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let zero_points: Vec<i64> = q
            .and_then(|q| q.zero_point())
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let bad = |why: String| Problem::Quantization {
            tensor: name.clone(),
            why,
        };
        if scales.len() != 1 || zero_points.len() != 1 {
            return Err(bad(format!(
                "an activation needs one scale and one zero point; it has {} and {}",
                scales.len(),
                zero_points.len()
            )));
        }
        let (scale, zp) = (scales[0], zero_points[0]);
        if !(scale.is_finite() && scale > 0.0) {
            return Err(bad(format!(
                "scale {scale} is not a positive finite number"
            )));
        }
        let zero_point = i8::try_from(zp)
            .map_err(|_| bad(format!("zero point {zp} is outside the int8 range")))?;
        Ok(Quant { scale, zero_point })
    }
}
