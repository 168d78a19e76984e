//! The zkedge side of the TensorFlow Lite Micro parity test (`check_tflm_parity.py`): imports a
//! `.tflite` model and runs zkedge's kernel on a batch of int8 inputs.
//!
//! ```text
//! zkedge-import-parity --model M.tflite --batch B.json
//!     B.json: {"inputs": [[int8, …], …]}, each input in the model's own order (NHWC for TFLite)
//!     stdout: {"logits": [[int8, …], …], "outputs": [[int8, …], …], "macs": N,
//!              "input": [scale, zero point], "output": [scale, zero point]}
//!             (outputs: the softmax where the model ends in one, else the logits)
//! zkedge-import-parity --softmax-scale S [--softmax-beta B] --batch B.json
//!     the kernel's softmax alone on each input (logits of scale S)
//! ```

use std::{path::PathBuf, process::ExitCode};

use serde::{Deserialize, Serialize};
use zkedge_kernel::{
    infer::{from_hwc, infer},
    model::{Model, Order},
    softmax::{self, SoftmaxParams},
};

#[derive(Deserialize)]
struct Batch {
    inputs: Vec<Vec<i8>>,
}

#[derive(Serialize)]
struct Results {
    logits: Vec<Vec<i8>>,
    outputs: Vec<Vec<i8>>,
    macs: usize,
    /// The input's quantisation `[scale, zero point]` as imported.
    input: (f32, i8),
    /// The quantisation of `outputs`, likewise.
    output: (f32, i8),
}

fn usage() -> String {
    "usage: zkedge-import-parity (--model M.tflite | --softmax-scale S [--softmax-beta B]) \
     --batch B.json"
        .into()
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut model, mut batch, mut scale, mut beta) = (None, None, None, 1.0f32);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(usage);
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--batch" => batch = Some(PathBuf::from(value()?)),
            "--softmax-scale" => scale = Some(value()?.parse::<f32>().map_err(|e| e.to_string())?),
            "--softmax-beta" => beta = value()?.parse::<f32>().map_err(|e| e.to_string())?,
            _ => return Err(usage()),
        }
    }
    let batch = batch.ok_or_else(usage)?;
    let text = std::fs::read_to_string(&batch).map_err(|e| format!("{}: {e}", batch.display()))?;
    let batch: Batch = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let results = match (model, scale) {
        (Some(path), None) => {
            let model = zkedge_import::read(&path, &zkedge_import::Options::default())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            run_model(&model, &batch.inputs)?
        }
        (None, Some(scale)) => {
            let p = SoftmaxParams::new(beta, scale).map_err(|e| e.to_string())?;
            let outputs = batch
                .inputs
                .iter()
                .map(|x| softmax::softmax(&p, x).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            Results {
                logits: batch.inputs,
                outputs,
                macs: 0,
                input: (scale, 0),
                output: (1.0 / 256.0, -128),
            }
        }
        _ => return Err(usage()),
    };
    println!(
        "{}",
        serde_json::to_string(&results).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// One input's logits and final outputs.
type Outcome = (Vec<i8>, Vec<i8>);

/// Every input through the model, on all cores (the inputs are independent).
fn run_model(model: &Model, inputs: &[Vec<i8>]) -> Result<Results, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = inputs.len().div_ceil(threads).max(1);
    let pieces: Vec<Result<Vec<Outcome>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|x| one(model, x)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let mut results = Results {
        logits: Vec::new(),
        outputs: Vec::new(),
        macs: model.mac_count(),
        input: (model.file().input.scale, model.file().input.zero_point),
        output: match model.file().softmax {
            Some(s) => (s.output.scale, s.output.zero_point),
            None => {
                let q = model.quant(model.output_tensor());
                (q.scale, q.zero_point)
            }
        },
    };
    for piece in pieces {
        for (logits, output) in piece? {
            results.logits.push(logits);
            results.outputs.push(output);
        }
    }
    Ok(results)
}

/// One inference: the input reordered from the model's order to zkedge's `[C][H][W]`.
fn one(model: &Model, x: &[i8]) -> Result<Outcome, String> {
    if x.len() != model.input_len() {
        return Err(format!(
            "an input has {} values; the model takes {}",
            x.len(),
            model.input_len()
        ));
    }
    let chw = match model.file().input.order {
        Order::Chw => x.to_vec(),
        Order::Hwc => {
            let shape = model.input_shape();
            let mut chw = vec![0i8; x.len()];
            for (i, &v) in x.iter().enumerate() {
                chw[from_hwc(shape, i)] = v;
            }
            chw
        }
    };
    let trace = infer(model, &chw).map_err(|e| e.to_string())?;
    let logits = trace.output().to_vec();
    let output = match softmax::apply(model, &logits) {
        Some(s) => s.map_err(|e| e.to_string())?,
        None => logits.clone(),
    };
    Ok((logits, output))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
