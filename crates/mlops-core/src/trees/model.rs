//! Fitted tree ensembles: the JSON model artifact and its prediction.
//!
//! A tree is stored as flat arrays (one entry per node) rather than nested objects so
//! that the artifact stays compact for a thousand deep trees, and so that the exported
//! Python service can walk it with a ten-line loop.

use serde::{Deserialize, Serialize};
use sprs::CsMat;

use super::predict;
use crate::features::FeatureSet;

/// From this many rows on, prediction routes rows through each tree together.
const BATCH_ROWS: usize = 64;

/// Which ensemble a [`TreeModel`] is: boosted trees add up, a forest averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeKind {
    Gbdt,
    RandomForest,
}

impl TreeKind {
    /// The estimator class a learner knows from Python (logged as `estimator_class`).
    pub fn class_name(self) -> &'static str {
        match self {
            TreeKind::Gbdt => "XGBRegressor",
            TreeKind::RandomForest => "RandomForestRegressor",
        }
    }
}

/// How the zones reach the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeEncoding {
    /// The `DictVectorizer` columns of the feature set (one-hot zones, `trip_distance`);
    /// a column absent from a row's sparse vector is a missing value, as in XGBoost.
    #[default]
    OneHot,
    /// Three columns: `PULocationID` and `DOLocationID` split as categories (a set of
    /// zones goes left), `trip_distance` as a number.
    Categorical,
}

/// The feature names of [`TreeEncoding::Categorical`] models, in column order.
pub const CATEGORICAL_COLUMNS: [&str; 3] = ["PULocationID", "DOLocationID", "trip_distance"];

/// One decision tree. Node 0 is the root; `feature[n] < 0` marks a leaf.
///
/// A numeric split sends a row left when its value is `< threshold`; a categorical split
/// (non-empty `categories[n]`) when its category is in the sorted list. A missing value
/// goes where `default_left` says; an unseen category goes right.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tree {
    pub feature: Vec<i32>,
    pub threshold: Vec<f64>,
    pub default_left: Vec<bool>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    /// The leaf's output (for GBDT already multiplied by the learning rate); on inner
    /// nodes the value the node would have as a leaf, shown when a learner inspects a tree.
    pub value: Vec<f64>,
    /// Categories (zone ids) sent left by a categorical split; empty elsewhere. Omitted
    /// from the JSON when no node of the tree splits on a category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Vec<u32>>,
    /// Training rows (GBDT: hessian sum) that reached each node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cover: Vec<f64>,
}

impl Tree {
    pub fn n_nodes(&self) -> usize {
        self.feature.len()
    }

    pub fn n_leaves(&self) -> usize {
        self.feature.iter().filter(|&&f| f < 0).count()
    }

    /// Depth of the deepest leaf (a lone root has depth 0).
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            if node >= self.feature.len() || depth > self.feature.len() {
                break;
            }
            deepest = deepest.max(depth);
            if self.feature[node] >= 0 {
                stack.push((self.left[node] as usize, depth + 1));
                stack.push((self.right[node] as usize, depth + 1));
            }
        }
        deepest
    }

    /// The leaf value for a row whose feature `f` is `value(f)` (`None` = missing).
    pub fn predict_row(&self, value: &dyn Fn(usize) -> Option<f64>) -> f64 {
        let mut node = 0usize;
        // A well-formed tree reaches a leaf in fewer steps than it has nodes; the bound
        // keeps a hand-edited artifact with a cycle from hanging the tab.
        for _ in 0..=self.feature.len() {
            let Some(&feature) = self.feature.get(node) else { return 0.0 };
            if feature < 0 {
                return self.value[node];
            }
            let go_left = match value(feature as usize) {
                None => self.default_left[node],
                Some(x) => match self.categories.get(node).filter(|c| !c.is_empty()) {
                    Some(categories) => category_of(x).is_some_and(|c| categories.binary_search(&c).is_ok()),
                    None => x < self.threshold[node],
                },
            };
            node = if go_left { self.left[node] } else { self.right[node] } as usize;
        }
        0.0
    }

    /// Checks the arrays agree and every child index points inside the tree.
    pub(crate) fn check(&self, n_features: usize) -> Result<(), String> {
        let n = self.feature.len();
        let lengths = [
            self.threshold.len(),
            self.default_left.len(),
            self.left.len(),
            self.right.len(),
            self.value.len(),
        ];
        if lengths.iter().any(|&len| len != n) {
            return Err("its node arrays have different lengths".into());
        }
        if n == 0 {
            return Err("it has no nodes".into());
        }
        if !self.categories.is_empty() && self.categories.len() != n {
            return Err("its category lists do not match its nodes".into());
        }
        for node in 0..n {
            let feature = self.feature[node];
            if feature >= 0 {
                if feature as usize >= n_features {
                    return Err(format!(
                        "node {node} splits on feature {feature}, but the model has {n_features}"
                    ));
                }
                if self.left[node] as usize >= n || self.right[node] as usize >= n {
                    return Err(format!("node {node} points to a child outside the tree"));
                }
                if self.left[node] as usize <= node || self.right[node] as usize <= node {
                    return Err(format!("node {node} points back up the tree"));
                }
            }
            if !self.value[node].is_finite() {
                return Err(format!("node {node} holds a value that is not a finite number"));
            }
        }
        Ok(())
    }
}

