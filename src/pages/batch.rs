//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn BatchPage() -> impl IntoView {
    view! { <section><h1>"BatchPage"</h1></section> }
}
