//! MLflow's size limits. Breaking one is an error naming the limit, never a silent cut,
//! so what is logged here would also be accepted by a real MLflow server.

use super::TrackingError;

pub const MAX_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6_000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8_000;
pub const MAX_BATCH_METRICS: usize = 1_000;
pub const MAX_BATCH_PARAMS: usize = 100;
pub const MAX_BATCH_TAGS: usize = 100;
/// MLflow caps names of experiments and registered models at the same length as keys.
pub const MAX_NAME_LENGTH: usize = 250;
pub const MAX_RESULTS: usize = 50_000;

/// Which kind of key is being checked, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Param,
    Metric,
    Tag,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Param => "param",
            KeyKind::Metric => "metric",
            KeyKind::Tag => "tag",
        }
    }
}

/// Keys are non-empty, at most 250 characters, and — as in MLflow — made of letters,
/// digits, `_ - . space /` only, so they can be written in a search filter and used
/// as a file name on the server.
pub fn check_key(kind: KeyKind, key: &str) -> Result<(), TrackingError> {
    if key.trim().is_empty() {
        return Err(TrackingError::EmptyKey(kind.as_str()));
    }
    let chars = key.chars().count();
    if chars > MAX_KEY_LENGTH {
        return Err(TrackingError::TooLong {
            what: format!("{} key", kind.as_str()),
            length: chars,
            limit: MAX_KEY_LENGTH,
        });
    }
    if let Some(bad) =
        key.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':')))
    {
        return Err(TrackingError::BadKey { kind: kind.as_str(), key: key.to_string(), bad });
    }
    if key.split('/').any(|part| part == "..") || key.starts_with('/') {
        return Err(TrackingError::BadKey { kind: kind.as_str(), key: key.to_string(), bad: '/' });
    }
    Ok(())
}

pub fn check_value(kind: KeyKind, key: &str, value: &str) -> Result<(), TrackingError> {
    let limit = match kind {
        KeyKind::Param => MAX_PARAM_VALUE_LENGTH,
        KeyKind::Tag => MAX_TAG_VALUE_LENGTH,
        KeyKind::Metric => return Ok(()),
    };
    let chars = value.chars().count();
    if chars > limit {
        return Err(TrackingError::TooLong {
            what: format!("value of {} `{key}`", kind.as_str()),
            length: chars,
            limit,
        });
    }
    Ok(())
}

pub fn check_name(what: &'static str, name: &str) -> Result<(), TrackingError> {
    if name.trim().is_empty() {
        return Err(TrackingError::EmptyName(what));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_LENGTH {
        return Err(TrackingError::TooLong { what: what.to_string(), length: chars, limit: MAX_NAME_LENGTH });
    }
    Ok(())
}

pub fn check_batch_sizes(params: usize, metrics: usize, tags: usize) -> Result<(), TrackingError> {
    for (what, count, limit) in [
        ("metrics", metrics, MAX_BATCH_METRICS),
        ("params", params, MAX_BATCH_PARAMS),
        ("tags", tags, MAX_BATCH_TAGS),
    ] {
        if count > limit {
            return Err(TrackingError::BatchTooLarge { what, count, limit });
        }
    }
    Ok(())
}
