//! What one block does: the CPU work, pure and synchronous.
//!
//! [`run_block`] takes a block, the values on its inputs and an [`ExecContext`] (the run's
//! date, the attempt, and the facts the host looked up: a file's bytes, the Production
//! model), and returns a [`BlockOutput`] or a [`BlockError`]. It touches no store and no
//! clock, so the host can run it in a Web Worker (every type here is serde, bincode-safe)
//! and the native tests can run it directly.
//!
//! Anything that changes the tracking store — logging a training run, registering a
//! version, moving a stage or alias, writing the batch file — is returned as an
//! [`Effect`] for the host to apply, with the numbers behind each decision in the logs
//! ("candidate RMSE 6.41 < Production v3 6.98 → promote").

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock::{SimTime, YearMonth};
use super::definition::{
    catalog_file_name, catalog_url, cut, BatchParams, BlockDef, BlockParams, DataType, EvaluateParams, Gate,
    GateMetric, ModelRef, ModelTarget, RegisterParams,
};
use super::schedule::TriggerReason;
use crate::data::{load_trips, ColumnData, TripTable};
use crate::features::{
    duration_minutes, prepare_trips, DictVectorizer, DurationFilter, FeatureSet, PreparedTrips, TripFeatures,
    TRAINING_FIELDS,
};
use crate::metrics::{regression_metrics, RegressionMetrics};
use crate::models::Model;
use crate::serving::batch::{score_trips, ScoreOptions};
use crate::serving::service::LoadedModel;
use crate::simulate::simulate_month_parquet;
use crate::summary::Histogram;
use crate::training::{train_and_evaluate, TrainReport, TrainSpec};
use crate::trees::BoostRound;

/// Rows shown in a table preview.
pub const HEAD_ROWS: usize = 5;

/// Where a month of trips came from: what autologging records as a data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub name: String,
    pub rows: usize,
    /// SHA-256 of the file's bytes, 64 lowercase hex digits.
    pub sha256: String,
}

/// A month of trips, raw or filtered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripsData {
    /// What a learner calls it: `green_tripdata_2021-01.parquet`, `Simulated city · …`.
    pub label: String,
    pub month: Option<YearMonth>,
    pub sources: Vec<SourceInfo>,
    pub table: TripTable,
    /// The duration filter already applied, if any.
    pub filter: Option<DurationFilter>,
}

/// A training and a validation month under one feature set: what a trainer fits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSetData {
    pub train: TripsData,
    pub val: TripsData,
    pub feature_set: FeatureSet,
    pub filter: DurationFilter,
    /// Columns of the one-hot matrix the vectorizer builds on the training month.
    pub n_features: usize,
    pub train_rows: usize,
    pub val_rows: usize,
}

/// A fitted model and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelData {
    pub model: Model,
    /// `LinearRegression`, `XGBRegressor depth=6 η=0.300`, …
    pub label: String,
    pub spec: Option<TrainSpec>,
    pub train: Option<RegressionMetrics>,
    pub val: Option<RegressionMetrics>,
    pub trained_on: String,
    pub validated_on: String,
    /// The block that fitted it.
    pub block: String,
    /// The tracking run that logged it, once the host applied the trainer's effect.
    pub run_id: Option<String>,
    /// Boosting's train and validation RMSE by round (empty for other models), so the
    /// output's preview can draw the learning curve. Always serialized: the worker
    /// bridge's bincode cannot read a field that was left out.
    #[serde(default)]
    pub learning_curve: Vec<BoostRound>,
}

/// One row of a metrics table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub label: String,
    pub rows: usize,
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
}

impl MetricsRow {
    fn new(label: &str, rows: usize, metrics: &RegressionMetrics) -> Self {
        Self { label: label.to_string(), rows, rmse: metrics.rmse, mae: metrics.mae, r2: metrics.r2 }
    }

    pub fn get(&self, metric: GateMetric) -> f64 {
        match metric {
            GateMetric::Rmse => self.rmse,
            GateMetric::Mae => self.mae,
            GateMetric::R2 => self.r2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsData {
    /// The data the metrics were computed on.
    pub dataset: String,
    pub rows: Vec<MetricsRow>,
}

/// A gate's verdict with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub passed: bool,
    pub metric: GateMetric,
    pub candidate_label: String,
    pub candidate: f64,
    /// What the candidate was compared with (`Production v3`, `threshold`), if anything.
    pub reference_label: Option<String>,
    pub reference: Option<f64>,
    /// The sentence the run log shows: "candidate RMSE 6.41 < Production v3 6.98 → pass".
    pub summary: String,
}

/// A scored month: the course's batch output, summarised (the file is an [`Effect`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionsData {
    pub path: String,
    pub rows: usize,
    pub dropped: usize,
    pub mean_abs_diff: f64,
    pub model_version: String,
    pub head: TableHead,
    /// The predicted durations, for the output's preview.
    #[serde(default)]
    pub chart: Option<PortChart>,
}

/// The first rows of a table, as text, for previews.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TableHead {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The data on an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Trips(Box<TripsData>),
    TrainingSet(Box<TrainingSetData>),
    Model(Box<ModelData>),
    Metrics(MetricsData),
    Decision(Decision),
    Predictions(PredictionsData),
    /// A sensor's "go", with the reason.
    Signal(String),
}

/// What the UI shows about one output: a headline, a table head, numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortSummary {
    pub port: String,
    pub data_type: DataType,
    pub headline: String,
    pub rows: Option<usize>,
    pub head: Option<TableHead>,
    pub metrics: Vec<(String, f64)>,
    /// A histogram of the output's durations (absent in runs stored before charts).
    #[serde(default)]
    pub chart: Option<PortChart>,
    /// A boosted model's learning curve, by round (absent in runs stored before curves).
    #[serde(default)]
    pub learning_curve: Vec<BoostRound>,
}

/// Bars in an output's chart: enough to see a shape, few enough for a block panel.
pub const CHART_BINS: usize = 30;

/// Longest duration drawn for trips no filter has touched: the long tail the course's
/// 60-minute cut drops shows as "above".
pub const RAW_DURATION_MAX_MINUTES: f64 = 90.0;

/// A histogram of one output, computed here so the page only draws it. Values outside
/// the range are counted in `below`/`above` rather than dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortChart {
    /// The x axis: `trip duration (minutes)`.
    pub x_label: String,
    pub histogram: Histogram,
}

impl PortChart {
    /// `None` when nothing is counted (an empty table draws no chart, not an empty one).
    pub fn new(x_label: &str, histogram: Histogram) -> Option<Self> {
        let counted = histogram.counts.iter().sum::<usize>() + histogram.below + histogram.above;
        (counted > 0).then(|| Self { x_label: x_label.to_string(), histogram })
    }

    /// [`CHART_BINS`] bars from `lower` to `upper`; non-finite values are left out, and a
    /// range that is not finite and increasing gives no chart.
    pub fn of_values(
        x_label: &str,
        values: impl Iterator<Item = f64>,
        lower: f64,
        upper: f64,
    ) -> Option<Self> {
        if !(lower.is_finite() && upper.is_finite() && lower < upper) {
            return None;
        }
        Self::new(x_label, Histogram::new(values, lower, upper, CHART_BINS))
    }

