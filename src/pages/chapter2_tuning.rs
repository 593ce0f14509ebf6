//! Chapter 2's tuning steps (h–l): a first search, TPE against random search, nested
//! runs and autologging, reading the parallel-coordinates view, registering the winner.
//!
//! As in the rest of the chapter, each step's tick comes from the store — search parent
//! runs (tagged `search.state`), their child runs, the registry — through the plain
//! functions at the end of the file; only the answer to step k's question is remembered.

use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::features::FeatureSet;
use mlops_core::search::{Algorithm, SearchSpec, Space, TpeOptions};
use mlops_core::tracking::registry::RegisteredModel;
use mlops_core::tracking::{Experiment, LifecycleStage, Run, RunStatus};
use mlops_core::tuning::{self, tags, Family, SearchRecord, SearchState};

use crate::components::chart::SvgImage;
use crate::components::parallel_coords::{parallel_coords_svg, search_axes, search_failed, search_losses};
use crate::components::search_charts::{best_so_far_svg, BestCurve};
use crate::components::step::Step;
use crate::pages::chapter2::MODEL_NAME;
use crate::pages::search::{quick_spec, QUICK_SPACE};
use crate::routes::Route;
use crate::search_state::{NewSearch, Searches};
use crate::state::AppState;
use crate::storage::random_id;
use crate::tracking_state::Tracking;

/// The comparison's budget per algorithm, and TPE's random start-up trials within it.
pub const COMPARE_EVALS: u32 = 24;
pub const COMPARE_STARTUP: u32 = 8;

// ----- the checks, over plain data -----

fn is_search_parent(run: &Run) -> bool {
    run.tags.contains_key(tags::STATE) && run.lifecycle_stage == LifecycleStage::Active
}

fn state_of(run: &Run) -> Option<SearchState> {
    run.tags.get(tags::STATE).and_then(|s| SearchState::parse(s))
}

fn children_of<'a>(runs: &'a [Run], parent: &str) -> impl Iterator<Item = &'a Run> + 'a {
    let parent = parent.to_string();
    runs.iter().filter(move |r| {
        r.parent_run_id() == Some(parent.as_str()) && r.lifecycle_stage == LifecycleStage::Active
    })
}

/// Step h: the newest complete search with at least one finished trial.
pub fn completed_search(runs: &[Run]) -> Option<&Run> {
    runs.iter()
        .filter(|r| is_search_parent(r) && state_of(r) == Some(SearchState::Complete))
        .filter(|r| children_of(runs, &r.run_id).any(|c| c.status == RunStatus::Finished))
        .max_by_key(|r| r.start_time)
}

/// The newest comparison: its TPE and random parents (either may still be running).
pub fn newest_comparison(runs: &[Run]) -> Option<(&Run, &Run)> {
    let newest = runs
        .iter()
        .filter(|r| is_search_parent(r) && r.tags.contains_key(tags::COMPARE))
        .max_by_key(|r| r.start_time)?;
    let group = newest.tags.get(tags::COMPARE)?;
    let member = |algorithm: &str| {
        runs.iter().find(|r| {
            is_search_parent(r)
                && r.tags.get(tags::COMPARE) == Some(group)
                && r.tags.get(tags::ALGORITHM).map(String::as_str) == Some(algorithm)
        })
    };
    Some((member("tpe")?, member("random")?))
}

/// Step i: a comparison whose two searches are both complete.
pub fn comparison_done(runs: &[Run]) -> bool {
    runs.iter().filter(|r| is_search_parent(r) && r.tags.contains_key(tags::COMPARE)).any(|tpe| {
        let group = tpe.tags.get(tags::COMPARE);
        let complete = |r: &Run| state_of(r) == Some(SearchState::Complete);
        tpe.tags.get(tags::ALGORITHM).map(String::as_str) == Some("tpe")
            && complete(tpe)
            && runs.iter().any(|random| {
                is_search_parent(random)
                    && random.tags.get(tags::COMPARE) == group
                    && random.tags.get(tags::ALGORITHM).map(String::as_str) == Some("random")
                    && complete(random)
            })
    })
}

