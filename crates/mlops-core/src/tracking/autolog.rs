//! Autologging: what `mlflow.sklearn.autolog()` and `mlflow.xgboost.autolog()` record for
//! a fit, recorded from a [`TrainSpec`], its [`TrainReport`] and the data files it read.
//!
//! The app and native users call the same three functions, so every fit is logged the
//! same way without extra code: [`start_run`] before training, [`finish_run`] after it
//! (or [`fail_run`]), or [`fit_logged`], which trains in between.
//!
//! A run records:
//!
//! - **params**: every hyperparameter ([`crate::training::Estimator::logged_params`]),
//!   plus `model` (the class), `features`, `duration_min`, `duration_max` and the data
//!   file names as `train_data` / `val_data`, the params the app has always logged;
//! - **tags**: `estimator_name` (`XGBRegressor`) and `estimator_class`
//!   (`xgboost.sklearn.XGBRegressor`), as MLflow's sklearn autologging sets them;
//!   `mlflow.autologging` (`sklearn` or `xgboost`); and per data role (`train`,
//!   `validation`) `data.<role>` (file names, joined with ` + `), `data.<role>.rows` and
//!   `data.<role>.sha256` (the SHA-256 of each file, comma-separated). MLflow records
//!   datasets as run *inputs*, which our store does not have; tags are searchable
//!   (`tags.data.train.sha256 = '…'` finds every run trained on one file) and survive
//!   the push to a real server;
//! - **artifacts**: `datasets.json` (the [`DataFile`] list) and the model via
//!   `log_model` under `model/`, with the flavor of its kind ([`LINEAR_FLAVOR`] or
//!   [`TREES_FLAVOR`]) and the ride signature;
//! - **metrics**: MLflow's names `training_root_mean_squared_error`,
//!   `training_mean_absolute_error`, `training_r2_score` and the `validation_` three;
//!   the app's own `rmse` (validation RMSE, which the course's `metrics.rmse < 7` query
//!   reads), `train_rmse`, `val_rmse`, `train_mae`, `val_mae`, `train_r2`, `val_r2`,
//!   `n_train`, `n_val`, `n_features`, `fit_seconds`; and for boosting the learning curve
//!   as XGBoost's callback names it, `train-rmse` and `validation-rmse` with step = round
//!   (plus `best_iteration` and `stopped_iteration` with early stopping).
//!
//! Metrics go in as few `log_batch` calls as MLflow's limit of 1,000 metrics per batch
//! allows: one for up to ~490 boosting rounds, three for the course's 1,000.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::client::{Env, MetricEntry, RunOptions, TrackingClient};
use super::entities::{ColumnSpec, ModelSignature, Run, RunStatus};
use super::kv::KvBackend;
use super::limits::{MAX_BATCH_METRICS, MAX_TAG_VALUE_LENGTH};
use super::migrate::{LINEAR_FLAVOR, TREES_FLAVOR};
use super::TrackingError;
use crate::data::TripTable;
use crate::models::{Model, ModelKind};
use crate::training::{train_and_evaluate, Estimator, Stage, TrainError, TrainReport, TrainSpec};

/// The role of the month a model is fitted on.
pub const TRAIN_ROLE: &str = "train";
/// The role of the month a model is scored on.
pub const VALIDATION_ROLE: &str = "validation";
/// The artifact listing the data files of a run.
pub const DATASETS_ARTIFACT: &str = "datasets.json";
/// Where the model is logged inside the run's artifacts.
pub const MODEL_ARTIFACT_PATH: &str = "model";
/// The tag saying an error ended the run, with the message.
pub const ERROR_TAG: &str = "error";

/// One file a fit read: its role (`train`, `validation`), name, rows and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub role: String,
    pub name: String,
    pub rows: usize,
    /// SHA-256 of the file's bytes, 64 lowercase hex digits.
    pub sha256: String,
}