    /// Trip durations of a month: over its duration filter's range once one was applied,
    /// over 0–[`RAW_DURATION_MAX_MINUTES`] before.
    pub fn durations(trips: &TripsData) -> Option<Self> {
        let (lower, upper) =
            trips.filter.map_or((0.0, RAW_DURATION_MAX_MINUTES), |f| (f.min_minutes, f.max_minutes));
        let minutes = duration_minutes(&trips.table);
        Self::of_values("trip duration (minutes)", minutes.into_iter().flatten(), lower, upper)
    }

    /// The target a trainer fits: the durations of the training month's kept rides.
    pub fn target(set: &TrainingSetData) -> Option<Self> {
        let prepared = prepare_trips(&set.train.table, set.filter).ok()?;
        Self::of_values(
            "target: trip duration in the training month (minutes)",
            prepared.duration_minutes.into_iter(),
            set.filter.min_minutes,
            set.filter.max_minutes,
        )
    }
}

impl Value {
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Trips(_) => DataType::Trips,
            Value::TrainingSet(_) => DataType::TrainingSet,
            Value::Model(_) => DataType::Model,
            Value::Metrics(_) => DataType::Metrics,
            Value::Decision(_) => DataType::Decision,
            Value::Predictions(_) => DataType::Predictions,
            Value::Signal(_) => DataType::Signal,
        }
    }

    /// Rows of trips this value carries (both months of a training set).
    pub fn rows(&self) -> usize {
        match self {
            Value::Trips(trips) => trips.table.n_rows,
            Value::TrainingSet(set) => set.train_rows + set.val_rows,
            Value::Predictions(predictions) => predictions.rows,
            _ => 0,
        }
    }

    /// A small, UI-sized description (never the whole table).
    pub fn summary(&self, port: &str) -> PortSummary {
        let mut summary = PortSummary {
            port: port.to_string(),
            data_type: self.data_type(),
            headline: String::new(),
            rows: None,
            head: None,
            metrics: Vec::new(),
            chart: None,
            learning_curve: Vec::new(),
        };
        match self {
            Value::Trips(trips) => {
                summary.headline = match trips.filter {
                    Some(f) => format!(
                        "{}: {} rides of {}–{} min",
                        trips.label,
                        thousands(trips.table.n_rows),
                        f.min_minutes,
                        f.max_minutes
                    ),
                    None => format!("{}: {} trips", trips.label, thousands(trips.table.n_rows)),
                };
                summary.rows = Some(trips.table.n_rows);
                summary.head = Some(table_head(&trips.table, HEAD_ROWS));
                summary.chart = PortChart::durations(trips);
            }
            Value::TrainingSet(set) => {
                summary.headline = format!(
                    "{} · train {} rides, validation {} rides, {} columns",
                    set.feature_set.label(),
                    thousands(set.train_rows),
                    thousands(set.val_rows),
                    thousands(set.n_features)
                );
                summary.rows = Some(set.train_rows + set.val_rows);
                summary.metrics = vec![("n_features".into(), set.n_features as f64)];
                summary.chart = PortChart::target(set);
            }
            Value::Model(model) => {
                summary.headline = match &model.val {
                    Some(val) => format!("{} · val RMSE {:.3}", model.label, val.rmse),
                    None => model.label.clone(),
                };
                if let Some(train) = &model.train {
                    summary.metrics.push(("train_rmse".into(), train.rmse));
                }
                if let Some(val) = &model.val {
                    summary.metrics.extend([
                        ("val_rmse".into(), val.rmse),
                        ("val_mae".into(), val.mae),
                        ("val_r2".into(), val.r2),
                    ]);
                }
                summary.head = Some(TableHead {
                    columns: vec!["".into(), "".into()],
                    rows: model.model.summary().into_iter().map(|(k, v)| vec![k, v]).collect(),
                });
                summary.learning_curve = model.learning_curve.clone();
            }
            Value::Metrics(metrics) => {
                summary.headline = format!("metrics on {}", metrics.dataset);
                summary.head = Some(TableHead {
                    columns: ["model", "rows", "RMSE", "MAE", "R²"].map(String::from).to_vec(),
                    rows: metrics
                        .rows
                        .iter()
                        .map(|r| {
                            vec![
                                r.label.clone(),
                                thousands(r.rows),
                                format!("{:.3}", r.rmse),
                                format!("{:.3}", r.mae),
                                format!("{:.3}", r.r2),
                            ]
                        })
                        .collect(),
                });
                for row in &metrics.rows {
                    summary.metrics.push((format!("{} rmse", row.label), row.rmse));
                }
            }
            Value::Decision(decision) => {
                summary.headline = decision.summary.clone();
                summary.metrics.push(("candidate".into(), decision.candidate));
                if let Some(reference) = decision.reference {
                    summary.metrics.push(("reference".into(), reference));
                }
            }
            Value::Predictions(predictions) => {
                summary.headline = format!(
                    "{} · {} rides scored with {}, mean |diff| {:.2} min",
                    predictions.path,
                    thousands(predictions.rows),
                    predictions.model_version,
                    predictions.mean_abs_diff
                );
                summary.rows = Some(predictions.rows);
                summary.head = Some(predictions.head.clone());
                summary.metrics.push(("mean_abs_diff".into(), predictions.mean_abs_diff));
                summary.chart = predictions.chart.clone();
            }
            Value::Signal(reason) => summary.headline = reason.clone(),
        }
        summary
    }
}

/// `76,518`: counts as a learner reads them.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut groups: Vec<&str> =
        digits.as_bytes().rchunks(3).map(|group| std::str::from_utf8(group).unwrap_or("")).collect();
    groups.reverse();
    groups.join(",")
}

/// The first `n` rows of every loaded column, as text.
pub fn table_head(table: &TripTable, n: usize) -> TableHead {
    let n = n.min(table.n_rows);
    let columns = table.columns.keys().map(|field| field.display_name().to_string()).collect();
    let rows = (0..n)
        .map(|i| {
            table
                .columns
                .values()
                .map(|column| match column {
                    ColumnData::Timestamp(values) => values
                        .get(i)
                        .copied()
                        .flatten()
                        .map_or(String::new(), |micros| SimTime(micros.div_euclid(1_000_000)).to_string()),
                    ColumnData::Integer(values) => {
                        values.get(i).copied().flatten().map_or(String::new(), |v| v.to_string())
                    }
                    ColumnData::Float(values) => {
                        values.get(i).copied().flatten().map_or(String::new(), |v| format!("{v}"))
                    }
                })
                .collect()
        })
        .collect();
    TableHead { columns, rows }
}

/// A change to the tracking store (or the file store) for the host to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Log a fit as an autologged run (params, tags, metrics, model), nested under the
    /// pipeline's run. The host reports [`EffectResult::RunLogged`].
    LogTrainingRun {
        run_name: String,
        spec: TrainSpec,
        report: Box<TrainReport>,
        train_data: Vec<SourceInfo>,
        val_data: Vec<SourceInfo>,
    },
    /// Register a new version of `model` from the run that logged it (or, without a run,
    /// from a new run holding `model_json`). The host reports [`EffectResult::Registered`].
    RegisterModel {
        model: String,
        model_json: String,
        run_id: Option<String>,
        /// Where it came from and why: the pipeline, its run, the block and the decision.
        description: String,
    },
    /// Move the version the preceding `RegisterModel` created to a stage or alias.
    MoveRegistered { model: String, target: ModelTarget, archive_existing: bool, reason: String },
    /// Save a file (the batch predictions) under `path`.
    WriteFile { path: String, bytes: Vec<u8>, rows: usize },
}

