//! End to end with a real MLflow tracking server: the app in headless Chromium trains two
//! runs, registers a model and promotes it, then pushes the experiment to an `mlflow
//! server` on loopback from the Settings page. MLflow's own Python client then reads
//! back what arrived.
//!
//! Needs `MLOPS_MLFLOW` (the venv's `mlflow`, made by `./lab install`), `dist/` and
//! chromedriver; outside CI a missing one skips the test with a message.
#![cfg(not(target_arch = "wasm32"))]

mod support;

#[path = "../crates/mlops-core/tests/common/mlflow.rs"]
mod mlflow;

use fantoccini::{Client, Locator};
use support::{browser, click_when_enabled, prerequisites, save_screenshot, start_site, text_of, wait_text};

/// Reads the server with MLflow's client and prints what the test checks, as JSON.
const CHECK_SCRIPT: &str = r#"
import json, sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name("Default")
runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
model = client.get_registered_model("nyc-taxi-regressor")
versions = client.search_model_versions("name = 'nyc-taxi-regressor'")
print(json.dumps({
    "runs": [{
        "name": r.info.run_name,
        "status": r.info.status,
        "val_rmse": r.data.metrics.get("val_rmse"),
        "model_param": r.data.params.get("model"),
        "files": sorted(a.path for a in client.list_artifacts(r.info.run_id, "model")),
    } for r in runs],
    "versions": sorted([[int(v.version), v.current_stage, v.run_id in [r.info.run_id for r in runs]] for v in versions]),
    "aliases": {k: int(v) for k, v in model.aliases.items()},
}))
"#;

/// Trains the chosen model and waits for the worker to finish; returns the shown RMSE.
async fn train(client: &Client, model: &str) -> String {
    let select = client.find(Locator::Css("[data-testid=model-kind]")).await.expect("model select");
    select.select_by_value(model).await.expect("choose a model");
    click_when_enabled(client, "[data-testid=train]").await;
    let start = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    while client.find(Locator::Css("[data-testid=progress]")).await.is_ok() {
        assert!(start.elapsed() < support::TIMEOUT, "training did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    wait_text(client, "[data-testid=val-rmse]", |t| !t.is_empty()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_pushes_runs_and_a_registered_model_to_a_real_mlflow_server() {
    if !prerequisites() {
        return;
    }
    let Some(executable) = mlflow::mlflow_executable() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the MLflow server test must run in CI (./lab test sets MLOPS_MLFLOW)"
        );
        return;
    };
    // Pages on 127.0.0.1 are allowed by MLflow's default CORS policy; no extra flags.
    let server = mlflow::MlflowServer::start(&executable, &[]);
    let site = start_site(None).await;
    let client = browser(&site).await;

    client.goto(&format!("{}#/chapter-1", site.base)).await.expect("open chapter 1");
    wait_text(&client, "[data-testid=label-validation]", |t| t.contains("Simulated city")).await;
    let first_rmse = train(&client, "linear").await;
    train(&client, "ridge").await;

    // Register the newest run's model and promote it.
    client.goto(&format!("{}#/runs", site.base)).await.expect("runs page");
    wait_text(&client, "[data-testid=match-count]", |t| t.starts_with("2 of")).await;
    let row = client.find(Locator::Css("[data-testid=run-row]")).await.expect("a run row");
    let run_id = row.attr("data-run-id").await.ok().flatten().expect("a run id");
    client.goto(&format!("{}#/runs/{run_id}", site.base)).await.expect("run page");
    let name = client.find(Locator::Css("[data-testid=register-name]")).await.expect("model name box");
    name.clear().await.expect("clear");
    name.send_keys("nyc-taxi-regressor").await.expect("type");
    click_when_enabled(&client, "[data-testid=register-model]").await;
    wait_text(&client, "[data-testid=register-result]", |t| t.contains("Version 1")).await;
    client.goto(&format!("{}#/models/nyc-taxi-regressor", site.base)).await.expect("model page");
    let select = client
        .find(Locator::Css("[data-testid=version-row][data-version='1'] [data-testid=stage-select]"))
        .await
        .expect("stage select");
    select.select_by_value("Production").await.expect("choose Production");
    click_when_enabled(&client, "[data-testid=version-row][data-version='1'] [data-testid=transition]").await;
    wait_text(&client, "[data-testid=version-row][data-version='1'] [data-testid=version-stage]", |t| {
        t == "Production"
    })
    .await;
    let alias = client
        .find(Locator::Css("[data-testid=version-row][data-version='1'] [data-testid=alias-input]"))
        .await
        .expect("alias box");
    alias.send_keys("champion").await.expect("type alias");
    click_when_enabled(&client, "[data-testid=version-row][data-version='1'] [data-testid=set-alias]").await;
    wait_text(&client, "[data-testid=version-row][data-version='1']", |t| t.contains("champion")).await;

    // Push from the Settings page.
    client.goto(&format!("{}#/settings", site.base)).await.expect("settings");
    let url = client.find(Locator::Css("[data-testid=remote-url]")).await.expect("url box");
    url.send_keys(&server.url).await.expect("type url");
    click_when_enabled(&client, "[data-testid=test-remote]").await;
    wait_text(&client, "[data-testid=remote-status]", |t| t.contains("answered")).await;
    click_when_enabled(&client, "[data-testid=push-runs]").await;
    let pushed = wait_text(&client, "[data-testid=push-result]", |t| t.contains("Alias")).await;
    save_screenshot(&client, "settings-pushed-to-mlflow").await;
    assert!(pushed.contains("2 runs are on the server"), "{pushed}");
    assert!(text_of(&client, "[data-testid=push-error]").await.is_none());

    // What MLflow itself says it has.
    let output = std::process::Command::new(server.python())
        .args(["-c", CHECK_SCRIPT, &server.url])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .expect("run MLflow's Python client");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON from the check");
    let runs = seen["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{seen}");
    for (run, model) in runs.iter().zip(["LinearRegression", "Ridge"]) {
        assert_eq!(run["status"], "FINISHED");
        assert_eq!(run["model_param"], model);
        assert_eq!(run["files"], serde_json::json!(["model/MLmodel", "model/model.json"]));
    }
    let logged = runs[0]["val_rmse"].as_f64().expect("val_rmse");
    assert_eq!(format!("{logged:.4}"), first_rmse, "the server has the number the page showed");
    assert_eq!(seen["versions"], serde_json::json!([[1, "Production", true]]));
    assert_eq!(seen["aliases"], serde_json::json!({"champion": 1}));

    // Pushing again sends nothing twice.
    click_when_enabled(&client, "[data-testid=push-runs]").await;
    wait_text(&client, "[data-testid=push-result]", |t| t.contains("2 runs")).await;
    client.close().await.expect("close");
}