impl DataFile {
    /// Describes a file from its bytes (hashed here) and its row count.
    pub fn from_bytes(role: &str, name: &str, bytes: &[u8], rows: usize) -> Self {
        Self { role: role.to_string(), name: name.to_string(), rows, sha256: sha256_hex(bytes) }
    }
}

/// SHA-256 of `bytes` as 64 lowercase hex digits, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// The estimator's class as Python names it: the `estimator_class` tag.
pub fn estimator_class(estimator: &Estimator) -> &'static str {
    match estimator {
        Estimator::Linear(params) => match params.kind {
            ModelKind::LinearRegression => "sklearn.linear_model._base.LinearRegression",
            ModelKind::Ridge => "sklearn.linear_model._ridge.Ridge",
            ModelKind::Lasso => "sklearn.linear_model._coordinate_descent.Lasso",
        },
        Estimator::Gbdt(_) => "xgboost.sklearn.XGBRegressor",
        Estimator::Forest(_) => "sklearn.ensemble._forest.RandomForestRegressor",
    }
}

/// Which MLflow autologging integration would have logged this fit.
fn autologging_flavor(estimator: &Estimator) -> &'static str {
    match estimator {
        Estimator::Gbdt(_) => "xgboost",
        Estimator::Linear(_) | Estimator::Forest(_) => "sklearn",
    }
}

/// The flavor a model is logged with; both load through [`Model::from_json`].
pub fn model_flavor(model: &Model) -> &'static str {
    match model {
        Model::Linear(_) => LINEAR_FLAVOR,
        Model::Trees(_) => TREES_FLAVOR,
    }
}

/// What every model of the app takes and gives: one ride in, minutes out.
pub fn ride_signature() -> ModelSignature {
    ModelSignature {
        inputs: vec![
            ColumnSpec { name: "PULocationID".into(), kind: "long".into() },
            ColumnSpec { name: "DOLocationID".into(), kind: "long".into() },
            ColumnSpec { name: "trip_distance".into(), kind: "double".into() },
        ],
        outputs: vec![ColumnSpec { name: "duration".into(), kind: "double".into() }],
    }
}

/// The files of one role, in order.
fn files_of<'a>(data_files: &'a [DataFile], role: &'a str) -> impl Iterator<Item = &'a DataFile> + 'a {
    data_files.iter().filter(move |file| file.role == role)
}

/// The names of the files of one role, as the app labels a slot (`a.parquet + b.parquet`).
fn names_of(data_files: &[DataFile], role: &str) -> Option<String> {
    let names: Vec<&str> = files_of(data_files, role).map(|file| file.name.as_str()).collect();
    (!names.is_empty()).then(|| names.join(" + "))
}

/// The params a fit records (see the module docs).
pub fn run_params(spec: &TrainSpec, data_files: &[DataFile]) -> Vec<(String, String)> {
    let mut params = vec![
        ("model".to_string(), spec.estimator.class_name().to_string()),
        ("features".to_string(), spec.feature_set.label().to_string()),
        ("duration_min".to_string(), spec.filter.min_minutes.to_string()),
        ("duration_max".to_string(), spec.filter.max_minutes.to_string()),
    ];
    for (key, role) in [("train_data", TRAIN_ROLE), ("val_data", VALIDATION_ROLE)] {
        if let Some(names) = names_of(data_files, role) {
            params.push((key.to_string(), names));
        }
    }
    params.extend(spec.estimator.logged_params());
    params
}

/// The tags a fit records (see the module docs), before the caller's own.
pub fn run_tags(spec: &TrainSpec, data_files: &[DataFile]) -> Vec<(String, String)> {
    let mut tags = vec![
        ("estimator_name".to_string(), spec.estimator.class_name().to_string()),
        ("estimator_class".to_string(), estimator_class(&spec.estimator).to_string()),
        ("mlflow.autologging".to_string(), autologging_flavor(&spec.estimator).to_string()),
    ];
    let mut roles: Vec<&str> = Vec::new();
    for file in data_files {
        if !roles.contains(&file.role.as_str()) {
            roles.push(&file.role);
        }
    }
    for role in roles {
        let names = names_of(data_files, role).unwrap_or_default();
        let rows: usize = files_of(data_files, role).map(|file| file.rows).sum();
        let hashes: Vec<&str> = files_of(data_files, role).map(|file| file.sha256.as_str()).collect();
        tags.push((format!("data.{role}"), cut_to_tag_limit(&names)));
        tags.push((format!("data.{role}.rows"), rows.to_string()));
        tags.push((format!("data.{role}.sha256"), cut_to_tag_limit(&hashes.join(","))));
    }
    tags
}

