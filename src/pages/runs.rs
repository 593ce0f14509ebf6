//! The runs page (`#/runs`): experiments on the left; on the right MLflow's filter language
//! (with `OR` and parentheses), a view switch, a column picker, multi-key sorting and a
//! virtualised table, bulk actions, export and import.
//!
//! Filtering and sorting run in memory over [`Tracking::runs`] inside memos, so typing a
//! filter never reads IndexedDB; the table renders only the rows in view.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::tracking::search::{parse_filter, parse_order_by, search, Filter, OrderBy, SearchError};
use mlops_core::tracking::transfer::{parse_bundle, ImportReport, MAX_IMPORT_BYTES};
use mlops_core::tracking::{Experiment, LifecycleStage, Run, ViewType, DEFAULT_EXPERIMENT_ID};

use crate::components::download::download_text;
use crate::components::runs_table::{
    collect_column_keys, decode_columns, default_columns, display_name, encode_columns, nest_under_parents,
    toggle_column, Column, ColumnKeys, ParentRef, RunRow, RunsTable, SortClause,
};
use crate::routes::Route;
use crate::state::AppState;
use crate::storage::prefs;
use crate::tracking_state::Tracking;

/// How long typing must pause before the filter is applied (Enter applies at once).
const FILTER_DEBOUNCE: Duration = Duration::from_millis(180);
const COLUMNS_KEY_PREFIX: &str = "mlops-lab-run-columns:";

/// Filters a learner can click to see the language at work.
const FILTER_EXAMPLES: [&str; 6] = [
    "metrics.rmse < 7",
    "params.model = 'Lasso' OR params.model = 'Ridge'",
    "(params.model = 'Lasso' OR params.model = 'Ridge') AND metrics.val_rmse < 8",
    "params.model LIKE '%Regression'",
    "status = 'FAILED'",
    "tags.mlflow.parentRunId IS NOT NULL",
];

/// Arcs compare by address: a list only changes when a new one was built.
fn arc_changed<T>(old: Option<&Arc<T>>, new: Option<&Arc<T>>) -> bool {
    match (old, new) {
        (Some(old), Some(new)) => !Arc::ptr_eq(old, new),
        _ => true,
    }
}

fn view_label(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "active",
        ViewType::DeletedOnly => "deleted",
        ViewType::All => "all",
    }
}

/// The same query for `mlflow.search_runs` in Python, so learners can take it to a server.
fn python_query(experiment_id: &str, filter: &str, order_by: &[String], view: ViewType) -> String {
    let quote = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let order: Vec<String> = order_by.iter().map(|clause| quote(clause)).collect();
    let view = match view {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    };
    format!(
        "mlflow.search_runs(\n    experiment_ids=[{}],\n    filter_string={},\n    order_by=[{}],\n    run_view_type=ViewType.{view},\n)",
        quote(experiment_id),
        quote(filter.trim()),
        order.join(", ")
    )
}

fn describe_import(report: &ImportReport) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut text = format!(
        "Imported {}, {} and {}.",
        plural(report.runs_imported, "run"),
        plural(report.experiments_created, "new experiment"),
        plural(report.models_imported, "registered model"),
    );
    if !report.runs_skipped.is_empty() {
        text.push_str(&format!(
            " Kept {} already here (same id).",
            plural(report.runs_skipped.len(), "local run")
        ));
    }
    if !report.models_skipped.is_empty() {
        text.push_str(&format!(
            " Kept the local model{} {}.",
            if report.models_skipped.len() == 1 { "" } else { "s" },
            report.models_skipped.join(", ")
        ));
    }
    text
}

fn saved_columns(experiment_id: &str) -> Option<Vec<Column>> {
    let text = prefs::get(&format!("{COLUMNS_KEY_PREFIX}{experiment_id}"))?;
    decode_columns(&text)
}

fn save_columns(experiment_id: &str, columns: &[Column]) {
    prefs::set(&format!("{COLUMNS_KEY_PREFIX}{experiment_id}"), &encode_columns(columns));
}

fn forget_columns(experiment_id: &str) {
    prefs::remove(&format!("{COLUMNS_KEY_PREFIX}{experiment_id}"));
}

