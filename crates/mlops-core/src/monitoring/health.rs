//! Service health and live drift from the endpoint's prediction log: request volume,
//! error rate and latency percentiles per time window, and the logged rides compared
//! with the first requests (the reference) window by window.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::drift::{Column, ColumnSpec, DriftOptions, DriftReport, Frame, Reference};
use crate::serving::log::PredictionLogEntry;
use crate::serving::request::{parse_ride, ride_from_value, Ride, DISTANCE_FIELD, DO_FIELD, PU_FIELD};
use crate::summary::quantile;

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

/// Groups times into windows of `window_ms` from `start`: (window start, indices), in
/// time order. `window_ms ≤ 0` makes one window.
fn windows(times: impl Iterator<Item = i64>, start: i64, window_ms: i64) -> Vec<(i64, Vec<usize>)> {
    let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, time) in times.enumerate() {
        let bucket = if window_ms > 0 { time.saturating_sub(start).max(0) / window_ms } else { 0 };
        groups.entry(bucket).or_default().push(i);
    }
    groups
        .into_iter()
        .map(|(bucket, rows)| (start.saturating_add(bucket.saturating_mul(window_ms.max(0))), rows))
        .collect()
}

/// Windows of `window_ms` from the first entry, in time order (empty windows skipped).
///
/// An error is any answer with status 400 or more (the learner's bad requests count: a
/// client sending broken JSON is a problem a service owner wants to see). Latency
/// percentiles interpolate linearly between requests, as pandas' `quantile` does.
pub fn service_health(entries: &[PredictionLogEntry], window_ms: i64) -> Vec<HealthWindow> {
    let Some(start) = entries.iter().map(|e| e.timestamp).min() else { return Vec::new() };
    windows(entries.iter().map(|e| e.timestamp), start, window_ms)
        .into_iter()
        .map(|(start_ms, rows)| {
            let errors = rows.iter().filter(|&&i| entries[i].status >= 400).count();
            let mut latencies: Vec<f64> =
                rows.iter().map(|&i| entries[i].latency_ms).filter(|x| x.is_finite()).collect();
            latencies.sort_by(f64::total_cmp);
            HealthWindow {
                start_ms,
                requests: rows.len(),
                errors,
                error_rate: errors as f64 / rows.len() as f64,
                latency_p50_ms: quantile(&latencies, 0.5),
                latency_p95_ms: quantile(&latencies, 0.95),
                latency_p99_ms: quantile(&latencies, 0.99),
            }
        })
        .collect()
}

/// The ride a logged request asked about: a `/predict` body, or a stream event whose
/// `"ride"` object holds it.
fn logged_ride(request: &str) -> Option<Ride> {
    parse_ride(request.as_bytes()).ok().or_else(|| {
        let value: serde_json::Value = serde_json::from_str(request).ok()?;
        ride_from_value(value.get("ride")?).ok()
    })
}

/// Successful logged requests as a frame (PULocationID, DOLocationID, trip_distance,
/// prediction) with each row's timestamp (ms). Unparseable bodies are skipped.
///
/// Successful means a 2xx answer with a prediction. Rows come in time order (a stable
/// sort, so requests of one millisecond keep their logged order), so the first rows are
/// the first requests.
pub fn log_frame(entries: &[PredictionLogEntry]) -> (Frame, Vec<i64>) {
    let mut rows: Vec<(i64, Ride, f64)> = entries
        .iter()
        .filter(|e| (200..300).contains(&e.status))
        .filter_map(|e| {
            let prediction = e.prediction.filter(|p| p.is_finite())?;
            Some((e.timestamp, logged_ride(&e.request)?, prediction))
        })
        .collect();
    rows.sort_by_key(|row| row.0);
    let column = |name: &str, value: fn(&(i64, Ride, f64)) -> f64| {
        Column::numbers(name, rows.iter().map(|row| Some(value(row))).collect())
    };
    let columns = vec![
        column(PU_FIELD, |row| row.1.pu_location_id as f64),
        column(DO_FIELD, |row| row.1.do_location_id as f64),
        column(DISTANCE_FIELD, |row| row.1.trip_distance),
        column(super::baseline::PREDICTION, |row| row.2),
    ];
    // Four distinct names of equal length: `Frame::new` cannot refuse them.
    let frame = Frame::new(columns).unwrap_or_default();
    (frame, rows.iter().map(|row| row.0).collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveWindow {
    pub start_ms: i64,
    pub rows: usize,
    pub report: DriftReport,
}

/// The columns live drift compares: what the service receives and what it answers.
fn live_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::numerical(super::baseline::PREDICTION),
        ColumnSpec::numerical(DISTANCE_FIELD),
        ColumnSpec::categorical(PU_FIELD),
        ColumnSpec::categorical(DO_FIELD),
    ]
}

