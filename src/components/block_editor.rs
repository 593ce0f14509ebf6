//! The block editor's form: a pipeline block's settings, inputs and retry policy as
//! fields, over the same draft as the JSON textarea beside it.
//!
//! There is one source of truth, the draft text. The form shows the block that text
//! parses to; a form edit parses the draft, changes the block (`fields::set_field`, or
//! the input bindings) and writes the JSON back. So the two views never disagree, and
//! while the JSON does not parse the form steps aside until it does. Every value is
//! rendered as text or as a property, never as HTML.

use leptos::prelude::*;
use mlops_core::pipelines::definition::{BlockDef, InPort, InputBinding, PipelineDefinition};
use mlops_core::pipelines::fields::{self, Field, FieldInput};

/// The block being edited: its JSON text, the block it parses to, and why the last form
/// edit was refused (a field's text that is not a number, say).
#[derive(Clone, Copy)]
pub struct Draft {
    pub text: RwSignal<String>,
    pub block: Memo<Result<BlockDef, String>>,
    pub form_error: RwSignal<Option<String>>,
}

/// The JSON the editor shows for a block.
pub fn block_json(block: &BlockDef) -> String {
    serde_json::to_string_pretty(block).unwrap_or_default()
}

impl Draft {
    pub fn new(block: &BlockDef) -> Self {
        let text = RwSignal::new(block_json(block));
        let block = Memo::new(move |_| {
            text.with(|t| serde_json::from_str::<BlockDef>(t).map_err(|e| format!("not a block: {e}")))
        });
        Self { text, block, form_error: RwSignal::new(None) }
    }

    /// A keystroke in the JSON view.
    pub fn set_text(&self, text: String) {
        self.form_error.set(None);
        self.text.set(text);
    }

    /// A form edit: applied to the parsed block and written back as JSON. The text is
    /// rewritten only when the block changed, so typing `1.50` is not reformatted under
    /// the cursor to `1.5`.
    pub fn edit(&self, change: impl FnOnce(&mut BlockDef) -> Result<(), String>) {
        let Ok(mut block) = self.block.get_untracked() else { return };
        let before = block.clone();
        match change(&mut block) {
            Ok(()) => {
                self.form_error.set(None);
                if block != before {
                    self.text.set(block_json(&block));
                }
            }
            Err(e) => self.form_error.set(Some(e)),
        }
    }
}

/// The fields of the draft block: operation, description, retry policy, parameters.
#[component]
pub fn BlockForm(draft: Draft) -> impl IntoView {
    let form = Memo::new(move |_| draft.block.with(|b| b.as_ref().ok().map(fields::fields)));
    // The form's shape (which fields, not their values): typing in a field changes only
    // values, so no input is rebuilt under the cursor.
    let shape = Memo::new(move |_| {
        form.with(|f| {
            f.as_ref().map(|f| f.iter().map(|x| (x.key, x.label, x.input.clone())).collect::<Vec<_>>())
        })
    });
    move || match shape.get() {
        None => view! {
            <p class="muted" data-testid="block-form-off">
                "The form is back as soon as the JSON below reads as a block."
            </p>
        }
        .into_any(),
        Some(shape) => view! {
            <div class="block-form" data-testid="block-form">
                {shape
                    .into_iter()
                    .map(|(key, label, input)| field_view(draft, form, key, label, input))
                    .collect_view()}
            </div>
        }
        .into_any(),
    }
}

fn field_view(
    draft: Draft,
    form: Memo<Option<Vec<Field>>>,
    key: &'static str,
    label: &'static str,
    input: FieldInput,
) -> AnyView {
    let value = move || {
        form.with(|f| {
            f.as_ref()
                .and_then(|f| f.iter().find(|x| x.key == key))
                .map(|x| x.value.clone())
                .unwrap_or_default()
        })
    };
    let set = move |text: String| draft.edit(|b| fields::set_field(b, key, &text));
    let testid = format!("field-{}", key.replace('.', "-"));
    let control = match input {
        FieldInput::Whole => view! {
            <input type="number" min="0" step="1" data-testid=testid prop:value=value
                on:input=move |ev| set(event_target_value(&ev))/>
        }
        .into_any(),
        FieldInput::Decimal => view! {
            <input type="number" step="any" data-testid=testid prop:value=value
                on:input=move |ev| set(event_target_value(&ev))/>
        }
        .into_any(),
        FieldInput::Text => view! {
            <input type="text" size="28" data-testid=testid prop:value=value
                on:input=move |ev| set(event_target_value(&ev))/>
        }
        .into_any(),
        FieldInput::LongText => view! {
            <textarea rows="4" data-testid=testid prop:value=value
                on:input=move |ev| set(event_target_value(&ev))></textarea>
        }
        .into_any(),
        FieldInput::Check => view! {
            <input type="checkbox" data-testid=testid prop:checked=move || value() == "true"
                on:change=move |ev| set(event_target_checked(&ev).to_string())/>
        }
        .into_any(),
        FieldInput::Choice(options) => view! {
            <select data-testid=testid on:change=move |ev| set(event_target_value(&ev))>
                {options
                    .into_iter()
                    .map(|(id, text)| view! { <option value=id prop:selected=move || value() == id>{text}</option> })
                    .collect_view()}
            </select>
        }
        .into_any(),
    };
    let class = if key == "markdown.text" || key == "description" { "field wide" } else { "field" };
    view! {
        <label class=class>
            <span class="field-name">{label}</span>
            {control}
        </label>
    }
    .into_any()
}

