//! Alert rules over the daily metrics ("prediction drift > 0.1 for 2 days"), the events
//! they fire, and the hook the pipelines chapter uses to start a retraining.

use serde::{Deserialize, Serialize};

use super::replay::DayMetrics;
use super::MonitorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    PredictionDrift,
    DriftedColumns,
    ShareMissing,
    Rmse,
    Mae,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Above,
    Below,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    pub metric: Metric,
    pub comparison: Comparison,
    pub threshold: f64,
    /// Consecutive days the condition must hold (≥ 1).
    pub for_days: u32,
    /// Ask the pipelines chapter to retrain when this fires.
    pub retrain: bool,
}

impl AlertRule {
    /// Parses "prediction_drift > 0.1 for 2 days", "share_missing > 5%", "rmse > 9".
    pub fn parse(text: &str) -> Result<Self, MonitorError> {
        let _ = text;
        unimplemented!("helper C")
    }

    /// The rule in the words [`AlertRule::parse`] reads.
    pub fn describe(&self) -> String {
        unimplemented!("helper C")
    }
}

/// The course's two alerts plus an error alert: prediction drift > 0.1 for 2 days
/// (retrains), share missing > 5%, RMSE > 10.
pub fn default_rules() -> Vec<AlertRule> {
    unimplemented!("helper C")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub rule_id: String,
    pub rule: String,
    pub day_index: u32,
    pub date: String,
    pub value: f64,
    pub message: String,
    pub retrain: bool,
}

/// The alerts that fire on `day_index`, given every day's metrics known so far
/// (`history`, by day index; a metric not yet known — RMSE before its truth arrives — is
/// no evidence either way). A rule fires once per streak: on the day its condition has
/// held for `for_days` consecutive days.
pub fn evaluate(rules: &[AlertRule], history: &[DayMetrics], day_index: u32) -> Vec<AlertEvent> {
    let _ = (rules, history, day_index);
    unimplemented!("helper C")
}

/// Receives fired alerts that ask for retraining (the pipelines chapter implements it).
pub trait RetrainHook {
    fn retrain(&self, event: &AlertEvent);
}