async fn read_file(file: web_sys::File) -> Result<Vec<u8>, String> {
    let name = file.name();
    if file.size() > MAX_IMPORT_BYTES as f64 {
        return Err(format!(
            "{name} is {:.0} MB; the import limit is {} MB",
            file.size() / 1_048_576.0,
            MAX_IMPORT_BYTES >> 20
        ));
    }
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{name}: the browser could not read the file ({e:?})"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

fn export_file_name(what: &str) -> String {
    let stamp: String = js_sys::Date::new_0()
        .to_iso_string()
        .as_string()
        .unwrap_or_default()
        .chars()
        .take(19)
        .map(|c| if c == ':' { '-' } else { c })
        .collect();
    format!("mlops-lab-{what}-{stamp}.json")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BulkOp {
    Delete,
    Restore,
    Purge,
}

impl BulkOp {
    fn doing(self) -> &'static str {
        match self {
            BulkOp::Delete => "Deleting",
            BulkOp::Restore => "Restoring",
            BulkOp::Purge => "Purging",
        }
    }

    fn done(self) -> &'static str {
        match self {
            BulkOp::Delete => "Deleted",
            BulkOp::Restore => "Restored",
            BulkOp::Purge => "Purged",
        }
    }
}

/// Messages of the page: what happened, what went wrong, what is in progress.
#[derive(Clone, Copy)]
struct Feedback {
    notice: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    busy: RwSignal<Option<String>>,
}

impl Feedback {
    fn new() -> Self {
        Self { notice: RwSignal::new(None), error: RwSignal::new(None), busy: RwSignal::new(None) }
    }

    fn start(&self, what: String) {
        self.error.set(None);
        self.notice.set(None);
        self.busy.set(Some(what));
    }

    fn finish(&self, result: Result<String, String>) {
        self.busy.set(None);
        match result {
            Ok(notice) => self.notice.set(Some(notice)),
            Err(error) => self.error.set(Some(error)),
        }
    }
}