/// A category id from a feature value: zone ids are small non-negative integers.
pub(crate) fn category_of(x: f64) -> Option<u32> {
    (x >= 0.0 && x <= u32::MAX as f64 && x.fract() == 0.0).then_some(x as u32)
}

/// A fitted GBDT or random forest: the JSON model artifact runs store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    pub kind: TreeKind,
    pub feature_set: FeatureSet,
    pub encoding: TreeEncoding,
    /// Column names the trees' feature indices refer to: the vectorizer's names for
    /// one-hot models, [`CATEGORICAL_COLUMNS`] for categorical ones.
    pub feature_names: Vec<String>,
    /// GBDT's starting prediction (the training mean, as XGBoost estimates it); 0 for forests.
    pub base_score: f64,
    pub trees: Vec<Tree>,
    /// Every hyperparameter as logged, for display and reproduction.
    #[serde(default)]
    pub params: Vec<(String, String)>,
    /// Boosting round with the best validation score when early stopping was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_iteration: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeArtifactError {
    #[error("the model file is not valid JSON for a tree model: {0}")]
    Json(String),
    #[error("the model file's tree {tree} is broken: {reason}")]
    BrokenTree { tree: usize, reason: String },
    #[error("a categorical tree model must have the columns {CATEGORICAL_COLUMNS:?}")]
    WrongColumns,
}

impl TreeModel {
    /// The prediction for one row, given its features by index (`None` = missing).
    pub fn predict_row(&self, value: &dyn Fn(usize) -> Option<f64>) -> f64 {
        // Summed in tree order from 0, as the batch prediction and training's history add.
        let total = self.trees.iter().fold(0.0, |sum, tree| sum + tree.predict_row(value));
        self.finish(total)
    }

    /// The ensemble's prediction from the sum of its trees' leaf values.
    fn finish(&self, total: f64) -> f64 {
        match self.kind {
            TreeKind::Gbdt => self.base_score + total,
            TreeKind::RandomForest if self.trees.is_empty() => self.base_score,
            TreeKind::RandomForest => total / self.trees.len() as f64,
        }
    }

    /// Predictions for a one-hot model's design matrix (rows of the vectorizer's columns).
    pub fn predict_csr(&self, matrix: &CsMat<f64>) -> Vec<f64> {
        if !matrix.is_csr() {
            return self.predict_csr(&matrix.to_csr());
        }
        self.predict_batch(predict::Rows::Sparse(matrix))
    }

    /// Predictions for a categorical model, from the raw columns.
    pub fn predict_columns(&self, pu: &[i64], dol: &[i64], trip_distance: &[f64]) -> Vec<f64> {
        self.predict_batch(predict::Rows::Categorical { pu, dol, trip_distance })
    }

    /// Many rows at once: each tree routes them all (see [`predict`]); a few rows walk
    /// the trees one by one. Both give the same bits.
    fn predict_batch(&self, rows: predict::Rows<'_>) -> Vec<f64> {
        let n_rows = rows.n_rows();
        let mut totals = vec![0.0; n_rows];
        if n_rows >= BATCH_ROWS {
            predict::add_trees(&self.trees, rows, self.feature_names.len(), &mut totals);
        } else {
            for (r, total) in totals.iter_mut().enumerate() {
                *total =
                    self.trees.iter().fold(0.0, |sum, tree| sum + tree.predict_row(&|f| rows.value(r, f)));
            }
        }
        totals.into_iter().map(|total| self.finish(total)).collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, TreeArtifactError> {
        let model: Self = serde_json::from_str(text).map_err(|e| TreeArtifactError::Json(e.to_string()))?;
        if model.encoding == TreeEncoding::Categorical && model.feature_names != CATEGORICAL_COLUMNS {
            return Err(TreeArtifactError::WrongColumns);
        }
        for (i, tree) in model.trees.iter().enumerate() {
            tree.check(model.feature_names.len())
                .map_err(|reason| TreeArtifactError::BrokenTree { tree: i, reason })?;
        }
        Ok(model)
    }
}

/// Feature `f` of a ride in the categorical encoding.
pub fn categorical_value(f: usize, pu: i64, dol: i64, trip_distance: f64) -> Option<f64> {
    match f {
        0 => Some(pu as f64),
        1 => Some(dol as f64),
        2 => trip_distance.is_finite().then_some(trip_distance),
        _ => None,
    }
}