impl Effect {
    /// One line for logs and confirmations.
    pub fn describe(&self) -> String {
        match self {
            Effect::LogTrainingRun { run_name, .. } => format!("log the training run `{run_name}`"),
            Effect::RegisterModel { model, .. } => format!("register a new version of `{model}`"),
            Effect::MoveRegistered { model, target, reason, .. } => {
                format!("move the new version of `{model}` to {target} ({reason})")
            }
            Effect::WriteFile { path, rows, .. } => format!("write {} rows to {path}", thousands(*rows)),
        }
    }
}

/// What the host reports back after applying an [`Effect`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EffectResult {
    RunLogged { run_id: String },
    Registered { model: String, version: u32 },
    Moved { model: String, version: u32, target: String },
    Written { path: String },
}

impl EffectResult {
    pub fn describe(&self) -> String {
        match self {
            EffectResult::RunLogged { run_id } => format!("logged run {run_id}"),
            EffectResult::Registered { model, version } => format!("registered {model} version {version}"),
            EffectResult::Moved { model, version, target } => {
                format!("moved {model} version {version} to {target}")
            }
            EffectResult::Written { path } => format!("wrote {path}"),
        }
    }
}

/// Everything one block run produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BlockOutput {
    /// Output port name → value, in the block's port order.
    pub values: Vec<(String, Value)>,
    pub logs: Vec<String>,
    pub effects: Vec<Effect>,
    pub rows_in: usize,
    pub rows_out: usize,
}

impl BlockOutput {
    pub fn value(&self, port: &str) -> Option<&Value> {
        self.values.iter().find(|(name, _)| name == port).map(|(_, value)| value)
    }

    /// Summaries of every output, for the UI.
    pub fn summaries(&self) -> Vec<PortSummary> {
        self.values.iter().map(|(port, value)| value.summary(port)).collect()
    }

    /// Records the tracking run that logged this block's models (after the host applied
    /// a [`Effect::LogTrainingRun`]), so a later `register_model` links to it.
    pub fn attach_run_id(&mut self, run_id: &str) {
        for (_, value) in self.values.iter_mut() {
            if let Value::Model(model) = value {
                model.run_id = Some(run_id.to_string());
            }
        }
    }
}

/// The values on a block's inputs, by port; a port with several connections has several
/// entries, in connection order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BlockInputs {
    pub values: Vec<(String, Value)>,
}

impl BlockInputs {
    pub fn get(&self, port: &str) -> Option<&Value> {
        self.values.iter().find(|(name, _)| name == port).map(|(_, value)| value)
    }

    pub fn all<'a>(&'a self, port: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.values.iter().filter(move |(name, _)| name == port).map(|(_, value)| value)
    }

    fn rows(&self) -> usize {
        self.values.iter().map(|(_, value)| value.rows()).sum()
    }
}

/// A file the host must fetch before a loader runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataRequest {
    /// A file in the app's file store.
    File {
        name: String,
    },
    Url {
        url: String,
    },
    /// A TLC month: try the file store under `file_name`, else download `url`.
    Catalog {
        taxi: String,
        month: YearMonth,
        file_name: String,
        url: String,
    },
}

impl DataRequest {
    pub fn describe(&self) -> String {
        match self {
            DataRequest::File { name } => format!("the file `{name}`"),
            DataRequest::Url { url } => format!("the file at {url}"),
            DataRequest::Catalog { file_name, .. } => format!("the TLC file `{file_name}`"),
        }
    }
}

/// A file's bytes, fetched by the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceData {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A registered version loaded by the host: for gates and batch scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModelData {
    pub model_name: String,
    pub version: u32,
    /// How it was found: `Production`, `@champion`.
    pub target: String,
    pub run_id: String,
    pub model: Model,
}

impl RegisteredModelData {
    /// `nyc-taxi-regressor/3`, the label scored files and logs use.
    pub fn version_label(&self) -> String {
        format!("{}/{}", self.model_name, self.version)
    }
}

/// What the host must look up before starting a block ([`block_needs`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Needs {
    pub source: Option<DataRequest>,
    /// The registered version to load (`None` in [`HostFacts::model`] if there is none).
    pub model: Option<ModelRef>,
    /// The sensor compares with the newest published month.
    pub data_calendar: bool,
}

/// Facts from outside the pipeline, looked up by the host for one block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostFacts {
    pub source: Option<SourceData>,
    pub model: Option<RegisteredModelData>,
    /// Which months are published now, for `new_data` sensors.
    pub availability: Availability,
}

/// Which months of data exist at a moment of the simulated clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Availability {
    /// No data calendar: every month is available (the simulated city makes any month).
    #[default]
    Everything,
    /// Months up to and including this one are published.
    UpTo(YearMonth),
    /// A calendar is kept and nothing is published yet.
    Nothing,
}

/// Everything a block may know besides its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecContext {
    pub pipeline: String,
    pub run_id: String,
    pub block_id: String,
    /// 1 for the first attempt of the current try (retries count up from here).
    pub attempt: u32,
    /// Attempts of this block in the whole run, this one included: a re-run after a
    /// failure continues the count, so `fail_first_n_attempts` fails N times in all.
    pub attempt_in_run: u32,
    /// The date the run is for (a schedule's date, even if the clock is past it).
    pub logical_date: SimTime,
    pub trigger: TriggerReason,
    /// The newest published month when the run was triggered.
    pub newest_month: Option<YearMonth>,
    pub facts: HostFacts,
}

/// Why a block run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BlockError {
    #[error(
        "injected failure: attempt {attempt} of this block fails on purpose (fail_first_n_attempts = {of})"
    )]
    Injected { attempt: u32, of: u32 },
    #[error("input `{0}` has no value; connect it and run again")]
    MissingInput(String),
    #[error("input `{port}` holds {found}, not {expected}")]
    WrongInput { port: String, expected: DataType, found: DataType },
    #[error("this block needs {0}, which the host did not provide")]
    NoSource(String),
    #[error("reading the month failed: {0}")]
    Data(String),
    #[error("simulating the month failed: {0}")]
    Simulate(String),
    #[error("preparing the trips failed: {0}")]
    Prepare(String),
    #[error("training failed: {0}")]
    Train(String),
    #[error("scoring failed: {0}")]
    Score(String),
    #[error("there is no {uri} to score with; run the training pipeline first so a version gets there")]
    NoModel { uri: String },
    /// A sensor's condition does not hold yet; its retry policy decides how long it waits.
    #[error("{0}")]
    NotYet(String),
    /// The host could not apply the block's effects (the store refused).
    #[error("saving the block's results failed: {0}")]
    Effect(String),
    /// The host lost the run (a worker crashed, the tab was closed).
    #[error("the block was interrupted: {0}")]
    Interrupted(String),
}

/// What the host must fetch before `block` can run for a run dated `logical_date`.
pub fn block_needs(block: &BlockDef, logical_date: SimTime, newest_month: Option<YearMonth>) -> Needs {
    let mut needs = Needs::default();
    match &block.params {
        BlockParams::File(file) => needs.source = Some(DataRequest::File { name: file.name.clone() }),
        BlockParams::Url(url) => needs.source = Some(DataRequest::Url { url: url.url.clone() }),
        BlockParams::Catalog(catalog) => {
            let month = catalog.month.resolve(logical_date, newest_month);
            needs.source = Some(DataRequest::Catalog {
                taxi: catalog.taxi.clone(),
                month,
                file_name: catalog_file_name(&catalog.taxi, month),
                url: catalog_url(&catalog.taxi, month),
            });
        }
        BlockParams::Evaluate(EvaluateParams { gate: Gate::BeatsModel(reference), .. }) => {
            needs.model = Some(reference.clone());
        }
        BlockParams::BatchPredictions(batch) => needs.model = Some(batch.model.clone()),
        BlockParams::NewData(_) => needs.data_calendar = true,
        _ => {}
    }
    needs
}

