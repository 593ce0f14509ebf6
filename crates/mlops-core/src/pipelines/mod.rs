//! Chapter 3: orchestration. Pipelines of typed blocks with retries, caching, schedules
//! and triggers, as a pure state machine the browser drives.
//!
//! The course turns its notebook into a Mage pipeline; here the same pipeline runs in the
//! tab. The core owns every decision and no clock: the host (the page and its workers)
//! moves a simulated clock, fetches files, runs blocks and writes to the tracking store.
//!
//! - [`definition`]: the versioned JSON file — blocks with Mage's kinds, typed ports, retry
//!   policies, triggers — and an import that refuses hostile files with clear errors.
//! - [`graph`]: validation (cycles, missing inputs, type mismatches), run order and waves.
//! - [`fields`]: the block editor's form — a block's settings as text fields, and back.
//! - [`engine`]: [`engine::PipelineRun`], the state machine: ready blocks, retries with
//!   backoff, failures that skip dependants, re-runs, content-keyed caching.
//! - [`exec`]: what each block computes, pure and synchronous (a worker can run it); its
//!   side effects come back as [`exec::Effect`]s.
//! - [`clock`] and [`schedule`]: simulated time, cron-like schedules, triggers and their log.
//! - [`layout`]: where each block sits in the drawn DAG (a layered layout, left to right).
//! - [`presets`]: the course's training, retraining and batch inference pipelines.
//! - [`host`]: applying effects to the tracking store and recording pipeline runs as
//!   nested runs.
//!
//! The training pipeline on the simulated city, start to end:
//!
//! ```
//! use mlops_core::pipelines::clock::SimTime;
//! use mlops_core::pipelines::definition::BlockDef;
//! use mlops_core::pipelines::engine::{drive, Host, OutputCache, PipelineRun, RunContext, RunStatus};
//! use mlops_core::pipelines::exec::{Effect, EffectResult, HostFacts, Needs};
//! use mlops_core::pipelines::presets::{self, PresetData, PresetOptions};
//! use mlops_core::models::{ModelKind, ModelParams};
//! use mlops_core::training::Estimator;
//!
//! /// A host with an empty registry that accepts every effect.
//! struct Sketch;
//! impl Host for Sketch {
//!     fn facts(&mut self, _: &BlockDef, _: &Needs, _: SimTime) -> HostFacts {
//!         HostFacts::default()
//!     }
//!     fn apply(&mut self, _: &RunContext, _: &BlockDef, effects: &[Effect]) -> Result<Vec<EffectResult>, String> {
//!         Ok(effects
//!             .iter()
//!             .map(|effect| match effect {
//!                 Effect::LogTrainingRun { .. } => EffectResult::RunLogged { run_id: "run-1".into() },
//!                 Effect::RegisterModel { model, .. } => EffectResult::Registered { model: model.clone(), version: 1 },
//!                 Effect::MoveRegistered { model, target, .. } => {
//!                     EffectResult::Moved { model: model.clone(), version: 1, target: target.to_string() }
//!                 }
//!                 Effect::WriteFile { path, .. } => EffectResult::Written { path: path.clone() },
//!             })
//!             .collect())
//!     }
//! }
//!
//! let mut options = PresetOptions { data: PresetData::Simulated { trips: 2_000 }, ..Default::default() };
//! options.boosting.num_boost_round = 5;
//! let definition = presets::training(&options);
//! let start = SimTime::parse("2021-03-01 09:00").unwrap();
//! let mut run = PipelineRun::new(&definition, RunContext::manual("training", "training#1", start), start).unwrap();
//! let mut cache = OutputCache::new();
//! let end = drive(&mut run, &mut cache, &mut Sketch, start).unwrap();
//!
//! assert_eq!(run.status, RunStatus::Succeeded);
//! assert_eq!(end, start.plus_seconds(6), "six waves of one simulated second");
//! let register = run.attempts("register");
//! assert!(register[0].logs.iter().any(|line| line.contains("promotes it to Production")));
//! ```

pub mod clock;
pub mod definition;
pub mod engine;
pub mod exec;
pub mod fields;
pub mod graph;
pub mod host;
pub mod layout;
pub mod presets;
pub mod schedule;
