//! Placeholder until the Chapter 5 pages are written.

use leptos::prelude::*;

#[component]
pub fn Chapter5Page() -> impl IntoView {
    view! { <p>"Chapter 5 is being written."</p> }
}
