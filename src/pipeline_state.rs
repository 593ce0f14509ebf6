//! Chapter 3's host: the page side of the pipeline engine in `mlops_core::pipelines`.
//!
//! The core decides (which blocks are ready, retries, caching, schedules); this module
//! does the I/O: it keeps the definitions, the simulated clock and the scheduler in
//! IndexedDB, fetches what a block needs (file bytes, the registered model, the data
//! calendar), sends each block to one of two workers so independent blocks run side by
//! side, applies the blocks' effects to the tracking store and records every pipeline
//! run as a parent run with nested block runs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use gloo_worker::{Spawnable, WorkerBridge};
use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::monitoring::alerts::RetrainHook;
use mlops_core::pipelines::clock::{SimClock, SimTime};
use mlops_core::pipelines::definition::PipelineDefinition;
use mlops_core::pipelines::engine::{Outcome, OutputCache, PipelineRun, RunContext, Started};
use mlops_core::pipelines::exec::{BlockError, DataRequest, HostFacts, Needs};
use mlops_core::pipelines::host::{self, EffectTarget};
use mlops_core::pipelines::presets::{self, PresetData, PresetOptions};
use mlops_core::pipelines::schedule::{AlertInbox, Scheduler, TriggerFire, TriggerLogEntry};
use mlops_core::protocol::{Request, Response};
use mlops_core::tracking::kv::{KvBackend, Read, Record, Table, Write};
use mlops_core::tracking::TrackingError;
use serde::{Deserialize, Serialize};

use crate::components::data_panel::fetch_bytes;
use crate::monitoring_state::{Monitoring, RecordRetrainRequest};
use crate::storage::{random_id, Client};
use crate::tracking_state::Tracking;
use crate::worker::{TrainerWorker, CRASH_CHANNEL_PARAM};

/// Pipeline records share the artifacts table under a group no run id can take (run
/// ids are hex), so no schema change is needed: `mlops.pipelines/<what>`.
const GROUP: &str = "mlops.pipelines";
const STATE_KEY: &str = "mlops.pipelines/state";
/// The experiment pipeline runs are recorded in.
pub const EXPERIMENT: &str = "chapter-3-pipelines";
/// Parallel block workers.
pub const WORKERS: usize = 2;
/// Pipeline runs kept in the history.
const KEEP_RUNS: usize = 12;

/// Where the simulated clock starts: mid-February 2021, so the first monthly schedule
/// (1 March) is two weeks away.
pub fn clock_start() -> SimTime {
    SimTime::parse("2021-02-15 09:00").unwrap_or(SimTime(0))
}

/// What is saved: definitions, clock, scheduler (with its trigger log), recent runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    definitions: Vec<PipelineDefinition>,
    clock: SimClock,
    scheduler: Scheduler,
    runs: Vec<PipelineRun>,
    #[serde(default)]
    walls: Vec<(String, f64)>,
}

/// The run being driven.
struct Driver {
    run: PipelineRun,
    parent: Option<String>,
    experiment_id: String,
    /// Blocks whose facts are being fetched, or whose effects are being applied.
    busy_blocks: HashSet<String>,
    /// When each block went to its worker (simulated).
    started_at: HashMap<String, SimTime>,
    wall_started: f64,
}

#[derive(Clone, Copy)]
pub struct Pipelines {
    tracking: Tracking,
    pub definitions: RwSignal<Vec<PipelineDefinition>>,
    pub clock: RwSignal<SimClock>,
    pub trigger_log: RwSignal<Vec<TriggerLogEntry>>,
    /// Finished runs, newest last, and the one in progress (if any) as `active`.
    pub runs: RwSignal<Vec<Arc<PipelineRun>>>,
    pub active: RwSignal<Option<Arc<PipelineRun>>>,
    /// Wall seconds each finished run took in this browser, by run id.
    pub walls: RwSignal<Vec<(String, f64)>>,
    /// Pipeline runs waiting for the one in progress.
    pub queued: RwSignal<Vec<String>>,
    pub message: RwSignal<Option<Result<String, String>>>,
    /// Files given to loaders (names and sizes); bytes are kept in memory.
    pub files: RwSignal<Vec<(String, usize)>>,
    /// What each worker is doing (block id and progress).
    pub workers: RwSignal<Vec<Option<(String, f64)>>>,
    pub loaded: RwSignal<bool>,
    /// The last finished run's tracking parent run id.
    pub last_parent: RwSignal<Option<String>>,
    /// Writes to IndexedDB still in flight (saved state, a finished run's records):
    /// the page shows it so a reload can wait for nothing to be lost.
    pub writing: RwSignal<u32>,
    scheduler: StoredValue<Scheduler, LocalStorage>,
    inbox: StoredValue<Rc<AlertInbox>, LocalStorage>,
    queue: StoredValue<VecDeque<TriggerFire>, LocalStorage>,
    driver: StoredValue<Option<Driver>, LocalStorage>,
    cache: StoredValue<OutputCache, LocalStorage>,
    file_bytes: StoredValue<HashMap<String, Vec<u8>>, LocalStorage>,
    bridges: StoredValue<Vec<WorkerBridge<TrainerWorker>>, LocalStorage>,
    /// Per worker: the block it runs.
    assigned: StoredValue<Vec<Option<String>>, LocalStorage>,
}

