//! The monitoring work the app's worker runs, from file bytes to results, with the
//! caller's clock (so the same code is timed natively and in the browser).

use serde::{Deserialize, Serialize};

use super::baseline::BaselineSummary;
use super::replay::{ReplayDay, ReplayOptions};
use crate::drift::{DriftOptions, DriftReport};
use crate::protocol::Source;

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
    let _ = (reference, current, options, now_seconds, progress);
    unimplemented!("me")
}

/// Compares every column two files share (types inferred as Evidently does).
pub fn run_drift(
    reference: &[Source],
    current: &[Source],
    options: &DriftOptions,
    now_seconds: &dyn Fn() -> f64,
) -> Result<DriftResult, String> {
    let _ = (reference, current, options, now_seconds);
    unimplemented!("me")
}

pub fn run_drift_bench(
    reference: &[u8],
    current: &[u8],
    replay_reference: &[u8],
    replay_current: &[u8],
    repeat: u32,
    now_seconds: &dyn Fn() -> f64,
) -> Result<DriftBenchReport, String> {
    let _ = (reference, current, replay_reference, replay_current, repeat, now_seconds);
    unimplemented!("me")
}