#[component]
pub fn RunsPage() -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let active = state.active_experiment;

    let view_type = RwSignal::new(ViewType::ActiveOnly);
    let filter_text = RwSignal::new(String::new());
    let applied_filter = RwSignal::new(String::new());
    let typing = StoredValue::new(0u64);
    let sort = RwSignal::new(Vec::<SortClause>::new());
    let group_children = RwSignal::new(true);
    let selected = RwSignal::new(HashSet::<String>::new());
    let column_choices = RwSignal::new(HashMap::<String, Vec<Column>>::new());
    let feedback = Feedback::new();
    let import_report = RwSignal::new(None::<String>);

    // ----- derived data, all in memory -----
    let experiment_runs = Memo::new_with_compare(
        move |_| {
            let experiment = active.get();
            tracking.runs.with(|runs| {
                Arc::new(runs.iter().filter(|r| r.experiment_id == experiment).cloned().collect::<Vec<_>>())
            })
        },
        arc_changed,
    );
    let in_view = Memo::new_with_compare(
        move |_| {
            let view = view_type.get();
            experiment_runs.with(|runs| {
                Arc::new(
                    runs.iter().filter(|r| view.includes(r.lifecycle_stage)).cloned().collect::<Vec<_>>(),
                )
            })
        },
        arc_changed,
    );
    let column_keys: Memo<ColumnKeys> =
        Memo::new(move |_| experiment_runs.with(|runs| collect_column_keys(runs.iter().map(|r| r.as_ref()))));
    let columns: Memo<Vec<Column>> = Memo::new(move |_| {
        let experiment = active.get();
        column_choices
            .with(|choices| choices.get(&experiment).cloned())
            .or_else(|| saved_columns(&experiment))
            .unwrap_or_else(|| column_keys.with(default_columns))
    });
    let parsed_filter: Memo<Result<Filter, SearchError>> =
        Memo::new(move |_| applied_filter.with(|text| parse_filter(text)));
    // While the text has an error, the table keeps the last filter that parsed.
    let filter: Memo<Filter> = Memo::new(move |previous: Option<&Filter>| match parsed_filter.get() {
        Ok(filter) => filter,
        Err(_) => previous.cloned().unwrap_or_default(),
    });
    let order_texts =
        Memo::new(move |_| sort.with(|clauses| clauses.iter().map(SortClause::text).collect::<Vec<_>>()));
    let order: Memo<Result<Vec<OrderBy>, String>> =
        Memo::new(move |_| order_texts.with(|clauses| parse_order_by(clauses).map_err(|e| e.to_string())));
    let rows = Memo::new_with_compare(
        move |_| {
            let order = order.get().unwrap_or_default();
            let nest = group_children.get();
            let found =
                in_view.with(|runs| filter.with(|f| search(runs.iter().map(|r| r.as_ref()), f, &order)));
            let names: HashMap<String, String> = experiment_runs
                .with(|runs| runs.iter().map(|r| (r.run_id.clone(), display_name(r))).collect());
            let parent_of = |run: &Run| {
                run.parent_run_id().map(|id| ParentRef {
                    run_id: id.to_string(),
                    name: names.get(id).cloned().unwrap_or_else(|| id.chars().take(8).collect()),
                })
            };
            let placement: Vec<(usize, u16)> =
                if nest { nest_under_parents(&found) } else { (0..found.len()).map(|i| (i, 0)).collect() };
            let mut found: Vec<Option<Run>> = found.into_iter().map(Some).collect();
            let rows: Vec<RunRow> = placement
                .into_iter()
                .filter_map(|(i, depth)| {
                    let run = found.get_mut(i)?.take()?;
                    let parent = parent_of(&run);
                    Some(RunRow { run: Arc::new(run), depth, parent })
                })
                .collect();
            Arc::new(rows)
        },
        arc_changed,
    );
    // Only runs that are listed count as selected, so a bulk action never touches a run
    // the learner cannot see.
    let chosen = Memo::new(move |_| {
        rows.with(|rows| {
            selected.with(|s| {
                rows.iter()
                    .filter(|r| s.contains(&r.run.run_id))
                    .map(|r| r.run.run_id.clone())
                    .collect::<Vec<_>>()
            })
        })
    });
    let experiments_active = Memo::new(move |_| {
        tracking.experiments.with(|all| {
            all.iter()
                .filter(|e| e.lifecycle_stage == LifecycleStage::Active)
                .cloned()
                .collect::<Vec<Experiment>>()
        })
    });
    let experiments_deleted = Memo::new(move |_| {
        tracking.experiments.with(|all| {
            all.iter()
                .filter(|e| e.lifecycle_stage == LifecycleStage::Deleted)
                .cloned()
                .collect::<Vec<Experiment>>()
        })
    });
    let run_counts = Memo::new(move |_| {
        tracking.runs.with(|runs| {
            let mut counts = HashMap::<String, usize>::new();
            for run in runs.iter().filter(|r| r.lifecycle_stage == LifecycleStage::Active) {
                *counts.entry(run.experiment_id.clone()).or_default() += 1;
            }
            counts
        })
    });
    let active_is_deleted = move || {
        let experiment = active.get();
        experiments_deleted.with(|deleted| deleted.iter().any(|e| e.experiment_id == experiment))
    };

    // ----- filter input -----
    let apply_now = move || {
        typing.update_value(|n| *n += 1);
        applied_filter.set(filter_text.get_untracked());
    };
    let on_filter_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        filter_text.set(text.clone());
        typing.update_value(|n| *n += 1);
        let mine = typing.get_value();
        set_timeout(
            move || {
                if typing.try_get_value() == Some(mine) {
                    applied_filter.try_set(text);
                }
            },
            FILTER_DEBOUNCE,
        );
    };
    let use_example = move |example: &'static str| {
        filter_text.set(example.to_string());
        apply_now();
    };

    // ----- columns -----
    let choose_columns = move |next: Vec<Column>| {
        let experiment = active.get_untracked();
        save_columns(&experiment, &next);
        column_choices.update(|choices| {
            choices.insert(experiment, next);
        });
    };
    let reset_columns = move |_| {
        let experiment = active.get_untracked();
        forget_columns(&experiment);
        column_choices.update(|choices| {
            choices.remove(&experiment);
        });
    };

    // ----- bulk actions -----
    let bulk = move |op: BulkOp| {
        let ids = chosen.get_untracked();
        if ids.is_empty() {
            return;
        }
        if op == BulkOp::Purge {
            let question = format!(
                "Purge {} run{} for good? Their metrics, files and models are removed and cannot be restored.",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            );
            if !window().confirm_with_message(&question).unwrap_or(false) {
                return;
            }
        }
        let client = match tracking.open_client() {
            Ok(client) => client,
            Err(e) => return feedback.error.set(Some(e.to_string())),
        };
        feedback.start(format!("{} {} runs…", op.doing(), ids.len()));
        spawn_local(async move {
            let mut failed = Vec::new();
            for (done, run_id) in ids.iter().enumerate() {
                if done % 25 == 0 {
                    feedback.busy.try_set(Some(format!("{} runs… {done} of {}", op.doing(), ids.len())));
                }
                let result = match op {
                    BulkOp::Delete => client.delete_run(run_id).await,
                    BulkOp::Restore => client.restore_run(run_id).await,
                    BulkOp::Purge => client.purge_run(run_id).await,
                };
                if let Err(e) = result {
                    failed.push(e.to_string());
                }
            }
            selected.try_update(|s| {
                for id in &ids {
                    s.remove(id);
                }
            });
            let worked = ids.len() - failed.len();
            let result = if failed.is_empty() {
                Ok(format!("{} {worked} run{}.", op.done(), if worked == 1 { "" } else { "s" }))
            } else {
                Err(format!(
                    "{} {worked} of {} runs; {} failed: {}",
                    op.done(),
                    ids.len(),
                    failed.len(),
                    failed.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                ))
            };
            feedback.finish(result);
        });
    };
    let compare = move |_| {
        let ids = chosen.get_untracked();
        if ids.len() >= 2 {
            let _ = window().location().set_hash(&Route::compare(&ids));
        }
    };
    let export = move |only_chosen: bool| {
        let ids = only_chosen.then(|| chosen.get_untracked());
        if ids.as_ref().is_some_and(Vec::is_empty) {
            return;
        }
        let client = match tracking.open_client() {
            Ok(client) => client,
            Err(e) => return feedback.error.set(Some(e.to_string())),
        };
        feedback.start("Exporting…".to_string());
        spawn_local(async move {
            let result = async {
                let bundle = client.export(ids.as_deref()).await.map_err(|e| e.to_string())?;
                let text = serde_json::to_string(&bundle).map_err(|e| e.to_string())?;
                let what = if ids.is_some() { "runs" } else { "all" };
                download_text(&export_file_name(what), "application/json", &text)?;
                Ok(format!(
                    "Exported {} run{} from {} experiment{}.",
                    bundle.runs.len(),
                    if bundle.runs.len() == 1 { "" } else { "s" },
                    bundle.experiments.len(),
                    if bundle.experiments.len() == 1 { "" } else { "s" }
                ))
            }
            .await
            .map_err(|e: String| format!("Export failed: {e}"));
            feedback.finish(result);
        });
    };
    let import = move |ev: leptos::ev::Event| {
        let input = event_target::<web_sys::HtmlInputElement>(&ev);
        let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
        // Choosing the same file again must fire `change` again.
        input.set_value("");
        let client = match tracking.open_client() {
            Ok(client) => client,
            Err(e) => return feedback.error.set(Some(e.to_string())),
        };
        import_report.set(None);
        feedback.start(format!("Importing {}…", file.name()));
        spawn_local(async move {
            let name = file.name();
            let result = async {
                let bytes = read_file(file).await?;
                let bundle = parse_bundle(&bytes).map_err(|e| e.to_string())?;
                client.import(&bundle).await.map_err(|e| e.to_string())
            }
            .await;
            feedback.busy.try_set(None);
            match result {
                Ok(report) => {
                    import_report.try_set(Some(describe_import(&report)));
                }
                Err(e) => {
                    feedback.error.try_set(Some(format!("Import of {name} failed: {e}")));
                }
            }
        });
    };

    let scroll_reset = Signal::derive(move || {
        format!("{}\u{0}{}\u{0}{}", active.get(), applied_filter.get(), view_label(view_type.get()))
    });
    let selected_count = move || chosen.with(Vec::len);
    let busy = move || feedback.busy.with(Option::is_some);
    let deleted_view = move || view_type.get() == ViewType::DeletedOnly;

    view! {
        <div class="runs-page">
            <ExperimentSidebar active run_counts experiments_active experiments_deleted/>
            <section class="runs-main">
                <header class="runs-head">
                    <h1>"Runs" <span class="muted">{move || format!(" · {}", tracking.experiment_name(&active.get()))}</span></h1>
                    <p class="muted">"New runs from the chapters are logged to the experiment selected on the left."</p>
                    <Show when=active_is_deleted>
                        <p class="warning">"This experiment is deleted: restore it, or pick another one, before training new runs."</p>
                    </Show>
                </header>

                <div class="filter-bar">
                    <label for="runs-filter" class="filter-label">"Filter"</label>
                    <input id="runs-filter" type="text" class="filter-input" data-testid="filter-input" spellcheck="false"
                        autocomplete="off" placeholder="metrics.rmse < 7 AND (params.model = 'Lasso' OR params.model = 'Ridge')"
                        prop:value=move || filter_text.get()
                        on:input=on_filter_input
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { apply_now() }/>
                    <button on:click=move |_| { filter_text.set(String::new()); apply_now(); }
                        disabled=move || filter_text.with(String::is_empty) title="Clear the filter">"Clear"</button>
                    <div class="view-switch" role="group" aria-label="Which runs">
                        {[ViewType::ActiveOnly, ViewType::DeletedOnly, ViewType::All].into_iter().map(|view| view! {
                            <button class:on=move || view_type.get() == view aria-pressed=move || (view_type.get() == view).to_string()
                                data-testid=format!("view-{}", view_label(view))
                                on:click=move |_| view_type.set(view)>{view_label(view)}</button>
                        }).collect_view()}
                    </div>
                </div>
                {move || parsed_filter.get().err().map(|e| view! {
                    <pre class="filter-error" data-testid="filter-error" role="alert">
                        {format!("{}\n{}", e.message, e.caret())}
                    </pre>
                    <p class="muted small">"The table still shows the last filter that worked."</p>
                })}
                <div class="chips">
                    <span class="muted">"Try: "</span>
                    {FILTER_EXAMPLES.into_iter().map(|example| view! {
                        <button class="chip" data-testid="filter-example" on:click=move |_| use_example(example)><code>{example}</code></button>
                    }).collect_view()}
                </div>
                <details class="filter-help">
                    <summary>"Filter syntax"</summary>
                    <p>"Keys: " <code>"metrics.<name>"</code> ", " <code>"params.<name>"</code> ", " <code>"tags.<name>"</code>
                       " and the attributes " <code>"run_name status user_id start_time end_time run_id"</code>
                       ". Quote keys with other characters: " <code>"metrics.`f1-score`"</code> "."</p>
                    <p>"Metrics compare as numbers (" <code>"= != < <= > >="</code> "); params, tags and text attributes as strings ("
                       <code>"= != LIKE ILIKE IN ('a','b') NOT IN"</code> ", values in quotes). "
                       <code>"IS NULL"</code> " / " <code>"IS NOT NULL"</code> " ask whether a run has the key at all; a run without it fails every other comparison."</p>
                    <p>"Combine with " <code>"AND"</code> ", " <code>"OR"</code> " and parentheses. MLflow itself only has AND: a filter with OR or parentheses works here but not on an MLflow server."</p>
                </details>

                <div class="runs-toolbar">
                    <p class="counts">
                        <span data-testid="match-count">{move || format!("{} of {} runs", rows.with(|r| r.len()), in_view.with(|r| r.len()))}</span>
                        {move || format!(" match · {} view", view_label(view_type.get()))}
                        {move || (selected_count() > 0).then(|| format!(" · {} selected", selected_count()))}
                    </p>
                    <div class="bulk" role="toolbar" aria-label="Actions on selected runs">
                        <button data-testid="select-all-matching" disabled=move || rows.with(|r| r.is_empty())
                            on:click=move |_| rows.with_untracked(|rows| selected.update(|s| s.extend(rows.iter().map(|r| r.run.run_id.clone()))))>
                            {move || format!("Select all {}", rows.with(|r| r.len()))}
                        </button>
                        <button data-testid="clear-selection" disabled=move || selected_count() == 0
                            on:click=move |_| selected.set(HashSet::new())>"Clear selection"</button>
                        <Show when=move || !deleted_view()>
                            <button data-testid="bulk-delete" disabled=move || selected_count() == 0 || busy()
                                title="Soft delete: the runs move to the deleted view and can be restored"
                                on:click=move |_| bulk(BulkOp::Delete)>"Delete"</button>
                        </Show>
                        <Show when=move || view_type.get() != ViewType::ActiveOnly>
                            <button data-testid="bulk-restore" disabled=move || selected_count() == 0 || busy()
                                on:click=move |_| bulk(BulkOp::Restore)>"Restore"</button>
                        </Show>
                        <Show when=deleted_view>
                            <button data-testid="bulk-purge" class="danger" disabled=move || selected_count() == 0 || busy()
                                title="Remove for good, with metrics and files"
                                on:click=move |_| bulk(BulkOp::Purge)>"Purge…"</button>
                        </Show>
                        <button data-testid="compare-selected" class="primary" disabled=move || selected_count() < 2
                            title="Select two or more runs to compare them" on:click=compare>
                            {move || format!("Compare ({})", selected_count())}
                        </button>
                        <span class="spacer-flex"></span>
                        <button data-testid="export-selected" disabled=move || selected_count() == 0 || busy()
                            on:click=move |_| export(true)>"Export selected"</button>
                        <button data-testid="export-all" disabled=busy on:click=move |_| export(false)
                            title="Every experiment, run, metric history, file and registered model, as one JSON file">"Export all"</button>
                        <label class="import">"Import "
                            <input type="file" accept=".json,application/json" data-testid="import-file" disabled=busy on:change=import/>
                        </label>
                    </div>
                </div>
                {move || feedback.busy.get().map(|text| view! { <p class="muted" data-testid="runs-busy" role="status">{text}</p> })}
                {move || feedback.notice.get().map(|text| view! { <p class="notice" data-testid="runs-notice" role="status">{text}</p> })}
                {move || import_report.get().map(|text| view! { <p class="notice" data-testid="import-report" role="status">{text}</p> })}
                {move || feedback.error.get().map(|text| view! { <p class="error" data-testid="runs-error" role="alert">{text}</p> })}

                <div class="table-options">
                    <ColumnPicker keys=column_keys columns on_change=choose_columns on_reset=reset_columns/>
                    <label title="Show child runs (a sweep's trials) right under their parent run">
                        <input type="checkbox" data-testid="group-children" prop:checked=move || group_children.get()
                            on:change=move |ev| group_children.set(event_target_checked(&ev))/>
                        " Child runs under their parent"
                    </label>
                    <span class="order-by" data-testid="order-by">
                        "order_by: "
                        <code>{move || order_texts.with(|clauses| if clauses.is_empty() {
                            "[] (newest first: attributes.start_time DESC)".to_string()
                        } else {
                            serde_json::to_string(clauses).unwrap_or_default()
                        })}</code>
                        <Show when=move || sort.with(|s| !s.is_empty())>
                            <button class="link" on:click=move |_| sort.set(Vec::new())>"reset"</button>
                        </Show>
                        <span class="muted">" · shift-click headers to sort by several keys"</span>
                    </span>
                    {move || order.get().err().map(|e| view! { <pre class="filter-error">{e}</pre> })}
                </div>

                {move || if !tracking.ready.get() {
                    view! { <p class="muted" data-testid="runs-loading">"Loading runs…"</p> }.into_any()
                } else {
                    view! {
                        <RunsTable rows columns sort selected scroll_reset/>
                        {move || {
                            let in_experiment = experiment_runs.with(|r| r.len());
                            let listed = in_view.with(|r| r.len());
                            let matching = rows.with(|r| r.len());
                            if in_experiment == 0 {
                                Some(view! {
                                    <p class="empty" data-testid="runs-empty">
                                        "No runs yet — train a model in "
                                        <a href=Route::Chapter1.path()>"Chapter 1"</a> " or "
                                        <a href=Route::Chapter2.path()>"Chapter 2"</a>
                                        ", or import an export file."
                                    </p>
                                }.into_any())
                            } else if listed == 0 {
                                Some(view! { <p class="empty" data-testid="runs-empty">{format!("No {} runs in this experiment.", view_label(view_type.get()))}</p> }.into_any())
                            } else if matching == 0 {
                                Some(view! { <p class="empty" data-testid="runs-empty">"No runs match this filter."</p> }.into_any())
                            } else {
                                None
                            }
                        }}
                    }.into_any()
                }}

                <details class="python-query">
                    <summary>"The same query in Python"</summary>
                    <pre data-testid="python-query">{move || python_query(
                        &active.get(),
                        &applied_filter.get(),
                        &order_texts.get(),
                        view_type.get(),
                    )}</pre>
                </details>
            </section>
        </div>
    }
}

