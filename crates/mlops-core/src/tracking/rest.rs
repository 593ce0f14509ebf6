//! A client for MLflow's REST API 2.0, so runs made in the browser can go to a team's
//! real MLflow tracking server and be read there with MLflow's own tools.
//!
//! The core does no I/O: [`RestClient`] builds each request and reads each answer, and an
//! [`HttpTransport`] carries the bytes — `fetch` in the app, a plain TCP client in the
//! tests. Everything MLflow's server insists on lives here: its JSON shapes, its batch
//! limits, its artifact proxy paths and its error codes.
//!
//! Browser pages reach the server only if its CORS check accepts the page's origin.
//! MLflow ≥ 3.5 accepts `http://localhost:*` and `http://127.0.0.1:*` by default; any
//! other origin needs `mlflow server --cors-allowed-origins <origin>`.
//!
//! ```
//! # use mlops_core::tracking::rest::{HttpResponse, HttpTransport, RestClient};
//! struct Offline;
//! impl HttpTransport for Offline {
//!     async fn send(&self, _: &str, _: &str, _: Option<String>) -> Result<HttpResponse, String> {
//!         Err("connection refused".into())
//!     }
//!     async fn send_bytes(&self, _: &str, _: &str, _: &[u8], _: &str) -> Result<HttpResponse, String> {
//!         Err("connection refused".into())
//!     }
//! }
//! let client = RestClient::new("http://127.0.0.1:5000/", Offline).unwrap();
//! assert_eq!(client.base_url(), "http://127.0.0.1:5000");
//! let err = futures::executor::block_on(client.create_experiment("taxi")).unwrap_err();
//! assert!(err.to_string().contains("could not be reached"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::client::{check_artifact_path, MetricEntry};
use super::entities::{tags, Metric, Run, RunStatus};
use super::limits::{MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS};
use super::transfer::ExportedRun;
use super::TrackingError;

/// Where MLflow's tracking and registry endpoints live under the server's address.
const API: &str = "/api/2.0/mlflow";
/// Where MLflow's artifact proxy (`mlflow server --serve-artifacts`, the default) lives.
const ARTIFACTS_API: &str = "/api/2.0/mlflow-artifacts/artifacts";
/// MLflow refuses a `log-batch` holding more metrics, params and tags than this in all.
pub const MAX_BATCH_ENTITIES: usize = 1_000;
/// MLflow refuses `log-batch` bodies over 1 MB; we stay below with room for the envelope.
pub const MAX_BATCH_BYTES: usize = 900_000;
/// Runs per `runs/search` page; MLflow's own clients ask for 1000 too.
const SEARCH_PAGE_SIZE: usize = 1_000;
/// How much of a non-JSON error page goes into the message.
const ERROR_TEXT_CHARS: usize = 200;

/// The tag that says which local run a server run was pushed from, so pushing again
/// finds it instead of making a duplicate.
pub const LOCAL_RUN_ID_TAG: &str = "mlops_lab.local_run_id";
/// Where a pushed run keeps its local parent's id when the parent is not on the server.
pub const LOCAL_PARENT_RUN_ID_TAG: &str = "mlops_lab.local_parent_run_id";

/// An HTTP answer: the status and the raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// How requests leave the core. The app implements it with the browser's `fetch`; the
/// tests with a tiny TCP client.
///
/// Implementations return `Err` only when no answer came at all (refused connection,
/// DNS failure, a CORS refusal in the browser); any HTTP status is an `Ok`.
#[allow(async_fn_in_trait)]
pub trait HttpTransport {
    /// A JSON request. With a body, send `Content-Type: application/json` — MLflow
    /// refuses POSTs without it. `GET`s carry their arguments in the URL's query.
    async fn send(&self, method: &str, url: &str, json_body: Option<String>) -> Result<HttpResponse, String>;

    /// A request whose body is raw bytes (artifact uploads: `PUT` with the file as is).
    async fn send_bytes(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<HttpResponse, String>;
}

/// A shared transport works too, so one `fetch` wrapper can serve several clients.
impl<T: HttpTransport> HttpTransport for &T {
    async fn send(&self, method: &str, url: &str, json_body: Option<String>) -> Result<HttpResponse, String> {
        (**self).send(method, url, json_body).await
    }

