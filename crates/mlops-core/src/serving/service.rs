//! The ride-duration service: the model being served and the request handler.
//!
//! This is the course's Chapter 4 Flask app (`predict.py`) as a pure function: the page's
//! request console, the load tool and the service worker all call [`handle`] with a
//! method, a path and a body, and get back a status, a content type and a body. Nothing
//! here panics on any input; every failure is an answer with a status and a JSON
//! `{"error": ...}` a learner can read.

use serde::{Deserialize, Serialize};

use super::request::{is_known_location, parse_ride, Ride};
use crate::features::{DictVectorizer, FeatureSet};
use crate::models::Model;
use crate::trees::{TreeEncoding, TreeModel, CATEGORICAL_COLUMNS};

/// The content type of every JSON answer (predictions and errors).
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The content type of `GET /ping`'s `PONG`, as Flask sends a returned string.
pub const CONTENT_TYPE_TEXT: &str = "text/plain";

/// Longest piece of a request path echoed in a 404, so a hostile path stays out of logs.
const MAX_ECHOED_PATH_CHARS: usize = 80;

/// A model ready to serve: the artifact (linear or trees), its vectorizer, and the
/// version label answered in `model_version` (a registry version like
/// `nyc-taxi-regressor/3`, or a run id).
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub model: Model,
    /// The columns of a linear or one-hot tree model; `None` for categorical trees,
    /// which read the zones themselves.
    pub vectorizer: Option<DictVectorizer>,
    pub version: String,
    /// For categorical trees: the zones some split lists, per zone column (pickup,
    /// dropoff), sorted. Collected once at load time for the unknown-zone warning.
    split_zones: Option<[Vec<u32>; 2]>,
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

impl ServiceError {
    /// The HTTP status this error answers with: nothing to serve is "unavailable" (503),
    /// a broken model is the server's fault (500).
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::NoModel => 503,
            ServiceError::BadArtifact(_) => 500,
        }
    }
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

/// How the end of an unknown-zone warning reads for each kind of model: what the
/// prediction still rests on when one or both zones tell the model nothing.
struct WarningTails {
    neither_zone: &'static str,
    pickup_only: &'static str,
    dropoff_only: &'static str,
}

const LINEAR_TAILS: WarningTails = WarningTails {
    neither_zone: "the prediction comes from the intercept and distance only",
    pickup_only: "the prediction comes from the intercept, distance and pickup zone only",
    dropoff_only: "the prediction comes from the intercept, distance and dropoff zone only",
};

/// One-hot trees: a column absent from the row is a missing value, and every split on
/// it follows its learned default direction.
const ONE_HOT_TREE_TAILS: WarningTails = WarningTails {
    neither_zone: "the trees take their missing-value branches for it, so the prediction comes from the distance only",
    pickup_only: "the trees take their missing-value branches for the dropoff zone, so the prediction comes from the distance and pickup zone only",
    dropoff_only: "the trees take their missing-value branches for the pickup zone, so the prediction comes from the distance and dropoff zone only",
};

/// Categorical trees: a split sends the zones it lists left and every other zone right.
const CATEGORICAL_TREE_TAILS: WarningTails = WarningTails {
    neither_zone: "every zone split sends a zone it does not list right (“not in the set”), so the prediction comes from the distance only",
    pickup_only: "every dropoff-zone split sends a zone it does not list right (“not in the set”), so the prediction comes from the distance and pickup zone only",
    dropoff_only: "every pickup-zone split sends a zone it does not list right (“not in the set”), so the prediction comes from the distance and dropoff zone only",
};

/// The zones the categorical splits of `model` list, per zone column.
fn zones_in_splits(model: &TreeModel) -> [Vec<u32>; 2] {
    let mut zones: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    for tree in &model.trees {
        for (node, categories) in tree.categories.iter().enumerate() {
            let column = tree.feature.get(node).copied().unwrap_or(-1);
            if let Ok(column @ 0..=1) = usize::try_from(column) {
                zones[column].extend_from_slice(categories);
            }
        }
    }
    for list in &mut zones {
        list.sort_unstable();
        list.dedup();
    }
    zones
}

/// Checks what [`crate::trees::Tree::predict_row`] indexes: every node array as long as
/// `feature`. (Child indices and feature numbers out of range give a wrong answer, not a
/// panic; the artifact loader refuses those.)
fn check_tree_arrays(model: &TreeModel) -> Result<(), String> {
    for (i, tree) in model.trees.iter().enumerate() {
        let n = tree.feature.len();
        let lengths = [
            tree.threshold.len(),
            tree.default_left.len(),
            tree.left.len(),
            tree.right.len(),
            tree.value.len(),
        ];
        if n == 0 || lengths.iter().any(|&len| len != n) {
            return Err(format!("tree {i} of the model has node arrays of different lengths"));
        }
    }
    Ok(())
}

