//! The typed metrics store (the course keeps daily metrics in a PostgreSQL table; here
//! they go to the same backend as tracking: IndexedDB in the app) and the alert log.

use serde::{Deserialize, Serialize};

use super::alerts::AlertEvent;
use super::replay::DayMetrics;
use crate::tracking::kv::{decode, encode, KvBackend, Read, Record, Table, Write};
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

/// `<replay id>/<day index:04>`: a replay's days sort in day order.
fn metrics_key(row: &MetricsRow) -> String {
    format!("{}/{:04}", row.replay_id, row.metrics.day_index)
}

/// `<fire time:015>-<replay id>-<rule id>-<day index:04>`: the log sorts by time, and the
/// same alert logged twice overwrites itself instead of appearing twice.
fn alert_key(entry: &AlertLogEntry) -> String {
    format!(
        "{:015}-{}-{}-{:04}",
        entry.fired_at_ms.max(0),
        entry.replay_id,
        entry.event.rule_id,
        entry.event.day_index
    )
}

impl<'a, B: KvBackend> MonitoringStore<'a, B> {
    pub fn new(backend: &'a B) -> Self {
        Self { backend }
    }

    /// Writes (or overwrites) rows, in one transaction.
    pub async fn put_metrics(&self, rows: &[MetricsRow]) -> Result<(), TrackingError> {
        let writes = rows
            .iter()
            .map(|row| {
                let record =
                    Record { key: metrics_key(row), group: row.replay_id.clone(), value: encode(row)? };
                Ok(Write::Put(Table::MonitoringMetrics, record))
            })
            .collect::<Result<Vec<_>, TrackingError>>()?;
        self.backend.transact(&[Table::MonitoringMetrics], &[], |_| Ok((writes, ()))).await
    }

    /// A replay's rows, by day index.
    pub async fn metrics(&self, replay_id: &str) -> Result<Vec<MetricsRow>, TrackingError> {
        let mut found =
            self.backend.read(&[Read::Group(Table::MonitoringMetrics, replay_id.to_string())]).await?;
        let records = found.pop().unwrap_or_default();
        let mut rows = records.iter().map(decode).collect::<Result<Vec<MetricsRow>, _>>()?;
        rows.sort_by_key(|row| row.metrics.day_index);
        Ok(rows)
    }

    pub async fn append_alerts(&self, entries: &[AlertLogEntry]) -> Result<(), TrackingError> {
        let writes = entries
            .iter()
            .map(|entry| {
                let record =
                    Record { key: alert_key(entry), group: entry.replay_id.clone(), value: encode(entry)? };
                Ok(Write::Put(Table::AlertLog, record))
            })
            .collect::<Result<Vec<_>, TrackingError>>()?;
        self.backend.transact(&[Table::AlertLog], &[], |_| Ok((writes, ()))).await
    }

    /// Every logged alert, oldest first.
    pub async fn alerts(&self) -> Result<Vec<AlertLogEntry>, TrackingError> {
        let mut found = self.backend.read(&[Read::All(Table::AlertLog)]).await?;
        let mut records = found.pop().unwrap_or_default();
        records.sort_by(|a, b| a.key.cmp(&b.key));
        records.iter().map(decode).collect()
    }

