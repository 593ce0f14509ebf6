//! The hyperparameter search that is running: a pool of workers (each a copy of the
//! training worker with the months prepared once), the search's record, and the runs
//! it logs — a parent run per search, a child run per trial, autologged.
//!
//! It lives in context, not in a page, so a search keeps going while the learner reads
//! another page. What to send where is decided by the core ([`Pool::dispatch`],
//! [`SearchRecord::resume`]); this file moves messages and writes to the store. After
//! every change the record is rewritten as the parent run's `search.json`, so a reload
//! can resume it (see [`Searches::resume_unfinished`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use gloo_worker::{Spawnable, WorkerBridge};
use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::features::{DurationFilter, FeatureSet};
use mlops_core::protocol::{Request, Response, Slot, Source};
use mlops_core::search::{Search, SearchSpec, TrialStatus};
use mlops_core::tracking::autolog::{self, DataFile};
use mlops_core::tracking::{tags as mlflow_tags, MetricEntry, Run, RunOptions, RunStatus, TrackingError};
use mlops_core::training::{Estimator, TrainReport};
use mlops_core::tuning::{self, parent_tags, tags, Family, Pool, SearchRecord, SearchState, WorkerSlot};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;

use crate::state::AppState;
use crate::storage::{random_id, Client};
use crate::tracking_state::Tracking;
use crate::worker::{TrainerWorker, CRASH_CHANNEL_PARAM};

/// A search the learner asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSearch {
    pub name: String,
    pub family: Family,
    pub feature_set: FeatureSet,
    pub spec: SearchSpec,
    /// Shared by the searches of a TPE-versus-random comparison.
    pub compare: Option<String>,
}

/// The search the pool works on, as last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Active {
    pub parent_run_id: String,
    pub experiment_id: String,
    pub record: Arc<SearchRecord>,
}

/// What one worker shows on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerView {
    pub slot: WorkerSlot,
    pub progress: Option<(String, f64)>,
}

/// The workers and what they were prepared with.
struct PoolHandle {
    /// The months (by their views), feature set and filter the workers hold.
    key: PoolKey,
    bridges: Vec<WorkerBridge<TrainerWorker>>,
    pool: Pool,
    generation: u64,
    data_files: Vec<DataFile>,
}

#[derive(Debug, Clone, PartialEq)]
struct PoolKey {
    train: usize,
    val: usize,
    feature_set: FeatureSet,
    filter: DurationFilter,
    size: usize,
}

/// `navigator.hardwareConcurrency`, read without a web-sys feature.
pub fn hardware_concurrency() -> Option<f64> {
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    js_sys::Reflect::get(&navigator, &"hardwareConcurrency".into()).ok()?.as_f64()
}

fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// Differs per page load, so crash channels of this page do not hear another tab's.
fn page_id() -> String {
    thread_local! {
        static ID: String = random_id();
    }
    ID.with(Clone::clone)
}

#[derive(Clone, Copy)]
pub struct Searches {
    state: AppState,
    tracking: Tracking,
    pub active: RwSignal<Option<Active>>,
    pub workers: RwSignal<Vec<WorkerView>>,
    /// The last thing worth telling the learner (`Err` in red).
    pub message: RwSignal<Option<Result<String, String>>>,
    /// The pool size new searches use (defaults to the cores minus one).
    pub workers_wanted: RwSignal<u32>,
    /// Searches waiting for the active one to end (a comparison runs two in a row).
    queue: StoredValue<VecDeque<Active>, LocalStorage>,
    pool: StoredValue<Option<PoolHandle>, LocalStorage>,
    generation: StoredValue<u64, LocalStorage>,
    /// When each running trial was handed out (its child run's start time).
    started: StoredValue<HashMap<u32, i64>, LocalStorage>,
    /// Trials whose child run is being written.
    logging: StoredValue<HashSet<u32>, LocalStorage>,
    dirty: StoredValue<bool, LocalStorage>,
    saving: StoredValue<bool, LocalStorage>,
    /// Parent runs this tab is working on or has queued (not offered for resuming).
    owned: RwSignal<Vec<String>>,
}

