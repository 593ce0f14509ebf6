//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn ModelPage(name: String) -> impl IntoView {
    view! { <section><h1>"ModelPage"</h1><p>{name}</p></section> }
}
