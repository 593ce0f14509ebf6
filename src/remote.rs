//! A real MLflow tracking server, reached with the browser's `fetch`: the settings the
//! learner chose, and the [`HttpTransport`] the core's [`RestClient`] sends through.
//!
//! Nothing is sent anywhere unless the learner enters a server address; local runs are
//! never changed by pushing them.

use gloo_net::http::{Method, RequestBuilder};
use mlops_core::tracking::rest::{HttpResponse, HttpTransport, RestClient};
use mlops_core::tracking::TrackingError;

use crate::storage::prefs;

const URL_KEY: &str = "mlops-lab-remote-url";
const MIRROR_KEY: &str = "mlops-lab-remote-mirror";

/// The server address the learner saved, if any.
pub fn saved_url() -> Option<String> {
    prefs::get(URL_KEY).filter(|url| !url.trim().is_empty())
}

pub fn save_url(url: &str) {
    if url.trim().is_empty() {
        prefs::remove(URL_KEY);
    } else {
        prefs::set(URL_KEY, url.trim());
    }
}

/// Whether each finished training is also sent to the server.
pub fn mirror_enabled() -> bool {
    saved_url().is_some() && prefs::get(MIRROR_KEY).as_deref() == Some("on")
}

pub fn save_mirror(on: bool) {
    prefs::set(MIRROR_KEY, if on { "on" } else { "off" });
}

pub struct FetchTransport;

fn method(name: &str) -> Method {
    match name {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => Method::GET,
    }
}

async fn answer(request: Result<gloo_net::http::Request, gloo_net::Error>) -> Result<HttpResponse, String> {
    let response = request.map_err(|e| e.to_string())?.send().await.map_err(|e| {
        format!("{e} — is the server running, and does it allow this page's origin (mlflow server --cors-allowed-origins)?")
    })?;
    let status = response.status();
    let body = response.binary().await.map_err(|e| e.to_string())?;
    Ok(HttpResponse { status, body })
}

impl HttpTransport for FetchTransport {
    async fn send(
        &self,
        method_name: &str,
        url: &str,
        json_body: Option<String>,
    ) -> Result<HttpResponse, String> {
        let builder = RequestBuilder::new(url).method(method(method_name));
        let request = match json_body {
            Some(body) => builder.header("Content-Type", "application/json").body(body),
            None => builder.build(),
        };
        answer(request).await
    }

    async fn send_bytes(
        &self,
        method_name: &str,
        url: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<HttpResponse, String> {
        let bytes = js_sys::Uint8Array::from(body);
        let request = RequestBuilder::new(url)
            .method(method(method_name))
            .header("Content-Type", content_type)
            .body(bytes);
        answer(request).await
    }
}

/// A REST client for the saved server.
pub fn client() -> Result<RestClient<FetchTransport>, TrackingError> {
    let url = saved_url().ok_or_else(|| TrackingError::Unreachable {
        url: String::new(),
        why: "no server address is set; enter one in Settings".to_string(),
    })?;
    RestClient::new(&url, FetchTransport)
}
