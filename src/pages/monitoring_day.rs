//! Placeholder until the Chapter 5 pages are written.

use leptos::prelude::*;

#[component]
pub fn MonitoringDayPage(day: u32) -> impl IntoView {
    view! { <p>{format!("Day {day}")}</p> }
}
