//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn RunPage(run_id: String) -> impl IntoView {
    view! { <section><h1>"RunPage"</h1><p>{run_id}</p></section> }
}
