//! Chapter 5: model monitoring — what to watch, how the watching is built, and a replayed
//! month with drift the learner causes — as a lesson with six guided steps.
//!
//! A step ticks itself from real data: the replay in memory, the dashboard's remembered
//! clock (localStorage), the alert log and the prediction log (IndexedDB), the last
//! whole-file report. What cannot be seen later (a day's report was opened) is
//! remembered by [`mark_step_done`], which the day and compare pages call too.

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use mlops_core::monitoring::store::MonitoringStore;

use crate::components::step::{Progress, Step, StepSummary, Walkthrough};
use crate::monitoring_state::{ReplaySetup, REPLAY_KEY};
use crate::routes::Route;
use crate::serving_state::Serving;
use crate::state::AppState;
use crate::storage::prefs;
use crate::tracking_state::Tracking;

pub const PROGRESS_KEY: &str = "mlops-lab-chapter5-progress";
const STEPS: [char; 6] = ['a', 'b', 'c', 'd', 'e', 'f'];
/// The day the clock must reach for step b.
pub const WEEK: u32 = 7;
/// How often the page looks at what the dashboard (maybe in another tab) has done.
const POLL_MS: u32 = 2000;

// ----- remembered progress -----

pub const WALKTHROUGH: Walkthrough = Walkthrough { key: PROGRESS_KEY, steps: &STEPS };

pub fn read_progress() -> Progress {
    WALKTHROUGH.read()
}

/// Remembers that a Chapter 5 step (`'a'`..=`'f'`) was done, for the walkthrough to tick.
pub fn mark_step_done(step: char) {
    WALKTHROUGH.mark_done(step)
}

fn read_setup() -> Option<ReplaySetup> {
    prefs::get(REPLAY_KEY).and_then(|t| ReplaySetup::parse(&t))
}

// ----- what the stored data shows -----

/// What the dashboard's remembered replay and the alert log say about steps a–c.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplayFacts {
    /// A replay was computed (its days are known).
    pub replayed: bool,
    /// Days the clock has revealed.
    pub revealed: u32,
    /// The replay had drift injected and an alert of that replay is in the log.
    pub injected_alert: bool,
}

/// `alert_replay_ids`: the replay id of every logged alert.
pub fn replay_facts(setup: Option<&ReplaySetup>, alert_replay_ids: &[String]) -> ReplayFacts {
    let Some(setup) = setup else { return ReplayFacts::default() };
    ReplayFacts {
        replayed: setup.days > 0,
        revealed: setup.revealed,
        injected_alert: !setup.options.injections.is_empty() && alert_replay_ids.contains(&setup.replay_id),
    }
}

// ----- the page -----

