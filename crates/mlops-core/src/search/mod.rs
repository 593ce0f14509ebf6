//! Hyperparameter search for Chapter 2, in hyperopt's vocabulary: a search space of
//! `uniform`, `quniform`, `loguniform`, `qloguniform`, `randint` and (nested) `choice`
//! expressions, explored by random search or TPE, one trial at a time or by a pool.
//!
//! A [`Search`] is plain data (serde), so the page can store it after every trial and
//! resume it after a reload: the next suggestion depends only on the spec, the seed and
//! the trials already in it.

pub mod space;
pub mod tpe;

use serde::{Deserialize, Serialize};

pub use space::{Assignment, Expr, Space, SpaceError};
pub use tpe::TpeOptions;

/// How the next trial is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Algorithm {
    Random,
    Tpe(TpeOptions),
}

/// Everything that defines a search; the same spec gives the same trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSpec {
    pub space: Space,
    pub algorithm: Algorithm,
    pub max_evals: u32,
    pub seed: u64,
    /// Trials in flight at once (the worker pool's size). TPE's suggestion for trial
    /// `k` uses the results of trials `0..=k - parallelism` only, so a pool of the same
    /// size replays the same sequence whatever order its workers finish in.
    pub parallelism: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TrialStatus {
    Running,
    /// Finished with this loss (validation RMSE).
    Ok(f64),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// 0-based trial number (hyperopt's `tid`).
    pub tid: u32,
    /// The value of every active expression, by label (choices as their index).
    pub assignment: Assignment,
    /// The point as the objective sees it: a JSON object of parameter values, nested
    /// choices resolved, integral `q` values as integers.
    pub point: serde_json::Value,
    pub status: TrialStatus,
}

/// What [`Search::next_trial`] answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Run(Trial),
    /// A result this suggestion depends on is still running: ask again after a report.
    Wait,
    /// `max_evals` trials have been handed out.
    Done,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SearchError {
    #[error("search space: {0}")]
    Space(#[from] SpaceError),
    #[error("max_evals must be between 1 and 10,000, got {0}")]
    MaxEvals(u32),
    #[error("parallelism must be between 1 and 64, got {0}")]
    Parallelism(u32),
    #[error("there is no running trial {0}")]
    UnknownTrial(u32),
}

/// A search in progress: the spec and its trials so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub spec: SearchSpec,
    pub trials: Vec<Trial>,
}

impl Search {
    pub fn new(spec: SearchSpec) -> Result<Self, SearchError> {
        let _ = spec;
        unimplemented!("issue 6: search")
    }

    /// The next trial to run, marked running.
    pub fn next_trial(&mut self) -> Next {
        unimplemented!("issue 6: search")
    }

    /// Records a running trial's outcome.
    pub fn report(&mut self, tid: u32, outcome: Result<f64, String>) -> Result<(), SearchError> {
        let _ = (tid, outcome);
        unimplemented!("issue 6: search")
    }

    /// After a reload: trials that were running when the page closed are handed out
    /// again (same tid, same point) by [`Search::next_trial`].
    pub fn requeue_running(&mut self) {
        unimplemented!("issue 6: search")
    }

    /// The finished trial with the lowest loss.
    pub fn best(&self) -> Option<&Trial> {
        unimplemented!("issue 6: search")
    }

    /// Best loss after each finished trial, in tid order (the "best so far" chart).
    pub fn best_so_far(&self) -> Vec<(u32, f64)> {
        unimplemented!("issue 6: search")
    }

    pub fn finished(&self) -> usize {
        self.trials.iter().filter(|t| !matches!(t.status, TrialStatus::Running)).count()
    }

    pub fn is_complete(&self) -> bool {
        self.finished() >= self.spec.max_evals as usize
    }
}

/// Reads a trial's point as typed parameters (e.g. `GbdtParams`, whose missing fields
/// take their defaults): integral numbers become integers so `max_depth: 17.0` fits a `u32`.
pub fn point_as<T: serde::de::DeserializeOwned>(point: &serde_json::Value) -> Result<T, String> {
    let _ = point;
    unimplemented!("issue 6: search")
}

/// The course's searches, ready to run.
pub mod presets {
    use super::*;

    /// Chapter 2's XGBoost space: max_depth quniform(4, 100, 1), learning_rate
    /// loguniform(-3, 0), reg_alpha loguniform(-5, -1), reg_lambda loguniform(-6, -1),
    /// min_child_weight loguniform(-1, 3); 50 TPE evals.
    pub fn course_xgboost() -> SearchSpec {
        unimplemented!("issue 6: search")
    }

    /// The 2024 homework's forest space: max_depth 1–20, n_estimators 10–50,
    /// min_samples_split 2–10, min_samples_leaf 1–4; 15 evals.
    pub fn homework_forest() -> SearchSpec {
        unimplemented!("issue 6: search")
    }
}
