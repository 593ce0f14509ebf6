//! Regression metrics, computed with linfa's `SingleTargetRegression` (a dense vector of
//! predictions is exactly where linfa fits).

use linfa::prelude::SingleTargetRegression;
use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
}

/// RMSE, MAE and R² of predictions against the truth. Empty input gives NaNs.
pub fn regression_metrics(predicted: &[f64], actual: &[f64]) -> RegressionMetrics {
    let nan = RegressionMetrics { rmse: f64::NAN, mae: f64::NAN, r2: f64::NAN };
    if predicted.is_empty() || predicted.len() != actual.len() {
        return nan;
    }
    let predicted = ArrayView1::from(predicted);
    let actual = ArrayView1::from(actual);
    let mse = predicted.mean_squared_error(&actual).unwrap_or(f64::NAN);
    RegressionMetrics {
        rmse: mse.sqrt(),
        mae: predicted.mean_absolute_error(&actual).unwrap_or(f64::NAN),
        r2: predicted.r2(&actual).unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_known_case() {
        let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        assert!((m.rmse - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 2.0 / 3.0).abs() < 1e-12);
        // R² = 1 − SSE/SST = 1 − 4 / (26/3); linfa adds 1e-10 to SST against division by zero.
        assert!((m.r2 - (1.0 - 4.0 / (26.0 / 3.0))).abs() < 1e-9);
    }
}
