//! The course's monitoring baseline: green 2022-01, trips of 0–60 minutes with 1–8
//! passengers (55,211 rows), a LinearRegression on four numeric columns plus the two
//! location ids used as numbers; the first 30,000 rows train it, the other 25,211 (with
//! its predictions) are the reference every later day is compared with.
//!
//! The location ids go into the model as plain numbers, as the course does: zone 200 is
//! not "twice" zone 100, so the model learns little from them. That is the course's
//! point: a simple, honest baseline whose drift is easy to see, not a good model.

use linfa_linalg::qr::LeastSquaresQrInto;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::MonitorError;
use crate::data::{DataError, Field, FieldKind, TripTable};
use crate::drift::{Column, ColumnSpec, Frame, Values};
use crate::features::duration_minutes;
use crate::metrics::regression_metrics;

pub const NUMERIC: [&str; 4] = ["passenger_count", "trip_distance", "fare_amount", "total_amount"];
pub const CATEGORICAL: [&str; 2] = ["PULocationID", "DOLocationID"];
pub const PREDICTION: &str = "prediction";
/// The truth: trip duration in minutes (arrives later than the prediction).
pub const TRUTH: &str = "duration_min";
/// Rows of the filtered January that train the model; the rest are the reference.
pub const TRAIN_ROWS: usize = 30_000;

/// The course's filter: trips of 0 to 60 minutes…
const MAX_MINUTES: f64 = 60.0;
/// …with 1 to 8 passengers (a missing count fails the filter, as NaN does in pandas).
const MAX_PASSENGERS: f64 = 8.0;

/// The 7 monitored columns: prediction, 4 numeric, 2 categorical.
pub fn monitored_columns() -> Vec<ColumnSpec> {
    let mut columns = vec![ColumnSpec::numerical(PREDICTION)];
    columns.extend(NUMERIC.iter().map(|name| ColumnSpec::numerical(name)));
    columns.extend(CATEGORICAL.iter().map(|name| ColumnSpec::categorical(name)));
    columns
}

/// The model's input columns, in coefficient order.
fn feature_names() -> impl Iterator<Item = &'static str> {
    NUMERIC.iter().chain(CATEGORICAL.iter()).copied()
}

/// The baseline model: coefficients in the order of [`NUMERIC`] then [`CATEGORICAL`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorModel {
    pub features: Vec<String>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

impl MonitorModel {
    /// Predicts every row of `frame`; a missing value counts as 0 (the course's
    /// `fillna(0)`), and so does a feature column the frame lacks.
    ///
    /// A column that arrived as text is read the way a careless service would read it:
    /// numbers in the text are used, anything else counts as 0. The drift report still
    /// flags the column; the model does not crash.
    pub fn predict(&self, frame: &Frame) -> Vec<f64> {
        let mut predictions = vec![self.intercept; frame.n_rows()];
        for (name, &coefficient) in self.features.iter().zip(&self.coefficients) {
            let Some(column) = frame.column(name) else { continue };
            for (prediction, value) in predictions.iter_mut().zip(feature_values(&column.values)) {
                *prediction += coefficient * value;
            }
        }
        predictions
    }
}

/// A column's values as model inputs: missing, non-finite or unparseable → 0.
fn feature_values(values: &Values) -> Vec<f64> {
    let finite_or_zero = |x: Option<f64>| x.filter(|x| x.is_finite()).unwrap_or(0.0);
    match values {
        Values::Numbers(v) => v.iter().map(|&x| finite_or_zero(x)).collect(),
        Values::Text(v) => {
            v.iter().map(|x| finite_or_zero(x.as_deref().and_then(|s| s.trim().parse().ok()))).collect()
        }
    }
}

/// A month as the monitor sees it: the 6 feature columns (raw, nulls kept), the truth
/// ([`TRUTH`], None without both timestamps) and each row's pickup time (µs).
#[derive(Debug, Clone, PartialEq)]
pub struct MonthFrame {
    pub frame: Frame,
    pub pickup_micros: Vec<Option<i64>>,
}

/// The table fields behind each frame column, in frame order.
const FEATURE_FIELDS: [(&str, Field); 6] = [
    ("passenger_count", Field::PassengerCount),
    ("trip_distance", Field::TripDistance),
    ("fare_amount", Field::FareAmount),
    ("total_amount", Field::TotalAmount),
    ("PULocationID", Field::PuLocationId),
    ("DOLocationID", Field::DoLocationId),
];

