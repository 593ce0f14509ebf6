//! Search spaces: hyperopt's expressions, their JSON spelling and validation.
//!
//! JSON spelling (what a learner types; validated with messages naming the path):
//! `{"max_depth": {"quniform": [4, 100, 1]}, "learning_rate": {"loguniform": [-3, 0]},
//!   "objective": "reg:squarederror", "booster": {"choice": [{"kind": "a", "x": {"uniform": [0, 1]}}, "b"]}}`
//! `randint` takes `[upper]` or `[low, upper]` (upper exclusive, as NumPy's).
//!
//! An object with a single key that names a distribution (`uniform`, `quniform`,
//! `loguniform`, `qloguniform`, `randint`, `choice`) is that distribution; any other
//! object is a nested dictionary; numbers, text, `true`/`false` and `null` are constants.
//! Lists only appear as a distribution's arguments, so a typo such as
//! `{"unifrom": [0, 1]}` is reported instead of being taken for a constant.
//!
//! Every sampled expression has a label, its dotted path: `learning_rate`, and for the
//! options of a choice, the keys of a dictionary option (`booster.x`) or the option's
//! index when the option is itself an expression (`lr.1` in
//! `{"lr": {"choice": [0.1, {"uniform": [0, 1]}]}}`). Labels name the values in an
//! [`Assignment`] and in error messages, and TPE models each label separately, so two
//! expressions may not share one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Sampled values by expression label (the dotted path, e.g. `booster.x`); a
/// `choice` records the index of its option.
pub type Assignment = BTreeMap<String, f64>;

/// Longest accepted JSON text: a real space is a few hundred bytes, and a cap keeps a
/// hostile file from tying up the tab while it is parsed.
pub const MAX_SPACE_BYTES: usize = 100 * 1024;
/// Deepest accepted nesting of dictionaries and choices (a top-level parameter is at
/// depth 1); hyperopt spaces in the course nest two levels at most.
pub const MAX_DEPTH: usize = 8;
/// Most expressions (distributions, choices, dictionaries and constants together) in
/// one space, so sampling and TPE stay instant.
pub const MAX_EXPRESSIONS: usize = 200;

/// Integers beyond 2^53 are not exact in an `f64`, which is how values are stored.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;
/// `exp(710)` overflows an `f64`; log-space bounds stay within ±700.
const MAX_LOG_BOUND: f64 = 700.0;

/// The distribution names of the JSON spelling.
pub const DISTRIBUTIONS: [&str; 6] =
    ["uniform", "quniform", "loguniform", "qloguniform", "randint", "choice"];

/// A space the page can show as an example: every distribution, and every point passes
/// `point_as::<GbdtParams>()` and its `check()` (`encoding` and `early_stopping_rounds`
/// are choices between constants; `seed` is a constant).
pub const EXAMPLE_JSON: &str = r#"{
  "max_depth": {"quniform": [2, 30, 1]},
  "learning_rate": {"loguniform": [-3, 0]},
  "reg_alpha": {"loguniform": [-5, -1]},
  "reg_lambda": {"loguniform": [-6, -1]},
  "min_child_weight": {"loguniform": [-1, 3]},
  "subsample": {"uniform": [0.5, 1]},
  "max_bin": {"qloguniform": [3.5, 6, 16]},
  "num_boost_round": {"randint": [50, 300]},
  "encoding": {"choice": ["one_hot", "categorical"]},
  "early_stopping_rounds": {"choice": [null, 20, 50]},
  "seed": 42
}"#;

/// One expression of a space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    Uniform {
        low: f64,
        high: f64,
    },
    /// round(uniform(low, high) / q) · q.
    QUniform {
        low: f64,
        high: f64,
        q: f64,
    },
    /// exp(uniform(low, high)), as hyperopt's `loguniform` takes log-space bounds.
    LogUniform {
        low: f64,
        high: f64,
    },
    /// round(exp(uniform(low, high)) / q) · q.
    QLogUniform {
        low: f64,
        high: f64,
        q: f64,
    },
    /// An integer in `low..high` (high exclusive).
    RandInt {
        low: i64,
        high: i64,
    },
    Choice(Vec<Expr>),
    /// A nested dictionary of expressions.
    Dict(BTreeMap<String, Expr>),
    /// A fixed value (number, text, bool, null). Stored as JSON text in binary encodings
    /// (bincode cannot carry a `serde_json::Value`), as itself in JSON.
    Const(#[serde(with = "super::json_text")] Value),
}

