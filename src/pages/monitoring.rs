//! The monitoring dashboard (`#/monitoring`), Chapter 5's hands-on page: replay a month
//! against a reference month day by day on a simulated clock, with drift the learner
//! injects; watch the daily metrics the course stores (prediction drift, drifted columns,
//! share of missing values, RMSE/MAE once the truth arrives), the alerts their rules fire,
//! each day's per-column drift, and the health of the deployed service from its
//! prediction log.
//!
//! The state and the write path live in [`crate::monitoring_state`]; this file shows
//! them. Everything a learner typed or a file contained reaches the page as text.

use std::sync::Arc;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::drift::{ColumnDrift, ColumnOutcome, DriftOptions};
use mlops_core::monitoring::alerts::{AlertRule, Metric};
use mlops_core::monitoring::baseline::{CATEGORICAL, NUMERIC};
use mlops_core::monitoring::health::{live_drift, service_health, HealthWindow, LiveWindow};
use mlops_core::monitoring::inject::Injection;
use mlops_core::monitoring::replay::DayMetrics;
use mlops_core::pipelines::engine::PipelineRun;
use mlops_core::pipelines::schedule::TriggerReason;
use mlops_core::protocol::{Catalog, CatalogEntry};
use mlops_core::summary::format_utc_millis;
use wasm_bindgen::JsCast;

use crate::components::chart::SvgImage;
use crate::components::metric_series::{distribution_svg, metric_series_svg, DaySeries, Threshold, YFormat};
use crate::components::run_charts::{format_number, line_chart_svg, LineData};
use crate::monitoring_state::{
    injection_fields, parse_rules, MonthChoice, Preset, RuleLine, MAX_TRUTH_DELAY, SPEEDS, TICK_MS,
};
use crate::pipeline_state::Pipelines;
use crate::routes::Route;
use crate::serving_state::Serving;
use crate::state::AppState;
use crate::tracking_state::Tracking;

pub use crate::monitoring_state::Monitoring;

/// The live-drift reference: the endpoint's first successful requests.
const LIVE_REFERENCE_ROWS: usize = 200;
/// Window lengths offered for service health (ms, label).
const WINDOWS: [(i64, &str); 3] = [(10_000, "10 seconds"), (60_000, "1 minute"), (300_000, "5 minutes")];
/// How often the health panel looks for new requests in the log.
const HEALTH_POLL_MS: u32 = 2_000;
/// Health windows listed in the table (newest first).
const HEALTH_ROWS: usize = 15;

// ---------------------------------------------------------------------------------------
// Pure helpers

fn percent(share: f64) -> String {
    if share.is_finite() {
        format!("{}%", format_number(share * 100.0))
    } else {
        "–".into()
    }
}

/// (test, score, threshold, verdict) of a column, as the table shows them.
pub fn column_cells(column: &ColumnDrift) -> (String, String, String, String) {
    match &column.outcome {
        ColumnOutcome::Tested { test, score, threshold, drifted } => (
            test.display_name().to_string(),
            format_number(*score),
            format_number(*threshold),
            if *drifted { "drift detected".into() } else { "no drift".into() },
        ),
        ColumnOutcome::Skipped { reason } => {
            ("–".into(), "–".into(), "–".into(), format!("not compared: {reason}"))
        }
    }
}

/// One value per day index (gaps where a day is not stored or the value is unknown).
pub fn by_day(rows: &[DayMetrics], value: impl Fn(&DayMetrics) -> Option<f64>) -> Vec<Option<f64>> {
    let len = rows.iter().map(|m| m.day_index as usize + 1).max().unwrap_or(0);
    let mut values = vec![None; len];
    for m in rows {
        if let Some(slot) = values.get_mut(m.day_index as usize) {
            *slot = value(m);
        }
    }
    values
}

/// The thresholds of the rules on `metric`, for the chart's dashed lines.
pub fn thresholds_for(rules: &[RuleLine], metric: Metric) -> Vec<Threshold> {
    rules
        .iter()
        .filter_map(|line| line.parsed.as_ref().ok())
        .filter(|rule| rule.metric == metric)
        .map(|rule| Threshold { label: rule.describe(), value: rule.threshold })
        .collect()
}

/// Percentile numbers as text ("–" for a window without answers).
fn ms(value: f64) -> String {
    if value.is_finite() {
        format!("{} ms", format_number(value))
    } else {
        "–".into()
    }
}

/// Catalog entries, the side's course month (`2022-01` or `2022-02`) first.
pub fn catalog_for_side(entries: &[CatalogEntry], month: u32) -> Vec<CatalogEntry> {
    let tag = format!("2022-{month:02}");
    let mut sorted: Vec<CatalogEntry> = entries.to_vec();
    sorted.sort_by_key(|e| !e.path.contains(&tag));
    sorted
}

// ---------------------------------------------------------------------------------------
// The page

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    monitoring.ensure_loaded();
    view! {
        <section class="monitoring-page" data-testid="monitoring-page">
            <h1>"Monitoring dashboard"</h1>
            <p class="lesson">
                "The course's monitoring job, day by day: a model trained on a reference month predicts every "
                "ride of the next month; each day its inputs and predictions are compared with the reference, "
                "the day's metrics are stored and alert rules read them. The truth — how long the rides took — "
                "arrives later, and so do RMSE and MAE. Cause drift on chosen days and see which metric catches it. "
                <a href=Route::Chapter5.path()>"The lesson is in Chapter 5."</a>
            </p>
            <DataPanel/>
            <ClockBar/>
            <AlertBanner/>
            <ReloadNotice/>
            <MetricCharts/>
            <DayDetail/>
            <div class="monitor-columns">
                <RulesEditor/>
                <AlertLog/>
            </div>
            <ServiceHealth/>
        </section>
    }
}

// ----- 1–2. data, injections, replay -----

