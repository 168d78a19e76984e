//! Setup, prove and verify for the bundled demo model with stock halo2-axiom: the baseline the
//! zkedge prover is measured against.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::OsRng;
use zkedge::{
    bundled,
    keys::{self, SrsOrigin},
    proof::{self, MultiOpen},
    srs,
};
use zkedge_kernel::{layout::Layout, model::Model};

fn demo_model(c: &mut Criterion) {
    let model = Model::from_json(bundled::MODEL_JSON).expect("bundled model");
    let input = bundled::samples()
        .expect("bundled samples")
        .inputs
        .swap_remove(0);
    let k = Layout::new(&model).expect("layout").k();
    let mut group = c.benchmark_group("demo-model");
    group.sample_size(10);
    group.bench_function("setup (dev SRS + keygen)", |b| {
        b.iter(|| {
            keys::generate(model.clone(), srs::dev(k), SrsOrigin::InsecureDev).expect("keygen")
        })
    });
    let keys = keys::generate(model.clone(), srs::dev(k), SrsOrigin::InsecureDev).expect("keygen");
    for multiopen in [MultiOpen::Gwc, MultiOpen::Shplonk] {
        group.bench_function(format!("prove halo2 {multiopen}"), |b| {
            b.iter(|| proof::prove_halo2(&keys, &input, multiopen, OsRng).expect("prove"))
        });
        let file = proof::prove_halo2(&keys, &input, multiopen, OsRng)
            .expect("prove")
            .file;
        group.bench_function(format!("verify {multiopen}"), |b| {
            b.iter(|| proof::verify(&keys, &file).expect("valid"))
        });
        println!(
            "proof file with {multiopen}: {} bytes",
            file.to_bytes().len()
        );
    }
    group.finish();
}

criterion_group!(benches, demo_model);
criterion_main!(benches);
