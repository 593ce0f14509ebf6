//! Chapter 2: experiment tracking and the model registry, as a guided sequence of steps.
//!
//! Every step's tick comes from the data itself — the experiment's runs and the registered
//! model in the store — not from the click, so a step done on the Runs or Models page
//! counts too. Only what the store cannot show (a search was run; the page was reloaded
//! after the rollback) is remembered in localStorage.

use std::collections::{BTreeSet, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::features::{DurationFilter, FeatureSet};
use mlops_core::models::{ModelKind, ModelParams};
use mlops_core::tracking::registry::{RegisteredModel, RegistryChange, Stage};
use mlops_core::tracking::{Experiment, LifecycleStage, Run, RunOptions, RunStatus, TrackingError, ViewType};
use mlops_core::training::TrainSpec;
use serde::{Deserialize, Serialize};

use crate::components::step::{Step, StepSummary};
use crate::pages::chapter2_tuning as tuning_steps;
use crate::routes::Route;
use crate::state::{AppState, Pending, RunContext};
use crate::storage::prefs;
use crate::tracking_state::Tracking;

pub const EXPERIMENT_NAME: &str = "nyc-taxi-experiment";
pub const MODEL_NAME: &str = "nyc-taxi-regressor";
pub const SWEEP_PARENT_NAME: &str = "lasso-alpha-sweep";
pub const SWEEP_ALPHAS: [f64; 5] = [0.0001, 0.001, 0.01, 0.1, 1.0];
/// The course's query. Kept as the default whenever at least one run passes it.
pub const COURSE_QUERY: &str = "metrics.rmse < 7";
pub const ORDER_BY: &str = "metrics.rmse ASC";
pub const PROGRESS_KEY: &str = "mlops-lab-chapter2-progress";
const STEPS: [char; 12] = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
/// Marks this chapter's sweep parents, so the page only ever ends runs it started.
const SWEEP_TAG: &str = "mlops-lab.sweep";

thread_local! {
    /// Differs on every page load, so step g can tell a reload from a route change.
    static PAGE_LOAD: String = crate::storage::random_id();
}

fn page_load_id() -> String {
    PAGE_LOAD.with(Clone::clone)
}

#[component]
pub fn Chapter2Page() -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let stored = StoredValue::new(read_progress());

    let experiment = Memo::new(move |_| {
        tracking.experiments.with(|all| {
            all.iter()
                .find(|e| e.name == EXPERIMENT_NAME && e.lifecycle_stage == LifecycleStage::Active)
                .cloned()
        })
    });
    let runs = Memo::new(move |_| {
        let Some(id) = experiment.with(|e| e.as_ref().map(|e| e.experiment_id.clone())) else {
            return Vec::new();
        };
        tracking.runs.with(|all| {
            all.iter()
                .filter(|r| r.experiment_id == id && r.lifecycle_stage == LifecycleStage::Active)
                .map(|r| Run::clone(r))
                .collect::<Vec<Run>>()
        })
    });
    let model =
        Memo::new(move |_| tracking.models.with(|all| all.iter().find(|m| m.name == MODEL_NAME).cloned()));
    let data_loaded =
        Memo::new(move |_| state.train_data.with(Option::is_some) && state.val_data.with(Option::is_some));

    let search = search_action(tracking, experiment);
    let searched =
        Memo::new(move |_| search.value().with(|v| matches!(v, Some(Ok(hits)) if !hits.is_empty())));

    let done_a = Memo::new(move |_| {
        experiment.with(Option::is_some) && (data_loaded.get() || runs.with(|r| !r.is_empty()))
    });
    let done_b = Memo::new(move |_| runs.with(|r| sweep_done(r)));
    let done_c = Memo::new(move |_| searched.get() || stored.with_value(|p| p.done.contains(&'c')));
    let done_d =
        Memo::new(move |_| model.with(|m| m.as_ref().is_some_and(|m| runs.with(|r| has_version_from(m, r)))));
    let done_e = Memo::new(move |_| model.with(|m| m.as_ref().is_some_and(promoted_twice)));
    let done_f = Memo::new(move |_| model.with(|m| m.as_ref().is_some_and(rolled_back)));
    let done_g =
        Memo::new(move |_| done_f.get() && stored.with_value(|p| p.reloaded_since_f(&page_load_id())));
    let done_h = Memo::new(move |_| runs.with(|r| tuning_steps::completed_search(r).is_some()));
    let done_i = Memo::new(move |_| runs.with(|r| tuning_steps::comparison_done(r)));
    let done_j = Memo::new(move |_| runs.with(|r| tuning_steps::autologged_trial(r).is_some()));
    let answered_right = RwSignal::new(false);
    let done_k = Memo::new(move |_| answered_right.get() || stored.with_value(|p| p.done.contains(&'k')));
    let done_l = Memo::new(move |_| {
        model
            .with(|m| m.as_ref().is_some_and(|m| runs.with(|r| tuning_steps::search_winner_registered(m, r))))
    });
    let all_done =
        [done_a, done_b, done_c, done_d, done_e, done_f, done_g, done_h, done_i, done_j, done_k, done_l];

    // Remember progress: localStorage is not a signal, so writing it here is safe.
    Effect::new(move |_| {
        let flags = all_done.map(|m| m.get());
        let mut progress = read_progress();
        for (letter, done) in STEPS.iter().zip(flags) {
            if done {
                progress.mark(*letter, &page_load_id());
            }
        }
        write_progress(&progress);
    });
    end_finished_sweeps(state, tracking, runs);

    view! {
        <article class="lesson chapter2" data-testid="chapter2">
            {crate::lesson!("chapter2/intro.md")}
            {crate::lesson!("chapter2/vocabulary.md")}
            <h2>"Hands on"</h2>
            <p class="muted">
                "Twelve steps, each with a button. A step ticks itself when the data shows it is done — "
                "do it here, or on the Runs, Models and Search pages."
            </p>
            <StepSummary steps=&STEPS done=all_done.to_vec()/>
            <Step testid="step-a" done=done_a>
                {crate::lesson!("chapter2/step-a.md")}
                <LoadStep experiment data_loaded/>
            </Step>
            <Step testid="step-b" done=done_b>
                {crate::lesson!("chapter2/step-b.md")}
                <SweepStep experiment runs data_loaded/>
            </Step>
            <Step testid="step-c" done=done_c>
                {crate::lesson!("chapter2/step-c.md")}
                <SearchStep experiment runs search/>
            </Step>
            {crate::lesson!("chapter2/registry.md")}
            <RegistrySteps runs model done_d done_e done_f/>
            <Step testid="step-g" done=done_g>
                {crate::lesson!("chapter2/step-g.md")}
                <p>
                    <button data-testid="reload" on:click=move |_| { let _ = window().location().reload(); }>"Reload the page"</button>
                    <span class="muted">
                        {move || if done_g.get() {
                            " Still here after the reload: the runs and the registry came back from IndexedDB."
                        } else if done_f.get() {
                            " Step f is done — reload now and this step ticks itself."
                        } else {
                            " Finish step f first."
                        }}
                    </span>
                </p>
            </Step>
            <tuning_steps::TuningSteps experiment runs data_loaded done_h done_i done_j done_k done_l answered_right/>
            {crate::lesson!("chapter2/scenarios.md")}
            <p>
                "Next: tune your own search on the " <a href=Route::Search.path()>"search page"</a>
                ", see every run on the " <a href=Route::Runs.path()>"Runs page"</a>
                ", the registry on the " <a href=Route::Models.path()>"Models page"</a>
                ", or connect a real MLflow server in " <a href=Route::Settings.path()>"Settings"</a> "."
            </p>
        </article>
    }
}

