//! Two whole files compared (Chapter 5): a reference and a current month — simulated,
//! from the instructor's catalog or from disk — every column they share, with the
//! learner's choice of test and threshold per column and of the dataset drift share.
//! The report is computed in the worker and shown with [`DriftReportView`].

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::drift::{ColumnOverride, DriftOptions, StatTest};
use mlops_core::protocol::{Catalog, Source};
use mlops_core::simulate::CityParams;
use wasm_bindgen::JsCast;

use crate::components::data_panel::{fetch_bytes, file_bytes};
use crate::components::drift_report::DriftReportView;
use crate::routes::Route;
use crate::state::{AppState, Pending};

// ----- the pure part -----

/// One override as typed: empty test or threshold means "Evidently's default".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OverrideRow {
    pub id: u32,
    pub column: String,
    /// A test's name (`StatTest::name`, Evidently's spelling), or empty.
    pub test: String,
    pub threshold: String,
}

/// Reads the typed options; the error names the field to fix.
pub fn drift_options(drift_share: &str, rows: &[OverrideRow]) -> Result<DriftOptions, String> {
    let share_text = drift_share.trim();
    let drift_share: f64 =
        share_text.parse().ok().filter(|s: &f64| *s > 0.0 && *s <= 1.0).ok_or_else(|| {
            format!(
                "The drift share `{share_text}` must be a number above 0 and at most 1 (Evidently uses 0.5)."
            )
        })?;
    let mut overrides = BTreeMap::new();
    for row in rows {
        let column = row.column.trim();
        let (test_text, threshold_text) = (row.test.trim(), row.threshold.trim());
        if column.is_empty() {
            if test_text.is_empty() && threshold_text.is_empty() {
                continue;
            }
            return Err("An override has a test or threshold but no column name.".to_string());
        }
        let test = if test_text.is_empty() {
            None
        } else {
            Some(
                StatTest::parse(test_text)
                    .ok_or_else(|| format!("`{test_text}` is not a test this report knows."))?,
            )
        };
        let threshold = if threshold_text.is_empty() {
            None
        } else {
            let value: f64 =
                threshold_text.parse().ok().filter(|t: &f64| t.is_finite() && *t > 0.0).ok_or_else(|| {
                    format!("The threshold `{threshold_text}` for `{column}` must be a positive number.")
                })?;
            if test.is_some_and(StatTest::is_p_value) && value >= 1.0 {
                return Err(format!(
                    "The threshold for `{column}` is a p-value cut-off, so it must be below 1 (0.05 is usual)."
                ));
            }
            Some(value)
        };
        if test.is_none() && threshold.is_none() {
            continue;
        }
        if overrides.insert(column.to_string(), ColumnOverride { test, threshold }).is_some() {
            return Err(format!("`{column}` has two overrides; keep one."));
        }
    }
    Ok(DriftOptions { drift_share, overrides })
}

/// What a side holds, in words: labels joined with " + ".
pub fn sources_label(sources: &[Source]) -> String {
    if sources.is_empty() {
        return "nothing chosen".to_string();
    }
    sources.iter().map(Source::label).collect::<Vec<_>>().join(" + ")
}

fn simulated(month: u32) -> Arc<Vec<Source>> {
    Arc::new(vec![Source::Simulated(CityParams { month, ..CityParams::default() })])
}

// ----- the page -----

