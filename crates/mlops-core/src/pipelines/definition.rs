//! The pipeline file: a versioned, human-readable JSON definition of blocks and triggers.
//!
//! A learner saves pipelines in the browser, exports them, shares them and imports files
//! from others, so the format is plain JSON a person can read and edit (Mage keeps the
//! same facts in `metadata.yaml`):
//!
//! ```json
//! {
//!   "format": "mlops-lab.pipeline",
//!   "version": 1,
//!   "name": "training",
//!   "description": "Chapter 3's training pipeline",
//!   "blocks": [
//!     { "id": "load_jan", "kind": "data_loader",
//!       "params": { "simulated": { "month": "2021-01", "trips": 20000, "seed": 42 } },
//!       "retry": { "retries": 3, "delay": 1, "max_delay": 60, "exponential_backoff": true } },
//!     { "id": "filter_jan", "kind": "transformer",
//!       "params": { "duration_filter": { "min_minutes": 1, "max_minutes": 60 } },
//!       "inputs": [ { "port": "trips", "block": "load_jan", "output": "trips" } ] }
//!   ],
//!   "triggers": [ { "id": "monthly", "kind": { "schedule": { "monthly": { "day": 1, "hour": 0, "minute": 0 } } } } ]
//! }
//! ```
//!
//! [`import`] trusts nothing: a file over 1 MiB, nested too deep, with an unknown field,
//! kind or version, an absurd number, a bad or duplicate id, or a broken graph is refused
//! with a message that names the problem. [`export`] writes what [`import`] reads back.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use super::clock::{SimTime, YearMonth};
use super::graph::{self, GraphError};
use super::schedule::{TriggerDef, TriggerKind};
use crate::features::{DurationFilter, FeatureSet};
use crate::simulate::CityParams;
use crate::tracking::registry::{check_alias, Stage};
use crate::training::Estimator;

/// The `format` every pipeline file starts with.
pub const FORMAT: &str = "mlops-lab.pipeline";
/// The version this code writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Files larger than this are refused before parsing (the course's pipelines take ~10 kB).
pub const MAX_FILE_BYTES: usize = 1 << 20;
pub const MAX_BLOCKS: usize = 200;
pub const MAX_TRIGGERS: usize = 32;
/// Input connections of one block.
pub const MAX_INPUTS: usize = 16;
/// Models one evaluator compares.
pub const MAX_CANDIDATES: usize = 8;
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
pub const MAX_NOTE_CHARS: usize = 20_000;
pub const MAX_URL_CHARS: usize = 2_048;
pub const MAX_RETRIES: u32 = 20;
/// The longest retry delay: a week of simulated time.
pub const MAX_RETRY_DELAY_SECONDS: u64 = 7 * 86_400;
pub const MAX_INJECTED_FAILURES: u32 = 100;
/// How far back `run-N` may reach: a century of months.
pub const MAX_MONTHS_BACK: u32 = 1_200;

/// A whole pipeline: what is saved, exported and imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineDefinition {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for files this code writes.
    pub version: u64,
    /// The pipeline's id: letters, digits, `_` and `-`, like a block id.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub blocks: Vec<BlockDef>,
    #[serde(default)]
    pub triggers: Vec<TriggerDef>,
}

impl PipelineDefinition {
    /// An empty pipeline with the current format and version.
    pub fn new(name: &str, description: &str) -> Self {
        Self {
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            name: name.to_string(),
            description: description.to_string(),
            blocks: Vec::new(),
            triggers: Vec::new(),
        }
    }

    pub fn block(&self, id: &str) -> Option<&BlockDef> {
        self.blocks.iter().find(|b| b.id == id)
    }

    pub fn block_mut(&mut self, id: &str) -> Option<&mut BlockDef> {
        self.blocks.iter_mut().find(|b| b.id == id)
    }

    /// Every problem of the definition, checked as [`import`] checks a file: ids, numbers,
    /// kinds, then the graph. The block editor calls it on every keystroke.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        check_definition(self)
    }

    /// The blocks that read an output of block `id`, each once, in definition order.
    pub fn readers_of(&self, id: &str) -> Vec<&str> {
        self.blocks.iter().filter(|b| b.upstream().contains(&id)).map(|b| b.id.as_str()).collect()
    }

    /// `stem`, or `stem_2`, `stem_3` … : the first id no block has yet (the editor's
    /// suggestion for a new block).
    pub fn unused_id(&self, stem: &str) -> String {
        (1..)
            .map(|n| if n == 1 { stem.to_string() } else { format!("{stem}_{n}") })
            .find(|id| self.block(id).is_none())
            .unwrap_or_else(|| stem.to_string())
    }

    /// Appends `block` after checking its id (valid, unused) and the block count. Its
    /// inputs are not checked: a new block may wait for the learner to connect them, and
    /// [`Self::validate`] says what is missing until then.
    pub fn add_block(&mut self, block: BlockDef) -> Result<(), DefinitionError> {
        check_id("block id", &block.id)?;
        if self.block(&block.id).is_some() {
            return Err(DefinitionError::DuplicateId { what: "block", id: block.id });
        }
        if self.blocks.len() >= MAX_BLOCKS {
            let count = self.blocks.len() + 1;
            return Err(DefinitionError::TooMany { what: "blocks", count, limit: MAX_BLOCKS });
        }
        self.blocks.push(block);
        Ok(())
    }

    /// Takes block `id` out, refusing while other blocks read its outputs: removing it
    /// would silently cut their inputs, so the learner rewires or removes them first.
    pub fn remove_block(&mut self, id: &str) -> Result<BlockDef, DefinitionError> {
        let Some(position) = self.blocks.iter().position(|b| b.id == id) else {
            return Err(DefinitionError::NoSuchBlock { id: cut(id, MAX_ID_CHARS) });
        };
        let readers: Vec<String> =
            self.readers_of(id).into_iter().filter(|r| *r != id).map(str::to_string).collect();
        if !readers.is_empty() {
            return Err(DefinitionError::BlockInUse { block: id.to_string(), readers });
        }
        Ok(self.blocks.remove(position))
    }
}

/// One block of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDef {
    pub id: String,
    /// Mage's block type; must agree with `params` ([`BlockParams::kind`]).
    pub kind: BlockKind,
    pub params: BlockParams,
    /// Where each input comes from: another block's named output.
    #[serde(default)]
    pub inputs: Vec<InputBinding>,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Makes the first N attempts of the block in each run fail on purpose, so a learner
    /// can watch retries (and re-runs) work. A block with injected failures is never
    /// served from the cache.
    #[serde(default)]
    pub fail_first_n_attempts: u32,
    #[serde(default)]
    pub description: String,
}

