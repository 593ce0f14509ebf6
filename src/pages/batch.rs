//! Batch scoring (Chapter 4): the course's `score.py` in the browser. Every trip of a
//! loaded month is scored with the served model in the background worker, and the result
//! is a parquet file under the path the course writes to
//! (`taxi_type=green/year=2021/month=02/<run id>.parquet`).

use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::protocol::Slot;
use mlops_core::serving::batch::{output_path, ScoreOptions, ScoredBatch};

use crate::components::download::{blob_url, download_bytes};
use crate::components::model_picker::ModelPicker;
use crate::routes::Route;
use crate::serving_state::Serving;
use crate::state::{AppState, Pending};
use crate::tracking_state::Tracking;

/// Ride ids are seeded, so scoring the same month twice gives the same file.
pub const SEED: u64 = 42;
pub const PARQUET_MIME: &str = "application/vnd.apache.parquet";
const DEFAULT_TAXI_TYPE: &str = "green";
const DEFAULT_YEAR: i32 = 2021;
const DEFAULT_MONTH: u32 = 1;

// ----- the pure part -----

/// What a dataset's label says about the month, as far as it says anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonthFields {
    pub taxi_type: Option<String>,
    pub year: Option<i32>,
    pub month: Option<u32>,
}

/// `YYYY-MM` at the start of `text`.
fn year_month(text: &str) -> Option<(i32, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() < 7 || bytes[4] != b'-' {
        return None;
    }
    if !bytes[..4].iter().chain(&bytes[5..7]).all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.get(7).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let year = text[..4].parse().ok()?;
    let month = text[5..7].parse().ok().filter(|m| (1..=12).contains(m))?;
    Some((year, month))
}

/// Reads the month from a label: `green_tripdata_2021-02.parquet` gives all three fields;
/// a label with a `YYYY-MM` in it (a simulated month) gives the year and month.
pub fn parse_month_label(label: &str) -> MonthFields {
    let first = label.split(" + ").next().unwrap_or_default().trim();
    let file = first.rsplit(['/', '\\']).next().unwrap_or(first);
    if let Some((taxi, rest)) = file.split_once("_tripdata_") {
        if let Some((year, month)) = year_month(rest) {
            let taxi = taxi.trim().to_ascii_lowercase();
            let taxi_type = (!taxi.is_empty() && is_path_safe(&taxi)).then_some(taxi);
            return MonthFields { taxi_type, year: Some(year), month: Some(month) };
        }
    }
    let found = first.char_indices().find_map(|(i, _)| {
        let preceded_by_digit = first[..i].chars().next_back().is_some_and(|c| c.is_ascii_digit());
        (!preceded_by_digit).then(|| year_month(&first[i..])).flatten()
    });
    match found {
        Some((year, month)) => MonthFields { taxi_type: None, year: Some(year), month: Some(month) },
        None => MonthFields::default(),
    }
}

/// Whether text can be one segment of the output path (no `/`, `..`, spaces or quotes).
pub fn is_path_safe(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks the typed fields; the error says which field to fix and how.
pub fn score_options(taxi_type: &str, year: &str, month: &str, run_id: &str) -> Result<ScoreOptions, String> {
    let taxi_type = taxi_type.trim();
    if !is_path_safe(taxi_type) {
        return Err(format!(
            "The taxi type `{taxi_type}` cannot be part of the output path; use letters, digits, `-` or `_` (e.g. green)."
        ));
    }
    let year: i32 = year
        .trim()
        .parse()
        .ok()
        .filter(|y| (1900..=9999).contains(y))
        .ok_or_else(|| format!("The year `{}` is not a four-digit year.", year.trim()))?;
    let month: u32 = month
        .trim()
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| format!("The month `{}` is not a number from 1 to 12.", month.trim()))?;
    let run_id = run_id.trim();
    if !is_path_safe(run_id) {
        return Err(if run_id.is_empty() {
            "The run id is empty: choose a model, or type the run id the output file is named after."
                .to_string()
        } else {
            format!("The run id `{run_id}` cannot be a file name; use letters, digits, `-` or `_`.")
        });
    }
    Ok(ScoreOptions { taxi_type: taxi_type.to_string(), year, month, run_id: run_id.to_string(), seed: SEED })
}

/// The last segment of the output path: what the downloaded file is called.
pub fn file_name(path: &str) -> String {
    path.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("predictions.parquet").to_string()
}

/// Rows per second, or 0 when the time is too short to measure.
pub fn rows_per_second(rows: usize, seconds: f64) -> f64 {
    if seconds > 0.0 && seconds.is_finite() {
        rows as f64 / seconds
    } else {
        0.0
    }
}

