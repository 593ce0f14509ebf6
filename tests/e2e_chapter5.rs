//! End to end, as a learner, Chapter 5's monitoring dashboard on the release `dist/` in
//! headless Chromium: replay the simulated February against the simulated January with a
//! broken upstream pipeline on days 2–4 (trip_distance missing for 30% of the rows), move
//! the clock a week, see the `share_missing` alert fire, reload, and find the alert log,
//! the stored days and the clock position back — then replay again and continue.
//!
//! With the real TLC files in `../shared/data` (green 2022-01 and 2022-02), a second test
//! picks them with the file pickers and checks the course's baseline numbers on the page;
//! without them it prints SKIPPED.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::{
    browser, click_when_enabled, prerequisites, save_screenshot, shared_file, start_site, text_of, wait_text,
    TIMEOUT,
};

/// Types into an input and leaves it (Tab), so its `change` event fires.
async fn set_value(client: &Client, css: &str, value: &str) {
    let element = client.find(Locator::Css(css)).await.expect(css);
    element.clear().await.expect("clear");
    element.send_keys(&format!("{value}\t")).await.expect("type");
}

/// An attribute (`data-*`), or for `value` the input's current value (a property).
async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.ok()?;
    if name == "value" {
        element.prop(name).await.ok().flatten()
    } else {
        element.attr(name).await.ok().flatten()
    }
}

