#![cfg(not(target_arch = "wasm32"))]
//! The course's monitoring chapter on the real files: the baseline fitted on green
//! 2022-01, then every day of 2022-02 replayed against it, with and without drift a
//! learner injects. Skips (with a printed reason) where the real files are absent.

mod common;

use mlops_core::data::{load_trips, Field};
use mlops_core::drift::ColumnOutcome;
use mlops_core::monitoring::alerts::{default_rules, evaluate, AlertEvent, Metric};
use mlops_core::monitoring::baseline::{fit_baseline, month_frame, Baseline, MonthFrame};
use mlops_core::monitoring::inject::Injection;
use mlops_core::monitoring::replay::{replay_month, split_days, DayMetrics, ReplayOptions};

/// Trips of green 2022-02 picked up in February 2022 (pandas: 69,399 rows, 23 dated
/// outside the month).
const FEBRUARY_TRIPS: usize = 69_376;

fn month(name: &str) -> Option<MonthFrame> {
    let bytes = common::real_file(name)?;
    let table = load_trips(bytes, &Field::ALL).expect("load");
    Some(month_frame(&table).expect("month frame"))
}

fn january_and_february() -> Option<(Baseline, MonthFrame)> {
    let january = month("green_tripdata_2022-01.parquet")?;
    let february = month("green_tripdata_2022-02.parquet")?;
    let baseline = fit_baseline(&january).expect("baseline");
    assert_eq!(baseline.summary.filtered_rows, 55_211);
    assert_eq!((baseline.summary.train_rows, baseline.summary.reference_rows), (30_000, 25_211));
    assert_eq!(baseline.reference.n_rows(), 25_211);
    eprintln!("baseline: {:?}\n{:?}", baseline.model, baseline.summary);
    Some((baseline, february))
}

/// The alerts of every day, evaluated as a live monitor would: with the days known so far.
fn alerts_by_day(days: &[DayMetrics]) -> Vec<AlertEvent> {
    let rules = default_rules();
    (0..days.len() as u32 + 1)
        .flat_map(|d| {
            let known: Vec<DayMetrics> = days.iter().filter(|m| m.day_index <= d).cloned().collect();
            evaluate(&rules, &known, d)
        })
        .collect()
}

#[test]
fn february_replays_against_the_january_baseline() {
    let Some((baseline, february)) = january_and_february() else { return };
    let mut progress = Vec::new();
    let days = replay_month(&baseline, &february, &ReplayOptions::default(), &mut |done, total| {
        progress.push((done, total))
    })
    .expect("replay");
    assert_eq!(days.len(), 28);
    assert_eq!(progress.len(), 28);
    assert_eq!(progress.last(), Some(&(28, 28)));
    assert_eq!(days[0].metrics.date, "2022-02-01");
    assert_eq!(days[27].metrics.date, "2022-02-28");
    assert_eq!(days.iter().map(|d| d.metrics.rows).sum::<usize>(), FEBRUARY_TRIPS);
    let split: usize = split_days(&february).expect("days").iter().map(|(_, rows)| rows.len()).sum();
    assert_eq!(split, FEBRUARY_TRIPS);

    for day in &days {
        let m = &day.metrics;
        eprintln!(
            "{} rows {:>5} drift {:.4} drifted {}/{} missing {:.4} rmse {:.3} mae {:.3}",
            m.date,
            m.rows,
            m.prediction_drift.unwrap_or(f64::NAN),
            m.drifted_columns,
            m.columns,
            m.share_missing,
            m.rmse.unwrap_or(f64::NAN),
            m.mae.unwrap_or(f64::NAN)
        );
        assert!(m.rows > 500, "{m:?}");
        assert!(m.prediction_drift.is_some_and(f64::is_finite), "{m:?}");
        assert_eq!(m.columns, 7);
        assert!(m.drifted_columns <= 7);
        // About 10% of passenger counts are missing: one column in seven.
        assert!((0.0..0.05).contains(&m.share_missing), "{m:?}");
        assert!(m.rmse.is_some_and(|r| (3.0..15.0).contains(&r)), "{m:?}");
        assert!(m.mae.is_some_and(|r| r > 0.0 && r <= m.rmse.unwrap_or(0.0)), "{m:?}");
        assert_eq!(m.truth_day, m.day_index + 1);
        assert!(m.injected.is_empty());
        assert_eq!(day.report.current_rows, m.rows);
        assert_eq!(day.report.reference_rows, 25_211);
    }
    // Expected values from scikit-learn 1.9.1 + scipy 1.17 (pandas 3.0.1) following the
    // course notebook: the day's raw trips, `model.predict(X.fillna(0))`, the prediction's
    // `wasserstein_distance(ref, cur) / np.std(ref)`, RMSE/MAE over trips of 0–60 minutes,
    // `isna().mean().mean()` over the 7 monitored columns.
    let golden = [
        (0, 2_399, 0.188522969503922, 7.333784406789832, 4.615512528331585, 0.016316322277139285),
        (12, 1_764, 0.2142959943595221, 9.192766524328677, 4.2122705918935095, 0.0206511175898931),
        (19, 1_888, 0.23408793421725366, 7.1815156624509, 4.17162834246391, 0.014830508474576272),
    ];
    for (index, rows, drift, rmse, mae, missing) in golden {
        let m = &days[index].metrics;
        let close = |got: Option<f64>, want: f64| got.is_some_and(|got| (got - want).abs() <= 1e-6 * want);
        assert_eq!(m.rows, rows);
        assert!(close(m.prediction_drift, drift), "{m:?}");
        assert!(close(m.rmse, rmse) && close(m.mae, mae), "{m:?}");
        assert!(close(Some(m.share_missing), missing), "{m:?}");
    }
    let alerts = alerts_by_day(&days.iter().map(|d| d.metrics.clone()).collect::<Vec<_>>());
    assert!(
        !alerts.iter().any(|a| a.rule_id == default_rules()[1].id),
        "share_missing never passes 5% without an injection: {alerts:?}"
    );
}

