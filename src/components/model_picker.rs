//! Choosing what the ride-duration service answers with, by model URI, as the course's
//! `mlflow.pyfunc.load_model(model_uri)` does: a registered model's stage, alias or
//! version, a run's logged model, or any URI typed in.
//!
//! Used by the service, batch and stream pages; the choice is [`Serving`]'s, so all of
//! them (and `fetch("api/predict")`) serve the same model, and switching takes effect on
//! the next request.

use leptos::prelude::*;
use mlops_core::models::Model;
use mlops_core::serving::service::{LoadedModel, ServiceError};
use mlops_core::tracking::registry::{RegisteredModel, Stage};
use mlops_core::tracking::{LifecycleStage, Run};

use crate::serving_state::Serving;
use crate::tracking_state::Tracking;
use mlops_core::summary::format_utc_millis;

/// One `<optgroup>` of the select.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceGroup {
    pub label: String,
    /// (URI, what the learner reads).
    pub options: Vec<(String, String)>,
}

/// Every URI the select offers: per registered model its Production and Staging stages
/// (when a version holds them), each alias and each version; then the runs with a logged
/// model, newest first.
pub fn uri_choices(models: &[RegisteredModel], runs: &[impl AsRef<Run>]) -> Vec<ChoiceGroup> {
    let mut groups = Vec::new();
    for model in models {
        let name = &model.name;
        let mut options = Vec::new();
        for stage in [Stage::Production, Stage::Staging] {
            if let Some(version) = model.latest_in_stage(stage) {
                options.push((
                    format!("models:/{name}/{stage}"),
                    format!("{name} · {stage} (version {})", version.version),
                ));
            }
        }
        for (alias, version) in &model.aliases {
            options.push((format!("models:/{name}@{alias}"), format!("{name} @{alias} (version {version})")));
        }
        let mut versions: Vec<_> = model.versions.iter().collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        for version in versions {
            let stage = match version.current_stage {
                Stage::None => String::new(),
                stage => format!(" · {stage}"),
            };
            options.push((version.model_uri(), format!("{name} / {}{stage}", version.version)));
        }
        if !options.is_empty() {
            groups.push(ChoiceGroup { label: format!("Registered model “{name}”"), options });
        }
    }
    let mut with_models: Vec<&Run> = runs
        .iter()
        .map(AsRef::as_ref)
        .filter(|r| r.lifecycle_stage == LifecycleStage::Active && !r.logged_models.is_empty())
        .collect();
    with_models.sort_by_key(|r| std::cmp::Reverse(r.start_time));
    let options: Vec<(String, String)> = with_models
        .into_iter()
        .flat_map(|run| {
            run.logged_models.iter().map(move |logged| {
                let short: String = run.run_id.chars().take(8).collect();
                let path = if logged.artifact_path.is_empty() { "model" } else { &logged.artifact_path };
                (
                    format!("runs:/{}/{path}", run.run_id),
                    format!("{} ({short}…, {}) · {path}", run.run_name, format_utc_millis(run.start_time)),
                )
            })
        })
        .collect();
    if !options.is_empty() {
        groups.push(ChoiceGroup { label: "A run's model".into(), options });
    }
    groups
}

/// What is being served, in a sentence.
fn served_summary(model: &LoadedModel) -> String {
    let details = match &model.model {
        Model::Linear(linear) => linear.alpha.map(|a| format!(", alpha {a}")).unwrap_or_default(),
        Model::Trees(trees) => {
            let leaves: usize = trees.trees.iter().map(|tree| tree.n_leaves()).sum();
            let depth = trees.trees.iter().map(|tree| tree.depth()).max().unwrap_or(0);
            format!(", {} trees, {leaves} leaves, depth {depth}", trees.trees.len())
        }
    };
    format!(
        "{}{details} on {} ({} features)",
        model.model.class_name(),
        model.model.feature_set().label(),
        model.model.feature_names().len()
    )
}

