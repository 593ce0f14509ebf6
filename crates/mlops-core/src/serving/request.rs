//! The `/predict` request: `{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}`.
//!
//! TO BE IMPLEMENTED (see the task text): validation with one typed error per bad input.

use serde::{Deserialize, Serialize};

/// Bodies above this are refused before parsing (HTTP 413).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// No taxi ride in New York is longer than this many miles; more is a typo or an attack.
pub const MAX_TRIP_DISTANCE_MILES: f64 = 500.0;
/// TLC taxi zones are numbered 1..=265 (264 and 265 are "unknown" zones in TLC's table).
pub const LOCATION_IDS: std::ops::RangeInclusive<i64> = 1..=265;

/// One ride to predict, as the course's service receives it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ride {
    #[serde(rename = "PULocationID")]
    pub pu_location_id: i64,
    #[serde(rename = "DOLocationID")]
    pub do_location_id: i64,
    pub trip_distance: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RequestError {
    #[error("the request body is {size} bytes; the limit is {limit}")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("the request body is empty; send a JSON object like {{\"PULocationID\": 10, \"DOLocationID\": 50, \"trip_distance\": 40}}")]
    EmptyBody,
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the request body must be a JSON object, not {0}")]
    NotAnObject(String),
    #[error("the field `{0}` is missing")]
    MissingField(&'static str),
    #[error("the field `{field}` must be {expected}, not {got}")]
    WrongType { field: &'static str, expected: &'static str, got: String },
    #[error("trip_distance is {0}; a distance cannot be negative")]
    NegativeDistance(f64),
    #[error("trip_distance is {0} miles; rides longer than {MAX_TRIP_DISTANCE_MILES} miles are refused")]
    AbsurdDistance(f64),
}

impl RequestError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::BodyTooLarge { .. } => 413,
            RequestError::NegativeDistance(_) | RequestError::AbsurdDistance(_) => 422,
            _ => 400,
        }
    }
}

/// Parses and validates a `/predict` body.
pub fn parse_ride(body: &[u8]) -> Result<Ride, RequestError> {
    let _ = body;
    Err(RequestError::EmptyBody)
}

/// Validates a ride already parsed from JSON (the streaming consumer's `"ride"` object).
pub fn ride_from_value(value: &serde_json::Value) -> Result<Ride, RequestError> {
    let _ = value;
    Err(RequestError::EmptyBody)
}

pub fn is_known_location(id: i64) -> bool {
    LOCATION_IDS.contains(&id)
}