#[component]
fn ColumnPicker(
    keys: Memo<ColumnKeys>,
    columns: Memo<Vec<Column>>,
    on_change: impl Fn(Vec<Column>) + Copy + Send + Sync + 'static,
    on_reset: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let narrow = RwSignal::new(String::new());
    let group = move |title: &'static str,
                      make: fn(String) -> Column,
                      pick: fn(&ColumnKeys) -> Vec<String>| {
        view! {
            <fieldset>
                <legend>{title}</legend>
                {move || {
                    let needle = narrow.get().to_lowercase();
                    let all = keys.with(pick);
                    let shown: Vec<String> = all.into_iter().filter(|k| k.to_lowercase().contains(&needle)).collect();
                    if shown.is_empty() {
                        return view! { <p class="muted small">"none"</p> }.into_any();
                    }
                    shown.into_iter().map(|key| {
                        let column = make(key.clone());
                        let id = column.id();
                        let checked_column = column.clone();
                        view! {
                            <label class="column-option">
                                <input type="checkbox" data-testid="column-option" data-column=id
                                    prop:checked=move || columns.with(|c| c.contains(&checked_column))
                                    on:change=move |_| on_change(toggle_column(&columns.get_untracked(), &column))/>
                                " " {key}
                            </label>
                        }
                    }).collect_view().into_any()
                }}
            </fieldset>
        }
    };
    view! {
        <details class="column-picker" data-testid="column-picker">
            <summary>{move || format!("Columns ({})", columns.with(Vec::len))}</summary>
            <div class="column-picker-body">
                <input type="text" placeholder="Find a key" prop:value=move || narrow.get()
                    on:input=move |ev| narrow.set(event_target_value(&ev))/>
                <button class="link" on:click=on_reset title="Back to the default columns">"Default columns"</button>
                <div class="column-groups">
                    {group("Metrics", Column::Metric, |k| k.metrics.iter().cloned().collect())}
                    {group("Params", Column::Param, |k| k.params.iter().cloned().collect())}
                    {group("Tags", Column::Tag, |k| k.tags.iter().cloned().collect())}
                </div>
            </div>
        </details>
    }
}

