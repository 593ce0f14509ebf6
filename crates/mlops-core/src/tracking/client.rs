//! The tracking client: MLflow's `MlflowClient` methods over any [`KvBackend`].
//!
//! All of tracking's rules live here, once: limits, write-once params, append-only metric
//! histories, soft deletion, and the registry. Each method is one backend transaction,
//! so a failure (a broken rule, a full disk, a closed tab) leaves nothing half-written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::entities::{
    format_run_id, tags, ArtifactInfo, Experiment, LifecycleStage, LoggedModel, Metric, ModelSignature, Run,
    RunStatus, ViewType, DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME,
};
use super::kv::{artifact_key, decode, encode, history_key, KvBackend, Read, Record, Table, Write};
use super::limits::{check_batch_sizes, check_key, check_name, check_value, KeyKind};
use super::registry::{parse_model_uri, ModelUri, ModelVersion, RegisteredModel, Stage};
use super::search::{parse_filter, parse_order_by, search};
use super::TrackingError;

/// Where time, randomness and the user's name come from; the core has neither a clock
/// nor a random source of its own on wasm, and tests want them fixed.
pub trait Env {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    fn random_bits(&self) -> u128;
    fn user(&self) -> String;
}

/// One metric value to log, MLflow's `Metric` entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricEntry {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

/// A page of search results. `next_page_token` is `None` on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsPage {
    pub runs: Vec<Run>,
    pub next_page_token: Option<String>,
}

/// What `create_run` needs beyond the experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<(String, String)>,
    pub parent_run_id: Option<String>,
}

pub struct TrackingClient<B, E> {
    backend: B,
    env: E,
}

const MODEL_FILE: &str = "model.json";
const MLMODEL_FILE: &str = "MLmodel";

fn one(records: &mut [Vec<Record>], index: usize) -> Option<Record> {
    records.get_mut(index).and_then(|list| list.pop())
}

fn put<T: Serialize>(table: Table, key: &str, group: &str, value: &T) -> Result<Write, TrackingError> {
    Ok(Write::Put(table, Record { key: key.to_string(), group: group.to_string(), value: encode(value)? }))
}

fn put_run(run: &Run) -> Result<Write, TrackingError> {
    put(Table::Runs, &run.run_id, &run.experiment_id, run)
}

fn decode_run(record: Option<Record>, run_id: &str) -> Result<Run, TrackingError> {
    match record {
        Some(record) => decode(&record),
        None => Err(TrackingError::RunNotFound(run_id.to_string())),
    }
}

fn active_run(record: Option<Record>, run_id: &str) -> Result<Run, TrackingError> {
    let run = decode_run(record, run_id)?;
    if run.lifecycle_stage == LifecycleStage::Deleted {
        return Err(TrackingError::RunDeleted(run_id.to_string()));
    }
    Ok(run)
}

fn decode_model(record: Option<Record>, name: &str) -> Result<RegisteredModel, TrackingError> {
    match record {
        Some(record) => decode(&record),
        None => Err(TrackingError::ModelNotFound(name.to_string())),
    }
}

/// Checks a whole batch against MLflow's rules before anything is applied.
fn check_batch(
    run: &Run,
    metrics: &[MetricEntry],
    params: &[(String, String)],
    tag_list: &[(String, String)],
) -> Result<(), TrackingError> {
    check_batch_sizes(params.len(), metrics.len(), tag_list.len())?;
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (key, value) in params {
        check_key(KeyKind::Param, key)?;
        check_value(KeyKind::Param, key, value)?;
        let old = run.params.get(key).map(String::as_str).or_else(|| seen.get(key.as_str()).copied());
        if let Some(old) = old {
            if old != value {
                return Err(TrackingError::ParamChanged {
                    key: key.clone(),
                    old: old.to_string(),
                    new: value.clone(),
                });
            }
        }
        seen.insert(key, value);
    }
    for metric in metrics {
        check_key(KeyKind::Metric, &metric.key)?;
        if !metric.value.is_finite() {
            return Err(TrackingError::NonFiniteMetric(metric.key.clone()));
        }
    }
    for (key, value) in tag_list {
        check_key(KeyKind::Tag, key)?;
        check_value(KeyKind::Tag, key, value)?;
    }
    Ok(())
}

