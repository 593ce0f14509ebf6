//! The app's routes, all in one place.
//!
//! Routing uses the URL fragment (`#/chapter-1`), so the built `dist/` works from any
//! sub-path of any static host, and a deep link or reload never asks the server for a
//! path it does not have.

use leptos::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Home,
    Chapter1,
    Chapter2,
    /// Chapter 3's walkthrough: orchestration and ML pipelines.
    Chapter3,
    /// The runs table (experiments sidebar, filter, columns).
    Runs,
    /// One run's page, by run id.
    Run(String),
    /// `#/compare?runs=ID,ID,...`.
    Compare,
    /// The model registry.
    Models,
    /// One registered model, by name.
    Model(String),
    /// Learner name and the remote MLflow server.
    Settings,
    Chapter4,
    /// The ride-duration service: request console, load tool, prediction log, export.
    Service,
    /// Batch scoring of a month.
    Batch,
    /// The simulated stream and its consumer.
    Stream,
    Chapter5,
    /// The monitoring dashboard: replay, daily metrics, alerts, service health.
    Monitoring,
    /// One replayed day's Evidently-style report, by day index.
    MonitoringDay(u32),
    /// A drift report between two whole files.
    DriftCompare,
    /// `#/bench?train=URL&val=URL&repeat=N`, driven by `bench/run.sh`.
    Bench,
    /// Chapter 2's hyperparameter search: space, algorithm, worker pool, trials.
    Search,
    /// Chapter 3's pipelines: DAG, clock, triggers, run history.
    Pipelines,
    /// A chapter whose issue has not landed yet.
    Coming(u8),
    NotFound,
}

/// Path segments are percent-encoded, so a model named `a/b?c` still has one address.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub fn encode_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

pub fn decode_segment(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

impl Route {
    pub fn path(&self) -> String {
        match self {
            Route::Home => "#/".to_string(),
            Route::Chapter1 => "#/chapter-1".to_string(),
            Route::Chapter2 => "#/chapter-2".to_string(),
            Route::Chapter3 => "#/chapter-3".to_string(),
            Route::Runs => "#/runs".to_string(),
            Route::Run(id) => format!("#/runs/{}", encode_segment(id)),
            Route::Compare => "#/compare".to_string(),
            Route::Models => "#/models".to_string(),
            Route::Model(name) => format!("#/models/{}", encode_segment(name)),
            Route::Settings => "#/settings".to_string(),
            Route::Chapter4 => "#/chapter-4".to_string(),
            Route::Service => "#/service".to_string(),
            Route::Batch => "#/batch".to_string(),
            Route::Stream => "#/stream".to_string(),
            Route::Chapter5 => "#/chapter-5".to_string(),
            Route::Monitoring => "#/monitoring".to_string(),
            Route::MonitoringDay(day) => format!("#/monitoring/day/{day}"),
            Route::DriftCompare => "#/monitoring/compare".to_string(),
            Route::Bench => "#/bench".to_string(),
            Route::Search => "#/search".to_string(),
            Route::Pipelines => "#/pipelines".to_string(),
            Route::Coming(n) => format!("#/chapter-{n}"),
            Route::NotFound => "#/not-found".to_string(),
        }
    }

    /// The compare view for these runs.
    pub fn compare(run_ids: &[String]) -> String {
        let ids: Vec<String> = run_ids.iter().map(|id| encode_segment(id)).collect();
        format!("#/compare?runs={}", ids.join(","))
    }

    pub fn from_hash(hash: &str) -> Self {
        let path = hash.trim_start_matches('#').split('?').next().unwrap_or_default();
        let path = path.trim_start_matches('/').trim_end_matches('/');
        match path {
            "bench" => Route::Bench,
            "search" => Route::Search,
            "pipelines" => Route::Pipelines,
            "" => Route::Home,
            "chapter-1" => Route::Chapter1,
            "chapter-2" => Route::Chapter2,
            "chapter-3" => Route::Chapter3,
            "runs" => Route::Runs,
            "compare" => Route::Compare,
            "models" => Route::Models,
            "settings" => Route::Settings,
            "chapter-4" => Route::Chapter4,
            "service" => Route::Service,
            "batch" => Route::Batch,
            "stream" => Route::Stream,
            "chapter-5" => Route::Chapter5,
            "monitoring" => Route::Monitoring,
            "monitoring/compare" => Route::DriftCompare,
            other => {
                if let Some(day) = other.strip_prefix("monitoring/day/").and_then(|d| d.parse::<u32>().ok()) {
                    return Route::MonitoringDay(day);
                }
                if let Some(id) = other.strip_prefix("runs/").filter(|id| !id.is_empty() && !id.contains('/'))
                {
                    return Route::Run(decode_segment(id));
                }
                if let Some(name) =
                    other.strip_prefix("models/").filter(|n| !n.is_empty() && !n.contains('/'))
                {
                    return Route::Model(decode_segment(name));
                }
                match other.strip_prefix("chapter-").and_then(|n| n.parse::<u8>().ok()) {
                    Some(3) => Route::Coming(3),
                    _ => Route::NotFound,
                }
            }
        }
    }
}

/// The `key=value` pairs after `?` in the fragment (values are not URL-decoded).
pub fn hash_query(hash: &str) -> Vec<(String, String)> {
    hash.split_once('?')
        .map(|(_, query)| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn current_hash() -> String {
    window().location().hash().unwrap_or_default()
}

/// The current route as a signal that follows `hashchange`.
pub fn use_route() -> ReadSignal<Route> {
    let (route, set_route) = signal(Route::from_hash(&current_hash()));
    let handle = window_event_listener(leptos::ev::hashchange, move |_| {
        set_route.set(Route::from_hash(&current_hash()));
        window().scroll_to_with_x_and_y(0.0, 0.0);
    });
    on_cleanup(move || handle.remove());
    route
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_parses_back_from_its_path() {
        let routes = [
            Route::Home,
            Route::Chapter1,
            Route::Chapter2,
            Route::Runs,
            Route::Run("0123abcd".into()),
            Route::Compare,
            Route::Models,
            Route::Model("taxi duration/v2 ?#%".into()),
            Route::Settings,
            Route::Chapter4,
            Route::Service,
            Route::Batch,
            Route::Stream,
            Route::Chapter3,
            Route::Chapter5,
            Route::Monitoring,
            Route::MonitoringDay(27),
            Route::DriftCompare,
            Route::Search,
            Route::Pipelines,
        ];
        for route in routes {
            assert_eq!(Route::from_hash(&route.path()), route);
        }
        assert_eq!(Route::from_hash("#/runs/a/b"), Route::NotFound);
        assert_eq!(Route::from_hash(&Route::compare(&["a".into(), "b".into()])), Route::Compare);
        assert_eq!(Route::from_hash(""), Route::Home);
        assert_eq!(Route::from_hash("#/chapter-9"), Route::NotFound);
        assert_eq!(Route::from_hash("#/monitoring/day/x"), Route::NotFound);
        assert_eq!(Route::from_hash("#/<script>"), Route::NotFound);
        assert_eq!(Route::from_hash("#/bench?train=a&val=b"), Route::Bench);
        assert_eq!(
            hash_query("#/bench?train=a.parquet&repeat=3"),
            vec![("train".into(), "a.parquet".into()), ("repeat".into(), "3".into())]
        );
    }
}