impl BlockDef {
    /// A block with no inputs, the default retry policy and the kind its params imply.
    pub fn new(id: &str, params: BlockParams) -> Self {
        Self {
            id: id.to_string(),
            kind: params.kind(),
            params,
            inputs: Vec::new(),
            retry: RetryPolicy::default(),
            fail_first_n_attempts: 0,
            description: String::new(),
        }
    }

    /// Connects `port` to `block`'s `output` (builder style, for presets and tests).
    pub fn input(mut self, port: &str, block: &str, output: &str) -> Self {
        self.inputs.push(InputBinding { port: port.into(), block: block.into(), output: output.into() });
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// A new block of `kind` called `id`: the palette's first operation of that kind
    /// ([`BlockParams::templates`]) with no inputs, and the presets' retry policy for
    /// loaders (a download can fail) and sensors (check again daily).
    pub fn template(kind: BlockKind, id: &str) -> Self {
        let params = BlockParams::templates()
            .into_iter()
            .find(|p| p.kind() == kind)
            .unwrap_or_else(|| BlockParams::Markdown(MarkdownParams { text: String::new() }));
        let retry = match kind {
            BlockKind::DataLoader => super::presets::loader_retry(),
            BlockKind::Sensor => super::presets::sensor_retry(),
            _ => RetryPolicy::default(),
        };
        BlockDef::new(id, params).retry(retry)
    }

    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }

    /// The blocks this one reads from, each once, in binding order.
    pub fn upstream(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for binding in &self.inputs {
            if !seen.contains(&binding.block.as_str()) {
                seen.push(&binding.block);
            }
        }
        seen
    }
}

/// Mage's block types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    DataLoader,
    Transformer,
    Trainer,
    Evaluator,
    Exporter,
    Sensor,
    Markdown,
}

impl BlockKind {
    pub const ALL: [BlockKind; 7] = [
        BlockKind::DataLoader,
        BlockKind::Transformer,
        BlockKind::Trainer,
        BlockKind::Evaluator,
        BlockKind::Exporter,
        BlockKind::Sensor,
        BlockKind::Markdown,
    ];

    /// The spelling in files: `data_loader`, `transformer`, …
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::DataLoader => "data_loader",
            BlockKind::Transformer => "transformer",
            BlockKind::Trainer => "trainer",
            BlockKind::Evaluator => "evaluator",
            BlockKind::Exporter => "exporter",
            BlockKind::Sensor => "sensor",
            BlockKind::Markdown => "markdown",
        }
    }
}

/// One input connection: `port` of this block reads `output` of `block`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputBinding {
    pub port: String,
    pub block: String,
    pub output: String,
}

/// Mage's retry vocabulary.
///
/// After a failed attempt the block waits `delay` seconds of simulated time, doubled after
/// each further failure with `exponential_backoff` (1, 2, 4, 8 …), each wait capped at
/// `max_delay` (0 = no cap), and gives up after `retries` retries (`retries + 1`
/// attempts in all). Mage's defaults: no retry, 5 s, 60 s, exponential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    pub retries: u32,
    pub delay: u64,
    pub max_delay: u64,
    pub exponential_backoff: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { retries: 0, delay: 5, max_delay: 60, exponential_backoff: true }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 = the first retry), in seconds.
    pub fn delay_before(&self, retry: u32) -> u64 {
        let base = if self.exponential_backoff {
            let factor = 1u64.checked_shl(retry.saturating_sub(1)).unwrap_or(u64::MAX);
            self.delay.saturating_mul(factor)
        } else {
            self.delay
        };
        if self.max_delay > 0 {
            base.min(self.max_delay)
        } else {
            base
        }
    }

    /// Whether another attempt is allowed after `attempts` attempts failed.
    pub fn allows_another(&self, attempts: u32) -> bool {
        attempts <= self.retries
    }
}

/// A month named relative to the run, so one definition serves every month.
///
/// Written as text: `"2021-01"` (that month), `"latest"` (the newest published month;
/// without a data calendar, the month before the run's date), `"run"` (the month of the
/// run's date) or `"run-1"` (the month before it, what batch scoring reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonthRef {
    Month(YearMonth),
    Latest,
    /// The run's month minus this many months.
    RunMinus(u32),
}

impl MonthRef {
    pub fn month(year: i32, month: u32) -> Option<MonthRef> {
        YearMonth::new(year, month).map(MonthRef::Month)
    }

    /// The month this names for a run dated `logical_date`, given the newest published
    /// month (if known).
    pub fn resolve(&self, logical_date: SimTime, newest: Option<YearMonth>) -> YearMonth {
        match *self {
            MonthRef::Month(month) => month,
            MonthRef::Latest => newest.unwrap_or_else(|| logical_date.year_month().previous()),
            MonthRef::RunMinus(back) => logical_date.year_month().plus(-i64::from(back)),
        }
    }

    pub fn parse(text: &str) -> Result<MonthRef, String> {
        let trimmed = text.trim();
        match trimmed {
            "latest" => return Ok(MonthRef::Latest),
            "run" => return Ok(MonthRef::RunMinus(0)),
            _ => {}
        }
        if let Some(back) = trimmed.strip_prefix("run-") {
            return match back.parse::<u32>() {
                Ok(back) if back <= MAX_MONTHS_BACK => Ok(MonthRef::RunMinus(back)),
                _ => Err(format!("`{trimmed}`: write run-1 … run-{MAX_MONTHS_BACK}")),
            };
        }
        YearMonth::parse(trimmed).map(MonthRef::Month).map_err(|_| {
            format!("`{}` is not a month; write 2021-01, latest, run or run-1", cut(trimmed, 40))
        })
    }
}

impl std::fmt::Display for MonthRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonthRef::Month(month) => write!(f, "{month}"),
            MonthRef::Latest => f.write_str("latest"),
            MonthRef::RunMinus(0) => f.write_str("run"),
            MonthRef::RunMinus(back) => write!(f, "run-{back}"),
        }
    }
}

impl Serialize for MonthRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MonthRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        MonthRef::parse(&text).map_err(D::Error::custom)
    }
}