#[test]
fn injected_missing_values_and_a_renamed_column_show_up_on_their_days() {
    let Some((baseline, february)) = january_and_february() else { return };
    let options = ReplayOptions {
        injections: vec![
            Injection::MissingValues { from_day: 10, days: 3, column: "trip_distance".into(), share: 0.3 },
            Injection::RenameColumn {
                from_day: 20,
                days: 1,
                column: "fare_amount".into(),
                new_name: "fare".into(),
            },
        ],
        ..ReplayOptions::default()
    };
    let days = replay_month(&baseline, &february, &options, &mut |_, _| {}).expect("replay");
    assert_eq!(days.len(), 28);
    for day in &days {
        let m = &day.metrics;
        if (10..13).contains(&m.day_index) {
            assert!(m.share_missing > 0.05, "{m:?}");
            assert_eq!(m.injected, vec!["trip_distance missing for 30% of rows".to_string()]);
        } else {
            assert!(m.share_missing < 0.05, "{m:?}");
        }
        assert!(m.prediction_drift.is_some_and(f64::is_finite), "{m:?}");
    }

    let renamed = &days[20];
    assert_eq!(renamed.metrics.injected, vec!["fare_amount renamed to fare".to_string()]);
    let fare = renamed.report.column("fare_amount").expect("the report lists the column");
    let ColumnOutcome::Skipped { reason } = &fare.outcome else {
        panic!("fare_amount was compared: {fare:?}")
    };
    assert!(!reason.is_empty());
    assert!(renamed.report.column("fare").is_none(), "only monitored columns are compared");
    // The model saw no fare: predictions fall and drift, as a real service would misbehave.
    assert!(renamed.metrics.prediction_drifted, "{:?}", renamed.metrics);
    assert!(days[21].report.column("fare_amount").is_some_and(|c| c.score().is_some()));

    let history: Vec<DayMetrics> = days.iter().map(|d| d.metrics.clone()).collect();
    let alerts = alerts_by_day(&history);
    let share_missing: Vec<&AlertEvent> =
        alerts.iter().filter(|a| a.rule_id == default_rules()[1].id).collect();
    assert_eq!(share_missing.len(), 1, "one streak, one alert: {alerts:?}");
    assert_eq!(share_missing[0].day_index, 10);
    assert_eq!(share_missing[0].date, "2022-02-11");
    assert!(share_missing[0].message.starts_with("share missing "), "{}", share_missing[0].message);
    assert_eq!(default_rules()[1].metric, Metric::ShareMissing);
}
