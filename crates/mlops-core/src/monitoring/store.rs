//! The typed metrics store (the course keeps daily metrics in a PostgreSQL table; here
//! they go to the same backend as tracking: IndexedDB in the app) and the alert log.

use serde::{Deserialize, Serialize};

use super::alerts::AlertEvent;
use super::replay::DayMetrics;
use crate::tracking::kv::KvBackend;
use crate::tracking::TrackingError;

/// One stored day: the day's metrics as known at `stored_at_ms` (RMSE/MAE are filled in
/// when the truth arrives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub replay_id: String,
    pub stored_at_ms: i64,
    pub metrics: DayMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertLogEntry {
    pub replay_id: String,
    pub fired_at_ms: i64,
    pub event: AlertEvent,
}

pub struct MonitoringStore<'a, B> {
    backend: &'a B,
}

impl<'a, B: KvBackend> MonitoringStore<'a, B> {
    pub fn new(backend: &'a B) -> Self {
        Self { backend }
    }

    /// Writes (or overwrites) rows, in one transaction.
    pub async fn put_metrics(&self, rows: &[MetricsRow]) -> Result<(), TrackingError> {
        let _ = (rows, self.backend);
        unimplemented!("helper C")
    }

    /// A replay's rows, by day index.
    pub async fn metrics(&self, replay_id: &str) -> Result<Vec<MetricsRow>, TrackingError> {
        let _ = replay_id;
        unimplemented!("helper C")
    }

    pub async fn append_alerts(&self, entries: &[AlertLogEntry]) -> Result<(), TrackingError> {
        let _ = entries;
        unimplemented!("helper C")
    }

    /// Every logged alert, oldest first.
    pub async fn alerts(&self) -> Result<Vec<AlertLogEntry>, TrackingError> {
        unimplemented!("helper C")
    }

    /// Removes a replay's metrics and alerts.
    pub async fn clear(&self, replay_id: &str) -> Result<(), TrackingError> {
        let _ = replay_id;
        unimplemented!("helper C")
    }
}