fn message(result: Option<Result<String, String>>) -> impl IntoView {
    result.map(|result| match result {
        Ok(text) => view! { <p class="ok">{text}</p> }.into_any(),
        Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
    })
}

#[component]
fn LoadStep(experiment: Memo<Option<Experiment>>, data_loaded: Memo<bool>) -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let prepare = Action::new_local(move |_: &()| async move {
        state.load_defaults();
        let client = tracking
            .client()
            .ok_or_else(|| "The run log is not open yet; try again in a moment.".to_string())?;
        let id = find_or_create_experiment(&client).await.map_err(|e| e.to_string())?;
        state.active_experiment.set(id.clone());
        Ok::<String, String>(format!("Experiment `{EXPERIMENT_NAME}` (id {id}) is active."))
    });
    let label = move |slot: mlops_core::protocol::Slot| {
        state
            .dataset(slot)
            .with(|d| d.as_ref().map(|d| d.label.clone()))
            .unwrap_or_else(|| "not loaded".to_string())
    };
    view! {
        <p>
            <button class="primary" data-testid="load-step" disabled=move || prepare.pending().get()
                on:click=move |_| { prepare.dispatch(()); }>"Load the data and set up the experiment"</button>
        </p>
        <ul class="facts">
            <li>"Training month: " {move || label(mlops_core::protocol::Slot::Train)}</li>
            <li>"Validation month: " {move || label(mlops_core::protocol::Slot::Validation)}</li>
            <li>"Experiment: " {move || match experiment.get() {
                Some(e) => format!("{} (id {})", e.name, e.experiment_id),
                None => "not created yet".to_string(),
            }}</li>
        </ul>
        <Show when=move || !data_loaded.get() && experiment.with(Option::is_some)>
            <p class="muted">"The months load in the background worker; step b needs both."</p>
        </Show>
        {move || message(prepare.value().get())}
    }
}

