//! The wasm half of the Chapter 1 benchmark (or, with `BENCH_MODE=score`, of Chapter 4's
//! batch scoring; with `BENCH_MODE=drift`, of Chapter 5's drift report and replay): serves
//! the release `dist/` and the data on loopback, opens `#/bench` in headless Chromium and
//! prints the JSON the page reports.
//!
//! `cargo run --release --example bench_wasm -- DATA_DIR TRAIN_FILE VAL_FILE [REPEAT]`
//! `BENCH_MODE=drift cargo run --release --example bench_wasm -- DATA_DIR REFERENCE CURRENT
//! REPEAT REPLAY_REFERENCE REPLAY_CURRENT` (files in DATA_DIR)
//! `BENCH_MODE=trees …` times decoding plus Chapter 2's boosted trees and forest;
//! `BENCH_MODE=search …` runs the course's XGBoost search with the worker pool
//! (`SEARCH_WORKERS=N`, `SEARCH_EVALS=N` to change the pool or the budget).
//! `BENCH_MODE=pipeline …` runs Chapter 3's training pipeline on the two files, from an
//! empty output cache each time.
//! `BENCH_TIMEOUT_SECONDS` overrides the wait for a result (10 minutes; 2 hours for search).

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use fantoccini::Locator;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, train, val, rest @ ..] = args.as_slice() else {
        eprintln!("usage: bench_wasm DATA_DIR TRAIN_FILE VAL_FILE [REPEAT]");
        return std::process::ExitCode::from(2);
    };
    let repeat = rest.first().cloned().unwrap_or_else(|| "7".to_string());
    // BENCH_MODE=score times Chapter 4's batch scoring instead of Chapter 1's pipeline;
    // BENCH_MODE=drift a full drift report of TRAIN against VAL, and a replay.
    let query = match std::env::var("BENCH_MODE").as_deref() {
        Ok("drift") => {
            let [_, replay_reference, replay_current, ..] = rest else {
                eprintln!(
                    "usage: BENCH_MODE=drift bench_wasm DATA_DIR REFERENCE CURRENT REPEAT REPLAY_REFERENCE REPLAY_CURRENT"
                );
                return std::process::ExitCode::from(2);
            };
            format!(
                "drift_reference=../data/{train}&drift_current=../data/{val}\
                 &replay_reference=../data/{replay_reference}&replay_current=../data/{replay_current}"
            )
        }
        Ok("score") => format!("score_train=../data/{train}&score_month=../data/{val}"),
        Ok("trees") => format!("trees_train=../data/{train}&trees_val=../data/{val}"),
        Ok("pipeline") => format!("pipeline_jan=../data/{train}&pipeline_feb=../data/{val}"),
        Ok("search") => {
            let mut query = format!("search_train=../data/{train}&search_val=../data/{val}");
            for (variable, key) in [("SEARCH_WORKERS", "workers"), ("SEARCH_EVALS", "evals")] {
                if let Ok(value) = std::env::var(variable) {
                    query.push_str(&format!("&{key}={value}"));
                }
            }
            query
        }
        _ => format!("train=../data/{train}&val=../data/{val}"),
    };
    let data_dir = PathBuf::from(data_dir).canonicalize().unwrap_or_else(|_| PathBuf::from(data_dir));
    let site = support::start_site(Some(&data_dir)).await;
    let client = support::browser(&site).await;
    let url = format!("{}#/bench?{query}&repeat={repeat}", site.base);
    if let Err(e) = client.goto(&url).await {
        eprintln!("error: could not open {url}: {e}");
        return std::process::ExitCode::from(1);
    }
    let default_timeout = if std::env::var("BENCH_MODE").as_deref() == Ok("search") { 7200 } else { 600 };
    let timeout = std::env::var("BENCH_TIMEOUT_SECONDS")
        .ok()
        .and_then(|t| t.parse().ok())
        .map_or(Duration::from_secs(default_timeout), Duration::from_secs);
    let start = Instant::now();
    let mut last_progress = Instant::now();
    loop {
        let read = |css: &'static str| {
            let client = client.clone();
            async move { client.find(Locator::Css(css)).await.ok()?.text().await.ok() }
        };
        if let Some(result) = read("[data-testid=bench-result]").await.filter(|t| !t.is_empty()) {
            println!("{result}");
            break;
        }
        if let Some(panic) = read("[data-testid=panic-screen]").await.filter(|t| !t.is_empty()) {
            eprintln!("error: {panic}");
            return std::process::ExitCode::from(1);
        }
        if last_progress.elapsed() > Duration::from_secs(30) {
            last_progress = Instant::now();
            if let Some(progress) = read("[data-testid=bench-progress]").await.filter(|t| !t.is_empty()) {
                eprintln!("[{:.0} s] {progress}", start.elapsed().as_secs_f64());
            }
        }
        if let Some(error) = read("[data-testid=bench-error]").await.filter(|t| !t.is_empty()) {
            eprintln!("error: {error}");
            return std::process::ExitCode::from(1);
        }
        if start.elapsed() > timeout {
            eprintln!("error: no result after {} seconds", timeout.as_secs());
            return std::process::ExitCode::from(1);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = client.close().await;
    std::process::ExitCode::SUCCESS
}

#[cfg(target_arch = "wasm32")]
fn main() {}
