//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn ComparePage() -> impl IntoView {
    view! { <section><h1>"ComparePage"</h1></section> }
}
