//! The ride-duration service (`#/service`): the course's Flask `predict.py`, answered in
//! the browser. Choose the served model by URI, send requests from a console, measure
//! latency and throughput under load (directly, or through real `fetch` calls that the
//! service worker forwards), read the prediction log, and export the service as a zip
//! that runs with gunicorn or Docker.
//!
//! Everything a request or a log entry contains reaches the page as text.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::protocol::DatasetView;
use mlops_core::serving::export::service_zip;
use mlops_core::serving::log::{PredictionLogEntry, RequestSource};
use mlops_core::serving::request::Ride;
use mlops_core::summary::quantile;
use plotters::prelude::*;

use crate::components::chart::{SvgImage, BLUE, GREY, ORANGE};
use crate::components::download::{blob_url, download_bytes};
use crate::components::markdown::Markdown;
use crate::components::model_picker::ModelPicker;
use crate::serving_state::{now_ms, Serving};
use crate::state::AppState;
use crate::sw_bridge::{SwBridge, SwStatus};
use crate::tracking_state::Tracking;
use mlops_core::summary::format_utc_millis;

const CONTRACT: &str = "# The ride-duration service\n\n\
The course deploys the model as a small web service (`predict.py` with Flask). Its contract:\n\n\
- `POST /predict` with a JSON ride `{\"PULocationID\": 10, \"DOLocationID\": 50, \"trip_distance\": 40}` \
answers `{\"duration\": <minutes>, \"model_version\": \"…\"}`;\n\
- `GET /ping` answers that the service is up;\n\
- a body that is not a valid ride gets a 4xx answer that says what is wrong (400 bad JSON or field, \
413 too large, 422 impossible value); with no model to serve the answer is 503.\n\n\
Here the service runs inside this page, with the model chosen below. The same answers reach the \
console, the load tool, the stream consumer and `fetch(\"api/predict\")` from this origin, and each \
`/predict` lands in the prediction log the monitoring chapter reads.";

const DEFAULT_BODY: &str = r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}"#;

/// (name, method, path, body) of the console's quick examples.
const EXAMPLES: [(&str, &str, &str, &str); 6] = [
    ("valid ride", "POST", "/predict", DEFAULT_BODY),
    ("missing field", "POST", "/predict", r#"{"PULocationID": 10, "trip_distance": 40}"#),
    (
        "string instead of number",
        "POST",
        "/predict",
        r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": "forty"}"#,
    ),
    (
        "negative distance",
        "POST",
        "/predict",
        r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": -3}"#,
    ),
    ("not JSON", "POST", "/predict", "PULocationID=10&DOLocationID=50&trip_distance=40"),
    ("/ping", "GET", "/ping", ""),
];

const FETCH_SNIPPET: &str = r#"fetch("api/predict", {
  method: "POST",
  headers: {"Content-Type": "application/json"},
  body: JSON.stringify({PULocationID: 10, DOLocationID: 50, trip_distance: 40}),
}).then(r => r.json()).then(console.log)"#;

/// Log rows shown (newest first).
const LOG_ROWS: usize = 50;
/// The load tool yields to the event loop after this many requests per task.
const YIELD_EVERY: usize = 8;
/// Most points drawn in the latency-over-time chart.
const TIMELINE_POINTS: usize = 4_000;
const MAX_LOAD_REQUESTS: usize = 100_000;
const MAX_CONCURRENCY: usize = 256;

// ---------------------------------------------------------------------------------------
// Pure helpers (tested natively at the end of the file)

/// The body indented when it is JSON, as it came otherwise.
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() {
        "–".into()
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// What the load tool reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSummary {
    pub requests: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub throughput: f64,
    pub errors: usize,
}

/// Requests per second; 0 when nothing ran or no time passed.
pub fn throughput(requests: usize, wall_seconds: f64) -> f64 {
    if requests == 0 || wall_seconds.is_nan() || wall_seconds <= 0.0 {
        0.0
    } else {
        requests as f64 / wall_seconds
    }
}