/// Step j: a trial run nested under a search, finished, autologged with its model.
pub fn autologged_trial(runs: &[Run]) -> Option<&Run> {
    runs.iter().filter(|r| r.status == RunStatus::Finished && r.tags.contains_key(tags::TID)).find(|r| {
        r.tags.contains_key("mlflow.autologging")
            && r.logged_models.iter().any(|m| m.artifact_path == "model")
            && r.parent_run_id()
                .is_some_and(|p| runs.iter().any(|parent| parent.run_id == p && is_search_parent(parent)))
    })
}

/// The finished trial of `parent` with the lowest `val_rmse` and a logged model.
pub fn best_trial<'a>(runs: &'a [Run], parent: &str) -> Option<&'a Run> {
    children_of(runs, parent)
        .filter(|r| {
            r.status == RunStatus::Finished && r.logged_models.iter().any(|m| m.artifact_path == "model")
        })
        .filter(|r| r.metric("val_rmse").is_some_and(f64::is_finite))
        .min_by(|a, b| {
            a.metric("val_rmse")
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.metric("val_rmse").unwrap_or(f64::INFINITY))
        })
}

/// Step l: the model has a version made from a trial of a search.
pub fn search_winner_registered(model: &RegisteredModel, runs: &[Run]) -> bool {
    model.versions.iter().any(|v| {
        runs.iter().any(|r| {
            r.run_id == v.run_id
                && r.tags.contains_key(tags::TID)
                && r.parent_run_id()
                    .is_some_and(|p| runs.iter().any(|parent| parent.run_id == p && is_search_parent(parent)))
        })
    })
}

/// Trials of `parent` as (tid, loss), for a best-so-far curve from the store.
fn losses(runs: &[Run], parent: &str) -> Vec<(u32, f64)> {
    children_of(runs, parent)
        .filter(|r| r.status == RunStatus::Finished)
        .filter_map(|r| Some((r.tags.get(tags::TID)?.parse().ok()?, r.metric("val_rmse")?)))
        .collect()
}

/// The comparison's space: the quick space with wider ranges and a fifth knob, so TPE
/// has something to learn.
pub fn compare_space() -> Space {
    Space::from_json(
        r#"{
  "max_depth": {"quniform": [2, 8, 1]},
  "learning_rate": {"loguniform": [-4, 0]},
  "min_child_weight": {"loguniform": [-1, 4]},
  "reg_lambda": {"loguniform": [-6, 2]},
  "num_boost_round": 15,
  "seed": 42
}"#,
    )
    .unwrap_or_else(|_| quick_spec().space)
}

/// The two searches of a comparison: same space, budget and seed.
pub fn comparison_searches(seed: u64, parallelism: u32, group: String) -> Vec<NewSearch> {
    let tpe = Algorithm::Tpe(TpeOptions { n_startup_jobs: COMPARE_STARTUP, ..TpeOptions::default() });
    [(tpe, "tpe"), (Algorithm::Random, "random")]
        .into_iter()
        .map(|(algorithm, name)| NewSearch {
            name: format!("compare-{name}-seed{seed}"),
            family: Family::Gbdt,
            feature_set: FeatureSet::PuDo,
            spec: SearchSpec {
                space: compare_space(),
                algorithm,
                max_evals: COMPARE_EVALS,
                seed,
                parallelism,
            },
            compare: Some(group.clone()),
        })
        .collect()
}

// ----- the steps -----

fn message(result: Option<Result<String, String>>) -> impl IntoView {
    result.map(|result| match result {
        Ok(text) => view! { <p class="ok">{text}</p> }.into_any(),
        Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
    })
}

