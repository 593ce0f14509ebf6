//! Drift a learner can cause on chosen days of a replay, to see which metric catches what.

use serde::{Deserialize, Serialize};

use super::baseline::MonthFrame;
use super::MonitorError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Injection {
    /// A snow week: trips take `1 / speed_factor` times as long (the simulated city's
    /// `speed_factor`), so durations (the truth) grow while the inputs barely move.
    Slowdown { from_day: u32, days: u32, speed_factor: f64 },
    /// A broken upstream pipeline: `column` is missing for `share` of the rows.
    MissingValues { from_day: u32, days: u32, column: String, share: f64 },
    /// A column renamed upstream (the monitor reports it missing, it does not crash).
    RenameColumn { from_day: u32, days: u32, column: String, new_name: String },
    /// A column that arrives as text instead of numbers.
    RetypeColumn { from_day: u32, days: u32, column: String },
    /// A new popular zone: `share` of pickups move to `zone`.
    ZonePopularity { from_day: u32, days: u32, zone: i64, share: f64 },
}

impl Injection {
    pub fn check(&self) -> Result<(), MonitorError> {
        unimplemented!("helper C")
    }

    pub fn active_on(&self, day_index: u32) -> bool {
        let _ = day_index;
        unimplemented!("helper C")
    }

    /// In words, for the dashboard ("trip_distance missing for 30% of rows").
    pub fn describe(&self) -> String {
        unimplemented!("helper C")
    }
}

/// Applies the injections active on `day_index` to one day's rows (deterministic: the
/// same day and seed change the same rows).
pub fn apply(injections: &[Injection], day_index: u32, day: &mut MonthFrame, seed: u64) -> Result<Vec<String>, MonitorError> {
    let _ = (injections, day_index, day, seed);
    unimplemented!("helper C")
}
