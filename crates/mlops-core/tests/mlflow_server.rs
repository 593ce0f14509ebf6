//! "Team scale": runs made locally are pushed to a REAL MLflow tracking server through
//! [`RestClient`], then read back with MLflow's own Python client, which must see exactly
//! what was logged — params, every metric history point, tags, files, the registered
//! model with its stage and alias. Also checks what a browser page on another localhost
//! port needs (CORS), and how an unreachable server and a server error are reported.
//!
//! Needs `MLOPS_MLFLOW` (set by `./lab test`); skips with a printed reason otherwise.
//! One server for everything: starting it is most of the time.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/mlflow.rs"]
mod mlflow;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Instant;

use futures::executor::block_on;
use mlops_core::tracking::entities::{tags, ColumnSpec, Metric, ModelSignature, RunStatus};
use mlops_core::tracking::memory::MemoryKv;
use mlops_core::tracking::rest::{RestClient, LOCAL_RUN_ID_TAG};
use mlops_core::tracking::transfer::ExportedRun;
use mlops_core::tracking::{Env, MetricEntry, RunOptions, TrackingClient, TrackingError};
use serde_json::Value;

use mlflow::{free_port, mlflow_executable, request, MlflowServer, TcpTransport};

/// A page of the app would be served from here; only the header is sent, never traffic.
const DEPLOYED_ORIGIN: &str = "https://mlops-lab.example";
const EXPERIMENT: &str = "taxi-fares (team)";
const MODEL: &str = "taxi-fare-model";
const START_MS: i64 = 1_700_000_000_000;

/// A clock that ticks a second per reading and ids that count up, so runs are exact.
struct FixedEnv {
    clock: Cell<i64>,
    ids: Cell<u128>,
}

impl Env for FixedEnv {
    fn now_ms(&self) -> i64 {
        self.clock.set(self.clock.get() + 1_000);
        self.clock.get()
    }
    fn random_bits(&self) -> u128 {
        self.ids.set(self.ids.get() + 0x9e37_79b9_7f4a_7c15);
        self.ids.get()
    }
    fn user(&self) -> String {
        "learner".to_string()
    }
}