/// Percentiles (interpolated, as pandas) of the latencies, throughput over the wall
/// time, and the answers that were not 2xx (status 0: the fetch itself failed).
pub fn summarize_load(latencies_ms: &[f64], statuses: &[u16], wall_seconds: f64) -> LoadSummary {
    let mut sorted: Vec<f64> = latencies_ms.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    LoadSummary {
        requests: latencies_ms.len(),
        p50_ms: quantile(&sorted, 0.50),
        p95_ms: quantile(&sorted, 0.95),
        p99_ms: quantile(&sorted, 0.99),
        max_ms: sorted.last().copied().unwrap_or(f64::NAN),
        throughput: throughput(latencies_ms.len(), wall_seconds),
        errors: statuses.iter().filter(|s| !(200..300).contains(*s)).count(),
    }
}

/// SplitMix64: a tiny seeded generator, so a load test replays the same rides.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// Rides of the simulated city: zones 1..=265, distances log-normal around ~2 miles
/// with a long tail (cut to 0.1..60 miles), as a month's rides look.
pub fn simulated_rides(n: usize, seed: u64) -> Vec<Ride> {
    let mut rng = SplitMix64(seed);
    (0..n)
        .map(|_| {
            let pu = 1 + (rng.next_u64() % 265) as i64;
            let dol = 1 + (rng.next_u64() % 265) as i64;
            // Box–Muller: one standard normal from two uniforms.
            let normal = (-2.0 * rng.unit().ln()).sqrt() * (std::f64::consts::TAU * rng.unit()).cos();
            let miles = (0.7 + 0.8 * normal).exp().clamp(0.1, 60.0);
            Ride { pu_location_id: pu, do_location_id: dol, trip_distance: (miles * 100.0).round() / 100.0 }
        })
        .collect()
}

/// The rides among a data view's first rows (the columns named as in TLC's files).
pub fn rides_from_rows(columns: &[String], rows: &[Vec<String>]) -> Vec<Ride> {
    let at = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    let (Some(pu), Some(dol), Some(distance)) = (at("PULocationID"), at("DOLocationID"), at("trip_distance"))
    else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|row| {
            Some(Ride {
                pu_location_id: row.get(pu)?.trim().parse().ok()?,
                do_location_id: row.get(dol)?.trim().parse().ok()?,
                trip_distance: row.get(distance)?.trim().parse().ok().filter(|d: &f64| d.is_finite())?,
            })
        })
        .collect()
}

/// `n` request bodies: the validation month's rides replayed in turn when it has any,
/// the simulated city's otherwise; and where they came from, in words.
pub fn load_bodies(view: Option<&DatasetView>, n: usize, seed: u64) -> (Vec<String>, String) {
    let replayed = view.map(|v| rides_from_rows(&v.head_columns, &v.head_rows)).unwrap_or_default();
    let (rides, from) = if replayed.is_empty() {
        (simulated_rides(n, seed), format!("{n} rides of the simulated city (seed {seed})"))
    } else {
        let label = view.map(|v| v.label.clone()).unwrap_or_default();
        let from =
            format!("the {} first rides of the validation month ({label}), replayed in turn", replayed.len());
        (replayed.iter().cycle().take(n).copied().collect(), from)
    };
    (rides.iter().map(|r| serde_json::to_string(r).unwrap_or_default()).collect(), from)
}

/// A file name from a version label such as `nyc-taxi-regressor/3`.
pub fn export_file_name(version: &str) -> String {
    let safe: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    let safe = safe.trim_matches(|c| c == '-' || c == '.');
    if safe.is_empty() {
        "ride-duration-service.zip".into()
    } else {
        format!("ride-duration-service-{safe}.zip")
    }
}

/// Entries per status, and the latest `LOG_ROWS` newest first.
pub fn log_view(entries: &[PredictionLogEntry]) -> (BTreeMap<u16, usize>, Vec<PredictionLogEntry>) {
    let mut counts = BTreeMap::new();
    for entry in entries {
        *counts.entry(entry.status).or_insert(0) += 1;
    }
    (counts, entries.iter().rev().take(LOG_ROWS).cloned().collect())
}

fn source_label(source: RequestSource) -> &'static str {
    match source {
        RequestSource::Console => "console",
        RequestSource::Load => "load tool",
        RequestSource::ServiceWorker => "fetch (service worker)",
        RequestSource::Stream => "stream",
    }
}

// ---------------------------------------------------------------------------------------
// Charts