impl Searches {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            tracking: state.tracking,
            active: RwSignal::new(None),
            workers: RwSignal::new(Vec::new()),
            message: RwSignal::new(None),
            workers_wanted: RwSignal::new(tuning::pool_size(hardware_concurrency())),
            queue: StoredValue::new_local(VecDeque::new()),
            pool: StoredValue::new_local(None),
            generation: StoredValue::new_local(0),
            started: StoredValue::new_local(HashMap::new()),
            logging: StoredValue::new_local(HashSet::new()),
            dirty: StoredValue::new_local(false),
            saving: StoredValue::new_local(false),
            owned: RwSignal::new(Vec::new()),
        }
    }

    pub fn use_context() -> Self {
        expect_context::<Self>()
    }

    /// True while a search is running or paused in this tab.
    pub fn is_active(&self) -> bool {
        self.active.with(|a| a.as_ref().is_some_and(|a| a.record.state.is_resumable()))
    }

    /// Parent runs of this tab's searches (the resume banner leaves them out).
    pub fn owned(&self) -> Vec<String> {
        self.owned.get()
    }

    fn say(&self, message: Result<String, String>) {
        self.message.set(Some(message));
    }

    // ----- starting -----

    /// Opens a parent run per search in the active experiment and runs them one after
    /// the other (the first now, the rest queued).
    pub async fn start(&self, searches: Vec<NewSearch>) -> Result<String, String> {
        if self.is_active() {
            return Err("A search is already running; pause or cancel it first.".to_string());
        }
        let client = self.tracking.open_client().map_err(|e| e.to_string())?;
        if self.state.sources(Slot::Train).is_none() || self.state.sources(Slot::Validation).is_none() {
            return Err("Load a training and a validation month first.".to_string());
        }
        let experiment_id = self.state.active_experiment.get_untracked();
        let mut created = Vec::new();
        for (index, new) in searches.into_iter().enumerate() {
            new.family.check_space(&new.spec.space)?;
            let search = Search::new(new.spec).map_err(|e| e.to_string())?;
            let record = SearchRecord {
                name: new.name.clone(),
                family: new.family,
                feature_set: new.feature_set,
                filter: DurationFilter::default(),
                state: if index == 0 { SearchState::Running } else { SearchState::Queued },
                search,
                trial_runs: Default::default(),
                compare: new.compare,
                data_files: Vec::new(),
            };
            let options = RunOptions {
                run_name: Some(new.name),
                tags: {
                    let mut all = parent_tags(&record);
                    all.push((
                        mlflow_tags::SOURCE_NAME.to_string(),
                        "MLOps Lab · hyperparameter search".to_string(),
                    ));
                    all
                },
                ..RunOptions::default()
            };
            let parent = client.create_run(&experiment_id, options).await.map_err(|e| e.to_string())?;
            let spec = &record.search.spec;
            let params = [
                ("algorithm", tuning::algorithm_name(&spec.algorithm).to_string()),
                ("max_evals", spec.max_evals.to_string()),
                ("seed", spec.seed.to_string()),
                ("model_family", record.family.id().to_string()),
                ("features", record.feature_set.label().to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v));
            client.log_batch(&parent.run_id, &[], &params, &[]).await.map_err(|e| e.to_string())?;
            write_record(&client, &parent.run_id, &record).await.map_err(|e| e.to_string())?;
            created.push(Active {
                parent_run_id: parent.run_id,
                experiment_id: experiment_id.clone(),
                record: Arc::new(record),
            });
        }
        let names: Vec<String> = created.iter().map(|a| format!("`{}`", a.record.name)).collect();
        self.owned.update(|owned| owned.extend(created.iter().map(|a| a.parent_run_id.clone())));
        let mut created: VecDeque<Active> = created.into();
        let first = created.pop_front().ok_or("no search to start")?;
        self.queue.update_value(|queue| queue.extend(created));
        self.run(first);
        Ok(format!("Started {}.", names.join(" then ")))
    }

    /// Makes `active` the pool's search: (re)uses the pool, then hands out trials.
    fn run(&self, active: Active) {
        self.started.update_value(HashMap::clear);
        self.active.set(Some(active.clone()));
        if let Err(e) = self.ensure_pool(&active.record) {
            self.say(Err(e));
            return;
        }
        self.pump();
        self.save();
    }

    /// Spawns the workers and sends them the months, unless the pool already holds them.
    fn ensure_pool(&self, record: &SearchRecord) -> Result<(), String> {
        let size = self.workers_wanted.get_untracked().clamp(1, 8) as usize;
        let views = |slot: Slot| {
            self.state.dataset(slot).with_untracked(|d| d.as_ref().map(|d| Arc::as_ptr(d) as usize))
        };
        let (Some(train), Some(val)) = (views(Slot::Train), views(Slot::Validation)) else {
            return Err("Load a training and a validation month first.".to_string());
        };
        let key = PoolKey { train, val, feature_set: record.feature_set, filter: record.filter, size };
        let reusable = self.pool.with_value(|pool| {
            pool.as_ref().is_some_and(|p| {
                p.key == key && p.pool.alive() == p.pool.size() && p.pool.running().is_empty()
            })
        });
        if reusable {
            return Ok(());
        }
        let (Some(train_sources), Some(val_sources)) =
            (self.state.sources(Slot::Train), self.state.sources(Slot::Validation))
        else {
            return Err("Load a training and a validation month first.".to_string());
        };
        self.spawn_pool(key, train_sources, val_sources, record.feature_set, record.filter);
        Ok(())
    }

    fn spawn_pool(
        &self,
        key: PoolKey,
        train: Vec<Source>,
        val: Vec<Source>,
        feature_set: FeatureSet,
        filter: DurationFilter,
    ) {
        let generation = self.generation.get_value() + 1;
        self.generation.set_value(generation);
        let size = key.size;
        let mut bridges = Vec::with_capacity(size);
        for index in 0..size {
            let searches = *self;
            let channel = format!("mlops-lab-search-crash-{}-{generation}-{index}", page_id());
            let url = format!("./worker.js?{CRASH_CHANNEL_PARAM}={channel}");
            let bridge = TrainerWorker::spawner()
                .callback(move |response| searches.on_worker(generation, index, response))
                .as_module(false)
                .spawn(&url);
            listen_for_crash(&channel, move |message| searches.on_crash(generation, index, message));
            bridge.send(Request::PrepareSearch {
                train: train.clone(),
                val: val.clone(),
                feature_set,
                filter,
            });
            bridges.push(bridge);
        }
        // The old pool (if any) is dropped here: its workers end after their current message.
        self.pool.set_value(Some(PoolHandle {
            key,
            bridges,
            pool: Pool::new(size),
            generation,
            data_files: Vec::new(),
        }));
        self.workers.set(vec![
            WorkerView {
                slot: WorkerSlot::Preparing,
                progress: Some(("Decoding and vectorizing the months".into(), 0.0))
            };
            size
        ]);
    }

    fn refresh_workers(&self) {
        let slots: Vec<WorkerSlot> =
            self.pool.with_value(|p| p.as_ref().map(|p| p.pool.slots.clone()).unwrap_or_default());
        self.workers.update(|views| {
            views.resize(slots.len(), WorkerView { slot: WorkerSlot::Idle, progress: None });
            for (view, slot) in views.iter_mut().zip(slots) {
                if view.slot != slot {
                    view.progress = None;
                }
                view.slot = slot;
            }
        });
    }

    // ----- the pool's answers -----

    fn current_generation(&self, generation: u64) -> bool {
        self.pool.with_value(|p| p.as_ref().is_some_and(|p| p.generation == generation))
    }

    fn on_worker(&self, generation: u64, worker: usize, response: Response) {
        if !self.current_generation(generation) {
            return;
        }
        match response {
            Response::SearchPrepared { data_files, .. } => {
                self.pool.update_value(|p| {
                    if let Some(p) = p {
                        p.pool.prepared(worker);
                        if p.data_files.is_empty() {
                            p.data_files = data_files.clone();
                        }
                    }
                });
                let mut changed = false;
                self.active.update(|active| {
                    if let Some(active) = active.as_mut().filter(|a| a.record.data_files.is_empty()) {
                        Arc::make_mut(&mut active.record).data_files = data_files;
                        changed = true;
                    }
                });
                self.refresh_workers();
                self.pump();
                if changed {
                    self.save();
                }
            }
            Response::Progress { stage, fraction } => self.workers.update(|views| {
                if let Some(view) = views.get_mut(worker) {
                    view.progress = Some((stage, fraction));
                }
            }),
            Response::TrialDone { tid, outcome } => {
                let finished = self
                    .pool
                    .try_update_value(|p| p.as_mut().and_then(|p| p.pool.finished(worker)))
                    .flatten();
                self.refresh_workers();
                if finished == Some(tid) {
                    self.trial_done(tid, outcome.map(|report| *report));
                }
                self.pump();
            }
            Response::Failed { message } => {
                self.worker_broke(worker, format!("a search worker could not start: {message}"))
            }
            _ => {}
        }
    }

    fn on_crash(&self, generation: u64, worker: usize, panic: String) {
        if self.current_generation(generation) {
            self.worker_broke(worker, format!("a search worker stopped ({panic})"));
        }
    }

    fn worker_broke(&self, worker: usize, message: String) {
        let (tid, alive) = self
            .pool
            .try_update_value(|p| match p.as_mut() {
                Some(p) => (p.pool.broke(worker, message.clone()), p.pool.alive()),
                None => (None, 0),
            })
            .unwrap_or((None, 0));
        self.refresh_workers();
        if let Some(tid) = tid {
            self.trial_done(tid, Err(message.clone()));
        }
        if alive == 0 {
            self.say(Err(format!(
                "{message}. No worker is left: the search is paused; resume it to start new workers."
            )));
            self.set_state(SearchState::Paused);
            self.pool.set_value(None);
        }
    }

    /// Hands out trials to idle workers; ends the search when every trial is in.
    fn pump(&self) {
        let Some(active) = self.active.get_untracked() else { return };
        let record = &active.record;
        if !record.state.is_resumable() {
            return;
        }
        let paused = record.state != SearchState::Running;
        let mut handed = Vec::new();
        self.active.update(|active| {
            let Some(active) = active.as_mut() else { return };
            let search = &mut Arc::make_mut(&mut active.record).search;
            self.pool.update_value(|p| {
                if let Some(p) = p.as_mut() {
                    handed = p.pool.dispatch(search, paused);
                }
            });
        });
        if !handed.is_empty() {
            self.refresh_workers();
            for (worker, trial) in handed {
                self.started.update_value(|s| {
                    s.insert(trial.tid, now());
                });
                match record.family.estimator(&trial.point) {
                    Ok(estimator) => self.pool.with_value(|p| {
                        if let Some(bridge) = p.as_ref().and_then(|p| p.bridges.get(worker)) {
                            bridge.send(Request::Trial { tid: trial.tid, estimator });
                        }
                    }),
                    Err(message) => {
                        // Never reached a worker: it is free again.
                        self.pool.update_value(|p| {
                            if let Some(p) = p.as_mut() {
                                p.pool.finished(worker);
                            }
                        });
                        self.trial_done(trial.tid, Err(message));
                    }
                }
            }
            self.refresh_workers();
            self.save();
        }
        self.maybe_finish();
    }

    /// Logs a trial's child run, then records its outcome in the search.
    fn trial_done(&self, tid: u32, outcome: Result<TrainReport, String>) {
        let Some(active) = self.active.get_untracked() else { return };
        let searches = *self;
        let started = self.started.try_update_value(|s| s.remove(&tid)).flatten().unwrap_or_else(now);
        self.logging.update_value(|logging| {
            logging.insert(tid);
        });
        spawn_local(async move {
            let trial_point =
                active.record.search.trials.iter().find(|t| t.tid == tid).map(|t| t.point.clone());
            let estimator = trial_point.as_ref().map(|point| active.record.family.estimator(point));
            let loss = match &outcome {
                Ok(report) => tuning::trial_loss(report),
                Err(message) => Err(message.clone()),
            };
            let logged = match searches.tracking.client() {
                Some(client) => log_trial(&client, &active, tid, started, estimator, &outcome).await,
                None => Err(TrackingError::NotOpen),
            };
            let run_id = match logged {
                Ok(run_id) => Some(run_id),
                Err(e) => {
                    searches.tracking.warning.set(Some(format!("Trial {tid}'s run could not be saved: {e}")));
                    None
                }
            };
            searches.active.update(|current| {
                let Some(current) = current.as_mut().filter(|c| c.parent_run_id == active.parent_run_id)
                else {
                    return;
                };
                let record = Arc::make_mut(&mut current.record);
                if record.search.report(tid, loss).is_ok() {
                    if let Some(run_id) = run_id {
                        record.trial_runs.insert(tid, run_id);
                    }
                }
            });
            searches.logging.update_value(|logging| {
                logging.remove(&tid);
            });
            searches.save();
            searches.pump();
        });
    }

    /// Every trial is in and nothing is in flight: the parent run ends, the next
    /// queued search starts.
    fn maybe_finish(&self) {
        let Some(active) = self.active.get_untracked() else { return };
        let running = self.pool.with_value(|p| p.as_ref().map(|p| p.pool.running().len()).unwrap_or(0));
        let idle = running == 0 && self.logging.with_value(HashSet::is_empty);
        if active.record.state != SearchState::Running || !active.record.search.is_complete() || !idle {
            return;
        }
        self.set_state(SearchState::Complete);
        let searches = *self;
        spawn_local(async move {
            let Some(active) = searches.active.get_untracked() else { return };
            if let Some(client) = searches.tracking.client() {
                if let Err(e) = end_parent(&client, &active, RunStatus::Finished).await {
                    searches
                        .tracking
                        .warning
                        .set(Some(format!("The search's parent run could not be ended: {e}")));
                }
            }
            let (ok, failed, total) = active.record.counts();
            let best = active
                .record
                .search
                .best()
                .and_then(|t| t.loss())
                .map(|l| format!(" Best validation RMSE {l:.4}."))
                .unwrap_or_default();
            searches.say(Ok(format!(
                "`{}` is complete: {ok} of {total} trials finished, {failed} failed.{best}",
                active.record.name
            )));
            searches.next_queued();
        });
    }

    fn next_queued(&self) {
        if let Some(mut next) = self.queue.try_update_value(VecDeque::pop_front).flatten() {
            Arc::make_mut(&mut next.record).state = SearchState::Running;
            self.run(next);
        }
    }

    // ----- the learner's controls -----

    fn set_state(&self, state: SearchState) {
        self.active.update(|active| {
            if let Some(active) = active.as_mut() {
                Arc::make_mut(&mut active.record).state = state;
            }
        });
        self.save();
    }

    /// No new trials; the running ones finish and are logged.
    pub fn pause(&self) {
        self.set_state(SearchState::Paused);
        self.say(Ok("Paused: running trials finish, no new ones start.".to_string()));
    }

    /// Continues a paused search (with new workers if the old ones are gone).
    pub fn resume(&self) {
        let Some(active) = self.active.get_untracked() else { return };
        self.set_state(SearchState::Running);
        if let Err(e) = self.ensure_pool(&active.record) {
            self.say(Err(e));
            self.set_state(SearchState::Paused);
            return;
        }
        self.message.set(None);
        self.pump();
    }

    /// Stops at once: the workers are dropped (a trial in flight runs to its end in the
    /// background and is discarded), finished trials stay, the parent run is KILLED.
    /// Queued searches are cancelled too.
    pub fn cancel(&self) {
        let Some(active) = self.active.get_untracked() else { return };
        self.pool.set_value(None);
        self.workers.set(Vec::new());
        // Trials being logged keep their result; the others never finish.
        let logging = self.logging.get_value();
        self.active.update(|a| {
            if let Some(a) = a.as_mut() {
                let record = Arc::make_mut(&mut a.record);
                let unfinished: Vec<u32> = record
                    .search
                    .trials
                    .iter()
                    .filter(|t| t.status == TrialStatus::Running && !logging.contains(&t.tid))
                    .map(|t| t.tid)
                    .collect();
                for tid in unfinished {
                    let _ = record.search.report(tid, Err("cancelled before it finished".to_string()));
                }
                record.state = SearchState::Cancelled;
            }
        });
        let queued: Vec<Active> = self.queue.try_update_value(|q| q.drain(..).collect()).unwrap_or_default();
        let searches = *self;
        spawn_local(async move {
            let Some(client) = searches.tracking.client() else { return };
            let Some(current) = searches.active.get_untracked() else { return };
            let mut all = vec![current];
            all.extend(queued.into_iter().map(|mut q| {
                Arc::make_mut(&mut q.record).state = SearchState::Cancelled;
                q
            }));
            for search in &all {
                let result = async {
                    write_record(&client, &search.parent_run_id, &search.record).await?;
                    end_parent(&client, search, RunStatus::Killed).await
                }
                .await;
                if let Err(e) = result {
                    searches
                        .tracking
                        .warning
                        .set(Some(format!("The search could not be marked cancelled: {e}")));
                }
            }
            let (ok, _, total) = active.record.counts();
            searches.say(Ok(format!(
                "Cancelled `{}`: {ok} of {total} trials had finished and are kept.",
                active.record.name
            )));
        });
    }

    /// Writes the record to `search.json` (and the state tag), one write at a time, the
    /// latest record each time.
    fn save(&self) {
        self.dirty.set_value(true);
        if self.saving.get_value() {
            return;
        }
        self.saving.set_value(true);
        let searches = *self;
        spawn_local(async move {
            while searches.dirty.get_value() {
                searches.dirty.set_value(false);
                let (Some(active), Some(client)) =
                    (searches.active.get_untracked(), searches.tracking.client())
                else {
                    break;
                };
                if let Err(e) = write_record(&client, &active.parent_run_id, &active.record).await {
                    searches.tracking.warning.set(Some(format!("The search could not be saved: {e}")));
                }
            }
            searches.saving.set_value(false);
        });
    }

    // ----- after a reload -----

    /// Continues every unfinished search among `parents` (oldest first): reads each
    /// `search.json`, counts trials whose child run finished as done, moves half-logged
    /// child runs to the trash, hands the running trials out again.
    pub async fn resume_unfinished(&self, mut parents: Vec<Arc<Run>>) -> Result<String, String> {
        if self.is_active() {
            return Err("A search is already running in this tab.".to_string());
        }
        let client = self.tracking.open_client().map_err(|e| e.to_string())?;
        parents.sort_by_key(|run| run.start_time);
        let mut resumed = VecDeque::new();
        for parent in parents {
            let bytes = client
                .download_artifact(&parent.run_id, tags::RECORD_ARTIFACT)
                .await
                .map_err(|e| e.to_string())?;
            let mut record = SearchRecord::from_json(&String::from_utf8_lossy(&bytes))?;
            let loaded: Vec<DataFile> = [Slot::Train, Slot::Validation]
                .into_iter()
                .flat_map(|slot| {
                    self.state
                        .dataset(slot)
                        .with_untracked(|d| d.as_ref().map(|d| d.data_files.clone()).unwrap_or_default())
                })
                .collect();
            if let Some(problem) = record.data_mismatch(&loaded) {
                return Err(problem);
            }
            let children: Vec<Arc<Run>> = self.tracking.runs.with_untracked(|runs| {
                runs.iter().filter(|r| r.parent_run_id() == Some(parent.run_id.as_str())).cloned().collect()
            });
            let mut logged = Vec::new();
            for child in &children {
                let Some(tid) = child.tags.get(tags::TID).and_then(|t| t.parse::<u32>().ok()) else {
                    continue;
                };
                match child.status {
                    RunStatus::Finished => match child.metric("val_rmse") {
                        Some(loss) => logged.push((tid, child.run_id.clone(), Ok(loss))),
                        None => logged.push((
                            tid,
                            child.run_id.clone(),
                            Err("no val_rmse was logged".to_string()),
                        )),
                    },
                    RunStatus::Failed => {
                        let error = child
                            .tags
                            .get(autolog::ERROR_TAG)
                            .cloned()
                            .unwrap_or_else(|| "failed".to_string());
                        logged.push((tid, child.run_id.clone(), Err(error)));
                    }
                    // Half-logged when the page closed: the trial runs again with a new run.
                    _ if !record.trial_runs.values().any(|id| *id == child.run_id) => {
                        client.delete_run(&child.run_id).await.map_err(|e| e.to_string())?;
                    }
                    _ => {}
                }
            }
            let was = record.state;
            record.resume(&logged);
            if was == SearchState::Paused {
                record.state = SearchState::Running;
            }
            resumed.push_back(Active {
                parent_run_id: parent.run_id.clone(),
                experiment_id: parent.experiment_id.clone(),
                record: Arc::new(record),
            });
        }
        let names: Vec<String> = resumed.iter().map(|a| format!("`{}`", a.record.name)).collect();
        self.owned.update(|owned| owned.extend(resumed.iter().map(|a| a.parent_run_id.clone())));
        let first = resumed.pop_front().ok_or("there is no unfinished search")?;
        for queued in resumed.iter_mut() {
            Arc::make_mut(&mut queued.record).state = SearchState::Queued;
        }
        self.queue.update_value(|queue| queue.extend(resumed));
        self.run(first);
        Ok(format!("Resumed {}.", names.join(", ")))
    }
}

