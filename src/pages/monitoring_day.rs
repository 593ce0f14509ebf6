//! One replayed day (Chapter 5): its daily metrics and its full drift report.
//!
//! The reports live in memory only, in the last replay the worker computed; after a
//! reload the page says so, links to the dashboard to replay again, and shows what the
//! metrics store kept for that day.

use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::monitoring::replay::DayMetrics;
use mlops_core::monitoring::store::{MetricsRow, MonitoringStore};

use crate::components::drift_report::{format_score, format_share, DriftReportView};
use crate::monitoring_state::{ReplaySetup, REPLAY_KEY};
use crate::routes::Route;
use crate::state::AppState;
use crate::storage::prefs;
use crate::tracking_state::Tracking;

/// Days a month can have: the last day index a "next" link may point at without a replay.
const LAST_POSSIBLE_DAY: u32 = 30;

/// An optional metric, or why it is not known yet.
pub fn metric_or_wait(value: Option<f64>, truth_day: u32) -> String {
    match value {
        Some(v) => format_score(v),
        None => format!("not known yet (the truth arrives on day {})", truth_day + 1),
    }
}

#[component]
pub fn MonitoringDayPage(day: u32) -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let setup = prefs::get(REPLAY_KEY).and_then(|t| ReplaySetup::parse(&t));
    let revealed = setup.as_ref().map(|s| s.revealed);
    let replay_id = setup.map(|s| s.replay_id);

    let in_memory = Memo::new(move |_| {
        state.replayed.with(|replayed| {
            let replayed = replayed.as_ref()?;
            let found = replayed.days.iter().find(|d| d.metrics.day_index == day)?;
            Some((
                found.metrics.clone(),
                Arc::new(found.report.clone()),
                replayed.reference_label.clone(),
                replayed.current_label.clone(),
            ))
        })
    });
    let day_count = Memo::new(move |_| state.replayed.with(|r| r.as_ref().map(|r| r.days.len() as u32)));

    // Opening a day's full report is Chapter 5's step d.
    Effect::new(move |_| {
        if in_memory.with(Option::is_some) {
            crate::pages::chapter5::mark_step_done('d');
        }
    });

    let stored = LocalResource::new(move || {
        let ready = tracking.ready.get();
        let replay_id = replay_id.clone();
        async move {
            let replay_id = replay_id.filter(|_| ready)?;
            let client = tracking.client()?;
            let rows: Vec<MetricsRow> =
                MonitoringStore::new(client.backend()).metrics(&replay_id).await.ok()?;
            rows.into_iter().find(|r| r.metrics.day_index == day)
        }
    });

    let has_next = move || match day_count.get() {
        Some(count) => day + 1 < count,
        None => day < LAST_POSSIBLE_DAY,
    };

    view! {
        <article class="lesson monitoring-day" data-testid="monitoring-day">
            <p class="breadcrumbs"><a href=Route::Chapter5.path()>"Chapter 5"</a> " › "
                <a href=Route::Monitoring.path()>"Monitoring"</a> {format!(" › day {}", day + 1)}</p>
            <nav class="day-nav">
                {(day > 0).then(|| view! {
                    <a href=Route::MonitoringDay(day - 1).path() data-testid="day-prev">"← previous day"</a>
                })}
                " "
                {move || has_next().then(|| view! {
                    <a href=Route::MonitoringDay(day + 1).path() data-testid="day-next">"next day →"</a>
                })}
            </nav>
            {move || match in_memory.get() {
                Some((metrics, report, reference_label, current_label)) => view! {
                    <h1>{format!("Day {} · {}", day + 1, metrics.date)}</h1>
                    {revealed.filter(|r| day >= *r).map(|_| view! {
                        <p class="note">"The dashboard's clock has not reached this day yet: you are looking ahead."</p>
                    })}
                    <DaySummary metrics/>
                    <h2>"The day's drift report"</h2>
                    <p class="muted">"This day's trips (current) against the reference rows of the baseline month."</p>
                    <DriftReportView report reference_label current_label/>
                }
                .into_any(),
                None => view! {
                    <h1>{format!("Day {}", day + 1)}</h1>
                    <div class="note" data-testid="day-not-in-memory">
                        <p>
                            "A day's full report is kept in this tab's memory, next to the replay that made it; the metrics store "
                            "keeps only the day's numbers. "
                            {move || match day_count.get() {
                                Some(count) => format!("The replay in memory has {count} days; this is not one of them."),
                                None => "No replay is in memory now (a reload forgets it).".to_string(),
                            }}
                        </p>
                        <p><a class="button" href=Route::Monitoring.path() data-testid="day-go-monitoring">
                            "Open the dashboard and replay"</a></p>
                    </div>
                    <Suspense fallback=|| ()>
                        {move || stored.get().flatten().map(|row| view! {
                            <h2>"What the metrics store kept for this day"</h2>
                            <DaySummary metrics=row.metrics/>
                        })}
                    </Suspense>
                }
                .into_any(),
            }}
        </article>
    }
}

#[component]
fn DaySummary(metrics: DayMetrics) -> impl IntoView {
    let prediction = match metrics.prediction_drift {
        Some(score) => {
            format!(
                "{} ({})",
                format_score(score),
                if metrics.prediction_drifted { "drift" } else { "no drift" }
            )
        }
        None => "not tested".to_string(),
    };
    view! {
        <dl class="report-stats" data-testid="day-metrics">
            <div><dt>"Date"</dt><dd>{metrics.date.clone()}</dd></div>
            <div><dt>"Trips"</dt><dd data-testid="day-rows">{metrics.rows}</dd></div>
            <div><dt>"Prediction drift"</dt><dd>{prediction}</dd></div>
            <div><dt>"Drifted columns"</dt><dd>{format!("{} of {}", metrics.drifted_columns, metrics.columns)}</dd></div>
            <div><dt>"Dataset drift"</dt><dd>{if metrics.dataset_drift { "yes" } else { "no" }}</dd></div>
            <div><dt>"Share missing"</dt><dd>{format_share(metrics.share_missing)}</dd></div>
            <div><dt>"RMSE"</dt><dd>{metric_or_wait(metrics.rmse, metrics.truth_day)}</dd></div>
            <div><dt>"MAE"</dt><dd>{metric_or_wait(metrics.mae, metrics.truth_day)}</dd></div>
        </dl>
        {(!metrics.injected.is_empty()).then(|| view! {
            <p class="note" data-testid="day-injected">"Drift injected on this day: " {metrics.injected.join("; ")}</p>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_metric_says_when_its_truth_arrives() {
        assert_eq!(metric_or_wait(Some(6.25), 3), "6.25");
        assert_eq!(metric_or_wait(None, 3), "not known yet (the truth arrives on day 4)");
    }
}
