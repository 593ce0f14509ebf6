//! Experiment tracking and the model registry, with MLflow's data model and rules.
//!
//! [`client::TrackingClient`] mirrors `MlflowClient`; it keeps every rule and talks to a
//! [`kv::KvBackend`] — [`memory::MemoryKv`] here, IndexedDB in the app — through
//! all-or-nothing transactions. [`contract`] holds the behaviour tests once, run natively
//! on memory and in headless Chromium on IndexedDB. [`search`] parses MLflow's filter
//! language (plus `OR` and parentheses), [`registry`] holds stages and aliases,
//! [`transfer`] exports and imports, [`migrate`] upgrades older stored records,
//! [`autolog`] records a fit as MLflow's autologging does, and [`rest`] speaks MLflow's
//! REST API to a real tracking server.

pub mod autolog;
pub mod client;
pub mod contract;
pub mod entities;
pub mod error;
pub mod kv;
pub mod limits;
pub mod memory;
pub mod migrate;
pub mod registry;
pub mod rest;
pub mod search;
pub mod transfer;

pub use client::{Env, MetricEntry, RunOptions, RunsPage, TrackingClient};
pub use entities::*;
pub use error::TrackingError;