async fn find_or_create_experiment(client: &crate::storage::Client) -> Result<String, TrackingError> {
    if let Some(found) = client.get_experiment_by_name(EXPERIMENT_NAME).await? {
        if found.lifecycle_stage == LifecycleStage::Deleted {
            client.restore_experiment(&found.experiment_id).await?;
        }
        return Ok(found.experiment_id);
    }
    match client.create_experiment(EXPERIMENT_NAME, &[]).await {
        Ok(id) => Ok(id),
        // Another tab (or a double click) created it first.
        Err(TrackingError::DuplicateExperiment(_)) => client
            .get_experiment_by_name(EXPERIMENT_NAME)
            .await?
            .map(|e| e.experiment_id)
            .ok_or_else(|| TrackingError::ExperimentNameNotFound(EXPERIMENT_NAME.to_string())),
        Err(e) => Err(e),
    }
}

fn spec(kind: ModelKind, alpha: f64) -> TrainSpec {
    TrainSpec {
        estimator: ModelParams::new(kind).alpha(alpha).into(),
        feature_set: FeatureSet::PuDo,
        filter: DurationFilter::default(),
    }
}

#[component]
fn SweepStep(
    experiment: Memo<Option<Experiment>>,
    runs: Memo<Vec<Run>>,
    data_loaded: Memo<bool>,
) -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let sweep = Action::new_local(move |_: &()| async move {
        let experiment_id = experiment
            .get_untracked()
            .map(|e| e.experiment_id)
            .ok_or_else(|| "Do step a first: there is no experiment yet.".to_string())?;
        if !data_loaded.get_untracked() {
            return Err("The training and validation months are not loaded yet (step a).".to_string());
        }
        let client = tracking.open_client().map_err(|e| e.to_string())?;
        let alphas = SWEEP_ALPHAS.map(|a| a.to_string()).join(", ");
        let options = RunOptions {
            run_name: Some(SWEEP_PARENT_NAME.to_string()),
            tags: vec![
                (SWEEP_TAG.to_string(), SWEEP_ALPHAS.len().to_string()),
                ("purpose".to_string(), format!("Lasso over alpha in [{alphas}]")),
            ],
            ..RunOptions::default()
        };
        let parent = client.create_run(&experiment_id, options).await.map_err(|e| e.to_string())?;
        // Queue before any other await, so the children exist before the parent is judged.
        let child = RunContext {
            experiment_id: Some(experiment_id.clone()),
            parent_run_id: Some(parent.run_id.clone()),
            tags: vec![("sweep".to_string(), SWEEP_PARENT_NAME.to_string())],
        };
        for alpha in SWEEP_ALPHAS {
            state.train_in(spec(ModelKind::Lasso, alpha), child.clone());
        }
        let alone = RunContext { experiment_id: Some(experiment_id), ..RunContext::default() };
        state.train_in(spec(ModelKind::Ridge, 1.0), alone.clone());
        state.train_in(spec(ModelKind::LinearRegression, 1.0), alone);
        let params = [("model".to_string(), "Lasso".to_string()), ("alphas".to_string(), alphas)];
        let _ = client.log_batch(&parent.run_id, &[], &params, &[]).await;
        Ok::<String, String>(format!(
            "Queued {} trainings; the sweep's parent run is `{}`.",
            SWEEP_ALPHAS.len() + 2,
            parent.run_id
        ))
    });
    let busy = move || state.is_busy() || sweep.pending().get();
    view! {
        <p>
            <button class="primary" data-testid="train-sweep" disabled=move || busy() || !data_loaded.get() || experiment.with(Option::is_none)
                on:click=move |_| { sweep.dispatch(()); }>"Train the sweep, Ridge and LinearRegression"</button>
        </p>
        <p class="sweep-progress" data-testid="sweep-progress" aria-live="polite">
            {move || {
                let finished = runs.with(|r| finished_with_rmse(r));
                let training = matches!(state.pending.get(), Some(Pending::Train { .. }));
                let waiting = state.queued();
                let worker = match state.progress.get() {
                    Some((stage, fraction)) if training => format!(" · now: {stage} ({:.0}%)", fraction * 100.0),
                    _ => String::new(),
                };
                format!(
                    "{finished} finished run(s) with rmse in {EXPERIMENT_NAME} · {} training · {waiting} queued{worker}",
                    usize::from(training)
                )
            }}
        </p>
        {move || message(sweep.value().get())}
    }
}

