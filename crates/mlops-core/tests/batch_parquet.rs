//! The scored parquet file, read back by pandas/pyarrow as the course's notebook would:
//! columns, types, counts and sums must be the ones the core computed.
//!
//! Needs `MLOPS_MLFLOW` (see `common/python.rs`); the real-month test also needs
//! `../shared/data`. Each prints why it is skipped otherwise.

#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/python.rs"]
mod python;

use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::RecordBatch;
use mlops_core::data::{load_trips, TripTable};
use mlops_core::features::TRAINING_FIELDS;
use mlops_core::serving::batch::{score_trips, ScoreOptions, ScoredBatch, OUTPUT_COLUMNS};
use mlops_core::serving::service::LoadedModel;
use mlops_core::simulate::{simulate_month_parquet, CityParams};
use mlops_core::training::{train_and_evaluate, TrainSpec};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn simulated(month: u32, trips: usize) -> TripTable {
    let bytes =
        simulate_month_parquet(&CityParams { month, trips, ..CityParams::default() }).expect("simulates");
    load_trips(bytes.into(), &TRAINING_FIELDS).expect("loads")
}

fn trained(train: &TripTable, val: &TripTable) -> LoadedModel {
    let report = train_and_evaluate(&TrainSpec::course_baseline(), train, val, &|| 0.0, &mut |_, _| {})
        .expect("trains");
    LoadedModel::new(report.model, "ignored: the file names the run id")
}

/// Scores `month`, printing the rows per second of [`score_trips`].
fn score(label: &str, table: &TripTable, model: &LoadedModel, options: &ScoreOptions) -> ScoredBatch {
    let started = Instant::now();
    let batch = score_trips(table, model, options, &mut |_| {}).expect("scores");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{label}: scored {} of {} rows in {:.1} ms = {:.0} rows/s ({} bytes of parquet)",
        batch.rows,
        table.n_rows,
        seconds * 1e3,
        table.n_rows as f64 / seconds,
        batch.parquet.len()
    );
    batch
}

/// The Rust side of the comparison, read from the very bytes handed to pandas.
struct RustSums {
    actual: f64,
    predicted: f64,
    diff: f64,
    zones: [i64; 2],
    pickup_min_max: [i64; 2],
    first_ids: Vec<String>,
}

fn rust_sums(batch: &ScoredBatch) -> RustSums {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(batch.parquet.clone()))
        .expect("parquet")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let mut sums = RustSums {
        actual: 0.0,
        predicted: 0.0,
        diff: 0.0,
        zones: [0, 0],
        pickup_min_max: [i64::MAX, i64::MIN],
        first_ids: Vec::new(),
    };
    for part in &batches {
        let float = |name: &str| part.column_by_name(name).expect(name).as_primitive::<Float64Type>().clone();
        sums.actual += float("actual_duration").values().iter().sum::<f64>();
        sums.predicted += float("predicted_duration").values().iter().sum::<f64>();
        sums.diff += float("diff").values().iter().sum::<f64>();
        for (k, name) in ["PULocationID", "DOLocationID"].into_iter().enumerate() {
            sums.zones[k] += part
                .column_by_name(name)
                .expect(name)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .sum::<i64>();
        }
        for &pickup in part.column(1).as_primitive::<TimestampMicrosecondType>().values().iter() {
            sums.pickup_min_max = [sums.pickup_min_max[0].min(pickup), sums.pickup_min_max[1].max(pickup)];
        }
        let ids = part.column(0).as_string::<i32>();
        sums.first_ids.extend(ids.iter().flatten().take(5 - sums.first_ids.len().min(5)).map(str::to_string));
    }
    sums
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && text.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && groups[2].starts_with('4')
}

