//! Native timing of the whole Chapter 1 pipeline, bytes in memory → validation RMSE,
//! repeated; prints JSON with every run and the median (used by `bench/run.sh`).
//!
//! `cargo run --release -p mlops-core --example bench_chapter1 -- TRAIN VAL [REPEAT]`

use std::process::ExitCode;
use std::time::Instant;

use mlops_core::data::load_trips;
use mlops_core::features::TRAINING_FIELDS;
use mlops_core::summary::median;
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
    let spec = TrainSpec::course_baseline();
    let mut seconds = Vec::with_capacity(repeat);
    // Per-stage seconds of each run: decode, then the stages train_and_evaluate reports.
    let mut stages: Vec<Vec<(String, f64)>> = Vec::with_capacity(repeat);
    let mut rmse = f64::NAN;
    for _ in 0..repeat {
        let start = Instant::now();
        let mut marks: Vec<(String, f64)> = Vec::new();
        let result = load_trips(train_bytes.clone().into(), &TRAINING_FIELDS)
            .and_then(|train| load_trips(val_bytes.clone().into(), &TRAINING_FIELDS).map(|val| (train, val)));
        let (train, val) = match result {
            Ok(tables) => tables,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut mark = |stage: mlops_core::training::Stage, fraction: f64| {
            if fraction == 0.0 {
                marks.push((format!("{stage:?}").to_lowercase(), start.elapsed().as_secs_f64()));
            }
        };
        match train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut mark) {
            Ok(report) => rmse = report.val.rmse,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        let total = start.elapsed().as_secs_f64();
        seconds.push(total);
        // Turn start marks into durations: each stage lasts until the next one starts.
        let mut durations = Vec::new();
        let mut previous = ("decode".to_string(), 0.0);
        for (name, at) in marks.into_iter().chain([("end".to_string(), total)]) {
            durations.push((previous.0.clone(), at - previous.1));
            previous = (name, at);
        }
        stages.push(durations);
    }
    let stage_medians: serde_json::Map<String, serde_json::Value> = stages
        .first()
        .map(|first| {
            first
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    let values: Vec<f64> = stages.iter().filter_map(|s| s.get(i).map(|p| p.1)).collect();
                    (name.clone(), serde_json::json!(median(&values)))
                })
                .collect()
        })
        .unwrap_or_default();
    let median_seconds = median(&seconds);
    println!(
        "{}",
        serde_json::json!({
            "runner": "native",
            "seconds": seconds,
            "median_seconds": median_seconds,
            "stage_median_seconds": stage_medians,
            "val_rmse": rmse
        })
    );
    ExitCode::SUCCESS
}
