//! The `zkedge` binary end to end on the bundled model: setup, prove, verify; a damaged proof
//! or an edited output makes `verify` exit 1.

mod common;

use common::{path, zkedge};

use std::{path::Path, process::Command};

use zkedge::proof::ProofFile;

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
    // A test-set file is a batch: its labels are skipped, every input inferred.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware/models/italy-power-demand.samples.json");
    let (code, out, err) = zkedge(&[
        "infer",
        "--model",
        path(&model),
        "--batch",
        path(&samples),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let set: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&samples).unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["outputs"].as_array().unwrap().len(),
        set["inputs"].as_array().unwrap().len()
    );

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
    // `prove` reads vk.bin (`verify` reads the bundle, verifier.zkv, instead).
    let input = dir.join("input.json");
    std::fs::write(&input, format!("{{\"input\": {:?}}}", [1i8; 24])).unwrap();
    let (code, _, err) = zkedge(&[
        "prove",
        "--model",
        path(&model),
        "--keys",
        path(&keys),
        "--input",
        path(&input),
        "--out",
        path(&dir.join("p.zkp")),
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("verifying key") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_hashed_input_is_committed_and_matched_a_public_one_shown() {
    let dir = std::env::temp_dir().join(format!("zkedge-cli-vis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    let input = dir.join("input.json");
    let values: Vec<String> = (0..24).map(|i| format!("{}", i % 5 - 2)).collect();
    std::fs::write(&input, format!("{{\"values\": [{}]}}", values.join(","))).unwrap();
    let dev = "--allow-insecure-dev-srs";

    // Hashed: the sensor's commitment (input + salt) is the one the proof makes.
    let keys = dir.join("hashed");
    let (code, out, err) = zkedge(&[
        "setup",
        "--model",
        path(&model),
        "--out",
        path(&keys),
        "--input-visibility",
        "hashed",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("input hashed"), "{out}");
    let salt = "0b00000000000000000000000000000000000000000000000000000000000000";
    let (code, out, err) = zkedge(&[
        "commit",
        "--model",
        path(&model),
        "--input",
        path(&input),
        "--salt",
        salt,
    ]);
    assert_eq!(code, 0, "{err}");
    let commitment = out
        .trim()
        .strip_prefix("commitment ")
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let proof = dir.join("hashed.zkp");
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
        "--salt",
        salt,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&commitment), "{out}");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--keys",
            path(&keys),
            "--proof",
            path(&proof),
            dev,
        ];
        args.extend_from_slice(extra);
        zkedge(&args)
    };
    let (code, out, err) = verify(&["--commitment", &commitment]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("Poseidon commitment {commitment}")),
        "{out}"
    );
    // Another salt is another commitment: refused.
    let (_, other, _) = zkedge(&[
        "commit",
        "--model",
        path(&model),
        "--input",
        path(&input),
        "--salt",
        "0c00000000000000000000000000000000000000000000000000000000000000",
    ]);
    let other = other
        .trim()
        .strip_prefix("commitment ")
        .unwrap()
        .to_string();
    assert_ne!(other, commitment);
    let (code, _, err) = verify(&["--commitment", &other]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("commits to another input"), "{err}");
    // A salt that is not a canonical scalar is refused.
    let (code, _, err) = zkedge(&[
        "commit",
        "--model",
        path(&model),
        "--input",
        path(&input),
        "--salt",
        &"ff".repeat(32),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("canonical"), "{err}");

    // Public: verify shows the input.
    let keys = dir.join("public");
    let (code, _, err) = zkedge(&[
        "setup",
        "--model",
        path(&model),
        "--out",
        path(&keys),
        "--input-visibility",
        "public",
    ]);
    assert_eq!(code, 0, "{err}");
    let proof = dir.join("public.zkp");
    let (code, _, err) = zkedge(&[
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
    let (code, out, err) = zkedge(&[
        "verify",
        "--keys",
        path(&keys),
        "--proof",
        path(&proof),
        dev,
    ]);
    assert_eq!(code, 0, "{err}");
    let file = ProofFile::from_bytes(&std::fs::read(&proof).unwrap()).unwrap();
    let zkedge::proof::Revealed::Input(x) = &file.input else {
        panic!("a public input is in the proof file");
    };
    assert!(out.contains(&format!("input: public, int8 {x:?}")), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hashed_weights_are_named_by_their_hash_and_pinned() {
    let dir = std::env::temp_dir().join(format!("zkedge-cli-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    // The same model with one weight changed: other weights, the same architecture.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let w = &mut json["layers"][0]["weights"][0];
    *w = serde_json::json!(if w.as_i64() == Some(5) { 6 } else { 5 });
    let other = dir.join("other.json");
    std::fs::write(&other, json.to_string()).unwrap();
    let input = dir.join("input.json");
    let values: Vec<String> = (0..24).map(|i| format!("{}", i % 7 - 3)).collect();
    std::fs::write(&input, format!("{{\"values\": [{}]}}", values.join(","))).unwrap();
    let hash_of = |out: &str| -> String {
        let at = out.find("weights hash ").unwrap_or_else(|| panic!("{out}"));
        out[at + 13..at + 13 + 64].to_string()
    };

    let keys = dir.join("keys");
    let (code, out, err) = zkedge(&[
        "setup",
        "--model",
        path(&model),
        "--out",
        path(&keys),
        "--weights",
        "hashed",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("weights hashed"), "{out}");
    let published = hash_of(&out);
    // The owner's `vk-hash` gives the same weights hash and key; other weights another hash
    // and the same key.
    let vk_hash = |m: &Path| {
        let (code, out, err) = zkedge(&["vk-hash", "--model", path(m), "--weights", "hashed"]);
        assert_eq!(code, 0, "{err}");
        let key = out
            .lines()
            .find_map(|l| l.strip_prefix("verifying key "))
            .unwrap_or_else(|| panic!("{out}"))[..64]
            .to_string();
        (hash_of(&out), key)
    };
    let (ours, key) = vk_hash(&model);
    assert_eq!(ours, published);
    let (theirs, their_key) = vk_hash(&other);
    assert_ne!(theirs, published);
    assert_eq!(their_key, key);

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
    assert!(out.contains(&published), "{out}");
    // Proving with another model than the keys' is refused, even with the same architecture.
    let (code, _, err) = zkedge(&[
        "prove",
        "--model",
        path(&other),
        "--keys",
        path(&keys),
        "--input",
        path(&input),
        "--out",
        path(&dir.join("q.zkp")),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not the model"), "{err}");

    let bundle = keys.join("verifier.zkv");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--bundle",
            path(&bundle),
            "--proof",
            path(&proof),
            "--allow-insecure-dev-srs",
        ];
        args.extend_from_slice(extra);
        zkedge(&args)
    };
    let (code, out, err) = verify(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("Poseidon hash {published}; NOT checked")),
        "{out}"
    );
    let (code, out, err) = verify(&["--weights-hash", &published]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the one given (--weights-hash)"), "{out}");
    let (code, _, err) = verify(&["--weights-hash", &theirs]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("made with other weights"), "{err}");
    // The architecture is what `--model` pins: the other weights' file derives the same key.
    let srs = keys.join("params.srs");
    let (code, out, err) = verify(&["--model", path(&other), "--srs", path(&srs)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("derived here"), "{out}");
}
