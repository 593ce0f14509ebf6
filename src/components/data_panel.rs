//! Choosing and inspecting a month: the simulated city, the instructor's catalog, files
//! from disk (picker or drag-and-drop) or a URL — then rows, schema, head, summaries and
//! the duration histogram.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::protocol::{Catalog, DatasetView, Slot, Source};
use mlops_core::simulate::CityParams;
use wasm_bindgen::JsCast;

use crate::components::chart::{histogram_svg, Series, SvgImage, BLUE, ORANGE};
use crate::state::AppState;

/// The simulated month a slot starts with: January for training, February for validation.
pub fn default_source(slot: Slot) -> Source {
    Source::Simulated(CityParams { month: if slot == Slot::Train { 1 } else { 2 }, ..CityParams::default() })
}

/// A file the learner picked, read into a source (the data panel and the compare page).
pub async fn file_bytes(file: web_sys::File) -> Result<Source, String> {
    let name = file.name();
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{name}: the browser could not read the file ({e:?})"))?;
    Ok(Source::File { name, bytes: js_sys::Uint8Array::new(&buffer).to_vec() })
}

/// Downloads a file's bytes, with a message a learner can act on when it fails.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = gloo_net::http::Request::get(url).send().await.map_err(|e| {
        format!("{url}: could not download ({e}); the server must allow this page to read it (CORS)")
    })?;
    if !response.ok() {
        return Err(format!(
            "{url}: the server answered HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    response.binary().await.map_err(|e| format!("{url}: download failed: {e}"))
}

/// Downloads a month from a URL into a slot, or shows why it could not.
fn load_url(state: AppState, slot: Slot, url: String) {
    spawn_local(async move {
        match fetch_bytes(&url).await {
            Ok(bytes) => {
                let name = url.rsplit('/').next().unwrap_or(&url).to_string();
                state.load(slot, vec![Source::File { name, bytes }]);
            }
            Err(e) => state.error.set(Some(e)),
        }
    });
}

fn load_files(state: AppState, slot: Slot, files: Option<web_sys::FileList>) {
    let Some(files) = files else { return };
    let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    if files.is_empty() {
        return;
    }
    spawn_local(async move {
        let mut sources = Vec::new();
        for file in files {
            match file_bytes(file).await {
                Ok(source) => sources.push(source),
                Err(e) => {
                    state.error.set(Some(e));
                    return;
                }
            }
        }
        state.load(slot, sources);
    });
}

#[component]
/// `month_slot`, not `slot`: Leptos' view macro reserves `slot` for component slots.
pub fn DatasetPanel(month_slot: Slot) -> impl IntoView {
    let slot = month_slot;
    let state = AppState::use_context();
    let data = state.dataset(slot);
    let month = RwSignal::new(if slot == Slot::Train { 1u32 } else { 2 });
    let seed = RwSignal::new(CityParams::default().seed);
    let url = RwSignal::new(String::new());
    let dragging = RwSignal::new(false);
    let catalog = LocalResource::new(|| async {
        let response = gloo_net::http::Request::get("data/catalog.json").send().await.ok()?;
        if !response.ok() {
            return None;
        }
        Some(Catalog::parse(&response.text().await.ok()?))
    });
    let id = slot.label();
    let busy = move || state.is_busy();

    let simulate = move |_| {
        let params = CityParams { month: month.get(), seed: seed.get(), ..CityParams::default() };
        state.load(slot, vec![Source::Simulated(params)]);
    };
    let load_typed_url = move |_| {
        let target = url.get().trim().to_string();
        if target.is_empty() {
            state.error.set(Some("Type the address of a .parquet file first".to_string()));
            return;
        }
        load_url(state, slot, target);
    };

    view! {
        <section class="dataset" data-testid=format!("dataset-{id}")>
            <h3>{format!("The {id} month")}</h3>
            <div class="sources">
                <fieldset>
                    <legend>"Simulated city (no download)"</legend>
                    <label>"Month " <select on:change=move |ev| month.set(event_target_value(&ev).parse().unwrap_or(1)) prop:value=move || month.get().to_string()>
                        {(1..=12).map(|m| view! { <option value=m.to_string()>{format!("2021-{m:02}")}</option> }).collect_view()}
                    </select></label>
                    <label>" Seed " <input type="number" min="0" prop:value=move || seed.get().to_string()
                        on:input=move |ev| if let Ok(s) = event_target_value(&ev).parse() { seed.set(s) }/></label>
                    <button on:click=simulate disabled=busy data-testid=format!("simulate-{id}")>"Generate"</button>
                </fieldset>
                <fieldset
                    class:dragging=move || dragging.get()
                    on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); dragging.set(true); }
                    on:dragleave=move |_| dragging.set(false)
                    on:drop=move |ev: web_sys::DragEvent| {
                        ev.prevent_default();
                        dragging.set(false);
                        load_files(state, slot, ev.data_transfer().and_then(|t| t.files()));
                    }
                >
                    <legend>"Your TLC files (drop them here)"</legend>
                    <input type="file" accept=".parquet" multiple data-testid=format!("file-{id}") disabled=busy
                        on:change=move |ev| {
                            let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                            load_files(state, slot, input.and_then(|i| i.files()));
                        }/>
                </fieldset>
                <fieldset>
                    <legend>"From a URL"</legend>
                    <input type="url" placeholder="https://…/green_tripdata_2021-01.parquet" prop:value=move || url.get()
                        on:input=move |ev| url.set(event_target_value(&ev))/>
                    <button on:click=load_typed_url disabled=busy>"Download"</button>
                </fieldset>
                <Suspense fallback=|| ()>
                    {move || catalog.get().flatten().map(|parsed| match parsed {
                        Ok(catalog) => view! {
                            <fieldset>
                                <legend>"Provided by your instructor"</legend>
                                {catalog.files.into_iter().map(|entry| {
                                    let target = Catalog::url_of(&entry);
                                    view! { <button disabled=busy on:click=move |_| load_url(state, slot, target.clone())>
                                        {entry.label}
                                    </button> }
                                }).collect_view()}
                            </fieldset>
                        }.into_any(),
                        Err(e) => view! { <p class="warning">{e}</p> }.into_any(),
                    })}
                </Suspense>
            </div>
            {move || data.get().map(|view| view! { <DatasetSummary view=view/> })}
        </section>
    }
}

