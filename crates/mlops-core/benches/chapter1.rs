//! Criterion benchmark of the Chapter 1 pipeline on the real files (native).
//! `cargo bench -p mlops-core --bench chapter1`; skips with a message without ../shared/data.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use mlops_core::data::load_trips;
use mlops_core::features::TRAINING_FIELDS;
use mlops_core::training::{train_and_evaluate, TrainSpec};

fn read(name: &str) -> Option<bytes::Bytes> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(name);
    std::fs::read(&path).ok().map(Into::into)
}

fn chapter1(c: &mut Criterion) {
    let (Some(jan), Some(feb)) =
        (read("green_tripdata_2021-01.parquet"), read("green_tripdata_2021-02.parquet"))
    else {
        eprintln!("SKIPPED: ../shared/data is not available");
        return;
    };
    let spec = TrainSpec::course_baseline();
    let mut group = c.benchmark_group("chapter1");
    group.sample_size(10);
    group.bench_function("decode_jan_feb", |b| {
        b.iter(|| {
            let train = load_trips(jan.clone(), &TRAINING_FIELDS).expect("jan");
            let val = load_trips(feb.clone(), &TRAINING_FIELDS).expect("feb");
            (train.n_rows, val.n_rows)
        })
    });
    group.bench_function("decode_filter_vectorize_fit_linear_score", |b| {
        b.iter(|| {
            let train = load_trips(jan.clone(), &TRAINING_FIELDS).expect("jan");
            let val = load_trips(feb.clone(), &TRAINING_FIELDS).expect("feb");
            train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {}).expect("train").val.rmse
        })
    });
    group.finish();
}

criterion_group!(benches, chapter1);
criterion_main!(benches);
