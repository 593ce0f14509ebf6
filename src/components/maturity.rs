//! The MLOps maturity model as a short self-assessment: the learner ticks what their
//! team does and sees which level that describes and what the next step would be.

use leptos::prelude::*;

/// (level, name, practice that marks reaching it, what the next step adds).
const LEVELS: [(u8, &str, &str, &str); 5] = [
    (0, "No MLOps", "Models are built in notebooks and handed over by hand.", "Track experiments and package the model so it can be served the same way each time."),
    (1, "DevOps, no MLOps", "Releases are automated and the service has tests and metrics, but models are still trained and evaluated by hand.", "Make training reproducible: tracked runs, versioned data and a registry."),
    (2, "Automated training", "Training runs as a pipeline with tracked experiments and a model registry.", "Automate deployment: release a registered model with a tested, repeatable process, comparing it against the current one."),
    (3, "Automated deployment", "Registered models go to production by an automated process, with A/B or shadow comparison.", "Monitor the live model and let drift or quality alerts trigger retraining."),
    (4, "Full MLOps", "Monitoring detects drift and retrains and redeploys models without manual steps.", "Keep the loop honest: review alerts, costs and the decisions the automation takes."),
];

/// The highest level whose practice (and all below it) is in place.
pub fn maturity_level(ticked: &[bool]) -> u8 {
    let reached = ticked.iter().skip(1).take_while(|t| **t).count();
    reached as u8
}

#[component]
pub fn MaturityAssessment() -> impl IntoView {
    let ticks: Vec<RwSignal<bool>> = (0..LEVELS.len()).map(|_| RwSignal::new(false)).collect();
    let level = {
        let ticks = ticks.clone();
        Memo::new(move |_| maturity_level(&ticks.iter().map(|t| t.get()).collect::<Vec<_>>()))
    };
    view! {
        <div class="maturity" data-testid="maturity">
            <p>"Tick what is true for your team today (each level assumes the ones before it):"</p>
            <ul class="checklist">
                {LEVELS.iter().zip(ticks).skip(1).map(|((n, _, practice, _), tick)| view! {
                    <li><label>
                        <input type="checkbox" prop:checked=move || tick.get() on:change=move |_| tick.update(|t| *t = !*t)/>
                        " " {*practice} <span class="muted">" (level " {*n} ")"</span>
                    </label></li>
                }).collect_view()}
            </ul>
            <p class="result" data-testid="maturity-level">
                {move || {
                    let (n, name, _, next) = LEVELS[level.get() as usize];
                    format!("You are at level {n} — {name}. Next: {next}")
                }}
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_gap_stops_the_level() {
        assert_eq!(super::maturity_level(&[false, true, true, false, true]), 2);
        assert_eq!(super::maturity_level(&[false, false, true, true, true]), 0);
        assert_eq!(super::maturity_level(&[false, true, true, true, true]), 4);
    }
}
