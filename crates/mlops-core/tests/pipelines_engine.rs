//! The pipeline engine of Chapter 3, natively: graph checks, order and waves, parallel
//! readiness, caching, retries on the simulated clock, failures and re-runs, schedules and
//! triggers, hostile files, and the course's three pipelines end to end against a real
//! tracking store (in memory) — on the simulated city, and on the TLC files when present.

mod common;

use std::collections::BTreeMap;

use futures::executor::block_on;
use mlops_core::features::{prepare_trips, FeatureSet};
use mlops_core::metrics::regression_metrics;
use mlops_core::models::{ModelKind, ModelParams};
use mlops_core::monitoring::alerts::{AlertEvent, RetrainHook};
use mlops_core::pipelines::clock::{SimTime, YearMonth};
use mlops_core::pipelines::definition::{
    self, BlockDef, BlockParams, DefinitionError, DurationFilterParams, EvaluateParams, FeaturesParams, Gate,
    GateMetric, ModelRef, MonthRef, NewDataParams, PipelineDefinition, RegisterParams, RetryPolicy,
    SimulatedSource, TrainParams,
};
use mlops_core::pipelines::engine::{
    drive, AttemptStatus, BlockStatus, EngineError, Host, Outcome, OutputCache, PipelineRun, RunContext,
    RunStatus, Started,
};
use mlops_core::pipelines::exec::{
    Availability, BlockError, Decision, Effect, EffectResult, HostFacts, Needs, RegisteredModelData, Value,
};
use mlops_core::pipelines::graph::{self, GraphError};
use mlops_core::pipelines::host::{
    apply_effects, finish_pipeline_run, load_registered, start_pipeline_run, EffectTarget, PIPELINE_RUN_TAG,
};
use mlops_core::pipelines::presets::{self, PresetData, PresetOptions, REGISTERED_MODEL};
use mlops_core::pipelines::schedule::{AlertInbox, DataRelease, Scheduler, TriggerFire, TriggerReason};
use mlops_core::tracking::client::TrackingClient;
use mlops_core::tracking::contract::TestEnv;
use mlops_core::tracking::memory::MemoryKv;
use mlops_core::tracking::registry::Stage;
use mlops_core::tracking::{tags, ViewType, DEFAULT_EXPERIMENT_ID};
use mlops_core::training::Estimator;

fn at(text: &str) -> SimTime {
    SimTime::parse(text).expect("a valid time")
}

fn linear() -> Estimator {
    Estimator::Linear(ModelParams::new(ModelKind::LinearRegression))
}

fn loader(id: &str, year: i32, month: u32, trips: usize) -> BlockDef {
    let month = MonthRef::month(year, month).expect("a month");
    BlockDef::new(id, BlockParams::Simulated(SimulatedSource::new(month, trips)))
}

fn filter(id: &str, from: &str) -> BlockDef {
    BlockDef::new(id, BlockParams::DurationFilter(DurationFilterParams::default()))
        .input("trips", from, "trips")
}

/// The training pipeline with two linear models on small simulated months: every engine
/// behaviour, in well under a second.
fn small_pipeline() -> PipelineDefinition {
    let mut definition = PipelineDefinition::new("small", "");
    definition.blocks = vec![
        loader("load_jan", 2021, 1, 2_000),
        loader("load_feb", 2021, 2, 2_000),
        filter("prepare_jan", "load_jan"),
        filter("prepare_feb", "load_feb"),
        BlockDef::new("vectorize", BlockParams::Features(FeaturesParams { feature_set: FeatureSet::PuDo }))
            .input("train", "prepare_jan", "trips")
            .input("val", "prepare_feb", "trips"),
        BlockDef::new(
            "train_linear",
            BlockParams::Train(TrainParams { estimator: linear(), run_name: None }),
        )
        .input("training_set", "vectorize", "training_set"),
        BlockDef::new(
            "train_ridge",
            BlockParams::Train(TrainParams {
                estimator: Estimator::Linear(ModelParams::new(ModelKind::Ridge).alpha(1.0)),
                run_name: None,
            }),
        )
        .input("training_set", "vectorize", "training_set"),
        BlockDef::new("evaluate", BlockParams::Evaluate(EvaluateParams::default_gate()))
            .input("candidates", "train_linear", "model")
            .input("candidates", "train_ridge", "model")
            .input("dataset", "prepare_feb", "trips"),
        BlockDef::new(
            "register",
            BlockParams::RegisterModel(RegisterParams {
                model: "small-model".into(),
                promote_to: None,
                only_if_better: false,
                archive_existing: true,
            }),
        )
        .input("model", "evaluate", "best"),
    ];
    definition
}

/// A host with an empty registry that accepts every effect with made-up ids.
#[derive(Default)]
struct NullHost {
    applied: Vec<String>,
}

impl Host for NullHost {
    fn facts(&mut self, _: &BlockDef, _: &Needs, _: SimTime) -> HostFacts {
        HostFacts::default()
    }

    fn apply(
        &mut self,
        run: &RunContext,
        block: &BlockDef,
        effects: &[Effect],
    ) -> Result<Vec<EffectResult>, String> {
        Ok(effects
            .iter()
            .map(|effect| {
                self.applied.push(format!("{}/{}: {}", run.run_id, block.id, effect.describe()));
                match effect {
                    Effect::LogTrainingRun { .. } => {
                        EffectResult::RunLogged { run_id: format!("run-{}", self.applied.len()) }
                    }
                    Effect::RegisterModel { model, .. } => {
                        EffectResult::Registered { model: model.clone(), version: 1 }
                    }
                    Effect::MoveRegistered { model, target, .. } => {
                        EffectResult::Moved { model: model.clone(), version: 1, target: target.to_string() }
                    }
                    Effect::WriteFile { path, .. } => EffectResult::Written { path: path.clone() },
                }
            })
            .collect())
    }
}

fn manual(definition: &PipelineDefinition, run_id: &str, now: SimTime) -> PipelineRun {
    PipelineRun::new(definition, RunContext::manual(&definition.name, run_id, now), now)
        .expect("a valid pipeline")
}

fn run_small(definition: &PipelineDefinition, cache: &mut OutputCache, run_id: &str) -> PipelineRun {
    let now = at("2021-03-01 09:00");
    let mut run = manual(definition, run_id, now);
    drive(&mut run, cache, &mut NullHost::default(), now).expect("drives");
    run
}

fn statuses(run: &PipelineRun) -> BTreeMap<String, BlockStatus> {
    run.blocks.iter().map(|b| (b.id.clone(), b.status)).collect()
}

fn ids_with(run: &PipelineRun, status: BlockStatus) -> Vec<String> {
    run.blocks.iter().filter(|b| b.status == status).map(|b| b.id.clone()).collect()
}

fn output<'a>(run: &PipelineRun, cache: &'a OutputCache, block: &str, port: &str) -> &'a Value {
    let key = run.block(block).and_then(|b| b.key.as_ref()).expect("the block has run");
    cache.get(key).and_then(|o| o.value(port)).expect("the output is cached")
}

fn decision_of(run: &PipelineRun, cache: &OutputCache, block: &str) -> Decision {
    match output(run, cache, block, "decision") {
        Value::Decision(decision) => decision.clone(),
        other => panic!("not a decision: {other:?}"),
    }
}

