//! End to end, as a learner: the release `dist/` served from a sub-path on loopback,
//! driven in headless Chromium through WebDriver.
//!
//! Needs `dist/` (`./lab build`) and `/usr/bin/chromedriver`; `./lab test` provides both.
//! Outside CI, a missing one skips the test with a message; in CI it fails.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use fantoccini::{Client, Locator};
use support::{
    browser, click_when_enabled, prerequisites, save_screenshot, shared_file, start_site, text_of, wait_text,
    Site,
};

/// The run list after a reload (IndexedDB, not memory).
async fn runs_after_reload(client: &Client, site: &Site) -> Vec<String> {
    client.goto(&format!("{}#/runs", site.base)).await.expect("runs page");
    client.refresh().await.expect("reload");
    wait_text(client, "[data-testid=runs-table]", |t| !t.is_empty()).await;
    let cells = client.find_all(Locator::Css("[data-testid=run-val-rmse]")).await.expect("cells");
    let mut values = Vec::new();
    for cell in cells {
        values.push(cell.text().await.unwrap_or_default());
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_trains_on_the_embedded_default_and_the_run_survives_a_reload() {
    if !prerequisites() {
        return;
    }
    let site = start_site(None).await;
    let client = browser(&site).await;
    // A deep link straight into the chapter, under a sub-path.
    client.goto(&format!("{}#/chapter-1", site.base)).await.expect("open chapter 1");
    wait_text(&client, "[data-testid=label-training]", |t| t.contains("Simulated city")).await;
    wait_text(&client, "[data-testid=label-validation]", |t| t.contains("Simulated city")).await;
    assert!(text_of(&client, "[data-testid=simulated-badge]").await.is_some(), "simulated data is labelled");
    click_when_enabled(&client, "[data-testid=train]").await;
    let rmse = wait_text(&client, "[data-testid=val-rmse]", |t| !t.is_empty()).await;
    save_screenshot(&client, "chapter1-simulated").await;
    let value: f64 = rmse.parse().expect("a number");
    assert!((2.0..20.0).contains(&value), "validation RMSE on the simulated city: {value}");
    let runs = runs_after_reload(&client, &site).await;
    assert!(runs.contains(&rmse), "the run with val RMSE {rmse} is listed after reload: {runs:?}");
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_trains_on_real_files_and_reads_the_course_number() {
    if !prerequisites() {
        return;
    }
    let (Some(jan), Some(feb)) =
        (shared_file("green_tripdata_2021-01.parquet"), shared_file("green_tripdata_2021-02.parquet"))
    else {
        eprintln!("SKIPPED: ../shared/data is absent; the real-file browser path did not run");
        return;
    };
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/chapter-1", site.base)).await.expect("open chapter 1");
    // Wait for the default months, then replace them with the real files.
    wait_text(&client, "[data-testid=label-validation]", |t| !t.is_empty()).await;
    let input = client.find(Locator::Css("[data-testid=file-training]")).await.expect("file input");
    input.send_keys(&jan.display().to_string()).await.expect("pick jan");
    wait_text(&client, "[data-testid=label-training]", |t| t == "green_tripdata_2021-01.parquet").await;
    assert_eq!(text_of(&client, "[data-testid=rows-training]").await.as_deref(), Some("76518"));
    let input = client.find(Locator::Css("[data-testid=file-validation]")).await.expect("file input");
    input.send_keys(&feb.display().to_string()).await.expect("pick feb");
    wait_text(&client, "[data-testid=label-validation]", |t| t == "green_tripdata_2021-02.parquet").await;
    click_when_enabled(&client, "[data-testid=train]").await;
    let rmse = wait_text(&client, "[data-testid=val-rmse]", |t| !t.is_empty()).await;
    save_screenshot(&client, "chapter1-real-files").await;
    assert_eq!(rmse, "7.7587", "scikit-learn's validation RMSE is 7.758715");
    assert_eq!(text_of(&client, "[data-testid=n-features]").await.as_deref(), Some("13221"));
    let runs = runs_after_reload(&client, &site).await;
    assert!(runs.iter().any(|r| r == "7.7587"), "the real-data run is listed after reload: {runs:?}");
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_logged_in_one_tab_appears_in_another_tab_without_a_reload() {
    if !prerequisites() {
        return;
    }
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/runs", site.base)).await.expect("runs page");
    wait_text(&client, "[data-testid=runs-empty]", |t| !t.is_empty()).await;
    let runs_tab = client.window().await.expect("this tab");

    let other = client.new_window(true).await.expect("a second tab");
    client.switch_to_window(other.handle).await.expect("switch");
    client.goto(&format!("{}#/chapter-1", site.base)).await.expect("open chapter 1");
    wait_text(&client, "[data-testid=label-validation]", |t| t.contains("Simulated city")).await;
    click_when_enabled(&client, "[data-testid=train]").await;
    let rmse = wait_text(&client, "[data-testid=val-rmse]", |t| !t.is_empty()).await;

    client.switch_to_window(runs_tab).await.expect("back to the runs tab");
    wait_text(&client, "[data-testid=match-count]", |t| t.starts_with("1 of")).await;
    let shown = wait_text(&client, "[data-testid=run-val-rmse]", |t| !t.is_empty()).await;
    assert_eq!(shown, rmse, "the other tab's run shows up with its metric");
    client.close().await.expect("close");
}
