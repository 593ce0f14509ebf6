//! Drift statistics on the real files, against Evidently and SciPy.
//!
//! Expected values: Evidently 0.7.23 (`DataDriftPreset`, legacy API) and SciPy 1.17.1 on
//! green_tripdata_2021-01 (reference) and green_tripdata_2021-02 (current), all rows,
//! with trip_distance, fare_amount, total_amount, passenger_count numerical and
//! PULocationID, DOLocationID categorical — the values stated in the monitoring issue.
//! Tolerance 1e-6.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use mlops_core::drift::column::Frame;
use mlops_core::drift::load::frame_from_parquet;
use mlops_core::drift::report::ColumnOutcome;
use mlops_core::drift::stats::ks_2samp;
use mlops_core::drift::{drift_report, ColumnSpec, DriftOptions, StatTest, Values};

const TOLERANCE: f64 = 1e-6;

fn months() -> Option<(Frame, Frame)> {
    let jan = common::real_file("green_tripdata_2021-01.parquet")?;
    let feb = common::real_file("green_tripdata_2021-02.parquet")?;
    Some((frame_from_parquet(jan).expect("jan loads").0, frame_from_parquet(feb).expect("feb loads").0))
}

fn course_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::numerical("trip_distance"),
        ColumnSpec::numerical("fare_amount"),
        ColumnSpec::numerical("total_amount"),
        ColumnSpec::numerical("passenger_count"),
        ColumnSpec::categorical("PULocationID"),
        ColumnSpec::categorical("DOLocationID"),
    ]
}

#[test]
fn january_to_february_2021_matches_evidently() {
    let Some((jan, feb)) = months() else { return };
    let report = drift_report(&jan, &feb, &course_columns(), &DriftOptions::default(), None);
    let expected = [
        ("trip_distance", StatTest::Wasserstein, 0.011907059),
        ("fare_amount", StatTest::Wasserstein, 0.018642821),
        ("total_amount", StatTest::Wasserstein, 0.014805069),
        ("passenger_count", StatTest::Wasserstein, 0.023000882),
        ("PULocationID", StatTest::JensenShannon, 0.042941365),
        ("DOLocationID", StatTest::JensenShannon, 0.037556657),
    ];
    for (name, want_test, want_score) in expected {
        let column = report.column(name).expect("column compared");
        match column.outcome {
            ColumnOutcome::Tested { test, score, threshold, drifted } => {
                assert_eq!(test, want_test, "{name}");
                assert!((score - want_score).abs() < TOLERANCE, "{name}: {score} vs Evidently {want_score}");
                assert_eq!(threshold, 0.1, "{name}");
                assert!(!drifted, "{name}");
            }
            ref other => panic!("{name} was not tested: {other:?}"),
        }
    }
    assert_eq!((report.dataset.n_drifted, report.dataset.n_columns), (0, 6));
    assert!(!report.dataset.dataset_drift);
    // passenger_count is compared on its non-null values only.
    let passenger = report.column("passenger_count").expect("passenger_count");
    assert!(passenger.reference_values < jan.n_rows());
}

#[test]
fn trip_distance_ks_matches_scipy() {
    let Some((jan, feb)) = months() else { return };
    let values = |frame: &Frame| match &frame.column("trip_distance").expect("trip_distance").values {
        Values::Numbers(v) => v.iter().flatten().copied().collect::<Vec<f64>>(),
        Values::Text(_) => panic!("trip_distance should be numbers"),
    };
    let result = ks_2samp(&values(&jan), &values(&feb)).expect("both samples have values");
    assert!((result.statistic - 0.007724195).abs() < TOLERANCE, "{}", result.statistic);
    assert!((result.p_value - 0.030475124).abs() < TOLERANCE, "{}", result.p_value);
    assert!(!result.exact, "76,518 and 64,572 values take SciPy's asymptotic path");
}

/// Every column of the files (timestamps and the all-null `ehail_fee` left out), types
/// as pandas infers them, location ids categorical. Expected: Evidently 0.7.23 with the
/// same column mapping (`DataDriftPreset`), pandas 2.3.3.
#[test]
fn every_column_of_the_files_matches_evidently() {
    let Some(jan) = common::real_file("green_tripdata_2021-01.parquet") else { return };
    let Some(feb) = common::real_file("green_tripdata_2021-02.parquet") else { return };
    let (jan, specs) = frame_from_parquet(jan).expect("jan loads");
    let (feb, _) = frame_from_parquet(feb).expect("feb loads");
    let report = drift_report(&jan, &feb, &specs, &DriftOptions::default(), None);
    let expected = [
        ("RatecodeID", StatTest::Wasserstein, 0.005219785979307116, false),
        ("VendorID", StatTest::JensenShannon, 0.008722318545481078, false),
        ("congestion_surcharge", StatTest::JensenShannon, 0.002763274209479994, false),
        ("extra", StatTest::Wasserstein, 0.5375287039942495, true),
        ("fare_amount", StatTest::Wasserstein, 0.018642820863835275, false),
        ("improvement_surcharge", StatTest::JensenShannon, 0.001811077824517218, false),
        ("mta_tax", StatTest::JensenShannon, 0.015115076006404233, false),
        ("passenger_count", StatTest::Wasserstein, 0.02300088164500542, false),
        ("payment_type", StatTest::JensenShannon, 0.011114086118142123, false),
        ("tip_amount", StatTest::Wasserstein, 0.41887276257384365, true),
        ("tolls_amount", StatTest::Wasserstein, 0.009481033897529398, false),
        ("total_amount", StatTest::Wasserstein, 0.014805069064821071, false),
        ("trip_distance", StatTest::Wasserstein, 0.01190705867713419, false),
        ("trip_type", StatTest::JensenShannon, 0.00035808937947910896, false),
        ("PULocationID", StatTest::JensenShannon, 0.04294136451699874, false),
        ("DOLocationID", StatTest::JensenShannon, 0.03755665704808184, false),
        ("store_and_fwd_flag", StatTest::JensenShannon, 0.0002577432017242615, false),
    ];
    assert_eq!(
        report.columns.len(),
        expected.len(),
        "{:?}",
        report.columns.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    for (name, want_test, want_score, want_drift) in expected {
        let column = report.column(name).expect("column compared");
        match column.outcome {
            ColumnOutcome::Tested { test, score, drifted, .. } => {
                assert_eq!(test, want_test, "{name}");
                assert!((score - want_score).abs() < TOLERANCE, "{name}: {score} vs Evidently {want_score}");
                assert_eq!(drifted, want_drift, "{name}");
            }
            ref other => panic!("{name} was not tested: {other:?}"),
        }
    }
    assert_eq!(report.dataset.n_drifted, 2);
    assert!(!report.dataset.dataset_drift, "2 of 17 is under the 0.5 share");
}