impl LoadedModel {
    pub fn new(model: impl Into<Model>, version: &str) -> Self {
        let model = model.into();
        let vectorizer = model.vectorizer();
        let split_zones = match &model {
            Model::Trees(trees) if trees.encoding == TreeEncoding::Categorical => {
                Some(zones_in_splits(trees))
            }
            _ => None,
        };
        Self { model, vectorizer, version: version.to_string(), split_zones }
    }

    /// Loads a model artifact (the `model.json` a run logs): linear or trees.
    pub fn from_json(bytes: &[u8], version: &str) -> Result<Self, ServiceError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ServiceError::BadArtifact(e.to_string()))?;
        let model = Model::from_json(text).map_err(|e| ServiceError::BadArtifact(e.to_string()))?;
        Ok(Self::new(model, version))
    }

    /// Checks that the fields agree, since they are public and can be put together by
    /// hand: a vectorizer with more columns than the model has coefficients would make
    /// `predict_ride` index past the end. Cheap (no per-name comparison), as every
    /// prediction calls it.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let bad = |message: String| Err(ServiceError::BadArtifact(message));
        match &self.model {
            Model::Linear(linear) => {
                let (names, coefficients) = (linear.feature_names.len(), linear.coefficients.len());
                if names != coefficients {
                    return bad(format!(
                        "the model has {names} feature names but {coefficients} coefficients"
                    ));
                }
                match &self.vectorizer {
                    None => bad("the linear model has no vectorizer to build its columns".to_string()),
                    Some(vectorizer) if vectorizer.n_features() != coefficients => bad(format!(
                        "the vectorizer has {} columns but the model has {coefficients} coefficients",
                        vectorizer.n_features()
                    )),
                    Some(_) => Ok(()),
                }
            }
            Model::Trees(trees) => {
                check_tree_arrays(trees).or_else(bad)?;
                let names = trees.feature_names.len();
                match (trees.encoding, &self.vectorizer) {
                    (TreeEncoding::Categorical, _) if trees.feature_names != CATEGORICAL_COLUMNS => {
                        bad(format!("a categorical tree model must read the columns {CATEGORICAL_COLUMNS:?}"))
                    }
                    (TreeEncoding::Categorical, _) => Ok(()),
                    (TreeEncoding::OneHot, None) => {
                        bad("the one-hot tree model has no vectorizer to build its columns".to_string())
                    }
                    (TreeEncoding::OneHot, Some(vectorizer)) if vectorizer.n_features() != names => {
                        bad(format!(
                            "the vectorizer has {} columns but the trees read {names}",
                            vectorizer.n_features()
                        ))
                    }
                    (TreeEncoding::OneHot, Some(_)) => Ok(()),
                }
            }
        }
    }

    /// Predicts one ride, with a warning when the zones were never seen in training.
    ///
    /// `DictVectorizer` drops unseen categories silently (scikit-learn does too), so the
    /// course's service answers an unknown zone with a plausible-looking number that
    /// ignores where the ride goes; trees route such a zone down their missing-value or
    /// "not in the set" branches, which ignores it just as well. The warning makes that
    /// visible. On an inconsistent model (see [`LoadedModel::validate`]) the duration is
    /// NaN rather than a panic; [`handle`] and the stream check first and answer with an
    /// error instead.
    pub fn predict(&self, ride: &Ride) -> Prediction {
        if let Err(err) = self.validate() {
            return Prediction {
                duration: f64::NAN,
                model_version: self.version.clone(),
                warning: Some(err.to_string()),
            };
        }
        let duration = self.model.predict_ride(
            self.vectorizer.as_ref(),
            ride.pu_location_id,
            ride.do_location_id,
            ride.trip_distance,
        );
        Prediction { duration, model_version: self.version.clone(), warning: self.unknown_zone_warning(ride) }
    }

    /// Like [`LoadedModel::predict`], but an inconsistent model or a non-finite duration
    /// (huge coefficients overflowing) is an error, as the handler and the stream need.
    pub fn try_predict(&self, ride: &Ride) -> Result<Prediction, ServiceError> {
        self.validate()?;
        let prediction = self.predict(ride);
        if !prediction.duration.is_finite() {
            return Err(ServiceError::BadArtifact(format!(
                "the model predicted {} for this ride, which is not a duration",
                prediction.duration
            )));
        }
        Ok(prediction)
    }

    /// Why the zones of `ride` contribute nothing to the prediction, if they do not.
    fn unknown_zone_warning(&self, ride: &Ride) -> Option<String> {
        let (pu, dol) = (ride.pu_location_id, ride.do_location_id);
        let outside: Vec<String> = [("PULocationID", pu), ("DOLocationID", dol)]
            .iter()
            .filter(|(_, id)| !is_known_location(*id))
            .map(|(field, id)| format!("{field} {id}"))
            .collect();
        if let Some(zones) = &self.split_zones {
            // A zone column no split reads is ignored for every zone alike: nothing to warn about.
            let listed = |column: usize, id: i64| {
                zones[column].is_empty()
                    || u32::try_from(id).is_ok_and(|id| zones[column].binary_search(&id).is_ok())
            };
            return zone_warning(
                (listed(0, pu), listed(1, dol)),
                (pu, dol),
                &outside,
                |unknown| format!("no split of the trees lists {}", unknown.join(" or ")),
                &CATEGORICAL_TREE_TAILS,
            );
        }
        let vectorizer = self.vectorizer.as_ref()?;
        let tails = match self.model {
            Model::Linear(_) => &LINEAR_TAILS,
            Model::Trees(_) => &ONE_HOT_TREE_TAILS,
        };
        let seen = |name: String| vectorizer.index_of(&name).is_some();
        match self.model.feature_set() {
            FeatureSet::PuDo => {
                if seen(format!("PU_DO={pu}_{dol}")) {
                    return None;
                }
                let why = if outside.is_empty() {
                    format!("the zone pair {pu}_{dol} (PU_DO) was never seen in training")
                } else {
                    format!("{} not a TLC zone", is_are(&outside))
                };
                Some(format!("{why}; {}", tails.neither_zone))
            }
            FeatureSet::PuAndDo => zone_warning(
                (seen(format!("PULocationID={pu}")), seen(format!("DOLocationID={dol}"))),
                (pu, dol),
                &outside,
                |unknown| format!("{} never seen in training", was_were(unknown)),
                tails,
            ),
        }
    }
}

