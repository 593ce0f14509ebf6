//! The behaviour every [`TrackingStore`] must show, written once.
//!
//! Call [`check_store`] with a fresh, empty store: natively on the memory store
//! (`cargo test`), and in headless Chromium on the IndexedDB store. It panics with a
//! message naming the broken rule.

use super::{NewRun, RunStatus, StoreError, TrackingStore};

fn new_run(id: &str, start_time: i64) -> NewRun {
    NewRun {
        run_id: id.to_string(),
        experiment: "Default".to_string(),
        run_name: format!("run-{id}"),
        start_time,
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Runs every contract check against an empty store.
pub async fn check_store<S: TrackingStore>(store: &S) {
    assert!(store.list_runs().await.expect("list").is_empty(), "a new store must be empty");

    // Create, read back, refuse duplicates.
    let run = store.create_run(new_run("a1", 1_000)).await.expect("create");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(
        store.create_run(new_run("a1", 2_000)).await,
        Err(StoreError::DuplicateRun("a1".into())),
        "a run id is unique"
    );
    assert_eq!(store.get_run("nope").await, Err(StoreError::RunNotFound("nope".into())));

    // Params, metrics, tags in one batch.
    store
        .log_batch(
            "a1",
            &pairs(&[("model", "linear"), ("alpha", "1.0")]),
            &[("rmse".to_string(), 7.75), ("mae".to_string(), 5.5)],
            &pairs(&[("mlflow.runName", "first")]),
        )
        .await
        .expect("batch");
    let got = store.get_run("a1").await.expect("get");
    assert_eq!(got.params.get("model").map(String::as_str), Some("linear"));
    assert_eq!(got.metrics.get("rmse"), Some(&7.75));
    assert_eq!(got.tags.get("mlflow.runName").map(String::as_str), Some("first"));

    // Params are write-once; the same value again is fine; a rejected batch changes nothing.
    store.log_batch("a1", &pairs(&[("model", "linear")]), &[], &[]).await.expect("same value");
    let changed = store
        .log_batch("a1", &pairs(&[("model", "ridge")]), &[("rmse".to_string(), 1.0)], &pairs(&[("t", "x")]))
        .await;
    assert!(matches!(changed, Err(StoreError::ParamChanged { .. })), "{changed:?}");
    let got = store.get_run("a1").await.expect("get");
    assert_eq!(got.metrics.get("rmse"), Some(&7.75), "a rejected batch must not apply half");
    assert!(!got.tags.contains_key("t"));

    // Tags overwrite; metrics must be finite; keys non-empty.
    store.log_batch("a1", &[], &[], &pairs(&[("mlflow.runName", "renamed")])).await.expect("tag");
    assert_eq!(
        store.log_batch("a1", &[], &[("bad".to_string(), f64::NAN)], &[]).await,
        Err(StoreError::NonFiniteMetric("bad".into()))
    );
    assert_eq!(store.log_batch("a1", &pairs(&[(" ", "x")]), &[], &[]).await, Err(StoreError::EmptyKey));

    // Artifacts keep their contents exactly, including markup-like text.
    let hostile = "{\"coef\": [1.5]} <script>alert(1)</script> ünïcødé";
    store.log_artifact("a1", "model.json", hostile).await.expect("artifact");
    assert_eq!(store.get_artifact("a1", "model.json").await.expect("read"), Some(hostile.to_string()));
    assert_eq!(store.get_artifact("a1", "other").await.expect("read"), None);
    assert_eq!(store.get_run("a1").await.expect("get").artifacts, vec!["model.json".to_string()]);

    // Ending a run, and nothing changes it afterwards.
    store.set_terminated("a1", RunStatus::Finished, 5_000).await.expect("end");
    let ended = store.get_run("a1").await.expect("get");
    assert_eq!((ended.status, ended.end_time), (RunStatus::Finished, Some(5_000)));
    assert_eq!(
        store.log_batch("a1", &[], &[("late".to_string(), 1.0)], &[]).await,
        Err(StoreError::RunEnded("a1".into()))
    );
    assert!(store.set_terminated("a1", RunStatus::Failed, 6_000).await.is_err());

    // Listing is newest first.
    store.create_run(new_run("b2", 3_000)).await.expect("create");
    store.create_run(new_run("c3", 2_000)).await.expect("create");
    let ids: Vec<String> = store.list_runs().await.expect("list").into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids, vec!["b2", "c3", "a1"]);

    // Deleting removes the run and its artifacts.
    store.delete_run("a1").await.expect("delete");
    assert_eq!(store.get_run("a1").await, Err(StoreError::RunNotFound("a1".into())));
    assert!(store.get_artifact("a1", "model.json").await.is_err());
    assert_eq!(store.delete_run("a1").await, Err(StoreError::RunNotFound("a1".into())));
    assert_eq!(store.list_runs().await.expect("list").len(), 2);
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_keeps_the_contract() {
        let store = super::super::memory::MemoryStore::new();
        futures::executor::block_on(super::check_store(&store));
    }
}
