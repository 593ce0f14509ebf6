//! One run (`#/runs/<id>`), as MLflow's run view shows it: what ran and when, its params,
//! metrics (with their histories), tags, note, artifacts and logged models — and the step
//! from a logged model to a registered version.
//!
//! Everything a learner typed (names, tags, the note, params) reaches the page as text;
//! the note goes through the sanitising [`Markdown`] renderer, charts and image artifacts
//! through `<img>` data URLs, which cannot run script.

use std::rc::Rc;
use std::sync::Arc;

use base64::Engine;
use leptos::prelude::*;
use mlops_core::models::Model;
use mlops_core::summary::format_utc_millis;
use mlops_core::tracking::registry::ModelVersion;
use mlops_core::tracking::{
    tags, ArtifactInfo, ColumnSpec, LifecycleStage, LoggedModel, Metric, Run, TrackingError,
};

use crate::components::chart::SvgImage;
use crate::components::download::download_bytes;
use crate::components::markdown::Markdown;
use crate::components::run_charts::{format_number, metric_history_svg};
use crate::routes::Route;
use crate::storage::Client;
use crate::tracking_state::Tracking;

/// The registered model chapter 2 builds up, so the learner's first registration needs no typing.
const DEFAULT_MODEL_NAME: &str = "nyc-taxi-regressor";
/// Text artifacts larger than this are shown cut short (the download has all of it).
const PREVIEW_LIMIT: usize = 256 * 1024;

