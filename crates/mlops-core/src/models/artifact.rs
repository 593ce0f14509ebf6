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
