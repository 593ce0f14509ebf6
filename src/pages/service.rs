//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn ServicePage() -> impl IntoView {
    view! { <section><h1>"ServicePage"</h1></section> }
}