// ----- graph validation -----

#[test]
fn graph_errors_name_both_ends_of_the_edge() {
    let check = |edit: &dyn Fn(&mut PipelineDefinition), expected: &str| {
        let mut definition = small_pipeline();
        edit(&mut definition);
        let problems = graph::problems(&definition);
        assert!(!problems.is_empty(), "expected: {expected}");
        assert_eq!(problems[0].to_string(), expected);
        let error = definition.validate().expect_err("refused");
        assert!(matches!(error, DefinitionError::Graph(_) | DefinitionError::DuplicateId { .. }), "{error}");
    };
    check(
        &|d| d.blocks[5].inputs[0].block = "vectorise".into(),
        "block `train_linear` input `training_set` reads `vectorise.training_set`, but there is no block `vectorise`",
    );
    check(
        &|d| d.blocks[5].inputs[0].output = "matrix".into(),
        "block `train_linear` input `training_set` reads `vectorize.matrix`, but `vectorize` has no output `matrix`; \
         its outputs: `training_set`",
    );
    check(
        &|d| d.blocks[5].inputs[0].port = "data".into(),
        "block `train_linear` has no input `data`; its inputs: `training_set`",
    );
    check(
        &|d| {
            d.blocks[5].inputs[0].block = "prepare_jan".into();
            d.blocks[5].inputs[0].output = "trips".into();
        },
        "block `train_linear` input `training_set` takes TrainingSet, but `prepare_jan.trips` gives Trips",
    );
    check(
        &|d| d.blocks[4].inputs.truncate(1),
        "block `vectorize` needs input `val` (Trips), but nothing is connected to it",
    );
    check(
        &|d| {
            let extra = d.blocks[4].inputs[0].clone();
            d.blocks[4].inputs.push(extra);
        },
        "block `vectorize` input `train` takes at most 1 connection, but has 2",
    );
    check(
        &|d| {
            let copy = d.blocks[0].clone();
            d.blocks.push(copy);
        },
        "two blocks are called `load_jan`; ids must be unique",
    );
    check(
        &|d| {
            if let BlockParams::RegisterModel(params) = &mut d.blocks[8].params {
                params.only_if_better = true;
            }
        },
        "block `register` needs input `decision` (Decision), but nothing is connected to it",
    );
    // A cycle through three blocks, reported in data-flow order.
    let mut definition = small_pipeline();
    definition.blocks[2].inputs[0] = definition::InputBinding {
        port: "trips".into(),
        block: "prepare_feb".into(),
        output: "trips".into(),
    };
    definition.blocks[3].inputs[0] = definition::InputBinding {
        port: "trips".into(),
        block: "prepare_jan".into(),
        output: "trips".into(),
    };
    assert_eq!(
        graph::plan(&definition).expect_err("a cycle").to_string(),
        "the pipeline has a cycle: prepare_jan → prepare_feb → prepare_jan; a block cannot depend on its own output"
    );
    assert!(matches!(
        PipelineRun::new(&definition, RunContext::manual("small", "x", SimTime(0)), SimTime(0)),
        Err(EngineError::Graph(GraphError::Cycle { .. }))
    ));
}

// ----- order, waves and parallel readiness -----

#[test]
fn independent_blocks_are_ready_together_and_run_in_waves() {
    let definition = small_pipeline();
    let plan = graph::plan(&definition).expect("valid");
    assert_eq!(
        plan.waves,
        vec![
            vec!["load_jan", "load_feb"],
            vec!["prepare_jan", "prepare_feb"],
            vec!["vectorize"],
            vec!["train_linear", "train_ridge"],
            vec!["evaluate"],
            vec!["register"],
        ]
    );
    let t0 = at("2021-03-01 09:00");
    let mut run = manual(&definition, "small#1", t0);
    let mut cache = OutputCache::new();
    assert_eq!(run.ready(t0), ["load_jan", "load_feb"]);
    // Two workers: both loaders start before either finishes.
    let mut jobs = Vec::new();
    for id in run.ready(t0) {
        match run.start(&id, t0, HostFacts::default(), &cache).expect("starts") {
            Started::Job(job) => jobs.push(job),
            Started::Cached { .. } => panic!("nothing is cached yet"),
        }
    }
    assert_eq!(ids_with(&run, BlockStatus::Running), ["load_jan", "load_feb"]);
    assert!(run.ready(t0).is_empty(), "nothing else can start while the loaders run");
    assert!(matches!(
        run.start("vectorize", t0, HostFacts::default(), &cache),
        Err(EngineError::NotReady { .. })
    ));
    // They finish in the other order; the wave after them is then ready as a whole.
    for job in jobs.into_iter().rev() {
        let result = job.request(&cache).expect("inputs").run();
        run.finish(&job.block_id, Outcome::new(result), t0.plus_seconds(3), &mut cache).expect("finishes");
    }
    assert_eq!(run.ready(t0.plus_seconds(3)), ["prepare_jan", "prepare_feb"]);
    let end = drive(&mut run, &mut cache, &mut NullHost::default(), t0.plus_seconds(3)).expect("drives");
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(end, t0.plus_seconds(3 + 5), "five more waves of one second");
    // Both trainers ran in the same wave: same start, same end.
    let (linear, ridge) = (&run.attempts("train_linear")[0], &run.attempts("train_ridge")[0]);
    assert_eq!((linear.started_at, linear.ended_at), (ridge.started_at, ridge.ended_at));
    assert!(linear.outputs.iter().any(|o| o.port == "model" && o.headline.contains("val RMSE")));
    let load = &run.attempts("load_jan")[0];
    assert_eq!((load.rows_in, load.rows_out), (0, 2_000));
    assert_eq!(run.attempts("prepare_jan")[0].rows_in, 2_000);
}

// ----- caching -----

#[test]
fn a_second_run_reuses_every_output_and_exporters_still_run() {
    let definition = small_pipeline();
    let mut cache = OutputCache::new();
    let first = run_small(&definition, &mut cache, "small#1");
    assert_eq!(first.status, RunStatus::Succeeded);
    assert!(ids_with(&first, BlockStatus::Cached).is_empty());
    let second = run_small(&definition, &mut cache, "small#2");
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!(
        ids_with(&second, BlockStatus::Cached),
        [
            "load_jan",
            "load_feb",
            "prepare_jan",
            "prepare_feb",
            "vectorize",
            "train_linear",
            "train_ridge",
            "evaluate"
        ]
    );
    assert_eq!(ids_with(&second, BlockStatus::Succeeded), ["register"], "side effects are never cached");
    for (a, b) in first.blocks.iter().zip(&second.blocks).filter(|(a, _)| a.id != "register") {
        assert_eq!(a.key, b.key, "{}", a.id);
    }
    let cached = &second.attempts("train_linear")[0];
    assert_eq!(cached.status, AttemptStatus::Cached);
    assert!(cached.logs[0].starts_with("reused the output of an earlier run"));
    assert!(cached.logs.iter().any(|l| l.contains("validation RMSE")), "the original logs are kept");
}

