//! Drift and data-quality reports, computed the way Evidently 0.7 computes them, so a
//! learner who later meets Evidently sees the same numbers.
//!
//! - [`column`]: the data a report reads (numbers or text per column, missing values);
//! - [`stats`]: the statistical tests and distances on plain slices;
//! - [`report`]: choosing a test per column, dataset drift, missing values, summaries and
//!   regression quality.

pub mod column;
pub mod load;
pub mod report;
pub mod stats;

pub use column::{Column, ColumnType, Frame, Values};
pub use report::{
    drift_report, ColumnDrift, ColumnOutcome, ColumnOverride, ColumnSpec, DatasetDrift, DriftOptions,
    DriftReport, Reference, StatTest,
};