/// What each block does, with its parameters. The variant decides the block's ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockParams {
    /// Data loader: a month of the simulated city (no file needed).
    Simulated(SimulatedSource),
    /// Data loader: a parquet file the learner added to the app.
    File(FileSource),
    /// Data loader: a parquet file fetched from a URL.
    Url(UrlSource),
    /// Data loader: a month of the TLC's public catalog.
    Catalog(CatalogSource),
    /// Transformer: computes trip durations and keeps the rides within a range.
    DurationFilter(DurationFilterParams),
    /// Transformer: pairs a training and a validation month under one feature set (the
    /// `DictVectorizer` step).
    Features(FeaturesParams),
    /// Transformer: splits one month into training and validation (holdout) rows.
    Split(SplitParams),
    /// Trainer: fits a model (any estimator of the core) and logs it as a run.
    Train(TrainParams),
    /// Evaluator: scores models on a dataset, picks the best, applies a gate.
    Evaluate(EvaluateParams),
    /// Exporter: registers a model version and moves a stage or alias.
    RegisterModel(RegisterParams),
    /// Exporter: scores a month with a registered model and writes the course's file.
    BatchPredictions(BatchParams),
    /// Sensor: waits until a month of data is published.
    NewData(NewDataParams),
    /// Sensor: waits for a monitoring alert.
    Alert(AlertSensorParams),
    /// Notes for the reader; never runs.
    Markdown(MarkdownParams),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedSource {
    pub month: MonthRef,
    #[serde(default = "default_trips")]
    pub trips: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_speed")]
    pub speed_factor: f64,
    #[serde(default = "default_missing_share")]
    pub missing_passenger_share: f64,
}

fn default_trips() -> usize {
    CityParams::default().trips
}
fn default_seed() -> u64 {
    42
}
fn default_speed() -> f64 {
    1.0
}
fn default_missing_share() -> f64 {
    CityParams::default().missing_passenger_share
}

impl SimulatedSource {
    pub fn new(month: MonthRef, trips: usize) -> Self {
        Self {
            month,
            trips,
            seed: default_seed(),
            speed_factor: default_speed(),
            missing_passenger_share: default_missing_share(),
        }
    }

    /// The simulator's knobs for `month`.
    pub fn city(&self, month: YearMonth) -> CityParams {
        CityParams {
            year: month.year,
            month: month.month,
            seed: self.seed,
            trips: self.trips,
            speed_factor: self.speed_factor,
            missing_passenger_share: self.missing_passenger_share,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// The file's name in the app's file store, e.g. `green_tripdata_2021-01.parquet`.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlSource {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSource {
    /// `green` or `yellow`.
    pub taxi: String,
    pub month: MonthRef,
}

/// The TLC's file name for a month: `green_tripdata_2021-01.parquet`.
pub fn catalog_file_name(taxi: &str, month: YearMonth) -> String {
    format!("{taxi}_tripdata_{month}.parquet")
}

/// Where the TLC publishes a month (the course downloads from here).
pub fn catalog_url(taxi: &str, month: YearMonth) -> String {
    format!("https://d37ci6vzurychx.cloudfront.net/trip-data/{}", catalog_file_name(taxi, month))
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationFilterParams {
    pub min_minutes: f64,
    pub max_minutes: f64,
}

impl Default for DurationFilterParams {
    /// The course's 1–60 minutes.
    fn default() -> Self {
        let filter = DurationFilter::default();
        Self { min_minutes: filter.min_minutes, max_minutes: filter.max_minutes }
    }
}

impl DurationFilterParams {
    pub fn filter(&self) -> DurationFilter {
        DurationFilter { min_minutes: self.min_minutes, max_minutes: self.max_minutes }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesParams {
    pub feature_set: FeatureSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitParams {
    /// The share of rows held out for validation, 0.05–0.95.
    pub validation_fraction: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// The estimator and its hyperparameters, as the training page saves them.
    pub estimator: Estimator,
    /// The run's name in the tracking store (default: the estimator's label).
    #[serde(default)]
    pub run_name: Option<String>,
}

/// The metric an evaluator ranks models by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMetric {
    #[default]
    Rmse,
    Mae,
    R2,
}

impl GateMetric {
    pub fn name(self) -> &'static str {
        match self {
            GateMetric::Rmse => "RMSE",
            GateMetric::Mae => "MAE",
            GateMetric::R2 => "R²",
        }
    }

    /// Whether `a` is strictly better than `b` (lower errors, higher R²); NaN never is.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            GateMetric::Rmse | GateMetric::Mae => a < b,
            GateMetric::R2 => a > b,
        }
    }

    /// The comparison a learner reads when `a` wins or loses against `b`.
    pub fn symbol(self, a_wins: bool) -> &'static str {
        match (self, a_wins) {
            (GateMetric::R2, true) => ">",
            (GateMetric::R2, false) => "≤",
            (_, true) => "<",
            (_, false) => "≥",
        }
    }
}

/// Which registered version a block reads: the latest in a stage, or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelTarget {
    Stage(Stage),
    Alias(String),
}

impl Default for ModelTarget {
    fn default() -> Self {
        ModelTarget::Stage(Stage::Production)
    }
}

impl std::fmt::Display for ModelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelTarget::Stage(stage) => write!(f, "{stage}"),
            ModelTarget::Alias(alias) => write!(f, "@{alias}"),
        }
    }
}

/// A registered model and which of its versions: `nyc-taxi-regressor` in Production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    pub model: String,
    #[serde(default)]
    pub target: ModelTarget,
}

impl ModelRef {
    pub fn production(model: &str) -> Self {
        Self { model: model.to_string(), target: ModelTarget::default() }
    }

    /// `models:/nyc-taxi-regressor/Production` or `models:/name@alias`, MLflow's URI.
    pub fn uri(&self) -> String {
        match &self.target {
            ModelTarget::Stage(stage) => format!("models:/{}/{stage}", self.model),
            ModelTarget::Alias(alias) => format!("models:/{}@{alias}", self.model),
        }
    }
}

