//! What the worker is doing, visible from every page.

use leptos::prelude::*;

use crate::state::AppState;

#[component]
pub fn WorkerStatus() -> impl IntoView {
    let state = AppState::use_context();
    view! {
        <Show when=move || state.progress.with(Option::is_some)>
            <div class="worker-status" data-testid="progress" role="status">
                <span>{move || state.progress.get().map(|(stage, _)| stage).unwrap_or_default()}</span>
                <progress max="1" value=move || state.progress.get().map(|(_, f)| f).unwrap_or(0.0)></progress>
            </div>
        </Show>
    }
}
