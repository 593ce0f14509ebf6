//! The core in the browser: every codec TLC uses decodes in wasm (ZSTD needs C code
//! compiled for wasm32, which is easy to get silently wrong), and Chapter 1 gives the
//! same numbers as natively.
//!
//! `cargo test --target wasm32-unknown-unknown -p mlops-core --test wasm_decode`
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};
use mlops_core::data::{load_trips, Field};
use mlops_core::features::TRAINING_FIELDS;
use mlops_core::simulate::{simulate_month_parquet, CityParams};
use mlops_core::training::{train_and_evaluate, TrainSpec};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn small_file(compression: Compression) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        ArrowField::new("lpep_pickup_datetime", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ArrowField::new("lpep_dropoff_datetime", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ArrowField::new("PULocationID", DataType::Int64, true),
        ArrowField::new("DOLocationID", DataType::Int64, true),
        ArrowField::new("trip_distance", DataType::Float64, true),
    ]));
    let n = 1_000;
    let start = 1_609_459_200_000_000i64;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(
                (0..n).map(|i| start + i * 60_000_000).collect::<Vec<_>>(),
            )),
            Arc::new(TimestampMicrosecondArray::from(
                (0..n).map(|i| start + i * 60_000_000 + (5 + i % 20) * 60_000_000).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from((0..n).map(|i| 1 + i % 7).collect::<Vec<_>>())),
            Arc::new(Int64Array::from((0..n).map(|i| 1 + i % 5).collect::<Vec<_>>())),
            Arc::new(Float64Array::from((0..n).map(|i| (i % 13) as f64 * 0.5).collect::<Vec<_>>())),
        ],
    )
    .expect("batch");
    let props = WriterProperties::builder().set_compression(compression).build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    bytes
}

#[wasm_bindgen_test]
fn every_tlc_codec_decodes_in_wasm() {
    for compression in [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::ZSTD(ZstdLevel::default()),
    ] {
        let table = load_trips(small_file(compression).into(), &TRAINING_FIELDS)
            .unwrap_or_else(|e| panic!("{compression:?}: {e}"));
        assert_eq!(table.n_rows, 1_000, "{compression:?}");
        assert_eq!(table.integers(Field::PuLocationId).expect("pu")[8], Some(2));
    }
}

#[wasm_bindgen_test]
fn simulated_months_train_in_wasm() {
    let jan = simulate_month_parquet(&CityParams { trips: 5_000, ..Default::default() }).expect("jan");
    let feb =
        simulate_month_parquet(&CityParams { trips: 5_000, month: 2, ..Default::default() }).expect("feb");
    let train = load_trips(jan.into(), &TRAINING_FIELDS).expect("load");
    let val = load_trips(feb.into(), &TRAINING_FIELDS).expect("load");
    let spec = TrainSpec::course_baseline();
    let report = train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {}).expect("train");
    assert!(report.val.rmse.is_finite() && report.val.rmse > 1.0, "{}", report.val.rmse);
}

#[cfg(shared_data)]
mod real_files {
    use super::*;

    const JAN: &[u8] = include_bytes!(concat!(env!("MLOPS_SHARED_DATA"), "/green_tripdata_2021-01.parquet"));
    const FEB: &[u8] = include_bytes!(concat!(env!("MLOPS_SHARED_DATA"), "/green_tripdata_2021-02.parquet"));
    const FEB_2023_ZSTD: &[u8] =
        include_bytes!(concat!(env!("MLOPS_SHARED_DATA"), "/green_tripdata_2023-02.parquet"));

    #[wasm_bindgen_test]
    fn real_gzip_and_zstd_files_decode_in_wasm() {
        let gzip = load_trips(JAN.into(), &Field::ALL).expect("2021-01 (GZIP)");
        assert_eq!(gzip.n_rows, 76_518);
        let zstd = load_trips(FEB_2023_ZSTD.into(), &Field::ALL).expect("2023-02 (ZSTD)");
        assert_eq!(zstd.n_rows, 64_809);
    }

    #[wasm_bindgen_test]
    fn chapter_one_in_wasm_matches_scikit_learn() {
        let train = load_trips(JAN.into(), &TRAINING_FIELDS).expect("jan");
        let val = load_trips(FEB.into(), &TRAINING_FIELDS).expect("feb");
        let spec = TrainSpec::course_baseline();
        let report = train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {}).expect("train");
        // scikit-learn 1.9.1: validation RMSE 7.758715 (see tests/golden_chapter1.rs).
        assert!((report.val.rmse - 7.758715).abs() < 1e-4, "{}", report.val.rmse);
    }
}

#[cfg(not(shared_data))]
#[wasm_bindgen_test]
fn real_files_are_skipped_without_shared_data() {
    console_log!("SKIPPED: ../shared/data was absent at build time; the real-file browser tests did not run");
}