#[component]
fn DatasetSummary(view: Arc<DatasetView>) -> impl IntoView {
    let id = view.slot.label();
    let chart = histogram_svg(
        "duration (minutes)",
        &[
            Series {
                label: "before the filter".into(),
                color: BLUE,
                histogram: &view.duration_histogram,
                normalise: false,
            },
            Series {
                label: "kept (1–60 min)".into(),
                color: ORANGE,
                histogram: &view.kept_duration_histogram,
                normalise: false,
            },
        ],
        &[(1.0, "filter: 1 min"), (60.0, "filter: 60 min")],
    );
    let outside = format!("{:.1}%", view.share_outside_filter * 100.0);
    view! {
        <div class="summary">
            <p>
                <strong data-testid=format!("label-{id}")>{view.label.clone()}</strong>
                {view.simulated.then(|| view! { <span class="badge" data-testid="simulated-badge">"simulated data"</span> })}
                " · " <span data-testid=format!("rows-{id}")>{view.n_rows}</span> " rows · "
                {outside} " of durations outside 1–60 min"
            </p>
            <details>
                <summary>"Files and schema"</summary>
                {view.files.iter().map(|(name, info)| view! {
                    <p>{name.clone()} " — " {info.n_rows} " rows, " {info.n_row_groups} " row group(s), written by " {info.created_by.clone().unwrap_or_default()}</p>
                    <table class="schema"><thead><tr><th>"column"</th><th>"type"</th><th>"compression"</th></tr></thead>
                        <tbody>{info.columns.iter().map(|c| view! { <tr><td>{c.name.clone()}</td><td>{c.data_type.clone()}</td><td>{c.compression.clone()}</td></tr> }).collect_view()}</tbody>
                    </table>
                }).collect_view()}
            </details>
            <details>
                <summary>"First rows"</summary>
                <div class="scroll"><table>
                    <thead><tr>{view.head_columns.iter().map(|c| view! { <th>{c.clone()}</th> }).collect_view()}</tr></thead>
                    <tbody>{view.head_rows.iter().map(|row| view! { <tr>{row.iter().map(|v| view! { <td>{v.clone()}</td> }).collect_view()}</tr> }).collect_view()}</tbody>
                </table></div>
            </details>
            <details open>
                <summary>"Column summaries"</summary>
                <div class="scroll"><table class="numbers">
                    <thead><tr><th>"column"</th><th>"count"</th><th>"missing"</th><th>"mean"</th><th>"std"</th><th>"min"</th><th>"25%"</th><th>"50%"</th><th>"75%"</th><th>"max"</th></tr></thead>
                    <tbody>{view.summaries.iter().map(|s| view! { <tr>
                        <td>{s.name.clone()}</td><td>{s.count}</td><td>{s.nulls}</td>
                        <td>{format!("{:.2}", s.mean)}</td><td>{format!("{:.2}", s.std)}</td><td>{format!("{:.2}", s.min)}</td>
                        <td>{format!("{:.2}", s.p25)}</td><td>{format!("{:.2}", s.median)}</td><td>{format!("{:.2}", s.p75)}</td><td>{format!("{:.2}", s.max)}</td>
                    </tr> }).collect_view()}</tbody>
                </table></div>
            </details>
            <SvgImage svg=chart alt="Histogram of trip durations before and after the 1–60 minute filter" testid=format!("duration-chart-{id}")/>
            <p class="muted">{format!("Durations below −10 min: {}, above 90 min: {} (not drawn).", view.duration_histogram.below, view.duration_histogram.above)}</p>
        </div>
    }
}