/// Waits until an attribute satisfies `done`; panics with what was seen.
async fn wait_attr(client: &Client, css: &str, name: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let seen = attr(client, css, name).await;
        if let Some(value) = seen.as_deref().filter(|v| done(v)) {
            return value.to_string();
        }
        if let Some(error) = text_of(client, "[data-testid=error]").await {
            panic!("the page shows an error while waiting for {css}[{name}]: {error}");
        }
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {css}[{name}]; last value: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Days the clock has revealed.
async fn revealed(client: &Client) -> u32 {
    attr(client, "[data-testid=clock-day]", "data-revealed").await.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The alert log's `share_missing` entries, as shown.
async fn share_missing_alerts(client: &Client) -> Vec<String> {
    let entries = client.find_all(Locator::Css("[data-testid=alert-entry]")).await.expect("entries");
    let mut found = Vec::new();
    for entry in entries {
        let text = entry.text().await.unwrap_or_default();
        if text.contains("share_missing") {
            found.push(text);
        }
    }
    found
}

async fn wait_gone(client: &Client, css: &str) {
    let start = Instant::now();
    while client.find(Locator::Css(css)).await.is_ok() {
        assert!(start.elapsed() < TIMEOUT, "{css} stayed on the page");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn step_to(client: &Client, day: u32) {
    let at_least = move |v: &str| v.parse::<u32>().is_ok_and(|n| n >= day);
    wait_attr(client, "[data-testid=clock-day]", "data-revealed", at_least).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_replays_a_broken_pipeline_sees_the_alert_and_finds_it_after_a_reload() {
    if !prerequisites() {
        return;
    }
    let started = Instant::now();
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/monitoring", site.base)).await.expect("open the dashboard");
    wait_text(&client, "[data-testid=clock-day]", |t| t.contains("No replay yet")).await;
    wait_text(&client, "[data-testid=service-health]", |t| t.contains("No requests logged yet")).await;

    // The broken pipeline preset, moved to days 2–4.
    click_when_enabled(&client, "[data-testid=preset-broken-pipeline]").await;
    wait_attr(&client, "[data-testid=injection-from-day]", "value", |v| v == "10").await;
    set_value(&client, "[data-testid=injection-from-day]", "2").await;
    wait_attr(&client, "[data-testid=injection-from-day]", "value", |v| v == "2").await;
    assert_eq!(attr(&client, "[data-testid=injection-days]", "value").await.as_deref(), Some("3"));
    assert!(text_of(&client, "[data-testid=injection-error]").await.is_none(), "the preset is valid");

    // Replay in the worker: the clock then stands before day 1.
    click_when_enabled(&client, "[data-testid=replay-run]").await;
    wait_text(&client, "[data-testid=clock-day]", |t| t.starts_with("Before day 1 of 28")).await;
    let summary = wait_text(&client, "[data-testid=replay-summary]", |t| !t.is_empty()).await;
    assert!(summary.contains("Simulated city"), "{summary}");
    let replayed_at = started.elapsed();

    // Step three days, then play two days per tick until a week is revealed.
    for day in 1..=3 {
        click_when_enabled(&client, "[data-testid=clock-step]").await;
        step_to(&client, day).await;
    }
    wait_text(&client, "[data-testid=clock-day]", |t| {
        t.starts_with("Day 3 of 28") && t.contains("2022-02-03")
    })
    .await;
    let speed = client.find(Locator::Css("[data-testid=clock-speed]")).await.expect("speed select");
    speed.select_by_value("2").await.expect("2 days per tick");
    click_when_enabled(&client, "[data-testid=clock-play]").await;
    step_to(&client, 7).await;
    click_when_enabled(&client, "[data-testid=clock-pause]").await;
    // A write in flight finishes; the clock then stays.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let days = revealed(&client).await;
    assert!((7..=9).contains(&days), "paused after a week: {days}");

    let banner = wait_text(&client, "[data-testid=alert-banner]", |t| t.contains("share_missing")).await;
    assert!(banner.contains("share_missing > 5%"), "{banner}");
    wait_text(&client, "[data-testid=alert-log]", |t| t.contains("share_missing")).await;
    let alerts = share_missing_alerts(&client).await;
    assert_eq!(alerts.len(), 1, "one streak, one alert: {alerts:?}");
    // By the first broken day at the latest (the simulated city's passenger counts are
    // missing often enough that a clean day can pass 5% already).
    assert!(alerts[0].contains("2022-02-02") || alerts[0].contains("2022-02-01"), "{alerts:?}");
    // The charts show the revealed days; the day table shows the columns.
    let charted = attr(&client, "[data-testid=metrics-chart-share-missing]", "data-days").await;
    assert_eq!(charted, Some(days.to_string()));
    let drift_days = attr(&client, "[data-testid=metrics-chart-prediction-drift]", "data-days").await;
    assert_eq!(drift_days, Some(days.to_string()));
    // RMSE arrives a day late.
    let rmse_days = attr(&client, "[data-testid=metrics-chart-rmse]", "data-days").await;
    assert_eq!(rmse_days, Some((days - 1).to_string()));
    let day_select = client.find(Locator::Css("[data-testid=day-select]")).await.expect("day select");
    day_select.select_by_value("2").await.expect("choose day 3");
    let table = wait_text(&client, "[data-testid=column-drift-table]", |t| t.contains("trip_distance")).await;
    assert!(table.contains("prediction") && table.contains("PULocationID"), "{table}");
    let injected = wait_text(&client, "[data-testid=day-injected]", |t| !t.is_empty()).await;
    assert!(injected.contains("trip_distance missing for 30% of rows"), "{injected}");
    save_screenshot(&client, "chapter5-monitoring").await;

    // Reload: the alert log, the stored days and the clock position come back.
    client.refresh().await.expect("reload");
    wait_text(&client, "[data-testid=alert-log]", |t| t.contains("share_missing")).await;
    assert_eq!(share_missing_alerts(&client).await, alerts, "the same alert, read back from IndexedDB");
    wait_text(&client, "[data-testid=alert-banner]", |t| t.contains("share_missing")).await;
    wait_text(&client, "[data-testid=clock-day]", |t| t.starts_with(&format!("Day {days} of 28"))).await;
    wait_attr(&client, "[data-testid=metrics-chart-share-missing]", "data-days", |v| v == days.to_string())
        .await;
    wait_text(&client, "[data-testid=reload-notice]", |t| t.contains("kept in memory only")).await;
    wait_text(&client, "[data-testid=column-drift-missing]", |t| !t.is_empty()).await;

    // Replay again: the same days, and the clock continues from where it stood.
    click_when_enabled(&client, "[data-testid=replay-again]").await;
    wait_text(&client, "[data-testid=column-drift-table]", |t| t.contains("trip_distance")).await;
    assert!(text_of(&client, "[data-testid=replay-notice]").await.is_none(), "recomputed identically");
    assert_eq!(revealed(&client).await, days);
    click_when_enabled(&client, "[data-testid=clock-step]").await;
    step_to(&client, days + 1).await;
    assert_eq!(share_missing_alerts(&client).await, alerts, "no alert logged twice");
    // Acknowledged alerts leave the banner, and stay in the log.
    click_when_enabled(&client, "[data-testid=alert-acknowledge]").await;
    wait_gone(&client, "[data-testid=alert-banner]").await;
    assert_eq!(share_missing_alerts(&client).await, alerts);
    assert!(text_of(&client, "[data-testid=panic-screen]").await.is_none());
    client.close().await.expect("close");
    println!(
        "TIMING chapter 5 e2e: replay ready after {:.1} s, whole test {:.1} s",
        replayed_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_replays_the_course_months_from_real_files() {
    if !prerequisites() {
        return;
    }
    let (Some(january), Some(february)) =
        (shared_file("green_tripdata_2022-01.parquet"), shared_file("green_tripdata_2022-02.parquet"))
    else {
        eprintln!("SKIPPED: ../shared/data has no green 2022-01/02; the real-file replay did not run");
        return;
    };
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/monitoring", site.base)).await.expect("open the dashboard");
    wait_text(&client, "[data-testid=clock-day]", |t| t.contains("No replay yet")).await;
    for (side, file) in [("reference", &january), ("current", &february)] {
        let input =
            client.find(Locator::Css(&format!("[data-testid=month-file-{side}]"))).await.expect("picker");
        input.send_keys(&file.display().to_string()).await.expect("pick the file");
        let select = format!("[data-testid=month-select-{side}]");
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        wait_text(&client, &select, |t| t.contains(&name)).await;
    }
    click_when_enabled(&client, "[data-testid=replay-run]").await;
    wait_text(&client, "[data-testid=clock-day]", |t| t.starts_with("Before day 1 of 28")).await;
    let summary = wait_text(&client, "[data-testid=replay-summary]", |t| !t.is_empty()).await;
    // The course's baseline: 55,211 filtered rides, 30,000 train, 25,211 reference.
    assert!(summary.contains("55211 filtered rides"), "{summary}");
    assert!(summary.contains("25211 are the reference"), "{summary}");
    for day in 1..=2 {
        click_when_enabled(&client, "[data-testid=clock-step]").await;
        step_to(&client, day).await;
    }
    wait_text(&client, "[data-testid=clock-day]", |t| t.contains("2022-02-02")).await;
    let table = wait_text(&client, "[data-testid=column-drift-table]", |t| t.contains("fare_amount")).await;
    assert!(table.contains("total_amount"), "{table}");
    let log = wait_text(&client, "[data-testid=alert-log]", |t| !t.is_empty()).await;
    assert!(!log.contains("share_missing"), "no missing-value alert on the real months: {log}");
    save_screenshot(&client, "chapter5-monitoring-real").await;
    client.close().await.expect("close");
}