#[component]
fn DataPanel() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let state = AppState::use_context();
    let catalog = LocalResource::new(|| async {
        let response = gloo_net::http::Request::get("data/catalog.json").send().await.ok()?;
        if !response.ok() {
            return None;
        }
        Catalog::parse(&response.text().await.ok()?).ok()
    });
    let entries = Signal::derive(move || catalog.get().flatten().map(|c| c.files).unwrap_or_default());
    let busy = move || monitoring.replaying.get() || state.is_busy();
    let changed = move || {
        monitoring.setup.with(|setup| {
            setup.as_ref().is_some_and(|setup| {
                setup.options.truth_delay_days != monitoring.truth_delay.get()
                    || monitoring.injections.with(|list| setup.options.injections != *list)
                    || monitoring.reference.with(|choice| setup.reference != *choice)
                    || monitoring.current.with(|choice| setup.current != *choice)
            })
        }) && !monitoring.replaying.get()
    };
    view! {
        <section class="monitor-panel" data-testid="monitor-data">
            <h2>"1 · The months"</h2>
            <div class="month-pickers">
                <MonthPicker month=1 entries/>
                <MonthPicker month=2 entries/>
            </div>
            <InjectionsEditor/>
            <div class="replay-bar">
                <label>"Truth arrives "
                    <input type="number" min="0" max=MAX_TRUTH_DELAY data-testid="truth-delay" class="narrow"
                        prop:value=move || monitoring.truth_delay.get().to_string()
                        on:change=move |ev| {
                            if let Ok(days) = event_target_value(&ev).trim().parse::<u32>() {
                                monitoring.set_truth_delay(days);
                            }
                        }/>
                    " day(s) after the ride"
                </label>
                <button class="primary" data-testid="replay-run" disabled=busy on:click=move |_| monitoring.replay()>
                    "Replay"
                </button>
                <Show when=changed>
                    <span class="muted small" data-testid="replay-stale">
                        "The months, drift or truth delay changed since the replay on the clock: press Replay to apply them."
                    </span>
                </Show>
                <Show when=move || monitoring.replaying.get()>
                    <span class="muted" data-testid="replay-progress" role="status">
                        {move || state.progress.get().map(|(stage, fraction)| format!("{stage} ({:.0}%)", fraction * 100.0))
                            .unwrap_or_else(|| "Sending the months to the worker…".into())}
                    </span>
                </Show>
            </div>
            {move || monitoring.problem.get().map(|text| view! {
                <p class="error" role="alert" data-testid="error">{text}</p>
            })}
            {move || monitoring.notice.get().map(|text| view! { <p class="warning" data-testid="replay-notice">{text}</p> })}
            {move || monitoring.result.get().map(|result| {
                let b = result.baseline.clone();
                view! {
                    <p class="muted" data-testid="replay-summary">
                        {format!(
                            "Baseline: {} filtered rides of {} — {} train the model (RMSE {}, MAE {}), {} are the reference (RMSE {}). {} days of {} replayed in {:.1} s.",
                            b.filtered_rows, result.reference_label, b.train_rows, format_number(b.train_rmse),
                            format_number(b.train_mae), b.reference_rows, format_number(b.reference_rmse),
                            result.days.len(), result.current_label, result.seconds,
                        )}
                    </p>
                }
            })}
        </section>
    }
}

/// `month`: 1 for the reference side, 2 for the current side.
#[component]
fn MonthPicker(month: u32, entries: Signal<Vec<CatalogEntry>>) -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let choice = if month == 1 { monitoring.reference } else { monitoring.current };
    let side = if month == 1 { "reference" } else { "current" };
    let title =
        if month == 1 { "Reference month (trains the model)" } else { "Current month (replayed day by day)" };
    let options = Signal::derive(move || catalog_for_side(&entries.get(), month));
    let on_select = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if value == "sim" {
            choice.set(MonthChoice::simulated(month));
        } else if let Some(index) = value.strip_prefix("catalog:").and_then(|i| i.parse::<usize>().ok()) {
            if let Some(entry) = options.with_untracked(|o| o.get(index).cloned()) {
                choice.set(MonthChoice::Catalog { label: entry.label.clone(), url: Catalog::url_of(&entry) });
            }
        }
    };
    let on_file = move |ev: leptos::ev::Event| {
        let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
        let Some(file) = input.and_then(|i| i.files()).and_then(|files| files.get(0)) else { return };
        spawn_local(async move {
            let name = file.name();
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => {
                    monitoring.add_file(name.clone(), js_sys::Uint8Array::new(&buffer).to_vec());
                    choice.set(MonthChoice::File { name });
                }
                Err(e) => monitoring
                    .problem
                    .set(Some(format!("{name}: the browser could not read the file ({e:?})"))),
            }
        });
    };
    let is_sim = move || choice.with(|c| matches!(c, MonthChoice::Simulated { .. }));
    view! {
        <fieldset class="month-picker" data-testid=format!("month-{side}")>
            <legend>{title}</legend>
            <select data-testid=format!("month-select-{side}") on:change=on_select>
                <option value="sim" selected=is_sim>{format!("Simulated city · 2022-{month:02} (no download)")}</option>
                {move || options.get().into_iter().enumerate().map(|(i, entry)| {
                    let url = Catalog::url_of(&entry);
                    let selected = move || choice.with(|c| matches!(c, MonthChoice::Catalog { url: u, .. } if *u == url));
                    view! { <option value=format!("catalog:{i}") selected=selected>{format!("{} (your instructor)", entry.label)}</option> }
                }).collect_view()}
                {move || choice.with(|c| match c {
                    MonthChoice::File { name } => Some(view! { <option value="file" selected=true>{format!("Your file: {name}")}</option> }),
                    _ => None,
                })}
            </select>
            <label class="small">" or a TLC file from your disk "
                <input type="file" accept=".parquet" data-testid=format!("month-file-{side}") on:change=on_file/>
            </label>
            {move || choice.with(|c| match c {
                MonthChoice::Simulated { .. } => Some(view! { <span class="badge">"simulated data"</span> }.into_any()),
                MonthChoice::File { name } if !monitoring.has_file(name) => Some(view! {
                    <p class="warning">{format!("`{name}` was picked before the page reloaded; pick it again to replay.")}</p>
                }.into_any()),
                _ => None,
            })}
        </fieldset>
    }
}

