//! Chapter 3's workbench: the course's pipelines as a DAG of blocks that run in the
//! browser, with a simulated clock, triggers, retries, a block editor (a form and the
//! block's JSON, blocks added and removed) and run history.
//!
//! The DAG is drawn here as SVG from the core's layered layout (`pipelines::layout`,
//! which uses rust-sugiyama). Every label is a text node (escaped).

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::pipelines::clock::{format_duration, SimTime};
use mlops_core::pipelines::definition::{self, BlockDef, BlockKind, PipelineDefinition};
use mlops_core::pipelines::engine::{AttemptStatus, BlockStatus, PipelineRun};
use mlops_core::pipelines::exec::PortChart;
use mlops_core::pipelines::graph;
use mlops_core::pipelines::layout::{self, Boxes, PlacedBlock};
use wasm_bindgen::JsCast;

use crate::components::block_editor::{BlockForm, Draft, InputsForm};
use crate::components::chart::{histogram_svg, Series, SvgImage, BLUE};
use crate::components::download::download_text;
use crate::components::search_charts::learning_curve_svg;
use crate::pipeline_state::Pipelines;
use crate::routes::Route;

fn status_colour(status: Option<BlockStatus>) -> &'static str {
    match status {
        Some(BlockStatus::Running) => "#6aa9ff",
        Some(BlockStatus::WaitingRetry) => "#ffb347",
        Some(BlockStatus::Succeeded) => "#7fd18b",
        Some(BlockStatus::Cached) => "#8fd6cf",
        Some(BlockStatus::Failed) => "#ff7b7b",
        Some(BlockStatus::Skipped) => "#dddddd",
        Some(BlockStatus::Note) => "#fff7c2",
        Some(BlockStatus::Pending) | None => "#f2f2f2",
    }
}

fn attempt_colour(status: AttemptStatus) -> &'static str {
    match status {
        AttemptStatus::Running => "#6aa9ff",
        AttemptStatus::Succeeded => "#7fd18b",
        AttemptStatus::Cached => "#8fd6cf",
        AttemptStatus::Failed => "#ff7b7b",
        AttemptStatus::Skipped => "#dddddd",
    }
}

fn time_label(t: SimTime) -> String {
    t.to_string()
}