/// Ends a sweep's parent run once its children are done (or the queue gave up on them).
fn end_finished_sweeps(state: AppState, tracking: Tracking, runs: Memo<Vec<Run>>) {
    let ending = StoredValue::new(HashSet::<String>::new());
    Effect::new(move |_| {
        let idle = state.pending.with(Option::is_none) && state.queued() == 0;
        let decisions: Vec<(String, RunStatus)> = runs.with(|all| {
            all.iter()
                .filter(|r| r.status == RunStatus::Running && r.tags.contains_key(SWEEP_TAG))
                .filter_map(|parent| {
                    let expected =
                        parent.tags.get(SWEEP_TAG).and_then(|n| n.parse().ok()).unwrap_or(SWEEP_ALPHAS.len());
                    let children: Vec<&Run> =
                        all.iter().filter(|r| r.parent_run_id() == Some(parent.run_id.as_str())).collect();
                    sweep_outcome(&children, expected, idle).map(|status| (parent.run_id.clone(), status))
                })
                .collect()
        });
        for (run_id, status) in decisions {
            if !ending.try_update_value(|set| set.insert(run_id.clone())).unwrap_or(false) {
                continue;
            }
            if let Some(client) = tracking.client() {
                spawn_local(async move {
                    if let Err(e) = client.set_terminated(&run_id, status, None).await {
                        tracking.warning.set(Some(format!("The sweep's parent run could not be ended: {e}")));
                    }
                });
            }
        }
    });
}

/// What the search step shows when a query fails: the message, and the query with a caret
/// under the character where the parser stopped (none for other errors).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchFailure {
    pub message: String,
    pub caret: Option<String>,
}

type SearchAction = Action<String, Result<Vec<Run>, SearchFailure>>;

fn search_action(tracking: Tracking, experiment: Memo<Option<Experiment>>) -> SearchAction {
    Action::new_local(move |filter: &String| {
        let filter = filter.clone();
        async move {
            let failure = |message: String| SearchFailure { message, caret: None };
            let client = tracking.open_client().map_err(|e| failure(e.to_string()))?;
            let experiment_id = experiment
                .get_untracked()
                .map(|e| e.experiment_id)
                .ok_or_else(|| failure("Do step a first: there is no experiment to search.".to_string()))?;
            client
                .search_runs(
                    &[experiment_id],
                    &filter,
                    ViewType::ActiveOnly,
                    1000,
                    &[ORDER_BY.to_string()],
                    None,
                )
                .await
                .map(|page| page.runs)
                .map_err(|e| match e {
                    TrackingError::Search(e) => SearchFailure {
                        message: format!("{} at position {}", e.message, e.position),
                        caret: Some(e.caret()),
                    },
                    other => failure(other.to_string()),
                })
        }
    })
}