#[test]
fn changing_a_parameter_recomputes_exactly_its_dependants() {
    let mut cache = OutputCache::new();
    let before = run_small(&small_pipeline(), &mut cache, "small#1");
    let mut changed = small_pipeline();
    changed.blocks[3].params =
        BlockParams::DurationFilter(DurationFilterParams { min_minutes: 1.0, max_minutes: 50.0 });
    let after = run_small(&changed, &mut cache, "small#2");
    assert_eq!(ids_with(&after, BlockStatus::Cached), ["load_jan", "load_feb", "prepare_jan"]);
    assert_eq!(
        ids_with(&after, BlockStatus::Succeeded),
        ["prepare_feb", "vectorize", "train_linear", "train_ridge", "evaluate", "register"]
    );
    let changed_keys: Vec<&str> = before
        .blocks
        .iter()
        .zip(&after.blocks)
        .filter(|(a, b)| a.key != b.key)
        .map(|(a, _)| a.id.as_str())
        .collect();
    assert_eq!(
        changed_keys,
        ["prepare_feb", "vectorize", "train_linear", "train_ridge", "evaluate", "register"]
    );
    // Retry policies, descriptions and names of upstream blocks do not change outputs.
    let mut cosmetic = changed.clone();
    cosmetic.blocks[0].retry.retries = 7;
    cosmetic.blocks[0].description = "January".into();
    let again = run_small(&cosmetic, &mut cache, "small#3");
    assert_eq!(ids_with(&again, BlockStatus::Succeeded), ["register"]);
}

#[test]
fn rerun_from_a_downstream_block_keeps_everything_upstream() {
    let definition = small_pipeline();
    let mut cache = OutputCache::new();
    let mut run = run_small(&definition, &mut cache, "small#1");
    let attempts_before = run.history.len();
    let later = at("2021-03-01 10:00");
    let reset = run.rerun_from("evaluate", later).expect("re-runs");
    assert_eq!(reset, ["evaluate", "register"]);
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.ready(later), ["evaluate"], "upstream stays done");
    drive(&mut run, &mut cache, &mut NullHost::default(), later).expect("drives");
    assert_eq!(run.status, RunStatus::Succeeded);
    let new: Vec<(&str, AttemptStatus, u32)> =
        run.history[attempts_before..].iter().map(|r| (r.block.as_str(), r.status, r.try_number)).collect();
    assert_eq!(
        new,
        [("evaluate", AttemptStatus::Succeeded, 2), ("register", AttemptStatus::Succeeded, 2)],
        "the picked block runs again even though its output is cached"
    );
}

// ----- retries on the simulated clock -----

#[test]
fn retries_wait_1_2_4_seconds_capped_by_max_delay() {
    let mut definition = small_pipeline();
    definition.blocks[0].fail_first_n_attempts = 4;
    definition.blocks[0].retry =
        RetryPolicy { retries: 5, delay: 1, max_delay: 3, exponential_backoff: true };
    let t0 = at("2021-03-01 09:00");
    let mut run = manual(&definition, "small#1", t0);
    let mut cache = OutputCache::new();
    let mut now = t0;
    let mut waits = Vec::new();
    for attempt in 1..=4 {
        let Started::Job(job) = run.start("load_jan", now, HostFacts::default(), &cache).expect("starts")
        else {
            panic!("a job")
        };
        assert_eq!(job.attempt, attempt);
        let result = job.request(&cache).expect("inputs").run();
        assert_eq!(result, Err(BlockError::Injected { attempt, of: 4 }));
        run.finish("load_jan", Outcome::new(result), now, &mut cache).expect("finishes");
        assert_eq!(run.status_of("load_jan"), Some(BlockStatus::WaitingRetry));
        let due = run.next_retry().expect("a retry is scheduled");
        waits.push(due.0 - now.0);
        assert!(run.due(due.plus_seconds(-1)).is_empty(), "not due a second early");
        assert!(!run.ready(due.plus_seconds(-1)).contains(&"load_jan".to_string()));
        assert_eq!(run.due(due), ["load_jan"]);
        assert!(matches!(
            run.start("load_jan", due.plus_seconds(-1), HostFacts::default(), &cache),
            Err(EngineError::NotReady { .. })
        ));
        now = due;
    }
    assert_eq!(waits, [1, 2, 3, 3], "1, 2, then 4 and 8 capped at 3");
    drive(&mut run, &mut cache, &mut NullHost::default(), now).expect("drives");
    assert_eq!(run.status, RunStatus::Succeeded);
    let attempts = run.attempts("load_jan");
    assert_eq!(attempts.len(), 5);
    assert_eq!(attempts[3].retry_at, Some(now));
    assert!(attempts[0].logs[0].contains("attempt 1 of 6 failed; retrying in 1 s"), "{:?}", attempts[0].logs);
    assert_eq!(attempts[4].status, AttemptStatus::Succeeded);
}

#[test]
fn a_failed_block_skips_its_dependants_but_not_its_siblings() {
    let mut definition = small_pipeline();
    // The Ridge trainer fails every time; LinearRegression beside it must still finish.
    definition.blocks[6].fail_first_n_attempts = 100;
    definition.blocks[6].retry =
        RetryPolicy { retries: 2, delay: 10, max_delay: 0, exponential_backoff: false };
    let mut cache = OutputCache::new();
    let t0 = at("2021-03-01 09:00");
    let mut run = manual(&definition, "small#1", t0);
    let end = drive(&mut run, &mut cache, &mut NullHost::default(), t0).expect("drives");
    assert_eq!(run.status, RunStatus::Failed);
    let status = statuses(&run);
    assert_eq!(status["train_ridge"], BlockStatus::Failed);
    assert_eq!(status["train_linear"], BlockStatus::Succeeded, "the sibling is not stopped");
    assert_eq!(status["evaluate"], BlockStatus::Skipped);
    assert_eq!(status["register"], BlockStatus::Skipped);
    assert_eq!(
        run.block("register").and_then(|b| b.message.clone()).as_deref(),
        Some("skipped: the block it depends on, `evaluate`, was skipped")
    );
    assert_eq!(run.attempts("train_ridge").len(), 3, "one attempt and two retries");
    // Four waves to the trainers (1 s each), two waits of 10 s, then the last attempt.
    assert_eq!(end, t0.plus_seconds(4 + 10 + 1 + 10 + 1));
    assert_eq!(run.finished_at, Some(end));
    assert!(run.attempts("train_ridge")[2].logs.iter().any(|l| l == "failed after 3 attempts; giving up"));
}

