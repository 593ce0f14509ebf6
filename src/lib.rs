//! MLOps Lab's web app: signals, views and browser I/O only. All decisions live in
//! `mlops-core`; heavy work runs in [`worker::TrainerWorker`].

pub mod components;
pub mod monitoring_state;
pub mod pages;
pub mod pipeline_state;
pub mod remote;
pub mod routes;
pub mod search_state;
pub mod serving_state;
pub mod state;
pub mod storage;
pub mod sw_bridge;
pub mod tracking_state;
pub mod worker;

use leptos::prelude::*;

use components::markdown::Markdown;
use routes::{use_route, Route};

thread_local! {
    static INTERACTIVE_AT_MS: std::cell::Cell<f64> = const { std::cell::Cell::new(f64::NAN) };
}

/// Milliseconds from navigation start until the app was mounted and responsive.
pub fn interactive_at_ms() -> f64 {
    INTERACTIVE_AT_MS.with(|c| c.get())
}

/// Entry point of the page (called from `main`).
pub fn start() {
    install_panic_screen();
    leptos::mount::mount_to_body(App);
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        INTERACTIVE_AT_MS.with(|c| c.set(performance.now()));
    }
}

/// A panic in wasm stops the app; instead of a blank or frozen page the learner gets an
/// explanation, and their runs in IndexedDB are untouched.
fn install_panic_screen() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let Some(body) = document.body() else { return };
        body.set_text_content(None);
        let Ok(panel) = document.create_element("div") else { return };
        panel.set_class_name("panic-screen");
        panel.set_attribute("data-testid", "panic-screen").ok();
        let text = format!(
            "MLOps Lab stopped because of an internal error.\n\n{info}\n\nYour runs are safe in the browser's storage. Reload the page to continue; if it happens again, please report the message above."
        );
        // Text, not HTML: the panic message may contain anything.
        panel.set_text_content(Some(&text));
        body.append_child(&panel).ok();
    }));
}

#[component]
pub fn App() -> impl IntoView {
    let state = state::AppState::new();
    provide_context(state);
    provide_context(state.tracking);
    provide_context(serving_state::Serving::new(state.tracking));
    let monitoring = monitoring_state::Monitoring::new(state);
    provide_context(monitoring);
    provide_context(pipeline_state::Pipelines::new(state.tracking, monitoring));
    provide_context(search_state::Searches::new(state));
    sw_bridge::start(serving_state::Serving::use_context());
    let route = use_route();
    view! {
        <header class="top">
            <a class="brand" href=Route::Home.path()>"MLOps Lab"</a>
            <nav>
                <a href=Route::Chapter1.path() data-testid="nav-chapter-1">"1 · Introduction"</a>
                <a href=Route::Chapter2.path() data-testid="nav-chapter-2">"2 · Tracking"</a>
                <a href=Route::Search.path() data-testid="nav-search">"Tuning"</a>
                <a href=Route::Chapter3.path() data-testid="nav-chapter-3">"3 · Pipelines"</a>
                <a href=Route::Chapter4.path() data-testid="nav-chapter-4">"4 · Deployment"</a>
                <a href=Route::Chapter5.path() data-testid="nav-chapter-5">"5 · Monitoring"</a>
                <a href=Route::Runs.path() data-testid="nav-runs">"Runs"</a>
                <a href=Route::Models.path() data-testid="nav-models">"Models"</a>
                <a href=Route::Settings.path() data-testid="nav-settings">"Settings"</a>
            </nav>
            <components::progress::WorkerStatus/>
        </header>
        <Show when=move || state.tracking.warning.get().is_some()>
            <p class="warning" data-testid="storage-warning">{move || state.tracking.warning.get().unwrap_or_default()}</p>
        </Show>
        <main>
            {move || match route.get() {
                Route::Home => pages::home::HomePage().into_any(),
                Route::Chapter1 => pages::chapter1::Chapter1Page().into_any(),
                Route::Chapter2 => pages::chapter2::Chapter2Page().into_any(),
                Route::Chapter3 => pages::chapter3::Chapter3Page().into_any(),
                Route::Runs => pages::runs::RunsPage().into_any(),
                Route::Run(run_id) => view! { <pages::run::RunPage run_id/> }.into_any(),
                Route::Compare => pages::compare::ComparePage().into_any(),
                Route::Models => pages::models::ModelsPage().into_any(),
                Route::Model(name) => view! { <pages::model::ModelPage name/> }.into_any(),
                Route::Settings => pages::settings::SettingsPage().into_any(),
                Route::Chapter4 => pages::chapter4::Chapter4Page().into_any(),
                Route::Service => pages::service::ServicePage().into_any(),
                Route::Batch => pages::batch::BatchPage().into_any(),
                Route::Stream => pages::stream::StreamPage().into_any(),
                Route::Chapter5 => pages::chapter5::Chapter5Page().into_any(),
                Route::Monitoring => pages::monitoring::MonitoringPage().into_any(),
                Route::MonitoringDay(day) => view! { <pages::monitoring_day::MonitoringDayPage day/> }.into_any(),
                Route::DriftCompare => pages::drift_compare::DriftComparePage().into_any(),
                Route::Bench => pages::bench::BenchPage().into_any(),
                Route::Search => pages::search::SearchPage().into_any(),
                Route::Pipelines => pages::pipelines::PipelinesPage().into_any(),
                Route::Coming(n) => view! { <pages::home::ComingSoon chapter=n/> }.into_any(),
                Route::NotFound => view! {
                    <section class="lesson">
                        <Markdown source="# Page not found\n\nThat address is not part of MLOps Lab. [Go to the start](#/)."/>
                    </section>
                }.into_any(),
            }}
        </main>
    }
}