#[component]
pub fn ModelPicker() -> impl IntoView {
    let serving = Serving::use_context();
    let tracking = Tracking::use_context();
    let draft = RwSignal::new(serving.model_uri.get_untracked());
    let choices = Memo::new(move |_| {
        let models = tracking.models.get();
        let runs = tracking.runs.get();
        uri_choices(&models, &runs)
    });
    let serve = move |uri: String| {
        let uri = uri.trim().to_string();
        if !uri.is_empty() {
            draft.set(uri.clone());
            serving.choose(uri);
        }
    };

    view! {
        <div class="model-picker" data-testid="model-picker">
            <p class="picker-row">
                <label>"Serve "
                    <select data-testid="model-uri-select"
                        on:change=move |ev| serve(event_target_value(&ev))>
                        <option value="" selected=move || serving.model_uri.get().is_empty()>
                            "— choose a model —"
                        </option>
                        {move || choices.get().into_iter().map(|group| view! {
                            <optgroup label=group.label>
                                {group.options.into_iter().map(|(uri, label)| {
                                    let current = uri.clone();
                                    view! {
                                        <option value=uri selected=move || serving.model_uri.get() == current>
                                            {label}
                                        </option>
                                    }
                                }).collect_view()}
                            </optgroup>
                        }).collect_view()}
                    </select>
                </label>
            </p>
            <form class="picker-row" on:submit=move |ev| {
                ev.prevent_default();
                serve(draft.get_untracked());
            }>
                <label>"or any model URI "
                    <input type="text" class="uri" data-testid="model-uri-input" spellcheck="false"
                        placeholder="models:/nyc-taxi-regressor/Production"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))/>
                </label>
                " " <button type="submit" class="primary" data-testid="serve-model">"Serve"</button>
            </form>
            <p class="served">
                {move || match serving.served.get() {
                    None if serving.model_uri.get().is_empty() => view! {
                        <span class="muted">"Nothing is served yet: requests answer 503 until you choose a model."</span>
                    }.into_any(),
                    None => view! { <span class="muted">"Loading " <code>{serving.model_uri.get()}</code> "…"</span> }.into_any(),
                    Some(served) => match &*served {
                        Ok(model) => view! {
                            "Serving " <code>{serving.model_uri.get()}</code> " → model_version "
                            <strong data-testid="served-version">{model.version.clone()}</strong>
                            <span class="muted">" · " {served_summary(model)}</span>
                        }.into_any(),
                        Err(e) => view! {
                            <span class="error" data-testid="served-error">{served_error_text(e)}</span>
                        }.into_any(),
                    },
                }}
            </p>
        </div>
    }
}

fn served_error_text(error: &ServiceError) -> String {
    format!("Nothing can be served: {error}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mlops_core::tracking::LoggedModel;

    use super::*;

    fn run(id: &str, start_time: i64, logged: bool) -> Arc<Run> {
        let json = serde_json::json!({
            "run_id": id, "experiment_id": "0", "run_name": format!("run-{id}"), "user_id": "",
            "status": "FINISHED", "start_time": start_time, "end_time": null,
            "lifecycle_stage": "active", "params": {}, "metrics": {}, "tags": {}, "artifacts": [],
        });
        let mut run: Run = serde_json::from_value(json).expect("a run");
        if logged {
            let logged: LoggedModel = serde_json::from_value(serde_json::json!({
                "artifact_path": "model", "flavor": "mlops_lab.linear",
                "signature": {"inputs": [], "outputs": []}, "utc_time_created": start_time,
            }))
            .expect("a logged model");
            run.logged_models.push(logged);
        }
        Arc::new(run)
    }

    #[test]
    fn offers_stages_aliases_versions_then_runs_newest_first() {
        let mut model = RegisteredModel::new("taxi", "", 0).expect("model");
        model.create_version("runs:/a/model", "", "", 1).expect("v1");
        model.create_version("runs:/b/model", "", "", 2).expect("v2");
        model.transition_stage(2, Stage::Production, false, 3).expect("stage");
        model.set_alias("champion", 1, 4).expect("alias");
        let runs = [run("old", 10, true), run("none", 30, false), run("new", 20, true)];
        let groups = uri_choices(&[model], &runs);
        let uris: Vec<&str> = groups[0].options.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(
            uris,
            ["models:/taxi/Production", "models:/taxi@champion", "models:/taxi/2", "models:/taxi/1"]
        );
        let run_uris: Vec<&str> = groups[1].options.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(run_uris, ["runs:/new/model", "runs:/old/model"]);
    }

    #[test]
    fn nothing_to_offer_is_no_groups() {
        assert!(uri_choices(&[], &[run("x", 1, false)]).is_empty());
    }
}