#[component]
pub fn PipelinesPage() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let selected = RwSignal::new("training".to_string());
    let block = RwSignal::new(None::<String>);
    let shown_run = RwSignal::new(None::<String>);
    // A block added to the pipeline but not saved yet (it still needs its inputs).
    let new_block = RwSignal::new(None::<BlockDef>);

    let definition = Memo::new(move |_| pipelines.definition(&selected.get()));
    // The run the DAG colours: the one in progress of this pipeline, else the chosen or
    // latest finished one.
    let run = Memo::new(move |_| -> Option<Arc<PipelineRun>> {
        let name = selected.get();
        if let Some(active) = pipelines.active.get().filter(|r| r.context.pipeline == name) {
            return Some(active);
        }
        let wanted = shown_run.get();
        pipelines.runs.with(|runs| {
            runs.iter()
                .rev()
                .filter(|r| r.context.pipeline == name)
                .find(|r| wanted.as_ref().is_none_or(|w| *w == r.context.run_id))
                .or_else(|| runs.iter().rev().find(|r| r.context.pipeline == name))
                .cloned()
        })
    });

    // What the block panel edits: the selected block in the saved pipeline, or the new
    // block appended to it.
    let panel = Memo::new(move |_| -> Option<(String, PipelineDefinition, bool)> {
        let id = block.get()?;
        let mut definition = definition.get()?;
        if definition.block(&id).is_some() {
            return Some((id, definition, false));
        }
        let fresh = new_block.get().filter(|b| b.id == id)?;
        definition.blocks.push(fresh);
        Some((id, definition, true))
    });

    // The DAG also shows a block that was just added and is not saved yet (dashed).
    let drawn = Memo::new(move |_| {
        let mut definition = definition.get()?;
        if let Some(fresh) = new_block.get().filter(|b| definition.block(&b.id).is_none()) {
            definition.blocks.push(fresh);
        }
        Some(definition)
    });

    view! {
        <div
            class="page pipelines"
            data-loaded=move || pipelines.loaded.get().to_string()
            data-writing=move || pipelines.writing.get().to_string()
        >
            <h1>"Pipelines"</h1>
            <p>
                "The course's pipelines as blocks that run in this tab: two workers run independent blocks side by side. "
                <a href=Route::Chapter3.path()>"Chapter 3 walkthrough"</a>
            </p>
            <ClockBar/>
            <Message/>
            <div class="pipeline-picker">
                {move || {
                    pipelines
                        .definitions
                        .get()
                        .into_iter()
                        .map(|d| {
                            let name = d.name.clone();
                            let testid = format!("pick-{name}");
                            let label = name.clone();
                            view! {
                                <button
                                    data-testid=testid
                                    class:active=move || selected.get() == name
                                    on:click={
                                        let name = d.name.clone();
                                        move |_| {
                                            selected.set(name.clone());
                                            block.set(None);
                                            new_block.set(None);
                                            shown_run.set(None);
                                        }
                                    }
                                >
                                    {label}
                                </button>
                            }
                        })
                        .collect_view()
                }}
                <button data-testid="run-now" on:click=move |_| pipelines.run_now(&selected.get_untracked())>
                    "▶ Run now"
                </button>
                <span data-testid="queued">
                    {move || {
                        let queued = pipelines.queued.get();
                        if queued.is_empty() { String::new() } else { format!("queued: {}", queued.join(", ")) }
                    }}
                </span>
            </div>
            <DataBar/>
            {move || definition.get().map(|d| view! { <p class="muted">{d.description.clone()}</p> })}
            <Dag definition=drawn run block new_block/>
            <AddBlock selected block new_block/>
            <Workers/>
            {move || {
                panel
                    .get()
                    .map(|(id, d, is_new)| view! { <BlockPanel id definition=d is_new run block new_block/> })
            }}
            <ImportExport selected/>
            <h2>"Run history"</h2>
            <RunHistory selected shown_run/>
            {move || run.get().map(|r| view! { <Gantt run=r/> })}
            {move || run.get().map(|r| view! { <Tracked run_id=r.context.run_id.clone()/> })}
            <h2>"Trigger log"</h2>
            <TriggerLog/>
        </div>
    }
}

#[component]
fn Message() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    move || {
        pipelines.message.get().map(|m| match m {
            Ok(text) => view! { <p class="ok" data-testid="pipeline-message">{text}</p> }.into_any(),
            Err(text) => view! { <p class="error" data-testid="pipeline-message">{text}</p> }.into_any(),
        })
    }
}

#[component]
fn ClockBar() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let running = move || pipelines.clock.with(|c| c.running);
    view! {
        <div class="clock-bar">
            <strong>"Simulated clock: "</strong>
            <span data-testid="clock-now">{move || time_label(pipelines.clock.with(|c| c.now))}</span>
            " "
            <button data-testid="clock-toggle" on:click=move |_| pipelines.set_running(!running())>
                {move || if running() { "⏸ Pause" } else { "▶ Run clock" }}
            </button>
            <select
                data-testid="clock-speed"
                on:change=move |ev| {
                    if let Ok(speed) = event_target_value(&ev).parse::<f64>() {
                        pipelines.set_speed(speed);
                    }
                }
            >
                <option value="3600">"1 hour / s"</option>
                <option value="86400">"1 day / s"</option>
                <option value="604800">"1 week / s"</option>
            </select>
            <button data-testid="clock-plus-hour" on:click=move |_| pipelines.step(3_600)>"+1 hour"</button>
            <button data-testid="clock-plus-day" on:click=move |_| pipelines.step(86_400)>"+1 day"</button>
            <button data-testid="clock-plus-month" on:click=move |_| pipelines.step(31 * 86_400)>
                "+1 month"
            </button>
        </div>
    }
}

