//! The tracking side of running a pipeline: what the host does with the store.
//!
//! The engine never touches the store; these functions are the host's half, written once
//! for every [`KvBackend`] (IndexedDB in the app, memory in tests):
//!
//! - [`load_registered`] finds the version a block compares with or scores with;
//! - [`apply_effects`] logs trainers' runs (with autologging), registers versions, moves
//!   stages and aliases, and stores batch files;
//! - [`start_pipeline_run`] and [`finish_pipeline_run`] record a pipeline run as an MLflow
//!   parent run with one nested run per block, so the Runs page shows the pipeline's
//!   history like any other experiment.

use serde::Serialize;

use super::definition::{export, ModelRef, ModelTarget};
use super::engine::{AttemptStatus, BlockStatus, PipelineRun, RunStatus as PipelineStatus};
use super::exec::{Effect, EffectResult, RegisteredModelData, SourceInfo};
use crate::models::Model;
use crate::tracking::autolog::{self, DataFile, TRAIN_ROLE, VALIDATION_ROLE};
use crate::tracking::client::{Env, MetricEntry, RunOptions, TrackingClient};
use crate::tracking::entities::RunStatus;
use crate::tracking::kv::KvBackend;
use crate::tracking::TrackingError;

/// Tags that tie tracking runs to pipelines, searchable as `tags.mlops.pipeline = 'training'`.
pub const PIPELINE_TAG: &str = "mlops.pipeline";
pub const PIPELINE_RUN_TAG: &str = "mlops.pipeline_run";
pub const BLOCK_TAG: &str = "mlops.block";
pub const TRIGGER_TAG: &str = "mlops.trigger";

/// Where effects land: the experiment, and the pipeline's parent run (if recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectTarget {
    pub experiment_id: String,
    pub parent_run_id: Option<String>,
    pub pipeline: String,
    pub pipeline_run: String,
    pub block: String,
}

/// The version `reference` names, with its model loaded; `None` if the registered model
/// or the stage/alias does not exist yet (a first training has nothing to beat).
pub async fn load_registered<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    reference: &ModelRef,
) -> Result<Option<RegisteredModelData>, TrackingError> {
    let registered = match client.get_registered_model(&reference.model).await {
        Ok(model) => model,
        Err(TrackingError::ModelNotFound(_)) => return Ok(None),
        Err(error) => return Err(error),
    };
    let version = match &reference.target {
        ModelTarget::Stage(stage) => registered.latest_in_stage(*stage).cloned(),
        ModelTarget::Alias(alias) => registered.version_by_alias(alias).ok().cloned(),
    };
    let Some(version) = version else { return Ok(None) };
    let bytes = client.load_model_bytes(&format!("models:/{}/{}", reference.model, version.version)).await?;
    let text = String::from_utf8(bytes).map_err(|e| TrackingError::Corrupt(e.to_string()))?;
    let model = Model::from_json(&text).map_err(|e| TrackingError::Corrupt(e.to_string()))?;
    Ok(Some(RegisteredModelData {
        model_name: reference.model.clone(),
        version: version.version,
        target: reference.target.to_string(),
        run_id: version.run_id.clone(),
        model,
    }))
}

fn data_files(sources: &[SourceInfo], role: &str) -> Vec<DataFile> {
    sources
        .iter()
        .map(|s| DataFile {
            role: role.to_string(),
            name: s.name.clone(),
            rows: s.rows,
            sha256: s.sha256.clone(),
        })
        .collect()
}

fn pipeline_tags(target: &EffectTarget) -> Vec<(String, String)> {
    vec![
        (PIPELINE_TAG.to_string(), target.pipeline.clone()),
        (PIPELINE_RUN_TAG.to_string(), target.pipeline_run.clone()),
        (BLOCK_TAG.to_string(), target.block.clone()),
    ]
}

