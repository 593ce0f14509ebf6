//! The tracking data every page reads: the client, and an in-memory copy of experiments,
//! runs and registered models that follows every change — made in this tab or another.
//!
//! Pages filter and sort the copy per keystroke (the core's search runs over it in
//! memory), so typing in a filter box never re-reads IndexedDB. A change re-reads only
//! the runs it names; a large one (an import) reloads everything once.

use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::tracking::kv::{StoreChange, Table};
use mlops_core::tracking::registry::RegisteredModel;
use mlops_core::tracking::{Experiment, Run, TrackingError, ViewType};

use crate::storage::{open_client, Client};

/// Above this many changed runs, reloading everything is cheaper than one read each.
const RELOAD_ABOVE: usize = 200;

pub type Runs = Arc<Vec<Arc<Run>>>;

#[derive(Clone, Copy)]
pub struct Tracking {
    client: StoredValue<Option<Rc<Client>>, LocalStorage>,
    /// False until the store is open and first read.
    pub ready: RwSignal<bool>,
    /// Why data is only in memory, or why a read failed.
    pub warning: RwSignal<Option<String>>,
    /// Every run of every experiment, in every lifecycle stage.
    pub runs: RwSignal<Runs>,
    pub experiments: RwSignal<Arc<Vec<Experiment>>>,
    pub models: RwSignal<Arc<Vec<RegisteredModel>>>,
    /// Bumps on every change, for views that read something else from the client
    /// (metric histories, artifacts).
    pub revision: RwSignal<u64>,
}

impl Tracking {
    pub fn new() -> Self {
        let tracking = Self {
            client: StoredValue::new_local(None),
            ready: RwSignal::new(false),
            warning: RwSignal::new(None),
            runs: RwSignal::new(Arc::new(Vec::new())),
            experiments: RwSignal::new(Arc::new(Vec::new())),
            models: RwSignal::new(Arc::new(Vec::new())),
            revision: RwSignal::new(0),
        };
        spawn_local(async move {
            match open_client().await {
                Ok((client, warning)) => {
                    tracking.warning.set(warning);
                    client.backend().listen(Rc::new(move |change| tracking.on_change(change)));
                    tracking.client.set_value(Some(client));
                    tracking.reload_all().await;
                }
                Err(e) => tracking.warning.set(Some(format!("The run log could not be opened: {e}"))),
            }
            tracking.ready.set(true);
        });
        tracking
    }

    pub fn use_context() -> Self {
        expect_context::<Self>()
    }

    pub fn client(&self) -> Option<Rc<Client>> {
        self.client.get_value()
    }

    /// The client, or the error that says the store is still opening.
    pub fn open_client(&self) -> Result<Rc<Client>, TrackingError> {
        self.client().ok_or(TrackingError::NotOpen)
    }

    /// A run from the in-memory copy.
    pub fn run(&self, run_id: &str) -> Option<Arc<Run>> {
        self.runs.with(|runs| runs.iter().find(|r| r.run_id == run_id).cloned())
    }

    pub fn experiment_name(&self, experiment_id: &str) -> String {
        self.experiments.with(|all| {
            all.iter().find(|e| e.experiment_id == experiment_id).map(|e| e.name.clone()).unwrap_or_default()
        })
    }

    fn report<T>(&self, result: Result<T, TrackingError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.warning.set(Some(e.to_string()));
                None
            }
        }
    }

    pub async fn reload_all(&self) {
        let Some(client) = self.client() else { return };
        if let Some(experiments) = self.report(client.search_experiments(ViewType::All).await) {
            self.experiments.set(Arc::new(experiments));
        }
        if let Some(runs) = self.report(client.all_runs(&[], ViewType::All).await) {
            self.runs.set(Arc::new(runs.into_iter().map(Arc::new).collect()));
        }
        if let Some(models) = self.report(client.search_registered_models("").await) {
            self.models.set(Arc::new(models));
        }
        self.revision.update(|r| *r += 1);
    }

    fn on_change(&self, change: StoreChange) {
        // The service's prediction log shares the store but nothing here shows it; the
        // service answers it writes would otherwise re-read every open run page.
        if change
            .tables
            .iter()
            .all(|t| matches!(t, Table::PredictionLog | Table::MonitoringMetrics | Table::AlertLog))
        {
            return;
        }
        let tracking = *self;
        spawn_local(async move {
            let Some(client) = tracking.client() else { return };
            if change.run_ids.len() > RELOAD_ABOVE {
                tracking.reload_all().await;
                return;
            }
            if change.tables.contains(&Table::Experiments) {
                if let Some(experiments) = tracking.report(client.search_experiments(ViewType::All).await) {
                    tracking.experiments.set(Arc::new(experiments));
                }
            }
            if change.tables.contains(&Table::Models) {
                if let Some(models) = tracking.report(client.search_registered_models("").await) {
                    tracking.models.set(Arc::new(models));
                }
            }
            let mut fresh = Vec::new();
            for run_id in &change.run_ids {
                match client.get_run(run_id).await {
                    Ok(run) => fresh.push((run_id.clone(), Some(Arc::new(run)))),
                    Err(TrackingError::RunNotFound(_)) => fresh.push((run_id.clone(), None)),
                    Err(e) => tracking.warning.set(Some(e.to_string())),
                }
            }
            if !fresh.is_empty() {
                tracking.runs.update(|runs| {
                    let list = Arc::make_mut(runs);
                    for (run_id, run) in fresh {
                        let at = list.iter().position(|r| r.run_id == run_id);
                        match (at, run) {
                            (Some(i), Some(run)) => list[i] = run,
                            (Some(i), None) => {
                                list.remove(i);
                            }
                            (None, Some(run)) => list.push(run),
                            (None, None) => {}
                        }
                    }
                });
            }
            tracking.revision.update(|r| *r += 1);
        });
    }
}

impl Default for Tracking {
    fn default() -> Self {
        Self::new()
    }
}
