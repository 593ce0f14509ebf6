//! The ride-duration service: the model being served and the request handler.
//!
//! TO BE IMPLEMENTED (see the task text).

use serde::{Deserialize, Serialize};

use super::request::Ride;
use crate::features::DictVectorizer;
use crate::models::LinearModel;

/// A model ready to serve: the artifact, its vectorizer, and the version label answered
/// in `model_version` (a registry version like `nyc-taxi-regressor/3`, or a run id).
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub model: LinearModel,
    pub vectorizer: DictVectorizer,
    pub version: String,
}

/// Why the service cannot answer with a model (HTTP 5xx).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ServiceError {
    #[error("no model is being served; choose one on the service page")]
    NoModel,
    #[error("the served model could not be loaded: {0}")]
    BadArtifact(String),
}

/// One prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub duration: f64,
    pub model_version: String,
    /// E.g. "PULocationID 999 is not a TLC zone; predicted from the intercept and distance".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// An HTTP-style answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl LoadedModel {
    pub fn new(model: LinearModel, version: &str) -> Self {
        let vectorizer = model.vectorizer();
        Self { model, vectorizer, version: version.to_string() }
    }

    /// Loads a model artifact (the `model.json` a run logs).
    pub fn from_json(bytes: &[u8], version: &str) -> Result<Self, ServiceError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ServiceError::BadArtifact(e.to_string()))?;
        let model = LinearModel::from_json(text).map_err(|e| ServiceError::BadArtifact(e.to_string()))?;
        Ok(Self::new(model, version))
    }

    pub fn predict(&self, ride: &Ride) -> Prediction {
        let _ = ride;
        Prediction { duration: 0.0, model_version: self.version.clone(), warning: None }
    }
}

/// Answers one request: `GET /ping`, `POST /predict`; 404 / 405 otherwise.
/// `model` is what is being served, or why nothing can be.
pub fn handle(
    model: Result<&LoadedModel, &ServiceError>,
    method: &str,
    path: &str,
    body: &[u8],
) -> ServiceResponse {
    let _ = (model, method, path, body);
    ServiceResponse { status: 501, content_type: "text/plain".into(), body: String::new() }
}