#[allow(clippy::too_many_arguments)]
#[component]
pub fn TuningSteps(
    experiment: Memo<Option<Experiment>>,
    runs: Memo<Vec<Run>>,
    data_loaded: Memo<bool>,
    done_h: Memo<bool>,
    done_i: Memo<bool>,
    done_j: Memo<bool>,
    done_k: Memo<bool>,
    done_l: Memo<bool>,
    answered_right: RwSignal<bool>,
) -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let searches = Searches::use_context();
    let ready = move || experiment.with(Option::is_some) && data_loaded.get() && !searches.is_active();
    let run_in_experiment = move |new: Vec<NewSearch>| {
        let id = experiment.get_untracked().map(|e| e.experiment_id);
        async move {
            let id = id.ok_or("Do step a first: there is no experiment yet.")?;
            state.active_experiment.set(id);
            searches.start(new).await
        }
    };
    let first = Action::new_local(move |_: &()| {
        let parallelism = searches.workers_wanted.get_untracked();
        run_in_experiment(vec![NewSearch {
            name: "first-search".into(),
            family: Family::Gbdt,
            feature_set: FeatureSet::PuDo,
            spec: SearchSpec { parallelism, ..quick_spec() },
            compare: None,
        }])
    });
    let compare = Action::new_local(move |_: &()| {
        let seed = runs.with_untracked(|r| {
            r.iter()
                .filter(|r| {
                    r.tags.get(tags::ALGORITHM).map(String::as_str) == Some("tpe")
                        && r.tags.contains_key(tags::COMPARE)
                })
                .count()
        }) as u64
            + 1;
        run_in_experiment(comparison_searches(seed, searches.workers_wanted.get_untracked(), random_id()))
    });
    let status = move || {
        searches.active.with(|a| {
            a.as_ref().map(|a| {
                let (ok, failed, total) = a.record.counts();
                format!(
                    "Now: `{}` {} — {} of {total} trials done.",
                    a.record.name,
                    a.record.state.as_str(),
                    ok + failed
                )
            })
        })
    };
    let comparison_chart = Memo::new(move |_| {
        runs.with(|all| {
            newest_comparison(all).map(|(tpe, random)| {
                [(tpe, "TPE"), (random, "random search")]
                    .map(|(run, label)| BestCurve {
                        label: label.to_string(),
                        points: tuning::best_so_far(losses(all, &run.run_id)),
                    })
                    .to_vec()
            })
        })
    });
    let completed = Memo::new(move |_| runs.with(|r| completed_search(r).map(|run| run.run_id.clone())));
    let record = LocalResource::new(move || {
        let parent = completed.get();
        async move {
            let client = tracking.client()?;
            let bytes = client.download_artifact(&parent?, tags::RECORD_ARTIFACT).await.ok()?;
            SearchRecord::from_json(&String::from_utf8_lossy(&bytes)).ok().map(Arc::new)
        }
    });
    let record = Memo::new(move |_| record.get().flatten());
    let answer =
        Memo::new(move |_| record.with(|r| r.as_ref().and_then(|r| tuning::strongest_param(&r.search))));
    let picked = RwSignal::new(String::new());
    let trial = Memo::new(move |_| runs.with(|r| autologged_trial(r).cloned()));
    let winner = Memo::new(move |_| {
        runs.with(|all| {
            completed_search(all).and_then(|parent| best_trial(all, &parent.run_id)).map(|run| {
                (run.run_id.clone(), run.run_name.clone(), run.metric("val_rmse").unwrap_or(f64::NAN))
            })
        })
    });
    let register = Action::new_local(move |run_id: &String| {
        let run_id = run_id.clone();
        async move {
            let client = tracking.open_client().map_err(|e| e.to_string())?;
            client
                .register_model(&format!("runs:/{run_id}/model"), MODEL_NAME)
                .await
                .map(|v| {
                    format!("Registered {MODEL_NAME} version {} from the search's best trial.", v.version)
                })
                .map_err(|e| e.to_string())
        }
    });
    view! {
        {crate::lesson!("chapter2/tuning.md")}
        <Step testid="step-h" done=done_h>
            {crate::lesson!("chapter2/step-h.md")}
            <p>
                <button class="primary" data-testid="tuning-first-search" disabled=move || !ready() || first.pending().get()
                    on:click=move |_| { first.dispatch(()); }>"Run a quick search (10 random trials)"</button>
                " " <a href=Route::Search.path()>"Open the search page"</a>
            </p>
            <details><summary>"The space it searches"</summary><pre class="mono">{QUICK_SPACE}</pre></details>
            <p class="muted" data-testid="tuning-status">{status}</p>
            {move || message(first.value().get())}
        </Step>
        <Step testid="step-i" done=done_i>
            {crate::lesson!("chapter2/step-i.md")}
            <p>
                <button class="primary" data-testid="tuning-compare" disabled=move || !ready() || compare.pending().get()
                    on:click=move |_| { compare.dispatch(()); }>
                    {format!("Run TPE and random search ({COMPARE_EVALS} trials each, same seed)")}
                </button>
            </p>
            {move || message(compare.value().get())}
            {move || comparison_chart.get().map(|curves| view! {
                <SvgImage svg=best_so_far_svg(&curves) alt="Best validation RMSE so far: TPE and random search on the same budget" testid="compare-chart"/>
            })}
        </Step>
        <Step testid="step-j" done=done_j>
            {crate::lesson!("chapter2/step-j.md")}
            {move || match trial.get() {
                Some(run) => {
                    let tags_of = |prefix: &str| run.tags.keys().filter(|k| k.starts_with(prefix)).cloned().collect::<Vec<_>>().join(", ");
                    let metrics: Vec<String> = run.metrics.keys().take(8).cloned().collect();
                    view! {
                        <ul class="facts" data-testid="autolog-facts">
                            <li>"Trial: " <a href=Route::Run(run.run_id.clone()).path() data-testid="autolog-trial-link">{run.run_name.clone()}</a>
                                {run.parent_run_id().map(|p| view! { " · parent: " <a href=Route::Run(p.to_string()).path()>"the search's run"</a> })}</li>
                            <li>{format!("{} params, e.g. {}", run.params.len(), run.params.keys().take(5).cloned().collect::<Vec<_>>().join(", "))}</li>
                            <li>{format!("{} metrics, e.g. {}", run.metrics.len(), metrics.join(", "))}</li>
                            <li>{format!("artifacts: {}", run.artifacts.iter().map(|a| a.path.clone()).collect::<Vec<_>>().join(", "))}</li>
                            <li>{format!("data tags: {}", tags_of("data."))}</li>
                        </ul>
                    }.into_any()
                }
                None => view! { <p class="muted">"Run step h first: its trials are the runs to look at."</p> }.into_any(),
            }}
        </Step>
        <Step testid="step-k" done=done_k>
            {crate::lesson!("chapter2/step-k.md")}
            {move || record.get().map(|r| {
                let svg = parallel_coords_svg(&search_axes(&r.search), &search_losses(&r.search), &search_failed(&r.search));
                let labels = r.search.spec.space.labels();
                view! {
                    <SvgImage svg alt="The newest complete search's trials in parallel coordinates" testid="tuning-parallel-coords"/>
                    <p>
                        <label>"Which hyperparameter does the loss follow most closely? "
                            <select data-testid="tuning-answer" prop:value=move || picked.get()
                                on:change=move |ev| {
                                    let choice = event_target_value(&ev);
                                    let right = answer.with(|a| a.as_ref().is_some_and(|(label, _)| *label == choice));
                                    picked.set(choice);
                                    if right { answered_right.set(true); }
                                }>
                                <option value="">"— choose —"</option>
                                {labels.into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    </p>
                }
            })}
            {move || {
                let chosen = picked.get();
                if chosen.is_empty() { return None; }
                Some(match answer.get() {
                    Some((label, rho)) if label == chosen => view! {
                        <p class="ok" data-testid="tuning-answer-result">{format!(
                            "Yes: `{label}` — its rank correlation with the loss is {rho:+.2} ({}).",
                            if rho > 0.0 { "larger values, worse models" } else { "larger values, better models" }
                        )}</p>
                    }.into_any(),
                    Some(_) => view! { <p class="error" data-testid="tuning-answer-result">"Not quite: look for the axis where the blue lines bunch at one end."</p> }.into_any(),
                    None => view! { <p class="muted" data-testid="tuning-answer-result">"Too few finished trials to tell."</p> }.into_any(),
                })
            }}
            <Show when=move || record.with(Option::is_none)>
                <p class="muted">"Run step h first: the chart shows its trials."</p>
            </Show>
        </Step>
        <Step testid="step-l" done=done_l>
            {crate::lesson!("chapter2/step-l.md")}
            <p>
                "Best trial: " <strong>{move || winner.get().map(|(_, name, rmse)| format!("{name} (val_rmse {rmse:.4})")).unwrap_or_else(|| "no complete search yet".to_string())}</strong>
                " "
                <button class="primary" data-testid="tuning-register" disabled=move || winner.with(Option::is_none) || register.pending().get()
                    on:click=move |_| if let Some((run_id, _, _)) = winner.get() { register.dispatch(run_id); }>
                    "Register the best trial's model"
                </button>
            </p>
            {move || message(register.value().get())}
        </Step>
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mlops_core::tracking::{tags as mlflow_tags, LoggedModel, Metric, ModelSignature};

    use super::*;

    fn run(id: &str, start: i64, tags_list: &[(&str, &str)]) -> Run {
        Run {
            run_id: id.to_string(),
            experiment_id: "1".to_string(),
            run_name: id.to_string(),
            user_id: "learner".to_string(),
            status: RunStatus::Finished,
            start_time: start,
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            tags: tags_list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            artifacts: Vec::new(),
            logged_models: Vec::new(),
        }
    }

    fn trial(id: &str, parent: &str, tid: u32, loss: f64) -> Run {
        let tid = tid.to_string();
        let mut run = run(
            id,
            10,
            &[(mlflow_tags::PARENT_RUN_ID, parent), (tags::TID, &tid), ("mlflow.autologging", "xgboost")],
        );
        run.metrics.insert("val_rmse".into(), Metric { value: loss, timestamp: 0, step: 0 });
        run.logged_models.push(LoggedModel {
            artifact_path: "model".into(),
            flavor: "mlops_lab.trees".into(),
            signature: ModelSignature::default(),
            utc_time_created: 0,
        });
        run
    }

    #[test]
    fn a_search_counts_once_complete_with_a_finished_trial() {
        let mut runs = vec![run("p", 1, &[(tags::STATE, "running")]), trial("t0", "p", 0, 7.0)];
        assert!(completed_search(&runs).is_none());
        runs[0].tags.insert(tags::STATE.into(), "complete".into());
        assert_eq!(completed_search(&runs).map(|r| r.run_id.as_str()), Some("p"));
        assert_eq!(autologged_trial(&runs).map(|r| r.run_id.as_str()), Some("t0"));
        runs.push(trial("t1", "p", 1, 6.0));
        assert_eq!(best_trial(&runs, "p").map(|r| r.run_id.as_str()), Some("t1"));
        assert_eq!(tuning::best_so_far(losses(&runs, "p")), vec![(0, 7.0), (1, 6.0)]);
        // A trial of a run that is not a search (a sweep child) is not autologged search work.
        let stray = trial("s", "sweep", 0, 1.0);
        assert!(autologged_trial(&[stray]).is_none());
    }

    #[test]
    fn a_comparison_needs_both_algorithms_complete() {
        let tpe = run("a", 1, &[(tags::STATE, "complete"), (tags::COMPARE, "g"), (tags::ALGORITHM, "tpe")]);
        let mut random =
            run("b", 2, &[(tags::STATE, "running"), (tags::COMPARE, "g"), (tags::ALGORITHM, "random")]);
        let other =
            run("c", 3, &[(tags::STATE, "complete"), (tags::COMPARE, "h"), (tags::ALGORITHM, "random")]);
        let runs = vec![tpe.clone(), random.clone(), other.clone()];
        assert!(!comparison_done(&runs));
        assert!(newest_comparison(&runs).is_none(), "the newest group (h) has no TPE search");
        random.tags.insert(tags::STATE.into(), "complete".into());
        let runs = vec![tpe, random];
        assert!(comparison_done(&runs));
        let (t, r) = newest_comparison(&runs).expect("pair");
        assert_eq!((t.run_id.as_str(), r.run_id.as_str()), ("a", "b"));
    }

    #[test]
    fn registering_a_trial_counts_but_a_plain_run_does_not() {
        let runs =
            vec![run("p", 1, &[(tags::STATE, "complete")]), trial("t0", "p", 0, 7.0), run("plain", 2, &[])];
        let mut model = RegisteredModel::new(MODEL_NAME, "", 0).expect("model");
        model.create_version("runs:/plain/model", "", "", 1).expect("version");
        assert!(!search_winner_registered(&model, &runs));
        model.create_version("runs:/t0/model", "", "", 2).expect("version");
        assert!(search_winner_registered(&model, &runs));
    }

    #[test]
    fn the_comparison_runs_both_algorithms_on_one_space_budget_and_seed() {
        let pair = comparison_searches(3, 2, "g".into());
        assert_eq!(pair.len(), 2);
        assert_eq!(pair[0].spec.space, pair[1].spec.space);
        assert_eq!((pair[0].spec.seed, pair[1].spec.seed), (3, 3));
        assert_eq!(pair[0].compare, pair[1].compare);
        assert!(matches!(pair[0].spec.algorithm, Algorithm::Tpe(o) if o.n_startup_jobs == COMPARE_STARTUP));
        assert_eq!(pair[1].spec.algorithm, Algorithm::Random);
        Family::Gbdt.check_space(&compare_space()).expect("valid space");
    }
}