/// A number with thousands separators, e.g. `1 234 567`.
pub fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

// ----- the page -----

fn revoke(url: Option<String>) {
    if let Some(url) = url {
        let _ = web_sys::Url::revoke_object_url(&url);
    }
}

#[component]
pub fn BatchPage() -> impl IntoView {
    let state = AppState::use_context();
    let serving = Serving::use_context();
    let tracking = Tracking::use_context();

    // `None` follows the data: the validation month when it is loaded.
    let chosen_slot = RwSignal::new(None::<Slot>);
    let slot = Memo::new(move |_| {
        chosen_slot.get().unwrap_or_else(|| {
            if state.val_data.with(Option::is_some) || state.train_data.with(Option::is_none) {
                Slot::Validation
            } else {
                Slot::Train
            }
        })
    });
    let label = Memo::new(move |_| state.dataset(slot.get()).with(|d| d.as_ref().map(|d| d.label.clone())));
    let parsed = Memo::new(move |_| label.with(|l| l.as_deref().map(parse_month_label).unwrap_or_default()));
    let any_data = move || state.train_data.with(Option::is_some) || state.val_data.with(Option::is_some);

    // Typed values override what the label says, until another month is picked.
    let typed_taxi = RwSignal::new(None::<String>);
    let typed_year = RwSignal::new(None::<String>);
    let typed_month = RwSignal::new(None::<String>);
    let typed_run = RwSignal::new(None::<String>);
    let taxi = move || {
        typed_taxi.get().unwrap_or_else(|| {
            parsed.with(|p| p.taxi_type.clone()).unwrap_or_else(|| DEFAULT_TAXI_TYPE.to_string())
        })
    };
    let year = move || {
        typed_year.get().unwrap_or_else(|| parsed.with(|p| p.year).unwrap_or(DEFAULT_YEAR).to_string())
    };
    let month = move || {
        typed_month
            .get()
            .unwrap_or_else(|| format!("{:02}", parsed.with(|p| p.month).unwrap_or(DEFAULT_MONTH)))
    };

    // The run the served model came from names the output file, as in the course.
    let resolved_run = LocalResource::new(move || {
        let uri = serving.model_uri.get();
        let ready = tracking.ready.get();
        async move {
            if uri.trim().is_empty() || !ready {
                return None;
            }
            let client = tracking.client()?;
            client.resolve_model_uri(&uri).await.ok().map(|(run_id, _)| run_id)
        }
    });
    let run_id = move || typed_run.get().unwrap_or_else(|| resolved_run.get().flatten().unwrap_or_default());

    let model_ready = Memo::new(move |_| serving.served.with(|s| matches!(s.as_deref(), Some(Ok(_)))));
    let scoring = Memo::new(move |_| state.pending.with(|p| matches!(p, Some(Pending::Score))));
    let problem = RwSignal::new(None::<String>);
    let asked = RwSignal::new(false);

    let score = move |_| {
        problem.set(None);
        let served = serving.served.get_untracked();
        let model = match served.as_deref() {
            Some(Ok(model)) => model.clone(),
            Some(Err(e)) => return problem.set(Some(format!("The chosen model cannot be used: {e}"))),
            None => return problem.set(Some("Choose a model to score with first.".to_string())),
        };
        let slot = slot.get_untracked();
        if state.dataset(slot).with_untracked(Option::is_none) {
            return problem.set(Some(format!("Load a {} month first.", slot.label())));
        }
        let options = match score_options(&taxi(), &year(), &month(), &run_id()) {
            Ok(options) => options,
            Err(message) => return problem.set(Some(message)),
        };
        if state.is_busy() {
            return problem.set(Some("The worker is busy; try again when it is done.".to_string()));
        }
        asked.set(true);
        state.score(slot, model.model.to_json(), model.version.clone(), options);
    };

    let planned_path = move || match score_options(&taxi(), &year(), &month(), &run_id()) {
        Ok(o) => output_path(&o.taxi_type, o.year, o.month, &o.run_id),
        Err(_) => "—".to_string(),
    };

    // The hidden link carries the last file as a Blob URL (the end-to-end test reads it).
    let link = NodeRef::<leptos::html::A>::new();
    let current_url = StoredValue::new(None::<(usize, String)>);
    Effect::new(move |_| {
        let scored = state.scored.get();
        let Some(anchor) = link.get() else { return };
        let key = scored.as_ref().map(|(batch, _)| Arc::as_ptr(batch) as usize);
        if current_url.with_value(|c| c.as_ref().map(|(k, _)| *k)) == key && key.is_some() {
            return;
        }
        revoke(current_url.get_value().map(|(_, url)| url));
        current_url.set_value(None);
        let _ = anchor.remove_attribute("href");
        if let Some((batch, _)) = scored {
            crate::pages::chapter4::mark_step_done('e');
            if let Ok(url) = blob_url(&batch.parquet, PARQUET_MIME) {
                anchor.set_href(&url);
                anchor.set_download(&file_name(&batch.path));
                current_url.set_value(Some((Arc::as_ptr(&batch) as usize, url)));
            }
        }
    });
    on_cleanup(move || revoke(current_url.try_get_value().flatten().map(|(_, url)| url)));

    let download = move |_| {
        if let Some((batch, _)) = state.scored.get_untracked() {
            if let Err(e) = download_bytes(&file_name(&batch.path), PARQUET_MIME, &batch.parquet) {
                problem.set(Some(format!("The download did not start: {e}")));
            }
        }
    };

    let error_text = move || problem.get().or_else(|| asked.get().then(|| state.error.get()).flatten());

    view! {
        <article class="lesson batch-page" data-testid="batch-page">
            <h1>"Batch scoring"</h1>
            <p>
                "The course's " <code>"score.py"</code> ": take a whole month of trips, predict every ride's duration with "
                "the chosen model, and write the rides, the predictions and the model's run id to a parquet file. "
                "It runs in the background worker; the background is in " <a href=Route::Chapter4.path()>"Chapter 4"</a> "."
            </p>
            <section>
                <h2>"1 · The model"</h2>
                <ModelPicker/>
                <Show when=move || !model_ready.get()>
                    <p class="muted">
                        "No model? Train one in " <a href=Route::Chapter1.path()>"Chapter 1"</a>
                        " or register one in " <a href=Route::Chapter2.path()>"Chapter 2"</a> "."
                    </p>
                </Show>
            </section>
            <section>
                <h2>"2 · The month"</h2>
                <Show when=move || !any_data()>
                    <p>
                        "No month is loaded. "
                        <button data-testid="batch-load-defaults" disabled=move || state.is_busy()
                            on:click=move |_| state.load_defaults()>"Load the simulated months"</button>
                        " or load real ones in " <a href=Route::Chapter1.path()>"Chapter 1"</a> "."
                    </p>
                </Show>
                <div class="batch-fields">
                    <label>"Data "
                        <select data-testid="batch-slot" on:change=move |ev| {
                            let value = event_target_value(&ev);
                            chosen_slot.set(Some(if value == "train" { Slot::Train } else { Slot::Validation }));
                            typed_taxi.set(None);
                            typed_year.set(None);
                            typed_month.set(None);
                        }>
                            {[(Slot::Validation, "validation"), (Slot::Train, "train")].into_iter().map(|(s, value)| view! {
                                <option value=value selected=move || slot.get() == s>
                                    {move || format!("{} · {}", s.label(), state.dataset(s).with(|d| {
                                        d.as_ref().map(|d| d.label.clone()).unwrap_or_else(|| "not loaded".to_string())
                                    }))}
                                </option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"Taxi type "
                        <input type="text" size="8" data-testid="batch-taxi-type" prop:value=taxi
                            on:input=move |ev| typed_taxi.set(Some(event_target_value(&ev)))/>
                    </label>
                    <label>"Year "
                        <input type="text" size="5" inputmode="numeric" data-testid="batch-year" prop:value=year
                            on:input=move |ev| typed_year.set(Some(event_target_value(&ev)))/>
                    </label>
                    <label>"Month "
                        <input type="text" size="3" inputmode="numeric" data-testid="batch-month" prop:value=month
                            on:input=move |ev| typed_month.set(Some(event_target_value(&ev)))/>
                    </label>
                    <label>"Run id "
                        <input type="text" size="34" class="mono" data-testid="batch-run" prop:value=run_id
                            spellcheck="false" on:input=move |ev| typed_run.set(Some(event_target_value(&ev)))/>
                    </label>
                </div>
                <p class="muted">"Writes to " <code data-testid="batch-planned-path">{planned_path}</code></p>
            </section>
            <section>
                <h2>"3 · Score"</h2>
                <p>
                    <button class="primary" data-testid="batch-score"
                        disabled=move || scoring.get() || !model_ready.get() || !any_data()
                        on:click=score>
                        {move || if scoring.get() { "Scoring…" } else { "Score the month" }}
                    </button>
                    {move || scoring.get().then(|| view! {
                        <span class="muted">" " {move || state.progress.get().map(|(stage, f)| format!("{stage} · {:.0}%", f * 100.0))}</span>
                    })}
                </p>
                {move || error_text().map(|text| view! { <p class="error" role="alert" data-testid="batch-error">{text}</p> })}
                {move || state.scored.get().map(|(batch, seconds)| view! { <BatchResult batch seconds on_download=download/> })}
                <a class="hidden" data-testid="batch-link" node_ref=link aria-hidden="true" tabindex="-1">"scored file"</a>
            </section>
        </article>
    }
}

#[component]
fn BatchResult(
    batch: Arc<ScoredBatch>,
    seconds: f64,
    on_download: impl Fn(leptos::ev::MouseEvent) + 'static,
) -> impl IntoView {
    let rate = rows_per_second(batch.rows, seconds);
    view! {
        <div class="batch-result">
            <dl class="batch-stats">
                <div><dt>"Rows scored"</dt><dd data-testid="batch-rows" data-value=batch.rows.to_string()>{grouped(batch.rows as f64)}</dd></div>
                <div><dt>"Rows dropped"</dt><dd data-testid="batch-dropped" data-value=batch.dropped.to_string()>{grouped(batch.dropped as f64)}</dd></div>
                <div><dt>"Mean |actual − predicted|"</dt><dd data-testid="batch-diff">{format!("{:.2} min", batch.mean_abs_diff)}</dd></div>
                <div><dt>"Seconds in the worker"</dt><dd data-testid="batch-seconds" data-value=seconds.to_string()>{format!("{seconds:.2}")}</dd></div>
                <div><dt>"Rows per second"</dt><dd data-testid="batch-rate" data-value=format!("{rate:.0}")>{grouped(rate)}</dd></div>
            </dl>
            <p>"Output: " <code data-testid="batch-path">{batch.path.clone()}</code>
                " (" {grouped(batch.parquet.len() as f64)} " bytes)"</p>
            <p>
                <button data-testid="batch-download" on:click=on_download>"Download " {file_name(&batch.path)}</button>
                <span class="muted">" Open it with pandas (" <code>"pd.read_parquet"</code> ") or DuckDB to check the predictions."</span>
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tlc_file_name_gives_every_field() {
        assert_eq!(
            parse_month_label("green_tripdata_2021-02.parquet"),
            MonthFields { taxi_type: Some("green".into()), year: Some(2021), month: Some(2) }
        );
        assert_eq!(
            parse_month_label("data/Yellow_tripdata_2023-11.parquet + yellow_tripdata_2023-12.parquet"),
            MonthFields { taxi_type: Some("yellow".into()), year: Some(2023), month: Some(11) }
        );
    }

    #[test]
    fn a_simulated_label_gives_year_and_month() {
        assert_eq!(
            parse_month_label("Simulated city · 2021-01 · seed 7"),
            MonthFields { taxi_type: None, year: Some(2021), month: Some(1) }
        );
        assert_eq!(parse_month_label("my rides.parquet"), MonthFields::default());
        assert_eq!(parse_month_label("trips 12021-13-99"), MonthFields::default());
        assert_eq!(parse_month_label("x_tripdata_2021-13.parquet"), MonthFields::default());
    }

    #[test]
    fn typed_fields_are_checked() {
        let options = score_options(" green ", "2021", "02", "abc123").expect("valid");
        assert_eq!(
            options,
            ScoreOptions {
                taxi_type: "green".into(),
                year: 2021,
                month: 2,
                run_id: "abc123".into(),
                seed: SEED
            }
        );
        assert!(score_options("gr/een", "2021", "2", "a").expect_err("invalid").contains("taxi type"));
        assert!(score_options("green", "21", "2", "a").expect_err("invalid").contains("year"));
        assert!(score_options("green", "2021", "13", "a").expect_err("invalid").contains("month"));
        assert!(score_options("green", "2021", "1", "").expect_err("invalid").contains("run id is empty"));
        assert!(score_options("green", "2021", "1", "../x").expect_err("invalid").contains("run id"));
    }

    #[test]
    fn file_names_rates_and_numbers() {
        assert_eq!(file_name("taxi_type=green/year=2021/month=02/abc.parquet"), "abc.parquet");
        assert_eq!(file_name(""), "predictions.parquet");
        assert_eq!(rows_per_second(1000, 0.5), 2000.0);
        assert_eq!(rows_per_second(1000, 0.0), 0.0);
        assert_eq!(grouped(1234567.0), "1\u{202f}234\u{202f}567");
        assert_eq!(grouped(999.0), "999");
    }
}
