//! The wasm half of the benchmark: `#/bench?train=URL&val=URL&repeat=N` fetches two
//! files, runs the Chapter 1 pipeline in the worker and prints JSON for `bench/run.sh`;
//! `#/bench?tracking=N` times logging and searching N runs; `#/bench?score_train=URL&
//! score_month=URL&repeat=N` times Chapter 4's batch scoring; `#/bench?drift_reference=URL&
//! drift_current=URL&replay_reference=URL&replay_current=URL&repeat=N` times Chapter 5's
//! full drift report between two files and a month's replay; `#/bench?trees_train=URL&
//! trees_val=URL&repeat=N` times decoding plus a 200-round GBDT and a 100-tree forest in the
//! worker; `#/bench?search_train=URL&search_val=URL&workers=N` runs the course's 50-trial
//! XGBoost search end to end with the worker pool (`&evals=N` for a shorter one).

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::protocol::Request;
use mlops_core::summary::median;

use crate::components::data_panel::fetch_bytes;
use crate::pipeline_state::Pipelines;
use crate::routes::{current_hash, hash_query};
use crate::search_state::Searches;
use crate::serving_state::now_ms;
use crate::state::AppState;

#[component]
pub fn BenchPage() -> impl IntoView {
    let state = AppState::use_context();
    let searches = Searches::use_context();
    let pipelines = Pipelines::use_context();
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
    if let (Some(train), Some(val)) = (get("trees_train"), get("trees_val")) {
        spawn_local(async move {
            match (fetch_bytes(&train).await, fetch_bytes(&val).await) {
                (Ok(train), Ok(val)) => state.bench_trees(train, val, repeat),
                (Err(e), _) | (_, Err(e)) => state.error.set(Some(e)),
            }
        });
    }
    if let (Some(train), Some(val)) = (get("search_train"), get("search_val")) {
        let workers = get("workers").and_then(|w| w.parse::<u32>().ok());
        let evals = get("evals").and_then(|e| e.parse::<u32>().ok());
        spawn_local(async move {
            match search_bench(state, searches, &train, &val, workers, evals).await {
                Ok(json) => state.bench_result.set(Some(json)),
                Err(e) => state.error.set(Some(e)),
            }
        });
    }
    if let (Some(jan), Some(feb)) = (get("pipeline_jan"), get("pipeline_feb")) {
        spawn_local(async move {
            match pipeline_bench(pipelines, &jan, &feb, repeat).await {
                Ok(json) => state.bench_result.set(Some(json)),
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
            <pre data-testid="bench-progress">{move || {
                let workers: Vec<String> = searches.workers.get().iter().map(|w| format!("{:?}", w.slot)).collect();
                searches.active.get().map(|a| {
                    let (ok, failed, total) = a.record.counts();
                    format!("{}: {} · {ok} finished, {failed} failed of {total} · workers {}", a.record.name, a.record.state.as_str(), workers.join(", "))
                }).unwrap_or_default()
            }}</pre>
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

/// `#/bench?search_train=URL&search_val=URL&workers=N`: loads both months, runs the
/// course's XGBoost search (50 TPE trials; `evals` for fewer) with the worker pool in the
/// experiment `bench-search`, and reports the wall time from start to the last trial.
async fn search_bench(
    state: AppState,
    searches: Searches,
    train_url: &str,
    val_url: &str,
    workers: Option<u32>,
    evals: Option<u32>,
) -> Result<String, String> {
    use mlops_core::protocol::{Slot, Source};
    use mlops_core::search::presets;
    use mlops_core::tuning::{Family, SearchState};

    use crate::search_state::NewSearch;

    let sleep = || gloo_timers::future::TimeoutFuture::new(100);
    let tracking = state.tracking;
    while !tracking.ready.get_untracked() {
        sleep().await;
    }
    let client = tracking.open_client().map_err(|e| e.to_string())?;
    let experiment = match client.get_experiment_by_name("bench-search").await.map_err(|e| e.to_string())? {
        Some(found) => found.experiment_id,
        None => client.create_experiment("bench-search", &[]).await.map_err(|e| e.to_string())?,
    };
    state.active_experiment.set(experiment);
    for (slot, url) in [(Slot::Train, train_url), (Slot::Validation, val_url)] {
        let bytes = fetch_bytes(url).await?;
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        while state.is_busy() {
            sleep().await;
        }
        state.load(slot, vec![Source::File { name: name.clone(), bytes }]);
        while state.dataset(slot).with_untracked(|d| d.as_ref().is_none_or(|d| d.label != name)) {
            if let Some(error) = state.error.get_untracked() {
                return Err(error);
            }
            sleep().await;
        }
    }
    if let Some(workers) = workers {
        searches.workers_wanted.set(workers.clamp(1, 8));
    }
    let pool = searches.workers_wanted.get_untracked();
    let mut spec = presets::course_xgboost();
    spec.parallelism = pool;
    if let Some(evals) = evals {
        spec.max_evals = evals.max(1);
    }
    let trials = spec.max_evals;
    let started = now_ms();
    searches
        .start(vec![NewSearch {
            name: format!("bench-course-xgboost-{trials}"),
            family: Family::Gbdt,
            feature_set: mlops_core::features::FeatureSet::PuDo,
            spec,
            compare: None,
        }])
        .await?;
    loop {
        let done = searches.active.with_untracked(|a| a.as_ref().map(|a| (a.record.state, a.record.clone())));
        match done {
            Some((SearchState::Complete, record)) => {
                let seconds = (now_ms() - started) / 1000.0;
                let (ok, failed, total) = record.counts();
                let best = record.search.best().and_then(|t| t.loss());
                return Ok(serde_json::json!({
                    "runner": "wasm (release, Web Worker pool, headless Chromium)",
                    "trials": total,
                    "finished": ok,
                    "failed": failed,
                    "workers": pool,
                    "hardware_concurrency": crate::search_state::hardware_concurrency(),
                    "wall_seconds": seconds,
                    "trials_per_minute": f64::from(total) / (seconds / 60.0),
                    "best_val_rmse": best,
                })
                .to_string());
            }
            Some((SearchState::Paused | SearchState::Cancelled, _)) => {
                return Err(searches
                    .message
                    .get_untracked()
                    .and_then(Result::err)
                    .unwrap_or_else(|| "the search stopped".into()));
            }
            _ => gloo_timers::future::TimeoutFuture::new(500).await,
        }
    }
}

/// `#/bench?pipeline_jan=URL&pipeline_feb=URL&repeat=N`: Chapter 3's training pipeline on
/// the two TLC files, `repeat` times, each run from an empty output cache (a cached run
/// would skip every block), timed from the manual trigger to the run's end as the
/// pipelines page shows it.
async fn pipeline_bench(
    pipelines: Pipelines,
    jan_url: &str,
    feb_url: &str,
    repeat: u32,
) -> Result<String, String> {
    use mlops_core::pipelines::engine::RunStatus;

    let sleep = || gloo_timers::future::TimeoutFuture::new(50);
    while !pipelines.loaded.get_untracked() {
        sleep().await;
    }
    for url in [jan_url, feb_url] {
        let bytes = fetch_bytes(url).await?;
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        pipelines.add_file(name, bytes).await;
    }
    pipelines.reset_presets(true);
    let mut seconds = Vec::new();
    let mut blocks = Vec::new();
    for _ in 0..repeat.max(1) {
        while pipelines.is_running() {
            sleep().await;
        }
        pipelines.forget_outputs();
        pipelines.message.set(None);
        let known: Vec<String> =
            pipelines.runs.with_untracked(|r| r.iter().map(|r| r.context.run_id.clone()).collect());
        let started = now_ms();
        pipelines.run_now("training");
        let run = loop {
            let finished = pipelines.runs.with_untracked(|runs| {
                runs.iter()
                    .rev()
                    .find(|r| r.context.pipeline == "training" && !known.contains(&r.context.run_id))
                    .cloned()
            });
            if let Some(run) = finished {
                break run;
            }
            if let Some(Err(message)) = pipelines.message.get_untracked() {
                return Err(message);
            }
            sleep().await;
        };
        seconds.push((now_ms() - started) / 1000.0);
        if run.status != RunStatus::Succeeded {
            return Err(format!("the training pipeline ended {:?}", run.status));
        }
        blocks = run
            .history
            .iter()
            .map(|b| serde_json::json!({ "block": b.block, "wall_seconds": b.wall_seconds }))
            .collect();
    }
    Ok(serde_json::json!({
        "runner": "wasm (release, two Web Workers, headless Chromium)",
        "seconds": seconds,
        "median_seconds": median(&seconds),
        "blocks": blocks,
    })
    .to_string())
}