/// A whole space: named expressions at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Space {
    pub params: BTreeMap<String, Expr>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SpaceError {
    #[error("the search space is not valid JSON: {0}")]
    Json(String),
    #[error("`{path}`: {message}")]
    Invalid { path: String, message: String },
    #[error("the search space has no parameter to search")]
    Empty,
    #[error("the search space is {bytes} bytes; the limit is 100 KB")]
    TooLarge { bytes: usize },
    #[error(
        "the search space must be a JSON object of named parameters, \
         like {{\"max_depth\": {{\"quniform\": [4, 100, 1]}}}}"
    )]
    NotAnObject,
    #[error("the search space has more than {MAX_EXPRESSIONS} expressions")]
    TooManyExpressions,
}

fn invalid(path: &str, message: impl Into<String>) -> SpaceError {
    SpaceError::Invalid { path: path.to_string(), message: message.into() }
}

/// The label of a dictionary entry: `parent.key`, or `key` at the top level.
pub(crate) fn child_label(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The label under which option `index` of the choice labelled `parent` is found: a
/// dictionary option lends its keys to the parent's path (`booster.x`), any other option
/// gets its index (`lr.1`) so it cannot clash with the choice's own label.
pub(crate) fn option_label(parent: &str, index: usize, option: &Expr) -> String {
    match option {
        Expr::Dict(_) => parent.to_string(),
        _ => child_label(parent, &index.to_string()),
    }
}

/// Whether a JSON object spells a distribution rather than a dictionary: a single key
/// that is a distribution name, or a single key holding a list (a misspelt name).
fn is_distribution(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 1 && map.iter().all(|(key, args)| DISTRIBUTIONS.contains(&key.as_str()) || args.is_array())
}

/// A number as JSON: integral values as integers so `to_json` reads as a learner wrote it.
pub(crate) fn number_json(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() <= MAX_EXACT_INTEGER {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

impl Space {
    /// Parses and validates the JSON spelling.
    pub fn from_json(text: &str) -> Result<Self, SpaceError> {
        if text.len() > MAX_SPACE_BYTES {
            return Err(SpaceError::TooLarge { bytes: text.len() });
        }
        // serde_json stops at 128 levels of nesting, so the parse itself is bounded.
        let value: Value = serde_json::from_str(text).map_err(|e| SpaceError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(SpaceError::NotAnObject);
        };
        if map.len() == 1 && map.keys().all(|key| DISTRIBUTIONS.contains(&key.as_str())) {
            return Err(SpaceError::NotAnObject);
        }
        let mut parser = Parser { expressions: 0 };
        let mut params = BTreeMap::new();
        for (key, value) in &map {
            if key.is_empty() {
                return Err(invalid("", "a parameter name cannot be empty"));
            }
            params.insert(key.clone(), parser.expr(value, key, 1)?);
        }
        let space = Space { params };
        space.validate()?;
        Ok(space)
    }

    /// The JSON spelling (`from_json(to_json())` gives the same space).
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, Value> =
            self.params.iter().map(|(key, expr)| (key.clone(), expr_json(expr))).collect();
        serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default()
    }

    /// Checks what [`Space::from_json`] checks, for spaces built in code or read back
    /// from storage: bounds, steps, arity, label collisions, nesting and size.
    pub fn validate(&self) -> Result<(), SpaceError> {
        let mut check = Validator { expressions: 0, labels: BTreeSet::new() };
        for (key, expr) in &self.params {
            if key.is_empty() {
                return Err(invalid("", "a parameter name cannot be empty"));
            }
            check.expr(expr, key, 1)?;
        }
        if check.labels.is_empty() {
            return Err(SpaceError::Empty);
        }
        Ok(())
    }

    /// Every label a trial can assign, in the order TPE visits them (the page's columns).
    pub fn labels(&self) -> Vec<String> {
        fn walk(expr: &Expr, label: &str, out: &mut Vec<String>) {
            match expr {
                Expr::Const(_) => {}
                Expr::Dict(map) => {
                    for (key, child) in map {
                        walk(child, &child_label(label, key), out);
                    }
                }
                Expr::Choice(options) => {
                    out.push(label.to_string());
                    for (index, option) in options.iter().enumerate() {
                        walk(option, &option_label(label, index, option), out);
                    }
                }
                _ => out.push(label.to_string()),
            }
        }
        let mut out = Vec::new();
        for (key, expr) in &self.params {
            walk(expr, key, &mut out);
        }
        out
    }
}

fn expr_json(expr: &Expr) -> Value {
    let dist = |name: &str, args: Vec<Value>| {
        let mut map = serde_json::Map::new();
        map.insert(name.to_string(), Value::Array(args));
        Value::Object(map)
    };
    match expr {
        Expr::Uniform { low, high } => dist("uniform", vec![number_json(*low), number_json(*high)]),
        Expr::QUniform { low, high, q } => {
            dist("quniform", vec![number_json(*low), number_json(*high), number_json(*q)])
        }
        Expr::LogUniform { low, high } => dist("loguniform", vec![number_json(*low), number_json(*high)]),
        Expr::QLogUniform { low, high, q } => {
            dist("qloguniform", vec![number_json(*low), number_json(*high), number_json(*q)])
        }
        Expr::RandInt { low, high } => dist("randint", vec![Value::from(*low), Value::from(*high)]),
        Expr::Choice(options) => dist("choice", options.iter().map(expr_json).collect()),
        Expr::Dict(map) => {
            Value::Object(map.iter().map(|(key, child)| (key.clone(), expr_json(child))).collect())
        }
        Expr::Const(value) => value.clone(),
    }
}

/// Turns JSON into expressions, checking the shape (names, arity, types) and stopping
/// early on size and depth; the numeric rules are [`Validator`]'s.
struct Parser {
    expressions: usize,
}

impl Parser {
    fn expr(&mut self, value: &Value, path: &str, depth: usize) -> Result<Expr, SpaceError> {
        if depth > MAX_DEPTH {
            return Err(invalid(path, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.expressions += 1;
        if self.expressions > MAX_EXPRESSIONS {
            return Err(SpaceError::TooManyExpressions);
        }
        match value {
            Value::Null | Value::Bool(_) | Value::String(_) | Value::Number(_) => {
                Ok(Expr::Const(value.clone()))
            }
            Value::Array(_) => Err(invalid(
                path,
                "a list is only allowed as a distribution's arguments, like {\"choice\": [1, 2]}; \
                 constants are numbers, text, true/false or null",
            )),
            Value::Object(map) if is_distribution(map) => {
                let Some((name, args)) = map.iter().next() else {
                    return Err(invalid(path, "empty distribution"));
                };
                self.distribution(name, args, path, depth)
            }
            Value::Object(map) => {
                if let Some(name) = map.keys().find(|key| DISTRIBUTIONS.contains(&key.as_str())) {
                    let others: Vec<&str> =
                        map.keys().filter(|key| *key != name).map(String::as_str).collect();
                    return Err(invalid(
                        path,
                        format!(
                            "`{name}` must be the only key of its object, like {{\"{name}\": [...]}}; \
                             found also {}",
                            others.join(", ")
                        ),
                    ));
                }
                let mut dict = BTreeMap::new();
                for (key, child) in map {
                    if key.is_empty() {
                        return Err(invalid(path, "a parameter name cannot be empty"));
                    }
                    dict.insert(key.clone(), self.expr(child, &child_label(path, key), depth + 1)?);
                }
                Ok(Expr::Dict(dict))
            }
        }
    }

    fn distribution(
        &mut self,
        name: &str,
        args: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Expr, SpaceError> {
        let Value::Array(args) = args else {
            return Err(invalid(path, format!("`{name}` takes a list of arguments, like {}", usage(name))));
        };
        if name == "choice" {
            if args.is_empty() {
                return Err(invalid(path, "a choice needs at least one option"));
            }
            let mut options = Vec::with_capacity(args.len().min(MAX_EXPRESSIONS));
            for (index, option) in args.iter().enumerate() {
                let plain_dict = matches!(option, Value::Object(map) if !is_distribution(map));
                let label = if plain_dict { path.to_string() } else { child_label(path, &index.to_string()) };
                options.push(self.expr(option, &label, depth + 1)?);
            }
            return Ok(Expr::Choice(options));
        }
        let arity: &[usize] = match name {
            "uniform" | "loguniform" => &[2],
            "quniform" | "qloguniform" => &[3],
            "randint" => &[1, 2],
            _ => {
                return Err(invalid(
                    path,
                    format!(
                        "unknown distribution `{name}`; use one of uniform, quniform, loguniform, \
                         qloguniform, randint or choice"
                    ),
                ))
            }
        };
        if !arity.contains(&args.len()) {
            return Err(invalid(
                path,
                format!("`{name}` takes {}, got {} arguments", usage(name), args.len()),
            ));
        }
        let mut numbers = Vec::with_capacity(args.len());
        for arg in args {
            match arg.as_f64() {
                Some(number) if number.is_finite() => numbers.push(number),
                _ => return Err(invalid(path, format!("`{name}` takes numbers, got {arg}"))),
            }
        }
        Ok(match (name, numbers.as_slice()) {
            ("uniform", [low, high]) => Expr::Uniform { low: *low, high: *high },
            ("loguniform", [low, high]) => Expr::LogUniform { low: *low, high: *high },
            ("quniform", [low, high, q]) => Expr::QUniform { low: *low, high: *high, q: *q },
            ("qloguniform", [low, high, q]) => Expr::QLogUniform { low: *low, high: *high, q: *q },
            ("randint", [high]) => Expr::RandInt { low: 0, high: whole(*high, path)? },
            ("randint", [low, high]) => Expr::RandInt { low: whole(*low, path)?, high: whole(*high, path)? },
            _ => return Err(invalid(path, format!("`{name}` takes {}", usage(name)))),
        })
    }
}

fn usage(name: &str) -> &'static str {
    match name {
        "uniform" | "loguniform" => "[low, high]",
        "quniform" | "qloguniform" => "[low, high, q]",
        "randint" => "[upper] or [low, upper]",
        "choice" => "a list of options",
        _ => "a list",
    }
}

fn whole(number: f64, path: &str) -> Result<i64, SpaceError> {
    if number.fract() != 0.0 || number.abs() > MAX_EXACT_INTEGER {
        return Err(invalid(path, format!("randint bounds must be whole numbers up to 2^53, got {number}")));
    }
    Ok(number as i64)
}

/// The rules every space obeys, however it was made.
struct Validator {
    expressions: usize,
    labels: BTreeSet<String>,
}

impl Validator {
    fn expr(&mut self, expr: &Expr, label: &str, depth: usize) -> Result<(), SpaceError> {
        if depth > MAX_DEPTH {
            return Err(invalid(label, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.expressions += 1;
        if self.expressions > MAX_EXPRESSIONS {
            return Err(SpaceError::TooManyExpressions);
        }
        match expr {
            Expr::Const(value) => {
                if value.is_array() || value.is_object() {
                    return Err(invalid(
                        label,
                        "a constant is a number, text, true/false or null; write a nested object as a dictionary",
                    ));
                }
                return Ok(());
            }
            Expr::Dict(map) => {
                for (key, child) in map {
                    if key.is_empty() {
                        return Err(invalid(label, "a parameter name cannot be empty"));
                    }
                    self.expr(child, &child_label(label, key), depth + 1)?;
                }
                return Ok(());
            }
            Expr::Choice(options) => {
                if options.is_empty() {
                    return Err(invalid(label, "a choice needs at least one option"));
                }
                self.claim(label)?;
                for (index, option) in options.iter().enumerate() {
                    self.expr(option, &option_label(label, index, option), depth + 1)?;
                }
                return Ok(());
            }
            Expr::Uniform { low, high } | Expr::QUniform { low, high, .. } => {
                bounds(label, *low, *high, f64::MAX)?;
            }
            Expr::LogUniform { low, high } | Expr::QLogUniform { low, high, .. } => {
                bounds(label, *low, *high, MAX_LOG_BOUND)?;
            }
            Expr::RandInt { low, high } => {
                let exact = MAX_EXACT_INTEGER as i64;
                if low.abs() > exact || high.abs() > exact {
                    return Err(invalid(label, "randint bounds must be within ±2^53"));
                }
                if low >= high {
                    return Err(invalid(
                        label,
                        format!("randint needs low < upper (upper is excluded), got [{low}, {high}]"),
                    ));
                }
            }
        }
        if let Expr::QUniform { q, .. } | Expr::QLogUniform { q, .. } = expr {
            if !q.is_finite() || *q <= 0.0 {
                return Err(invalid(label, format!("the step q must be a positive number, got {q}")));
            }
        }
        self.claim(label)
    }

    fn claim(&mut self, label: &str) -> Result<(), SpaceError> {
        if !self.labels.insert(label.to_string()) {
            return Err(invalid(
                label,
                "two expressions have this label (options of one choice define the same key, \
                 or a key contains a dot); rename one",
            ));
        }
        Ok(())
    }
}

fn bounds(label: &str, low: f64, high: f64, limit: f64) -> Result<(), SpaceError> {
    if !low.is_finite() || !high.is_finite() || !(high - low).is_finite() {
        return Err(invalid(label, format!("bounds must be finite numbers, got [{low}, {high}]")));
    }
    if low.abs() > limit || high.abs() > limit {
        return Err(invalid(
            label,
            format!("log-space bounds must be within ±{limit} (they are exponents), got [{low}, {high}]"),
        ));
    }
    if low >= high {
        return Err(invalid(label, format!("needs low < high, got [{low}, {high}]")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> SpaceError {
        Space::from_json(text).expect_err(text)
    }

    fn invalid_at(text: &str) -> (String, String) {
        match error(text) {
            SpaceError::Invalid { path, message } => (path, message),
            other => panic!("expected Invalid for {text}, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_distribution_and_nesting() {
        let space = Space::from_json(
            r#"{"a": {"uniform": [0, 1]}, "b": {"quniform": [4, 100, 1]}, "c": {"loguniform": [-3, 0]},
                "d": {"qloguniform": [0, 5, 2]}, "e": {"randint": [5]}, "f": {"randint": [2, 9]},
                "g": "text", "h": null, "i": true, "j": 1.5,
                "booster": {"choice": [{"kind": "a", "x": {"uniform": [0, 1]}}, "b", {"uniform": [3, 4]}]}}"#,
        )
        .expect("valid space");
        assert_eq!(space.params["a"], Expr::Uniform { low: 0.0, high: 1.0 });
        assert_eq!(space.params["b"], Expr::QUniform { low: 4.0, high: 100.0, q: 1.0 });
        assert_eq!(space.params["e"], Expr::RandInt { low: 0, high: 5 });
        assert_eq!(space.params["f"], Expr::RandInt { low: 2, high: 9 });
        assert_eq!(space.params["h"], Expr::Const(Value::Null));
        assert_eq!(
            space.labels(),
            ["a", "b", "booster", "booster.x", "booster.2", "c", "d", "e", "f"].map(String::from).to_vec()
        );
    }

    #[test]
    fn to_json_round_trips() {
        for text in [
            EXAMPLE_JSON,
            r#"{"booster": {"choice": [{"kind": "a", "x": {"uniform": [0.25, 1]}}, "b", {"choice": [1, {"randint": [3]}]}]},
                "lr": {"qloguniform": [-2.5, 3, 0.5]}, "flag": false, "nested": {"deep": {"z": {"quniform": [-1, 1, 0.1]}}}}"#,
        ] {
            let space = Space::from_json(text).expect("valid");
            let again = Space::from_json(&space.to_json()).expect("round trip parses");
            assert_eq!(space, again);
        }
        // Integral numbers are written as a learner writes them.
        let space = Space::from_json(r#"{"max_depth": {"quniform": [4, 100, 1]}}"#).expect("valid");
        assert!(space.to_json().contains("[\n      4,\n      100,\n      1\n    ]"), "{}", space.to_json());
    }

    #[test]
    fn unknown_distribution_names_the_path_and_the_alternatives() {
        let (path, message) = invalid_at(r#"{"booster": {"choice": [{"x": {"unifrom": [0, 1]}}]}}"#);
        assert_eq!(path, "booster.x");
        assert!(message.contains("unknown distribution `unifrom`"), "{message}");
        assert!(message.contains("loguniform"), "{message}");
        let (path, message) = invalid_at(r#"{"lr": {"normal": [0, 1]}}"#);
        assert_eq!(path, "lr");
        assert!(message.contains("`normal`"), "{message}");
    }

    #[test]
    fn wrong_arity_is_reported_with_the_expected_arguments() {
        let (path, message) = invalid_at(r#"{"x": {"uniform": [0, 1, 2]}}"#);
        assert_eq!(path, "x");
        assert!(message.contains("[low, high]") && message.contains("got 3"), "{message}");
        let (_, message) = invalid_at(r#"{"x": {"quniform": [0, 1]}}"#);
        assert!(message.contains("[low, high, q]"), "{message}");
        let (_, message) = invalid_at(r#"{"x": {"randint": []}}"#);
        assert!(message.contains("[upper] or [low, upper]"), "{message}");
        let (_, message) = invalid_at(r#"{"x": {"uniform": 3}}"#);
        assert!(message.contains("takes a list"), "{message}");
        let (_, message) = invalid_at(r#"{"x": {"uniform": [0, "1"]}}"#);
        assert!(message.contains("takes numbers"), "{message}");
    }

    #[test]
    fn low_not_below_high_is_rejected() {
        for text in [
            r#"{"x": {"uniform": [1, 1]}}"#,
            r#"{"x": {"quniform": [5, 2, 1]}}"#,
            r#"{"x": {"loguniform": [0, -3]}}"#,
            r#"{"x": {"qloguniform": [2, 2, 1]}}"#,
        ] {
            let (path, message) = invalid_at(text);
            assert_eq!(path, "x");
            assert!(message.contains("low < high"), "{text}: {message}");
        }
    }

    #[test]
    fn non_finite_numbers_are_rejected() {
        // JSON has no NaN or infinity: an overflowing literal fails the parse ...
        assert!(matches!(error(r#"{"x": {"uniform": [0, 1e999]}}"#), SpaceError::Json(_)));
        // ... and a space built in code is checked by `validate`.
        let space =
            Space { params: BTreeMap::from([("x".into(), Expr::Uniform { low: 0.0, high: f64::NAN })]) };
        assert!(
            matches!(space.validate(), Err(SpaceError::Invalid { message, .. }) if message.contains("finite"))
        );
        let space = Space {
            params: BTreeMap::from([("x".into(), Expr::Uniform { low: -f64::MAX, high: f64::MAX })]),
        };
        assert!(space.validate().is_err(), "a range wider than f64 overflows");
        let (_, message) = invalid_at(r#"{"x": {"loguniform": [0, 800]}}"#);
        assert!(message.contains("±700"), "{message}");
    }

    #[test]
    fn q_must_be_positive() {
        for text in [r#"{"x": {"quniform": [0, 10, 0]}}"#, r#"{"x": {"qloguniform": [0, 3, -1]}}"#] {
            let (path, message) = invalid_at(text);
            assert_eq!(path, "x");
            assert!(message.contains("positive"), "{message}");
        }
        let space = Space {
            params: BTreeMap::from([("x".into(), Expr::QUniform { low: 0.0, high: 1.0, q: f64::NAN })]),
        };
        assert!(space.validate().is_err());
    }

    #[test]
    fn randint_bounds_are_whole_and_ordered() {
        let (_, message) = invalid_at(r#"{"n": {"randint": [2.5]}}"#);
        assert!(message.contains("whole numbers"), "{message}");
        let (_, message) = invalid_at(r#"{"n": {"randint": [0]}}"#);
        assert!(message.contains("low < upper"), "{message}");
        let (_, message) = invalid_at(r#"{"n": {"randint": [5, 3]}}"#);
        assert!(message.contains("[5, 3]"), "{message}");
        let (_, message) = invalid_at(r#"{"n": {"randint": [0, 1e17]}}"#);
        assert!(message.contains("2^53"), "{message}");
    }

    #[test]
    fn empty_choice_is_rejected() {
        let (path, message) = invalid_at(r#"{"a": {"b": {"choice": []}}}"#);
        assert_eq!(path, "a.b");
        assert!(message.contains("at least one option"), "{message}");
    }

    #[test]
    fn label_collisions_are_rejected() {
        let (path, message) = invalid_at(
            r#"{"booster": {"choice": [{"x": {"uniform": [0, 1]}}, {"x": {"uniform": [2, 3]}}]}}"#,
        );
        assert_eq!(path, "booster.x");
        assert!(message.contains("rename"), "{message}");
        let (path, _) = invalid_at(r#"{"a.b": {"uniform": [0, 1]}, "a": {"b": {"uniform": [0, 1]}}}"#);
        assert_eq!(path, "a.b");
        // The same key in two options is fine when it is a constant.
        Space::from_json(r#"{"b": {"choice": [{"kind": "a", "x": {"uniform": [0, 1]}}, {"kind": "b"}]}}"#)
            .expect("constants have no label");
    }

    #[test]
    fn depth_is_limited() {
        let mut text = r#"{"uniform": [0, 1]}"#.to_string();
        for level in 0..MAX_DEPTH - 1 {
            text = format!(r#"{{"l{level}": {text}}}"#);
        }
        Space::from_json(&format!(r#"{{"top": {text}}}"#)).expect("8 levels are allowed");
        let (path, message) = invalid_at(&format!(r#"{{"top": {{"deeper": {text}}}}}"#));
        assert!(path.starts_with("top.deeper.l6"), "{path}");
        assert!(message.contains("8 levels"), "{message}");
    }

    #[test]
    fn size_is_limited() {
        let options: Vec<String> = (0..MAX_EXPRESSIONS).map(|i| i.to_string()).collect();
        let text = format!(r#"{{"x": {{"choice": [{}]}}}}"#, options.join(","));
        assert_eq!(error(&text), SpaceError::TooManyExpressions);
        let text = format!(r#"{{"x": {{"choice": [1]}}, "pad": "{}"}}"#, " ".repeat(MAX_SPACE_BYTES));
        assert!(matches!(error(&text), SpaceError::TooLarge { .. }));
    }

    #[test]
    fn the_shape_of_the_document_is_checked() {
        assert!(matches!(error("{"), SpaceError::Json(_)));
        assert_eq!(error("[1, 2]"), SpaceError::NotAnObject);
        assert_eq!(error(r#"{"uniform": [0, 1]}"#), SpaceError::NotAnObject);
        assert_eq!(error(r#"{}"#), SpaceError::Empty);
        assert_eq!(error(r#"{"seed": 42, "nested": {"a": "b"}}"#), SpaceError::Empty);
        let (path, message) = invalid_at(r#"{"tags": ["a", "b"]}"#);
        assert_eq!(path, "tags");
        assert!(message.contains("only allowed as a distribution's arguments"), "{message}");
        let (path, message) = invalid_at(r#"{"x": {"uniform": [0, 1], "q": 2}}"#);
        assert_eq!(path, "x");
        assert!(message.contains("only key"), "{message}");
        let (_, message) = invalid_at(r#"{"x": {"": 1, "y": {"uniform": [0, 1]}}}"#);
        assert!(message.contains("empty"), "{message}");
        let space = Space {
            params: BTreeMap::from([
                ("x".into(), Expr::Uniform { low: 0.0, high: 1.0 }),
                ("c".into(), Expr::Const(serde_json::json!([1]))),
            ]),
        };
        assert!(matches!(space.validate(), Err(SpaceError::Invalid { path, .. }) if path == "c"));
    }

    #[test]
    fn hostile_documents_are_rejected_quickly() {
        let start = std::time::Instant::now();
        // 50,000 levels of brackets: serde_json's recursion limit stops the parse.
        let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
        assert!(Space::from_json(&deep).is_err());
        let deep_objects = format!(r#"{}1{}"#, r#"{"a":"#.repeat(20_000), "}".repeat(20_000));
        assert!(Space::from_json(&deep_objects).is_err());
        // Just under the byte limit, a choice of 40,000 numbers: cut off at 200 expressions.
        let huge = format!(r#"{{"x": {{"choice": [{}]}}}}"#, vec!["1"; 40_000].join(","));
        assert!(huge.len() < MAX_SPACE_BYTES);
        assert_eq!(error(&huge), SpaceError::TooManyExpressions);
        // A long argument list fails on arity without looking at every number.
        let wide = format!(r#"{{"x": {{"uniform": [{}]}}}}"#, vec!["1"; 40_000].join(","));
        assert!(matches!(error(&wide), SpaceError::Invalid { .. }));
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    }
}