/// The first `reference_rows` successful requests are the reference; every later window
/// of `window_ms` is compared with it. Empty when the log is too short.
///
/// Windows start at the first request after the reference. With no reference rows there
/// is nothing to compare with, so the answer is empty too. No truth reaches the log, so
/// the reports have no quality section.
pub fn live_drift(
    entries: &[PredictionLogEntry],
    reference_rows: usize,
    window_ms: i64,
    options: &DriftOptions,
) -> Vec<LiveWindow> {
    let (frame, times) = log_frame(entries);
    if reference_rows == 0 || frame.n_rows() <= reference_rows {
        return Vec::new();
    }
    let reference_indices: Vec<usize> = (0..reference_rows).collect();
    let reference = Reference::new(&frame.select(&reference_indices), &live_columns());
    let later = &times[reference_rows..];
    windows(later.iter().copied(), later[0], window_ms)
        .into_iter()
        .map(|(start_ms, rows)| {
            let indices: Vec<usize> = rows.iter().map(|i| i + reference_rows).collect();
            let report = reference.compare(&frame.select(&indices), options, None);
            LiveWindow { start_ms, rows: indices.len(), report }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::Values;
    use crate::serving::log::RequestSource;

    fn entry(
        timestamp: i64,
        status: u16,
        latency_ms: f64,
        request: &str,
        prediction: Option<f64>,
    ) -> PredictionLogEntry {
        PredictionLogEntry {
            timestamp,
            latency_ms,
            status,
            source: RequestSource::Load,
            request: request.to_string(),
            prediction,
            model_version: Some("1".into()),
        }
    }

    fn ride(timestamp: i64, pu: i64, miles: f64) -> PredictionLogEntry {
        let body = format!(r#"{{"PULocationID": {pu}, "DOLocationID": 50, "trip_distance": {miles}}}"#);
        entry(timestamp, 200, 1.0, &body, Some(10.0 + miles))
    }

    #[test]
    fn health_per_window_with_errors_and_percentiles() {
        let mut entries: Vec<PredictionLogEntry> =
            (0..10).map(|i| entry(1_000 + i * 10, 200, f64::from(i as i32 + 1), "{}", Some(1.0))).collect();
        entries.push(entry(1_050, 400, 0.5, "nope", None));
        entries.push(entry(3_500, 500, 7.0, "{}", None));
        let windows = service_health(&entries, 1_000);
        assert_eq!(windows.len(), 2, "the empty window 2,000–3,000 is skipped");
        let first = &windows[0];
        assert_eq!((first.start_ms, first.requests, first.errors), (1_000, 11, 1));
        assert!((first.error_rate - 1.0 / 11.0).abs() < 1e-12);
        // Latencies 0.5, 1, 2, …, 10: the median is the 6th of 11 values.
        assert_eq!(first.latency_p50_ms, 5.0);
        assert!((first.latency_p95_ms - 9.5).abs() < 1e-12);
        assert!((first.latency_p99_ms - 9.9).abs() < 1e-12);
        assert_eq!((windows[1].start_ms, windows[1].requests, windows[1].error_rate), (3_000, 1, 1.0));
        let one = service_health(&entries, 0);
        assert_eq!((one.len(), one[0].requests, one[0].start_ms), (1, 12, 1_000));
        assert!(service_health(&[], 1_000).is_empty());
    }

    #[test]
    fn only_answered_parseable_requests_reach_the_frame() {
        let entries = vec![
            ride(30, 10, 2.5),
            ride(10, 20, 1.0),
            entry(15, 400, 1.0, "{", None),
            entry(16, 200, 1.0, "not json", Some(3.0)),
            entry(17, 200, 1.0, r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 3}"#, None),
            entry(
                20,
                200,
                1.0,
                r#"{"ride": {"PULocationID": 7, "DOLocationID": 8, "trip_distance": 4}}"#,
                Some(9.0),
            ),
        ];
        let (frame, times) = log_frame(&entries);
        assert_eq!(times, vec![10, 20, 30]);
        assert_eq!(frame.n_rows(), 3);
        let Some(Values::Numbers(pickups)) = frame.column("PULocationID").map(|c| &c.values) else {
            panic!("no PULocationID")
        };
        assert_eq!(pickups, &[Some(20.0), Some(7.0), Some(10.0)]);
        let Some(Values::Numbers(predictions)) = frame.column("prediction").map(|c| &c.values) else {
            panic!("no prediction")
        };
        assert_eq!(predictions, &[Some(11.0), Some(9.0), Some(12.5)]);
    }

    #[test]
    fn too_short_a_log_has_no_live_drift() {
        let entries: Vec<PredictionLogEntry> = (0..5).map(|i| ride(i, 10, 1.0)).collect();
        assert!(live_drift(&entries, 5, 100, &DriftOptions::default()).is_empty());
        assert!(live_drift(&entries, 0, 100, &DriftOptions::default()).is_empty());
    }

    /// Needs the drift report (`Reference::compare`).
    #[test]
    fn later_windows_are_compared_with_the_first_requests() {
        let mut entries: Vec<PredictionLogEntry> =
            (0..200).map(|i| ride(i, 10 + i % 5, 1.0 + (i % 10) as f64 / 10.0)).collect();
        // A window like the reference, then one where every ride is long and from zone 99.
        entries.extend((0..100).map(|i| ride(1_000 + i, 10 + i % 5, 1.0 + (i % 10) as f64 / 10.0)));
        entries.extend((0..100).map(|i| ride(2_000 + i, 99, 20.0 + (i % 10) as f64)));
        let windows = live_drift(&entries, 200, 1_000, &DriftOptions::default());
        assert_eq!(
            windows.iter().map(|w| (w.start_ms, w.rows)).collect::<Vec<_>>(),
            vec![(1_000, 100), (2_000, 100)]
        );
        let drifted = |w: &LiveWindow, name: &str| w.report.column(name).is_some_and(|c| c.drifted());
        assert!(!drifted(&windows[0], "trip_distance") && !drifted(&windows[0], "PULocationID"));
        assert!(drifted(&windows[1], "trip_distance") && drifted(&windows[1], "PULocationID"));
        assert!(drifted(&windows[1], "prediction"));
        assert!(windows[1].report.quality.is_none());
        assert_eq!(windows[1].report.columns.len(), 4);
    }
}
