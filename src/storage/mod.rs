//! Where runs are kept in the browser: IndexedDB, or memory where the browser refuses it.

pub mod indexeddb;

use mlops_core::tracking::memory::MemoryStore;
use mlops_core::tracking::{NewRun, Run, RunStatus, StoreError, TrackingStore};

pub use indexeddb::IdbStore;

/// The app's store: one type so pages need not be generic over the backend.
pub enum AppStore {
    IndexedDb(IdbStore),
    /// Private windows and some embedded browsers have no IndexedDB: runs last until reload.
    Memory(MemoryStore),
}

impl AppStore {
    /// Opens IndexedDB, falling back to memory (with the reason, shown to the learner).
    pub async fn open() -> (Self, Option<String>) {
        match IdbStore::open(indexeddb::DATABASE_NAME).await {
            Ok(store) => (AppStore::IndexedDb(store), None),
            Err(e) => (
                AppStore::Memory(MemoryStore::new()),
                Some(format!("Runs are kept in memory only and will be lost on reload: {e}")),
            ),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AppStore::IndexedDb($store) => $call.await,
            AppStore::Memory($store) => $call.await,
        }
    };
}

impl TrackingStore for AppStore {
    async fn create_run(&self, new: NewRun) -> Result<Run, StoreError> {
        delegate!(self, s => s.create_run(new))
    }
    async fn get_run(&self, run_id: &str) -> Result<Run, StoreError> {
        delegate!(self, s => s.get_run(run_id))
    }
    async fn list_runs(&self) -> Result<Vec<Run>, StoreError> {
        delegate!(self, s => s.list_runs())
    }
    async fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.log_batch(run_id, params, metrics, tags))
    }
    async fn log_artifact(&self, run_id: &str, name: &str, contents: &str) -> Result<(), StoreError> {
        delegate!(self, s => s.log_artifact(run_id, name, contents))
    }
    async fn get_artifact(&self, run_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        delegate!(self, s => s.get_artifact(run_id, name))
    }
    async fn set_terminated(&self, run_id: &str, status: RunStatus, end_time: i64) -> Result<(), StoreError> {
        delegate!(self, s => s.set_terminated(run_id, status, end_time))
    }
    async fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        delegate!(self, s => s.delete_run(run_id))
    }
}
