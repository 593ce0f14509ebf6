//! Tree ensembles for Chapter 2: gradient-boosted trees with XGBoost's formulation and
//! random forests with scikit-learn's semantics, both on the course's sparse features.
//!
//! linfa-trees grows classification trees only (Gini / entropy on labels), so the
//! regression trees here are our own: one histogram tree grower serves both ensembles
//! (boosting feeds it gradients, a forest feeds it targets as negative gradients with
//! bootstrap counts as hessians), which keeps a single, well-tested split search.

mod binning;
mod forest;
mod gbdt;
mod grower;
pub mod model;
pub mod params;
mod predict;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sprs::CsMat;

use crate::features::FeatureSet;
pub use model::{Tree, TreeArtifactError, TreeEncoding, TreeKind, TreeModel, CATEGORICAL_COLUMNS};
pub use params::{ForestParams, GbdtParams, MaxFeatures, TreeParamError, ValidForestParams, ValidGbdtParams};

/// The rows a tree ensemble trains on or scores.
#[derive(Debug, Clone, Copy)]
pub enum TreeInput<'a> {
    /// The vectorizer's sparse matrix; absent entries are missing values.
    OneHot(&'a CsMat<f64>),
    /// Raw zones as categories plus the distance ([`TreeEncoding::Categorical`]).
    Categorical { pu: &'a [i64], dol: &'a [i64], trip_distance: &'a [f64] },
}

impl TreeInput<'_> {
    pub fn n_rows(&self) -> usize {
        match self {
            TreeInput::OneHot(matrix) => matrix.rows(),
            TreeInput::Categorical { pu, .. } => pu.len(),
        }
    }

    pub fn encoding(&self) -> TreeEncoding {
        match self {
            TreeInput::OneHot(_) => TreeEncoding::OneHot,
            TreeInput::Categorical { .. } => TreeEncoding::Categorical,
        }
    }
}

/// What the artifact needs to know besides the trees.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeMeta {
    pub feature_set: FeatureSet,
    /// The vectorizer's names (one-hot) or [`CATEGORICAL_COLUMNS`].
    pub feature_names: Vec<String>,
}

/// One boosting round's scores: the per-round metric history autologging records.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoostRound {
    /// 0-based, as XGBoost counts.
    pub round: usize,
    pub train_rmse: f64,
    pub val_rmse: Option<f64>,
}

/// A fitted GBDT with its learning curve.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtFit {
    /// With early stopping, the trees up to and including the best round.
    pub model: TreeModel,
    pub history: Vec<BoostRound>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TreeFitError {
    #[error("there are no training rows")]
    NoRows,
    #[error("{rows} feature rows but {targets} targets")]
    ShapeMismatch { rows: usize, targets: usize },
    #[error("the validation set has {rows} feature rows but {targets} targets")]
    ValidationShapeMismatch { rows: usize, targets: usize },
    #[error("the target has a missing or infinite value at row {0}")]
    NonFiniteTarget(usize),
    #[error("feature value at row {0} is not a finite number")]
    NonFiniteFeature(usize),
    #[error("the model expects {expected} feature columns, the rows have {found}")]
    FeatureCount { expected: usize, found: usize },
    #[error("early stopping needs a validation set")]
    EarlyStoppingWithoutValidation,
    #[error("the validation set has no rows")]
    NoValidationRows,
    #[error("the validation target has a missing or infinite value at row {0}")]
    NonFiniteValidationTarget(usize),
    #[error("validation feature value at row {0} is not a finite number")]
    NonFiniteValidationFeature(usize),
    #[error("the zone and distance columns differ in length: {pu} pickups, {dol} dropoffs, {trip_distance} distances")]
    ColumnLengths { pu: usize, dol: usize, trip_distance: usize },
    #[error("the parameters ask for the {expected:?} encoding but the rows come in the {found:?} encoding")]
    WrongEncoding { expected: TreeEncoding, found: TreeEncoding },
}

