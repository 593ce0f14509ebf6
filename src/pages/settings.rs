//! PLACEHOLDER: being written.

use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! { <section><h1>"SettingsPage"</h1></section> }
}
