//! Running a hyperparameter search the way the course does with hyperopt and MLflow —
//! a parent run per search, a child run per trial — with a pool of workers.
//!
//! The page only moves messages: which worker gets which trial ([`Pool::dispatch`]),
//! what the parent run records ([`SearchRecord`], [`parent_tags`]), how a trial becomes
//! an estimator ([`Family::estimator`]) and how a search that was interrupted by a reload
//! continues ([`SearchRecord::resume`]) are decided here, and tested natively.
//!
//! ```
//! use mlops_core::search::{Algorithm, Search, SearchSpec, Space};
//! use mlops_core::tuning::{Family, Pool};
//!
//! let space = Space::from_json(r#"{"max_depth": {"quniform": [2, 6, 1]}, "num_boost_round": 5}"#).unwrap();
//! let spec = SearchSpec { space, algorithm: Algorithm::Random, max_evals: 4, seed: 1, parallelism: 2 };
//! let mut search = Search::new(spec).unwrap();
//! let mut pool = Pool::new(2);
//! pool.prepared(0);
//! pool.prepared(1);
//! let handed = pool.dispatch(&mut search, false);
//! assert_eq!(handed.len(), 2);
//! let estimator = Family::Gbdt.estimator(&handed[0].1.point).unwrap();
//! assert_eq!(estimator.class_name(), "XGBRegressor");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::features::{DurationFilter, FeatureSet};
use crate::search::{point_as, Algorithm, Next, Search, Space, Trial, TrialStatus};
use crate::tracking::autolog::DataFile;
use crate::training::{Estimator, TrainReport, TrainSpec};
use crate::trees::{ForestParams, GbdtParams};

/// Which model a search tunes; the space's parameter names are its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// [`GbdtParams`], XGBoost's names.
    Gbdt,
    /// [`ForestParams`], scikit-learn's names.
    Forest,
}

/// Hyperparameters a GBDT space may name.
pub const GBDT_PARAMS: [&str; 13] = [
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "reg_alpha",
    "reg_lambda",
    "gamma",
    "subsample",
    "colsample_bytree",
    "num_boost_round",
    "early_stopping_rounds",
    "max_bin",
    "seed",
    "encoding",
];

/// Hyperparameters a forest space may name.
pub const FOREST_PARAMS: [&str; 9] = [
    "n_estimators",
    "max_depth",
    "min_samples_split",
    "min_samples_leaf",
    "max_features",
    "bootstrap",
    "random_state",
    "max_bin",
    "encoding",
];

/// Names only a forest has: a space with one of them tunes a forest.
const FOREST_ONLY: [&str; 6] =
    ["n_estimators", "min_samples_split", "min_samples_leaf", "max_features", "bootstrap", "random_state"];

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::Gbdt => "Gradient-boosted trees (XGBoost-style)",
            Family::Forest => "Random forest",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Family::Gbdt => "gbdt",
            Family::Forest => "forest",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "gbdt" | "xgboost" => Some(Family::Gbdt),
            "forest" | "random_forest" => Some(Family::Forest),
            _ => None,
        }
    }

    pub fn params(self) -> &'static [&'static str] {
        match self {
            Family::Gbdt => &GBDT_PARAMS,
            Family::Forest => &FOREST_PARAMS,
        }
    }

    /// The family a space tunes: a forest when it names a forest-only parameter
    /// (`n_estimators`, `min_samples_leaf`, …), boosted trees otherwise.
    pub fn of_space(space: &Space) -> Family {
        if space.params.keys().any(|key| FOREST_ONLY.contains(&key.as_str())) {
            Family::Forest
        } else {
            Family::Gbdt
        }
    }

    /// Top-level names of the space that are not this family's hyperparameters: a typo
    /// such as `learnig_rate` would otherwise be ignored and the default used silently.
    pub fn unknown_params(self, space: &Space) -> Vec<String> {
        space.params.keys().filter(|key| !self.params().contains(&key.as_str())).cloned().collect()
    }

    /// The estimator a trial's point describes: unnamed parameters take their defaults,
    /// and the result passed its `check()`.
    pub fn estimator(self, point: &serde_json::Value) -> Result<Estimator, String> {
        match self {
            Family::Gbdt => {
                let params: GbdtParams = point_as(point)?;
                params.check().map_err(|e| e.to_string())?;
                Ok(Estimator::Gbdt(params))
            }
            Family::Forest => {
                let params: ForestParams = point_as(point)?;
                params.check().map_err(|e| e.to_string())?;
                Ok(Estimator::Forest(params))
            }
        }
    }

    /// Checks a space before a search starts: known names only, and the space's own
    /// rules. A point outside the parameters' ranges (e.g. a `learning_rate` of 0) is
    /// not an error here: that trial fails, as it would in hyperopt.
    pub fn check_space(self, space: &Space) -> Result<(), String> {
        space.validate().map_err(|e| e.to_string())?;
        let unknown = self.unknown_params(space);
        if !unknown.is_empty() {
            return Err(format!(
                "{} is not a hyperparameter of {}; known: {}",
                unknown.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", "),
                self.label(),
                self.params().join(", ")
            ));
        }
        Ok(())
    }
}

