//! The app's shared state: what is loaded, what the worker is doing, the run log.
//!
//! One [`AppState`] is provided as context. Every write goes through its methods, so the
//! order "create run → train → log metrics → end run" lives in one place.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use gloo_worker::{Spawnable, WorkerBridge};
use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::drift::DriftOptions;
use mlops_core::monitoring::jobs::{DriftResult, ReplayResult};
use mlops_core::monitoring::replay::ReplayOptions;
use mlops_core::protocol::{DatasetView, Request, Response, Slot, Source};
use mlops_core::serving::batch::{ScoreOptions, ScoredBatch};
use mlops_core::tracking::autolog::{self, DataFile};
use mlops_core::tracking::{tags, RunOptions, TrackingError, DEFAULT_EXPERIMENT_ID};
use mlops_core::training::{TrainReport, TrainSpec};

use crate::components::chart::prediction_histogram_svg;
use crate::components::data_panel::default_source;
use crate::storage::{prefs, random_id};
use crate::tracking_state::Tracking;
use crate::worker::{TrainerWorker, CRASH_CHANNEL_PARAM};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;

/// What the worker is busy with.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Load(Slot),
    Bench,
    /// The run a training is logged in (empty when the store refused it) and its spec.
    Train {
        run_id: String,
        spec: TrainSpec,
    },
    Score,
    Replay,
    Drift,
}

/// Where a training is logged: which experiment, under which parent run, with which
/// extra tags (Chapter 2's sweeps use all three).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunContext {
    /// `None` logs to the experiment chosen in the runs page (Default at first).
    pub experiment_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub train_data: RwSignal<Option<Arc<DatasetView>>>,
    pub val_data: RwSignal<Option<Arc<DatasetView>>>,
    pub pending: RwSignal<Option<Pending>>,
    pub progress: RwSignal<Option<(String, f64)>>,
    pub error: RwSignal<Option<String>>,
    pub report: RwSignal<Option<Arc<TrainReport>>>,
    pub tracking: Tracking,
    /// The experiment new runs go to.
    pub active_experiment: RwSignal<String>,
    /// The id of the last run logged, so a walkthrough can point at it.
    pub last_run_id: RwSignal<Option<String>>,
    /// The last batch scoring (Chapter 4) and its seconds inside the worker.
    pub scored: RwSignal<Option<(Arc<ScoredBatch>, f64)>>,
    pub bench_result: RwSignal<Option<String>>,
    /// The last Chapter 5 replay computed in the worker (the dashboard reveals its days
    /// on the simulated clock).
    pub replayed: RwSignal<Option<Arc<ReplayResult>>>,
    /// The last whole-file drift report.
    pub drift_result: RwSignal<Option<Arc<DriftResult>>>,
    /// Set when the page asked for the simulated months; the validation month follows
    /// the training month (the worker takes one request at a time).
    defaults_requested: RwSignal<bool>,
    bridge: StoredValue<Option<WorkerBridge<TrainerWorker>>, LocalStorage>,
    /// Trainings waiting for the worker (a sweep queues several).
    queue: StoredValue<VecDeque<(TrainSpec, RunContext)>, LocalStorage>,
    /// What each loaded slot was decoded from, so a search's pool workers can decode
    /// the same months; and the sources of the load in flight.
    sources: StoredValue<SlotSources, LocalStorage>,
}

/// What each loaded slot was decoded from, and the sources of the load in flight.
#[derive(Default)]
struct SlotSources {
    loaded: HashMap<Slot, Vec<Source>>,
    loading: Option<Vec<Source>>,
}

const ACTIVE_EXPERIMENT_KEY: &str = "mlops-lab-active-experiment";

/// One crash channel per page, so another tab's worker crash is not reported here.
fn crash_channel_name() -> String {
    thread_local! {
        static NAME: String = format!("mlops-lab-worker-crash-{}", random_id());
    }
    NAME.with(Clone::clone)
}