#[component]
fn InjectionsEditor() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let add_preset = move |preset: Preset| monitoring.update_injections(|list| list.push(preset.injection()));
    let columns: Vec<&'static str> = NUMERIC.iter().chain(CATEGORICAL.iter()).copied().collect();
    view! {
        <div class="injections" data-testid="injections">
            <h3>"Drift to inject"</h3>
            <p class="muted">"Days are days of the current month. Presets: "
                {Preset::ALL.map(|preset| view! {
                    <button class="chip" data-testid=format!("preset-{}", preset.id()) on:click=move |_| add_preset(preset)>
                        {preset.name()}
                    </button>
                })}
            </p>
            <datalist id="monitored-columns">
                {columns.into_iter().map(|c| view! { <option value=c/> }).collect_view()}
            </datalist>
            {move || {
                let list = monitoring.injections.get();
                if list.is_empty() {
                    return view! { <p class="muted" data-testid="no-injections">"No injected drift: the month is replayed as it is."</p> }.into_any();
                }
                view! {
                    <table class="injection-table">
                        <thead><tr><th>"kind"</th><th>"from day"</th><th>"days"</th><th>"parameters"</th><th></th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().enumerate().map(|(index, injection)| view! { <InjectionRow index injection/> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <p><button data-testid="injection-add" on:click=move |_| monitoring.update_injections(|list| {
                list.push(injection_fields::of_kind("missing_values", 0, 1));
            })>"Add an injection"</button></p>
        </div>
    }
}

/// One editable injection; every change is written back to the list (and remembered).
#[component]
fn InjectionRow(index: usize, injection: Injection) -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let edit = move |change: Box<dyn FnOnce(&mut Injection)>| {
        monitoring.update_injections(|list| {
            if let Some(item) = list.get_mut(index) {
                change(item);
            }
        });
    };
    let (from_day, days) = injection_fields::span(&injection);
    let kind = injection_fields::kind(&injection);
    let check = injection.check().err().map(|e| e.to_string());
    let described = if check.is_none() { injection.describe() } else { String::new() };
    let number =
        |ev: &leptos::ev::Event| event_target_value(ev).trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let whole = |ev: &leptos::ev::Event| event_target_value(ev).trim().parse::<u32>().ok();
    let text_input = |testid: &'static str, value: String, set: fn(&mut Injection, String)| {
        view! {
            <input type="text" class="short" list="monitored-columns" data-testid=testid prop:value=value
                on:change=move |ev| {
                    let text = event_target_value(&ev).trim().to_string();
                    edit(Box::new(move |item| set(item, text)));
                }/>
        }
    };
    let share_input = |value: f64, set: fn(&mut Injection, f64)| {
        view! {
            <label>" share % "
                <input type="number" min="0" max="100" step="5" class="narrow" data-testid="injection-share"
                    prop:value=format_number(value * 100.0)
                    on:change=move |ev| if let Some(v) = number(&ev) { edit(Box::new(move |item| set(item, v / 100.0))) }/>
            </label>
        }
    };
    let params = match &injection {
        Injection::Slowdown { speed_factor, .. } => view! {
            <label>"speed × "
                <input type="number" min="0.05" max="5" step="0.05" class="narrow" data-testid="injection-speed"
                    prop:value=format_number(*speed_factor)
                    on:change=move |ev| if let Some(v) = number(&ev) {
                        edit(Box::new(move |item| if let Injection::Slowdown { speed_factor, .. } = item { *speed_factor = v }))
                    }/>
            </label>
        }.into_any(),
        Injection::MissingValues { column, share, .. } => view! {
            <label>"column " {text_input("injection-column", column.clone(), |item, text| {
                if let Injection::MissingValues { column, .. } = item { *column = text }
            })}</label>
            {share_input(*share, |item, v| if let Injection::MissingValues { share, .. } = item { *share = v })}
        }.into_any(),
        Injection::RenameColumn { column, new_name, .. } => view! {
            <label>"column " {text_input("injection-column", column.clone(), |item, text| {
                if let Injection::RenameColumn { column, .. } = item { *column = text }
            })}</label>
            <label>" becomes " {text_input("injection-new-name", new_name.clone(), |item, text| {
                if let Injection::RenameColumn { new_name, .. } = item { *new_name = text }
            })}</label>
        }.into_any(),
        Injection::RetypeColumn { column, .. } => view! {
            <label>"column " {text_input("injection-column", column.clone(), |item, text| {
                if let Injection::RetypeColumn { column, .. } = item { *column = text }
            })}</label>
        }.into_any(),
        Injection::ZonePopularity { zone, share, .. } => view! {
            <label>"zone "
                <input type="number" min="1" max="265" class="narrow" data-testid="injection-zone" prop:value=zone.to_string()
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).trim().parse::<i64>() {
                            edit(Box::new(move |item| if let Injection::ZonePopularity { zone, .. } = item { *zone = v }))
                        }
                    }/>
            </label>
            {share_input(*share, |item, v| if let Injection::ZonePopularity { share, .. } = item { *share = v })}
        }.into_any(),
    };
    view! {
        <tr data-testid="injection-row">
            <td>
                <select data-testid="injection-kind" on:change=move |ev| {
                    let kind = event_target_value(&ev);
                    edit(Box::new(move |item| {
                        let (from_day, days) = injection_fields::span(item);
                        *item = injection_fields::of_kind(&kind, from_day, days);
                    }));
                }>
                    {injection_fields::KINDS.map(|(value, label)| view! {
                        <option value=value selected=value == kind>{label}</option>
                    })}
                </select>
            </td>
            <td><input type="number" min="1" max="31" class="narrow" data-testid="injection-from-day"
                prop:value=(from_day + 1).to_string()
                on:change=move |ev| if let Some(day) = whole(&ev).filter(|d| *d >= 1) {
                    edit(Box::new(move |item| {
                        let (_, days) = injection_fields::span(item);
                        injection_fields::set_span(item, day - 1, days);
                    }))
                }/></td>
            <td><input type="number" min="1" max="31" class="narrow" data-testid="injection-days"
                prop:value=days.to_string()
                on:change=move |ev| if let Some(length) = whole(&ev) {
                    edit(Box::new(move |item| {
                        let (from_day, _) = injection_fields::span(item);
                        injection_fields::set_span(item, from_day, length);
                    }))
                }/></td>
            <td class="params">{params}</td>
            <td>
                {check.map(|e| view! { <span class="error small" data-testid="injection-error">{e}</span> })}
                <span class="muted small">{described}</span>
            </td>
            <td><button class="link" data-testid="injection-remove" title="Remove this injection"
                on:click=move |_| monitoring.update_injections(|list| if index < list.len() { list.remove(index); })>
                "remove"
            </button></td>
        </tr>
    }
}