/// Upper end of the latency axes: a little above p99, so one slow outlier does not
/// squash the rest (what is above is counted in the legend).
fn latency_axis_top(summary: &LoadSummary) -> f64 {
    let top = if summary.p99_ms.is_finite() { summary.p99_ms * 1.3 } else { 1.0 };
    top.max(0.5)
}

fn latency_histogram_svg(latencies: &[f64], summary: &LoadSummary) -> Result<String, String> {
    const BINS: usize = 40;
    let top = latency_axis_top(summary);
    let width = top / BINS as f64;
    let mut counts = [0usize; BINS];
    let mut above = 0;
    for &ms in latencies.iter().filter(|v| v.is_finite()) {
        let bin = (ms.max(0.0) / width) as usize;
        match counts.get_mut(bin) {
            Some(count) => *count += 1,
            None => above += 1,
        }
    }
    let highest = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 280)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..top, 0.0..highest)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("latency (ms)")
            .y_desc("requests")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], BLUE.mix(0.55).filled())
            }))
            .map_err(|e| e.to_string())?
            .label(if above > 0 {
                format!("requests ({above} above {top:.2} ms)")
            } else {
                "requests".into()
            })
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BLUE.filled()));
        for (value, name, color) in
            [(summary.p50_ms, "p50", GREY), (summary.p95_ms, "p95", ORANGE), (summary.p99_ms, "p99", RED)]
        {
            if value.is_finite() && value <= top {
                chart
                    .draw_series(LineSeries::new([(value, 0.0), (value, highest)], color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(format!("{name} {}", format_ms(value)))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 12, y)], color.stroke_width(2)));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn latency_timeline_svg(latencies: &[f64], summary: &LoadSummary) -> Result<String, String> {
    let top = latency_axis_top(summary);
    let step = latencies.len().div_ceil(TIMELINE_POINTS).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..latencies.len().max(1) as f64, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("request (in the order sent)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("latency (ms)")
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                latencies
                    .iter()
                    .enumerate()
                    .step_by(step)
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| Circle::new((i as f64, v.min(top)), 2, BLUE.mix(0.5).filled())),
            )
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

// ---------------------------------------------------------------------------------------
// Browser I/O

/// A real `fetch` to `api/<path>` (relative: the app's folder), answered by the service
/// worker when it controls the page. Status 0 when the fetch itself failed.
async fn fetch_api(method: &str, path: &str, body: &str) -> (u16, String) {
    let url = format!("api/{}", path.trim_start_matches('/'));
    let request = if method.eq_ignore_ascii_case("GET") {
        gloo_net::http::Request::get(&url).build()
    } else {
        gloo_net::http::Request::post(&url).header("Content-Type", "application/json").body(body.to_string())
    };
    let response = match request {
        Ok(request) => request.send().await,
        Err(e) => return (0, e.to_string()),
    };
    match response {
        Ok(response) => {
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("the fetch failed: {e}")),
    }
}