/// The condition an evaluator's decision checks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Always passes: the best candidate is chosen.
    #[default]
    None,
    /// Passes if the best candidate's metric beats this value (`val RMSE < 7`).
    Threshold(f64),
    /// Passes if the best candidate beats the registered version on the same data
    /// (or if there is no such version yet).
    BeatsModel(ModelRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateParams {
    #[serde(default)]
    pub metric: GateMetric,
    #[serde(default)]
    pub gate: Gate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterParams {
    /// The registered model's name.
    pub model: String,
    /// Where a registered version goes when the decision passes (or with no decision).
    #[serde(default)]
    pub promote_to: Option<ModelTarget>,
    /// With a failed decision: `true` registers nothing, `false` registers without
    /// promoting. Needs a `decision` input.
    #[serde(default)]
    pub only_if_better: bool,
    /// Moving to a stage archives the version that held it (MLflow's
    /// `archive_existing_versions`).
    #[serde(default = "enabled")]
    pub archive_existing: bool,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchParams {
    /// The model to score with (the course uses the Production model).
    pub model: ModelRef,
    /// `green` or `yellow`: the output path's `taxi_type=`.
    #[serde(default = "default_taxi")]
    pub taxi_type: String,
    /// Seeds the ride ids.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_taxi() -> String {
    "green".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDataParams {
    pub month: MonthRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSensorParams {
    /// Wait for this rule only (`None`: any alert asking for retraining).
    #[serde(default)]
    pub rule_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkdownParams {
    pub text: String,
}

/// The kinds of data that flow along edges; an input accepts only its own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    /// A month of trips (raw, or filtered by duration).
    Trips,
    /// A training and a validation month under one feature set.
    TrainingSet,
    Model,
    Metrics,
    /// A gate's verdict with the numbers behind it.
    Decision,
    /// A scored month (the batch output file).
    Predictions,
    /// "Go ahead" from a sensor; carries no data.
    Signal,
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            DataType::Trips => "Trips",
            DataType::TrainingSet => "TrainingSet",
            DataType::Model => "Model",
            DataType::Metrics => "Metrics",
            DataType::Decision => "Decision",
            DataType::Predictions => "Predictions",
            DataType::Signal => "Signal",
        };
        f.write_str(name)
    }
}

/// An input port: its name, type and how many connections it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPort {
    pub name: &'static str,
    pub data_type: DataType,
    /// 0 for an optional port.
    pub min: usize,
    pub max: usize,
}

/// An output port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutPort {
    pub name: &'static str,
    pub data_type: DataType,
}

const fn one(name: &'static str, data_type: DataType) -> InPort {
    InPort { name, data_type, min: 1, max: 1 }
}

const fn optional(name: &'static str, data_type: DataType) -> InPort {
    InPort { name, data_type, min: 0, max: 1 }
}

const fn out(name: &'static str, data_type: DataType) -> OutPort {
    OutPort { name, data_type }
}

impl BlockParams {
    /// The Mage block type this operation belongs to.
    pub fn kind(&self) -> BlockKind {
        match self {
            BlockParams::Simulated(_)
            | BlockParams::File(_)
            | BlockParams::Url(_)
            | BlockParams::Catalog(_) => BlockKind::DataLoader,
            BlockParams::DurationFilter(_) | BlockParams::Features(_) | BlockParams::Split(_) => {
                BlockKind::Transformer
            }
            BlockParams::Train(_) => BlockKind::Trainer,
            BlockParams::Evaluate(_) => BlockKind::Evaluator,
            BlockParams::RegisterModel(_) | BlockParams::BatchPredictions(_) => BlockKind::Exporter,
            BlockParams::NewData(_) | BlockParams::Alert(_) => BlockKind::Sensor,
            BlockParams::Markdown(_) => BlockKind::Markdown,
        }
    }

    /// The operation's name in files: `simulated`, `duration_filter`, …
    pub fn op_name(&self) -> &'static str {
        match self {
            BlockParams::Simulated(_) => "simulated",
            BlockParams::File(_) => "file",
            BlockParams::Url(_) => "url",
            BlockParams::Catalog(_) => "catalog",
            BlockParams::DurationFilter(_) => "duration_filter",
            BlockParams::Features(_) => "features",
            BlockParams::Split(_) => "split",
            BlockParams::Train(_) => "train",
            BlockParams::Evaluate(_) => "evaluate",
            BlockParams::RegisterModel(_) => "register_model",
            BlockParams::BatchPredictions(_) => "batch_predictions",
            BlockParams::NewData(_) => "new_data",
            BlockParams::Alert(_) => "alert",
            BlockParams::Markdown(_) => "markdown",
        }
    }

    /// One of each operation with sensible parameters: the block editor's palette.
    pub fn templates() -> Vec<BlockParams> {
        vec![
            BlockParams::Simulated(SimulatedSource::new(MonthRef::Latest, 20_000)),
            BlockParams::File(FileSource { name: "green_tripdata_2021-01.parquet".into() }),
            BlockParams::Url(UrlSource { url: catalog_url("green", YearMonth { year: 2021, month: 1 }) }),
            BlockParams::Catalog(CatalogSource { taxi: "green".into(), month: MonthRef::Latest }),
            BlockParams::DurationFilter(DurationFilterParams::default()),
            BlockParams::Features(FeaturesParams { feature_set: FeatureSet::PuDo }),
            BlockParams::Split(SplitParams { validation_fraction: 0.2, seed: default_seed() }),
            BlockParams::Train(TrainParams {
                estimator: crate::training::TrainSpec::course_baseline().estimator,
                run_name: None,
            }),
            BlockParams::Evaluate(EvaluateParams::default_gate()),
            BlockParams::RegisterModel(RegisterParams {
                model: "nyc-taxi-regressor".into(),
                promote_to: Some(ModelTarget::default()),
                only_if_better: false,
                archive_existing: true,
            }),
            BlockParams::BatchPredictions(BatchParams {
                model: ModelRef::production("nyc-taxi-regressor"),
                taxi_type: default_taxi(),
                seed: default_seed(),
            }),
            BlockParams::NewData(NewDataParams { month: MonthRef::RunMinus(1) }),
            BlockParams::Alert(AlertSensorParams { rule_id: None }),
            BlockParams::Markdown(MarkdownParams { text: "Notes about this pipeline.".into() }),
        ]
    }

    /// The input ports. Some depend on the parameters: `register_model` needs its
    /// `decision` input only with `only_if_better`.
    pub fn inputs(&self) -> Vec<InPort> {
        use DataType as T;
        match self {
            BlockParams::Simulated(_)
            | BlockParams::File(_)
            | BlockParams::Url(_)
            | BlockParams::Catalog(_) => {
                vec![optional("after", T::Signal)]
            }
            BlockParams::DurationFilter(_) | BlockParams::Split(_) => vec![one("trips", T::Trips)],
            BlockParams::Features(_) => vec![one("train", T::Trips), one("val", T::Trips)],
            BlockParams::Train(_) => vec![one("training_set", T::TrainingSet)],
            BlockParams::Evaluate(_) => vec![
                InPort { name: "candidates", data_type: T::Model, min: 1, max: MAX_CANDIDATES },
                one("dataset", T::Trips),
            ],
            BlockParams::RegisterModel(params) => vec![
                one("model", T::Model),
                InPort {
                    name: "decision",
                    data_type: T::Decision,
                    min: usize::from(params.only_if_better),
                    max: 1,
                },
            ],
            BlockParams::BatchPredictions(_) => vec![one("trips", T::Trips), optional("after", T::Signal)],
            BlockParams::NewData(_) | BlockParams::Alert(_) | BlockParams::Markdown(_) => Vec::new(),
        }
    }

    pub fn outputs(&self) -> &'static [OutPort] {
        use DataType as T;
        const TRIPS: &[OutPort] = &[out("trips", T::Trips)];
        const SPLIT: &[OutPort] = &[out("train", T::Trips), out("val", T::Trips)];
        const TRAINING_SET: &[OutPort] = &[out("training_set", T::TrainingSet)];
        const TRAINED: &[OutPort] = &[out("model", T::Model), out("metrics", T::Metrics)];
        const EVALUATED: &[OutPort] =
            &[out("best", T::Model), out("metrics", T::Metrics), out("decision", T::Decision)];
        const PREDICTIONS: &[OutPort] = &[out("predictions", T::Predictions)];
        const SIGNAL: &[OutPort] = &[out("signal", T::Signal)];
        match self {
            BlockParams::Simulated(_)
            | BlockParams::File(_)
            | BlockParams::Url(_)
            | BlockParams::Catalog(_)
            | BlockParams::DurationFilter(_) => TRIPS,
            BlockParams::Split(_) => SPLIT,
            BlockParams::Features(_) => TRAINING_SET,
            BlockParams::Train(_) => TRAINED,
            BlockParams::Evaluate(_) => EVALUATED,
            BlockParams::RegisterModel(_) | BlockParams::Markdown(_) => &[],
            BlockParams::BatchPredictions(_) => PREDICTIONS,
            BlockParams::NewData(_) | BlockParams::Alert(_) => SIGNAL,
        }
    }
}