    /// Removes a replay's metrics and alerts.
    pub async fn clear(&self, replay_id: &str) -> Result<(), TrackingError> {
        let reads = [
            Read::Group(Table::MonitoringMetrics, replay_id.to_string()),
            Read::Group(Table::AlertLog, replay_id.to_string()),
        ];
        self.backend
            .transact(&[Table::MonitoringMetrics, Table::AlertLog], &reads, |found| {
                let tables = [Table::MonitoringMetrics, Table::AlertLog];
                let writes = tables
                    .into_iter()
                    .zip(found)
                    .flat_map(|(table, records)| {
                        records.into_iter().map(move |r| Write::Delete(table, r.key))
                    })
                    .collect();
                Ok((writes, ()))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::alerts::AlertEvent;
    use crate::tracking::memory::MemoryKv;
    use futures::executor::block_on;

    fn row(replay_id: &str, day_index: u32, rmse: Option<f64>) -> MetricsRow {
        MetricsRow {
            replay_id: replay_id.to_string(),
            stored_at_ms: 1_000 + i64::from(day_index),
            metrics: DayMetrics {
                day_index,
                date: format!("2022-02-{:02}", day_index + 1),
                rows: 2_500,
                prediction_drift: Some(0.05),
                prediction_drifted: false,
                drifted_columns: 1,
                columns: 7,
                dataset_drift: false,
                share_missing: 0.015,
                rmse,
                mae: rmse,
                truth_day: day_index + 1,
                injected: Vec::new(),
            },
        }
    }

    fn alert(replay_id: &str, fired_at_ms: i64, rule_id: &str, day_index: u32) -> AlertLogEntry {
        AlertLogEntry {
            replay_id: replay_id.to_string(),
            fired_at_ms,
            event: AlertEvent {
                rule_id: rule_id.to_string(),
                rule: "rmse > 10".to_string(),
                day_index,
                date: "2022-02-02".to_string(),
                value: 11.0,
                message: "RMSE 11.000 > 10 on 2022-02-02".to_string(),
                retrain: false,
            },
        }
    }

    #[test]
    fn metrics_come_back_by_day_and_truth_overwrites_the_row() {
        block_on(async {
            let kv = MemoryKv::new();
            let store = MonitoringStore::new(&kv);
            // Ten days or more: the zero-padded key must not sort day 10 before day 2.
            let rows: Vec<MetricsRow> = (0..12).rev().map(|d| row("feb", d, None)).collect();
            store.put_metrics(&rows).await.expect("put");
            store.put_metrics(&[row("other", 0, None)]).await.expect("put other");
            store.put_metrics(&[row("feb", 3, Some(6.5))]).await.expect("truth arrives");
            let back = store.metrics("feb").await.expect("read");
            let days: Vec<u32> = back.iter().map(|r| r.metrics.day_index).collect();
            assert_eq!(days, (0..12).collect::<Vec<_>>());
            assert_eq!(back[3].metrics.rmse, Some(6.5));
            assert_eq!(back[4], row("feb", 4, None));
            assert_eq!(store.metrics("other").await.expect("other").len(), 1);
            assert!(store.metrics("nothing").await.expect("none").is_empty());
        });
    }

    #[test]
    fn alerts_are_oldest_first_and_clear_removes_one_replay() {
        block_on(async {
            let kv = MemoryKv::new();
            let store = MonitoringStore::new(&kv);
            store
                .append_alerts(&[
                    alert("feb", 300, "rmse-gt-10", 2),
                    alert("feb", 100, "share-missing-gt-5pct", 1),
                ])
                .await
                .expect("append");
            store.append_alerts(&[alert("mar", 200, "rmse-gt-10", 0)]).await.expect("append");
            store.put_metrics(&[row("feb", 0, None), row("mar", 0, None)]).await.expect("put");
            let times: Vec<i64> =
                store.alerts().await.expect("alerts").iter().map(|a| a.fired_at_ms).collect();
            assert_eq!(times, vec![100, 200, 300]);
            store.clear("feb").await.expect("clear");
            let left = store.alerts().await.expect("alerts");
            assert_eq!(left, vec![alert("mar", 200, "rmse-gt-10", 0)]);
            assert!(store.metrics("feb").await.expect("feb").is_empty());
            assert_eq!(store.metrics("mar").await.expect("mar").len(), 1);
        });
    }

    #[test]
    fn a_full_store_keeps_nothing_of_a_refused_write() {
        block_on(async {
            let kv = MemoryKv::with_quota(1_000);
            let store = MonitoringStore::new(&kv);
            let rows: Vec<MetricsRow> = (0..20).map(|d| row("feb", d, None)).collect();
            assert!(store.put_metrics(&rows).await.is_err());
            assert!(store.metrics("feb").await.expect("read").is_empty());
        });
    }
}
