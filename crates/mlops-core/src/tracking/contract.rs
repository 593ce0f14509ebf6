//! The behaviour every [`KvBackend`] must show under the tracking client, written once.
//!
//! Call [`check_backend`] with a fresh, empty backend: natively on [`MemoryKv`]
//! (`cargo test`), and in headless Chromium on IndexedDB. It panics with a message naming
//! the broken rule. [`TestEnv`] gives fixed clocks and ids so the checks are exact.

use std::cell::Cell;

use super::client::{Env, MetricEntry, RunOptions, TrackingClient};
use super::entities::{
    tags, LifecycleStage, Metric, ModelSignature, RunStatus, ViewType, DEFAULT_EXPERIMENT_ID,
};
use super::kv::KvBackend;
use super::registry::Stage;
use super::TrackingError;

/// A clock that ticks one millisecond per reading and ids that count up.
#[derive(Debug)]
pub struct TestEnv {
    clock: Cell<i64>,
    ids: Cell<u128>,
}

impl TestEnv {
    pub fn new(start: i64) -> Self {
        Self { clock: Cell::new(start), ids: Cell::new(0x1000) }
    }
}

impl Env for TestEnv {
    fn now_ms(&self) -> i64 {
        let now = self.clock.get() + 1;
        self.clock.set(now);
        now
    }
    fn random_bits(&self) -> u128 {
        let id = self.ids.get() + 0x1_0001;
        self.ids.set(id);
        id
    }
    fn user(&self) -> String {
        "learner".to_string()
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn metric(key: &str, value: f64, step: i64) -> MetricEntry {
    MetricEntry { key: key.to_string(), value, timestamp: 1_000 + step, step }
}

/// Runs every contract check against an empty backend.
pub async fn check_backend<B: KvBackend>(backend: B) {
    let client = TrackingClient::open(backend, TestEnv::new(1_700_000_000_000)).await.expect("open");
    experiments(&client).await;
    runs(&client).await;
    limits(&client).await;
    search(&client).await;
    registry(&client).await;
    transfer(&client).await;
}

async fn experiments<B: KvBackend>(client: &TrackingClient<B, TestEnv>) {
    let all = client.search_experiments(ViewType::All).await.expect("list");
    assert_eq!(all.len(), 1, "a new store has the Default experiment only");
    assert_eq!((all[0].experiment_id.as_str(), all[0].name.as_str()), (DEFAULT_EXPERIMENT_ID, "Default"));

    let id = client.create_experiment("nyc-taxi", &[]).await.expect("create");
    assert_eq!(id, "1");
    assert_eq!(
        client.create_experiment("nyc-taxi", &[]).await,
        Err(TrackingError::DuplicateExperiment("nyc-taxi".into())),
        "experiment names are unique"
    );
    assert_eq!(
        client.get_experiment_by_name("nyc-taxi").await.expect("get").map(|e| e.experiment_id),
        Some(id.clone())
    );
    assert_eq!(client.get_experiment_by_name("nope").await.expect("get"), None);
    client.rename_experiment(&id, "taxi").await.expect("rename");
    assert_eq!(client.get_experiment(&id).await.expect("get").name, "taxi");
    assert_eq!(client.delete_experiment(DEFAULT_EXPERIMENT_ID).await, Err(TrackingError::DefaultExperiment));

    let gone = client.create_experiment("scratch", &[]).await.expect("create");
    client.delete_experiment(&gone).await.expect("delete");
    let active = client.search_experiments(ViewType::ActiveOnly).await.expect("list");
    assert!(active.iter().all(|e| e.experiment_id != gone), "deleted experiments are hidden");
    assert!(matches!(
        client.create_run(&gone, RunOptions::default()).await,
        Err(TrackingError::ExperimentDeleted(_))
    ));
    client.restore_experiment(&gone).await.expect("restore");
    assert_eq!(client.get_experiment(&gone).await.expect("get").lifecycle_stage, LifecycleStage::Active);
    assert_eq!(
        client.create_run("99", RunOptions::default()).await,
        Err(TrackingError::ExperimentNotFound("99".into()))
    );
}

async fn runs<B: KvBackend>(client: &TrackingClient<B, TestEnv>) {
    let run = client
        .create_run(
            DEFAULT_EXPERIMENT_ID,
            RunOptions { run_name: Some("first".into()), ..RunOptions::default() },
        )
        .await
        .expect("create");
    let id = run.run_id.clone();
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.tags.get(tags::RUN_NAME).map(String::as_str), Some("first"));
    assert_eq!(run.tags.get(tags::USER).map(String::as_str), Some("learner"));
    assert_eq!(client.get_run("nope").await, Err(TrackingError::RunNotFound("nope".into())));
    let unnamed = client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("create");
    assert!(unnamed.run_name.split('-').count() == 3, "runs get a generated name: {}", unnamed.run_name);

    // A batch of params, metrics and tags.
    client
        .log_batch(&id, &[metric("rmse", 9.0, 0), metric("rmse", 8.0, 1)], &pairs(&[("model", "lasso")]), &[])
        .await
        .expect("batch");
    client.log_metric(&id, "rmse", 7.5, Some(5_000), Some(2)).await.expect("metric");
    client.log_metric(&id, "rmse", 99.0, Some(6_000), Some(0)).await.expect("an old step");
    let got = client.get_run(&id).await.expect("get");
    assert_eq!(got.metric("rmse"), Some(7.5), "the latest value is the highest step's");
    let history = client.get_metric_history(&id, "rmse").await.expect("history");
    let values: Vec<f64> = history.iter().map(|m: &Metric| m.value).collect();
    assert_eq!(values, vec![9.0, 8.0, 7.5, 99.0], "the history keeps every value in order");

    // Params are write-once; the same value again is fine; a rejected batch changes nothing.
    client.log_param(&id, "model", "lasso").await.expect("same value");
    let changed = client
        .log_batch(&id, &[metric("mae", 1.0, 0)], &pairs(&[("model", "ridge")]), &pairs(&[("t", "x")]))
        .await;
    assert!(matches!(changed, Err(TrackingError::ParamChanged { .. })), "{changed:?}");
    let got = client.get_run(&id).await.expect("get");
    assert!(
        got.metric("mae").is_none() && !got.tags.contains_key("t"),
        "a rejected batch must not apply half"
    );
    assert!(client.get_metric_history(&id, "mae").await.expect("history").is_empty());
    let twice = client.log_batch(&id, &[], &pairs(&[("a", "1"), ("a", "2")]), &[]).await;
    assert!(matches!(twice, Err(TrackingError::ParamChanged { .. })), "one batch cannot set a param twice");

    // Tags overwrite; renaming through the run-name tag renames the run.
    client.set_tag(&id, "team", "red").await.expect("tag");
    client.set_tag(&id, "team", "blue").await.expect("tag");
    client.rename_run(&id, "renamed").await.expect("rename");
    let got = client.get_run(&id).await.expect("get");
    assert_eq!(got.tags.get("team").map(String::as_str), Some("blue"));
    assert_eq!(got.run_name, "renamed");
    client.delete_tag(&id, "team").await.expect("delete tag");
    assert!(!client.get_run(&id).await.expect("get").tags.contains_key("team"));

    // Nested runs name their parent; the parent must exist.
    let child = client
        .create_run(
            DEFAULT_EXPERIMENT_ID,
            RunOptions { parent_run_id: Some(id.clone()), ..RunOptions::default() },
        )
        .await
        .expect("child");
    assert_eq!(child.parent_run_id(), Some(id.as_str()));
    let orphan = client
        .create_run(
            DEFAULT_EXPERIMENT_ID,
            RunOptions { parent_run_id: Some("f".repeat(32)), ..RunOptions::default() },
        )
        .await;
    assert!(matches!(orphan, Err(TrackingError::RunNotFound(_))));

    // Artifacts keep their bytes exactly, including markup-like text and binary data.
    let hostile = "{\"coef\": [1.5]} <script>alert(1)</script> ünïcødé".as_bytes();
    client.log_artifact(&id, "notes/readme.txt", hostile, "text/plain").await.expect("artifact");
    let png = [0x89u8, b'P', b'N', b'G', 0, 255, 13, 10];
    client.log_artifact(&id, "plots/residuals.png", &png, "image/png").await.expect("binary");
    assert_eq!(client.download_artifact(&id, "notes/readme.txt").await.expect("read"), hostile);
    assert_eq!(client.download_artifact(&id, "plots/residuals.png").await.expect("read"), png);
    assert!(matches!(
        client.download_artifact(&id, "other").await,
        Err(TrackingError::ArtifactNotFound { .. })
    ));
    for bad in ["../escape", "/abs", "a//b", ""] {
        assert!(client.log_artifact(&id, bad, b"x", "text/plain").await.is_err(), "path `{bad}` is refused");
    }
    let signature = ModelSignature::default();
    client.log_model(&id, "model", "mlops_lab.linear", b"{\"w\":1}", signature).await.expect("log model");
    let got = client.get_run(&id).await.expect("get");
    let paths: Vec<&str> = got.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, vec!["model/MLmodel", "model/model.json", "notes/readme.txt", "plots/residuals.png"]);
    assert_eq!(got.logged_models.len(), 1);
    assert!(got.tags.contains_key(tags::LOG_MODEL_HISTORY));