/// A tag value cut to MLflow's limit, so a hundred long file names cannot fail a run.
fn cut_to_tag_limit(text: &str) -> String {
    if text.chars().count() <= MAX_TAG_VALUE_LENGTH {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_TAG_VALUE_LENGTH - 1).collect();
    cut.push('…');
    cut
}

/// Opens a run for `spec` and records its params, tags and `datasets.json`.
///
/// `options` are the caller's extras: run name (default: the estimator's label and the
/// feature set), start time, parent run and tags (applied after the autologged ones, so
/// the caller's win).
pub async fn start_run<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    experiment_id: &str,
    spec: &TrainSpec,
    data_files: &[DataFile],
    options: RunOptions,
) -> Result<Run, TrackingError> {
    let mut tags = run_tags(spec, data_files);
    tags.extend(options.tags);
    let run_name = options
        .run_name
        .unwrap_or_else(|| format!("{} · {}", spec.estimator.label(), spec.feature_set.label()));
    let options = RunOptions { run_name: Some(run_name), tags, ..options };
    let run = client.create_run(experiment_id, options).await?;
    client.log_batch(&run.run_id, &[], &run_params(spec, data_files), &[]).await?;
    let datasets =
        serde_json::to_vec_pretty(data_files).map_err(|e| TrackingError::Corrupt(e.to_string()))?;
    client.log_artifact(&run.run_id, DATASETS_ARTIFACT, &datasets, "application/json").await?;
    client.get_run(&run.run_id).await
}

/// Every metric a finished fit records, at `timestamp` (see the module docs).
pub fn run_metrics(spec: &TrainSpec, report: &TrainReport, timestamp: i64) -> Vec<MetricEntry> {
    let entry =
        |key: &str, value: f64, step: i64| MetricEntry { key: key.to_string(), value, timestamp, step };
    let (train, val) = (&report.train, &report.val);
    let mut metrics: Vec<MetricEntry> = [
        ("training_root_mean_squared_error", train.rmse),
        ("training_mean_absolute_error", train.mae),
        ("training_r2_score", train.r2),
        ("validation_root_mean_squared_error", val.rmse),
        ("validation_mean_absolute_error", val.mae),
        ("validation_r2_score", val.r2),
        ("rmse", val.rmse),
        ("train_rmse", train.rmse),
        ("val_rmse", val.rmse),
        ("train_mae", train.mae),
        ("val_mae", val.mae),
        ("train_r2", train.r2),
        ("val_r2", val.r2),
        ("n_train", report.n_train as f64),
        ("n_val", report.n_val as f64),
        ("n_features", report.n_features as f64),
        ("fit_seconds", report.fit_seconds),
    ]
    .into_iter()
    .map(|(key, value)| entry(key, value, 0))
    .collect();
    for round in &report.history {
        let step = i64::try_from(round.round).unwrap_or(i64::MAX);
        metrics.push(entry("train-rmse", round.train_rmse, step));
        if let Some(val_rmse) = round.val_rmse {
            metrics.push(entry("validation-rmse", val_rmse, step));
        }
    }
    let early_stopping =
        matches!(spec.estimator, Estimator::Gbdt(params) if params.early_stopping_rounds.is_some());
    if let (true, Model::Trees(trees)) = (early_stopping, &report.model) {
        if let Some(best) = trees.best_iteration {
            metrics.push(entry("best_iteration", best as f64, 0));
        }
        if let Some(last) = report.history.last() {
            metrics.push(entry("stopped_iteration", last.round as f64, 0));
        }
    }
    // MLflow refuses NaN and infinities (an R² on one row, say); leaving one out beats
    // losing the run.
    metrics.retain(|metric| metric.value.is_finite());
    metrics
}

