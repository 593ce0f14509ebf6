//! Service health and live drift from the endpoint's prediction log: request volume,
//! error rate and latency percentiles per time window, and the logged rides compared
//! with the first requests (the reference) window by window.

use serde::{Deserialize, Serialize};

use crate::drift::{DriftOptions, DriftReport, Frame};
use crate::serving::log::PredictionLogEntry;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthWindow {
    pub start_ms: i64,
    pub requests: usize,
    pub errors: usize,
    pub error_rate: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
}

/// Windows of `window_ms` from the first entry, in time order (empty windows skipped).
pub fn service_health(entries: &[PredictionLogEntry], window_ms: i64) -> Vec<HealthWindow> {
    let _ = (entries, window_ms);
    unimplemented!("helper C")
}

/// Successful logged requests as a frame (PULocationID, DOLocationID, trip_distance,
/// prediction) with each row's timestamp (ms). Unparseable bodies are skipped.
pub fn log_frame(entries: &[PredictionLogEntry]) -> (Frame, Vec<i64>) {
    let _ = entries;
    unimplemented!("helper C")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveWindow {
    pub start_ms: i64,
    pub rows: usize,
    pub report: DriftReport,
}

/// The first `reference_rows` successful requests are the reference; every later window
/// of `window_ms` is compared with it. Empty when the log is too short.
pub fn live_drift(
    entries: &[PredictionLogEntry],
    reference_rows: usize,
    window_ms: i64,
    options: &DriftOptions,
) -> Vec<LiveWindow> {
    let _ = (entries, reference_rows, window_ms, options);
    unimplemented!("helper C")
}