/// Workers for a machine with `hardware_concurrency` logical cores: one core stays with
/// the page, at least one worker, at most eight.
pub fn pool_size(hardware_concurrency: Option<f64>) -> u32 {
    let cores = hardware_concurrency.filter(|c| c.is_finite() && *c >= 1.0).unwrap_or(2.0);
    ((cores as u32).saturating_sub(1)).clamp(1, 8)
}

// ----- the pool -----

/// What one worker of the pool is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkerSlot {
    /// Decoding and vectorizing the months; takes no trial yet.
    Preparing,
    Idle,
    Busy(u32),
    /// The worker stopped (the message says why); it takes no more trials.
    Broken(String),
}

/// The pool's bookkeeping: which worker runs which trial. The page owns the real
/// workers; it tells the pool what they answered and sends what [`Pool::dispatch`] says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pool {
    pub slots: Vec<WorkerSlot>,
}

impl Pool {
    pub fn new(size: usize) -> Self {
        Self { slots: vec![WorkerSlot::Preparing; size] }
    }

    pub fn size(&self) -> usize {
        self.slots.len()
    }

    /// A worker has its data and can take trials.
    pub fn prepared(&mut self, worker: usize) {
        if let Some(slot @ WorkerSlot::Preparing) = self.slots.get_mut(worker) {
            *slot = WorkerSlot::Idle;
        }
    }

    /// A worker answered; returns the trial it was running.
    pub fn finished(&mut self, worker: usize) -> Option<u32> {
        let slot = self.slots.get_mut(worker)?;
        match *slot {
            WorkerSlot::Busy(tid) => {
                *slot = WorkerSlot::Idle;
                Some(tid)
            }
            _ => None,
        }
    }

    /// A worker stopped for good; returns the trial it was running.
    pub fn broke(&mut self, worker: usize, message: impl Into<String>) -> Option<u32> {
        let slot = self.slots.get_mut(worker)?;
        let tid = match slot {
            WorkerSlot::Busy(tid) => Some(*tid),
            _ => None,
        };
        *slot = WorkerSlot::Broken(message.into());
        tid
    }

    /// Trials in flight, by worker order.
    pub fn running(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter_map(|slot| match slot {
                WorkerSlot::Busy(tid) => Some(*tid),
                _ => None,
            })
            .collect()
    }

    pub fn worker_of(&self, tid: u32) -> Option<usize> {
        self.slots.iter().position(|slot| *slot == WorkerSlot::Busy(tid))
    }

    /// Workers that can still take trials (preparing, idle or busy).
    pub fn alive(&self) -> usize {
        self.slots.iter().filter(|slot| !matches!(slot, WorkerSlot::Broken(_))).count()
    }

