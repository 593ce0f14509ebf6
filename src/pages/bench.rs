//! The wasm half of the benchmark: `#/bench?train=URL&val=URL&repeat=N` fetches two
//! files, runs the Chapter 1 pipeline in the worker and prints JSON for `bench/run.sh`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::data_panel::fetch_bytes;
use crate::routes::{current_hash, hash_query};
use crate::state::AppState;

#[component]
pub fn BenchPage() -> impl IntoView {
    let state = AppState::use_context();
    let query = hash_query(&current_hash());
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (train, val) = (get("train"), get("val"));
    let repeat = get("repeat").and_then(|r| r.parse().ok()).unwrap_or(7);
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