impl EvaluateParams {
    /// RMSE, no gate.
    pub fn default_gate() -> Self {
        Self { metric: GateMetric::Rmse, gate: Gate::None }
    }
}

/// Why a pipeline definition (a file or the editor's state) is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DefinitionError {
    #[error("the file is {bytes} bytes; pipeline files may be at most {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the file is not text (UTF-8): {0}")]
    NotText(String),
    #[error("the file is not valid JSON: {0}")]
    NotJson(String),
    #[error("the file nests too deeply ({0}); a pipeline file is a few levels deep")]
    TooDeep(String),
    #[error("the file is not a pipeline: it must be a JSON object with \"format\": \"{FORMAT}\"{found}")]
    WrongFormat { found: String },
    #[error("pipeline file version {found} is not supported; this app reads version {FORMAT_VERSION}")]
    UnsupportedVersion { found: String },
    #[error("the pipeline file is malformed: {0}")]
    Malformed(String),
    #[error("unknown field `{field}` at {path}; check its spelling (fields are snake_case)")]
    UnknownField { path: String, field: String },
    #[error("a pipeline may have at most {limit} {what}; this one has {count}")]
    TooMany { what: &'static str, count: usize, limit: usize },
    #[error("{what} `{id}` is not valid: {why}")]
    BadId { what: &'static str, id: String, why: &'static str },
    #[error("two {what}s are called `{id}`; ids must be unique")]
    DuplicateId { what: &'static str, id: String },
    #[error("block `{block}` says kind `{kind}`, but its params `{op}` belong to a {expected} block")]
    KindMismatch { block: String, kind: &'static str, op: &'static str, expected: &'static str },
    #[error("block `{block}`: {param} {message}")]
    BadParam { block: String, param: String, message: String },
    #[error("trigger `{trigger}`: {message}")]
    BadTrigger { trigger: String, message: String },
    #[error("the {what} is {chars} characters long; the limit is {limit}")]
    TooLong { what: String, chars: usize, limit: usize },
    #[error("there is no block `{id}`")]
    NoSuchBlock { id: String },
    #[error(
        "block `{block}` cannot be removed: {} read{} its outputs; connect {} to another block or remove {} first",
        quoted(.readers),
        if .readers.len() == 1 { "s" } else { "" },
        if .readers.len() == 1 { "that block" } else { "those blocks" },
        if .readers.len() == 1 { "it" } else { "them" }
    )]
    BlockInUse { block: String, readers: Vec<String> },
    #[error("{0}")]
    Graph(#[from] GraphError),
}

/// `a`, `b` and `c`.
fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Shortens text quoted in a message, so a hostile file cannot flood the screen.
pub(crate) fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut short: String = text.chars().take(limit).collect();
    short.push('…');
    short
}

/// Reads a pipeline file, checking everything (see the module docs).
pub fn import(bytes: &[u8]) -> Result<PipelineDefinition, DefinitionError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(DefinitionError::TooLarge { bytes: bytes.len(), limit: MAX_FILE_BYTES });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DefinitionError::NotText(e.to_string()))?;
    import_str(text)
}

/// [`import`] for text already in memory.
pub fn import_str(text: &str) -> Result<PipelineDefinition, DefinitionError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(DefinitionError::TooLarge { bytes: text.len(), limit: MAX_FILE_BYTES });
    }
    // serde_json stops at 128 levels of nesting, so a hostile `[[[[…` cannot overflow
    // the stack; say so in words.
    let raw: Json = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        if message.contains("recursion limit") {
            DefinitionError::TooDeep(message)
        } else {
            DefinitionError::NotJson(message)
        }
    })?;
    check_header(&raw)?;
    if let Some(blocks) = raw.get("blocks").and_then(Json::as_array) {
        if blocks.len() > MAX_BLOCKS {
            return Err(DefinitionError::TooMany { what: "blocks", count: blocks.len(), limit: MAX_BLOCKS });
        }
    }
    if let Some(triggers) = raw.get("triggers").and_then(Json::as_array) {
        if triggers.len() > MAX_TRIGGERS {
            return Err(DefinitionError::TooMany {
                what: "triggers",
                count: triggers.len(),
                limit: MAX_TRIGGERS,
            });
        }
    }
    let definition: PipelineDefinition =
        serde_json::from_str(text).map_err(|e| DefinitionError::Malformed(e.to_string()))?;
    // Our own structs refuse unknown fields; the estimators' hyperparameter structs (shared
    // with the training page) accept them, so compare the file with what it parsed to.
    let canonical =
        serde_json::to_value(&definition).map_err(|e| DefinitionError::Malformed(e.to_string()))?;
    find_unknown_field(&raw, &canonical, "the top level")?;
    check_definition(&definition)?;
    Ok(definition)
}

