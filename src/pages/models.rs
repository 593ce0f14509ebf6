//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn ModelsPage() -> impl IntoView {
    view! { <section><h1>"ModelsPage"</h1></section> }
}
