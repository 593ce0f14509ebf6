//! A pipeline run as a state machine the host drives.
//!
//! The engine decides; the host does the work and keeps the time. For each run:
//!
//! 1. [`PipelineRun::ready`] lists the blocks that can start now: every input done, or a
//!    retry whose time has come. Several at once means the host may use several workers.
//! 2. For each, the host looks up what [`PipelineRun::needs`] asks (a file's bytes, the
//!    Production model) and calls [`PipelineRun::start`]. If a block with the same
//!    content key already ran, its cached output is reused and nothing else happens;
//!    otherwise the host gets a [`BlockJob`], builds its [`BlockRequest`] from the
//!    [`OutputCache`] and runs it (in a worker, or directly with [`BlockRequest::run`]).
//! 3. The host applies the output's [`Effect`]s to the tracking store and calls
//!    [`PipelineRun::finish`] with the [`Outcome`]. A failure schedules a retry per the
//!    block's policy at a simulated time ([`PipelineRun::next_retry`] says when to wake
//!    up); when the retries run out, the block fails and every block that depends on it
//!    is skipped — its siblings carry on.
//! 4. [`PipelineRun::rerun_from`] restarts a block and everything downstream of it.
//!
//! Every attempt is kept in [`PipelineRun::history`] (start and end on the simulated clock,
//! status, logs, output summaries, rows in and out): the run page's Gantt chart and the
//! nested runs in the tracking store are drawn from it.
//!
//! A block's content key is the SHA-256 of its parameters, the keys of the outputs it
//! reads and the outside facts it depends on (the resolved month, a file's hash, the
//! registered version it compares with). Changing a parameter changes the keys of that
//! block and of everything downstream, and nothing else, so a re-run recomputes exactly
//! what changed. [`drive`] runs a whole pipeline synchronously for native hosts and tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock::{format_duration, SimTime, YearMonth};
use super::definition::{BlockDef, BlockKind, PipelineDefinition};
use super::exec::{
    block_needs, context_fingerprint, is_cacheable, run_block_with, BlockError, BlockInputs, BlockOutput,
    Effect, EffectResult, ExecContext, Hooks, HostFacts, Needs, PortSummary,
};
use super::graph::{self, GraphError, Plan};
use super::schedule::{TriggerFire, TriggerReason};

/// The SHA-256 (hex) naming a block's output by everything that determines it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentKey(pub String);

impl ContentKey {
    /// The first 12 hex digits, for logs.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

/// What a run is for: fixed when it is created, the same for every block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    pub pipeline: String,
    pub run_id: String,
    pub logical_date: SimTime,
    pub trigger: TriggerReason,
    pub newest_month: Option<YearMonth>,
}

impl RunContext {
    /// A run started by hand at `now`, outside any scheduler.
    pub fn manual(pipeline: &str, run_id: &str, now: SimTime) -> Self {
        Self {
            pipeline: pipeline.to_string(),
            run_id: run_id.to_string(),
            logical_date: now,
            trigger: TriggerReason::Manual { note: String::new() },
            newest_month: None,
        }
    }
}

impl From<&TriggerFire> for RunContext {
    fn from(fire: &TriggerFire) -> Self {
        Self {
            pipeline: fire.pipeline.clone(),
            run_id: fire.run_id.clone(),
            logical_date: fire.logical_date,
            trigger: fire.reason.clone(),
            newest_month: fire.newest_month,
        }
    }
}

/// Where a block stands in the run; the DAG view colours nodes by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockStatus {
    /// Waiting for its inputs.
    Pending,
    Running,
    /// Failed; the next attempt is due at `retry_at`.
    WaitingRetry,
    Succeeded,
    /// Succeeded by reusing an earlier output with the same content key.
    Cached,
    /// Failed with no retry left.
    Failed,
    /// Not run because a block it depends on failed.
    Skipped,
    /// A markdown note: never runs.
    Note,
}

impl BlockStatus {
    pub fn is_done(self) -> bool {
        matches!(self, BlockStatus::Succeeded | BlockStatus::Cached)
    }

    /// Whether the block still has work ahead (the run is not over while one does).
    pub fn is_active(self) -> bool {
        matches!(self, BlockStatus::Pending | BlockStatus::Running | BlockStatus::WaitingRetry)
    }

    pub fn name(self) -> &'static str {
        match self {
            BlockStatus::Pending => "pending",
            BlockStatus::Running => "running",
            BlockStatus::WaitingRetry => "waiting to retry",
            BlockStatus::Succeeded => "succeeded",
            BlockStatus::Cached => "cached",
            BlockStatus::Failed => "failed",
            BlockStatus::Skipped => "skipped",
            BlockStatus::Note => "note",
        }
    }
}