#[component]
fn ExperimentSidebar(
    active: RwSignal<String>,
    run_counts: Memo<HashMap<String, usize>>,
    experiments_active: Memo<Vec<Experiment>>,
    experiments_deleted: Memo<Vec<Experiment>>,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    let new_name = RwSignal::new(String::new());
    let show_deleted = RwSignal::new(false);
    let renaming = RwSignal::new(None::<String>);
    let rename_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    // One helper for every experiment call: errors become text under the list.
    let call = move |work: Box<dyn FnOnce(std::rc::Rc<crate::storage::Client>) -> ExperimentCall>| {
        let client = match tracking.open_client() {
            Ok(client) => client,
            Err(e) => return error.set(Some(e.to_string())),
        };
        error.set(None);
        let future = work(client);
        spawn_local(async move {
            if let Err(e) = future.await {
                error.try_set(Some(e));
            }
        });
    };

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = new_name.get_untracked().trim().to_string();
        if name.is_empty() {
            error.set(Some("Type a name for the new experiment first.".to_string()));
            return;
        }
        call(Box::new(move |client| {
            Box::pin(async move {
                let id = client.create_experiment(&name, &[]).await.map_err(|e| e.to_string())?;
                new_name.try_set(String::new());
                active.try_set(id);
                Ok(())
            })
        }));
    };
    let save_rename = move |experiment_id: String| {
        let name = rename_text.get_untracked().trim().to_string();
        call(Box::new(move |client| {
            Box::pin(async move {
                client.rename_experiment(&experiment_id, &name).await.map_err(|e| e.to_string())?;
                renaming.try_set(None);
                Ok(())
            })
        }));
    };
    let delete = move |experiment_id: String| {
        call(Box::new(move |client| {
            Box::pin(async move {
                client.delete_experiment(&experiment_id).await.map_err(|e| e.to_string())?;
                if active.try_get_untracked().as_deref() == Some(experiment_id.as_str()) {
                    active.try_set(DEFAULT_EXPERIMENT_ID.to_string());
                }
                Ok(())
            })
        }));
    };
    let restore = move |experiment_id: String| {
        call(Box::new(move |client| {
            Box::pin(
                async move { client.restore_experiment(&experiment_id).await.map_err(|e| e.to_string()) },
            )
        }));
    };

    view! {
        <aside class="experiments" aria-label="Experiments">
            <h2>"Experiments"</h2>
            <ul class="experiment-list">
                <For each=move || experiments_active.get() key=|e| (e.experiment_id.clone(), e.name.clone()) let(experiment)>
                    {
                        let id = StoredValue::new(experiment.experiment_id.clone());
                        let name = experiment.name.clone();
                        let is_active = move || id.with_value(|id| active.with(|a| a == id));
                        let is_renaming = move || id.with_value(|id| renaming.with(|r| r.as_ref() == Some(id)));
                        let deletable = experiment.experiment_id != DEFAULT_EXPERIMENT_ID;
                        let rename_name = name.clone();
                        view! {
                            <li data-testid="experiment-item" data-experiment-id=experiment.experiment_id.clone()
                                class:active=is_active aria-current=move || is_active().then_some("true")
                                on:click=move |_| if !is_renaming() { active.set(id.get_value()) }>
                                <Show when=is_renaming fallback=move || {
                                    let rename_name = rename_name.clone();
                                    view! {
                                    <button class="experiment-name" title="Show this experiment's runs; new runs go here">
                                        <span class="name">{name.clone()}</span>
                                        <span class="count">{move || id.with_value(|id| run_counts.with(|c| c.get(id).copied().unwrap_or(0)))}</span>
                                    </button>
                                    <button class="icon" title="Rename" data-testid="rename-experiment"
                                        on:click=move |ev| {
                                            ev.stop_propagation();
                                            rename_text.set(rename_name.clone());
                                            renaming.set(Some(id.get_value()));
                                        }>"✎"</button>
                                    {deletable.then(|| view! {
                                        <button class="icon" title="Delete (can be restored)" data-testid="delete-experiment"
                                            on:click=move |ev| { ev.stop_propagation(); delete(id.get_value()); }>"×"</button>
                                    })}
                                }}>
                                    <form class="rename" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save_rename(id.get_value()); }>
                                        <input type="text" data-testid="rename-experiment-name" aria-label="New name"
                                            prop:value=move || rename_text.get()
                                            on:input=move |ev| rename_text.set(event_target_value(&ev))
                                            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { renaming.set(None) }/>
                                        <button type="submit" data-testid="save-rename">"Save"</button>
                                        <button type="button" on:click=move |_| renaming.set(None)>"Cancel"</button>
                                    </form>
                                </Show>
                            </li>
                        }
                    }
                </For>
            </ul>
            <form class="new-experiment" on:submit=create>
                <input type="text" data-testid="new-experiment-name" placeholder="New experiment name" aria-label="New experiment name"
                    prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
                <button type="submit" data-testid="create-experiment">"Create"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" data-testid="experiment-error" role="alert">{e}</p> })}
            <label class="show-deleted">
                <input type="checkbox" data-testid="show-deleted-experiments" prop:checked=move || show_deleted.get()
                    on:change=move |ev| show_deleted.set(event_target_checked(&ev))/>
                {move || format!(" Show deleted ({})", experiments_deleted.with(Vec::len))}
            </label>
            <Show when=move || show_deleted.get()>
                <ul class="experiment-list deleted">
                    {move || {
                        let deleted = experiments_deleted.get();
                        if deleted.is_empty() {
                            return view! { <li class="muted">"No deleted experiments."</li> }.into_any();
                        }
                        deleted.into_iter().map(|experiment| {
                            let id = experiment.experiment_id.clone();
                            view! {
                                <li data-testid="deleted-experiment-item" data-experiment-id=experiment.experiment_id.clone()>
                                    <span class="name">{experiment.name.clone()}</span>
                                    <button data-testid="restore-experiment" on:click=move |_| restore(id.clone())>"Restore"</button>
                                </li>
                            }
                        }).collect_view().into_any()
                    }}
                </ul>
            </Show>
        </aside>
    }
}

