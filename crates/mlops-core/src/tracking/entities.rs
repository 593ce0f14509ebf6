//! What tracking records look like: MLflow's data model (experiments, runs with params,
//! metrics and tags, artifacts, logged models), serialisable as our storage format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// MLflow's run states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] =
        [RunStatus::Running, RunStatus::Finished, RunStatus::Failed, RunStatus::Killed];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    pub fn is_terminated(self) -> bool {
        self != RunStatus::Running
    }
}

/// Deleting an experiment or a run only marks it, as MLflow does, so it can be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    #[default]
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }
}

/// Which lifecycle stages a search returns (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn includes(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub lifecycle_stage: LifecycleStage,
    /// Milliseconds since the Unix epoch, like every time here.
    pub creation_time: i64,
    pub last_update_time: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One value of a metric. A metric's history is every value logged, in order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

impl Metric {
    /// MLflow's "latest" value: the highest step, then the latest timestamp, then the
    /// largest value — so the answer never depends on the order values arrived in.
    pub fn is_later_than(&self, other: &Metric) -> bool {
        (self.step, self.timestamp)
            .cmp(&(other.step, other.timestamp))
            .then(self.value.total_cmp(&other.value))
            == std::cmp::Ordering::Greater
    }
}

/// A file kept with a run. The bytes are stored apart from the run record so listing
/// runs never loads model files or plots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// Relative path, e.g. `model/model.json` or `plots/residuals.svg`.
    pub path: String,
    pub size: u64,
    /// MIME type, so the run page knows how to show it.
    pub content_type: String,
}

/// One column of a model's input or output signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    /// MLflow's type names: `string`, `long`, `double`, ...
    #[serde(rename = "type")]
    pub kind: String,
}

/// What a logged model accepts and returns, so serving can validate requests.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelSignature {
    pub inputs: Vec<ColumnSpec>,
    pub outputs: Vec<ColumnSpec>,
}

/// A model logged by a run (MLflow's `log_model`): where its files are and its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// Folder inside the run's artifacts, e.g. `model`.
    pub artifact_path: String,
    /// Which code can load it, e.g. `mlops_lab.linear`.
    pub flavor: String,
    pub signature: ModelSignature,
    pub utc_time_created: i64,
}

/// A run as stored: everything except metric histories and artifact bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub lifecycle_stage: LifecycleStage,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric; the whole history is read apart.
    pub metrics: BTreeMap<String, Metric>,
    pub tags: BTreeMap<String, String>,
    pub artifacts: Vec<ArtifactInfo>,
    #[serde(default)]
    pub logged_models: Vec<LoggedModel>,
}

impl Run {
    /// The latest value of a metric, the number most pages want.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).map(|m| m.value)
    }

    pub fn parent_run_id(&self) -> Option<&str> {
        self.tags.get(tags::PARENT_RUN_ID).map(String::as_str)
    }

    pub fn note(&self) -> Option<&str> {
        self.tags.get(tags::NOTE).map(String::as_str)
    }

    /// Wall time in milliseconds, once the run has ended.
    pub fn duration_ms(&self) -> Option<i64> {
        self.end_time.map(|end| end - self.start_time)
    }
}

/// The system tags MLflow sets, under the names MLflow uses, so exported runs and runs
/// pushed to a real server read the same there.
pub mod tags {
    pub const RUN_NAME: &str = "mlflow.runName";
    pub const USER: &str = "mlflow.user";
    pub const SOURCE_NAME: &str = "mlflow.source.name";
    pub const SOURCE_TYPE: &str = "mlflow.source.type";
    pub const PARENT_RUN_ID: &str = "mlflow.parentRunId";
    pub const NOTE: &str = "mlflow.note.content";
    pub const LOG_MODEL_HISTORY: &str = "mlflow.log-model.history";
}

/// The experiment every run goes to unless told otherwise; like MLflow's, its id is `0`
/// and it cannot be deleted.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";

/// A 32-hex-digit id, as MLflow's look; the caller supplies the random bits.
pub fn format_run_id(bits: u128) -> String {
    format!("{bits:032x}")
}

/// True for ids this app or MLflow would make (32 lowercase hex digits).
pub fn is_run_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
