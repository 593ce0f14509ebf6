//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn RunsPage() -> impl IntoView {
    view! { <section><h1>"Runs"</h1></section> }
}
