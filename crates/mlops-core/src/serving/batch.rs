//! Batch scoring, the course's `score.py`: every trip of a month, scored, as parquet.
//!
//! TO BE IMPLEMENTED (see the task text).

use serde::{Deserialize, Serialize};

use super::service::LoadedModel;
use crate::data::TripTable;

/// Which month is scored, for the output path and columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    pub taxi_type: String,
    pub year: i32,
    pub month: u32,
    /// The run id of the model (names the output file, as in the course).
    pub run_id: String,
    /// Seeds the ride ids (UUIDs), so a scoring can be reproduced.
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredBatch {
    /// `taxi_type=green/year=2021/month=02/<run id>.parquet`
    pub path: String,
    pub parquet: Vec<u8>,
    pub rows: usize,
    /// Trips dropped (duration outside 1–60 min, or missing values), as the course filters.
    pub dropped: usize,
    pub mean_abs_diff: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BatchError {
    #[error("the month has no column `{0}`, which scoring needs")]
    MissingColumn(&'static str),
    #[error("no trip of the month is between 1 and 60 minutes long, so there is nothing to score")]
    NoTrips,
    #[error("the parquet file could not be written: {0}")]
    Write(String),
}

/// The output path the course's `score.py` writes to.
pub fn output_path(taxi_type: &str, year: i32, month: u32, run_id: &str) -> String {
    format!("taxi_type={taxi_type}/year={year:04}/month={month:02}/{run_id}.parquet")
}

/// Scores every trip of `table` with `model`.
pub fn score_trips(
    table: &TripTable,
    model: &LoadedModel,
    options: &ScoreOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<ScoredBatch, BatchError> {
    let _ = (table, model, progress);
    Err(BatchError::Write(format!("not written yet for {}", options.run_id)))
}
