//! Chapter 5: watching a deployed model. A baseline model and its reference data
//! ([`baseline`]), a month replayed day by day into daily metrics ([`replay`]), drift the
//! learner can cause ([`inject`]), alert rules ([`alerts`]), the typed metrics store
//! ([`store`], the course's `dummy_metrics` table) and service health read from the
//! endpoint's prediction log ([`health`]).

pub mod alerts;
pub mod baseline;
pub mod health;
pub mod inject;
pub mod jobs;
pub mod replay;
pub mod store;

/// Everything that can stop a monitoring job, in a learner's words.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum MonitorError {
    #[error("the reference month has {rows} usable trips after the course's filter; the baseline needs more than {needed} (30,000 to train, the rest as reference)")]
    TooFewRows { rows: usize, needed: usize },
    #[error("the current month has no trips with a pickup time")]
    NoDays,
    #[error("fitting the baseline model failed: {0}")]
    Fit(String),
    #[error("{0}")]
    Data(#[from] crate::data::DataError),
    #[error("{0}")]
    Frame(#[from] crate::drift::column::FrameError),
    #[error("alert rule `{text}`: {reason}")]
    Rule { text: String, reason: String },
    #[error("drift injection: {0}")]
    Injection(String),
}