#[test]
fn rerun_from_the_failed_block_finishes_the_run() {
    let mut definition = small_pipeline();
    definition.blocks[1].fail_first_n_attempts = 2;
    definition.blocks[1].retry = RetryPolicy { retries: 0, ..RetryPolicy::default() };
    let mut cache = OutputCache::new();
    let t0 = at("2021-03-01 09:00");
    let mut run = manual(&definition, "small#1", t0);
    let end = drive(&mut run, &mut cache, &mut NullHost::default(), t0).expect("drives");
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        ids_with(&run, BlockStatus::Skipped),
        ["prepare_feb", "vectorize", "train_linear", "train_ridge", "evaluate", "register"]
    );
    assert!(matches!(run.rerun_from("vectorize", end), Err(EngineError::RerunBlocked { .. })));
    // The injected failure counts attempts across the run: the second try fails again,
    // the third succeeds.
    let mut now = end;
    for expected in [RunStatus::Failed, RunStatus::Succeeded] {
        let reset = run.rerun_from("load_feb", now).expect("re-runs");
        assert_eq!(
            reset,
            ["load_feb", "prepare_feb", "vectorize", "train_linear", "train_ridge", "evaluate", "register"]
        );
        now = drive(&mut run, &mut cache, &mut NullHost::default(), now).expect("drives");
        assert_eq!(run.status, expected);
    }
    assert_eq!(run.block("load_feb").map(|b| (b.try_number, b.attempts_in_run)), Some((3, 3)));
    assert_eq!(run.attempts("prepare_jan").len(), 1, "prepare_jan stayed done from the first try");
    assert_eq!(ids_with(&run, BlockStatus::Succeeded).len(), 9);
}

#[test]
fn misuse_of_the_state_machine_is_an_error_not_a_panic() {
    let definition = small_pipeline();
    let t0 = SimTime(0);
    let mut run = manual(&definition, "small#1", t0);
    let mut cache = OutputCache::new();
    assert_eq!(
        run.start("nope", t0, HostFacts::default(), &cache).expect_err("unknown").to_string(),
        "there is no block `nope` in this pipeline"
    );
    assert!(matches!(
        run.finish("load_jan", Outcome::new(Err(BlockError::Interrupted("x".into()))), t0, &mut cache),
        Err(EngineError::NotRunning(_))
    ));
    let _ = run.start("load_jan", t0, HostFacts::default(), &cache).expect("starts");
    assert!(matches!(run.rerun_from("load_jan", t0), Err(EngineError::RerunWhileRunning { .. })));
    // A lost worker: the host reports an interruption, the retry policy applies.
    run.finish(
        "load_jan",
        Outcome::new(Err(BlockError::Interrupted("the tab was closed".into()))),
        t0,
        &mut cache,
    )
    .expect("finishes");
    assert_eq!(run.status_of("load_jan"), Some(BlockStatus::Failed));
    assert_eq!(run.status, RunStatus::Running, "load_feb may still run");
}

// ----- schedules and triggers -----

fn fire_summary(fires: &[TriggerFire]) -> Vec<(String, String)> {
    fires.iter().map(|f| (f.run_id.clone(), f.logical_date.to_string())).collect()
}

#[test]
fn two_months_on_the_clock_fire_the_monthly_retraining_twice() {
    let options = PresetOptions::default();
    let mut scheduler = Scheduler::new(at("2021-02-15 12:00"));
    scheduler.add_pipeline(&presets::retraining(&options));
    scheduler.add_pipeline(&presets::batch_inference(&options));
    assert_eq!(scheduler.next_event(), Some(at("2021-03-01 00:00")));
    let fires = scheduler.advance_to(at("2021-04-15 12:00"));
    assert_eq!(
        fire_summary(&fires),
        [
            ("retraining#1".to_string(), "2021-03-01 00:00".to_string()),
            ("batch-inference#2".to_string(), "2021-03-01 06:00".to_string()),
            ("retraining#3".to_string(), "2021-04-01 00:00".to_string()),
            ("batch-inference#4".to_string(), "2021-04-01 06:00".to_string()),
        ]
    );
    assert!(fires.iter().all(|f| f.fired_at == at("2021-04-15 12:00")));
    assert_eq!(
        scheduler.log[0].why,
        "trigger `monthly` (monthly on day 1 at 00:00) fired for 2021-03-01 00:00"
    );
    assert!(scheduler.advance_to(at("2021-04-15 12:00")).is_empty(), "nothing fires twice");
    // Paused: no fire, and no catch-up on resume.
    scheduler.set_paused("retraining", true).expect("known");
    assert_eq!(scheduler.advance_to(at("2021-05-02")).len(), 1, "only the batch pipeline");
    scheduler.set_paused("retraining", false).expect("known");
    assert!(scheduler.advance_to(at("2021-05-03")).is_empty());
    assert_eq!(
        scheduler.upcoming("retraining"),
        [("monthly".to_string(), at("2021-06-01"), "in 29 d".to_string())]
    );
}

#[test]
fn new_data_alerts_and_manual_runs_say_why_they_started() {
    let mut retraining = presets::retraining(&PresetOptions::default());
    for trigger in retraining.triggers.iter_mut() {
        trigger.enabled = trigger.id != "monthly";
    }
    let mut scheduler = Scheduler::new(at("2021-03-01"));
    scheduler.add_pipeline(&retraining);
    scheduler.add_release(DataRelease::after_month_end(YearMonth::new(2021, 2).expect("month"), 2));
    scheduler.add_release(DataRelease::after_month_end(YearMonth::new(2021, 3).expect("month"), 2));
    assert_eq!(scheduler.newest_month(at("2021-03-02 23:59")), None);
    let fires = scheduler.advance_to(at("2021-04-10"));
    assert_eq!(
        fire_summary(&fires),
        [
            ("retraining#1".to_string(), "2021-03-03 00:00".to_string()),
            ("retraining#2".to_string(), "2021-04-03 00:00".to_string())
        ]
    );
    assert_eq!(fires[1].newest_month, YearMonth::new(2021, 3));
    assert_eq!(
        scheduler.log[1].why,
        "trigger `new_month`: the 2021-03 data became available on 2021-04-03 00:00"
    );

    // Monitoring hands alerts to the RetrainHook; the scheduler turns them into runs.
    let inbox = AlertInbox::new();
    let hook: &dyn RetrainHook = &inbox;
    let drift = AlertEvent {
        rule_id: "prediction-drift-gt-0.1-for-2-days-then-retrain".into(),
        rule: "prediction_drift > 0.1 for 2 days then retrain".into(),
        day_index: 9,
        date: "2021-04-12".into(),
        value: 0.14,
        message: "prediction drift 0.14 > 0.1 for 2 days (2021-04-11 – 2021-04-12)".into(),
        retrain: true,
    };
    hook.retrain(&drift);
    hook.retrain(&AlertEvent { retrain: false, rule: "share_missing > 5%".into(), ..drift.clone() });
    assert_eq!(inbox.len(), 2);
    let fires = scheduler.take_alerts(&inbox, at("2021-04-12 08:00"));
    assert!(inbox.is_empty());
    assert_eq!(fire_summary(&fires), [("retraining#3".to_string(), "2021-04-12 08:00".to_string())]);
    assert!(
        matches!(&fires[0].reason, TriggerReason::Alert { trigger_id, event } if trigger_id == "drift" && event == &drift)
    );
    let whys: Vec<&str> = scheduler.log.iter().map(|e| e.why.as_str()).collect();
    assert_eq!(
        whys[2],
        "trigger `drift`: alert `prediction_drift > 0.1 for 2 days then retrain` fired on 2021-04-12 \
         (prediction drift 0.14 > 0.1 for 2 days (2021-04-11 – 2021-04-12)) and asks for retraining"
    );
    assert_eq!(
        whys[3],
        "alert `share_missing > 5%` fired; its rule does not ask for retraining (add `then retrain`)"
    );
    assert_eq!(scheduler.log[3].run_id, None);

    let by_hand = scheduler.manual("retraining", at("2021-04-13"), "after fixing the data").expect("known");
    let api = scheduler.api("retraining", at("2021-04-13"), "ci").expect("known");
    assert_eq!(by_hand.reason.describe(), "started by hand: after fixing the data");
    assert_eq!(api.reason.describe(), "started through the API by `ci`");
    assert!(scheduler.manual("nope", at("2021-04-13"), "").is_err());
    assert_eq!(scheduler.log.len(), 6);
}

