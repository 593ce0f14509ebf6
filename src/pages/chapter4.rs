//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn Chapter4Page() -> impl IntoView {
    view! { <section><h1>"Chapter4Page"</h1></section> }
}