#[component]
fn DataBar() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let on_files = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else {
            return;
        };
        let Some(list) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        spawn_local(async move {
            for file in files {
                match crate::components::data_panel::file_bytes(file).await {
                    Ok(mlops_core::protocol::Source::File { name, bytes }) => {
                        pipelines.add_file(name, bytes).await
                    }
                    Ok(_) => {}
                    Err(e) => pipelines.message.set(Some(Err(e))),
                }
            }
        });
    };
    view! {
        <div class="data-bar">
            <h3>"Data: simulated city or the TLC files"</h3>
            <p>
                "The presets start on the simulated city (fast, no download). The TLC versions read "
                <code>"green_tripdata_2021-01.parquet"</code>" and "<code>"…-02"</code>
                " from the files you give here (or from the site's data folder)."
            </p>
            <button data-testid="presets-simulated" on:click=move |_| pipelines.reset_presets(false)>
                "Presets on the simulated city"
            </button>
            <button data-testid="presets-files" on:click=move |_| pipelines.reset_presets(true)>
                "Presets on the TLC files"
            </button>
            <input type="file" multiple accept=".parquet" data-testid="pipeline-files" on:change=on_files/>
            <ul data-testid="pipeline-file-list">
                {move || {
                    pipelines
                        .files
                        .get()
                        .into_iter()
                        .map(|(name, size)| view! { <li>{format!("{name} ({} KB)", size / 1024)}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}

#[component]
fn Dag(
    definition: Memo<Option<PipelineDefinition>>,
    run: Memo<Option<Arc<PipelineRun>>>,
    block: RwSignal<Option<String>>,
    new_block: RwSignal<Option<BlockDef>>,
) -> impl IntoView {
    // Laid out again only when the definition changes, not on every status colour.
    let drawn = Memo::new(move |_| definition.get().map(|d| layout::layout(&d, Boxes::default())));
    move || {
        let definition = definition.get()?;
        let drawn = drawn.get()?;
        let Boxes { width: node_w, height: node_h, .. } = Boxes::default();
        let (width, height) = (drawn.width, drawn.height);
        let edges: Vec<String> = drawn.edges.iter().map(|e| e.svg_path()).collect();
        let run_now = run.get();
        let node_views = drawn
            .blocks
            .into_iter()
            .map(|PlacedBlock { id, x, y }| {
                let kind = definition.block(&id).map(|b| b.kind.name()).unwrap_or_default();
                let status = run_now.as_ref().and_then(|r| r.status_of(&id));
                let fill = status_colour(status);
                let unsaved = new_block.with(|b| b.as_ref().is_some_and(|b| b.id == id));
                let status_text = if unsaved { "unsaved" } else { status.map(|s| s.name()).unwrap_or("not run") };
                let testid = format!("node-{id}");
                let click_id = id.clone();
                let selected_id = id.clone();
                view! {
                    <g
                        class="dag-node"
                        data-testid=testid
                        data-status=status_text
                        style="cursor:pointer"
                        on:click=move |_| block.set(Some(click_id.clone()))
                    >
                        <rect
                            x=x
                            y=y
                            width=node_w
                            height=node_h
                            rx="6"
                            fill=fill
                            stroke=move || if block.get().as_deref() == Some(selected_id.as_str()) { "#222" } else { "#888" }
                            stroke-width="1.5"
                            stroke-dasharray=if unsaved { "5 3" } else { "none" }
                        ></rect>
                        <text x=x + 8.0 y=y + 17.0 font-size="12" font-weight="bold">{id.clone()}</text>
                        <text x=x + 8.0 y=y + 34.0 font-size="11" fill="#444">{format!("{kind} · {status_text}")}</text>
                    </g>
                }
            })
            .collect_view();
        // A long pipeline is wider than the page: its box scrolls sideways instead.
        Some(view! {
            <div class="dag-scroll">
                <svg class="dag" data-testid="dag" width=width height=height viewBox=format!("0 0 {width} {height}")>
                    {edges
                        .into_iter()
                        .map(|d| view! { <path d=d fill="none" stroke="#999" stroke-width="1.5"></path> })
                        .collect_view()}
                    {node_views}
                </svg>
            </div>
        })
    }
}

#[component]
fn Workers() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    view! {
        <p class="muted" data-testid="pipeline-workers">
            {move || {
                pipelines
                    .workers
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(i, w)| match w {
                        Some((id, fraction)) => format!("worker {}: {id} ({:.0}%)", i + 1, fraction * 100.0),
                        None => format!("worker {}: idle", i + 1),
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            }}
        </p>
    }
}

/// The selected block: its runs, and the editor (a form and the same block as JSON).
///
/// `definition` is the saved pipeline, plus the block itself when it was just added and
/// is not saved yet (`is_new`). Saving replaces the pipeline with the edited one, which
/// `put_definition` validates again: a definition with problems is never saved.
#[component]
fn BlockPanel(
    id: String,
    definition: PipelineDefinition,
    is_new: bool,
    run: Memo<Option<Arc<PipelineRun>>>,
    block: RwSignal<Option<String>>,
    new_block: RwSignal<Option<BlockDef>>,
) -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let Some(block_def) = definition.block(&id).cloned() else {
        return view! { <p>"This block is gone."</p> }.into_any();
    };
    let draft = Draft::new(&block_def);
    let base = definition.clone();
    let block_id = id.clone();
    // The definition with the edited block, or why the JSON does not parse.
    let edited = Memo::new(move |_| -> Result<PipelineDefinition, String> {
        let block = draft.block.get()?;
        let mut definition = base.clone();
        let slot = definition.blocks.iter_mut().find(|b| b.id == block_id).ok_or("the block is gone")?;
        *slot = block;
        Ok(definition)
    });
    let problems = Memo::new(move |_| -> Vec<String> {
        match edited.get() {
            Err(e) => vec![e],
            Ok(d) => {
                let mut all: Vec<String> = graph::problems(&d).iter().map(|p| p.to_string()).collect();
                if all.is_empty() {
                    if let Err(e) = d.validate() {
                        all.push(e.to_string());
                    }
                }
                all
            }
        }
    });
    let save = move |_| {
        if let Ok(d) = edited.get_untracked() {
            match pipelines.put_definition(d) {
                Ok(()) => {
                    if is_new {
                        new_block.set(None);
                    }
                    pipelines.message.set(Some(Ok("Block saved.".to_string())));
                }
                Err(e) => pipelines.message.set(Some(Err(e))),
            }
        }
    };
    let refusal = RwSignal::new(None::<String>);
    let remove_id = id.clone();
    let saved = definition.clone();
    let remove = move |_| {
        if is_new {
            new_block.set(None);
            block.set(None);
            pipelines.message.set(Some(Ok(format!("The new block `{remove_id}` was dropped."))));
            return;
        }
        let mut d = saved.clone();
        let outcome =
            d.remove_block(&remove_id).map_err(|e| e.to_string()).and_then(|_| pipelines.put_definition(d));
        match outcome {
            Ok(()) => {
                block.set(None);
                pipelines.message.set(Some(Ok(format!("Block `{remove_id}` removed."))));
            }
            Err(e) => refusal.set(Some(e)),
        }
    };
    let injected = block_def.fail_first_n_attempts > 0;
    let toggle_def = definition.clone();
    let toggle_id = id.clone();
    let toggle_failure = move |_| {
        let mut d = toggle_def.clone();
        if let Some(b) = d.block_mut(&toggle_id) {
            if b.fail_first_n_attempts > 0 {
                b.fail_first_n_attempts = 0;
            } else {
                b.fail_first_n_attempts = 1;
                b.retry.retries = b.retry.retries.max(1);
            }
        }
        match pipelines.put_definition(d) {
            Ok(()) => pipelines.message.set(Some(Ok(format!("Injected failure toggled on `{toggle_id}`.")))),
            Err(e) => pipelines.message.set(Some(Err(e))),
        }
    };
    let attempts_id = id.clone();
    let rerun_id = id.clone();
    let kind = move || draft.block.with(|b| b.as_ref().map_or("?", |b| b.kind.name()));
    view! {
        <section class="block-panel" data-testid="block-panel">
            <h2>
                {format!("{} · {}", id, block_def.kind.name())}
                {is_new.then(|| view! { <span class="badge">"new, not saved yet"</span> })}
            </h2>
            <p class="muted">{block_def.description.clone()}</p>
            <label class:hidden=is_new>
                <input type="checkbox" data-testid="inject-failure" prop:checked=injected on:change=toggle_failure/>
                " Fail the first attempt on purpose (and allow one retry)"
            </label>
            {move || {
                run.get()
                    .filter(|_| !is_new)
                    .map(|r| {
                        let run_id = r.context.run_id.clone();
                        let rerun_id = rerun_id.clone();
                        let finished = r.is_finished();
                        view! {
                            <button
                                data-testid="rerun-from"
                                disabled=!finished
                                on:click=move |_| pipelines.rerun_from(&run_id, &rerun_id)
                            >
                                {format!("Re-run `{}` from this block", r.context.run_id)}
                            </button>
                        }
                    })
            }}
            <h3>"Attempts and logs"</h3>
            <div data-testid="block-logs">
                {move || {
                    run.get()
                        .map(|r| {
                            r.attempts(&attempts_id)
                                .into_iter()
                                .map(|a| {
                                    let header = format!(
                                        "try {} · attempt {} · {:?} · {} → {}{}",
                                        a.try_number,
                                        a.attempt,
                                        a.status,
                                        a.started_at,
                                        a.ended_at.map_or("…".to_string(), |t| t.to_string()),
                                        a.wall_seconds.map_or(String::new(), |s| format!(" · {s:.2} s in the worker")),
                                    );
                                    let error = a.error.clone();
                                    let outputs = a.outputs.clone();
                                    view! {
                                        <div class="attempt">
                                            <strong>{header}</strong>
                                            {error.map(|e| view! { <p class="error">{e}</p> })}
                                            <pre>{a.logs.join("\n")}</pre>
                                            {outputs
                                                .into_iter()
                                                .map(|o| {
                                                    view! {
                                                        <div class="output">
                                                            <em>{format!("{} ({:?}): {}", o.port, o.data_type, o.headline)}</em>
                                                            {(!o.metrics.is_empty())
                                                                .then(|| {
                                                                    view! {
                                                                        <ul>
                                                                            {o.metrics
                                                                                .iter()
                                                                                .map(|(k, v)| view! { <li>{format!("{k}: {v:.4}")}</li> })
                                                                                .collect_view()}
                                                                        </ul>
                                                                    }
                                                                })}
                                                            {o.chart.map(|chart| view! { <OutputChart chart/> })}
                                                            {(!o.learning_curve.is_empty())
                                                                .then(|| {
                                                                    view! {
                                                                        <SvgImage
                                                                            svg=learning_curve_svg(&o.learning_curve)
                                                                            alt="learning curve: train and validation RMSE by round"
                                                                            testid="output-curve"
                                                                        />
                                                                    }
                                                                })}
                                                            {o.head.map(|head| view! { <TableHeadView head/> })}
                                                        </div>
                                                    }
                                                })
                                                .collect_view()}
                                        </div>
                                    }
                                })
                                .collect_view()
                        })
            }}
            </div>
            <h3>"Edit the block"</h3>
            <p class="block-identity">
                "id " <code data-testid="block-id">{id.clone()}</code>
                " · kind " <code data-testid="block-kind">{kind}</code>
            </p>
            <BlockForm draft/>
            <h4>"Inputs"</h4>
            <InputsForm draft definition=definition.clone() id=id.clone()/>
            {move || {
                draft.form_error.get().map(|e| view! { <p class="error" role="alert" data-testid="block-form-error">{e}</p> })
            }}
            <ul class="problems" data-testid="block-problems">
                {move || problems.get().into_iter().map(|p| view! { <li class="error">{p}</li> }).collect_view()}
            </ul>
            <div class="block-actions">
                <button
                    class="primary"
                    data-testid="save-block"
                    disabled=move || !problems.with(Vec::is_empty)
                    on:click=save
                >
                    "Save block"
                </button>
                <button data-testid="remove-block" on:click=remove>
                    {if is_new { "Drop this new block" } else { "Remove this block" }}
                </button>
            </div>
            {move || refusal.get().map(|e| view! { <p class="error" role="alert" data-testid="remove-refused">{e}</p> })}
            <label class="block-json">
                "The same block as JSON (edit either side)"
                <textarea
                    data-testid="block-editor"
                    rows="14"
                    spellcheck="false"
                    prop:value=move || draft.text.get()
                    on:input=move |ev| draft.set_text(event_target_value(&ev))
                ></textarea>
            </label>
        </section>
    }
    .into_any()
}

/// Adds a block of any kind to the pipeline with its template's parameters. A block that
/// needs no input (a loader, a sensor, a note) is saved at once; the others open in the
/// editor, unsaved, until their inputs are connected.
#[component]
fn AddBlock(
    selected: RwSignal<String>,
    block: RwSignal<Option<String>>,
    new_block: RwSignal<Option<BlockDef>>,
) -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let kind = RwSignal::new(BlockKind::DataLoader);
    let new_id = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // The id used when the field is left empty: the kind's name, numbered if taken.
    let suggested = Memo::new(move |_| {
        let stem = kind.get().name();
        pipelines.definition(&selected.get()).map_or(stem.to_string(), |d| d.unused_id(stem))
    });
    let add = move |_| {
        let Some(mut definition) = pipelines.definition(&selected.get_untracked()) else { return };
        let typed = new_id.get_untracked().trim().to_string();
        let id = if typed.is_empty() { suggested.get_untracked() } else { typed };
        let fresh = BlockDef::template(kind.get_untracked(), &id);
        if let Err(e) = definition.add_block(fresh.clone()) {
            error.set(Some(e.to_string()));
            return;
        }
        error.set(None);
        new_id.set(String::new());
        if definition.validate().is_ok() {
            match pipelines.put_definition(definition) {
                Ok(()) => {
                    new_block.set(None);
                    pipelines.message.set(Some(Ok(format!("Block `{id}` added."))));
                }
                Err(e) => {
                    error.set(Some(e));
                    return;
                }
            }
        } else {
            new_block.set(Some(fresh));
            pipelines
                .message
                .set(Some(Ok(format!("Block `{id}` is in the editor: connect its inputs, then save it."))));
        }
        block.set(Some(id));
    };
    view! {
        <div class="add-block">
            <strong>"Add a block: "</strong>
            <select
                data-testid="add-block-kind"
                on:change=move |ev| {
                    let chosen = event_target_value(&ev);
                    if let Some(k) = BlockKind::ALL.into_iter().find(|k| k.name() == chosen) {
                        kind.set(k);
                    }
                }
            >
                {BlockKind::ALL
                    .map(|k| view! { <option value=k.name() prop:selected=move || kind.get() == k>{k.name()}</option> })
                    .collect_view()}
            </select>
            <input
                type="text"
                size="18"
                data-testid="add-block-id"
                placeholder=move || suggested.get()
                prop:value=move || new_id.get()
                on:input=move |ev| new_id.set(event_target_value(&ev))
            />
            <button data-testid="add-block" on:click=add>"Add"</button>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="add-block-error">{e}</p> })}
        </div>
    }
}

