//! End to end, as a learner, Chapter 4 on the release `dist/` in headless Chromium:
//! serve a trained model, call `/predict` from the request console and with real
//! `fetch("api/predict")` answered by the service worker, run the load tool, score a
//! month in the worker and read the parquet back with pandas, run the stream with a
//! malformed record, and export the service — then run that zip under gunicorn and
//! check it answers the same 1,000 rides as the browser to 1e-9.
//!
//! The Python checks need `MLOPS_MLFLOW` (its venv has pandas and pyarrow; `./lab test`
//! sets it); without it they are skipped with a message, in CI they must run.
#![cfg(not(target_arch = "wasm32"))]

mod support;

#[path = "../crates/mlops-core/tests/common/python.rs"]
mod python;

use base64::Engine as _;
use fantoccini::{Client, Locator};
use support::{browser, click_when_enabled, prerequisites, save_screenshot, start_site, text_of, wait_text};

/// Reads the file behind a Blob-URL link (`href`) as base64.
const BLOB_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const link = document.querySelector(arguments[0]);
if (!link || !link.href) { done('ERROR no link'); return; }
fetch(link.href).then(r => r.arrayBuffer()).then(buffer => {
  const bytes = new Uint8Array(buffer); let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  done(btoa(text));
}).catch(e => done('ERROR ' + e));
"#;

/// Posts each body to `api/predict` with the page's own `fetch`; returns [status, text].
const FETCH_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const bodies = arguments[0];
(async () => {
  const out = [];
  for (const body of bodies) {
    const response = await fetch('api/predict', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    out.push([response.status, await response.text()]);
  }
  done(out);
})().catch(e => done(String(e)));
"#;

/// 1,000 rides: zones all over (seen and unseen pairs), distances 0–20 miles, and the
/// edges 0 and 499.9.
fn rides() -> Vec<(i64, i64, f64)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut rides: Vec<(i64, i64, f64)> = (0..998)
        .map(|_| {
            let pu = (next() % 265) as i64 + 1;
            let dol = (next() % 265) as i64 + 1;
            (pu, dol, (next() % 2_000) as f64 / 100.0)
        })
        .collect();
    rides.push((74, 75, 0.0));
    rides.push((130, 205, 499.9));
    rides
}

fn body(ride: &(i64, i64, f64)) -> String {
    serde_json::json!({"PULocationID": ride.0, "DOLocationID": ride.1, "trip_distance": ride.2}).to_string()
}

async fn blob_bytes(client: &Client, css: &str) -> Vec<u8> {
    let value = client.execute_async(BLOB_SCRIPT, vec![css.into()]).await.expect("read the blob");
    let text = value.as_str().unwrap_or_default().to_string();
    assert!(!text.starts_with("ERROR"), "{css}: {text}");
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64 from the page")
}

async fn set_value(client: &Client, css: &str, value: &str) {
    let element = client.find(Locator::Css(css)).await.expect(css);
    element.clear().await.expect("clear");
    element.send_keys(value).await.expect("type");
}