/// The current state of one block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockState {
    pub id: String,
    pub kind: BlockKind,
    pub status: BlockStatus,
    /// Attempts made in the current try (1 while the first attempt runs).
    pub attempt: u32,
    /// 1 for the first try; each [`PipelineRun::rerun_from`] that resets it adds one.
    pub try_number: u32,
    /// Attempts in the whole run, across tries (cached reuses not counted).
    pub attempts_in_run: u32,
    pub retry_at: Option<SimTime>,
    /// The key of its output once it succeeded (or of the attempt running).
    pub key: Option<ContentKey>,
    /// The last error, or why it was skipped.
    pub message: Option<String>,
    /// Runs logged by its effects (a trainer's run).
    pub logged_runs: Vec<String>,
    /// Set by `rerun_from` on the block a learner picked: run it even if cached.
    force: bool,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptStatus {
    Running,
    Succeeded,
    Cached,
    Failed,
    Skipped,
}

/// One attempt of one block: a bar of the Gantt chart and a nested run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRunRecord {
    pub block: String,
    pub kind: BlockKind,
    pub try_number: u32,
    pub attempt: u32,
    pub status: AttemptStatus,
    pub started_at: SimTime,
    pub ended_at: Option<SimTime>,
    pub key: Option<ContentKey>,
    pub logs: Vec<String>,
    pub error: Option<String>,
    pub outputs: Vec<PortSummary>,
    pub rows_in: usize,
    pub rows_out: usize,
    /// What the block asked the host to change, in words.
    pub effects: Vec<String>,
    pub applied: Vec<EffectResult>,
    /// When the next attempt is due, for a failure that will be retried.
    pub retry_at: Option<SimTime>,
    /// Wall time the host measured, if it did.
    pub wall_seconds: Option<f64>,
}

impl BlockRunRecord {
    /// Simulated seconds from start to end (0 while running).
    pub fn duration_seconds(&self) -> i64 {
        self.ended_at.map_or(0, |end| end.0 - self.started_at.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
    Succeeded,
    /// Finished with at least one block failed (and its dependants skipped).
    Failed,
}

/// Misuse of the state machine by the host (not a block failing).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EngineError {
    #[error("there is no block `{0}` in this pipeline")]
    UnknownBlock(String),
    #[error("block `{block}` cannot start: it is {status}")]
    NotReady { block: String, status: String },
    #[error("block `{0}` is not running, so it cannot finish")]
    NotRunning(String),
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("the output `{output}` of block `{block}` is no longer in the cache; re-run from `{block}`")]
    OutputGone { block: String, output: String },
    #[error("block `{block}` cannot be re-run while `{running}` is running; wait for it to finish")]
    RerunWhileRunning { block: String, running: String },
    #[error("block `{block}` cannot be re-run: its input block `{upstream}` has not succeeded; re-run from `{upstream}`")]
    RerunBlocked { block: String, upstream: String },
    #[error("block `{0}` is a note; notes never run")]
    NotRunnable(String),
}

/// Block outputs by content key, shared by every run of every pipeline.
///
/// The host keeps one (in the page or a worker). A key's output never changes, so a run
/// reads its inputs from here and a later run reuses what did not change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutputCache {
    entries: BTreeMap<ContentKey, BlockOutput>,
}

impl OutputCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &ContentKey) -> Option<&BlockOutput> {
        self.entries.get(key)
    }

    pub fn contains(&self, key: &ContentKey) -> bool {
        self.entries.contains_key(key)
    }

    pub fn insert(&mut self, key: ContentKey, output: BlockOutput) {
        self.entries.insert(key, output);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Keeps only the outputs the given runs hold (their blocks' current keys), to free
    /// memory when older runs are gone.
    pub fn retain_for(&mut self, runs: &[&PipelineRun]) {
        let keep: Vec<&ContentKey> =
            runs.iter().flat_map(|run| run.blocks.iter().filter_map(|b| b.key.as_ref())).collect();
        self.entries.retain(|key, _| keep.contains(&key));
    }
}

/// One input of a job: which port reads which output, and where it is cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputKey {
    pub port: String,
    pub block: String,
    pub output: String,
    pub key: ContentKey,
}

/// A block attempt the host must run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockJob {
    pub block_id: String,
    pub attempt: u32,
    pub key: ContentKey,
    pub block: BlockDef,
    pub context: ExecContext,
    pub inputs: Vec<InputKey>,
}

