//! Native timing of the whole Chapter 1 pipeline, bytes in memory → validation RMSE,
//! repeated; prints JSON with every run and the median (used by `bench/run.sh`).
//!
//! `cargo run --release -p mlops-core --example bench_chapter1 -- TRAIN VAL [REPEAT]`

use std::process::ExitCode;
use std::time::Instant;

use mlops_core::data::load_trips;
use mlops_core::features::{DurationFilter, FeatureSet, TRAINING_FIELDS};
use mlops_core::models::{ModelKind, ModelParams};
use mlops_core::training::{train_and_evaluate, TrainSpec};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(train_path), Some(val_path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench_chapter1 TRAIN VAL [REPEAT]");
        return ExitCode::from(2);
    };
    let repeat: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(7);
    let (Ok(train_bytes), Ok(val_bytes)) = (std::fs::read(train_path), std::fs::read(val_path)) else {
        eprintln!("error: cannot read {train_path} or {val_path}");
        return ExitCode::from(2);
    };
    let spec = TrainSpec {
        params: ModelParams::new(ModelKind::LinearRegression),
        feature_set: FeatureSet::PuDo,
        filter: DurationFilter::default(),
    };
    let mut seconds = Vec::with_capacity(repeat);
    let mut rmse = f64::NAN;
    for _ in 0..repeat {
        let start = Instant::now();
        let result = load_trips(train_bytes.clone().into(), &TRAINING_FIELDS)
            .and_then(|train| load_trips(val_bytes.clone().into(), &TRAINING_FIELDS).map(|val| (train, val)));
        let (train, val) = match result {
            Ok(tables) => tables,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        match train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {}) {
            Ok(report) => rmse = report.val.rmse,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        seconds.push(start.elapsed().as_secs_f64());
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "{}",
        serde_json::json!({ "runner": "native", "seconds": seconds, "median_seconds": median, "val_rmse": rmse })
    );
    ExitCode::SUCCESS
}
