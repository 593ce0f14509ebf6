//! Chapter 4: deployment — the web service, batch scoring and streaming — as a lesson with
//! seven guided steps.
//!
//! A step ticks itself when the app's state shows it done: the served model, the
//! prediction log (read from the store, so requests made on the service page count), the
//! last batch scoring. What the state cannot show later (a stream ran into a dead letter;
//! the service was exported) is remembered in localStorage by [`mark_step_done`], which
//! the batch and stream pages call too.

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use mlops_core::serving::export::service_zip;
use mlops_core::serving::log::{PredictionLogEntry, RequestSource};

use crate::components::download::download_bytes;
use crate::components::model_picker::ModelPicker;
use crate::components::step::{Progress, Step, StepSummary, Walkthrough};
use crate::routes::Route;
use crate::serving_state::Serving;
use crate::state::AppState;
use crate::storage::prefs;
use crate::tracking_state::Tracking;

pub const PROGRESS_KEY: &str = "mlops-lab-chapter4-progress";
/// Set to "1" by whoever exports the service zip (the service page or step g).
pub const EXPORTED_KEY: &str = "mlops-lab-exported-service";
pub const EXPORT_FILE_NAME: &str = "ride-duration-service.zip";
const STEPS: [char; 7] = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
/// How often the page looks for new entries in the prediction log (only when requests
/// were answered since the last look).
const LOG_POLL_MS: u32 = 1500;
const SAMPLE_REQUEST: &str = r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}"#;

// ----- remembered progress -----

pub const WALKTHROUGH: Walkthrough = Walkthrough { key: PROGRESS_KEY, steps: &STEPS };

pub fn read_progress() -> Progress {
    WALKTHROUGH.read()
}

/// Remembers that a Chapter 4 step (`'a'`..=`'g'`) was done, for the walkthrough to tick.
pub fn mark_step_done(step: char) {
    WALKTHROUGH.mark_done(step)
}

fn exported_flag() -> bool {
    prefs::get(EXPORTED_KEY).is_some_and(|v| v == "1")
}

// ----- what the prediction log shows -----

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogFacts {
    pub console: usize,
    pub service_worker: usize,
    /// Distinct `model_version`s that answered, in first-seen order.
    pub versions: Vec<String>,
}

pub fn log_facts(entries: &[PredictionLogEntry]) -> LogFacts {
    let mut facts = LogFacts::default();
    for entry in entries {
        match entry.source {
            RequestSource::Console => facts.console += 1,
            RequestSource::ServiceWorker => facts.service_worker += 1,
            RequestSource::Load | RequestSource::Stream => {}
        }
        if let Some(version) = entry.model_version.as_ref().filter(|v| !v.is_empty()) {
            if !facts.versions.contains(version) {
                facts.versions.push(version.clone());
            }
        }
    }
    facts
}

// ----- the page -----

