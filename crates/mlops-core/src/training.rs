//! Chapter 1 end to end: two months of trips → filter → features → fit → evaluate.
//!
//! The app's worker, the command-line example and the benchmark all call
//! [`train_and_evaluate`], so the numbers a learner sees are the ones the golden tests pin.

use serde::{Deserialize, Serialize};
use sprs::CsMat;

use crate::data::TripTable;
use crate::features::{
    prepare_trips, DictVectorizer, DurationFilter, FeatureError, FeatureSet, PreparedTrips, TripFeatures,
};
use crate::metrics::{regression_metrics, RegressionMetrics};
use crate::models::{fit, FitError, Model, ModelKind, ModelParams, ParamError};
use crate::trees::{
    fit_forest, fit_gbdt, BoostRound, ForestParams, GbdtParams, TreeEncoding, TreeFitError, TreeInput,
    TreeKind, TreeMeta, TreeParamError, CATEGORICAL_COLUMNS,
};

/// Which model to fit, with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Estimator {
    Linear(ModelParams),
    Gbdt(GbdtParams),
    Forest(ForestParams),
}

impl Estimator {
    /// The class a Python user would have fitted (logged as `estimator_class`).
    pub fn class_name(&self) -> &'static str {
        match self {
            Estimator::Linear(params) => params.kind.class_name(),
            Estimator::Gbdt(_) => TreeKind::Gbdt.class_name(),
            Estimator::Forest(_) => TreeKind::RandomForest.class_name(),
        }
    }

    /// Every hyperparameter as `(name, value)`: what autologging records as params.
    pub fn logged_params(&self) -> Vec<(String, String)> {
        match self {
            Estimator::Linear(params) => {
                let mut logged = vec![("fit_intercept".to_string(), "True".to_string())];
                if params.kind.uses_alpha() {
                    logged.push(("alpha".to_string(), params.alpha.to_string()));
                }
                if let Some(tol) = params.tol {
                    logged.push(("tol".to_string(), tol.to_string()));
                }
                if let Some(max_iter) = params.max_iter {
                    logged.push(("max_iter".to_string(), max_iter.to_string()));
                }
                logged
            }
            Estimator::Gbdt(params) => params.logged(),
            Estimator::Forest(params) => params.logged(),
        }
    }

    /// A short name for run names and tables, e.g. `Ridge α=0.1`.
    pub fn label(&self) -> String {
        match self {
            Estimator::Linear(params) if params.kind.uses_alpha() => {
                format!("{} α={}", params.kind.class_name(), params.alpha)
            }
            Estimator::Linear(params) => params.kind.class_name().to_string(),
            Estimator::Gbdt(params) => {
                format!("XGBRegressor depth={} η={:.3}", params.max_depth, params.learning_rate)
            }
            Estimator::Forest(params) => format!(
                "RandomForest {} trees depth={}",
                params.n_estimators,
                params.max_depth.map_or("None".to_string(), |d| d.to_string())
            ),
        }
    }
}

impl From<ModelParams> for Estimator {
    fn from(params: ModelParams) -> Self {
        Estimator::Linear(params)
    }
}

/// Everything that defines one training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub estimator: Estimator,
    pub feature_set: FeatureSet,
    pub filter: DurationFilter,
}

