//! One step of a chapter's guided walkthrough: its text and controls, ticked when its
//! check (computed by the chapter from real data) says it is done.

use std::collections::BTreeSet;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::storage::prefs;

/// The steps of a walkthrough seen done, as stored in localStorage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub done: BTreeSet<char>,
}

impl Progress {
    /// Unreadable text (an older format, a hand edit) counts as no progress.
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A chapter's walkthrough: its step letters and where its progress is kept. Steps are
/// remembered when seen done, so other pages (batch, compare) can tick them too.
pub struct Walkthrough {
    pub key: &'static str,
    pub steps: &'static [char],
}

impl Walkthrough {
    pub fn read(&self) -> Progress {
        prefs::get(self.key).map(|t| Progress::parse(&t)).unwrap_or_default()
    }

    /// Adds a step; says whether it was new. Letters that are not steps are refused.
    pub fn mark(&self, progress: &mut Progress, step: char) -> bool {
        self.steps.contains(&step) && progress.done.insert(step)
    }

    /// Remembers that a step was done.
    pub fn mark_done(&self, step: char) {
        let mut progress = self.read();
        if self.mark(&mut progress, step) {
            prefs::set(self.key, &progress.to_json());
        }
    }

    /// Remembers each step as its flag (`done`, in the order of `steps`) turns true, so
    /// progress outlives the run history that proved it. localStorage is not a signal, so
    /// writing it from an effect is safe.
    pub fn remember(&'static self, done: Vec<Memo<bool>>) {
        Effect::new(move |_| {
            let flags: Vec<bool> = done.iter().map(|m| m.get()).collect();
            for (letter, done) in self.steps.iter().zip(flags) {
                if done {
                    self.mark_done(*letter);
                }
            }
        });
    }
}

/// The row of step letters at the top of a walkthrough, each ticked when done.
#[component]
pub fn StepSummary(steps: &'static [char], done: Vec<Memo<bool>>) -> impl IntoView {
    view! {
        <ol class="step-summary">
            {steps.iter().zip(done).map(|(letter, done)| view! {
                <li class:done=move || done.get()>{letter.to_string()} {move || if done.get() { " ✓" } else { "" }}</li>
            }).collect_view()}
        </ol>
    }
}

/// `testid` names the step for the end-to-end tests (`step-a`, `step4-a`, …); its
/// `data-done` attribute follows `done`.
#[component]
pub fn Step(#[prop(into)] testid: String, done: Memo<bool>, children: Children) -> impl IntoView {
    view! {
        <section class="step" class:done=move || done.get() data-testid=testid
            data-done=move || done.get().to_string()>
            <span class="step-badge">{move || if done.get() { "✓ done" } else { "to do" }}</span>
            {children()}
        </section>
    }
}
