//! One registered model (`#/models/<name>`): its description and tags, its versions with
//! stage and alias actions, "roll back" for Production and for each alias, the history
//! timeline, and the URIs later chapters load it with.
//!
//! Every change goes through the tracking client; the page re-renders from the in-memory
//! copy [`Tracking::models`], which follows the store.

use leptos::prelude::*;
use mlops_core::tracking::registry::{RegisteredModel, RegistryChange, RegistryEvent, Stage};

use crate::routes::Route;
use crate::tracking_state::Tracking;
use mlops_core::summary::format_utc_millis;

/// One registry change the page can ask for.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Transition { version: u32, stage: Stage, archive_existing: bool },
    SetAlias { alias: String, version: u32 },
    DeleteAlias(String),
    Describe(String),
    Delete,
}

#[component]
pub fn ModelPage(name: String) -> impl IntoView {
    let tracking = Tracking::use_context();
    let model_name = StoredValue::new(name.clone());
    let model = Memo::new(move |_| {
        let name = model_name.get_value();
        tracking.models.with(|all| all.iter().find(|m| m.name == name).cloned())
    });
    let op = Action::new_local(move |op: &Op| {
        let op = op.clone();
        let name = model_name.get_value();
        async move {
            let client = tracking.open_client().map_err(|e| e.to_string())?;
            let result = match op {
                Op::Transition { version, stage, archive_existing } => client
                    .transition_model_version_stage(&name, version, stage, archive_existing)
                    .await
                    .map(|_| ()),
                Op::SetAlias { alias, version } => {
                    client.set_registered_model_alias(&name, alias.trim(), version).await
                }
                Op::DeleteAlias(alias) => client.delete_registered_model_alias(&name, &alias).await,
                Op::Describe(text) => client.update_registered_model(&name, &text).await,
                Op::Delete => {
                    let deleted = client.delete_registered_model(&name).await;
                    if deleted.is_ok() {
                        let _ = window().location().set_hash(&Route::Models.path());
                    }
                    deleted
                }
            };
            result.map_err(|e| e.to_string())
        }
    });
    let error = move || op.value().get().and_then(Result::err);
    view! {
        <section class="registry model-page" data-testid="model-page">
            <p><a href=Route::Models.path()>"← All registered models"</a></p>
            <h1>{name.clone()}</h1>
            <Show when=move || error().is_some()>
                <p class="error" role="alert" data-testid="model-error">{error}</p>
            </Show>
            {move || match model.get() {
                Some(_) => view! { <ModelDetails model op/> }.into_any(),
                None if !tracking.ready.get() => view! { <p class="muted">"Opening the registry…"</p> }.into_any(),
                None => view! {
                    <p class="empty" data-testid="model-missing">
                        "There is no registered model named “" {model_name.get_value()} "”. "
                        <a href=Route::Models.path()>"See the registry"</a> "."
                    </p>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ModelDetails(model: Memo<Option<RegisteredModel>>, op: Action<Op, Result<(), String>>) -> impl IntoView {
    let get = move |f: fn(&RegisteredModel) -> String| {
        model.with_untracked(|m| m.as_ref().map(f).unwrap_or_default())
    };
    let name = get(|m| m.name.clone());
    let description = RwSignal::new(get(|m| m.description.clone()));
    let versions = move || {
        model.with(|m| {
            let mut numbers: Vec<u32> = m.iter().flat_map(|m| m.versions.iter().map(|v| v.version)).collect();
            numbers.sort_unstable_by(|a, b| b.cmp(a));
            numbers
        })
    };
    let previous_production =
        move || model.with(|m| m.as_ref().and_then(|m| m.previous_in_stage(Stage::Production)));
    let rollback_production = move |_| {
        if let Some(version) = previous_production() {
            op.dispatch(Op::Transition { version, stage: Stage::Production, archive_existing: true });
        }
    };
    let aliases = move || {
        model.with(|m| m.as_ref().map(|m| m.aliases.keys().cloned().collect::<Vec<_>>()).unwrap_or_default())
    };
    let delete_model = move |_| {
        let sure = window()
            .confirm_with_message("Delete this registered model with all its versions? The runs stay.")
            .unwrap_or(false);
        if sure {
            op.dispatch(Op::Delete);
        }
    };
    view! {
        <div class="model-uris" data-testid="model-uris">
            <h2>"Load it by URI"</h2>
            <ul>
                <UriLine model uri=format!("models:/{name}/Production")/>
                <UriLine model uri=format!("models:/{name}@champion")/>
                <UriLine model uri=format!("models:/{name}/latest")/>
            </ul>
            <p class="muted">
                "A stage or alias URI follows the version it points at, so serving code never changes "
                "when you promote, demote or roll back."
            </p>
        </div>

        <div class="model-description">
            <h2>"Description"</h2>
            <textarea rows="3" cols="60" data-testid="model-description"
                prop:value=move || description.get()
                on:input=move |ev| description.set(event_target_value(&ev))></textarea>
            <br/>
            <button data-testid="save-description" disabled=move || op.pending().get()
                on:click=move |_| { op.dispatch(Op::Describe(description.get_untracked())); }>"Save description"</button>
        </div>

        <div class="model-tags">
            <h2>"Tags"</h2>
            {move || {
                let tags = model.with(|m| m.as_ref().map(|m| m.tags.clone()).unwrap_or_default());
                if tags.is_empty() {
                    view! { <p class="muted">"No tags."</p> }.into_any()
                } else {
                    view! {
                        <ul data-testid="model-tags">
                            {tags.into_iter().map(|(key, value)| view! { <li><code>{key}</code> " = " {value}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </div>

        <h2>"Versions"</h2>
        <Show when=move || !versions().is_empty() fallback=|| view! { <p class="muted">"No versions yet: register a run's model."</p> }>
            <table class="versions-table">
                <thead>
                    <tr><th>"Version"</th><th>"Stage"</th><th>"Aliases"</th><th>"Source run"</th><th>"Created"</th><th>"Change stage"</th><th>"Set alias"</th></tr>
                </thead>
                <tbody>
                    <For each=versions key=|v| *v children=move |version| view! { <VersionRow model op version/> }/>
                </tbody>
            </table>
        </Show>

        <div class="rollbacks">
            <h2>"Roll back"</h2>
            <p>
                <button data-testid="rollback-production" disabled=move || previous_production().is_none() || op.pending().get()
                    on:click=rollback_production>
                    {move || match previous_production() {
                        Some(v) => format!("Roll back Production to v{v}"),
                        None => "Roll back Production (no earlier Production version)".to_string(),
                    }}
                </button>
                <span class="muted">" Moves the version that was in Production before back there, archiving the current one."</span>
            </p>
            <For each=aliases key=|alias| alias.clone() children=move |alias| {
                let target = {
                    let alias = alias.clone();
                    move || model.with(|m| m.as_ref().and_then(|m| alias_previous(m, &alias)))
                };
                let label_alias = alias.clone();
                let label_target = target.clone();
                let disabled_target = target.clone();
                view! {
                    <p>
                        <button data-testid="rollback-alias" data-alias=alias.clone()
                            disabled=move || disabled_target().is_none() || op.pending().get()
                            on:click=move |_| {
                                if let Some(version) = label_target() {
                                    op.dispatch(Op::SetAlias { alias: alias.clone(), version });
                                }
                            }>
                            {move || match target() {
                                Some(v) => format!("Move @{label_alias} back to v{v}"),
                                None => format!("@{label_alias} has not moved"),
                            }}
                        </button>
                    </p>
                }
            }/>
        </div>

        <div class="model-history-box">
            <h2>"History"</h2>
            <ol class="timeline" data-testid="model-history">
                {move || {
                    let events = model.with(|m| m.as_ref().map(|m| m.history.clone()).unwrap_or_default());
                    events.into_iter().rev().map(|event| view! {
                        <li data-testid="history-event" data-version=event.version.to_string()>
                            <time>{format_utc_millis(event.timestamp)}</time>
                            " · " {describe_event(&event)}
                        </li>
                    }).collect_view()
                }}
            </ol>
        </div>

        <p class="danger-zone">
            <button class="danger" data-testid="delete-model" on:click=delete_model>"Delete registered model"</button>
        </p>
    }
}

#[component]
fn UriLine(model: Memo<Option<RegisteredModel>>, uri: String) -> impl IntoView {
    let parsed = mlops_core::tracking::registry::parse_model_uri(&uri);
    let resolved = move || {
        model.with(|m| match (m, &parsed) {
            (Some(m), Ok(parsed)) => match m.resolve(parsed) {
                Ok(version) => format!("→ v{}", version.version),
                Err(e) => format!("→ nothing yet ({e})"),
            },
            _ => String::new(),
        })
    };
    view! { <li><code data-testid="model-uri">{uri.clone()}</code> " " <span class="muted">{resolved}</span></li> }
}

#[component]
fn VersionRow(
    model: Memo<Option<RegisteredModel>>,
    op: Action<Op, Result<(), String>>,
    version: u32,
) -> impl IntoView {
    let tracking = Tracking::use_context();
    let this = move || model.with(|m| m.as_ref().and_then(|m| m.version(version).ok().cloned()));
    let stage = move || this().map_or(Stage::None, |v| v.current_stage);
    let first_stage =
        model.with_untracked(|m| m.as_ref().and_then(|m| m.version(version).ok().map(|v| v.current_stage)));
    let choice = RwSignal::new(suggested_next_stage(first_stage.unwrap_or(Stage::None)));
    // `None` until the learner ticks or unticks the box: then the default follows the stage.
    let archive_choice = RwSignal::new(None::<bool>);
    let archive =
        move || archive_choice.get().unwrap_or(choice.get() == Stage::Production) && choice.get().is_active();
    let alias_text = RwSignal::new(String::new());
    let aliases = move || {
        model.with(|m| {
            m.as_ref()
                .map(|m| m.aliases_of(version).into_iter().map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let run_id = move || this().map(|v| v.run_id).unwrap_or_default();
    let run_label = move || {
        let id = run_id();
        tracking.run(&id).map(|run| run.run_name.clone()).filter(|n| !n.is_empty()).unwrap_or(id)
    };
    // The estimator (a linear model, XGBRegressor, a forest), from the run's `model` param.
    let estimator = move || {
        tracking
            .run(&run_id())
            .and_then(|run| run.params.get("model").cloned())
            .map(|name| format!(" · {name}"))
    };
    let transition = move |_| {
        op.dispatch(Op::Transition { version, stage: choice.get_untracked(), archive_existing: archive() });
    };
    let set_alias = move |_| {
        op.dispatch(Op::SetAlias { alias: alias_text.get_untracked(), version });
    };
    view! {
        <tr data-testid="version-row" data-version=version.to_string() class=move || format!("stage-{}", stage().as_str().to_lowercase())>
            <td>{format!("v{version}")}</td>
            <td data-testid="version-stage">{move || stage().as_str()}</td>
            <td class="aliases">
                {move || aliases().into_iter().map(|alias| {
                    let delete = alias.clone();
                    view! {
                        <span class="alias" data-testid="version-alias">
                            "@" {alias.clone()} " "
                            <button class="small" data-testid="delete-alias" title="Delete this alias"
                                on:click=move |_| { op.dispatch(Op::DeleteAlias(delete.clone())); }>"×"</button>
                        </span>
                    }
                }).collect_view()}
            </td>
            <td>
                {move || {
                    let id = run_id();
                    if id.is_empty() {
                        view! { <span class="muted">{this().map(|v| v.source).unwrap_or_default()}</span> }.into_any()
                    } else {
                        view! {
                            <a href=Route::Run(id).path() data-testid="version-run">{run_label}</a>
                            <span class="muted" data-testid="version-estimator">{estimator}</span>
                        }
                        .into_any()
                    }
                }}
            </td>
            <td>{move || this().map(|v| format_utc_millis(v.creation_timestamp)).unwrap_or_default()}</td>
            <td class="stage-action">
                <select data-testid="stage-select" on:change=move |ev| {
                    if let Ok(next) = Stage::parse(&event_target_value(&ev)) {
                        choice.set(next);
                        archive_choice.set(None);
                    }
                }>
                    {Stage::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || choice.get() == s>{s.as_str()}</option>
                    }).collect_view()}
                </select>
                <label title="Move every other version in that stage to Archived, so the stage holds one model">
                    <input type="checkbox" data-testid="archive-existing"
                        prop:checked=archive
                        disabled=move || !choice.get().is_active()
                        on:change=move |ev| archive_choice.set(Some(event_target_checked(&ev)))/>
                    " archive existing versions in that stage"
                </label>
                " "
                <button data-testid="transition" disabled=move || op.pending().get() || choice.get() == stage()
                    on:click=transition>"Transition"</button>
            </td>
            <td class="alias-action">
                <input type="text" size="10" placeholder="champion" data-testid="alias-input"
                    prop:value=move || alias_text.get() on:input=move |ev| alias_text.set(event_target_value(&ev))/>
                " "
                <button data-testid="set-alias" disabled=move || op.pending().get() || alias_text.with(|t| t.trim().is_empty())
                    on:click=set_alias>"Set alias"</button>
            </td>
        </tr>
    }
}

/// Where a version usually goes next: None → Staging → Production; Production or
/// Archived versions are offered Production (a re-promotion or a rollback).
fn suggested_next_stage(current: Stage) -> Stage {
    match current {
        Stage::None => Stage::Staging,
        Stage::Staging | Stage::Production | Stage::Archived => Stage::Production,
    }
}

/// The version an alias pointed at before its last move, if it still exists — what
/// [`RegisteredModel::rollback_alias`] would move it back to.
pub fn alias_previous(model: &RegisteredModel, alias: &str) -> Option<u32> {
    let mut trial = model.clone();
    trial.rollback_alias(alias, model.last_updated_timestamp).ok()
}

/// One line of the timeline, in registry words.
pub fn describe_event(event: &RegistryEvent) -> String {
    let v = event.version;
    match &event.change {
        RegistryChange::VersionCreated => format!("version {v} registered"),
        RegistryChange::StageChanged { from, to } => format!("version {v}: {from} → {to}"),
        RegistryChange::AliasSet { alias, previous: Some(before) } => {
            format!("alias @{alias} moved from version {before} to version {v}")
        }
        RegistryChange::AliasSet { alias, previous: None } => format!("alias @{alias} set on version {v}"),
        RegistryChange::AliasDeleted { alias } => format!("alias @{alias} removed from version {v}"),
        RegistryChange::DescriptionChanged => "description changed".to_string(),
        RegistryChange::VersionDeleted => format!("version {v} deleted"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with(versions: u32) -> RegisteredModel {
        let mut model = RegisteredModel::new("taxi", "", 0).expect("model");
        for n in 0..versions {
            model.create_version(&format!("runs:/r{n}/model"), "", "", 1).expect("version");
        }
        model
    }

    #[test]
    fn stages_suggest_the_usual_next_step() {
        assert_eq!(suggested_next_stage(Stage::None), Stage::Staging);
        assert_eq!(suggested_next_stage(Stage::Staging), Stage::Production);
        assert_eq!(suggested_next_stage(Stage::Archived), Stage::Production);
    }

    #[test]
    fn alias_previous_is_where_the_alias_was_before_its_last_move() {
        let mut model = model_with(3);
        model.set_alias("champion", 1, 2).expect("set");
        assert_eq!(alias_previous(&model, "champion"), None);
        model.set_alias("champion", 3, 3).expect("move");
        assert_eq!(alias_previous(&model, "champion"), Some(1));
        assert_eq!(alias_previous(&model, "nobody"), None);
        assert_eq!(model.version_by_alias("champion").expect("alias").version, 3, "the model is untouched");
    }

    #[test]
    fn events_read_as_sentences() {
        let mut model = model_with(2);
        model.transition_stage(1, Stage::Production, true, 2).expect("v1");
        model.transition_stage(2, Stage::Production, true, 3).expect("v2");
        model.set_alias("champion", 2, 4).expect("alias");
        model.set_alias("champion", 1, 5).expect("move");
        model.delete_alias("champion", 6).expect("delete");
        let lines: Vec<String> = model.history.iter().map(describe_event).collect();
        assert_eq!(
            lines,
            [
                "version 1 registered",
                "version 2 registered",
                "version 1: None → Production",
                "version 1: Production → Archived",
                "version 2: None → Production",
                "alias @champion set on version 2",
                "alias @champion moved from version 2 to version 1",
                "alias @champion removed from version 1",
            ]
        );
    }
}
