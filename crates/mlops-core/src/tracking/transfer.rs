//! Export and import: experiments, runs (with metric histories and files) and registered
//! models as one JSON file, so a learner can move work between browsers or hand it in.
//!
//! An imported file is untrusted. It is checked whole — format marker, size, ids, keys,
//! limits, artifact paths — before anything is written, and then written in one
//! transaction. Runs already present (same id) are skipped rather than overwritten, so
//! importing never loses local work.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::client::{Env, TrackingClient};
use super::entities::{is_run_id, Experiment, LifecycleStage, Metric, Run, ViewType};
use super::kv::{artifact_key, decode, encode, history_key, KvBackend, Read, Record, Table, Write};
use super::limits::{check_key, check_name, check_value, KeyKind};
use super::registry::RegisteredModel;
use super::TrackingError;

pub const FORMAT: &str = "mlops-lab-export";
pub const FORMAT_VERSION: u32 = 1;
/// Larger files are refused before parsing, so a hostile file cannot exhaust memory.
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedArtifact {
    pub path: String,
    pub content_type: String,
    /// The file's bytes, base64 (standard alphabet, padded).
    pub base64: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedRun {
    pub run: Run,
    pub metric_history: BTreeMap<String, Vec<Metric>>,
    pub artifacts: Vec<ExportedArtifact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportBundle {
    pub format: String,
    pub format_version: u32,
    pub exported_at: i64,
    pub experiments: Vec<Experiment>,
    pub runs: Vec<ExportedRun>,
    pub models: Vec<RegisteredModel>,
}

/// What an import did, shown to the learner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub experiments_created: usize,
    pub runs_imported: usize,
    /// Ids already present here; the local run was kept.
    pub runs_skipped: Vec<String>,
    pub models_imported: usize,
    /// Names already registered here; the local model was kept.
    pub models_skipped: Vec<String>,
}

fn invalid(why: impl Into<String>) -> TrackingError {
    TrackingError::Import(why.into())
}

/// Parses and checks an export file. Every rule a live run obeys is checked again, since
/// the file may have been edited by hand or made by someone else.
pub fn parse_bundle(bytes: &[u8]) -> Result<ExportBundle, TrackingError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(invalid(format!(
            "it is {} MB; the limit is {} MB",
            bytes.len() >> 20,
            MAX_IMPORT_BYTES >> 20
        )));
    }
    let head: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("it is not valid JSON ({e})")))?;
    if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(invalid("it is not an MLOps Lab export (the `format` field is missing or different)"));
    }
    match head.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(invalid(format!("it is format version {v}; this app reads version {FORMAT_VERSION}")))
        }
        None => return Err(invalid("the `format_version` field is missing")),
    }
    let bundle: ExportBundle = serde_json::from_value(head)
        .map_err(|e| invalid(format!("its contents do not match the format: {e}")))?;
    check_bundle(&bundle)?;
    Ok(bundle)
}

