//! The IndexedDB [`KvBackend`].
//!
//! One object store per [`Table`]; each record is `{k, g, v}` (key, group, bytes) under
//! its key, with an index on `g` so an experiment's runs or a run's files are read
//! without scanning the table. [`KvBackend::transact`] is one readwrite transaction,
//! which IndexedDB also serialises across tabs.
//!
//! Schema versions: the object stores and indexes are listed per version in
//! [`MIGRATIONS`] and created by IndexedDB's upgrade; record contents written by older
//! app versions are then rewritten by [`upgrade_records`] (using the core's
//! [`mlops_core::tracking::migrate`]) in one transaction.

use js_sys::{Object, Reflect, Uint8Array};
use mlops_core::tracking::kv::{KvBackend, Read, Record, Table, Write};
use mlops_core::tracking::migrate::{upgrade_v1_run, SCHEMA_VERSION};
use mlops_core::tracking::TrackingError;
use rexie::{Index, KeyRange, ObjectStore, Rexie, Store, TransactionMode, TransactionResult};
use wasm_bindgen::{JsCast, JsValue};

pub const DATABASE_NAME: &str = "mlops-lab";
const GROUP_INDEX: &str = "by_group";
const META: &str = "meta";
const DATA_VERSION_KEY: &str = "data_version";

/// One entry per schema version: the object stores it adds, and whether each gets the
/// group index. Version 1 (foundation): `runs`, `artifacts` holding JSON text.
/// Version 2: MLflow's model — experiments, metric histories, models, a meta store, and
/// the group index on runs and artifacts. Version 3: the service's prediction log.
/// Version 4: the monitoring chapter's daily metrics and alert log.
pub const MIGRATIONS: &[&[(&str, bool)]] = &[
    &[("runs", false), ("artifacts", false)],
    &[
        ("runs", true),
        ("artifacts", true),
        ("experiments", false),
        ("metric_history", true),
        ("models", false),
        (META, false),
    ],
    &[("prediction_log", true)],
    &[("monitoring_metrics", true), ("alert_log", true)],
];

pub struct IdbKv {
    db: Rexie,
}

fn backend(e: impl std::fmt::Debug) -> TrackingError {
    let text = format!("{e:?}");
    if text.contains("QuotaExceeded") {
        TrackingError::QuotaExceeded(text)
    } else {
        TrackingError::Backend(text)
    }
}

fn encode_record(record: &Record) -> Result<JsValue, TrackingError> {
    let object = Object::new();
    let set =
        |name: &str, value: &JsValue| Reflect::set(&object, &JsValue::from_str(name), value).map_err(backend);
    set("k", &JsValue::from_str(&record.key))?;
    set("g", &JsValue::from_str(&record.group))?;
    set("v", &Uint8Array::from(record.value.as_slice()).into())?;
    Ok(object.into())
}

fn decode_record(value: &JsValue) -> Result<Record, TrackingError> {
    let field = |name: &str| Reflect::get(value, &JsValue::from_str(name)).map_err(backend);
    let text = |name: &str| -> Result<String, TrackingError> {
        field(name)?
            .as_string()
            .ok_or_else(|| TrackingError::Corrupt(format!("a record has no `{name}` text")))
    };
    let bytes = field("v")?;
    if !bytes.is_instance_of::<Uint8Array>() {
        return Err(TrackingError::Corrupt("a record's value is not bytes".into()));
    }
    Ok(Record { key: text("k")?, group: text("g")?, value: Uint8Array::new(&bytes).to_vec() })
}

async fn read_one(stores: &[(Table, Store)], read: &Read) -> Result<Vec<Record>, TrackingError> {
    let store = stores.iter().find(|(t, _)| *t == read.table()).map(|(_, s)| s).ok_or_else(|| {
        TrackingError::Backend(format!("table {} is not in the transaction", read.table().name()))
    })?;
    let values = match read {
        Read::Key(_, key) => store.get(JsValue::from_str(key)).await.map_err(backend)?.into_iter().collect(),
        Read::Group(_, group) => {
            let range = KeyRange::only(&JsValue::from_str(group)).map_err(backend)?;
            store.index(GROUP_INDEX).map_err(backend)?.get_all(Some(range), None).await.map_err(backend)?
        }
        Read::All(_) => store.get_all(None, None).await.map_err(backend)?,
    };
    values.iter().map(decode_record).collect()
}

impl IdbKv {
    pub async fn open(name: &str) -> Result<Self, TrackingError> {
        let db = Self::open_version(name, MIGRATIONS.len()).await?;
        let store = Self { db };
        store.upgrade_records().await?;
        Ok(store)
    }

    /// Opens the database at an older schema version: tests use it to make a database
    /// as an earlier app would have left it.
    pub async fn open_version(name: &str, version: usize) -> Result<Rexie, TrackingError> {
        let mut builder = Rexie::builder(name).version(version as u32);
        // Every store of every step so far must be listed, or the upgrade deletes it.
        let mut stores: Vec<(&str, bool)> = Vec::new();
        for step in MIGRATIONS.iter().take(version) {
            for (store, indexed) in step.iter() {
                stores.retain(|(s, _)| s != store);
                stores.push((store, *indexed));
            }
        }
        for (store, indexed) in stores {
            let mut object_store = ObjectStore::new(store);
            if indexed {
                object_store = object_store.add_index(Index::new(GROUP_INDEX, "g"));
            }
            builder = builder.add_object_store(object_store);
        }
        builder.build().await.map_err(backend)
    }