#[component]
pub fn Chapter4Page() -> impl IntoView {
    let state = AppState::use_context();
    let serving = Serving::use_context();
    let tracking = Tracking::use_context();
    let remembered = RwSignal::new(read_progress());
    let exported = RwSignal::new(exported_flag());

    // Re-read the log when requests were answered since the last read.
    let refresh = RwSignal::new(0_u64);
    let seen_answered = StoredValue::new(serving.answered.get_untracked());
    let poll = Interval::new(LOG_POLL_MS, move || {
        let Some(answered) = serving.answered.try_get_untracked() else { return };
        if seen_answered.try_get_value() != Some(answered) {
            seen_answered.set_value(answered);
            refresh.update(|n| *n += 1);
        }
        // The stream and batch pages may have marked steps in the meantime (another tab).
        let latest = read_progress();
        if remembered.try_with_untracked(|r| *r != latest) == Some(true) {
            remembered.set(latest);
        }
        // The service page may have exported the zip in another tab.
        if exported.try_get_untracked() == Some(false) && exported_flag() {
            exported.set(true);
        }
    });
    let poll = StoredValue::new_local(Some(poll));
    on_cleanup(move || {
        poll.try_set_value(None);
    });
    let log = LocalResource::new(move || {
        refresh.get();
        let ready = tracking.ready.get();
        async move {
            if !ready {
                return LogFacts::default();
            }
            serving.read_log().await.map(|entries| log_facts(&entries)).unwrap_or_default()
        }
    });
    let facts = Memo::new(move |_| log.get().unwrap_or_default());

    let was = move |step: char| remembered.with(|r| r.done.contains(&step));
    let done_a = Memo::new(move |_| serving.served.with(|s| matches!(s.as_deref(), Some(Ok(_)))) || was('a'));
    let done_b = Memo::new(move |_| facts.with(|f| f.console > 0) || was('b'));
    let done_c = Memo::new(move |_| facts.with(|f| f.service_worker > 0) || was('c'));
    let done_d = Memo::new(move |_| facts.with(|f| f.versions.len() >= 2) || was('d'));
    let done_e = Memo::new(move |_| state.scored.with(Option::is_some) || was('e'));
    let done_f = Memo::new(move |_| was('f'));
    let done_g = Memo::new(move |_| exported.get() || was('g'));
    let all = [done_a, done_b, done_c, done_d, done_e, done_f, done_g];

    WALKTHROUGH.remember(all.to_vec());

    view! {
        <article class="lesson chapter4" data-testid="chapter4">
            {crate::lesson!("chapter4/intro.md")}
            {crate::lesson!("chapter4/modes.md")}
            {crate::lesson!("chapter4/service.md")}
            {crate::lesson!("chapter4/environments.md")}
            {crate::lesson!("chapter4/registry.md")}
            {crate::lesson!("chapter4/batch.md")}
            {crate::lesson!("chapter4/streaming.md")}
            <h2>"Hands on"</h2>
            <p class="muted">
                "Seven steps. Each ticks itself when the app shows it done — here, or on the "
                <a href=Route::Service.path()>"service"</a> ", " <a href=Route::Batch.path()>"batch"</a>
                " and " <a href=Route::Stream.path()>"stream"</a> " pages."
            </p>
            <StepSummary steps=&STEPS done=all.to_vec()/>
            <Step testid="step4-a" done=done_a>
                {crate::lesson!("chapter4/step-a.md")}
                <ModelPicker/>
            </Step>
            <Step testid="step4-b" done=done_b>
                {crate::lesson!("chapter4/step-b.md")}
                <MiniConsole/>
            </Step>
            <Step testid="step4-c" done=done_c>
                {crate::lesson!("chapter4/step-c.md")}
                <FetchStep/>
            </Step>
            <Step testid="step4-d" done=done_d>
                {crate::lesson!("chapter4/step-d.md")}
                <p data-testid="seen-versions">
                    "Versions that answered so far: "
                    {move || {
                        let versions = facts.with(|f| f.versions.clone());
                        if versions.is_empty() { "none yet".to_string() } else { versions.join(", ") }
                    }}
                </p>
            </Step>
            <Step testid="step4-e" done=done_e>
                {crate::lesson!("chapter4/step-e.md")}
                <p>
                    <a class="button" href=Route::Batch.path() data-testid="go-batch">"Open batch scoring"</a>
                    {move || state.scored.get().map(|(batch, seconds)| view! {
                        <span class="muted">" Last scoring: " {batch.rows} " rows in " {format!("{seconds:.2}")} " s → "
                            <code>{batch.path.clone()}</code></span>
                    })}
                </p>
            </Step>
            <Step testid="step4-f" done=done_f>
                {crate::lesson!("chapter4/step-f.md")}
                <p><a class="button" href=Route::Stream.path() data-testid="go-stream">"Open the stream"</a></p>
            </Step>
            <Step testid="step4-g" done=done_g>
                {crate::lesson!("chapter4/step-g.md")}
                <ExportStep exported/>
            </Step>
            {crate::lesson!("chapter4/next.md")}
        </article>
    }
}

/// A request console in the walkthrough: a JSON body, Send, and the answer as text.
#[component]
fn MiniConsole() -> impl IntoView {
    let serving = Serving::use_context();
    let body = RwSignal::new(SAMPLE_REQUEST.to_string());
    let answer = RwSignal::new(None::<(u16, String, f64)>);
    let send = move |_| {
        let (response, latency_ms) =
            serving.handle("POST", "/predict", body.get_untracked().as_bytes(), RequestSource::Console);
        answer.set(Some((response.status, response.body, latency_ms)));
    };
    view! {
        <div class="mini-console">
            <textarea rows="2" cols="60" class="mono" data-testid="ch4-request" spellcheck="false"
                prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
            <p>
                <button class="primary" data-testid="ch4-send" on:click=send>"POST /predict"</button>
                " " <a href=Route::Service.path()>"The full console, load tool and log are on the service page."</a>
            </p>
            {move || answer.get().map(|(status, text, latency_ms)| view! {
                <p class="answer" data-testid="ch4-response" data-status=status.to_string()>
                    <strong>{status}</strong> " in " {format!("{latency_ms:.2}")} " ms: " <code>{text}</code>
                </p>
            })}
        </div>
    }
}

