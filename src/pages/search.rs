//! `#/search`: hyperparameter search, as the course runs hyperopt with MLflow — a space,
//! an algorithm (TPE or random), a budget and a seed; a pool of workers running trials;
//! a parent run with a child run per trial; the best loss so far, the trials in parallel
//! coordinates, and the winner into the registry.

use std::collections::HashSet;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::features::FeatureSet;
use mlops_core::protocol::{Catalog, Slot, Source};
use mlops_core::search::{presets, Algorithm, Expr, SearchSpec, Space, TpeOptions};
use mlops_core::tracking::search::{parse_order_by, search, Filter};
use mlops_core::tracking::{LifecycleStage, Run, RunStatus};
use mlops_core::tuning::{tags, Family, SearchRecord, SearchState, WorkerSlot};

use crate::components::chart::SvgImage;
use crate::components::data_panel::{fetch_bytes, DatasetPanel};
use crate::components::parallel_coords::{parallel_coords_svg, search_axes, search_failed, search_losses};
use crate::components::runs_table::{display_name, Column, ParentRef, RunRow, RunsTable, SortClause};
use crate::components::search_charts::{best_so_far_svg, BestCurve};
use crate::pages::chapter2::MODEL_NAME;
use crate::routes::Route;
use crate::search_state::{NewSearch, Searches};
use crate::state::AppState;
use crate::tracking_state::Tracking;

/// A quick search for a first look (and the end-to-end test): shallow trees, few rounds.
pub const QUICK_SPACE: &str = r#"{
  "max_depth": {"quniform": [2, 6, 1]},
  "learning_rate": {"loguniform": [-3, 0]},
  "min_child_weight": {"loguniform": [-1, 3]},
  "num_boost_round": 20,
  "seed": 42
}"#;

/// A preset: what the form is filled with.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub id: &'static str,
    pub label: &'static str,
    pub name: &'static str,
    pub spec: SearchSpec,
}

pub fn quick_spec() -> SearchSpec {
    SearchSpec {
        space: Space::from_json(QUICK_SPACE).unwrap_or_else(|_| presets::course_xgboost().space),
        algorithm: Algorithm::Random,
        max_evals: 10,
        seed: 42,
        parallelism: 1,
    }
}

pub fn all_presets() -> Vec<Preset> {
    vec![
        Preset {
            id: "course-xgboost",
            label: "Course: XGBoost (50 TPE trials)",
            name: "xgboost-hyperopt",
            spec: presets::course_xgboost(),
        },
        Preset {
            id: "homework-forest",
            label: "Homework 2024: random forest (15 trials, green 2023-01/2023-02)",
            name: "random-forest-hyperopt",
            spec: presets::homework_forest(),
        },
        Preset {
            id: "quick",
            label: "Quick look (10 random trials, 20 rounds)",
            name: "quick-search",
            spec: quick_spec(),
        },
    ]
}

/// A sensible first range for a parameter added from the form, as JSON.
pub fn suggested_expr(family: Family, name: &str) -> &'static str {
    match (family, name) {
        (_, "learning_rate") => r#"{"loguniform": [-3, 0]}"#,
        (Family::Gbdt, "max_depth") => r#"{"quniform": [2, 20, 1]}"#,
        (Family::Forest, "max_depth") => r#"{"quniform": [1, 20, 1]}"#,
        (_, "min_child_weight") => r#"{"loguniform": [-1, 3]}"#,
        (_, "reg_alpha") => r#"{"loguniform": [-5, -1]}"#,
        (_, "reg_lambda") => r#"{"loguniform": [-6, -1]}"#,
        (_, "gamma") => r#"{"uniform": [0, 5]}"#,
        (_, "subsample") | (_, "colsample_bytree") => r#"{"uniform": [0.5, 1]}"#,
        (_, "num_boost_round") => r#"{"quniform": [20, 200, 10]}"#,
        (_, "early_stopping_rounds") => "20",
        (_, "max_bin") => r#"{"quniform": [16, 256, 16]}"#,
        (_, "seed") | (_, "random_state") => "42",
        (_, "encoding") => r#"{"choice": ["one_hot", "categorical"]}"#,
        (_, "n_estimators") => r#"{"quniform": [10, 50, 1]}"#,
        (_, "min_samples_split") => r#"{"quniform": [2, 10, 1]}"#,
        (_, "min_samples_leaf") => r#"{"quniform": [1, 4, 1]}"#,
        (_, "max_features") => r#"{"choice": ["all", "sqrt", "log2"]}"#,
        (_, "bootstrap") => r#"{"choice": [true, false]}"#,
        _ => r#"{"uniform": [0, 1]}"#,
    }
}

/// The distributions the form offers for a top-level parameter.
const FORM_KINDS: [&str; 6] = ["uniform", "quniform", "loguniform", "qloguniform", "randint", "constant"];

/// One row of the space form: a parameter and its distribution's numbers as text.
#[derive(Debug, Clone, PartialEq)]
pub struct FormRow {
    pub name: String,
    /// One of [`FORM_KINDS`], or `None` for what only the JSON can edit (a choice, a
    /// nested dictionary).
    pub kind: Option<&'static str>,
    pub low: String,
    pub high: String,
    pub q: String,
    /// A constant's JSON, or a read-only summary.
    pub value: String,
}

fn num(value: f64) -> String {
    value.to_string()
}