// ----- hostile files -----

#[test]
fn hostile_pipeline_files_are_refused_with_a_clear_error() {
    let valid = definition::export(&small_pipeline());
    let expect = |text: &str, starts: &str| {
        let error = definition::import_str(text).expect_err("refused");
        assert!(error.to_string().starts_with(starts), "{error}\n  expected: {starts}");
    };
    expect(&"[".repeat(100_000), "the file nests too deeply");
    expect(&format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)), "the file nests too deeply");
    expect(
        &format!("[{}0]", "0,".repeat(600_000)),
        "the file is 1200003 bytes; pipeline files may be at most 1048576",
    );
    expect("not json", "the file is not valid JSON");
    expect("[1, 2, 3]", "the file is not a pipeline: it must be a JSON object");
    expect(&valid.replace("mlops-lab.pipeline", "mage.pipeline"), "the file is not a pipeline");
    expect(&valid.replace("\"version\": 1", "\"version\": 2"), "pipeline file version 2 is not supported");
    expect(
        &valid.replace("\"version\": 1", "\"version\": \"1\""),
        "pipeline file version \"1\" is not supported",
    );
    expect(
        &valid.replace("\"kind\": \"trainer\"", "\"kind\": \"rocket\""),
        "the pipeline file is malformed: unknown variant `rocket`",
    );
    expect(
        &valid.replace("\"train\": {", "\"teleport\": {"),
        "the pipeline file is malformed: unknown variant `teleport`",
    );
    expect(
        &valid.replace("\"retry\": {", "\"retrys\": 3, \"retry\": {"),
        "the pipeline file is malformed: unknown field `retrys`",
    );
    // Inside the estimator (a struct shared with the training page): found by comparing.
    expect(
        &valid.replace("\"alpha\": 1.0,", "\"alpha\": 1.0, \"alpah\": 2,"),
        "unknown field `alpah` at blocks[5].params.train.estimator.Linear",
    );
    expect(
        &valid.replace("\"trips\": 2000", "\"trips\": 1e300"),
        "the pipeline file is malformed: invalid type: floating point",
    );
    expect(
        &valid.replace("\"trips\": 2000", "\"trips\": 99999999999"),
        "block `load_jan`: simulated trips must be 1 to 2000000",
    );
    expect(
        &valid.replace("\"retries\": 0", "\"retries\": 4000000000"),
        "block `load_jan`: retry.retries must be 0 to 20",
    );
    expect(
        &valid.replace("\"retries\": 0", "\"retries\": -1"),
        "the pipeline file is malformed: invalid value: integer `-1`",
    );
    expect(
        &valid.replace("\"month\": \"2021-02\"", "\"month\": \"2021-13\""),
        "the pipeline file is malformed: `2021-13` is not a month",
    );
    expect(&valid.replace("\"load_feb\"", "\"load_jan\""), "two blocks are called `load_jan`");
    expect(&valid.replace("\"load_feb\"", "\"load feb\""), "block id `load feb` is not valid");
    expect(&valid.replace("\"vectorize\"", "\"a\\u0000b\""), "block id `a\u{fffd}b` is not valid");
    expect(
        &valid.replace("\"max_minutes\": 60.0", "\"max_minutes\": 1e9"),
        "block `prepare_jan`: duration_filter needs",
    );
    expect(
        &valid.replace("\"name\": \"small\"", "\"name\": \"\""),
        "pipeline name `` is not valid: it is empty",
    );
    // Too many blocks: refused before each one is parsed.
    let mut huge = small_pipeline();
    for i in 0..200 {
        huge.blocks.push(loader(&format!("extra{i}"), 2021, 1, 10));
    }
    expect(&definition::export(&huge), "a pipeline may have at most 200 blocks; this one has 209");
    // A graph problem in a file reads like one in the editor.
    let mut broken = small_pipeline();
    broken.blocks[5].inputs.clear();
    expect(&definition::export(&broken), "block `train_linear` needs input `training_set` (TrainingSet)");
    // And a valid file still imports.
    assert_eq!(definition::import(valid.as_bytes()).expect("imports"), small_pipeline());
    assert!(matches!(definition::import(&[0xff, 0xfe, 0x00]), Err(DefinitionError::NotText(_))));
}

#[test]
fn mangled_files_never_panic_the_importer() {
    use rand::{Rng, SeedableRng};
    let valid = definition::export(&presets::training(&PresetOptions::default()));
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let alphabet = b"{}[]\":,0123456789-.eE abcxyz_\\";
    let mut refused = 0;
    for _ in 0..2_000 {
        let mut bytes = valid.clone().into_bytes();
        for _ in 0..rng.gen_range(1..6) {
            let i = rng.gen_range(0..bytes.len());
            match rng.gen_range(0..3) {
                0 => bytes[i] = alphabet[rng.gen_range(0..alphabet.len())],
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, alphabet[rng.gen_range(0..alphabet.len())]),
            }
        }
        if definition::import(&bytes).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 500, "most mangled files are refused ({refused} of 2000)");
}

// ----- the course's pipelines against a tracking store -----

type Client = TrackingClient<MemoryKv, TestEnv>;

/// The app's side of a run, natively: a tracking store in memory, the real files by name,
/// the data calendar, and the parent run of the pipeline run being driven.
struct Lab {
    client: Client,
    cache: OutputCache,
    files: BTreeMap<String, Vec<u8>>,
    calendar: Option<Scheduler>,
}

struct LabHost<'a> {
    client: &'a Client,
    files: &'a BTreeMap<String, Vec<u8>>,
    calendar: Option<&'a Scheduler>,
    parent: String,
}

impl Host for LabHost<'_> {
    fn facts(&mut self, _: &BlockDef, needs: &Needs, now: SimTime) -> HostFacts {
        use mlops_core::pipelines::exec::{DataRequest, SourceData};
        let source = needs.source.as_ref().and_then(|request| {
            let name = match request {
                DataRequest::File { name } => name,
                DataRequest::Catalog { file_name, .. } => file_name,
                DataRequest::Url { .. } => return None,
            };
            self.files.get(name).map(|bytes| SourceData { name: name.clone(), bytes: bytes.clone() })
        });
        let model = needs.model.as_ref().and_then(|reference| {
            block_on(load_registered(self.client, reference)).expect("the registry reads")
        });
        let availability =
            self.calendar.map_or(Availability::Everything, |calendar| calendar.availability(now));
        HostFacts { source, model, availability }
    }

    fn apply(
        &mut self,
        run: &RunContext,
        block: &BlockDef,
        effects: &[Effect],
    ) -> Result<Vec<EffectResult>, String> {
        let target = EffectTarget {
            experiment_id: DEFAULT_EXPERIMENT_ID.to_string(),
            parent_run_id: Some(self.parent.clone()),
            pipeline: run.pipeline.clone(),
            pipeline_run: run.run_id.clone(),
            block: block.id.clone(),
        };
        block_on(apply_effects(self.client, &target, effects)).map_err(|e| e.to_string())
    }
}

