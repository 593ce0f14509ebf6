//! End to end, Chapter 3's pipelines on the release `dist/` in headless Chromium:
//!
//! - the training pipeline on the real TLC files (green 2021-01 and 2021-02 from
//!   `../shared/data`, picked with the file picker), with an injected failure on one
//!   block: the retry succeeds, the run finishes, and after a reload the registered
//!   model and the pipeline's nested runs are in the tracking store. The run's wall time
//!   is printed (`PIPELINE_WALL_SECONDS=`) for the closing note. Without the files it
//!   prints SKIPPED.
//! - the simulated clock moved two months fires the monthly retraining pipeline twice
//!   (on the simulated city, so it is fast).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::{
    browser, click_when_enabled, prerequisites, root, save_screenshot, start_site, wait_text, TIMEOUT,
};

fn shared_file(name: &str) -> Option<PathBuf> {
    let path = root().join("../shared/data").join(name);
    path.is_file().then(|| path.canonicalize().unwrap_or(path))
}

/// The `data-status` of every run row whose test id starts with `prefix`.
async fn run_statuses(client: &Client, prefix: &str) -> Vec<String> {
    let rows = client.find_all(Locator::Css(&format!("[data-testid^='{prefix}']"))).await.unwrap_or_default();
    let mut statuses = Vec::new();
    for row in rows {
        statuses.push(row.attr("data-status").await.ok().flatten().unwrap_or_default());
    }
    statuses
}

/// Waits until `count` runs of a pipeline have finished; panics on a failed run.
async fn wait_finished(client: &Client, pipeline: &str, count: usize, timeout: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let statuses = run_statuses(client, &format!("run-row-{pipeline}-")).await;
        if statuses.iter().any(|s| s == "Failed") {
            let log = client.find(Locator::Css("[data-testid=block-logs]")).await.ok();
            let logs = match log {
                Some(el) => el.text().await.unwrap_or_default(),
                None => String::new(),
            };
            let message = support::text_of(client, "[data-testid=pipeline-message]").await;
            panic!("a {pipeline} run failed: {statuses:?} {message:?}\n{logs}");
        }
        if statuses.iter().filter(|s| *s == "Succeeded").count() >= count {
            return statuses;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {count} {pipeline} runs; saw {statuses:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn click(client: &Client, css: &str) {
    client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).click().await.expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_training_pipeline_on_real_files_retries_and_is_recorded() {
    if !prerequisites() {
        return;
    }
    let (Some(january), Some(february)) =
        (shared_file("green_tripdata_2021-01.parquet"), shared_file("green_tripdata_2021-02.parquet"))
    else {
        eprintln!(
            "SKIPPED: ../shared/data has no green 2021-01/02; the real-file training pipeline did not run"
        );
        return;
    };
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/pipelines", site.base)).await.expect("open the pipelines page");
    wait_text(&client, "[data-testid=dag]", |_| true).await;
    click(&client, "[data-testid=presets-files]").await;
    let input = client.find(Locator::Css("[data-testid=pipeline-files]")).await.expect("picker");
    input.send_keys(&format!("{}\n{}", january.display(), february.display())).await.expect("pick the files");
    wait_text(&client, "[data-testid=pipeline-file-list]", |t| {
        t.contains("2021-01") && t.contains("2021-02")
    })
    .await;
    click(&client, "[data-testid=pick-training]").await;
    // Break the February loader once: its retry must succeed.
    click(&client, "[data-testid=node-load_feb]").await;
    click(&client, "[data-testid=inject-failure]").await;
    wait_text(&client, "[data-testid=pipeline-message]", |t| t.contains("Injected failure toggled")).await;
    let started = Instant::now();
    click_when_enabled(&client, "[data-testid=run-now]").await;
    wait_finished(&client, "training", 1, Duration::from_secs(600)).await;
    let wall = started.elapsed().as_secs_f64();
    let logs = wait_text(&client, "[data-testid=block-logs]", |t| t.contains("Succeeded")).await;
    assert!(logs.contains("injected failure"), "the first attempt failed on purpose: {logs}");
    assert!(logs.contains("attempt 2"), "a second attempt ran: {logs}");
    let in_page = support::text_of(&client, "[data-testid=run-wall]").await.unwrap_or_default();
    println!("PIPELINE_WALL_SECONDS={wall:.2} (page says {in_page})");
    click(&client, "[data-testid=node-evaluate]").await;
    let evaluation = wait_text(&client, "[data-testid=block-logs]", |t| t.contains("RMSE")).await;
    println!("EVALUATE_LOGS={}", evaluation.replace('\n', " | "));
    // scikit-learn 1.9.1's LinearRegression on these months: validation RMSE 7.758715.
    assert!(evaluation.contains("7.75"), "LinearRegression's validation RMSE on February: {evaluation}");
    save_screenshot(&client, "chapter3-training-real").await;

    // After a reload: the run history, the nested runs and the registered model.
    client.refresh().await.expect("reload");
    click_when_enabled(&client, "[data-testid=pick-training]").await;
    wait_finished(&client, "training", 1, TIMEOUT).await;
    let tracked = wait_text(&client, "[data-testid=tracked-runs]", |t| t.contains("nested block runs")).await;
    let nested: usize = tracked
        .split(" with ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(nested >= 8, "one nested run per block (trainers autologged): {tracked}");
    assert!(tracked.contains("Finished"), "{tracked}");
    client.goto(&format!("{}#/models", site.base)).await.expect("open the registry");
    wait_text(&client, "body", |t| t.contains("nyc-taxi-regressor")).await;
    // The walkthrough ticks steps a (a training run) and b (a failure that retried).
    client.goto(&format!("{}#/chapter-3", site.base)).await.expect("open Chapter 3");
    for step in ["step3-a", "step3-b"] {
        wait_text(&client, &format!("[data-testid={step}]"), |t| t.contains("✓ done")).await;
    }
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_months_on_the_clock_fire_the_retraining_pipeline_twice() {
    if !prerequisites() {
        return;
    }
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/pipelines", site.base)).await.expect("open the pipelines page");
    wait_text(&client, "[data-testid=clock-now]", |t| t.starts_with("2021-02-15")).await;
    click_when_enabled(&client, "[data-testid=pick-retraining]").await;
    click(&client, "[data-testid=clock-plus-month]").await;
    click(&client, "[data-testid=clock-plus-month]").await;
    let log =
        wait_text(&client, "[data-testid=trigger-log]", |t| t.matches("retraining#").count() >= 2).await;
    assert!(log.contains("2021-03-01") && log.contains("2021-04-01"), "fired on 1 March and 1 April: {log}");
    let statuses = wait_finished(&client, "retraining", 2, Duration::from_secs(600)).await;
    assert_eq!(statuses.len(), 2, "exactly two retraining runs: {statuses:?}");
    save_screenshot(&client, "chapter3-retraining-clock").await;
    // Scheduled runs tick step c of the walkthrough.
    client.goto(&format!("{}#/chapter-3", site.base)).await.expect("open Chapter 3");
    wait_text(&client, "[data-testid=step3-c]", |t| t.contains("✓ done")).await;
    client.close().await.expect("close");
}
