//! "Export as a service": a zip with a Flask app that loads the model JSON.
//!
//! TO BE IMPLEMENTED (see the task text).

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("the zip file could not be written: {0}")]
    Zip(String),
}

/// The zip's bytes: `predict.py`, `requirements.txt`, `Dockerfile`, `README.md`, `model.json`.
pub fn service_zip(model_json: &str, model_version: &str) -> Result<Vec<u8>, ExportError> {
    let _ = (model_json, model_version);
    Err(ExportError::Zip("not written yet".into()))
}