    async fn send_bytes(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<HttpResponse, String> {
        (**self).send_bytes(method, url, body, content_type).await
    }
}

/// A run as the server returns it from a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteRun {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// Where the server keeps this run's files, e.g. `mlflow-artifacts:/1/<run id>/artifacts`.
    pub artifact_uri: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric, as MLflow reports it in searches.
    pub metrics: BTreeMap<String, Metric>,
    pub tags: BTreeMap<String, String>,
}

/// MLflow's REST API over any [`HttpTransport`].
#[derive(Debug)]
pub struct RestClient<T> {
    /// The server's address without a trailing slash, e.g. `http://127.0.0.1:5000`.
    base_url: String,
    transport: T,
}

// ----- MLflow's JSON shapes (only the fields we read) -----

#[derive(Debug, Default, Deserialize)]
struct WireKeyValue {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct WireMetric {
    key: String,
    #[serde(deserialize_with = "lenient_f64")]
    value: f64,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    step: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct WireRunInfo {
    #[serde(default)]
    run_id: String,
    /// Older servers name the id only `run_uuid`.
    #[serde(default)]
    run_uuid: String,
    #[serde(default)]
    experiment_id: String,
    #[serde(default)]
    run_name: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    status: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    end_time: Option<i64>,
    #[serde(default)]
    artifact_uri: String,
    #[serde(default)]
    lifecycle_stage: String,
}

impl WireRunInfo {
    fn id(&self) -> &str {
        if self.run_id.is_empty() {
            &self.run_uuid
        } else {
            &self.run_id
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct WireRunData {
    #[serde(default)]
    metrics: Vec<WireMetric>,
    #[serde(default)]
    params: Vec<WireKeyValue>,
    #[serde(default)]
    tags: Vec<WireKeyValue>,
}

#[derive(Debug, Deserialize)]
struct WireRun {
    info: WireRunInfo,
    #[serde(default)]
    data: WireRunData,
}

#[derive(Debug, Deserialize)]
struct RunResponse {
    run: WireRun,
}

#[derive(Debug, Default, Deserialize)]
struct SearchRunsResponse {
    #[serde(default)]
    runs: Vec<WireRun>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireExperiment {
    experiment_id: String,
    #[serde(default)]
    lifecycle_stage: String,
}

#[derive(Debug, Deserialize)]
struct ExperimentResponse {
    experiment: WireExperiment,
}

#[derive(Debug, Deserialize)]
struct CreateExperimentResponse {
    experiment_id: String,
}

#[derive(Debug, Deserialize)]
struct WireModelVersion {
    /// A string in MLflow's JSON (`"3"`); a number is accepted too.
    version: Value,
}

#[derive(Debug, Deserialize)]
struct ModelVersionResponse {
    model_version: WireModelVersion,
}

/// MLflow's error body.
#[derive(Debug, Deserialize)]
struct WireError {
    error_code: String,
    #[serde(default)]
    message: String,
}

/// MLflow writes int64 fields as JSON numbers, protobuf's JSON as strings; take both.
fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// Python's JSON writes `NaN` and `Infinity` bare, protobuf's as strings; serde_json
/// reads neither, so a metric logged as NaN by another client arrives as a string.
fn lenient_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.as_str() {
            "Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    })
}

impl WireRun {
    fn into_remote(self) -> RemoteRun {
        let info = self.info;
        let run_id = info.id().to_string();
        let mut metrics: BTreeMap<String, Metric> = BTreeMap::new();
        for wire in self.data.metrics {
            let point = Metric {
                value: wire.value,
                timestamp: wire.timestamp.unwrap_or(0),
                step: wire.step.unwrap_or(0),
            };
            let newer = metrics.get(&wire.key).is_none_or(|old| point.is_later_than(old));
            if newer {
                metrics.insert(wire.key, point);
            }
        }
        let tags: BTreeMap<String, String> = self.data.tags.into_iter().map(|t| (t.key, t.value)).collect();
        let run_name = if info.run_name.is_empty() {
            tags.get(tags::RUN_NAME).cloned().unwrap_or_default()
        } else {
            info.run_name
        };
        RemoteRun {
            run_id,
            experiment_id: info.experiment_id,
            run_name,
            user_id: info.user_id,
            // MLflow also has SCHEDULED, a run that has not started: not yet ended.
            status: RunStatus::parse(&info.status).unwrap_or(RunStatus::Running),
            start_time: info.start_time.unwrap_or(0),
            end_time: info.end_time,
            artifact_uri: info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage,
            params: self.data.params.into_iter().map(|p| (p.key, p.value)).collect(),
            metrics,
            tags,
        }
    }
}

// ----- small helpers -----

/// Percent-encodes everything but RFC 3986's unreserved characters, for query values
/// and path segments.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Encodes each segment of a `/`-separated path, keeping the slashes.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode_component).collect::<Vec<_>>().join("/")
}

fn first_chars(text: &str, count: usize) -> String {
    let trimmed = text.trim();
    let mut out: String = trimmed.chars().take(count).collect();
    if trimmed.chars().nth(count).is_some() {
        out.push('…');
    }
    out
}

fn key_value_json(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": value })
}

fn key_values(pairs: &[(String, String)]) -> Vec<Value> {
    pairs.iter().map(|(key, value)| key_value_json(key, value)).collect()
}

fn metric_json(metric: &MetricEntry) -> Value {
    json!({ "key": metric.key, "value": metric.value, "timestamp": metric.timestamp, "step": metric.step })
}

/// The proxied upload URL for a file of a run whose files live at `artifact_uri`.
/// `None` when the server keeps files somewhere it does not proxy (`s3://`, `file://`):
/// a browser cannot write there.
fn artifact_url(base_url: &str, artifact_uri: &str, path: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    // `mlflow-artifacts://host:port/...` names a host; we always use the server we talk to,
    // as MLflow's own client does when the host is its tracking server.
    let rest = match rest.strip_prefix("//") {
        Some(after_host) => after_host.find('/').map_or("", |slash| &after_host[slash..]),
        None => rest,
    };
    let root = rest.trim_matches('/');
    let path = encode_path(path);
    Some(if root.is_empty() {
        format!("{base_url}{ARTIFACTS_API}/{path}")
    } else {
        format!("{base_url}{ARTIFACTS_API}/{}/{path}", encode_path(root))
    })
}

/// One `log-batch` request's worth of entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchChunk<'a> {
    pub metrics: Vec<&'a MetricEntry>,
    pub params: Vec<&'a (String, String)>,
    pub tags: Vec<&'a (String, String)>,
}

impl BatchChunk<'_> {
    fn len(&self) -> usize {
        self.metrics.len() + self.params.len() + self.tags.len()
    }
}

/// Splits a batch into requests MLflow accepts: at most 1000 metrics, 100 params and
/// 100 tags, 1000 entries in all, and under 1 MB of JSON each. Each request takes as
/// many params, then tags, then metrics as fit, so few requests are made; order within
/// each kind is kept, so a metric's history arrives in the order it was logged.
pub fn plan_batches<'a>(
    metrics: &'a [MetricEntry],
    params: &'a [(String, String)],
    tag_list: &'a [(String, String)],
) -> Vec<BatchChunk<'a>> {
    /// The envelope: run id, the three array names, brackets.
    const ENVELOPE_BYTES: usize = 128;
    // Each entry's JSON size plus its comma.
    let pair_size = |(key, value): &(String, String)| key_value_json(key, value).to_string().len() + 1;
    let metric_size = |metric: &MetricEntry| metric_json(metric).to_string().len() + 1;
    let (mut next_param, mut next_tag, mut next_metric) = (0, 0, 0);
    let mut chunks = Vec::new();
    while next_param < params.len() || next_tag < tag_list.len() || next_metric < metrics.len() {
        let mut chunk = BatchChunk::default();
        let mut bytes = ENVELOPE_BYTES;
        // An entry goes in if it fits; the first always does, so every request makes
        // progress (an entry too big on its own is the server's to refuse, with its words).
        let mut fits = |chunk: &BatchChunk, size: usize, kind_full: bool| {
            let ok = chunk.len() == 0
                || (!kind_full && chunk.len() < MAX_BATCH_ENTITIES && bytes + size <= MAX_BATCH_BYTES);
            if ok {
                bytes += size;
            }
            ok
        };
        while let Some(pair) = params.get(next_param) {
            if !fits(&chunk, pair_size(pair), chunk.params.len() >= MAX_BATCH_PARAMS) {
                break;
            }
            chunk.params.push(pair);
            next_param += 1;
        }
        while let Some(pair) = tag_list.get(next_tag) {
            if !fits(&chunk, pair_size(pair), chunk.tags.len() >= MAX_BATCH_TAGS) {
                break;
            }
            chunk.tags.push(pair);
            next_tag += 1;
        }
        while let Some(metric) = metrics.get(next_metric) {
            if !fits(&chunk, metric_size(metric), chunk.metrics.len() >= MAX_BATCH_METRICS) {
                break;
            }
            chunk.metrics.push(metric);
            next_metric += 1;
        }
        chunks.push(chunk);
    }
    chunks
}

/// Tags that cannot be copied as they are: the run name travels as `run_name`, and the
/// parent's id must be the parent's id on the server, not here.
fn pushable_tags(run: &Run, remote_parent: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = run
        .tags
        .iter()
        .filter(|(key, _)| {
            !matches!(
                key.as_str(),
                tags::RUN_NAME | tags::PARENT_RUN_ID | LOCAL_RUN_ID_TAG | LOCAL_PARENT_RUN_ID_TAG
            )
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(local_parent) = run.parent_run_id() {
        match remote_parent {
            Some(remote) => out.push((tags::PARENT_RUN_ID.to_string(), remote.to_string())),
            None => out.push((LOCAL_PARENT_RUN_ID_TAG.to_string(), local_parent.to_string())),
        }
    }
    out
}

/// A logged model's `MLmodel` names the run it belongs to; on the server that is the
/// server's run, or MLflow's tools would look for the model in a run that is not there.
/// Other files are copied as they are.
fn with_remote_run_id(path: &str, bytes: Vec<u8>, local_run_id: &str, remote_run_id: &str) -> Vec<u8> {
    let is_mlmodel = path.rsplit('/').next() == Some("MLmodel");
    match String::from_utf8(bytes) {
        Ok(text) if is_mlmodel && !local_run_id.is_empty() => {
            text.replace(&format!("\"{local_run_id}\""), &format!("\"{remote_run_id}\"")).into_bytes()
        }
        Ok(text) => text.into_bytes(),
        Err(not_text) => not_text.into_bytes(),
    }
}

/// Every point of every metric history, in logged order; a metric without a stored
/// history (older exports) contributes its latest value.
fn metric_points(exported: &ExportedRun) -> Vec<MetricEntry> {
    let mut points = Vec::new();
    for (key, history) in &exported.metric_history {
        points.extend(history.iter().map(|m| MetricEntry {
            key: key.clone(),
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
        }));
    }
    for (key, latest) in &exported.run.metrics {
        if exported.metric_history.get(key).is_none_or(Vec::is_empty) {
            points.push(MetricEntry {
                key: key.clone(),
                value: latest.value,
                timestamp: latest.timestamp,
                step: latest.step,
            });
        }
    }
    points
}

impl<T: HttpTransport> RestClient<T> {
    /// Checks the address before any request, so a typo is reported as one.
    pub fn new(base_url: &str, transport: T) -> Result<Self, TrackingError> {
        let trimmed = base_url.trim();
        let refuse = |why: String| TrackingError::Unreachable { url: trimmed.to_string(), why };
        let lower = trimmed.to_ascii_lowercase();
        let Some(after_scheme) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"))
        else {
            return Err(refuse(
                "the address must start with http:// or https://, e.g. http://127.0.0.1:5000".to_string(),
            ));
        };
        let host = after_scheme.split('/').next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') {
            return Err(refuse("the address has no host name, e.g. http://127.0.0.1:5000".to_string()));
        }
        if let Some(bad) = trimmed.chars().find(|c| c.is_whitespace() || matches!(c, '?' | '#')) {
            return Err(refuse(format!(
                "the address contains `{bad}`; give only the server's address, e.g. http://127.0.0.1:5000"
            )));
        }
        Ok(Self { base_url: trimmed.trim_end_matches('/').to_string(), transport })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn unreachable(&self, why: String) -> TrackingError {
        TrackingError::Unreachable {
            url: self.base_url.clone(),
            why: format!(
                "{}. Nothing is lost: your runs stay saved here. Check that the server is running \
                 at this address; if it is, it may refuse this page's origin (start it with \
                 `--cors-allowed-origins <this page's address>`)",
                why.trim_end_matches('.')
            ),
        }
    }

    /// Reads an answer: MLflow JSON on success, MLflow's error body otherwise.
    fn read_answer(&self, response: HttpResponse) -> Result<Value, TrackingError> {
        let status = response.status;
        if !(200..300).contains(&status) {
            return Err(server_error(status, &response.body));
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(serde_json::Map::new()));
        }
        serde_json::from_slice(&response.body).map_err(|_| TrackingError::Server {
            status,
            code: "NOT_MLFLOW".to_string(),
            message: format!(
                "the answer is not JSON; is {} an MLflow tracking server? It said: {}",
                self.base_url,
                first_chars(&String::from_utf8_lossy(&response.body), ERROR_TEXT_CHARS)
            ),
        })
    }

    async fn call(&self, method: &str, endpoint: &str, body: Option<Value>) -> Result<Value, TrackingError> {
        let url = format!("{}{API}{endpoint}", self.base_url);
        let response = self
            .transport
            .send(method, &url, body.map(|b| b.to_string()))
            .await
            .map_err(|why| self.unreachable(why))?;
        self.read_answer(response)
    }

    async fn post(&self, endpoint: &str, body: Value) -> Result<Value, TrackingError> {
        self.call("POST", endpoint, Some(body)).await
    }

    async fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, TrackingError> {
        let query: Vec<String> =
            query.iter().map(|(key, value)| format!("{key}={}", encode_component(value))).collect();
        self.call("GET", &format!("{endpoint}?{}", query.join("&")), None).await
    }

    // ----- experiments -----

    /// The id of the experiment with this name (active or deleted), or `None`.
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Option<String>, TrackingError> {
        Ok(self.find_experiment(name).await?.map(|e| e.experiment_id))
    }

    async fn find_experiment(&self, name: &str) -> Result<Option<WireExperiment>, TrackingError> {
        match self.get("/experiments/get-by-name", &[("experiment_name", name)]).await {
            Ok(answer) => Ok(Some(decode::<ExperimentResponse>(answer)?.experiment)),
            Err(TrackingError::Server { code, .. }) if code == "RESOURCE_DOES_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_experiment(&self, name: &str) -> Result<String, TrackingError> {
        let answer = self.post("/experiments/create", json!({ "name": name })).await?;
        Ok(decode::<CreateExperimentResponse>(answer)?.experiment_id)
    }

    /// The experiment's id, creating it when missing. A deleted experiment is refused
    /// rather than silently restored: someone on the team deleted it on purpose.
    pub async fn get_or_create_experiment(&self, name: &str) -> Result<String, TrackingError> {
        if let Some(found) = self.find_experiment(name).await? {
            if found.lifecycle_stage == "deleted" {
                return Err(TrackingError::ExperimentDeleted(name.to_string()));
            }
            return Ok(found.experiment_id);
        }
        match self.create_experiment(name).await {
            Ok(id) => Ok(id),
            // Someone else created it between our two requests.
            Err(TrackingError::Server { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => self
                .get_experiment_by_name(name)
                .await?
                .ok_or_else(|| TrackingError::ExperimentNameNotFound(name.to_string())),
            Err(e) => Err(e),
        }
    }

    // ----- runs -----

    /// Starts a run; `run_name` may be empty to let the server pick one.
    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        tag_list: &[(String, String)],
    ) -> Result<String, TrackingError> {
        Ok(self
            .create_run_info(experiment_id, run_name, start_time, tag_list, "")
            .await?
            .info
            .id()
            .to_string())
    }

    async fn create_run_info(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        tag_list: &[(String, String)],
        user_id: &str,
    ) -> Result<WireRun, TrackingError> {
        let mut body = json!({
            "experiment_id": experiment_id,
            "start_time": start_time,
            "tags": key_values(tag_list),
        });
        if !run_name.is_empty() {
            body["run_name"] = json!(run_name);
        }
        if !user_id.is_empty() {
            body["user_id"] = json!(user_id);
        }
        let answer = self.post("/runs/create", body).await?;
        Ok(decode::<RunResponse>(answer)?.run)
    }

    async fn get_run_info(&self, run_id: &str) -> Result<WireRun, TrackingError> {
        let answer = self.get("/runs/get", &[("run_id", run_id)]).await?;
        Ok(decode::<RunResponse>(answer)?.run)
    }

    /// Logs everything, in as many `log-batch` requests as MLflow's limits need (see
    /// [`plan_batches`]). Not atomic across requests: if one fails, the earlier ones stay.
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[MetricEntry],
        params: &[(String, String)],
        tag_list: &[(String, String)],
    ) -> Result<(), TrackingError> {
        for chunk in plan_batches(metrics, params, tag_list) {
            let body = json!({
                "run_id": run_id,
                "metrics": chunk.metrics.iter().map(|m| metric_json(m)).collect::<Vec<_>>(),
                "params": chunk.params.iter().map(|(key, value)| key_value_json(key, value)).collect::<Vec<_>>(),
                "tags": chunk.tags.iter().map(|(key, value)| key_value_json(key, value)).collect::<Vec<_>>(),
            });
            self.post("/runs/log-batch", body).await?;
        }
        Ok(())
    }

    /// Sets a run's status, and optionally its end time and name.
    pub async fn update_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<(), TrackingError> {
        let mut body = json!({ "run_id": run_id, "status": status.as_str() });
        if let Some(end) = end_time {
            body["end_time"] = json!(end);
        }
        if let Some(name) = run_name {
            body["run_name"] = json!(name);
        }
        self.post("/runs/update", body).await?;
        Ok(())
    }

    /// Soft-deletes a run, as the UI's delete button does.
    pub async fn delete_run(&self, run_id: &str) -> Result<(), TrackingError> {
        self.post("/runs/delete", json!({ "run_id": run_id })).await?;
        Ok(())
    }

    /// MLflow's run search (server-side filter and order syntax), following pages until
    /// `max_results` runs or the last page.
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: &str,
        max_results: usize,
        order_by: &[String],
    ) -> Result<Vec<RemoteRun>, TrackingError> {
        let mut runs = Vec::new();
        let mut page_token: Option<String> = None;
        while runs.len() < max_results {
            let mut body = json!({
                "experiment_ids": experiment_ids,
                "filter": filter,
                "max_results": (max_results - runs.len()).min(SEARCH_PAGE_SIZE),
                "order_by": order_by,
            });
            if let Some(token) = &page_token {
                body["page_token"] = json!(token);
            }
            let page: SearchRunsResponse = decode(self.post("/runs/search", body).await?)?;
            runs.extend(page.runs.into_iter().map(WireRun::into_remote));
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => break,
            }
        }
        runs.truncate(max_results);
        Ok(runs)
    }

    // ----- artifacts -----

    /// Uploads one file through the server's artifact proxy, under the run's artifact
    /// root (one extra request to learn where that is).
    pub async fn upload_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<(), TrackingError> {
        let run = self.get_run_info(run_id).await?;
        self.upload_to(&run.info.artifact_uri, path, bytes, "application/octet-stream").await
    }

    async fn upload_to(
        &self,
        artifact_uri: &str,
        path: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), TrackingError> {
        check_artifact_path(path)?;
        let Some(url) = artifact_url(&self.base_url, artifact_uri, path) else {
            return Err(TrackingError::Unreachable {
                url: artifact_uri.to_string(),
                why: "the server keeps this run's files where only it can write, so they cannot be uploaded \
                      through it; start `mlflow server` with artifact serving on (the default, \
                      `--serve-artifacts`) and use an experiment created by that server"
                    .to_string(),
            });
        };
        let response = self
            .transport
            .send_bytes("PUT", &url, bytes, content_type)
            .await
            .map_err(|why| self.unreachable(why))?;
        self.read_answer(response)?;
        Ok(())
    }

    // ----- registry -----

    /// Creates a registered model; one that already exists is fine, so pushing the same
    /// model from several runs needs no check first.
    pub async fn create_registered_model(&self, name: &str) -> Result<(), TrackingError> {
        match self.post("/registered-models/create", json!({ "name": name })).await {
            Ok(_) => Ok(()),
            Err(TrackingError::Server { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A new version of `name` from a run's model (`source` like `runs:/<run id>/model`).
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
    ) -> Result<u32, TrackingError> {
        let answer = self
            .post("/model-versions/create", json!({ "name": name, "source": source, "run_id": run_id }))
            .await?;
        let version = decode::<ModelVersionResponse>(answer)?.model_version.version;
        let parsed = match &version {
            Value::String(text) => text.parse().ok(),
            Value::Number(n) => n.as_u64().and_then(|v| u32::try_from(v).ok()),
            _ => None,
        };
        parsed.ok_or_else(|| bad_response(format!("model version `{version}` is not a number")))
    }

    /// Moves a version to `stage` (`None`, `Staging`, `Production`, `Archived`; the server
    /// checks the name).
    pub async fn transition_model_version_stage(
        &self,
        name: &str,
        version: u32,
        stage: &str,
        archive_existing: bool,
    ) -> Result<(), TrackingError> {
        let body = json!({
            "name": name,
            "version": version.to_string(),
            "stage": stage,
            "archive_existing_versions": archive_existing,
        });
        self.post("/model-versions/transition-stage", body).await?;
        Ok(())
    }

    pub async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
    ) -> Result<(), TrackingError> {
        let body = json!({ "name": name, "alias": alias, "version": version.to_string() });
        self.post("/registered-models/alias", body).await?;
        Ok(())
    }

    // ----- pushing local runs -----

    /// The server's id of the run pushed from `local_run_id`, if it is there.
    pub async fn find_pushed_run(
        &self,
        experiment_id: &str,
        local_run_id: &str,
    ) -> Result<Option<String>, TrackingError> {
        // Run ids are hex, but quote defensively: a quote would end the string early.
        let filter = format!("tags.`{LOCAL_RUN_ID_TAG}` = '{}'", local_run_id.replace('\'', ""));
        let found = self.search_runs(&[experiment_id.to_string()], &filter, 1, &[]).await?;
        Ok(found.into_iter().next().map(|run| run.run_id))
    }

    /// Replays one local run on the server: same name, start time, tags, params, every
    /// metric history point, files, then status and end time. Returns the server's run id.
    ///
    /// Pushing is idempotent: the finished remote run carries [`LOCAL_RUN_ID_TAG`], and a
    /// run already pushed to this experiment is not pushed again (its id is returned). A
    /// push that fails halfway deletes its half-made run (if the server is still there),
    /// so trying again starts clean. A parent pushed earlier is linked as the parent.
    pub async fn push_run(
        &self,
        exported: &ExportedRun,
        experiment_name: &str,
    ) -> Result<String, TrackingError> {
        let experiment_id = self.get_or_create_experiment(experiment_name).await?;
        let local = &exported.run;
        if let Some(existing) = self.find_pushed_run(&experiment_id, &local.run_id).await? {
            return Ok(existing);
        }
        let remote_parent = match local.parent_run_id() {
            Some(parent) => self.find_pushed_run(&experiment_id, parent).await?,
            None => None,
        };
        let tag_list = pushable_tags(local, remote_parent.as_deref());
        let (first_tags, later_tags) = tag_list.split_at(tag_list.len().min(MAX_BATCH_TAGS));
        let created = self
            .create_run_info(&experiment_id, &local.run_name, local.start_time, first_tags, &local.user_id)
            .await?;
        let run_id = created.info.id().to_string();
        match self.fill_pushed_run(&run_id, &created.info.artifact_uri, exported, later_tags).await {
            Ok(()) => Ok(run_id),
            Err(e) => {
                // Best effort: the server may be the thing that failed.
                let _ = self.delete_run(&run_id).await;
                Err(e)
            }
        }
    }

    async fn fill_pushed_run(
        &self,
        run_id: &str,
        artifact_uri: &str,
        exported: &ExportedRun,
        later_tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let local = &exported.run;
        let params: Vec<(String, String)> =
            local.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.log_batch(run_id, &metric_points(exported), &params, later_tags).await?;
        for artifact in &exported.artifacts {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&artifact.base64).map_err(|e| {
                TrackingError::Corrupt(format!("file `{}` of run `{}`: {e}", artifact.path, local.run_id))
            })?;
            let bytes = with_remote_run_id(&artifact.path, bytes, &local.run_id, run_id);
            let content_type = if artifact.content_type.is_empty() {
                "application/octet-stream"
            } else {
                &artifact.content_type
            };
            self.upload_to(artifact_uri, &artifact.path, &bytes, content_type).await?;
        }
        if local.status.is_terminated() {
            self.update_run(run_id, local.status, local.end_time, None).await?;
        }
        // Last, so only a complete push is found by `find_pushed_run`.
        let marker = [(LOCAL_RUN_ID_TAG.to_string(), local.run_id.clone())];
        self.log_batch(run_id, &[], &[], &marker).await
    }

    /// Pushes several runs, parents before their children so child runs nest under their
    /// parents on the server too. Returns `(local run id, server run id)` pairs in the
    /// order pushed.
    pub async fn push_runs(
        &self,
        exported: &[ExportedRun],
        experiment_name: &str,
    ) -> Result<Vec<(String, String)>, TrackingError> {
        let mut pending: Vec<&ExportedRun> = exported.iter().collect();
        let mut pushed = Vec::with_capacity(pending.len());
        while !pending.is_empty() {
            let waiting: BTreeSet<&str> = pending.iter().map(|r| r.run.run_id.as_str()).collect();
            // Runs whose parent is not still waiting; if there is a cycle, take them all.
            let (ready, rest): (Vec<&ExportedRun>, Vec<&ExportedRun>) =
                pending.iter().partition(|r| r.run.parent_run_id().is_none_or(|p| !waiting.contains(p)));
            let (ready, rest) = if ready.is_empty() { (rest, Vec::new()) } else { (ready, rest) };
            for run in ready {
                let remote = self.push_run(run, experiment_name).await?;
                pushed.push((run.run.run_id.clone(), remote));
            }
            pending = rest;
        }
        Ok(pushed)
    }
}

fn bad_response(why: String) -> TrackingError {
    TrackingError::Server { status: 200, code: "BAD_RESPONSE".to_string(), message: why }
}

fn decode<D: DeserializeOwned>(answer: Value) -> Result<D, TrackingError> {
    // Deserialise from a borrow, so the answer is turned back into text only on failure.
    D::deserialize(&answer).map_err(|e| {
        let shown = first_chars(&answer.to_string(), ERROR_TEXT_CHARS);
        bad_response(format!("the server's answer does not have MLflow's shape ({e}): {shown}"))
    })
}

/// MLflow's JSON error, or the start of whatever else came back (a proxy's HTML page,
/// MLflow's security middleware's plain text), with a hint for the refusals we know.
fn server_error(status: u16, body: &[u8]) -> TrackingError {
    if let Ok(error) = serde_json::from_slice::<WireError>(body) {
        return TrackingError::Server { status, code: error.error_code, message: error.message };
    }
    let text = first_chars(&String::from_utf8_lossy(body), ERROR_TEXT_CHARS);
    let hint = if text.contains("Invalid Host header") {
        " (the server refuses the host name in this address: start it with `--allowed-hosts <host:port>`)"
    } else if text.contains("Cross-origin request blocked") {
        " (the server refuses this page's origin: start it with `--cors-allowed-origins <this page's address>`)"
    } else if status == 404 {
        " (no such endpoint: is this the address of an MLflow tracking server, 2.x or newer?)"
    } else {
        ""
    };
    let code = match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "ENDPOINT_NOT_FOUND",
        413 => "REQUEST_TOO_LARGE",
        500..=599 => "INTERNAL_ERROR",
        _ => "HTTP_ERROR",
    };
    TrackingError::Server { status, code: code.to_string(), message: format!("{text}{hint}") }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use futures::executor::block_on;

    use super::super::entities::{ArtifactInfo, LifecycleStage};
    use super::super::transfer::ExportedArtifact;
    use super::*;

    /// One request as the fake server saw it.
    #[derive(Debug, Clone, PartialEq)]
    struct Sent {
        method: String,
        url: String,
        json: Option<Value>,
        bytes: Option<Vec<u8>>,
        content_type: Option<String>,
    }

    impl Sent {
        fn path(&self) -> &str {
            self.url.strip_prefix("http://mlflow.test:5000").unwrap_or(&self.url)
        }
        fn body(&self) -> &Value {
            self.json.as_ref().expect("a JSON body")
        }
    }

    /// Records every request and answers with `respond`.
    struct Fake<F> {
        sent: RefCell<Vec<Sent>>,
        respond: F,
    }

    impl<F> std::fmt::Debug for Fake<F> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Fake").field("sent", &self.sent).finish_non_exhaustive()
        }
    }

