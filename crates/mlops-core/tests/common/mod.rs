//! Access to the real TLC files in `../shared/data`, which are never committed.
//! Tests that need them skip (with a printed reason) where the folder is absent.

use std::path::PathBuf;

pub fn shared_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// The bytes of a real file, or `None` after printing why the test is skipped.
pub fn real_file(name: &str) -> Option<bytes::Bytes> {
    let path = shared_data_dir().join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes.into()),
        Err(e) => {
            eprintln!(
                "SKIPPED: {} is not available ({e}); the real TLC files live in ../shared/data",
                path.display()
            );
            None
        }
    }
}
