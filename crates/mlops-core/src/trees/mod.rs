//! Tree ensembles for Chapter 2: gradient-boosted trees with XGBoost's formulation and
//! random forests with scikit-learn's semantics, both on the course's sparse features.
//!
//! linfa-trees grows classification trees only (Gini / entropy on labels), so the
//! regression trees here are our own: one histogram tree grower serves both ensembles
//! (boosting feeds it gradients, a forest feeds it targets as negative gradients with
//! bootstrap counts as hessians), which keeps a single, well-tested split search.
//!
//! `binning` turns the rows into XGBoost's histogram bins, `grower` grows one tree at a
//! cost proportional to the rows it moves (boosting's late trees are long chains that
//! peel a few rows off the whole month), `gbdt` and `forest` drive it, and `predict`
//! scores many rows by routing them through each tree together.

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

#[cfg(test)]
pub(crate) mod test_support {
    //! Small data sets for the ensembles' tests.

    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use sprs::{CsMat, TriMat};

    use super::TreeMeta;
    use crate::features::FeatureSet;

    /// A CSR matrix from each row's `(column, value)` entries.
    pub fn csr(rows: &[Vec<(usize, f64)>], n_cols: usize) -> CsMat<f64> {
        let mut triplets = TriMat::new((rows.len(), n_cols));
        for (r, row) in rows.iter().enumerate() {
            for &(c, value) in row {
                triplets.add_triplet(r, c, value);
            }
        }
        triplets.to_csr()
    }

    /// One numeric column holding `xs`.
    pub fn column(xs: &[f64]) -> CsMat<f64> {
        csr(&xs.iter().map(|&x| vec![(0, x)]).collect::<Vec<_>>(), 1)
    }

    pub fn meta(n_features: usize) -> TreeMeta {
        TreeMeta {
            feature_set: FeatureSet::PuDo,
            feature_names: (0..n_features).map(|i| format!("x{i}")).collect(),
        }
    }

