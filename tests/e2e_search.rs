//! End to end, as a learner: a hyperparameter search on the release `dist/` in headless
//! Chromium — ten random trials of small boosted trees on the simulated months with two
//! workers, a reload in the middle, "Resume", and at the end exactly ten child runs under
//! the search's parent run, the best-so-far chart and parallel coordinates drawn, and the
//! best trial's model registered.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::{browser, click_when_enabled, prerequisites, save_screenshot, start_site, text_of, wait_text};

/// Ten small trials take seconds per worker; allow for a slow, busy machine.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(300);

async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.ok()?;
    element.attr(name).await.ok().flatten()
}

/// Waits until an attribute satisfies `done`; panics with what was seen (and any error
/// the page shows).
async fn wait_attr(client: &Client, css: &str, name: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let seen = attr(client, css, name).await;
        if let Some(value) = seen.as_deref().filter(|v| done(v)) {
            return value.to_string();
        }
        for problem in
            ["[data-testid=search-start-error]", "[data-testid=error]", "[data-testid=panic-screen]"]
        {
            if let Some(text) = text_of(client, problem).await.filter(|t| !t.is_empty()) {
                panic!("the page shows an error while waiting for {css}[{name}]: {text}");
            }
        }
        if let Some(text) =
            text_of(client, "[data-testid=search-message]").await.filter(|t| t.contains("stopped"))
        {
            panic!("a search worker stopped: {text}");
        }
        assert!(
            start.elapsed() < SEARCH_TIMEOUT,
            "timed out waiting for {css}[{name}]; last value: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn set_value(client: &Client, css: &str, value: &str) {
    let element = client.find(Locator::Css(css)).await.expect(css);
    element.clear().await.expect("clear");
    element.send_keys(value).await.expect("type");
}

/// Clicks once the element has appeared and is enabled.
async fn click(client: &Client, css: &str) {
    let start = Instant::now();
    while client.find(Locator::Css(css)).await.is_err() {
        assert!(start.elapsed() < SEARCH_TIMEOUT, "{css} never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click_when_enabled(client, css).await;
}

fn finished(value: &str) -> u32 {
    value.parse().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_runs_a_search_reloads_resumes_and_registers_the_best_trial() {
    if !prerequisites() {
        return;
    }
    let started = Instant::now();
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/search", site.base)).await.expect("open the search page");

    // The simulated months load by themselves.
    wait_text(&client, "[data-testid=search-train-label]", |t| t.contains("Simulated")).await;
    wait_text(&client, "[data-testid=search-val-label]", |t| t.contains("Simulated")).await;

    // A bad space is reported as it is typed, and the form follows a good one.
    set_value(&client, "[data-testid=space-json]", r#"{"max_depth": {"unifrom": [2, 6]}}"#).await;
    let error = wait_text(&client, "[data-testid=space-error]", |t| !t.is_empty()).await;
    assert!(error.contains("unifrom"), "the error names the typo: {error}");
    let start_button = client.find(Locator::Css("[data-testid=search-start]")).await.expect("start");
    assert!(!start_button.is_enabled().await.expect("enabled?"), "a broken space cannot start");

    click(&client, "[data-testid=preset-quick]").await;
    wait_text(&client, "[data-testid=search-family]", |t| t.contains("Gradient-boosted")).await;
    let rows = client.find_all(Locator::Css("[data-testid=space-row]")).await.expect("rows");
    assert_eq!(rows.len(), 5, "the quick space has five parameters (two constants)");
    assert!(text_of(&client, "[data-testid=space-error]").await.is_none(), "the preset is valid");

    // The form writes the JSON: more rounds per trial, so the reload lands mid-search.
    let rounds = "[data-testid=space-row][data-param=num_boost_round] [data-testid=space-value]";
    set_value(&client, rounds, "60\t").await;
    let start = Instant::now();
    loop {
        let json = client.find(Locator::Css("[data-testid=space-json]")).await.expect("json box");
        let text = json.prop("value").await.ok().flatten().unwrap_or_default();
        if text.contains("\"num_boost_round\": 60") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the form did not update the JSON: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    set_value(&client, "[data-testid=search-workers]", "2").await;
    set_value(&client, "[data-testid=search-name]", "e2e-search").await;
    click(&client, "[data-testid=search-start]").await;

    // Two workers prepare the months, then trials stream in.
    wait_attr(&client, "[data-testid=search-status]", "data-state", |s| s == "running").await;
    let workers = client.find_all(Locator::Css("[data-testid=search-worker]")).await.expect("workers");
    assert_eq!(workers.len(), 2, "two pool workers");
    let before =
        wait_attr(&client, "[data-testid=search-status]", "data-finished", |v| finished(v) >= 2).await;
    let searched_at = started.elapsed();
    assert!(finished(&before) < 10, "the reload must come mid-search; {before} trials were already done");
    save_screenshot(&client, "search-running").await;

    // A reload in the middle: the page offers to resume.
    client.refresh().await.expect("reload");
    wait_text(&client, "[data-testid=resume-banner]", |t| t.contains("e2e-search")).await;
    click(&client, "[data-testid=resume-search]").await;
    wait_attr(&client, "[data-testid=search-status]", "data-state", |s| s == "complete").await;
    let done = attr(&client, "[data-testid=search-status]", "data-finished").await.unwrap_or_default();
    assert_eq!(done, "10", "every trial is done");

    // Exactly ten child runs under the parent, in the store and in the table.
    wait_attr(&client, "[data-testid=search-child-count]", "data-count", |c| c == "10").await;
    let table_rows =
        client.find_all(Locator::Css("[data-testid=runs-table] [data-testid=run-row]")).await.expect("rows");
    assert_eq!(table_rows.len(), 10, "one row per trial");
    client.find(Locator::Css("img[data-testid=best-so-far-chart]")).await.expect("best-so-far chart");
    client.find(Locator::Css("img[data-testid=parallel-coords]")).await.expect("parallel coordinates");
    assert!(text_of(&client, "[data-testid=resume-banner]").await.is_none(), "nothing left to resume");

    // The best trial's model goes to the registry.
    click(&client, "[data-testid=register-best-trial]").await;
    let registered = wait_text(&client, "[data-testid=register-result]", |t| !t.is_empty()).await;
    assert!(registered.contains("Registered nyc-taxi-regressor version 1"), "{registered}");
    save_screenshot(&client, "search-complete").await;

    // The parent run lists its trials as nested runs on the runs page.
    client.goto(&format!("{}#/runs", site.base)).await.expect("runs page");
    let count = wait_text(&client, "[data-testid=match-count]", |t| t.ends_with("runs")).await;
    let total: usize = count.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert_eq!(total, 11, "the parent and its ten trials: {count}");
    eprintln!(
        "e2e_search: first trials after {:.1} s, everything after {:.1} s",
        searched_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    client.close().await.expect("close");
}

async fn step_done(client: &Client, letter: char) -> bool {
    attr(client, &format!("[data-testid=step-{letter}]"), "data-done").await.as_deref() == Some("true")
}

async fn wait_step(client: &Client, letter: char) {
    let start = Instant::now();
    while !step_done(client, letter).await {
        for problem in ["[data-testid=error]", "[data-testid=panic-screen]"] {
            if let Some(text) = text_of(client, problem).await.filter(|t| !t.is_empty()) {
                panic!("the page shows an error while waiting for step {letter}: {text}");
            }
        }
        assert!(start.elapsed() < SEARCH_TIMEOUT, "step {letter} was never done");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_trains_boosted_trees_then_tunes_them_in_the_chapter_2_walkthrough() {
    if !prerequisites() {
        return;
    }
    let started = Instant::now();
    let site = start_site(None).await;
    let client = browser(&site).await;

    // Chapter 1: boosted trees from the form, with their learning curve.
    client.goto(&format!("{}#/chapter-1", site.base)).await.expect("open chapter 1");
    wait_text(&client, "[data-testid=rows-validation]", |t| !t.is_empty()).await;
    let kind = client.find(Locator::Css("[data-testid=model-kind]")).await.expect("model select");
    kind.select_by_value("gbdt").await.expect("choose boosted trees");
    set_value(&client, "[data-testid=param-max_depth]", "0").await;
    let error = wait_text(&client, "[data-testid=param-error]", |t| !t.is_empty()).await;
    assert!(error.contains("max_depth"), "the error names the field: {error}");
    set_value(&client, "[data-testid=param-max_depth]", "4").await;
    set_value(&client, "[data-testid=param-num_boost_round]", "15").await;
    assert!(text_of(&client, "[data-testid=param-error]").await.is_none(), "the form is valid again");
    click(&client, "[data-testid=train]").await;
    client.find(Locator::Css("img[data-testid=learning-curve]")).await.ok();
    let note = wait_text(&client, "[data-testid=learning-curve-note]", |t| !t.is_empty()).await;
    assert!(note.starts_with("15 boosting rounds"), "{note}");
    let val_rmse: f64 =
        wait_text(&client, "[data-testid=val-rmse]", |t| !t.is_empty()).await.parse().expect("a number");
    assert!(val_rmse > 3.0 && val_rmse < 15.0, "a sensible RMSE: {val_rmse}");

    // Chapter 2, steps h–l.
    client.goto(&format!("{}#/chapter-2", site.base)).await.expect("open chapter 2");
    click(&client, "[data-testid=load-step]").await;
    wait_step(&client, 'a').await;
    click(&client, "[data-testid=tuning-first-search]").await;
    wait_step(&client, 'h').await;
    wait_step(&client, 'j').await;
    let facts = wait_text(&client, "[data-testid=autolog-facts]", |t| t.contains("data tags")).await;
    assert!(facts.contains("data.train.sha256") && facts.contains("model/model.json"), "{facts}");

    click(&client, "[data-testid=tuning-compare]").await;
    wait_step(&client, 'i').await;
    client.find(Locator::Css("img[data-testid=compare-chart]")).await.expect("both curves");

    // Step k: try the parameters until the page agrees.
    let select = "[data-testid=tuning-answer]";
    wait_text(&client, select, |t| t.contains("learning_rate")).await;
    let options = client.find_all(Locator::Css(&format!("{select} option"))).await.expect("options");
    let mut values = Vec::new();
    for option in options {
        if let Some(value) = option.attr("value").await.ok().flatten().filter(|v| !v.is_empty()) {
            values.push(value);
        }
    }
    // The newest complete search is the comparison's random one: four parameters.
    assert_eq!(values.len(), 4, "one choice per searched parameter: {values:?}");
    for value in &values {
        let element = client.find(Locator::Css(select)).await.expect("select");
        element.select_by_value(value).await.expect("choose");
        let said = wait_text(&client, "[data-testid=tuning-answer-result]", |t| !t.is_empty()).await;
        if said.starts_with("Yes") {
            break;
        }
    }
    wait_step(&client, 'k').await;

    click(&client, "[data-testid=tuning-register]").await;
    wait_step(&client, 'l').await;
    save_screenshot(&client, "chapter2-tuning").await;

    // All of it is back after a reload.
    client.refresh().await.expect("reload");
    for letter in ['h', 'i', 'j', 'k', 'l'] {
        wait_step(&client, letter).await;
    }
    eprintln!("e2e_search (walkthrough): {:.1} s", started.elapsed().as_secs_f64());
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_pauses_continues_and_cancels_a_search() {
    if !prerequisites() {
        return;
    }
    let site = start_site(None).await;
    let client = browser(&site).await;
    client.goto(&format!("{}#/search", site.base)).await.expect("open the search page");
    wait_text(&client, "[data-testid=search-val-label]", |t| t.contains("Simulated")).await;
    set_value(&client, "[data-testid=search-workers]", "1").await;
    set_value(&client, "[data-testid=search-max-evals]", "40").await;
    set_value(&client, "[data-testid=search-name]", "e2e-cancelled").await;
    click(&client, "[data-testid=search-start]").await;
    wait_attr(&client, "[data-testid=search-status]", "data-finished", |v| finished(v) >= 1).await;

    // Pause: the trial in flight finishes (and is recorded), then nothing moves.
    click(&client, "[data-testid=search-pause]").await;
    wait_attr(&client, "[data-testid=search-status]", "data-state", |s| s == "paused").await;
    wait_attr(&client, "[data-testid=search-status]", "data-in-flight", |n| n == "0").await;
    wait_text(&client, "[data-testid=search-worker]", |t| t.contains("idle")).await;
    let paused_at = attr(&client, "[data-testid=search-status]", "data-finished").await.unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = attr(&client, "[data-testid=search-status]", "data-finished").await.unwrap_or_default();
    assert_eq!(still, paused_at, "a paused search starts no trial");

    // Continue, then cancel: finished trials stay, the parent run is killed.
    click(&client, "[data-testid=search-continue]").await;
    wait_attr(&client, "[data-testid=search-status]", "data-finished", |v| {
        finished(v) > finished(&paused_at)
    })
    .await;
    click(&client, "[data-testid=search-cancel]").await;
    wait_attr(&client, "[data-testid=search-status]", "data-state", |s| s == "cancelled").await;
    let message = wait_text(&client, "[data-testid=search-message]", |t| t.starts_with("Cancelled")).await;
    assert!(message.contains("are kept"), "{message}");
    let kept: usize = wait_attr(&client, "[data-testid=search-child-count]", "data-count", |c| c != "0")
        .await
        .parse()
        .expect("count");
    wait_text(&client, "[data-testid=search-shown]", |t| t.contains("e2e-cancelled (cancelled)")).await;
    client.goto(&format!("{}#/runs", site.base)).await.expect("runs page");
    let count = wait_text(&client, "[data-testid=match-count]", |t| t.ends_with("runs")).await;
    let total: usize = count.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(total > kept, "the parent and its finished trials: {count}");
    wait_text(&client, "[data-testid=runs-table]", |t| t.contains("killed")).await;
    client.close().await.expect("close");
}
