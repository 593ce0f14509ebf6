//! The wasm half of the benchmark: `#/bench?train=URL&val=URL&repeat=N` fetches two
//! files, runs the Chapter 1 pipeline in the worker and prints JSON for `bench/run.sh`;
//! `#/bench?tracking=N` times logging and searching N runs; `#/bench?score_train=URL&
//! score_month=URL&repeat=N` times Chapter 4's batch scoring; `#/bench?drift_reference=URL&
//! drift_current=URL&replay_reference=URL&replay_current=URL&repeat=N` times Chapter 5's
//! full drift report between two files and a month's replay.

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::protocol::Request;
use mlops_core::summary::median;

use crate::components::data_panel::fetch_bytes;
use crate::routes::{current_hash, hash_query};
use crate::serving_state::now_ms;
use crate::state::AppState;

#[component]
pub fn BenchPage() -> impl IntoView {
    let state = AppState::use_context();
    let query = hash_query(&current_hash());
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (train, val) = (get("train"), get("val"));
    let repeat = get("repeat").and_then(|r| r.parse().ok()).unwrap_or(7);
    if let Some(runs) = get("tracking").and_then(|n| n.parse::<usize>().ok()) {
        spawn_local(async move {
            match tracking_bench(state, runs).await {
                Ok(json) => state.bench_result.set(Some(json)),
                Err(e) => state.error.set(Some(e)),
            }
        });
    }
    if let (Some(train), Some(month)) = (get("score_train"), get("score_month")) {
        spawn_local(async move {
            match (fetch_bytes(&train).await, fetch_bytes(&month).await) {
                (Ok(train), Ok(month)) => state.bench_score(train, month, repeat),
                (Err(e), _) | (_, Err(e)) => state.error.set(Some(e)),
            }
        });
    }
    let drift_urls = ["drift_reference", "drift_current", "replay_reference", "replay_current"].map(get);
    if let [Some(reference), Some(current), Some(replay_reference), Some(replay_current)] = drift_urls {
        spawn_local(async move {
            let request = async {
                Ok::<_, String>(Request::BenchDrift {
                    reference: fetch_bytes(&reference).await?,
                    current: fetch_bytes(&current).await?,
                    replay_reference: fetch_bytes(&replay_reference).await?,
                    replay_current: fetch_bytes(&replay_current).await?,
                    repeat,
                })
            };
            match request.await {
                Ok(request) => state.bench_drift(request),
                Err(e) => state.error.set(Some(e)),
            }
        });
    }
    if let (Some(train), Some(val)) = (train, val) {
        spawn_local(async move {
            match (fetch_bytes(&train).await, fetch_bytes(&val).await) {
                (Ok(train), Ok(val)) => state.bench(train, val, repeat),
                (Err(e), _) | (_, Err(e)) => state.error.set(Some(e)),
            }
        });
    }
    view! {
        <section>
            <h1>"Benchmark"</h1>
            <p>"Add " <code>"?train=URL&val=URL&repeat=N"</code> " to this page's address to time Chapter 1 in this browser."</p>
            <pre data-testid="bench-result">{move || state.bench_result.get().unwrap_or_default()}</pre>
            <pre data-testid="bench-error">{move || state.error.get().unwrap_or_default()}</pre>
        </section>
    }
}

/// Filters a learner might type, from simple to the OR/parentheses extension.
const BENCH_QUERIES: [&str; 4] = [
    "metrics.rmse < 7",
    "params.model = 'Lasso' and metrics.rmse < 8",
    "(params.model = 'Ridge' OR params.model = 'Lasso') AND tags.team IN ('t1', 't2')",
    "attributes.run_name LIKE 'bench run 9%'",
];

