//! `zkedge import` and `--model M.tflite`: the imported model, inputs in the model's own
//! (channels-last) order, nested or flat, and refusals that name the operator.

use std::{path::Path, process::Command};

use zkedge_kernel::{
    infer::{from_hwc, infer},
    softmax,
};

fn zkedge(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkedge"))
        .args(args)
        .output()
        .expect("zkedge runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn tflite(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware/models/tflite")
        .join(name)
}

#[test]
fn import_then_infer_reads_inputs_channels_last() {
    let dir = std::env::temp_dir().join(format!("zkedge-import-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = tflite("conv-flatten-softmax.tflite");
    let zkm = dir.join("m.zkm");
    let classes: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    let (code, out, err) = zkedge(&[
        "import",
        path(&model),
        "--out",
        path(&zkm),
        "--classes",
        &classes.join(","),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported \"conv-flatten-softmax\""), "{out}");

    // A 9×7×3 image, channels-last: nested [[[r, g, b], …], …] and the same values flat.
    let hwc: Vec<i8> = (0..189)
        .map(|i| ((i * 37 + 11) % 256 - 128) as i8)
        .collect();
    let nested: Vec<Vec<Vec<i8>>> = hwc
        .chunks(21)
        .map(|row| row.chunks(3).map(<[i8]>::to_vec).collect())
        .collect();
    let (nested_file, flat_file) = (dir.join("nested.json"), dir.join("flat.json"));
    std::fs::write(
        &nested_file,
        serde_json::json!({ "input": nested }).to_string(),
    )
    .unwrap();
    std::fs::write(&flat_file, serde_json::json!({ "input": hwc }).to_string()).unwrap();
    let infer_json = |model: &Path, input: &Path| {
        let (code, out, err) = zkedge(&[
            "infer",
            "--model",
            path(model),
            "--input",
            path(input),
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let from_tflite = infer_json(&model, &nested_file);
    assert_eq!(from_tflite, infer_json(&zkm, &flat_file));

    // The path TFLM parity checks: the importer, the input reordered to [C][H][W], the kernel,
    // TFLite Micro's softmax.
    let imported = zkedge_import::read(&model, &zkedge_import::Options::default()).unwrap();
    let mut chw = vec![0i8; hwc.len()];
    for (i, &v) in hwc.iter().enumerate() {
        chw[from_hwc(imported.input_shape(), i)] = v;
    }
    let trace = infer(&imported, &chw).unwrap();
    let probabilities = softmax::apply(&imported, trace.output()).unwrap().unwrap();
    assert_eq!(
        from_tflite["outputs"][0],
        serde_json::json!(trace.output().to_vec())
    );
    assert_eq!(from_tflite["softmax"][0], serde_json::json!(probabilities));
    assert_eq!(from_tflite["classes"][0], serde_json::json!(trace.class()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unsupported_operator_is_named() {
    let (code, _, err) = zkedge(&[
        "import",
        path(&tflite("refused/tanh.tflite")),
        "--out",
        "/nonexistent/never-written.zkm",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("operator 1 (TANH) is not supported"), "{err}");
    let (code, _, err) = zkedge(&[
        "infer",
        "--model",
        path(&tflite("refused/float.tflite")),
        "--input",
        "/nonexistent.json",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("float model"), "{err}");
}

#[test]
fn an_imported_model_is_proved_and_verified() {
    let dir = std::env::temp_dir().join(format!("zkedge-import-prove-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = tflite("dense-mlp.tflite");
    let keys = dir.join("keys");
    let (code, _, err) = zkedge(&["setup", "--model", path(&model), "--out", path(&keys)]);
    assert_eq!(code, 0, "{err}");
    let input = dir.join("in.json");
    std::fs::write(
        &input,
        r#"{"input": [1, -2, 3, 40, -50, 60, 7, 8, -90, 100, 11, 12, 13]}"#,
    )
    .unwrap();
    let proof = dir.join("p.zkp");
    let (code, out, err) = zkedge(&[
        "prove",
        "--model",
        path(&model),
        "--keys",
        path(&keys),
        "--input",
        path(&input),
        "--out",
        path(&proof),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, verified, err) = zkedge(&["verify", "--keys", path(&keys), "--proof", path(&proof)]);
    assert_eq!(code, 0, "{err}");
    assert!(verified.starts_with("valid: class"), "{verified}");
    // The proven logits are those `prove` computed.
    let logits = |s: &str| {
        s.split("logits ")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .map(str::to_string)
    };
    assert_eq!(logits(&verified), logits(&out), "{out} / {verified}");
    std::fs::remove_dir_all(&dir).unwrap();
}
