//! Tree ensembles for Chapter 2: gradient-boosted trees with XGBoost's formulation and
//! random forests with scikit-learn's semantics, both on the course's sparse features.
//!
//! linfa-trees grows classification trees only (Gini / entropy on labels), so the
//! regression trees here are our own: one histogram tree grower serves both ensembles
//! (boosting feeds it gradients, a forest feeds it targets as negative gradients with
//! bootstrap counts as hessians), which keeps a single, well-tested split search.

pub mod model;
pub mod params;

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
    let _ = (params, train, targets, validation, meta, progress);
    unimplemented!("issue 6: GBDT")
}

/// Grows `n_estimators` trees, each on its bootstrap sample. `progress(done, total)`.
pub fn fit_forest(
    params: &ValidForestParams,
    train: TreeInput<'_>,
    targets: &[f64],
    meta: TreeMeta,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TreeModel, TreeFitError> {
    let _ = (params, train, targets, meta, progress);
    unimplemented!("issue 6: random forest")
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