    impl<F: Fn(&Sent) -> Result<HttpResponse, String>> HttpTransport for Fake<F> {
        async fn send(
            &self,
            method: &str,
            url: &str,
            json_body: Option<String>,
        ) -> Result<HttpResponse, String> {
            let json = json_body.map(|b| serde_json::from_str(&b).expect("the client sends valid JSON"));
            let sent = Sent { method: method.into(), url: url.into(), json, bytes: None, content_type: None };
            self.sent.borrow_mut().push(sent.clone());
            (self.respond)(&sent)
        }
        async fn send_bytes(
            &self,
            method: &str,
            url: &str,
            body: &[u8],
            content_type: &str,
        ) -> Result<HttpResponse, String> {
            let sent = Sent {
                method: method.into(),
                url: url.into(),
                json: None,
                bytes: Some(body.to_vec()),
                content_type: Some(content_type.into()),
            };
            self.sent.borrow_mut().push(sent.clone());
            (self.respond)(&sent)
        }
    }

    fn ok(body: Value) -> Result<HttpResponse, String> {
        Ok(HttpResponse { status: 200, body: body.to_string().into_bytes() })
    }

    fn mlflow_error(status: u16, code: &str) -> Result<HttpResponse, String> {
        let body = json!({ "error_code": code, "message": format!("{code} happened") });
        Ok(HttpResponse { status, body: body.to_string().into_bytes() })
    }