fn check_header(raw: &Json) -> Result<(), DefinitionError> {
    let Some(object) = raw.as_object() else {
        return Err(DefinitionError::WrongFormat { found: " (the file holds no object)".to_string() });
    };
    match object.get("format") {
        Some(Json::String(format)) if format == FORMAT => {}
        Some(other) => {
            return Err(DefinitionError::WrongFormat {
                found: format!(", not {}", cut(&other.to_string(), 60)),
            })
        }
        None => return Err(DefinitionError::WrongFormat { found: " (there is no \"format\")".to_string() }),
    }
    match object.get("version") {
        Some(Json::Number(n)) if n.as_u64() == Some(FORMAT_VERSION) => Ok(()),
        Some(other) => Err(DefinitionError::UnsupportedVersion { found: cut(&other.to_string(), 40) }),
        None => Err(DefinitionError::UnsupportedVersion { found: "(missing)".to_string() }),
    }
}

/// The first key of `raw` that `canonical` (the parsed value written back) lacks.
fn find_unknown_field(raw: &Json, canonical: &Json, path: &str) -> Result<(), DefinitionError> {
    match (raw, canonical) {
        (Json::Object(raw), Json::Object(known)) => {
            for (key, value) in raw {
                let inner = if path == "the top level" { key.clone() } else { format!("{path}.{key}") };
                match known.get(key) {
                    Some(known_value) => find_unknown_field(value, known_value, &inner)?,
                    None => {
                        return Err(DefinitionError::UnknownField {
                            path: cut(path, 120),
                            field: cut(key, 60),
                        })
                    }
                }
            }
            Ok(())
        }
        (Json::Array(raw), Json::Array(known)) => {
            for (i, (value, known_value)) in raw.iter().zip(known).enumerate() {
                find_unknown_field(value, known_value, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The definition as a pretty-printed file.
pub fn export(definition: &PipelineDefinition) -> String {
    // Serialising plain structs of strings and numbers cannot fail; NaN would become null,
    // which `validate` refuses before a definition is saved.
    serde_json::to_string_pretty(definition).unwrap_or_default()
}

/// Ids name blocks in edges, logs and URLs: keep them short and plain.
pub fn check_id(what: &'static str, id: &str) -> Result<(), DefinitionError> {
    let shown: String = id.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    let bad = |why| Err(DefinitionError::BadId { what, id: cut(&shown, MAX_ID_CHARS), why });
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.chars().count() > MAX_ID_CHARS {
        return bad("it is longer than 64 characters");
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad("it must start with a letter");
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return bad("only letters, digits, `_` and `-` are allowed");
    }
    Ok(())
}

fn check_length(what: impl Fn() -> String, text: &str, limit: usize) -> Result<(), DefinitionError> {
    let chars = text.chars().count();
    if chars > limit {
        return Err(DefinitionError::TooLong { what: what(), chars, limit });
    }
    Ok(())
}

fn check_definition(definition: &PipelineDefinition) -> Result<(), DefinitionError> {
    if definition.format != FORMAT {
        return Err(DefinitionError::WrongFormat {
            found: format!(", not \"{}\"", cut(&definition.format, 60)),
        });
    }
    if definition.version != FORMAT_VERSION {
        return Err(DefinitionError::UnsupportedVersion { found: definition.version.to_string() });
    }
    check_id("pipeline name", &definition.name)?;
    check_length(|| "pipeline description".into(), &definition.description, MAX_DESCRIPTION_CHARS)?;
    if definition.blocks.len() > MAX_BLOCKS {
        let count = definition.blocks.len();
        return Err(DefinitionError::TooMany { what: "blocks", count, limit: MAX_BLOCKS });
    }
    if definition.triggers.len() > MAX_TRIGGERS {
        let count = definition.triggers.len();
        return Err(DefinitionError::TooMany { what: "triggers", count, limit: MAX_TRIGGERS });
    }
    for (i, block) in definition.blocks.iter().enumerate() {
        check_id("block id", &block.id)?;
        if definition.blocks[..i].iter().any(|b| b.id == block.id) {
            return Err(DefinitionError::DuplicateId { what: "block", id: block.id.clone() });
        }
        check_block(block)?;
    }
    for (i, trigger) in definition.triggers.iter().enumerate() {
        check_id("trigger id", &trigger.id)?;
        if definition.triggers[..i].iter().any(|t| t.id == trigger.id) {
            return Err(DefinitionError::DuplicateId { what: "trigger", id: trigger.id.clone() });
        }
        let bad = |message: String| DefinitionError::BadTrigger { trigger: trigger.id.clone(), message };
        match &trigger.kind {
            TriggerKind::Schedule(schedule) => schedule.check().map_err(|e| bad(e.to_string()))?,
            TriggerKind::Alert { rule_id: Some(rule) } if rule.is_empty() || rule.chars().count() > 200 => {
                return Err(bad("the alert rule id must be 1 to 200 characters".into()))
            }
            _ => {}
        }
    }
    graph::check(definition)?;
    Ok(())
}

fn check_block(block: &BlockDef) -> Result<(), DefinitionError> {
    let id = &block.id;
    let expected = block.params.kind();
    if block.kind != expected {
        return Err(DefinitionError::KindMismatch {
            block: id.clone(),
            kind: block.kind.name(),
            op: block.params.op_name(),
            expected: expected.name(),
        });
    }
    check_length(|| format!("description of block `{id}`"), &block.description, MAX_DESCRIPTION_CHARS)?;
    if block.inputs.len() > MAX_INPUTS {
        let count = block.inputs.len();
        return Err(DefinitionError::TooMany { what: "inputs on one block", count, limit: MAX_INPUTS });
    }
    let bad = |param: &str, message: String| DefinitionError::BadParam {
        block: id.clone(),
        param: param.to_string(),
        message,
    };
    let retry = &block.retry;
    if retry.retries > MAX_RETRIES {
        return Err(bad("retry.retries", format!("must be 0 to {MAX_RETRIES}, got {}", retry.retries)));
    }
    for (name, seconds) in [("retry.delay", retry.delay), ("retry.max_delay", retry.max_delay)] {
        if seconds > MAX_RETRY_DELAY_SECONDS {
            return Err(bad(
                name,
                format!("must be at most {MAX_RETRY_DELAY_SECONDS} seconds (a week), got {seconds}"),
            ));
        }
    }
    if block.fail_first_n_attempts > MAX_INJECTED_FAILURES {
        let n = block.fail_first_n_attempts;
        return Err(bad("fail_first_n_attempts", format!("must be 0 to {MAX_INJECTED_FAILURES}, got {n}")));
    }
    let name_like = |param: &str, text: &str, limit: usize| {
        if text.trim().is_empty() {
            return Err(bad(param, "is empty".into()));
        }
        if text.chars().count() > limit {
            return Err(bad(param, format!("is longer than {limit} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(bad(param, "contains control characters".into()));
        }
        Ok(())
    };
    let taxi = |param: &str, taxi: &str| {
        if matches!(taxi, "green" | "yellow") {
            Ok(())
        } else {
            Err(bad(param, format!("must be `green` or `yellow`, got `{}`", cut(taxi, 20))))
        }
    };
    let model_ref = |param: &str, reference: &ModelRef| {
        name_like(&format!("{param}.model"), &reference.model, 255)?;
        check_target(&format!("{param}.target"), &reference.target).map_err(|m| bad(param, m))
    };
    match &block.params {
        BlockParams::Simulated(source) => {
            let city = source.city(YearMonth { year: 2021, month: 1 });
            city.check().map_err(|e| bad("simulated", e.to_string()))?;
            if source.speed_factor > 100.0 {
                return Err(bad(
                    "simulated.speed_factor",
                    format!("must be at most 100, got {}", source.speed_factor),
                ));
            }
        }
        BlockParams::File(file) => {
            name_like("file.name", &file.name, 255)?;
            if file.name.contains(['/', '\\']) {
                return Err(bad("file.name", "must be a file name, not a path".into()));
            }
        }
        BlockParams::Url(url) => {
            name_like("url.url", &url.url, MAX_URL_CHARS)?;
            if !(url.url.starts_with("https://") || url.url.starts_with("http://"))
                || url.url.contains(char::is_whitespace)
            {
                return Err(bad(
                    "url.url",
                    format!("must be an http(s) address, got `{}`", cut(&url.url, 80)),
                ));
            }
        }
        BlockParams::Catalog(catalog) => taxi("catalog.taxi", &catalog.taxi)?,
        BlockParams::DurationFilter(filter) => {
            let (min, max) = (filter.min_minutes, filter.max_minutes);
            if !(min.is_finite() && max.is_finite() && min >= 0.0 && min < max && max <= 1_440.0) {
                return Err(bad(
                    "duration_filter",
                    format!("needs 0 ≤ min_minutes < max_minutes ≤ 1440 (a day), got {min}–{max}"),
                ));
            }
        }
        BlockParams::Features(_) => {}
        BlockParams::Split(split) => {
            let fraction = split.validation_fraction;
            if !(0.05..=0.95).contains(&fraction) {
                return Err(bad(
                    "split.validation_fraction",
                    format!("must be 0.05 to 0.95, got {fraction}"),
                ));
            }
        }
        BlockParams::Train(train) => {
            check_estimator(&train.estimator).map_err(|m| bad("train.estimator", m))?;
            if let Some(name) = &train.run_name {
                name_like("train.run_name", name, 250)?;
            }
        }
        BlockParams::Evaluate(evaluate) => match &evaluate.gate {
            Gate::None => {}
            Gate::Threshold(value) => {
                if !value.is_finite() || value.abs() > 1e9 {
                    return Err(bad(
                        "evaluate.gate.threshold",
                        format!("must be a finite number, got {value}"),
                    ));
                }
            }
            Gate::BeatsModel(reference) => model_ref("evaluate.gate.beats_model", reference)?,
        },
        BlockParams::RegisterModel(register) => {
            name_like("register_model.model", &register.model, 255)?;
            if let Some(target) = &register.promote_to {
                check_target("register_model.promote_to", target)
                    .map_err(|m| bad("register_model.promote_to", m))?;
            }
        }
        BlockParams::BatchPredictions(batch) => {
            model_ref("batch_predictions.model", &batch.model)?;
            taxi("batch_predictions.taxi_type", &batch.taxi_type)?;
        }
        BlockParams::NewData(_) => {}
        BlockParams::Alert(alert) => {
            if let Some(rule) = &alert.rule_id {
                name_like("alert.rule_id", rule, 200)?;
            }
        }
        BlockParams::Markdown(note) => {
            check_length(|| format!("note of block `{id}`"), &note.text, MAX_NOTE_CHARS)?;
        }
    }
    Ok(())
}

fn check_target(what: &str, target: &ModelTarget) -> Result<(), String> {
    match target {
        ModelTarget::Stage(stage) if stage.is_active() => Ok(()),
        ModelTarget::Stage(stage) => Err(format!("{what}: use Staging, Production or an alias, not {stage}")),
        ModelTarget::Alias(alias) => check_alias(alias).map_err(|e| e.to_string()),
    }
}

/// The estimator's own checks (the training page's), plus a cap on forests so one
/// imported file cannot keep a tab busy for an hour.
fn check_estimator(estimator: &Estimator) -> Result<(), String> {
    match estimator {
        Estimator::Linear(params) => params.check().map(|_| ()).map_err(|e| e.to_string()),
        Estimator::Gbdt(params) => params.check().map(|_| ()).map_err(|e| e.to_string()),
        Estimator::Forest(params) => params.check().map(|_| ()).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> PipelineDefinition {
        let mut definition = PipelineDefinition::new("demo", "");
        definition.blocks.push(BlockDef::new(
            "load",
            BlockParams::Simulated(SimulatedSource::new(MonthRef::Latest, 1_000)),
        ));
        definition.blocks.push(
            BlockDef::new("filter", BlockParams::DurationFilter(DurationFilterParams::default()))
                .input("trips", "load", "trips"),
        );
        definition
    }

    #[test]
    fn retry_delays_double_and_are_capped() {
        let policy = RetryPolicy { retries: 6, delay: 1, max_delay: 5, exponential_backoff: true };
        let delays: Vec<u64> = (1..=6).map(|n| policy.delay_before(n)).collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5, 5]);
        let flat = RetryPolicy { exponential_backoff: false, ..policy };
        assert_eq!(flat.delay_before(4), 1);
        let uncapped = RetryPolicy { delay: 3, max_delay: 0, ..policy };
        assert_eq!(uncapped.delay_before(3), 12);
        assert_eq!(uncapped.delay_before(64), u64::MAX, "saturates instead of overflowing");
        assert_eq!(uncapped.delay_before(u32::MAX), u64::MAX);
        assert!(policy.allows_another(6) && !policy.allows_another(7));
    }

    #[test]
    fn month_refs_read_and_resolve() {
        let run = SimTime::parse("2021-03-01").expect("time");
        let cases = [
            ("2021-01", "2021-01"),
            ("latest", "2021-02"),
            ("run", "2021-03"),
            ("run-1", "2021-02"),
            ("run-15", "2019-12"),
        ];
        for (text, month) in cases {
            let parsed = MonthRef::parse(text).expect("parses");
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.resolve(run, None).to_string(), month, "{text}");
        }
        let newest = YearMonth::new(2021, 1);
        assert_eq!(MonthRef::Latest.resolve(run, newest).to_string(), "2021-01");
        assert!(MonthRef::parse("run-99999").is_err());
        assert!(MonthRef::parse("yesterday").is_err());
    }

    #[test]
    fn export_then_import_round_trips() {
        let definition = minimal();
        let text = export(&definition);
        assert!(text.contains("\"format\": \"mlops-lab.pipeline\""));
        assert!(text.contains("\"month\": \"latest\""));
        assert_eq!(import_str(&text).expect("imports"), definition);
    }

    #[test]
    fn ids_are_checked() {
        for id in ["", "9lives", "has space", "dots.are.bad", &"x".repeat(65)] {
            assert!(matches!(check_id("block id", id), Err(DefinitionError::BadId { .. })), "{id:?}");
        }
        assert!(check_id("block id", "load_jan-2021").is_ok());
    }

    #[test]
    fn kind_must_match_params() {
        let mut definition = minimal();
        definition.blocks[0].kind = BlockKind::Transformer;
        let error = definition.validate().expect_err("refused");
        assert_eq!(
            error.to_string(),
            "block `load` says kind `transformer`, but its params `simulated` belong to a data_loader block"
        );
    }

    #[test]
    fn every_kind_has_a_template_of_its_own_kind() {
        for kind in BlockKind::ALL {
            let block = BlockDef::template(kind, "fresh");
            assert_eq!((block.kind, block.params.kind()), (kind, kind), "{kind:?}");
            assert!(block.inputs.is_empty());
            check_block(&block).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        }
        assert_eq!(BlockDef::template(BlockKind::DataLoader, "load").retry.retries, 3);
        assert_eq!(BlockDef::template(BlockKind::Sensor, "wait").retry.delay, 86_400);
        assert_eq!(BlockDef::template(BlockKind::Trainer, "train").retry, RetryPolicy::default());
    }

    #[test]
    fn a_template_without_required_inputs_saves_at_once() {
        // Loaders (optional `after`), sensors and notes are valid alone; the rest wait
        // for their inputs and say which.
        for kind in BlockKind::ALL {
            let mut definition = minimal();
            definition.add_block(BlockDef::template(kind, "fresh")).expect("added");
            let alone = matches!(kind, BlockKind::DataLoader | BlockKind::Sensor | BlockKind::Markdown);
            match definition.validate() {
                Ok(()) => assert!(alone, "{kind:?} needs inputs"),
                Err(e) => {
                    assert!(!alone, "{kind:?}: {e}");
                    assert!(e.to_string().contains("nothing is connected"), "{kind:?}: {e}");
                }
            }
        }
    }

    #[test]
    fn blocks_are_added_with_fresh_ids_only() {
        let mut definition = minimal();
        assert_eq!(definition.unused_id("load"), "load_2");
        assert_eq!(definition.unused_id("notes"), "notes");
        let error = definition.add_block(BlockDef::template(BlockKind::Markdown, "load")).expect_err("taken");
        assert_eq!(error.to_string(), "two blocks are called `load`; ids must be unique");
        let error =
            definition.add_block(BlockDef::template(BlockKind::Markdown, "9 lives")).expect_err("bad");
        assert!(matches!(error, DefinitionError::BadId { .. }), "{error}");
        definition.add_block(BlockDef::template(BlockKind::Markdown, "notes")).expect("added");
        assert_eq!(definition.blocks.last().map(|b| b.id.as_str()), Some("notes"));
    }

    #[test]
    fn a_block_others_read_is_not_removed() {
        let mut definition = minimal();
        definition.blocks.push(
            BlockDef::new("filter_2", BlockParams::DurationFilter(DurationFilterParams::default()))
                .input("trips", "load", "trips"),
        );
        assert_eq!(definition.readers_of("load"), vec!["filter", "filter_2"]);
        let error = definition.remove_block("load").expect_err("still read");
        assert_eq!(
            error.to_string(),
            "block `load` cannot be removed: `filter` and `filter_2` read its outputs; \
             connect those blocks to another block or remove them first"
        );
        assert_eq!(definition.blocks.len(), 3, "nothing was removed");
        assert_eq!(definition.remove_block("filter_2").expect("removed").id, "filter_2");
        let error = definition.remove_block("load").expect_err("still read by one");
        assert!(error.to_string().contains("`filter` reads its outputs; connect that block"), "{error}");
        definition.remove_block("filter").expect("removed");
        definition.remove_block("load").expect("removed");
        assert!(definition.blocks.is_empty());
        assert!(matches!(definition.remove_block("load"), Err(DefinitionError::NoSuchBlock { .. })));
    }

    #[test]
    fn absurd_numbers_are_refused() {
        let mut definition = minimal();
        definition.blocks[1].params =
            BlockParams::DurationFilter(DurationFilterParams { min_minutes: 60.0, max_minutes: 1.0 });
        assert!(matches!(definition.validate(), Err(DefinitionError::BadParam { .. })));
        let mut definition = minimal();
        definition.blocks[0].retry.retries = 1_000_000;
        assert_eq!(
            definition.validate().expect_err("refused").to_string(),
            "block `load`: retry.retries must be 0 to 20, got 1000000"
        );
    }
}
