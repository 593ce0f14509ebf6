//! Deployment (Chapter 4): the ride-duration service's contract, batch scoring, the
//! streaming consumer, and the exported Flask service — all pure, so the page, the
//! service worker's answers, the worker and the tests share one implementation.
//!
//! - [`request`]: parsing and validating a `/predict` body into a [`request::Ride`].
//! - [`service`]: the loaded model and the HTTP-style handler (`GET /ping`, `POST /predict`).
//! - [`stream`]: the course's Kinesis record shapes and the consumer (with dead letters).
//! - [`batch`]: `score.py` — every trip of a month scored and written as parquet.
//! - [`export`]: the service as a zip a learner runs with gunicorn or Docker.
//! - [`log`]: one prediction-log entry, which the monitoring chapter reads.

pub mod batch;
pub mod export;
pub mod log;
pub mod request;
pub mod service;
pub mod stream;
