//! A drift report: which test each column gets (Evidently's default rules or the
//! learner's override), each column's score and verdict, dataset drift, missing values,
//! column summaries and, when the truth is known, regression quality.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::column::{counts_of_sorted, text_counts, Category, Clean, ColumnType, Frame, Values};
use super::stats;
use crate::summary::quantile;

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
    Tested {
        test: StatTest,
        score: f64,
        threshold: f64,
        drifted: bool,
    },
    /// The column could not be compared (absent, empty, wrong type); the reason says why
    /// in a learner's words. It does not count as drifted, but the report lists it.
    Skipped {
        reason: String,
    },
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
    /// Missing cells over all cells of the compared columns the current data has.
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

impl StatTest {
    pub const ALL: [StatTest; 6] = [
        StatTest::Ks,
        StatTest::ChiSquare,
        StatTest::Z,
        StatTest::Wasserstein,
        StatTest::JensenShannon,
        StatTest::Psi,
    ];

    /// Evidently's name for the test (`stattest` in its options).
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Ks => "ks",
            StatTest::ChiSquare => "chisquare",
            StatTest::Z => "z",
            StatTest::Wasserstein => "wasserstein",
            StatTest::JensenShannon => "jensenshannon",
            StatTest::Psi => "psi",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name.trim().to_ascii_lowercase())
    }

    /// What the score is, as a report heading says it.
    pub fn display_name(self) -> &'static str {
        match self {
            StatTest::Ks => "K-S p-value",
            StatTest::ChiSquare => "chi-square p-value",
            StatTest::Z => "Z-test p-value",
            StatTest::Wasserstein => "Wasserstein distance (normed)",
            StatTest::JensenShannon => "Jensen-Shannon distance",
            StatTest::Psi => "PSI",
        }
    }

    /// Evidently's default thresholds.
    pub fn default_threshold(self) -> f64 {
        match self {
            StatTest::Ks | StatTest::ChiSquare | StatTest::Z => 0.05,
            StatTest::Wasserstein | StatTest::JensenShannon | StatTest::Psi => 0.1,
        }
    }

    /// p-values drift when small, distances when large.
    pub fn is_p_value(self) -> bool {
        matches!(self, StatTest::Ks | StatTest::ChiSquare | StatTest::Z)
    }

    /// Evidently's verdicts: K-S drifts at p ≤ threshold, chi-square and Z at p <
    /// threshold, distances at score ≥ threshold. A NaN score is no evidence of drift.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            StatTest::Ks => score <= threshold,
            StatTest::ChiSquare | StatTest::Z => score < threshold,
            StatTest::Wasserstein | StatTest::JensenShannon | StatTest::Psi => score >= threshold,
        }
    }

    /// Whether the test can read this kind of data (distances on numbers need numbers).
    fn accepts(self, column_type: ColumnType) -> bool {
        match self {
            StatTest::Ks | StatTest::Wasserstein => column_type == ColumnType::Numerical,
            StatTest::ChiSquare | StatTest::Z | StatTest::JensenShannon | StatTest::Psi => true,
        }
    }
}