/// The warning for a model that reads each zone apart: `known` says which of the two
/// zones the model knows, `unknown_reason` says why the others tell it nothing.
fn zone_warning(
    known: (bool, bool),
    (pu, dol): (i64, i64),
    outside: &[String],
    unknown_reason: impl Fn(&[String]) -> String,
    tails: &WarningTails,
) -> Option<String> {
    let unknown: Vec<String> = [("PULocationID", pu, known.0), ("DOLocationID", dol, known.1)]
        .iter()
        .filter(|(_, _, known)| !known)
        .map(|(field, id, _)| format!("{field} {id}"))
        .collect();
    let outside: Vec<String> = outside.iter().filter(|zone| unknown.contains(zone)).cloned().collect();
    let why = if outside.is_empty() {
        unknown_reason(&unknown)
    } else {
        format!("{} not a TLC zone", is_are(&outside))
    };
    match known {
        (true, true) => None,
        (false, false) => Some(format!("{why}; {}", tails.neither_zone)),
        (true, false) => Some(format!("{why}; {}", tails.pickup_only)),
        (false, true) => Some(format!("{why}; {}", tails.dropoff_only)),
    }
}

/// "PULocationID 999 is" / "PULocationID 0 and DOLocationID 999 are".
fn is_are(items: &[String]) -> String {
    if items.len() == 1 {
        format!("{} is", items.join(" and "))
    } else {
        format!("{} are", items.join(" and "))
    }
}

fn was_were(items: &[String]) -> String {
    if items.len() == 1 {
        format!("{} was", items.join(" and "))
    } else {
        format!("{} were", items.join(" and "))
    }
}

/// A JSON error answer, `{"error": "<message>"}`, as every failure of the service gives.
pub fn serve_json_error(status: u16, message: &str) -> ServiceResponse {
    ServiceResponse {
        status,
        content_type: CONTENT_TYPE_JSON.to_string(),
        body: serde_json::json!({ "error": message }).to_string(),
    }
}

/// The routes the service knows, after the base prefix and a leading slash are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Ping,
    Predict,
}

impl Route {
    /// `/ping`, `ping`, `/predict?x=1`: the query string is ignored, as Flask's routing does.
    fn parse(path: &str) -> Option<Self> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        match path.strip_prefix('/').unwrap_or(path) {
            "ping" => Some(Route::Ping),
            "predict" => Some(Route::Predict),
            _ => None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Route::Ping => "GET",
            Route::Predict => "POST",
        }
    }
}