/// Whether a block's output may be reused when its content key matches: not for blocks
/// with side effects (exporters), answers that change with time (sensors), or injected
/// failures (the learner wants to see them).
pub fn is_cacheable(block: &BlockDef) -> bool {
    block.fail_first_n_attempts == 0
        && !matches!(
            block.params,
            BlockParams::RegisterModel(_)
                | BlockParams::BatchPredictions(_)
                | BlockParams::NewData(_)
                | BlockParams::Alert(_)
                | BlockParams::Markdown(_)
        )
}

/// The outside facts a block's result depends on, as text for its content key: the
/// resolved month, the fetched file's hash, the registered version compared with.
pub fn context_fingerprint(block: &BlockDef, ctx: &ExecContext) -> String {
    let month = |month_ref: &super::definition::MonthRef| {
        month_ref.resolve(ctx.logical_date, ctx.newest_month).to_string()
    };
    match &block.params {
        BlockParams::Simulated(source) => format!("month={}", month(&source.month)),
        BlockParams::File(_) | BlockParams::Url(_) | BlockParams::Catalog(_) => match &ctx.facts.source {
            Some(source) => format!("file={} sha256={}", source.name, sha256_hex(&source.bytes)),
            None => "file=none".to_string(),
        },
        BlockParams::Evaluate(EvaluateParams { gate: Gate::BeatsModel(_), .. }) => match &ctx.facts.model {
            Some(model) => format!("model={} run={}", model.version_label(), model.run_id),
            None => "model=none".to_string(),
        },
        _ => String::new(),
    }
}

/// SHA-256 as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The caller's clock and progress bar for long blocks (training).
pub struct Hooks<'a> {
    /// Seconds from any fixed origin; training reports `fit_seconds` with it.
    pub now_seconds: &'a dyn Fn() -> f64,
    /// 0–1 progress of the block.
    pub progress: &'a mut dyn FnMut(f64),
}

/// Runs one block with no clock and no progress reports.
pub fn run_block(
    block: &BlockDef,
    inputs: &BlockInputs,
    ctx: &ExecContext,
) -> Result<BlockOutput, BlockError> {
    run_block_with(block, inputs, ctx, &mut Hooks { now_seconds: &|| 0.0, progress: &mut |_| {} })
}

/// Runs one block (see the module docs).
pub fn run_block_with(
    block: &BlockDef,
    inputs: &BlockInputs,
    ctx: &ExecContext,
    hooks: &mut Hooks<'_>,
) -> Result<BlockOutput, BlockError> {
    let attempt = ctx.attempt_in_run.max(ctx.attempt);
    if attempt <= block.fail_first_n_attempts {
        return Err(BlockError::Injected { attempt, of: block.fail_first_n_attempts });
    }
    let mut output = match &block.params {
        BlockParams::Simulated(source) => {
            let month = source.month.resolve(ctx.logical_date, ctx.newest_month);
            let city = source.city(month);
            let bytes = simulate_month_parquet(&city).map_err(|e| BlockError::Simulate(e.to_string()))?;
            let mut output = loaded(&city.label(), Some(month), &bytes)?;
            output
                .logs
                .insert(0, format!("simulated {month}: seed {}, speed ×{}", city.seed, city.speed_factor));
            output
        }
        BlockParams::File(_) | BlockParams::Url(_) | BlockParams::Catalog(_) => {
            let needs = block_needs(block, ctx.logical_date, ctx.newest_month);
            let request = needs.source.map_or_else(|| "a file".to_string(), |r| r.describe());
            let source = ctx.facts.source.as_ref().ok_or(BlockError::NoSource(request))?;
            let month = match &block.params {
                BlockParams::Catalog(catalog) => {
                    Some(catalog.month.resolve(ctx.logical_date, ctx.newest_month))
                }
                _ => month_in_name(&source.name),
            };
            loaded(&source.name, month, &source.bytes)?
        }
        BlockParams::DurationFilter(params) => {
            duration_filter(trips_input(inputs, "trips")?, params.filter())
        }
        BlockParams::Features(params) => {
            features(trips_input(inputs, "train")?, trips_input(inputs, "val")?, params.feature_set)?
        }
        BlockParams::Split(params) => {
            split(trips_input(inputs, "trips")?, params.validation_fraction, params.seed)
        }
        BlockParams::Train(params) => {
            let Value::TrainingSet(set) = input(inputs, "training_set", DataType::TrainingSet)? else {
                return Err(BlockError::MissingInput("training_set".into()));
            };
            train(block, set, &params.estimator, params.run_name.as_deref(), hooks)?
        }
        BlockParams::Evaluate(params) => evaluate(inputs, params, ctx)?,
        BlockParams::RegisterModel(params) => register(block, inputs, params, ctx)?,
        BlockParams::BatchPredictions(params) => batch(inputs, params, ctx)?,
        BlockParams::NewData(params) => {
            let month = params.month.resolve(ctx.logical_date, ctx.newest_month);
            let availability = match (ctx.facts.availability, ctx.newest_month) {
                (Availability::Everything, Some(newest)) => Availability::UpTo(newest),
                (availability, _) => availability,
            };
            match availability {
                Availability::UpTo(newest) if newest < month => {
                    return Err(BlockError::NotYet(format!(
                        "waiting: the {month} data is not published yet (newest: {newest})"
                    )))
                }
                Availability::Nothing => {
                    return Err(BlockError::NotYet(format!(
                        "waiting: the {month} data is not published yet (no month is published yet)"
                    )))
                }
                Availability::UpTo(newest) => {
                    signal(format!("the {month} data is published (newest: {newest})"))
                }
                Availability::Everything => {
                    signal(format!("the {month} data is available (the simulated city has every month)"))
                }
            }
        }
        BlockParams::Alert(params) => match &ctx.trigger {
            TriggerReason::Alert { event, .. }
                if params.rule_id.as_ref().is_none_or(|rule| *rule == event.rule_id) =>
            {
                signal(format!("alert `{}`: {}", event.rule, event.message))
            }
            _ => {
                let which =
                    params.rule_id.as_ref().map_or("an alert".to_string(), |rule| format!("alert `{rule}`"));
                return Err(BlockError::NotYet(format!(
                    "waiting for {which}; this run was {}",
                    ctx.trigger.describe()
                )));
            }
        },
        BlockParams::Markdown(_) => BlockOutput::default(),
    };
    (hooks.progress)(1.0);
    output.rows_in = inputs.rows();
    if output.rows_out == 0 {
        output.rows_out = output.values.iter().map(|(_, v)| v.rows()).sum();
    }
    Ok(output)
}

fn signal(reason: String) -> BlockOutput {
    BlockOutput {
        logs: vec![reason.clone()],
        values: vec![("signal".into(), Value::Signal(reason))],
        ..Default::default()
    }
}

fn input<'a>(inputs: &'a BlockInputs, port: &str, expected: DataType) -> Result<&'a Value, BlockError> {
    let value = inputs.get(port).ok_or_else(|| BlockError::MissingInput(port.to_string()))?;
    if value.data_type() != expected {
        return Err(BlockError::WrongInput { port: port.to_string(), expected, found: value.data_type() });
    }
    Ok(value)
}