/// Builds the monitor's view of a loaded month (load it with `Field::ALL`).
pub fn month_frame(table: &TripTable) -> Result<MonthFrame, MonitorError> {
    let missing = |field: Field| DataError::MissingColumn {
        wanted: field.display_name().to_string(),
        found: table.source_names.values().cloned().collect(),
    };
    let mut columns = Vec::with_capacity(FEATURE_FIELDS.len() + 1);
    for (name, field) in FEATURE_FIELDS {
        let values: Vec<Option<f64>> = match field.kind() {
            FieldKind::Integer => table
                .integers(field)
                .ok_or_else(|| missing(field))?
                .iter()
                .map(|x| x.map(|x| x as f64))
                .collect(),
            _ => table.floats(field).ok_or_else(|| missing(field))?.to_vec(),
        };
        columns.push(Column::numbers(name, values));
    }
    let pickup = table.timestamps(Field::PickupDatetime).ok_or_else(|| missing(Field::PickupDatetime))?;
    table.timestamps(Field::DropoffDatetime).ok_or_else(|| missing(Field::DropoffDatetime))?;
    columns.push(Column::numbers(TRUTH, duration_minutes(table)));
    Ok(MonthFrame { frame: Frame::new(columns)?, pickup_micros: pickup.to_vec() })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    pub filtered_rows: usize,
    pub train_rows: usize,
    pub reference_rows: usize,
    pub train_rmse: f64,
    pub train_mae: f64,
    pub reference_rmse: f64,
    pub reference_mae: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub model: MonitorModel,
    /// The reference rows: 6 features, [`TRUTH`] and [`PREDICTION`].
    pub reference: Frame,
    pub summary: BaselineSummary,
}

/// Filters January as the course does, trains on the first [`TRAIN_ROWS`] rows and
/// predicts the rest.
pub fn fit_baseline(month: &MonthFrame) -> Result<Baseline, MonitorError> {
    fit_baseline_with(month, TRAIN_ROWS)
}

/// The numbers of a named column, or a clear error naming what the frame has.
fn numbers<'a>(frame: &'a Frame, name: &str) -> Result<&'a [Option<f64>], MonitorError> {
    let found = || frame.columns().iter().map(|c| c.name.clone()).collect();
    match frame.column(name).map(|c| &c.values) {
        Some(Values::Numbers(v)) => Ok(v),
        Some(other) => Err(DataError::WrongType {
            column: name.to_string(),
            found: other.kind().to_string(),
            expected: "numbers".to_string(),
        }
        .into()),
        None => Err(DataError::MissingColumn { wanted: name.to_string(), found: found() }.into()),
    }
}

/// Row indices kept by the course's filter: 0 ≤ duration ≤ 60 min and 0 < passengers ≤ 8.
fn course_filter(frame: &Frame) -> Result<Vec<usize>, MonitorError> {
    let duration = numbers(frame, TRUTH)?;
    let passengers = numbers(frame, "passenger_count")?;
    Ok(duration
        .iter()
        .zip(passengers)
        .enumerate()
        .filter(|(_, (d, p))| {
            matches!(d, Some(d) if (0.0..=MAX_MINUTES).contains(d))
                && matches!(p, Some(p) if *p > 0.0 && *p <= MAX_PASSENGERS)
        })
        .map(|(i, _)| i)
        .collect())
}

/// [`fit_baseline`] with another training size (small fixtures in tests).
fn fit_baseline_with(month: &MonthFrame, train_rows: usize) -> Result<Baseline, MonitorError> {
    let kept = course_filter(&month.frame)?;
    if kept.len() <= train_rows {
        return Err(MonitorError::TooFewRows { rows: kept.len(), needed: train_rows });
    }
    // The 6 features and the truth, raw (nulls kept), of the filtered rows.
    let mut columns = Vec::with_capacity(7);
    for name in feature_names().chain([TRUTH]) {
        columns.push(Column::numbers(name, numbers(&month.frame, name)?.to_vec()));
    }
    let filtered = Frame::new(columns)?.select(&kept);
    let (train, mut reference) = {
        let all: Vec<usize> = (0..kept.len()).collect();
        (filtered.select(&all[..train_rows]), filtered.select(&all[train_rows..]))
    };

    let model = fit_ols(&train)?;
    let train_truth = truth_values(&train)?;
    let train_metrics = regression_metrics(&model.predict(&train), &train_truth);
    let reference_predictions = model.predict(&reference);
    let reference_metrics = regression_metrics(&reference_predictions, &truth_values(&reference)?);
    reference.set(Column::numbers(PREDICTION, reference_predictions.into_iter().map(Some).collect()))?;

    let summary = BaselineSummary {
        filtered_rows: kept.len(),
        train_rows,
        reference_rows: kept.len() - train_rows,
        train_rmse: train_metrics.rmse,
        train_mae: train_metrics.mae,
        reference_rmse: reference_metrics.rmse,
        reference_mae: reference_metrics.mae,
    };
    Ok(Baseline { model, reference, summary })
}