#[component]
pub fn DriftComparePage() -> impl IntoView {
    let state = AppState::use_context();
    let reference = RwSignal::new(simulated(1));
    let current = RwSignal::new(simulated(2));
    let loading = RwSignal::new(0_u32);
    let problem = RwSignal::new(None::<String>);
    let asked = RwSignal::new(false);
    let drift_share = RwSignal::new("0.5".to_string());
    let rows = RwSignal::new(Vec::<OverrideRow>::new());
    let next_id = StoredValue::new(0_u32);

    let catalog = LocalResource::new(|| async {
        let response = gloo_net::http::Request::get("data/catalog.json").send().await.ok()?;
        if !response.ok() {
            return None;
        }
        Catalog::parse(&response.text().await.ok()?).ok()
    });
    let catalog = Signal::derive(move || catalog.get().flatten());

    // A finished comparison ticks Chapter 5's step e, even if the learner never goes back.
    Effect::new(move |_| {
        if state.drift_result.with(Option::is_some) {
            crate::pages::chapter5::mark_step_done('e');
        }
    });

    let known_columns = Memo::new(move |_| {
        state
            .drift_result
            .with(|r| r.as_ref().map(|r| r.report.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>()))
            .unwrap_or_default()
    });
    let running = move || matches!(state.pending.get(), Some(Pending::Drift));
    let blocked = move || state.is_busy() || loading.get() > 0;

    let add_row = move |_| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        rows.update(|rows| rows.push(OverrideRow { id, ..OverrideRow::default() }));
    };
    let edit = move |id: u32, change: Box<dyn FnOnce(&mut OverrideRow)>| {
        rows.update(|rows| {
            if let Some(row) = rows.iter_mut().find(|r| r.id == id) {
                change(row);
            }
        });
    };
    let run = move |_| {
        problem.set(None);
        match drift_options(&drift_share.get_untracked(), &rows.get_untracked()) {
            Err(e) => problem.set(Some(e)),
            Ok(options) => {
                let (reference, current) = (reference.get_untracked(), current.get_untracked());
                if reference.is_empty() || current.is_empty() {
                    problem.set(Some("Choose a reference and a current file first.".to_string()));
                    return;
                }
                asked.set(true);
                state.drift((*reference).clone(), (*current).clone(), options);
            }
        }
    };
    let error_text = move || problem.get().or_else(|| asked.get().then(|| state.error.get()).flatten());

    view! {
        <article class="lesson drift-compare-page" data-testid="drift-compare">
            <p class="breadcrumbs"><a href=Route::Chapter5.path()>"Chapter 5"</a> " › "
                <a href=Route::Monitoring.path()>"Monitoring"</a> " › compare two files"</p>
            <h1>"Compare two files"</h1>
            <p>
                "The dashboard compares one day with a reference. Here you compare two whole files: "
                "every column they share gets a test, chosen by the same rules Evidently uses, unless you choose one below. "
                "Start with the simulated January against February, then try your own months."
            </p>
            <div class="compare-sides">
                <SidePicker title="Reference" side="reference" chosen=reference loading problem catalog/>
                <SidePicker title="Current" side="current" chosen=current loading problem catalog/>
            </div>

            <details class="compare-options" data-testid="compare-options">
                <summary>"Options: drift share and per-column tests"</summary>
                <p>
                    <label>"Dataset drift when at least this share of columns drifted: "
                        <input type="text" size="5" data-testid="compare-drift-share" prop:value=move || drift_share.get()
                            on:input=move |ev| drift_share.set(event_target_value(&ev))/>
                    </label>
                </p>
                <p class="muted">
                    "Leave the test empty to keep Evidently's choice and the threshold empty to keep the test's default. "
                    "P-value tests call drift below their threshold; distances call it at or above."
                </p>
                <datalist id="drift-compare-columns">
                    {move || known_columns.get().into_iter().map(|name| view! { <option value=name/> }).collect_view()}
                </datalist>
                <table class="overrides">
                    <thead><tr><th>"column"</th><th>"test"</th><th>"threshold"</th><th></th></tr></thead>
                    <tbody>
                        <For each=move || rows.get() key=|row| row.id let:row>
                            {
                                let id = row.id;
                                view! {
                                    <tr data-testid="override-row">
                                        <td><input type="text" list="drift-compare-columns" placeholder="trip_distance"
                                            data-testid="override-column" prop:value=row.column.clone()
                                            on:input=move |ev| { let v = event_target_value(&ev); edit(id, Box::new(move |r| r.column = v)); }/></td>
                                        <td><select data-testid="override-test"
                                            on:change=move |ev| { let v = event_target_value(&ev); edit(id, Box::new(move |r| r.test = v)); }>
                                            <option value="" selected=row.test.is_empty()>"Evidently's choice"</option>
                                            {StatTest::ALL.into_iter().map(|test| view! {
                                                <option value=test.name() selected=row.test == test.name()>{test.display_name()}</option>
                                            }).collect_view()}
                                        </select></td>
                                        <td><input type="text" size="7" placeholder="default" data-testid="override-threshold"
                                            prop:value=row.threshold.clone()
                                            on:input=move |ev| { let v = event_target_value(&ev); edit(id, Box::new(move |r| r.threshold = v)); }/></td>
                                        <td><button class="small" title="Remove this override"
                                            on:click=move |_| rows.update(|rows| rows.retain(|r| r.id != id))>"✕"</button></td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
                <p><button data-testid="override-add" on:click=add_row>"Add an override"</button></p>
            </details>

            <p>
                <button class="primary" data-testid="compare-run" disabled=blocked on:click=run>
                    {move || if running() { "Comparing…" } else { "Compare" }}
                </button>
                {move || (loading.get() > 0).then(|| view! { <span class="muted">" Reading the files…"</span> })}
            </p>
            {move || error_text().map(|text| view! { <p class="error" role="alert" data-testid="compare-error">{text}</p> })}

            {move || state.drift_result.get().map(|result| view! {
                <div data-testid="compare-report">
                    <p class="muted" data-testid="compare-seconds">
                        {format!("{} against {} · computed in the worker in {:.2} s.", result.current_label, result.reference_label, result.seconds)}
                    </p>
                    <DriftReportView report=Arc::new(result.report.clone())
                        reference_label=result.reference_label.clone() current_label=result.current_label.clone()/>
                </div>
            })}
        </article>
    }
}

/// Where one side's data comes from: a simulated month, the instructor's catalog or files.
#[component]
fn SidePicker(
    title: &'static str,
    side: &'static str,
    chosen: RwSignal<Arc<Vec<Source>>>,
    loading: RwSignal<u32>,
    problem: RwSignal<Option<String>>,
    catalog: Signal<Option<Catalog>>,
) -> impl IntoView {
    let state = AppState::use_context();
    let default_month = if side == "reference" { 1 } else { 2 };
    let month = RwSignal::new(default_month);
    let seed = RwSignal::new(CityParams::default().seed);
    let speed = RwSignal::new("1".to_string());
    let busy = move || state.is_busy() || loading.get() > 0;

    let use_simulated = move |_| {
        let speed_text = speed.get_untracked();
        let Some(speed_factor) = speed_text.trim().parse::<f64>().ok().filter(|s| (0.2..=3.0).contains(s))
        else {
            problem.set(Some(format!(
                "The speed factor `{}` must be a number from 0.2 to 3.",
                speed_text.trim()
            )));
            return;
        };
        problem.set(None);
        let params = CityParams {
            month: month.get_untracked(),
            seed: seed.get_untracked(),
            speed_factor,
            ..CityParams::default()
        };
        chosen.set(Arc::new(vec![Source::Simulated(params)]));
    };
    let use_files = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        if files.is_empty() {
            return;
        }
        problem.set(None);
        loading.update(|n| *n += 1);
        spawn_local(async move {
            let mut sources = Vec::new();
            for file in files {
                match file_bytes(file).await {
                    Ok(source) => sources.push(source),
                    Err(e) => {
                        problem.set(Some(e));
                        sources.clear();
                        break;
                    }
                }
            }
            if !sources.is_empty() {
                chosen.set(Arc::new(sources));
            }
            loading.update(|n| *n -= 1);
        });
    };
    let use_url = move |url: String| {
        problem.set(None);
        loading.update(|n| *n += 1);
        spawn_local(async move {
            match fetch_bytes(&url).await {
                Ok(bytes) => {
                    let name = url.rsplit('/').next().unwrap_or(&url).to_string();
                    chosen.set(Arc::new(vec![Source::File { name, bytes }]));
                }
                Err(e) => problem.set(Some(e)),
            }
            loading.update(|n| *n -= 1);
        });
    };

    view! {
        <section class="compare-side" data-testid=format!("compare-{side}")>
            <h2>{title}</h2>
            <p class="chosen">"Chosen: " <strong data-testid=format!("compare-{side}-label")>{move || chosen.with(|s| sources_label(s))}</strong></p>
            <fieldset>
                <legend>"Simulated city"</legend>
                <label>"Month " <select prop:value=move || month.get().to_string()
                    on:change=move |ev| month.set(event_target_value(&ev).parse().unwrap_or(default_month))>
                    {(1..=12).map(|m| view! { <option value=m.to_string() selected=m == default_month>{format!("2021-{m:02}")}</option> }).collect_view()}
                </select></label>
                <label>" Seed " <input type="number" min="0" class="seed" prop:value=move || seed.get().to_string()
                    on:input=move |ev| if let Ok(s) = event_target_value(&ev).parse() { seed.set(s) }/></label>
                <label title="Below 1, trips take longer (a snowy month)">" Speed × " <input type="text" size="4"
                    prop:value=move || speed.get() on:input=move |ev| speed.set(event_target_value(&ev))/></label>
                " " <button disabled=busy on:click=use_simulated data-testid=format!("compare-{side}-simulate")>"Use"</button>
            </fieldset>
            <fieldset>
                <legend>"Your parquet files"</legend>
                <input type="file" accept=".parquet" multiple disabled=busy data-testid=format!("compare-{side}-file")
                    on:change=move |ev| {
                        let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                        use_files(input.and_then(|i| i.files()));
                    }/>
            </fieldset>
            {move || catalog.get().map(|catalog| view! {
                <fieldset>
                    <legend>"Provided by your instructor"</legend>
                    {catalog.files.into_iter().map(|entry| {
                        let url = Catalog::url_of(&entry);
                        view! { <button disabled=busy on:click=move |_| use_url(url.clone())>{entry.label}</button> }
                    }).collect_view()}
                </fieldset>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlops_core::drift::StatTest;

    fn row(column: &str, test: &str, threshold: &str) -> OverrideRow {
        OverrideRow { id: 0, column: column.into(), test: test.into(), threshold: threshold.into() }
    }

    #[test]
    fn typed_overrides_become_options_and_blank_rows_are_ignored() {
        let options = drift_options(
            " 0.3 ",
            &[
                row("trip_distance", "psi", "0.2"),
                row("", "", ""),
                row("PULocationID", "", "0.05"),
                row("x", "", ""),
            ],
        )
        .expect("valid options");
        assert_eq!(options.drift_share, 0.3);
        assert_eq!(options.overrides.len(), 2);
        assert_eq!(
            options.overrides["trip_distance"],
            ColumnOverride { test: Some(StatTest::Psi), threshold: Some(0.2) }
        );
        assert_eq!(options.overrides["PULocationID"], ColumnOverride { test: None, threshold: Some(0.05) });
        assert_eq!(drift_options("0.5", &[]).expect("defaults"), DriftOptions::default());
    }

    #[test]
    fn each_mistake_gets_a_message_naming_the_field() {
        assert!(drift_options("0", &[]).expect_err("a mistake").contains("drift share `0`"));
        assert!(drift_options("half", &[]).expect_err("a mistake").contains("drift share `half`"));
        assert!(drift_options("0.5", &[row("", "ks", "")])
            .expect_err("a mistake")
            .contains("no column name"));
        assert!(drift_options("0.5", &[row("a", "magic", "")]).expect_err("a mistake").contains("`magic`"));
        assert!(drift_options("0.5", &[row("a", "", "-1")]).expect_err("a mistake").contains("for `a`"));
        assert!(drift_options("0.5", &[row("a", "ks", "1.5")]).expect_err("a mistake").contains("below 1"));
        assert!(drift_options("0.5", &[row("a", "ks", ""), row(" a ", "z", "")])
            .expect_err("a mistake")
            .contains("two overrides"));
        // A distance may have a threshold above 1.
        assert!(drift_options("0.5", &[row("a", "psi", "1.5")]).is_ok());
    }

    #[test]
    fn a_side_is_labelled_by_its_sources() {
        assert_eq!(sources_label(&[]), "nothing chosen");
        let files = [
            Source::File { name: "a.parquet".into(), bytes: vec![] },
            Source::File { name: "b.parquet".into(), bytes: vec![] },
        ];
        assert_eq!(sources_label(&files), "a.parquet + b.parquet");
        assert_eq!(sources_label(&simulated(2)), "Simulated city · 2021-02 · seed 42");
    }
}
