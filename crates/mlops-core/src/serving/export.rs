//! "Export as a service": a zip with a Flask app that loads the model JSON.
//!
//! The course deploys its model as a Flask app in a Docker image, unpickling a
//! scikit-learn pipeline. Our models are JSON artifacts, so the exported app reads
//! `model.json` with the standard library and recomputes the prediction in plain Python:
//! no pickle (loading one runs code), no scikit-learn, XGBoost or numpy to install, and
//! the very arithmetic of [`crate::models::Model::predict_ride`] — a linear model's sum,
//! or a tree ensemble's walk to the leaves and their sum (both encodings, boosting and
//! forests) — so the learner's container answers what the app's service page answered
//! (the `exported_service` test checks 1,000 rides per model against a real gunicorn).
//!
//! The texts live next to this file (`export/predict.py`, …) so they can be read, linted
//! and run as they are; only the model version is filled in.

use std::io::Write as _;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("the zip file could not be written: {0}")]
    Zip(String),
}

/// The Flask app, with `"__MODEL_VERSION__"` where the version goes.
pub const PREDICT_PY: &str = include_str!("export/predict.py");
/// Flask and gunicorn, pinned: both pure Python, so `pip install` is quick everywhere.
pub const REQUIREMENTS_TXT: &str = include_str!("export/requirements.txt");
pub const DOCKERFILE: &str = include_str!("export/Dockerfile");
/// How to run the service, with `__MODEL_VERSION__` where the version goes.
pub const README_MD: &str = include_str!("export/README.md");

/// The files of the zip, in the order they are written.
pub const FILE_NAMES: [&str; 5] = ["README.md", "Dockerfile", "requirements.txt", "predict.py", "model.json"];

const VERSION_PLACEHOLDER: &str = "__MODEL_VERSION__";

/// `predict.py` answering `model_version` (unless the `MODEL_VERSION` variable overrides it).
pub fn predict_py(model_version: &str) -> String {
    // A JSON string is a valid Python string literal (same escapes), whatever the version holds.
    let literal = serde_json::Value::String(model_version.to_string()).to_string();
    PREDICT_PY.replace(&format!("\"{VERSION_PLACEHOLDER}\""), &literal)
}

/// The README naming the version it serves.
pub fn readme(model_version: &str) -> String {
    README_MD.replace(VERSION_PLACEHOLDER, model_version)
}

/// The zip's bytes: `predict.py`, `requirements.txt`, `Dockerfile`, `README.md`, `model.json`.
///
/// Every entry has the same fixed date, so the same model gives the same bytes (a
/// download can be compared or cached, and the zip has no clock to ask in the browser).
pub fn service_zip(model_json: &str, model_version: &str) -> Result<Vec<u8>, ExportError> {
    let zip_error = |e: &dyn std::fmt::Display| ExportError::Zip(e.to_string());
    let date = DateTime::from_date_and_time(2024, 1, 1, 0, 0, 0).map_err(|e| zip_error(&e))?;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(date)
        .unix_permissions(0o644);
    let predict = predict_py(model_version);
    let readme = readme(model_version);
    let contents: [&str; 5] = [&readme, DOCKERFILE, REQUIREMENTS_TXT, &predict, model_json];
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in FILE_NAMES.into_iter().zip(contents) {
        zip.start_file(name, options).map_err(|e| zip_error(&e))?;
        zip.write_all(text.as_bytes()).map_err(|e| zip_error(&e))?;
    }
    Ok(zip.finish().map_err(|e| zip_error(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
        (0..archive.len())
            .map(|i| {
                let mut file = archive.by_index(i).expect("an entry");
                assert_eq!(file.compression(), CompressionMethod::Deflated);
                let mut text = String::new();
                file.read_to_string(&mut text).expect("UTF-8 text");
                (file.name().to_string(), text)
            })
            .collect()
    }

    const MODEL: &str = r#"{"kind":"linear_regression","alpha":null,"feature_set":"pu_do","feature_names":["PU_DO=1_2","trip_distance"],"coefficients":[5.0,2.0],"intercept":3.0,"iterations":1}"#;

    #[test]
    fn the_zip_holds_the_five_files_and_the_model_as_given() {
        let files = unzip(&service_zip(MODEL, "nyc-taxi-regressor/3").expect("zips"));
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, FILE_NAMES);
        let text = |name: &str| files.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str()).expect(name);
        assert_eq!(text("model.json"), MODEL);
        let model = crate::models::LinearModel::from_json(text("model.json")).expect("still a model");
        assert_eq!(model.intercept, 3.0);
        assert_eq!(text("requirements.txt"), "flask==3.1.3\ngunicorn==26.2.0\n");
        assert!(text("Dockerfile").contains("gunicorn\", \"--bind\", \"0.0.0.0:9696\", \"predict:app\""));
        assert!(text("README.md").contains("model version `nyc-taxi-regressor/3`"));
    }

    #[test]
    fn predict_py_loads_json_and_never_a_pickle() {
        let predict = predict_py("run-1");
        assert!(!predict.to_lowercase().contains("pickle"), "no code runs when the model loads");
        assert!(predict.contains("json.load(file)"));
        assert!(predict.contains(r#"MODEL_VERSION = os.environ.get("MODEL_VERSION", "run-1")"#));
        assert!(!predict.contains(VERSION_PLACEHOLDER));
    }

    #[test]
    fn an_odd_version_stays_a_python_string() {
        let predict = predict_py("a\"b\\c\nd");
        assert!(
            predict.contains(r#"os.environ.get("MODEL_VERSION", "a\"b\\c\nd")"#),
            "escaped as JSON/Python"
        );
    }

    #[test]
    fn the_same_model_gives_the_same_bytes() {
        let first = service_zip(MODEL, "v1").expect("zips");
        assert_eq!(first, service_zip(MODEL, "v1").expect("zips"));
        assert_ne!(first, service_zip(MODEL, "v2").expect("zips"));
    }
}
