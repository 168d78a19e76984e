//! The model format: version 1 files still load, both forms round-trip, and every op kind
//! validates and runs.

use rand::SeedableRng;
use zkedge_kernel::{
    infer::{from_hwc, infer, to_hwc},
    model::{
        synthetic::{self, Spec},
        Model, ModelError, Op, Quant, Softmax,
    },
    softmax,
};

const BUNDLED: [&str; 2] = [
    include_str!("../../models/italy-power-demand.json"),
    include_str!("../../models/digits-cnn.json"),
];

fn every_op(rng: &mut rand::rngs::StdRng) -> Model {
    synthetic::model(
        rng,
        [2, 9, 8],
        &[
            Spec::Conv {
                out: 4,
                kernel: [3, 3],
                stride: [1, 1],
                padding: [1, 1, 1, 1],
            },
            Spec::Depthwise {
                multiplier: 2,
                kernel: [3, 3],
                stride: [2, 2],
                padding: [1, 0, 1, 1],
            },
            Spec::Conv {
                out: 8,
                kernel: [1, 1],
                stride: [1, 1],
                padding: [0; 4],
            },
            Spec::Add { back: 1 },
            Spec::DilatedConv {
                out: 8,
                kernel: [2, 2],
                dilation: [2, 1],
            },
            Spec::AvgPool {
                kernel: [2, 2],
                stride: [1, 1],
                padding: [0, 0, 1, 1],
            },
            Spec::MaxPool {
                kernel: [2, 3],
                stride: [2, 1],
                padding: [1, 1, 0, 0],
            },
            Spec::Flatten,
            Spec::Dense { out: 5 },
        ],
    )
}

#[test]
fn version_1_files_load_and_round_trip_as_version_2() {
    for text in BUNDLED {
        let model = Model::from_json(text).unwrap();
        assert_eq!(model.file().version, 2);
        assert!(model
            .ops()
            .iter()
            .all(|op| matches!(op, Op::Conv2d(_) | Op::Dense(_))));
        assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model);
        assert_eq!(Model::from_json(&model.to_json()).unwrap(), model);
    }
}

#[test]
fn every_op_round_trips_and_runs() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let model = every_op(&mut rng);
    assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model);
    assert_eq!(Model::from_json(&model.to_json()).unwrap(), model);
    let input = synthetic::input(&mut rng, &model);
    let trace = infer(&model, &input).unwrap();
    assert_eq!(trace.ops.len(), model.ops().len());
    for (i, op) in trace.ops.iter().enumerate() {
        assert_eq!(op.out.len(), model.len(i + 1));
    }
    assert_eq!(trace.output().len(), 5);
}

#[test]
fn truncated_files_are_refused_without_panicking() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let bytes = every_op(&mut rng).to_bytes();
    for cut in 0..bytes.len() {
        assert!(Model::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn an_op_reading_a_later_tensor_is_refused() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut file = every_op(&mut rng).file().clone();
    if let Op::Conv2d(c) = &mut file.ops[0] {
        c.input = 1;
    }
    assert!(matches!(
        Model::new(file),
        Err(ModelError::Op { index: 0, .. })
    ));
}

#[test]
fn hwc_and_chw_indices_are_inverse() {
    let s = [3, 4, 5];
    for i in 0..60 {
        assert_eq!(from_hwc(s, to_hwc(s, i)), i);
    }
    // Channel 1 of pixel (0, 0) is the second value in channels-last order.
    assert_eq!(to_hwc(s, 20), 1);
}

#[test]
fn mlperf_tiny_architectures_have_their_sizes() {
    use zkedge_kernel::model::synthetic::Arch;
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let macs: Vec<usize> = Arch::ALL
        .iter()
        .map(|a| a.model(&mut rng).mac_count())
        .collect();
    // 0.26 M, ~0.8 M, 2.66 M, 7.5 M, 12.5 M multiply-accumulates (padded taps, which
    // contribute nothing, are not counted here: ResNet-8 has 11.6 M without them).
    let expected = [
        (0.25, 0.27),
        (0.75, 0.9),
        (2.5, 2.8),
        (7.0, 8.0),
        (11.0, 13.0),
    ];
    for (m, (lo, hi)) in macs.iter().zip(expected) {
        let m = *m as f64 / 1e6;
        assert!((lo..=hi).contains(&m), "{m} M MACs outside {lo}..{hi}");
    }
}

#[test]
fn a_softmax_must_be_tflites() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let mut file = every_op(&mut rng).file().clone();
    let tflite = Softmax {
        beta: 1.0,
        output: Quant {
            scale: 1.0 / 256.0,
            zero_point: -128,
        },
    };
    file.softmax = Some(tflite);
    let model = Model::new(file.clone()).unwrap();
    let logits = infer(&model, &synthetic::input(&mut rng, &model))
        .unwrap()
        .output()
        .to_vec();
    let probabilities = softmax::apply(&model, &logits).unwrap().unwrap();
    assert_eq!(probabilities.len(), logits.len());
    // The softmax is monotone: the largest logit has the largest probability.
    let best = zkedge_kernel::infer::argmax(&logits);
    assert_eq!(probabilities[best], *probabilities.iter().max().unwrap());
    // Any other output quantisation is not what TFLite's int8 softmax computes.
    for output in [
        Quant {
            scale: 0.1,
            zero_point: -128,
        },
        Quant {
            scale: 1.0 / 256.0,
            zero_point: 0,
        },
    ] {
        file.softmax = Some(Softmax { output, ..tflite });
        assert!(matches!(
            Model::new(file.clone()),
            Err(ModelError::Softmax(_))
        ));
    }
    // A beta so small that TFLite's Prepare refuses it.
    file.softmax = Some(Softmax {
        beta: 1e-12,
        ..tflite
    });
    assert!(matches!(Model::new(file), Err(ModelError::Softmax(_))));
}
