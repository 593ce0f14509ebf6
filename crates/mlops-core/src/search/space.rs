//! Search spaces: hyperopt's expressions, their JSON spelling and validation.
//!
//! JSON spelling (what a learner types; validated with messages naming the path):
//! `{"max_depth": {"quniform": [4, 100, 1]}, "learning_rate": {"loguniform": [-3, 0]},
//!   "objective": "reg:squarederror", "booster": {"choice": [{"kind": "a", "x": {"uniform": [0, 1]}}, "b"]}}`
//! `randint` takes `[upper]` or `[low, upper]` (upper exclusive, as NumPy's).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Sampled values by expression label (the dotted path, e.g. `booster.x`); a
/// `choice` records the index of its option.
pub type Assignment = BTreeMap<String, f64>;

/// One expression of a space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    Uniform {
        low: f64,
        high: f64,
    },
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
    QLogUniform {
        low: f64,
        high: f64,
        q: f64,
    },
    RandInt {
        low: i64,
        high: i64,
    },
    Choice(Vec<Expr>),
    /// A nested dictionary of expressions.
    Dict(BTreeMap<String, Expr>),
    /// A fixed value (number, text, bool).
    Const(serde_json::Value),
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
}

impl Space {
    /// Parses and validates the JSON spelling.
    pub fn from_json(text: &str) -> Result<Self, SpaceError> {
        let _ = text;
        unimplemented!("issue 6: search")
    }

    /// The JSON spelling (`from_json(to_json())` gives the same space).
    pub fn to_json(&self) -> String {
        unimplemented!("issue 6: search")
    }
}