/// Applies a block's effects in order; the results, one per effect.
///
/// A `RegisterModel` without a run (a model that was never logged) first logs one holding
/// the model, since a version must come from a run. A `MoveRegistered` moves the version
/// the `RegisterModel` before it created. A `WriteFile` is stored as an artifact of the
/// pipeline's parent run (or of a new run if there is none).
pub async fn apply_effects<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    target: &EffectTarget,
    effects: &[Effect],
) -> Result<Vec<EffectResult>, TrackingError> {
    let mut results = Vec::with_capacity(effects.len());
    let mut registered: Option<(String, u32)> = None;
    for effect in effects {
        let result = match effect {
            Effect::LogTrainingRun { run_name, spec, report, train_data, val_data } => {
                let mut files = data_files(train_data, TRAIN_ROLE);
                files.extend(data_files(val_data, VALIDATION_ROLE));
                let options = RunOptions {
                    run_name: Some(run_name.clone()),
                    start_time: None,
                    tags: pipeline_tags(target),
                    parent_run_id: target.parent_run_id.clone(),
                };
                let run = autolog::start_run(client, &target.experiment_id, spec, &files, options).await?;
                autolog::finish_run(client, &run.run_id, spec, report).await?;
                EffectResult::RunLogged { run_id: run.run_id }
            }
            Effect::RegisterModel { model, model_json, run_id, description } => {
                let run_id = match run_id {
                    Some(run_id) => run_id.clone(),
                    None => log_bare_model(client, target, model_json).await?,
                };
                match client.create_registered_model(model, "").await {
                    Ok(_) | Err(TrackingError::DuplicateModel(_)) => {}
                    Err(error) => return Err(error),
                }
                let source = format!("runs:/{run_id}/{}", autolog::MODEL_ARTIFACT_PATH);
                let version = client.create_model_version(model, &source, &run_id, description).await?;
                registered = Some((model.clone(), version.version));
                EffectResult::Registered { model: model.clone(), version: version.version }
            }
            Effect::MoveRegistered { model, target: to, archive_existing, .. } => {
                let Some((_, version)) = registered.as_ref().filter(|(name, _)| name == model) else {
                    return Err(TrackingError::Import(format!(
                        "moving `{model}` to {to} needs a version registered just before it"
                    )));
                };
                match to {
                    ModelTarget::Stage(stage) => {
                        let archive = *archive_existing && stage.is_active();
                        client.transition_model_version_stage(model, *version, *stage, archive).await?;
                    }
                    ModelTarget::Alias(alias) => {
                        client.set_registered_model_alias(model, alias, *version).await?
                    }
                }
                EffectResult::Moved { model: model.clone(), version: *version, target: to.to_string() }
            }
            Effect::WriteFile { path, bytes, .. } => {
                let run_id = match &target.parent_run_id {
                    Some(run_id) => run_id.clone(),
                    None => {
                        let options = RunOptions {
                            run_name: Some(format!("{} · {}", target.pipeline, target.block)),
                            tags: pipeline_tags(target),
                            ..RunOptions::default()
                        };
                        let run = client.create_run(&target.experiment_id, options).await?;
                        client.set_terminated(&run.run_id, RunStatus::Finished, None).await?;
                        run.run_id
                    }
                };
                client.log_artifact(&run_id, path, bytes, "application/vnd.apache.parquet").await?;
                EffectResult::Written { path: format!("runs:/{run_id}/{path}") }
            }
        };
        results.push(result);
    }
    Ok(results)
}

/// A finished run holding only `model_json` under `model/`, for a model to register.
async fn log_bare_model<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    target: &EffectTarget,
    model_json: &str,
) -> Result<String, TrackingError> {
    let model = Model::from_json(model_json).map_err(|e| TrackingError::Corrupt(e.to_string()))?;
    let options = RunOptions {
        run_name: Some(format!("{} · {}", target.pipeline, target.block)),
        start_time: None,
        tags: pipeline_tags(target),
        parent_run_id: target.parent_run_id.clone(),
    };
    let run = client.create_run(&target.experiment_id, options).await?;
    client
        .log_model(
            &run.run_id,
            autolog::MODEL_ARTIFACT_PATH,
            autolog::model_flavor(&model),
            model_json.as_bytes(),
            autolog::ride_signature(),
        )
        .await?;
    client.set_terminated(&run.run_id, RunStatus::Finished, None).await?;
    Ok(run.run_id)
}

fn json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, TrackingError> {
    serde_json::to_vec_pretty(value).map_err(|e| TrackingError::Corrupt(e.to_string()))
}

/// Opens the parent run of a pipeline run: named after the pipeline and run, tagged with
/// the trigger's reason, with the definition as `pipeline.json`. Its id goes into every
/// [`EffectTarget`] of the run.
pub async fn start_pipeline_run<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    experiment_id: &str,
    run: &PipelineRun,
) -> Result<String, TrackingError> {
    let context = &run.context;
    let options = RunOptions {
        run_name: Some(format!("{} · {}", context.pipeline, context.run_id)),
        start_time: None,
        tags: vec![
            (PIPELINE_TAG.to_string(), context.pipeline.clone()),
            (PIPELINE_RUN_TAG.to_string(), context.run_id.clone()),
            (TRIGGER_TAG.to_string(), definition_cut(&context.trigger.describe())),
            ("mlops.logical_date".to_string(), context.logical_date.to_string()),
        ],
        parent_run_id: None,
    };
    let parent = client.create_run(experiment_id, options).await?;
    client
        .log_artifact(&parent.run_id, "pipeline.json", export(&run.definition).as_bytes(), "application/json")
        .await?;
    Ok(parent.run_id)
}

