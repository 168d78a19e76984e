//! The `zkedge` binary end to end on the bundled model: setup, prove, verify; a damaged proof
//! or an edited output makes `verify` exit 1.

use std::{path::Path, process::Command};

use zkedge::proof::ProofFile;

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

#[test]
fn setup_prove_verify_and_reject_tampering() {
    let dir = std::env::temp_dir().join(format!("zkedge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    let keys = dir.join("keys");
    let (code, _, err) = zkedge(&["setup", "--model", path(&model), "--out", path(&keys)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("INSECURE"),
        "the development SRS must be announced: {err}"
    );

    let input = dir.join("input.json");
    let values: Vec<String> = (0..24)
        .map(|i| format!("{}", (i as f64 * 0.3).sin()))
        .collect();
    std::fs::write(&input, format!("{{\"values\": [{}]}}", values.join(","))).unwrap();
    let proof = dir.join("proof.zkp");
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
    assert!(out.contains("class"), "{out}");

    // The development SRS's proofs show nothing: refused, unless asked for.
    let (code, _, err) = zkedge(&["verify", "--keys", path(&keys), "--proof", path(&proof)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("insecure SRS"), "{err}");
    let dev = "--allow-insecure-dev-srs";
    let (code, out, err) = zkedge(&[
        "verify",
        "--keys",
        path(&keys),
        "--proof",
        path(&proof),
        dev,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("valid: class"), "{out}");

    let bytes = std::fs::read(&proof).unwrap();
    let damaged = dir.join("damaged.zkp");
    for i in [0, 4, 5, 40, 80, bytes.len() / 2, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        std::fs::write(&damaged, &b).unwrap();
        let (code, _, err) = zkedge(&[
            "verify",
            "--keys",
            path(&keys),
            "--proof",
            path(&damaged),
            dev,
        ]);
        assert_eq!(code, 1, "byte {i} flipped: {err}");
        assert!(err.starts_with("error: "), "one plain line: {err}");
    }

    let mut edited = ProofFile::from_bytes(&bytes).unwrap();
    edited.output[0] = edited.output[0].wrapping_add(1);
    std::fs::write(&damaged, edited.to_bytes()).unwrap();
    let (code, _, err) = zkedge(&[
        "verify",
        "--keys",
        path(&keys),
        "--proof",
        path(&damaged),
        dev,
    ]);
    assert_eq!(code, 1, "edited output accepted: {err}");

    // A proof checked against keys for another model is refused up front.
    let (code, _, err) = zkedge(&[
        "verify",
        "--keys",
        path(&dir.join("nowhere")),
        "--proof",
        path(&proof),
        dev,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("verifier.zkv"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn infer_reads_batches_and_rejects_bad_input() {
    let dir = std::env::temp_dir().join(format!("zkedge-infer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    let batch = dir.join("batch.json");
    let ok = format!(
        "{{\"inputs\": [[{}], [{}]]}}",
        vec!["5"; 24].join(","),
        vec!["-7"; 24].join(",")
    );
    std::fs::write(&batch, ok).unwrap();
    let (code, out, err) = zkedge(&[
        "infer",
        "--model",
        path(&model),
        "--batch",
        path(&batch),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outputs"].as_array().unwrap().len(), 2);

    for bad in [
        "{\"input\": [1, 2]}",
        "{\"input\": [300]}",
        "not json",
        "{\"values\": [1], \"input\": [1]}",
    ] {
        let f = dir.join("bad.json");
        std::fs::write(&f, bad).unwrap();
        let (code, _, err) = zkedge(&["infer", "--model", path(&model), "--input", path(&f)]);
        assert_eq!(code, 1, "{bad}: {err}");
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{bad}: {err}"
        );
    }
    let (code, _, err) = zkedge(&[
        "infer",
        "--model",
        path(&dir.join("missing.json")),
        "--input",
        path(&batch),
    ]);
    assert_eq!(code, 1, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Peak resident memory of `zkedge args…` in KiB, from /proc while it runs.
fn peak_kib(args: &[&str]) -> (i32, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkedge"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("zkedge runs");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        // VmHWM only grows: the last reading before exit is the peak.
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak = kib;
            }
        }
        if let Some(code) = child.try_wait().expect("wait") {
            return (code.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_64_mib_batch_is_read_in_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("zkedge-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    // As many 24-value inputs of zeros as 64 MiB holds: 1.3 million.
    let row = format!("[{}]", vec!["0"; 24].join(","));
    let n = ((64 << 20) - 20) / (row.len() + 1);
    let mut text = String::with_capacity(64 << 20);
    text.push_str("{\"inputs\": [");
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&row);
    }
    text.push_str("]}");
    let batch = dir.join("batch.json");
    std::fs::write(&batch, &text).unwrap();
    drop(text);
    let (code, kib) = peak_kib(&[
        "infer",
        "--model",
        path(&model),
        "--batch",
        path(&batch),
        "--json",
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 0);
    // Parsed as Vec<Vec<i64>> with a trace kept per input it took 1.39 GB; values are int8 as
    // they are parsed now, and traces are dropped as their outputs are taken.
    assert!(kib < 400 << 10, "peak RSS {} MiB", kib >> 10);
}

#[test]
fn malformed_keys_are_a_one_line_error_without_panic_text() {
    let dir = std::env::temp_dir().join(format!("zkedge-badkeys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    let keys = dir.join("keys");
    let (code, _, err) = zkedge(&["setup", "--model", path(&model), "--out", path(&keys)]);
    assert_eq!(code, 0, "{err}");
    // A verifying key whose domain size byte is damaged makes halo2's reader panic (a shift
    // overflow); the manifest's hash is fixed up, as a writer that wrote it so would have.
    let vk = keys.join("vk.bin");
    let mut bytes = std::fs::read(&vk).unwrap();
    bytes[2] ^= 0x7f;
    std::fs::write(&vk, &bytes).unwrap();
    let manifest = keys.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["files"]["vk.bin"] = zkedge::files::hash_hex(&bytes).into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let proof = dir.join("none.zkp");
    std::fs::write(&proof, b"ZKP1").unwrap();
    let (code, _, err) = zkedge(&["verify", "--keys", path(&keys), "--proof", path(&proof)]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("verifying key") && err.lines().count() == 1,
        "{err}"
    );
}