/// Boosts `num_boost_round` trees (fewer with early stopping on `validation`).
/// `progress` sees every round as soon as it is scored.
pub fn fit_gbdt(
    params: &ValidGbdtParams,
    train: TreeInput<'_>,
    targets: &[f64],
    validation: Option<(TreeInput<'_>, &[f64])>,
    meta: TreeMeta,
    progress: &mut dyn FnMut(&BoostRound),
) -> Result<GbdtFit, TreeFitError> {
    gbdt::fit(params, train, targets, validation, meta, progress)
}

/// Grows `n_estimators` trees, each on its bootstrap sample. `progress(done, total)`.
pub fn fit_forest(
    params: &ValidForestParams,
    train: TreeInput<'_>,
    targets: &[f64],
    meta: TreeMeta,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TreeModel, TreeFitError> {
    forest::fit(params, train, targets, meta, progress)
}

/// Checked, binned inputs with the artifact's column names.
struct Prepared {
    data: binning::Binned,
    feature_set: FeatureSet,
    feature_names: Vec<String>,
}

/// Checks the rows against the targets and the parameters, then bins them.
fn prepare(
    encoding: TreeEncoding,
    train: TreeInput<'_>,
    targets: &[f64],
    validation: Option<(TreeInput<'_>, &[f64])>,
    meta: TreeMeta,
    max_bin: usize,
) -> Result<Prepared, TreeFitError> {
    use TreeFitError as E;
    if train.n_rows() == 0 {
        return Err(E::NoRows);
    }
    for input in std::iter::once(train).chain(validation.map(|(input, _)| input)) {
        if input.encoding() != encoding {
            return Err(E::WrongEncoding { expected: encoding, found: input.encoding() });
        }
        if let TreeInput::Categorical { pu, dol, trip_distance } = input {
            if pu.len() != dol.len() || pu.len() != trip_distance.len() {
                return Err(E::ColumnLengths {
                    pu: pu.len(),
                    dol: dol.len(),
                    trip_distance: trip_distance.len(),
                });
            }
        }
    }
    if train.n_rows() != targets.len() {
        return Err(E::ShapeMismatch { rows: train.n_rows(), targets: targets.len() });
    }
    if let Some(row) = targets.iter().position(|y| !y.is_finite()) {
        return Err(E::NonFiniteTarget(row));
    }
    if let Some(row) = first_non_finite(train) {
        return Err(E::NonFiniteFeature(row));
    }
    let n_features = match train {
        TreeInput::OneHot(matrix) => matrix.cols(),
        TreeInput::Categorical { .. } => CATEGORICAL_COLUMNS.len(),
    };
    let feature_names = match train {
        TreeInput::OneHot(_) if meta.feature_names.len() != n_features => {
            return Err(E::FeatureCount { expected: meta.feature_names.len(), found: n_features });
        }
        TreeInput::OneHot(_) => meta.feature_names,
        TreeInput::Categorical { .. } => CATEGORICAL_COLUMNS.iter().map(|name| name.to_string()).collect(),
    };
    if let Some((input, val_targets)) = validation {
        if input.n_rows() != val_targets.len() {
            return Err(E::ValidationShapeMismatch { rows: input.n_rows(), targets: val_targets.len() });
        }
        if input.n_rows() == 0 {
            return Err(E::NoValidationRows);
        }
        if let TreeInput::OneHot(matrix) = input {
            if matrix.cols() != n_features {
                return Err(E::FeatureCount { expected: n_features, found: matrix.cols() });
            }
        }
        if let Some(row) = val_targets.iter().position(|y| !y.is_finite()) {
            return Err(E::NonFiniteValidationTarget(row));
        }
        if let Some(row) = first_non_finite(input) {
            return Err(E::NonFiniteValidationFeature(row));
        }
    }

    // The binning walks rows, so matrices stored by column are turned around first.
    let csr = |input: TreeInput<'_>| match input {
        TreeInput::OneHot(matrix) if !matrix.is_csr() => Some(matrix.to_csr()),
        _ => None,
    };
    let (train_csr, val_csr) = (csr(train), validation.and_then(|(input, _)| csr(input)));
    fn columns<'a>(input: TreeInput<'a>, converted: &'a Option<CsMat<f64>>) -> binning::Columns<'a> {
        match (input, converted) {
            (_, Some(matrix)) => binning::Columns::Sparse(matrix),
            (TreeInput::OneHot(matrix), None) => binning::Columns::Sparse(matrix),
            (TreeInput::Categorical { pu, dol, trip_distance }, None) => {
                binning::Columns::Categorical { pu, dol, trip_distance }
            }
        }
    }
    let train_columns = columns(train, &train_csr);
    let val_columns = validation.map(|(input, _)| columns(input, &val_csr));
    let data = binning::Binned::new(&train_columns, val_columns.as_ref(), n_features, max_bin);
    Ok(Prepared { data, feature_set: meta.feature_set, feature_names })
}

/// The first row holding a value that is not a finite number.
fn first_non_finite(input: TreeInput<'_>) -> Option<usize> {
    match input {
        TreeInput::OneHot(matrix) => {
            let matrix: Cow<'_, CsMat<f64>> =
                if matrix.is_csr() { Cow::Borrowed(matrix) } else { Cow::Owned(matrix.to_csr()) };
            let row = matrix.outer_iterator().position(|row| row.data().iter().any(|x| !x.is_finite()));
            row
        }
        TreeInput::Categorical { trip_distance, .. } => trip_distance.iter().position(|x| !x.is_finite()),
    }
}

impl TreeModel {
    /// Predictions for rows in either encoding (the model's own, or nothing useful).
    pub fn predict(&self, rows: TreeInput<'_>) -> Vec<f64> {
        match rows {
            TreeInput::OneHot(matrix) => self.predict_csr(matrix),
            TreeInput::Categorical { pu, dol, trip_distance } => self.predict_columns(pu, dol, trip_distance),
        }
    }
}
