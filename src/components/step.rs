//! One step of a chapter's guided walkthrough: its text and controls, ticked when its
//! check (computed by the chapter from real data) says it is done.

use leptos::prelude::*;

/// `testid` names the step for the end-to-end tests (`step-a`, `step4-a`, …); its
/// `data-done` attribute follows `done`.
#[component]
pub fn Step(#[prop(into)] testid: String, done: Memo<bool>, children: Children) -> impl IntoView {
    view! {
        <section class="step" class:done=move || done.get() data-testid=testid
            data-done=move || done.get().to_string()>
            <span class="step-badge">{move || if done.get() { "✓ done" } else { "to do" }}</span>
            {children()}
        </section>
    }
}