fn wall_now() -> f64 {
    js_sys::Date::now() / 1000.0
}

fn default_definitions() -> Vec<PipelineDefinition> {
    presets::all(&PresetOptions::default())
}

/// The presets reading the TLC files (by name from the files given to the page, or
/// from the site's `data/` folder).
pub fn file_presets() -> Vec<PipelineDefinition> {
    presets::all(&PresetOptions { data: PresetData::Files, ..PresetOptions::default() })
}

impl Pipelines {
    pub fn new(tracking: Tracking, monitoring: Monitoring) -> Self {
        let pipelines = Self {
            tracking,
            definitions: RwSignal::new(default_definitions()),
            clock: RwSignal::new(SimClock::new(clock_start())),
            trigger_log: RwSignal::new(Vec::new()),
            runs: RwSignal::new(Vec::new()),
            active: RwSignal::new(None),
            walls: RwSignal::new(Vec::new()),
            queued: RwSignal::new(Vec::new()),
            message: RwSignal::new(None),
            files: RwSignal::new(Vec::new()),
            workers: RwSignal::new(vec![None; WORKERS]),
            loaded: RwSignal::new(false),
            last_parent: RwSignal::new(None),
            writing: RwSignal::new(0),
            scheduler: StoredValue::new_local(Scheduler::new(clock_start())),
            inbox: StoredValue::new_local(Rc::new(AlertInbox::new())),
            queue: StoredValue::new_local(VecDeque::new()),
            driver: StoredValue::new_local(None),
            cache: StoredValue::new_local(OutputCache::new()),
            file_bytes: StoredValue::new_local(HashMap::new()),
            bridges: StoredValue::new_local(Vec::new()),
            assigned: StoredValue::new_local(vec![None; WORKERS]),
        };
        // Alerts asking for retraining land in the engine's inbox (and, as before, in
        // the monitoring dashboard's list).
        let inbox: Rc<dyn RetrainHook> = pipelines.inbox.get_value();
        let record: Rc<dyn RetrainHook> =
            Rc::new(RecordRetrainRequest { requests: monitoring.retrain_requests });
        monitoring.set_retrain_hooks(vec![record, inbox]);
        for definition in pipelines.definitions.get_untracked() {
            pipelines.scheduler.update_value(|s| s.add_pipeline(&definition));
        }
        spawn_local(async move { pipelines.load().await });
        pipelines.start_ticking();
        pipelines
    }

    pub fn use_context() -> Self {
        expect_context::<Self>()
    }

    fn say(&self, message: Result<String, String>) {
        self.message.set(Some(message));
    }

    // ----- persistence -----

    async fn client(&self) -> Option<Rc<Client>> {
        for _ in 0..200 {
            if let Some(client) = self.tracking.client() {
                return Some(client);
            }
            if self.tracking.ready.get_untracked() {
                return None;
            }
            gloo_timers::future::sleep(std::time::Duration::from_millis(25)).await;
        }
        None
    }

    async fn load(&self) {
        let Some(client) = self.client().await else {
            self.loaded.set(true);
            return;
        };
        let read = client.backend().read(&[Read::Key(Table::Artifacts, STATE_KEY.to_string())]).await;
        match read.map(|mut lists| lists.pop().and_then(|mut l| l.pop())) {
            Ok(Some(record)) => match serde_json::from_slice::<Saved>(&record.value) {
                Ok(saved) => {
                    self.definitions.set(saved.definitions);
                    self.clock.set(SimClock { running: false, ..saved.clock });
                    self.trigger_log.set(saved.scheduler.log.clone());
                    self.scheduler.set_value(saved.scheduler);
                    self.runs.set(saved.runs.into_iter().map(Arc::new).collect());
                    self.walls.set(saved.walls);
                }
                Err(e) => {
                    self.say(Err(format!("The saved pipelines could not be read ({e}); presets loaded.")))
                }
            },
            Ok(None) => {}
            Err(e) => self.say(Err(format!("The saved pipelines could not be read: {e}"))),
        }
        self.loaded.set(true);
    }