    /// Hands the search's next trials to idle workers, in worker order, until no worker
    /// is idle or the search says wait or done. A paused search hands out nothing; its
    /// running trials finish.
    pub fn dispatch(&mut self, search: &mut Search, paused: bool) -> Vec<(usize, Trial)> {
        let mut handed = Vec::new();
        if paused {
            return handed;
        }
        while let Some(worker) = self.slots.iter().position(|slot| *slot == WorkerSlot::Idle) {
            match search.next_trial() {
                Next::Run(trial) => {
                    self.slots[worker] = WorkerSlot::Busy(trial.tid);
                    handed.push((worker, trial));
                }
                Next::Wait | Next::Done => break,
            }
        }
        handed
    }
}

// ----- what the store keeps -----

/// Where a search is in its life, kept in the parent run's `search.state` tag and in
/// `search.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchState {
    /// Created, waiting for the search before it (a comparison runs two in a row).
    Queued,
    Running,
    /// No new trials; resumable.
    Paused,
    /// Stopped by the learner; its finished trials stay.
    Cancelled,
    Complete,
}

impl SearchState {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchState::Queued => "queued",
            SearchState::Running => "running",
            SearchState::Paused => "paused",
            SearchState::Cancelled => "cancelled",
            SearchState::Complete => "complete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Paused, Self::Cancelled, Self::Complete]
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    /// A reload left it unfinished: the page offers to resume it.
    pub fn is_resumable(self) -> bool {
        matches!(self, SearchState::Queued | SearchState::Running | SearchState::Paused)
    }
}

/// The parent run's tags and artifact names.
pub mod tags {
    /// Present on every search's parent run: its [`super::SearchState`].
    pub const STATE: &str = "search.state";
    pub const ALGORITHM: &str = "search.algorithm";
    pub const SEED: &str = "search.seed";
    pub const MAX_EVALS: &str = "search.max_evals";
    pub const FAMILY: &str = "search.family";
    pub const PARALLELISM: &str = "search.parallelism";
    /// The space's JSON, compact (left out when longer than a tag may be).
    pub const SPACE: &str = "search.space";
    /// Shared by the two searches of a TPE-versus-random comparison.
    pub const COMPARE: &str = "search.compare";
    /// On each child run: its trial number.
    pub const TID: &str = "search.tid";
    /// The parent run's artifact with the whole [`super::SearchRecord`].
    pub const RECORD_ARTIFACT: &str = "search.json";
}

/// Everything needed to continue a search after a reload: written to the parent run's
/// `search.json` after every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    pub name: String,
    pub family: Family,
    pub feature_set: FeatureSet,
    pub filter: DurationFilter,
    pub state: SearchState,
    pub search: Search,
    /// The child run of every trial that finished (or failed), by tid.
    #[serde(default)]
    pub trial_runs: BTreeMap<u32, String>,
    /// The comparison this search belongs to, if any.
    #[serde(default)]
    pub compare: Option<String>,
    /// The months the trials fit on, as autologging records them.
    #[serde(default)]
    pub data_files: Vec<DataFile>,
}