impl BlockJob {
    /// Everything the block needs, with its input values copied out of the cache: what
    /// the host posts to a worker.
    pub fn request(&self, cache: &OutputCache) -> Result<BlockRequest, EngineError> {
        let mut inputs = BlockInputs::default();
        for input in &self.inputs {
            let gone =
                || EngineError::OutputGone { block: input.block.clone(), output: input.output.clone() };
            let value =
                cache.get(&input.key).and_then(|output| output.value(&input.output)).ok_or_else(gone)?;
            inputs.values.push((input.port.clone(), value.clone()));
        }
        Ok(BlockRequest { block: self.block.clone(), inputs, context: self.context.clone() })
    }
}

/// A block with its input values and context: self-contained, serialisable, runnable
/// anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRequest {
    pub block: BlockDef,
    pub inputs: BlockInputs,
    pub context: ExecContext,
}

impl BlockRequest {
    pub fn run(&self) -> Result<BlockOutput, BlockError> {
        super::exec::run_block(&self.block, &self.inputs, &self.context)
    }

    pub fn run_with(&self, hooks: &mut Hooks<'_>) -> Result<BlockOutput, BlockError> {
        run_block_with(&self.block, &self.inputs, &self.context, hooks)
    }
}

/// What [`PipelineRun::start`] decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Started {
    /// The output was already in the cache; the block is done.
    Cached { key: ContentKey },
    /// Run this.
    Job(Box<BlockJob>),
}

/// How a block attempt ended, as the host reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: Result<BlockOutput, BlockError>,
    /// What the host got back from applying the output's effects, in order.
    pub applied: Vec<EffectResult>,
    pub wall_seconds: Option<f64>,
}

impl Outcome {
    pub fn new(result: Result<BlockOutput, BlockError>) -> Self {
        Self { result, applied: Vec::new(), wall_seconds: None }
    }

    pub fn applied(mut self, applied: Vec<EffectResult>) -> Self {
        self.applied = applied;
        self
    }

    pub fn wall_seconds(mut self, seconds: f64) -> Self {
        self.wall_seconds = Some(seconds);
        self
    }
}

/// One run of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    pub context: RunContext,
    /// The definition as it was when the run started, so history stays readable after
    /// the pipeline is edited.
    pub definition: PipelineDefinition,
    pub plan: Plan,
    pub created_at: SimTime,
    pub finished_at: Option<SimTime>,
    pub status: RunStatus,
    /// By position in the definition.
    pub blocks: Vec<BlockState>,
    /// Every attempt, in the order they started.
    pub history: Vec<BlockRunRecord>,
}

