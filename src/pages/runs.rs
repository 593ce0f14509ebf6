//! Every training, newest first, from the browser's storage.

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::summary::format_timestamp;
use mlops_core::tracking::TrackingStore;

use crate::components::download::download_text;
use crate::state::AppState;

fn metric(run: &mlops_core::tracking::Run, key: &str) -> String {
    run.metrics.get(key).map(|v| format!("{v:.4}")).unwrap_or_default()
}

#[component]
pub fn RunsPage() -> impl IntoView {
    let state = AppState::use_context();
    view! {
        <section class="runs">
            <h1>"Runs"</h1>
            <p>"Each training is a run: its settings (params), its scores (metrics), labels (tags) and the fitted model (an artifact). They are stored in this browser's IndexedDB. Chapter 2 turns this list into a full tracking server."</p>
            <Show when=move || state.runs_loaded.get() fallback=|| view! { <p>"Reading the run log…"</p> }>
                <Show when=move || !state.runs.with(Vec::is_empty) fallback=|| view! { <p data-testid="no-runs">"No runs yet — train a model in Chapter 1."</p> }>
                    <div class="scroll"><table class="numbers" data-testid="runs-table">
                        <thead><tr><th>"started (UTC)"</th><th>"run"</th><th>"status"</th><th>"train data"</th><th>"val data"</th><th>"train RMSE"</th><th>"val RMSE"</th><th>"features"</th><th></th></tr></thead>
                        <tbody>
                            <For each=move || state.runs.get() key=|run| (run.run_id.clone(), run.status, run.metrics.len()) children=move |run| {
                                let id = run.run_id.clone();
                                let id_for_delete = id.clone();
                                let has_model = run.artifacts.iter().any(|a| a == "model.json");
                                view! {
                                    <tr data-testid="run-row" data-run-id=id.clone()>
                                        <td>{format_timestamp(run.start_time * 1000)}</td>
                                        <td title=id.clone()>{run.run_name.clone()}</td>
                                        <td>{run.status.as_str()}</td>
                                        <td>{run.params.get("train_data").cloned().unwrap_or_default()}</td>
                                        <td>{run.params.get("val_data").cloned().unwrap_or_default()}</td>
                                        <td>{metric(&run, "train_rmse")}</td>
                                        <td data-testid="run-val-rmse">{metric(&run, "val_rmse")}</td>
                                        <td>{metric(&run, "n_features")}</td>
                                        <td>
                                            {has_model.then(|| {
                                                let id = id.clone();
                                                view! { <button on:click=move |_| {
                                                    let id = id.clone();
                                                    spawn_local(async move {
                                                        let Some(store) = state.store() else { return };
                                                        match store.get_artifact(&id, "model.json").await {
                                                            Ok(Some(json)) => { let _ = download_text(&format!("model-{id}.json"), "application/json", &json); }
                                                            Ok(None) => state.error.set(Some("this run has no model file".into())),
                                                            Err(e) => state.error.set(Some(e.to_string())),
                                                        }
                                                    });
                                                }>"model"</button> }
                                            })}
                                            " " <button on:click=move |_| state.delete_run(id_for_delete.clone())>"delete"</button>
                                        </td>
                                    </tr>
                                }
                            }/>
                        </tbody>
                    </table></div>
                </Show>
            </Show>
        </section>
    }
}