impl AppState {
    pub fn new() -> Self {
        let state = Self {
            train_data: RwSignal::new(None),
            val_data: RwSignal::new(None),
            pending: RwSignal::new(None),
            progress: RwSignal::new(None),
            error: RwSignal::new(None),
            report: RwSignal::new(None),
            tracking: Tracking::new(),
            active_experiment: RwSignal::new(
                prefs::get(ACTIVE_EXPERIMENT_KEY).unwrap_or_else(|| DEFAULT_EXPERIMENT_ID.to_string()),
            ),
            last_run_id: RwSignal::new(None),
            scored: RwSignal::new(None),
            bench_result: RwSignal::new(None),
            replayed: RwSignal::new(None),
            drift_result: RwSignal::new(None),
            defaults_requested: RwSignal::new(false),
            bridge: StoredValue::new_local(None),
            queue: StoredValue::new_local(VecDeque::new()),
            sources: StoredValue::new_local(SlotSources::default()),
        };
        state.spawn_worker();
        state.listen_for_worker_crashes();
        // The chosen experiment outlives a reload, as a learner expects.
        Effect::new(move |_| {
            prefs::set(ACTIVE_EXPERIMENT_KEY, &state.active_experiment.get());
        });
        state
    }

    fn spawn_worker(&self) {
        let state = *self;
        let url = format!("./worker.js?{CRASH_CHANNEL_PARAM}={}", crash_channel_name());
        let bridge = TrainerWorker::spawner()
            .callback(move |response| state.on_response(response))
            .as_module(false)
            .spawn(&url);
        self.bridge.set_value(Some(bridge));
    }

    fn listen_for_worker_crashes(&self) {
        let state = *self;
        let Ok(channel) = web_sys::BroadcastChannel::new(&crash_channel_name()) else { return };
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                state.on_worker_crash(event.data().as_string().unwrap_or_default());
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Both live as long as the page.
        on_message.forget();
        std::mem::forget(channel);
    }

    /// The worker died: its loaded months are gone. Say so, fail the open run, start anew.
    fn on_worker_crash(&self, panic: String) {
        let doing = match self.pending.get_untracked() {
            Some(Pending::Load(slot)) => format!("decoding the {} data", slot.label()),
            Some(Pending::Train { .. }) => "training".to_string(),
            Some(Pending::Bench) => "benchmarking".to_string(),
            Some(Pending::Score) => "scoring a month".to_string(),
            Some(Pending::Replay) => "replaying a month".to_string(),
            Some(Pending::Drift) => "comparing two files".to_string(),
            None => "idle".to_string(),
        };
        self.on_response(Response::Failed {
            message: format!(
                "The background worker stopped while {doing} ({panic}). A damaged file can trigger this in the parquet decoder. Your runs are safe; a new worker has started — load the months again."
            ),
        });
        self.train_data.set(None);
        self.val_data.set(None);
        self.sources.set_value(SlotSources::default());
        self.spawn_worker();
    }

    pub fn use_context() -> Self {
        expect_context::<Self>()
    }

    /// The sources the loaded month of `slot` was decoded from (a search's pool workers
    /// decode them again, each in its own memory).
    pub fn sources(&self, slot: Slot) -> Option<Vec<Source>> {
        self.sources.with_value(|sources| sources.loaded.get(&slot).cloned())
    }

    pub fn dataset(&self, slot: Slot) -> RwSignal<Option<Arc<DatasetView>>> {
        match slot {
            Slot::Train => self.train_data,
            Slot::Validation => self.val_data,
        }
    }

    pub fn is_busy(&self) -> bool {
        self.pending.with(Option::is_some)
    }

    fn send(&self, request: Request) {
        self.bridge.with_value(|bridge| {
            if let Some(bridge) = bridge {
                bridge.send(request);
            }
        });
    }

    /// Decodes sources into a slot (in the worker).
    pub fn load(&self, slot: Slot, sources: Vec<Source>) {
        if self.is_busy() {
            return;
        }
        self.error.set(None);
        self.pending.set(Some(Pending::Load(slot)));
        self.progress.set(Some((format!("Sending the {} data to the worker", slot.label()), 0.0)));
        self.sources.update_value(|all| all.loading = Some(sources.clone()));
        self.send(Request::Load { slot, sources });
    }

