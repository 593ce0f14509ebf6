//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn Chapter2Page() -> impl IntoView {
    view! { <section><h1>"Chapter2Page"</h1></section> }
}
