//! Hyperparameters of the tree ensembles, named and defaulted as XGBoost and
//! scikit-learn name and default them, so a learner's Python settings carry over.

use serde::{Deserialize, Serialize};

use super::model::TreeEncoding;

/// XGBoost's `XGBRegressor` / `xgb.train` parameters for squared error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    pub learning_rate: f64,
    pub max_depth: u32,
    /// Minimum hessian sum in a child (for squared error: rows).
    pub min_child_weight: f64,
    /// L1 penalty on leaf weights.
    pub reg_alpha: f64,
    /// L2 penalty on leaf weights.
    pub reg_lambda: f64,
    /// Minimum loss reduction to make a split (`min_split_loss`).
    pub gamma: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub num_boost_round: u32,
    /// Stop when the validation RMSE has not improved for this many rounds.
    pub early_stopping_rounds: Option<u32>,
    /// Histogram bins per numeric feature (XGBoost's `max_bin`).
    pub max_bin: u32,
    pub seed: u64,
    pub encoding: TreeEncoding,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            learning_rate: 0.3,
            max_depth: 6,
            min_child_weight: 1.0,
            reg_alpha: 0.0,
            reg_lambda: 1.0,
            gamma: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            num_boost_round: 100,
            early_stopping_rounds: None,
            max_bin: 256,
            seed: 0,
            encoding: TreeEncoding::OneHot,
        }
    }
}

impl GbdtParams {
    /// The course's best parameters from its hyperopt search (Chapter 2).
    pub fn course_best() -> Self {
        Self {
            learning_rate: 0.09585355369315604,
            max_depth: 30,
            min_child_weight: 1.060597050922164,
            reg_alpha: 0.018060244040060163,
            reg_lambda: 0.011658731377413597,
            seed: 42,
            num_boost_round: 1000,
            early_stopping_rounds: Some(50),
            ..Self::default()
        }
    }

    pub fn check(self) -> Result<ValidGbdtParams, TreeParamError> {
        use TreeParamError as E;
        positive("learning_rate", self.learning_rate)?;
        non_negative("min_child_weight", self.min_child_weight)?;
        non_negative("reg_alpha", self.reg_alpha)?;
        non_negative("reg_lambda", self.reg_lambda)?;
        non_negative("gamma", self.gamma)?;
        fraction("subsample", self.subsample)?;
        fraction("colsample_bytree", self.colsample_bytree)?;
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH {
            return Err(E::OutOfRange {
                name: "max_depth".into(),
                value: self.max_depth as f64,
                range: "1 to 256".into(),
            });
        }
        if self.num_boost_round == 0 || self.num_boost_round > MAX_ROUNDS {
            return Err(E::OutOfRange {
                name: "num_boost_round".into(),
                value: self.num_boost_round as f64,
                range: "1 to 10,000".into(),
            });
        }
        if self.early_stopping_rounds == Some(0) {
            return Err(E::OutOfRange {
                name: "early_stopping_rounds".into(),
                value: 0.0,
                range: "at least 1".into(),
            });
        }
        check_bins(self.max_bin)?;
        Ok(ValidGbdtParams(self))
    }

    /// Every hyperparameter as `(name, value)`, the way autologging records them.
    pub fn logged(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("learning_rate", self.learning_rate.to_string()),
            ("max_depth", self.max_depth.to_string()),
            ("min_child_weight", self.min_child_weight.to_string()),
            ("reg_alpha", self.reg_alpha.to_string()),
            ("reg_lambda", self.reg_lambda.to_string()),
            ("gamma", self.gamma.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bytree", self.colsample_bytree.to_string()),
            ("num_boost_round", self.num_boost_round.to_string()),
            ("max_bin", self.max_bin.to_string()),
            ("seed", self.seed.to_string()),
            ("objective", "reg:squarederror".to_string()),
            ("encoding", encoding_name(self.encoding).to_string()),
        ];
        if let Some(rounds) = self.early_stopping_rounds {
            params.push(("early_stopping_rounds", rounds.to_string()));
        }
        params.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// [`GbdtParams`] that passed [`GbdtParams::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidGbdtParams(GbdtParams);

impl ValidGbdtParams {
    pub fn get(&self) -> &GbdtParams {
        &self.0
    }
}

/// How many features a forest's split looks at (scikit-learn's `max_features`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// All features (scikit-learn's default for regression, `1.0`).
    All,
    Sqrt,
    Log2,
    /// A share of the features, `0 < f ≤ 1`.
    Fraction(f64),
    Count(u32),
}

/// scikit-learn's `RandomForestRegressor` parameters (squared error).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForestParams {
    pub n_estimators: u32,
    /// `None` grows until leaves are pure or too small, as scikit-learn does.
    pub max_depth: Option<u32>,
    pub min_samples_split: u32,
    pub min_samples_leaf: u32,
    pub max_features: MaxFeatures,
    pub bootstrap: bool,
    pub random_state: u64,
    /// Histogram bins per numeric feature. scikit-learn tries every distinct value; 4,096
    /// bins hold each of a month's distinct trip distances (2,794 in January 2021), so the
    /// default splits where scikit-learn can. 256 bins cost 0.04 in validation RMSE on the
    /// course's data for a fit about 8% faster.
    pub max_bin: u32,
    pub encoding: TreeEncoding,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            n_estimators: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            bootstrap: true,
            random_state: 0,
            max_bin: 4_096,
            encoding: TreeEncoding::OneHot,
        }
    }
}