impl SearchRecord {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("the stored search cannot be read: {e}"))
    }

    /// Continues after a reload. `logged` are the trials whose child run finished in
    /// the store (by tid, with the run id and its loss or error): a trial that was
    /// logged but not yet written here counts as done, so it is not run (and logged)
    /// twice; every other running trial is handed out again.
    pub fn resume(&mut self, logged: &[(u32, String, Result<f64, String>)]) {
        for (tid, run_id, outcome) in logged {
            let running =
                self.search.trials.iter().any(|t| t.tid == *tid && t.status == TrialStatus::Running);
            if running && self.search.report(*tid, outcome.clone()).is_ok() {
                self.trial_runs.insert(*tid, run_id.clone());
            }
        }
        self.search.requeue_running();
        if matches!(self.state, SearchState::Queued) || self.search.is_complete() {
            self.state = if self.search.is_complete() { SearchState::Complete } else { SearchState::Running };
        }
    }

    /// Trials finished with a loss, failed, and in total.
    pub fn counts(&self) -> (usize, usize, u32) {
        let ok = self.search.trials.iter().filter(|t| t.loss().is_some()).count();
        let failed = self.search.trials.iter().filter(|t| matches!(t.status, TrialStatus::Failed(_))).count();
        (ok, failed, self.search.spec.max_evals)
    }

    /// Why the months loaded now are not the ones this search's trials used (compared by
    /// role and SHA-256), so resuming would mix data; `None` when they match or the
    /// search never recorded its files.
    pub fn data_mismatch(&self, loaded: &[DataFile]) -> Option<String> {
        if self.data_files.is_empty() {
            return None;
        }
        let key = |files: &[DataFile]| {
            let mut keys: Vec<(String, String)> =
                files.iter().map(|f| (f.role.clone(), f.sha256.clone())).collect();
            keys.sort();
            keys
        };
        if key(&self.data_files) == key(loaded) {
            return None;
        }
        let names = |files: &[DataFile], role: &str| {
            let names: Vec<&str> = files.iter().filter(|f| f.role == role).map(|f| f.name.as_str()).collect();
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(" + ")
            }
        };
        Some(format!(
            "`{}` trains on {} and validates on {}, but {} and {} are loaded; load the search's months to resume it",
            self.name,
            names(&self.data_files, "train"),
            names(&self.data_files, "validation"),
            names(loaded, "train"),
            names(loaded, "validation"),
        ))
    }

    /// What a trial of this search trains (the point's estimator, the search's data).
    pub fn trial_spec(&self, estimator: Estimator) -> TrainSpec {
        TrainSpec { estimator, feature_set: self.feature_set, filter: self.filter }
    }

    /// The child run of the best trial.
    pub fn best_run(&self) -> Option<(&Trial, &str)> {
        let best = self.search.best()?;
        Some((best, self.trial_runs.get(&best.tid)?.as_str()))
    }
}

/// `tpe` or `random`, as the parent run's tag says.
pub fn algorithm_name(algorithm: &Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Random => "random",
        Algorithm::Tpe(_) => "tpe",
    }
}

/// The parent run's tags: how to repeat the search (algorithm, seed, budget, space).
pub fn parent_tags(record: &SearchRecord) -> Vec<(String, String)> {
    let spec = &record.search.spec;
    let mut tags = vec![
        (tags::STATE, record.state.as_str().to_string()),
        (tags::ALGORITHM, algorithm_name(&spec.algorithm).to_string()),
        (tags::SEED, spec.seed.to_string()),
        (tags::MAX_EVALS, spec.max_evals.to_string()),
        (tags::FAMILY, record.family.id().to_string()),
        (tags::PARALLELISM, spec.parallelism.to_string()),
    ];
    let space = compact_json(&spec.space.to_json());
    if space.chars().count() <= crate::tracking::limits::MAX_TAG_VALUE_LENGTH {
        tags.push((tags::SPACE, space));
    }
    if let Some(group) = &record.compare {
        tags.push((tags::COMPARE, group.clone()));
    }
    tags.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn compact_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_string())
}

/// A trial's child run name, e.g. `trial 7`.
pub fn trial_run_name(tid: u32) -> String {
    format!("trial {tid}")
}

/// The loss a search minimises: the validation RMSE.
pub fn trial_loss(report: &TrainReport) -> Result<f64, String> {
    let loss = report.val.rmse;
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(format!("the validation RMSE is {loss}"))
    }
}

/// How well each trial the search finished did, as `(tid, loss)` in tid order, and the
/// best loss after each: the best-so-far curve, from the child runs in the store.
pub fn best_so_far(mut finished: Vec<(u32, f64)>) -> Vec<(u32, f64)> {
    finished.retain(|(_, loss)| loss.is_finite());
    finished.sort_by_key(|(tid, _)| *tid);
    let mut best = f64::INFINITY;
    finished
        .into_iter()
        .map(|(tid, loss)| {
            best = best.min(loss);
            (tid, best)
        })
        .collect()
}

