//! The `/predict` request: `{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}`.
//!
//! The course's Flask service hands the parsed dict straight to the `DictVectorizer`, so
//! a typo (`"trip_distance": "4"`, a missing field, `10.0` as a zone) either crashes the
//! handler with a 500 or silently predicts from an unseen category. Here every bad input
//! gets its own [`RequestError`] with a status and a message a learner can act on.
//!
//! Decisions, each pinned by a test:
//! - Location IDs must be JSON integers. `10.0` and `"10"` are refused: the Flask service
//!   would build the category `"10.0_50"` or `"10_50"` from them, and only the second
//!   is one the model knows, which is exactly the kind of silent difference we teach
//!   learners to avoid. An ID outside [`LOCATION_IDS`] is accepted here and answered
//!   with a warning by the service (the model still predicts from the distance).
//! - `trip_distance` may be any JSON number, integers included.
//! - Unknown extra fields are ignored, as Flask's dict would ignore them.
//! - A body that is only whitespace counts as empty; a leading UTF-8 byte-order mark is
//!   skipped (some Windows tools write one).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bodies above this are refused before parsing (HTTP 413).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// No taxi ride in New York is longer than this many miles; more is a typo or an attack.
pub const MAX_TRIP_DISTANCE_MILES: f64 = 500.0;
/// TLC taxi zones are numbered 1..=265 (264 and 265 are "unknown" zones in TLC's table).
pub const LOCATION_IDS: std::ops::RangeInclusive<i64> = 1..=265;

/// The field names of the request, as the course's producer and Flask app spell them.
pub const PU_FIELD: &str = "PULocationID";
pub const DO_FIELD: &str = "DOLocationID";
pub const DISTANCE_FIELD: &str = "trip_distance";

/// Longest parser message kept in [`RequestError::NotJson`]: the error goes back to the
/// client and into the prediction log, so it stays one short line.
const MAX_PARSER_MESSAGE_CHARS: usize = 160;
/// Longest piece of a client's value echoed back in a [`RequestError::WrongType`].
const MAX_ECHOED_CHARS: usize = 40;

const ZONE_EXPECTED: &str = "a whole number (a TLC zone ID like 10)";
const DISTANCE_EXPECTED: &str = "a number of miles (like 2.5)";

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
///
/// The size is checked before anything is parsed, so a hostile body costs no more than
/// its length check.
pub fn parse_ride(body: &[u8]) -> Result<Ride, RequestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge { size: body.len(), limit: MAX_BODY_BYTES });
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        RequestError::NotJson(format!("it is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(RequestError::EmptyBody);
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| RequestError::NotJson(cut(&e.to_string(), MAX_PARSER_MESSAGE_CHARS)))?;
    ride_from_value(&value)
}

/// Validates a ride already parsed from JSON (the streaming consumer's `"ride"` object).
pub fn ride_from_value(value: &Value) -> Result<Ride, RequestError> {
    let Value::Object(fields) = value else {
        return Err(RequestError::NotAnObject(kind_of(value).to_string()));
    };
    let field = |name: &'static str| fields.get(name).ok_or(RequestError::MissingField(name));
    let pu_location_id = location_id(PU_FIELD, field(PU_FIELD)?)?;
    let do_location_id = location_id(DO_FIELD, field(DO_FIELD)?)?;
    let trip_distance = distance(field(DISTANCE_FIELD)?)?;
    Ok(Ride { pu_location_id, do_location_id, trip_distance })
}

/// Whether `id` is a zone in TLC's zone table; the service warns about the others.
pub fn is_known_location(id: i64) -> bool {
    LOCATION_IDS.contains(&id)
}

fn location_id(field: &'static str, value: &Value) -> Result<i64, RequestError> {
    let wrong = |got: String| RequestError::WrongType { field, expected: ZONE_EXPECTED, got };
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(id) => Ok(id),
            // A u64 above i64::MAX is an integer, but no zone; say why it is refused.
            None if number.is_u64() => Err(wrong(format!("{}, which is too large", describe(value)))),
            None => Err(wrong(describe(value))),
        },
        _ => Err(wrong(describe(value))),
    }
}