// ----- 3. the clock -----

/// The date of the last revealed day, from the computed days or the stored rows.
fn revealed_date(monitoring: Monitoring) -> Option<String> {
    let revealed = monitoring.revealed();
    let day = revealed.checked_sub(1)?;
    monitoring
        .result
        .with(|r| r.as_ref().and_then(|r| r.days.get(day as usize).map(|d| d.metrics.date.clone())))
        .or_else(|| {
            monitoring
                .rows
                .with(|rows| rows.iter().find(|r| r.metrics.day_index == day).map(|r| r.metrics.date.clone()))
        })
}

#[component]
fn ClockBar() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let can_advance = move || monitoring.can_advance();
    let day_text = move || {
        let days = monitoring.days();
        let revealed = monitoring.revealed();
        if monitoring.setup.with(Option::is_none) {
            "No replay yet: choose the months and press Replay.".to_string()
        } else if days == 0 {
            "Waiting for the replay…".to_string()
        } else if revealed == 0 {
            format!("Before day 1 of {days}: press play or step")
        } else {
            let date = revealed_date(monitoring).unwrap_or_default();
            format!("Day {revealed} of {days} — {date}")
        }
    };
    view! {
        <section class="clock-bar" data-testid="clock">
            <button data-testid="clock-play" title="Reveal the next days on the clock"
                disabled=move || !can_advance() || monitoring.running.get()
                on:click=move |_| monitoring.play()>"▶ play"</button>
            <button data-testid="clock-pause" disabled=move || !monitoring.running.get()
                on:click=move |_| monitoring.pause()>"❚❚ pause"</button>
            <button data-testid="clock-step" title="Reveal one day"
                disabled=move || !can_advance() || monitoring.advancing.get()
                on:click=move |_| monitoring.step()>"step one day"</button>
            <label>"speed "
                <select data-testid="clock-speed" on:change=move |ev| {
                    if let Ok(speed) = event_target_value(&ev).parse::<u32>() { monitoring.speed.set(speed) }
                }>
                    {SPEEDS.map(|speed| view! {
                        <option value=speed.to_string() selected=move || monitoring.speed.get() == speed>
                            {format!("{speed} day{} per tick", if speed == 1 { "" } else { "s" })}
                        </option>
                    })}
                </select>
            </label>
            <button data-testid="clock-reset" class="danger"
                title="Back before day 1: this replay's stored days and alerts are removed"
                disabled=move || monitoring.revealed() == 0
                on:click=move |_| monitoring.reset()>"reset"</button>
            <strong class="clock-day" data-testid="clock-day" data-revealed=move || monitoring.revealed().to_string()>
                {day_text}
            </strong>
            <Show when=move || monitoring.running.get()>
                <span class="muted small">{format!("one tick every {} s", TICK_MS / 1000)}</span>
            </Show>
        </section>
    }
}

// ----- alerts: banner, rules, log -----

/// Where the learner acknowledged the alerts up to: (replay id, fired_at of the newest).
const ACKNOWLEDGED_KEY: &str = "mlops-lab-monitoring-acknowledged";
/// Alerts listed in the banner; the rest are counted.
const BANNER_ALERTS: usize = 4;

fn read_acknowledged() -> Option<(String, i64)> {
    crate::storage::prefs::get(ACKNOWLEDGED_KEY).and_then(|text| serde_json::from_str(&text).ok())
}