impl ForestParams {
    pub fn check(self) -> Result<ValidForestParams, TreeParamError> {
        use TreeParamError as E;
        if self.n_estimators == 0 || self.n_estimators > 5_000 {
            return Err(E::OutOfRange {
                name: "n_estimators".into(),
                value: self.n_estimators as f64,
                range: "1 to 5,000".into(),
            });
        }
        if let Some(depth) = self.max_depth {
            if depth == 0 || depth > MAX_DEPTH {
                return Err(E::OutOfRange {
                    name: "max_depth".into(),
                    value: depth as f64,
                    range: "1 to 256".into(),
                });
            }
        }
        if self.min_samples_split < 2 {
            return Err(E::OutOfRange {
                name: "min_samples_split".into(),
                value: self.min_samples_split as f64,
                range: "at least 2".into(),
            });
        }
        if self.min_samples_leaf == 0 {
            return Err(E::OutOfRange {
                name: "min_samples_leaf".into(),
                value: 0.0,
                range: "at least 1".into(),
            });
        }
        match self.max_features {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(E::OutOfRange {
                    name: "max_features".into(),
                    value: f,
                    range: "a share above 0 and at most 1".into(),
                });
            }
            MaxFeatures::Count(0) => {
                return Err(E::OutOfRange {
                    name: "max_features".into(),
                    value: 0.0,
                    range: "at least 1".into(),
                });
            }
            _ => {}
        }
        check_bins(self.max_bin)?;
        Ok(ValidForestParams(self))
    }

    pub fn logged(&self) -> Vec<(String, String)> {
        let max_features = match self.max_features {
            MaxFeatures::All => "1.0".to_string(),
            MaxFeatures::Sqrt => "sqrt".to_string(),
            MaxFeatures::Log2 => "log2".to_string(),
            MaxFeatures::Fraction(f) => f.to_string(),
            MaxFeatures::Count(n) => n.to_string(),
        };
        [
            ("n_estimators", self.n_estimators.to_string()),
            ("max_depth", self.max_depth.map_or("None".to_string(), |d| d.to_string())),
            ("min_samples_split", self.min_samples_split.to_string()),
            ("min_samples_leaf", self.min_samples_leaf.to_string()),
            ("max_features", max_features),
            ("bootstrap", if self.bootstrap { "True" } else { "False" }.to_string()),
            ("random_state", self.random_state.to_string()),
            ("criterion", "squared_error".to_string()),
            ("max_bin", self.max_bin.to_string()),
            ("encoding", encoding_name(self.encoding).to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// [`ForestParams`] that passed [`ForestParams::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidForestParams(ForestParams);

impl ValidForestParams {
    pub fn get(&self) -> &ForestParams {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TreeParamError {
    #[error("{name} must be a finite number above 0, got {value}")]
    NotPositive { name: String, value: f64 },
    #[error("{name} must be a finite number, 0 or more, got {value}")]
    Negative { name: String, value: f64 },
    #[error("{name} must be above 0 and at most 1, got {value}")]
    NotAFraction { name: String, value: f64 },
    #[error("{name} must be {range}, got {value}")]
    OutOfRange { name: String, value: f64, range: String },
}

/// XGBoost has no cap; the course's search draws depths up to 100. Depth is bounded by the rows
/// anyway, and nothing in the grower grows with the cap.
const MAX_DEPTH: u32 = 256;
const MAX_ROUNDS: u32 = 10_000;

fn encoding_name(encoding: TreeEncoding) -> &'static str {
    match encoding {
        TreeEncoding::OneHot => "one_hot",
        TreeEncoding::Categorical => "categorical",
    }
}

fn positive(name: &'static str, value: f64) -> Result<(), TreeParamError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(TreeParamError::NotPositive { name: name.into(), value })
    }
}

fn non_negative(name: &'static str, value: f64) -> Result<(), TreeParamError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(TreeParamError::Negative { name: name.into(), value })
    }
}

fn fraction(name: &'static str, value: f64) -> Result<(), TreeParamError> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(TreeParamError::NotAFraction { name: name.into(), value })
    }
}

fn check_bins(max_bin: u32) -> Result<(), TreeParamError> {
    if (2..=65_536).contains(&max_bin) {
        Ok(())
    } else {
        Err(TreeParamError::OutOfRange {
            name: "max_bin".into(),
            value: max_bin as f64,
            range: "2 to 65,536".into(),
        })
    }
}
