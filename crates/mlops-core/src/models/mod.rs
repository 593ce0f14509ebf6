//! Linear models on sparse one-hot features, with scikit-learn's semantics.
//!
//! linfa's linear solvers (`linfa-linear`, `linfa-elasticnet`) take dense `ndarray`
//! matrices; the course's design matrix is 73,908 × 13,221, ~7.8 GB dense. So the
//! solvers here work on the sparse matrix directly, each following the algorithm
//! scikit-learn runs for that case (see the submodules for why that matters).

mod artifact;
mod lasso_cd;
mod lsqr;
mod ridge_cg;
pub mod sparse_ops;

use serde::{Deserialize, Serialize};
use sprs::CsMat;

use crate::features::{ride_features, DictVectorizer, FeatureSet};
pub use artifact::{Model, ModelFileError};
use sparse_ops::{predict_csr, CenteredOperator};

/// The model families Chapter 1 trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    LinearRegression,
    Ridge,
    Lasso,
}

impl ModelKind {
    pub fn class_name(self) -> &'static str {
        match self {
            ModelKind::LinearRegression => "LinearRegression",
            ModelKind::Ridge => "Ridge",
            ModelKind::Lasso => "Lasso",
        }
    }

    pub fn uses_alpha(self) -> bool {
        !matches!(self, ModelKind::LinearRegression)
    }

    /// Parses the command-line and URL spelling (`linear`, `ridge`, `lasso`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "linear" | "linearregression" | "linear_regression" => Some(ModelKind::LinearRegression),
            "ridge" => Some(ModelKind::Ridge),
            "lasso" => Some(ModelKind::Lasso),
            _ => None,
        }
    }
}

/// Hyperparameters as a learner types them; [`ModelParams::check`] turns them into
/// [`ValidModelParams`], the only thing [`fit`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    pub kind: ModelKind,
    /// Regularisation strength (Ridge, Lasso); ignored by LinearRegression.
    pub alpha: f64,
    /// Solver tolerance; `None` takes scikit-learn's default for the model.
    pub tol: Option<f64>,
    /// Iteration cap; `None` takes scikit-learn's default for the model.
    pub max_iter: Option<usize>,
}