fn definition_cut(text: &str) -> String {
    super::definition::cut(text, 4_000)
}

/// Closes a pipeline run: one nested run per block that has no run of its own yet (a
/// trainer's autologged run already is one), holding its attempts, rows and logs; then
/// the parent's summary metrics, `history.json` and final status. The nested run ids.
pub async fn finish_pipeline_run<B: KvBackend, E: Env>(
    client: &TrackingClient<B, E>,
    experiment_id: &str,
    parent_run_id: &str,
    run: &PipelineRun,
) -> Result<Vec<String>, TrackingError> {
    let now = client.env().now_ms();
    let mut nested = Vec::new();
    for (state, definition) in run.blocks.iter().zip(&run.definition.blocks) {
        if state.status == BlockStatus::Note {
            continue;
        }
        let attempts = run.attempts(&state.id);
        let executed: Vec<_> = attempts.iter().filter(|r| r.status != AttemptStatus::Skipped).collect();
        if !state.logged_runs.is_empty() {
            // Autologged by `apply_effects`, already nested and tagged with the block.
            nested.extend(state.logged_runs.iter().cloned());
            continue;
        }
        let options = RunOptions {
            run_name: Some(format!("{} ({})", state.id, definition.kind.name())),
            start_time: None,
            tags: vec![
                (PIPELINE_TAG.to_string(), run.context.pipeline.clone()),
                (PIPELINE_RUN_TAG.to_string(), run.context.run_id.clone()),
                (BLOCK_TAG.to_string(), state.id.clone()),
                ("mlops.block_status".to_string(), state.status.name().to_string()),
            ],
            parent_run_id: Some(parent_run_id.to_string()),
        };
        let child = client.create_run(experiment_id, options).await?;
        let last = attempts.last();
        let metric =
            |key: &str, value: f64| MetricEntry { key: key.to_string(), value, timestamp: now, step: 0 };
        let mut metrics = vec![metric("attempts", executed.len() as f64)];
        if let Some(last) = last {
            metrics.push(metric("rows_in", last.rows_in as f64));
            metrics.push(metric("rows_out", last.rows_out as f64));
        }
        let simulated: i64 = executed.iter().map(|r| r.duration_seconds()).sum();
        metrics.push(metric("simulated_seconds", simulated as f64));
        let params = vec![
            ("kind".to_string(), definition.kind.name().to_string()),
            ("op".to_string(), definition.params.op_name().to_string()),
            ("retries".to_string(), definition.retry.retries.to_string()),
        ];
        client.log_batch(&child.run_id, &metrics, &params, &[]).await?;
        let logs: Vec<String> = attempts
            .iter()
            .flat_map(|r| {
                let header = format!(
                    "— try {} attempt {} · {:?} · {} → {}",
                    r.try_number,
                    r.attempt,
                    r.status,
                    r.started_at,
                    r.ended_at.map_or("…".to_string(), |t| t.to_string())
                );
                std::iter::once(header).chain(r.logs.iter().cloned())
            })
            .collect();
        client.log_artifact(&child.run_id, "logs.txt", logs.join("\n").as_bytes(), "text/plain").await?;
        let status = match state.status {
            BlockStatus::Succeeded | BlockStatus::Cached => RunStatus::Finished,
            BlockStatus::Failed => RunStatus::Failed,
            _ => RunStatus::Killed,
        };
        client.set_terminated(&child.run_id, status, None).await?;
        nested.push(child.run_id);
    }
    let count = |status: BlockStatus| run.blocks.iter().filter(|b| b.status == status).count() as f64;
    let metric = |key: &str, value: f64| MetricEntry { key: key.to_string(), value, timestamp: now, step: 0 };
    let metrics = vec![
        metric("blocks_succeeded", count(BlockStatus::Succeeded)),
        metric("blocks_cached", count(BlockStatus::Cached)),
        metric("blocks_failed", count(BlockStatus::Failed)),
        metric("blocks_skipped", count(BlockStatus::Skipped)),
        metric("attempts", run.history.iter().filter(|r| r.status != AttemptStatus::Skipped).count() as f64),
        metric("simulated_seconds", run.duration_seconds(run.finished_at.unwrap_or(run.created_at)) as f64),
    ];
    client.log_batch(parent_run_id, &metrics, &[], &[]).await?;
    client
        .log_artifact(parent_run_id, "history.json", &json_bytes(&run.history)?, "application/json")
        .await?;
    let status = match run.status {
        PipelineStatus::Succeeded => RunStatus::Finished,
        PipelineStatus::Failed => RunStatus::Failed,
        PipelineStatus::Running => RunStatus::Killed,
    };
    client.set_terminated(parent_run_id, status, None).await?;
    Ok(nested)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::features::FeatureSet;
    use crate::models::{LinearModel, ModelKind};
    use crate::tracking::contract::TestEnv;
    use crate::tracking::memory::MemoryKv;
    use crate::tracking::registry::Stage;
    use crate::tracking::DEFAULT_EXPERIMENT_ID;

    type Client = TrackingClient<MemoryKv, TestEnv>;

    fn client() -> Client {
        block_on(TrackingClient::open(MemoryKv::new(), TestEnv::new(1_700_000_000_000))).expect("opens")
    }

    fn target(parent: Option<String>) -> EffectTarget {
        EffectTarget {
            experiment_id: DEFAULT_EXPERIMENT_ID.to_string(),
            parent_run_id: parent,
            pipeline: "demo".into(),
            pipeline_run: "demo#1".into(),
            block: "register".into(),
        }
    }

    fn tiny_model() -> Model {
        Model::Linear(LinearModel {
            kind: ModelKind::LinearRegression,
            alpha: None,
            feature_set: FeatureSet::PuDo,
            feature_names: vec!["trip_distance".into()],
            coefficients: vec![2.0],
            intercept: 3.0,
            iterations: 1,
        })
    }

    #[test]
    fn nothing_registered_means_nothing_to_beat() {
        let client = client();
        let reference = ModelRef::production("nyc-taxi-regressor");
        assert_eq!(block_on(load_registered(&client, &reference)), Ok(None));
    }

    #[test]
    fn a_model_without_a_run_is_logged_then_registered_and_promoted() {
        let client = client();
        let effects = [
            Effect::RegisterModel {
                model: "demo-model".into(),
                model_json: tiny_model().to_json(),
                run_id: None,
                description: "from a test".into(),
            },
            Effect::MoveRegistered {
                model: "demo-model".into(),
                target: ModelTarget::Stage(Stage::Production),
                archive_existing: true,
                reason: "no gate".into(),
            },
            Effect::MoveRegistered {
                model: "demo-model".into(),
                target: ModelTarget::Alias("champion".into()),
                archive_existing: false,
                reason: "no gate".into(),
            },
        ];
        let results = block_on(apply_effects(&client, &target(None), &effects)).expect("applies");
        assert_eq!(
            results[1..],
            [
                EffectResult::Moved { model: "demo-model".into(), version: 1, target: "Production".into() },
                EffectResult::Moved { model: "demo-model".into(), version: 1, target: "@champion".into() },
            ]
        );
        let loaded = block_on(load_registered(&client, &ModelRef::production("demo-model"))).expect("reads");
        assert_eq!(loaded.map(|m| (m.version, m.model)), Some((1, tiny_model())));
        let by_alias = ModelRef { model: "demo-model".into(), target: ModelTarget::Alias("champion".into()) };
        assert_eq!(block_on(load_registered(&client, &by_alias)).expect("reads").map(|m| m.version), Some(1));
    }

    #[test]
    fn moving_without_registering_first_is_refused() {
        let client = client();
        let effects = [Effect::MoveRegistered {
            model: "demo-model".into(),
            target: ModelTarget::Stage(Stage::Production),
            archive_existing: true,
            reason: String::new(),
        }];
        let error = block_on(apply_effects(&client, &target(None), &effects)).expect_err("refused");
        assert!(error.to_string().contains("needs a version registered just before it"), "{error}");
    }

    #[test]
    fn a_file_without_a_pipeline_run_gets_a_run_of_its_own() {
        let client = client();
        let effects = [Effect::WriteFile {
            path: "taxi_type=green/year=2021/month=02/x.parquet".into(),
            bytes: b"PAR1".to_vec(),
            rows: 1,
        }];
        let results = block_on(apply_effects(&client, &target(None), &effects)).expect("applies");
        let EffectResult::Written { path } = &results[0] else { panic!("written") };
        let (run_id, file) = path.trim_start_matches("runs:/").split_once('/').expect("a run path");
        assert_eq!(block_on(client.download_artifact(run_id, file)).expect("stored"), b"PAR1");
    }
}