    fn client<F: Fn(&Sent) -> Result<HttpResponse, String>>(respond: F) -> RestClient<Fake<F>> {
        RestClient::new("http://mlflow.test:5000/", Fake { sent: RefCell::new(Vec::new()), respond })
            .expect("a valid address")
    }

    fn sent<F>(client: &RestClient<Fake<F>>) -> Vec<Sent> {
        client.transport.sent.borrow().clone()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn created_run(run_id: &str, experiment_id: &str) -> Value {
        json!({ "run": { "info": {
            "run_id": run_id, "run_uuid": run_id, "experiment_id": experiment_id, "status": "RUNNING",
            "start_time": 5, "artifact_uri": format!("mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"),
            "lifecycle_stage": "active"
        }, "data": {} } })
    }

    // ----- addresses -----

    #[test]
    fn accepts_http_and_https_addresses_and_drops_trailing_slashes() {
        for (given, kept) in [
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("  https://mlflow.example.org/ ", "https://mlflow.example.org"),
            ("HTTP://localhost:5000/mlflow//", "HTTP://localhost:5000/mlflow"),
        ] {
            let client = client(|_| ok(json!({})));
            let rebuilt = RestClient::new(given, client.transport).expect("valid");
            assert_eq!(rebuilt.base_url(), kept);
        }
    }

    #[test]
    fn refuses_addresses_that_are_not_http() {
        for (given, says) in [
            ("ftp://127.0.0.1:5000", "http:// or https://"),
            ("127.0.0.1:5000", "http:// or https://"),
            ("", "http:// or https://"),
            ("http://", "no host"),
            ("http://:5000", "no host"),
            ("http://127.0.0.1:5000/#/experiments", "`#`"),
            ("http://127.0.0.1:5000/?x=1", "`?`"),
            ("http://my server:5000", "` `"),
        ] {
            let err = RestClient::new(
                given,
                Fake { sent: RefCell::new(Vec::new()), respond: |_: &Sent| ok(json!({})) },
            )
            .expect_err(given);
            match err {
                TrackingError::Unreachable { url, why } => {
                    assert_eq!(url, given.trim());
                    assert!(why.contains(says), "{given}: {why}");
                }
                other => panic!("{given}: {other:?}"),
            }
        }
    }

    // ----- experiments -----

    #[test]
    fn finds_an_experiment_by_name_with_the_name_encoded() {
        let client =
            client(|_| ok(json!({ "experiment": { "experiment_id": "4", "name": "taxi fares/v2" } })));
        assert_eq!(block_on(client.get_experiment_by_name("taxi fares/v2")), Ok(Some("4".to_string())));
        let sent = sent(&client);
        assert_eq!(sent[0].method, "GET");
        assert_eq!(
            sent[0].path(),
            "/api/2.0/mlflow/experiments/get-by-name?experiment_name=taxi%20fares%2Fv2"
        );
        assert_eq!(sent[0].json, None);
    }

    #[test]
    fn a_missing_experiment_is_none_not_an_error() {
        let client = client(|_| mlflow_error(404, "RESOURCE_DOES_NOT_EXIST"));
        assert_eq!(block_on(client.get_experiment_by_name("nope")), Ok(None));
    }

    #[test]
    fn get_or_create_creates_a_missing_experiment() {
        let client = client(|sent| match sent.method.as_str() {
            "GET" => mlflow_error(404, "RESOURCE_DOES_NOT_EXIST"),
            _ => ok(json!({ "experiment_id": "12" })),
        });
        assert_eq!(block_on(client.get_or_create_experiment("taxi")), Ok("12".to_string()));
        let sent = sent(&client);
        assert_eq!(sent.len(), 2);
        assert_eq!((sent[1].method.as_str(), sent[1].path()), ("POST", "/api/2.0/mlflow/experiments/create"));
        assert_eq!(sent[1].body(), &json!({ "name": "taxi" }));
    }

    #[test]
    fn get_or_create_uses_an_experiment_created_meanwhile_by_someone_else() {
        let gets = Cell::new(0);
        let client = client(|sent| match sent.method.as_str() {
            "GET" => {
                gets.set(gets.get() + 1);
                if gets.get() == 1 {
                    mlflow_error(404, "RESOURCE_DOES_NOT_EXIST")
                } else {
                    ok(json!({ "experiment": { "experiment_id": "3", "lifecycle_stage": "active" } }))
                }
            }
            _ => mlflow_error(400, "RESOURCE_ALREADY_EXISTS"),
        });
        assert_eq!(block_on(client.get_or_create_experiment("taxi")), Ok("3".to_string()));
    }

    #[test]
    fn get_or_create_refuses_a_deleted_experiment() {
        let client =
            client(|_| ok(json!({ "experiment": { "experiment_id": "3", "lifecycle_stage": "deleted" } })));
        assert_eq!(
            block_on(client.get_or_create_experiment("taxi")),
            Err(TrackingError::ExperimentDeleted("taxi".to_string()))
        );
    }

    // ----- runs -----

    #[test]
    fn create_run_sends_mlflows_shape() {
        let client = client(|_| ok(created_run("abc", "2")));
        let tag_list = pairs(&[("team", "fares")]);
        assert_eq!(
            block_on(client.create_run("2", "baseline", 1_700_000_000_000, &tag_list)),
            Ok("abc".into())
        );
        assert_eq!(block_on(client.create_run("2", "", 7, &[])), Ok("abc".into()));
        let sent = sent(&client);
        assert_eq!(sent[0].path(), "/api/2.0/mlflow/runs/create");
        assert_eq!(
            sent[0].body(),
            &json!({
                "experiment_id": "2", "run_name": "baseline", "start_time": 1_700_000_000_000_i64,
                "tags": [{ "key": "team", "value": "fares" }]
            })
        );
        assert_eq!(sent[1].body(), &json!({ "experiment_id": "2", "start_time": 7, "tags": [] }));
    }

    #[test]
    fn update_run_sends_only_what_is_given() {
        let client = client(|_| ok(json!({ "run_info": {} })));
        block_on(client.update_run("abc", RunStatus::Finished, Some(99), Some("renamed"))).expect("ok");
        block_on(client.update_run("abc", RunStatus::Killed, None, None)).expect("ok");
        let sent = sent(&client);
        assert_eq!(sent[0].path(), "/api/2.0/mlflow/runs/update");
        assert_eq!(
            sent[0].body(),
            &json!({ "run_id": "abc", "status": "FINISHED", "end_time": 99, "run_name": "renamed" })
        );
        assert_eq!(sent[1].body(), &json!({ "run_id": "abc", "status": "KILLED" }));
    }

    #[test]
    fn log_batch_sends_mlflows_shape() {
        let client = client(|_| ok(json!({})));
        let metrics = [MetricEntry { key: "rmse".into(), value: 4.5, timestamp: 10, step: 2 }];
        block_on(client.log_batch("abc", &metrics, &pairs(&[("alpha", "0.1")]), &pairs(&[("t", "v")])))
            .expect("ok");
        let sent = sent(&client);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].method.as_str(), sent[0].path()), ("POST", "/api/2.0/mlflow/runs/log-batch"));
        assert_eq!(
            sent[0].body(),
            &json!({
                "run_id": "abc",
                "metrics": [{ "key": "rmse", "value": 4.5, "timestamp": 10, "step": 2 }],
                "params": [{ "key": "alpha", "value": "0.1" }],
                "tags": [{ "key": "t", "value": "v" }],
            })
        );
    }

    #[test]
    fn an_empty_batch_sends_nothing() {
        let client = client(|_| ok(json!({})));
        block_on(client.log_batch("abc", &[], &[], &[])).expect("ok");
        assert!(sent(&client).is_empty());
    }

    fn many_metrics(count: usize) -> Vec<MetricEntry> {
        (0..count)
            .map(|i| MetricEntry { key: "loss".into(), value: i as f64, timestamp: 1, step: i as i64 })
            .collect()
    }

    fn many_pairs(prefix: &str, count: usize, value_len: usize) -> Vec<(String, String)> {
        (0..count).map(|i| (format!("{prefix}{i}"), "x".repeat(value_len))).collect()
    }

    #[test]
    fn batches_exactly_at_the_limits_fit_in_one_request() {
        let metrics = many_metrics(MAX_BATCH_METRICS);
        assert_eq!(plan_batches(&metrics, &[], &[]).len(), 1);
        let params = many_pairs("p", MAX_BATCH_PARAMS, 1);
        let tag_list = many_pairs("t", MAX_BATCH_TAGS, 1);
        let metrics = many_metrics(MAX_BATCH_ENTITIES - 200);
        let chunks = plan_batches(&metrics, &params, &tag_list);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), MAX_BATCH_ENTITIES);
    }

    #[test]
    fn batches_over_the_limits_are_split_keeping_order() {
        let metrics = many_metrics(2_500);
        let params = many_pairs("p", 250, 3);
        let tag_list = many_pairs("t", 150, 3);
        let chunks = plan_batches(&metrics, &params, &tag_list);
        for chunk in &chunks {
            assert!(chunk.metrics.len() <= MAX_BATCH_METRICS);
            assert!(chunk.params.len() <= MAX_BATCH_PARAMS);
            assert!(chunk.tags.len() <= MAX_BATCH_TAGS);
            assert!(chunk.len() <= MAX_BATCH_ENTITIES);
        }
        // Each request takes 100 params and 100 tags while there are some, and metrics
        // up to 1000 entries in all.
        let sizes: Vec<(usize, usize, usize)> =
            chunks.iter().map(|c| (c.params.len(), c.tags.len(), c.metrics.len())).collect();
        assert_eq!(sizes, vec![(100, 100, 800), (100, 50, 850), (50, 0, 850)]);
        let steps: Vec<i64> = chunks.iter().flat_map(|c| c.metrics.iter().map(|m| m.step)).collect();
        assert_eq!(steps, (0..2_500).collect::<Vec<i64>>());
        let keys: Vec<&str> = chunks.iter().flat_map(|c| c.params.iter().map(|p| p.0.as_str())).collect();
        assert_eq!(keys, params.iter().map(|p| p.0.as_str()).collect::<Vec<_>>());
    }

    #[test]
    fn batches_with_long_values_stay_under_a_megabyte() {
        // 100 params of 6000 characters and 100 tags of 8000 are within the count limits
        // but make 1.4 MB of JSON, which MLflow refuses.
        let params = many_pairs("p", MAX_BATCH_PARAMS, 6_000);
        let tag_list = many_pairs("t", MAX_BATCH_TAGS, 8_000);
        let client = client(|_| ok(json!({})));
        block_on(client.log_batch("abc", &[], &params, &tag_list)).expect("ok");
        let sent = sent(&client);
        assert_eq!(sent.len(), 2);
        let mut total = 0;
        for request in &sent {
            let size = request.body().to_string().len();
            assert!(size < 1_000_000, "{size} bytes");
            total += request.body()["params"].as_array().map_or(0, Vec::len);
            total += request.body()["tags"].as_array().map_or(0, Vec::len);
        }
        assert_eq!(total, 200);
    }

    #[test]
    fn log_batch_stops_at_the_first_refused_request() {
        let client = client(|_| mlflow_error(400, "INVALID_PARAMETER_VALUE"));
        let err = block_on(client.log_batch("abc", &many_metrics(2_001), &[], &[])).expect_err("refused");
        assert!(
            matches!(err, TrackingError::Server { status: 400, ref code, .. } if code == "INVALID_PARAMETER_VALUE")
        );
        assert_eq!(sent(&client).len(), 1);
    }

    #[test]
    fn search_runs_reads_runs_and_follows_pages() {
        let client = client(|sent| {
            let first = sent.body().get("page_token").is_none();
            let run = |id: &str| {
                json!({
                    "info": { "run_id": id, "experiment_id": "1", "run_name": format!("run-{id}"),
                              "status": "FINISHED", "start_time": 10, "end_time": 20,
                              "artifact_uri": "mlflow-artifacts:/1/x/artifacts", "lifecycle_stage": "active" },
                    "data": {
                        "metrics": [{ "key": "rmse", "value": 3.5, "timestamp": 11, "step": 4 }],
                        "params": [{ "key": "alpha", "value": "0.1" }],
                        "tags": [{ "key": "mlflow.runName", "value": format!("run-{id}") }]
                    }
                })
            };
            if first {
                ok(json!({ "runs": [run("a"), run("b")], "next_page_token": "tok" }))
            } else {
                ok(json!({ "runs": [run("c")] }))
            }
        });
        let order = vec!["metrics.rmse ASC".to_string()];
        let runs = block_on(client.search_runs(&["1".to_string()], "params.alpha = '0.1'", 10, &order))
            .expect("runs");
        assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        let first = &runs[0];
        assert_eq!(first.run_name, "run-a");
        assert_eq!(first.status, RunStatus::Finished);
        assert_eq!((first.start_time, first.end_time), (10, Some(20)));
        assert_eq!(first.params.get("alpha").map(String::as_str), Some("0.1"));
        assert_eq!(first.metrics.get("rmse"), Some(&Metric { value: 3.5, timestamp: 11, step: 4 }));
        let sent = sent(&client);
        assert_eq!(sent[0].path(), "/api/2.0/mlflow/runs/search");
        assert_eq!(
            sent[0].body(),
            &json!({ "experiment_ids": ["1"], "filter": "params.alpha = '0.1'", "max_results": 10,
                     "order_by": ["metrics.rmse ASC"] })
        );
        assert_eq!(sent[1].body()["page_token"], "tok");
        assert_eq!(sent[1].body()["max_results"], 8);
    }

    #[test]
    fn search_runs_stops_at_max_results_and_reads_lenient_numbers() {
        let client = client(|_| {
            ok(json!({ "runs": [
                { "info": { "run_uuid": "old", "status": "SCHEDULED", "start_time": "12" },
                  "data": { "metrics": [{ "key": "m", "value": "NaN", "timestamp": "3" }],
                            "tags": [{ "key": "mlflow.runName", "value": "named-by-tag" }] } },
                { "info": { "run_id": "b" } }
            ], "next_page_token": "more" }))
        });
        let runs = block_on(client.search_runs(&[], "", 1, &[])).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].run_id, "old");
        assert_eq!(runs[0].run_name, "named-by-tag");
        assert_eq!(runs[0].status, RunStatus::Running);
        assert_eq!(runs[0].start_time, 12);
        assert!(runs[0].metrics.get("m").is_some_and(|m| m.value.is_nan() && m.timestamp == 3));
        assert_eq!(sent(&client).len(), 1);
        assert_eq!(block_on(client.search_runs(&[], "", 0, &[])), Ok(Vec::new()));
    }

    // ----- artifacts -----

    #[test]
    fn artifact_urls_follow_the_runs_artifact_root() {
        let base = "http://h:5000";
        assert_eq!(
            artifact_url(base, "mlflow-artifacts:/1/abc/artifacts", "model/MLmodel").as_deref(),
            Some("http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/MLmodel")
        );
        assert_eq!(
            artifact_url(base, "mlflow-artifacts://other:9/1/abc/artifacts/", "plots/my plot.svg").as_deref(),
            Some("http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/plots/my%20plot.svg")
        );
        assert_eq!(
            artifact_url(base, "mlflow-artifacts:", "a.txt").as_deref(),
            Some("http://h:5000/api/2.0/mlflow-artifacts/artifacts/a.txt")
        );
        assert_eq!(artifact_url(base, "s3://bucket/1/abc/artifacts", "a.txt"), None);
        assert_eq!(artifact_url(base, "file:///tmp/mlruns/1/abc/artifacts", "a.txt"), None);
    }

    #[test]
    fn upload_artifact_puts_the_bytes_under_the_runs_root() {
        let client = client(|sent| match sent.method.as_str() {
            "GET" => ok(created_run("abc", "1")),
            _ => Ok(HttpResponse { status: 200, body: Vec::new() }),
        });
        block_on(client.upload_artifact("abc", "model/model.json", b"{\"w\":1}")).expect("uploaded");
        let sent = sent(&client);
        assert_eq!(sent[0].path(), "/api/2.0/mlflow/runs/get?run_id=abc");
        assert_eq!(sent[1].method, "PUT");
        assert_eq!(sent[1].path(), "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/model.json");
        assert_eq!(sent[1].bytes.as_deref(), Some(&b"{\"w\":1}"[..]));
        assert_eq!(sent[1].content_type.as_deref(), Some("application/octet-stream"));
    }

    #[test]
    fn upload_artifact_refuses_bad_paths_and_unproxied_roots() {
        let client = client(|_| {
            ok(json!({ "run": { "info": { "run_id": "abc", "artifact_uri": "s3://bucket/abc/artifacts" } } }))
        });
        let err = block_on(client.upload_artifact("abc", "a.txt", b"x")).expect_err("not proxied");
        assert!(matches!(err, TrackingError::Unreachable { ref url, ref why }
            if url == "s3://bucket/abc/artifacts" && why.contains("--serve-artifacts")));
        let err = block_on(client.upload_artifact("abc", "../escape.txt", b"x")).expect_err("bad path");
        assert!(matches!(err, TrackingError::BadKey { .. }), "{err:?}");
        assert!(sent(&client).iter().all(|s| s.method != "PUT"));
    }

    // ----- registry -----

    #[test]
    fn registry_calls_send_mlflows_shapes() {
        let client = client(|sent| match sent.path() {
            "/api/2.0/mlflow/model-versions/create" => ok(json!({ "model_version": { "version": "3" } })),
            _ => ok(json!({})),
        });
        block_on(client.create_registered_model("fares")).expect("created");
        assert_eq!(block_on(client.create_model_version("fares", "runs:/abc/model", "abc")), Ok(3));
        block_on(client.transition_model_version_stage("fares", 3, "Production", true)).expect("moved");
        block_on(client.set_registered_model_alias("fares", "champion", 3)).expect("aliased");
        let sent = sent(&client);
        let calls: Vec<(&str, &Value)> = sent.iter().map(|s| (s.path(), s.body())).collect();
        assert_eq!(
            calls,
            vec![
                ("/api/2.0/mlflow/registered-models/create", &json!({ "name": "fares" })),
                (
                    "/api/2.0/mlflow/model-versions/create",
                    &json!({ "name": "fares", "source": "runs:/abc/model", "run_id": "abc" })
                ),
                (
                    "/api/2.0/mlflow/model-versions/transition-stage",
                    &json!({ "name": "fares", "version": "3", "stage": "Production", "archive_existing_versions": true })
                ),
                (
                    "/api/2.0/mlflow/registered-models/alias",
                    &json!({ "name": "fares", "alias": "champion", "version": "3" })
                ),
            ]
        );
    }

    #[test]
    fn creating_a_registered_model_twice_is_fine() {
        let client = client(|_| mlflow_error(400, "RESOURCE_ALREADY_EXISTS"));
        assert_eq!(block_on(client.create_registered_model("fares")), Ok(()));
        let client = self::client(|_| mlflow_error(403, "PERMISSION_DENIED"));
        assert!(matches!(
            block_on(client.create_registered_model("fares")),
            Err(TrackingError::Server { .. })
        ));
    }

    #[test]
    fn a_model_version_that_is_not_a_number_is_a_bad_response() {
        let client = client(|_| ok(json!({ "model_version": { "version": "three" } })));
        let err = block_on(client.create_model_version("m", "runs:/a/model", "a")).expect_err("bad");
        assert!(matches!(err, TrackingError::Server { ref code, .. } if code == "BAD_RESPONSE"), "{err:?}");
    }

    // ----- errors -----

    #[test]
    fn a_transport_failure_is_unreachable_and_says_local_data_is_kept() {
        let client = client(|_| Err("connection refused".to_string()));
        let err = block_on(client.create_experiment("taxi")).expect_err("down");
        let TrackingError::Unreachable { url, why } = &err else { panic!("{err:?}") };
        assert_eq!(url, "http://mlflow.test:5000");
        assert!(why.starts_with("connection refused"));
        assert!(why.contains("runs stay saved"));
        let shown = err.to_string();
        assert!(shown.contains("could not be reached"), "{shown}");
    }

    #[test]
    fn an_mlflow_error_keeps_its_code_and_message() {
        let client = client(|_| mlflow_error(404, "RESOURCE_DOES_NOT_EXIST"));
        let err = block_on(client.create_run("999", "x", 1, &[])).expect_err("no experiment");
        assert_eq!(
            err,
            TrackingError::Server {
                status: 404,
                code: "RESOURCE_DOES_NOT_EXIST".into(),
                message: "RESOURCE_DOES_NOT_EXIST happened".into()
            }
        );
    }

    #[test]
    fn a_non_json_error_keeps_the_first_200_characters() {
        let page = format!("<!doctype html><title>404 Not Found</title>{}", "y".repeat(500));
        let client = client(move |_| Ok(HttpResponse { status: 404, body: page.clone().into_bytes() }));
        let err = block_on(client.create_experiment("taxi")).expect_err("not mlflow");
        let TrackingError::Server { status, code, message } = err else { panic!() };
        assert_eq!((status, code.as_str()), (404, "ENDPOINT_NOT_FOUND"));
        assert!(message.starts_with("<!doctype html><title>404 Not Found</title>yyy"));
        assert_eq!(message.split('…').next().map(|s| s.chars().count()), Some(200));
        assert!(message.contains("MLflow tracking server"));
    }

    #[test]
    fn the_security_middlewares_refusals_come_with_the_flag_to_fix_them() {
        for (text, flag) in [
            ("Invalid Host header - possible DNS rebinding attack detected", "--allowed-hosts"),
            ("Cross-origin request blocked", "--cors-allowed-origins"),
        ] {
            let client = client(move |_| Ok(HttpResponse { status: 403, body: text.as_bytes().to_vec() }));
            let err = block_on(client.create_experiment("taxi")).expect_err("refused");
            assert!(
                matches!(err, TrackingError::Server { status: 403, ref message, .. } if message.contains(flag))
            );
        }
    }

    #[test]
    fn a_page_that_is_not_mlflow_is_named_as_such() {
        // A static file server answers every path with its index page and 200.
        let client = client(|_| Ok(HttpResponse { status: 200, body: b"<html>MLOps Lab</html>".to_vec() }));
        let err = block_on(client.create_experiment("taxi")).expect_err("not mlflow");
        assert!(matches!(err, TrackingError::Server { ref code, .. } if code == "NOT_MLFLOW"), "{err:?}");
        let client = self::client(|_| ok(json!({ "unexpected": true })));
        let err = block_on(client.create_experiment("taxi")).expect_err("wrong shape");
        assert!(matches!(err, TrackingError::Server { ref code, .. } if code == "BAD_RESPONSE"), "{err:?}");
    }

    // ----- pushing -----

    fn local_run(run_id: &str, parent: Option<&str>) -> ExportedRun {
        let mut run_tags = BTreeMap::from([
            (tags::RUN_NAME.to_string(), format!("name-{run_id}")),
            (tags::USER.to_string(), "learner".to_string()),
            ("team".to_string(), "fares".to_string()),
        ]);
        if let Some(parent) = parent {
            run_tags.insert(tags::PARENT_RUN_ID.to_string(), parent.to_string());
        }
        let history = vec![
            Metric { value: 9.0, timestamp: 101, step: 0 },
            Metric { value: 7.0, timestamp: 102, step: 1 },
            Metric { value: 6.5, timestamp: 103, step: 2 },
        ];
        ExportedRun {
            run: Run {
                run_id: run_id.to_string(),
                experiment_id: "1".to_string(),
                run_name: format!("name-{run_id}"),
                user_id: "learner".to_string(),
                status: RunStatus::Finished,
                start_time: 100,
                end_time: Some(200),
                lifecycle_stage: LifecycleStage::Active,
                params: BTreeMap::from([("alpha".to_string(), "0.1".to_string())]),
                metrics: BTreeMap::from([
                    ("rmse".to_string(), history[2]),
                    ("r2".to_string(), Metric { value: 0.8, timestamp: 150, step: 0 }),
                ]),
                tags: run_tags,
                artifacts: vec![ArtifactInfo {
                    path: "model/model.json".into(),
                    size: 7,
                    content_type: "application/json".into(),
                }],
                logged_models: Vec::new(),
            },
            metric_history: BTreeMap::from([("rmse".to_string(), history)]),
            artifacts: vec![
                ExportedArtifact {
                    path: "model/model.json".into(),
                    content_type: "application/json".into(),
                    base64: base64::engine::general_purpose::STANDARD.encode(b"{\"w\":1}"),
                },
                ExportedArtifact {
                    path: "model/MLmodel".into(),
                    content_type: "application/json".into(),
                    base64: base64::engine::general_purpose::STANDARD
                        .encode(format!("{{\"run_id\": \"{run_id}\", \"note\": \"{run_id}x\"}}")),
                },
            ],
        }
    }

    /// Answers like a server with experiment `7`, on which `pushed` (local id → remote
    /// id) are already present; new runs get id `remote-<run name>`.
    fn push_server(pushed: &RefCell<BTreeMap<String, String>>, sent: &Sent) -> Result<HttpResponse, String> {
        match (sent.method.as_str(), sent.path()) {
            ("GET", path) if path.starts_with("/api/2.0/mlflow/experiments/get-by-name") => {
                ok(json!({ "experiment": { "experiment_id": "7", "lifecycle_stage": "active" } }))
            }
            ("POST", "/api/2.0/mlflow/runs/search") => {
                let filter = sent.body()["filter"].as_str().unwrap_or_default().to_string();
                let found: Vec<Value> = pushed
                    .borrow()
                    .iter()
                    .filter(|(local, _)| filter.contains(&format!("'{local}'")))
                    .map(|(_, remote)| json!({ "info": { "run_id": remote } }))
                    .collect();
                ok(json!({ "runs": found }))
            }
            ("POST", "/api/2.0/mlflow/runs/create") => {
                let name = sent.body()["run_name"].as_str().unwrap_or_default();
                ok(created_run(&format!("remote-{name}"), "7"))
            }
            ("POST", "/api/2.0/mlflow/runs/log-batch") => {
                let body = sent.body();
                for tag in body["tags"].as_array().into_iter().flatten() {
                    if tag["key"] == LOCAL_RUN_ID_TAG {
                        let local = tag["value"].as_str().unwrap_or_default().to_string();
                        let remote = body["run_id"].as_str().unwrap_or_default().to_string();
                        pushed.borrow_mut().insert(local, remote);
                    }
                }
                ok(json!({}))
            }
            _ => ok(json!({})),
        }
    }

    #[test]
    fn push_run_replays_a_local_run() {
        let pushed = RefCell::new(BTreeMap::new());
        let client = client(|sent| push_server(&pushed, sent));
        let exported = local_run("aaa", None);
        assert_eq!(block_on(client.push_run(&exported, "team")), Ok("remote-name-aaa".to_string()));
        let sent = sent(&client);
        let calls: Vec<(&str, &str)> = sent
            .iter()
            .map(|s| (s.method.as_str(), s.path().split('?').next().unwrap_or_default()))
            .collect();
        assert_eq!(
            calls,
            vec![
                ("GET", "/api/2.0/mlflow/experiments/get-by-name"),
                ("POST", "/api/2.0/mlflow/runs/search"),
                ("POST", "/api/2.0/mlflow/runs/create"),
                ("POST", "/api/2.0/mlflow/runs/log-batch"),
                ("PUT", "/api/2.0/mlflow-artifacts/artifacts/7/remote-name-aaa/artifacts/model/model.json"),
                ("PUT", "/api/2.0/mlflow-artifacts/artifacts/7/remote-name-aaa/artifacts/model/MLmodel"),
                ("POST", "/api/2.0/mlflow/runs/update"),
                ("POST", "/api/2.0/mlflow/runs/log-batch"),
            ]
        );
        assert_eq!(sent[1].body()["filter"], "tags.`mlops_lab.local_run_id` = 'aaa'");
        assert_eq!(
            sent[2].body(),
            &json!({
                "experiment_id": "7", "run_name": "name-aaa", "start_time": 100, "user_id": "learner",
                "tags": [{ "key": "mlflow.user", "value": "learner" }, { "key": "team", "value": "fares" }]
            })
        );
        let batch = sent[3].body();
        assert_eq!(batch["params"], json!([{ "key": "alpha", "value": "0.1" }]));
        assert_eq!(batch["tags"], json!([]));
        assert_eq!(
            batch["metrics"],
            json!([
                { "key": "rmse", "value": 9.0, "timestamp": 101, "step": 0 },
                { "key": "rmse", "value": 7.0, "timestamp": 102, "step": 1 },
                { "key": "rmse", "value": 6.5, "timestamp": 103, "step": 2 },
                { "key": "r2", "value": 0.8, "timestamp": 150, "step": 0 },
            ])
        );
        assert_eq!(sent[4].bytes.as_deref(), Some(&b"{\"w\":1}"[..]));
        assert_eq!(sent[4].content_type.as_deref(), Some("application/json"));
        // The MLmodel names the server's run; other text that merely contains the id stays.
        assert_eq!(
            sent[5].bytes.as_deref(),
            Some(&b"{\"run_id\": \"remote-name-aaa\", \"note\": \"aaax\"}"[..])
        );
        assert_eq!(
            sent[6].body(),
            &json!({ "run_id": "remote-name-aaa", "status": "FINISHED", "end_time": 200 })
        );
        assert_eq!(sent[7].body()["tags"], json!([{ "key": LOCAL_RUN_ID_TAG, "value": "aaa" }]));
    }

    #[test]
    fn pushing_a_run_twice_finds_the_first_push() {
        let pushed = RefCell::new(BTreeMap::from([("aaa".to_string(), "earlier".to_string())]));
        let client = client(|sent| push_server(&pushed, sent));
        assert_eq!(block_on(client.push_run(&local_run("aaa", None), "team")), Ok("earlier".to_string()));
        assert!(sent(&client).iter().all(|s| !s.path().ends_with("/runs/create")));
    }

    #[test]
    fn a_push_that_fails_halfway_deletes_its_half_made_run() {
        let pushed = RefCell::new(BTreeMap::new());
        let client = client(|sent| {
            if sent.method == "PUT" {
                return Ok(HttpResponse { status: 500, body: b"Internal Server Error".to_vec() });
            }
            push_server(&pushed, sent)
        });
        let err = block_on(client.push_run(&local_run("aaa", None), "team")).expect_err("upload fails");
        assert!(matches!(err, TrackingError::Server { status: 500, .. }), "{err:?}");
        let sent = sent(&client);
        let last = sent.last().expect("requests");
        assert_eq!(last.path(), "/api/2.0/mlflow/runs/delete");
        assert_eq!(last.body(), &json!({ "run_id": "remote-name-aaa" }));
        assert!(pushed.borrow().is_empty(), "a failed push is not marked as pushed");
    }

    #[test]
    fn push_runs_pushes_parents_first_and_links_children_to_them() {
        let pushed = RefCell::new(BTreeMap::new());
        let client = client(|sent| push_server(&pushed, sent));
        let runs = [
            local_run("child", Some("parent")),
            local_run("parent", None),
            local_run("orphan", Some("gone")),
        ];
        let result = block_on(client.push_runs(&runs, "team")).expect("pushed");
        assert_eq!(
            result,
            vec![
                ("parent".to_string(), "remote-name-parent".to_string()),
                ("orphan".to_string(), "remote-name-orphan".to_string()),
                ("child".to_string(), "remote-name-child".to_string()),
            ]
        );
        let creates: Vec<Value> = sent(&client)
            .iter()
            .filter(|s| s.path().ends_with("/runs/create"))
            .map(|s| s.body().clone())
            .collect();
        let tag = |body: &Value, key: &str| {
            body["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["key"] == key)
                .map(|t| t["value"].clone())
        };
        assert_eq!(tag(&creates[2], tags::PARENT_RUN_ID), Some(json!("remote-name-parent")));
        assert_eq!(tag(&creates[2], LOCAL_PARENT_RUN_ID_TAG), None);
        // A parent that is not on the server is remembered, not linked to a missing run.
        assert_eq!(tag(&creates[1], tags::PARENT_RUN_ID), None);
        assert_eq!(tag(&creates[1], LOCAL_PARENT_RUN_ID_TAG), Some(json!("gone")));
    }
}