/// Records a finished fit: metrics and learning curve, the model, then `FINISHED`.
pub async fn finish_run<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    run_id: &str,
    spec: &TrainSpec,
    report: &TrainReport,
) -> Result<(), TrackingError> {
    let metrics = run_metrics(spec, report, client.env().now_ms());
    for batch in metrics.chunks(MAX_BATCH_METRICS) {
        client.log_batch(run_id, batch, &[], &[]).await?;
    }
    let model = &report.model;
    client
        .log_model(
            run_id,
            MODEL_ARTIFACT_PATH,
            model_flavor(model),
            model.to_json().as_bytes(),
            ride_signature(),
        )
        .await?;
    client.set_terminated(run_id, RunStatus::Finished, None).await
}

/// Ends a run as `FAILED`, with the reason in the `error` tag.
pub async fn fail_run<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    run_id: &str,
    message: &str,
) -> Result<(), TrackingError> {
    client.set_tag(run_id, ERROR_TAG, &cut_to_tag_limit(message)).await?;
    client.set_terminated(run_id, RunStatus::Failed, None).await
}

/// Why [`fit_logged`] failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AutologError {
    /// The fit failed; its run is `FAILED` with the message in its `error` tag.
    #[error("{0} (the run is marked FAILED)")]
    Train(#[from] TrainError),
    #[error("the run could not be logged: {0}")]
    Tracking(#[from] TrackingError),
}

/// A fit and the run that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedFit {
    pub run_id: String,
    pub report: TrainReport,
}