/// Calls the service the way any other program would: `fetch("api/predict")`, answered by
/// the service worker.
#[component]
fn FetchStep() -> impl IntoView {
    let call = Action::new_local(|_: &()| async move {
        let request = gloo_net::http::Request::post("api/predict")
            .header("Content-Type", "application/json")
            .body(SAMPLE_REQUEST)
            .map_err(|e| e.to_string())?;
        let response = request.send().await.map_err(|e| {
            format!(
                "The request failed ({e}). The service worker may not be active yet: reload the page once."
            )
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok::<(u16, String), String>((status, text))
    });
    view! {
        <pre><code>{format!(
            "await fetch(\"api/predict\", {{\n  method: \"POST\",\n  headers: {{\"Content-Type\": \"application/json\"}},\n  body: '{SAMPLE_REQUEST}'\n}}).then(r => r.json())"
        )}</code></pre>
        <p>
            <button class="primary" data-testid="ch4-fetch" disabled=move || call.pending().get()
                on:click=move |_| { call.dispatch(()); }>"Run this fetch"</button>
        </p>
        {move || call.value().get().map(|result| match result {
            Ok((status, text)) => view! {
                <p class="answer" data-testid="ch4-fetch-response" data-status=status.to_string()>
                    <strong>{status}</strong> ": " <code>{text}</code>
                </p>
            }.into_any(),
            Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
        })}
    }
}

#[component]
fn ExportStep(exported: RwSignal<bool>) -> impl IntoView {
    let serving = Serving::use_context();
    let problem = RwSignal::new(None::<String>);
    let export = move |_| {
        problem.set(None);
        let served = serving.served.get_untracked();
        let Some(Ok(model)) = served.as_deref() else {
            problem.set(Some("Serve a model first (step a): the zip carries the served model.".to_string()));
            return;
        };
        let result = service_zip(&model.model.to_json(), &model.version)
            .map_err(|e| e.to_string())
            .and_then(|bytes| download_bytes(EXPORT_FILE_NAME, "application/zip", &bytes));
        match result {
            Ok(()) => {
                prefs::set(EXPORTED_KEY, "1");
                mark_step_done('g');
                exported.set(true);
            }
            Err(e) => problem.set(Some(format!("The export failed: {e}"))),
        }
    };
    view! {
        <p>
            <button class="primary" data-testid="ch4-export" on:click=export>"Export the service (zip)"</button>
            " " <span class="muted">"or use the export on the " <a href=Route::Service.path()>"service page"</a> "."</span>
        </p>
        {move || problem.get().map(|text| view! { <p class="error" role="alert" data-testid="ch4-export-error">{text}</p> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(source: RequestSource, version: Option<&str>) -> PredictionLogEntry {
        PredictionLogEntry {
            timestamp: 1,
            latency_ms: 0.1,
            status: 200,
            source,
            request: String::new(),
            prediction: Some(10.0),
            model_version: version.map(String::from),
        }
    }

    #[test]
    fn the_log_says_where_requests_came_from_and_which_versions_answered() {
        let entries = [
            entry(RequestSource::Console, Some("taxi/1")),
            entry(RequestSource::Load, Some("taxi/1")),
            entry(RequestSource::ServiceWorker, None),
            entry(RequestSource::Console, Some("taxi/2")),
            entry(RequestSource::Stream, Some("")),
        ];
        let facts = log_facts(&entries);
        assert_eq!(facts.console, 2);
        assert_eq!(facts.service_worker, 1);
        assert_eq!(facts.versions, vec!["taxi/1".to_string(), "taxi/2".to_string()]);
        assert_eq!(log_facts(&[]), LogFacts::default());
    }

    #[test]
    fn progress_round_trips_and_ignores_unknown_steps() {
        let mut progress = Progress::parse("not json");
        assert!(progress.done.is_empty());
        assert!(WALKTHROUGH.mark(&mut progress, 'f'));
        assert!(!WALKTHROUGH.mark(&mut progress, 'f'));
        assert!(!WALKTHROUGH.mark(&mut progress, 'z'));
        let again = Progress::parse(&progress.to_json());
        assert_eq!(again, progress);
        assert_eq!(progress.to_json(), r#"{"done":["f"]}"#);
    }
}