type Local = TrackingClient<MemoryKv, FixedEnv>;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Three local runs: a parent sweep run with many params and a 1500-step loss curve
/// (more than one `log-batch` holds), its child with a logged model and a plot, and a
/// failed run.
async fn make_local_runs(local: &Local) -> Result<Vec<String>, TrackingError> {
    let experiment = local.create_experiment("taxi-fares", &[]).await?;
    let options = |name: &str, parent: Option<&str>| RunOptions {
        run_name: Some(name.to_string()),
        start_time: None,
        tags: pairs(&[("team", "fares"), (tags::NOTE, "pushed from the lab")]),
        parent_run_id: parent.map(str::to_string),
    };

    let sweep = local.create_run(&experiment, options("alpha-sweep", None)).await?.run_id;
    let many_params: Vec<(String, String)> =
        (0..120).map(|i| (format!("grid.{i:03}"), format!("{}", i as f64 / 10.0))).collect();
    for chunk in many_params.chunks(100) {
        local.log_batch(&sweep, &[], chunk, &[]).await?;
    }
    let loss: Vec<MetricEntry> = (0..1_500)
        .map(|step| MetricEntry {
            key: "loss".into(),
            value: 1.0 / (1.0 + step as f64),
            timestamp: START_MS + step,
            step,
        })
        .collect();
    for chunk in loss.chunks(750) {
        local.log_batch(&sweep, chunk, &[], &[]).await?;
    }
    local.set_terminated(&sweep, RunStatus::Finished, None).await?;

    let ridge = local.create_run(&experiment, options("ridge-alpha-0.1", Some(&sweep))).await?.run_id;
    local
        .log_batch(&ridge, &[], &pairs(&[("alpha", "0.1"), ("features", "trip_distance,PU_DO")]), &[])
        .await?;
    for (step, rmse) in [(0, 9.25), (1, 7.5), (2, 6.125), (3, 6.0)] {
        local.log_metric(&ridge, "rmse", rmse, None, Some(step)).await?;
    }
    local.log_metric(&ridge, "r2", 0.8125, None, None).await?;
    let signature = ModelSignature {
        inputs: vec![ColumnSpec { name: "trip_distance".into(), kind: "double".into() }],
        outputs: vec![ColumnSpec { name: "fare".into(), kind: "double".into() }],
    };
    local
        .log_model(&ridge, "model", "mlops_lab.linear", br#"{"weights":[2.5],"bias":3.0}"#, signature)
        .await?;
    local
        .log_artifact(
            &ridge,
            "plots/residuals plot.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "image/svg+xml",
        )
        .await?;
    local.set_terminated(&ridge, RunStatus::Finished, None).await?;

    let failed = local.create_run(&experiment, options("diverged", None)).await?.run_id;
    local.log_param(&failed, "learning_rate", "10").await?;
    local.log_metric(&failed, "rmse", 1.0e12, None, Some(0)).await?;
    local.set_terminated(&failed, RunStatus::Failed, None).await?;
    Ok(vec![sweep, ridge, failed])
}

/// Reads everything back with MLflow's own client and prints it as JSON.
const VERIFY_PY: &str = r#"
import json, os, sys, tempfile
import mlflow
from mlflow import MlflowClient

uri, experiment_name, model_name = sys.argv[1:4]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
experiment = client.get_experiment_by_name(experiment_name)
out = {"experiment_id": experiment.experiment_id, "runs": {}}

def walk(run_id, path=None):
    files = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            files.update(walk(run_id, info.path))
        else:
            files[info.path] = info.file_size
    return files

for run in client.search_runs([experiment.experiment_id], max_results=100):
    run_id = run.info.run_id
    history = {
        key: [[m.step, m.timestamp, m.value] for m in client.get_metric_history(run_id, key)]
        for key in run.data.metrics
    }
    files = walk(run_id)
    contents = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=tmp, tracking_uri=uri
            )
            with open(local, "rb") as f:
                contents[path] = f.read().decode("utf-8")
    out["runs"][run_id] = {
        "run_name": run.info.run_name,
        "status": run.info.status,
        "user_id": run.info.user_id,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "history": history,
        "files": files,
        "contents": contents,
    }

out["versions"] = sorted(
    [
        {"version": int(v.version), "run_id": v.run_id, "source": v.source, "stage": v.current_stage}
        for v in client.search_model_versions(f"name='{model_name}'")
    ],
    key=lambda v: v["version"],
)
out["aliases"] = {alias: int(version) for alias, version in client.get_registered_model(model_name).aliases.items()}
out["champion"] = int(client.get_model_version_by_alias(model_name, "champion").version)
out["production"] = [int(v.version) for v in client.get_latest_versions(model_name, stages=["Production"])]
print("VERIFY-JSON " + json.dumps(out))
"#;

fn verify_with_mlflows_client(server: &MlflowServer) -> Value {
    let output = std::process::Command::new(server.python())
        .args(["-c", VERIFY_PY, &server.url, EXPERIMENT, MODEL])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .expect("run MLflow's Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Python check failed:\n{stderr}\n{stdout}");
    let line =
        stdout.lines().find_map(|l| l.strip_prefix("VERIFY-JSON ")).unwrap_or_else(|| panic!("{stdout}"));
    serde_json::from_str(line).expect("the Python check prints JSON")
}