/// The truth of filtered rows (always present: the filter needs it).
fn truth_values(frame: &Frame) -> Result<Vec<f64>, MonitorError> {
    Ok(numbers(frame, TRUTH)?.iter().map(|x| x.unwrap_or(0.0)).collect())
}

/// Ordinary least squares with an intercept (scikit-learn's `LinearRegression`), solved
/// with linfa-linalg's QR least squares on the features plus a column of ones (what
/// linfa-linear's OLS does). Missing inputs count as 0, as they do at prediction time.
fn fit_ols(train: &Frame) -> Result<MonitorModel, MonitorError> {
    let features: Vec<String> = feature_names().map(str::to_string).collect();
    let rows = train.n_rows();
    // The last column of ones carries the intercept, as in linfa-linear's OLS.
    let mut x = Array2::<f64>::ones((rows, features.len() + 1));
    for (j, name) in features.iter().enumerate() {
        let values = match train.column(name) {
            Some(column) => feature_values(&column.values),
            None => vec![0.0; rows],
        };
        for (i, value) in values.into_iter().enumerate() {
            x[[i, j]] = value;
        }
    }
    let y = Array1::from(truth_values(train)?);
    let solution =
        x.least_squares_into(y.insert_axis(Axis(1))).map_err(|e| MonitorError::Fit(e.to_string()))?;
    let mut coefficients: Vec<f64> = solution.column(0).to_vec();
    let intercept = coefficients.pop().unwrap_or(f64::NAN);
    let model = MonitorModel { features, coefficients, intercept };
    if !(model.intercept.is_finite() && model.coefficients.iter().all(|c| c.is_finite())) {
        return Err(MonitorError::Fit(
            "the coefficients are not finite numbers; the training rows may repeat one value in a column"
                .to_string(),
        ));
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load_trips;

    /// A month frame from plain rows: (passengers, distance, fare, total, PU, DO, minutes).
    fn frame_of(rows: &[[Option<f64>; 7]]) -> MonthFrame {
        let names = [
            "passenger_count",
            "trip_distance",
            "fare_amount",
            "total_amount",
            "PULocationID",
            "DOLocationID",
            TRUTH,
        ];
        let columns = names
            .iter()
            .enumerate()
            .map(|(j, name)| Column::numbers(name, rows.iter().map(|r| r[j]).collect()));
        MonthFrame {
            frame: Frame::new(columns.collect()).expect("frame"),
            pickup_micros: vec![Some(0); rows.len()],
        }
    }

    #[test]
    fn seven_columns_are_monitored() {
        let names: Vec<String> = monitored_columns().into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "prediction",
                "passenger_count",
                "trip_distance",
                "fare_amount",
                "total_amount",
                "PULocationID",
                "DOLocationID"
            ]
        );
        assert_eq!(monitored_columns()[5].column_type, crate::drift::ColumnType::Categorical);
    }

    #[test]
    fn missing_text_and_absent_values_count_as_zero() {
        let model = MonitorModel {
            features: vec!["a".into(), "b".into(), "c".into()],
            coefficients: vec![1.0, 10.0, 100.0],
            intercept: 0.5,
        };
        let frame = Frame::new(vec![
            Column::numbers("a", vec![Some(1.0), None, Some(f64::NAN)]),
            Column::text("b", vec![Some(" 2.5".into()), Some("two".into()), None]),
        ])
        .expect("frame");
        assert_eq!(model.predict(&frame), vec![26.5, 0.5, 0.5]);
        assert!(model.predict(&Frame::default()).is_empty());
    }

    #[test]
    fn fits_an_exact_plane_and_keeps_the_rest_as_reference() {
        // minutes = 2 + 3·distance + 0.5·fare, exactly; passengers vary so nothing is singular.
        let row = |i: f64| {
            let (p, d, f, t, pu, dol) =
                (1.0 + i % 3.0, i, (i * 7.0) % 11.0, (i * 5.0) % 13.0, (i * 3.0) % 17.0, (i * 11.0) % 19.0);
            [Some(p), Some(d), Some(f), Some(t), Some(pu), Some(dol), Some(2.0 + 3.0 * d + 0.5 * f)]
        };
        let mut rows: Vec<[Option<f64>; 7]> = (0..15).map(|i| row(f64::from(i))).collect();
        // Filtered out: too long, negative, no passengers, 9 passengers, no passenger count.
        rows.insert(3, [Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(61.0)]);
        rows.insert(5, [Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(-1.0)]);
        rows.insert(7, [Some(0.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(5.0)]);
        rows.insert(8, [Some(9.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(5.0)]);
        rows.insert(9, [None, Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(5.0)]);
        let baseline = fit_baseline_with(&frame_of(&rows), 10).expect("fit");
        let expected = [0.0, 3.0, 0.5, 0.0, 0.0, 0.0];
        for (c, e) in baseline.model.coefficients.iter().zip(expected) {
            assert!((c - e).abs() < 1e-9, "{:?}", baseline.model.coefficients);
        }
        assert!((baseline.model.intercept - 2.0).abs() < 1e-9);
        assert_eq!(baseline.summary.filtered_rows, 15);
        assert_eq!((baseline.summary.train_rows, baseline.summary.reference_rows), (10, 5));
        assert!(baseline.summary.train_rmse < 1e-9 && baseline.summary.reference_mae < 1e-9);
        assert_eq!(baseline.reference.n_rows(), 5);
        let names: Vec<&str> = baseline.reference.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, [&NUMERIC[..], &CATEGORICAL[..], &[TRUTH, PREDICTION]].concat());
        let Some(Values::Numbers(predictions)) = baseline.reference.column(PREDICTION).map(|c| &c.values)
        else {
            panic!("no prediction column")
        };
        assert!((predictions[0].unwrap_or(f64::NAN) - (2.0 + 3.0 * 10.0 + 0.5 * 4.0)).abs() < 1e-9);
    }

    #[test]
    fn too_few_rows_and_missing_columns_are_explained() {
        let rows = vec![[Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(5.0)]; 3];
        let err = fit_baseline(&frame_of(&rows)).expect_err("too few");
        assert_eq!(err, MonitorError::TooFewRows { rows: 3, needed: TRAIN_ROWS });
        let table = TripTable { n_rows: 0, ..TripTable::default() };
        let err = month_frame(&table).expect_err("no columns");
        assert!(err.to_string().contains("column `passenger_count` is missing"), "{err}");
    }

    #[test]
    fn a_simulated_month_becomes_a_month_frame() {
        let params = crate::simulate::CityParams { trips: 500, ..Default::default() };
        let bytes = crate::simulate::simulate_month_parquet(&params).expect("simulate");
        let table = load_trips(bytes.into(), &Field::ALL).expect("load");
        let month = month_frame(&table).expect("frame");
        assert_eq!(month.frame.n_rows(), table.n_rows);
        assert_eq!(month.pickup_micros.len(), table.n_rows);
        assert_eq!(month.frame.columns().len(), 7);
        let truth = numbers(&month.frame, TRUTH).expect("truth");
        assert_eq!(truth, duration_minutes(&table).as_slice());
    }

    /// Expected values from scikit-learn 1.9.1 (pandas 3.0.1, pyarrow 26) on
    /// green_tripdata_2022-01.parquet with the course notebook's filter and split:
    /// `LinearRegression().fit(train[num + cat], train.duration_min)` on the first 30,000
    /// filtered rows, then RMSE/MAE from `sklearn.metrics` on both parts.
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn the_real_baseline_matches_scikit_learn() {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/green_tripdata_2022-01.parquet");
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("SKIPPED: {path} is not available; the real TLC files live in ../shared/data");
            return;
        };
        let table = load_trips(bytes.into(), &Field::ALL).expect("load");
        let baseline = fit_baseline(&month_frame(&table).expect("frame")).expect("fit");
        assert_eq!(baseline.summary.filtered_rows, 55_211);
        assert_eq!((baseline.summary.train_rows, baseline.summary.reference_rows), (30_000, 25_211));
        let close = |got: f64, want: f64, what: &str| {
            assert!((got - want).abs() <= 1e-6 * want.abs(), "{what}: got {got}, scikit-learn {want}");
        };
        let sklearn_coefficients = [
            -0.013579399518018625,
            -1.0880067218534562e-05,
            0.4128882540093614,
            0.1989029234219738,
            -0.005173405959499957,
            0.0021842771145856627,
        ];
        for (i, (&got, want)) in baseline.model.coefficients.iter().zip(sklearn_coefficients).enumerate() {
            close(got, want, &format!("coefficient {}", baseline.model.features[i]));
        }
        close(baseline.model.intercept, 4.436018816280843, "intercept");
        close(baseline.summary.train_rmse, 6.302977121716175, "train RMSE");
        close(baseline.summary.train_mae, 3.8046653737850624, "train MAE");
        close(baseline.summary.reference_rmse, 6.856204886925682, "reference RMSE");
        close(baseline.summary.reference_mae, 4.142064073688449, "reference MAE");
        let Some(Values::Numbers(predictions)) = baseline.reference.column(PREDICTION).map(|c| &c.values)
        else {
            panic!("no prediction column")
        };
        for (got, want) in
            predictions.iter().zip([13.616479852382582, 11.420534546494492, 10.117696601693405])
        {
            close(got.unwrap_or(f64::NAN), want, "reference prediction");
        }
    }
}
