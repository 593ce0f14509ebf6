//! A month replayed day by day: each day's trips get the baseline model's predictions and
//! a drift report against the reference; the day's metrics are what the course writes to
//! its `dummy_metrics` table. The truth (trip durations) arrives `truth_delay_days` later.

use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, MonthFrame};
use super::inject::Injection;
use super::MonitorError;
use crate::drift::{DriftOptions, DriftReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayOptions {
    pub truth_delay_days: u32,
    pub drift: DriftOptions,
    pub injections: Vec<Injection>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { truth_delay_days: 1, drift: DriftOptions::default(), injections: Vec::new() }
    }
}

/// One day's numbers (a row of the metrics store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayMetrics {
    /// 0 for the first day of the month.
    pub day_index: u32,
    /// "2022-02-01".
    pub date: String,
    pub rows: usize,
    /// The prediction column's drift score (Wasserstein/sd by default); None if skipped.
    pub prediction_drift: Option<f64>,
    pub prediction_drifted: bool,
    pub drifted_columns: usize,
    pub columns: usize,
    pub dataset_drift: bool,
    pub share_missing: f64,
    /// Over the day's trips with a known 0–60 minute duration.
    pub rmse: Option<f64>,
    pub mae: Option<f64>,
    /// The replay day on which the truth for this day arrives (`day_index + delay`).
    pub truth_day: u32,
    /// Injections active on this day, in words ("trip_distance missing for 30% of rows").
    pub injected: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayDay {
    pub metrics: DayMetrics,
    pub report: DriftReport,
}

/// Row indices of each calendar day (UTC pickup date) of the month that holds most
/// trips, in date order, every day of that month listed (an empty day has no rows).
pub fn split_days(month: &MonthFrame) -> Result<Vec<(String, Vec<usize>)>, MonitorError> {
    let _ = month;
    unimplemented!("helper C")
}

/// Replays every day of `month` against the baseline. `progress(done, total)` after each day.
pub fn replay_month(
    baseline: &Baseline,
    month: &MonthFrame,
    options: &ReplayOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<ReplayDay>, MonitorError> {
    let _ = (baseline, month, options, progress);
    unimplemented!("helper C")
}
