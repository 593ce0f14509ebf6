//! # mlops-core — the course's ML and MLOps logic, with no browser in sight
//!
//! Everything here builds natively and for `wasm32-unknown-unknown`; the web app only
//! moves bytes in and draws results. Chapter 1 in a few lines:
//!
//! ```
//! use mlops_core::{data, simulate, training};
//! use mlops_core::features::{DurationFilter, FeatureSet, TRAINING_FIELDS};
//! use mlops_core::models::{ModelKind, ModelParams};
//!
//! // Two months of the simulated city (real TLC files load the same way).
//! let jan = simulate::simulate_month_parquet(&simulate::CityParams { trips: 3_000, ..Default::default() }).unwrap();
//! let feb = simulate::simulate_month_parquet(&simulate::CityParams { trips: 3_000, month: 2, ..Default::default() }).unwrap();
//! let train = data::load_trips(jan.into(), &TRAINING_FIELDS).unwrap();
//! let val = data::load_trips(feb.into(), &TRAINING_FIELDS).unwrap();
//!
//! let spec = training::TrainSpec {
//!     estimator: ModelParams::new(ModelKind::LinearRegression).into(),
//!     feature_set: FeatureSet::PuDo,
//!     filter: DurationFilter::default(),
//! };
//! let report = training::train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {}).unwrap();
//! assert!(report.val.rmse > 0.0 && report.val.rmse < 30.0);
//! ```

pub mod data;
pub mod drift;
pub mod features;
pub mod metrics;
pub mod models;
pub mod monitoring;
pub mod pipelines;
pub mod protocol;
pub mod search;
pub mod serving;
pub mod simulate;
pub mod summary;
pub mod tracking;
pub mod training;
pub mod trees;
pub mod tuning;
