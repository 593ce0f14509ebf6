//! The in-memory [`TrackingStore`]: used by native tests and as the fallback where the
//! browser refuses IndexedDB (private windows).

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{apply_batch, NewRun, Run, RunStatus, StoreError, TrackingStore};

#[derive(Debug, Default)]
pub struct MemoryStore {
    runs: RefCell<BTreeMap<String, Run>>,
    artifacts: RefCell<BTreeMap<(String, String), String>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn update<T>(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut Run) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut runs = self.runs.borrow_mut();
        let run = runs.get_mut(run_id).ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
        // Work on a copy so that a rejected change leaves nothing half-applied.
        let mut draft = run.clone();
        let out = change(&mut draft)?;
        *run = draft;
        Ok(out)
    }
}

impl TrackingStore for MemoryStore {
    async fn create_run(&self, new: NewRun) -> Result<Run, StoreError> {
        let mut runs = self.runs.borrow_mut();
        if runs.contains_key(&new.run_id) {
            return Err(StoreError::DuplicateRun(new.run_id));
        }
        let run = Run::open(new);
        runs.insert(run.run_id.clone(), run.clone());
        Ok(run)
    }

    async fn get_run(&self, run_id: &str) -> Result<Run, StoreError> {
        self.runs.borrow().get(run_id).cloned().ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))
    }

    async fn list_runs(&self) -> Result<Vec<Run>, StoreError> {
        let mut runs: Vec<Run> = self.runs.borrow().values().cloned().collect();
        super::sort_newest_first(&mut runs);
        Ok(runs)
    }

    async fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.update(run_id, |run| apply_batch(run, params, metrics, tags))
    }

    async fn log_artifact(&self, run_id: &str, name: &str, contents: &str) -> Result<(), StoreError> {
        self.update(run_id, |run| super::add_artifact_name(run, name))?;
        self.artifacts.borrow_mut().insert((run_id.to_string(), name.to_string()), contents.to_string());
        Ok(())
    }

    async fn get_artifact(&self, run_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        self.get_run(run_id).await?;
        Ok(self.artifacts.borrow().get(&(run_id.to_string(), name.to_string())).cloned())
    }

    async fn set_terminated(&self, run_id: &str, status: RunStatus, end_time: i64) -> Result<(), StoreError> {
        self.update(run_id, |run| super::terminate(run, status, end_time))
    }

    async fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        self.runs.borrow_mut().remove(run_id).ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
        self.artifacts.borrow_mut().retain(|(id, _), _| id != run_id);
        Ok(())
    }
}