/// Spearman's rank correlation of `x` and `y` (ties share their mean rank); `None` when
/// fewer than three pairs or one side is constant.
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> =
        pairs.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    if pairs.len() < 3 {
        return None;
    }
    let ranks = |values: Vec<f64>| -> Vec<f64> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let mut ranks = vec![0.0; values.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
                end += 1;
            }
            let mean_rank = (start + end) as f64 / 2.0;
            for &i in &order[start..=end] {
                ranks[i] = mean_rank;
            }
            start = end + 1;
        }
        ranks
    };
    let rx = ranks(pairs.iter().map(|p| p.0).collect());
    let ry = ranks(pairs.iter().map(|p| p.1).collect());
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// The searched parameter whose values go most closely with the loss (by the size of
/// Spearman's correlation over the finished trials), with that correlation: what the
/// parallel-coordinates view shows at a glance.
pub fn strongest_param(search: &Search) -> Option<(String, f64)> {
    search
        .spec
        .space
        .labels()
        .into_iter()
        .filter_map(|label| {
            let pairs: Vec<(f64, f64)> =
                search.trials.iter().filter_map(|t| Some((*t.assignment.get(&label)?, t.loss()?))).collect();
            spearman(&pairs).map(|rho| (label, rho))
        })
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{presets, SearchSpec, TpeOptions};
    use crate::trees::MaxFeatures;

    fn small_spec(algorithm: Algorithm, max_evals: u32, parallelism: u32) -> SearchSpec {
        let space = Space::from_json(
            r#"{"max_depth": {"quniform": [2, 6, 1]}, "learning_rate": {"loguniform": [-3, 0]}, "num_boost_round": 5}"#,
        )
        .expect("valid");
        SearchSpec { space, algorithm, max_evals, seed: 7, parallelism }
    }

    fn loss_of(trial: &Trial) -> f64 {
        let lr = trial.point["learning_rate"].as_f64().expect("lr");
        (lr.ln() + 2.0).powi(2) + trial.point["max_depth"].as_f64().expect("depth") / 10.0
    }

    /// Runs a search on a simulated pool: `pick` chooses which busy worker answers next.
    fn drive(spec: SearchSpec, workers: usize, mut pick: impl FnMut(&[usize]) -> usize) -> (Search, usize) {
        let mut search = Search::new(spec).expect("valid");
        let mut pool = Pool::new(workers);
        for worker in 0..workers {
            pool.prepared(worker);
        }
        let mut most_in_flight = 0;
        let mut trials: BTreeMap<u32, Trial> = BTreeMap::new();
        loop {
            for (_, trial) in pool.dispatch(&mut search, false) {
                assert!(trials.insert(trial.tid, trial).is_none(), "a trial was handed out twice");
            }
            most_in_flight = most_in_flight.max(pool.running().len());
            let busy: Vec<usize> =
                (0..workers).filter(|w| matches!(pool.slots[*w], WorkerSlot::Busy(_))).collect();
            if busy.is_empty() {
                break;
            }
            let worker = busy[pick(&busy) % busy.len()];
            let tid = pool.finished(worker).expect("busy");
            let loss = loss_of(&trials[&tid]);
            search.report(tid, Ok(loss)).expect("running");
        }
        (search, most_in_flight)
    }

    #[test]
    fn the_pool_runs_every_trial_once_and_keeps_every_worker_busy() {
        for algorithm in
            [Algorithm::Random, Algorithm::Tpe(TpeOptions { n_startup_jobs: 4, ..Default::default() })]
        {
            let (search, most) = drive(small_spec(algorithm, 12, 3), 3, |busy| busy.len() - 1);
            assert!(search.is_complete());
            assert_eq!(search.trials.len(), 12);
            assert_eq!(most, 3, "three workers, three trials in flight");
            let tids: Vec<u32> = search.trials.iter().map(|t| t.tid).collect();
            assert_eq!(tids, (0..12).collect::<Vec<_>>());
        }
    }

    #[test]
    fn tpe_with_the_pool_size_as_parallelism_gives_the_same_trials_in_any_finishing_order() {
        let algorithm = Algorithm::Tpe(TpeOptions { n_startup_jobs: 3, ..Default::default() });
        let (first, _) = drive(small_spec(algorithm, 10, 2), 2, |_| 0);
        let mut flip = 0;
        let (second, _) = drive(small_spec(algorithm, 10, 2), 2, |_| {
            flip += 1;
            flip
        });
        let points = |s: &Search| s.trials.iter().map(|t| t.point.to_string()).collect::<Vec<_>>();
        assert_eq!(points(&first), points(&second));
    }

    #[test]
    fn a_paused_search_hands_out_nothing_and_preparing_or_broken_workers_get_no_trial() {
        let mut search = Search::new(small_spec(Algorithm::Random, 5, 3)).expect("valid");
        let mut pool = Pool::new(3);
        assert!(pool.dispatch(&mut search, false).is_empty(), "nobody is prepared yet");
        pool.prepared(1);
        assert!(pool.dispatch(&mut search, true).is_empty(), "paused");
        let handed = pool.dispatch(&mut search, false);
        assert_eq!(handed.iter().map(|(w, t)| (*w, t.tid)).collect::<Vec<_>>(), vec![(1, 0)]);
        pool.prepared(0);
        assert_eq!(pool.broke(1, "crashed"), Some(0));
        assert_eq!(pool.alive(), 2);
        let handed = pool.dispatch(&mut search, false);
        assert_eq!(handed.iter().map(|(w, t)| (*w, t.tid)).collect::<Vec<_>>(), vec![(0, 1)]);
        assert_eq!(pool.worker_of(1), Some(0));
        assert_eq!(pool.finished(2), None, "worker 2 is still preparing");
    }

    #[test]
    fn a_reload_resumes_the_running_trials_without_logging_a_finished_one_twice() {
        let mut search = Search::new(small_spec(Algorithm::Random, 6, 2)).expect("valid");
        let mut pool = Pool::new(2);
        pool.prepared(0);
        pool.prepared(1);
        for _ in 0..2 {
            for (worker, trial) in pool.dispatch(&mut search, false) {
                pool.finished(worker);
                search.report(trial.tid, Ok(loss_of(&trial))).expect("running");
            }
        }
        // Trials 4 and 5 are in flight when the page reloads; 4 was logged just before.
        let in_flight = pool.dispatch(&mut search, false);
        assert_eq!(in_flight.len(), 2);
        let mut record = SearchRecord {
            name: "s".into(),
            family: Family::Gbdt,
            feature_set: FeatureSet::PuDo,
            filter: DurationFilter::default(),
            state: SearchState::Running,
            search,
            trial_runs: (0..4).map(|tid| (tid, format!("run{tid}"))).collect(),
            compare: None,
            data_files: Vec::new(),
        };
        let mut stored = SearchRecord::from_json(&record.to_json()).expect("round trip");
        assert_eq!(stored, record);
        stored.resume(&[(4, "run4".into(), Ok(6.5)), (1, "run1".into(), Ok(1.0))]);
        assert_eq!(stored.trial_runs.get(&4).map(String::as_str), Some("run4"));
        let mut pool = Pool::new(2);
        pool.prepared(0);
        pool.prepared(1);
        let again = pool.dispatch(&mut stored.search, false);
        assert_eq!(again.iter().map(|(_, t)| t.tid).collect::<Vec<_>>(), vec![5], "only 5 runs again");
        assert_eq!(again[0].1.point, in_flight[1].1.point, "with the same point");
        stored.search.report(5, Ok(7.0)).expect("running");
        assert!(stored.search.is_complete());
        record.resume(&[]);
        assert_eq!(record.state, SearchState::Running);
    }

    #[test]
    fn a_queued_search_becomes_running_on_resume_and_a_finished_one_complete() {
        let mut record = SearchRecord {
            name: "q".into(),
            family: Family::Gbdt,
            feature_set: FeatureSet::PuDo,
            filter: DurationFilter::default(),
            state: SearchState::Queued,
            search: Search::new(small_spec(Algorithm::Random, 1, 1)).expect("valid"),
            trial_runs: BTreeMap::new(),
            compare: Some("c1".into()),
            data_files: Vec::new(),
        };
        record.resume(&[]);
        assert_eq!(record.state, SearchState::Running);
        let Next::Run(trial) = record.search.next_trial() else { panic!("a trial") };
        record.resume(&[(trial.tid, "r0".into(), Err("diverged".into()))]);
        assert_eq!(record.state, SearchState::Complete);
        assert_eq!(record.counts(), (0, 1, 1));
        assert!(parent_tags(&record).contains(&(tags::COMPARE.to_string(), "c1".to_string())));
    }

    #[test]
    fn resuming_needs_the_months_the_search_started_with() {
        let file = |role: &str, name: &str, sha: &str| DataFile {
            role: role.into(),
            name: name.into(),
            rows: 10,
            sha256: sha.repeat(64),
        };
        let mut record = SearchRecord {
            name: "hw".into(),
            family: Family::Forest,
            feature_set: FeatureSet::PuDo,
            filter: DurationFilter::default(),
            state: SearchState::Running,
            search: Search::new(small_spec(Algorithm::Random, 2, 1)).expect("valid"),
            trial_runs: BTreeMap::new(),
            compare: None,
            data_files: Vec::new(),
        };
        let jan = file("train", "green_tripdata_2023-01.parquet", "a");
        let feb = file("validation", "green_tripdata_2023-02.parquet", "b");
        assert_eq!(
            record.data_mismatch(std::slice::from_ref(&jan)),
            None,
            "nothing recorded, nothing to compare"
        );
        record.data_files = vec![jan.clone(), feb.clone()];
        assert_eq!(record.data_mismatch(&[feb.clone(), jan.clone()]), None, "order does not matter");
        let simulated = file("validation", "Simulated city · 2021-02", "c");
        let message = record.data_mismatch(&[jan, simulated]).expect("other months");
        assert!(
            message.contains("green_tripdata_2023-02.parquet") && message.contains("Simulated city"),
            "{message}"
        );
    }

    #[test]
    fn family_follows_the_space_and_unknown_names_are_reported() {
        assert_eq!(Family::of_space(&presets::course_xgboost().space), Family::Gbdt);
        assert_eq!(Family::of_space(&presets::homework_forest().space), Family::Forest);
        assert!(Family::Gbdt.check_space(&presets::course_xgboost().space).is_ok());
        assert!(Family::Forest.check_space(&presets::homework_forest().space).is_ok());
        let typo = Space::from_json(r#"{"learnig_rate": {"uniform": [0.01, 0.3]}}"#).expect("valid JSON");
        let message = Family::Gbdt.check_space(&typo).expect_err("typo");
        assert!(message.contains("`learnig_rate`") && message.contains("learning_rate"), "{message}");
    }

    #[test]
    fn points_become_checked_estimators() {
        let gbdt = Family::Gbdt
            .estimator(
                &serde_json::json!({"max_depth": 7.0, "learning_rate": 0.1, "encoding": "categorical"}),
            )
            .expect("valid");
        let Estimator::Gbdt(params) = gbdt else { panic!("gbdt") };
        assert_eq!(params.max_depth, 7);
        assert_eq!(params.num_boost_round, GbdtParams::default().num_boost_round);
        let frozen =
            Family::Gbdt.estimator(&serde_json::json!({"learning_rate": 0})).expect_err("no learning");
        assert!(frozen.contains("learning_rate"), "{frozen}");
        let forest = Family::Forest
            .estimator(&serde_json::json!({"max_depth": 12.0, "n_estimators": 20, "max_features": "sqrt"}))
            .expect("valid");
        let Estimator::Forest(params) = forest else { panic!("forest") };
        assert_eq!(
            (params.max_depth, params.n_estimators, params.max_features),
            (Some(12), 20, MaxFeatures::Sqrt)
        );
        let bad = Family::Forest.estimator(&serde_json::json!({"n_estimators": "many"})).expect_err("text");
        assert!(bad.contains("n_estimators"), "{bad}");
    }

    #[test]
    fn pool_size_leaves_a_core_for_the_page() {
        assert_eq!(pool_size(Some(2.0)), 1);
        assert_eq!(pool_size(Some(1.0)), 1);
        assert_eq!(pool_size(Some(4.0)), 3);
        assert_eq!(pool_size(Some(64.0)), 8);
        assert_eq!(pool_size(None), 1);
        assert_eq!(pool_size(Some(f64::NAN)), 1);
    }

    #[test]
    fn best_so_far_never_rises_and_skips_failures() {
        let curve = best_so_far(vec![(2, 5.0), (0, 7.0), (1, f64::NAN), (3, 6.0)]);
        assert_eq!(curve, vec![(0, 7.0), (2, 5.0), (3, 5.0)]);
    }

    #[test]
    fn spearman_matches_hand_computed_ranks() {
        assert_eq!(spearman(&[(1.0, 2.0), (2.0, 4.0), (3.0, 9.0)]), Some(1.0));
        assert_eq!(spearman(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]), Some(-1.0));
        assert_eq!(spearman(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None);
        // Ties: x ranks 0, 1.5, 1.5, 3 against y ranks 0..4 → 0.9487 (scipy.stats.spearmanr).
        let rho = spearman(&[(1.0, 1.0), (2.0, 2.0), (2.0, 3.0), (3.0, 4.0)]).expect("rho");
        assert!((rho - 0.948_683_298_050_513_8).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn the_strongest_parameter_is_the_one_the_loss_follows() {
        let mut search = Search::new(small_spec(Algorithm::Random, 20, 1)).expect("valid");
        while let Next::Run(trial) = search.next_trial() {
            // The loss follows the learning rate only.
            let loss = trial.point["learning_rate"].as_f64().expect("lr");
            search.report(trial.tid, Ok(loss)).expect("running");
        }
        let (label, rho) = strongest_param(&search).expect("a parameter");
        assert_eq!(label, "learning_rate");
        assert!((rho - 1.0).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn state_names_round_trip_and_long_spaces_stay_out_of_tags() {
        for state in [
            SearchState::Queued,
            SearchState::Running,
            SearchState::Paused,
            SearchState::Cancelled,
            SearchState::Complete,
        ] {
            assert_eq!(SearchState::parse(state.as_str()), Some(state));
        }
        let choices: Vec<String> =
            (0..199).map(|i| format!("\"option-number-{i:04}-with-a-rather-long-name-to-pad\"")).collect();
        let text = format!(r#"{{"encoding": {{"choice": [{}]}}}}"#, choices.join(","));
        let space = Space::from_json(&text).expect("valid");
        let record = SearchRecord {
            name: "long".into(),
            family: Family::Gbdt,
            feature_set: FeatureSet::PuDo,
            filter: DurationFilter::default(),
            state: SearchState::Running,
            search: Search::new(SearchSpec {
                space,
                algorithm: Algorithm::Random,
                max_evals: 1,
                seed: 0,
                parallelism: 1,
            })
            .expect("valid"),
            trial_runs: BTreeMap::new(),
            compare: None,
            data_files: Vec::new(),
        };
        let tags = parent_tags(&record);
        assert!(tags.iter().all(|(k, _)| k != tags::SPACE), "8,000 characters at most in a tag");
        assert!(tags.iter().any(|(k, v)| k == tags::ALGORITHM && v == "random"));
    }
}
