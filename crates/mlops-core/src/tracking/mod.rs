//! Runs: every training is logged with its params, metrics, tags and model artifact.
//!
//! [`TrackingStore`] is the one contract every backend keeps: [`memory::MemoryStore`]
//! here, IndexedDB in the app. The methods are `async` because IndexedDB is; the memory
//! store simply never waits. [`contract`] holds the behaviour tests once, run natively
//! on the memory store and in headless Chromium on IndexedDB.

pub mod contract;
pub mod memory;

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
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

/// A run as stored, without its artifacts' contents (they can be large).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: String,
    pub experiment: String,
    pub run_name: String,
    pub status: RunStatus,
    /// Milliseconds since the Unix epoch.
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    /// Artifact names; contents via [`TrackingStore::get_artifact`].
    pub artifacts: Vec<String>,
}

/// What the caller supplies to open a run. Ids and clocks come from the caller, so the
/// core needs neither randomness nor a clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    pub run_id: String,
    pub experiment: String,
    pub run_name: String,
    pub start_time: i64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StoreError {
    #[error("no run with id `{0}`")]
    RunNotFound(String),
    #[error("a run with id `{0}` already exists")]
    DuplicateRun(String),
    #[error("param `{key}` is already `{old}` for this run; params are write-once (got `{new}`)")]
    ParamChanged { key: String, old: String, new: String },
    #[error("metric `{0}` is not a finite number")]
    NonFiniteMetric(String),
    #[error("the key is empty")]
    EmptyKey,
    #[error("run `{0}` has ended; it can no longer be changed")]
    RunEnded(String),
    #[error("the browser's storage failed: {0}")]
    Backend(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
}

/// Storage of runs. Every method is one atomic step: a failure leaves the store as it was.
#[allow(async_fn_in_trait)]
pub trait TrackingStore {
    async fn create_run(&self, new: NewRun) -> Result<Run, StoreError>;
    async fn get_run(&self, run_id: &str) -> Result<Run, StoreError>;
    /// All runs, newest first.
    async fn list_runs(&self) -> Result<Vec<Run>, StoreError>;
    /// Logs params, metrics and tags together (MLflow's `log_batch`).
    async fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
        tags: &[(String, String)],
    ) -> Result<(), StoreError>;
    async fn log_artifact(&self, run_id: &str, name: &str, contents: &str) -> Result<(), StoreError>;
    async fn get_artifact(&self, run_id: &str, name: &str) -> Result<Option<String>, StoreError>;
    async fn set_terminated(&self, run_id: &str, status: RunStatus, end_time: i64) -> Result<(), StoreError>;
    async fn delete_run(&self, run_id: &str) -> Result<(), StoreError>;
}

/// Applies a batch to a run in memory, enforcing the rules every backend shares.
/// Backends call this inside their own transaction, so the rules live in one place.
pub fn apply_batch(
    run: &mut Run,
    params: &[(String, String)],
    metrics: &[(String, f64)],
    tags: &[(String, String)],
) -> Result<(), StoreError> {
    if run.status != RunStatus::Running {
        return Err(StoreError::RunEnded(run.run_id.clone()));
    }
    let keys = params
        .iter()
        .map(|(k, _)| k)
        .chain(metrics.iter().map(|(k, _)| k))
        .chain(tags.iter().map(|(k, _)| k));
    if keys.into_iter().any(|k| k.trim().is_empty()) {
        return Err(StoreError::EmptyKey);
    }
    for (key, value) in params {
        if let Some(old) = run.params.get(key) {
            if old != value {
                return Err(StoreError::ParamChanged {
                    key: key.clone(),
                    old: old.clone(),
                    new: value.clone(),
                });
            }
        }
    }
    if let Some((key, _)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(StoreError::NonFiniteMetric(key.clone()));
    }
    for (key, value) in params {
        run.params.insert(key.clone(), value.clone());
    }
    for (key, value) in metrics {
        run.metrics.insert(key.clone(), *value);
    }
    for (key, value) in tags {
        run.tags.insert(key.clone(), value.clone());
    }
    Ok(())
}

impl Run {
    pub fn open(new: NewRun) -> Self {
        Run {
            run_id: new.run_id,
            experiment: new.experiment,
            run_name: new.run_name,
            status: RunStatus::Running,
            start_time: new.start_time,
            end_time: None,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            tags: BTreeMap::new(),
            artifacts: Vec::new(),
        }
    }
}

/// A 32-hex-digit run id, as MLflow's look; the caller supplies the random bits.
pub fn format_run_id(bits: u128) -> String {
    format!("{bits:032x}")
}

/// Newest first; ties broken by id so every backend lists in the same order.
pub fn sort_newest_first(runs: &mut [Run]) {
    runs.sort_by(|a, b| b.start_time.cmp(&a.start_time).then_with(|| a.run_id.cmp(&b.run_id)));
}

/// Records an artifact's name on its run (contents are stored beside it by the backend).
pub fn add_artifact_name(run: &mut Run, name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::EmptyKey);
    }
    if !run.artifacts.iter().any(|a| a == name) {
        run.artifacts.push(name.to_string());
    }
    Ok(())
}

/// Ends a run. Ending an ended run again is refused, so a late write cannot reopen it.
pub fn terminate(run: &mut Run, status: RunStatus, end_time: i64) -> Result<(), StoreError> {
    if run.status != RunStatus::Running {
        return Err(StoreError::RunEnded(run.run_id.clone()));
    }
    run.status = status;
    run.end_time = Some(end_time);
    Ok(())
}
