//! Settings: the learner's name on new runs, and a real MLflow tracking server for when a
//! class outgrows one browser — test the connection, send each new run there too, push
//! an experiment's runs and its registered models.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::tracking::registry::Stage;
use mlops_core::tracking::{TrackingError, ViewType};

use crate::remote;
use crate::storage::{prefs, USER_NAME_KEY};
use crate::tracking_state::Tracking;

/// Pushes one local experiment's runs, then the registered versions made from them with
/// their stages and aliases. Returns lines to show.
async fn push_experiment(tracking: Tracking, experiment_id: String) -> Result<Vec<String>, TrackingError> {
    let local = tracking.open_client()?;
    let server = remote::client()?;
    let experiment = local.get_experiment(&experiment_id).await?;
    let ids: Vec<String> =
        local.all_runs(&[experiment_id], ViewType::ActiveOnly).await?.into_iter().map(|r| r.run_id).collect();
    let bundle = local.export(Some(&ids)).await?;
    let pushed = server.push_runs(&bundle.runs, &experiment.name).await?;
    let mut lines =
        vec![format!("{} runs are on the server in experiment “{}”.", pushed.len(), experiment.name)];
    let remote_id: BTreeMap<&str, &str> = pushed.iter().map(|(l, r)| (l.as_str(), r.as_str())).collect();
    for model in &bundle.models {
        let mut versions: Vec<_> =
            model.versions.iter().filter(|v| remote_id.contains_key(v.run_id.as_str())).collect();
        versions.sort_by_key(|v| v.version);
        if versions.is_empty() {
            continue;
        }
        server.create_registered_model(&model.name).await?;
        let mut remote_versions = BTreeMap::new();
        for version in versions {
            let Some(run) = remote_id.get(version.run_id.as_str()) else { continue };
            let path = version
                .source
                .rsplit_once(&version.run_id)
                .map(|(_, p)| p.trim_start_matches('/'))
                .unwrap_or("model");
            let source = format!("runs:/{run}/{path}");
            let number = server.create_model_version(&model.name, &source, run).await?;
            if version.current_stage != Stage::None {
                server
                    .transition_model_version_stage(
                        &model.name,
                        number,
                        version.current_stage.as_str(),
                        false,
                    )
                    .await?;
            }
            remote_versions.insert(version.version, number);
            lines.push(format!(
                "Model “{}” version {} → server version {number} ({}).",
                model.name,
                version.version,
                version.current_stage.as_str()
            ));
        }
        for (alias, local_version) in &model.aliases {
            if let Some(number) = remote_versions.get(local_version) {
                server.set_registered_model_alias(&model.name, alias, *number).await?;
                lines.push(format!("Alias @{alias} → server version {number}."));
            }
        }
    }
    Ok(lines)
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let tracking = Tracking::use_context();
    let user = RwSignal::new(prefs::get(USER_NAME_KEY).unwrap_or_default());
    let url = RwSignal::new(remote::saved_url().unwrap_or_default());
    let mirror = RwSignal::new(remote::mirror_enabled());
    let status = RwSignal::new(None::<Result<String, String>>);
    let push_from = RwSignal::new(String::new());
    let push_lines = RwSignal::new(Vec::<String>::new());
    let push_error = RwSignal::new(None::<String>);
    let pushing = RwSignal::new(false);

    let save_user = move |_| {
        prefs::set(USER_NAME_KEY, user.get_untracked().trim());
    };
    let save_remote = move |_| {
        remote::save_url(&url.get_untracked());
        remote::save_mirror(mirror.get_untracked());
        status.set(Some(Ok("Saved.".into())));
    };
    let test_remote = move |_| {
        remote::save_url(&url.get_untracked());
        status.set(Some(Ok("Asking the server…".into())));
        spawn_local(async move {
            let result = match remote::client() {
                Ok(server) => {
                    server.get_experiment_by_name("Default").await.map(|_| "The server answered.".to_string())
                }
                Err(e) => Err(e),
            };
            status.set(Some(result.map_err(|e| e.to_string())));
        });
    };
    let push = move |_| {
        let experiment = push_from.get_untracked();
        let experiment = if experiment.is_empty() { "0".to_string() } else { experiment };
        pushing.set(true);
        push_error.set(None);
        push_lines.set(Vec::new());
        spawn_local(async move {
            match push_experiment(tracking, experiment).await {
                Ok(lines) => push_lines.set(lines),
                Err(e) => push_error.set(Some(format!("{e}. Nothing local was changed."))),
            }
            pushing.set(false);
        });
    };

    view! {
        <section class="settings" data-testid="settings-page">
            <h1>"Settings"</h1>
            <h2>"Your name"</h2>
            <p>"New runs record it as their user (" <code>"mlflow.user"</code> ")."</p>
            <p>
                <input type="text" data-testid="user-name" placeholder="learner" prop:value=move || user.get()
                    on:input=move |ev| user.set(event_target_value(&ev))/>
                " " <button on:click=save_user data-testid="save-user">"Save"</button>
            </p>

            <h2>"A shared MLflow tracking server"</h2>
            <p>"Runs live in this browser. When a class or team wants one place for everyone's runs, start an MLflow server (version 3.5 or newer) that accepts calls from this page, for example "
                <code>"mlflow server --host 127.0.0.1 --port 5000 --cors-allowed-origins <this page's origin>"</code>
                ", and enter its address. This app then talks to it through MLflow's REST API. Nothing is sent anywhere until you enter an address."</p>
            <p>
                <input type="url" class="wide" data-testid="remote-url" placeholder="http://127.0.0.1:5000"
                    prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
                " " <button on:click=save_remote data-testid="save-remote">"Save"</button>
                " " <button on:click=test_remote data-testid="test-remote">"Test the connection"</button>
            </p>
            <p><label>
                <input type="checkbox" data-testid="mirror-runs" prop:checked=move || mirror.get()
                    on:change=move |ev| mirror.set(event_target_checked(&ev))/>
                " Also send each new training run to the server (it is always kept here too)"
            </label></p>
            {move || status.get().map(|s| match s {
                Ok(text) => view! { <p class="ok" data-testid="remote-status">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" data-testid="remote-status">{text}</p> }.into_any(),
            })}

            <h3>"Push an experiment"</h3>
            <p>"Sends the experiment's runs (params, every metric value, tags, files) and the registered model versions made from them, with their stages and aliases. Runs pushed before are not sent twice."</p>
            <p>
                <select data-testid="push-experiment" on:change=move |ev| push_from.set(event_target_value(&ev))>
                    {move || tracking.experiments.get().iter().filter(|e| ViewType::ActiveOnly.includes(e.lifecycle_stage)).map(|e| {
                        view! { <option value=e.experiment_id.clone()>{e.name.clone()}</option> }
                    }).collect_view()}
                </select>
                " " <button on:click=push data-testid="push-runs" disabled=move || pushing.get()>"Push to the server"</button>
            </p>
            <Show when=move || pushing.get()><p>"Pushing…"</p></Show>
            <ul data-testid="push-result">
                {move || push_lines.get().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            </ul>
            {move || push_error.get().map(|e| view! { <p class="error" data-testid="push-error">{e}</p> })}
        </section>
    }
}
