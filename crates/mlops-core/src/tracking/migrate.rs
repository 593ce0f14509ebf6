//! Upgrading records stored by older versions of the app, one function per step.
//!
//! Version 1 (the foundation) stored each run as one JSON text with plain metric values,
//! an experiment *name*, and artifacts named at the top level (`model.json`). Version 2
//! is MLflow's model: experiment ids, metric histories, artifact sizes and types, and
//! the model logged under `model/` so it can be registered. The browser backend reads
//! the old records, calls [`upgrade_v1_run`], and writes the result in the same
//! transaction, so an upgrade is all-or-nothing too.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::entities::{
    tags, ArtifactInfo, LifecycleStage, LoggedModel, Metric, ModelSignature, Run, RunStatus,
    DEFAULT_EXPERIMENT_ID,
};
use super::kv::{artifact_key, encode, history_key, Record, Table, Write};
use super::TrackingError;

/// The latest schema version; the browser store records which one its data is in.
pub const SCHEMA_VERSION: u32 = 2;

/// A run as version 1 stored it.
#[derive(Debug, Deserialize)]
struct RunV1 {
    run_id: String,
    #[allow(dead_code)]
    experiment: String,
    run_name: String,
    status: RunStatus,
    start_time: i64,
    end_time: Option<i64>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    artifacts: Vec<String>,
}

/// The flavor name of the foundation's linear models.
pub const LINEAR_FLAVOR: &str = "mlops_lab.linear";
/// The flavor name of tree ensembles (GBDT, random forest). Both flavors keep their
/// model in `model.json`, told apart by its `kind`, so the registry and serving load
/// either the same way ([`crate::models::Model::from_json`]).
pub const TREES_FLAVOR: &str = "mlops_lab.trees";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("md") => "text/markdown",
        Some("csv") => "text/csv",
        _ => "text/plain",
    }
}

/// Turns one version-1 run (its JSON text and its artifact texts by name) into the
/// version-2 records to write. Every value survives: params, metrics (as a one-point
/// history), tags, times, status and files.
pub fn upgrade_v1_run(json: &str, artifacts: &[(String, Vec<u8>)]) -> Result<Vec<Write>, TrackingError> {
    let old: RunV1 =
        serde_json::from_str(json).map_err(|e| TrackingError::Corrupt(format!("a version-1 run: {e}")))?;
    let run_id = old.run_id.clone();
    let when = old.end_time.unwrap_or(old.start_time);
    let mut writes = Vec::new();
    let mut metrics = BTreeMap::new();
    for (key, value) in &old.metrics {
        let point = Metric { value: *value, timestamp: when, step: 0 };
        metrics.insert(key.clone(), point);
        writes.push(Write::Put(
            Table::MetricHistory,
            Record { key: history_key(&run_id, key), group: run_id.clone(), value: encode(&vec![point])? },
        ));
    }
    let mut infos = Vec::new();
    let mut logged_models = Vec::new();
    for name in &old.artifacts {
        let Some((_, bytes)) = artifacts.iter().find(|(n, _)| n == name) else { continue };
        // The foundation's model file moves under `model/`, where a logged model lives.
        let path = if name == "model.json" { "model/model.json".to_string() } else { name.clone() };
        if name == "model.json" {
            logged_models.push(LoggedModel {
                artifact_path: "model".to_string(),
                flavor: LINEAR_FLAVOR.to_string(),
                signature: ModelSignature::default(),
                utc_time_created: when,
            });
        }
        infos.push(ArtifactInfo {
            path: path.clone(),
            size: bytes.len() as u64,
            content_type: content_type(&path).into(),
        });
        writes.push(Write::Put(
            Table::Artifacts,
            Record { key: artifact_key(&run_id, &path), group: run_id.clone(), value: bytes.clone() },
        ));
    }
    infos.sort_by(|a, b| a.path.cmp(&b.path));
    let mut run_tags = old.tags;
    run_tags.entry(tags::RUN_NAME.to_string()).or_insert_with(|| old.run_name.clone());
    let user_id = run_tags.get(tags::USER).cloned().unwrap_or_else(|| "learner".to_string());
    let run = Run {
        run_id: run_id.clone(),
        experiment_id: DEFAULT_EXPERIMENT_ID.to_string(),
        run_name: old.run_name,
        user_id,
        status: old.status,
        start_time: old.start_time,
        end_time: old.end_time,
        lifecycle_stage: LifecycleStage::Active,
        params: old.params,
        metrics,
        tags: run_tags,
        artifacts: infos,
        logged_models,
    };
    writes.push(Write::Put(
        Table::Runs,
        Record { key: run_id.clone(), group: run.experiment_id.clone(), value: encode(&run)? },
    ));
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::kv::decode;

    const V1: &str = r#"{"run_id":"0123456789abcdef0123456789abcdef","experiment":"Default","run_name":"linear · pu_do","status":"FINISHED","start_time":1000,"end_time":2500,"params":{"model":"linear","alpha":"1"},"metrics":{"rmse":7.7587,"mae":5.1},"tags":{"mlops.data":"green_tripdata_2021-01.parquet"},"artifacts":["model.json"]}"#;

    #[test]
    fn a_foundation_run_keeps_every_value() {
        let writes =
            upgrade_v1_run(V1, &[("model.json".to_string(), b"{\"coef\":[1]}".to_vec())]).expect("upgrade");
        let run_record = writes
            .iter()
            .find_map(|w| match w {
                Write::Put(Table::Runs, r) => Some(r.clone()),
                _ => None,
            })
            .expect("a run record");
        let run: Run = decode(&run_record).expect("decodes");
        assert_eq!(run.experiment_id, DEFAULT_EXPERIMENT_ID);
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!((run.start_time, run.end_time), (1000, Some(2500)));
        assert_eq!(run.params.get("model").map(String::as_str), Some("linear"));
        assert_eq!(run.metric("rmse"), Some(7.7587));
        assert_eq!(run.tags.get(tags::RUN_NAME).map(String::as_str), Some("linear · pu_do"));
        assert_eq!(run.tags.get("mlops.data").map(String::as_str), Some("green_tripdata_2021-01.parquet"));
        assert_eq!(run.artifacts.len(), 1);
        assert_eq!(run.artifacts[0].path, "model/model.json");
        assert_eq!(run.logged_models.len(), 1);
        let model = writes.iter().any(|w| {
            matches!(w, Write::Put(Table::Artifacts, r) if r.key.ends_with("/model/model.json") && r.value == b"{\"coef\":[1]}")
        });
        assert!(model, "the model file moves under model/ unchanged");
        let histories = writes.iter().filter(|w| matches!(w, Write::Put(Table::MetricHistory, _))).count();
        assert_eq!(histories, 2);
    }

    #[test]
    fn a_broken_record_is_an_error_not_a_panic() {
        for bad in ["", "{", "null", "[]", r#"{"run_id":1}"#] {
            assert!(matches!(upgrade_v1_run(bad, &[]), Err(TrackingError::Corrupt(_))), "{bad}");
        }
    }
}