/// `block.output`, the value of an input's `<select>`.
fn source_value(block: &str, output: &str) -> String {
    format!("{block}.{output}")
}

fn parse_source(value: &str) -> Option<(String, String)> {
    value.rsplit_once('.').map(|(block, output)| (block.to_string(), output.to_string()))
}

/// Where each input port of the draft block reads from: a select per connection among
/// the other blocks' outputs of the port's type, and one to add a connection while the
/// port takes more.
#[component]
pub fn InputsForm(
    draft: Draft,
    /// The pipeline around the block, for the outputs its inputs may read.
    definition: PipelineDefinition,
    /// The block's id in `definition` (its own outputs are not offered).
    id: String,
) -> impl IntoView {
    let wiring = Memo::new(move |_| {
        draft.block.with(|b| b.as_ref().ok().map(|b| (b.params.inputs(), b.inputs.clone())))
    });
    move || {
        let (ports, bindings) = wiring.get()?;
        if ports.is_empty() && bindings.is_empty() {
            return Some(
                view! { <p class="muted" data-testid="block-inputs">"This block has no inputs."</p> }
                    .into_any(),
            );
        }
        let rows = ports.iter().map(|port| port_row(draft, &definition, &id, port, &bindings)).collect_view();
        // Connections to a port the block does not have (typed in the JSON): listed so
        // they can be removed; the problems say why they are wrong.
        let strays = bindings
            .iter()
            .enumerate()
            .filter(|(_, b)| ports.iter().all(|p| p.name != b.port))
            .map(|(index, b)| {
                view! {
                    <tr>
                        <td><code>{b.port.clone()}</code>" (not an input of this block)"</td>
                        <td>
                            {source_value(&b.block, &b.output)}
                            " "
                            <button title="Remove this connection" on:click=move |_| remove_binding(draft, index)>"✕"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        Some(
            view! {
                <table class="block-inputs" data-testid="block-inputs">
                    <tbody>{rows}{strays}</tbody>
                </table>
            }
            .into_any(),
        )
    }
}

fn remove_binding(draft: Draft, index: usize) {
    draft.edit(|b| {
        if index < b.inputs.len() {
            b.inputs.remove(index);
        }
        Ok(())
    });
}

fn port_row(
    draft: Draft,
    definition: &PipelineDefinition,
    id: &str,
    port: &InPort,
    bindings: &[InputBinding],
) -> impl IntoView {
    let choices: Vec<String> = fields::sources(definition, id, port.data_type)
        .into_iter()
        .map(|(block, output)| source_value(&block, output))
        .collect();
    let name = port.name;
    let connected: Vec<(usize, String)> = bindings
        .iter()
        .enumerate()
        .filter(|(_, b)| b.port == name)
        .map(|(index, b)| (index, source_value(&b.block, &b.output)))
        .collect();
    let room = connected.len() < port.max;
    let need = match (port.min, port.max) {
        (0, _) => "optional".to_string(),
        (_, 1) => "required".to_string(),
        (_, max) => format!("1 to {max}"),
    };
    let options = move |current: &str| {
        let mut values = choices.clone();
        if !current.is_empty() && !values.iter().any(|v| v == current) {
            values.insert(0, current.to_string());
        }
        values
            .into_iter()
            .map(|v| {
                let selected = v == current;
                view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
            })
            .collect_view()
    };
    let selects = connected
        .into_iter()
        .enumerate()
        .map(|(n, (index, current))| {
            let choose = move |ev: leptos::ev::Event| {
                let Some((block, output)) = parse_source(&event_target_value(&ev)) else { return };
                draft.edit(|b| {
                    if let Some(binding) = b.inputs.get_mut(index) {
                        binding.block = block;
                        binding.output = output;
                    }
                    Ok(())
                });
            };
            view! {
                <span class="connection">
                    <select data-testid=format!("input-{name}-{n}") on:change=choose>{options(&current)}</select>
                    <button
                        title="Remove this connection"
                        data-testid=format!("input-remove-{name}-{n}")
                        on:click=move |_| remove_binding(draft, index)
                    >
                        "✕"
                    </button>
                </span>
            }
        })
        .collect_view();
    let add = room.then(|| {
        let connect = move |ev: leptos::ev::Event| {
            let Some((block, output)) = parse_source(&event_target_value(&ev)) else { return };
            draft.edit(|b| {
                b.inputs.push(InputBinding { port: name.to_string(), block, output });
                Ok(())
            });
        };
        view! {
            <select data-testid=format!("input-add-{name}") on:change=connect>
                <option value="" selected=true>"— connect —"</option>
                {options("")}
            </select>
        }
    });
    view! {
        <tr>
            <td>
                <code>{name}</code>
                {format!(" {} · {need}", port.data_type)}
            </td>
            <td>{selects}{add}</td>
        </tr>
    }
}