/// The form's rows for a space.
pub fn form_rows(space: &Space) -> Vec<FormRow> {
    space
        .params
        .iter()
        .map(|(name, expr)| {
            let row = |kind, low: String, high: String, q: String, value: String| FormRow {
                name: name.clone(),
                kind,
                low,
                high,
                q,
                value,
            };
            match expr {
                Expr::Uniform { low, high } => {
                    row(Some("uniform"), num(*low), num(*high), String::new(), String::new())
                }
                Expr::QUniform { low, high, q } => {
                    row(Some("quniform"), num(*low), num(*high), num(*q), String::new())
                }
                Expr::LogUniform { low, high } => {
                    row(Some("loguniform"), num(*low), num(*high), String::new(), String::new())
                }
                Expr::QLogUniform { low, high, q } => {
                    row(Some("qloguniform"), num(*low), num(*high), num(*q), String::new())
                }
                Expr::RandInt { low, high } => {
                    row(Some("randint"), low.to_string(), high.to_string(), String::new(), String::new())
                }
                Expr::Const(value) => {
                    row(Some("constant"), String::new(), String::new(), String::new(), value.to_string())
                }
                Expr::Choice(options) => row(
                    None,
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("choice of {} options", options.len()),
                ),
                Expr::Dict(map) => row(
                    None,
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("dictionary of {} keys", map.len()),
                ),
            }
        })
        .collect()
}