/// This replay's alerts the learner has not acknowledged yet, newest first: an alert
/// stays in the banner after its day, until someone has looked at it.
#[component]
fn AlertBanner() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let acknowledged = RwSignal::new(read_acknowledged());
    let open = Memo::new(move |_| {
        let Some(replay_id) = monitoring.setup.with(|s| s.as_ref().map(|s| s.replay_id.clone())) else {
            return Vec::new();
        };
        let seen = acknowledged.with(|a| a.as_ref().filter(|(id, _)| *id == replay_id).map(|(_, ms)| *ms));
        monitoring.alerts.with(|log| {
            log.iter()
                .rev()
                .filter(|e| e.replay_id == replay_id && seen.is_none_or(|ms| e.fired_at_ms > ms))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let acknowledge = move |_| {
        let Some(replay_id) = monitoring.setup.with_untracked(|s| s.as_ref().map(|s| s.replay_id.clone()))
        else {
            return;
        };
        let newest = open.with_untracked(|list| list.iter().map(|e| e.fired_at_ms).max()).unwrap_or(i64::MAX);
        let mark = (replay_id, newest);
        crate::storage::prefs::set(ACKNOWLEDGED_KEY, &serde_json::to_string(&mark).unwrap_or_default());
        acknowledged.set(Some(mark));
    };
    view! {
        <Show when=move || open.with(|list| !list.is_empty())>
            <div class="alert-banner" role="alert" data-testid="alert-banner">
                {move || {
                    let list = open.get();
                    let more = list.len().saturating_sub(BANNER_ALERTS);
                    view! {
                        {list.into_iter().take(BANNER_ALERTS).map(|entry| {
                            let e = entry.event;
                            view! {
                                <p>
                                    <strong>{format!("Alert on {}: ", e.date)}</strong>
                                    <code>{e.rule.clone()}</code> " — " {e.message.clone()}
                                    {e.retrain.then(|| view! { <span class="tag retrain">"retraining requested"</span> })}
                                </p>
                            }
                        }).collect_view()}
                        {(more > 0).then(|| view! { <p class="muted small">{format!("and {more} more in the alert log")}</p> })}
                    }
                }}
                <button class="small" data-testid="alert-acknowledge" on:click=acknowledge>"acknowledge"</button>
            </div>
        </Show>
    }
}

#[component]
fn RulesEditor() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let lines = Memo::new(move |_| parse_rules(&monitoring.rules_source()));
    view! {
        <section class="monitor-panel rules" data-testid="rules">
            <h2>"Alert rules"</h2>
            <p class="muted small">"One per line, e.g. " <code>"prediction_drift > 0.1 for 2 days then retrain"</code> ", "
                <code>"share_missing > 5%"</code> ", " <code>"rmse > 10"</code> ". Lines starting with # are ignored. "
                "Changes apply to the days the clock reveals from now on."</p>
            <textarea rows="5" class="mono rules-box" spellcheck="false" data-testid="alert-rules"
                prop:value=move || monitoring.rules_source()
                on:input=move |ev| monitoring.set_rules_text(event_target_value(&ev))></textarea>
            <p><button data-testid="rules-reset" on:click=move |_| monitoring.reset_rules()>"Reset to the course's rules"</button></p>
            <ul class="rule-lines">
                {move || lines.get().into_iter().map(|line| match line.parsed {
                    Ok(rule) => view! {
                        <li class="ok" data-testid="rule-ok">
                            {rule_words(&rule)}
                        </li>
                    }.into_any(),
                    Err(e) => view! {
                        <li class="bad" data-testid="rule-error">{format!("line {}: {e}", line.line)}</li>
                    }.into_any(),
                }).collect_view()}
            </ul>
        </section>
    }
}

/// An alert's value in its metric's unit (shares in percent).
pub fn alert_value(rule_text: &str, value: f64) -> String {
    match AlertRule::parse(rule_text).map(|rule| rule.metric) {
        Ok(Metric::ShareMissing) => percent(value),
        _ => format_number(value),
    }
}

fn rule_words(rule: &AlertRule) -> String {
    let mut text = format!("✓ {}", rule.describe());
    if rule.retrain {
        text.push_str(" — asks for retraining");
    }
    text
}

#[component]
fn AlertLog() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let current_id = move || monitoring.setup.with(|s| s.as_ref().map(|s| s.replay_id.clone()));
    // The pipelines chapter turns requests into runs (its clock ticks on every page).
    let pipelines = use_context::<Pipelines>();
    let alert_runs = move || -> Vec<String> {
        let Some(pipelines) = pipelines else { return Vec::new() };
        let by_alert = |run: &PipelineRun| matches!(run.context.trigger, TriggerReason::Alert { .. });
        let describe =
            |run: &PipelineRun| format!("{} ({:?})", run.context.run_id, run.status).to_lowercase();
        let mut runs: Vec<String> =
            pipelines.runs.with(|runs| runs.iter().filter(|r| by_alert(r)).map(|r| describe(r)).collect());
        runs.extend(pipelines.active.get().filter(|r| by_alert(r)).map(|r| describe(&r)));
        runs
    };
    view! {
        <section class="monitor-panel" data-testid="alert-log-panel">
            <h2>"Alert log"</h2>
            {move || {
                let requests = monitoring.retrain_requests.with(Vec::len);
                let runs = alert_runs();
                (requests > 0 || !runs.is_empty()).then(|| view! {
                    <p class="notice" data-testid="retrain-requests">
                        {format!("Retraining requested {requests} time(s) since the page opened. ")}
                        {if runs.is_empty() {
                            "The pipelines start a run of each pipeline with an alert trigger on their clock's next tick. "
                                .to_string()
                        } else {
                            format!("Runs started by alerts: {}. ", runs.join(", "))
                        }}
                        <a href=Route::Pipelines.path()>"Open the pipelines"</a>
                    </p>
                })
            }}
            <ul class="alert-log" data-testid="alert-log">
                {move || {
                    let current = current_id();
                    let log = monitoring.alerts.get();
                    if log.is_empty() {
                        let text = if monitoring.loaded.get() { "No alerts yet." } else { "Reading the log…" };
                        return view! { <li class="muted" data-testid="alert-log-empty">{text}</li> }.into_any();
                    }
                    log.iter().rev().map(|entry| {
                        let e = &entry.event;
                        let earlier = current.as_deref() != Some(entry.replay_id.as_str());
                        view! {
                            <li data-testid="alert-entry" class:earlier=earlier>
                                <span class="date">{e.date.clone()}</span> " "
                                <code>{e.rule.clone()}</code> " "
                                <span class="value">{format!("value {}", alert_value(&e.rule, e.value))}</span>
                                <br/><span class="message">{e.message.clone()}</span>
                                {e.retrain.then(|| view! { <span class="tag retrain" data-testid="retrain-tag">"retraining requested"</span> })}
                                {earlier.then(|| view! { <span class="tag">"earlier replay"</span> })}
                                <span class="muted small">{format!(" logged {}", format_utc_millis(entry.fired_at_ms))}</span>
                            </li>
                        }
                    }).collect_view().into_any()
                }}
            </ul>
        </section>
    }
}

// ----- after a reload -----

#[component]
fn ReloadNotice() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let state = AppState::use_context();
    let show = move || {
        monitoring.loaded.get()
            && monitoring.setup.with(|s| s.as_ref().is_some_and(|s| s.days > 0))
            && monitoring.result.with(Option::is_none)
            && !monitoring.replaying.get()
    };
    view! {
        <Show when=show>
            <div class="warning" data-testid="reload-notice">
                <p>{move || format!(
                    "The daily metrics and alerts of this replay were read back from this browser's storage ({} of {} days revealed). \
                     The per-day drift reports are kept in memory only and went with the reload: replay again to recompute them \
                     (same months, same injected drift — the same days) and continue the clock from here.",
                    monitoring.revealed(), monitoring.days()
                )}</p>
                <button class="primary" data-testid="replay-again" disabled=move || state.is_busy()
                    on:click=move |_| monitoring.replay_again()>"Replay again"</button>
            </div>
        </Show>
    }
}