fn check_bundle(bundle: &ExportBundle) -> Result<(), TrackingError> {
    let mut experiment_ids = BTreeSet::new();
    for experiment in &bundle.experiments {
        check_name("experiment name", &experiment.name).map_err(|e| invalid(e.to_string()))?;
        if !experiment_ids.insert(experiment.experiment_id.as_str()) {
            return Err(invalid(format!("experiment id `{}` appears twice", experiment.experiment_id)));
        }
    }
    let mut run_ids = BTreeSet::new();
    for exported in &bundle.runs {
        let run = &exported.run;
        let context = |e: TrackingError| invalid(format!("run `{}`: {e}", run.run_id));
        if !is_run_id(&run.run_id) {
            return Err(invalid(format!("`{}` is not a run id (32 hex digits)", run.run_id)));
        }
        if !run_ids.insert(run.run_id.as_str()) {
            return Err(invalid(format!("run `{}` appears twice", run.run_id)));
        }
        if !experiment_ids.contains(run.experiment_id.as_str()) {
            return Err(invalid(format!(
                "run `{}` names experiment `{}`, which is not in the file",
                run.run_id, run.experiment_id
            )));
        }
        for (key, value) in &run.params {
            check_key(KeyKind::Param, key)
                .and_then(|_| check_value(KeyKind::Param, key, value))
                .map_err(context)?;
        }
        for (key, value) in &run.tags {
            check_key(KeyKind::Tag, key)
                .and_then(|_| check_value(KeyKind::Tag, key, value))
                .map_err(context)?;
        }
        for key in run.metrics.keys().chain(exported.metric_history.keys()) {
            check_key(KeyKind::Metric, key).map_err(context)?;
        }
        let points = run.metrics.values().chain(exported.metric_history.values().flatten());
        if points.into_iter().any(|m| !m.value.is_finite()) {
            return Err(invalid(format!("run `{}` has a metric that is not a finite number", run.run_id)));
        }
        for artifact in &exported.artifacts {
            super::client::check_artifact_path(&artifact.path).map_err(context)?;
            base64::engine::general_purpose::STANDARD.decode(&artifact.base64).map_err(|e| {
                invalid(format!("run `{}`, file `{}`: bad base64 ({e})", run.run_id, artifact.path))
            })?;
        }
    }
    let mut names = BTreeSet::new();
    for model in &bundle.models {
        check_name("model name", &model.name).map_err(|e| invalid(e.to_string()))?;
        if !names.insert(model.name.as_str()) {
            return Err(invalid(format!("model `{}` appears twice", model.name)));
        }
    }
    Ok(())
}

impl<B: KvBackend, E: Env> TrackingClient<B, E> {
    /// Everything, or only the runs named (with their experiments and the models made
    /// from them), as an export bundle.
    pub async fn export(&self, run_ids: Option<&[String]>) -> Result<ExportBundle, TrackingError> {
        let mut runs = self.all_runs(&[], ViewType::All).await?;
        if let Some(ids) = run_ids {
            runs.retain(|r| ids.contains(&r.run_id));
        }
        runs.sort_by(|a, b| a.start_time.cmp(&b.start_time).then_with(|| a.run_id.cmp(&b.run_id)));
        let wanted: BTreeSet<&str> = runs.iter().map(|r| r.experiment_id.as_str()).collect();
        let experiments = self
            .search_experiments(ViewType::All)
            .await?
            .into_iter()
            .filter(|e| run_ids.is_none() || wanted.contains(e.experiment_id.as_str()))
            .collect();
        let mut exported = Vec::with_capacity(runs.len());
        for run in runs {
            let reads = [
                Read::Group(Table::MetricHistory, run.run_id.clone()),
                Read::Group(Table::Artifacts, run.run_id.clone()),
            ];
            let found = self.backend().read(&reads).await?;
            let prefix = format!("{}/", run.run_id);
            let mut metric_history = BTreeMap::new();
            for record in found.first().into_iter().flatten() {
                let key = record.key.strip_prefix(&prefix).unwrap_or(&record.key).to_string();
                metric_history.insert(key, decode::<Vec<Metric>>(record)?);
            }
            let artifacts = run
                .artifacts
                .iter()
                .filter_map(|info| {
                    let key = artifact_key(&run.run_id, &info.path);
                    let record = found.get(1)?.iter().find(|r| r.key == key)?;
                    Some(ExportedArtifact {
                        path: info.path.clone(),
                        content_type: info.content_type.clone(),
                        base64: base64::engine::general_purpose::STANDARD.encode(&record.value),
                    })
                })
                .collect();
            exported.push(ExportedRun { run, metric_history, artifacts });
        }
        let ids: BTreeSet<&str> = exported.iter().map(|r| r.run.run_id.as_str()).collect();
        let models = self
            .search_registered_models("")
            .await?
            .into_iter()
            .filter(|m| run_ids.is_none() || m.versions.iter().any(|v| ids.contains(v.run_id.as_str())))
            .collect();
        Ok(ExportBundle {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            exported_at: self.env().now_ms(),
            experiments,
            runs: exported,
            models,
        })
    }