/// What a browser does before a cross-origin POST or PUT with a JSON or binary body.
fn check_cors(server: &MlflowServer) {
    let page_origin = format!("http://127.0.0.1:{}", free_port());
    let preflight = |origin: &str, method: &str, path: &str| {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "content-type"),
        ];
        request("OPTIONS", &format!("{}{path}", server.url), None, &headers).expect("preflight answered")
    };
    for origin in [page_origin.as_str(), DEPLOYED_ORIGIN] {
        for (method, path) in [
            ("POST", "/api/2.0/mlflow/runs/log-batch"),
            ("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/model.json"),
        ] {
            let answer = preflight(origin, method, path);
            assert_eq!(answer.status, 200, "{origin} {method} {path}: {answer:?}");
            assert_eq!(answer.header("access-control-allow-origin"), Some(origin));
            assert!(
                answer.header("access-control-allow-methods").is_some_and(|m| m.contains(method)),
                "{answer:?}"
            );
            assert!(
                answer
                    .header("access-control-allow-headers")
                    .is_some_and(|h| h.to_lowercase().contains("content-type")),
                "{answer:?}"
            );
        }
        // The real request's answer must name the origin too, or the page cannot read it.
        let url = format!("{}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default", server.url);
        let answer = request("GET", &url, None, &[("Origin", origin)]).expect("answered");
        assert_eq!((answer.status, answer.header("access-control-allow-origin")), (200, Some(origin)));
    }
    // Other origins are refused, so the flag is what lets a deployed app in.
    let refused = preflight("http://elsewhere.example", "POST", "/api/2.0/mlflow/runs/log-batch");
    assert_ne!(refused.status, 200, "{refused:?}");
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let url = format!("{}/api/2.0/mlflow/experiments/create", server.url);
    let blocked = request(
        "POST",
        &url,
        Some((b"{\"name\":\"x\"}", "application/json")),
        &[("Origin", "http://elsewhere.example")],
    )
    .expect("answered");
    assert_eq!(blocked.status, 403, "{blocked:?}");
}

fn history_json(history: &[Metric]) -> Value {
    Value::Array(history.iter().map(|m| serde_json::json!([m.step, m.timestamp, m.value])).collect())
}

async fn push_and_register(
    remote: &RestClient<TcpTransport>,
    runs: &[ExportedRun],
) -> BTreeMap<String, String> {
    let pushed: BTreeMap<String, String> =
        remote.push_runs(runs, EXPERIMENT).await.expect("push the runs").into_iter().collect();
    assert_eq!(pushed.len(), runs.len());
    // Pushing again finds the earlier push instead of duplicating it.
    let again = remote.push_run(&runs[0], EXPERIMENT).await.expect("push again");
    assert_eq!(Some(&again), pushed.get(&runs[0].run.run_id));
    pushed
}