fn distance(value: &Value) -> Result<f64, RequestError> {
    let miles = match value {
        Value::Number(number) => number.as_f64(),
        _ => None,
    }
    .ok_or_else(|| RequestError::WrongType {
        field: DISTANCE_FIELD,
        expected: DISTANCE_EXPECTED,
        got: describe(value),
    })?;
    // serde_json never yields a non-finite number, but a `Value` built in code could be
    // fed through `ride_from_value`; NaN would slip through both comparisons below.
    if !miles.is_finite() {
        return Err(RequestError::AbsurdDistance(miles));
    }
    if miles < 0.0 {
        return Err(RequestError::NegativeDistance(miles));
    }
    if miles > MAX_TRIP_DISTANCE_MILES {
        return Err(RequestError::AbsurdDistance(miles));
    }
    Ok(miles)
}

/// "an array", "a number", ... for [`RequestError::NotAnObject`].
pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The client's value, shown back so the learner sees what was sent (cut short).
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {}", cut(&n.to_string(), MAX_ECHOED_CHARS)),
        Value::String(s) => format!("the string {:?}", cut(s, MAX_ECHOED_CHARS)),
        Value::Array(_) | Value::Object(_) => kind_of(value).to_string(),
    }
}

/// At most `max` characters of `text`, with "…" when something was cut.
fn cut(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use serde_json::json;

    fn parse(text: &str) -> Result<Ride, RequestError> {
        parse_ride(text.as_bytes())
    }

    fn ride(pu: i64, dol: i64, miles: f64) -> Ride {
        Ride { pu_location_id: pu, do_location_id: dol, trip_distance: miles }
    }

    #[test]
    fn the_courses_example_parses() {
        let parsed = parse(r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}"#);
        assert_eq!(parsed, Ok(ride(10, 50, 40.0)));
        let parsed = parse(r#"{"PULocationID": 130, "DOLocationID": 205, "trip_distance": 2.75}"#);
        assert_eq!(parsed, Ok(ride(130, 205, 2.75)));
    }

    #[test]
    fn extra_fields_are_ignored_like_flasks_dict() {
        let body = r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 0, "tip": "yes", "x": [1]}"#;
        assert_eq!(parse(body), Ok(ride(1, 2, 0.0)));
    }

    #[test]
    fn ride_serializes_with_the_courses_field_names() {
        let value = serde_json::to_value(ride(10, 50, 2.5)).expect("serialize");
        assert_eq!(value, json!({"PULocationID": 10, "DOLocationID": 50, "trip_distance": 2.5}));
        assert_eq!(ride_from_value(&value), Ok(ride(10, 50, 2.5)));
    }

    #[test]
    fn an_empty_or_blank_body_is_empty() {
        for body in ["", "   ", "\n\t ", "\u{feff}"] {
            let err = parse(body).expect_err(body);
            assert_eq!(err, RequestError::EmptyBody);
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let body = "\u{feff}{\"PULocationID\": 1, \"DOLocationID\": 2, \"trip_distance\": 3}";
        assert_eq!(parse(body), Ok(ride(1, 2, 3.0)));
    }

    #[test]
    fn a_body_over_the_limit_is_refused_before_parsing() {
        // Not JSON at all: had it been parsed first, the error would be NotJson.
        let body = vec![b'['; MAX_BODY_BYTES + 1];
        let err = parse_ride(&body).expect_err("too large");
        assert_eq!(err, RequestError::BodyTooLarge { size: MAX_BODY_BYTES + 1, limit: MAX_BODY_BYTES });
        assert_eq!(err.status(), 413);
        // Exactly at the limit is still parsed.
        let mut at_limit = br#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 3}"#.to_vec();
        at_limit.resize(MAX_BODY_BYTES, b' ');
        assert_eq!(parse_ride(&at_limit), Ok(ride(1, 2, 3.0)));
    }

    #[test]
    fn text_that_is_not_json_says_so_briefly() {
        for body in
            ["PULocationID=10", "{", "{\"PULocationID\": 10,}", "'single'", "NaN", "Infinity", "-Infinity"]
        {
            let err = parse(body).expect_err(body);
            assert!(matches!(&err, RequestError::NotJson(m) if !m.is_empty() && m.chars().count() <= 161));
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_not_json() {
        let err = parse_ride(b"{\"PULocationID\": \xff}").expect_err("latin-1");
        assert_eq!(err, RequestError::NotJson("it is not UTF-8 text (invalid byte at offset 17)".into()));
    }

    #[test]
    fn json_that_is_not_an_object_names_what_it_is() {
        let cases = [
            ("[1, 2, 3]", "an array"),
            ("42", "a number"),
            ("\"ride\"", "a string"),
            ("true", "a boolean"),
            ("null", "null"),
        ];
        for (body, kind) in cases {
            let err = parse(body).expect_err(body);
            assert_eq!(err, RequestError::NotAnObject(kind.into()));
            assert_eq!(err.status(), 400);
        }
        assert_eq!(
            RequestError::NotAnObject("an array".into()).to_string(),
            "the request body must be a JSON object, not an array"
        );
    }

    #[test]
    fn each_missing_field_is_named() {
        let cases = [
            (r#"{"DOLocationID": 50, "trip_distance": 4}"#, PU_FIELD),
            (r#"{"PULocationID": 10, "trip_distance": 4}"#, DO_FIELD),
            (r#"{"PULocationID": 10, "DOLocationID": 50}"#, DISTANCE_FIELD),
            ("{}", PU_FIELD),
            (r#"{"pulocationid": 10, "DOLocationID": 50, "trip_distance": 4}"#, PU_FIELD),
        ];
        for (body, field) in cases {
            let err = parse(body).expect_err(body);
            assert_eq!(err, RequestError::MissingField(field));
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn location_ids_must_be_json_integers() {
        let wrong = |got: &str| RequestError::WrongType {
            field: PU_FIELD,
            expected: ZONE_EXPECTED,
            got: got.to_string(),
        };
        let cases = [
            ("\"10\"", "the string \"10\""),
            ("10.0", "the number 10.0"),
            ("10.5", "the number 10.5"),
            ("null", "null"),
            ("true", "the boolean true"),
            ("[10]", "an array"),
            ("{\"id\": 10}", "an object"),
            ("1e3", "the number 1000.0"),
        ];
        for (id, got) in cases {
            let body = format!(r#"{{"PULocationID": {id}, "DOLocationID": 50, "trip_distance": 4}}"#);
            let err = parse(&body).expect_err(&body);
            assert_eq!(err, wrong(got), "{body}");
            assert_eq!(err.status(), 400);
        }
        let err = parse(r#"{"PULocationID": 1, "DOLocationID": "50", "trip_distance": 4}"#).expect_err("do");
        assert!(matches!(err, RequestError::WrongType { field: DO_FIELD, .. }));
        assert_eq!(
            wrong("the string \"10\"").to_string(),
            "the field `PULocationID` must be a whole number (a TLC zone ID like 10), not the string \"10\""
        );
    }

    #[test]
    fn location_ids_outside_i64_are_the_wrong_type() {
        for id in
            ["9223372036854775808", "18446744073709551615", "99999999999999999999999", "-9223372036854775809"]
        {
            let body = format!(r#"{{"PULocationID": {id}, "DOLocationID": 50, "trip_distance": 4}}"#);
            let err = parse(&body).expect_err(&body);
            assert!(matches!(err, RequestError::WrongType { field: PU_FIELD, .. }), "{body}: {err:?}");
        }
        let body = r#"{"PULocationID": 9223372036854775808, "DOLocationID": 50, "trip_distance": 4}"#;
        assert!(parse(body).expect_err("u64").to_string().contains("too large"));
        let body = r#"{"PULocationID": 9223372036854775807, "DOLocationID": -9223372036854775808, "trip_distance": 4}"#;
        assert_eq!(parse(body), Ok(ride(i64::MAX, i64::MIN, 4.0)), "the extremes of i64 are integers");
    }

    #[test]
    fn zones_outside_tlcs_table_parse_and_are_flagged_later() {
        assert_eq!(
            parse(r#"{"PULocationID": 999, "DOLocationID": -3, "trip_distance": 1}"#),
            Ok(ride(999, -3, 1.0))
        );
        assert!(!is_known_location(999) && !is_known_location(0) && !is_known_location(-3));
        assert!(is_known_location(1) && is_known_location(265));
    }

    #[test]
    fn trip_distance_must_be_a_number() {
        for (miles, got) in [("\"4\"", "the string \"4\""), ("null", "null"), ("false", "the boolean false")]
        {
            let body = format!(r#"{{"PULocationID": 1, "DOLocationID": 2, "trip_distance": {miles}}}"#);
            let err = parse(&body).expect_err(&body);
            let expected = RequestError::WrongType {
                field: DISTANCE_FIELD,
                expected: DISTANCE_EXPECTED,
                got: got.into(),
            };
            assert_eq!(err, expected);
            assert_eq!(err.status(), 400);
        }
        let integer = parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 7}"#);
        assert_eq!(integer, Ok(ride(1, 2, 7.0)));
    }

    #[test]
    fn a_negative_distance_is_unprocessable() {
        let err = parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": -0.5}"#).expect_err("neg");
        assert_eq!(err, RequestError::NegativeDistance(-0.5));
        assert_eq!(err.status(), 422);
        assert_eq!(err.to_string(), "trip_distance is -0.5; a distance cannot be negative");
        // Negative zero is zero.
        assert!(parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": -0.0}"#).is_ok());
    }

    #[test]
    fn an_absurd_distance_is_unprocessable() {
        let err =
            parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 500.01}"#).expect_err("far");
        assert_eq!(err, RequestError::AbsurdDistance(500.01));
        assert_eq!(err.status(), 422);
        assert!(parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 500}"#).is_ok());
        let huge = parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1e308}"#);
        assert_eq!(huge, Err(RequestError::AbsurdDistance(1e308)));
        let huge_integer =
            parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 18446744073709551615}"#);
        assert!(matches!(huge_integer, Err(RequestError::AbsurdDistance(_))));
    }

    #[test]
    fn numbers_beyond_f64_are_not_json_to_serde() {
        // serde_json refuses 1e400 rather than turning it into infinity.
        let err =
            parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1e400}"#).expect_err("1e400");
        assert!(matches!(err, RequestError::NotJson(_)), "{err:?}");
        let err = parse(r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": NaN}"#).expect_err("NaN");
        assert!(matches!(err, RequestError::NotJson(_)), "{err:?}");
    }

    #[test]
    fn a_non_finite_distance_cannot_reach_the_model() {
        // A `Value` cannot hold NaN or infinity: `json!` turns them into null, which is
        // the wrong type. (The finiteness check in `distance` stays as a second guard.)
        for miles in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let value = json!({"PULocationID": 1, "DOLocationID": 2, "trip_distance": miles});
            let err = ride_from_value(&value).expect_err("non-finite");
            assert!(matches!(err, RequestError::WrongType { field: DISTANCE_FIELD, .. }), "{err:?}");
        }
    }

    #[test]
    fn duplicate_keys_take_the_last_value_like_pythons_json() {
        let body = r#"{"PULocationID": 1, "PULocationID": 7, "DOLocationID": 2, "trip_distance": 3}"#;
        assert_eq!(parse(body), Ok(ride(7, 2, 3.0)));
    }

    #[test]
    fn unicode_in_keys_and_values_is_handled() {
        let body = r#"{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 3, "note": "🚕 naïve \u0000"}"#;
        assert_eq!(parse(body), Ok(ride(1, 2, 3.0)));
        let body = r#"{"PULocationID": "🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕🚕", "DOLocationID": 2, "trip_distance": 3}"#;
        let err = parse(body).expect_err("emoji");
        let RequestError::WrongType { got, .. } = err else { panic!("{err:?}") };
        assert!(got.ends_with("…\""), "a long value is cut: {got}");
        assert!(got.chars().count() < 60);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        assert!(matches!(parse(&deep), Err(RequestError::NotJson(_))));
        let deep_object = format!("{}1{}", "{\"a\":".repeat(2_000), "}".repeat(2_000));
        assert!(matches!(parse(&deep_object), Err(RequestError::NotJson(_))));
        // Nested inside an ignored field: serde_json's recursion limit (128) still refuses it.
        let nested = format!(
            r#"{{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 3, "x": {}{}}}"#,
            "[".repeat(1_000),
            "]".repeat(1_000)
        );
        assert!(matches!(parse(&nested), Err(RequestError::NotJson(_))));
    }

    #[test]
    fn random_bytes_never_panic_and_always_get_an_error_status() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        for round in 0..50 {
            let len = rng.gen_range(0..200);
            let mut body: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if round % 2 == 0 {
                // Half of them start like JSON so the parser gets further in.
                body.insert(0, b'{');
            }
            match parse_ride(&body) {
                Ok(ride) => panic!("random bytes parsed as {ride:?}"),
                Err(err) => assert!(matches!(err.status(), 400 | 413 | 422)),
            }
        }
    }

    #[test]
    fn errors_round_trip_through_serde_for_the_worker_protocol() {
        let err = RequestError::WrongType { field: PU_FIELD, expected: ZONE_EXPECTED, got: "x".into() };
        let text = serde_json::to_string(&err).expect("serialize");
        assert!(text.contains("PULocationID"));
    }
}
