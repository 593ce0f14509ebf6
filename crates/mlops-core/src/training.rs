//! Chapter 1 end to end: two months of trips → filter → features → fit → evaluate.
//!
//! The app's worker, the command-line example and the benchmark all call
//! [`train_and_evaluate`], so the numbers a learner sees are the ones the golden tests pin.

use serde::{Deserialize, Serialize};

use crate::data::TripTable;
use crate::features::{
    prepare_trips, DictVectorizer, DurationFilter, FeatureError, FeatureSet, PreparedTrips, TripFeatures,
};
use crate::metrics::{regression_metrics, RegressionMetrics};
use crate::models::{fit, FitError, LinearModel, ModelParams, ParamError};

/// Everything that defines one Chapter 1 training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub params: ModelParams,
    pub feature_set: FeatureSet,
    pub filter: DurationFilter,
}

impl TrainSpec {
    /// The course's first model: LinearRegression on `PU_DO` + `trip_distance`, rides of
    /// 1–60 minutes. The benchmark and the cross-checks all use it.
    pub fn course_baseline() -> Self {
        Self {
            params: ModelParams::new(crate::models::ModelKind::LinearRegression),
            feature_set: FeatureSet::PuDo,
            filter: DurationFilter::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TrainError {
    #[error("invalid hyperparameter: {0}")]
    Params(#[from] ParamError),
    #[error("training data: {0}")]
    TrainData(FeatureError),
    #[error("validation data: {0}")]
    ValData(FeatureError),
    #[error("fitting failed: {0}")]
    Fit(#[from] FitError),
}

/// The stages a learner sees in the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Preparing,
    Vectorizing,
    Fitting,
    Evaluating,
}

/// What one training produced; the model is the artifact, the rest are metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub n_train: usize,
    pub n_val: usize,
    pub n_features: usize,
    pub train_nnz: usize,
    pub train: RegressionMetrics,
    pub val: RegressionMetrics,
    pub fit_seconds: f64,
    pub train_dropped_by_filter: usize,
    pub val_dropped_by_filter: usize,
    /// Validation rows whose category was never seen in training.
    pub val_unseen_rows: usize,
    /// Up to 5,000 (actual, predicted) validation pairs for the chart, evenly spaced.
    pub val_sample: Vec<(f64, f64)>,
    pub model: LinearModel,
}

/// Trains on `train`, scores on `val`. `now_seconds` is the caller's clock (the core has
/// none: `std::time` panics in the browser), `progress` gets a stage and a 0–1 fraction.
pub fn train_and_evaluate(
    spec: &TrainSpec,
    train: &TripTable,
    val: &TripTable,
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(Stage, f64),
) -> Result<TrainReport, TrainError> {
    let params = spec.params.check()?;
    progress(Stage::Preparing, 0.0);
    let train_trips = prepare_trips(train, spec.filter).map_err(TrainError::TrainData)?;
    let val_trips = prepare_trips(val, spec.filter).map_err(TrainError::ValData)?;

    progress(Stage::Vectorizing, 0.0);
    let train_rows = TripFeatures { set: spec.feature_set, trips: &train_trips };
    let vectorizer = DictVectorizer::fit(&train_rows);
    let x_train = vectorizer.transform(&train_rows);
    let x_val = vectorizer.transform(&TripFeatures { set: spec.feature_set, trips: &val_trips });
    let expected_per_row = spec.feature_set.features_per_ride();
    let val_unseen_rows = (0..x_val.rows())
        .filter(|&r| x_val.outer_view(r).map_or(0, |row| row.nnz()) < expected_per_row)
        .count();

    progress(Stage::Fitting, 0.0);
    let started = now_seconds();
    let model = fit(
        &params,
        &x_train,
        &train_trips.duration_minutes,
        spec.feature_set,
        vectorizer.feature_names.clone(),
        &mut |done, cap| progress(Stage::Fitting, done as f64 / cap.max(1) as f64),
    )?;
    let fit_seconds = now_seconds() - started;

    progress(Stage::Evaluating, 0.0);
    let train_pred = model.predict(&x_train);
    let val_pred = model.predict(&x_val);
    Ok(TrainReport {
        n_train: train_trips.len(),
        n_val: val_trips.len(),
        n_features: vectorizer.n_features(),
        train_nnz: x_train.nnz(),
        train: regression_metrics(&train_pred, &train_trips.duration_minutes),
        val: regression_metrics(&val_pred, &val_trips.duration_minutes),
        fit_seconds,
        train_dropped_by_filter: train_trips.dropped_by_filter,
        val_dropped_by_filter: val_trips.dropped_by_filter,
        val_unseen_rows,
        val_sample: sample_pairs(&val_trips, &val_pred, 5_000),
        model,
    })
}

fn sample_pairs(trips: &PreparedTrips, predicted: &[f64], limit: usize) -> Vec<(f64, f64)> {
    let n = trips.len();
    let step = n.div_ceil(limit.max(1)).max(1);
    (0..n).step_by(step).map(|i| (trips.duration_minutes[i], predicted[i])).collect()
}