/// Rewrites the parent run's `search.json` and its state tag.
async fn write_record(
    client: &Client,
    parent_run_id: &str,
    record: &SearchRecord,
) -> Result<(), TrackingError> {
    client
        .log_artifact(parent_run_id, tags::RECORD_ARTIFACT, record.to_json().as_bytes(), "application/json")
        .await?;
    client.set_tag(parent_run_id, tags::STATE, record.state.as_str()).await
}

/// Ends a parent run: the best trial as a metric and a tag, then its status.
async fn end_parent(client: &Client, active: &Active, status: RunStatus) -> Result<(), TrackingError> {
    let record = &active.record;
    write_record(client, &active.parent_run_id, record).await?;
    if let Some((trial, run_id)) = record.best_run() {
        let loss = trial.loss().unwrap_or(f64::NAN);
        let metrics: Vec<MetricEntry> =
            [("best_val_rmse", loss), ("trials_finished", record.counts().0 as f64)]
                .into_iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(key, value)| MetricEntry { key: key.to_string(), value, timestamp: now(), step: 0 })
                .collect();
        let best_tags = [("search.best_run", run_id.to_string()), ("search.best_tid", trial.tid.to_string())]
            .map(|(k, v)| (k.to_string(), v));
        client.log_batch(&active.parent_run_id, &metrics, &[], &best_tags).await?;
    }
    client.set_terminated(&active.parent_run_id, status, None).await
}