    /// Runs the benchmark in the worker on two files' bytes.
    pub fn bench(&self, train: Vec<u8>, val: Vec<u8>, repeat: u32) {
        if self.is_busy() {
            return;
        }
        self.pending.set(Some(Pending::Bench));
        self.progress.set(Some(("Benchmarking Chapter 1".to_string(), 0.0)));
        self.send(Request::Bench { train, val, repeat });
    }

    /// Scores every trip of a loaded month in the worker (Chapter 4's batch mode).
    pub fn score(&self, slot: Slot, model_json: String, model_version: String, options: ScoreOptions) {
        if self.is_busy() {
            return;
        }
        self.error.set(None);
        self.scored.set(None);
        self.pending.set(Some(Pending::Score));
        self.progress.set(Some(("Sending the model to the worker".to_string(), 0.0)));
        self.send(Request::Score { slot, model_json, model_version, options });
    }

    /// Times batch scoring in the worker (`#/bench?score_train=…&score_month=…`).
    pub fn bench_score(&self, train: Vec<u8>, month: Vec<u8>, repeat: u32) {
        if self.is_busy() {
            return;
        }
        self.pending.set(Some(Pending::Bench));
        self.progress.set(Some(("Benchmarking batch scoring".to_string(), 0.0)));
        self.send(Request::BenchScore { train, month, repeat });
    }

    /// Fits the monitoring baseline on `reference` and replays `current` (Chapter 5).
    pub fn replay(&self, reference: Vec<Source>, current: Vec<Source>, options: ReplayOptions) {
        if self.is_busy() {
            return;
        }
        self.error.set(None);
        self.pending.set(Some(Pending::Replay));
        self.progress.set(Some(("Sending both months to the worker".to_string(), 0.0)));
        self.send(Request::Replay { reference, current, options });
    }

    /// A drift report between two whole files (Chapter 5).
    pub fn drift(&self, reference: Vec<Source>, current: Vec<Source>, options: DriftOptions) {
        if self.is_busy() {
            return;
        }
        self.error.set(None);
        self.pending.set(Some(Pending::Drift));
        self.progress.set(Some(("Sending both files to the worker".to_string(), 0.0)));
        self.send(Request::Drift { reference, current, options });
    }

    /// Times drift reports and a replay in the worker (`#/bench?drift_reference=…`).
    pub fn bench_drift(&self, request: Request) {
        if self.is_busy() {
            return;
        }
        self.pending.set(Some(Pending::Bench));
        self.progress.set(Some(("Benchmarking drift reports".to_string(), 0.0)));
        self.send(request);
    }

    /// Times the tree ensembles in the worker (`#/bench?trees_train=…&trees_val=…`).
    pub fn bench_trees(&self, train: Vec<u8>, val: Vec<u8>, repeat: u32) {
        if self.is_busy() {
            return;
        }
        self.pending.set(Some(Pending::Bench));
        self.progress.set(Some(("Benchmarking boosted trees and a random forest".to_string(), 0.0)));
        self.send(Request::BenchTrees { train, val, repeat });
    }

    /// Loads the simulated months into whichever slots are empty.
    pub fn load_defaults(&self) {
        if self.pending.with_untracked(Option::is_some) || self.train_data.with_untracked(Option::is_some) {
            return;
        }
        self.defaults_requested.set(true);
        self.load(Slot::Train, vec![default_source(Slot::Train)]);
    }

    /// Trains one model, logged as a run in the active experiment.
    pub fn train(&self, spec: TrainSpec) {
        self.train_in(spec, RunContext::default());
    }

    /// Trains one model, logged as `context` says; queued if the worker is busy training.
    pub fn train_in(&self, spec: TrainSpec, context: RunContext) {
        if matches!(self.pending.get_untracked(), Some(Pending::Load(_) | Pending::Bench)) {
            return;
        }
        self.queue.update_value(|queue| queue.push_back((spec, context)));
        if self.pending.with_untracked(Option::is_none) {
            self.start_next_training();
        }
    }

    /// How many trainings wait behind the current one.
    pub fn queued(&self) -> usize {
        self.queue.with_value(VecDeque::len)
    }

    /// The files of both loaded months (name, rows, SHA-256), as autologging records them.
    pub fn data_files(&self) -> Vec<DataFile> {
        [Slot::Train, Slot::Validation]
            .into_iter()
            .flat_map(|slot| {
                self.dataset(slot)
                    .with_untracked(|d| d.as_ref().map(|d| d.data_files.clone()).unwrap_or_default())
            })
            .collect()
    }

