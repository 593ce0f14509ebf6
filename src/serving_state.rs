//! The model the ride-duration service answers with, shared by every page: the service
//! console and load tool, the stream consumer, and `fetch("api/predict")` calls answered
//! through the service worker while any page of the app is open.
//!
//! The model is chosen by URI — `models:/<name>/Production`, `models:/<name>@champion`
//! or `runs:/<run id>/model` — resolved through the tracking client, and swapped in one
//! step, so the next answer's `model_version` already shows the new one.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::serving::log::{PredictionLog, PredictionLogEntry, RequestSource};
use mlops_core::serving::service::{handle, LoadedModel, ServiceError, ServiceResponse};
use mlops_core::tracking::registry::{parse_model_uri, ModelUri};
use mlops_core::tracking::TrackingError;

use crate::storage::{prefs, random_bits};
use crate::tracking_state::Tracking;

const MODEL_URI_KEY: &str = "mlops-lab-served-model";
/// The prediction log is written in batches: one transaction per request would slow
/// the load tool to the database's pace.
const FLUSH_EVERY: usize = 200;

#[derive(Clone, Copy)]
pub struct Serving {
    tracking: Tracking,
    /// The URI the learner chose.
    pub model_uri: RwSignal<String>,
    /// What is served: the model, or why none can be.
    pub served: RwSignal<Option<Arc<Result<LoadedModel, ServiceError>>>>,
    /// Requests answered since the page opened (all sources).
    pub answered: RwSignal<u64>,
    pending_log: StoredValue<Rc<RefCell<Vec<PredictionLogEntry>>>, LocalStorage>,
}

/// Milliseconds from the page's high-resolution clock, for timing in the browser.
pub fn now_ms() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or_else(js_sys::Date::now)
}

/// The model file and the `model_version` label a URI stands for.
async fn resolve(tracking: Tracking, uri: &str) -> Result<(Vec<u8>, String), TrackingError> {
    let client = tracking.open_client()?;
    let bytes = client.load_model_bytes(uri).await?;
    let label = match parse_model_uri(uri)? {
        ModelUri::Run { run_id, .. } => run_id,
        parsed => {
            let name = parsed.model_name().unwrap_or_default().to_string();
            let model = client.get_registered_model(&name).await?;
            let version = model.resolve(&parsed)?;
            format!("{name}/{}", version.version)
        }
    };
    Ok((bytes, label))
}

impl Serving {
    pub fn new(tracking: Tracking) -> Self {
        let saved = prefs::get(MODEL_URI_KEY);
        let serving = Self {
            tracking,
            model_uri: RwSignal::new(saved.clone().unwrap_or_default()),
            served: RwSignal::new(None),
            answered: RwSignal::new(0),
            pending_log: StoredValue::new_local(Rc::new(RefCell::new(Vec::new()))),
        };
        if let Some(uri) = saved.filter(|u| !u.is_empty()) {
            spawn_local(async move {
                while !tracking.ready.get_untracked() {
                    gloo_timers::future::TimeoutFuture::new(50).await;
                }
                serving.load(uri).await;
            });
        }
        serving
    }

    pub fn use_context() -> Self {
        expect_context::<Self>()
    }

    /// Serves the model behind `uri` from now on (remembered across reloads).
    pub fn choose(&self, uri: String) {
        let serving = *self;
        prefs::set(MODEL_URI_KEY, &uri);
        spawn_local(async move { serving.load(uri).await });
    }

    async fn load(&self, uri: String) {
        self.model_uri.set(uri.clone());
        let loaded = match resolve(self.tracking, &uri).await {
            Ok((bytes, label)) => LoadedModel::from_json(&bytes, &label),
            Err(e) => Err(ServiceError::BadArtifact(format!("`{uri}`: {e}"))),
        };
        self.served.set(Some(Arc::new(loaded)));
    }

    /// The served model, if one loaded.
    pub fn model(&self) -> Option<Arc<Result<LoadedModel, ServiceError>>> {
        self.served.get_untracked()
    }

    /// Answers one request with the served model, timing it and logging it.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        source: RequestSource,
    ) -> (ServiceResponse, f64) {
        let served = self.served.get_untracked();
        let started = now_ms();
        let response = match served.as_deref() {
            Some(Ok(model)) => handle(Ok(model), method, path, body),
            Some(Err(e)) => handle(Err(e), method, path, body),
            None => handle(Err(&ServiceError::NoModel), method, path, body),
        };
        let latency_ms = now_ms() - started;
        if path.trim_start_matches('/').starts_with("predict") {
            let prediction = serde_json::from_str::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|v| v.get("duration").and_then(serde_json::Value::as_f64));
            let model_version = match served.as_deref() {
                Some(Ok(model)) => Some(model.version.clone()),
                _ => None,
            };
            self.record(PredictionLogEntry {
                timestamp: js_sys::Date::now() as i64,
                latency_ms,
                status: response.status,
                source,
                request: PredictionLogEntry::request_text(body),
                prediction,
                model_version,
            });
        }
        self.answered.update(|n| *n += 1);
        (response, latency_ms)
    }

    fn record(&self, entry: PredictionLogEntry) {
        let pending = self.pending_log.get_value();
        let buffered = {
            let mut list = pending.borrow_mut();
            list.push(entry);
            list.len()
        };
        if buffered >= FLUSH_EVERY {
            self.flush_log();
        } else if buffered == 1 {
            // The first entry of a batch starts one timer, so single requests (the
            // console, the service worker) are written promptly without a timer each.
            let serving = *self;
            spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(250).await;
                serving.flush_log();
            });
        }
    }

    /// Writes buffered prediction-log entries in one transaction, in the background.
    pub fn flush_log(&self) {
        let serving = *self;
        spawn_local(async move { serving.flush().await });
    }

    /// Writes buffered prediction-log entries in one transaction.
    pub async fn flush(&self) {
        let entries: Vec<PredictionLogEntry> = self.pending_log.get_value().borrow_mut().drain(..).collect();
        let Some(client) = self.tracking.client().filter(|_| !entries.is_empty()) else { return };
        let log = PredictionLog::new(client.backend());
        if let Err(e) = log.append(&entries, random_bits() as u64).await {
            self.tracking.warning.set(Some(format!("The prediction log could not be saved: {e}")));
        }
    }

    /// Every logged prediction, oldest first.
    pub async fn read_log(&self) -> Result<Vec<PredictionLogEntry>, TrackingError> {
        self.flush().await;
        let client = self.tracking.open_client()?;
        PredictionLog::new(client.backend()).all().await
    }

    pub async fn clear_log(&self) -> Result<usize, TrackingError> {
        let client = self.tracking.open_client()?;
        PredictionLog::new(client.backend()).clear().await
    }
}