pub fn format_duration(ms: i64) -> String {
    match ms {
        ..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

pub fn format_size(bytes: u64) -> String {
    match bytes {
        ..=1023 => format!("{bytes} B"),
        1024..=1_048_575 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

/// How an artifact can be shown in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArtifactKind {
    Text,
    Json,
    /// An image, with the MIME type its data URL gets (from this fixed list, never from
    /// the stored record).
    Image(&'static str),
    Binary,
}

fn artifact_kind(info: &ArtifactInfo) -> ArtifactKind {
    let mime = info.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let path = info.path.to_ascii_lowercase();
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match (mime.as_str(), extension) {
        ("image/svg+xml", _) | (_, "svg") => ArtifactKind::Image("image/svg+xml"),
        ("image/png", _) | (_, "png") => ArtifactKind::Image("image/png"),
        ("image/jpeg", _) | (_, "jpg" | "jpeg") => ArtifactKind::Image("image/jpeg"),
        ("image/gif", _) | (_, "gif") => ArtifactKind::Image("image/gif"),
        ("image/webp", _) | (_, "webp") => ArtifactKind::Image("image/webp"),
        ("application/json", _) | (_, "json") => ArtifactKind::Json,
        (_, "txt" | "md" | "csv" | "yaml" | "yml" | "log" | "py" | "toml") => ArtifactKind::Text,
        _ if mime.starts_with("text/") || path.ends_with("mlmodel") => ArtifactKind::Text,
        _ => ArtifactKind::Binary,
    }
}

/// An artifact's bytes as something to show.
#[derive(Debug, Clone, PartialEq)]
enum Preview {
    Text { path: String, text: String, cut: bool },
    Image { path: String, data_url: String },
    Unsupported { path: String },
}

fn make_preview(info: &ArtifactInfo, bytes: &[u8]) -> Preview {
    let path = info.path.clone();
    match artifact_kind(info) {
        ArtifactKind::Image(mime) => Preview::Image {
            path,
            data_url: format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
        },
        kind @ (ArtifactKind::Text | ArtifactKind::Json) => {
            let pretty = (kind == ArtifactKind::Json)
                .then(|| serde_json::from_slice::<serde_json::Value>(bytes).ok())
                .flatten()
                .and_then(|value| serde_json::to_string_pretty(&value).ok());
            let mut text = pretty.unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
            let cut = text.len() > PREVIEW_LIMIT;
            if cut {
                let mut end = PREVIEW_LIMIT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            Preview::Text { path, text, cut }
        }
        ArtifactKind::Binary => Preview::Unsupported { path },
    }
}

fn open_client(tracking: Tracking) -> Result<Rc<Client>, String> {
    tracking.open_client().map_err(|e| e.to_string())
}

/// Turns a failed call into a message, and a success into `None`.
fn report<T>(error: RwSignal<Option<String>>, result: Result<T, TrackingError>) -> Option<T> {
    match result {
        Ok(value) => {
            error.set(None);
            Some(value)
        }
        Err(e) => {
            error.set(Some(e.to_string()));
            None
        }
    }
}

#[component]
pub fn RunPage(run_id: String) -> impl IntoView {
    let tracking = Tracking::use_context();
    let id = StoredValue::new(run_id);
    let run = Memo::new(move |_| id.with_value(|id| tracking.run(id)));
    let exists = Memo::new(move |_| run.with(Option::is_some));
    view! {
        <section class="run-page" data-testid="run-page">
            {move || {
                if exists.get() {
                    view! { <RunView id=id.get_value() run/> }.into_any()
                } else if !tracking.ready.get() {
                    view! { <p class="muted">"Opening the run log…"</p> }.into_any()
                } else {
                    view! {
                        <h1>"Run not found"</h1>
                        <p class="error" data-testid="run-not-found">
                            "There is no run with id " <code>{id.get_value()}</code>
                            " in this browser's run log. It may have been purged, or logged in another browser."
                        </p>
                        <p><a href=Route::Runs.path()>"Back to all runs"</a></p>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}

/// The page of a run that exists; `run` follows every change to it.
#[component]
fn RunView(id: String, run: Memo<Option<Arc<Run>>>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let id = StoredValue::new(id);
    view! {
        <Header id run error/>
        <Show when=move || error.with(Option::is_some)>
            <p class="error" role="alert" data-testid="run-error">
                {move || error.get().unwrap_or_default()} " "
                <button on:click=move |_| error.set(None)>"Dismiss"</button>
            </p>
        </Show>
        <NoteSection id run error/>
        <div class="run-grid">
            <ParamsTable run/>
            <MetricsTable run/>
        </div>
        <MetricCharts id run/>
        <TagsSection id run error/>
        <ArtifactsSection id run error/>
        <ModelsSection id run/>
        <VersionsSection id/>
    }
}

#[component]
fn Header(
    id: StoredValue<String>,
    run: Memo<Option<Arc<Run>>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let rename = Action::new_local(move |name: &String| {
        let name = name.trim().to_string();
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            let done = report(error, client.rename_run(&id.get_value(), &name).await);
            if done.is_some() {
                editing.set(false);
            }
            done
        }
    });
    let lifecycle = Action::new_local(move |stage: &LifecycleStage| {
        let stage = *stage;
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            let run_id = id.get_value();
            let result = match stage {
                LifecycleStage::Active => client.restore_run(&run_id).await,
                LifecycleStage::Deleted => client.delete_run(&run_id).await,
            };
            report(error, result)
        }
    });
    let field =
        move |read: fn(&Run) -> String| move || run.with(|r| r.as_deref().map(read).unwrap_or_default());
    let deleted =
        move || run.with(|r| r.as_ref().is_some_and(|r| r.lifecycle_stage == LifecycleStage::Deleted));
    let parent = move || {
        let parent_id = run.with(|r| r.as_ref().and_then(|r| r.parent_run_id().map(str::to_string)))?;
        let name = tracking.run(&parent_id).map(|p| p.run_name.clone()).unwrap_or_else(|| parent_id.clone());
        Some(view! {
            <tr><th>"Parent run"</th><td><a href=Route::Run(parent_id).path() data-testid="parent-run">{name}</a></td></tr>
        })
    };
    let children = move || {
        let own_id = id.get_value();
        let kids: Vec<(String, String)> = tracking.runs.with(|runs| {
            runs.iter()
                .filter(|r| r.parent_run_id() == Some(own_id.as_str()))
                .map(|r| (r.run_id.clone(), r.run_name.clone()))
                .collect()
        });
        (!kids.is_empty()).then(|| {
            view! {
                <tr><th>"Child runs"</th><td>
                    {kids.into_iter().map(|(child_id, name)| view! {
                        <a class="child-run" href=Route::Run(child_id).path() data-testid="child-run">{name}</a>
                    }).collect_view()}
                </td></tr>
            }
        })
    };
    view! {
        <p class="muted breadcrumbs">
            <a href=Route::Runs.path()>"Runs"</a> " / "
            {move || run.with(|r| r.as_ref().map(|r| tracking.experiment_name(&r.experiment_id)).unwrap_or_default())}
        </p>
        <div class="run-title">
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <h1 data-testid="run-name">{field(|r| r.run_name.clone())}</h1>
                    <button data-testid="rename-run" disabled=deleted on:click=move |_| {
                        draft.set(run.with_untracked(|r| r.as_ref().map(|r| r.run_name.clone()).unwrap_or_default()));
                        editing.set(true);
                    }>"Rename"</button>
                }
            >
                <form class="inline-form" on:submit=move |ev| {
                    ev.prevent_default();
                    rename.dispatch(draft.get_untracked());
                }>
                    <input type="text" data-testid="rename-input" aria-label="Run name" maxlength="250"
                        prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))/>
                    <button type="submit" class="primary" data-testid="rename-save"
                        disabled=move || draft.with(|d| d.trim().is_empty()) || rename.pending().get()>"Save"</button>
                    <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                </form>
            </Show>
            <span class=move || format!("status status-{}", field(|r| r.status.as_str().to_ascii_lowercase())())
                data-testid="run-status">{field(|r| r.status.as_str().to_string())}</span>
            <Show when=deleted>
                <span class="badge" data-testid="run-deleted">"deleted"</span>
            </Show>
        </div>
        <div class="run-lifecycle">
            <Show
                when=deleted
                fallback=move || view! {
                    <button data-testid="delete-run" disabled=move || lifecycle.pending().get()
                        on:click=move |_| { lifecycle.dispatch(LifecycleStage::Deleted); }>"Delete run"</button>
                }
            >
                <span class="muted">"This run is deleted: it is hidden from the runs table and cannot be changed. "</span>
                <button class="primary" data-testid="restore-run" disabled=move || lifecycle.pending().get()
                    on:click=move |_| { lifecycle.dispatch(LifecycleStage::Active); }>"Restore"</button>
            </Show>
        </div>
        <table class="run-details">
            <tbody>
                <tr><th>"Run id"</th><td><code data-testid="run-id">{id.get_value()}</code></td></tr>
                <tr><th>"Experiment"</th><td data-testid="run-experiment">
                    {move || run.with(|r| r.as_ref().map(|r| tracking.experiment_name(&r.experiment_id)).unwrap_or_default())}
                </td></tr>
                <tr><th>"Started"</th><td>{field(|r| format_utc_millis(r.start_time))}</td></tr>
                <tr><th>"Ended"</th><td>{field(|r| r.end_time.map(format_utc_millis).unwrap_or_else(|| "—".into()))}</td></tr>
                <tr><th>"Duration"</th><td data-testid="run-duration">
                    {field(|r| r.duration_ms().map(format_duration).unwrap_or_else(|| "still running".into()))}
                </td></tr>
                <tr><th>"User"</th><td>{field(|r| r.user_id.clone())}</td></tr>
                <tr><th>"Source"</th><td>{field(|r| {
                    let name = r.tags.get(tags::SOURCE_NAME).cloned().unwrap_or_default();
                    match r.tags.get(tags::SOURCE_TYPE) {
                        Some(kind) => format!("{name} ({kind})"),
                        None => name,
                    }
                })}</td></tr>
                <tr><th>"Lifecycle"</th><td>{field(|r| r.lifecycle_stage.as_str().to_string())}</td></tr>
                {parent}
                {children}
            </tbody>
        </table>
    }
}

#[component]
fn NoteSection(
    id: StoredValue<String>,
    run: Memo<Option<Arc<Run>>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    let saved_note =
        move || run.with(|r| r.as_ref().and_then(|r| r.note().map(str::to_string)).unwrap_or_default());
    let draft = RwSignal::new(untrack(saved_note));
    let save = Action::new_local(move |text: &String| {
        let text = text.clone();
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            report(error, client.set_tag(&id.get_value(), tags::NOTE, &text).await)
        }
    });
    let unsaved = move || draft.with(|d| *d != saved_note());
    view! {
        <section class="run-note">
            <h2>"Note"</h2>
            <div class="note-rendered" data-testid="note-rendered">
                {move || {
                    let note = saved_note();
                    if note.trim().is_empty() {
                        view! { <p class="muted">"No note yet. Write what you tried and why, in Markdown."</p> }.into_any()
                    } else {
                        view! { <Markdown source=note/> }.into_any()
                    }
                }}
            </div>
            <div class="note-editor">
                <textarea data-testid="note-input" rows="5" aria-label="Run note (Markdown)"
                    prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                <p>
                    <button class="primary" data-testid="note-save" disabled=move || !unsaved() || save.pending().get()
                        on:click=move |_| { save.dispatch(draft.get_untracked()); }>"Save note"</button>
                    <span class="muted">" Markdown; saved as the tag " <code>{tags::NOTE}</code> ", as MLflow does."</span>
                </p>
            </div>
        </section>
    }
}

#[component]
fn ParamsTable(run: Memo<Option<Arc<Run>>>) -> impl IntoView {
    view! {
        <section>
            <h2>"Parameters"</h2>
            {move || run.with(|r| {
                let params: Vec<(String, String)> =
                    r.as_ref().map(|r| r.params.clone().into_iter().collect()).unwrap_or_default();
                if params.is_empty() {
                    return view! { <p class="muted">"No parameters logged."</p> }.into_any();
                }
                view! {
                    <div class="scroll"><table class="kv" data-testid="params-table">
                        <thead><tr><th>"Name"</th><th>"Value"</th></tr></thead>
                        <tbody>
                            {params.into_iter().map(|(key, value)| view! {
                                <tr data-testid="param-row"><td>{key}</td><td class="value">{value}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }
                .into_any()
            })}
        </section>
    }
}

#[component]
fn MetricsTable(run: Memo<Option<Arc<Run>>>) -> impl IntoView {
    view! {
        <section>
            <h2>"Metrics"</h2>
            {move || run.with(|r| {
                let metrics: Vec<_> = r.as_ref().map(|r| r.metrics.clone().into_iter().collect()).unwrap_or_default();
                if metrics.is_empty() {
                    return view! { <p class="muted">"No metrics logged."</p> }.into_any();
                }
                view! {
                    <div class="scroll"><table class="kv numbers" data-testid="metrics-table">
                        <thead><tr><th>"Name"</th><th>"Latest value"</th><th>"Step"</th><th>"Logged at"</th></tr></thead>
                        <tbody>
                            {metrics.into_iter().map(|(key, metric)| view! {
                                <tr data-testid="metric-row">
                                    <td>{key}</td>
                                    <td title=metric.value.to_string()>{format_number(metric.value)}</td>
                                    <td>{metric.step}</td>
                                    <td>{format_utc_millis(metric.timestamp)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }
                .into_any()
            })}
        </section>
    }
}

fn history_charts(all: Vec<(String, Result<Vec<Metric>, String>)>) -> impl IntoView {
    all.into_iter()
        .map(|(key, history)| match history {
            Ok(history) => view! {
                <SvgImage svg=metric_history_svg(&key, &history)
                    alt=format!("History of the metric {key} by step") testid="metric-history-chart"/>
            }
            .into_any(),
            Err(e) => view! { <p class="error">{format!("The history of {key} could not be read: {e}")}</p> }
                .into_any(),
        })
        .collect_view()
}

#[component]
fn MetricCharts(id: StoredValue<String>, run: Memo<Option<Arc<Run>>>) -> impl IntoView {
    let tracking = Tracking::use_context();
    // Histories live apart from the run record; read them again whenever anything changes.
    let histories = LocalResource::new(move || {
        tracking.revision.track();
        let keys: Vec<String> = run
            .with_untracked(|r| r.as_ref().map(|r| r.metrics.keys().cloned().collect()).unwrap_or_default());
        let run_id = id.get_value();
        async move {
            let Some(client) = tracking.client() else { return Vec::new() };
            let mut all = Vec::with_capacity(keys.len());
            for key in keys {
                let history = client.get_metric_history(&run_id, &key).await.map_err(|e| e.to_string());
                all.push((key, history));
            }
            all
        }
    });
    view! {
        <section class="metric-charts">
            {move || histories.get().map(|all| {
                if all.is_empty() {
                    return ().into_any();
                }
                // Metrics logged once (most of chapter 1's) are one dot each: kept, but folded away.
                let (stepped, single): (Vec<_>, Vec<_>) =
                    all.into_iter().partition(|(_, history)| history.as_ref().map_or(true, |h| h.len() > 1));
                let folded = single.len();
                view! {
                    <h2>"Metric histories"</h2>
                    <div class="chart-grid">{history_charts(stepped)}</div>
                    {(folded > 0).then(|| view! {
                        <details class="single-metrics">
                            <summary>{format!("{folded} metric(s) with a single value (one point each)")}</summary>
                            <div class="chart-grid">{history_charts(single)}</div>
                        </details>
                    })}
                }
                .into_any()
            })}
        </section>
    }
}

#[component]
fn TagsSection(
    id: StoredValue<String>,
    run: Memo<Option<Arc<Run>>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    let key = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let set_tag = Action::new_local(move |(tag, text): &(String, String)| {
        let (tag, text) = (tag.trim().to_string(), text.clone());
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            let done = report(error, client.set_tag(&id.get_value(), &tag, &text).await);
            if done.is_some() {
                key.set(String::new());
                value.set(String::new());
            }
            done
        }
    });
    let delete_tag = Action::new_local(move |tag: &String| {
        let tag = tag.clone();
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            report(error, client.delete_tag(&id.get_value(), &tag).await)
        }
    });
    let split = move |system: bool| {
        run.with(|r| {
            r.as_ref()
                .map(|r| {
                    r.tags
                        .iter()
                        .filter(|(k, _)| k.starts_with("mlflow.") == system)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_else(Vec::new)
        })
    };
    let tag_rows = move |rows: Vec<(String, String)>, editable: bool| {
        rows.into_iter()
            .map(|(tag, text)| {
                let (edit_key, edit_value, remove) = (tag.clone(), text.clone(), tag.clone());
                view! {
                    <tr data-testid="tag-row">
                        <td>{tag}</td>
                        <td class="value">{text}</td>
                        <td>
                            {editable.then(|| view! {
                                <button on:click=move |_| { key.set(edit_key.clone()); value.set(edit_value.clone()); }>"Edit"</button>
                                " "
                                <button on:click=move |_| { delete_tag.dispatch(remove.clone()); }>"Delete"</button>
                            })}
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <section class="run-tags">
            <h2>"Tags"</h2>
            {move || {
                let user = split(false);
                if user.is_empty() {
                    view! { <p class="muted">"No tags of your own yet."</p> }.into_any()
                } else {
                    view! {
                        <div class="scroll"><table class="kv" data-testid="tags-table">
                            <thead><tr><th>"Key"</th><th>"Value"</th><th></th></tr></thead>
                            <tbody>{tag_rows(user, true)}</tbody>
                        </table></div>
                    }
                    .into_any()
                }
            }}
            <form class="inline-form" on:submit=move |ev| {
                ev.prevent_default();
                set_tag.dispatch((key.get_untracked(), value.get_untracked()));
            }>
                <input type="text" placeholder="key" aria-label="Tag key" data-testid="tag-key"
                    prop:value=move || key.get() on:input=move |ev| key.set(event_target_value(&ev))/>
                <input type="text" placeholder="value" aria-label="Tag value" data-testid="tag-value"
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                <button type="submit" data-testid="tag-set"
                    disabled=move || key.with(|k| k.trim().is_empty()) || set_tag.pending().get()>"Set tag"</button>
            </form>
            <details class="system-tags">
                <summary>{move || format!("System tags ({})", split(true).len())}</summary>
                <div class="scroll"><table class="kv">
                    <tbody>{move || tag_rows(split(true), false)}</tbody>
                </table></div>
            </details>
        </section>
    }
}

#[component]
fn ArtifactsSection(
    id: StoredValue<String>,
    run: Memo<Option<Arc<Run>>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    let preview = RwSignal::new(None::<Preview>);
    let view_artifact = Action::new_local(move |info: &ArtifactInfo| {
        let info = info.clone();
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            let bytes = report(error, client.download_artifact(&id.get_value(), &info.path).await)?;
            preview.set(Some(make_preview(&info, &bytes)));
            Some(())
        }
    });
    let download = Action::new_local(move |info: &ArtifactInfo| {
        let info = info.clone();
        async move {
            let client = open_client(tracking).map_err(|e| error.set(Some(e))).ok()?;
            let bytes = report(error, client.download_artifact(&id.get_value(), &info.path).await)?;
            let file_name = info.path.rsplit('/').next().unwrap_or("artifact").to_string();
            let mime =
                if info.content_type.is_empty() { "application/octet-stream" } else { &info.content_type };
            if let Err(e) = download_bytes(&file_name, mime, &bytes) {
                error.set(Some(format!("The download did not start: {e}")));
            }
            Some(())
        }
    });
    view! {
        <section class="run-artifacts">
            <h2>"Artifacts"</h2>
            {move || run.with(|r| {
                let artifacts = r.as_ref().map(|r| r.artifacts.clone()).unwrap_or_default();
                if artifacts.is_empty() {
                    return view! { <p class="muted">"No artifacts logged."</p> }.into_any();
                }
                view! {
                    <div class="scroll"><table class="kv" data-testid="artifacts-table">
                        <thead><tr><th>"Path"</th><th>"Size"</th><th>"Type"</th><th></th></tr></thead>
                        <tbody>
                            {artifacts.into_iter().map(|info| {
                                let showable = artifact_kind(&info) != ArtifactKind::Binary;
                                let (to_view, to_download) = (info.clone(), info.clone());
                                view! {
                                    <tr data-testid="artifact-row">
                                        <td><code>{info.path.clone()}</code></td>
                                        <td class="number">{format_size(info.size)}</td>
                                        <td>{info.content_type.clone()}</td>
                                        <td>
                                            {showable.then(|| view! {
                                                <button data-testid="artifact-view"
                                                    on:click=move |_| { view_artifact.dispatch(to_view.clone()); }>"View"</button>
                                                " "
                                            })}
                                            <button data-testid="artifact-download"
                                                on:click=move |_| { download.dispatch(to_download.clone()); }>"Download"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }
                .into_any()
            })}
            {move || preview.get().map(|shown| {
                let (path, body) = match shown {
                    Preview::Text { path, text, cut } => (path, view! {
                        <pre class="artifact-text">{text}</pre>
                        {cut.then(|| view! { <p class="muted">"Only the start is shown; download the file for all of it."</p> })}
                    }.into_any()),
                    Preview::Image { path, data_url } => {
                        let alt = format!("Artifact {path}");
                        (path, view! { <img class="artifact-image" src=data_url alt=alt/> }.into_any())
                    }
                    Preview::Unsupported { path } => (path, view! {
                        <p class="muted">"This file cannot be shown here; download it instead."</p>
                    }.into_any()),
                };
                view! {
                    <div class="artifact-preview" data-testid="artifact-preview">
                        <p><strong>{path}</strong> " " <button on:click=move |_| preview.set(None)>"Close"</button></p>
                        {body}
                    </div>
                }
            })}
        </section>
    }
}

fn signature_table(title: &'static str, columns: Vec<ColumnSpec>) -> impl IntoView {
    view! {
        <div>
            <h4>{title}</h4>
            {if columns.is_empty() {
                view! { <p class="muted">"none recorded"</p> }.into_any()
            } else {
                view! {
                    <table class="kv">
                        <thead><tr><th>"Column"</th><th>"Type"</th></tr></thead>
                        <tbody>
                            {columns.into_iter().map(|c| view! { <tr><td>{c.name}</td><td>{c.kind}</td></tr> }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </div>
    }
}

#[component]
fn ModelsSection(id: StoredValue<String>, run: Memo<Option<Arc<Run>>>) -> impl IntoView {
    // Keyed by artifact path, so a change elsewhere in the run does not reset the forms.
    let models =
        Memo::new(move |_| run.with(|r| r.as_ref().map(|r| r.logged_models.clone()).unwrap_or_default()));
    let deleted = Memo::new(move |_| {
        run.with(|r| r.as_ref().is_some_and(|r| r.lifecycle_stage == LifecycleStage::Deleted))
    });
    view! {
        <section class="run-models">
            <h2>"Logged models"</h2>
            <Show when=move || models.with(Vec::is_empty)>
                <p class="muted">"This run logged no model."</p>
            </Show>
            <For
                each=move || models.get()
                key=|model| model.artifact_path.clone()
                children=move |model| view! { <LoggedModelCard id model deleted/> }
            />
        </section>
    }
}

#[component]
fn LoggedModelCard(id: StoredValue<String>, model: LoggedModel, deleted: Memo<bool>) -> impl IntoView {
    let tracking = Tracking::use_context();
    let name = RwSignal::new(DEFAULT_MODEL_NAME.to_string());
    let artifact_path = StoredValue::new(model.artifact_path.clone());
    let register = Action::new_local(move |model_name: &String| {
        let model_name = model_name.trim().to_string();
        async move {
            let client = open_client(tracking)?;
            let uri = format!("runs:/{}/{}", id.get_value(), artifact_path.get_value());
            client.register_model(&uri, &model_name).await.map_err(|e| e.to_string())
        }
    });
    let result = move || {
        register.value().get().map(|outcome: Result<ModelVersion, String>| match outcome {
            Ok(version) => view! {
                <p class="success" data-testid="register-result">
                    {format!("Version {} of {} created. ", version.version, version.name)}
                    <a href=Route::Model(version.name.clone()).path()>{format!("Open {}", version.name)}</a>
                </p>
            }
            .into_any(),
            Err(e) => view! {
                <p class="error" data-testid="register-result">{format!("Not registered: {e}")}</p>
            }
            .into_any(),
        })
    };
    view! {
        <div class="logged-model" data-testid="logged-model">
            <p>
                <strong><code>{model.artifact_path.clone()}</code></strong>
                " · flavor " <code>{model.flavor.clone()}</code>
                " · logged " {format_utc_millis(model.utc_time_created)}
                " · URI " <code>{format!("runs:/{}/{}", id.get_value(), model.artifact_path)}</code>
            </p>
            <div class="signature">
                {signature_table("Inputs", model.signature.inputs.clone())}
                {signature_table("Outputs", model.signature.outputs.clone())}
            </div>
            <ModelSummary id artifact_path/>
            <form class="inline-form" on:submit=move |ev| {
                ev.prevent_default();
                register.dispatch(name.get_untracked());
            }>
                <label>"Register as "
                    <input type="text" data-testid="register-name" aria-label="Registered model name"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                " "
                <button type="submit" class="primary" data-testid="register-model"
                    disabled=move || deleted.get() || name.with(|n| n.trim().is_empty()) || register.pending().get()>
                    "Register model"
                </button>
            </form>
            {result}
        </div>
    }
}

/// What the logged model is: a linear model's intercept and largest coefficients, or an
/// ensemble's trees, leaves, depth and hyperparameters ([`Model::summary`]).
#[component]
fn ModelSummary(id: StoredValue<String>, artifact_path: StoredValue<String>) -> impl IntoView {
    let tracking = Tracking::use_context();
    let summary = LocalResource::new(move || {
        let run_id = id.get_value();
        let path = format!("{}/model.json", artifact_path.get_value());
        async move {
            let client = open_client(tracking)?;
            let bytes = client.download_artifact(&run_id, &path).await.map_err(|e| e.to_string())?;
            let text = std::str::from_utf8(&bytes).map_err(|e| e.to_string())?;
            Model::from_json(text).map(|model| model.summary()).map_err(|e| e.to_string())
        }
    });
    move || {
        summary.get().map(|found| match found {
            Ok(rows) => view! {
                <table class="kv" data-testid="model-summary">
                    <tbody>
                        {rows.into_iter().map(|(label, value)| view! { <tr><th>{label}</th><td>{value}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any(),
            Err(e) => view! {
                <p class="muted" data-testid="model-summary">{format!("The model file cannot be summarised: {e}")}</p>
            }
            .into_any(),
        })
    }
}

#[component]
fn VersionsSection(id: StoredValue<String>) -> impl IntoView {
    let tracking = Tracking::use_context();
    let versions = LocalResource::new(move || {
        tracking.revision.track();
        let run_id = id.get_value();
        async move {
            let client = open_client(tracking)?;
            client.search_model_versions_by_run(&run_id).await.map_err(|e| e.to_string())
        }
    });
    view! {
        <section class="run-versions" data-testid="run-versions">
            <h2>"Registered versions made from this run"</h2>
            {move || versions.get().map(|found| match found {
                Ok(list) if list.is_empty() => view! {
                    <p class="muted">"None yet: register a logged model above."</p>
                }.into_any(),
                Ok(list) => view! {
                    <table class="kv">
                        <thead><tr><th>"Model"</th><th>"Version"</th><th>"Stage"</th><th>"Source"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|v| view! {
                                <tr data-testid="run-version-row">
                                    <td><a href=Route::Model(v.name.clone()).path()>{v.name.clone()}</a></td>
                                    <td>{v.version}</td>
                                    <td>{v.current_stage.as_str()}</td>
                                    <td><code>{v.source.clone()}</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
                Err(e) => view! { <p class="error">{format!("The registry could not be read: {e}")}</p> }.into_any(),
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(path: &str, content_type: &str) -> ArtifactInfo {
        ArtifactInfo { path: path.into(), size: 0, content_type: content_type.into() }
    }

    #[test]
    fn artifacts_are_shown_by_type_with_a_fixed_image_mime() {
        assert_eq!(
            artifact_kind(&info("plots/a.svg", "image/svg+xml")),
            ArtifactKind::Image("image/svg+xml")
        );
        assert_eq!(
            artifact_kind(&info("a.png", "application/octet-stream")),
            ArtifactKind::Image("image/png")
        );
        assert_eq!(artifact_kind(&info("model/model.json", "application/json")), ArtifactKind::Json);
        assert_eq!(artifact_kind(&info("model/MLmodel", "")), ArtifactKind::Text);
        assert_eq!(artifact_kind(&info("notes", "text/plain; charset=utf-8")), ArtifactKind::Text);
        assert_eq!(artifact_kind(&info("weights.bin", "application/octet-stream")), ArtifactKind::Binary);
    }

    #[test]
    fn previews_pretty_print_json_and_encode_images() {
        let json = make_preview(&info("m.json", "application/json"), br#"{"a":[1,2]}"#);
        assert_eq!(
            json,
            Preview::Text {
                path: "m.json".into(),
                text: "{\n  \"a\": [\n    1,\n    2\n  ]\n}".into(),
                cut: false
            }
        );
        let Preview::Image { data_url, .. } = make_preview(&info("p.svg", "text/html"), b"<svg/>") else {
            panic!("an svg is an image");
        };
        assert!(data_url.starts_with("data:image/svg+xml;base64,"), "{data_url}");
        let big = vec![b'x'; PREVIEW_LIMIT + 10];
        let Preview::Text { text, cut, .. } = make_preview(&info("log.txt", "text/plain"), &big) else {
            panic!("text");
        };
        assert!(cut);
        assert_eq!(text.len(), PREVIEW_LIMIT);
    }

    #[test]
    fn times_sizes_and_durations_read_well() {
        assert_eq!(format_utc_millis(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_duration(850), "850 ms");
        assert_eq!(format_duration(3_250), "3.2 s");
        assert_eq!(format_duration(125_000), "2 min 5 s");
        assert_eq!(format_duration(7_260_000), "2 h 1 min");
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(2048), "2.0 KB");
    }
}