    /// Opens a run with what autologging records before a fit (params, tags, data
    /// files), then asks the worker to train.
    fn start_next_training(&self) {
        let Some((spec, context)) = self.queue.try_update_value(VecDeque::pop_front).flatten() else {
            return;
        };
        let state = *self;
        self.error.set(None);
        self.pending.set(Some(Pending::Train { run_id: String::new(), spec }));
        self.progress.set(Some(("Opening a run".to_string(), 0.0)));
        let data_files = self.data_files();
        spawn_local(async move {
            let mut run_id = String::new();
            if let Some(client) = state.tracking.client() {
                let mut run_tags = vec![(tags::SOURCE_NAME.to_string(), "MLOps Lab · Chapter 1".to_string())];
                run_tags.extend(context.tags.iter().cloned());
                let experiment =
                    context.experiment_id.clone().unwrap_or_else(|| state.active_experiment.get_untracked());
                let options = RunOptions {
                    run_name: None,
                    start_time: None,
                    tags: run_tags,
                    parent_run_id: context.parent_run_id.clone(),
                };
                match autolog::start_run(&client, &experiment, &spec, &data_files, options).await {
                    Ok(run) => run_id = run.run_id,
                    Err(e) => state.tracking.warning.set(Some(format!("This run could not be saved: {e}"))),
                }
            }
            state.pending.set(Some(Pending::Train { run_id, spec }));
            state.send(Request::Train { spec });
        });
    }

    fn on_response(&self, response: Response) {
        match response {
            Response::Progress { stage, fraction } => self.progress.set(Some((stage, fraction))),
            Response::Loaded(view) => {
                let slot = view.slot;
                self.sources.update_value(|all| {
                    if let Some(sources) = all.loading.take() {
                        all.loaded.insert(slot, sources);
                    }
                });
                self.dataset(slot).set(Some(Arc::from(view)));
                self.finish();
                if self.defaults_requested.get_untracked() && self.val_data.with_untracked(Option::is_none) {
                    self.defaults_requested.set(false);
                    self.load(Slot::Validation, vec![default_source(Slot::Validation)]);
                }
            }
            Response::Trained(report) => {
                let run = match self.pending.get_untracked() {
                    Some(Pending::Train { run_id, spec }) => Some((run_id, spec)),
                    _ => None,
                };
                let report: Arc<TrainReport> = Arc::from(report);
                self.report.set(Some(report.clone()));
                self.finish();
                if let Some((run_id, spec)) = run.filter(|(id, _)| !id.is_empty()) {
                    let state = *self;
                    spawn_local(async move { state.log_results(&run_id, &spec, &report).await });
                }
                self.start_next_training();
            }
            Response::Scored { batch, seconds } => {
                self.scored.set(Some((Arc::from(batch), seconds)));
                self.finish();
            }
            Response::Replayed(result) => {
                self.replayed.set(Some(Arc::from(result)));
                self.finish();
            }
            Response::DriftReported(result) => {
                self.drift_result.set(Some(Arc::from(result)));
                self.finish();
            }
            Response::DriftBench(report) => {
                let json = serde_json::json!({
                    "runner": "wasm (release, Web Worker, headless Chromium)",
                    "report_seconds": report.report_seconds,
                    "report_median_seconds": report.report_median_seconds,
                    "columns": report.columns,
                    "replay_seconds": report.replay_seconds,
                    "replay_median_seconds": report.replay_median_seconds,
                    "replay_days": report.replay_days,
                });
                self.bench_result.set(Some(json.to_string()));
                self.finish();
            }
            Response::TreesBench(report) => {
                // The shape of `bench_trees`'s output: per model, the seconds from bytes to
                // a scored model, and the fit alone.
                use mlops_core::summary::median;
                let model = |seconds: &[f64], fit: &[f64], val_rmse: f64| {
                    let total: Vec<f64> = (0..seconds.len())
                        .map(|i| report.decode_seconds[i] + report.prepare_seconds[i] + seconds[i])
                        .collect();
                    serde_json::json!({
                        "seconds": total,
                        "median_seconds": median(&total),
                        "fit_median_seconds": median(fit),
                        "val_rmse": val_rmse,
                    })
                };
                let json = serde_json::json!({
                    "runner": "wasm (release, Web Worker, headless Chromium)",
                    "gbdt": model(&report.gbdt_seconds, &report.gbdt_fit_seconds, report.gbdt_val_rmse),
                    "forest": model(&report.forest_seconds, &report.forest_fit_seconds, report.forest_val_rmse),
                    "decode_median_seconds": report.decode_median_seconds,
                    "n_train": report.n_train,
                    "n_val": report.n_val,
                });
                self.bench_result.set(Some(json.to_string()));
                self.finish();
            }
            // Only a search's pool workers are asked to prepare months and run trials.
            // Pool workers' answers (search, pipelines), never this worker's.
            Response::SearchPrepared { .. } | Response::TrialDone { .. } | Response::BlockDone(_) => {}
            Response::ScoreBench(report) => {
                let json = serde_json::json!({
                    "runner": "wasm (release, Web Worker, headless Chromium)",
                    "seconds": report.seconds,
                    "median_seconds": report.median_seconds,
                    "rows": report.rows,
                    "rows_per_second": report.rows_per_second,
                });
                self.bench_result.set(Some(json.to_string()));
                self.finish();
            }
            Response::Bench(report) => {
                let json = serde_json::json!({
                    "runner": "wasm (release, Web Worker, headless Chromium)",
                    "seconds": report.seconds,
                    "median_seconds": report.median_seconds,
                    "val_rmse": report.val_rmse,
                    "worker_memory_bytes": report.memory_bytes,
                    "navigation_to_interactive_ms": crate::interactive_at_ms(),
                });
                self.bench_result.set(Some(json.to_string()));
                self.finish();
            }
            Response::Failed { message } => {
                if let Some(Pending::Train { run_id, .. }) = self.pending.get_untracked() {
                    let state = *self;
                    let message = message.clone();
                    spawn_local(async move {
                        if let Some(client) = state.tracking.client().filter(|_| !run_id.is_empty()) {
                            let _ = autolog::fail_run(&client, &run_id, &message).await;
                        }
                    });
                    // The rest of a sweep would fail the same way.
                    self.queue.update_value(VecDeque::clear);
                }
                self.error.set(Some(message));
                self.finish();
            }
        }
    }

