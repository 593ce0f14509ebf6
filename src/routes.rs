//! The app's routes, all in one place.
//!
//! Routing uses the URL fragment (`#/chapter-1`), so the built `dist/` works from any
//! sub-path of any static host, and a deep link or reload never asks the server for a
//! path it does not have.

use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Home,
    Chapter1,
    Runs,
    /// `#/bench?train=URL&val=URL&repeat=N`, driven by `bench/run.sh`.
    Bench,
    /// A chapter whose issue has not landed yet.
    Coming(u8),
    NotFound,
}

impl Route {
    pub fn path(self) -> String {
        match self {
            Route::Home => "#/".to_string(),
            Route::Chapter1 => "#/chapter-1".to_string(),
            Route::Runs => "#/runs".to_string(),
            Route::Bench => "#/bench".to_string(),
            Route::Coming(n) => format!("#/chapter-{n}"),
            Route::NotFound => "#/not-found".to_string(),
        }
    }

    pub fn from_hash(hash: &str) -> Self {
        let path = hash.trim_start_matches('#').split('?').next().unwrap_or_default();
        let path = path.trim_start_matches('/').trim_end_matches('/');
        match path {
            "bench" => Route::Bench,
            "" => Route::Home,
            "chapter-1" => Route::Chapter1,
            "runs" => Route::Runs,
            other => match other.strip_prefix("chapter-").and_then(|n| n.parse::<u8>().ok()) {
                Some(n @ 2..=5) => Route::Coming(n),
                _ => Route::NotFound,
            },
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
        for route in [Route::Home, Route::Chapter1, Route::Runs, Route::Coming(3)] {
            assert_eq!(Route::from_hash(&route.path()), route);
        }
        assert_eq!(Route::from_hash(""), Route::Home);
        assert_eq!(Route::from_hash("#/chapter-9"), Route::NotFound);
        assert_eq!(Route::from_hash("#/<script>"), Route::NotFound);
        assert_eq!(Route::from_hash("#/bench?train=a&val=b"), Route::Bench);
        assert_eq!(
            hash_query("#/bench?train=a.parquet&repeat=3"),
            vec![("train".into(), "a.parquet".into()), ("repeat".into(), "3".into())]
        );
    }
}