/// Writes the file where `score.py` would, under a temporary folder, and checks pandas'
/// reading of it against the core's.
fn check_with_pandas(python: &std::path::Path, batch: &ScoredBatch, options: &ScoreOptions) {
    let folder = python::TempDir::new("batch");
    let file = folder.path.join(&batch.path);
    std::fs::create_dir_all(file.parent().expect("a parent folder")).expect("create the partition folders");
    std::fs::write(&file, &batch.parquet).expect("write the parquet file");

    let started = Instant::now();
    let summary = python::parquet_summary(python, &file).expect("pandas reads the file");
    println!(
        "pandas {} / pyarrow {} read it in {:.2?}",
        summary["pandas"],
        summary["pyarrow"],
        started.elapsed()
    );

    let columns: Vec<&str> =
        summary["columns"].as_array().expect("columns").iter().filter_map(|c| c.as_str()).collect();
    assert_eq!(columns, OUTPUT_COLUMNS);
    let arrow_types = &summary["arrow_types"];
    for (column, expected) in [
        ("ride_id", "string"),
        ("lpep_pickup_datetime", "timestamp[us]"),
        ("PULocationID", "int64"),
        ("DOLocationID", "int64"),
        ("actual_duration", "double"),
        ("predicted_duration", "double"),
        ("diff", "double"),
        ("model_version", "string"),
    ] {
        assert_eq!(arrow_types[column], expected, "pyarrow type of {column}");
    }
    let dtypes = &summary["dtypes"];
    assert_eq!(dtypes["lpep_pickup_datetime"], "datetime64[us]");
    assert_eq!((dtypes["PULocationID"].as_str(), dtypes["diff"].as_str()), (Some("int64"), Some("float64")));
    assert!(matches!(dtypes["ride_id"].as_str(), Some("str" | "string" | "object")), "{dtypes}");

    assert_eq!(summary["rows"], batch.rows);
    assert_eq!(summary["nulls"], 0);
    assert_eq!(summary["unique_ride_ids"], batch.rows, "every ride has its own id");
    assert_eq!(summary["model_versions"], serde_json::json!([options.run_id]));
    assert_eq!(summary["diff_max_error"], 0.0, "diff is exactly actual − predicted");

    let rust = rust_sums(batch);
    let sums = &summary["sums"];
    for (name, ours) in
        [("actual_duration", rust.actual), ("predicted_duration", rust.predicted), ("diff", rust.diff)]
    {
        let theirs = sums[name].as_f64().expect(name);
        assert!(close(ours, theirs), "sum of {name}: {ours} in Rust, {theirs} in pandas");
    }
    assert_eq!(summary["zone_sums"], serde_json::json!(rust.zones));
    assert_eq!(summary["pickup_min_max"], serde_json::json!(rust.pickup_min_max));
    let ids: Vec<&str> =
        summary["ride_ids"].as_array().expect("ids").iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(ids, rust.first_ids);
    assert!(ids.iter().all(|id| is_uuid(id)), "{ids:?}");
}

#[test]
fn pandas_reads_a_scored_simulated_month_as_the_core_wrote_it() {
    let Some(python) = python::analysis_python() else { return };
    let started = Instant::now();
    let (jan, feb) = (simulated(1, 20_000), simulated(2, 20_000));
    let model = trained(&jan, &feb);
    let options = ScoreOptions {
        taxi_type: "green".into(),
        year: 2021,
        month: 2,
        run_id: "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e".into(),
        seed: 42,
    };
    let batch = score("simulated 2021-02", &feb, &model, &options);
    assert_eq!(batch.path, "taxi_type=green/year=2021/month=02/0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e.parquet");
    assert_eq!(batch.rows + batch.dropped, feb.n_rows);
    check_with_pandas(&python, &batch, &options);
    println!("simulated month checked in {:.2?}", started.elapsed());
}

#[test]
fn pandas_reads_the_real_february_scored_with_a_january_model() {
    let Some(python) = python::analysis_python() else { return };
    let (Some(jan), Some(feb)) = (
        common::real_file("green_tripdata_2021-01.parquet"),
        common::real_file("green_tripdata_2021-02.parquet"),
    ) else {
        return;
    };
    let started = Instant::now();
    let jan = load_trips(jan, &TRAINING_FIELDS).expect("January loads");
    let feb = load_trips(feb, &TRAINING_FIELDS).expect("February loads");
    let model = trained(&jan, &feb);
    println!("trained on January 2021 in {:.2?}", started.elapsed());
    let options = ScoreOptions {
        taxi_type: "green".into(),
        year: 2021,
        month: 2,
        run_id: "jan-2021-baseline".into(),
        seed: 7,
    };
    let batch = score("green 2021-02", &feb, &model, &options);
    // 61,921 trips of February 2021 last 1–60 minutes (the course's validation set).
    assert_eq!(batch.rows, 61_921);
    assert_eq!(batch.dropped, feb.n_rows - 61_921);
    // The course's baseline has a validation RMSE of 7.76 min; the mean absolute error is lower.
    assert!((4.0..7.76).contains(&batch.mean_abs_diff), "{}", batch.mean_abs_diff);
    check_with_pandas(&python, &batch, &options);
    println!("real month checked in {:.2?}", started.elapsed());
}