    fn finish(&self) {
        self.pending.set(None);
        self.progress.set(None);
    }

    /// Records a finished training with autologging (metrics, learning curve, model,
    /// `FINISHED`), after the chart of its predictions; then mirrors it if asked.
    async fn log_results(&self, run_id: &str, spec: &TrainSpec, report: &TrainReport) {
        let Some(client) = self.tracking.client() else { return };
        let result = async {
            if let Ok(svg) = prediction_histogram_svg(report) {
                client
                    .log_artifact(run_id, "plots/predicted_vs_actual.svg", svg.as_bytes(), "image/svg+xml")
                    .await?;
            }
            autolog::finish_run(&client, run_id, spec, report).await
        }
        .await;
        match result {
            Ok(()) => self.last_run_id.set(Some(run_id.to_string())),
            Err(e) => return self.report_store_error("The run's results could not be saved", e),
        }
        if crate::remote::mirror_enabled() {
            if let Err(e) = self.mirror(run_id).await {
                self.report_store_error("The run is saved here, but the tracking server did not take it", e);
            }
        }
    }

    /// Sends a finished run to the learner's MLflow server too.
    async fn mirror(&self, run_id: &str) -> Result<(), TrackingError> {
        let Some(client) = self.tracking.client() else { return Ok(()) };
        let bundle = client.export(Some(&[run_id.to_string()])).await?;
        let Some(run) = bundle.runs.first() else { return Ok(()) };
        let experiment = client.get_experiment(&run.run.experiment_id).await?;
        crate::remote::client()?.push_run(run, &experiment.name).await.map(|_| ())
    }

    fn report_store_error(&self, what: &str, error: TrackingError) {
        self.tracking.warning.set(Some(format!("{what}: {error}")));
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