type ExperimentCall = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_query_is_valid_python_for_tricky_filters() {
        let text = python_query(
            "3",
            " params.model = 'Lasso' AND tags.note = \"a\\b\" ",
            &["metrics.rmse ASC".into()],
            ViewType::All,
        );
        assert!(text.contains("experiment_ids=[\"3\"]"));
        assert!(
            text.contains(r#"filter_string="params.model = 'Lasso' AND tags.note = \"a\\b\"""#),
            "{text}"
        );
        assert!(text.contains("order_by=[\"metrics.rmse ASC\"]"));
        assert!(text.contains("ViewType.ALL"));
    }

    #[test]
    fn an_import_report_reads_as_a_sentence() {
        let report = ImportReport {
            experiments_created: 1,
            runs_imported: 12,
            runs_skipped: vec!["a".into(), "b".into()],
            models_imported: 0,
            models_skipped: vec!["taxi".into()],
        };
        assert_eq!(
            describe_import(&report),
            "Imported 12 runs, 1 new experiment and 0 registered models. Kept 2 local runs already here (same id). Kept the local model taxi."
        );
    }

    #[test]
    fn every_example_filter_parses() {
        for example in FILTER_EXAMPLES {
            assert!(parse_filter(example).is_ok(), "{example}");
        }
    }
}