fn trips_input<'a>(inputs: &'a BlockInputs, port: &str) -> Result<&'a TripsData, BlockError> {
    match input(inputs, port, DataType::Trips)? {
        Value::Trips(trips) => Ok(trips),
        _ => Err(BlockError::MissingInput(port.to_string())),
    }
}

fn model_input(value: &Value, port: &str) -> Result<ModelData, BlockError> {
    match value {
        Value::Model(model) => Ok((**model).clone()),
        other => Err(BlockError::WrongInput {
            port: port.to_string(),
            expected: DataType::Model,
            found: other.data_type(),
        }),
    }
}

/// `green_tripdata_2021-01.parquet` → 2021-01: the month a TLC file name states.
pub fn month_in_name(name: &str) -> Option<YearMonth> {
    let stem = name.strip_suffix(".parquet").unwrap_or(name);
    let tail = stem.get(stem.len().checked_sub(7)?..)?;
    YearMonth::parse(tail).ok()
}

fn loaded(label: &str, month: Option<YearMonth>, bytes: &[u8]) -> Result<BlockOutput, BlockError> {
    let table =
        load_trips(bytes.to_vec().into(), &TRAINING_FIELDS).map_err(|e| BlockError::Data(e.to_string()))?;
    let rows = table.n_rows;
    let source = SourceInfo { name: label.to_string(), rows, sha256: sha256_hex(bytes) };
    let log = format!("loaded {label}: {} trips, {} bytes", thousands(rows), thousands(bytes.len()));
    let trips = TripsData { label: label.to_string(), month, sources: vec![source], table, filter: None };
    Ok(BlockOutput {
        values: vec![("trips".into(), Value::Trips(Box::new(trips)))],
        logs: vec![log],
        ..Default::default()
    })
}

/// The rows of `table` where `keep` is true, every loaded column alike.
pub fn select_rows(table: &TripTable, keep: &[bool]) -> TripTable {
    let pick = |len: usize| (0..len).filter(|&i| keep.get(i).copied().unwrap_or(false));
    let columns = table
        .columns
        .iter()
        .map(|(field, column)| {
            let kept = match column {
                ColumnData::Timestamp(v) => ColumnData::Timestamp(pick(v.len()).map(|i| v[i]).collect()),
                ColumnData::Integer(v) => ColumnData::Integer(pick(v.len()).map(|i| v[i]).collect()),
                ColumnData::Float(v) => ColumnData::Float(pick(v.len()).map(|i| v[i]).collect()),
            };
            (*field, kept)
        })
        .collect();
    let n_rows = keep.iter().take(table.n_rows).filter(|&&k| k).count();
    TripTable { n_rows, columns, source_names: table.source_names.clone() }
}

fn duration_filter(trips: &TripsData, filter: DurationFilter) -> BlockOutput {
    let keep: Vec<bool> =
        duration_minutes(&trips.table).iter().map(|d| d.is_some_and(|d| filter.keeps(d))).collect();
    let table = select_rows(&trips.table, &keep);
    let (before, after) = (trips.table.n_rows, table.n_rows);
    let dropped = before - after.min(before);
    let share = if before == 0 { 0.0 } else { 100.0 * dropped as f64 / before as f64 };
    let log = format!(
        "kept {} of {} trips lasting {}–{} min; dropped {} ({share:.2} %)",
        thousands(after),
        thousands(before),
        filter.min_minutes,
        filter.max_minutes,
        thousands(dropped)
    );
    let filtered = TripsData {
        label: trips.label.clone(),
        month: trips.month,
        sources: trips.sources.clone(),
        table,
        filter: Some(filter),
    };
    BlockOutput {
        values: vec![("trips".into(), Value::Trips(Box::new(filtered)))],
        logs: vec![log],
        ..Default::default()
    }
}

/// The filter a month was prepared with, or the course's 1–60 minutes.
fn filter_of(trips: &TripsData) -> DurationFilter {
    trips.filter.unwrap_or_default()
}

fn features(train: &TripsData, val: &TripsData, feature_set: FeatureSet) -> Result<BlockOutput, BlockError> {
    let filter = filter_of(train);
    let mut logs = Vec::new();
    if train.filter.is_none() {
        logs.push("no duration filter upstream: the course's 1–60 minutes apply".to_string());
    }
    if val.filter.is_some() && val.filter != train.filter {
        logs.push("the validation month was filtered differently from the training month".to_string());
    }
    let train_trips = prepare_trips(&train.table, filter).map_err(|e| BlockError::Prepare(e.to_string()))?;
    let val_trips = prepare_trips(&val.table, filter).map_err(|e| BlockError::Prepare(e.to_string()))?;
    let vectorizer = DictVectorizer::fit(&TripFeatures { set: feature_set, trips: &train_trips });
    let unseen = unseen_rows(&vectorizer, feature_set, &val_trips);
    logs.push(format!(
        "{}: {} columns from {} training rides; {} of {} validation rides have a category training never saw",
        feature_set.label(),
        thousands(vectorizer.n_features()),
        thousands(train_trips.len()),
        thousands(unseen),
        thousands(val_trips.len())
    ));
    let set = TrainingSetData {
        train: train.clone(),
        val: val.clone(),
        feature_set,
        filter,
        n_features: vectorizer.n_features(),
        train_rows: train_trips.len(),
        val_rows: val_trips.len(),
    };
    Ok(BlockOutput {
        values: vec![("training_set".into(), Value::TrainingSet(Box::new(set)))],
        logs,
        ..Default::default()
    })
}

fn unseen_rows(vectorizer: &DictVectorizer, feature_set: FeatureSet, trips: &PreparedTrips) -> usize {
    let expected = feature_set.features_per_ride();
    let matrix = vectorizer.transform(&TripFeatures { set: feature_set, trips });
    (0..matrix.rows()).filter(|&r| matrix.outer_view(r).map_or(0, |row| row.nnz()) < expected).count()
}

fn split(trips: &TripsData, validation_fraction: f64, seed: u64) -> BlockOutput {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let to_val: Vec<bool> = (0..trips.table.n_rows).map(|_| rng.gen::<f64>() < validation_fraction).collect();
    let to_train: Vec<bool> = to_val.iter().map(|v| !v).collect();
    let part = |keep: &[bool], what: &str| TripsData {
        label: format!("{} ({what})", trips.label),
        month: trips.month,
        sources: trips.sources.clone(),
        table: select_rows(&trips.table, keep),
        filter: trips.filter,
    };
    let (train, val) = (part(&to_train, "train"), part(&to_val, "holdout"));
    let log = format!(
        "split {} trips: {} for training, {} held out ({:.0} %, seed {seed})",
        thousands(trips.table.n_rows),
        thousands(train.table.n_rows),
        thousands(val.table.n_rows),
        validation_fraction * 100.0
    );
    BlockOutput {
        values: vec![
            ("train".into(), Value::Trips(Box::new(train))),
            ("val".into(), Value::Trips(Box::new(val))),
        ],
        logs: vec![log],
        ..Default::default()
    }
}

