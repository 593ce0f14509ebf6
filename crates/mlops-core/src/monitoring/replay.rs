//! A month replayed day by day: each day's trips get the baseline model's predictions and
//! a drift report against the reference; the day's metrics are what the course writes to
//! its `dummy_metrics` table. The truth (trip durations) arrives `truth_delay_days` later.

use serde::{Deserialize, Serialize};

use super::baseline::{monitored_columns, Baseline, MonthFrame, PREDICTION, TRUTH};
use super::inject::{self, Injection};
use super::MonitorError;
use crate::drift::{Column, DriftOptions, DriftReport, Frame, Reference, Values};

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

/// The seed of the injections' random choices: a replay is reproducible from its options.
const INJECTION_SEED: u64 = 2022;
/// Quality is measured over trips of 0 to 60 minutes, the range the model was trained on.
const MAX_TRUTH_MINUTES: f64 = 60.0;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Row indices of each calendar day (UTC pickup date) of the month that holds most
/// trips, in date order, every day of that month listed (an empty day has no rows).
///
/// TLC files carry a few trips dated in other months (a 2009 clock, the last minutes of
/// the month before); they are left out, as the course's daily queries leave them out.
pub fn split_days(month: &MonthFrame) -> Result<Vec<(String, Vec<usize>)>, MonitorError> {
    let dates: Vec<Option<(i64, u32, u32)>> = month
        .pickup_micros
        .iter()
        .map(|t| t.map(|t| civil_from_days(t.div_euclid(MICROS_PER_DAY))))
        .collect();
    let mut per_month = std::collections::BTreeMap::<(i64, u32), usize>::new();
    for &(year, month_number, _) in dates.iter().flatten() {
        *per_month.entry((year, month_number)).or_insert(0) += 1;
    }
    // The busiest month; on a tie the earliest (max_by_key keeps the last maximum, so
    // iterate from the latest).
    let (year, month_number) = per_month
        .iter()
        .rev()
        .max_by_key(|(_, &count)| count)
        .map(|(&key, _)| key)
        .ok_or(MonitorError::NoDays)?;
    let mut days: Vec<(String, Vec<usize>)> = (1..=days_in_month(year, month_number))
        .map(|day| (format!("{year:04}-{month_number:02}-{day:02}"), Vec::new()))
        .collect();
    for (row, date) in dates.iter().enumerate() {
        if let Some((y, m, d)) = *date {
            if (y, m) == (year, month_number) {
                days[d as usize - 1].1.push(row);
            }
        }
    }
    Ok(days)
}

/// The truth limited to trips of 0–60 minutes, the range the model was trained on:
/// quality is computed over those trips only.
fn truth_in_range(frame: &Frame) -> Option<Column> {
    match frame.column(TRUTH).map(|c| &c.values) {
        Some(Values::Numbers(truth)) => Some(Column::numbers(
            TRUTH,
            truth.iter().map(|x| x.filter(|minutes| (0.0..=MAX_TRUTH_MINUTES).contains(minutes))).collect(),
        )),
        _ => None,
    }
}

