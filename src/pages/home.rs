use leptos::prelude::*;

use crate::routes::Route;

/// (number, title, what the learner does there, its page once it is built).
const CHAPTERS: [(u8, &str, &str, Option<Route>); 5] = [
    (1, "Introduction", "Load taxi trips, build features, train and evaluate a duration model; rate your team's MLOps maturity.", Some(Route::Chapter1)),
    (2, "Experiment tracking & model registry", "Track every run, search and compare them, register the best model and promote it.", Some(Route::Chapter2)),
    (3, "Orchestration & ML pipelines", "Turn the notebook steps into a pipeline with retries, schedules and retraining.", Some(Route::Chapter3)),
    (4, "Deployment", "Serve the model as a web service, score a month in batch, consume a stream.", Some(Route::Chapter4)),
    (5, "Monitoring", "Detect data drift and falling quality day by day, with dashboards and alerts.", Some(Route::Chapter5)),
];

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="lesson">
            {crate::lesson!("home.md")}
        </section>
        <ol class="chapters" data-testid="chapters">
            {CHAPTERS.iter().map(|(n, title, what, route)| {
                let ready = route.is_some();
                let route = route.clone().unwrap_or(Route::Coming(*n));
                view! {
                    <li class:coming=!ready>
                        <a href=route.path()><strong>{format!("Chapter {n} · {title}")}</strong></a>
                        {(!ready).then(|| view! { <span class="badge">"coming"</span> })}
                        <p>{*what}</p>
                    </li>
                }
            }).collect_view()}
        </ol>
        <p><a href=Route::Runs.path()>"Your runs"</a> " are kept in this browser and survive reloads."</p>
    }
}

#[component]
pub fn ComingSoon(chapter: u8) -> impl IntoView {
    let title = CHAPTERS.iter().find(|c| c.0 == chapter).map(|c| c.1).unwrap_or("This chapter");
    view! {
        <section class="lesson">
            <h1>{format!("Chapter {chapter} · {title}")}</h1>
            <p>"This chapter is being built. Meanwhile, " <a href=Route::Chapter1.path()>"Chapter 1"</a> " is ready to work through."</p>
        </section>
    }
}