/// Answers one request: `GET /ping`, `POST /predict`; 404 / 405 otherwise.
/// `model` is what is being served, or why nothing can be.
///
/// `GET /ping` answers `PONG` even with no model, as the course's ping does: it says
/// the service is up, not that it can predict. For `/predict`, a missing or broken
/// model is reported before the body is read, since no body could be answered.
pub fn handle(
    model: Result<&LoadedModel, &ServiceError>,
    method: &str,
    path: &str,
    body: &[u8],
) -> ServiceResponse {
    let Some(route) = Route::parse(path) else {
        let shown: String = path.chars().take(MAX_ECHOED_PATH_CHARS).collect();
        return serve_json_error(
            404,
            &format!("there is no {shown:?} here; the service answers GET /ping and POST /predict"),
        );
    };
    if !method.eq_ignore_ascii_case(route.method()) {
        let shown: String = method.chars().take(MAX_ECHOED_PATH_CHARS).collect();
        let path = match route {
            Route::Ping => "/ping",
            Route::Predict => "/predict",
        };
        return serve_json_error(
            405,
            &format!("{path} does not answer {shown:?}; send a {} request", route.method()),
        );
    }
    match route {
        Route::Ping => ServiceResponse {
            status: 200,
            content_type: CONTENT_TYPE_TEXT.to_string(),
            body: "PONG".to_string(),
        },
        Route::Predict => predict_response(model, body),
    }
}

fn predict_response(model: Result<&LoadedModel, &ServiceError>, body: &[u8]) -> ServiceResponse {
    let model = match model {
        Ok(model) => model,
        Err(err) => return serve_json_error(err.status(), &err.to_string()),
    };
    if let Err(err) = model.validate() {
        return serve_json_error(err.status(), &err.to_string());
    }
    let ride = match parse_ride(body) {
        Ok(ride) => ride,
        Err(err) => return serve_json_error(err.status(), &err.to_string()),
    };
    let prediction = match model.try_predict(&ride) {
        Ok(prediction) => prediction,
        Err(err) => return serve_json_error(err.status(), &err.to_string()),
    };
    match serde_json::to_string(&prediction) {
        Ok(body) => ServiceResponse { status: 200, content_type: CONTENT_TYPE_JSON.to_string(), body },
        Err(err) => serve_json_error(500, &format!("the prediction could not be written as JSON: {err}")),
    }
}

/// duration = 3 + 5·[PU_DO=10_50] − 1·[PU_DO=1_2] + 2·trip_distance: small enough to
/// check every answer by hand, shared by the serving tests.
#[cfg(test)]
pub(crate) fn tiny_model() -> LoadedModel {
    let model = crate::models::LinearModel {
        kind: crate::models::ModelKind::LinearRegression,
        alpha: None,
        feature_set: crate::features::FeatureSet::PuDo,
        feature_names: vec!["PU_DO=10_50".into(), "PU_DO=1_2".into(), "trip_distance".into()],
        coefficients: vec![5.0, -1.0, 2.0],
        intercept: 3.0,
        iterations: 1,
    };
    LoadedModel::new(model, "nyc-taxi-regressor/3")
}

/// The linear model inside a test's [`LoadedModel`], to break it on purpose.
#[cfg(test)]
pub(crate) fn linear_mut(model: &mut LoadedModel) -> &mut crate::models::LinearModel {
    match &mut model.model {
        Model::Linear(linear) => linear,
        Model::Trees(_) => panic!("a linear test model"),
    }
}

/// A stump: `feature < threshold` (missing → `default_left`) chooses `left` or `right`.
#[cfg(test)]
pub(crate) fn stump(
    feature: i32,
    threshold: f64,
    default_left: bool,
    left: f64,
    right: f64,
) -> crate::trees::Tree {
    crate::trees::Tree {
        feature: vec![feature, -1, -1],
        threshold: vec![threshold, 0.0, 0.0],
        default_left: vec![default_left, false, false],
        left: vec![1, 0, 0],
        right: vec![2, 0, 0],
        value: vec![0.0, left, right],
        categories: Vec::new(),
        cover: Vec::new(),
    }
}