/// Trains `spec` on `train`, scores on `val` ([`train_and_evaluate`]), logged as a run of
/// `experiment_id` from start to end: the native twin of the app's Train button.
#[allow(clippy::too_many_arguments)]
pub async fn fit_logged<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    experiment_id: &str,
    spec: &TrainSpec,
    train: &TripTable,
    val: &TripTable,
    data_files: &[DataFile],
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(Stage, f64),
) -> Result<LoggedFit, AutologError> {
    let run = start_run(client, experiment_id, spec, data_files, RunOptions::default()).await?;
    let report = match train_and_evaluate(spec, train, val, now_seconds, progress) {
        Ok(report) => report,
        Err(error) => {
            fail_run(client, &run.run_id, &error.to_string()).await?;
            return Err(AutologError::Train(error));
        }
    };
    if let Err(error) = finish_run(client, &run.run_id, spec, &report).await {
        // Best effort: the store refused something, so it may refuse this too.
        let _ = fail_run(client, &run.run_id, &format!("logging the results failed: {error}")).await;
        return Err(AutologError::Tracking(error));
    }
    Ok(LoggedFit { run_id: run.run_id, report })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::data::load_trips;
    use crate::features::{DurationFilter, FeatureSet, TRAINING_FIELDS};
    use crate::models::ModelParams;
    use crate::serving::service::LoadedModel;
    use crate::simulate::{simulate_month_parquet, CityParams};
    use crate::tracking::contract::TestEnv;
    use crate::tracking::memory::MemoryKv;
    use crate::tracking::DEFAULT_EXPERIMENT_ID;
    use crate::trees::{ForestParams, GbdtParams, TreeEncoding};

    type Client = TrackingClient<MemoryKv, TestEnv>;

    fn client() -> Client {
        block_on(TrackingClient::open(MemoryKv::new(), TestEnv::new(1_700_000_000_000))).expect("opens")
    }

    /// A simulated month: its table and its file as autologging records it.
    fn month(month: u32, role: &str) -> (TripTable, DataFile) {
        let params = CityParams { trips: 3_000, month, ..CityParams::default() };
        let bytes = simulate_month_parquet(&params).expect("simulates");
        let table = load_trips(bytes.clone().into(), &TRAINING_FIELDS).expect("loads");
        let file = DataFile::from_bytes(role, &params.label(), &bytes, table.n_rows);
        (table, file)
    }

    fn spec(estimator: Estimator) -> TrainSpec {
        TrainSpec { estimator, feature_set: FeatureSet::PuDo, filter: DurationFilter::default() }
    }

    /// Fits `spec` on simulated January → February with autologging; the run and fit.
    fn logged(client: &Client, spec: &TrainSpec) -> (Run, LoggedFit, [DataFile; 2]) {
        let ((jan, jan_file), (feb, feb_file)) = (month(1, TRAIN_ROLE), month(2, VALIDATION_ROLE));
        let files = [jan_file, feb_file];
        let fit = block_on(fit_logged(
            client,
            DEFAULT_EXPERIMENT_ID,
            spec,
            &jan,
            &feb,
            &files,
            &|| 0.0,
            &mut |_, _| {},
        ))
        .expect("fits and logs");
        let run = block_on(client.get_run(&fit.run_id)).expect("the run");
        (run, fit, files)
    }

    const MLFLOW_METRICS: [&str; 6] = [
        "training_root_mean_squared_error",
        "training_mean_absolute_error",
        "training_r2_score",
        "validation_root_mean_squared_error",
        "validation_mean_absolute_error",
        "validation_r2_score",
    ];
    const APP_METRICS: [&str; 11] = [
        "rmse",
        "train_rmse",
        "val_rmse",
        "train_mae",
        "val_mae",
        "train_r2",
        "val_r2",
        "n_train",
        "n_val",
        "n_features",
        "fit_seconds",
    ];

    /// What every autologged run holds, whatever the estimator.
    fn assert_common(client: &Client, run: &Run, fit: &LoggedFit, files: &[DataFile; 2], spec: &TrainSpec) {
        assert_eq!(run.status, RunStatus::Finished);
        for key in MLFLOW_METRICS.iter().chain(&APP_METRICS) {
            assert!(run.metric(key).is_some(), "metric {key} is logged: {:?}", run.metrics.keys());
        }
        let report = &fit.report;
        assert_eq!(run.metric("rmse"), Some(report.val.rmse), "`metrics.rmse < 7` reads the validation RMSE");
        assert_eq!(run.metric("validation_root_mean_squared_error"), Some(report.val.rmse));
        assert_eq!(run.metric("training_r2_score"), Some(report.train.r2));
        for (key, value) in spec.estimator.logged_params() {
            assert_eq!(run.params.get(&key), Some(&value), "param {key}");
        }
        assert_eq!(run.params.get("model").map(String::as_str), Some(spec.estimator.class_name()));
        assert_eq!(run.params.get("features").map(String::as_str), Some(spec.feature_set.label()));
        assert_eq!(run.params.get("duration_min").map(String::as_str), Some("1"));
        assert_eq!(run.params.get("duration_max").map(String::as_str), Some("60"));
        assert_eq!(run.params.get("train_data"), Some(&files[0].name));
        assert_eq!(run.params.get("val_data"), Some(&files[1].name));
        assert_eq!(run.tags.get("estimator_name").map(String::as_str), Some(spec.estimator.class_name()));
        assert_eq!(
            run.tags.get("estimator_class").map(String::as_str),
            Some(estimator_class(&spec.estimator))
        );
        assert_eq!(run.tags.get("data.train"), Some(&files[0].name));
        assert_eq!(run.tags.get("data.validation.sha256"), Some(&files[1].sha256));
        assert_eq!(run.tags.get("data.train.rows"), Some(&files[0].rows.to_string()));
        let datasets =
            block_on(client.download_artifact(&run.run_id, DATASETS_ARTIFACT)).expect("datasets.json");
        let back: Vec<DataFile> = serde_json::from_slice(&datasets).expect("a list of files");
        assert_eq!(back, files);

        assert_eq!(run.logged_models.len(), 1);
        assert_eq!(run.logged_models[0].flavor, model_flavor(&report.model));
        assert_eq!(run.logged_models[0].signature, ride_signature());
        // Served from the registry like any model, whatever its flavor.
        let version = block_on(client.register_model(&format!("runs:/{}/model", run.run_id), "taxi"))
            .expect("registers");
        let bytes =
            block_on(client.load_model_bytes(&format!("models:/taxi/{}", version.version))).expect("loads");
        assert_eq!(bytes, report.model.to_json().into_bytes(), "the registry hands back the logged file");
        let served = LoadedModel::from_json(&bytes, "taxi").expect("serves");
        assert_eq!(served.model.class_name(), report.model.class_name());
        assert!(served
            .try_predict(&crate::serving::request::Ride {
                pu_location_id: 74,
                do_location_id: 75,
                trip_distance: 2.0
            })
            .is_ok());
    }

    #[test]
    fn a_linear_fit_logs_params_metrics_tags_data_and_model() {
        let client = client();
        let spec = spec(ModelParams::new(ModelKind::Ridge).alpha(0.5).into());
        let (run, fit, files) = logged(&client, &spec);
        assert_common(&client, &run, &fit, &files, &spec);
        assert_eq!(run.params.get("alpha").map(String::as_str), Some("0.5"));
        assert_eq!(
            run.tags.get("estimator_class").map(String::as_str),
            Some("sklearn.linear_model._ridge.Ridge")
        );
        assert_eq!(run.tags.get("mlflow.autologging").map(String::as_str), Some("sklearn"));
        assert_eq!(run.logged_models[0].flavor, LINEAR_FLAVOR);
        assert!(!run.metrics.contains_key("train-rmse"), "no learning curve without boosting");
        assert_eq!(run.run_name, format!("{} · {}", spec.estimator.label(), spec.feature_set.label()));
    }

    #[test]
    fn a_gbdt_fit_logs_its_learning_curve_per_round() {
        let client = client();
        let params = GbdtParams { num_boost_round: 12, max_depth: 4, seed: 3, ..GbdtParams::default() };
        let spec = spec(Estimator::Gbdt(params));
        let (run, fit, files) = logged(&client, &spec);
        assert_common(&client, &run, &fit, &files, &spec);
        assert_eq!(run.tags.get("estimator_class").map(String::as_str), Some("xgboost.sklearn.XGBRegressor"));
        assert_eq!(run.tags.get("mlflow.autologging").map(String::as_str), Some("xgboost"));
        assert_eq!(run.logged_models[0].flavor, TREES_FLAVOR);
        assert_eq!(run.params.get("num_boost_round").map(String::as_str), Some("12"));
        assert_eq!(fit.report.history.len(), 12);
        for key in ["train-rmse", "validation-rmse"] {
            let history = block_on(client.get_metric_history(&run.run_id, key)).expect("a history");
            let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
            assert_eq!(steps, (0..12).collect::<Vec<i64>>(), "{key}");
        }
        let curve = block_on(client.get_metric_history(&run.run_id, "validation-rmse")).expect("history");
        let expected: Vec<f64> = fit.report.history.iter().filter_map(|r| r.val_rmse).collect();
        assert_eq!(curve.iter().map(|m| m.value).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_forest_fit_logs_its_hyperparameters_and_trees() {
        let client = client();
        let params = ForestParams {
            n_estimators: 8,
            max_depth: Some(8),
            random_state: 5,
            encoding: TreeEncoding::Categorical,
            ..ForestParams::default()
        };
        let spec = spec(Estimator::Forest(params));
        let (run, fit, files) = logged(&client, &spec);
        assert_common(&client, &run, &fit, &files, &spec);
        assert_eq!(
            run.tags.get("estimator_class").map(String::as_str),
            Some("sklearn.ensemble._forest.RandomForestRegressor")
        );
        assert_eq!(run.params.get("n_estimators").map(String::as_str), Some("8"));
        assert_eq!(run.params.get("encoding").map(String::as_str), Some("categorical"));
        assert!(!run.metrics.contains_key("train-rmse"), "a forest has no rounds");
    }

    #[test]
    fn a_long_learning_curve_is_split_into_batches_mlflow_accepts() {
        let client = client();
        let run = block_on(client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default())).expect("a run");
        let spec = spec(Estimator::Gbdt(GbdtParams { num_boost_round: 1_000, ..GbdtParams::default() }));
        let (jan, _) = month(1, TRAIN_ROLE);
        let trained = train_and_evaluate(&TrainSpec::course_baseline(), &jan, &jan, &|| 0.0, &mut |_, _| {})
            .expect("a report to dress up");
        let history = (0..1_000)
            .map(|round| crate::trees::BoostRound {
                round,
                train_rmse: 10.0 - round as f64 / 1e3,
                val_rmse: Some(11.0),
            })
            .collect();
        let report = TrainReport { history, ..trained };
        assert!(run_metrics(&spec, &report, 0).len() > MAX_BATCH_METRICS);
        block_on(finish_run(&client, &run.run_id, &spec, &report)).expect("logged in batches");
        let curve = block_on(client.get_metric_history(&run.run_id, "train-rmse")).expect("history");
        assert_eq!(curve.len(), 1_000);
        assert_eq!(curve.last().map(|m| m.step), Some(999));
        let run = block_on(client.get_run(&run.run_id)).expect("the run");
        assert_eq!(run.metric("train-rmse"), Some(10.0 - 0.999), "the latest step is the run's value");
    }

    #[test]
    fn a_failing_fit_leaves_a_failed_run_with_the_reason() {
        let client = client();
        let (jan, jan_file) = month(1, TRAIN_ROLE);
        let mut empty = jan.clone();
        empty.columns.clear();
        let spec = TrainSpec::course_baseline();
        let failed = block_on(fit_logged(
            &client,
            DEFAULT_EXPERIMENT_ID,
            &spec,
            &jan,
            &empty,
            &[jan_file],
            &|| 0.0,
            &mut |_, _| {},
        ));
        assert!(matches!(failed, Err(AutologError::Train(TrainError::ValData(_)))), "{failed:?}");
        let runs = block_on(client.all_runs(&[], crate::tracking::ViewType::All)).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Failed);
        assert!(
            runs[0].tags.get(ERROR_TAG).is_some_and(|e| e.starts_with("validation data:")),
            "{:?}",
            runs[0].tags
        );
        assert!(runs[0].params.contains_key("fit_intercept"), "the params were logged before the fit");
        assert!(runs[0].logged_models.is_empty());

        let bad = spec_with_alpha(-1.0);
        let failed = block_on(fit_logged(
            &client,
            DEFAULT_EXPERIMENT_ID,
            &bad,
            &jan,
            &jan,
            &[],
            &|| 0.0,
            &mut |_, _| {},
        ));
        assert!(matches!(failed, Err(AutologError::Train(TrainError::Params(_)))), "{failed:?}");
    }

    fn spec_with_alpha(alpha: f64) -> TrainSpec {
        spec(ModelParams::new(ModelKind::Lasso).alpha(alpha).into())
    }

    #[test]
    fn data_files_hash_their_bytes_and_tags_fit_mlflows_limits() {
        let file = DataFile::from_bytes(TRAIN_ROLE, "abc.parquet", b"abc", 3);
        // `printf abc | sha256sum`
        assert_eq!(file.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let many: Vec<DataFile> = (0..200)
            .map(|i| {
                DataFile::from_bytes(
                    TRAIN_ROLE,
                    &format!("green_tripdata_2021-{i:03}.parquet"),
                    &[i as u8],
                    1,
                )
            })
            .collect();
        let tags = run_tags(&TrainSpec::course_baseline(), &many);
        assert!(tags.iter().all(|(_, v)| v.chars().count() <= MAX_TAG_VALUE_LENGTH));
        assert!(tags.contains(&("data.train.rows".to_string(), "200".to_string())));
    }
}