impl TrainSpec {
    /// The course's first model: LinearRegression on `PU_DO` + `trip_distance`, rides of
    /// 1–60 minutes. The benchmark and the cross-checks all use it.
    pub fn course_baseline() -> Self {
        Self {
            estimator: Estimator::Linear(ModelParams::new(ModelKind::LinearRegression)),
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
    #[error("invalid hyperparameter: {0}")]
    TreeParams(#[from] TreeParamError),
    #[error("fitting failed: {0}")]
    TreeFit(#[from] TreeFitError),
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
    /// As its artifact JSON when the encoding is binary (see [`model_as_artifact`]).
    #[serde(with = "model_as_artifact")]
    pub model: Model,
    /// Boosting's learning curve, one entry per round (empty for other models).
    pub history: Vec<BoostRound>,
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
    // Hyperparameters first: a typo fails at once, not after the months are prepared.
    let estimator = CheckedEstimator::new(&spec.estimator)?;
    let data = PreparedData::new(train, val, spec.feature_set, spec.filter, progress)?;
    fit_checked(&estimator, &data, now_seconds, progress)
}

/// Two months filtered and vectorized once, for any number of fits: a search's worker
/// keeps one and answers every trial from it, so only the fitting is repeated.
#[derive(Debug, Clone)]
pub struct PreparedData {
    pub feature_set: FeatureSet,
    pub filter: DurationFilter,
    train_trips: PreparedTrips,
    val_trips: PreparedTrips,
    vectorizer: DictVectorizer,
    x_train: CsMat<f64>,
    x_val: CsMat<f64>,
    val_unseen_rows: usize,
}

impl PreparedData {
    /// Filters both months and builds the sparse matrices (`progress` sees the
    /// Preparing and Vectorizing stages).
    pub fn new(
        train: &TripTable,
        val: &TripTable,
        feature_set: FeatureSet,
        filter: DurationFilter,
        progress: &mut dyn FnMut(Stage, f64),
    ) -> Result<Self, TrainError> {
        progress(Stage::Preparing, 0.0);
        let train_trips = prepare_trips(train, filter).map_err(TrainError::TrainData)?;
        let val_trips = prepare_trips(val, filter).map_err(TrainError::ValData)?;

        progress(Stage::Vectorizing, 0.0);
        let train_rows = TripFeatures { set: feature_set, trips: &train_trips };
        let vectorizer = DictVectorizer::fit(&train_rows);
        let x_train = vectorizer.transform(&train_rows);
        let x_val = vectorizer.transform(&TripFeatures { set: feature_set, trips: &val_trips });
        let expected_per_row = feature_set.features_per_ride();
        let val_unseen_rows = (0..x_val.rows())
            .filter(|&r| x_val.outer_view(r).map_or(0, |row| row.nnz()) < expected_per_row)
            .count();
        Ok(Self { feature_set, filter, train_trips, val_trips, vectorizer, x_train, x_val, val_unseen_rows })
    }

    /// Training rows the filter kept.
    pub fn n_train(&self) -> usize {
        self.train_trips.len()
    }

    /// Validation rows the filter kept.
    pub fn n_val(&self) -> usize {
        self.val_trips.len()
    }

    /// Columns of the one-hot matrix.
    pub fn n_features(&self) -> usize {
        self.vectorizer.n_features()
    }
}

/// Fits one estimator on prepared months and scores it: what a search trial runs.
pub fn fit_and_evaluate(
    estimator: &Estimator,
    data: &PreparedData,
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(Stage, f64),
) -> Result<TrainReport, TrainError> {
    fit_checked(&CheckedEstimator::new(estimator)?, data, now_seconds, progress)
}

fn fit_checked(
    estimator: &CheckedEstimator,
    data: &PreparedData,
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(Stage, f64),
) -> Result<TrainReport, TrainError> {
    let PreparedData { feature_set, train_trips, val_trips, vectorizer, x_train, x_val, .. } = data;
    progress(Stage::Fitting, 0.0);
    let started = now_seconds();
    let categorical = estimator.encoding() == TreeEncoding::Categorical;
    let (train_input, val_input, feature_names) = if categorical {
        (
            categorical_input(train_trips),
            categorical_input(val_trips),
            CATEGORICAL_COLUMNS.iter().map(|name| name.to_string()).collect(),
        )
    } else {
        (TreeInput::OneHot(x_train), TreeInput::OneHot(x_val), vectorizer.feature_names.clone())
    };
    let meta = TreeMeta { feature_set: *feature_set, feature_names };
    let targets = &train_trips.duration_minutes;
    let (model, history): (Model, Vec<BoostRound>) = match estimator {
        CheckedEstimator::Linear(params) => {
            let model = fit(
                params,
                x_train,
                targets,
                *feature_set,
                vectorizer.feature_names.clone(),
                &mut |done, cap| progress(Stage::Fitting, done as f64 / cap.max(1) as f64),
            )?;
            (model.into(), Vec::new())
        }
        CheckedEstimator::Gbdt(params) => {
            let rounds = params.get().num_boost_round.max(1) as f64;
            let fitted = fit_gbdt(
                params,
                train_input,
                targets,
                Some((val_input, &val_trips.duration_minutes)),
                meta,
                &mut |round| progress(Stage::Fitting, (round.round + 1) as f64 / rounds),
            )?;
            (fitted.model.into(), fitted.history)
        }
        CheckedEstimator::Forest(params) => {
            let model = fit_forest(params, train_input, targets, meta, &mut |done, total| {
                progress(Stage::Fitting, done as f64 / total.max(1) as f64)
            })?;
            (model.into(), Vec::new())
        }
    };
    let fit_seconds = now_seconds() - started;

    progress(Stage::Evaluating, 0.0);
    let (train_pred, val_pred) = match &model {
        Model::Linear(linear) => (linear.predict(x_train), linear.predict(x_val)),
        Model::Trees(trees) => (trees.predict(train_input), trees.predict(val_input)),
    };
    Ok(TrainReport {
        n_train: train_trips.len(),
        n_val: val_trips.len(),
        n_features: model.feature_names().len(),
        train_nnz: x_train.nnz(),
        train: regression_metrics(&train_pred, &train_trips.duration_minutes),
        val: regression_metrics(&val_pred, &val_trips.duration_minutes),
        fit_seconds,
        train_dropped_by_filter: train_trips.dropped_by_filter,
        val_dropped_by_filter: val_trips.dropped_by_filter,
        val_unseen_rows: data.val_unseen_rows,
        val_sample: sample_pairs(val_trips, &val_pred, 5_000),
        model,
        history,
    })
}

/// An [`Estimator`] whose hyperparameters passed their checks.
enum CheckedEstimator {
    Linear(crate::models::ValidModelParams),
    Gbdt(crate::trees::ValidGbdtParams),
    Forest(crate::trees::ValidForestParams),
}

impl CheckedEstimator {
    fn new(estimator: &Estimator) -> Result<Self, TrainError> {
        Ok(match estimator {
            Estimator::Linear(params) => CheckedEstimator::Linear(params.check()?),
            Estimator::Gbdt(params) => CheckedEstimator::Gbdt(params.check()?),
            Estimator::Forest(params) => CheckedEstimator::Forest(params.check()?),
        })
    }

    fn encoding(&self) -> TreeEncoding {
        match self {
            CheckedEstimator::Linear(_) => TreeEncoding::OneHot,
            CheckedEstimator::Gbdt(params) => params.get().encoding,
            CheckedEstimator::Forest(params) => params.get().encoding,
        }
    }
}

fn categorical_input(trips: &PreparedTrips) -> TreeInput<'_> {
    TreeInput::Categorical {
        pu: &trips.pu_location,
        dol: &trips.do_location,
        trip_distance: &trips.trip_distance,
    }
}

fn sample_pairs(trips: &PreparedTrips, predicted: &[f64], limit: usize) -> Vec<(f64, f64)> {
    let n = trips.len();
    let step = n.div_ceil(limit.max(1)).max(1);
    (0..n).step_by(step).map(|i| (trips.duration_minutes[i], predicted[i])).collect()
}

/// The model of a [`TrainReport`] crosses the worker bridge (bincode) as its artifact
/// JSON: bincode reads fields by position, so it cannot decode what the artifact's serde
/// leaves out when empty (a tree's `categories`, a model's `best_iteration`). Readable
/// formats (JSON) carry the model as itself.
mod model_as_artifact {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::models::Model;

    pub fn serialize<S: Serializer>(model: &Model, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            model.serialize(serializer)
        } else {
            serializer.serialize_str(&model.to_json())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Model, D::Error> {
        if deserializer.is_human_readable() {
            Model::deserialize(deserializer)
        } else {
            let text = String::deserialize(deserializer)?;
            Model::from_json(&text).map_err(D::Error::custom)
        }
    }
}
