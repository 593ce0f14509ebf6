//! The prediction log: every answer the service gives, kept in the browser's storage so
//! the monitoring chapter can read what the model saw and said.

use serde::{Deserialize, Serialize};

use crate::tracking::kv::{decode, encode, KvBackend, Read, Record, Table, Write};
use crate::tracking::TrackingError;

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestSource {
    /// The request console on the service page.
    Console,
    /// The load tool.
    Load,
    /// A `fetch` to `api/predict`, answered through the service worker.
    ServiceWorker,
    /// The streaming consumer.
    Stream,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionLogEntry {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub latency_ms: f64,
    pub status: u16,
    pub source: RequestSource,
    /// The request body as received (cut to 2,000 characters).
    pub request: String,
    pub prediction: Option<f64>,
    pub model_version: Option<String>,
}

/// Longest request text kept in the log; the rest is cut, so a hostile body cannot fill
/// the browser's storage.
pub const MAX_LOGGED_REQUEST_CHARS: usize = 2_000;

impl PredictionLogEntry {
    /// Cuts a request body to [`MAX_LOGGED_REQUEST_CHARS`] characters (lossy UTF-8).
    pub fn request_text(body: &[u8]) -> String {
        String::from_utf8_lossy(body).chars().take(MAX_LOGGED_REQUEST_CHARS).collect()
    }
}

/// The log's storage: the same backend as tracking (IndexedDB in the app).
pub struct PredictionLog<'a, B> {
    backend: &'a B,
}

fn entry_key(entry: &PredictionLogEntry, suffix: u64) -> String {
    format!("{:015}-{suffix:016x}", entry.timestamp.max(0))
}

impl<'a, B: KvBackend> PredictionLog<'a, B> {
    pub fn new(backend: &'a B) -> Self {
        Self { backend }
    }

    /// Appends entries in one transaction (the load tool logs thousands at once).
    /// `suffixes` makes keys unique when entries share a millisecond.
    pub async fn append(&self, entries: &[PredictionLogEntry], suffix: u64) -> Result<(), TrackingError> {
        let mut writes = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let record = Record {
                key: entry_key(entry, suffix.wrapping_add(i as u64)),
                group: entry.model_version.clone().unwrap_or_default(),
                value: encode(entry)?,
            };
            writes.push(Write::Put(Table::PredictionLog, record));
        }
        self.backend.transact(&[Table::PredictionLog], &[], |_| Ok((writes, ()))).await
    }

    /// Every entry, oldest first.
    pub async fn all(&self) -> Result<Vec<PredictionLogEntry>, TrackingError> {
        let mut found = self.backend.read(&[Read::All(Table::PredictionLog)]).await?;
        let mut records = found.pop().unwrap_or_default();
        records.sort_by(|a, b| a.key.cmp(&b.key));
        records.iter().map(decode).collect()
    }

    /// Entries answered by one model version, oldest first.
    pub async fn for_version(&self, version: &str) -> Result<Vec<PredictionLogEntry>, TrackingError> {
        let mut found = self.backend.read(&[Read::Group(Table::PredictionLog, version.to_string())]).await?;
        let mut records = found.pop().unwrap_or_default();
        records.sort_by(|a, b| a.key.cmp(&b.key));
        records.iter().map(decode).collect()
    }

    /// Removes every entry.
    pub async fn clear(&self) -> Result<usize, TrackingError> {
        self.backend
            .transact(&[Table::PredictionLog], &[Read::All(Table::PredictionLog)], |mut found| {
                let keys = found.pop().unwrap_or_default();
                let count = keys.len();
                Ok((keys.into_iter().map(|r| Write::Delete(Table::PredictionLog, r.key)).collect(), count))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::memory::MemoryKv;

    fn entry(timestamp: i64, version: &str) -> PredictionLogEntry {
        PredictionLogEntry {
            timestamp,
            latency_ms: 0.1,
            status: 200,
            source: RequestSource::Console,
            request: PredictionLogEntry::request_text(&[b'x'; 5_000]),
            prediction: Some(12.5),
            model_version: Some(version.to_string()),
        }
    }

    #[test]
    fn entries_come_back_in_time_order_and_by_version() {
        futures::executor::block_on(async {
            let kv = MemoryKv::new();
            let log = PredictionLog::new(&kv);
            log.append(&[entry(30, "a"), entry(10, "b")], 1).await.expect("append");
            log.append(&[entry(20, "a"), entry(20, "a")], 1).await.expect("same millisecond");
            let times: Vec<i64> = log.all().await.expect("all").iter().map(|e| e.timestamp).collect();
            assert_eq!(times, vec![10, 20, 20, 30]);
            assert_eq!(log.for_version("a").await.expect("a").len(), 3);
            assert_eq!(log.all().await.expect("all")[0].request.len(), MAX_LOGGED_REQUEST_CHARS);
            assert_eq!(log.clear().await.expect("clear"), 4);
            assert!(log.all().await.expect("all").is_empty());
        });
    }
}