/// An output's histogram, counted by the core; what fell outside its range is said, not
/// drawn.
#[component]
fn OutputChart(chart: PortChart) -> impl IntoView {
    let histogram = &chart.histogram;
    let outside = (histogram.below + histogram.above > 0).then(|| {
        format!(
            "Not drawn: {} below {} and {} above {}.",
            histogram.below, histogram.lower, histogram.above, histogram.upper
        )
    });
    let svg = histogram_svg(
        &chart.x_label,
        &[Series { label: "rides".into(), color: BLUE, histogram, normalise: false }],
        &[],
    );
    view! {
        <SvgImage svg alt=chart.x_label.clone() testid="output-chart"/>
        {outside.map(|text| view! { <p class="small muted">{text}</p> })}
    }
}

#[component]
fn TableHeadView(head: mlops_core::pipelines::exec::TableHead) -> impl IntoView {
    view! {
        <table class="table-head">
            <thead>
                <tr>{head.columns.into_iter().map(|c| view! { <th>{c}</th> }).collect_view()}</tr>
            </thead>
            <tbody>
                {head
                    .rows
                    .into_iter()
                    .map(|row| view! { <tr>{row.into_iter().map(|v| view! { <td>{v}</td> }).collect_view()}</tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn ImportExport(selected: RwSignal<String>) -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let error = RwSignal::new(None::<String>);
    let export = move |_| {
        if let Some(d) = pipelines.definition(&selected.get_untracked()) {
            if let Err(e) =
                download_text(&format!("{}.json", d.name), "application/json", &definition::export(&d))
            {
                error.set(Some(e));
            }
        }
    };
    let import = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else {
            return;
        };
        let Some(file) = input.files().and_then(|l| l.get(0)) else { return };
        spawn_local(async move {
            let bytes = match crate::components::data_panel::file_bytes(file).await {
                Ok(mlops_core::protocol::Source::File { bytes, .. }) => bytes,
                Ok(_) => return,
                Err(e) => {
                    error.set(Some(e));
                    return;
                }
            };
            match definition::import(&bytes) {
                Ok(d) => {
                    let name = d.name.clone();
                    match pipelines.put_definition(d) {
                        Ok(()) => {
                            error.set(None);
                            selected.set(name);
                        }
                        Err(e) => error.set(Some(e)),
                    }
                }
                Err(e) => error.set(Some(format!("This file was refused: {e}"))),
            }
        });
    };
    view! {
        <div class="import-export">
            <button data-testid="export-pipeline" on:click=export>"Export JSON"</button>
            " Import: "
            <input type="file" accept=".json,application/json" data-testid="import-pipeline" on:change=import/>
            {move || error.get().map(|e| view! { <p class="error" data-testid="import-error">{e}</p> })}
        </div>
    }
}

#[component]
fn RunHistory(selected: RwSignal<String>, shown_run: RwSignal<Option<String>>) -> impl IntoView {
    let pipelines = Pipelines::use_context();
    view! {
        <table class="run-history" data-testid="run-history">
            <thead>
                <tr>
                    <th>"Run"</th>
                    <th>"Status"</th>
                    <th>"Why"</th>
                    <th>"Logical date"</th>
                    <th>"Simulated"</th>
                    <th>"Wall"</th>
                </tr>
            </thead>
            <tbody>
                {move || {
                    let name = selected.get();
                    let walls = pipelines.walls.get();
                    let active = pipelines.active.get();
                    let mut runs: Vec<Arc<PipelineRun>> =
                        pipelines.runs.get().iter().filter(|r| r.context.pipeline == name).cloned().collect();
                    runs.extend(active.filter(|r| r.context.pipeline == name));
                    runs.into_iter()
                        .rev()
                        .map(|r| {
                            let run_id = r.context.run_id.clone();
                            let wall = walls
                                .iter()
                                .find(|(id, _)| *id == run_id)
                                .map_or("…".to_string(), |(_, s)| format!("{s:.1} s"));
                            let click = run_id.clone();
                            let status = format!("{:?}", r.status);
                            let testid = format!("run-row-{}", run_id.replace('#', "-"));
                            let status_attr = status.clone();
                            view! {
                                <tr data-testid=testid data-status=status_attr on:click=move |_| shown_run.set(Some(click.clone()))>
                                    <td>{run_id.clone()}</td>
                                    <td>{status}</td>
                                    <td>{r.context.trigger.describe()}</td>
                                    <td>{r.context.logical_date.to_string()}</td>
                                    <td>{format_duration(r.duration_seconds(r.finished_at.unwrap_or(r.created_at)))}</td>
                                    <td data-testid="run-wall">{wall}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}

/// One row per block, one bar per attempt, on the run's simulated time.
#[component]
fn Gantt(run: Arc<PipelineRun>) -> impl IntoView {
    let start = run.created_at.0;
    let end = run
        .history
        .iter()
        .filter_map(|a| a.ended_at.map(|t| t.0))
        .chain(std::iter::once(run.finished_at.map_or(start + 1, |t| t.0)))
        .max()
        .unwrap_or(start + 1)
        .max(start + 1);
    let span = (end - start) as f64;
    let label_w = 130.0;
    let width = 760.0;
    let row_h = 20.0;
    let ids: Vec<String> = run
        .definition
        .blocks
        .iter()
        .filter(|b| !run.attempts(&b.id).is_empty())
        .map(|b| b.id.clone())
        .collect();
    let height = ids.len() as f64 * row_h + 24.0;
    let scale = move |t: i64| label_w + (t - start) as f64 / span * (width - label_w - 10.0);
    let rows = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let y = i as f64 * row_h + 4.0;
            let bars = run
                .attempts(id)
                .into_iter()
                .map(|a| {
                    let x = scale(a.started_at.0);
                    let x2 = scale(a.ended_at.map_or(end, |t| t.0));
                    let w = (x2 - x).max(2.0);
                    view! {
                        <rect x=x y=y + 2.0 width=w height=row_h - 6.0 fill=attempt_colour(a.status)>
                            <title>{format!("{id} attempt {}: {:?}", a.attempt, a.status)}</title>
                        </rect>
                    }
                })
                .collect_view();
            view! {
                <g>
                    <text x="2" y=y + 14.0 font-size="11">{id.clone()}</text>
                    {bars}
                </g>
            }
        })
        .collect_view();
    view! {
        <h3>{format!("Timeline of {} ({} simulated)", run.context.run_id, format_duration(end - start))}</h3>
        <svg class="gantt" data-testid="gantt" width=width height=height viewBox=format!("0 0 {width} {height}")>
            {rows}
        </svg>
    }
}

#[component]
fn TriggerLog() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    view! {
        <table class="trigger-log" data-testid="trigger-log">
            <thead>
                <tr>
                    <th>"When"</th>
                    <th>"Pipeline"</th>
                    <th>"Run"</th>
                    <th>"Why"</th>
                </tr>
            </thead>
            <tbody>
                {move || {
                    pipelines
                        .trigger_log
                        .get()
                        .into_iter()
                        .rev()
                        .map(|entry| {
                            let pipeline = entry.pipeline.clone();
                            view! {
                                <tr data-testid="trigger-row" data-pipeline=pipeline>
                                    <td>{entry.at.to_string()}</td>
                                    <td>{entry.pipeline.clone()}</td>
                                    <td>{entry.run_id.clone().unwrap_or_default()}</td>
                                    <td>{entry.why.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}

/// The run as the tracking store has it: the parent run and its nested block runs.
#[component]
fn Tracked(run_id: String) -> impl IntoView {
    let tracking = crate::tracking_state::Tracking::use_context();
    let wanted = run_id.clone();
    let found = Memo::new(move |_| {
        tracking.runs.with(|runs| {
            let tagged: Vec<_> = runs
                .iter()
                .filter(|r| r.tags.get(mlops_core::pipelines::host::PIPELINE_RUN_TAG) == Some(&wanted))
                .cloned()
                .collect();
            let parent = tagged.iter().find(|r| r.parent_run_id().is_none()).cloned();
            let nested = parent
                .as_ref()
                .map_or(0, |p| runs.iter().filter(|r| r.parent_run_id() == Some(p.run_id.as_str())).count());
            (parent, nested)
        })
    });
    view! {
        <p data-testid="tracked-runs">
            {move || match found.get() {
                (Some(parent), nested) => view! {
                    "Recorded in the tracking store as "
                    <a href=Route::Run(parent.run_id.clone()).path()>{format!("run {}", parent.run_id)}</a>
                    {format!(" with {nested} nested block runs ({:?}).", parent.status)}
                }
                .into_any(),
                (None, _) => view! { {format!("`{run_id}` is not in the tracking store (yet).")} }.into_any(),
            }}
        </p>
    }
}
