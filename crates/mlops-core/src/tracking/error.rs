//! Everything tracking and the registry can refuse, in words a learner can act on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TrackingError {
    #[error("no run with id `{0}`")]
    RunNotFound(String),
    #[error("a run with id `{0}` already exists")]
    DuplicateRun(String),
    #[error("no experiment with id `{0}`")]
    ExperimentNotFound(String),
    #[error("no experiment named `{0}`")]
    ExperimentNameNotFound(String),
    #[error("an experiment named `{0}` already exists")]
    DuplicateExperiment(String),
    #[error("experiment `{0}` is deleted; restore it first")]
    ExperimentDeleted(String),
    #[error("the Default experiment cannot be deleted")]
    DefaultExperiment,
    #[error("run `{0}` is deleted; restore it first")]
    RunDeleted(String),
    #[error("param `{key}` is already `{old}` for this run; params are write-once (got `{new}`)")]
    ParamChanged { key: String, old: String, new: String },
    #[error("metric `{0}` is not a finite number")]
    NonFiniteMetric(String),
    #[error("a {0} key is empty")]
    EmptyKey(&'static str),
    #[error("{kind} key `{key}` contains `{bad}`; keys may use letters, digits, `_ - . : /` and spaces, and no `..`")]
    BadKey { kind: &'static str, key: String, bad: char },
    #[error("the {0} is empty")]
    EmptyName(&'static str),
    #[error("the {what} is {length} characters long; the limit is {limit}")]
    TooLong { what: String, length: usize, limit: usize },
    #[error("a batch may hold at most {limit} {what}; this one has {count}")]
    BatchTooLarge { what: &'static str, count: usize, limit: usize },
    #[error("run `{0}` has ended; it can no longer be changed")]
    RunEnded(String),
    #[error("no artifact `{path}` in run `{run_id}`")]
    ArtifactNotFound { run_id: String, path: String },
    #[error("no registered model named `{0}`")]
    ModelNotFound(String),
    #[error("a registered model named `{0}` already exists")]
    DuplicateModel(String),
    #[error("model `{name}` has no version {version}")]
    VersionNotFound { name: String, version: u32 },
    #[error("model `{name}` has no alias `{alias}`")]
    AliasNotFound { name: String, alias: String },
    #[error("model `{name}` has no version in stage {stage}")]
    NoVersionInStage { name: String, stage: String },
    #[error("`{0}` is not a stage; use None, Staging, Production or Archived")]
    BadStage(String),
    #[error("archive_existing_versions only applies when moving to Staging or Production, not to {0}")]
    ArchiveNeedsActiveStage(String),
    #[error("`{alias}` cannot be an alias: {why}")]
    BadAlias { alias: String, why: &'static str },
    #[error("`{uri}` is not a model URI: {why}")]
    BadModelUri { uri: String, why: String },
    #[error("{0}")]
    Search(#[from] super::search::SearchError),
    #[error("the browser's storage is full; nothing was written. Delete old runs or export and clear them, then try again ({0})")]
    QuotaExceeded(String),
    #[error("the run log is not open yet; try again in a moment")]
    NotOpen,
    #[error("the browser's storage failed: {0}")]
    Backend(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("this file cannot be imported: {0}")]
    Import(String),
    #[error("the tracking server at {url} could not be reached: {why}")]
    Unreachable { url: String, why: String },
    #[error("the tracking server refused the request ({status} {code}): {message}")]
    Server { status: u16, code: String, message: String },
}