#[test]
fn runs_pushed_to_a_real_mlflow_server_read_back_the_same_with_mlflows_client() {
    let Some(executable) = mlflow_executable() else { return };
    let total = Instant::now();
    let server = MlflowServer::start(&executable, &["--cors-allowed-origins", DEPLOYED_ORIGIN]);
    eprintln!("mlflow server ready in {:.1?} at {}", server.started_in, server.url);

    check_cors(&server);

    // Build runs locally, export them, push them, register the model.
    let local = block_on(TrackingClient::open(
        MemoryKv::new(),
        FixedEnv { clock: Cell::new(START_MS), ids: Cell::new(0x5eed) },
    ))
    .expect("open");
    let local_ids = block_on(make_local_runs(&local)).expect("local runs");
    let bundle = block_on(local.export(None)).expect("export");
    let remote = RestClient::new(&format!("{}/", server.url), TcpTransport).expect("address");
    let pushed_at = Instant::now();
    let pushed = block_on(push_and_register(&remote, &bundle.runs));
    eprintln!("pushed {} runs in {:.1?}", pushed.len(), pushed_at.elapsed());
    let ridge_remote = pushed[&local_ids[1]].clone();
    block_on(async {
        remote.create_registered_model(MODEL).await?;
        remote.create_registered_model(MODEL).await?; // already there: fine
        let version =
            remote.create_model_version(MODEL, &format!("runs:/{ridge_remote}/model"), &ridge_remote).await?;
        assert_eq!(version, 1);
        remote.transition_model_version_stage(MODEL, version, "Production", true).await?;
        remote.set_registered_model_alias(MODEL, "champion", version).await
    })
    .expect("register the model");

    // Our own search sees the runs too.
    let experiment_id = block_on(remote.get_experiment_by_name(EXPERIMENT)).expect("lookup").expect("exists");
    let found = block_on(remote.search_runs(
        std::slice::from_ref(&experiment_id),
        "params.alpha = '0.1'",
        10,
        &["attributes.start_time DESC".to_string()],
    ))
    .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].run_id, ridge_remote);
    assert_eq!(found[0].metrics.get("rmse").map(|m| (m.step, m.value)), Some((3, 6.0)));

    // MLflow's own client must see exactly what was logged here.
    let seen = verify_with_mlflows_client(&server);
    assert_eq!(seen["experiment_id"], Value::String(experiment_id));
    assert_eq!(seen["runs"].as_object().map(|runs| runs.len()), Some(3), "no duplicate from pushing twice");
    for exported in &bundle.runs {
        let run = &exported.run;
        let remote_id = &pushed[&run.run_id];
        let got = &seen["runs"][remote_id];
        assert_eq!(got["run_name"], run.run_name.as_str(), "{got}");
        assert_eq!(got["status"], run.status.as_str());
        assert_eq!(got["user_id"], "learner");
        assert_eq!(got["start_time"], run.start_time);
        assert_eq!(got["end_time"], serde_json::json!(run.end_time));
        assert_eq!(got["params"], serde_json::json!(run.params));
        let latest: BTreeMap<&String, f64> = run.metrics.iter().map(|(k, m)| (k, m.value)).collect();
        assert_eq!(got["metrics"], serde_json::json!(latest));
        for (key, history) in &exported.metric_history {
            assert_eq!(got["history"][key], history_json(history), "history of {key}");
        }
        for (key, value) in &run.tags {
            let expected = match key.as_str() {
                tags::PARENT_RUN_ID => pushed[value].clone(),
                _ => value.clone(),
            };
            assert_eq!(got["tags"][key], expected.as_str(), "tag {key}");
        }
        assert_eq!(got["tags"][LOCAL_RUN_ID_TAG], run.run_id.as_str());
        let sizes: BTreeMap<&String, u64> = run.artifacts.iter().map(|a| (&a.path, a.size)).collect();
        assert_eq!(got["files"], serde_json::json!(sizes));
        for artifact in &exported.artifacts {
            let bytes = block_on(local.download_artifact(&run.run_id, &artifact.path)).expect("local file");
            let mut expected = String::from_utf8_lossy(&bytes).into_owned();
            if artifact.path.ends_with("/MLmodel") {
                // The model description names the server's run there.
                assert!(expected.contains(&run.run_id));
                expected = expected.replace(&run.run_id, remote_id);
            }
            assert_eq!(got["contents"][&artifact.path], expected.as_str(), "{}", artifact.path);
        }
    }
    assert_eq!(seen["runs"][&pushed[&local_ids[0]]]["history"]["loss"].as_array().map(Vec::len), Some(1_500));
    assert_eq!(seen["runs"][&pushed[&local_ids[0]]]["params"].as_object().map(|p| p.len()), Some(120));
    assert_eq!(
        seen["versions"],
        serde_json::json!([{ "version": 1, "run_id": ridge_remote, "source": format!("runs:/{ridge_remote}/model"),
                             "stage": "Production" }])
    );
    assert_eq!(seen["aliases"], serde_json::json!({ "champion": 1 }));
    assert_eq!(seen["champion"], 1);
    assert_eq!(seen["production"], serde_json::json!([1]));

    // A server error keeps MLflow's code.
    let err =
        block_on(remote.create_run("987654", "nowhere", START_MS, &[])).expect_err("no such experiment");
    assert!(
        matches!(&err, TrackingError::Server { status: 404, code, .. } if code == "RESOURCE_DOES_NOT_EXIST"),
        "{err:?}"
    );
    let err = block_on(remote.log_batch(&ridge_remote, &[], &pairs(&[("alpha", "0.2")]), &[]))
        .expect_err("params are write-once");
    assert!(
        matches!(&err, TrackingError::Server { status: 400, code, .. } if code == "INVALID_PARAMETER_VALUE"),
        "{err:?}"
    );

    // A server that is not there is unreachable, and says local data is safe.
    let closed =
        RestClient::new(&format!("http://127.0.0.1:{}", free_port()), TcpTransport).expect("address");
    let err = block_on(closed.push_run(&bundle.runs[0], EXPERIMENT)).expect_err("nobody listens");
    assert!(matches!(&err, TrackingError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("could not be reached") && err.to_string().contains("stay saved"),
        "{err}"
    );

    drop(server);
    eprintln!("mlflow_server test took {:.1?} in all", total.elapsed());
}
