//! The CI-sized scaling run: `zkedge bench-models` on the MLPerf Tiny anomaly-detection
//! autoencoder (264 k MACs, random int8 weights) with the zkedge prover — setup, prove and
//! verify as child processes, as the full run (`cargo run --release -p zkedge -- bench-models`)
//! does for all five architectures. Its proof is then checked again with the key derived from
//! the model (not the keys folder's word for it), and its logits against `zkedge infer`.

mod common;

use common::{path, zkedge};

#[test]
fn the_autoencoder_lays_out_at_k12_proves_and_verifies() {
    let dir = std::env::temp_dir().join(format!("zkedge-scaling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _, err) = zkedge(&[
        "bench-models",
        "--models",
        "anomaly-detection",
        "--provers",
        "zkedge",
        "--out",
        path(&dir),
    ]);
    assert_eq!(code, 0, "bench-models failed: {err}");

    // The packed layout's figure for this model: k = 12 (one MAC a row needed k = 19).
    let csv = std::fs::read_to_string(dir.join("report.csv")).unwrap();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.starts_with("anomaly-detection,") && l.contains(",zkedge,"))
        .unwrap_or_else(|| panic!("no zkedge row in the report:\n{csv}"))
        .split(',')
        .collect();
    assert_eq!(row[1], "264192", "MACs: {row:?}");
    assert_eq!(row[2], "12", "k: {row:?}");
    let proof_bytes: usize = row[15].parse().unwrap();
    assert!(proof_bytes > 0, "{row:?}");

    let m = dir.join("anomaly-detection");
    let (model, input, keys, proof) = (
        m.join("model.zkm"),
        m.join("input.json"),
        m.join("keys"),
        m.join("zkedge.0.zkp"),
    );
    let (code, verified, err) = zkedge(&[
        "verify",
        "--keys",
        path(&keys),
        "--proof",
        path(&proof),
        "--model",
        path(&model),
        "--allow-insecure-dev-srs",
    ]);
    assert_eq!(code, 0, "verify --model failed: {err}");
    let (code, inferred, err) =
        zkedge(&["infer", "--model", path(&model), "--input", path(&input)]);
    assert_eq!(code, 0, "{err}");
    let logits = |s: &str| -> String {
        let at = s
            .find("logits [")
            .unwrap_or_else(|| panic!("no logits in {s}"));
        s[at..s[at..].find(']').unwrap() + at + 1].to_string()
    };
    assert_eq!(logits(&verified), logits(&inferred));
    let _ = std::fs::remove_dir_all(&dir);
}