// ----- 4. the daily metrics -----

#[component]
fn MetricChart(
    testid: &'static str,
    caption: &'static str,
    y_format: YFormat,
    series: Signal<Vec<DaySeries>>,
    thresholds: Signal<Vec<Threshold>>,
    #[prop(into)] empty: Signal<String>,
) -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let shown = move || {
        series.with(|s| s.iter().map(|s| s.values.iter().filter(|v| v.is_some()).count()).max().unwrap_or(0))
    };
    view! {
        <figure class="metric-chart" data-testid=testid data-days=move || shown().to_string()>
            {move || {
                let svg = metric_series_svg(
                    caption, y_format, monitoring.days() as usize, &series.get(), &thresholds.get(), &empty.get(),
                );
                view! { <SvgImage svg alt=caption testid=format!("{testid}-img")/> }
            }}
        </figure>
    }
}

#[component]
fn MetricCharts() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let rules = Memo::new(move |_| parse_rules(&monitoring.rules_source()));
    let metrics = Memo::new(move |_| {
        monitoring.rows.with(|rows| rows.iter().map(|r| r.metrics.clone()).collect::<Vec<_>>())
    });
    let series = move |label: &'static str, value: fn(&DayMetrics) -> Option<f64>| {
        Signal::derive(move || {
            vec![DaySeries { label: label.into(), values: metrics.with(|m| by_day(m, value)) }]
        })
    };
    let thresholds = move |metric: Metric| Signal::derive(move || rules.with(|r| thresholds_for(r, metric)));
    let none_yet = "No days revealed yet";
    let truth_message = Signal::derive(move || {
        let delay = monitoring.setup.with(|s| s.as_ref().map(|s| s.options.truth_delay_days)).unwrap_or(0);
        if monitoring.revealed() == 0 {
            none_yet.to_string()
        } else {
            format!("No truth yet: RMSE arrives {delay} day(s) after each day")
        }
    });
    let errors = Signal::derive(move || {
        metrics.with(|m| {
            vec![
                DaySeries { label: "RMSE".into(), values: by_day(m, |d| d.rmse) },
                DaySeries { label: "MAE".into(), values: by_day(m, |d| d.mae) },
            ]
        })
    });
    let error_thresholds = Signal::derive(move || {
        rules.with(|r| {
            thresholds_for(r, Metric::Rmse).into_iter().chain(thresholds_for(r, Metric::Mae)).collect()
        })
    });
    view! {
        <section class="monitor-panel" data-testid="metrics">
            <h2>"2 · Daily metrics"</h2>
            <p class="muted small">"Only the days the clock has revealed; dashed lines are your alert rules' thresholds; a gap is a day whose value is not known."</p>
            <div class="chart-grid">
                <MetricChart testid="metrics-chart-prediction-drift" caption="Prediction drift (score)" y_format=YFormat::Number
                    series=series("prediction drift", |d| d.prediction_drift) thresholds=thresholds(Metric::PredictionDrift)
                    empty=none_yet.to_string()/>
                <MetricChart testid="metrics-chart-drifted-columns" caption="Drifted columns (of 7)" y_format=YFormat::Number
                    series=series("drifted columns", |d| Some(d.drifted_columns as f64)) thresholds=thresholds(Metric::DriftedColumns)
                    empty=none_yet.to_string()/>
                <MetricChart testid="metrics-chart-share-missing" caption="Share of missing values" y_format=YFormat::Percent
                    series=series("share missing", |d| Some(d.share_missing)) thresholds=thresholds(Metric::ShareMissing)
                    empty=none_yet.to_string()/>
                <MetricChart testid="metrics-chart-rmse" caption="RMSE and MAE (minutes, when the truth arrives)" y_format=YFormat::Number
                    series=errors thresholds=error_thresholds empty=truth_message/>
            </div>
        </section>
    }
}

// ----- 5. one day's columns -----

