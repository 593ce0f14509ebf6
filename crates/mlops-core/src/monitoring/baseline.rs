//! The course's monitoring baseline: green 2022-01, trips of 0–60 minutes with 1–8
//! passengers (55,211 rows), a LinearRegression on four numeric columns plus the two
//! location ids used as numbers; the first 30,000 rows train it, the other 25,211 (with
//! its predictions) are the reference every later day is compared with.

use serde::{Deserialize, Serialize};

use super::MonitorError;
use crate::data::TripTable;
use crate::drift::{ColumnSpec, Frame};

pub const NUMERIC: [&str; 4] = ["passenger_count", "trip_distance", "fare_amount", "total_amount"];
pub const CATEGORICAL: [&str; 2] = ["PULocationID", "DOLocationID"];
pub const PREDICTION: &str = "prediction";
/// The truth: trip duration in minutes (arrives later than the prediction).
pub const TRUTH: &str = "duration_min";
/// Rows of the filtered January that train the model; the rest are the reference.
pub const TRAIN_ROWS: usize = 30_000;

/// The 7 monitored columns: prediction, 4 numeric, 2 categorical.
pub fn monitored_columns() -> Vec<ColumnSpec> {
    unimplemented!("helper C")
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
    pub fn predict(&self, frame: &Frame) -> Vec<f64> {
        let _ = frame;
        unimplemented!("helper C")
    }
}

/// A month as the monitor sees it: the 6 feature columns (raw, nulls kept), the truth
/// ([`TRUTH`], None without both timestamps) and each row's pickup time (µs).
#[derive(Debug, Clone, PartialEq)]
pub struct MonthFrame {
    pub frame: Frame,
    pub pickup_micros: Vec<Option<i64>>,
}

/// Builds the monitor's view of a loaded month (load it with `Field::ALL`).
pub fn month_frame(table: &TripTable) -> Result<MonthFrame, MonitorError> {
    let _ = table;
    unimplemented!("helper C")
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
    let _ = month;
    unimplemented!("helper C")
}
