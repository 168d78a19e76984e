//! Models and inputs from files.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use zkedge_kernel::{
    infer::from_hwc,
    model::{Model, Order, MAX_FILE_BYTES},
};

use crate::files::read_bounded;

/// Reads a model: `.zkm` is binary, `.tflite` and `.onnx` are imported (`zkedge import`, named
/// after the file), anything else JSON.
pub fn model(path: &Path) -> Result<Model> {
    if zkedge_import::is_importable(path) {
        return zkedge_import::read(path, &zkedge_import::Options::default())
            .with_context(|| format!("cannot import {}", path.display()));
    }
    let bytes = read_bounded(path, MAX_FILE_BYTES as u64)?;
    let model = if path.extension().is_some_and(|e| e == "zkm") {
        Model::from_bytes(&bytes)?
    } else {
        let text = std::str::from_utf8(&bytes).context("a JSON model must be UTF-8")?;
        Model::from_json(text)?
    };
    Ok(model)
}

/// A list of values, flat or nested (`[[[r, g, b], …], …]` for an image in HWC order).
#[derive(Deserialize)]
#[serde(untagged)]
enum Nested<T> {
    Value(T),
    List(Vec<Nested<T>>),
}

impl<T: Copy> Nested<T> {
    /// The values in the order they are written (serde_json bounds the nesting depth).
    fn flatten(&self, out: &mut Vec<T>) {
        match self {
            Nested::Value(v) => out.push(*v),
            Nested::List(items) => items.iter().for_each(|i| i.flatten(out)),
        }
    }

    fn flat(&self) -> Vec<T> {
        let mut out = Vec::new();
        self.flatten(&mut out);
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    input: Option<Nested<i64>>,
    values: Option<Nested<f64>>,
}

#[derive(Deserialize)]
struct BatchFile {
    inputs: Vec<Nested<i64>>,
}

/// Values given in the model's own order (`input.order`: channels-last for an imported TFLite
/// model) in zkedge's `[C][H][W]` order.
fn to_chw(model: &Model, values: Vec<i8>) -> Vec<i8> {
    match model.file().input.order {
        Order::Chw => values,
        Order::Hwc => {
            let shape = model.input_shape();
            let mut chw = vec![0i8; values.len()];
            for (i, v) in values.into_iter().enumerate() {
                chw[from_hwc(shape, i)] = v;
            }
            chw
        }
    }
}

const MAX_INPUT_FILE: u64 = 64 << 20;

/// One int8 input from `{"input": [...]}` (int8) or `{"values": [...]}` (real values, quantised
/// with the model's input scale and zero point, rounding half away from zero), flat or nested,
/// in the model's own order; returned in `[C][H][W]` order.
pub fn input(path: &Path, model: &Model) -> Result<Vec<i8>> {
    let bytes = read_bounded(path, MAX_INPUT_FILE)?;
    let file: InputFile = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: expected {{\"input\": [int8…]}} or {{\"values\": [real…]}}",
            path.display()
        )
    })?;
    let q = match (file.input, file.values) {
        (Some(ints), None) => int8s(&ints.flat()).with_context(|| path.display().to_string())?,
        (None, Some(values)) => {
            let spec = &model.file().input;
            values
                .flat()
                .iter()
                .map(|v| {
                    if !v.is_finite() {
                        bail!("{}: input value {v} is not a finite number", path.display());
                    }
                    let q = (v / f64::from(spec.scale)).round() + f64::from(spec.zero_point);
                    Ok(q.clamp(-128.0, 127.0) as i8)
                })
                .collect::<Result<_>>()?
        }
        _ => bail!(
            "{}: give exactly one of \"input\" (int8) or \"values\" (real)",
            path.display()
        ),
    };
    if q.len() != model.input_len() {
        bail!(
            "{}: the model takes {} input values; the file has {}",
            path.display(),
            model.input_len(),
            q.len()
        );
    }
    Ok(to_chw(model, q))
}

/// Many int8 inputs from `{"inputs": [[...], ...]}`, each as for [`input`].
pub fn batch(path: &Path, model: &Model) -> Result<Vec<Vec<i8>>> {
    let bytes = read_bounded(path, MAX_INPUT_FILE)?;
    let file: BatchFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: expected {{\"inputs\": [[int8…], …]}}", path.display()))?;
    file.inputs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let q = int8s(&v.flat()).with_context(|| format!("{}: input {i}", path.display()))?;
            if q.len() != model.input_len() {
                bail!(
                    "{}: input {i} has {} values; the model takes {}",
                    path.display(),
                    q.len(),
                    model.input_len()
                );
            }
            Ok(to_chw(model, q))
        })
        .collect()
}

fn int8s(v: &[i64]) -> Result<Vec<i8>> {
    v.iter()
        .enumerate()
        .map(|(i, &x)| {
            i8::try_from(x).with_context(|| format!("value {i} is {x}, outside int8 [-128, 127]"))
        })
        .collect()
}