/// Waits for a button that is disabled while its work runs to be enabled again.
async fn wait_until_enabled(client: &Client, css: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let start = std::time::Instant::now();
    loop {
        let button = client.find(Locator::Css(css)).await.expect(css);
        if button.is_enabled().await.unwrap_or(false) {
            return;
        }
        assert!(start.elapsed() < support::TIMEOUT, "{css} stayed disabled");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn number_of(client: &Client, css: &str) -> f64 {
    let text = wait_text(client, css, |t| !t.is_empty()).await;
    text.replace(['\u{2009}', ',', ' '], "")
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_deploys_online_batch_and_streaming_and_exports_a_service_that_agrees() {
    if !prerequisites() {
        return;
    }
    let analysis = python::analysis_python();
    assert!(analysis.is_some() || std::env::var_os("CI").is_none(), "the Python checks must run in CI");
    let site = start_site(None).await;
    let client = browser(&site).await;

    // Two models to serve: train twice on the simulated months, register both.
    client.goto(&format!("{}#/chapter-1", site.base)).await.expect("chapter 1");
    wait_text(&client, "[data-testid=label-validation]", |t| t.contains("Simulated city")).await;
    for (model, count) in [("ridge", "1 of"), ("linear", "2 of")] {
        client.goto(&format!("{}#/chapter-1", site.base)).await.expect("chapter 1");
        let select = client.find(Locator::Css("[data-testid=model-kind]")).await.expect("model select");
        select.select_by_value(model).await.expect("choose a model");
        click_when_enabled(&client, "[data-testid=train]").await;
        client.goto(&format!("{}#/runs", site.base)).await.expect("runs");
        wait_text(&client, "[data-testid=match-count]", |t| t.starts_with(count)).await;
        // The table may re-render under us: read the first row's id until a row holds still.
        let mut id = None;
        for _ in 0..100 {
            if let Ok(row) = client.find(Locator::Css("[data-testid=run-row]")).await {
                id = row.attr("data-run-id").await.ok().flatten();
            }
            if id.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let id = id.expect("run id");
        client.goto(&format!("{}#/runs/{id}", site.base)).await.expect("run page");
        // The model is logged when training ends.
        wait_text(&client, "[data-testid=run-status]", |t| t.eq_ignore_ascii_case("finished")).await;
        set_value(&client, "[data-testid=register-name]", "duration").await;
        click_when_enabled(&client, "[data-testid=register-model]").await;
        wait_text(&client, "[data-testid=register-result]", |t| t.contains("Version")).await;
    }
    client.goto(&format!("{}#/runs", site.base)).await.expect("runs");
    wait_text(&client, "[data-testid=match-count]", |t| t.starts_with("2 of")).await;
    let row = client.find(Locator::Css("[data-testid=run-row]")).await.expect("a run");
    let run_id = row.attr("data-run-id").await.ok().flatten().expect("run id");

    // Served from the registry by version: switching shows at once in model_version.
    client.goto(&format!("{}#/service", site.base)).await.expect("service page");
    for version in ["duration/1", "duration/2"] {
        set_value(&client, "[data-testid=model-uri-input]", &format!("models:/{version}")).await;
        click_when_enabled(&client, "[data-testid=serve-model]").await;
        wait_text(&client, "[data-testid=served-version]", |t| t == version).await;
        click_when_enabled(&client, "[data-testid=console-send]").await;
        let answer =
            wait_text(&client, "[data-testid=console-response]", |t| t.contains(&format!("\"{version}\"")))
                .await;
        assert!(answer.contains("duration"), "{answer}");
    }

    // Serve it, and ask the console.
    client.goto(&format!("{}#/service", site.base)).await.expect("service page");
    set_value(&client, "[data-testid=model-uri-input]", &format!("runs:/{run_id}/model")).await;
    click_when_enabled(&client, "[data-testid=serve-model]").await;
    wait_text(&client, "[data-testid=served-version]", |t| t == run_id).await;
    click_when_enabled(&client, "[data-testid=console-send]").await;
    wait_text(&client, "[data-testid=console-status]", |t| t.contains("200")).await;
    let answer = wait_text(&client, "[data-testid=console-response]", |t| t.contains("duration")).await;
    assert!(answer.contains(&run_id), "model_version names the run: {answer}");
    set_value(&client, "[data-testid=console-body]", "{\"PULocationID\": 10, \"trip_distance\": 3}").await;
    click_when_enabled(&client, "[data-testid=console-send]").await;
    wait_text(&client, "[data-testid=console-status]", |t| t.contains("400")).await;
    let refusal = wait_text(&client, "[data-testid=console-response]", |t| t.contains("error")).await;
    assert!(refusal.contains("DOLocationID"), "the missing field is named: {refusal}");

    // The service worker answers real fetch() calls from this origin.
    wait_text(&client, "[data-testid=sw-status]", |t| t.contains("active")).await;
    let rides = rides();
    let bodies: Vec<serde_json::Value> = rides.iter().map(|r| body(r).into()).collect();
    let answers = client.execute_async(FETCH_SCRIPT, vec![bodies.into()]).await.expect("fetch from the page");
    let answers = answers.as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), rides.len(), "every fetch answered: {answers:?}");
    let mut browser_durations = Vec::new();
    for answer in &answers {
        assert_eq!(answer[0], 200, "{answer}");
        let text = answer[1].as_str().unwrap_or_default();
        let duration = python::number_text(text, "duration").and_then(|n| n.parse::<f64>().ok());
        browser_durations.push(duration.expect("a duration"));
        assert!(text.contains(&run_id));
    }

    // The load tool, in the page and through the service worker (numbers for the note).
    for mode in ["page", "service-worker"] {
        let select = client.find(Locator::Css("[data-testid=load-mode]")).await.expect("mode");
        select.select_by_value(mode).await.expect("choose a mode");
        set_value(&client, "[data-testid=load-count]", "1000").await;
        click_when_enabled(&client, "[data-testid=load-run]").await;
        wait_until_enabled(&client, "[data-testid=load-run]").await;
        let p50 = number_of(&client, "[data-testid=load-p50]").await;
        let p99 = number_of(&client, "[data-testid=load-p99]").await;
        let rate = number_of(&client, "[data-testid=load-throughput]").await;
        let errors = number_of(&client, "[data-testid=load-errors]").await;
        println!("BENCH /predict via {mode}: p50 {p50} ms, p99 {p99} ms, {rate} req/s, {errors} errors");
        assert_eq!(errors, 0.0, "no errors under load ({mode})");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    // Export the service.
    click_when_enabled(&client, "[data-testid=export-service]").await;
    wait_text(&client, "[data-testid=export-link]", |_| true).await;
    let zip = blob_bytes(&client, "[data-testid=export-link]").await;
    save_screenshot(&client, "chapter4-service").await;

    // Batch: score the validation month in the worker.
    client.goto(&format!("{}#/batch", site.base)).await.expect("batch page");
    let slot = client.find(Locator::Css("[data-testid=batch-slot]")).await.expect("slot");
    slot.select_by_value("validation").await.expect("choose the validation month");
    click_when_enabled(&client, "[data-testid=batch-score]").await;
    let rows_element = {
        wait_text(&client, "[data-testid=batch-rows]", |t| !t.is_empty()).await;
        client.find(Locator::Css("[data-testid=batch-rows]")).await.expect("rows")
    };
    let rows: u64 =
        rows_element.attr("data-value").await.ok().flatten().and_then(|v| v.parse().ok()).expect("rows");
    let path = wait_text(&client, "[data-testid=batch-path]", |t| t.ends_with(".parquet")).await;
    assert!(path.starts_with("taxi_type=green/year=2021/month=02/"), "{path}");
    let parquet = blob_bytes(&client, "[data-testid=batch-link]").await;
    save_screenshot(&client, "chapter4-batch").await;

    // Stream: a malformed record goes to the dead letters; the rest is predicted.
    client.goto(&format!("{}#/stream", site.base)).await.expect("stream page");
    click_when_enabled(&client, "[data-testid=stream-start]").await;
    click_when_enabled(&client, "[data-testid=stream-inject-bad]").await;
    wait_text(&client, "[data-testid=stream-dead-count]", |t| t.parse::<u64>().is_ok_and(|n| n >= 1)).await;
    wait_text(&client, "[data-testid=stream-consumed]", |t| t.parse::<u64>().is_ok_and(|n| n >= 50)).await;
    click_when_enabled(&client, "[data-testid=stream-stop]").await;
    let event = wait_text(&client, "[data-testid=stream-event]", |t| !t.is_empty()).await;
    assert!(event.contains("ride_duration_prediction_model") && event.contains("ride_duration"), "{event}");
    let dead = wait_text(&client, "[data-testid=dead-letter]", |t| !t.is_empty()).await;
    assert!(!dead.is_empty());
    save_screenshot(&client, "chapter4-stream").await;
    assert!(text_of(&client, "[data-testid=panic-screen]").await.is_none());
    client.close().await.expect("close");

    let Some(analysis) = analysis else { return };
    let dir = python::TempDir::new("e2e-chapter4");

    // pandas reads the batch file back.
    let file = dir.path.join(&path);
    std::fs::create_dir_all(file.parent().expect("folder")).expect("mkdir");
    std::fs::write(&file, &parquet).expect("write parquet");
    let summary = python::parquet_summary(&analysis, &file).expect("pandas reads it");
    assert_eq!(
        summary["columns"],
        serde_json::json!([
            "ride_id",
            "lpep_pickup_datetime",
            "PULocationID",
            "DOLocationID",
            "actual_duration",
            "predicted_duration",
            "diff",
            "model_version"
        ])
    );
    assert_eq!(summary["rows"], rows);
    assert_eq!(summary["nulls"], 0);
    assert_eq!(summary["unique_ride_ids"], rows, "every ride has its own id");
    assert_eq!(summary["model_versions"], serde_json::json!([run_id]));
    assert!(summary["diff_max_error"].as_f64().expect("diff error") < 1e-9, "{summary}");

    // The exported service, under gunicorn, answers the same as the browser.
    let app = dir.path.join("service");
    let files = python::unzip(&zip, &app).expect("unzip");
    for name in ["predict.py", "requirements.txt", "Dockerfile", "README.md", "model.json"] {
        assert!(files.iter().any(|f| f == name), "{name} is in the zip: {files:?}");
    }
    let requirements = std::fs::read_to_string(app.join("requirements.txt")).expect("requirements");
    let venv = python::service_venv(&requirements).expect("a venv with the pinned requirements");
    let server = python::Gunicorn::start(&venv, &app).expect("gunicorn");
    let served = python::predict_rides(&server.url, &rides).expect("gunicorn answers");
    let worst =
        served.iter().zip(&browser_durations).map(|(a, b)| (a.duration - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-9, "the exported service agrees with the browser to 1e-9 (worst {worst:e})");
    assert!(served.iter().all(|a| a.model_version == run_id));
}
