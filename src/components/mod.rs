//! Reusable pieces of the pages.

pub mod block_editor;
pub mod chart;
pub mod data_panel;
pub mod download;
pub mod drift_report;
pub mod markdown;
pub mod maturity;
pub mod metric_series;
pub mod model_form;
pub mod model_picker;
pub mod parallel_coords;
pub mod progress;
pub mod run_charts;
pub mod runs_table;
pub mod search_charts;
pub mod step;