    // Ending a run.
    client.set_terminated(&id, RunStatus::Finished, Some(9_000)).await.expect("end");
    let ended = client.get_run(&id).await.expect("get");
    assert_eq!((ended.status, ended.end_time), (RunStatus::Finished, Some(9_000)));

    // Soft delete and restore; deleted runs refuse writes; purge removes for good.
    client.delete_run(&child.run_id).await.expect("delete");
    assert_eq!(
        client.get_run(&child.run_id).await.expect("still readable").lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert_eq!(
        client.set_tag(&child.run_id, "x", "y").await,
        Err(TrackingError::RunDeleted(child.run_id.clone()))
    );
    let active = client.all_runs(&[], ViewType::ActiveOnly).await.expect("list");
    assert!(active.iter().all(|r| r.run_id != child.run_id));
    client.restore_run(&child.run_id).await.expect("restore");
    assert!(client.purge_run(&child.run_id).await.is_err(), "only deleted runs can be purged");
    client.delete_run(&child.run_id).await.expect("delete");
    client.purge_run(&child.run_id).await.expect("purge");
    assert_eq!(client.get_run(&child.run_id).await, Err(TrackingError::RunNotFound(child.run_id.clone())));
}

async fn limits<B: KvBackend>(client: &TrackingClient<B, TestEnv>) {
    let id = client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("create").run_id;
    let long_key = "k".repeat(251);
    assert!(matches!(
        client.log_param(&id, &long_key, "v").await,
        Err(TrackingError::TooLong { limit: 250, .. })
    ));
    client.log_param(&id, &"k".repeat(250), "v").await.expect("250 characters is allowed");
    assert!(matches!(
        client.log_param(&id, "p", &"v".repeat(6_001)).await,
        Err(TrackingError::TooLong { limit: 6_000, .. })
    ));
    client.log_param(&id, "p", &"v".repeat(6_000)).await.expect("6,000 characters is allowed");
    assert!(matches!(
        client.set_tag(&id, "t", &"v".repeat(8_001)).await,
        Err(TrackingError::TooLong { limit: 8_000, .. })
    ));
    client.set_tag(&id, "t", &"v".repeat(8_000)).await.expect("8,000 characters is allowed");
    let many_metrics: Vec<MetricEntry> = (0..1_001).map(|i| metric("m", 1.0, i)).collect();
    assert!(matches!(
        client.log_batch(&id, &many_metrics, &[], &[]).await,
        Err(TrackingError::BatchTooLarge { what: "metrics", limit: 1_000, .. })
    ));
    client.log_batch(&id, &many_metrics[..1_000], &[], &[]).await.expect("1,000 metrics is allowed");
    let many: Vec<(String, String)> = (0..101).map(|i| (format!("k{i}"), "v".to_string())).collect();
    assert!(matches!(
        client.log_batch(&id, &[], &many, &[]).await,
        Err(TrackingError::BatchTooLarge { what: "params", limit: 100, .. })
    ));
    assert!(matches!(
        client.log_batch(&id, &[], &[], &many).await,
        Err(TrackingError::BatchTooLarge { what: "tags", limit: 100, .. })
    ));
    assert_eq!(
        client.log_metric(&id, "bad", f64::NAN, None, None).await,
        Err(TrackingError::NonFiniteMetric("bad".into()))
    );
    assert!(matches!(client.log_param(&id, " ", "x").await, Err(TrackingError::EmptyKey(_))));
    assert!(matches!(client.log_param(&id, "a'b", "x").await, Err(TrackingError::BadKey { .. })));
    assert!(matches!(client.log_param(&id, "../x", "x").await, Err(TrackingError::BadKey { .. })));
    client.delete_run(&id).await.expect("tidy");
}

async fn search<B: KvBackend>(client: &TrackingClient<B, TestEnv>) {
    let experiment = client.create_experiment("search", &[]).await.expect("create");
    let ids = [experiment.clone()];
    for (model, alpha, rmse) in
        [("lasso", "0.1", 7.2), ("lasso", "1.0", 7.9), ("ridge", "1.0", 6.9), ("linear", "0", 7.6)]
    {
        let run = client.create_run(&experiment, RunOptions::default()).await.expect("run");
        client
            .log_batch(
                &run.run_id,
                &[metric("rmse", rmse, 0)],
                &pairs(&[("model", model), ("alpha", alpha)]),
                &[],
            )
            .await
            .expect("log");
        client.set_terminated(&run.run_id, RunStatus::Finished, None).await.expect("end");
    }
    let order = ["metrics.rmse ASC".to_string()];
    let page = client
        .search_runs(&ids, "metrics.rmse < 7.7", ViewType::ActiveOnly, 10, &order, None)
        .await
        .expect("search");
    let rmses: Vec<f64> = page.runs.iter().filter_map(|r| r.metric("rmse")).collect();
    assert_eq!(rmses, vec![6.9, 7.2, 7.6]);
    let either = "params.model = 'ridge' OR (params.model = 'lasso' AND params.alpha = '0.1')";
    let page = client.search_runs(&ids, either, ViewType::ActiveOnly, 10, &order, None).await.expect("or");
    assert_eq!(page.runs.len(), 2);

    // Paging: two at a time, then the rest, with no run twice.
    let first = client.search_runs(&ids, "", ViewType::ActiveOnly, 2, &order, None).await.expect("page 1");
    let token = first.next_page_token.clone().expect("more pages");
    let second =
        client.search_runs(&ids, "", ViewType::ActiveOnly, 2, &order, Some(&token)).await.expect("page 2");
    assert_eq!(second.next_page_token, None);
    let mut seen: Vec<String> = first.runs.iter().chain(&second.runs).map(|r| r.run_id.clone()).collect();
    seen.dedup();
    assert_eq!(seen.len(), 4);

    let broken = client.search_runs(&ids, "metrics.rmse <", ViewType::ActiveOnly, 10, &[], None).await;
    assert!(matches!(broken, Err(TrackingError::Search(_))), "{broken:?}");
}

async fn registry<B: KvBackend>(client: &TrackingClient<B, TestEnv>) {
    let mut run_ids = Vec::new();
    for _ in 0..3 {
        let run = client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("run");
        client
            .log_model(&run.run_id, "model", "mlops_lab.linear", b"{}", ModelSignature::default())
            .await
            .expect("model");
        run_ids.push(run.run_id);
    }
    let v1 = client.register_model(&format!("runs:/{}/model", run_ids[0]), "taxi").await.expect("register");
    assert_eq!(v1.version, 1);
    let v2 = client.register_model(&format!("runs:/{}/model", run_ids[1]), "taxi").await.expect("register");
    assert_eq!(v2.version, 2);
    let missing = client.register_model(&format!("runs:/{}/nothing", run_ids[2]), "taxi").await;
    assert!(matches!(missing, Err(TrackingError::ArtifactNotFound { .. })), "{missing:?}");
    assert!(matches!(
        client.create_registered_model("taxi", "").await,
        Err(TrackingError::DuplicateModel(_))
    ));

    client.transition_model_version_stage("taxi", 1, Stage::Production, false).await.expect("promote");
    client.transition_model_version_stage("taxi", 2, Stage::Production, true).await.expect("promote");
    assert_eq!(client.get_model_version("taxi", 1).await.expect("v1").current_stage, Stage::Archived);
    let (run, path) = client.resolve_model_uri("models:/taxi/Production").await.expect("resolve");
    assert_eq!((run.as_str(), path.as_str()), (run_ids[1].as_str(), "model"));

    client.set_registered_model_alias("taxi", "champion", 2).await.expect("alias");
    client.set_registered_model_alias("taxi", "champion", 1).await.expect("roll back");
    assert_eq!(client.get_model_version_by_alias("taxi", "champion").await.expect("alias").version, 1);
    assert_eq!(client.load_model_bytes("models:/taxi@champion").await.expect("load"), b"{}");
    assert_eq!(client.load_model_bytes(&format!("runs:/{}/model", run_ids[2])).await.expect("load"), b"{}");
    assert_eq!(client.search_model_versions_by_run(&run_ids[0]).await.expect("by run").len(), 1);
    assert!(client.get_model_version_by_alias("taxi", "nope").await.is_err());
    assert!(client.get_registered_model("nope").await.is_err());
    let history = client.get_registered_model("taxi").await.expect("model").history;
    assert!(history.len() >= 5, "versions, stages and aliases are all in the history: {history:?}");
}

async fn transfer<B: KvBackend>(client: &TrackingClient<B, TestEnv>) {
    let bundle = client.export(None).await.expect("export");
    let json = serde_json::to_vec(&bundle).expect("json");
    let parsed = super::transfer::parse_bundle(&json).expect("parse");
    assert_eq!(parsed, bundle, "an export reads back the same");
    let report = client.import(&parsed).await.expect("import");
    assert_eq!(report.runs_imported, 0, "runs already here are kept, not duplicated");
    assert_eq!(report.runs_skipped.len(), bundle.runs.len());
    for hostile in
        [&b"not json"[..], b"{}", b"{\"format\":\"mlops-lab-export\",\"format_version\":99}", b"[1,2]"]
    {
        assert!(matches!(super::transfer::parse_bundle(hostile), Err(TrackingError::Import(_))));
    }
}

#[cfg(test)]
mod tests {
    use super::super::memory::MemoryKv;

    #[test]
    fn memory_backend_keeps_the_contract() {
        futures::executor::block_on(super::check_backend(MemoryKv::new()));
    }

    #[test]
    fn a_full_store_refuses_the_write_and_keeps_what_it_had() {
        use super::super::{RunOptions, TrackingClient, TrackingError, DEFAULT_EXPERIMENT_ID};
        futures::executor::block_on(async {
            let client = TrackingClient::open(MemoryKv::with_quota(4_000), super::TestEnv::new(1))
                .await
                .expect("open");
            let run = client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("run");
            client.log_param(&run.run_id, "model", "lasso").await.expect("small write");
            let big = vec![7u8; 10_000];
            let full = client.log_artifact(&run.run_id, "big.bin", &big, "application/octet-stream").await;
            assert!(matches!(full, Err(TrackingError::QuotaExceeded(_))), "{full:?}");
            assert!(full.err().map(|e| e.to_string()).unwrap_or_default().contains("nothing was written"));
            let kept = client.get_run(&run.run_id).await.expect("still readable");
            assert_eq!(kept.params.get("model").map(String::as_str), Some("lasso"));
            assert!(kept.artifacts.is_empty(), "the refused file is not half-recorded");
        });
    }
}
