//! Chapter 3: orchestration — why a notebook is not production, what operationalising a
//! model takes, and four guided steps on the pipelines page.
//!
//! Steps tick themselves from the pipeline runs the page keeps (in IndexedDB): a
//! successful training run, a block that failed on purpose and then succeeded, a run
//! started by a schedule, a run started by a monitoring alert. Ticks are remembered.

use leptos::prelude::*;
use mlops_core::pipelines::engine::{AttemptStatus, PipelineRun, RunStatus};
use mlops_core::pipelines::exec::BlockError;
use mlops_core::pipelines::schedule::TriggerReason;

use crate::components::step::{Progress, Step, StepSummary, Walkthrough};
use crate::pipeline_state::Pipelines;
use crate::routes::Route;

pub const PROGRESS_KEY: &str = "mlops-lab-chapter3-progress";
const STEPS: [char; 4] = ['a', 'b', 'c', 'd'];

pub const WALKTHROUGH: Walkthrough = Walkthrough { key: PROGRESS_KEY, steps: &STEPS };

pub fn read_progress() -> Progress {
    WALKTHROUGH.read()
}

/// What the kept runs show, step by step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunFacts {
    pub trained: bool,
    pub retried: bool,
    pub scheduled: bool,
    pub alerted: bool,
}

fn injected(error: &Option<String>) -> bool {
    let marker = BlockError::Injected { attempt: 1, of: 1 }.to_string();
    let prefix = marker.split(':').next().unwrap_or("injected failure");
    error.as_deref().is_some_and(|e| e.starts_with(prefix))
}

pub fn run_facts(runs: &[&PipelineRun]) -> RunFacts {
    let succeeded = |r: &&&PipelineRun| r.status == RunStatus::Succeeded;
    RunFacts {
        trained: runs.iter().filter(succeeded).any(|r| r.context.pipeline == "training"),
        retried: runs
            .iter()
            .filter(succeeded)
            .any(|r| r.history.iter().any(|a| a.status == AttemptStatus::Failed && injected(&a.error))),
        scheduled: runs
            .iter()
            .filter(succeeded)
            .any(|r| matches!(r.context.trigger, TriggerReason::Schedule { .. })),
        alerted: runs
            .iter()
            .filter(succeeded)
            .any(|r| matches!(r.context.trigger, TriggerReason::Alert { .. })),
    }
}

#[component]
pub fn Chapter3Page() -> impl IntoView {
    let pipelines = Pipelines::use_context();
    let remembered = RwSignal::new(read_progress());
    let facts = Memo::new(move |_| {
        pipelines.runs.with(|runs| run_facts(&runs.iter().map(|r| r.as_ref()).collect::<Vec<_>>()))
    });
    let was = move |step: char| remembered.with(|r| r.done.contains(&step));
    let done_a = Memo::new(move |_| facts.with(|f| f.trained) || was('a'));
    let done_b = Memo::new(move |_| facts.with(|f| f.retried) || was('b'));
    let done_c = Memo::new(move |_| facts.with(|f| f.scheduled) || was('c'));
    let done_d = Memo::new(move |_| facts.with(|f| f.alerted) || was('d'));
    let all = [done_a, done_b, done_c, done_d];
    WALKTHROUGH.remember(all.to_vec());
    view! {
        <article class="lesson chapter3" data-testid="chapter3">
            {crate::lesson!("chapter3/intro.md")}
            {crate::lesson!("chapter3/why.md")}
            <h2>"Hands on"</h2>
            <p class="muted">
                "Four steps on the " <a href=Route::Pipelines.path()>"pipelines page"</a>
                ". Each ticks itself when a pipeline run shows it done."
            </p>
            <StepSummary steps=&STEPS done=all.to_vec()/>
            <Step testid="step3-a" done=done_a>
                {crate::lesson!("chapter3/step-a.md")}
                <p><a class="button" href=Route::Pipelines.path() data-testid="go-pipelines">"Open the pipelines"</a></p>
            </Step>
            <Step testid="step3-b" done=done_b>
                {crate::lesson!("chapter3/step-b.md")}
            </Step>
            <Step testid="step3-c" done=done_c>
                {crate::lesson!("chapter3/step-c.md")}
            </Step>
            <Step testid="step3-d" done=done_d>
                {crate::lesson!("chapter3/step-d.md")}
                <p><a class="button" href=Route::Monitoring.path()>"Open the monitoring dashboard"</a></p>
            </Step>
            {crate::lesson!("chapter3/next.md")}
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlops_core::pipelines::clock::SimTime;
    use mlops_core::pipelines::definition::BlockDef;
    use mlops_core::pipelines::engine::{drive, Host, OutputCache, RunContext};
    use mlops_core::pipelines::exec::{Effect, EffectResult, HostFacts, Needs};
    use mlops_core::pipelines::presets::{self, PresetData, PresetOptions};

    struct Accept;
    impl Host for Accept {
        fn facts(&mut self, _: &BlockDef, _: &Needs, _: SimTime) -> HostFacts {
            HostFacts::default()
        }
        fn apply(
            &mut self,
            _: &RunContext,
            _: &BlockDef,
            effects: &[Effect],
        ) -> Result<Vec<EffectResult>, String> {
            Ok(effects
                .iter()
                .map(|effect| match effect {
                    Effect::LogTrainingRun { .. } => EffectResult::RunLogged { run_id: "r".into() },
                    Effect::RegisterModel { model, .. } => {
                        EffectResult::Registered { model: model.clone(), version: 1 }
                    }
                    Effect::MoveRegistered { model, target, .. } => {
                        EffectResult::Moved { model: model.clone(), version: 1, target: target.to_string() }
                    }
                    Effect::WriteFile { path, .. } => EffectResult::Written { path: path.clone() },
                })
                .collect())
        }
    }

    #[test]
    fn a_retried_training_run_ticks_steps_a_and_b_only() {
        let mut options =
            PresetOptions { data: PresetData::Simulated { trips: 500 }, ..PresetOptions::default() };
        options.boosting.num_boost_round = 3;
        let mut definition = presets::training(&options);
        let loader = definition.block_mut("load_feb").expect("a loader");
        loader.fail_first_n_attempts = 1;
        loader.retry.retries = 1;
        let now = SimTime(0);
        let mut run = PipelineRun::new(&definition, RunContext::manual("training", "training#1", now), now)
            .expect("valid");
        drive(&mut run, &mut OutputCache::new(), &mut Accept, now).expect("drives");
        assert_eq!(run.status, RunStatus::Succeeded);
        let facts = run_facts(&[&run]);
        assert_eq!(facts, RunFacts { trained: true, retried: true, scheduled: false, alerted: false });
        assert_eq!(run_facts(&[]), RunFacts::default());
    }
}