/// A one-hot GBDT on PU_DO: duration = 10 + (1 if distance < 3 else 5) + (2 if the ride
/// is the pair 10_50 else 0). A missing `PU_DO=10_50` column (any other pair) goes left.
#[cfg(test)]
pub(crate) fn tiny_gbdt() -> LoadedModel {
    let model = TreeModel {
        kind: crate::trees::TreeKind::Gbdt,
        feature_set: FeatureSet::PuDo,
        encoding: TreeEncoding::OneHot,
        feature_names: vec!["PU_DO=10_50".into(), "PU_DO=1_2".into(), "trip_distance".into()],
        base_score: 10.0,
        trees: vec![stump(2, 3.0, false, 1.0, 5.0), stump(0, 0.5, true, 0.0, 2.0)],
        params: vec![("max_depth".into(), "1".into())],
        best_iteration: None,
    };
    LoadedModel::new(model, "gbdt/1")
}

/// A categorical forest: the mean of (8 if the pickup is zone 10 or 20 else 4) and
/// (6 if distance < 2 else 12).
#[cfg(test)]
pub(crate) fn tiny_forest() -> LoadedModel {
    let mut zones = stump(0, 0.0, false, 8.0, 4.0);
    zones.categories = vec![vec![10, 20], Vec::new(), Vec::new()];
    let model = TreeModel {
        kind: crate::trees::TreeKind::RandomForest,
        feature_set: FeatureSet::PuDo,
        encoding: TreeEncoding::Categorical,
        feature_names: CATEGORICAL_COLUMNS.iter().map(|c| c.to_string()).collect(),
        base_score: 0.0,
        trees: vec![zones, stump(2, 2.0, false, 6.0, 12.0)],
        params: vec![("n_estimators".into(), "2".into())],
        best_iteration: None,
    };
    LoadedModel::new(model, "forest/1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{LinearModel, ModelKind};
    use crate::serving::request::MAX_BODY_BYTES;
    use serde_json::{json, Value};

    fn pu_do_model() -> LoadedModel {
        tiny_model()
    }

    /// duration = 10 + 1·[DO=50] + 2·[PU=10] + 0.5·trip_distance
    fn pu_and_do_model() -> LoadedModel {
        let model = LinearModel {
            kind: ModelKind::Ridge,
            alpha: Some(1.0),
            feature_set: FeatureSet::PuAndDo,
            feature_names: vec!["DOLocationID=50".into(), "PULocationID=10".into(), "trip_distance".into()],
            coefficients: vec![1.0, 2.0, 0.5],
            intercept: 10.0,
            iterations: 4,
        };
        LoadedModel::new(model, "run-abc")
    }

    fn ride(pu: i64, dol: i64, miles: f64) -> Ride {
        Ride { pu_location_id: pu, do_location_id: dol, trip_distance: miles }
    }

    fn json_body(response: &ServiceResponse) -> Value {
        assert_eq!(response.content_type, CONTENT_TYPE_JSON, "{response:?}");
        serde_json::from_str(&response.body).expect("the body is JSON")
    }

    fn error_of(response: &ServiceResponse) -> String {
        let body = json_body(response);
        let object = body.as_object().expect("an object");
        assert_eq!(object.len(), 1, "only `error`: {body}");
        object["error"].as_str().expect("a string").to_string()
    }

    const GOOD: &[u8] = br#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 4}"#;

    #[test]
    fn predictions_match_the_model_by_hand() {
        let model = pu_do_model();
        let seen = model.predict(&ride(10, 50, 4.0));
        assert_eq!(
            seen,
            Prediction { duration: 16.0, model_version: "nyc-taxi-regressor/3".into(), warning: None }
        );
        assert_eq!(model.predict(&ride(1, 2, 1.5)).duration, 5.0);
        let both = pu_and_do_model();
        assert_eq!(both.predict(&ride(10, 50, 2.0)).duration, 14.0);
        assert_eq!(both.predict(&ride(10, 50, 2.0)).warning, None);
    }

    #[test]
    fn an_unseen_zone_pair_is_predicted_from_intercept_and_distance_with_a_warning() {
        let prediction = pu_do_model().predict(&ride(50, 10, 2.0));
        assert_eq!(prediction.duration, 3.0 + 2.0 * 2.0);
        assert_eq!(
            prediction.warning.as_deref(),
            Some(
                "the zone pair 50_10 (PU_DO) was never seen in training; \
                 the prediction comes from the intercept and distance only"
            )
        );
    }

    #[test]
    fn a_zone_outside_tlcs_table_is_named_in_the_warning() {
        let prediction = pu_do_model().predict(&ride(999, 50, 1.0));
        assert_eq!(prediction.duration, 5.0);
        let warning = prediction.warning.expect("warned");
        assert!(warning.starts_with("PULocationID 999 is not a TLC zone;"), "{warning}");
        let warning = pu_do_model().predict(&ride(0, -4, 1.0)).warning.expect("warned");
        assert!(warning.starts_with("PULocationID 0 and DOLocationID -4 are not a TLC zone;"), "{warning}");
        // Extreme IDs format without overflow.
        let warning = pu_do_model().predict(&ride(i64::MIN, i64::MAX, 0.0)).warning.expect("warned");
        assert!(warning.contains("-9223372036854775808"));
    }

    #[test]
    fn with_two_categoricals_the_warning_says_which_zone_was_ignored() {
        let model = pu_and_do_model();
        let dropoff_unknown = model.predict(&ride(10, 51, 2.0));
        assert_eq!(dropoff_unknown.duration, 10.0 + 2.0 + 1.0);
        let warning = dropoff_unknown.warning.expect("warned");
        assert_eq!(
            warning,
            "DOLocationID 51 was never seen in training; \
             the prediction comes from the intercept, distance and pickup zone only"
        );
        let pickup_unknown = model.predict(&ride(11, 50, 2.0)).warning.expect("warned");
        assert!(pickup_unknown.ends_with("dropoff zone only"), "{pickup_unknown}");
        let neither = model.predict(&ride(11, 51, 2.0));
        assert_eq!(neither.duration, 11.0);
        assert!(neither
            .warning
            .expect("warned")
            .starts_with("PULocationID 11 and DOLocationID 51 were never"));
        let outside = model.predict(&ride(10, 300, 2.0)).warning.expect("warned");
        assert!(outside.starts_with("DOLocationID 300 is not a TLC zone;"), "{outside}");
    }

    #[test]
    fn ping_answers_pong_with_or_without_a_model() {
        let model = pu_do_model();
        for path in ["/ping", "ping", "/ping?x=1"] {
            let response = handle(Ok(&model), "GET", path, b"");
            assert_eq!(
                response,
                ServiceResponse { status: 200, content_type: "text/plain".into(), body: "PONG".into() }
            );
        }
        assert_eq!(handle(Err(&ServiceError::NoModel), "GET", "/ping", b"").body, "PONG");
    }

    #[test]
    fn predict_answers_duration_and_version() {
        let model = pu_do_model();
        for path in ["/predict", "predict"] {
            let response = handle(Ok(&model), "POST", path, GOOD);
            assert_eq!(response.status, 200);
            assert_eq!(
                json_body(&response),
                json!({"duration": 16.0, "model_version": "nyc-taxi-regressor/3"})
            );
        }
        let warned = handle(
            Ok(&model),
            "POST",
            "/predict",
            br#"{"PULocationID": 7, "DOLocationID": 7, "trip_distance": 1}"#,
        );
        assert_eq!(warned.status, 200);
        let body = json_body(&warned);
        assert_eq!(body["duration"], json!(5.0));
        assert!(body["warning"].as_str().expect("warning").contains("7_7"));
    }

    #[test]
    fn bad_requests_answer_their_status_with_a_json_error() {
        let model = pu_do_model();
        let too_large = vec![b' '; MAX_BODY_BYTES + 1];
        let cases: [(&[u8], u16, &str); 7] = [
            (b"", 400, "empty"),
            (b"{", 400, "not valid JSON"),
            (b"[]", 400, "not an array"),
            (br#"{"PULocationID": 10, "DOLocationID": 50}"#, 400, "`trip_distance` is missing"),
            (br#"{"PULocationID": "10", "DOLocationID": 50, "trip_distance": 1}"#, 400, "the string \"10\""),
            (br#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": -1}"#, 422, "cannot be negative"),
            (br#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 501}"#, 422, "are refused"),
        ];
        for (body, status, fragment) in cases {
            let response = handle(Ok(&model), "POST", "/predict", body);
            assert_eq!(response.status, status, "{response:?}");
            assert!(error_of(&response).contains(fragment), "{response:?}");
        }
        let response = handle(Ok(&model), "POST", "/predict", &too_large);
        assert_eq!(response.status, 413);
        assert!(error_of(&response).contains("the limit is 16384"));
    }

    #[test]
    fn no_model_is_503_and_a_broken_one_500() {
        let no_model = handle(Err(&ServiceError::NoModel), "POST", "/predict", GOOD);
        assert_eq!(no_model.status, 503);
        assert_eq!(error_of(&no_model), "no model is being served; choose one on the service page");
        let bad = ServiceError::BadArtifact("truncated file".into());
        let broken = handle(Err(&bad), "POST", "/predict", GOOD);
        assert_eq!(broken.status, 500);
        assert_eq!(error_of(&broken), "the served model could not be loaded: truncated file");
        // The model's state is reported before the body is read.
        assert_eq!(handle(Err(&ServiceError::NoModel), "POST", "/predict", b"").status, 503);
    }

    #[test]
    fn an_inconsistent_model_is_500_not_a_panic() {
        let mut model = pu_do_model();
        linear_mut(&mut model).coefficients.pop();
        assert!(matches!(model.validate(), Err(ServiceError::BadArtifact(_))));
        assert!(model.predict(&ride(10, 50, 1.0)).duration.is_nan());
        let response = handle(Ok(&model), "POST", "/predict", GOOD);
        assert_eq!(response.status, 500);
        assert!(error_of(&response).contains("3 feature names but 2 coefficients"));

        let mut model = pu_do_model();
        model.vectorizer =
            Some(DictVectorizer::from_feature_names(vec!["a".into(), "b".into(), "c".into(), "d".into()]));
        assert_eq!(handle(Ok(&model), "POST", "/predict", GOOD).status, 500);
        model.vectorizer = None;
        assert_eq!(handle(Ok(&model), "POST", "/predict", GOOD).status, 500);
    }

    #[test]
    fn an_inconsistent_tree_model_is_500_not_a_panic() {
        let mut gbdt = tiny_gbdt();
        gbdt.vectorizer = Some(DictVectorizer::from_feature_names(vec!["PU_DO=10_50".into()]));
        let response = handle(Ok(&gbdt), "POST", "/predict", GOOD);
        assert_eq!(response.status, 500);
        assert!(
            error_of(&response).contains("the vectorizer has 1 columns but the trees read 3"),
            "{response:?}"
        );
        gbdt.vectorizer = None;
        assert!(error_of(&handle(Ok(&gbdt), "POST", "/predict", GOOD)).contains("no vectorizer"));

        let mut gbdt = tiny_gbdt();
        let Model::Trees(trees) = &mut gbdt.model else { panic!("trees") };
        trees.trees[1].value.pop();
        let response = handle(Ok(&gbdt), "POST", "/predict", GOOD);
        assert_eq!(response.status, 500);
        assert!(error_of(&response).contains("tree 1 of the model"), "{response:?}");
        assert!(gbdt.predict(&ride(10, 50, 4.0)).duration.is_nan());

        let mut forest = tiny_forest();
        let Model::Trees(trees) = &mut forest.model else { panic!("trees") };
        trees.feature_names.reverse();
        let response = handle(Ok(&forest), "POST", "/predict", GOOD);
        assert_eq!(response.status, 500);
        assert!(error_of(&response).contains("categorical tree model must read"), "{response:?}");
        // A leaf value that overflows the sum is a 500 as for linear models.
        let mut forest = tiny_forest();
        let Model::Trees(trees) = &mut forest.model else { panic!("trees") };
        trees.trees[0].value[1] = f64::MAX;
        trees.trees[1].value[2] = f64::MAX;
        assert_eq!(handle(Ok(&forest), "POST", "/predict", GOOD).status, 500);
    }

    #[test]
    fn tree_models_predict_by_hand_and_match_the_artifact() {
        let gbdt = tiny_gbdt();
        assert_eq!(
            gbdt.predict(&ride(10, 50, 4.0)),
            Prediction { duration: 17.0, model_version: "gbdt/1".into(), warning: None }
        );
        assert_eq!(gbdt.predict(&ride(1, 2, 1.0)).duration, 11.0);
        let forest = tiny_forest();
        assert_eq!(forest.predict(&ride(10, 50, 4.0)).duration, (8.0 + 12.0) / 2.0);
        assert_eq!(forest.predict(&ride(30, 50, 1.0)).duration, (4.0 + 6.0) / 2.0);
        for model in [&gbdt, &forest] {
            let loaded = LoadedModel::from_json(model.model.to_json().as_bytes(), "v2").expect("loads");
            assert_eq!(loaded.model, model.model);
            for (pu, dol, miles) in [(10, 50, 4.0), (20, 1, 0.0), (999, -3, 2.5), (1, 2, 499.0)] {
                let (ours, back) =
                    (model.predict(&ride(pu, dol, miles)), loaded.predict(&ride(pu, dol, miles)));
                assert_eq!(ours.duration.to_bits(), back.duration.to_bits());
                assert_eq!(ours.warning, back.warning);
            }
        }
        let response = handle(Ok(&forest), "POST", "/predict", GOOD);
        assert_eq!(json_body(&response), json!({"duration": 10.0, "model_version": "forest/1"}));
    }

    #[test]
    fn tree_warnings_say_which_branch_an_unknown_zone_takes() {
        let gbdt = tiny_gbdt();
        let unseen = gbdt.predict(&ride(50, 10, 2.0));
        assert_eq!(unseen.duration, 11.0, "the missing column goes left: + 0");
        assert_eq!(
            unseen.warning.as_deref(),
            Some(
                "the zone pair 50_10 (PU_DO) was never seen in training; the trees take their \
                 missing-value branches for it, so the prediction comes from the distance only"
            )
        );
        let outside = gbdt.predict(&ride(999, 50, 2.0)).warning.expect("warned");
        assert!(outside.starts_with("PULocationID 999 is not a TLC zone; the trees take"), "{outside}");

        let forest = tiny_forest();
        assert_eq!(forest.predict(&ride(10, 50, 1.0)).warning, None, "no split reads DOLocationID at all");
        let unlisted = forest.predict(&ride(30, 50, 1.0));
        assert_eq!(unlisted.duration, 5.0, "an unlisted zone goes right");
        assert_eq!(
            unlisted.warning.as_deref(),
            Some(
                "no split of the trees lists PULocationID 30; every pickup-zone split sends a zone it \
                 does not list right (“not in the set”), so the prediction comes from the distance \
                 and dropoff zone only"
            )
        );
        let outside = forest.predict(&ride(-4, 50, 1.0)).warning.expect("warned");
        assert!(
            outside.starts_with("PULocationID -4 is not a TLC zone; every pickup-zone split"),
            "{outside}"
        );
    }

    #[test]
    fn an_overflowing_prediction_is_500() {
        let mut model = pu_do_model();
        linear_mut(&mut model).coefficients[2] = f64::MAX;
        let response = handle(Ok(&model), "POST", "/predict", GOOD);
        assert_eq!(response.status, 500);
        assert!(error_of(&response).contains("inf"), "{response:?}");
    }

    #[test]
    fn artifacts_load_from_json_or_say_why_not() {
        let model = pu_do_model();
        let loaded = LoadedModel::from_json(model.model.to_json().as_bytes(), "v1").expect("load");
        assert_eq!(loaded.predict(&ride(10, 50, 4.0)).duration, 16.0);
        assert_eq!(loaded.version, "v1");
        assert!(matches!(LoadedModel::from_json(b"\xff\xfe", "v"), Err(ServiceError::BadArtifact(_))));
        assert!(matches!(LoadedModel::from_json(b"{}", "v"), Err(ServiceError::BadArtifact(_))));
        assert_eq!(ServiceError::NoModel.status(), 503);
        assert_eq!(ServiceError::BadArtifact(String::new()).status(), 500);
    }

    #[test]
    fn wrong_methods_are_405_and_unknown_paths_404() {
        let model = pu_do_model();
        for (method, path) in [("POST", "/ping"), ("GET", "/predict"), ("DELETE", "predict"), ("", "/ping")] {
            let response = handle(Ok(&model), method, path, GOOD);
            assert_eq!(response.status, 405, "{method} {path}");
            assert!(!error_of(&response).is_empty());
        }
        assert!(error_of(&handle(Ok(&model), "GET", "/predict", b"")).contains("send a POST request"));
        for path in ["/", "", "/predict/", "/PING", "/api/predict", "//predict", "/pingx"] {
            let response = handle(Ok(&model), "GET", path, b"");
            assert_eq!(response.status, 404, "{path}");
            assert!(error_of(&response).contains("GET /ping and POST /predict"));
        }
        // Lower-case methods are accepted (fetch upper-cases them anyway).
        assert_eq!(handle(Ok(&model), "post", "/predict", GOOD).status, 200);
    }

    #[test]
    fn hostile_paths_and_methods_are_echoed_short_and_escaped() {
        let model = pu_do_model();
        let path = format!("/\"{}\u{0}", "x".repeat(10_000));
        let response = handle(Ok(&model), "GET", &path, b"");
        assert_eq!(response.status, 404);
        assert!(response.body.len() < 300, "{}", response.body.len());
        let method = "G\u{0}\"ET".repeat(1_000);
        let response = handle(Ok(&model), &method, "/ping", b"");
        assert_eq!(response.status, 405);
        assert!(response.body.len() < 400);
    }

    #[test]
    fn serve_json_error_escapes_its_message() {
        let response = serve_json_error(418, "quote \" and newline \n and 🚕");
        assert_eq!(response.status, 418);
        assert_eq!(error_of(&response), "quote \" and newline \n and 🚕");
    }
}