fn train(
    block: &BlockDef,
    set: &TrainingSetData,
    estimator: &crate::training::Estimator,
    run_name: Option<&str>,
    hooks: &mut Hooks<'_>,
) -> Result<BlockOutput, BlockError> {
    let spec = TrainSpec { estimator: *estimator, feature_set: set.feature_set, filter: set.filter };
    let progress = &mut *hooks.progress;
    let report =
        train_and_evaluate(&spec, &set.train.table, &set.val.table, hooks.now_seconds, &mut |stage, done| {
            // Fitting is most of the time; preparing and scoring share the rest.
            let overall = match stage {
                crate::training::Stage::Preparing => 0.05 * done,
                crate::training::Stage::Vectorizing => 0.05 + 0.05 * done,
                crate::training::Stage::Fitting => 0.1 + 0.8 * done,
                crate::training::Stage::Evaluating => 0.9 + 0.1 * done,
            };
            progress(overall.clamp(0.0, 1.0));
        })
        .map_err(|e| BlockError::Train(e.to_string()))?;
    let label = estimator.label();
    let log = format!(
        "{label} on {}: train RMSE {:.3} ({} rides), validation RMSE {:.3} ({} rides)",
        set.feature_set.label(),
        report.train.rmse,
        thousands(report.n_train),
        report.val.rmse,
        thousands(report.n_val)
    );
    let model = ModelData {
        model: report.model.clone(),
        label: label.clone(),
        spec: Some(spec),
        train: Some(report.train),
        val: Some(report.val),
        trained_on: set.train.label.clone(),
        validated_on: set.val.label.clone(),
        block: block.id.clone(),
        run_id: None,
        learning_curve: report.history.clone(),
    };
    let metrics = MetricsData {
        dataset: format!("{} → {}", set.train.label, set.val.label),
        rows: vec![
            MetricsRow::new(&format!("{label} (train)"), report.n_train, &report.train),
            MetricsRow::new(&format!("{label} (validation)"), report.n_val, &report.val),
        ],
    };
    let effect = Effect::LogTrainingRun {
        run_name: run_name.map_or_else(|| format!("{label} · {}", block.id), str::to_string),
        spec,
        report: Box::new(report),
        train_data: set.train.sources.clone(),
        val_data: set.val.sources.clone(),
    };
    Ok(BlockOutput {
        values: vec![
            ("model".into(), Value::Model(Box::new(model))),
            ("metrics".into(), Value::Metrics(metrics)),
        ],
        logs: vec![log],
        effects: vec![effect],
        ..Default::default()
    })
}

/// `RMSE 6.412`.
fn show(metric: GateMetric, value: f64) -> String {
    format!("{} {value:.3}", metric.name())
}

fn evaluate(
    inputs: &BlockInputs,
    params: &EvaluateParams,
    ctx: &ExecContext,
) -> Result<BlockOutput, BlockError> {
    let dataset = trips_input(inputs, "dataset")?;
    let candidates: Vec<ModelData> =
        inputs.all("candidates").map(|v| model_input(v, "candidates")).collect::<Result<_, _>>()?;
    if candidates.is_empty() {
        return Err(BlockError::MissingInput("candidates".into()));
    }
    let prepared =
        prepare_trips(&dataset.table, filter_of(dataset)).map_err(|e| BlockError::Prepare(e.to_string()))?;
    let score = |model: &Model| {
        let predictions = model.predict_trips(model.vectorizer().as_ref(), &prepared);
        regression_metrics(&predictions, &prepared.duration_minutes)
    };
    let metric = params.metric;
    let mut rows: Vec<MetricsRow> =
        candidates.iter().map(|c| MetricsRow::new(&c.label, prepared.len(), &score(&c.model))).collect();
    let mut logs: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{}: {} on {} ({} rides)",
                row.label,
                show(metric, row.get(metric)),
                dataset.label,
                thousands(row.rows)
            )
        })
        .collect();
    let mut best = 0;
    for i in 1..rows.len() {
        if metric.better(rows[i].get(metric), rows[best].get(metric)) || rows[best].get(metric).is_nan() {
            best = i;
        }
    }
    let (best_label, best_value) = (rows[best].label.clone(), rows[best].get(metric));
    if candidates.len() > 1 {
        logs.push(format!("best: {best_label} ({})", show(metric, best_value)));
    }
    let candidate = format!("candidate {best_label}: {}", show(metric, best_value));
    let decision = match &params.gate {
        Gate::None => Decision {
            passed: true,
            metric,
            candidate_label: best_label.clone(),
            candidate: best_value,
            reference_label: None,
            reference: None,
            summary: format!("{candidate}; no gate → pass"),
        },
        Gate::Threshold(threshold) => {
            let passed = metric.better(best_value, *threshold);
            Decision {
                passed,
                metric,
                candidate_label: best_label.clone(),
                candidate: best_value,
                reference_label: Some("threshold".into()),
                reference: Some(*threshold),
                summary: format!(
                    "{candidate} {} threshold {threshold} → {}",
                    metric.symbol(passed),
                    if passed { "pass" } else { "fail" }
                ),
            }
        }
        Gate::BeatsModel(reference) => {
            match ctx.facts.model.as_ref().filter(|m| m.model_name == reference.model) {
                None => Decision {
                    passed: true,
                    metric,
                    candidate_label: best_label.clone(),
                    candidate: best_value,
                    reference_label: None,
                    reference: None,
                    summary: format!("{candidate}; there is no {} yet → pass", reference.uri()),
                },
                Some(registered) => {
                    let label = format!("{} v{}", registered.target, registered.version);
                    let metrics = score(&registered.model);
                    rows.push(MetricsRow::new(&label, prepared.len(), &metrics));
                    let value = rows[rows.len() - 1].get(metric);
                    logs.push(format!("{label}: {} on {}", show(metric, value), dataset.label));
                    let passed = metric.better(best_value, value);
                    Decision {
                        passed,
                        metric,
                        candidate_label: best_label.clone(),
                        candidate: best_value,
                        reference_label: Some(label.clone()),
                        reference: Some(value),
                        summary: format!(
                            "{candidate} {} {label} {value:.3} → {}",
                            metric.symbol(passed),
                            if passed {
                                "pass (the candidate is better)"
                            } else {
                                "fail (keep the current version)"
                            }
                        ),
                    }
                }
            }
        }
    };
    logs.push(decision.summary.clone());
    let best_model =
        candidates.into_iter().nth(best).ok_or_else(|| BlockError::MissingInput("candidates".into()))?;
    Ok(BlockOutput {
        values: vec![
            ("best".into(), Value::Model(Box::new(best_model))),
            ("metrics".into(), Value::Metrics(MetricsData { dataset: dataset.label.clone(), rows })),
            ("decision".into(), Value::Decision(decision)),
        ],
        logs,
        ..Default::default()
    })
}

fn register(
    block: &BlockDef,
    inputs: &BlockInputs,
    params: &RegisterParams,
    ctx: &ExecContext,
) -> Result<BlockOutput, BlockError> {
    let model = model_input(input(inputs, "model", DataType::Model)?, "model")?;
    let decision = match inputs.get("decision") {
        Some(Value::Decision(decision)) => Some(decision),
        Some(other) => {
            return Err(BlockError::WrongInput {
                port: "decision".into(),
                expected: DataType::Decision,
                found: other.data_type(),
            })
        }
        None => None,
    };
    let passed = decision.is_none_or(|d| d.passed);
    let why = decision.map_or_else(|| "no gate".to_string(), |d| d.summary.clone());
    let mut output = BlockOutput::default();
    if !passed && params.only_if_better {
        output.logs.push(format!("nothing registered: {why}"));
        return Ok(output);
    }
    let description = match decision {
        Some(d) => {
            format!("{} from pipeline `{}` ({}): {}", model.label, ctx.pipeline, ctx.run_id, d.summary)
        }
        None => format!("{} from pipeline `{}` ({})", model.label, ctx.pipeline, ctx.run_id),
    };
    output.effects.push(Effect::RegisterModel {
        model: params.model.clone(),
        model_json: model.model.to_json(),
        run_id: model.run_id.clone(),
        description: cut(&format!("{description} [block `{}`]", block.id), 4_000),
    });
    output.logs.push(format!("registers {} as a new version of `{}`", model.label, params.model));
    match &params.promote_to {
        Some(target) if passed => {
            output.effects.push(Effect::MoveRegistered {
                model: params.model.clone(),
                target: target.clone(),
                archive_existing: params.archive_existing,
                reason: why.clone(),
            });
            output.logs.push(format!("promotes it to {target}: {why}"));
        }
        Some(target) => output.logs.push(format!("does not promote it to {target}: {why}")),
        None => {}
    }
    Ok(output)
}

