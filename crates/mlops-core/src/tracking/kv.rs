//! The storage contract beneath the tracking client: a few tables of keyed records, and
//! one operation that reads some records and writes others in a single transaction.
//!
//! Every rule (write-once params, limits, registry stages...) lives in
//! [`super::client::TrackingClient`], written once; a backend only has to keep records
//! and make each [`KvBackend::transact`] all-or-nothing. IndexedDB does that with one
//! readwrite transaction — which the browser also serialises across tabs, so two tabs
//! logging at once cannot overwrite each other's changes.

use serde::{Deserialize, Serialize};

use super::TrackingError;

/// The record kinds, one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Table {
    /// Key: experiment id. Value: [`super::Experiment`] JSON.
    Experiments,
    /// Key: run id; group: experiment id. Value: [`super::Run`] JSON.
    Runs,
    /// Key: `<run id>/<metric key>`; group: run id. Value: JSON list of [`super::Metric`].
    MetricHistory,
    /// Key: `<run id>/<path>`; group: run id. Value: the file's bytes.
    Artifacts,
    /// Key: model name. Value: [`super::registry::RegisteredModel`] JSON.
    Models,
    /// Key: zero-padded timestamp + a random suffix (so keys sort by time); group: the
    /// model version. Value: [`crate::serving::log::PredictionLogEntry`] JSON.
    PredictionLog,
    /// Key: `<replay id>/<day index, zero-padded>`; group: the replay id. Value:
    /// [`crate::monitoring::store::MetricsRow`] JSON (the course's `dummy_metrics` table).
    MonitoringMetrics,
    /// Key: zero-padded fire time + rule id; group: the replay id. Value:
    /// [`crate::monitoring::alerts::AlertEvent`] JSON.
    AlertLog,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Experiments,
        Table::Runs,
        Table::MetricHistory,
        Table::Artifacts,
        Table::Models,
        Table::PredictionLog,
        Table::MonitoringMetrics,
        Table::AlertLog,
    ];

    /// The IndexedDB object store name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Experiments => "experiments",
            Table::Runs => "runs",
            Table::MetricHistory => "metric_history",
            Table::Artifacts => "artifacts",
            Table::Models => "models",
            Table::PredictionLog => "prediction_log",
            Table::MonitoringMetrics => "monitoring_metrics",
            Table::AlertLog => "alert_log",
        }
    }
}

/// One stored record. `group` is indexed, so all runs of an experiment or all files of a
/// run are found without reading the whole table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub group: String,
    pub value: Vec<u8>,
}

impl Record {
    /// Bytes the record takes, for the memory backend's quota.
    pub fn size(&self) -> usize {
        self.key.len() + self.group.len() + self.value.len()
    }
}

/// What a transaction reads before deciding what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The record with this key, if any (zero or one record).
    Key(Table, String),
    /// Every record whose group is this (e.g. every run of an experiment).
    Group(Table, String),
    /// The whole table; only for small tables (experiments, models).
    All(Table),
}

impl Read {
    pub fn table(&self) -> Table {
        match self {
            Read::Key(t, _) | Read::Group(t, _) | Read::All(t) => *t,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Table, Record),
    Delete(Table, String),
}

impl Write {
    pub fn table(&self) -> Table {
        match self {
            Write::Put(t, _) | Write::Delete(t, _) => *t,
        }
    }
}

/// A keyed-record store with all-or-nothing transactions.
#[allow(async_fn_in_trait)]
pub trait KvBackend {
    /// Reads, one result list per [`Read`], in a read-only transaction.
    async fn read(&self, reads: &[Read]) -> Result<Vec<Vec<Record>>, TrackingError>;

    /// Reads, lets `decide` turn what was read into writes, and applies them — all in one
    /// transaction. If `decide` fails or a write fails (e.g. the quota is full), nothing
    /// is written. `tables` must name every table read or written.
    async fn transact<T>(
        &self,
        tables: &[Table],
        reads: &[Read],
        decide: impl FnOnce(Vec<Vec<Record>>) -> Result<(Vec<Write>, T), TrackingError>,
    ) -> Result<T, TrackingError>;
}

pub fn history_key(run_id: &str, metric: &str) -> String {
    format!("{run_id}/{metric}")
}

pub fn artifact_key(run_id: &str, path: &str) -> String {
    format!("{run_id}/{path}")
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, TrackingError> {
    serde_json::to_vec(value).map_err(|e| TrackingError::Corrupt(e.to_string()))
}

pub fn decode<T: for<'de> Deserialize<'de>>(record: &Record) -> Result<T, TrackingError> {
    serde_json::from_slice(&record.value)
        .map_err(|e| TrackingError::Corrupt(format!("record `{}`: {e}", record.key)))
}

/// What a committed transaction changed; the app tells other tabs, which re-read just
/// those runs instead of everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreChange {
    pub tables: Vec<Table>,
    /// Runs put or deleted.
    pub run_ids: Vec<String>,
}

impl StoreChange {
    pub fn of(writes: &[Write]) -> Self {
        let mut change = StoreChange::default();
        for write in writes {
            if !change.tables.contains(&write.table()) {
                change.tables.push(write.table());
            }
            let run_id = match write {
                Write::Put(Table::Runs, record) => Some(&record.key),
                Write::Delete(Table::Runs, key) => Some(key),
                _ => None,
            };
            if let Some(id) = run_id {
                if !change.run_ids.contains(id) {
                    change.run_ids.push(id.clone());
                }
            }
        }
        change
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}