/// `#/bench?tracking=N`: logs N runs (three transactions each, as a training does) into
/// the experiment `bench-<N>`, then times searches. `bench/run.sh` then scrolls the runs
/// table over them. Use a fresh browser profile: the runs stay in this browser.
async fn tracking_bench(state: AppState, runs: usize) -> Result<String, String> {
    use mlops_core::tracking::search::{parse_filter, parse_order_by, search};
    use mlops_core::tracking::{MetricEntry, RunOptions, RunStatus, ViewType};

    let tracking = state.tracking;
    while !tracking.ready.get_untracked() {
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    let client = tracking.open_client().map_err(|e| e.to_string())?;
    let error = |e: mlops_core::tracking::TrackingError| e.to_string();
    let name = format!("bench-{runs}");
    let experiment = match client.get_experiment_by_name(&name).await.map_err(error)? {
        Some(found) => found.experiment_id,
        None => client.create_experiment(&name, &[]).await.map_err(error)?,
    };
    let models = ["LinearRegression", "Lasso", "Ridge"];
    let started = now_ms();
    for i in 0..runs {
        let options = RunOptions { run_name: Some(format!("bench run {i}")), ..RunOptions::default() };
        let run = client.create_run(&experiment, options).await.map_err(error)?;
        let model = models[i % models.len()];
        let alpha = format!("{}", 10f64.powi(-((i % 5) as i32)));
        let rmse = 6.0 + (i % 997) as f64 / 250.0;
        let metrics = [("rmse", rmse), ("mae", rmse * 0.7), ("r2", 0.5 - (i % 13) as f64 / 100.0)]
            .map(|(key, value)| MetricEntry { key: key.into(), value, timestamp: 0, step: 0 });
        let params = [("model", model.to_string()), ("alpha", alpha), ("features", "PU_DO".to_string())]
            .map(|(k, v)| (k.to_string(), v));
        client
            .log_batch(&run.run_id, &metrics, &params, &[("team".into(), format!("t{}", i % 7))])
            .await
            .map_err(error)?;
        client.set_terminated(&run.run_id, RunStatus::Finished, None).await.map_err(error)?;
    }
    let insert_seconds = (now_ms() - started) / 1000.0;

    // Reading everything once, as the runs page does on open.
    let mut load_ms = Vec::new();
    for _ in 0..3 {
        let t = now_ms();
        let all =
            client.all_runs(std::slice::from_ref(&experiment), ViewType::ActiveOnly).await.map_err(error)?;
        load_ms.push(now_ms() - t);
        if all.len() < runs {
            return Err(format!("{} runs read back, {runs} written", all.len()));
        }
    }
    // Filtering the in-memory copy, as each keystroke in the filter box does.
    let all =
        client.all_runs(std::slice::from_ref(&experiment), ViewType::ActiveOnly).await.map_err(error)?;
    let order = parse_order_by(&["metrics.rmse ASC".to_string()]).map_err(|e| e.to_string())?;
    let mut search_ms = Vec::new();
    let mut matched = 0;
    for query in BENCH_QUERIES {
        for _ in 0..5 {
            let t = now_ms();
            let filter = parse_filter(query).map_err(|e| e.to_string())?;
            matched = search(&all, &filter, &order).len();
            search_ms.push(now_ms() - t);
        }
    }
    // The client's own search_runs: reads IndexedDB, filters, sorts, pages.
    let mut search_runs_ms = Vec::new();
    for _ in 0..3 {
        let t = now_ms();
        client
            .search_runs(
                std::slice::from_ref(&experiment),
                "metrics.rmse < 7",
                ViewType::ActiveOnly,
                100,
                &["metrics.rmse ASC".into()],
                None,
            )
            .await
            .map_err(error)?;
        search_runs_ms.push(now_ms() - t);
    }
    Ok(serde_json::json!({
        "runs": runs,
        "experiment_id": experiment,
        "insert_seconds": insert_seconds,
        "runs_per_second": runs as f64 / insert_seconds.max(1e-9),
        "transactions_per_second": 3.0 * runs as f64 / insert_seconds.max(1e-9),
        "load_all_median_ms": median(&load_ms),
        "filter_in_memory_median_ms": median(&search_ms),
        "last_query_matches": matched,
        "search_runs_median_ms": median(&search_runs_ms),
    })
    .to_string())
}