/// Artifact paths are relative, with no `..`, so an imported file cannot name others.
pub(crate) fn check_artifact_path(path: &str) -> Result<(), TrackingError> {
    let bad = path.trim().is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(TrackingError::BadKey { kind: "artifact path", key: path.to_string(), bad: '/' });
    }
    check_name("artifact path", path)
}

/// Friendly generated run names, in the spirit of MLflow's `adjective-animal-123`.
fn generated_run_name(bits: u128) -> String {
    const ADJECTIVES: [&str; 16] = [
        "amber", "bold", "brisk", "calm", "clever", "crisp", "eager", "gentle", "honest", "lucky", "merry",
        "nimble", "quiet", "sunny", "swift", "tidy",
    ];
    const ANIMALS: [&str; 16] = [
        "otter", "heron", "lynx", "finch", "badger", "yak", "panda", "gecko", "ibis", "koala", "mole",
        "newt", "owl", "puffin", "seal", "wren",
    ];
    let adjective = ADJECTIVES[(bits & 15) as usize];
    let animal = ANIMALS[((bits >> 4) & 15) as usize];
    format!("{adjective}-{animal}-{}", (bits >> 8) % 1000)
}

impl<B: KvBackend, E: Env> TrackingClient<B, E> {
    /// Wraps a backend, creating the Default experiment on first use.
    pub async fn open(backend: B, env: E) -> Result<Self, TrackingError> {
        let client = Self { backend, env };
        let now = client.env.now_ms();
        let id = DEFAULT_EXPERIMENT_ID.to_string();
        client
            .backend
            .transact(&[Table::Experiments], &[Read::Key(Table::Experiments, id.clone())], |found| {
                if found.iter().any(|list| !list.is_empty()) {
                    return Ok((Vec::new(), ()));
                }
                let default = Experiment {
                    experiment_id: id.clone(),
                    name: DEFAULT_EXPERIMENT_NAME.to_string(),
                    lifecycle_stage: LifecycleStage::Active,
                    creation_time: now,
                    last_update_time: now,
                    tags: BTreeMap::new(),
                };
                Ok((vec![put(Table::Experiments, &id, "", &default)?], ()))
            })
            .await?;
        Ok(client)
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn env(&self) -> &E {
        &self.env
    }

    // ----- experiments -----

    async fn all_experiments(&self) -> Result<Vec<Experiment>, TrackingError> {
        let mut found = self.backend.read(&[Read::All(Table::Experiments)]).await?;
        let mut experiments =
            found.pop().unwrap_or_default().iter().map(decode).collect::<Result<Vec<Experiment>, _>>()?;
        experiments
            .sort_by_key(|e| (e.experiment_id.parse::<u64>().unwrap_or(u64::MAX), e.experiment_id.clone()));
        Ok(experiments)
    }

    pub async fn create_experiment(
        &self,
        name: &str,
        tag_list: &[(String, String)],
    ) -> Result<String, TrackingError> {
        check_name("experiment name", name)?;
        for (key, value) in tag_list {
            check_key(KeyKind::Tag, key)?;
            check_value(KeyKind::Tag, key, value)?;
        }
        let now = self.env.now_ms();
        self.backend
            .transact(&[Table::Experiments], &[Read::All(Table::Experiments)], |mut found| {
                let existing = found.pop().unwrap_or_default();
                let mut next = 1;
                for record in &existing {
                    let experiment: Experiment = decode(record)?;
                    if experiment.name == name {
                        return Err(TrackingError::DuplicateExperiment(name.to_string()));
                    }
                    if let Ok(id) = experiment.experiment_id.parse::<u64>() {
                        next = next.max(id + 1);
                    }
                }
                let experiment = Experiment {
                    experiment_id: next.to_string(),
                    name: name.to_string(),
                    lifecycle_stage: LifecycleStage::Active,
                    creation_time: now,
                    last_update_time: now,
                    tags: tag_list.iter().cloned().collect(),
                };
                let write = put(Table::Experiments, &experiment.experiment_id, "", &experiment)?;
                Ok((vec![write], experiment.experiment_id))
            })
            .await
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment, TrackingError> {
        let mut found =
            self.backend.read(&[Read::Key(Table::Experiments, experiment_id.to_string())]).await?;
        match one(&mut found, 0) {
            Some(record) => decode(&record),
            None => Err(TrackingError::ExperimentNotFound(experiment_id.to_string())),
        }
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        Ok(self.all_experiments().await?.into_iter().find(|e| e.name == name))
    }

    /// Experiments in creation order, filtered by lifecycle stage.
    pub async fn search_experiments(&self, view: ViewType) -> Result<Vec<Experiment>, TrackingError> {
        Ok(self.all_experiments().await?.into_iter().filter(|e| view.includes(e.lifecycle_stage)).collect())
    }

    async fn update_experiment(
        &self,
        experiment_id: &str,
        check_names: bool,
        change: impl FnOnce(&mut Experiment, &[Experiment]) -> Result<(), TrackingError>,
    ) -> Result<(), TrackingError> {
        let now = self.env.now_ms();
        let read = if check_names {
            Read::All(Table::Experiments)
        } else {
            Read::Key(Table::Experiments, experiment_id.to_string())
        };
        self.backend
            .transact(&[Table::Experiments], &[read], |mut found| {
                let all = found
                    .pop()
                    .unwrap_or_default()
                    .iter()
                    .map(decode)
                    .collect::<Result<Vec<Experiment>, _>>()?;
                let mut experiment = all
                    .iter()
                    .find(|e| e.experiment_id == experiment_id)
                    .cloned()
                    .ok_or_else(|| TrackingError::ExperimentNotFound(experiment_id.to_string()))?;
                change(&mut experiment, &all)?;
                experiment.last_update_time = now;
                Ok((vec![put(Table::Experiments, experiment_id, "", &experiment)?], ()))
            })
            .await
    }

    pub async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<(), TrackingError> {
        check_name("experiment name", new_name)?;
        self.update_experiment(experiment_id, true, |experiment, all| {
            if all.iter().any(|e| e.name == new_name && e.experiment_id != experiment_id) {
                return Err(TrackingError::DuplicateExperiment(new_name.to_string()));
            }
            experiment.name = new_name.to_string();
            Ok(())
        })
        .await
    }

    /// Marks an experiment deleted; its runs stay, and restoring brings it all back.
    pub async fn delete_experiment(&self, experiment_id: &str) -> Result<(), TrackingError> {
        if experiment_id == DEFAULT_EXPERIMENT_ID {
            return Err(TrackingError::DefaultExperiment);
        }
        self.update_experiment(experiment_id, false, |experiment, _| {
            experiment.lifecycle_stage = LifecycleStage::Deleted;
            Ok(())
        })
        .await
    }

    pub async fn restore_experiment(&self, experiment_id: &str) -> Result<(), TrackingError> {
        self.update_experiment(experiment_id, false, |experiment, _| {
            experiment.lifecycle_stage = LifecycleStage::Active;
            Ok(())
        })
        .await
    }

    pub async fn set_experiment_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), TrackingError> {
        check_key(KeyKind::Tag, key)?;
        check_value(KeyKind::Tag, key, value)?;
        self.update_experiment(experiment_id, false, |experiment, _| {
            experiment.tags.insert(key.to_string(), value.to_string());
            Ok(())
        })
        .await
    }

    // ----- runs -----

    pub async fn create_run(&self, experiment_id: &str, options: RunOptions) -> Result<Run, TrackingError> {
        let bits = self.env.random_bits();
        let run_id = format_run_id(bits);
        let start_time = options.start_time.unwrap_or_else(|| self.env.now_ms());
        let user = self.env.user();
        let mut tag_map: BTreeMap<String, String> = BTreeMap::new();
        tag_map.insert(tags::USER.to_string(), user.clone());
        tag_map.insert(tags::SOURCE_NAME.to_string(), "MLOps Lab".to_string());
        tag_map.insert(tags::SOURCE_TYPE.to_string(), "LOCAL".to_string());
        for (key, value) in &options.tags {
            tag_map.insert(key.clone(), value.clone());
        }
        let run_name = options
            .run_name
            .clone()
            .or_else(|| tag_map.get(tags::RUN_NAME).cloned())
            .unwrap_or_else(|| generated_run_name(bits));
        tag_map.insert(tags::RUN_NAME.to_string(), run_name.clone());
        if let Some(parent) = &options.parent_run_id {
            tag_map.insert(tags::PARENT_RUN_ID.to_string(), parent.clone());
        }
        let tag_list: Vec<(String, String)> = tag_map.clone().into_iter().collect();
        let mut reads = vec![
            Read::Key(Table::Experiments, experiment_id.to_string()),
            Read::Key(Table::Runs, run_id.clone()),
        ];
        if let Some(parent) = &options.parent_run_id {
            reads.push(Read::Key(Table::Runs, parent.clone()));
        }
        let run = Run {
            run_id: run_id.clone(),
            experiment_id: experiment_id.to_string(),
            run_name,
            user_id: user,
            status: RunStatus::Running,
            start_time,
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            tags: tag_map,
            artifacts: Vec::new(),
            logged_models: Vec::new(),
        };
        check_batch(&run, &[], &[], &tag_list)?;
        self.backend
            .transact(&[Table::Experiments, Table::Runs], &reads, |mut found| {
                let experiment: Experiment = match one(&mut found, 0) {
                    Some(record) => decode(&record)?,
                    None => return Err(TrackingError::ExperimentNotFound(experiment_id.to_string())),
                };
                if experiment.lifecycle_stage == LifecycleStage::Deleted {
                    return Err(TrackingError::ExperimentDeleted(experiment.name));
                }
                if one(&mut found, 1).is_some() {
                    return Err(TrackingError::DuplicateRun(run_id.clone()));
                }
                if let Some(parent) = &options.parent_run_id {
                    decode_run(one(&mut found, 2), parent)?;
                }
                Ok((vec![put_run(&run)?], run.clone()))
            })
            .await
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run, TrackingError> {
        let mut found = self.backend.read(&[Read::Key(Table::Runs, run_id.to_string())]).await?;
        decode_run(one(&mut found, 0), run_id)
    }

    /// Reads a run (plus `extra` records), applies `change`, and writes the run back
    /// with whatever else `change` wants written — one transaction.
    async fn update_run<T>(
        &self,
        run_id: &str,
        tables: &[Table],
        extra: Vec<Read>,
        change: impl FnOnce(&mut Run, Vec<Vec<Record>>) -> Result<(Vec<Write>, T), TrackingError>,
    ) -> Result<T, TrackingError> {
        let mut reads = vec![Read::Key(Table::Runs, run_id.to_string())];
        reads.extend(extra);
        self.backend
            .transact(tables, &reads, |mut found| {
                let mut run = active_run(one(&mut found, 0), run_id)?;
                let rest = found.split_off(1);
                let (mut writes, out) = change(&mut run, rest)?;
                writes.push(put_run(&run)?);
                Ok((writes, out))
            })
            .await
    }

    /// MLflow's `log_batch`: all of it is applied, or — on any broken rule — none of it.
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[MetricEntry],
        params: &[(String, String)],
        tag_list: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let mut keys: Vec<&str> = metrics.iter().map(|m| m.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let extra =
            keys.iter().map(|key| Read::Key(Table::MetricHistory, history_key(run_id, key))).collect();
        self.update_run(run_id, &[Table::Runs, Table::MetricHistory], extra, |run, histories| {
            check_batch(run, metrics, params, tag_list)?;
            let mut writes = Vec::new();
            for (key, found) in keys.iter().zip(histories) {
                let mut history: Vec<Metric> = match found.first() {
                    Some(record) => decode(record)?,
                    None => Vec::new(),
                };
                for entry in metrics.iter().filter(|m| m.key == *key) {
                    let point = Metric { value: entry.value, timestamp: entry.timestamp, step: entry.step };
                    history.push(point);
                    let newer = run.metrics.get(*key).is_none_or(|latest| point.is_later_than(latest));
                    if newer {
                        run.metrics.insert(key.to_string(), point);
                    }
                }
                writes.push(put(Table::MetricHistory, &history_key(run_id, key), run_id, &history)?);
            }
            for (key, value) in params {
                run.params.insert(key.clone(), value.clone());
            }
            for (key, value) in tag_list {
                if key == tags::RUN_NAME {
                    run.run_name = value.clone();
                }
                run.tags.insert(key.clone(), value.clone());
            }
            Ok((writes, ()))
        })
        .await
    }

    pub async fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<(), TrackingError> {
        self.log_batch(run_id, &[], &[(key.to_string(), value.to_string())], &[]).await
    }

    /// Logs one metric value; `timestamp` defaults to now and `step` to 0, as in MLflow.
    pub async fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        timestamp: Option<i64>,
        step: Option<i64>,
    ) -> Result<(), TrackingError> {
        let entry = MetricEntry {
            key: key.to_string(),
            value,
            timestamp: timestamp.unwrap_or_else(|| self.env.now_ms()),
            step: step.unwrap_or(0),
        };
        self.log_batch(run_id, &[entry], &[], &[]).await
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<(), TrackingError> {
        self.log_batch(run_id, &[], &[], &[(key.to_string(), value.to_string())]).await
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<(), TrackingError> {
        self.update_run(run_id, &[Table::Runs], Vec::new(), |run, _| {
            if run.tags.remove(key).is_none() {
                return Err(TrackingError::BadKey { kind: "tag", key: key.to_string(), bad: '?' });
            }
            Ok((Vec::new(), ()))
        })
        .await
    }

    /// Ends a run (MLflow's `set_terminated`); `end_time` defaults to now.
    pub async fn set_terminated(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), TrackingError> {
        let end = end_time.unwrap_or_else(|| self.env.now_ms());
        self.update_run(run_id, &[Table::Runs], Vec::new(), |run, _| {
            run.status = status;
            run.end_time = if status.is_terminated() { Some(end) } else { None };
            Ok((Vec::new(), ()))
        })
        .await
    }

    pub async fn rename_run(&self, run_id: &str, name: &str) -> Result<(), TrackingError> {
        check_name("run name", name)?;
        self.set_tag(run_id, tags::RUN_NAME, name).await
    }

    /// Marks a run deleted (MLflow's soft delete); [`Self::restore_run`] undoes it.
    pub async fn delete_run(&self, run_id: &str) -> Result<(), TrackingError> {
        self.set_lifecycle(run_id, LifecycleStage::Deleted).await
    }

    pub async fn restore_run(&self, run_id: &str) -> Result<(), TrackingError> {
        self.set_lifecycle(run_id, LifecycleStage::Active).await
    }

    async fn set_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<(), TrackingError> {
        self.backend
            .transact(&[Table::Runs], &[Read::Key(Table::Runs, run_id.to_string())], |mut found| {
                let mut run = decode_run(one(&mut found, 0), run_id)?;
                run.lifecycle_stage = stage;
                Ok((vec![put_run(&run)?], ()))
            })
            .await
    }

    /// Removes a run for good, with its histories and files (`mlflow gc`). Only deleted
    /// runs can be purged, so one click cannot lose work.
    pub async fn purge_run(&self, run_id: &str) -> Result<(), TrackingError> {
        let reads = [
            Read::Key(Table::Runs, run_id.to_string()),
            Read::Group(Table::MetricHistory, run_id.to_string()),
            Read::Group(Table::Artifacts, run_id.to_string()),
        ];
        self.backend
            .transact(&[Table::Runs, Table::MetricHistory, Table::Artifacts], &reads, |found| {
                let mut found = found.into_iter();
                let run = decode_run(found.next().and_then(|mut l| l.pop()), run_id)?;
                if run.lifecycle_stage != LifecycleStage::Deleted {
                    return Err(TrackingError::Backend(format!(
                        "run `{run_id}` must be deleted before it is purged"
                    )));
                }
                let mut writes = vec![Write::Delete(Table::Runs, run_id.to_string())];
                for (table, list) in [Table::MetricHistory, Table::Artifacts].into_iter().zip(found) {
                    writes.extend(list.into_iter().map(|r| Write::Delete(table, r.key)));
                }
                Ok((writes, ()))
            })
            .await
    }

    pub async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, TrackingError> {
        let reads = [
            Read::Key(Table::Runs, run_id.to_string()),
            Read::Key(Table::MetricHistory, history_key(run_id, key)),
        ];
        let mut found = self.backend.read(&reads).await?;
        decode_run(one(&mut found, 0), run_id)?;
        match one(&mut found, 1) {
            Some(record) => decode(&record),
            None => Ok(Vec::new()),
        }
    }

    // ----- artifacts and models -----

    pub async fn log_artifact(
        &self,
        run_id: &str,
        path: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), TrackingError> {
        check_artifact_path(path)?;
        let key = artifact_key(run_id, path);
        self.update_run(run_id, &[Table::Runs, Table::Artifacts], Vec::new(), |run, _| {
            let info = ArtifactInfo {
                path: path.to_string(),
                size: bytes.len() as u64,
                content_type: content_type.to_string(),
            };
            run.artifacts.retain(|a| a.path != path);
            run.artifacts.push(info);
            run.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
            let file = Record { key: key.clone(), group: run_id.to_string(), value: bytes.to_vec() };
            Ok((vec![Write::Put(Table::Artifacts, file)], ()))
        })
        .await
    }

    pub async fn list_artifacts(&self, run_id: &str) -> Result<Vec<ArtifactInfo>, TrackingError> {
        Ok(self.get_run(run_id).await?.artifacts)
    }

    pub async fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>, TrackingError> {
        let reads = [
            Read::Key(Table::Runs, run_id.to_string()),
            Read::Key(Table::Artifacts, artifact_key(run_id, path)),
        ];
        let mut found = self.backend.read(&reads).await?;
        decode_run(one(&mut found, 0), run_id)?;
        one(&mut found, 1).map(|record| record.value).ok_or_else(|| TrackingError::ArtifactNotFound {
            run_id: run_id.to_string(),
            path: path.to_string(),
        })
    }

    /// MLflow's `log_model`: the model file and an `MLmodel` description under
    /// `artifact_path`, the signature on the run, and the `log-model.history` tag.
    pub async fn log_model(
        &self,
        run_id: &str,
        artifact_path: &str,
        flavor: &str,
        model_json: &[u8],
        signature: ModelSignature,
    ) -> Result<(), TrackingError> {
        check_artifact_path(artifact_path)?;
        let now = self.env.now_ms();
        let logged = LoggedModel {
            artifact_path: artifact_path.to_string(),
            flavor: flavor.to_string(),
            signature,
            utc_time_created: now,
        };
        let description = serde_json::json!({
            "artifact_path": artifact_path,
            "run_id": run_id,
            "flavors": { flavor: { "model_file": MODEL_FILE } },
            "signature": { "inputs": &logged.signature.inputs, "outputs": &logged.signature.outputs },
            "utc_time_created": now,
        });
        let description =
            serde_json::to_vec_pretty(&description).map_err(|e| TrackingError::Corrupt(e.to_string()))?;
        let model_path = format!("{artifact_path}/{MODEL_FILE}");
        let mlmodel_path = format!("{artifact_path}/{MLMODEL_FILE}");
        self.update_run(run_id, &[Table::Runs, Table::Artifacts], Vec::new(), |run, _| {
            let mut writes = Vec::new();
            for (path, bytes, kind) in
                [(&model_path, model_json, "application/json"), (&mlmodel_path, description.as_slice(), "application/json")]
            {
                run.artifacts.retain(|a| &a.path != path);
                run.artifacts.push(ArtifactInfo { path: path.clone(), size: bytes.len() as u64, content_type: kind.into() });
                writes.push(Write::Put(
                    Table::Artifacts,
                    Record { key: artifact_key(run_id, path), group: run_id.to_string(), value: bytes.to_vec() },
                ));
            }
            run.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
            run.logged_models.retain(|m| m.artifact_path != logged.artifact_path);
            run.logged_models.push(logged.clone());
            let history: Vec<serde_json::Value> = run
                .logged_models
                .iter()
                .map(|m| serde_json::json!({"artifact_path": m.artifact_path, "flavors": [m.flavor], "utc_time_created": m.utc_time_created}))
                .collect();
            let history = serde_json::to_string(&history).map_err(|e| TrackingError::Corrupt(e.to_string()))?;
            if history.chars().count() <= super::limits::MAX_TAG_VALUE_LENGTH {
                run.tags.insert(tags::LOG_MODEL_HISTORY.to_string(), history);
            }
            Ok((writes, ()))
        })
        .await
    }

    // ----- search -----

    /// Every run of these experiments (all experiments if empty) in `view`, unsorted.
    /// The app keeps this in memory and filters it per keystroke, instead of reading
    /// the database again.
    pub async fn all_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<Vec<Run>, TrackingError> {
        let ids: Vec<String> = if experiment_ids.is_empty() {
            self.all_experiments().await?.into_iter().map(|e| e.experiment_id).collect()
        } else {
            experiment_ids.to_vec()
        };
        let reads: Vec<Read> = ids.into_iter().map(|id| Read::Group(Table::Runs, id)).collect();
        let found = self.backend.read(&reads).await?;
        let mut runs = Vec::new();
        for record in found.iter().flatten() {
            let run: Run = decode(record)?;
            if view.includes(run.lifecycle_stage) {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// MLflow's `search_runs`: filter string, order, paging. The filter language is
    /// MLflow's plus `OR` and parentheses (see [`super::search`]).
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter_string: &str,
        view: ViewType,
        max_results: usize,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<RunsPage, TrackingError> {
        let filter = parse_filter(filter_string)?;
        let order = parse_order_by(order_by)?;
        let offset = match page_token {
            None => 0,
            Some(token) => token.parse::<usize>().map_err(|_| {
                TrackingError::Backend(format!("`{token}` is not a page token from a previous search"))
            })?,
        };
        let runs = self.all_runs(experiment_ids, view).await?;
        let matched = search(&runs, &filter, &order);
        let limit = max_results.clamp(1, super::limits::MAX_RESULTS);
        let end = offset.saturating_add(limit).min(matched.len());
        let next_page_token = (end < matched.len()).then(|| end.to_string());
        let page = matched.into_iter().skip(offset).take(end.saturating_sub(offset)).collect();
        Ok(RunsPage { runs: page, next_page_token })
    }

    // ----- registry -----

    async fn update_model<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut RegisteredModel) -> Result<T, TrackingError>,
    ) -> Result<T, TrackingError> {
        self.backend
            .transact(&[Table::Models], &[Read::Key(Table::Models, name.to_string())], |mut found| {
                let mut model = decode_model(one(&mut found, 0), name)?;
                let out = change(&mut model)?;
                Ok((vec![put(Table::Models, name, "", &model)?], out))
            })
            .await
    }

    pub async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, TrackingError> {
        let model = RegisteredModel::new(name, description, self.env.now_ms())?;
        self.backend
            .transact(&[Table::Models], &[Read::Key(Table::Models, name.to_string())], |found| {
                if found.iter().any(|list| !list.is_empty()) {
                    return Err(TrackingError::DuplicateModel(name.to_string()));
                }
                Ok((vec![put(Table::Models, name, "", &model)?], model.clone()))
            })
            .await
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, TrackingError> {
        let mut found = self.backend.read(&[Read::Key(Table::Models, name.to_string())]).await?;
        decode_model(one(&mut found, 0), name)
    }

    /// All registered models by name; `name_like` keeps those whose name contains it
    /// (case-insensitively).
    pub async fn search_registered_models(
        &self,
        name_like: &str,
    ) -> Result<Vec<RegisteredModel>, TrackingError> {
        let mut found = self.backend.read(&[Read::All(Table::Models)]).await?;
        let needle = name_like.to_lowercase();
        let mut models = found
            .pop()
            .unwrap_or_default()
            .iter()
            .map(decode)
            .filter(|m: &Result<RegisteredModel, _>| {
                m.as_ref().map_or(true, |m| m.name.to_lowercase().contains(&needle))
            })
            .collect::<Result<Vec<_>, _>>()?;
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    pub async fn update_registered_model(&self, name: &str, description: &str) -> Result<(), TrackingError> {
        let now = self.env.now_ms();
        self.update_model(name, |model| model.update_description(description, now)).await
    }

    pub async fn delete_registered_model(&self, name: &str) -> Result<(), TrackingError> {
        self.backend
            .transact(&[Table::Models], &[Read::Key(Table::Models, name.to_string())], |mut found| {
                decode_model(one(&mut found, 0), name)?;
                Ok((vec![Write::Delete(Table::Models, name.to_string())], ()))
            })
            .await
    }

    /// A new version from a run's logged model; the run must exist and hold the files.
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        description: &str,
    ) -> Result<ModelVersion, TrackingError> {
        let now = self.env.now_ms();
        let reads = [Read::Key(Table::Models, name.to_string()), Read::Key(Table::Runs, run_id.to_string())];
        self.backend
            .transact(&[Table::Models, Table::Runs], &reads, |mut found| {
                let mut model = decode_model(one(&mut found, 0), name)?;
                let run = active_run(one(&mut found, 1), run_id)?;
                if let Ok(ModelUri::Run { artifact_path, .. }) = parse_model_uri(source) {
                    if !run.logged_models.iter().any(|m| m.artifact_path == artifact_path) {
                        return Err(TrackingError::ArtifactNotFound {
                            run_id: run_id.to_string(),
                            path: artifact_path,
                        });
                    }
                }
                let version = model.create_version(source, run_id, description, now)?.clone();
                Ok((vec![put(Table::Models, name, "", &model)?], version))
            })
            .await
    }

    /// `mlflow.register_model`: creates the registered model if needed, then a version
    /// from `runs:/<run id>/<path>`.
    pub async fn register_model(&self, model_uri: &str, name: &str) -> Result<ModelVersion, TrackingError> {
        let ModelUri::Run { run_id, .. } = parse_model_uri(model_uri)? else {
            return Err(TrackingError::BadModelUri {
                uri: model_uri.to_string(),
                why: "register from a run: `runs:/<run id>/<path>`".to_string(),
            });
        };
        match self.create_registered_model(name, "").await {
            Ok(_) | Err(TrackingError::DuplicateModel(_)) => {}
            Err(e) => return Err(e),
        }
        self.create_model_version(name, model_uri, &run_id, "").await
    }

    pub async fn get_model_version(&self, name: &str, version: u32) -> Result<ModelVersion, TrackingError> {
        self.get_registered_model(name).await?.version(version).cloned()
    }

    pub async fn get_latest_versions(
        &self,
        name: &str,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        Ok(self.get_registered_model(name).await?.latest_versions(stages).into_iter().cloned().collect())
    }

    /// Every version made from one run, across all models (the run page lists them).
    pub async fn search_model_versions_by_run(
        &self,
        run_id: &str,
    ) -> Result<Vec<ModelVersion>, TrackingError> {
        let models = self.search_registered_models("").await?;
        Ok(models.into_iter().flat_map(|m| m.versions).filter(|v| v.run_id == run_id).collect())
    }

    pub async fn transition_model_version_stage(
        &self,
        name: &str,
        version: u32,
        stage: Stage,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion, TrackingError> {
        let now = self.env.now_ms();
        self.update_model(name, |model| {
            model.transition_stage(version, stage, archive_existing_versions, now)?;
            model.version(version).cloned()
        })
        .await
    }

    pub async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
    ) -> Result<(), TrackingError> {
        let now = self.env.now_ms();
        self.update_model(name, |model| model.set_alias(alias, version, now)).await
    }

    pub async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<(), TrackingError> {
        let now = self.env.now_ms();
        self.update_model(name, |model| model.delete_alias(alias, now)).await
    }

    pub async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, TrackingError> {
        self.get_registered_model(name).await?.version_by_alias(alias).cloned()
    }

    /// Which run and artifact folder a model URI means: `models:/name/Production`,
    /// `models:/name@champion`, `models:/name/3`, or `runs:/<id>/model`.
    pub async fn resolve_model_uri(&self, uri: &str) -> Result<(String, String), TrackingError> {
        match parse_model_uri(uri)? {
            ModelUri::Run { run_id, artifact_path } => Ok((run_id, artifact_path)),
            parsed => {
                let model = self.get_registered_model(parsed.model_name().unwrap_or_default()).await?;
                let version = model.resolve(&parsed)?;
                match parse_model_uri(&version.source)? {
                    ModelUri::Run { run_id, artifact_path } => Ok((run_id, artifact_path)),
                    _ => Ok((version.run_id.clone(), "model".to_string())),
                }
            }
        }
    }

    /// The model file behind a URI, for serving and monitoring.
    pub async fn load_model_bytes(&self, uri: &str) -> Result<Vec<u8>, TrackingError> {
        let (run_id, artifact_path) = self.resolve_model_uri(uri).await?;
        self.download_artifact(&run_id, &format!("{artifact_path}/{MODEL_FILE}")).await
    }
}