    /// Writes definitions, clock, scheduler and runs in one record.
    pub fn save(&self) {
        let saved = Saved {
            definitions: self.definitions.get_untracked(),
            clock: self.clock.get_untracked(),
            scheduler: self.scheduler.with_value(Clone::clone),
            runs: self.runs.with_untracked(|runs| runs.iter().map(|r| (**r).clone()).collect()),
            walls: self.walls.get_untracked(),
        };
        let tracking = self.tracking;
        let writing = self.writing;
        writing.update(|n| *n += 1);
        spawn_local(async move {
            if let Some(client) = tracking.client() {
                let result = match serde_json::to_vec(&saved) {
                    Ok(value) => {
                        let record = Record { key: STATE_KEY.to_string(), group: GROUP.to_string(), value };
                        client
                            .backend()
                            .transact(&[Table::Artifacts], &[], move |_| {
                                Ok((vec![Write::Put(Table::Artifacts, record)], ()))
                            })
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = result {
                    tracking.warning.set(Some(format!("The pipelines could not be saved: {e}")));
                }
            }
            writing.update(|n| *n = n.saturating_sub(1));
        });
    }

    // ----- definitions -----

    pub fn definition(&self, name: &str) -> Option<PipelineDefinition> {
        self.definitions.with(|all| all.iter().find(|d| d.name == name).cloned())
    }

    /// Saves `definition` (replacing the one with its name) after validating it.
    pub fn put_definition(&self, definition: PipelineDefinition) -> Result<(), String> {
        definition.validate().map_err(|e| e.to_string())?;
        self.scheduler.update_value(|s| s.add_pipeline(&definition));
        self.definitions.update(|all| match all.iter_mut().find(|d| d.name == definition.name) {
            Some(existing) => *existing = definition,
            None => all.push(definition),
        });
        self.save();
        Ok(())
    }

    /// Puts the presets back (simulated city, or the TLC files).
    pub fn reset_presets(&self, files: bool) {
        let presets = if files { file_presets() } else { default_definitions() };
        for definition in presets {
            let _ = self.put_definition(definition);
        }
    }

    pub async fn add_file(&self, name: String, bytes: Vec<u8>) {
        let size = bytes.len();
        self.file_bytes.update_value(|files| {
            files.insert(name.clone(), bytes);
        });
        self.files.update(|files| {
            files.retain(|(n, _)| *n != name);
            files.push((name, size));
        });
    }

    // ----- the clock and the scheduler -----

    fn start_ticking(&self) {
        let pipelines = *self;
        spawn_local(async move {
            let mut last = wall_now();
            loop {
                gloo_timers::future::sleep(std::time::Duration::from_millis(250)).await;
                let now = wall_now();
                let dt = now - last;
                last = now;
                let mut clock = pipelines.clock.get_untracked();
                if clock.running {
                    clock.tick(dt);
                    pipelines.clock.set(clock);
                    pipelines.advance_scheduler(clock.now);
                }
                pipelines.take_alerts();
            }
        });
    }

    fn take_alerts(&self) {
        let inbox = self.inbox.get_value();
        // Until the saved scheduler is read, alerts wait in the inbox: taken earlier, their
        // trigger log entries would be overwritten by the saved log.
        if inbox.is_empty() || !self.loaded.get_untracked() {
            return;
        }
        let now = self.clock.get_untracked().now;
        let fires = self.scheduler.try_update_value(|s| s.take_alerts(&inbox, now)).unwrap_or_default();
        self.enqueue(fires);
    }

    fn advance_scheduler(&self, now: SimTime) {
        let fires = self.scheduler.try_update_value(|s| s.advance_to(now)).unwrap_or_default();
        if !fires.is_empty() {
            self.enqueue(fires);
        }
    }

    pub fn set_running(&self, running: bool) {
        self.clock.update(|c| c.running = running);
        self.save();
    }

    pub fn set_speed(&self, speed: f64) {
        self.clock.update(|c| c.speed = speed);
    }

    /// Moves the clock forward by `seconds`, firing what falls in between.
    pub fn step(&self, seconds: i64) {
        let mut clock = self.clock.get_untracked();
        clock.advance_by(seconds);
        self.clock.set(clock);
        self.advance_scheduler(clock.now);
        self.save();
    }

    /// A manual run of `pipeline`, queued behind the run in progress.
    pub fn run_now(&self, pipeline: &str) {
        let now = self.clock.get_untracked().now;
        match self.scheduler.try_update_value(|s| s.manual(pipeline, now, "started from the pipelines page"))
        {
            Some(Ok(fire)) => self.enqueue(vec![fire]),
            Some(Err(e)) => self.say(Err(e.to_string())),
            None => {}
        }
    }

    pub fn upcoming(&self, pipeline: &str) -> Vec<(String, SimTime, String)> {
        self.scheduler.with_value(|s| s.upcoming(pipeline))
    }

    fn enqueue(&self, fires: Vec<TriggerFire>) {
        self.trigger_log.set(self.scheduler.with_value(|s| s.log.clone()));
        if fires.is_empty() {
            return;
        }
        self.queue.update_value(|queue| queue.extend(fires));
        self.publish_queue();
        self.save();
        self.pump();
    }

    fn publish_queue(&self) {
        self.queued.set(self.queue.with_value(|q| q.iter().map(|f| f.run_id.clone()).collect()));
    }

    // ----- driving a run -----

    pub fn is_running(&self) -> bool {
        self.driver.with_value(Option::is_some)
    }

    /// "Re-run from this block" on a finished run: the run continues in place.
    pub fn rerun_from(&self, run_id: &str, block: &str) {
        if self.is_running() {
            self.say(Err("Wait for the run in progress to finish.".to_string()));
            return;
        }
        let Some(mut run) = self
            .runs
            .with_untracked(|runs| runs.iter().find(|r| r.context.run_id == run_id).map(|r| (**r).clone()))
        else {
            return;
        };
        let now = self.clock.get_untracked().now;
        // After a reload the cache is empty: lost upstream outputs are computed again.
        if let Err(e) = self.cache.with_value(|cache| run.rerun_from_cached(block, now, cache)) {
            self.say(Err(e.to_string()));
            return;
        }
        self.runs.update(|runs| runs.retain(|r| r.context.run_id != run_id));
        self.begin_run(run);
    }

    fn ensure_workers(&self) {
        if self.bridges.with_value(|b| !b.is_empty()) {
            return;
        }
        let mut bridges = Vec::with_capacity(WORKERS);
        for index in 0..WORKERS {
            let pipelines = *self;
            let channel = format!("mlops-lab-pipeline-crash-{}", random_id());
            let url = format!("./worker.js?{CRASH_CHANNEL_PARAM}={channel}");
            let bridge = TrainerWorker::spawner()
                .callback(move |response| pipelines.on_worker(index, response))
                .as_module(false)
                .spawn(&url);
            listen_for_crash(&channel, move |panic| pipelines.on_crash(index, panic));
            bridges.push(bridge);
        }
        self.bridges.set_value(bridges);
    }

    /// A worker panicked (its wasm is gone): its block fails as interrupted (and may
    /// retry), and the pool is started anew for the next block.
    fn on_crash(&self, worker: usize, panic: String) {
        let Some(id) = self.assigned.with_value(|a| a.get(worker).cloned().flatten()) else { return };
        self.bridges.set_value(Vec::new());
        self.ensure_workers();
        let now = self.clock.get_untracked().now;
        let message = format!("the worker stopped ({panic})");
        self.finish_block(&id, Outcome::new(Err(BlockError::Interrupted(message))), now);
        // The other worker's block (if any) was lost with the old pool: interrupted too.
        let others: Vec<(usize, String)> = self.assigned.with_value(|a| {
            a.iter()
                .enumerate()
                .filter(|(i, b)| *i != worker && b.is_some())
                .filter_map(|(i, b)| Some((i, b.clone()?)))
                .collect()
        });
        for (other, block) in others {
            let lost = "the worker pool was restarted".to_string();
            self.finish_block(&block, Outcome::new(Err(BlockError::Interrupted(lost))), now);
            self.assigned.update_value(|a| a[other] = None);
        }
        self.release(worker, &id);
    }

    fn pump(&self) {
        if !self.is_running() {
            let Some(fire) = self.queue.try_update_value(VecDeque::pop_front).flatten() else { return };
            self.publish_queue();
            let Some(definition) = self.definition(&fire.pipeline) else {
                self.say(Err(format!("There is no pipeline `{}` any more.", fire.pipeline)));
                return self.pump();
            };
            let now = self.clock.get_untracked().now;
            match PipelineRun::new(&definition, RunContext::from(&fire), now) {
                Ok(run) => self.begin_run(run),
                Err(e) => {
                    self.say(Err(format!("`{}` cannot run: {e}", fire.pipeline)));
                    self.pump();
                }
            }
            return;
        }
        loop {
            let now = self.clock.get_untracked().now;
            let Some((finished, ready, idle, next_retry)) = self.driver.with_value(|d| {
                d.as_ref().map(|d| {
                    let ready: Vec<String> =
                        d.run.ready(now).into_iter().filter(|id| !d.busy_blocks.contains(id)).collect();
                    (d.run.is_finished(), ready, d.busy_blocks.is_empty(), d.run.next_retry())
                })
            }) else {
                return;
            };
            let in_flight = self.assigned.with_value(|a| a.iter().any(Option::is_some));
            if finished && idle && !in_flight {
                self.end_run();
                return;
            }
            if ready.is_empty() {
                if idle && !in_flight {
                    if let Some(at) = next_retry {
                        // Nothing else to do: the clock jumps to the retry's time.
                        self.clock.update(|c| {
                            c.advance_to(at);
                        });
                        self.advance_scheduler(at);
                        continue;
                    }
                }
                return;
            }
            for id in ready {
                let Some(worker) = self.assigned.with_value(|a| a.iter().position(Option::is_none)) else {
                    return;
                };
                self.assigned.update_value(|a| a[worker] = Some(id.clone()));
                self.driver.update_value(|d| {
                    if let Some(d) = d {
                        d.busy_blocks.insert(id.clone());
                    }
                });
                let pipelines = *self;
                spawn_local(async move { pipelines.launch(id, worker).await });
            }
            return;
        }
    }

    fn begin_run(&self, run: PipelineRun) {
        self.ensure_workers();
        let snapshot = Arc::new(run.clone());
        self.driver.set_value(Some(Driver {
            run,
            parent: None,
            experiment_id: String::new(),
            busy_blocks: HashSet::new(),
            started_at: HashMap::new(),
            wall_started: wall_now(),
        }));
        self.active.set(Some(snapshot.clone()));
        let pipelines = *self;
        spawn_local(async move {
            if let Some(client) = pipelines.client().await {
                match record_start(&client, &snapshot).await {
                    Ok((experiment_id, parent)) => pipelines.driver.update_value(|d| {
                        if let Some(d) = d {
                            d.parent = Some(parent);
                            d.experiment_id = experiment_id;
                        }
                    }),
                    Err(e) => {
                        pipelines.tracking.warning.set(Some(format!("The pipeline run is not recorded: {e}")))
                    }
                }
            }
            pipelines.pump();
        });
    }

    fn publish(&self) {
        let snapshot = self.driver.with_value(|d| d.as_ref().map(|d| Arc::new(d.run.clone())));
        self.active.set(snapshot);
    }

    async fn facts(&self, needs: &Needs, now: SimTime) -> HostFacts {
        let mut facts = HostFacts {
            availability: self.scheduler.with_value(|s| s.availability(now)),
            ..HostFacts::default()
        };
        if let Some(request) = &needs.source {
            let local = |name: &str| self.file_bytes.with_value(|f| f.get(name).cloned());
            let fetched = match request {
                DataRequest::File { name } => match local(name) {
                    Some(bytes) => Some((name.clone(), bytes)),
                    None => fetch_bytes(&format!("data/{name}")).await.ok().map(|b| (name.clone(), b)),
                },
                DataRequest::Catalog { file_name, url, .. } => match local(file_name) {
                    Some(bytes) => Some((file_name.clone(), bytes)),
                    None => match fetch_bytes(&format!("data/{file_name}")).await {
                        Ok(bytes) => Some((file_name.clone(), bytes)),
                        Err(_) => fetch_bytes(url).await.ok().map(|b| (file_name.clone(), b)),
                    },
                },
                DataRequest::Url { url } => fetch_bytes(url).await.ok().map(|b| (url.clone(), b)),
            };
            facts.source =
                fetched.map(|(name, bytes)| mlops_core::pipelines::exec::SourceData { name, bytes });
        }
        if let (Some(reference), Some(client)) = (&needs.model, self.tracking.client()) {
            facts.model = host::load_registered(&client, reference).await.ok().flatten();
        }
        facts
    }

    async fn launch(&self, id: String, worker: usize) {
        let now = self.clock.get_untracked().now;
        let needs = self.driver.with_value(|d| d.as_ref().map(|d| d.run.needs(&id)));
        let Some(Ok(needs)) = needs else {
            self.release(worker, &id);
            return;
        };
        let facts = self.facts(&needs, now).await;
        let now = self.clock.get_untracked().now;
        let started = self.cache.with_value(|cache| {
            self.driver.try_update_value(|d| d.as_mut().map(|d| d.run.start(&id, now, facts, cache)))
        });
        match started.flatten() {
            Some(Ok(Started::Job(job))) => {
                let request = self.cache.with_value(|cache| job.request(cache));
                match request {
                    Ok(request) => {
                        self.driver.update_value(|d| {
                            if let Some(d) = d {
                                d.busy_blocks.remove(&id);
                                d.started_at.insert(id.clone(), now);
                            }
                        });
                        self.workers.update(|w| w[worker] = Some((id.clone(), 0.0)));
                        self.publish();
                        self.bridges.with_value(|b| {
                            if let Some(bridge) = b.get(worker) {
                                bridge.send(Request::RunBlock { request: Box::new(request) });
                            }
                        });
                    }
                    Err(e) => {
                        let outcome = Outcome::new(Err(BlockError::Interrupted(e.to_string())));
                        self.finish_block(&id, outcome, now);
                        self.release(worker, &id);
                    }
                }
            }
            Some(Ok(Started::Cached { .. })) => self.release(worker, &id),
            Some(Err(e)) => {
                self.say(Err(format!("`{id}` could not start: {e}")));
                self.release(worker, &id);
            }
            None => self.release(worker, &id),
        }
    }

    fn release(&self, worker: usize, id: &str) {
        self.assigned.update_value(|a| a[worker] = None);
        self.workers.update(|w| w[worker] = None);
        self.driver.update_value(|d| {
            if let Some(d) = d {
                d.busy_blocks.remove(id);
            }
        });
        self.publish();
        self.pump();
    }

    fn finish_block(&self, id: &str, outcome: Outcome, end: SimTime) {
        let result = self.cache.try_update_value(|cache| {
            self.driver.try_update_value(|d| d.as_mut().map(|d| d.run.finish(id, outcome, end, cache)))
        });
        if let Some(Some(Some(Err(e)))) = result {
            self.say(Err(format!("`{id}` could not finish: {e}")));
        }
    }

    fn on_worker(&self, worker: usize, response: Response) {
        let Some(id) = self.assigned.with_value(|a| a.get(worker).cloned().flatten()) else { return };
        match response {
            Response::Progress { fraction, .. } => {
                self.workers.update(|w| w[worker] = Some((id, fraction)));
            }
            Response::BlockDone(done) => {
                let pipelines = *self;
                self.driver.update_value(|d| {
                    if let Some(d) = d {
                        d.busy_blocks.insert(id.clone());
                    }
                });
                self.assigned.update_value(|a| a[worker] = None);
                self.workers.update(|w| w[worker] = None);
                spawn_local(async move {
                    let done = *done;
                    let (started, target, block) = pipelines
                        .driver
                        .with_value(|d| {
                            d.as_ref().map(|d| {
                                let started = d.started_at.get(&id).copied();
                                let target = d.parent.clone().map(|parent| EffectTarget {
                                    experiment_id: d.experiment_id.clone(),
                                    parent_run_id: Some(parent),
                                    pipeline: d.run.context.pipeline.clone(),
                                    pipeline_run: d.run.context.run_id.clone(),
                                    block: id.clone(),
                                });
                                (started, target, d.run.definition.block(&id).cloned())
                            })
                        })
                        .unwrap_or((None, None, None));
                    let outcome = match done.result {
                        Ok(output) if !output.effects.is_empty() => {
                            let applied = match (pipelines.tracking.client(), target) {
                                (Some(client), Some(target)) => {
                                    host::apply_effects(&client, &target, &output.effects)
                                        .await
                                        .map_err(|e| e.to_string())
                                }
                                _ => Err("the tracking store is not open".to_string()),
                            };
                            match applied {
                                Ok(applied) => Outcome::new(Ok(output)).applied(applied),
                                Err(message) => Outcome::new(Err(BlockError::Effect(message))),
                            }
                        }
                        other => Outcome::new(other),
                    }
                    .wall_seconds(done.seconds);
                    let _ = block;
                    // Simulated time: the block takes its wall seconds (at least one).
                    let now = pipelines.clock.get_untracked().now;
                    let end =
                        started.map_or(now, |s| s.plus_seconds(done.seconds.ceil().max(1.0) as i64)).max(now);
                    pipelines.clock.update(|c| {
                        c.advance_to(end);
                    });
                    pipelines.finish_block(&id, outcome, end);
                    pipelines.driver.update_value(|d| {
                        if let Some(d) = d {
                            d.busy_blocks.remove(&id);
                        }
                    });
                    pipelines.publish();
                    pipelines.pump();
                });
            }
            Response::Failed { message } => {
                let now = self.clock.get_untracked().now;
                self.finish_block(&id, Outcome::new(Err(BlockError::Interrupted(message))), now);
                self.release(worker, &id);
            }
            _ => {}
        }
    }

    fn end_run(&self) {
        let Some(driver) = self.driver.try_update_value(Option::take).flatten() else { return };
        let wall = wall_now() - driver.wall_started;
        let run = Arc::new(driver.run);
        let run_id = run.context.run_id.clone();
        self.active.set(None);
        self.runs.update(|runs| {
            runs.push(run.clone());
            let extra = runs.len().saturating_sub(KEEP_RUNS);
            runs.drain(..extra);
        });
        self.walls.update(|walls| {
            walls.retain(|(id, _)| *id != run_id);
            walls.push((run_id.clone(), wall));
            let extra = walls.len().saturating_sub(KEEP_RUNS * 2);
            walls.drain(..extra);
        });
        // Keep cached outputs only for the runs still shown.
        self.runs.with_untracked(|runs| {
            let kept: Vec<&PipelineRun> = runs.iter().map(|r| r.as_ref()).collect();
            self.cache.update_value(|cache| cache.retain_for(&kept));
        });
        self.say(Ok(format!("`{run_id}` {:?} in {wall:.1} s.", run.status).to_lowercase()));
        // The run history is saved before its tracking records are written, so a reload
        // right after a run ends still finds it.
        self.save();
        let pipelines = *self;
        self.writing.update(|n| *n += 1);
        spawn_local(async move {
            if let (Some(client), Some(parent)) = (pipelines.tracking.client(), driver.parent) {
                if let Err(e) = host::finish_pipeline_run(&client, &driver.experiment_id, &parent, &run).await
                {
                    pipelines
                        .tracking
                        .warning
                        .set(Some(format!("The pipeline run was not fully recorded: {e}")));
                }
                pipelines.last_parent.set(Some(parent));
            }
            pipelines.writing.update(|n| *n = n.saturating_sub(1));
            pipelines.pump();
        });
    }

    /// Empties the output cache, so the next run computes every block (benchmarks).
    pub fn forget_outputs(&self) {
        self.cache.update_value(OutputCache::clear);
    }

    /// The cached output of `block` in `run`, for previews.
    pub fn output_of(
        &self,
        run: &PipelineRun,
        block: &str,
    ) -> Option<mlops_core::pipelines::exec::BlockOutput> {
        let key = run.block(block)?.key.clone()?;
        self.cache.with_value(|cache| cache.get(&key).cloned())
    }
}

/// The experiment for pipeline runs (created once), and the run's parent run.
async fn record_start(client: &Client, run: &PipelineRun) -> Result<(String, String), TrackingError> {
    let experiment_id = match client.get_experiment_by_name(EXPERIMENT).await? {
        Some(experiment) => experiment.experiment_id,
        None => client.create_experiment(EXPERIMENT, &[]).await?,
    };
    let parent = host::start_pipeline_run(client, &experiment_id, run).await?;
    Ok((experiment_id, parent))
}

/// Calls `on_crash` with a worker's panic message, posted by its crash hook.
fn listen_for_crash(channel: &str, on_crash: impl Fn(String) + 'static) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Ok(channel) = web_sys::BroadcastChannel::new(channel) else { return };
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        on_crash(event.data().as_string().unwrap_or_default());
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // Both live as long as the page; a restarted pool listens on new channels.
    on_message.forget();
    std::mem::forget(channel);
}