/// The expression a form row describes, or what is wrong with its numbers.
pub fn row_expr(row: &FormRow) -> Result<Expr, String> {
    let number = |text: &str, what: &str| -> Result<f64, String> {
        text.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{}`: {what} must be a number, got `{}`", row.name, text.trim()))
    };
    let whole = |text: &str, what: &str| -> Result<i64, String> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| format!("`{}`: {what} must be a whole number, got `{}`", row.name, text.trim()))
    };
    Ok(match row.kind {
        Some("uniform") => Expr::Uniform { low: number(&row.low, "low")?, high: number(&row.high, "high")? },
        Some("quniform") => Expr::QUniform {
            low: number(&row.low, "low")?,
            high: number(&row.high, "high")?,
            q: number(&row.q, "q")?,
        },
        Some("loguniform") => {
            Expr::LogUniform { low: number(&row.low, "low")?, high: number(&row.high, "high")? }
        }
        Some("qloguniform") => Expr::QLogUniform {
            low: number(&row.low, "low")?,
            high: number(&row.high, "high")?,
            q: number(&row.q, "q")?,
        },
        Some("randint") => Expr::RandInt { low: whole(&row.low, "low")?, high: whole(&row.high, "upper")? },
        Some(_) => {
            let value: serde_json::Value = serde_json::from_str(row.value.trim()).map_err(|_| {
                format!("`{}`: a constant is a number, text in quotes, true/false or null", row.name)
            })?;
            Expr::Const(value)
        }
        None => return Err(format!("`{}` is edited in the JSON", row.name)),
    })
}

/// A row switched to another distribution keeps what it can: bounds stay, a log
/// distribution's bounds become exponents.
pub fn switch_kind(row: &FormRow, kind: &'static str) -> FormRow {
    let was_log = matches!(row.kind, Some("loguniform" | "qloguniform"));
    let is_log = matches!(kind, "loguniform" | "qloguniform");
    // Ten significant digits: e^ln(0.01) reads as 0.01 again, not 0.010000000000000004.
    let tidy = |v: f64| format!("{v:.9e}").parse::<f64>().map_or_else(|_| num(v), num);
    let convert = |text: &str| -> String {
        match text.trim().parse::<f64>() {
            Ok(v) if was_log && !is_log => tidy(v.exp()),
            Ok(v) if !was_log && is_log && v > 0.0 => tidy(v.ln()),
            _ => text.to_string(),
        }
    };
    let mut next = row.clone();
    next.kind = Some(kind);
    next.low = if row.low.is_empty() { "0".into() } else { convert(&row.low) };
    next.high = if row.high.is_empty() { "1".into() } else { convert(&row.high) };
    if kind.starts_with('q') && next.q.trim().is_empty() {
        next.q = "1".into();
    }
    if kind == "randint" {
        let round = |t: &str| {
            t.trim().parse::<f64>().map(|v| (v.round() as i64).to_string()).unwrap_or_else(|_| t.to_string())
        };
        next.low = round(&next.low);
        next.high = round(&next.high);
    }
    if kind == "constant" && next.value.trim().is_empty() {
        next.value = next.low.clone();
    }
    next
}

/// The space with one parameter replaced (or added), as JSON for the text box.
fn with_param(space: &Space, name: &str, expr: Expr) -> String {
    let mut next = space.clone();
    next.params.insert(name.to_string(), expr);
    next.to_json()
}

fn without_param(space: &Space, name: &str) -> String {
    let mut next = space.clone();
    next.params.remove(name);
    next.to_json()
}

/// Search parents of an experiment, newest first.
fn search_parents(runs: &[Arc<Run>], experiment_id: &str) -> Vec<Arc<Run>> {
    let mut found: Vec<Arc<Run>> = runs
        .iter()
        .filter(|r| r.experiment_id == experiment_id && r.lifecycle_stage == LifecycleStage::Active)
        .filter(|r| r.tags.contains_key(tags::STATE))
        .cloned()
        .collect();
    found.sort_by_key(|r| std::cmp::Reverse(r.start_time));
    found
}

/// Searches a reload interrupted: still RUNNING, with a resumable state.
pub fn unfinished_searches(runs: &[Arc<Run>], owned: &[String]) -> Vec<Arc<Run>> {
    runs.iter()
        .filter(|r| r.status == RunStatus::Running && r.lifecycle_stage == LifecycleStage::Active)
        .filter(|r| {
            r.tags.get(tags::STATE).and_then(|s| SearchState::parse(s)).is_some_and(SearchState::is_resumable)
        })
        .filter(|r| !owned.contains(&r.run_id))
        .cloned()
        .collect()
}

/// Child runs of a parent, as trials (tid, loss) for the best-so-far curve.
pub fn child_losses(runs: &[Arc<Run>], parent_run_id: &str) -> Vec<(u32, f64)> {
    runs.iter()
        .filter(|r| r.parent_run_id() == Some(parent_run_id) && r.lifecycle_stage == LifecycleStage::Active)
        .filter(|r| r.status == RunStatus::Finished)
        .filter_map(|r| Some((r.tags.get(tags::TID)?.parse().ok()?, r.metric("val_rmse")?)))
        .collect()
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let state = AppState::use_context();
    // The months load by themselves, so a search can start without a download.
    spawn_local(async move { state.load_defaults() });
    view! {
        <article class="lesson search-page" data-testid="search-page">
            <h1>"Hyperparameter search"</h1>
            <p>
                "A search tries many hyperparameter settings and keeps the best, as the course does with "
                <code>"hyperopt.fmin"</code> ". Each trial trains one model in a background worker; several workers run "
                "trials side by side. Every search is a parent run and every trial a child run in the active experiment, "
                "logged automatically. The " <a href=Route::Chapter2.path()>"Chapter 2 walkthrough"</a>
                " explains what to look for."
            </p>
            <ResumeBanner/>
            <DataSection/>
            <SearchForm/>
            <SearchProgress/>
            <SearchResults/>
        </article>
    }
}

#[component]
fn ResumeBanner() -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let searches = Searches::use_context();
    let unfinished = Memo::new(move |_| {
        let owned = searches.owned();
        tracking.runs.with(|runs| unfinished_searches(runs, &owned))
    });
    let resume = Action::new_local(move |_: &()| async move {
        let parents = unfinished.get_untracked();
        // Said under the search's progress: the banner goes once nothing is left to resume.
        let result = searches.resume_unfinished(parents).await;
        searches.message.set(Some(result));
    });
    let abandon = Action::new_local(move |_: &()| async move {
        let client = tracking.open_client().map_err(|e| e.to_string())?;
        for run in unfinished.get_untracked() {
            client
                .set_tag(&run.run_id, tags::STATE, SearchState::Cancelled.as_str())
                .await
                .map_err(|e| e.to_string())?;
            client.set_terminated(&run.run_id, RunStatus::Killed, None).await.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>("Marked as cancelled; their finished trials stay.".to_string())
    });
    let data_ready = move || state.train_data.with(Option::is_some) && state.val_data.with(Option::is_some);
    view! {
        <Show when=move || !unfinished.with(Vec::is_empty)>
            <section class="warning resume" data-testid="resume-banner">
                <p>
                    {move || {
                        let list = unfinished.get();
                        let names: Vec<String> = list.iter().map(|r| display_name(r)).collect();
                        if names.is_empty() { String::new() } else {
                            format!("Unfinished search{}: {}. ", if names.len() > 1 { "es" } else { "" }, names.join(", "))
                        }
                    }}
                    <button class="primary" data-testid="resume-search"
                        disabled=move || unfinished.with(Vec::is_empty) || !data_ready() || searches.is_active() || resume.pending().get()
                        on:click=move |_| { resume.dispatch(()); }>"Resume"</button>
                    " "
                    <button data-testid="abandon-search" disabled=move || unfinished.with(Vec::is_empty) || abandon.pending().get()
                        on:click=move |_| { abandon.dispatch(()); }>"Mark as cancelled"</button>
                    <Show when=move || !data_ready()>
                        <span class="muted">" (waiting for the months to load)"</span>
                    </Show>
                </p>

                {move || abandon.value().get().map(|r| match r {
                    Ok(text) => view! { <p class="ok">{text}</p> }.into_any(),
                    Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
                })}
            </section>
        </Show>
    }
}

/// Loads the homework's months from the instructor's catalog, training first.
async fn load_catalog_pair(state: AppState, train_url: String, val_url: String) -> Result<(), String> {
    let train = fetch_bytes(&train_url).await?;
    let val = fetch_bytes(&val_url).await?;
    let name = |url: &str| url.rsplit('/').next().unwrap_or(url).to_string();
    while state.is_busy() {
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    state.load(Slot::Train, vec![Source::File { name: name(&train_url), bytes: train }]);
    gloo_timers::future::TimeoutFuture::new(50).await;
    while state.is_busy() {
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    state.load(Slot::Validation, vec![Source::File { name: name(&val_url), bytes: val }]);
    Ok(())
}

#[component]
fn DataSection() -> impl IntoView {
    let state = AppState::use_context();
    let catalog = LocalResource::new(|| async {
        let response = gloo_net::http::Request::get("data/catalog.json").send().await.ok()?;
        if !response.ok() {
            return None;
        }
        Catalog::parse(&response.text().await.ok()?).ok()
    });
    let homework = Memo::new(move |_| {
        let catalog = catalog.get().flatten()?;
        let find = |month: &str| {
            catalog
                .files
                .iter()
                .find(|e| e.path.contains("green") && e.path.contains(month))
                .map(Catalog::url_of)
        };
        Some((find("2023-01")?, find("2023-02")?))
    });
    let label = move |slot: Slot| {
        state
            .dataset(slot)
            .with(|d| d.as_ref().map(|d| d.label.clone()))
            .unwrap_or_else(|| "not loaded yet".to_string())
    };
    let load_homework = Action::new_local(move |urls: &(String, String)| {
        let (train, val) = urls.clone();
        async move { load_catalog_pair(state, train, val).await }
    });
    view! {
        <section class="search-data" data-testid="search-data">
            <h2>"The months"</h2>
            <p>
                "Trials train on " <strong data-testid="search-train-label">{move || label(Slot::Train)}</strong>
                " and are scored (the loss: validation RMSE) on " <strong data-testid="search-val-label">{move || label(Slot::Validation)}</strong> "."
            </p>
            <p class="muted">
                "The 2024 homework's forest search uses green taxi 2023-01 for training and 2023-02 for validation. "
                {move || match homework.get() {
                    Some(_) => "Your instructor provides both:",
                    None => "Load them below (file picker or URL) — the simulated months work too.",
                }}
                " "
                {move || homework.get().map(|urls| view! {
                    <button data-testid="load-homework-data" disabled=move || state.is_busy() || load_homework.pending().get()
                        on:click=move |_| { load_homework.dispatch(urls.clone()); }>"Load green 2023-01 and 2023-02"</button>
                })}
            </p>
            {move || load_homework.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <details>
                <summary>"Change the months"</summary>
                <div class="datasets">
                    <DatasetPanel month_slot=Slot::Train/>
                    <DatasetPanel month_slot=Slot::Validation/>
                </div>
            </details>
        </section>
    }
}

/// The form's signals, shared by its parts.
#[derive(Clone, Copy)]
struct FormState {
    space_text: RwSignal<String>,
    tpe: RwSignal<bool>,
    startup: RwSignal<String>,
    max_evals: RwSignal<String>,
    seed: RwSignal<String>,
    name: RwSignal<String>,
    feature_set: RwSignal<FeatureSet>,
}

impl FormState {
    fn apply(&self, preset: &Preset) {
        self.space_text.set(preset.spec.space.to_json());
        let (tpe, startup) = match preset.spec.algorithm {
            Algorithm::Tpe(options) => (true, options.n_startup_jobs),
            Algorithm::Random => (false, TpeOptions::default().n_startup_jobs),
        };
        self.tpe.set(tpe);
        self.startup.set(startup.to_string());
        self.max_evals.set(preset.spec.max_evals.to_string());
        self.seed.set(preset.spec.seed.to_string());
        self.name.set(preset.name.to_string());
    }
}

#[component]
fn SearchForm() -> impl IntoView {
    let searches = Searches::use_context();
    let state = AppState::use_context();
    let quick =
        all_presets().into_iter().find(|p| p.id == "quick").map(|p| p.spec).unwrap_or_else(quick_spec);
    let form = FormState {
        space_text: RwSignal::new(quick.space.to_json()),
        tpe: RwSignal::new(false),
        startup: RwSignal::new("20".to_string()),
        max_evals: RwSignal::new(quick.max_evals.to_string()),
        seed: RwSignal::new(quick.seed.to_string()),
        name: RwSignal::new("quick-search".to_string()),
        feature_set: RwSignal::new(FeatureSet::PuDo),
    };
    let parsed =
        Memo::new(move |_| form.space_text.with(|text| Space::from_json(text).map_err(|e| e.to_string())));
    let family =
        Memo::new(move |_| parsed.with(|p| p.as_ref().ok().map(Family::of_space)).unwrap_or(Family::Gbdt));
    let space_problem = Memo::new(move |_| match parsed.get() {
        Err(e) => Some(e),
        Ok(space) => family.get().check_space(&space).err(),
    });
    let spec = Memo::new(move |_| -> Result<SearchSpec, String> {
        let space = parsed.get()?;
        family.get().check_space(&space)?;
        let max_evals: u32 = form
            .max_evals
            .get()
            .trim()
            .parse()
            .map_err(|_| "max_evals must be a whole number from 1".to_string())?;
        let seed: u64 = form
            .seed
            .get()
            .trim()
            .parse()
            .map_err(|_| "the seed must be a whole number, 0 or more".to_string())?;
        let algorithm = if form.tpe.get() {
            let n_startup_jobs: u32 = form
                .startup
                .get()
                .trim()
                .parse()
                .map_err(|_| "TPE's start-up trials must be a whole number".to_string())?;
            Algorithm::Tpe(TpeOptions { n_startup_jobs, ..TpeOptions::default() })
        } else {
            Algorithm::Random
        };
        let spec = SearchSpec {
            space,
            algorithm,
            max_evals,
            seed,
            parallelism: searches.workers_wanted.get().clamp(1, 8),
        };
        mlops_core::search::Search::new(spec.clone()).map_err(|e| e.to_string())?;
        if form.name.with(|n| n.trim().is_empty()) {
            return Err("give the search a name (its parent run's name)".to_string());
        }
        Ok(spec)
    });
    let start = Action::new_local(move |new: &NewSearch| {
        let new = new.clone();
        async move { searches.start(vec![new]).await }
    });
    let data_ready = move || state.train_data.with(Option::is_some) && state.val_data.with(Option::is_some);
    let can_start =
        move || spec.with(Result::is_ok) && data_ready() && !searches.is_active() && !start.pending().get();
    let on_start = move |_| {
        if let Ok(spec) = spec.get_untracked() {
            start.dispatch(NewSearch {
                name: form.name.get_untracked().trim().to_string(),
                family: family.get_untracked(),
                feature_set: form.feature_set.get_untracked(),
                spec,
                compare: None,
            });
        }
    };
    view! {
        <section class="search-form" data-testid="search-form">
            <h2>"The search"</h2>
            <p class="presets">"Presets: "
                {all_presets().into_iter().map(|preset| {
                    let id = preset.id;
                    view! { <button data-testid=format!("preset-{id}") on:click=move |_| form.apply(&preset)>{preset.label}</button> " " }
                }).collect_view()}
            </p>
            <p>
                "Model family (from the space's parameter names): "
                <strong data-testid="search-family">{move || family.get().label()}</strong>
            </p>
            <SpaceEditor form parsed family/>
            <div class="search-settings">
                <label>"Algorithm "
                    <select data-testid="search-algorithm" prop:value=move || if form.tpe.get() { "tpe" } else { "random" }
                        on:change=move |ev| form.tpe.set(event_target_value(&ev) == "tpe")>
                        <option value="tpe">"TPE (tree-structured Parzen estimators)"</option>
                        <option value="random">"Random search"</option>
                    </select>
                </label>
                <label class:hidden=move || !form.tpe.get() title="Trials drawn at random before TPE starts modelling (hyperopt: n_startup_jobs)">
                    " random start-up trials "
                    <input type="text" size="4" data-testid="search-startup" prop:value=move || form.startup.get()
                        on:input=move |ev| form.startup.set(event_target_value(&ev))/>
                </label>
                <label>" max_evals "
                    <input type="text" size="5" data-testid="search-max-evals" prop:value=move || form.max_evals.get()
                        on:input=move |ev| form.max_evals.set(event_target_value(&ev))/>
                </label>
                <label>" seed "
                    <input type="text" size="6" data-testid="search-seed" prop:value=move || form.seed.get()
                        on:input=move |ev| form.seed.set(event_target_value(&ev))/>
                </label>
                <label title="Workers training trials in parallel; the page keeps one core for itself">" workers "
                    <input type="number" min="1" max="8" data-testid="search-workers" prop:value=move || searches.workers_wanted.get().to_string()
                        on:input=move |ev| {
                            if let Ok(n) = event_target_value(&ev).trim().parse::<u32>() { searches.workers_wanted.set(n.clamp(1, 8)) }
                        }/>
                </label>
                <label>" features "
                    <select data-testid="search-features" on:change=move |ev| form.feature_set.set(
                        if event_target_value(&ev) == "pu_and_do" { FeatureSet::PuAndDo } else { FeatureSet::PuDo })>
                        <option value="pu_do" selected>{FeatureSet::PuDo.label()}</option>
                        <option value="pu_and_do">{FeatureSet::PuAndDo.label()}</option>
                    </select>
                </label>
                <label>" name "
                    <input type="text" size="22" data-testid="search-name" prop:value=move || form.name.get()
                        on:input=move |ev| form.name.set(event_target_value(&ev))/>
                </label>
            </div>
            <p class="muted">
                {move || format!(
                    "Runs go to the experiment `{}` (choose another on the Runs page). With TPE, trial k learns from trials up to k − {} (the number of workers), so the same seed and pool size give the same trials.",
                    {
                        let id = state.active_experiment.get();
                        let name = state.tracking.experiment_name(&id);
                        if name.is_empty() { format!("id {id}") } else { name }
                    },
                    searches.workers_wanted.get()
                )}
            </p>
            <p>
                <button class="primary" data-testid="search-start" disabled=move || !can_start() on:click=on_start>"Start the search"</button>
                " "
                {move || match spec.get() {
                    Err(e) if space_problem.with(Option::is_none) => view! { <span class="error" data-testid="search-setting-error">{e}</span> }.into_any(),
                    _ if !data_ready() => view! { <span class="muted">"Waiting for the months to load…"</span> }.into_any(),
                    _ => ().into_any(),
                }}
            </p>
            {move || start.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert" data-testid="search-start-error">{e}</p> })}
        </section>
    }
}

#[component]
fn SpaceEditor(form: FormState, parsed: Memo<Result<Space, String>>, family: Memo<Family>) -> impl IntoView {
    let rows = Memo::new(move |_| parsed.with(|p| p.as_ref().map(form_rows).unwrap_or_default()));
    let row_error = RwSignal::new(None::<String>);
    let commit = move |row: FormRow| {
        let Ok(space) = parsed.get_untracked() else { return };
        match row_expr(&row) {
            Ok(expr) => {
                row_error.set(None);
                form.space_text.set(with_param(&space, &row.name, expr));
            }
            Err(e) => row_error.set(Some(e)),
        }
    };
    let addable = Memo::new(move |_| {
        let present: HashSet<String> =
            parsed.with(|p| p.as_ref().map(|s| s.params.keys().cloned().collect()).unwrap_or_default());
        family
            .get()
            .params()
            .iter()
            .filter(|p| !present.contains(**p))
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    });
    let to_add = RwSignal::new(String::new());
    let add = move |_| {
        let Ok(space) = parsed.get_untracked() else { return };
        let name = to_add.get_untracked();
        let name =
            if name.is_empty() { addable.get_untracked().first().cloned().unwrap_or_default() } else { name };
        if name.is_empty() {
            return;
        }
        let text = format!(r#"{{"{name}": {}}}"#, suggested_expr(family.get_untracked(), &name));
        if let Ok(single) = Space::from_json(&text) {
            if let Some(expr) = single.params.get(&name) {
                form.space_text.set(with_param(&space, &name, expr.clone()));
                to_add.set(String::new());
            }
        }
    };
    view! {
        <div class="space-editor">
            <div class="space-form" data-testid="space-form">
                <table>
                    <thead><tr><th>"parameter"</th><th>"distribution"</th><th>"low"</th><th>"high"</th><th>"q"</th><th>"value"</th><th></th></tr></thead>
                    <tbody>
                        <For each=move || rows.get() key=|row| format!("{row:?}") let(row)>
                            <SpaceRow row commit remove=move |name: String| {
                                if let Ok(space) = parsed.get_untracked() {
                                    form.space_text.set(without_param(&space, &name));
                                }
                            }/>
                        </For>
                    </tbody>
                </table>
                <p>
                    <select data-testid="space-add-name"
                        prop:value=move || { let chosen = to_add.get(); if chosen.is_empty() { addable.with(|a| a.first().cloned().unwrap_or_default()) } else { chosen } } on:change=move |ev| to_add.set(event_target_value(&ev))>
                        {move || addable.get().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                    " " <button data-testid="space-add" disabled=move || addable.with(Vec::is_empty) || parsed.with(Result::is_err) on:click=add>"Add a parameter"</button>
                    <span class="muted">" Log distributions take exponents: loguniform(−3, 0) spans e^−3 ≈ 0.05 to 1."</span>
                </p>
                {move || row_error.get().map(|e| view! { <p class="error" role="alert" data-testid="space-row-error">{e}</p> })}
            </div>
            <label class="space-json">"The same space as JSON (hyperopt's expressions; edit either side)"
                <textarea data-testid="space-json" rows="12" spellcheck="false" prop:value=move || form.space_text.get()
                    on:input=move |ev| form.space_text.set(event_target_value(&ev))></textarea>
            </label>
            {move || parsed.get().err().or_else(|| parsed.get().ok().and_then(|s| family.get().check_space(&s).err())).map(|e| view! {
                <p class="error" role="alert" data-testid="space-error">{e}</p>
            })}
        </div>
    }
}

#[component]
fn SpaceRow(
    row: FormRow,
    commit: impl Fn(FormRow) + Copy + Send + Sync + 'static,
    remove: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let draft = RwSignal::new(row.clone());
    let name = row.name.clone();
    let editable = row.kind.is_some();
    let text_input = move |field: fn(&mut FormRow) -> &mut String, shown: bool, testid: &'static str| {
        let value = move || {
            let mut row = draft.get();
            field(&mut row).clone()
        };
        view! {
            <td>
                <input type="text" size="6" class:hidden=!shown data-testid=testid prop:value=value
                    on:input=move |ev| draft.update(|r| *field(r) = event_target_value(&ev))
                    on:change=move |_| commit(draft.get_untracked())/>
            </td>
        }
    };
    let kind = row.kind;
    let uses_bounds = matches!(kind, Some(k) if k != "constant");
    let uses_q = matches!(kind, Some("quniform" | "qloguniform"));
    let is_const = kind == Some("constant");
    let log_range = match (kind, row.low.parse::<f64>(), row.high.parse::<f64>()) {
        (Some("loguniform" | "qloguniform"), Ok(lo), Ok(hi)) => {
            Some(format!("≈ {:.3} to {:.3}", lo.exp(), hi.exp()))
        }
        _ => None,
    };
    let remove_name = name.clone();
    view! {
        <tr data-testid="space-row" data-param=name.clone()>
            <td><code>{name.clone()}</code></td>
            <td>
                {if editable {
                    view! {
                        <select data-testid="space-kind" prop:value=kind.unwrap_or_default()
                            on:change=move |ev| {
                                let chosen = event_target_value(&ev);
                                if let Some(k) = FORM_KINDS.iter().find(|k| **k == chosen) {
                                    commit(switch_kind(&draft.get_untracked(), k));
                                }
                            }>
                            {FORM_KINDS.map(|k| view! { <option value=k>{k}</option> }).collect_view()}
                        </select>
                    }.into_any()
                } else {
                    view! { <span class="muted">{row.value.clone()}" (edit in JSON)"</span> }.into_any()
                }}
            </td>
            {text_input(|r| &mut r.low, uses_bounds, "space-low")}
            {text_input(|r| &mut r.high, uses_bounds, "space-high")}
            {text_input(|r| &mut r.q, uses_q, "space-q")}
            {if is_const { text_input(|r| &mut r.value, true, "space-value").into_any() } else {
                view! { <td class="muted">{log_range}</td> }.into_any()
            }}
            <td><button title="Remove this parameter" data-testid="space-remove" on:click=move |_| remove(remove_name.clone())>"✕"</button></td>
        </tr>
    }
}

#[component]
fn SearchProgress() -> impl IntoView {
    let searches = Searches::use_context();
    let active = searches.active;
    let status = move || {
        active.with(|a| {
            a.as_ref().map(|a| {
                let (ok, failed, total) = a.record.counts();
                (a.record.name.clone(), a.record.state, ok, failed, total, a.record.search.trials.len())
            })
        })
    };
    view! {
        <section class="search-progress" data-testid="search-progress">
            {move || status().map(|(name, state, ok, failed, total, started)| {
                let running = started.saturating_sub(ok + failed);
                let text = format!(
                    "`{name}`: {state} · {} of {total} trials done ({ok} finished, {failed} failed) · {running} in flight",
                    ok + failed, state = state.as_str(),
                );
                view! {
                    <p data-testid="search-status" data-state=state.as_str() data-finished=(ok + failed).to_string() data-in-flight=running.to_string() data-total=total.to_string()>
                        {text}
                    </p>
                    <p>
                        <button data-testid="search-pause" disabled=move || state != SearchState::Running on:click=move |_| searches.pause()>"Pause"</button>
                        " "
                        <button data-testid="search-continue" disabled=move || state != SearchState::Paused on:click=move |_| searches.resume()>"Continue"</button>
                        " "
                        <button data-testid="search-cancel" disabled=move || !state.is_resumable() on:click=move |_| searches.cancel()>"Cancel"</button>
                    </p>
                }
            })}
            <ul class="workers" data-testid="search-workers-list">
                {move || searches.workers.get().into_iter().enumerate().map(|(i, w)| {
                    let doing = match &w.slot {
                        WorkerSlot::Preparing => "preparing the months".to_string(),
                        WorkerSlot::Idle => "idle".to_string(),
                        WorkerSlot::Busy(tid) => format!("trial {tid}"),
                        WorkerSlot::Broken(why) => format!("stopped: {why}"),
                    };
                    let progress = w.progress.map(|(stage, f)| format!(" — {stage} {:.0}%", f * 100.0)).unwrap_or_default();
                    view! { <li data-testid="search-worker">{format!("worker {}: {doing}{progress}", i + 1)}</li> }
                }).collect_view()}
            </ul>
            {move || searches.message.get().map(|m| match m {
                Ok(text) => view! { <p class="ok" data-testid="search-message">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert" data-testid="search-message">{text}</p> }.into_any(),
            })}
        </section>
    }
}

/// The record of a stored search, read from its parent run's `search.json`.
async fn read_record(tracking: Tracking, parent_run_id: String) -> Option<SearchRecord> {
    let client = tracking.client()?;
    let bytes = client.download_artifact(&parent_run_id, tags::RECORD_ARTIFACT).await.ok()?;
    SearchRecord::from_json(&String::from_utf8_lossy(&bytes)).ok()
}

#[component]
fn SearchResults() -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let searches = Searches::use_context();
    let parents = Memo::new(move |_| {
        let experiment = state.active_experiment.get();
        tracking.runs.with(|runs| search_parents(runs, &experiment))
    });
    // `None`: follow the active search (or the newest one).
    let chosen = RwSignal::new(None::<String>);
    let shown_id = Memo::new(move |_| {
        chosen
            .get()
            .or_else(|| searches.active.with(|a| a.as_ref().map(|a| a.parent_run_id.clone())))
            .or_else(|| parents.with(|p| p.first().map(|r| r.run_id.clone())))
    });
    let stored = LocalResource::new(move || {
        let id = shown_id.get();
        let live = searches.active.with_untracked(|a| a.as_ref().map(|a| a.parent_run_id.clone()));
        tracking.revision.track();
        async move {
            match id {
                Some(id) if Some(&id) != live.as_ref() => read_record(tracking, id).await,
                _ => None,
            }
        }
    });
    let record = Memo::new(move |_| {
        let id = shown_id.get()?;
        searches
            .active
            .with(|a| a.as_ref().filter(|a| a.parent_run_id == id).map(|a| a.record.clone()))
            .or_else(|| stored.get().flatten().map(Arc::new))
    });
    let sort = RwSignal::new(vec![SortClause { key: "metrics.val_rmse".into(), ascending: true }]);
    fn sort_texts(clauses: &[SortClause]) -> Vec<String> {
        clauses.iter().map(SortClause::text).collect()
    }
    let sort_of = move || sort.get();
    let children = Memo::new(move |_| {
        let Some(parent) = shown_id.get() else { return Arc::new(Vec::new()) };
        let name = tracking.run(&parent).map(|r| display_name(&r)).unwrap_or_default();
        let order = parse_order_by(&sort_texts(&sort_of())).unwrap_or_default();
        let found = tracking.runs.with(|runs| {
            let kids: Vec<&Run> = runs
                .iter()
                .filter(|r| {
                    r.parent_run_id() == Some(parent.as_str()) && r.lifecycle_stage == LifecycleStage::Active
                })
                .map(|r| r.as_ref())
                .collect();
            search(kids, &Filter::default(), &order)
        });
        Arc::new(
            found
                .into_iter()
                .map(|run| RunRow {
                    run: Arc::new(run),
                    depth: 0,
                    parent: Some(ParentRef { run_id: parent.clone(), name: name.clone() }),
                })
                .collect::<Vec<_>>(),
        )
    });
    let columns = Signal::derive(move || {
        let mut columns = vec![Column::Tag(tags::TID.to_string()), Column::Metric("val_rmse".to_string())];
        if let Some(record) = record.get() {
            columns.extend(
                record.search.spec.space.labels().into_iter().filter(|l| !l.contains('.')).map(Column::Param),
            );
        }
        columns.push(Column::Metric("fit_seconds".to_string()));
        columns
    });
    let selected = RwSignal::new(HashSet::<String>::new());
    let best_curve = Memo::new(move |_| {
        let Some(id) = shown_id.get() else { return Vec::new() };
        let name = tracking.run(&id).map(|r| display_name(&r)).unwrap_or_default();
        let points =
            record.get().map(|r| r.search.best_so_far()).filter(|p| !p.is_empty()).unwrap_or_else(|| {
                mlops_core::tuning::best_so_far(tracking.runs.with(|runs| child_losses(runs, &id)))
            });
        vec![BestCurve { label: name, points }]
    });
    let child_count = move || children.with(|c| c.len());
    view! {
        <section class="search-results" data-testid="search-results">
            <h2>"Trials"</h2>
            <Show when=move || parents.with(|p| !p.is_empty()) fallback=|| view! { <p class="muted">"No search in this experiment yet."</p> }>
                <p>
                    <label>"Search "
                        <select data-testid="search-shown" prop:value=move || shown_id.get().unwrap_or_default()
                            on:change=move |ev| chosen.set(Some(event_target_value(&ev)))>
                            {move || parents.get().into_iter().map(|run| {
                                let state = run.tags.get(tags::STATE).cloned().unwrap_or_default();
                                view! { <option value=run.run_id.clone()>{format!("{} ({state})", display_name(&run))}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    " · " {move || shown_id.get().map(|id| view! { <a href=Route::Run(id).path() data-testid="search-parent-link">"parent run"</a> })}
                    " · " <span data-testid="search-child-count" data-count=move || child_count().to_string()>{move || format!("{} child runs", child_count())}</span>
                </p>
                <SvgImage svg=best_so_far_svg(&best_curve.get()) alt="Best validation RMSE so far, by trial" testid="best-so-far-chart"/>
                {move || record.get().map(|r| {
                    let svg = parallel_coords_svg(&search_axes(&r.search), &search_losses(&r.search), &search_failed(&r.search));
                    view! { <SvgImage svg alt="Trials in parallel coordinates: one axis per hyperparameter and one for the loss" testid="parallel-coords"/> }
                })}
                <RegisterBest record/>
                <RunsTable rows=Signal::derive(move || children.get()) columns sort selected scroll_reset=Signal::derive(move || shown_id.get().unwrap_or_default())/>
            </Show>
        </section>
    }
}

#[component]
fn RegisterBest(record: Memo<Option<Arc<SearchRecord>>>) -> impl IntoView {
    let tracking = Tracking::use_context();
    let name = RwSignal::new(MODEL_NAME.to_string());
    let best = Memo::new(move |_| {
        record.with(|r| {
            r.as_ref().and_then(|r| {
                r.best_run()
                    .map(|(trial, run)| (trial.tid, trial.loss().unwrap_or(f64::NAN), run.to_string()))
            })
        })
    });
    let register = Action::new_local(move |(run_id, model): &(String, String)| {
        let (run_id, model) = (run_id.clone(), model.clone());
        async move {
            let client = tracking.open_client().map_err(|e| e.to_string())?;
            client
                .register_model(&format!("runs:/{run_id}/model"), &model)
                .await
                .map(|v| format!("Registered {model} version {} from the best trial.", v.version))
                .map_err(|e| e.to_string())
        }
    });
    view! {
        <div class="register-best" data-testid="register-best-panel">
            {move || match best.get() {
                Some((tid, loss, run_id)) => view! {
                    <p>
                        "Best: " <a href=Route::Run(run_id.clone()).path() data-testid="best-trial-link">{format!("trial {tid}")}</a>
                        {format!(" with validation RMSE {loss:.4}. ")}
                        <label>"Register as "
                            <input type="text" size="20" data-testid="register-model-name" prop:value=move || name.get()
                                on:input=move |ev| name.set(event_target_value(&ev))/>
                        </label>
                        " "
                        <button class="primary" data-testid="register-best-trial" disabled=move || register.pending().get() || name.with(|n| n.trim().is_empty())
                            on:click=move |_| { register.dispatch((run_id.clone(), name.get_untracked().trim().to_string())); }>"Register the best model"</button>
                    </p>
                }.into_any(),
                None => view! { <p class="muted">"The best trial's model can be registered once a trial has finished."</p> }.into_any(),
            }}
            {move || register.value().get().map(|r| match r {
                Ok(text) => view! { <p class="ok" data-testid="register-result">{text} " See the " <a href=Route::Models.path()>"Models page"</a> "."</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert" data-testid="register-result">{text}</p> }.into_any(),
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_for_their_family() {
        for preset in all_presets() {
            let family = Family::of_space(&preset.spec.space);
            family.check_space(&preset.spec.space).expect(preset.id);
            mlops_core::search::Search::new(preset.spec.clone()).expect(preset.id);
        }
        assert_eq!(Family::of_space(&quick_spec().space), Family::Gbdt);
    }

    #[test]
    fn every_suggested_range_parses_and_fits_its_family() {
        for family in [Family::Gbdt, Family::Forest] {
            for name in family.params() {
                let text = format!(r#"{{"{name}": {}}}"#, suggested_expr(family, name));
                let space = Space::from_json(&text);
                // A constant alone is no search; give it a searched companion.
                let space = match space {
                    Ok(space) => space,
                    Err(_) => Space::from_json(&format!(
                        r#"{{"{name}": {}, "max_depth": {{"quniform": [2, 4, 1]}}}}"#,
                        suggested_expr(family, name)
                    ))
                    .expect(name),
                };
                let spec =
                    SearchSpec { space, algorithm: Algorithm::Random, max_evals: 5, seed: 1, parallelism: 1 };
                let mut search = mlops_core::search::Search::new(spec).expect(name);
                while let mlops_core::search::Next::Run(trial) = search.next_trial() {
                    family.estimator(&trial.point).unwrap_or_else(|e| panic!("{name}: {e}"));
                    search.report(trial.tid, Ok(1.0)).expect("running");
                }
            }
        }
    }

    #[test]
    fn form_rows_round_trip_through_expressions() {
        let space = Space::from_json(
            r#"{"a": {"uniform": [0, 1]}, "b": {"quniform": [4, 100, 1]}, "c": {"loguniform": [-3, 0]},
                "d": {"qloguniform": [0, 5, 2]}, "e": {"randint": [2, 9]}, "f": 42, "g": {"choice": [1, 2]}}"#,
        )
        .expect("valid");
        let rows = form_rows(&space);
        assert_eq!(rows.len(), 7);
        for row in &rows {
            match row.kind {
                Some(_) => assert_eq!(row_expr(row).as_ref(), Ok(&space.params[&row.name]), "{row:?}"),
                None => assert!(row_expr(row).is_err(), "a choice is edited in the JSON"),
            }
        }
    }

    #[test]
    fn bad_numbers_in_the_form_are_named() {
        let row = FormRow {
            name: "learning_rate".into(),
            kind: Some("loguniform"),
            low: "-3".into(),
            high: "zero".into(),
            q: String::new(),
            value: String::new(),
        };
        let error = row_expr(&row).expect_err("not a number");
        assert!(error.contains("`learning_rate`") && error.contains("`zero`"), "{error}");
        let constant = FormRow { kind: Some("constant"), value: "{oops".into(), ..row };
        assert!(row_expr(&constant).is_err());
    }

    #[test]
    fn switching_distribution_keeps_the_range() {
        let row = FormRow {
            name: "learning_rate".into(),
            kind: Some("uniform"),
            low: "0.01".into(),
            high: "1".into(),
            q: String::new(),
            value: String::new(),
        };
        let log = switch_kind(&row, "loguniform");
        let Ok(Expr::LogUniform { low, high }) = row_expr(&log) else { panic!("log") };
        assert!((low - 0.01f64.ln()).abs() < 1e-9 && high == 0.0, "{low}");
        let back = switch_kind(&log, "uniform");
        assert_eq!(row_expr(&back), Ok(Expr::Uniform { low: 0.01, high: 1.0 }));
        let q = switch_kind(&row, "quniform");
        assert_eq!(q.q, "1");
        let int = switch_kind(&FormRow { low: "2.4".into(), high: "9.6".into(), ..row.clone() }, "randint");
        assert_eq!(row_expr(&int), Ok(Expr::RandInt { low: 2, high: 10 }));
    }
}
