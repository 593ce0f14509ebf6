//! Any fitted model the app can store, serve and score: a linear model or a tree
//! ensemble. The JSON artifact of each is its own struct's JSON, so linear artifacts
//! saved before trees existed still load; the `kind` field tells them apart.

use serde::{Deserialize, Serialize};

use crate::features::{DictVectorizer, FeatureSet, PreparedTrips, TripFeatures};
use crate::trees::{TreeArtifactError, TreeEncoding, TreeInput, TreeKind, TreeModel};

use super::{ArtifactError, LinearModel};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    Linear(LinearModel),
    Trees(TreeModel),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    #[error("the model file is not JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Linear(#[from] ArtifactError),
    #[error("{0}")]
    Trees(#[from] TreeArtifactError),
}

impl Model {
    /// The estimator's class as a Python user knows it (`LinearRegression`, `XGBRegressor`, …).
    pub fn class_name(&self) -> &'static str {
        match self {
            Model::Linear(model) => model.kind.class_name(),
            Model::Trees(model) => model.kind.class_name(),
        }
    }

    pub fn feature_set(&self) -> FeatureSet {
        match self {
            Model::Linear(model) => model.feature_set,
            Model::Trees(model) => model.feature_set,
        }
    }

    /// The columns the model reads: vectorizer names, or the categorical encoding's three.
    pub fn feature_names(&self) -> &[String] {
        match self {
            Model::Linear(model) => &model.feature_names,
            Model::Trees(model) => &model.feature_names,
        }
    }

    /// The vectorizer that turns rides into this model's columns; `None` for models that
    /// read the raw zones (categorical trees).
    pub fn vectorizer(&self) -> Option<DictVectorizer> {
        match self {
            Model::Trees(model) if model.encoding == TreeEncoding::Categorical => None,
            _ => Some(DictVectorizer::from_feature_names(self.feature_names().to_vec())),
        }
    }

    /// Predictions for prepared trips. `vectorizer` is [`Model::vectorizer`], passed in so
    /// that callers scoring many batches build it once.
    pub fn predict_trips(&self, vectorizer: Option<&DictVectorizer>, trips: &PreparedTrips) -> Vec<f64> {
        let set = self.feature_set();
        match (self, vectorizer) {
            (Model::Trees(model), _) if model.encoding == TreeEncoding::Categorical => {
                model.predict_columns(&trips.pu_location, &trips.do_location, &trips.trip_distance)
            }
            (model, Some(vectorizer)) => {
                let matrix = vectorizer.transform(&TripFeatures { set, trips });
                match model {
                    Model::Linear(linear) => linear.predict(&matrix),
                    Model::Trees(trees) => trees.predict(TreeInput::OneHot(&matrix)),
                }
            }
            (model, None) => model.predict_trips(model.vectorizer().as_ref(), trips),
        }
    }

    /// The prediction for one ride (the `/predict` endpoint).
    pub fn predict_ride(
        &self,
        vectorizer: Option<&DictVectorizer>,
        pu: i64,
        dol: i64,
        trip_distance: f64,
    ) -> f64 {
        match (self, vectorizer) {
            (Model::Trees(model), _) if model.encoding == TreeEncoding::Categorical => {
                model.predict_row(&|f| crate::trees::model::categorical_value(f, pu, dol, trip_distance))
            }
            (Model::Linear(model), Some(vectorizer)) => {
                model.predict_ride(vectorizer, pu, dol, trip_distance)
            }
            (Model::Trees(model), Some(vectorizer)) => {
                let row = crate::features::ride_features(model.feature_set, pu, dol, trip_distance);
                let mut features = vectorizer.transform_one(&row);
                features.sort_unstable_by_key(|&(i, _)| i);
                model.predict_row(&|f| {
                    features.binary_search_by_key(&f, |&(i, _)| i).ok().map(|k| features[k].1)
                })
            }
            (model, None) => model.predict_ride(model.vectorizer().as_ref(), pu, dol, trip_distance),
        }
    }

    /// What the run and model pages show about a model, as (label, value) rows: the
    /// intercept and largest coefficients of a linear model; the trees, leaves, depth and
    /// hyperparameters of an ensemble.
    pub fn summary(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            ("estimator".to_string(), self.class_name().to_string()),
            ("features".to_string(), self.feature_set().label().to_string()),
            ("columns".to_string(), self.feature_names().len().to_string()),
        ];
        let mut row = |label: &str, value: String| rows.push((label.to_string(), value));
        match self {
            Model::Linear(model) => {
                if let Some(alpha) = model.alpha {
                    row("alpha", alpha.to_string());
                }
                row("intercept", format!("{:.4}", model.intercept));
                row("solver iterations", model.iterations.to_string());
                let mut largest: Vec<(&String, f64)> =
                    model.feature_names.iter().zip(model.coefficients.iter().copied()).collect();
                largest.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                let shown: Vec<String> =
                    largest.iter().take(5).map(|(name, value)| format!("{name} {value:+.3}")).collect();
                row("largest coefficients", shown.join(", "));
            }
            Model::Trees(model) => {
                let encoding = match model.encoding {
                    TreeEncoding::OneHot => "one-hot columns (absent = missing)",
                    TreeEncoding::Categorical => "zones as categories",
                };
                row("encoding", encoding.to_string());
                row("trees", model.trees.len().to_string());
                row("leaves", model.trees.iter().map(|tree| tree.n_leaves()).sum::<usize>().to_string());
                row("depth", model.trees.iter().map(|tree| tree.depth()).max().unwrap_or(0).to_string());
                if model.kind == TreeKind::Gbdt {
                    row("base score", format!("{:.4}", model.base_score));
                }
                if let Some(best) = model.best_iteration {
                    row("best iteration", best.to_string());
                }
                for (name, value) in &model.params {
                    row(name, value.clone());
                }
            }
        }
        rows
    }

    pub fn to_json(&self) -> String {
        match self {
            Model::Linear(model) => model.to_json(),
            Model::Trees(model) => model.to_json(),
        }
    }

    /// Reads either artifact, telling them apart by `kind`.
    pub fn from_json(text: &str) -> Result<Self, ModelFileError> {
        #[derive(Deserialize)]
        struct Kind {
            kind: serde_json::Value,
        }
        let kind = serde_json::from_str::<Kind>(text).map_err(|e| ModelFileError::Json(e.to_string()))?;
        let is_trees = serde_json::from_value::<TreeKind>(kind.kind).is_ok();
        if is_trees {
            Ok(Model::Trees(TreeModel::from_json(text)?))
        } else {
            Ok(Model::Linear(LinearModel::from_json(text)?))
        }
    }
}

