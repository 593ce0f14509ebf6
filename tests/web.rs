//! Browser-only behaviour of the app crate, in headless Chromium: the IndexedDB backend
//! keeps the same contract as the memory one, a database left by the foundation
//! (schema version 1) upgrades without losing anything, and two connections — as two
//! tabs have — logging at once lose nothing.
//!
//! `cargo test --target wasm32-unknown-unknown -p mlops-lab --test web`
#![cfg(target_arch = "wasm32")]

use mlops_core::tracking::contract::{check_backend, TestEnv};
use mlops_core::tracking::{
    MetricEntry, RunOptions, RunStatus, TrackingClient, ViewType, DEFAULT_EXPERIMENT_ID,
};
use mlops_lab::storage::IdbKv;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn indexeddb_backend_keeps_the_contract() {
    let name = "mlops-lab-contract-test";
    IdbKv::delete_database(name).await.expect("delete");
    check_backend(IdbKv::open(name).await.expect("open")).await;
}

#[wasm_bindgen_test]
async fn runs_survive_reopening_the_database() {
    let name = "mlops-lab-reopen-test";
    IdbKv::delete_database(name).await.expect("delete");
    let run_id = {
        let client = TrackingClient::open(IdbKv::open(name).await.expect("open"), TestEnv::new(1))
            .await
            .expect("client");
        let run = client.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("create");
        client
            .log_artifact(&run.run_id, "model/model.json", b"{\"intercept\": 1.5}", "application/json")
            .await
            .expect("artifact");
        run.run_id
    };
    let client = TrackingClient::open(IdbKv::open(name).await.expect("reopen"), TestEnv::new(100))
        .await
        .expect("client");
    assert_eq!(client.get_run(&run_id).await.expect("get").run_id, run_id);
    assert_eq!(
        client.download_artifact(&run_id, "model/model.json").await.expect("artifact"),
        b"{\"intercept\": 1.5}"
    );
    assert_eq!(
        client.search_experiments(ViewType::All).await.expect("experiments").len(),
        1,
        "Default is made once"
    );
}

/// What the foundation (schema version 1) stored: runs as JSON text, artifacts as text.
const V1_RUN: &str = r#"{"run_id":"00000000000000000000000000000abc","experiment":"Default","run_name":"LinearRegression · PU_DO + distance","status":"FINISHED","start_time":1700000000000,"end_time":1700000004000,"params":{"model":"LinearRegression","train_data":"green_tripdata_2021-01.parquet"},"metrics":{"val_rmse":7.758715,"n_features":13221},"tags":{"estimator_class":"LinearRegression"},"artifacts":["model.json"]}"#;

#[wasm_bindgen_test]
async fn a_foundation_database_upgrades_without_loss() {
    let name = "mlops-lab-upgrade-test";
    IdbKv::delete_database(name).await.expect("delete");
    {
        let v1 = IdbKv::open_version(name, 1).await.expect("open at version 1");
        let tx = v1.transaction(&["runs", "artifacts"], rexie::TransactionMode::ReadWrite).expect("tx");
        let id = "00000000000000000000000000000abc";
        tx.store("runs")
            .expect("runs")
            .put(&JsValue::from_str(V1_RUN), Some(&JsValue::from_str(id)))
            .await
            .expect("put run");
        let key = JsValue::from_str(&format!("{id}/model.json"));
        tx.store("artifacts")
            .expect("artifacts")
            .put(&JsValue::from_str("{\"coef\":[0.5]}"), Some(&key))
            .await
            .expect("put file");
        tx.done().await.expect("commit");
        v1.close();
    }
    let client = TrackingClient::open(IdbKv::open(name).await.expect("upgrade"), TestEnv::new(1))
        .await
        .expect("client");
    let runs = client.all_runs(&[], ViewType::All).await.expect("runs");
    assert_eq!(runs.len(), 1, "the foundation's run is still there");
    let run = &runs[0];
    assert_eq!(run.run_name, "LinearRegression · PU_DO + distance");
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(run.metric("val_rmse"), Some(7.758715));
    assert_eq!(run.params.get("train_data").map(String::as_str), Some("green_tripdata_2021-01.parquet"));
    assert_eq!(client.get_metric_history(&run.run_id, "n_features").await.expect("history").len(), 1);
    assert_eq!(
        client.download_artifact(&run.run_id, "model/model.json").await.expect("model"),
        b"{\"coef\":[0.5]}"
    );
    // An upgraded run can be registered like a new one.
    let version =
        client.register_model(&format!("runs:/{}/model", run.run_id), "legacy").await.expect("register");
    assert_eq!(version.version, 1);
    // Opening again does not upgrade twice.
    let again = TrackingClient::open(IdbKv::open(name).await.expect("reopen"), TestEnv::new(9))
        .await
        .expect("client");
    assert_eq!(again.all_runs(&[], ViewType::All).await.expect("runs").len(), 1);
}

async fn log_steps(client: &TrackingClient<IdbKv, TestEnv>, run_id: &str, offset: i64) {
    for step in 0..20 {
        let entry = MetricEntry {
            key: "loss".into(),
            value: (offset + step) as f64,
            timestamp: step,
            step: offset + step,
        };
        let param = (format!("p{}", offset + step), "x".to_string());
        client.log_batch(run_id, &[entry], &[param], &[]).await.expect("log");
    }
}

#[wasm_bindgen_test]
async fn two_tabs_logging_at_once_lose_nothing() {
    let name = "mlops-lab-two-tabs-test";
    IdbKv::delete_database(name).await.expect("delete");
    let first =
        TrackingClient::open(IdbKv::open(name).await.expect("open"), TestEnv::new(1)).await.expect("tab 1");
    let second =
        TrackingClient::open(IdbKv::open(name).await.expect("open"), TestEnv::new(1)).await.expect("tab 2");
    let run = first.create_run(DEFAULT_EXPERIMENT_ID, RunOptions::default()).await.expect("run");
    let id = run.run_id.clone();
    // Both connections append to the same run's history and params, interleaved.
    futures::join!(log_steps(&first, &id, 0), log_steps(&second, &id, 100));
    let history = first.get_metric_history(&id, "loss").await.expect("history");
    assert_eq!(history.len(), 40, "every value from both tabs is kept");
    assert_eq!(second.get_run(&id).await.expect("run").params.len(), 40);
}

#[wasm_bindgen_test]
async fn the_prediction_log_is_kept_in_indexeddb() {
    use mlops_core::serving::log::{PredictionLog, PredictionLogEntry, RequestSource};
    let name = "mlops-lab-prediction-log-test";
    IdbKv::delete_database(name).await.expect("delete");
    let entry = |timestamp: i64, version: &str| PredictionLogEntry {
        timestamp,
        latency_ms: 0.2,
        status: 200,
        source: RequestSource::ServiceWorker,
        request: "{\"PULocationID\": 10}".into(),
        prediction: Some(9.5),
        model_version: Some(version.into()),
    };
    {
        let kv = IdbKv::open(name).await.expect("open");
        let log = PredictionLog::new(&kv);
        log.append(&[entry(2, "taxi/2"), entry(1, "taxi/1")], 7).await.expect("append");
    }
    let kv = IdbKv::open(name).await.expect("reopen");
    let log = PredictionLog::new(&kv);
    let all = log.all().await.expect("read");
    assert_eq!(all.iter().map(|e| e.timestamp).collect::<Vec<_>>(), vec![1, 2], "oldest first");
    assert_eq!(log.for_version("taxi/2").await.expect("by version").len(), 1);
}