impl Lab {
    fn new() -> Self {
        let client =
            block_on(TrackingClient::open(MemoryKv::new(), TestEnv::new(1_700_000_000_000))).expect("opens");
        Self { client, cache: OutputCache::new(), files: BTreeMap::new(), calendar: None }
    }

    /// Drives a run to its end, recorded as a parent run with nested block runs.
    fn run(
        &mut self,
        definition: &PipelineDefinition,
        context: RunContext,
        now: SimTime,
    ) -> (PipelineRun, String) {
        let mut run = PipelineRun::new(definition, context, now).expect("a valid pipeline");
        let parent =
            block_on(start_pipeline_run(&self.client, DEFAULT_EXPERIMENT_ID, &run)).expect("parent run");
        let mut host = LabHost {
            client: &self.client,
            files: &self.files,
            calendar: self.calendar.as_ref(),
            parent: parent.clone(),
        };
        drive(&mut run, &mut self.cache, &mut host, now).expect("drives");
        block_on(finish_pipeline_run(&self.client, DEFAULT_EXPERIMENT_ID, &parent, &run)).expect("records");
        (run, parent)
    }

    fn production(&self) -> Option<RegisteredModelData> {
        block_on(load_registered(&self.client, &ModelRef::production(REGISTERED_MODEL))).expect("reads")
    }