impl ModelParams {
    pub fn new(kind: ModelKind) -> Self {
        Self { kind, alpha: 1.0, tol: None, max_iter: None }
    }

    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = Some(tol);
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = Some(max_iter);
        self
    }

    pub fn check(self) -> Result<ValidModelParams, ParamError> {
        if self.kind.uses_alpha() {
            if !self.alpha.is_finite() {
                return Err(ParamError::NonFiniteAlpha);
            }
            if self.alpha < 0.0 {
                return Err(ParamError::NegativeAlpha(self.alpha));
            }
        }
        let tol = self.tol.unwrap_or(match self.kind {
            ModelKind::LinearRegression => 1e-6,
            ModelKind::Ridge | ModelKind::Lasso => 1e-4,
        });
        if !(tol.is_finite() && tol > 0.0) {
            return Err(ParamError::NonPositiveTol(tol));
        }
        if self.max_iter == Some(0) {
            return Err(ParamError::ZeroMaxIter);
        }
        Ok(ValidModelParams { kind: self.kind, alpha: self.alpha, tol, max_iter: self.max_iter })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ParamError {
    #[error("alpha must be zero or positive, got {0}")]
    NegativeAlpha(f64),
    #[error("alpha must be a finite number")]
    NonFiniteAlpha,
    #[error("tolerance must be a positive number, got {0}")]
    NonPositiveTol(f64),
    #[error("max_iter must be at least 1")]
    ZeroMaxIter,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidModelParams {
    kind: ModelKind,
    alpha: f64,
    tol: f64,
    max_iter: Option<usize>,
}

impl ValidModelParams {
    pub fn kind(&self) -> ModelKind {
        self.kind
    }
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    pub fn tol(&self) -> f64 {
        self.tol
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FitError {
    #[error("there are no training rows")]
    NoRows,
    #[error("{rows} feature rows but {targets} targets")]
    ShapeMismatch { rows: usize, targets: usize },
    #[error("the target has a missing or infinite value at row {0}")]
    NonFiniteTarget(usize),
    #[error("feature value at row {0} is not a finite number")]
    NonFiniteFeature(usize),
}

/// A fitted linear model: also the JSON model artifact a run stores and a learner downloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub kind: ModelKind,
    pub alpha: Option<f64>,
    pub feature_set: FeatureSet,
    pub feature_names: Vec<String>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// Solver iterations (LSQR, CG or coordinate-descent epochs).
    pub iterations: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    #[error("the model file is not valid JSON for a linear model: {0}")]
    Json(String),
    #[error("the model file is inconsistent: {0} feature names but {1} coefficients")]
    Inconsistent(usize, usize),
}

impl LinearModel {
    pub fn predict(&self, matrix: &CsMat<f64>) -> Vec<f64> {
        predict_csr(matrix, &self.coefficients, self.intercept)
    }

    pub fn vectorizer(&self) -> DictVectorizer {
        DictVectorizer::from_feature_names(self.feature_names.clone())
    }

    /// The prediction for one ride, as the deployment chapter's `/predict` gives it.
    pub fn predict_ride(&self, vectorizer: &DictVectorizer, pu: i64, dol: i64, trip_distance: f64) -> f64 {
        let row = ride_features(self.feature_set, pu, dol, trip_distance);
        self.intercept
            + vectorizer.transform_one(&row).into_iter().map(|(i, v)| self.coefficients[i] * v).sum::<f64>()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, ArtifactError> {
        let model: Self = serde_json::from_str(text).map_err(|e| ArtifactError::Json(e.to_string()))?;
        if model.feature_names.len() != model.coefficients.len() {
            return Err(ArtifactError::Inconsistent(model.feature_names.len(), model.coefficients.len()));
        }
        Ok(model)
    }
}

/// Solver progress: (iterations done, iteration cap).
pub type ProgressFn<'a> = &'a mut dyn FnMut(usize, usize);

/// Fits a model with an intercept on a sparse design matrix.
pub fn fit(
    params: &ValidModelParams,
    matrix: &CsMat<f64>,
    targets: &[f64],
    feature_set: FeatureSet,
    feature_names: Vec<String>,
    progress: ProgressFn<'_>,
) -> Result<LinearModel, FitError> {
    let (n_rows, n_cols) = matrix.shape();
    if n_rows == 0 {
        return Err(FitError::NoRows);
    }
    if n_rows != targets.len() {
        return Err(FitError::ShapeMismatch { rows: n_rows, targets: targets.len() });
    }
    if let Some(i) = targets.iter().position(|t| !t.is_finite()) {
        return Err(FitError::NonFiniteTarget(i));
    }
    if let Some(k) = matrix.data().iter().position(|x| !x.is_finite()) {
        let indptr = matrix.indptr();
        let row = indptr.raw_storage().iter().position(|&p| p > k).map_or(0, |r| r - 1);
        return Err(FitError::NonFiniteFeature(row));
    }
    let operator = CenteredOperator::new(matrix);
    let y_mean = targets.iter().sum::<f64>() / n_rows as f64;
    let centered: Vec<f64> = targets.iter().map(|t| t - y_mean).collect();

    let (coefficients, iterations) = match params.kind {
        ModelKind::LinearRegression => {
            let options = lsqr::LsqrOptions {
                atol: params.tol,
                btol: params.tol,
                conlim: 1e8,
                iter_lim: params.max_iter.unwrap_or(2 * n_cols.max(1)),
            };
            let result = lsqr::lsqr(&operator, &centered, &options, progress);
            (result.x, result.iterations)
        }
        ModelKind::Ridge => {
            let cap = params.max_iter.unwrap_or(10 * n_cols.max(1));
            let result = ridge_cg::ridge_cg(&operator, &centered, params.alpha, params.tol, cap, progress);
            (result.w, result.iterations)
        }
        ModelKind::Lasso => {
            let csc = matrix.to_csc();
            let result = lasso_cd::lasso_cd(
                &csc,
                &operator.means,
                &centered,
                params.alpha * n_rows as f64,
                params.tol,
                params.max_iter.unwrap_or(1000),
                progress,
            );
            (result.w, result.iterations)
        }
    };
    let intercept = y_mean - sparse_ops::dot(&operator.means, &coefficients);
    Ok(LinearModel {
        kind: params.kind,
        alpha: params.kind.uses_alpha().then_some(params.alpha),
        feature_set,
        feature_names,
        coefficients,
        intercept,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprs::TriMat;

    fn column(values: &[f64]) -> CsMat<f64> {
        let mut tri = TriMat::new((values.len(), 1));
        for (i, v) in values.iter().enumerate() {
            tri.add_triplet(i, 0, *v);
        }
        tri.to_csr()
    }

    #[test]
    fn fits_a_line_through_two_dots() {
        let x = column(&[1.0, 3.0]);
        let y = [2.0, 6.0];
        let params = ModelParams::new(ModelKind::LinearRegression).check().expect("valid");
        let model = fit(&params, &x, &y, FeatureSet::PuDo, vec!["x".into()], &mut |_, _| {}).expect("fit");
        assert!((model.coefficients[0] - 2.0).abs() < 1e-9);
        assert!(model.intercept.abs() < 1e-9);
    }

    #[test]
    fn duplicate_columns_share_weight_as_minimum_norm_solution() {
        // Two identical columns: any split a+b=2 fits; the minimum-norm one is a=b=1.
        let mut tri = TriMat::new((3, 2));
        for (i, v) in [1.0, 2.0, 4.0].iter().enumerate() {
            tri.add_triplet(i, 0, *v);
            tri.add_triplet(i, 1, *v);
        }
        let x: CsMat<f64> = tri.to_csr();
        let y = [2.0 + 5.0, 4.0 + 5.0, 8.0 + 5.0];
        let params = ModelParams::new(ModelKind::LinearRegression).check().expect("valid");
        let model = fit(&params, &x, &y, FeatureSet::PuDo, vec!["a".into(), "b".into()], &mut |_, _| {})
            .expect("fit");
        assert!((model.coefficients[0] - 1.0).abs() < 1e-8, "{:?}", model.coefficients);
        assert!((model.coefficients[1] - 1.0).abs() < 1e-8);
        assert!((model.intercept - 5.0).abs() < 1e-8);
    }

    #[test]
    fn ridge_shrinks_toward_closed_form() {
        // One centred column: w = Σxy / (Σx² + α).
        let x = column(&[-1.0, 0.0, 1.0]);
        let y = [-2.0, 0.0, 2.0];
        let params = ModelParams::new(ModelKind::Ridge).alpha(2.0).tol(1e-12).check().expect("valid");
        let model = fit(&params, &x, &y, FeatureSet::PuDo, vec!["x".into()], &mut |_, _| {}).expect("fit");
        assert!((model.coefficients[0] - 4.0 / 4.0).abs() < 1e-9);
    }

    #[test]
    fn lasso_soft_thresholds_a_single_column() {
        // One centred column, n = 3: w = S(Σxy, nα) / Σx² = S(4, 3·1) / 2 = 0.5.
        let x = column(&[-1.0, 0.0, 1.0]);
        let y = [-2.0, 0.0, 2.0];
        let params = ModelParams::new(ModelKind::Lasso).alpha(1.0).check().expect("valid");
        let model = fit(&params, &x, &y, FeatureSet::PuDo, vec!["x".into()], &mut |_, _| {}).expect("fit");
        assert!((model.coefficients[0] - 0.5).abs() < 1e-9, "{:?}", model.coefficients);
        let strong = ModelParams::new(ModelKind::Lasso).alpha(5.0).check().expect("valid");
        let model = fit(&strong, &x, &y, FeatureSet::PuDo, vec!["x".into()], &mut |_, _| {}).expect("fit");
        assert_eq!(model.coefficients[0], 0.0);
    }

    #[test]
    fn each_invalid_parameter_has_its_error() {
        let p = |k| ModelParams::new(k);
        assert_eq!(p(ModelKind::Ridge).alpha(-1.0).check(), Err(ParamError::NegativeAlpha(-1.0)));
        assert_eq!(p(ModelKind::Lasso).alpha(f64::NAN).check(), Err(ParamError::NonFiniteAlpha));
        assert_eq!(p(ModelKind::Lasso).tol(0.0).check(), Err(ParamError::NonPositiveTol(0.0)));
        assert_eq!(p(ModelKind::Ridge).max_iter(0).check(), Err(ParamError::ZeroMaxIter));
        assert!(p(ModelKind::LinearRegression).alpha(-1.0).check().is_ok(), "alpha is unused there");
    }

    #[test]
    fn fit_rejects_bad_targets_and_shapes() {
        let x = column(&[1.0, 2.0]);
        let params = ModelParams::new(ModelKind::LinearRegression).check().expect("valid");
        let names = || vec!["x".to_string()];
        let err = fit(&params, &x, &[1.0], FeatureSet::PuDo, names(), &mut |_, _| {});
        assert_eq!(err, Err(FitError::ShapeMismatch { rows: 2, targets: 1 }));
        let err = fit(&params, &x, &[1.0, f64::NAN], FeatureSet::PuDo, names(), &mut |_, _| {});
        assert_eq!(err, Err(FitError::NonFiniteTarget(1)));
    }

    #[test]
    fn artifact_round_trips_and_rejects_garbage() {
        let x = column(&[1.0, 3.0]);
        let params = ModelParams::new(ModelKind::LinearRegression).check().expect("valid");
        let model =
            fit(&params, &x, &[2.0, 6.0], FeatureSet::PuDo, vec!["trip_distance".into()], &mut |_, _| {})
                .expect("fit");
        let back = LinearModel::from_json(&model.to_json()).expect("round trip");
        assert_eq!(back, model);
        assert!(matches!(LinearModel::from_json("{\"kind\": 3}"), Err(ArtifactError::Json(_))));
        let mut broken = model.clone();
        broken.coefficients.push(1.0);
        assert_eq!(LinearModel::from_json(&broken.to_json()), Err(ArtifactError::Inconsistent(1, 2)));
    }
}