fn key_of(parts: &serde_json::Value) -> ContentKey {
    let text = parts.to_string();
    ContentKey(Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
}

impl PipelineRun {
    /// A run of `definition` for `context`, created at `now`. Checks the graph first.
    pub fn new(
        definition: &PipelineDefinition,
        context: RunContext,
        now: SimTime,
    ) -> Result<Self, EngineError> {
        let plan = graph::plan(definition)?;
        let blocks = definition
            .blocks
            .iter()
            .map(|block| BlockState {
                id: block.id.clone(),
                kind: block.kind,
                status: if block.kind == BlockKind::Markdown {
                    BlockStatus::Note
                } else {
                    BlockStatus::Pending
                },
                attempt: 0,
                try_number: 1,
                attempts_in_run: 0,
                retry_at: None,
                key: None,
                message: None,
                logged_runs: Vec::new(),
                force: false,
            })
            .collect();
        let mut run = Self {
            context,
            definition: definition.clone(),
            plan,
            created_at: now,
            finished_at: None,
            status: RunStatus::Running,
            blocks,
            history: Vec::new(),
        };
        run.settle(now);
        Ok(run)
    }

    fn index(&self, block: &str) -> Result<usize, EngineError> {
        self.definition
            .blocks
            .iter()
            .position(|b| b.id == block)
            .ok_or_else(|| EngineError::UnknownBlock(block.to_string()))
    }

    pub fn block(&self, block: &str) -> Option<&BlockState> {
        self.blocks.iter().find(|b| b.id == block)
    }

    pub fn status_of(&self, block: &str) -> Option<BlockStatus> {
        self.block(block).map(|b| b.status)
    }

    pub fn is_finished(&self) -> bool {
        self.status != RunStatus::Running
    }

    fn inputs_done(&self, index: usize) -> bool {
        self.plan.upstream[index].iter().all(|&up| self.blocks[up].status.is_done())
    }

    fn can_start(&self, index: usize, now: SimTime) -> bool {
        let block = &self.blocks[index];
        match block.status {
            BlockStatus::Pending => self.inputs_done(index),
            BlockStatus::WaitingRetry => block.retry_at.is_none_or(|at| at <= now),
            _ => false,
        }
    }

    /// The blocks that can start at `now`, in run order.
    pub fn ready(&self, now: SimTime) -> Vec<String> {
        self.plan
            .order
            .iter()
            .filter(|id| self.index(id).is_ok_and(|i| self.can_start(i, now)))
            .cloned()
            .collect()
    }

    /// The retries whose time has come by `now` (a subset of [`Self::ready`]): what to
    /// start when the clock moves.
    pub fn due(&self, now: SimTime) -> Vec<String> {
        self.ready(now)
            .into_iter()
            .filter(|id| self.status_of(id) == Some(BlockStatus::WaitingRetry))
            .collect()
    }

    /// The earliest time a waiting retry becomes due: when the host should wake up.
    pub fn next_retry(&self) -> Option<SimTime> {
        self.blocks.iter().filter(|b| b.status == BlockStatus::WaitingRetry).filter_map(|b| b.retry_at).min()
    }

    /// What the host must look up before starting `block`.
    pub fn needs(&self, block: &str) -> Result<Needs, EngineError> {
        let index = self.index(block)?;
        Ok(block_needs(&self.definition.blocks[index], self.context.logical_date, self.context.newest_month))
    }

    /// The tracking runs a block's effects logged (a trainer's autologged run).
    pub fn logged_runs(&self, block: &str) -> &[String] {
        self.block(block).map_or(&[], |b| b.logged_runs.as_slice())
    }

    fn input_keys(&self, index: usize) -> Vec<InputKey> {
        let block = &self.definition.blocks[index];
        block
            .inputs
            .iter()
            .filter_map(|binding| {
                let up = self.definition.blocks.iter().position(|b| b.id == binding.block)?;
                Some(InputKey {
                    port: binding.port.clone(),
                    block: binding.block.clone(),
                    output: binding.output.clone(),
                    key: self.blocks[up].key.clone()?,
                })
            })
            .collect()
    }

    /// Starts `block` at `now` with the facts the host looked up (see the module docs).
    pub fn start(
        &mut self,
        block: &str,
        now: SimTime,
        facts: HostFacts,
        cache: &OutputCache,
    ) -> Result<Started, EngineError> {
        let index = self.index(block)?;
        let definition = &self.definition.blocks[index];
        if definition.kind == BlockKind::Markdown {
            return Err(EngineError::NotRunnable(block.to_string()));
        }
        if !self.can_start(index, now) {
            let state = &self.blocks[index];
            let status = match (state.status, state.retry_at) {
                (BlockStatus::WaitingRetry, Some(at)) => format!("waiting to retry at {at}"),
                (BlockStatus::Pending, _) => "waiting for its inputs".to_string(),
                (status, _) => status.name().to_string(),
            };
            return Err(EngineError::NotReady { block: block.to_string(), status });
        }
        let attempt = self.blocks[index].attempt + 1;
        let attempt_in_run = self.blocks[index].attempts_in_run + 1;
        let try_number = self.blocks[index].try_number;
        let context = ExecContext {
            pipeline: self.context.pipeline.clone(),
            run_id: self.context.run_id.clone(),
            block_id: block.to_string(),
            attempt,
            attempt_in_run,
            logical_date: self.context.logical_date,
            trigger: self.context.trigger.clone(),
            newest_month: self.context.newest_month,
            facts,
        };
        let inputs = self.input_keys(index);
        let cacheable = is_cacheable(definition);
        let salt = if cacheable {
            String::new()
        } else {
            format!("{}/{block}/{try_number}/{attempt}", self.context.run_id)
        };
        let key = key_of(&serde_json::json!({
            "params": &definition.params,
            "inputs": inputs.iter().map(|i| [&i.port, &i.output, &i.key.0]).collect::<Vec<_>>(),
            "context": context_fingerprint(definition, &context),
            "salt": salt,
        }));
        let state = &mut self.blocks[index];
        state.attempt = attempt;
        state.retry_at = None;
        state.key = Some(key.clone());
        let reuse = cacheable && !state.force && cache.get(&key).is_some();
        let mut record = BlockRunRecord {
            block: block.to_string(),
            kind: definition.kind,
            try_number,
            attempt,
            status: AttemptStatus::Running,
            started_at: now,
            ended_at: None,
            key: Some(key.clone()),
            logs: Vec::new(),
            error: None,
            outputs: Vec::new(),
            rows_in: 0,
            rows_out: 0,
            effects: Vec::new(),
            applied: Vec::new(),
            retry_at: None,
            wall_seconds: None,
        };
        if let (true, Some(cached)) = (reuse, cache.get(&key)) {
            state.status = BlockStatus::Cached;
            state.message = None;
            record.status = AttemptStatus::Cached;
            record.ended_at = Some(now);
            record.logs.push(format!(
                "reused the output of an earlier run (same parameters and inputs, key {})",
                key.short()
            ));
            record.logs.extend(cached.logs.iter().cloned());
            record.outputs = cached.summaries();
            record.rows_in = cached.rows_in;
            record.rows_out = cached.rows_out;
            self.history.push(record);
            self.settle(now);
            return Ok(Started::Cached { key });
        }
        state.status = BlockStatus::Running;
        state.attempts_in_run = attempt_in_run;
        self.history.push(record);
        Ok(Started::Job(Box::new(BlockJob {
            block_id: block.to_string(),
            attempt,
            key,
            block: definition.clone(),
            context,
            inputs,
        })))
    }

    /// Records how a running block's attempt ended (see the module docs). A success is
    /// stored in `cache` under the attempt's key.
    pub fn finish(
        &mut self,
        block: &str,
        outcome: Outcome,
        now: SimTime,
        cache: &mut OutputCache,
    ) -> Result<(), EngineError> {
        let index = self.index(block)?;
        if self.blocks[index].status != BlockStatus::Running {
            return Err(EngineError::NotRunning(block.to_string()));
        }
        let retry = self.definition.blocks[index].retry;
        let record_index = self
            .history
            .iter()
            .rposition(|r| r.block == block && r.status == AttemptStatus::Running)
            .ok_or_else(|| EngineError::NotRunning(block.to_string()))?;
        let state = &mut self.blocks[index];
        let record = &mut self.history[record_index];
        record.ended_at = Some(now);
        record.wall_seconds = outcome.wall_seconds;
        record.applied = outcome.applied.clone();
        match outcome.result {
            Ok(mut output) => {
                for applied in &outcome.applied {
                    if let EffectResult::RunLogged { run_id } = applied {
                        output.attach_run_id(run_id);
                        if !state.logged_runs.contains(run_id) {
                            state.logged_runs.push(run_id.clone());
                        }
                    }
                }
                record.status = AttemptStatus::Succeeded;
                record.logs = output.logs.clone();
                record.logs.extend(outcome.applied.iter().map(EffectResult::describe));
                record.effects = output.effects.iter().map(Effect::describe).collect();
                record.outputs = output.summaries();
                record.rows_in = output.rows_in;
                record.rows_out = output.rows_out;
                state.status = BlockStatus::Succeeded;
                state.message = None;
                state.force = false;
                // The effects were applied; the cache keeps only what downstream reads.
                output.effects.clear();
                if let Some(key) = &state.key {
                    cache.insert(key.clone(), output);
                }
            }
            Err(error) => {
                let message = error.to_string();
                record.status = AttemptStatus::Failed;
                record.error = Some(message.clone());
                state.message = Some(message);
                if retry.allows_another(state.attempt) {
                    let wait = retry.delay_before(state.attempt);
                    let at = now.plus_seconds(i64::try_from(wait).unwrap_or(i64::MAX));
                    state.status = BlockStatus::WaitingRetry;
                    state.retry_at = Some(at);
                    record.retry_at = Some(at);
                    record.logs.push(format!(
                        "attempt {} of {} failed; retrying in {} (at {at})",
                        state.attempt,
                        retry.retries + 1,
                        format_duration(i64::try_from(wait).unwrap_or(i64::MAX)),
                    ));
                } else {
                    state.status = BlockStatus::Failed;
                    record.logs.push(if retry.retries == 0 {
                        "failed; the block has no retries".to_string()
                    } else {
                        format!("failed after {} attempts; giving up", state.attempt)
                    });
                }
            }
        }
        self.settle(now);
        Ok(())
    }

    /// Restarts `block` and every block downstream of it (see the module docs); `block`
    /// itself runs again even if its output is cached. The blocks reset, in run order.
    pub fn rerun_from(&mut self, block: &str, now: SimTime) -> Result<Vec<String>, EngineError> {
        let index = self.index(block)?;
        self.rerun(index, &[], now)
    }

    /// [`PipelineRun::rerun_from`] for a host whose cache may have lost outputs: a reload
    /// empties it, and [`OutputCache::retain_for`] trims it. The blocks upstream whose
    /// outputs `cache` no longer holds run again too (and so do their own upstream blocks
    /// with lost outputs), so `block` gets its inputs instead of failing with
    /// [`EngineError::OutputGone`]. With every output still cached it resets exactly what
    /// `rerun_from` resets.
    pub fn rerun_from_cached(
        &mut self,
        block: &str,
        now: SimTime,
        cache: &OutputCache,
    ) -> Result<Vec<String>, EngineError> {
        let index = self.index(block)?;
        let mut lost = Vec::new();
        let mut seen = vec![false; self.blocks.len()];
        let mut stack = vec![index];
        while let Some(node) = stack.pop() {
            for &up in &self.plan.upstream[node] {
                if std::mem::replace(&mut seen[up], true) || self.blocks[up].kind == BlockKind::Markdown {
                    continue;
                }
                if !self.blocks[up].key.as_ref().is_some_and(|key| cache.contains(key)) {
                    lost.push(up);
                    stack.push(up);
                }
            }
        }
        self.rerun(index, &lost, now)
    }

    /// Resets `index` (forced past the cache) and `also` (not forced), with everything
    /// downstream of them.
    fn rerun(&mut self, index: usize, also: &[usize], now: SimTime) -> Result<Vec<String>, EngineError> {
        let block = self.blocks[index].id.clone();
        if self.blocks[index].kind == BlockKind::Markdown {
            return Err(EngineError::NotRunnable(block));
        }
        let mut reset: Vec<usize> = Vec::new();
        for &root in std::iter::once(&index).chain(also) {
            for i in std::iter::once(root).chain(self.plan.descendants(root)) {
                if !reset.contains(&i) {
                    reset.push(i);
                }
            }
        }
        if let Some(&busy) = reset.iter().find(|&&i| self.blocks[i].status == BlockStatus::Running) {
            return Err(EngineError::RerunWhileRunning { block, running: self.blocks[busy].id.clone() });
        }
        let blocked = std::iter::once(&index)
            .chain(also)
            .flat_map(|&root| self.plan.upstream[root].iter().copied())
            .find(|up| !reset.contains(up) && !self.blocks[*up].status.is_done());
        if let Some(up) = blocked {
            return Err(EngineError::RerunBlocked { block, upstream: self.blocks[up].id.clone() });
        }
        for &i in &reset {
            let state = &mut self.blocks[i];
            state.status = BlockStatus::Pending;
            state.attempt = 0;
            state.try_number += 1;
            state.retry_at = None;
            state.key = None;
            state.message = None;
            state.force = i == index;
        }
        self.status = RunStatus::Running;
        self.finished_at = None;
        self.settle(now);
        Ok(self
            .plan
            .order
            .iter()
            .filter(|id| self.index(id).is_ok_and(|i| reset.contains(&i)))
            .cloned()
            .collect())
    }

    /// Skips what can no longer run and closes the run when nothing is left to do.
    fn settle(&mut self, now: SimTime) {
        for id in self.plan.order.clone() {
            let Ok(index) = self.index(&id) else { continue };
            if self.blocks[index].status != BlockStatus::Pending {
                continue;
            }
            let blocked = self.plan.upstream[index]
                .iter()
                .find(|&&up| matches!(self.blocks[up].status, BlockStatus::Failed | BlockStatus::Skipped));
            if let Some(&up) = blocked {
                let upstream = &self.blocks[up];
                let why = if upstream.status == BlockStatus::Failed {
                    format!("skipped: the block it depends on, `{}`, failed", upstream.id)
                } else {
                    format!("skipped: the block it depends on, `{}`, was skipped", upstream.id)
                };
                let state = &mut self.blocks[index];
                state.status = BlockStatus::Skipped;
                state.message = Some(why.clone());
                self.history.push(BlockRunRecord {
                    block: id.clone(),
                    kind: state.kind,
                    try_number: state.try_number,
                    attempt: 0,
                    status: AttemptStatus::Skipped,
                    started_at: now,
                    ended_at: Some(now),
                    key: None,
                    logs: vec![why.clone()],
                    error: Some(why),
                    outputs: Vec::new(),
                    rows_in: 0,
                    rows_out: 0,
                    effects: Vec::new(),
                    applied: Vec::new(),
                    retry_at: None,
                    wall_seconds: None,
                });
            }
        }
        if self.blocks.iter().any(|b| b.status.is_active()) {
            self.status = RunStatus::Running;
            self.finished_at = None;
            return;
        }
        let failed =
            self.blocks.iter().any(|b| matches!(b.status, BlockStatus::Failed | BlockStatus::Skipped));
        self.status = if failed { RunStatus::Failed } else { RunStatus::Succeeded };
        if self.finished_at.is_none() {
            self.finished_at = Some(now);
        }
    }

    /// The attempts of one block, oldest first.
    pub fn attempts(&self, block: &str) -> Vec<&BlockRunRecord> {
        self.history.iter().filter(|r| r.block == block).collect()
    }

    /// Simulated seconds from creation to the end (or to `now` while running).
    pub fn duration_seconds(&self, now: SimTime) -> i64 {
        self.finished_at.unwrap_or(now).0 - self.created_at.0
    }
}

/// What a synchronous host provides to [`drive`].
pub trait Host {
    /// Looks up what a block needs: a file's bytes, a registered model, the newest month.
    /// A missing file is simply left out; the block then fails and says which file.
    fn facts(&mut self, block: &BlockDef, needs: &Needs, now: SimTime) -> HostFacts;

    /// Applies a block's effects in order and reports each result, or says why it could
    /// not (the block then fails and may retry).
    fn apply(
        &mut self,
        run: &RunContext,
        block: &BlockDef,
        effects: &[Effect],
    ) -> Result<Vec<EffectResult>, String>;

    /// Simulated seconds one wave of blocks takes (the Gantt chart's bar length).
    fn block_seconds(&self) -> i64 {
        1
    }

    /// Runs one block. In this thread by default; a test can send the request through
    /// the worker bridge's codec instead, as the page does.
    fn run(&mut self, request: &BlockRequest) -> Result<BlockOutput, BlockError> {
        request.run()
    }
}

/// Runs `run` to its end on one thread: each wave of ready blocks starts together, takes
/// [`Host::block_seconds`] of simulated time, and the clock jumps to the next retry when
/// nothing is ready. Returns the simulated time at the end.
pub fn drive<H: Host>(
    run: &mut PipelineRun,
    cache: &mut OutputCache,
    host: &mut H,
    mut now: SimTime,
) -> Result<SimTime, EngineError> {
    while !run.is_finished() {
        let ready = run.ready(now);
        if ready.is_empty() {
            match run.next_retry() {
                Some(at) => {
                    now = now.max(at);
                    continue;
                }
                // Nothing ready and nothing waiting: every block is done or skipped.
                None => break,
            }
        }
        let mut jobs = Vec::new();
        for id in &ready {
            let needs = run.needs(id)?;
            let index = run.index(id)?;
            let facts = host.facts(&run.definition.blocks[index], &needs, now);
            if let Started::Job(job) = run.start(id, now, facts, cache)? {
                jobs.push(job);
            }
        }
        if jobs.is_empty() {
            continue;
        }
        let end = now.plus_seconds(host.block_seconds().max(0));
        for job in jobs {
            let request = job.request(cache)?;
            let result = host.run(&request);
            let outcome = match result {
                Ok(output) if !output.effects.is_empty() => {
                    match host.apply(&run.context, &job.block, &output.effects) {
                        Ok(applied) => Outcome::new(Ok(output)).applied(applied),
                        Err(message) => Outcome::new(Err(BlockError::Effect(message))),
                    }
                }
                other => Outcome::new(other),
            };
            run.finish(&job.block_id, outcome, end, cache)?;
        }
        now = end;
    }
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::{
        BlockParams, DurationFilterParams, MarkdownParams, MonthRef, SimulatedSource,
    };

    fn pipeline(loader_id: &str) -> PipelineDefinition {
        let mut definition = PipelineDefinition::new("keys", "");
        let month = MonthRef::month(2021, 1).expect("a month");
        definition.blocks = vec![
            BlockDef::new(loader_id, BlockParams::Simulated(SimulatedSource::new(month, 300))),
            BlockDef::new("filter", BlockParams::DurationFilter(DurationFilterParams::default()))
                .input("trips", loader_id, "trips"),
            BlockDef::new("note", BlockParams::Markdown(MarkdownParams { text: "why".into() })),
        ];
        definition
    }

    fn run_to_end(definition: &PipelineDefinition, cache: &mut OutputCache) -> PipelineRun {
        let now = SimTime(0);
        let mut run =
            PipelineRun::new(definition, RunContext::manual("keys", "keys#1", now), now).expect("valid");
        while let Some(id) = run.ready(now).first().cloned() {
            match run.start(&id, now, HostFacts::default(), cache).expect("starts") {
                Started::Cached { .. } => {}
                Started::Job(job) => {
                    let result = job.request(cache).expect("inputs").run();
                    run.finish(&id, Outcome::new(result).wall_seconds(0.5), now, cache).expect("finishes");
                }
            }
        }
        run
    }

    #[test]
    fn keys_depend_on_what_a_block_computes_not_on_block_names() {
        let mut cache = OutputCache::new();
        let first = run_to_end(&pipeline("load"), &mut cache);
        let renamed = run_to_end(&pipeline("load_january"), &mut cache);
        assert_eq!(first.blocks[0].key, renamed.blocks[0].key);
        assert_eq!(first.blocks[1].key, renamed.blocks[1].key);
        assert_eq!(renamed.status_of("filter"), Some(BlockStatus::Cached));
        assert_eq!(cache.len(), 2);
        assert_eq!(first.history[0].wall_seconds, Some(0.5));
        let key = first.blocks[0].key.clone().expect("a key");
        assert_eq!((key.0.len(), key.short().len()), (64, 12));
    }

    #[test]
    fn notes_never_run_and_do_not_hold_a_run_open() {
        let mut cache = OutputCache::new();
        let run = run_to_end(&pipeline("load"), &mut cache);
        assert_eq!(run.status, RunStatus::Succeeded);
        assert_eq!(run.status_of("note"), Some(BlockStatus::Note));
        assert!(run.attempts("note").is_empty());
        let mut again = run.clone();
        assert_eq!(again.rerun_from("note", SimTime(1)), Err(EngineError::NotRunnable("note".into())));
        let mut only_notes = PipelineDefinition::new("notes", "");
        only_notes.blocks =
            vec![BlockDef::new("note", BlockParams::Markdown(MarkdownParams { text: String::new() }))];
        let run =
            PipelineRun::new(&only_notes, RunContext::manual("notes", "notes#1", SimTime(5)), SimTime(5))
                .expect("valid");
        assert_eq!((run.status, run.finished_at), (RunStatus::Succeeded, Some(SimTime(5))));
    }

    /// Runs every ready block of `run` at `now` until none is left.
    fn finish_at(run: &mut PipelineRun, cache: &mut OutputCache, now: SimTime) {
        while let Some(id) = run.ready(now).first().cloned() {
            match run.start(&id, now, HostFacts::default(), cache).expect("starts") {
                Started::Cached { .. } => {}
                Started::Job(job) => {
                    let result = job.request(cache).expect("inputs").run();
                    run.finish(&id, Outcome::new(result), now, cache).expect("finishes");
                }
            }
        }
    }

    /// Regression: the page's cache is empty after a reload, and "re-run from this block"
    /// on a downstream block failed every attempt with `OutputGone` (its input was lost).
    #[test]
    fn a_rerun_after_the_cache_was_lost_recomputes_the_lost_upstream_blocks() {
        let mut definition = pipeline("load");
        definition.blocks.push(
            BlockDef::new("filter_again", BlockParams::DurationFilter(DurationFilterParams::default()))
                .input("trips", "filter", "trips"),
        );
        let mut cache = OutputCache::new();
        let finished = run_to_end(&definition, &mut cache);
        assert_eq!(finished.status, RunStatus::Succeeded);
        let later = SimTime(60);

        // Everything still cached: the same blocks as `rerun_from`.
        let mut kept = finished.clone();
        assert_eq!(kept.rerun_from_cached("filter_again", later, &cache).expect("resets"), ["filter_again"]);

        // After a reload `rerun_from` alone leaves the block without its input…
        let mut lost = OutputCache::new();
        let mut plain = finished.clone();
        plain.rerun_from("filter_again", later).expect("resets");
        let Ok(Started::Job(job)) = plain.start("filter_again", later, HostFacts::default(), &lost) else {
            panic!("a job to run")
        };
        assert!(matches!(job.request(&lost), Err(EngineError::OutputGone { .. })));

        // …so the blocks whose outputs are gone run again first, and the run finishes with
        // the same outputs as before.
        let mut rerun = finished.clone();
        let reset = rerun.rerun_from_cached("filter_again", later, &lost).expect("resets");
        assert_eq!(reset, ["load", "filter", "filter_again"]);
        finish_at(&mut rerun, &mut lost, later);
        assert_eq!(rerun.status, RunStatus::Succeeded);
        assert_eq!(rerun.status_of("load"), Some(BlockStatus::Succeeded));
        let keys = |run: &PipelineRun| run.blocks.iter().map(|b| b.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&rerun), keys(&finished));

        // Only what is lost runs again: with the loader's output kept, the loader stays.
        let mut partial = OutputCache::new();
        let load_key = finished.blocks[0].key.clone().expect("a key");
        partial.insert(load_key.clone(), cache.get(&load_key).cloned().expect("cached"));
        let mut third = finished.clone();
        let reset = third.rerun_from_cached("filter_again", later, &partial).expect("resets");
        assert_eq!(reset, ["filter", "filter_again"]);
        assert_eq!(third.status_of("load"), Some(BlockStatus::Succeeded));
    }

    #[test]
    fn the_cache_can_be_trimmed_to_the_runs_kept() {
        let mut cache = OutputCache::new();
        let first = run_to_end(&pipeline("load"), &mut cache);
        let mut other = pipeline("load");
        other.blocks[1].params =
            BlockParams::DurationFilter(DurationFilterParams { min_minutes: 2.0, max_minutes: 30.0 });
        let second = run_to_end(&other, &mut cache);
        assert_eq!(cache.len(), 3);
        cache.retain_for(&[&second]);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(first.blocks[1].key.as_ref().expect("key")).is_none());
    }
}