    /// Rows like the course's: one of 6 one-hot zone pairs (columns 0–5) plus a
    /// distance (column 6, missing in one row of ten), with a noisy duration.
    pub fn trips(n: usize, seed: u64) -> (CsMat<f64>, Vec<f64>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut rows = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        for _ in 0..n {
            let pair = rng.gen_range(0..6usize);
            let distance = (rng.gen::<f64>() * 1000.0).round() / 100.0;
            let mut row = vec![(pair, 1.0)];
            if rng.gen::<f64>() > 0.1 {
                row.push((6, distance));
            }
            rows.push(row);
            targets.push(3.0 + 2.0 * distance + 4.0 * (pair % 3) as f64 + rng.gen::<f64>() * 2.0);
        }
        (csr(&rows, 7), targets)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{column, csr, meta, trips};
    use super::*;

    fn gbdt(params: GbdtParams) -> ValidGbdtParams {
        params.check().expect("valid parameters")
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        use TreeFitError as E;
        let params = gbdt(GbdtParams { num_boost_round: 2, ..GbdtParams::default() });
        let x = column(&[1.0, 2.0, 3.0]);
        let y = [1.0, 2.0, 3.0];
        let fit = |x: TreeInput<'_>, y: &[f64], val: Option<(TreeInput<'_>, &[f64])>, names: usize| {
            fit_gbdt(&params, x, y, val, meta(names), &mut |_| {}).map(|_| ())
        };
        let empty = column(&[]);
        assert_eq!(fit(TreeInput::OneHot(&empty), &[], None, 1), Err(E::NoRows));
        assert_eq!(
            fit(TreeInput::OneHot(&x), &y[..2], None, 1),
            Err(E::ShapeMismatch { rows: 3, targets: 2 })
        );
        assert_eq!(fit(TreeInput::OneHot(&x), &[1.0, f64::NAN, 3.0], None, 1), Err(E::NonFiniteTarget(1)));
        let infinite = column(&[1.0, 2.0, f64::INFINITY]);
        assert_eq!(fit(TreeInput::OneHot(&infinite), &y, None, 1), Err(E::NonFiniteFeature(2)));
        assert_eq!(fit(TreeInput::OneHot(&x), &y, None, 2), Err(E::FeatureCount { expected: 2, found: 1 }));
        let wide = csr(&[vec![(0, 1.0), (1, 1.0)]], 2);
        assert_eq!(
            fit(TreeInput::OneHot(&x), &y, Some((TreeInput::OneHot(&wide), &[1.0])), 1),
            Err(E::FeatureCount { expected: 1, found: 2 })
        );
        assert_eq!(
            fit(TreeInput::OneHot(&x), &y, Some((TreeInput::OneHot(&x), &y[..1])), 1),
            Err(E::ValidationShapeMismatch { rows: 3, targets: 1 })
        );
        assert_eq!(
            fit(TreeInput::OneHot(&x), &y, Some((TreeInput::OneHot(&empty), &[])), 1),
            Err(E::NoValidationRows)
        );
        assert_eq!(
            fit(TreeInput::OneHot(&x), &y, Some((TreeInput::OneHot(&x), &[1.0, 2.0, f64::NEG_INFINITY])), 1),
            Err(E::NonFiniteValidationTarget(2))
        );
        assert_eq!(
            fit(TreeInput::OneHot(&x), &y, Some((TreeInput::OneHot(&infinite), &y)), 1),
            Err(E::NonFiniteValidationFeature(2))
        );
        let categorical =
            TreeInput::Categorical { pu: &[1, 2], dol: &[1, 2, 3], trip_distance: &[1.0, 2.0, 3.0] };
        assert_eq!(
            fit(categorical, &y, None, 3),
            Err(E::WrongEncoding { expected: TreeEncoding::OneHot, found: TreeEncoding::Categorical })
        );
        let stopping = gbdt(GbdtParams { early_stopping_rounds: Some(5), ..GbdtParams::default() });
        assert_eq!(
            fit_gbdt(&stopping, TreeInput::OneHot(&x), &y, None, meta(1), &mut |_| {}).map(|_| ()),
            Err(E::EarlyStoppingWithoutValidation)
        );

        let forest = ForestParams { encoding: TreeEncoding::Categorical, ..ForestParams::default() };
        let forest = forest.check().expect("valid forest");
        let fit_forest =
            |x: TreeInput<'_>, y: &[f64]| fit_forest(&forest, x, y, meta(3), &mut |_, _| {}).map(|_| ());
        assert_eq!(fit_forest(categorical, &y), Err(E::ColumnLengths { pu: 2, dol: 3, trip_distance: 3 }));
        let nan_distance =
            TreeInput::Categorical { pu: &[1, 2], dol: &[1, 2], trip_distance: &[1.0, f64::NAN] };
        assert_eq!(fit_forest(nan_distance, &y[..2]), Err(E::NonFiniteFeature(1)));
        assert_eq!(
            fit_forest(TreeInput::OneHot(&x), &y),
            Err(E::WrongEncoding { expected: TreeEncoding::Categorical, found: TreeEncoding::OneHot })
        );
    }

    #[test]
    fn matrices_stored_by_column_give_the_same_model() {
        let (x, y) = trips(300, 5);
        let params = gbdt(GbdtParams { num_boost_round: 5, ..GbdtParams::default() });
        let by_rows = fit_gbdt(&params, TreeInput::OneHot(&x), &y, None, meta(7), &mut |_| {}).expect("fit");
        let by_columns = x.to_csc();
        let model =
            fit_gbdt(&params, TreeInput::OneHot(&by_columns), &y, None, meta(7), &mut |_| {}).expect("fit");
        assert_eq!(by_rows, model);
        assert_eq!(
            model.model.predict(TreeInput::OneHot(&by_columns)),
            model.model.predict(TreeInput::OneHot(&x))
        );
    }
}