#[component]
fn DayDetail() -> impl IntoView {
    let monitoring = Monitoring::use_context();
    let revealed = move || monitoring.revealed();
    let day = Memo::new(move |_| {
        let revealed = monitoring.revealed();
        let last = revealed.checked_sub(1)?;
        Some(monitoring.selected_day.get().filter(|d| *d < revealed).unwrap_or(last))
    });
    view! {
        <section class="monitor-panel" data-testid="day-detail">
            <h2>"3 · One day's columns"</h2>
            {move || {
                let Some(selected) = day.get() else {
                    return view! { <p class="muted">"Reveal a day on the clock to see its columns."</p> }.into_any();
                };
                let dates: Vec<(u32, String)> = monitoring.rows.with(|rows| {
                    rows.iter().map(|r| (r.metrics.day_index, r.metrics.date.clone())).collect()
                });
                let report = monitoring.result.with(|r| r.as_ref().and_then(|r| r.days.get(selected as usize).cloned()));
                view! {
                    <p>
                        <label>"Day "
                            <select data-testid="day-select" on:change=move |ev| {
                                let chosen = event_target_value(&ev).parse::<u32>().ok();
                                let latest = revealed().checked_sub(1);
                                monitoring.selected_day.set(chosen.filter(|c| Some(*c) != latest));
                            }>
                                {dates.into_iter().map(|(index, date)| view! {
                                    <option value=index.to_string() selected=index == selected>{format!("day {} — {date}", index + 1)}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        " " <a href=Route::MonitoringDay(selected).path() data-testid="day-report-link">"The day's full report →"</a>
                    </p>
                    {match report {
                        None => view! {
                            <p class="muted" data-testid="column-drift-missing">
                                "The per-column reports are kept in memory only; replay again to see this day's columns."
                            </p>
                        }.into_any(),
                        Some(day) => {
                            let m = &day.metrics;
                            view! {
                                <p class="muted">{format!(
                                    "{} rides; {} of {} columns drifted{}.",
                                    m.rows, m.drifted_columns, m.columns,
                                    if m.dataset_drift { " — dataset drift" } else { "" },
                                )}</p>
                                {(!m.injected.is_empty()).then(|| view! {
                                    <p class="warning small" data-testid="day-injected">{format!("Injected on this day: {}", m.injected.join("; "))}</p>
                                })}
                                <ColumnTable columns=day.report.columns.clone()/>
                            }.into_any()
                        }
                    }}
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn ColumnTable(columns: Vec<ColumnDrift>) -> impl IntoView {
    view! {
        <div class="scroll">
            <table class="numbers column-drift" data-testid="column-drift-table">
                <thead><tr>
                    <th>"column"</th><th>"type"</th><th>"test"</th><th>"score"</th><th>"threshold"</th>
                    <th>"verdict"</th><th>"reference " <span class="swatch ref"></span> " / current " <span class="swatch cur"></span></th>
                </tr></thead>
                <tbody>
                    {columns.into_iter().map(|column| {
                        let (test, score, threshold, verdict) = column_cells(&column);
                        let drifted = column.drifted();
                        let name = column.name.clone();
                        view! {
                            <tr data-testid="column-row" data-column=name.clone() class:drifted=drifted>
                                <td>{name.clone()}</td>
                                <td>{column.column_type.label()}</td>
                                <td>{test}</td>
                                <td>{score}</td>
                                <td>{threshold}</td>
                                <td class="verdict">{verdict}</td>
                                <td><SvgImage svg=distribution_svg(&column.distribution)
                                    alt=format!("{name}: reference and current distributions") testid="column-distribution"/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

// ----- 7. service health -----

#[derive(Debug, Clone, PartialEq)]
struct HealthView {
    requests: usize,
    errors: usize,
    successful: usize,
    windows: Vec<HealthWindow>,
    live: Vec<LiveWindow>,
}

#[component]
fn ServiceHealth() -> impl IntoView {
    let serving = Serving::use_context();
    let tracking = Tracking::use_context();
    let window_ms = RwSignal::new(60_000_i64);
    let refresh = RwSignal::new(0_u64);
    let seen_answered = StoredValue::new(serving.answered.get_untracked());
    let poll = Interval::new(HEALTH_POLL_MS, move || {
        let Some(answered) = serving.answered.try_get_untracked() else { return };
        if seen_answered.try_get_value() != Some(answered) {
            seen_answered.set_value(answered);
            refresh.update(|n| *n += 1);
        }
    });
    let poll = StoredValue::new_local(Some(poll));
    on_cleanup(move || {
        poll.try_set_value(None);
    });
    let health = LocalResource::new(move || {
        refresh.get();
        let ready = tracking.ready.get();
        let window = window_ms.get();
        async move {
            if !ready {
                return None;
            }
            let entries = match serving.read_log().await {
                Ok(entries) => entries,
                Err(e) => return Some(Err(e.to_string())),
            };
            let errors = entries.iter().filter(|e| !(200..300).contains(&e.status)).count();
            let view = HealthView {
                requests: entries.len(),
                errors,
                successful: entries.len() - errors,
                windows: service_health(&entries, window),
                live: live_drift(&entries, LIVE_REFERENCE_ROWS, window, &DriftOptions::default()),
            };
            Some(Ok(Arc::new(view)))
        }
    });
    view! {
        <section class="monitor-panel" data-testid="service-health">
            <h2>"4 · The deployed service"</h2>
            <p class="muted">"Read from the endpoint's prediction log: requests per window, errors, latency, and the requests' "
                "inputs and predictions compared with the first " {LIVE_REFERENCE_ROWS} " successful ones. "
                <a href=Route::Service.path() data-testid="go-service">"Send traffic from the service page (console or load tool)."</a></p>
            <p>
                <label>"Window "
                    <select data-testid="health-window" on:change=move |ev| {
                        if let Ok(ms) = event_target_value(&ev).parse::<i64>() { window_ms.set(ms) }
                    }>
                        {WINDOWS.map(|(ms, label)| view! {
                            <option value=ms.to_string() selected=move || window_ms.get() == ms>{label}</option>
                        })}
                    </select>
                </label>
                " " <button data-testid="health-refresh" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
            </p>
            {move || match health.get().flatten() {
                None => view! { <p class="muted">"Reading the prediction log…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">"The prediction log could not be read: " {e}</p> }.into_any(),
                Some(Ok(view)) if view.requests == 0 => view! {
                    <p class="muted" data-testid="health-empty">"No requests logged yet. "
                        <a href=Route::Service.path()>"Serve a model and send some requests."</a></p>
                }.into_any(),
                Some(Ok(view)) => health_view(&view).into_any(),
            }}
        </section>
    }
}

fn health_view(view: &HealthView) -> impl IntoView {
    let first = view.windows.first().map_or(0, |w| w.start_ms);
    let minutes = |start_ms: i64| (start_ms - first) as f64 / 60_000.0;
    let latency = ["p50", "p95", "p99"]
        .iter()
        .enumerate()
        .map(|(i, name)| LineData {
            label: format!("latency {name}"),
            points: view
                .windows
                .iter()
                .map(|w| {
                    let value = [w.latency_p50_ms, w.latency_p95_ms, w.latency_p99_ms][i];
                    (minutes(w.start_ms), value)
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    let latency_svg = line_chart_svg("Latency per window", "minutes since the first request", "ms", &latency);
    let volume = [LineData {
        label: "requests".into(),
        points: view.windows.iter().map(|w| (minutes(w.start_ms), w.requests as f64)).collect(),
    }];
    let volume_svg =
        line_chart_svg("Requests per window", "minutes since the first request", "requests", &volume);
    let live_points: Vec<(f64, f64)> = view
        .live
        .iter()
        .filter_map(|w| Some((minutes(w.start_ms), w.report.column("prediction")?.score()?)))
        .collect();
    let live_svg = line_chart_svg(
        "Prediction drift per window (against the first requests)",
        "minutes since the first request",
        "drift score",
        &[LineData { label: "prediction drift".into(), points: live_points }],
    );
    let error_rate = if view.requests > 0 { view.errors as f64 / view.requests as f64 } else { 0.0 };
    let live_note = if view.live.is_empty() {
        Some(format!(
            "Live drift needs more than {LIVE_REFERENCE_ROWS} successful requests (the first {LIVE_REFERENCE_ROWS} are the reference) and a later window; {} so far.",
            view.successful
        ))
    } else {
        None
    };
    view! {
        <p data-testid="health-summary">
            <strong data-testid="health-requests">{view.requests}</strong> " requests · "
            <strong data-testid="health-errors">{view.errors}</strong> " errors (" {percent(error_rate)} ") · "
            {view.windows.len()} " window(s)"
        </p>
        <div class="scroll">
            <table class="numbers" data-testid="health-table">
                <thead><tr><th>"window start"</th><th>"requests"</th><th>"errors"</th><th>"error rate"</th>
                    <th>"p50"</th><th>"p95"</th><th>"p99"</th></tr></thead>
                <tbody>
                    {view.windows.iter().rev().take(HEALTH_ROWS).map(|w| view! {
                        <tr data-testid="health-row">
                            <td>{format_utc_millis(w.start_ms)}</td><td>{w.requests}</td><td>{w.errors}</td>
                            <td>{percent(w.error_rate)}</td><td>{ms(w.latency_p50_ms)}</td>
                            <td>{ms(w.latency_p95_ms)}</td><td>{ms(w.latency_p99_ms)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="chart-grid">
            <SvgImage svg=volume_svg alt="requests per window" testid="health-volume-chart"/>
            <SvgImage svg=latency_svg alt="latency percentiles per window" testid="health-latency-chart"/>
        </div>
        <h3>"Live drift"</h3>
        {match live_note {
            Some(note) => view! { <p class="muted" data-testid="live-drift-note">{note}</p> }.into_any(),
            None => view! {
                <SvgImage svg=live_svg alt="prediction drift per window" testid="live-drift-chart"/>
                <div class="scroll">
                    <table class="numbers" data-testid="live-drift-table">
                        <thead><tr><th>"window start"</th><th>"rows"</th><th>"prediction drift"</th><th>"drifted columns"</th></tr></thead>
                        <tbody>
                            {view.live.iter().rev().take(HEALTH_ROWS).map(|w| {
                                let prediction = w.report.column("prediction");
                                let score = prediction.and_then(ColumnDrift::score).map(format_number).unwrap_or_else(|| "–".into());
                                let flag = if prediction.is_some_and(ColumnDrift::drifted) { " (drift)" } else { "" };
                                view! {
                                    <tr>
                                        <td>{format_utc_millis(w.start_ms)}</td><td>{w.rows}</td>
                                        <td>{format!("{score}{flag}")}</td>
                                        <td>{format!("{} of {}", w.report.dataset.n_drifted, w.report.dataset.n_columns)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any(),
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlops_core::drift::StatTest;

    fn metrics(day_index: u32, rmse: Option<f64>) -> DayMetrics {
        DayMetrics {
            day_index,
            date: format!("2022-02-{:02}", day_index + 1),
            rows: 10,
            prediction_drift: Some(0.1),
            prediction_drifted: false,
            drifted_columns: 0,
            columns: 7,
            dataset_drift: false,
            share_missing: 0.0,
            rmse,
            mae: None,
            truth_day: day_index + 1,
            injected: Vec::new(),
        }
    }

    #[test]
    fn values_sit_at_their_day_with_gaps_for_unknown_or_missing_days() {
        let rows = [metrics(0, Some(5.0)), metrics(2, None), metrics(3, Some(6.0))];
        assert_eq!(by_day(&rows, |m| m.rmse), vec![Some(5.0), None, None, Some(6.0)]);
        assert!(by_day(&[], |m| m.rmse).is_empty());
    }

    #[test]
    fn skipped_columns_say_why_and_tested_ones_give_their_numbers() {
        let skipped = ColumnDrift {
            name: "trip_distance".into(),
            column_type: mlops_core::drift::ColumnType::Numerical,
            outcome: ColumnOutcome::Skipped { reason: "the column is missing".into() },
            reference_values: 10,
            current_values: 0,
            distribution: Default::default(),
        };
        let (test, score, _, verdict) = column_cells(&skipped);
        assert_eq!((test.as_str(), score.as_str()), ("–", "–"));
        assert!(verdict.contains("the column is missing"));
        let tested = ColumnDrift {
            outcome: ColumnOutcome::Tested {
                test: StatTest::Wasserstein,
                score: 0.25,
                threshold: 0.1,
                drifted: true,
            },
            ..skipped
        };
        assert_eq!(
            column_cells(&tested),
            ("Wasserstein distance (normed)".into(), "0.25".into(), "0.1".into(), "drift detected".into())
        );
    }

    #[test]
    fn alert_values_read_in_their_metrics_unit() {
        assert_eq!(alert_value("share_missing > 5%", 0.06815), "6.815%");
        assert_eq!(alert_value("rmse > 10", 11.807), "11.81");
        assert_eq!(alert_value("not a rule", 0.5), "0.5");
    }

    #[test]
    fn the_sides_course_month_comes_first_in_the_catalog() {
        let entry = |path: &str| CatalogEntry { label: path.into(), path: path.into() };
        let entries = [
            entry("green_tripdata_2021-01.parquet"),
            entry("green_tripdata_2022-02.parquet"),
            entry("green_tripdata_2022-01.parquet"),
        ];
        let reference = catalog_for_side(&entries, 1);
        assert_eq!(reference[0].path, "green_tripdata_2022-01.parquet");
        let current = catalog_for_side(&entries, 2);
        assert_eq!(current[0].path, "green_tripdata_2022-02.parquet");
        assert_eq!(current.len(), 3);
    }
}
