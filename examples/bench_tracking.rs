//! Tracking at scale, in headless Chromium on the release `dist/`: logs N runs through
//! the app's IndexedDB client (`#/bench?tracking=N`), then opens the runs table on them
//! and scrolls it frame by frame. Prints one JSON object: insert throughput, load and
//! search latencies (medians), time to show the table, frame intervals while scrolling,
//! and how many rows were in the DOM (virtualised: a window, not N).
//!
//! `cargo run --release --example bench_tracking -- [RUNS]`

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_arch = "wasm32"))]
const SCROLL_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
let box = document.querySelector('[data-testid=runs-table]');
while (box && box.scrollHeight <= box.clientHeight + 1) box = box.parentElement;
if (!box) { done(JSON.stringify({ error: 'no scrolling container' })); return; }
const frames = []; let last = performance.now(); let n = 0; let maxRows = 0;
function step(t) {
  frames.push(t - last); last = t;
  maxRows = Math.max(maxRows, document.querySelectorAll('[data-testid=run-row]').length);
  box.scrollTop += 700; n += 1;
  if (n < 300 && box.scrollTop + box.clientHeight < box.scrollHeight) requestAnimationFrame(step);
  else done(JSON.stringify({ frames: frames.slice(1), max_rows_in_dom: maxRows, scrolled_px: box.scrollTop }));
}
requestAnimationFrame(step);
"#;

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    use std::time::{Duration, Instant};

    use fantoccini::Locator;

    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let site = support::start_site(None).await;
    let client = support::browser(&site).await;
    let fail = |message: String| {
        eprintln!("error: {message}");
        std::process::ExitCode::from(1)
    };
    let read = |css: String| {
        let client = client.clone();
        async move { client.find(Locator::Css(&css)).await.ok()?.text().await.ok() }
    };
    if let Err(e) = client.goto(&format!("{}#/bench?tracking={runs}", site.base)).await {
        return fail(format!("could not open the bench page: {e}"));
    }
    let start = Instant::now();
    let report: serde_json::Value = loop {
        if let Some(result) = read("[data-testid=bench-result]".into()).await.filter(|t| !t.is_empty()) {
            match serde_json::from_str(&result) {
                Ok(value) => break value,
                Err(e) => return fail(format!("unreadable result {result}: {e}")),
            }
        }
        if let Some(error) = read("[data-testid=bench-error]".into()).await.filter(|t| !t.is_empty()) {
            return fail(error);
        }
        if start.elapsed() > Duration::from_secs(1_800) {
            return fail("no result after 30 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let experiment = report["experiment_id"].as_str().unwrap_or_default().to_string();

    // The runs table on all N runs: time until it shows them, then scroll it.
    let opened = Instant::now();
    if let Err(e) = client.goto(&format!("{}#/runs", site.base)).await {
        return fail(format!("could not open the runs page: {e}"));
    }
    let item = format!("[data-testid=experiment-item][data-experiment-id='{experiment}']");
    let mut clicked = false;
    let mut shown_ms = f64::NAN;
    while opened.elapsed() < Duration::from_secs(120) {
        if !clicked {
            if let Ok(element) = client.find(Locator::Css(&item)).await {
                clicked = element.click().await.is_ok();
            }
        }
        let count = read("[data-testid=match-count]".into()).await.unwrap_or_default();
        if clicked && count.starts_with(&format!("{runs} of")) {
            shown_ms = opened.elapsed().as_secs_f64() * 1000.0;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if shown_ms.is_nan() {
        return fail("the runs table never showed the benchmark's runs".into());
    }
    let scroll = match client.execute_async(SCROLL_SCRIPT, vec![]).await {
        Ok(value) => value.as_str().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()),
        Err(e) => return fail(format!("scrolling failed: {e}")),
    };
    let scroll = scroll.unwrap_or_default();
    let mut frames: Vec<f64> = scroll["frames"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    frames.sort_by(f64::total_cmp);
    let pick =
        |q: f64| frames.get(((frames.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    let mut out = report;
    out["runner"] = "release wasm, headless Chromium, IndexedDB".into();
    out["table_shown_ms"] = shown_ms.into();
    out["scroll_frames"] = frames.len().into();
    out["scroll_frame_median_ms"] = pick(0.5).into();
    out["scroll_frame_p95_ms"] = pick(0.95).into();
    out["scroll_frame_max_ms"] = pick(1.0).into();
    out["max_rows_in_dom"] = scroll["max_rows_in_dom"].clone();
    out["scrolled_px"] = scroll["scrolled_px"].clone();
    println!("{out}");
    let _ = client.close().await;
    std::process::ExitCode::SUCCESS
}

#[cfg(target_arch = "wasm32")]
fn main() {}