/// Logs one trial as a child run: autologged params, tags, metrics and model, or FAILED
/// with the reason.
async fn log_trial(
    client: &Client,
    active: &Active,
    tid: u32,
    started: i64,
    estimator: Option<Result<Estimator, String>>,
    outcome: &Result<TrainReport, String>,
) -> Result<String, TrackingError> {
    let record = &active.record;
    let options = RunOptions {
        run_name: Some(tuning::trial_run_name(tid)),
        start_time: Some(started),
        tags: vec![
            (tags::TID.to_string(), tid.to_string()),
            (mlflow_tags::SOURCE_NAME.to_string(), "MLOps Lab · hyperparameter search".to_string()),
        ],
        parent_run_id: Some(active.parent_run_id.clone()),
    };
    match estimator {
        Some(Ok(estimator)) => {
            let spec = record.trial_spec(estimator);
            let run =
                autolog::start_run(client, &active.experiment_id, &spec, &record.data_files, options).await?;
            match outcome {
                Ok(report) => autolog::finish_run(client, &run.run_id, &spec, report).await?,
                Err(message) => autolog::fail_run(client, &run.run_id, message).await?,
            }
            Ok(run.run_id)
        }
        // The point is not a valid estimator: the run records the point and why.
        other => {
            let run = client.create_run(&active.experiment_id, options).await?;
            let point = record.search.trials.iter().find(|t| t.tid == tid).map(|t| t.point.clone());
            let params: Vec<(String, String)> = match point {
                Some(serde_json::Value::Object(map)) => map
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            match v {
                                serde_json::Value::String(text) => text,
                                other => other.to_string(),
                            },
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let _ = client.log_batch(&run.run_id, &[], &params, &[]).await;
            let message = match (other, outcome) {
                (Some(Err(message)), _) => message,
                (_, Err(message)) => message.clone(),
                _ => "the trial has no point".to_string(),
            };
            autolog::fail_run(client, &run.run_id, &message).await?;
            Ok(run.run_id)
        }
    }
}

/// Calls `on_crash` with a worker's panic message, posted by its crash hook.
fn listen_for_crash(channel: &str, on_crash: impl Fn(String) + 'static) {
    let Ok(channel) = web_sys::BroadcastChannel::new(channel) else { return };
    let on_crash = Rc::new(on_crash);
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        on_crash(event.data().as_string().unwrap_or_default());
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // Both live as long as the page; a later pool's generation makes old ones silent.
    on_message.forget();
    std::mem::forget(channel);
}