#[component]
fn SearchStep(
    experiment: Memo<Option<Experiment>>,
    runs: Memo<Vec<Run>>,
    search: SearchAction,
) -> impl IntoView {
    // `None` until the learner edits the query; until then it follows the runs.
    let typed = RwSignal::new(None::<String>);
    let suggested = Memo::new(move |_| runs.with(|r| suggested_query(r)));
    let query = move || typed.get().unwrap_or_else(|| suggested.get());
    let run_search = move || {
        search.dispatch(query());
    };
    view! {
        <div class="search-step">
            <label>"Filter "
                <input type="text" size="50" class="mono" data-testid="search-query"
                    prop:value=query on:input=move |ev| typed.set(Some(event_target_value(&ev)))
                    on:keydown=move |ev| if ev.key() == "Enter" { run_search() }/>
            </label>
            " ordered by " <code>{ORDER_BY}</code> " "
            <button class="primary" data-testid="search-run" disabled=move || experiment.with(Option::is_none) || search.pending().get()
                on:click=move |_| run_search()>"Search"</button>
            <Show when=move || typed.with(Option::is_none) && suggested.get() != COURSE_QUERY>
                <p class="note" data-testid="search-adjusted">
                    "No run of yours has " <code>{COURSE_QUERY}</code> " (the course's query, tuned for the real 2021 months), "
                    "so the box starts at your runs' median RMSE rounded up instead."
                </p>
            </Show>
            {move || match search.value().get() {
                None => ().into_any(),
                Some(Err(failure)) => view! {
                    <div class="error" role="alert" data-testid="search-error">
                        <p>{failure.message}</p>
                        {failure.caret.map(|caret| view! { <pre class="caret">{caret}</pre> })}
                    </div>
                }.into_any(),
                Some(Ok(hits)) if hits.is_empty() => view! {
                    <p class="empty" data-testid="search-results">"No run matches this filter."</p>
                }.into_any(),
                Some(Ok(hits)) => {
                    let best = best_run(&hits).map(|r| r.run_id.clone());
                    view! {
                        <table class="search-results" data-testid="search-results">
                            <thead><tr><th>"Run"</th><th>"model"</th><th>"alpha"</th><th>"rmse"</th></tr></thead>
                            <tbody>
                                {hits.into_iter().map(|run| {
                                    let is_best = best.as_deref() == Some(run.run_id.as_str());
                                    view! {
                                        <tr data-testid="search-result" class:best=is_best data-best=is_best.to_string()>
                                            <td><a href=Route::Run(run.run_id.clone()).path()>{run.run_name.clone()}</a>
                                                {is_best.then_some(" ★ best")}</td>
                                            <td>{run.params.get("model").cloned().unwrap_or_default()}</td>
                                            <td>{run.params.get("alpha").cloned().unwrap_or_else(|| "—".to_string())}</td>
                                            <td>{run.metric("rmse").map(|v| format!("{v:.4}")).unwrap_or_default()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            }}
        </div>
    }
}

/// The registry changes steps d–f make.
#[derive(Debug, Clone, PartialEq)]
enum RegistryOp {
    Register { run_id: String },
    ToProduction { version: u32 },
    SetChampion { version: u32 },
}

#[component]
fn RegistrySteps(
    runs: Memo<Vec<Run>>,
    model: Memo<Option<RegisteredModel>>,
    done_d: Memo<bool>,
    done_e: Memo<bool>,
    done_f: Memo<bool>,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    // Which step's button was pressed last, so its message shows there.
    let last_step = RwSignal::new('d');
    let op = Action::new_local(move |op: &RegistryOp| {
        let op = op.clone();
        async move {
            let client = tracking.open_client().map_err(|e| e.to_string())?;
            let result = match op {
                RegistryOp::Register { run_id } => client
                    .register_model(&format!("runs:/{run_id}/model"), MODEL_NAME)
                    .await
                    .map(|v| format!("Registered {MODEL_NAME} version {} from run {run_id}.", v.version)),
                RegistryOp::ToProduction { version } => client
                    .transition_model_version_stage(MODEL_NAME, version, Stage::Production, true)
                    .await
                    .map(|_| format!("Version {version} is in Production; the one before it is Archived.")),
                RegistryOp::SetChampion { version } => client
                    .set_registered_model_alias(MODEL_NAME, "champion", version)
                    .await
                    .map(|()| format!("@champion points at version {version}.")),
            };
            result.map_err(|e| e.to_string())
        }
    });
    let ranked = Memo::new(move |_| {
        runs.with(|r| {
            ranked_candidates(r)
                .into_iter()
                .map(|run| (run.run_id.clone(), run.run_name.clone(), run.metric("rmse").unwrap_or(f64::NAN)))
                .collect::<Vec<_>>()
        })
    });
    let candidate = move |at: usize| ranked.with(|r| r.get(at).cloned());
    let describe = move |at: usize| match candidate(at) {
        Some((_, name, rmse)) => format!("{name} (rmse {rmse:.4})"),
        None => "no finished run with a logged model yet".to_string(),
    };
    let newest = move || model.with(|m| m.as_ref().and_then(newest_version));
    let production = move || {
        model.with(|m| m.as_ref().and_then(|m| m.latest_in_stage(Stage::Production).map(|v| v.version)))
    };
    let previous = move || model.with(|m| m.as_ref().and_then(|m| m.previous_in_stage(Stage::Production)));
    let champion = move || model.with(|m| m.as_ref().and_then(|m| m.aliases.get("champion").copied()));
    let busy = move || op.pending().get();
    let press = move |step: char, request: RegistryOp| {
        last_step.set(step);
        op.dispatch(request);
    };
    let shown_in = move |step: char| move || (last_step.get() == step).then(|| message(op.value().get()));
    let stage_summary = move || {
        model.with(|m| match m {
            None => format!("{MODEL_NAME} is not registered yet."),
            Some(m) => {
                let versions: Vec<String> =
                    m.versions.iter().map(|v| format!("v{} {}", v.version, v.current_stage)).collect();
                format!("{MODEL_NAME}: {}", versions.join(" · "))
            }
        })
    };
    view! {
        <Step testid="step-d" done=done_d>
            {crate::lesson!("chapter2/step-d.md")}
            <p>"Best run: " <strong>{move || describe(0)}</strong></p>
            <p>
                <button class="primary" data-testid="register-best" disabled=move || busy() || candidate(0).is_none()
                    on:click=move |_| if let Some((run_id, _, _)) = candidate(0) { press('d', RegistryOp::Register { run_id }) }>
                    "Register the best run's model"
                </button>
            </p>
            {shown_in('d')}
        </Step>
        <Step testid="step-e" done=done_e>
            {crate::lesson!("chapter2/step-e.md")}
            <p class="registry-state" data-testid="registry-state">{stage_summary}</p>
            <p>
                <button class="primary" data-testid="promote"
                    disabled=move || busy() || newest().is_none() || newest() == production()
                    on:click=move |_| if let Some(version) = newest() { press('e', RegistryOp::ToProduction { version }) }>
                    {move || match newest() {
                        Some(v) => format!("Promote version {v} to Production"),
                        None => "Promote the newest version to Production".to_string(),
                    }}
                </button>
                " "
                <button data-testid="register-second" disabled=move || busy() || candidate(1).is_none() || model.with(Option::is_none)
                    on:click=move |_| if let Some((run_id, _, _)) = candidate(1) { press('e', RegistryOp::Register { run_id }) }>
                    {move || format!("Register the second-best run: {}", describe(1))}
                </button>
            </p>
            {shown_in('e')}
        </Step>
        <Step testid="step-f" done=done_f>
            {crate::lesson!("chapter2/step-f.md")}
            <p>
                <button class="primary" data-testid="rollback" disabled=move || busy() || previous().is_none()
                    on:click=move |_| if let Some(version) = previous() { press('f', RegistryOp::ToProduction { version }) }>
                    {move || match previous() {
                        Some(v) => format!("Roll Production back to version {v}"),
                        None => "Roll back Production (needs an earlier Production version)".to_string(),
                    }}
                </button>
                " "
                <button data-testid="set-champion" disabled=move || busy() || production().is_none() || champion() == production()
                    on:click=move |_| if let Some(version) = production() { press('f', RegistryOp::SetChampion { version }) }>
                    {move || match (production(), champion()) {
                        (Some(p), Some(c)) if p == c => format!("@champion is on version {c}"),
                        (Some(p), _) => format!("Set @champion on version {p}"),
                        (None, _) => "Set @champion (nothing in Production yet)".to_string(),
                    }}
                </button>
            </p>
            <p class="muted">
                "Load by URI: " <code>{format!("models:/{MODEL_NAME}/Production")}</code> " · "
                <code>{format!("models:/{MODEL_NAME}@champion")}</code> " — see the "
                <a href=Route::Model(MODEL_NAME.to_string()).path()>"model page"</a> " for the whole history."
            </p>
            {shown_in('f')}
        </Step>
    }
}

// ----- progress in localStorage -----

/// What localStorage remembers between visits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Letters of the steps done at some point.
    #[serde(default)]
    pub done: BTreeSet<char>,
    /// The page load in which step f was first seen done; a different load means the
    /// learner reloaded since.
    #[serde(default)]
    pub f_done_in_load: Option<String>,
}

impl Progress {
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn mark(&mut self, letter: char, load_id: &str) {
        self.done.insert(letter);
        if letter == 'f' && self.f_done_in_load.is_none() {
            self.f_done_in_load = Some(load_id.to_string());
        }
    }

    pub fn reloaded_since_f(&self, load_id: &str) -> bool {
        self.f_done_in_load.as_deref().is_some_and(|seen| seen != load_id)
    }
}

fn read_progress() -> Progress {
    prefs::get(PROGRESS_KEY).map(|t| Progress::parse(&t)).unwrap_or_default()
}

fn write_progress(progress: &Progress) {
    prefs::set(PROGRESS_KEY, &progress.to_json());
}

// ----- the checks, over plain data -----

fn has_rmse(run: &Run) -> bool {
    run.metric("rmse").is_some_and(f64::is_finite)
}

/// Finished, active runs that logged an `rmse`.
pub fn finished_with_rmse(runs: &[Run]) -> usize {
    runs.iter()
        .filter(|r| {
            r.status == RunStatus::Finished && r.lifecycle_stage == LifecycleStage::Active && has_rmse(r)
        })
        .count()
}

/// Step b: at least five finished runs with an `rmse`.
pub fn sweep_done(runs: &[Run]) -> bool {
    finished_with_rmse(runs) >= 5
}

/// Runs that can be registered, best (lowest `rmse`) first: finished, active, with a
/// logged `model`.
pub fn ranked_candidates(runs: &[Run]) -> Vec<&Run> {
    let mut ranked: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            r.status == RunStatus::Finished && r.lifecycle_stage == LifecycleStage::Active && has_rmse(r)
        })
        .filter(|r| r.logged_models.iter().any(|m| m.artifact_path == "model"))
        .collect();
    ranked.sort_by(|a, b| {
        let (x, y) = (a.metric("rmse").unwrap_or(f64::INFINITY), b.metric("rmse").unwrap_or(f64::INFINITY));
        x.total_cmp(&y).then(a.start_time.cmp(&b.start_time))
    });
    ranked
}

/// The run with the lowest `rmse` among search results.
pub fn best_run(runs: &[Run]) -> Option<&Run> {
    runs.iter().filter(|r| has_rmse(r)).min_by(|a, b| {
        a.metric("rmse").unwrap_or(f64::INFINITY).total_cmp(&b.metric("rmse").unwrap_or(f64::INFINITY))
    })
}

/// The course's query when at least one run passes it (or there is nothing to judge by);
/// otherwise the runs' median RMSE rounded up, so about half of them match.
pub fn suggested_query(runs: &[Run]) -> String {
    let mut values: Vec<f64> =
        runs.iter().filter_map(|r| r.metric("rmse")).filter(|v| v.is_finite()).collect();
    if values.is_empty() || values.iter().any(|v| *v < 7.0) {
        return COURSE_QUERY.to_string();
    }
    values.sort_by(f64::total_cmp);
    // Odd lengths read the middle value twice.
    let median = (values[(values.len() - 1) / 2] + values[values.len() / 2]) / 2.0;
    // Strictly above the median, so the median run itself passes `<`.
    format!("metrics.rmse < {}", (median.floor() + 1.0) as i64)
}

/// Step d: the model has a version made from one of these runs.
pub fn has_version_from(model: &RegisteredModel, runs: &[Run]) -> bool {
    model.versions.iter().any(|v| runs.iter().any(|r| r.run_id == v.run_id))
}

pub fn newest_version(model: &RegisteredModel) -> Option<u32> {
    model.versions.iter().map(|v| v.version).max()
}

fn entered(model: &RegisteredModel, stage: Stage) -> BTreeSet<u32> {
    model
        .history
        .iter()
        .filter(|e| matches!(e.change, RegistryChange::StageChanged { to, .. } if to == stage))
        .map(|e| e.version)
        .collect()
}

/// Step e: two different versions have been in Production and one was archived — the
/// history says so, so rolling back later does not undo this step.
pub fn promoted_twice(model: &RegisteredModel) -> bool {
    entered(model, Stage::Production).len() >= 2 && !entered(model, Stage::Archived).is_empty()
}

/// Step f: Production holds an older version than the newest, and the newest has been in
/// Production — it was replaced, not just never promoted.
pub fn rolled_back(model: &RegisteredModel) -> bool {
    let (Some(newest), Some(live)) =
        (newest_version(model), model.latest_in_stage(Stage::Production).map(|v| v.version))
    else {
        return false;
    };
    live < newest && entered(model, Stage::Production).contains(&newest)
}

/// How a sweep's parent run should end, once it can: FINISHED when every expected child
/// finished, FAILED when the worker went idle with children missing or failed; `None`
/// while a child is still running or more are on their way.
pub fn sweep_outcome(children: &[&Run], expected: usize, worker_idle: bool) -> Option<RunStatus> {
    if children.iter().any(|c| c.status == RunStatus::Running) {
        return None;
    }
    let all_finished = children.iter().all(|c| c.status == RunStatus::Finished);
    if children.len() >= expected {
        return Some(if all_finished { RunStatus::Finished } else { RunStatus::Failed });
    }
    worker_idle.then_some(RunStatus::Failed)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mlops_core::tracking::{LoggedModel, Metric, ModelSignature};

    use super::*;

    fn run(id: &str, status: RunStatus, rmse: Option<f64>) -> Run {
        let mut metrics = BTreeMap::new();
        if let Some(value) = rmse {
            metrics.insert("rmse".to_string(), Metric { value, timestamp: 0, step: 0 });
        }
        Run {
            run_id: id.to_string(),
            experiment_id: "1".to_string(),
            run_name: id.to_string(),
            user_id: "learner".to_string(),
            status,
            start_time: 0,
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
            params: BTreeMap::new(),
            metrics,
            tags: BTreeMap::new(),
            artifacts: Vec::new(),
            logged_models: vec![LoggedModel {
                artifact_path: "model".to_string(),
                flavor: "linear".to_string(),
                signature: ModelSignature::default(),
                utc_time_created: 0,
            }],
        }
    }

    fn finished(id: &str, rmse: f64) -> Run {
        run(id, RunStatus::Finished, Some(rmse))
    }

    #[test]
    fn step_b_needs_five_finished_runs_with_rmse() {
        let mut runs: Vec<Run> = (0..4).map(|i| finished(&format!("r{i}"), 6.0 + f64::from(i))).collect();
        runs.push(run("parent", RunStatus::Finished, None));
        runs.push(run("running", RunStatus::Running, Some(5.0)));
        runs.push(run("failed", RunStatus::Failed, Some(5.0)));
        assert!(!sweep_done(&runs));
        runs.push(finished("r4", 9.0));
        assert!(sweep_done(&runs));
        let mut deleted = finished("gone", 1.0);
        deleted.lifecycle_stage = LifecycleStage::Deleted;
        assert_eq!(finished_with_rmse(&[deleted]), 0);
    }

    #[test]
    fn candidates_are_ranked_by_rmse_and_need_a_logged_model() {
        let mut no_model = finished("no-model", 1.0);
        no_model.logged_models.clear();
        let runs = vec![
            finished("ok", 6.5),
            no_model,
            finished("best", 6.1),
            run("open", RunStatus::Running, Some(2.0)),
        ];
        let ids: Vec<&str> = ranked_candidates(&runs).iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["best", "ok"]);
        assert_eq!(
            best_run(&runs).map(|r| r.run_id.as_str()),
            Some("no-model"),
            "search results need no model"
        );
        assert_eq!(best_run(&[]), None);
    }

    #[test]
    fn the_course_query_stays_unless_nothing_passes_it() {
        // Values from the simulated months (Chapter 1's defaults): three runs pass.
        let simulated: Vec<Run> = [6.1388, 8.2523, 10.6116, 11.5682, 11.58, 6.1002, 6.5107]
            .iter()
            .enumerate()
            .map(|(i, v)| finished(&format!("r{i}"), *v))
            .collect();
        assert_eq!(suggested_query(&simulated), COURSE_QUERY);
        assert_eq!(suggested_query(&[]), COURSE_QUERY);
        let high: Vec<Run> =
            [8.2, 9.9, 12.0].iter().enumerate().map(|(i, v)| finished(&format!("r{i}"), *v)).collect();
        assert_eq!(suggested_query(&high), "metrics.rmse < 10");
        let even: Vec<Run> =
            [8.0, 9.0, 11.0, 12.0].iter().enumerate().map(|(i, v)| finished(&format!("r{i}"), *v)).collect();
        assert_eq!(suggested_query(&even), "metrics.rmse < 11");
    }

    #[test]
    fn suggested_queries_parse_and_match_runs() {
        let high: Vec<Run> =
            [8.2, 9.9, 12.0].iter().enumerate().map(|(i, v)| finished(&format!("r{i}"), *v)).collect();
        for query in [
            COURSE_QUERY.to_string(),
            suggested_query(&high),
            "params.model = 'Lasso' AND metrics.rmse < 9".to_string(),
        ] {
            assert!(mlops_core::tracking::search::parse_filter(&query).is_ok(), "{query}");
        }
        let filter = mlops_core::tracking::search::parse_filter(&suggested_query(&high)).expect("filter");
        assert_eq!(high.iter().filter(|r| filter.matches(r)).count(), 2);
    }

    fn registered(runs: &[&str]) -> RegisteredModel {
        let mut model = RegisteredModel::new(MODEL_NAME, "", 0).expect("model");
        for run_id in runs {
            model.create_version(&format!("runs:/{run_id}/model"), "", "", 1).expect("version");
        }
        model
    }

    #[test]
    fn step_d_needs_a_version_from_this_experiment() {
        let runs = vec![finished("a1", 6.0)];
        assert!(!has_version_from(&registered(&[]), &runs));
        assert!(!has_version_from(&registered(&["elsewhere"]), &runs));
        assert!(has_version_from(&registered(&["elsewhere", "a1"]), &runs));
    }

    #[test]
    fn steps_e_and_f_follow_the_registry_history() {
        let mut model = registered(&["best"]);
        model.transition_stage(1, Stage::Production, true, 2).expect("v1");
        assert!(!promoted_twice(&model) && !rolled_back(&model));
        model.create_version("runs:/second/model", "", "", 3).expect("v2");
        assert!(!rolled_back(&model), "v2 was never live, so nothing was rolled back");
        model.transition_stage(2, Stage::Production, true, 4).expect("v2");
        assert!(promoted_twice(&model));
        assert!(!rolled_back(&model));
        let previous = model.previous_in_stage(Stage::Production).expect("previous");
        assert_eq!(previous, 1);
        model.transition_stage(previous, Stage::Production, true, 5).expect("roll back");
        assert!(rolled_back(&model));
        assert!(promoted_twice(&model), "rolling back keeps step e done");
        assert_eq!(model.version(2).expect("v2").current_stage, Stage::Archived);
    }

    #[test]
    fn a_sweep_parent_ends_when_its_children_do() {
        let done = finished("c", 6.0);
        let open = run("o", RunStatus::Running, None);
        let failed = run("f", RunStatus::Failed, None);
        assert_eq!(sweep_outcome(&[&done, &open], 2, true), None, "a child is still logging");
        assert_eq!(sweep_outcome(&[&done], 2, false), None, "more children are queued");
        assert_eq!(sweep_outcome(&[&done, &done], 2, false), Some(RunStatus::Finished));
        assert_eq!(sweep_outcome(&[&done, &failed], 2, false), Some(RunStatus::Failed));
        assert_eq!(sweep_outcome(&[&done], 2, true), Some(RunStatus::Failed), "the queue gave up");
    }

    #[test]
    fn progress_round_trips_and_knows_about_reloads() {
        let mut progress = Progress::parse("not json");
        assert_eq!(progress, Progress::default());
        progress.mark('c', "load-1");
        progress.mark('f', "load-1");
        progress.mark('f', "load-2");
        assert!(!progress.reloaded_since_f("load-1"));
        assert!(progress.reloaded_since_f("load-2"));
        let back = Progress::parse(&progress.to_json());
        assert_eq!(back, progress);
        assert_eq!(back.done.iter().collect::<String>(), "cf");
        assert!(!Progress::default().reloaded_since_f("any"));
    }
}