    /// Deletes a whole database (tests start from an empty one).
    pub async fn delete_database(name: &str) -> Result<(), TrackingError> {
        Rexie::delete(name).await.map_err(backend)
    }

    /// Rewrites records an older app version stored, once, in one transaction.
    async fn upgrade_records(&self) -> Result<(), TrackingError> {
        let names = ["runs", "artifacts", "metric_history", META];
        let tx = self.db.transaction(&names, TransactionMode::ReadWrite).map_err(backend)?;
        let meta = tx.store(META).map_err(backend)?;
        let done = meta.get(JsValue::from_str(DATA_VERSION_KEY)).await.map_err(backend)?;
        if done.and_then(|v| v.as_f64()) == Some(f64::from(SCHEMA_VERSION)) {
            return Ok(());
        }
        let runs = tx.store("runs").map_err(backend)?;
        let artifacts = tx.store("artifacts").map_err(backend)?;
        let history = tx.store("metric_history").map_err(backend)?;
        let old_runs: Vec<String> =
            runs.get_all(None, None).await.map_err(backend)?.iter().filter_map(JsValue::as_string).collect();
        let old_files = artifacts.scan(None, None, None, None).await.map_err(backend)?;
        for json in &old_runs {
            let run_id = serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("run_id").and_then(|id| id.as_str()).map(str::to_string))
                .unwrap_or_default();
            let prefix = format!("{run_id}/");
            let mut files = Vec::new();
            for (key, value) in &old_files {
                let (Some(key), Some(text)) = (key.as_string(), value.as_string()) else { continue };
                if let Some(name) = key.strip_prefix(&prefix) {
                    files.push((name.to_string(), text.into_bytes()));
                    artifacts.delete(JsValue::from_str(&key)).await.map_err(backend)?;
                }
            }
            for write in upgrade_v1_run(json, &files)? {
                let Write::Put(table, record) = write else { continue };
                let store = match table {
                    Table::Runs => &runs,
                    Table::Artifacts => &artifacts,
                    Table::MetricHistory => &history,
                    _ => continue,
                };
                store
                    .put(&encode_record(&record)?, Some(&JsValue::from_str(&record.key)))
                    .await
                    .map_err(backend)?;
            }
        }
        let version = JsValue::from_f64(f64::from(SCHEMA_VERSION));
        meta.put(&version, Some(&JsValue::from_str(DATA_VERSION_KEY))).await.map_err(backend)?;
        match tx.done().await.map_err(backend)? {
            TransactionResult::Committed => Ok(()),
            TransactionResult::Aborted => {
                Err(TrackingError::Backend("upgrading stored runs was aborted".into()))
            }
        }
    }
}

impl KvBackend for IdbKv {
    async fn read(&self, reads: &[Read]) -> Result<Vec<Vec<Record>>, TrackingError> {
        let mut tables: Vec<Table> = reads.iter().map(Read::table).collect();
        tables.sort();
        tables.dedup();
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        let tx = self.db.transaction(&names, TransactionMode::ReadOnly).map_err(backend)?;
        let stores = tables
            .iter()
            .map(|t| Ok((*t, tx.store(t.name()).map_err(backend)?)))
            .collect::<Result<Vec<_>, TrackingError>>()?;
        let mut out = Vec::with_capacity(reads.len());
        for read in reads {
            out.push(read_one(&stores, read).await?);
        }
        Ok(out)
    }

    async fn transact<T>(
        &self,
        tables: &[Table],
        reads: &[Read],
        decide: impl FnOnce(Vec<Vec<Record>>) -> Result<(Vec<Write>, T), TrackingError>,
    ) -> Result<T, TrackingError> {
        let mut all: Vec<Table> = tables.iter().copied().chain(reads.iter().map(Read::table)).collect();
        all.sort();
        all.dedup();
        let names: Vec<&str> = all.iter().map(|t| t.name()).collect();
        let tx = self.db.transaction(&names, TransactionMode::ReadWrite).map_err(backend)?;
        let stores = all
            .iter()
            .map(|t| Ok((*t, tx.store(t.name()).map_err(backend)?)))
            .collect::<Result<Vec<_>, TrackingError>>()?;
        let mut found = Vec::with_capacity(reads.len());
        for read in reads {
            found.push(read_one(&stores, read).await?);
        }
        // A refusal here returns before any write, so the transaction commits nothing.
        let (writes, out) = decide(found)?;
        let written = async {
            for write in &writes {
                let store =
                    stores.iter().find(|(t, _)| *t == write.table()).map(|(_, s)| s).ok_or_else(|| {
                        TrackingError::Backend(format!(
                            "table {} is not in the transaction",
                            write.table().name()
                        ))
                    })?;
                match write {
                    Write::Put(_, record) => {
                        store
                            .put(&encode_record(record)?, Some(&JsValue::from_str(&record.key)))
                            .await
                            .map_err(backend)?;
                    }
                    Write::Delete(_, key) => store.delete(JsValue::from_str(key)).await.map_err(backend)?,
                }
            }
            Ok::<(), TrackingError>(())
        }
        .await;
        if let Err(e) = written {
            // A failed put (e.g. the quota) must not leave the writes before it behind.
            let _ = tx.abort().await;
            return Err(e);
        }
        match tx.done().await.map_err(backend)? {
            TransactionResult::Committed => Ok(out),
            TransactionResult::Aborted => Err(TrackingError::Backend("the browser aborted the write".into())),
        }
    }
}
