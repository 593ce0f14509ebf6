//! Native timing of Chapter 5's drift work: a full drift report between two whole files
//! (decode both, every column Evidently can test) and a month's replay (decode, fit the
//! course's baseline, a report per day), each `REPEAT` times. Prints JSON with every run
//! and the medians (used by `bench/run.sh`), then, from one more untimed run, each
//! column's test and score and each replay day's numbers, to diff against Evidently's.
//!
//! `cargo run --release -p mlops-core --example bench_drift -- REFERENCE CURRENT
//! REPLAY_REFERENCE REPLAY_CURRENT [REPEAT]`

use std::process::ExitCode;
use std::time::Instant;

use mlops_core::drift::{ColumnDrift, ColumnOutcome, DriftOptions};
use mlops_core::monitoring::jobs::{run_drift, run_drift_bench, run_replay};
use mlops_core::monitoring::replay::ReplayOptions;
use mlops_core::protocol::Source;
use serde_json::{json, Map, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference_path, current_path, replay_reference_path, replay_current_path, rest @ ..] =
        args.as_slice()
    else {
        eprintln!("usage: bench_drift REFERENCE CURRENT REPLAY_REFERENCE REPLAY_CURRENT [REPEAT]");
        return ExitCode::from(2);
    };
    let repeat: u32 = rest.first().and_then(|r| r.parse().ok()).unwrap_or(7);
    let paths = [reference_path, current_path, replay_reference_path, replay_current_path];
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read(path) {
            Ok(bytes) => files.push(bytes),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let [reference, current, replay_reference, replay_current] = &files[..] else {
        unreachable!("four paths read");
    };
    let clock = Instant::now();
    let now_seconds = || clock.elapsed().as_secs_f64();
    let report =
        match run_drift_bench(reference, current, replay_reference, replay_current, repeat, &now_seconds) {
            Ok(report) => report,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };

    // The untimed check run: the same work through the app's own jobs, with results.
    let source =
        |path: &str, bytes: &[u8]| vec![Source::File { name: path.to_string(), bytes: bytes.to_vec() }];
    let drift = run_drift(
        &source(reference_path, reference),
        &source(current_path, current),
        &DriftOptions::default(),
        &now_seconds,
    );
    let replay = run_replay(
        &source(replay_reference_path, replay_reference),
        &source(replay_current_path, replay_current),
        &ReplayOptions::default(),
        &now_seconds,
        &mut |_, _| {},
    );
    let (drift, replay) = match (drift, replay) {
        (Ok(drift), Ok(replay)) => (drift, replay),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let days: Vec<Value> = replay
        .days
        .iter()
        .map(|day| {
            let metrics = &day.metrics;
            json!({
                "date": metrics.date,
                "rows": metrics.rows,
                "prediction_drift": metrics.prediction_drift,
                "columns": metrics.columns,
                "drifted_columns": metrics.drifted_columns,
                "dataset_drift": metrics.dataset_drift,
                "share_missing": metrics.share_missing,
                "column_scores": column_scores(&day.report.columns),
            })
        })
        .collect();
    let json = json!({
        "runner": "native (release)",
        "report_seconds": report.report_seconds,
        "report_median_seconds": report.report_median_seconds,
        "columns": report.columns,
        "replay_seconds": report.replay_seconds,
        "replay_median_seconds": report.replay_median_seconds,
        "replay_days": report.replay_days,
        "drifted_columns": drift.report.dataset.n_drifted,
        "share_drifted": drift.report.dataset.share_drifted,
        "dataset_drift": drift.report.dataset.dataset_drift,
        "column_scores": column_scores(&drift.report.columns),
        "replay_reference_rows": replay.baseline.reference_rows,
        "replay": days,
    });
    println!("{json}");
    ExitCode::SUCCESS
}

/// Each column's test and score, keyed by name (skipped columns say why).
fn column_scores(columns: &[ColumnDrift]) -> Map<String, Value> {
    columns
        .iter()
        .map(|column| {
            let value = match &column.outcome {
                ColumnOutcome::Tested { test, score, threshold, drifted } => json!({
                    "test": test,
                    "score": score,
                    "threshold": threshold,
                    "drifted": drifted,
                    "type": column.column_type.label(),
                }),
                ColumnOutcome::Skipped { reason } => {
                    json!({ "skipped": reason, "type": column.column_type.label() })
                }
            };
            (column.name.clone(), value)
        })
        .collect()
}
