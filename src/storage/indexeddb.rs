//! The IndexedDB [`TrackingStore`].
//!
//! Runs are stored as JSON strings under their id in `runs`; artifact contents separately
//! in `artifacts` under `"<run id>/<name>"`, so listing runs never loads model files.
//! Each change is a read-modify-write inside one readwrite transaction, so a closed tab
//! never leaves half a run. The schema is versioned: [`MIGRATIONS`] lists one step per
//! version, and IndexedDB's own upgrade runs them in order.

use mlops_core::tracking::{
    add_artifact_name, apply_batch, sort_newest_first, terminate, NewRun, Run, RunStatus, StoreError,
    TrackingStore,
};
use rexie::{ObjectStore, Rexie, Store, TransactionMode};
use wasm_bindgen::JsValue;

pub const DATABASE_NAME: &str = "mlops-lab";
const RUNS: &str = "runs";
const ARTIFACTS: &str = "artifacts";

/// One entry per schema version: the object stores that version adds.
/// Version 1 (foundation): `runs`, `artifacts`.
pub const MIGRATIONS: &[&[&str]] = &[&[RUNS, ARTIFACTS]];

pub struct IdbStore {
    db: Rexie,
}

fn backend(e: impl std::fmt::Debug) -> StoreError {
    StoreError::Backend(format!("{e:?}"))
}

fn artifact_key(run_id: &str, name: &str) -> JsValue {
    JsValue::from_str(&format!("{run_id}/{name}"))
}

fn decode_run(value: &JsValue) -> Result<Run, StoreError> {
    let text = value.as_string().ok_or_else(|| StoreError::Corrupt("a run record is not text".into()))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode_run(run: &Run) -> Result<JsValue, StoreError> {
    serde_json::to_string(run).map(|s| JsValue::from_str(&s)).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads a run inside an open transaction. Callers return early on an error before any
/// write, so the transaction then commits nothing.
async fn read_run(runs: &Store, run_id: &str) -> Result<Run, StoreError> {
    match runs.get(JsValue::from_str(run_id)).await.map_err(backend)? {
        Some(value) => decode_run(&value),
        None => Err(StoreError::RunNotFound(run_id.to_string())),
    }
}

impl IdbStore {
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let mut builder = Rexie::builder(name).version(MIGRATIONS.len() as u32);
        for step in MIGRATIONS {
            for store in *step {
                builder = builder.add_object_store(ObjectStore::new(store));
            }
        }
        let db = builder.build().await.map_err(backend)?;
        Ok(Self { db })
    }

    /// Deletes a whole database (tests start from an empty one).
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        Rexie::delete(name).await.map_err(backend)
    }

    /// Reads a run, applies `change`, writes it back — all in one transaction.
    async fn update(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut Run) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[RUNS], TransactionMode::ReadWrite).map_err(backend)?;
        let store = tx.store(RUNS).map_err(backend)?;
        let mut run = read_run(&store, run_id).await?;
        change(&mut run)?;
        store.put(&encode_run(&run)?, Some(&JsValue::from_str(run_id))).await.map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(())
    }
}

impl TrackingStore for IdbStore {
    async fn create_run(&self, new: NewRun) -> Result<Run, StoreError> {
        let tx = self.db.transaction(&[RUNS], TransactionMode::ReadWrite).map_err(backend)?;
        let store = tx.store(RUNS).map_err(backend)?;
        let key = JsValue::from_str(&new.run_id);
        if store.get(key.clone()).await.map_err(backend)?.is_some() {
            return Err(StoreError::DuplicateRun(new.run_id));
        }
        let run = Run::open(new);
        store.put(&encode_run(&run)?, Some(&key)).await.map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(run)
    }

    async fn get_run(&self, run_id: &str) -> Result<Run, StoreError> {
        let tx = self.db.transaction(&[RUNS], TransactionMode::ReadOnly).map_err(backend)?;
        read_run(&tx.store(RUNS).map_err(backend)?, run_id).await
    }

    async fn list_runs(&self) -> Result<Vec<Run>, StoreError> {
        let tx = self.db.transaction(&[RUNS], TransactionMode::ReadOnly).map_err(backend)?;
        let store = tx.store(RUNS).map_err(backend)?;
        let values = store.get_all(None, None).await.map_err(backend)?;
        let mut runs = values.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?;
        sort_newest_first(&mut runs);
        Ok(runs)
    }

    async fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.update(run_id, |run| apply_batch(run, params, metrics, tags)).await
    }

    async fn log_artifact(&self, run_id: &str, name: &str, contents: &str) -> Result<(), StoreError> {
        // The name on the run and the contents are written in the same transaction.
        let tx = self.db.transaction(&[RUNS, ARTIFACTS], TransactionMode::ReadWrite).map_err(backend)?;
        let runs = tx.store(RUNS).map_err(backend)?;
        let mut run = read_run(&runs, run_id).await?;
        add_artifact_name(&mut run, name)?;
        runs.put(&encode_run(&run)?, Some(&JsValue::from_str(run_id))).await.map_err(backend)?;
        let artifacts = tx.store(ARTIFACTS).map_err(backend)?;
        artifacts
            .put(&JsValue::from_str(contents), Some(&artifact_key(run_id, name)))
            .await
            .map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(())
    }

    async fn get_artifact(&self, run_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        self.get_run(run_id).await?;
        let tx = self.db.transaction(&[ARTIFACTS], TransactionMode::ReadOnly).map_err(backend)?;
        let store = tx.store(ARTIFACTS).map_err(backend)?;
        Ok(store.get(artifact_key(run_id, name)).await.map_err(backend)?.and_then(|v| v.as_string()))
    }

    async fn set_terminated(&self, run_id: &str, status: RunStatus, end_time: i64) -> Result<(), StoreError> {
        self.update(run_id, |run| terminate(run, status, end_time)).await
    }

    async fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[RUNS, ARTIFACTS], TransactionMode::ReadWrite).map_err(backend)?;
        let runs = tx.store(RUNS).map_err(backend)?;
        let run = read_run(&runs, run_id).await?;
        let artifacts = tx.store(ARTIFACTS).map_err(backend)?;
        for name in &run.artifacts {
            artifacts.delete(artifact_key(run_id, name)).await.map_err(backend)?;
        }
        runs.delete(JsValue::from_str(run_id)).await.map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(())
    }
}
