//! A drift report: which test each column gets (Evidently's default rules or the
//! learner's override), each column's score and verdict, dataset drift, missing values,
//! column summaries and, when the truth is known, regression quality.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::column::{Clean, ColumnType, Frame};

/// The drift tests Evidently picks from by default, plus PSI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    /// Two-sample Kolmogorov–Smirnov p-value.
    Ks,
    /// Chi-square p-value over category counts.
    ChiSquare,
    /// Two-proportion Z-test p-value.
    Z,
    /// Wasserstein distance divided by the reference standard deviation.
    Wasserstein,
    /// Jensen–Shannon distance (natural log).
    JensenShannon,
    /// Population stability index.
    Psi,
}

/// What one column's comparison came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnOutcome {
    Tested { test: StatTest, score: f64, threshold: f64, drifted: bool },
    /// The column could not be compared (absent, empty, wrong type); the reason says why
    /// in a learner's words. It does not count as drifted, but the report lists it.
    Skipped { reason: String },
}

/// Reference and current shares over the same bins or categories, for the small plots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Bin labels ("0.5–1.2") or category names.
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub name: String,
    pub column_type: ColumnType,
    pub outcome: ColumnOutcome,
    /// Present (non-missing) values compared.
    pub reference_values: usize,
    pub current_values: usize,
    pub distribution: Distribution,
}

impl ColumnDrift {
    pub fn drifted(&self) -> bool {
        matches!(self.outcome, ColumnOutcome::Tested { drifted: true, .. })
    }

    pub fn score(&self) -> Option<f64> {
        match self.outcome {
            ColumnOutcome::Tested { score, .. } => Some(score),
            ColumnOutcome::Skipped { .. } => None,
        }
    }
}

/// A learner's choice of test and/or threshold for one column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnOverride {
    pub test: Option<StatTest>,
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// Dataset drift when at least this share of columns drifted (Evidently: 0.5).
    pub drift_share: f64,
    pub overrides: BTreeMap<String, ColumnOverride>,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self { drift_share: 0.5, overrides: BTreeMap::new() }
    }
}

/// Which columns to compare and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub column_type: ColumnType,
}

impl ColumnSpec {
    pub fn numerical(name: &str) -> Self {
        Self { name: name.to_string(), column_type: ColumnType::Numerical }
    }

    pub fn categorical(name: &str) -> Self {
        Self { name: name.to_string(), column_type: ColumnType::Categorical }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub n_columns: usize,
    pub n_drifted: usize,
    pub share_drifted: f64,
    pub drift_share: f64,
    pub dataset_drift: bool,
}

/// Data quality of one column in one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    pub name: String,
    pub rows: usize,
    pub missing: usize,
    pub share_missing: f64,
    pub n_unique: usize,
    /// Numbers only (NaN otherwise).
    pub mean: f64,
    pub min: f64,
    pub q25: f64,
    pub median: f64,
    pub q75: f64,
    pub max: f64,
    /// Categories in the current data that the reference never had (current side only;
    /// at most 20 listed, `new_category_count` has the total).
    pub new_categories: Vec<String>,
    pub new_category_count: usize,
}

/// Regression quality against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionQuality {
    pub rows: usize,
    pub rmse: f64,
    pub mae: f64,
    /// Mean absolute percentage error, in percent, over rows whose truth is not zero.
    pub mape: f64,
    /// Mean of (prediction − truth).
    pub mean_error: f64,
    /// Standard deviation of the error (ddof = 1, as pandas).
    pub error_sd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub reference_rows: usize,
    pub current_rows: usize,
    pub columns: Vec<ColumnDrift>,
    pub dataset: DatasetDrift,
    /// Missing cells over all cells of the compared columns in the current data.
    pub current_missing_share: f64,
    pub reference_missing_share: f64,
    /// Per column: (reference, current).
    pub stats: Vec<(ColumnStats, ColumnStats)>,
    pub quality: Option<RegressionQuality>,
}

impl DriftReport {
    pub fn column(&self, name: &str) -> Option<&ColumnDrift> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The reference side of many comparisons, cleaned and sorted once (a replay compares
/// every day against the same reference).
#[derive(Debug, Clone)]
pub struct Reference {
    rows: usize,
    missing_share: f64,
    columns: Vec<ReferenceColumn>,
}

#[derive(Debug, Clone)]
struct ReferenceColumn {
    spec: ColumnSpec,
    /// None when the column is absent or of the wrong kind in the reference.
    clean: Option<Clean>,
    stats: ColumnStats,
}

/// One report: `reference` against `current`, over `columns`. `truth_and_prediction`
/// names the columns for regression quality, when the current data has the truth.
pub fn drift_report(
    reference: &Frame,
    current: &Frame,
    columns: &[ColumnSpec],
    options: &DriftOptions,
    truth_and_prediction: Option<(&str, &str)>,
) -> DriftReport {
    Reference::new(reference, columns).compare(current, options, truth_and_prediction)
}

impl Reference {
    pub fn new(reference: &Frame, columns: &[ColumnSpec]) -> Self {
        let _ = (reference, columns);
        unimplemented!("me")
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn compare(
        &self,
        current: &Frame,
        options: &DriftOptions,
        truth_and_prediction: Option<(&str, &str)>,
    ) -> DriftReport {
        let _ = (current, options, truth_and_prediction, self.missing_share, &self.columns);
        unimplemented!("me")
    }
}