fn batch(inputs: &BlockInputs, params: &BatchParams, ctx: &ExecContext) -> Result<BlockOutput, BlockError> {
    let trips = trips_input(inputs, "trips")?;
    let registered = ctx
        .facts
        .model
        .as_ref()
        .filter(|m| m.model_name == params.model.model)
        .ok_or_else(|| BlockError::NoModel { uri: params.model.uri() })?;
    let month = trips.month.unwrap_or_else(|| ctx.logical_date.year_month().previous());
    let version = registered.version_label();
    let loaded = LoadedModel::new(registered.model.clone(), &version);
    let options = ScoreOptions {
        taxi_type: params.taxi_type.clone(),
        year: month.year,
        month: month.month,
        run_id: registered.run_id.clone(),
        seed: params.seed,
    };
    let scored = score_trips(&trips.table, &loaded, &options, &mut |_| {})
        .map_err(|e| BlockError::Score(e.to_string()))?;
    let head = predictions_head(&trips.table, &registered.model);
    let log = format!(
        "scored {} rides of {month} with {version} ({} trips dropped by the 1–60 min filter); mean |actual − predicted| {:.2} min",
        thousands(scored.rows),
        thousands(scored.dropped),
        scored.mean_abs_diff
    );
    let predictions = PredictionsData {
        path: scored.path.clone(),
        rows: scored.rows,
        dropped: scored.dropped,
        mean_abs_diff: scored.mean_abs_diff,
        model_version: version,
        head,
        chart: PortChart::new("predicted duration (minutes)", scored.predicted_histogram),
    };
    Ok(BlockOutput {
        values: vec![("predictions".into(), Value::Predictions(predictions))],
        logs: vec![log],
        effects: vec![Effect::WriteFile { path: scored.path, bytes: scored.parquet, rows: scored.rows }],
        ..Default::default()
    })
}