thread_local! {
    /// The Blob URL behind the hidden export link; revoked when replaced or the page goes.
    static EXPORT_URL: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn replace_export_url(url: Option<String>) {
    if let Some(old) = EXPORT_URL.with(|cell| cell.replace(url)) {
        let _ = web_sys::Url::revoke_object_url(&old);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadMode {
    /// Straight into `Serving::handle`: the model's own cost.
    Page,
    /// Real `fetch("api/predict")` calls: page → service worker → page → worker → page.
    ServiceWorker,
}

#[derive(Debug, Clone)]
struct LoadResult {
    mode: LoadMode,
    concurrency: usize,
    from: String,
    latencies: Vec<f64>,
    summary: LoadSummary,
}

/// Sends `bodies` with `concurrency` tasks taking the next request in turn. Latencies are
/// in request order.
async fn run_load(
    serving: Serving,
    mode: LoadMode,
    bodies: Rc<Vec<String>>,
    concurrency: usize,
    progress: RwSignal<Option<(usize, usize)>>,
) -> (Vec<f64>, Vec<u16>, f64) {
    let n = bodies.len();
    let next = Rc::new(Cell::new(0usize));
    let done = Rc::new(Cell::new(0usize));
    let results = Rc::new(RefCell::new(vec![(f64::NAN, 0u16); n]));
    let started = now_ms();
    let tasks = (0..concurrency).map(|_| {
        let (next, done, results, bodies) = (next.clone(), done.clone(), results.clone(), bodies.clone());
        async move {
            let mut since_yield = 0usize;
            loop {
                let i = next.get();
                if i >= n {
                    break;
                }
                next.set(i + 1);
                let (latency, status) = match mode {
                    LoadMode::Page => {
                        let (response, ms) =
                            serving.handle("POST", "/predict", bodies[i].as_bytes(), RequestSource::Load);
                        (ms, response.status)
                    }
                    LoadMode::ServiceWorker => {
                        let sent = now_ms();
                        let (status, _) = fetch_api("POST", "/predict", &bodies[i]).await;
                        (now_ms() - sent, status)
                    }
                };
                results.borrow_mut()[i] = (latency, status);
                done.set(done.get() + 1);
                since_yield += 1;
                if since_yield == YIELD_EVERY {
                    since_yield = 0;
                    progress.set(Some((done.get(), n)));
                    // Let the page paint and answer clicks between bursts.
                    if mode == LoadMode::Page {
                        gloo_timers::future::TimeoutFuture::new(0).await;
                    }
                }
            }
        }
    });
    futures::future::join_all(tasks).await;
    let wall_seconds = (now_ms() - started) / 1000.0;
    let results = results.take();
    let (latencies, statuses) = results.into_iter().unzip();
    (latencies, statuses, wall_seconds)
}

// ---------------------------------------------------------------------------------------
// The page

#[component]
pub fn ServicePage() -> impl IntoView {
    on_cleanup(|| replace_export_url(None));
    // Bumped after requests from this page, so the log below shows them.
    let log_reads = RwSignal::new(0u64);
    view! {
        <section class="service-page" data-testid="service-page">
            <div class="lesson"><Markdown source=CONTRACT/></div>
            <h2>"The served model"</h2>
            <ModelPicker/>
            <RequestConsole log_reads/>
            <ServiceWorkerPanel log_reads/>
            <LoadTool log_reads/>
            <PredictionLogPanel log_reads/>
            <ExportPanel/>
        </section>
    }
}

#[component]
fn RequestConsole(log_reads: RwSignal<u64>) -> impl IntoView {
    let serving = Serving::use_context();
    let method = RwSignal::new("POST".to_string());
    let path = RwSignal::new("/predict".to_string());
    let body = RwSignal::new(DEFAULT_BODY.to_string());
    // (status, body, latency)
    let answer = RwSignal::new(None::<(u16, String, f64)>);

    let send = move || {
        let (response, latency) = serving.handle(
            &method.get_untracked(),
            &path.get_untracked(),
            body.get_untracked().as_bytes(),
            RequestSource::Console,
        );
        answer.set(Some((response.status, pretty_json(&response.body), latency)));
        log_reads.update(|r| *r += 1);
    };

    view! {
        <h2>"Request console"</h2>
        <div class="console">
            <form class="console-line" on:submit=move |ev| { ev.prevent_default(); send(); }>
                <select data-testid="console-method" on:change=move |ev| method.set(event_target_value(&ev))>
                    {["POST", "GET"].map(|m| view! {
                        <option value=m selected=move || method.get() == m>{m}</option>
                    })}
                </select>
                <input type="text" class="path" data-testid="console-path" list="service-paths" spellcheck="false"
                    prop:value=move || path.get() on:input=move |ev| path.set(event_target_value(&ev))/>
                <datalist id="service-paths">
                    <option value="/predict"/>
                    <option value="/ping"/>
                </datalist>
                <button type="submit" class="primary" data-testid="console-send">"Send"</button>
            </form>
            <textarea data-testid="console-body" rows="4" spellcheck="false"
                prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
            <p class="examples">"Try: "
                {EXAMPLES.map(|(name, m, p, b)| view! {
                    <button type="button" class="small" data-testid="console-example" data-example=name
                        on:click=move |_| {
                            method.set(m.to_string());
                            path.set(p.to_string());
                            body.set(b.to_string());
                            send();
                        }>{name}</button>
                })}
            </p>
            {move || answer.get().map(|(status, text, latency)| view! {
                <div class="console-answer">
                    <p>
                        "HTTP " <strong data-testid="console-status" class=if (200..300).contains(&status) { "ok" } else { "bad" }>
                            {status}
                        </strong>
                        " · answered in " <span data-testid="console-latency">{format_ms(latency)}</span>
                    </p>
                    <pre data-testid="console-response">{text}</pre>
                </div>
            })}
        </div>
    }
}

#[component]
fn ServiceWorkerPanel(log_reads: RwSignal<u64>) -> impl IntoView {
    let bridge = SwBridge::use_context();
    let status = move || bridge.map(|b| b.status.get()).unwrap_or(SwStatus::Unsupported);
    let reply = RwSignal::new(None::<(u16, String)>);
    let fetching = RwSignal::new(false);
    let call = move |_| {
        fetching.set(true);
        spawn_local(async move {
            let (status, text) = fetch_api("POST", "/predict", DEFAULT_BODY).await;
            reply.set(Some((status, pretty_json(&text))));
            fetching.set(false);
            log_reads.update(|r| *r += 1);
        });
    };
    view! {
        <h2>"Call it with fetch"</h2>
        <p>"A service worker (" <code>"sw.js"</code> ") stands in for the server: it forwards requests to "
            <code>"api/…"</code> " under this app's address to this page, which answers them with the served model."</p>
        <p>"Service worker: "
            <strong data-testid="sw-status" class=move || if status() == SwStatus::Active { "ok" } else { "muted" }>
                {move || status().describe()}
            </strong>
        </p>
        <Show when=move || status() == SwStatus::Active>
            <p>"The service worker answers " <code>"fetch(\"api/predict\")"</code>
                " from this origin. Paste this into the browser's console (like the course's "
                <code>"test.py"</code> "):"</p>
        </Show>
        <pre class="snippet">{FETCH_SNIPPET}</pre>
        <p>
            <button data-testid="sw-fetch" on:click=call disabled=move || fetching.get()>
                "Call it with fetch"
            </button>
            " " <span class="muted">"POST api/predict with " <code>{DEFAULT_BODY}</code></span>
        </p>
        {move || reply.get().map(|(status, text)| view! {
            <pre data-testid="sw-response">
                {if status == 0 { String::new() } else { format!("HTTP {status}\n") }}
                {text}
            </pre>
        })}
    }
}

#[component]
fn LoadTool(log_reads: RwSignal<u64>) -> impl IntoView {
    let serving = Serving::use_context();
    let state = expect_context::<AppState>();
    let bridge = SwBridge::use_context();
    let count = RwSignal::new(1_000usize);
    let concurrency = RwSignal::new(8usize);
    let mode = RwSignal::new(LoadMode::Page);
    let running = RwSignal::new(false);
    let progress = RwSignal::new(None::<(usize, usize)>);
    let result = RwSignal::new(None::<Arc<LoadResult>>);
    let run_count = StoredValue::new(0u64);

    let start = move |_| {
        let n = count.get_untracked().clamp(1, MAX_LOAD_REQUESTS);
        let c = concurrency.get_untracked().clamp(1, MAX_CONCURRENCY);
        let mode = mode.get_untracked();
        let seed = 42 + run_count.get_value();
        run_count.update_value(|r| *r += 1);
        let val = state.val_data.get_untracked();
        let (bodies, from) = load_bodies(val.as_deref(), n, seed);
        running.set(true);
        progress.set(Some((0, n)));
        spawn_local(async move {
            let (latencies, statuses, wall) = run_load(serving, mode, Rc::new(bodies), c, progress).await;
            let summary = summarize_load(&latencies, &statuses, wall);
            result.set(Some(Arc::new(LoadResult { mode, concurrency: c, from, latencies, summary })));
            running.set(false);
            progress.set(None);
            log_reads.update(|r| *r += 1);
        });
    };
    let sw_inactive = move || {
        mode.get() == LoadMode::ServiceWorker && bridge.map(|b| b.status.get()) != Some(SwStatus::Active)
    };

    view! {
        <h2>"Load test"</h2>
        <p>"Sends many " <code>"/predict"</code> " requests, several at a time, and measures how long each answer takes. "
            "The rides are the validation month's when one is loaded, otherwise the simulated city's."</p>
        <div class="load-form">
            <label>"Requests " <input type="number" min="1" max=MAX_LOAD_REQUESTS data-testid="load-count"
                prop:value=move || count.get().to_string()
                on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { count.set(v) }/></label>
            <label>"Concurrency " <input type="number" min="1" max=MAX_CONCURRENCY data-testid="load-concurrency"
                prop:value=move || concurrency.get().to_string()
                on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { concurrency.set(v) }/></label>
            <label>"Through "
                <select data-testid="load-mode" on:change=move |ev| mode.set(
                    if event_target_value(&ev) == "service-worker" { LoadMode::ServiceWorker } else { LoadMode::Page })>
                    <option value="page" selected=move || mode.get() == LoadMode::Page>"the page (the model's own cost)"</option>
                    <option value="service-worker" selected=move || mode.get() == LoadMode::ServiceWorker>
                        "the service worker (real fetch calls)"
                    </option>
                </select>
            </label>
            <button class="primary" data-testid="load-run" on:click=start disabled=move || running.get()>"Run"</button>
            {move || progress.get().map(|(done, n)| view! {
                <progress max=n value=done></progress>
                <span class="muted">{format!("{done} / {n}")}</span>
            })}
        </div>
        <Show when=sw_inactive>
            <p class="warning">"The service worker does not control this page yet, so these fetch calls reach the web server instead (and fail)."</p>
        </Show>
        {move || result.get().map(|r| {
            let s = r.summary;
            let page_mode = r.mode == LoadMode::Page;
            let how = match r.mode {
                LoadMode::Page => "in the page",
                LoadMode::ServiceWorker => "through the service worker",
            };
            view! {
                <div class="load-result">
                    <p class="muted">{format!("{} requests {how}, {} at a time; {}.", s.requests, r.concurrency, r.from)}</p>
                    <table class="numbers load-numbers">
                        <tr><th>"p50"</th><td data-testid="load-p50">{format_ms(s.p50_ms)}</td></tr>
                        <tr><th>"p95"</th><td data-testid="load-p95">{format_ms(s.p95_ms)}</td></tr>
                        <tr><th>"p99"</th><td data-testid="load-p99">{format_ms(s.p99_ms)}</td></tr>
                        <tr><th>"slowest"</th><td>{format_ms(s.max_ms)}</td></tr>
                        <tr><th>"throughput"</th><td data-testid="load-throughput">{format!("{:.0} req/s", s.throughput)}</td></tr>
                        <tr><th>"errors (not 2xx)"</th><td data-testid="load-errors">{s.errors}</td></tr>
                    </table>
                    <Show when=move || page_mode>
                        <p class="muted">
                            "Browsers round their clock (to about 0.1 ms here), so answers faster than that show as 0.00 ms."
                        </p>
                    </Show>
                    <div data-testid="load-chart" class="load-charts">
                        <SvgImage svg=latency_histogram_svg(&r.latencies, &s) alt="latency histogram" testid="load-histogram"/>
                        <SvgImage svg=latency_timeline_svg(&r.latencies, &s) alt="latency of each request" testid="load-timeline"/>
                    </div>
                </div>
            }
        })}
    }
}

#[component]
fn PredictionLogPanel(log_reads: RwSignal<u64>) -> impl IntoView {
    let serving = Serving::use_context();
    let tracking = Tracking::use_context();
    let cleared = RwSignal::new(None::<Result<usize, String>>);
    let log = LocalResource::new(move || {
        log_reads.get();
        let ready = tracking.ready.get();
        async move {
            if !ready {
                return None;
            }
            Some(
                serving
                    .read_log()
                    .await
                    .map(|entries| Arc::new(log_view(&entries)))
                    .map_err(|e| e.to_string()),
            )
        }
    });
    let clear = move |_| {
        spawn_local(async move {
            cleared.set(Some(serving.clear_log().await.map_err(|e| e.to_string())));
            log_reads.update(|r| *r += 1);
        });
    };

    view! {
        <h2>"Prediction log"</h2>
        <p>"Every " <code>"/predict"</code> " answer, whoever asked, is kept in this browser's storage: what the model saw and said, for monitoring."</p>
        <p>
            <button data-testid="log-refresh" on:click=move |_| log_reads.update(|r| *r += 1)>"Refresh"</button>
            " " <button data-testid="log-clear" on:click=clear>"Clear the log"</button>
            {move || cleared.get().map(|c| match c {
                Ok(n) => view! { <span class="muted">{format!(" Removed {n} entries.")}</span> }.into_any(),
                Err(e) => view! { <span class="error">{e}</span> }.into_any(),
            })}
        </p>
        {move || match log.get().flatten() {
            None => view! { <p class="muted">"Reading the log…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error">"The log could not be read: " {e}</p> }.into_any(),
            Some(Ok(view)) => {
                let (counts, latest) = &*view;
                let total: usize = counts.values().sum();
                view! {
                    <p>
                        <strong data-testid="log-count">{total}</strong> " entries"
                        {counts.iter().map(|(status, n)| view! {
                            <span class="status-count">{format!("HTTP {status}: {n}")}</span>
                        }).collect_view()}
                    </p>
                    <div class="scroll">
                        <table class="numbers log-table" data-testid="log-table">
                            <thead><tr>
                                <th>"time"</th><th>"source"</th><th>"status"</th><th>"latency"</th>
                                <th>"prediction"</th><th>"model version"</th><th>"request"</th>
                            </tr></thead>
                            <tbody>
                                {latest.iter().map(|e| view! {
                                    <tr data-testid="log-row">
                                        <td>{format_utc_millis(e.timestamp)}</td>
                                        <td>{source_label(e.source)}</td>
                                        <td>{e.status}</td>
                                        <td>{format_ms(e.latency_ms)}</td>
                                        <td>{e.prediction.map(|p| format!("{p:.2} min")).unwrap_or_default()}</td>
                                        <td>{e.model_version.clone().unwrap_or_default()}</td>
                                        <td class="request"><code>{e.request.clone()}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }
        }}
    }
}

#[component]
fn ExportPanel() -> impl IntoView {
    let serving = Serving::use_context();
    let error = RwSignal::new(None::<String>);
    // (Blob URL, file name) of the last zip.
    let link = RwSignal::new(None::<(String, String)>);
    let export = move |_| {
        error.set(None);
        let served = serving.served.get_untracked();
        let model = match served.as_deref() {
            None => return error.set(Some("Choose a model to serve first.".into())),
            Some(Err(e)) => return error.set(Some(format!("Nothing can be exported: {e}"))),
            Some(Ok(model)) => model,
        };
        let bytes = match service_zip(&model.model.to_json(), &model.version) {
            Ok(bytes) => bytes,
            Err(e) => return error.set(Some(e.to_string())),
        };
        let name = export_file_name(&model.version);
        match download_bytes(&name, "application/zip", &bytes) {
            // The Chapter 4 walkthrough's export step counts an export from here too.
            Ok(()) => crate::pages::chapter4::mark_step_done('g'),
            Err(e) => error.set(Some(format!("The download could not start: {e}"))),
        }
        match blob_url(&bytes, "application/zip") {
            Ok(url) => {
                replace_export_url(Some(url.clone()));
                link.set(Some((url, name)));
            }
            Err(e) => error.set(Some(e)),
        }
    };
    view! {
        <h2>"Export as a service"</h2>
        <p>"A zip with the course's Flask service around this model: " <code>"predict.py"</code> ", "
            <code>"requirements.txt"</code> ", a " <code>"Dockerfile"</code> ", a " <code>"README.md"</code>
            " and " <code>"model.json"</code> ". Run it with gunicorn or Docker; it answers the same contract."</p>
        <p><button class="primary" data-testid="export-service" on:click=export>"Export as a service"</button></p>
        {move || link.get().map(|(url, name)| view! {
            <a class="hidden" data-testid="export-link" href=url download=name.clone()>{name.clone()}</a>
            <p class="muted">"Downloaded " <code>{name}</code> "."</p>
        })}
        {move || error.get().map(|e| view! { <p class="error" data-testid="export-error">{e}</p> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_as_pandas_and_throughput_uses_wall_time() {
        let latencies: Vec<f64> = (1..=100).map(f64::from).collect();
        let statuses = vec![200u16; 100];
        let s = summarize_load(&latencies, &statuses, 2.0);
        assert_eq!(s.requests, 100);
        assert!((s.p50_ms - 50.5).abs() < 1e-9);
        assert!((s.p95_ms - 95.05).abs() < 1e-9);
        assert!((s.p99_ms - 99.01).abs() < 1e-9);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(s.throughput, 50.0);
        assert_eq!(s.errors, 0);
    }

    #[test]
    fn errors_are_answers_outside_2xx_and_failed_fetches() {
        let s = summarize_load(&[1.0, 2.0, 3.0, 4.0], &[200, 422, 0, 503], 1.0);
        assert_eq!(s.errors, 3);
    }

    #[test]
    fn nothing_sent_is_no_throughput_and_no_percentiles() {
        let s = summarize_load(&[], &[], 0.0);
        assert!(s.p50_ms.is_nan());
        assert_eq!(s.throughput, 0.0);
        assert_eq!(throughput(10, 0.0), 0.0);
        assert_eq!(throughput(10, f64::NAN), 0.0);
    }

    #[test]
    fn simulated_rides_are_reproducible_and_plausible() {
        let rides = simulated_rides(2_000, 7);
        assert_eq!(rides, simulated_rides(2_000, 7));
        assert_ne!(rides, simulated_rides(2_000, 8));
        assert!(rides
            .iter()
            .all(|r| (1..=265).contains(&r.pu_location_id) && (1..=265).contains(&r.do_location_id)));
        assert!(rides.iter().all(|r| (0.1..=60.0).contains(&r.trip_distance)));
        let mut distances: Vec<f64> = rides.iter().map(|r| r.trip_distance).collect();
        distances.sort_by(f64::total_cmp);
        let median = quantile(&distances, 0.5);
        assert!((1.5..3.0).contains(&median), "median distance {median}");
    }

    #[test]
    fn rides_are_read_from_a_views_first_rows() {
        let columns: Vec<String> =
            ["VendorID", "PULocationID", "DOLocationID", "trip_distance"].map(String::from).to_vec();
        let rows = vec![
            ["2", "130", "205", "3.5"].map(String::from).to_vec(),
            ["2", "", "205", "1.0"].map(String::from).to_vec(),
            ["1", "74", "41", "0.9"].map(String::from).to_vec(),
        ];
        let rides = rides_from_rows(&columns, &rows);
        assert_eq!(
            rides,
            vec![
                Ride { pu_location_id: 130, do_location_id: 205, trip_distance: 3.5 },
                Ride { pu_location_id: 74, do_location_id: 41, trip_distance: 0.9 },
            ]
        );
        assert!(rides_from_rows(&columns[..2], &rows).is_empty());
    }

    #[test]
    fn load_bodies_are_the_services_json() {
        let (bodies, from) = load_bodies(None, 3, 1);
        assert_eq!(bodies.len(), 3);
        assert!(from.contains("simulated"));
        let value: serde_json::Value = serde_json::from_str(&bodies[0]).expect("json");
        assert!(value.get("PULocationID").and_then(|v| v.as_i64()).is_some());
        assert!(value.get("trip_distance").and_then(|v| v.as_f64()).is_some());
    }

    #[test]
    fn export_names_are_safe_file_names() {
        assert_eq!(
            export_file_name("nyc-taxi-regressor/3"),
            "ride-duration-service-nyc-taxi-regressor-3.zip"
        );
        assert_eq!(export_file_name("../../etc"), "ride-duration-service-etc.zip");
        assert_eq!(export_file_name(""), "ride-duration-service.zip");
    }

    #[test]
    fn pretty_json_indents_json_and_keeps_anything_else() {
        assert_eq!(pretty_json(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty_json("<b>not json</b>"), "<b>not json</b>");
    }

    #[test]
    fn the_log_view_counts_statuses_and_shows_the_newest_first() {
        let entry = |timestamp, status| PredictionLogEntry {
            timestamp,
            latency_ms: 0.1,
            status,
            source: RequestSource::Console,
            request: String::new(),
            prediction: None,
            model_version: None,
        };
        let entries: Vec<_> = (0..60).map(|i| entry(i, if i % 3 == 0 { 422 } else { 200 })).collect();
        let (counts, latest) = log_view(&entries);
        assert_eq!(counts.get(&200), Some(&40));
        assert_eq!(counts.get(&422), Some(&20));
        assert_eq!(latest.len(), LOG_ROWS);
        assert_eq!(latest[0].timestamp, 59);
    }
}