/// Replays every day of `month` against the baseline. `progress(done, total)` after each day.
///
/// Each day goes through what a live service would see: the injections change the day's
/// rows first, then the model predicts from them (a renamed or emptied column reaches the
/// model as zeros, the course's `fillna(0)`), then the day is compared with the reference.
/// Drift and the missing share are computed over the 7 monitored columns only. Quality
/// (RMSE, MAE) counts only trips whose duration is 0–60 minutes, the range the model was
/// trained on.
pub fn replay_month(
    baseline: &Baseline,
    month: &MonthFrame,
    options: &ReplayOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<ReplayDay>, MonitorError> {
    for injection in &options.injections {
        injection.check()?;
    }
    let days = split_days(month)?;
    let columns = monitored_columns();
    let reference = Reference::new(&baseline.reference, &columns);
    let total = days.len();
    let mut replayed = Vec::with_capacity(total);
    for (index, (date, rows)) in days.into_iter().enumerate() {
        let day_index = index as u32;
        let mut day = MonthFrame {
            frame: month.frame.select(&rows),
            pickup_micros: rows.iter().map(|&row| month.pickup_micros.get(row).copied().flatten()).collect(),
        };
        let injected = inject::apply(&options.injections, day_index, &mut day, INJECTION_SEED)?;
        let predictions = baseline.model.predict(&day.frame);
        day.frame.set(Column::numbers(PREDICTION, predictions.into_iter().map(Some).collect()))?;
        if let Some(truth) = truth_in_range(&day.frame) {
            day.frame.set(truth)?;
        }
        let report = reference.compare(&day.frame, &options.drift, Some((TRUTH, PREDICTION)));
        let quality = report.quality;
        let prediction = report.column(PREDICTION);
        let metrics = DayMetrics {
            day_index,
            date,
            rows: rows.len(),
            prediction_drift: prediction.and_then(|c| c.score()),
            prediction_drifted: prediction.is_some_and(|c| c.drifted()),
            drifted_columns: report.dataset.n_drifted,
            columns: columns.len(),
            dataset_drift: report.dataset.dataset_drift,
            share_missing: report.current_missing_share,
            rmse: quality.map(|q| q.rmse).filter(|x| x.is_finite()),
            mae: quality.map(|q| q.mae).filter(|x| x.is_finite()),
            truth_day: day_index.saturating_add(options.truth_delay_days),
            injected,
        };
        replayed.push(ReplayDay { metrics, report });
        progress(index + 1, total);
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::ColumnOutcome;
    use crate::monitoring::baseline::{
        fit_baseline, month_frame, BaselineSummary, MonitorModel, CATEGORICAL, NUMERIC,
    };

    const DAY: i64 = MICROS_PER_DAY;
    /// 2022-02-01 00:00 UTC in microseconds.
    const FEB_1_2022: i64 = 19_024 * DAY;

    fn month_with_pickups(pickups: Vec<Option<i64>>) -> MonthFrame {
        let n = pickups.len();
        let frame = Frame::new(vec![Column::numbers(TRUTH, vec![Some(10.0); n])]).expect("frame");
        MonthFrame { frame, pickup_micros: pickups }
    }

    #[test]
    fn civil_dates_are_right_around_leap_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_024), (2022, 2, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!((days_in_month(2022, 2), days_in_month(2024, 2), days_in_month(1900, 2)), (28, 29, 28));
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn days_of_the_busiest_month_are_listed_even_when_empty() {
        let pickups = vec![
            Some(FEB_1_2022 + 3 * DAY + 5),
            Some(FEB_1_2022 - 1), // 2022-01-31 23:59:59.999999: another month
            Some(FEB_1_2022),
            None,
            Some(FEB_1_2022 + 27 * DAY + DAY - 1), // the last microsecond of February
            Some(0),                               // 1970: ignored
            Some(FEB_1_2022 + 3 * DAY),
        ];
        let days = split_days(&month_with_pickups(pickups)).expect("days");
        assert_eq!(days.len(), 28);
        assert_eq!(days[0], ("2022-02-01".to_string(), vec![2]));
        assert_eq!(days[3], ("2022-02-04".to_string(), vec![0, 6]));
        assert_eq!(days[27], ("2022-02-28".to_string(), vec![4]));
        assert_eq!(days.iter().map(|(_, rows)| rows.len()).sum::<usize>(), 4);
        assert!(days[1].1.is_empty());
    }

    #[test]
    fn no_pickup_times_means_no_days() {
        assert_eq!(split_days(&month_with_pickups(vec![None, None])), Err(MonitorError::NoDays));
        assert_eq!(split_days(&month_with_pickups(Vec::new())), Err(MonitorError::NoDays));
    }

    #[test]
    fn a_bad_injection_stops_the_replay_before_any_day() {
        let baseline = Baseline {
            model: MonitorModel { features: Vec::new(), coefficients: Vec::new(), intercept: 1.0 },
            reference: Frame::default(),
            summary: BaselineSummary {
                filtered_rows: 0,
                train_rows: 0,
                reference_rows: 0,
                train_rmse: 0.0,
                train_mae: 0.0,
                reference_rmse: 0.0,
                reference_mae: 0.0,
            },
        };
        let options = ReplayOptions {
            injections: vec![Injection::MissingValues {
                from_day: 0,
                days: 0,
                column: "trip_distance".into(),
                share: 0.5,
            }],
            ..ReplayOptions::default()
        };
        let mut calls = 0;
        let month = month_with_pickups(vec![Some(FEB_1_2022)]);
        let err = replay_month(&baseline, &month, &options, &mut |_, _| calls += 1).expect_err("refused");
        assert!(matches!(err, MonitorError::Injection(_)), "{err:?}");
        assert_eq!(calls, 0);
    }

    fn simulated(month: u32, trips: usize) -> MonthFrame {
        let params = crate::simulate::CityParams { year: 2022, month, trips, ..Default::default() };
        let bytes = crate::simulate::simulate_month_parquet(&params).expect("simulate");
        let table = crate::data::load_trips(bytes.into(), &crate::data::Field::ALL).expect("load");
        month_frame(&table).expect("frame")
    }

    /// Needs the drift report (`Reference::compare`).
    #[test]
    fn a_simulated_february_replays_day_by_day() {
        let baseline = fit_baseline(&simulated(1, 76_000)).expect("fit");
        let mut february = simulated(2, 6_000);
        // No pickup time on 2022-02-10: an empty day, which the replay still lists.
        for &row in &split_days(&february).expect("days")[9].1 {
            february.pickup_micros[row] = None;
        }
        let options = ReplayOptions {
            injections: vec![
                Injection::MissingValues { from_day: 3, days: 2, column: "trip_distance".into(), share: 0.3 },
                Injection::RenameColumn {
                    from_day: 6,
                    days: 1,
                    column: "fare_amount".into(),
                    new_name: "fare".into(),
                },
            ],
            ..ReplayOptions::default()
        };
        let mut seen = Vec::new();
        let days = replay_month(&baseline, &february, &options, &mut |done, total| seen.push((done, total)))
            .expect("replay");
        assert_eq!(days.len(), 28);
        assert_eq!(seen.last(), Some(&(28, 28)));
        assert_eq!(
            days.iter().map(|d| d.metrics.rows).sum::<usize>(),
            split_days(&february).expect("days").iter().map(|d| d.1.len()).sum::<usize>()
        );
        for day in &days {
            let m = &day.metrics;
            assert_eq!(m.columns, NUMERIC.len() + CATEGORICAL.len() + 1);
            assert_eq!(m.truth_day, m.day_index + 1);
            if m.rows > 0 {
                assert!(m.prediction_drift.is_some_and(f64::is_finite), "{m:?}");
                assert!(m.rmse.is_some_and(|x| x > 0.0 && x < 30.0), "{m:?}");
            }
        }
        let empty = &days[9];
        assert_eq!((empty.metrics.date.as_str(), empty.metrics.rows), ("2022-02-10", 0));
        assert_eq!((empty.metrics.prediction_drift, empty.metrics.rmse), (None, None));
        assert!(empty.report.columns.iter().all(|c| matches!(c.outcome, ColumnOutcome::Skipped { .. })));
        // The simulated city lacks passenger_count on 47% of trips, so share_missing starts
        // near 0.47 / 7; 30% of trip_distance adds about 0.3 / 7.
        let rise = days[3].metrics.share_missing - days[2].metrics.share_missing;
        assert!(rise > 0.02, "{:?} then {:?}", days[2].metrics, days[3].metrics);
        assert_eq!(days[3].metrics.injected, vec!["trip_distance missing for 30% of rows".to_string()]);
        let fare = days[6].report.column("fare_amount").expect("listed");
        assert!(matches!(fare.outcome, ColumnOutcome::Skipped { .. }), "{fare:?}");
        assert!(days[7].report.column("fare_amount").is_some_and(|c| c.score().is_some()));
    }
}