    /// Imports a checked bundle in one transaction. Experiments are matched by name
    /// (created when missing); runs and models already here are kept and reported.
    pub async fn import(&self, bundle: &ExportBundle) -> Result<ImportReport, TrackingError> {
        check_bundle(bundle)?;
        let now = self.env().now_ms();
        let mut reads = vec![Read::All(Table::Experiments)];
        reads.extend(bundle.runs.iter().map(|r| Read::Key(Table::Runs, r.run.run_id.clone())));
        reads.extend(bundle.models.iter().map(|m| Read::Key(Table::Models, m.name.clone())));
        let tables = [Table::Experiments, Table::Runs, Table::MetricHistory, Table::Artifacts, Table::Models];
        self.backend()
            .transact(&tables, &reads, |found| {
                let mut found = found.into_iter();
                let local: Vec<Experiment> =
                    found.next().unwrap_or_default().iter().map(decode).collect::<Result<_, _>>()?;
                let mut report = ImportReport::default();
                let mut writes = Vec::new();
                // Map the file's experiment ids to ids here, by name.
                let mut next_id =
                    local.iter().filter_map(|e| e.experiment_id.parse::<u64>().ok()).max().unwrap_or(0) + 1;
                let mut id_map = BTreeMap::new();
                for experiment in &bundle.experiments {
                    let id = match local.iter().find(|e| e.name == experiment.name) {
                        Some(existing) => existing.experiment_id.clone(),
                        None => {
                            let id = next_id.to_string();
                            next_id += 1;
                            let mut created = experiment.clone();
                            created.experiment_id = id.clone();
                            created.last_update_time = now;
                            created.lifecycle_stage = LifecycleStage::Active;
                            writes.push(Write::Put(
                                Table::Experiments,
                                Record { key: id.clone(), group: String::new(), value: encode(&created)? },
                            ));
                            report.experiments_created += 1;
                            id
                        }
                    };
                    id_map.insert(experiment.experiment_id.as_str(), id);
                }
                for exported in &bundle.runs {
                    let run_id = exported.run.run_id.as_str();
                    if found.next().is_some_and(|list| !list.is_empty()) {
                        report.runs_skipped.push(run_id.to_string());
                        continue;
                    }
                    let mut run = exported.run.clone();
                    run.experiment_id = id_map.get(run.experiment_id.as_str()).cloned().unwrap_or_default();
                    for (key, history) in &exported.metric_history {
                        writes.push(Write::Put(
                            Table::MetricHistory,
                            Record {
                                key: history_key(run_id, key),
                                group: run_id.to_string(),
                                value: encode(history)?,
                            },
                        ));
                    }
                    for artifact in &exported.artifacts {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(&artifact.base64)
                            .map_err(|e| invalid(e.to_string()))?;
                        writes.push(Write::Put(
                            Table::Artifacts,
                            Record {
                                key: artifact_key(run_id, &artifact.path),
                                group: run_id.to_string(),
                                value: bytes,
                            },
                        ));
                    }
                    writes.push(Write::Put(
                        Table::Runs,
                        Record {
                            key: run_id.to_string(),
                            group: run.experiment_id.clone(),
                            value: encode(&run)?,
                        },
                    ));
                    report.runs_imported += 1;
                }
                for model in &bundle.models {
                    if found.next().is_some_and(|list| !list.is_empty()) {
                        report.models_skipped.push(model.name.clone());
                        continue;
                    }
                    writes.push(Write::Put(
                        Table::Models,
                        Record { key: model.name.clone(), group: String::new(), value: encode(model)? },
                    ));
                    report.models_imported += 1;
                }
                Ok((writes, report))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::contract::TestEnv;
    use crate::tracking::memory::MemoryKv;
    use crate::tracking::{RunOptions, DEFAULT_EXPERIMENT_ID};

    /// A valid export with one run and one file, as JSON to tamper with.
    fn sample() -> serde_json::Value {
        futures::executor::block_on(async {
            let client = TrackingClient::open(MemoryKv::new(), TestEnv::new(1)).await.expect("open");
            let run = client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("run");
            client.log_param(&run.run_id, "model", "lasso").await.expect("param");
            client.log_artifact(&run.run_id, "notes.txt", b"hi", "text/plain").await.expect("file");
            serde_json::to_value(client.export(None).await.expect("export")).expect("json")
        })
    }

    fn refused(value: &serde_json::Value) -> String {
        let bytes = serde_json::to_vec(value).expect("json");
        match parse_bundle(&bytes) {
            Err(TrackingError::Import(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_sample_is_accepted() {
        let bytes = serde_json::to_vec(&sample()).expect("json");
        assert_eq!(parse_bundle(&bytes).expect("valid").runs.len(), 1);
    }

    #[test]
    fn tampered_files_are_refused_with_the_reason() {
        let mut bad = sample();
        bad["runs"][0]["artifacts"][0]["path"] = "../../etc/passwd".into();
        assert!(refused(&bad).contains("artifact path"));

        let mut bad = sample();
        bad["runs"][0]["run"]["run_id"] = "not-an-id".into();
        assert!(refused(&bad).contains("not a run id"));

        let mut bad = sample();
        bad["runs"][0]["run"]["experiment_id"] = "42".into();
        assert!(refused(&bad).contains("not in the file"));

        let mut bad = sample();
        bad["runs"][0]["run"]["params"]["bad'key"] = "x".into();
        assert!(refused(&bad).contains("bad'key"));

        let mut bad = sample();
        bad["runs"][0]["run"]["tags"]["t"] = "x".repeat(8_001).into();
        assert!(refused(&bad).contains("8000"));

        let mut bad = sample();
        bad["runs"][0]["artifacts"][0]["base64"] = "***".into();
        assert!(refused(&bad).contains("base64"));

        let mut bad = sample();
        bad["surprise"] = 1.into();
        assert!(refused(&bad).contains("surprise"));

        let mut bad = sample();
        let run = bad["runs"][0].clone();
        bad["runs"].as_array_mut().expect("runs").push(run);
        assert!(refused(&bad).contains("twice"));
    }

    #[test]
    fn hostile_json_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        for text in [deep.as_str(), "", "\u{0}", "{\"format\": 1}", "\"mlops-lab-export\""] {
            assert!(matches!(parse_bundle(text.as_bytes()), Err(TrackingError::Import(_))), "{text:.20}");
        }
    }

    #[test]
    fn markup_in_names_is_kept_as_data() {
        let mut bundle = sample();
        bundle["experiments"][0]["name"] = "<img src=x onerror=alert(1)>".into();
        bundle["runs"][0]["run"]["run_name"] = "<script>alert(1)</script>".into();
        let bytes = serde_json::to_vec(&bundle).expect("json");
        let parsed = parse_bundle(&bytes).expect("markup is just text");
        futures::executor::block_on(async {
            let client = TrackingClient::open(MemoryKv::new(), TestEnv::new(1)).await.expect("open");
            let report = client.import(&parsed).await.expect("import");
            assert_eq!((report.runs_imported, report.experiments_created), (1, 1));
            let run = client.get_run(&parsed.runs[0].run.run_id).await.expect("imported");
            assert_eq!(run.run_name, "<script>alert(1)</script>");
            let experiment = client.get_experiment(&run.experiment_id).await.expect("created");
            assert_eq!(experiment.name, "<img src=x onerror=alert(1)>");
            assert_eq!(client.download_artifact(&run.run_id, "notes.txt").await.expect("file"), b"hi");
        });
    }
}