impl From<LinearModel> for Model {
    fn from(model: LinearModel) -> Self {
        Model::Linear(model)
    }
}

impl From<TreeModel> for Model {
    fn from(model: TreeModel) -> Self {
        Model::Trees(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureSet;
    use crate::trees::Tree;

    fn leaf(value: f64) -> Tree {
        Tree {
            feature: vec![-1],
            threshold: vec![0.0],
            default_left: vec![false],
            left: vec![0],
            right: vec![0],
            value: vec![value],
            ..Tree::default()
        }
    }

    #[test]
    fn summaries_show_coefficients_or_trees() {
        let linear = Model::Linear(LinearModel {
            kind: super::super::ModelKind::Ridge,
            alpha: Some(0.5),
            feature_set: FeatureSet::PuDo,
            feature_names: vec!["a".into(), "b".into(), "trip_distance".into()],
            coefficients: vec![0.1, -3.0, 2.0],
            intercept: 4.0,
            iterations: 7,
        });
        let rows = linear.summary();
        let get = |rows: &[(String, String)], label: &str| {
            rows.iter().find(|(l, _)| l == label).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        assert_eq!(get(&rows, "estimator"), "Ridge");
        assert_eq!(get(&rows, "alpha"), "0.5");
        assert_eq!(get(&rows, "largest coefficients"), "b -3.000, trip_distance +2.000, a +0.100");

        let mut stump = leaf(0.0);
        stump.feature = vec![0, -1, -1];
        stump.threshold = vec![1.0, 0.0, 0.0];
        stump.default_left = vec![true, false, false];
        stump.left = vec![1, 0, 0];
        stump.right = vec![2, 0, 0];
        stump.value = vec![0.0, 1.0, 2.0];
        let trees = Model::Trees(TreeModel {
            kind: TreeKind::Gbdt,
            feature_set: FeatureSet::PuAndDo,
            encoding: TreeEncoding::OneHot,
            feature_names: vec!["trip_distance".into()],
            base_score: 12.5,
            trees: vec![stump, leaf(0.5)],
            params: vec![("max_depth".into(), "6".into())],
            best_iteration: Some(1),
        });
        let rows = trees.summary();
        assert_eq!(get(&rows, "estimator"), "XGBRegressor");
        assert_eq!(
            (get(&rows, "trees"), get(&rows, "leaves"), get(&rows, "depth")),
            ("2".into(), "3".into(), "1".into())
        );
        assert_eq!(get(&rows, "base score"), "12.5000");
        assert_eq!(get(&rows, "best iteration"), "1");
        assert_eq!(get(&rows, "max_depth"), "6");
    }
}
