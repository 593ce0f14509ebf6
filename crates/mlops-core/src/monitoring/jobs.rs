//! The monitoring work the app's worker runs, from file bytes to results, with the
//! caller's clock (so the same code is timed natively and in the browser).

use serde::{Deserialize, Serialize};

use bytes::Bytes;

use super::baseline::{fit_baseline, month_frame, BaselineSummary};
use super::replay::{replay_month, ReplayDay, ReplayOptions};
use crate::data::{load_trips, Field};
use crate::drift::load::frame_from_parquet;
use crate::drift::{drift_report, DriftOptions, DriftReport, Frame};
use crate::protocol::{load_sources, Source};
use crate::simulate::simulate_month_parquet;

/// A finished replay: the baseline, then every day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayResult {
    pub reference_label: String,
    pub current_label: String,
    pub baseline: BaselineSummary,
    pub days: Vec<ReplayDay>,
    pub seconds: f64,
}

/// A whole-file report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftResult {
    pub reference_label: String,
    pub current_label: String,
    pub report: DriftReport,
    pub seconds: f64,
}

/// Timings of [`crate::protocol::Request::BenchDrift`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftBenchReport {
    /// Decode both files + the full report, per repetition.
    pub report_seconds: Vec<f64>,
    pub report_median_seconds: f64,
    pub columns: usize,
    /// Decode, fit the baseline and replay every day, per repetition.
    pub replay_seconds: Vec<f64>,
    pub replay_median_seconds: f64,
    pub replay_days: usize,
}

/// Fits the baseline on `reference` and replays `current`; `progress(stage, fraction)`.
pub fn run_replay(
    reference: &[Source],
    current: &[Source],
    options: &ReplayOptions,
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(&str, f64),
) -> Result<ReplayResult, String> {
    let started = now_seconds();
    progress("Decoding the reference month", 0.0);
    let (reference_table, _) = load_sources(reference)?;
    progress("Decoding the current month", 0.05);
    let (current_table, _) = load_sources(current)?;
    progress("Fitting the baseline model", 0.1);
    let baseline = fit_baseline(&month_frame(&reference_table).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let month = month_frame(&current_table).map_err(|e| e.to_string())?;
    let days = replay_month(&baseline, &month, options, &mut |done, total| {
        progress(
            &format!("Replaying day {done} of {total}"),
            0.15 + 0.85 * done as f64 / total.max(1) as f64,
        );
    })
    .map_err(|e| e.to_string())?;
    Ok(ReplayResult {
        reference_label: labels(reference),
        current_label: labels(current),
        baseline: baseline.summary,
        days,
        seconds: now_seconds() - started,
    })
}

fn labels(sources: &[Source]) -> String {
    sources.iter().map(Source::label).collect::<Vec<_>>().join(" + ")
}

fn source_bytes(source: &Source) -> Result<Bytes, String> {
    match source {
        Source::File { bytes, .. } => Ok(Bytes::from(bytes.clone())),
        Source::Simulated(params) => {
            simulate_month_parquet(params).map(Bytes::from).map_err(|e| format!("{}: {e}", source.label()))
        }
    }
}

/// One file of a whole-file comparison (a report compares one file with one file).
fn single_frame(sources: &[Source], side: &str) -> Result<(Frame, Vec<crate::drift::ColumnSpec>), String> {
    match sources {
        [source] => frame_from_parquet(source_bytes(source)?).map_err(|e| format!("{}: {e}", source.label())),
        [] => Err(format!("choose a {side} file")),
        _ => Err(format!("a report compares one {side} file; {} were given", sources.len())),
    }
}

/// Compares every column two files share (types inferred as Evidently does).
pub fn run_drift(
    reference: &[Source],
    current: &[Source],
    options: &DriftOptions,
    now_seconds: &dyn Fn() -> f64,
) -> Result<DriftResult, String> {
    let started = now_seconds();
    let (reference_frame, specs) = single_frame(reference, "reference")?;
    let (current_frame, _) = single_frame(current, "current")?;
    let report = drift_report(&reference_frame, &current_frame, &specs, options, None);
    Ok(DriftResult {
        reference_label: labels(reference),
        current_label: labels(current),
        report,
        seconds: now_seconds() - started,
    })
}

/// Times the whole-file report (decode both files + compare every column) and the
/// replay (decode, fit the baseline, replay every day), `repeat` times each.
pub fn run_drift_bench(
    reference: &[u8],
    current: &[u8],
    replay_reference: &[u8],
    replay_current: &[u8],
    repeat: u32,
    now_seconds: &dyn Fn() -> f64,
) -> Result<DriftBenchReport, String> {
    let mut report_seconds = Vec::new();
    let mut columns = 0;
    for _ in 0..repeat.max(1) {
        let start = now_seconds();
        let (reference_frame, specs) =
            frame_from_parquet(Bytes::from(reference.to_vec())).map_err(|e| e.to_string())?;
        let (current_frame, _) =
            frame_from_parquet(Bytes::from(current.to_vec())).map_err(|e| e.to_string())?;
        let report = drift_report(&reference_frame, &current_frame, &specs, &DriftOptions::default(), None);
        columns = report.columns.len();
        report_seconds.push(now_seconds() - start);
    }
    let mut replay_seconds = Vec::new();
    let mut replay_days = 0;
    for _ in 0..repeat.max(1) {
        let start = now_seconds();
        let reference_table =
            load_trips(Bytes::from(replay_reference.to_vec()), &Field::ALL).map_err(|e| e.to_string())?;
        let current_table =
            load_trips(Bytes::from(replay_current.to_vec()), &Field::ALL).map_err(|e| e.to_string())?;
        let baseline = fit_baseline(&month_frame(&reference_table).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let month = month_frame(&current_table).map_err(|e| e.to_string())?;
        replay_days = replay_month(&baseline, &month, &ReplayOptions::default(), &mut |_, _| {})
            .map_err(|e| e.to_string())?
            .len();
        replay_seconds.push(now_seconds() - start);
    }
    Ok(DriftBenchReport {
        report_median_seconds: crate::summary::median(&report_seconds),
        report_seconds,
        columns,
        replay_median_seconds: crate::summary::median(&replay_seconds),
        replay_seconds,
        replay_days,
    })
}