/// Evidently's default choice. With a reference of at most 1,000 values: numbers with
/// more than 5 distinct values get K-S, 3–5 chi-square, at most 2 the Z-test; categories
/// get chi-square above 2 distinct values, else Z. With a larger reference: numbers with
/// more than 5 distinct values get the normed Wasserstein distance, everything else
/// Jensen–Shannon. "Distinct" counts both samples together, missing values left out.
pub fn default_stat_test(
    reference_values: usize,
    distinct_values: usize,
    column_type: ColumnType,
) -> StatTest {
    let counts_test = if distinct_values > 2 { StatTest::ChiSquare } else { StatTest::Z };
    match (reference_values <= 1000, column_type) {
        (true, ColumnType::Numerical) if distinct_values > 5 => StatTest::Ks,
        (true, _) => counts_test,
        (false, ColumnType::Numerical) if distinct_values > 5 => StatTest::Wasserstein,
        (false, _) => StatTest::JensenShannon,
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
    prepared: Result<Prepared, String>,
    stats: ColumnStats,
}

/// Category counts sorted by category, so two samples align by merging.
type Counts = Vec<(Category, usize)>;

fn count_of(counts: &Counts, key: &Category) -> usize {
    counts.binary_search_by(|(k, _)| k.cmp(key)).map_or(0, |i| counts[i].1)
}

/// The union of two samples' categories, in order, with each sample's count.
fn merged<'a>(a: &'a Counts, b: &'a Counts) -> Vec<(&'a Category, usize, usize)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some((ka, na)), Some((kb, nb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    out.push((ka, *na, 0));
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push((kb, 0, *nb));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push((ka, *na, *nb));
                    i += 1;
                    j += 1;
                }
            },
            (Some((ka, na)), None) => {
                out.push((ka, *na, 0));
                i += 1;
            }
            (None, Some((kb, nb))) => {
                out.push((kb, 0, *nb));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Prepared {
    is_text: bool,
    /// Present numbers, ascending (empty for text).
    sorted: Vec<f64>,
    counts: Counts,
    len: usize,
    std: f64,
}

impl Prepared {
    fn new(clean: Clean) -> Self {
        let len = clean.len();
        match clean {
            Clean::Numbers(mut numbers) => {
                numbers.sort_unstable_by(f64::total_cmp);
                let std = stats::population_std(&numbers);
                let counts = counts_of_sorted(&numbers);
                Prepared { is_text: false, sorted: numbers, counts, len, std }
            }
            Clean::Text(text) => {
                Prepared { is_text: true, sorted: Vec::new(), counts: text_counts(&text), len, std: f64::NAN }
            }
        }
    }
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

fn found_columns(frame: &Frame) -> String {
    let names: Vec<&str> = frame.columns().iter().map(|c| c.name.as_str()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The column's present values, or why it cannot be compared.
fn prepare(frame: &Frame, spec: &ColumnSpec, side: &str) -> Result<Prepared, String> {
    let Some(column) = frame.column(&spec.name) else {
        return Err(format!(
            "column `{}` is missing from the {side} data (found: {})",
            spec.name,
            found_columns(frame)
        ));
    };
    if spec.column_type == ColumnType::Numerical && matches!(column.values, Values::Text(_)) {
        return Err(format!(
            "column `{}` holds text in the {side} data, but it is compared as numbers",
            spec.name
        ));
    }
    let prepared = Prepared::new(column.values.clean());
    if prepared.len == 0 {
        return Err(format!("column `{}` has no values in the {side} data (all missing)", spec.name));
    }
    Ok(prepared)
}

impl Reference {
    pub fn new(reference: &Frame, columns: &[ColumnSpec]) -> Self {
        let columns: Vec<ReferenceColumn> = columns
            .iter()
            .map(|spec| {
                let prepared = prepare(reference, spec, "reference");
                let stats = column_stats(reference, &spec.name, prepared.as_ref().ok(), None);
                ReferenceColumn { spec: spec.clone(), prepared, stats }
            })
            .collect();
        Self { rows: reference.n_rows(), missing_share: missing_share(reference, &columns), columns }
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
        let mut columns = Vec::with_capacity(self.columns.len());
        let mut stats = Vec::with_capacity(self.columns.len());
        for reference in &self.columns {
            let current_prepared = prepare(current, &reference.spec, "current");
            let override_ = options.overrides.get(&reference.spec.name).copied().unwrap_or_default();
            columns.push(compare_column(reference, current_prepared.as_ref(), override_));
            let known = reference.prepared.as_ref().ok().map(|p| &p.counts);
            let current_stats =
                column_stats(current, &reference.spec.name, current_prepared.as_ref().ok(), known);
            stats.push((reference.stats.clone(), current_stats));
        }
        let n_columns = columns.len();
        let n_drifted = columns.iter().filter(|c| c.drifted()).count();
        let share_drifted = if n_columns == 0 { 0.0 } else { n_drifted as f64 / n_columns as f64 };
        DriftReport {
            reference_rows: self.rows,
            current_rows: current.n_rows(),
            columns,
            dataset: DatasetDrift {
                n_columns,
                n_drifted,
                share_drifted,
                drift_share: options.drift_share,
                dataset_drift: n_columns > 0 && share_drifted >= options.drift_share,
            },
            current_missing_share: missing_share(current, &self.columns),
            reference_missing_share: self.missing_share,
            stats,
            quality: truth_and_prediction
                .and_then(|(truth, prediction)| regression_quality(current, truth, prediction)),
        }
    }
}

/// Missing cells over all cells of the compared columns the frame has (the truth, say,
/// does not count; a column absent from the frame is reported as skipped instead).
fn missing_share(frame: &Frame, columns: &[ReferenceColumn]) -> f64 {
    let present: Vec<_> = columns.iter().filter_map(|c| frame.column(&c.spec.name)).collect();
    let cells = present.len() * frame.n_rows();
    if cells == 0 {
        return 0.0;
    }
    present.iter().map(|c| c.values.missing_count()).sum::<usize>() as f64 / cells as f64
}

fn skipped(reference: &ReferenceColumn, reason: String, current_values: usize) -> ColumnDrift {
    ColumnDrift {
        name: reference.spec.name.clone(),
        column_type: reference.spec.column_type,
        outcome: ColumnOutcome::Skipped { reason },
        reference_values: reference.prepared.as_ref().map_or(0, |p| p.len),
        current_values,
        distribution: Distribution::default(),
    }
}

fn compare_column(
    reference: &ReferenceColumn,
    current: Result<&Prepared, &String>,
    override_: ColumnOverride,
) -> ColumnDrift {
    let spec = &reference.spec;
    let reference_prepared = match &reference.prepared {
        Ok(p) => p,
        Err(reason) => return skipped(reference, reason.clone(), current.map_or(0, |c| c.len)),
    };
    let current = match current {
        Ok(c) => c,
        Err(reason) => return skipped(reference, reason.clone(), 0),
    };
    if reference_prepared.is_text != current.is_text {
        let (was, now) = if reference_prepared.is_text { ("text", "numbers") } else { ("numbers", "text") };
        let reason = format!(
            "column `{}` changed type: the reference holds {was}, the current data {now} (a schema change upstream?)",
            spec.name
        );
        return skipped(reference, reason, current.len);
    }
    let distinct = distinct_values(reference_prepared, current);
    let test = override_
        .test
        .unwrap_or_else(|| default_stat_test(reference_prepared.len, distinct, spec.column_type));
    if !test.accepts(spec.column_type)
        || (reference_prepared.is_text && !test.accepts(ColumnType::Categorical))
    {
        let reason = format!(
            "{} needs numbers; column `{}` is {}",
            test.display_name(),
            spec.name,
            spec.column_type.label()
        );
        return skipped(reference, reason, current.len);
    }
    let threshold = override_.threshold.unwrap_or_else(|| test.default_threshold());
    let score = score(test, spec.column_type, reference_prepared, current);
    ColumnDrift {
        name: spec.name.clone(),
        column_type: spec.column_type,
        outcome: ColumnOutcome::Tested { test, score, threshold, drifted: test.drifted(score, threshold) },
        reference_values: reference_prepared.len,
        current_values: current.len,
        distribution: distribution(spec.column_type, reference_prepared, current),
    }
}

/// Distinct values over both samples (pandas' `nunique` of the concatenation).
fn distinct_values(reference: &Prepared, current: &Prepared) -> usize {
    merged(&reference.counts, &current.counts).len()
}

/// The union of categories, each sample's counts over it.
fn aligned_counts(reference: &Prepared, current: &Prepared) -> (Vec<f64>, Vec<f64>) {
    merged(&reference.counts, &current.counts).into_iter().map(|(_, r, c)| (r as f64, c as f64)).unzip()
}

/// Evidently's `get_binned_data`: Sturges histograms for numbers with more than 20
/// distinct reference values, category shares otherwise.
fn binned_shares(
    column_type: ColumnType,
    reference: &Prepared,
    current: &Prepared,
    fill_zeroes: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (mut reference_shares, mut current_shares) =
        if column_type == ColumnType::Numerical && !reference.is_text && reference.counts.len() > 20 {
            let edges = stats::sturges_edges(&reference.sorted, &current.sorted);
            let shares = |values: &[f64]| -> Vec<f64> {
                stats::histogram_counts(values, &edges)
                    .into_iter()
                    .map(|c| c as f64 / values.len() as f64)
                    .collect()
            };
            (shares(&reference.sorted), shares(&current.sorted))
        } else {
            let (r, c) = aligned_counts(reference, current);
            (
                r.into_iter().map(|x| x / reference.len as f64).collect(),
                c.into_iter().map(|x| x / current.len as f64).collect(),
            )
        };
    if fill_zeroes {
        stats::fill_zero_shares(&mut reference_shares);
        stats::fill_zero_shares(&mut current_shares);
    }
    (reference_shares, current_shares)
}

fn score(test: StatTest, column_type: ColumnType, reference: &Prepared, current: &Prepared) -> f64 {
    match test {
        StatTest::Ks => stats::ks_2samp(&reference.sorted, &current.sorted).map_or(f64::NAN, |r| r.p_value),
        StatTest::Wasserstein => {
            stats::wasserstein_distance_sorted(&reference.sorted, &current.sorted) / reference.std.max(0.001)
        }
        StatTest::ChiSquare => {
            let (observed_reference, observed) = aligned_counts(reference, current);
            let scale = current.len as f64 / reference.len as f64;
            let expected: Vec<f64> = observed_reference.iter().map(|r| r * scale).collect();
            stats::chi_square_p_value(&observed, &expected)
        }
        StatTest::Z => {
            if reference.counts.len() == 1
                && current.counts.len() == 1
                && reference.counts[0].0 == current.counts[0].0
            {
                return 1.0;
            }
            let Some((first, _, _)) = merged(&reference.counts, &current.counts).into_iter().next() else {
                return f64::NAN;
            };
            // Evidently counts the values that are *not* the smallest category.
            let hits = |p: &Prepared| (p.len - count_of(&p.counts, first)) as f64;
            stats::z_test_p_value(hits(reference), reference.len as f64, hits(current), current.len as f64)
        }
        StatTest::JensenShannon => {
            let (p, q) = binned_shares(column_type, reference, current, false);
            stats::jensen_shannon_distance(&p, &q)
        }
        StatTest::Psi => {
            let (p, q) = binned_shares(column_type, reference, current, true);
            stats::psi(&p, &q)
        }
    }
}

/// Shares for the small reference-vs-current plot: 12 equal bins between the 0.5% and
/// 99.5% quantiles of both samples for numbers (outliers in the end bins), the 10 most
/// common categories plus "other" for categories.
fn distribution(column_type: ColumnType, reference: &Prepared, current: &Prepared) -> Distribution {
    if column_type == ColumnType::Numerical && !reference.is_text {
        let both = merge_sorted(&reference.sorted, &current.sorted);
        let (low, high) = (quantile(&both, 0.005), quantile(&both, 0.995));
        let bins = 12;
        let width = if high > low { (high - low) / bins as f64 } else { 1.0 };
        let shares = |values: &[f64]| {
            let mut counts = vec![0.0; bins];
            for &v in values {
                let i = (((v - low) / width).floor().max(0.0) as usize).min(bins - 1);
                counts[i] += 1.0;
            }
            counts.iter().map(|c| c / values.len().max(1) as f64).collect::<Vec<f64>>()
        };
        let labels = (0..bins)
            .map(|i| format!("{}–{}", short(low + width * i as f64), short(low + width * (i + 1) as f64)))
            .collect();
        return Distribution {
            labels,
            reference: shares(&reference.sorted),
            current: shares(&current.sorted),
        };
    }
    let mut totals: Vec<(&Category, usize)> =
        merged(&reference.counts, &current.counts).into_iter().map(|(k, r, c)| (k, r + c)).collect();
    totals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let top: Vec<&Category> = totals.iter().take(10).map(|(k, _)| *k).collect();
    let share = |p: &Prepared, k: &Category| count_of(&p.counts, k) as f64 / p.len as f64;
    let mut labels: Vec<String> = top.iter().map(|k| k.to_string()).collect();
    let mut reference_shares: Vec<f64> = top.iter().map(|k| share(reference, k)).collect();
    let mut current_shares: Vec<f64> = top.iter().map(|k| share(current, k)).collect();
    if totals.len() > top.len() {
        labels.push("other".to_string());
        reference_shares.push((1.0 - reference_shares.iter().sum::<f64>()).max(0.0));
        current_shares.push((1.0 - current_shares.iter().sum::<f64>()).max(0.0));
    }
    Distribution { labels, reference: reference_shares, current: current_shares }
}

/// Two ascending samples as one ascending sample.
fn merge_sorted(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn short(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    format!("{rounded}")
}

/// Most new categories a summary lists by name.
const MAX_NEW_CATEGORIES: usize = 20;

/// A column's data quality. `known` (the reference's categories) finds new categories.
/// `prepared` is the column's cleaned values when the comparison already has them.
fn column_stats(
    frame: &Frame,
    name: &str,
    prepared: Option<&Prepared>,
    known: Option<&Counts>,
) -> ColumnStats {
    let Some(column) = frame.column(name) else {
        return ColumnStats {
            name: name.to_string(),
            rows: frame.n_rows(),
            missing: frame.n_rows(),
            share_missing: if frame.n_rows() == 0 { 0.0 } else { 1.0 },
            n_unique: 0,
            mean: f64::NAN,
            min: f64::NAN,
            q25: f64::NAN,
            median: f64::NAN,
            q75: f64::NAN,
            max: f64::NAN,
            new_categories: Vec::new(),
            new_category_count: 0,
        };
    };
    let rows = column.values.len();
    let missing = column.values.missing_count();
    let own;
    let prepared = match prepared {
        Some(p) => p,
        None => {
            own = Prepared::new(column.values.clean());
            &own
        }
    };
    let counts = &prepared.counts;
    let new: Vec<&Category> = match known {
        Some(known) => counts.iter().map(|(k, _)| k).filter(|k| count_of(known, k) == 0).collect(),
        None => Vec::new(),
    };
    let (mean, min, q25, median, q75, max) = match &prepared.sorted {
        sorted if !sorted.is_empty() => {
            let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
            (
                mean,
                sorted[0],
                quantile(sorted, 0.25),
                quantile(sorted, 0.5),
                quantile(sorted, 0.75),
                sorted[sorted.len() - 1],
            )
        }
        _ => (f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN),
    };
    ColumnStats {
        name: name.to_string(),
        rows,
        missing,
        share_missing: if rows == 0 { 0.0 } else { missing as f64 / rows as f64 },
        n_unique: counts.len(),
        mean,
        min,
        q25,
        median,
        q75,
        max,
        new_category_count: new.len(),
        new_categories: new.into_iter().take(MAX_NEW_CATEGORIES).map(|k| k.to_string()).collect(),
    }
}

/// Quality over rows where both the truth and the prediction are finite numbers.
fn regression_quality(frame: &Frame, truth: &str, prediction: &str) -> Option<RegressionQuality> {
    let numbers = |name: &str| match frame.column(name).map(|c| &c.values) {
        Some(Values::Numbers(v)) => Some(v),
        _ => None,
    };
    let (truth, prediction) = (numbers(truth)?, numbers(prediction)?);
    let pairs: Vec<(f64, f64)> = truth
        .iter()
        .zip(prediction)
        .filter_map(|(t, p)| match (t, p) {
            (Some(t), Some(p)) if t.is_finite() && p.is_finite() => Some((*t, *p)),
            _ => None,
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let errors: Vec<f64> = pairs.iter().map(|(t, p)| p - t).collect();
    let mean_error = errors.iter().sum::<f64>() / n;
    let error_sd = if pairs.len() < 2 {
        f64::NAN
    } else {
        (errors.iter().map(|e| (e - mean_error).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    let percent: Vec<f64> =
        pairs.iter().filter(|(t, _)| *t != 0.0).map(|(t, p)| ((p - t) / t).abs()).collect();
    Some(RegressionQuality {
        rows: pairs.len(),
        rmse: (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        mae: errors.iter().map(|e| e.abs()).sum::<f64>() / n,
        mape: if percent.is_empty() {
            f64::NAN
        } else {
            100.0 * percent.iter().sum::<f64>() / percent.len() as f64
        },
        mean_error,
        error_sd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::column::Column;

    fn sample(n: usize, a: usize, b: usize, m: usize, scale: f64, shift: f64) -> Vec<f64> {
        (0..n).map(|i| ((i * a + b) % m) as f64 / scale + shift).collect()
    }

    fn ints(n: usize, f: impl Fn(usize) -> usize) -> Vec<f64> {
        (0..n).map(|i| f(i) as f64).collect()
    }

    fn labels(n: usize, f: impl Fn(usize) -> usize) -> Vec<String> {
        (0..n).map(|i| format!("z{}", f(i))).collect()
    }

    fn numbers_frame(values: &[f64]) -> Frame {
        Frame::new(vec![Column::numbers("x", values.iter().map(|v| Some(*v)).collect())]).expect("frame")
    }

    fn text_frame(values: &[String]) -> Frame {
        Frame::new(vec![Column::text("x", values.iter().map(|v| Some(v.clone())).collect())]).expect("frame")
    }

    fn outcome(
        reference: &Frame,
        current: &Frame,
        column_type: ColumnType,
        test: Option<StatTest>,
    ) -> ColumnOutcome {
        let mut options = DriftOptions::default();
        options.overrides.insert("x".into(), ColumnOverride { test, threshold: None });
        let spec = ColumnSpec { name: "x".into(), column_type };
        let report = drift_report(reference, current, &[spec], &options, None);
        report.columns[0].outcome.clone()
    }

    /// (name, reference, current, type, forced test, expected test, score, drifted).
    type RuleCase = (&'static str, Frame, Frame, ColumnType, Option<StatTest>, StatTest, f64, bool);

    /// Expected values: Evidently 0.7.23 `ColumnDriftMetric` on the same samples,
    /// printed by `bench/drift_rules_reference.py`. Relative tolerance 1e-9.
    #[test]
    fn each_selection_rule_matches_evidently() {
        let numbers = ColumnType::Numerical;
        let categories = ColumnType::Categorical;
        let big = (sample(5000, 37, 5, 1009, 100.0, 0.0), sample(3000, 41, 3, 997, 100.0, 0.5));
        let zones = (labels(2500, |i| (i * 13 + 3) % 30), labels(2000, |i| (i * 17 + 1) % 40));
        let cases: Vec<RuleCase> = vec![
            (
                "ks_small_reference",
                numbers_frame(&sample(300, 37, 5, 101, 10.0, 0.0)),
                numbers_frame(&sample(400, 53, 7, 97, 10.0, 0.3)),
                numbers,
                None,
                StatTest::Ks,
                0.9805225709214591,
                false,
            ),
            (
                "chi_numbers_4_values",
                numbers_frame(&ints(500, |i| i % 4)),
                numbers_frame(&ints(450, |i| (i % 5) % 4)),
                numbers,
                None,
                StatTest::ChiSquare,
                1.1220599619487071e-11,
                true,
            ),
            (
                "z_numbers_2_values",
                numbers_frame(&ints(800, |i| i % 2)),
                numbers_frame(&ints(300, |i| usize::from(i % 3 == 0))),
                numbers,
                None,
                StatTest::Z,
                7.648374189539453e-07,
                true,
            ),
            (
                "chi_categories",
                text_frame(&labels(600, |i| i % 7)),
                text_frame(&labels(500, |i| (i % 9) % 7)),
                categories,
                None,
                StatTest::ChiSquare,
                3.515653639477102e-11,
                true,
            ),
            (
                "z_categories",
                text_frame(&labels(700, |i| i % 2)),
                text_frame(&labels(650, |i| usize::from(i % 3 == 0))),
                categories,
                None,
                StatTest::Z,
                6.397404828106801e-10,
                true,
            ),
            (
                "z_same_single_value",
                numbers_frame(&ints(100, |_| 4)),
                numbers_frame(&ints(50, |_| 4)),
                numbers,
                None,
                StatTest::Z,
                1.0,
                false,
            ),
            (
                "js_numbers_few_values",
                numbers_frame(&ints(3000, |i| i % 5)),
                numbers_frame(&ints(2000, |i| (i % 7) % 5)),
                numbers,
                None,
                StatTest::JensenShannon,
                0.12126531685184942,
                true,
            ),
            (
                "wasserstein_large",
                numbers_frame(&big.0),
                numbers_frame(&big.1),
                numbers,
                None,
                StatTest::Wasserstein,
                0.14951601703304315,
                true,
            ),
            (
                "wasserstein_constant_reference",
                numbers_frame(&[2.5; 1500]),
                numbers_frame(&ints(1200, |i| i % 7)),
                numbers,
                None,
                StatTest::Wasserstein,
                1785.0,
                true,
            ),
            (
                "js_unseen_categories",
                text_frame(&zones.0),
                text_frame(&zones.1),
                categories,
                None,
                StatTest::JensenShannon,
                0.3092022160118176,
                true,
            ),
            (
                "psi_numbers",
                numbers_frame(&big.0),
                numbers_frame(&big.1),
                numbers,
                Some(StatTest::Psi),
                StatTest::Psi,
                0.0808950582759103,
                false,
            ),
            (
                "psi_categories",
                text_frame(&zones.0),
                text_frame(&zones.1),
                categories,
                Some(StatTest::Psi),
                StatTest::Psi,
                1.4467922337412773,
                true,
            ),
            (
                "ks_override_large",
                numbers_frame(&big.0),
                numbers_frame(&big.1),
                numbers,
                Some(StatTest::Ks),
                StatTest::Ks,
                0.0001484455638342564,
                true,
            ),
        ];
        for (name, reference, current, column_type, forced, want_test, want_score, want_drift) in cases {
            match outcome(&reference, &current, column_type, forced) {
                ColumnOutcome::Tested { test, score, drifted, .. } => {
                    assert_eq!(test, want_test, "{name}");
                    let error = (score - want_score).abs() / want_score.abs().max(1e-300);
                    assert!(error < 1e-9, "{name}: {score} vs Evidently {want_score}");
                    assert_eq!(drifted, want_drift, "{name}");
                }
                other => panic!("{name}: not tested: {other:?}"),
            }
        }
    }

    #[test]
    fn default_rules_switch_at_a_thousand_reference_values() {
        assert_eq!(default_stat_test(1000, 6, ColumnType::Numerical), StatTest::Ks);
        assert_eq!(default_stat_test(1001, 6, ColumnType::Numerical), StatTest::Wasserstein);
        assert_eq!(default_stat_test(1000, 5, ColumnType::Numerical), StatTest::ChiSquare);
        assert_eq!(default_stat_test(1000, 3, ColumnType::Numerical), StatTest::ChiSquare);
        assert_eq!(default_stat_test(1000, 2, ColumnType::Numerical), StatTest::Z);
        assert_eq!(default_stat_test(1001, 5, ColumnType::Numerical), StatTest::JensenShannon);
        assert_eq!(default_stat_test(10, 3, ColumnType::Categorical), StatTest::ChiSquare);
        assert_eq!(default_stat_test(10, 2, ColumnType::Categorical), StatTest::Z);
        assert_eq!(default_stat_test(5000, 2, ColumnType::Categorical), StatTest::JensenShannon);
    }

    #[test]
    fn thresholds_follow_evidently_verdicts() {
        assert!(StatTest::Ks.drifted(0.05, 0.05), "K-S drifts at p = threshold");
        assert!(!StatTest::ChiSquare.drifted(0.05, 0.05), "chi-square needs p < threshold");
        assert!(StatTest::Wasserstein.drifted(0.1, 0.1));
        assert!(!StatTest::JensenShannon.drifted(f64::NAN, 0.1));
        let reference = numbers_frame(&sample(5000, 37, 5, 1009, 100.0, 0.0));
        let current = numbers_frame(&sample(3000, 41, 3, 997, 100.0, 0.5));
        let mut options = DriftOptions::default();
        options.overrides.insert("x".into(), ColumnOverride { test: None, threshold: Some(0.2) });
        let report = drift_report(&reference, &current, &[ColumnSpec::numerical("x")], &options, None);
        assert!(!report.columns[0].drifted(), "0.1495 is under a 0.2 threshold");
        assert!(StatTest::ALL.iter().all(|t| StatTest::parse(t.name()) == Some(*t)));
    }

    #[test]
    fn columns_that_cannot_be_compared_are_reported_not_fatal() {
        let reference = Frame::new(vec![
            Column::numbers("a", vec![Some(1.0), Some(2.0), Some(3.0)]),
            Column::numbers("b", vec![Some(1.0), Some(2.0), Some(3.0)]),
            Column::numbers("c", vec![Some(1.0), Some(2.0), Some(3.0)]),
            Column::numbers("d", vec![Some(1.0), Some(2.0), Some(3.0)]),
        ])
        .expect("frame");
        let current = Frame::new(vec![
            Column::text("a", vec![Some("1".into()), Some("2".into())]),
            Column::numbers("b", vec![None, Some(f64::NAN)]),
            Column::numbers("renamed", vec![Some(1.0), Some(2.0)]),
            Column::numbers("d", vec![Some(1.0), Some(2.0)]),
        ])
        .expect("frame");
        let specs: Vec<ColumnSpec> = ["a", "b", "c", "d"].iter().map(|n| ColumnSpec::numerical(n)).collect();
        let report = drift_report(&reference, &current, &specs, &DriftOptions::default(), None);
        let reason = |name: &str| match &report.column(name).expect("listed").outcome {
            ColumnOutcome::Skipped { reason } => reason.clone(),
            other => panic!("{name} should be skipped: {other:?}"),
        };
        assert!(reason("a").contains("holds text"), "{}", reason("a"));
        assert!(reason("b").contains("all missing"), "{}", reason("b"));
        assert!(
            reason("c").contains("missing from the current data (found: a, b, renamed, d)"),
            "{}",
            reason("c")
        );
        assert!(matches!(report.column("d").expect("d").outcome, ColumnOutcome::Tested { .. }));
        assert_eq!((report.dataset.n_columns, report.dataset.n_drifted), (4, 0));
        // Over the compared columns the current data has (a, b, d): 2 of 6 cells.
        assert!((report.current_missing_share - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn an_empty_current_day_skips_every_column() {
        let reference = numbers_frame(&[1.0, 2.0, 3.0]);
        let empty = numbers_frame(&[]);
        let report =
            drift_report(&reference, &empty, &[ColumnSpec::numerical("x")], &DriftOptions::default(), None);
        assert_eq!(report.current_rows, 0);
        assert!(matches!(report.columns[0].outcome, ColumnOutcome::Skipped { .. }));
        assert!(!report.dataset.dataset_drift);
        assert_eq!(report.current_missing_share, 0.0);
    }

    #[test]
    fn categories_changing_type_is_a_schema_change() {
        let reference = numbers_frame(&[1.0, 2.0, 3.0]);
        let current = text_frame(&["1".into(), "2".into()]);
        let report = drift_report(
            &reference,
            &current,
            &[ColumnSpec::categorical("x")],
            &DriftOptions::default(),
            None,
        );
        match &report.columns[0].outcome {
            ColumnOutcome::Skipped { reason } => assert!(reason.contains("changed type"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn new_categories_and_summaries_are_listed() {
        let reference = text_frame(&labels(50, |i| i % 3));
        let current = text_frame(&labels(40, |i| i % 5));
        let report = drift_report(
            &reference,
            &current,
            &[ColumnSpec::categorical("x")],
            &DriftOptions::default(),
            None,
        );
        let (reference_stats, current_stats) = &report.stats[0];
        assert_eq!(reference_stats.n_unique, 3);
        assert_eq!(current_stats.new_categories, vec!["z3".to_string(), "z4".to_string()]);
        assert_eq!(current_stats.new_category_count, 2);
        let distribution = &report.columns[0].distribution;
        assert_eq!(distribution.labels.len(), 5);
        assert!((distribution.current.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn regression_quality_uses_rows_with_both_values() {
        let frame = Frame::new(vec![
            Column::numbers("truth", vec![Some(10.0), Some(20.0), None, Some(0.0)]),
            Column::numbers("prediction", vec![Some(12.0), Some(17.0), Some(5.0), Some(1.0)]),
        ])
        .expect("frame");
        let report =
            drift_report(&frame, &frame, &[], &DriftOptions::default(), Some(("truth", "prediction")));
        let quality = report.quality.expect("quality");
        assert_eq!(quality.rows, 3);
        // errors: +2, −3, +1
        assert!((quality.rmse - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((quality.mae - 2.0).abs() < 1e-12);
        assert!((quality.mean_error - 0.0).abs() < 1e-12);
        assert!((quality.error_sd - (14.0f64 / 2.0).sqrt()).abs() < 1e-12);
        // MAPE leaves out the zero truth: (0.2 + 0.15) / 2.
        assert!((quality.mape - 17.5).abs() < 1e-9);
        assert!(report.dataset.n_columns == 0 && !report.dataset.dataset_drift);
    }
}
