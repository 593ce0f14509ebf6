//! The in-memory [`KvBackend`]: used by native tests and as the fallback where the
//! browser refuses IndexedDB (private windows).

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::kv::{KvBackend, Read, Record, Table, Write};
use super::TrackingError;

#[derive(Debug, Default)]
pub struct MemoryKv {
    tables: RefCell<BTreeMap<Table, BTreeMap<String, Record>>>,
    /// A byte budget, to test what happens when storage is full.
    quota: Option<usize>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that refuses writes once its records pass `bytes`, as a full browser
    /// store does.
    pub fn with_quota(bytes: usize) -> Self {
        Self { quota: Some(bytes), ..Self::default() }
    }

    fn used(tables: &BTreeMap<Table, BTreeMap<String, Record>>) -> usize {
        tables.values().flat_map(|t| t.values()).map(Record::size).sum()
    }

    fn read_now(&self, reads: &[Read]) -> Vec<Vec<Record>> {
        let tables = self.tables.borrow();
        reads
            .iter()
            .map(|read| {
                let Some(table) = tables.get(&read.table()) else { return Vec::new() };
                match read {
                    Read::Key(_, key) => table.get(key).cloned().into_iter().collect(),
                    Read::Group(_, group) => table.values().filter(|r| &r.group == group).cloned().collect(),
                    Read::All(_) => table.values().cloned().collect(),
                }
            })
            .collect()
    }
}

impl KvBackend for MemoryKv {
    async fn read(&self, reads: &[Read]) -> Result<Vec<Vec<Record>>, TrackingError> {
        Ok(self.read_now(reads))
    }

    async fn transact<T>(
        &self,
        _tables: &[Table],
        reads: &[Read],
        decide: impl FnOnce(Vec<Vec<Record>>) -> Result<(Vec<Write>, T), TrackingError>,
    ) -> Result<T, TrackingError> {
        let (writes, out) = decide(self.read_now(reads))?;
        let mut tables = self.tables.borrow_mut();
        // Check the budget before touching anything, so a refused write leaves all as it was.
        if let Some(quota) = self.quota {
            let mut used = Self::used(&tables) as i64;
            for write in &writes {
                let (table, key) = match write {
                    Write::Put(t, r) => (*t, &r.key),
                    Write::Delete(t, k) => (*t, k),
                };
                used -= tables.get(&table).and_then(|t| t.get(key)).map_or(0, Record::size) as i64;
                if let Write::Put(_, record) = write {
                    used += record.size() as i64;
                }
            }
            if used > quota as i64 {
                return Err(TrackingError::QuotaExceeded(format!("{used} bytes needed, {quota} allowed")));
            }
        }
        for write in writes {
            match write {
                Write::Put(table, record) => {
                    tables.entry(table).or_default().insert(record.key.clone(), record);
                }
                Write::Delete(table, key) => {
                    tables.entry(table).or_default().remove(&key);
                }
            }
        }
        Ok(out)
    }
}