    fn versions(&self) -> Vec<(u32, Stage)> {
        match block_on(self.client.get_registered_model(REGISTERED_MODEL)) {
            Ok(model) => model.versions.iter().map(|v| (v.version, v.current_stage)).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The RMSE a model gets on a block's trips output, computed here from scratch.
fn rmse_on(
    run: &PipelineRun,
    cache: &OutputCache,
    block: &str,
    port: &str,
    model: &mlops_core::models::Model,
) -> f64 {
    let Value::Trips(trips) = output(run, cache, block, port) else { panic!("trips") };
    let prepared = prepare_trips(&trips.table, trips.filter.unwrap_or_default()).expect("prepares");
    let predicted = model.predict_trips(model.vectorizer().as_ref(), &prepared);
    regression_metrics(&predicted, &prepared.duration_minutes).rmse
}

fn best_model(run: &PipelineRun, cache: &OutputCache, block: &str) -> mlops_core::models::Model {
    match output(run, cache, block, "best") {
        Value::Model(model) => model.model.clone(),
        other => panic!("not a model: {other:?}"),
    }
}

fn test_options(trips: usize) -> PresetOptions {
    let mut options = PresetOptions { data: PresetData::Simulated { trips }, ..PresetOptions::default() };
    options.boosting.num_boost_round = 30;
    options.retrain_with = Estimator::Linear(ModelParams::new(ModelKind::LinearRegression));
    options
}

#[test]
fn the_course_pipelines_run_end_to_end_on_the_simulated_city() {
    let options = test_options(6_000);
    let mut lab = Lab::new();

    // 1. Training, registry empty: the better model is registered and promoted.
    let training = presets::training(&options);
    let t0 = at("2021-02-20 09:00");
    let (first, parent) = lab.run(&training, RunContext::manual("training", "training#1", t0), t0);
    assert_eq!(first.status, RunStatus::Succeeded, "{:#?}", first.blocks);
    let first_decision = decision_of(&first, &lab.cache, "evaluate");
    assert!(first_decision.passed);
    assert!(first_decision.summary.contains("there is no models:/nyc-taxi-regressor/Production yet → pass"));
    let Value::Metrics(metrics) = output(&first, &lab.cache, "evaluate", "metrics") else {
        panic!("metrics")
    };
    let best_row = metrics.rows.iter().min_by(|a, b| a.rmse.total_cmp(&b.rmse)).expect("rows");
    assert_eq!(first_decision.candidate_label, best_row.label, "the lower validation RMSE wins");
    let production = lab.production().expect("a Production version");
    assert_eq!(production.version, 1);
    let artifact = block_on(lab.client.load_model_bytes("models:/nyc-taxi-regressor/1")).expect("model.json");
    assert!(
        artifact == best_model(&first, &lab.cache, "evaluate").to_json().into_bytes(),
        "the winner is registered"
    );
    let recomputed = rmse_on(&first, &lab.cache, "prepare_feb", "trips", &production.model);
    assert!((recomputed - first_decision.candidate).abs() < 1e-9);
    // Nested runs: the two trainers' autologged runs and one per other block, all under
    // the pipeline's parent run; the version links to the winning trainer's run.
    let runs = block_on(lab.client.all_runs(&[], ViewType::ActiveOnly)).expect("runs");
    let children: Vec<_> = runs.iter().filter(|r| r.tags.get(tags::PARENT_RUN_ID) == Some(&parent)).collect();
    assert_eq!(children.len(), 9, "nine blocks besides the note");
    assert!(children.iter().all(|r| r.tags.get(PIPELINE_RUN_TAG).map(String::as_str) == Some("training#1")));
    let winner = if first_decision.candidate_label.starts_with("LinearRegression") {
        "train_linear"
    } else {
        "train_boosting"
    };
    assert_eq!(first.logged_runs(winner), std::slice::from_ref(&production.run_id));
    let trainer_run = runs.iter().find(|r| r.run_id == production.run_id).expect("the trainer's run");
    assert!(trainer_run.metric("val_rmse").is_some() && trainer_run.params.contains_key("model"));

    // 2. The same training again: the models come from the cache, Production is
    //    compared with itself, is not beaten, and the new version is not promoted.
    let t1 = at("2021-02-21 09:00");
    let (second, _) = lab.run(&training, RunContext::manual("training", "training#2", t1), t1);
    assert_eq!(second.status_of("train_boosting"), Some(BlockStatus::Cached));
    assert_eq!(
        second.status_of("evaluate"),
        Some(BlockStatus::Succeeded),
        "Production changed, so the gate re-ran"
    );
    let second_decision = decision_of(&second, &lab.cache, "evaluate");
    assert!(!second_decision.passed);
    assert_eq!(second_decision.reference, Some(second_decision.candidate));
    assert!(second_decision.summary.contains(" ≥ Production v1 "), "{}", second_decision.summary);
    assert_eq!(lab.versions(), [(1, Stage::Production), (2, Stage::None)]);

    // 3. The clock moves two months: the retraining pipeline fires twice and the batch
    //    pipeline twice. Each retraining compares on its holdout and decides.
    let mut scheduler = Scheduler::new(at("2021-02-21 10:00"));
    let retraining = presets::retraining(&options);
    let batch = presets::batch_inference(&options);
    scheduler.add_pipeline(&retraining);
    scheduler.add_pipeline(&batch);
    let fires = scheduler.advance_to(at("2021-04-15"));
    assert_eq!(fires.len(), 4);
    for fire in &fires {
        let before = lab.production().expect("Production");
        let definition = if fire.pipeline == "retraining" { &retraining } else { &batch };
        let (run, parent) = lab.run(definition, RunContext::from(fire), fire.logical_date);
        assert_eq!(run.status, RunStatus::Succeeded, "{}: {:#?}", fire.run_id, run.blocks);
        if fire.pipeline == "retraining" {
            let decision = decision_of(&run, &lab.cache, "compare");
            let candidate = best_model(&run, &lab.cache, "compare");
            let candidate_rmse = rmse_on(&run, &lab.cache, "split", "val", &candidate);
            let production_rmse = rmse_on(&run, &lab.cache, "split", "val", &before.model);
            assert!((decision.candidate - candidate_rmse).abs() < 1e-9);
            assert_eq!(decision.reference.map(|r| (r - production_rmse).abs() < 1e-9), Some(true));
            assert_eq!(decision.passed, candidate_rmse < production_rmse);
            let after = lab.production().expect("Production");
            let logs = &run.attempts("promote_or_keep")[0].logs;
            if decision.passed {
                assert_eq!(after.version, lab.versions().len() as u32, "the new version is in Production");
                assert!(logs.iter().any(|l| l.starts_with("promotes it to Production")), "{logs:?}");
            } else {
                assert_eq!(after.version, before.version, "Production is kept");
                assert_eq!(logs, &[format!("nothing registered: {}", decision.summary)]);
            }
            let Value::Trips(month) = output(&run, &lab.cache, "load_month", "trips") else {
                panic!("trips")
            };
            assert_eq!(month.month, Some(fire.logical_date.year_month().previous()), "the newest month");
        } else {
            let Value::Predictions(predictions) = output(&run, &lab.cache, "score", "predictions") else {
                panic!("predictions")
            };
            let month = fire.logical_date.year_month().previous();
            assert_eq!(
                predictions.path,
                format!(
                    "taxi_type=green/year={}/month={:02}/{}.parquet",
                    month.year, month.month, before.run_id
                )
            );
            assert_eq!(predictions.model_version, format!("nyc-taxi-regressor/{}", before.version));
            let file =
                block_on(lab.client.download_artifact(&parent, &predictions.path)).expect("the batch file");
            assert!(file.starts_with(b"PAR1") && predictions.rows > 4_000);
            assert_eq!(predictions.head.rows.len(), 5);
            let predicted = &predictions.chart.as_ref().expect("a chart of the predictions").histogram;
            assert_eq!(
                predicted.counts.iter().sum::<usize>() + predicted.below + predicted.above,
                predictions.rows
            );
        }
    }

    // 4. A drift alert: the city slowed down, so the month retrained on it beats the
    //    Production model on its holdout, and is promoted; the old version is archived.
    let inbox = AlertInbox::new();
    inbox.retrain(&AlertEvent {
        rule_id: "prediction-drift-gt-0.1-for-2-days-then-retrain".into(),
        rule: "prediction_drift > 0.1 for 2 days then retrain".into(),
        day_index: 3,
        date: "2021-04-20".into(),
        value: 0.3,
        message: "prediction drift 0.3 > 0.1 for 2 days".into(),
        retrain: true,
    });
    let fires = scheduler.take_alerts(&inbox, at("2021-04-20 08:00"));
    assert_eq!(fires.len(), 1);
    let mut drifted = retraining.clone();
    if let Some(BlockParams::Simulated(source)) = drifted.block_mut("load_month").map(|b| &mut b.params) {
        source.speed_factor = 0.5;
    }
    let before = lab.production().expect("Production");
    let (run, _) = lab.run(&drifted, RunContext::from(&fires[0]), fires[0].logical_date);
    let decision = decision_of(&run, &lab.cache, "compare");
    assert!(decision.passed, "{}", decision.summary);
    assert!(
        decision.summary.contains(&format!(" < Production v{} ", before.version)),
        "{}",
        decision.summary
    );
    let after = lab.production().expect("Production");
    assert!(after.version > before.version);
    let versions = lab.versions();
    assert!(versions.contains(&(before.version, Stage::Archived)), "{versions:?}");
    assert_eq!(versions.iter().filter(|(_, stage)| *stage == Stage::Production).count(), 1);
}

#[test]
fn a_sensor_waits_for_the_month_to_be_published() {
    let options = test_options(3_000);
    let mut lab = Lab::new();
    let t0 = at("2021-02-20 09:00");
    lab.run(&presets::training(&options), RunContext::manual("training", "training#1", t0), t0);
    let mut calendar = Scheduler::new(at("2021-03-01"));
    // February is published on 3 March; the batch run of 1 March at 06:00 must wait.
    calendar.add_release(DataRelease::after_month_end(YearMonth::new(2021, 2).expect("month"), 2));
    let batch = presets::batch_inference(&options);
    calendar.add_pipeline(&batch);
    let fires = calendar.advance_to(at("2021-03-01 06:00"));
    assert_eq!(fires.len(), 1);
    lab.calendar = Some(calendar);
    let (run, _) = lab.run(&batch, RunContext::from(&fires[0]), fires[0].logical_date);
    assert_eq!(run.status, RunStatus::Succeeded);
    let checks = run.attempts("wait_for_data");
    let times: Vec<String> = checks.iter().map(|r| r.started_at.to_string()).collect();
    assert_eq!(times, ["2021-03-01 06:00", "2021-03-02 06:00:01", "2021-03-03 06:00:02"]);
    assert_eq!(
        checks[0].error.as_deref(),
        Some("waiting: the 2021-02 data is not published yet (no month is published yet)")
    );
    assert_eq!(checks[2].status, AttemptStatus::Succeeded);
    assert_eq!(run.attempts("score")[0].started_at, at("2021-03-03 06:00:04"));
}

// ----- the real files -----

#[test]
fn the_training_pipeline_on_the_real_files_matches_scikit_learn() {
    let (Some(jan), Some(feb)) = (
        common::real_file("green_tripdata_2021-01.parquet"),
        common::real_file("green_tripdata_2021-02.parquet"),
    ) else {
        return;
    };
    let mut lab = Lab::new();
    lab.files.insert("green_tripdata_2021-01.parquet".into(), jan.to_vec());
    lab.files.insert("green_tripdata_2021-02.parquet".into(), feb.to_vec());
    let mut options = PresetOptions { data: PresetData::Files, ..PresetOptions::default() };
    options.retrain_with = linear();
    let t0 = at("2021-03-01 09:00");
    let (run, _) =
        lab.run(&presets::training(&options), RunContext::manual("training", "training#1", t0), t0);
    assert_eq!(run.status, RunStatus::Succeeded, "{:#?}", run.blocks);
    // Expected value: scikit-learn 1.9.1 LinearRegression on {PU_DO, trip_distance},
    // January → February 2021, 1–60 min (as tests/golden_chapter1.rs pins it).
    let Value::Model(linear_model) = output(&run, &lab.cache, "train_linear", "model") else {
        panic!("model")
    };
    let val_rmse = linear_model.val.map(|m| m.rmse).unwrap_or(f64::NAN);
    assert!((val_rmse - 7.758715).abs() < 1e-4, "LinearRegression val RMSE {val_rmse}");
    let Value::Trips(feb_rides) = output(&run, &lab.cache, "prepare_feb", "trips") else { panic!("trips") };
    assert_eq!(prepare_trips(&feb_rides.table, Default::default()).expect("prepares").len(), 61_921);
    let decision = decision_of(&run, &lab.cache, "evaluate");
    let Value::Metrics(metrics) = output(&run, &lab.cache, "evaluate", "metrics") else { panic!("metrics") };
    let best = metrics.rows.iter().min_by(|a, b| a.rmse.total_cmp(&b.rmse)).expect("rows");
    assert_eq!(decision.candidate_label, best.label);
    assert!(
        best.label.starts_with("XGBRegressor"),
        "boosting beats LinearRegression on the real months: {metrics:?}"
    );
    assert_eq!(lab.production().map(|p| p.version), Some(1));

    // Retraining on 1 March reads February from the catalog and compares on its holdout.
    let (retrain, _) = lab.run(
        &presets::retraining(&options),
        RunContext {
            pipeline: "retraining".into(),
            run_id: "retraining#1".into(),
            logical_date: at("2021-03-01"),
            trigger: TriggerReason::Manual { note: String::new() },
            newest_month: None,
        },
        at("2021-03-01"),
    );
    assert_eq!(retrain.status, RunStatus::Succeeded, "{:#?}", retrain.blocks);
    let Value::Trips(month) = output(&retrain, &lab.cache, "load_month", "trips") else { panic!("trips") };
    assert_eq!(month.label, "green_tripdata_2021-02.parquet");
    let decision = decision_of(&retrain, &lab.cache, "compare");
    assert_eq!(decision.reference_label.as_deref(), Some("Production v1"));
    assert_eq!(decision.passed, decision.candidate < decision.reference.unwrap_or(f64::NAN));

    // Batch inference on 1 March scores February with the Production model.
    let production = lab.production().expect("Production");
    let (batch, parent) = lab.run(
        &presets::batch_inference(&options),
        RunContext::manual("batch-inference", "batch-inference#1", at("2021-03-01 06:00")),
        at("2021-03-01 06:00"),
    );
    assert_eq!(batch.status, RunStatus::Succeeded, "{:#?}", batch.blocks);
    let Value::Predictions(predictions) = output(&batch, &lab.cache, "score", "predictions") else {
        panic!("predictions")
    };
    assert_eq!(predictions.path, format!("taxi_type=green/year=2021/month=02/{}.parquet", production.run_id));
    assert_eq!(predictions.rows, 61_921, "the rides of 1–60 minutes, as score.py keeps them");
    let file = block_on(lab.client.download_artifact(&parent, &predictions.path)).expect("the batch file");
    assert!(file.starts_with(b"PAR1"));
}

#[test]
fn evaluator_gates_threshold_and_metric_direction() {
    let mut definition = small_pipeline();
    definition.blocks[7].params =
        BlockParams::Evaluate(EvaluateParams { metric: GateMetric::Rmse, gate: Gate::Threshold(0.5) });
    definition.blocks[8].inputs.push(definition::InputBinding {
        port: "decision".into(),
        block: "evaluate".into(),
        output: "decision".into(),
    });
    if let BlockParams::RegisterModel(params) = &mut definition.blocks[8].params {
        params.only_if_better = true;
    }
    let mut cache = OutputCache::new();
    let mut host = NullHost::default();
    let t0 = at("2021-03-01");
    let mut run = manual(&definition, "gate#1", t0);
    drive(&mut run, &mut cache, &mut host, t0).expect("drives");
    let failed = decision_of(&run, &cache, "evaluate");
    assert!(!failed.passed);
    assert!(failed.summary.ends_with("≥ threshold 0.5 → fail"), "{}", failed.summary);
    assert!(host.applied.iter().all(|line| !line.contains("register a new version")), "{:?}", host.applied);
    // R² is better when higher: a threshold of -10 is beaten.
    definition.blocks[7].params =
        BlockParams::Evaluate(EvaluateParams { metric: GateMetric::R2, gate: Gate::Threshold(-10.0) });
    let mut run = manual(&definition, "gate#2", t0);
    drive(&mut run, &mut cache, &mut host, t0).expect("drives");
    let passed = decision_of(&run, &cache, "evaluate");
    assert!(passed.passed && passed.summary.contains("> threshold -10 → pass"), "{}", passed.summary);
    assert!(host
        .applied
        .iter()
        .any(|line| line.starts_with("gate#2/register: register a new version of `small-model`")));
}

#[test]
fn a_new_data_sensor_without_a_calendar_lets_the_run_through() {
    let mut definition = PipelineDefinition::new("sensing", "");
    definition.blocks = vec![
        BlockDef::new("wait", BlockParams::NewData(NewDataParams { month: MonthRef::RunMinus(1) })),
        loader("load", 2021, 1, 500).input("after", "wait", "signal"),
    ];
    let mut cache = OutputCache::new();
    let t0 = at("2021-03-01");
    let mut run = manual(&definition, "sensing#1", t0);
    drive(&mut run, &mut cache, &mut NullHost::default(), t0).expect("drives");
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        run.attempts("wait")[0].logs,
        ["the 2021-02 data is available (the simulated city has every month)"]
    );
}

// ----- the worker boundary -----

/// The app's worker bridge speaks bincode 1, which cannot read self-describing serde
/// shapes (internally tagged or untagged enums, flatten): every message must round-trip.
fn bincode_round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    let bytes = bincode::serialize(value).expect("encodes");
    let back: T = bincode::deserialize(&bytes).expect("decodes");
    assert_eq!(bincode::serialize(&back).expect("encodes"), bytes, "the same bytes after a round trip");
    back
}

#[test]
fn jobs_outputs_and_runs_cross_the_worker_boundary_as_bincode() {
    let definition = small_pipeline();
    let t0 = at("2021-03-01");
    let mut run = manual(&definition, "small#1", t0);
    let mut cache = OutputCache::new();
    let mut trained = None;
    while let Some(id) = run.ready(t0).first().cloned() {
        let Started::Job(job) = run.start(&id, t0, HostFacts::default(), &cache).expect("starts") else {
            panic!("nothing cached")
        };
        let request = bincode_round_trip(&job.request(&cache).expect("inputs"));
        let output = bincode_round_trip(&request.run().expect("runs"));
        if id == "train_linear" {
            assert!(matches!(output.effects[0], Effect::LogTrainingRun { .. }));
            trained = Some(output.clone());
        }
        let applied = NullHost::default().apply(&run.context, &job.block, &output.effects).expect("applies");
        run.finish(&id, Outcome::new(Ok(output)).applied(applied), t0, &mut cache).expect("finishes");
    }
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(trained.is_some());
    let back = bincode_round_trip(&run);
    assert_eq!(back.history.len(), run.history.len());
    let json = serde_json::to_string(&run).expect("json");
    let from_json: PipelineRun = serde_json::from_str(&json).expect("reads back");
    assert_eq!(from_json.blocks, run.blocks);

    let mut scheduler = Scheduler::new(at("2021-01-01"));
    scheduler.add_pipeline(&presets::retraining(&PresetOptions::default()));
    let fires = scheduler.advance_to(at("2021-02-01"));
    bincode_round_trip(&fires);
    bincode_round_trip(&scheduler);
    bincode_round_trip(&presets::training(&PresetOptions::default()));
}
