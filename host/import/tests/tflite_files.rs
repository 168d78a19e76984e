//! The committed `.tflite` files (firmware/models/tflite, built by make_tflite_models.py): each
//! imports into the ops it should, or is refused with the error that names why. Their outputs
//! are checked against TensorFlow Lite Micro by check_tflm_parity.py (`cargo xtask test`).

use std::path::{Path, PathBuf};

use zkedge_import::{read, ImportError, Options, Problem};
use zkedge_kernel::model::{Op, Order};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware/models/tflite")
}

fn kinds(name: &str) -> Vec<&'static str> {
    let model = read(&models().join(name), &Options::default()).unwrap();
    model.ops().iter().map(Op::kind).collect()
}

#[test]
fn a_dense_layer_after_a_convolution_reads_channels_last() {
    let model = read(
        &models().join("conv-flatten-softmax.tflite"),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(model.file().name, "conv-flatten-softmax");
    assert_eq!(model.file().input.order, Order::Hwc);
    assert_eq!(model.input_shape(), [3, 9, 7]);
    // SHAPE → STRIDED_SLICE → PACK → RESHAPE folds into one reshape that keeps TFLite's
    // channels-last order, and the dense layer reads it.
    let ops = model.ops();
    assert_eq!(
        kinds("conv-flatten-softmax.tflite"),
        ["conv2d", "conv2d", "max_pool2d", "reshape", "dense"]
    );
    let Op::Reshape(r) = &ops[3] else {
        unreachable!()
    };
    assert_eq!(r.order, Order::Hwc);
    assert!(model.file().softmax.is_some());
}

#[test]
fn every_operator_kind_is_imported() {
    assert_eq!(
        kinds("dilated-depthwise.tflite"),
        [
            "conv2d",
            "depthwise_conv2d",
            "depthwise_conv2d",
            "avg_pool2d",
            "reshape",
            "dense"
        ]
    );
    assert_eq!(
        kinds("residual-add.tflite"),
        [
            "conv2d",
            "conv2d",
            "add",
            "conv2d",
            "add",
            "avg_pool2d",
            "dense"
        ]
    );
    // Conv1D's EXPAND_DIMS and RESHAPEs keep [C, H, W] and vanish; only the flatten moves
    // elements.
    assert_eq!(
        kinds("conv1d.tflite"),
        ["conv2d", "max_pool2d", "reshape", "dense"]
    );
    assert_eq!(kinds("dense-mlp.tflite"), ["dense", "dense", "dense"]);
}

#[test]
fn a_float_model_keeps_its_int8_core() {
    let model = read(&models().join("float-io.tflite"), &Options::default()).unwrap();
    assert_eq!(kinds("float-io.tflite"), ["conv2d", "reshape", "dense"]);
    assert!(model.file().softmax.is_some());
}

#[test]
fn mlperf_tiny_architectures_have_their_published_sizes() {
    let macs = |name: &str| {
        read(&models().join(name), &Options::default())
            .unwrap()
            .mac_count()
    };
    // 640·128 + 3·128² + 128·8 + 8·128 + 3·128² + 128·640, no padding anywhere.
    assert_eq!(macs("mlperf-ad-autoencoder.tflite"), 264_192);
    assert_eq!(macs("mlperf-streaming-ww.tflite"), 831_696);
    // The published figures count padded taps too; zkedge counts the taps it computes.
    for (name, published) in [
        ("mlperf-kws-dscnn.tflite", 2_660_000.0),
        ("mlperf-vww-mobilenet.tflite", 7_490_000.0),
        ("mlperf-resnet8.tflite", 12_500_000.0),
    ] {
        let m = macs(name) as f64;
        assert!(m < published && m > 0.9 * published, "{name}: {m}");
    }
}

#[test]
fn classes_and_names_come_from_the_options() {
    let options = Options::default()
        .name("kws")
        .classes((0..12).map(|i| format!("word {i}")).collect());
    let model = read(&models().join("mlperf-kws-dscnn.tflite"), &options).unwrap();
    assert_eq!(model.file().name, "kws");
    assert_eq!(model.classes().len(), 12);
    let wrong = Options::default().classes(vec!["a".into()]);
    assert!(matches!(
        read(&models().join("mlperf-kws-dscnn.tflite"), &wrong),
        Err(ImportError::Model { .. })
    ));
}

#[test]
fn refused_models_say_why() {
    let refused = |name: &str| match read(&models().join("refused").join(name), &Options::default())
    {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e,
    };
    assert!(matches!(
        refused("two-inputs.tflite"),
        ImportError::Arity {
            what: "input",
            count: 2
        }
    ));
    assert!(matches!(refused("float.tflite"), ImportError::FloatModel));
    match refused("tanh.tflite") {
        ImportError::Unsupported { index, name } => assert_eq!((index, name.as_str()), (1, "TANH")),
        other => panic!("{other}"),
    }
    match refused("batch-2.tflite") {
        ImportError::Edge {
            problem: Problem::Shape { shape, .. },
            ..
        } => assert_eq!(shape[0], 2),
        other => panic!("{other}"),
    }
    match refused("int16-activations.tflite") {
        ImportError::Edge {
            problem: Problem::TensorType { found, .. },
            ..
        } => assert_eq!(found, "INT16"),
        other => panic!("{other}"),
    }
    // A lone softmax computes nothing to prove.
    assert!(matches!(
        read(
            &models().join("softmax-10-wide.tflite"),
            &Options::default()
        ),
        Err(ImportError::Edge { what: "output", .. })
    ));
    // Not a model the importer reads, and not a TFLite file.
    assert!(matches!(
        read(Path::new("model.onnx"), &Options::default()),
        Err(ImportError::UnknownFormat(_))
    ));
    let dir = std::env::temp_dir().join(format!("zkedge-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("fake.tflite");
    std::fs::write(&fake, b"not a flatbuffer at all").unwrap();
    assert!(matches!(
        read(&fake, &Options::default()),
        Err(ImportError::NotTflite)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The generated bindings must come from the flatc of the runtime crate's version.
#[test]
fn generated_bindings_match_the_flatbuffers_runtime() {
    let generated = include_str!("../src/tflite_generated.rs");
    let first = generated.lines().next().unwrap();
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"))
            .unwrap();
    let runtime = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"flatbuffers\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap();
    assert!(
        first.contains(&format!("flatc {runtime} ")),
        "generated by `{first}`, runtime {runtime}: run host/import/schema/regenerate.sh"
    );
}

/// Random corruptions of a real converter's file (bytes overwritten anywhere, then the file cut
/// at a random length): an error or a model, never a panic.
#[test]
fn corrupted_files_never_panic() {
    use rand::Rng;
    let (mut rng, _) = accel_conformance::test_rng("corrupted_files_never_panic");
    let good = std::fs::read(models().join("conv-flatten-softmax.tflite")).unwrap();
    let (mut refused, mut accepted) = (0, 0);
    for _ in 0..3000 {
        let mut bytes = good.clone();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = rng.gen();
        }
        if rng.gen_bool(0.2) {
            bytes.truncate(rng.gen_range(0..bytes.len()));
        }
        match zkedge_import::import(&bytes, zkedge_import::Format::Tflite, &Options::default()) {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    assert_eq!(accepted + refused, 3000);
    assert!(refused > 0);
}
