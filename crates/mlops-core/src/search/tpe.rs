//! Tree-structured Parzen Estimators, following hyperopt's `tpe.suggest`.

use serde::{Deserialize, Serialize};

/// hyperopt's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TpeOptions {
    /// Random trials before TPE takes over.
    pub n_startup_jobs: u32,
    /// Share of trials that count as "good" (scaled by √n, as hyperopt does).
    pub gamma: f64,
    /// Candidates drawn from the good model, the best expected improvement wins.
    pub n_ei_candidates: u32,
    pub prior_weight: f64,
    /// Older trials weigh less beyond this many.
    pub linear_forgetting: u32,
}

impl Default for TpeOptions {
    fn default() -> Self {
        Self {
            n_startup_jobs: 20,
            gamma: 0.25,
            n_ei_candidates: 24,
            prior_weight: 1.0,
            linear_forgetting: 25,
        }
    }
}