#[component]
pub fn Chapter5Page() -> impl IntoView {
    let state = AppState::use_context();
    let tracking = Tracking::use_context();
    let serving = Serving::use_context();
    let remembered = RwSignal::new(read_progress());
    let setup = RwSignal::new(read_setup());

    // The dashboard (here or in another tab) moves its clock and logs alerts meanwhile.
    let poll = Interval::new(POLL_MS, move || {
        let latest = read_setup();
        if setup.try_with_untracked(|s| *s != latest) == Some(true) {
            setup.set(latest);
        }
        let progress = read_progress();
        if remembered.try_with_untracked(|r| *r != progress) == Some(true) {
            remembered.set(progress);
        }
    });
    let poll = StoredValue::new_local(Some(poll));
    on_cleanup(move || {
        poll.try_set_value(None);
    });

    // Alerts are logged when the clock reveals a day, so re-read the log when it moves.
    let revealed = Memo::new(move |_| setup.with(|s| s.as_ref().map(|s| (s.replay_id.clone(), s.revealed))));
    let alert_ids = LocalResource::new(move || {
        revealed.track();
        let ready = tracking.ready.get();
        async move {
            if !ready {
                return Vec::new();
            }
            let Some(client) = tracking.client() else { return Vec::new() };
            let log = MonitoringStore::new(client.backend()).alerts().await.unwrap_or_default();
            log.into_iter().map(|entry| entry.replay_id).collect::<Vec<String>>()
        }
    });
    let facts = Memo::new(move |_| {
        let ids = alert_ids.get().unwrap_or_default();
        setup.with(|s| replay_facts(s.as_ref(), &ids))
    });
    let logged_requests = LocalResource::new(move || {
        let ready = tracking.ready.get();
        serving.answered.track();
        async move {
            if !ready {
                return 0;
            }
            serving.read_log().await.map(|entries| entries.len()).unwrap_or(0)
        }
    });

    let was = move |step: char| remembered.with(|r| r.done.contains(&step));
    let done_a =
        Memo::new(move |_| state.replayed.with(Option::is_some) || facts.with(|f| f.replayed) || was('a'));
    let done_b = Memo::new(move |_| facts.with(|f| f.revealed >= WEEK) || was('b'));
    let done_c = Memo::new(move |_| facts.with(|f| f.injected_alert) || was('c'));
    let done_d = Memo::new(move |_| was('d'));
    let done_e = Memo::new(move |_| state.drift_result.with(Option::is_some) || was('e'));
    let done_f = Memo::new(move |_| logged_requests.get().unwrap_or(0) > 0 || was('f'));
    let all = [done_a, done_b, done_c, done_d, done_e, done_f];

    WALKTHROUGH.remember(all.to_vec());

    view! {
        <article class="lesson chapter5" data-testid="chapter5">
            {crate::lesson!("chapter5/intro.md")}
            {crate::lesson!("chapter5/layers.md")}
            {crate::lesson!("chapter5/modes.md")}
            {crate::lesson!("chapter5/architecture.md")}
            {crate::lesson!("chapter5/replay.md")}
            {crate::lesson!("chapter5/tests.md")}
            {crate::lesson!("chapter5/injections.md")}
            {crate::lesson!("chapter5/alerts.md")}
            <h2>"Hands on"</h2>
            <p class="muted">
                "Six steps. Each ticks itself when the app shows it done — here, on the "
                <a href=Route::Monitoring.path()>"dashboard"</a> ", on a "
                <a href=Route::MonitoringDay(0).path()>"day's report"</a> " or on the "
                <a href=Route::DriftCompare.path()>"compare page"</a> "."
            </p>
            <StepSummary steps=&STEPS done=all.to_vec()/>
            <Step testid="step5-a" done=done_a>
                {crate::lesson!("chapter5/step-a.md")}
                <p><a class="button" href=Route::Monitoring.path() data-testid="go-monitoring">"Open the dashboard"</a></p>
            </Step>
            <Step testid="step5-b" done=done_b>
                {crate::lesson!("chapter5/step-b.md")}
                <p class="muted" data-testid="clock-day">
                    {move || match facts.with(|f| (f.replayed, f.revealed)) {
                        (false, _) => "No replay on the clock yet.".to_string(),
                        (true, 0) => "The clock has not started.".to_string(),
                        (true, days) => format!("The clock has revealed {days} day(s)."),
                    }}
                </p>
            </Step>
            <Step testid="step5-c" done=done_c>
                {crate::lesson!("chapter5/step-c.md")}
            </Step>
            <Step testid="step5-d" done=done_d>
                {crate::lesson!("chapter5/step-d.md")}
                <p><a class="button" href=Route::MonitoringDay(0).path() data-testid="go-day">"Open day 1's report"</a></p>
            </Step>
            <Step testid="step5-e" done=done_e>
                {crate::lesson!("chapter5/step-e.md")}
                <p>
                    <a class="button" href=Route::DriftCompare.path() data-testid="go-compare">"Compare two files"</a>
                    {move || state.drift_result.get().map(|result| view! {
                        <span class="muted">{format!(
                            " Last comparison: {} of {} columns drifted, {:.2} s.",
                            result.report.dataset.n_drifted, result.report.dataset.n_columns, result.seconds
                        )}</span>
                    })}
                </p>
            </Step>
            <Step testid="step5-f" done=done_f>
                {crate::lesson!("chapter5/step-f.md")}
                <p>
                    <a class="button" href=Route::Service.path() data-testid="go-service">"Send traffic from the service page"</a>
                    " "
                    <a class="button" href=Route::Monitoring.path()>"Then read it on the dashboard"</a>
                </p>
            </Step>
            {crate::lesson!("chapter5/next.md")}
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring_state::MonthChoice;
    use mlops_core::monitoring::inject::Injection;
    use mlops_core::monitoring::replay::ReplayOptions;

    fn setup(days: u32, revealed: u32, injections: Vec<Injection>) -> ReplaySetup {
        ReplaySetup {
            replay_id: "r1".into(),
            reference: MonthChoice::simulated(1),
            current: MonthChoice::simulated(2),
            options: ReplayOptions { injections, ..ReplayOptions::default() },
            days,
            revealed,
        }
    }

    #[test]
    fn an_alert_counts_only_for_the_replay_with_injected_drift() {
        let zone = Injection::ZonePopularity { from_day: 1, days: 3, zone: 132, share: 0.4 };
        let alerts = vec!["old".to_string(), "r1".to_string()];
        assert!(replay_facts(Some(&setup(28, 9, vec![zone.clone()])), &alerts).injected_alert);
        assert!(!replay_facts(Some(&setup(28, 9, vec![])), &alerts).injected_alert, "no drift was caused");
        assert!(!replay_facts(Some(&setup(28, 9, vec![zone])), &["old".to_string()]).injected_alert);
        let facts = replay_facts(Some(&setup(28, 9, vec![])), &[]);
        assert_eq!((facts.replayed, facts.revealed), (true, 9));
        assert_eq!(replay_facts(None, &alerts), ReplayFacts::default());
        assert!(!replay_facts(Some(&setup(0, 0, vec![])), &[]).replayed, "started but not computed");
    }

    #[test]
    fn progress_round_trips_and_ignores_unknown_steps() {
        let mut progress = Progress::parse("[oops");
        assert!(WALKTHROUGH.mark(&mut progress, 'd'));
        assert!(!WALKTHROUGH.mark(&mut progress, 'd'));
        assert!(!WALKTHROUGH.mark(&mut progress, 'g'), "Chapter 5 has six steps");
        assert_eq!(Progress::parse(&progress.to_json()), progress);
        assert_eq!(progress.to_json(), r#"{"done":["d"]}"#);
    }
}
