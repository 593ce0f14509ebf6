//! The model registry (`#/models`): every registered model with its latest version, what
//! is in Staging and Production, its aliases — and a form to create a model.
//!
//! The list is the in-memory copy [`Tracking::models`] keeps current, so a change made on
//! a model page or in another tab shows here without a reload.

use leptos::prelude::*;
use mlops_core::summary::format_utc_millis;
use mlops_core::tracking::registry::{RegisteredModel, Stage};

use crate::routes::Route;
use crate::tracking_state::Tracking;

#[component]
pub fn ModelsPage() -> impl IntoView {
    let tracking = Tracking::use_context();
    let models = tracking.models;
    view! {
        <section class="registry" data-testid="models-page">
            <h1>"Model registry"</h1>
            <p class="muted">
                "A registered model is a name that versions are published under. Each version points at the "
                "model a run logged (" <code>"runs:/<run id>/model"</code> "); stages and aliases say which "
                "version other code should load."
            </p>
            <Show
                when=move || models.with(|all| !all.is_empty())
                fallback=move || view! {
                    <p class="empty" data-testid="no-models">
                        {move || if tracking.ready.get() {
                            "No registered models yet. Register a run's model from Chapter 2, or create an empty model below."
                        } else {
                            "Opening the registry…"
                        }}
                    </p>
                }
            >
                <table class="models-table">
                    <thead>
                        <tr>
                            <th>"Name"</th><th>"Latest version"</th><th>"Staging"</th><th>"Production"</th>
                            <th>"Aliases"</th><th>"Last updated"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || models.get().to_vec()
                            key=|model| (model.name.clone(), model.last_updated_timestamp, model.versions.len())
                            children=move |model| view! { <ModelRow model/> }
                        />
                    </tbody>
                </table>
            </Show>
            <CreateModelForm/>
        </section>
    }
}

#[component]
fn ModelRow(model: RegisteredModel) -> impl IntoView {
    let latest = latest_version(&model).map_or_else(|| "—".to_string(), |v| format!("v{v}"));
    let staging = version_list(&versions_in(&model, Stage::Staging));
    let production = version_list(&versions_in(&model, Stage::Production));
    let aliases = alias_list(&model);
    view! {
        <tr data-testid="model-row" data-name=model.name.clone()>
            <td><a href=Route::Model(model.name.clone()).path()>{model.name.clone()}</a></td>
            <td>{latest}</td>
            <td data-testid="model-staging">{staging}</td>
            <td data-testid="model-production">{production}</td>
            <td>{aliases}</td>
            <td>{format_utc_millis(model.last_updated_timestamp)}</td>
        </tr>
    }
}

#[component]
fn CreateModelForm() -> impl IntoView {
    let tracking = Tracking::use_context();
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let create = Action::new_local(move |(name, description): &(String, String)| {
        let (name, description) = (name.trim().to_string(), description.clone());
        async move {
            let client = tracking.open_client().map_err(|e| e.to_string())?;
            client.create_registered_model(&name, &description).await.map_err(|e| e.to_string())?;
            Ok::<String, String>(name)
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch((name.get_untracked(), description.get_untracked()));
    };
    view! {
        <form class="create-model" on:submit=submit>
            <h2>"Create a registered model"</h2>
            <label>"Name "
                <input type="text" data-testid="create-model-name" placeholder="nyc-taxi-regressor"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            </label>
            <label>" Description "
                <input type="text" size="40" data-testid="create-model-description"
                    prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/>
            </label>
            " "
            <button type="submit" data-testid="create-model" disabled=move || create.pending().get()>"Create"</button>
            {move || create.value().get().map(|result| match result {
                Ok(created) => view! {
                    <p class="ok" data-testid="models-created">
                        "Created " <a href=Route::Model(created.clone()).path()>{created.clone()}</a> "."
                    </p>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert" data-testid="models-error">{e}</p> }.into_any(),
            })}
        </form>
    }
}

/// The highest version number, the one `models:/<name>/latest` loads.
pub fn latest_version(model: &RegisteredModel) -> Option<u32> {
    model.versions.iter().map(|v| v.version).max()
}

/// Versions in `stage`, lowest first.
pub fn versions_in(model: &RegisteredModel, stage: Stage) -> Vec<u32> {
    let mut versions: Vec<u32> =
        model.versions.iter().filter(|v| v.current_stage == stage).map(|v| v.version).collect();
    versions.sort_unstable();
    versions
}

fn version_list(versions: &[u32]) -> String {
    if versions.is_empty() {
        "—".to_string()
    } else {
        versions.iter().map(|v| format!("v{v}")).collect::<Vec<_>>().join(", ")
    }
}

/// `champion → v2, challenger → v3`, in alias order.
pub fn alias_list(model: &RegisteredModel) -> String {
    if model.aliases.is_empty() {
        return "—".to_string();
    }
    model.aliases.iter().map(|(alias, v)| format!("@{alias} → v{v}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> RegisteredModel {
        let mut model = RegisteredModel::new("taxi", "", 0).expect("model");
        for run in ["a", "b", "c"] {
            model.create_version(&format!("runs:/{run}/model"), "", "", 1).expect("version");
        }
        model.transition_stage(1, Stage::Production, false, 2).expect("v1");
        model.transition_stage(3, Stage::Production, false, 3).expect("v3");
        model.transition_stage(2, Stage::Staging, false, 4).expect("v2");
        model.set_alias("champion", 3, 5).expect("alias");
        model.set_alias("challenger", 2, 6).expect("alias");
        model
    }

    #[test]
    fn the_list_shows_latest_version_stages_and_aliases() {
        let model = model();
        assert_eq!(latest_version(&model), Some(3));
        assert_eq!(versions_in(&model, Stage::Production), [1, 3]);
        assert_eq!(version_list(&versions_in(&model, Stage::Staging)), "v2");
        assert_eq!(version_list(&versions_in(&model, Stage::Archived)), "—");
        assert_eq!(alias_list(&model), "@challenger → v2, @champion → v3");
        assert_eq!(latest_version(&RegisteredModel::default()), None);
    }
}
