//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn StreamPage() -> impl IntoView {
    view! { <section><h1>"StreamPage"</h1></section> }
}
