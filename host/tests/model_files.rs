//! Model files from untrusted sources: every truncation and thousands of mutations of the
//! binary form are rejected or parsed, never a panic; inconsistent JSON is rejected with the
//! layer and the field named.

use rand::{Rng, SeedableRng};
use zkedge_kernel::model::{Model, ModelError};

fn bundled() -> Model {
    Model::from_json(zkedge::bundled::MODEL_JSON).unwrap()
}

#[test]
fn binary_form_round_trips_and_json_too() {
    let m = bundled();
    assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap(), m);
    assert_eq!(Model::from_json(&m.to_json()).unwrap(), m);
}

#[test]
fn truncated_mutated_and_padded_binaries_never_panic() {
    let bytes = bundled().to_bytes();
    for len in 0..bytes.len() {
        assert!(
            Model::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len} bytes, accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        Model::from_bytes(&longer),
        Err(ModelError::TrailingBytes(1))
    );
    let seed = accel_conformance::test_seed("model_files: mutated bytes");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for _ in 0..20_000 {
        let mut b = bytes.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..b.len());
            b[i] = rng.gen();
        }
        // Either a valid model or an error; never a panic or a runaway allocation.
        let _ = Model::from_bytes(&b);
    }
    // A length prefix claiming gigabytes is refused without allocating them.
    let mut huge = b"ZKM1".to_vec();
    huge.extend([
        1, 5, b'x', b'x', b'x', b'x', b'x', 0xff, 0xff, 0xff, 0xff, 0x0f,
    ]);
    assert!(Model::from_bytes(&huge).is_err());
}

/// The bundled model in the current (version 2) JSON form, edited by `f`, and why it is refused.
fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&bundled().to_json()).unwrap();
    f(&mut v);
    match Model::from_json(&v.to_string()) {
        Ok(_) => panic!("edited model accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn inconsistent_models_name_the_layer_and_the_field() {
    let e = edit(|v| {
        v["ops"][1]["weights"].as_array_mut().unwrap().pop();
    });
    assert!(
        e.contains("op 1 (dense)") && e.contains("expected 640 weights, found 639"),
        "{e}"
    );
    let e = edit(|v| v["ops"][0]["weights"][3] = (-128).into());
    assert!(
        e.contains("op 0 (conv2d)") && e.contains("weight 3 is −128"),
        "{e}"
    );
    let e = edit(|v| v["ops"][2]["requant"][1]["multiplier"] = 5.into());
    assert!(
        e.contains("op 2 (dense)") && e.contains("multiplier of channel 1"),
        "{e}"
    );
    let e = edit(|v| v["ops"][0]["kernel"] = serde_json::json!([1, 30]));
    assert!(
        e.contains("op 0 (conv2d)") && e.contains("larger than the padded input"),
        "{e}"
    );
    let e = edit(|v| {
        v["classes"].as_array_mut().unwrap().push("third".into());
    });
    assert!(e.contains("3 class labels for 2 outputs"), "{e}");
    let e = edit(|v| v["version"] = 7.into());
    assert!(e.contains("version 7 is not supported"), "{e}");
    let e = edit(|v| v["ops"][0]["type"] = "pool".into());
    assert!(e.contains("not a zkedge JSON model"), "{e}");
    let e = edit(|v| v["ops"][1]["bias"][0] = i64::from(i32::MAX).into());
    assert!(
        e.contains("op 1 (dense)") && e.contains("beyond int32"),
        "{e}"
    );
    let e = edit(|v| v["input"]["shape"] = serde_json::json!([1, 0, 24]));
    assert!(e.contains("input") && e.contains("height is 0"), "{e}");
    let e = edit(|v| v["ops"][1]["input"] = 2.into());
    assert!(
        e.contains("op 1 (dense)") && e.contains("reads tensor 2, but only tensors 0..2"),
        "{e}"
    );
    let e = edit(|v| v["ops"][0]["clamp"] = serde_json::json!({"min": 5, "max": 4}));
    assert!(
        e.contains("op 0 (conv2d)") && e.contains("range [5, 4] is empty"),
        "{e}"
    );
    let e = edit(|v| {
        v["ops"].as_array_mut().unwrap().push(serde_json::json!({
            "type": "reshape", "input": 3, "shape": [3, 1, 1], "order": "hwc"
        }))
    });
    assert!(
        e.contains("op 3 (reshape)") && e.contains("reshape of 2 elements into 3"),
        "{e}"
    );
    let e = edit(|v| {
        v["ops"].as_array_mut().unwrap().push(serde_json::json!({
            "type": "add", "inputs": [3, 2],
            "input_requant": [{"multiplier": 1073741824, "shift": 0},
                              {"multiplier": 1073741824, "shift": 0}],
            "output_requant": {"multiplier": 1073741824, "shift": -20},
            "output": {"scale": 0.1, "zero_point": 0},
            "clamp": {"min": -128, "max": 127}
        }))
    });
    assert!(
        e.contains("op 3 (add)") && e.contains("no broadcasting"),
        "{e}"
    );
    let e = edit(|v| v["input"]["scale"] = 0.0.into());
    assert!(
        e.contains("input") && e.contains("scale 0 is not a positive"),
        "{e}"
    );
}