/// The first scored rides, as the batch file holds them (without the ride ids).
fn predictions_head(table: &TripTable, model: &Model) -> TableHead {
    let columns = ["PULocationID", "DOLocationID", "actual_duration", "predicted_duration", "diff"];
    let Ok(prepared) = prepare_trips(table, DurationFilter::default()) else {
        return TableHead { columns: columns.map(String::from).to_vec(), rows: Vec::new() };
    };
    let n = prepared.len().min(HEAD_ROWS);
    let head = PreparedTrips {
        pu_location: prepared.pu_location[..n].to_vec(),
        do_location: prepared.do_location[..n].to_vec(),
        trip_distance: prepared.trip_distance[..n].to_vec(),
        duration_minutes: prepared.duration_minutes[..n].to_vec(),
        dropped_by_filter: 0,
        dropped_missing: 0,
    };
    let predicted = model.predict_trips(model.vectorizer().as_ref(), &head);
    let rows = (0..n)
        .map(|i| {
            let (actual, guess) = (head.duration_minutes[i], predicted.get(i).copied().unwrap_or(f64::NAN));
            vec![
                head.pu_location[i].to_string(),
                head.do_location[i].to_string(),
                format!("{actual:.2}"),
                format!("{guess:.2}"),
                format!("{:.2}", actual - guess),
            ]
        })
        .collect();
    TableHead { columns: columns.map(String::from).to_vec(), rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Field;
    use crate::pipelines::definition::{DurationFilterParams, MonthRef, SimulatedSource};

    fn context(attempt: u32) -> ExecContext {
        ExecContext {
            pipeline: "test".into(),
            run_id: "test#1".into(),
            block_id: "block".into(),
            attempt,
            attempt_in_run: attempt,
            logical_date: SimTime::parse("2021-03-01").expect("time"),
            trigger: TriggerReason::Manual { note: String::new() },
            newest_month: None,
            facts: HostFacts::default(),
        }
    }

    fn load(trips: usize) -> BlockOutput {
        let block =
            BlockDef::new("load", BlockParams::Simulated(SimulatedSource::new(MonthRef::RunMinus(1), trips)));
        run_block(&block, &BlockInputs::default(), &context(1)).expect("loads")
    }

    #[test]
    fn a_simulated_loader_resolves_its_month_from_the_run() {
        let output = load(500);
        let Some(Value::Trips(trips)) = output.value("trips") else { panic!("trips") };
        assert_eq!(trips.month.map(|m| m.to_string()).as_deref(), Some("2021-02"));
        assert_eq!(trips.table.n_rows, 500);
        assert_eq!(output.rows_out, 500);
        assert_eq!(trips.sources[0].sha256.len(), 64);
        assert_eq!(output.summaries()[0].head.as_ref().map(|h| h.rows.len()), Some(HEAD_ROWS));
    }

    #[test]
    fn injected_failures_fail_the_first_attempts_only() {
        let mut block =
            BlockDef::new("load", BlockParams::Simulated(SimulatedSource::new(MonthRef::RunMinus(1), 100)));
        block.fail_first_n_attempts = 2;
        for attempt in 1..=2 {
            let error = run_block(&block, &BlockInputs::default(), &context(attempt)).expect_err("fails");
            assert_eq!(error, BlockError::Injected { attempt, of: 2 });
        }
        assert!(run_block(&block, &BlockInputs::default(), &context(3)).is_ok());
        assert!(!is_cacheable(&block), "an injected failure always runs");
    }

    #[test]
    fn the_duration_filter_keeps_whole_rows() {
        let loaded = load(2_000);
        let Some(Value::Trips(raw)) = loaded.value("trips") else { panic!("trips") };
        let block = BlockDef::new("filter", BlockParams::DurationFilter(DurationFilterParams::default()));
        let inputs = BlockInputs { values: vec![("trips".into(), Value::Trips(raw.clone()))] };
        let output = run_block(&block, &inputs, &context(1)).expect("filters");
        let Some(Value::Trips(kept)) = output.value("trips") else { panic!("trips") };
        let expected = prepare_trips(&raw.table, DurationFilter::default()).expect("prepares");
        let again = prepare_trips(&kept.table, DurationFilter::default()).expect("prepares");
        assert!(kept.table.n_rows < raw.table.n_rows);
        assert_eq!((again.len(), again.dropped_by_filter), (expected.len(), 0));
        for column in kept.table.columns.values() {
            assert_eq!(column.len(), kept.table.n_rows);
        }
        assert_eq!(kept.table.column(Field::TripDistance).map(ColumnData::len), Some(kept.table.n_rows));
        assert_eq!((output.rows_in, output.rows_out), (raw.table.n_rows, kept.table.n_rows));
    }

    #[test]
    fn a_loader_without_its_file_says_which_file() {
        let block = BlockDef::new(
            "load",
            BlockParams::File(crate::pipelines::definition::FileSource {
                name: "green_tripdata_2021-01.parquet".into(),
            }),
        );
        let error = run_block(&block, &BlockInputs::default(), &context(1)).expect_err("no file");
        assert_eq!(
            error.to_string(),
            "this block needs the file `green_tripdata_2021-01.parquet`, which the host did not provide"
        );
        assert_eq!(month_in_name("green_tripdata_2021-01.parquet"), YearMonth::new(2021, 1));
        assert_eq!(month_in_name("x.parquet"), None);
    }

    /// A month whose trips last `minutes` (`None`: no dropoff time), unfiltered.
    fn trips_lasting(minutes: &[Option<f64>]) -> TripsData {
        let mut table = TripTable { n_rows: minutes.len(), ..TripTable::default() };
        let pickup = vec![Some(0); minutes.len()];
        let dropoff = minutes.iter().map(|m| m.map(|m| (m * 60_000_000.0) as i64)).collect();
        table.columns.insert(Field::PickupDatetime, ColumnData::Timestamp(pickup));
        table.columns.insert(Field::DropoffDatetime, ColumnData::Timestamp(dropoff));
        TripsData { label: "test".into(), month: None, sources: Vec::new(), table, filter: None }
    }

    fn chart_of(trips: TripsData) -> Option<PortChart> {
        Value::Trips(Box::new(trips)).summary("trips").chart
    }

    #[test]
    fn a_trips_preview_charts_durations_in_three_minute_bars() {
        let minutes = [0.5, 1.5, 3.0, 3.5, 89.0, 120.0, -2.0].map(Some);
        let mut trips = trips_lasting(&[&minutes[..], &[None][..]].concat());
        let chart = chart_of(trips.clone()).expect("a chart");
        assert_eq!(chart.x_label, "trip duration (minutes)");
        let histogram = &chart.histogram;
        assert_eq!((histogram.lower, histogram.upper, histogram.counts.len()), (0.0, 90.0, CHART_BINS));
        let mut expected = vec![0; CHART_BINS];
        (expected[0], expected[1], expected[29]) = (2, 2, 1);
        assert_eq!(histogram.counts, expected);
        assert_eq!((histogram.below, histogram.above), (1, 1), "-2 and 120 minutes are counted apart");
        // Once filtered, the chart spans the filter: 1–60 minutes.
        trips.filter = Some(DurationFilter::default());
        let histogram = chart_of(trips).expect("a chart").histogram;
        assert_eq!((histogram.lower, histogram.upper), (1.0, 60.0));
        assert_eq!(histogram.counts.iter().sum::<usize>(), 3);
        assert_eq!((histogram.below, histogram.above), (2, 2));
    }

    #[test]
    fn an_empty_month_has_no_chart() {
        assert_eq!(chart_of(trips_lasting(&[])), None);
        assert_eq!(chart_of(trips_lasting(&[None, None])), None);
        let no_times =
            TripsData { table: TripTable { n_rows: 3, ..TripTable::default() }, ..trips_lasting(&[]) };
        assert_eq!(chart_of(no_times), None);
    }

    #[test]
    fn absurd_values_and_ranges_do_not_break_a_chart() {
        let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308, -1e308, 5.0];
        let histogram = PortChart::of_values("x", values.into_iter(), 0.0, 60.0).expect("a chart").histogram;
        assert_eq!((histogram.counts.iter().sum::<usize>(), histogram.below, histogram.above), (1, 1, 1));
        assert_eq!(PortChart::of_values("x", [f64::NAN].into_iter(), 0.0, 60.0), None, "nothing finite");
        for (lower, upper) in [(f64::NAN, 60.0), (0.0, f64::INFINITY), (60.0, 1.0), (5.0, 5.0)] {
            assert_eq!(PortChart::of_values("x", values.into_iter(), lower, upper), None, "{lower}..{upper}");
        }
        let wide = PortChart::of_values("x", values.into_iter(), -f64::MAX, f64::MAX).expect("a chart");
        assert_eq!(wide.histogram.counts.iter().sum::<usize>(), 3);
        // Extreme timestamps and a filter with no range: no duration, no chart, no panic.
        let mut trips = trips_lasting(&[Some(10.0)]);
        trips.table.columns.insert(Field::PickupDatetime, ColumnData::Timestamp(vec![Some(i64::MIN)]));
        trips.table.columns.insert(Field::DropoffDatetime, ColumnData::Timestamp(vec![Some(i64::MAX)]));
        assert_eq!(chart_of(trips), None);
        let mut trips = trips_lasting(&[Some(10.0)]);
        trips.filter = Some(DurationFilter { min_minutes: f64::NAN, max_minutes: 60.0 });
        assert_eq!(chart_of(trips), None);
    }

    #[test]
    fn a_training_set_preview_charts_its_target() {
        let loaded = load(800);
        let Some(Value::Trips(month)) = loaded.value("trips") else { panic!("trips") };
        let output = features(month, month, FeatureSet::PuDo).expect("vectorizes");
        let value = output.value("training_set").expect("a training set");
        let Value::TrainingSet(set) = value else { panic!("a training set") };
        let chart = value.summary("training_set").chart.expect("a chart of the target");
        let histogram = &chart.histogram;
        assert_eq!((histogram.lower, histogram.upper), (1.0, 60.0));
        assert_eq!(histogram.counts.iter().sum::<usize>(), set.train_rows, "every kept ride, none outside");
        assert_eq!((histogram.below, histogram.above), (0, 0));
    }

    #[test]
    fn a_boosted_model_preview_carries_its_learning_curve_and_a_linear_one_none() {
        let loaded = load(800);
        let Some(Value::Trips(month)) = loaded.value("trips") else { panic!("trips") };
        let output = features(month, month, FeatureSet::PuDo).expect("vectorizes");
        let Some(Value::TrainingSet(set)) = output.value("training_set") else { panic!("a training set") };
        let boosting = crate::training::Estimator::Gbdt(crate::trees::GbdtParams {
            num_boost_round: 7,
            ..Default::default()
        });
        let linear = crate::training::TrainSpec::course_baseline().estimator;
        let mut hooks = Hooks { now_seconds: &|| 0.0, progress: &mut |_| {} };
        // `train` reads only the block's id.
        let block = BlockDef::new("train", BlockParams::Simulated(SimulatedSource::new(MonthRef::Latest, 1)));

        let trained = train(&block, set, &boosting, None, &mut hooks).expect("boosted trees");
        let summary = trained.value("model").expect("a model").summary("model");
        let curve = &summary.learning_curve;
        assert_eq!(curve.iter().map(|r| r.round).collect::<Vec<_>>(), (0..7).collect::<Vec<_>>());
        assert!(curve.iter().all(|r| r.val_rmse.is_some()), "validated every round");
        assert!(curve[6].train_rmse < curve[0].train_rmse, "boosting lowers the training error");
        let Some(Value::Model(model)) = trained.value("model") else { panic!("a model") };
        let last_val = curve[6].val_rmse.unwrap_or(f64::NAN);
        assert!(
            (model.val.map_or(f64::NAN, |m| m.rmse) - last_val).abs() < 1e-9,
            "the curve ends at the model"
        );

        let trained = train(&block, set, &linear, None, &mut hooks).expect("linear regression");
        assert!(trained.value("model").expect("a model").summary("model").learning_curve.is_empty());
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(76_518), "76,518");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
