//! End to end, as a learner: the Chapter 2 walkthrough on the release `dist/` in
//! headless Chromium — train a sweep, search, register, promote, roll back, reload, and
//! find everything still there.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::{browser, click_when_enabled, prerequisites, save_screenshot, start_site, text_of, wait_text};

/// Training seven models on the simulated months takes seconds; allow for a slow machine.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);

async fn step_done(client: &Client, letter: char) -> bool {
    let css = format!("[data-testid=step-{letter}]");
    match client.find(Locator::Css(&css)).await {
        Ok(step) => step.attr("data-done").await.ok().flatten().as_deref() == Some("true"),
        Err(_) => false,
    }
}

async fn wait_step(client: &Client, letter: char) {
    let start = Instant::now();
    while !step_done(client, letter).await {
        if let Some(error) = text_of(client, "[data-testid=error]").await.filter(|t| !t.is_empty()) {
            panic!("the page shows an error while waiting for step {letter}: {error}");
        }
        assert!(start.elapsed() < STEP_TIMEOUT, "step {letter} was never done");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn stage_of(client: &Client, version: u32) -> String {
    let css = format!("[data-testid=version-row][data-version='{version}'] [data-testid=version-stage]");
    wait_text(client, &css, |t| !t.is_empty()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_walks_through_chapter_2_and_everything_survives_a_reload() {
    if !prerequisites() {
        return;
    }
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/chapter-2", site.base)).await.expect("open chapter 2");

    click_when_enabled(&client, "[data-testid=load-step]").await;
    wait_step(&client, 'a').await;
    click_when_enabled(&client, "[data-testid=train-sweep]").await;
    wait_step(&client, 'b').await;

    click_when_enabled(&client, "[data-testid=search-run]").await;
    wait_step(&client, 'c').await;
    let results = client.find_all(Locator::Css("[data-testid=search-result]")).await.expect("results");
    assert!(!results.is_empty(), "the search found runs");

    click_when_enabled(&client, "[data-testid=register-best]").await;
    wait_step(&client, 'd').await;
    click_when_enabled(&client, "[data-testid=promote]").await;
    click_when_enabled(&client, "[data-testid=register-second]").await;
    click_when_enabled(&client, "[data-testid=promote]").await;
    wait_step(&client, 'e').await;
    click_when_enabled(&client, "[data-testid=rollback]").await;
    wait_step(&client, 'f').await;
    click_when_enabled(&client, "[data-testid=set-champion]").await;
    save_screenshot(&client, "chapter2-walkthrough").await;

    // A reload: everything comes back from IndexedDB.
    client.refresh().await.expect("reload");
    for letter in ['a', 'b', 'c', 'd', 'e', 'f'] {
        wait_step(&client, letter).await;
    }
    client.goto(&format!("{}#/models/nyc-taxi-regressor", site.base)).await.expect("model page");
    assert_eq!(stage_of(&client, 1).await, "Production", "rolled back to version 1");
    assert_eq!(stage_of(&client, 2).await, "Archived");
    let aliases = wait_text(&client, "[data-testid=version-row][data-version='1']", |t| !t.is_empty()).await;
    assert!(aliases.contains("champion"), "version 1 is the champion: {aliases}");
    let history = client.find_all(Locator::Css("[data-testid=history-event]")).await.expect("history");
    assert!(history.len() >= 5, "the registry history lists each change ({})", history.len());
    save_screenshot(&client, "chapter2-model").await;

    client.goto(&format!("{}#/runs", site.base)).await.expect("runs page");
    let count = wait_text(&client, "[data-testid=match-count]", |t| t.ends_with("runs")).await;
    let total: usize = count.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(total >= 8, "seven trainings and the sweep's parent run are listed: {count}");
    let filter = client.find(Locator::Css("[data-testid=filter-input]")).await.expect("filter box");
    filter.send_keys("params.model = 'Ridge' OR params.model = 'LinearRegression'\n").await.expect("type");
    wait_text(&client, "[data-testid=match-count]", |t| t.starts_with("2 of")).await;
    filter.clear().await.expect("clear");
    filter.send_keys("metrics.rmse <\n").await.expect("type a broken filter");
    let error = wait_text(&client, "[data-testid=filter-error]", |t| t.contains('^')).await;
    assert!(error.contains("metrics.rmse <"), "the error shows where the filter breaks: {error}");
    save_screenshot(&client, "chapter2-runs").await;
    client.close().await.expect("close");
}
