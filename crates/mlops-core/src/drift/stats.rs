//! The statistics behind Evidently's drift tests, on plain slices of finite values.
//!
//! Each function matches the SciPy 1.17 / NumPy routine Evidently calls, because the point
//! is that a learner's numbers agree with the tool they will use at work.

/// A two-sample Kolmogorov–Smirnov result, as `scipy.stats.ks_2samp` (two-sided, `method="auto"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    /// True when the p-value was computed exactly (both samples ≤ 10,000 values).
    pub exact: bool,
}

/// `scipy.stats.ks_2samp(a, b)`: `None` when either sample is empty. Inputs are finite.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    let _ = (a, b);
    unimplemented!("helper A")
}

/// `scipy.stats.kstwo.sf(x, n)`: the survival function of the one-sample two-sided KS statistic.
pub fn kstwo_sf(n: u64, x: f64) -> f64 {
    let _ = (n, x);
    unimplemented!("helper A")
}

/// `scipy.stats.chisquare(observed, expected).pvalue` (degrees of freedom = k − 1).
/// NaN when fewer than two categories.
pub fn chi_square_p_value(observed: &[f64], expected: &[f64]) -> f64 {
    let _ = (observed, expected);
    unimplemented!("helper A")
}

/// Evidently's two-proportion Z-test, two-sided: `hits` of `n` in each sample.
pub fn z_test_p_value(reference_hits: f64, reference_n: f64, current_hits: f64, current_n: f64) -> f64 {
    let _ = (reference_hits, reference_n, current_hits, current_n);
    unimplemented!("helper A")
}

/// `scipy.stats.wasserstein_distance(a, b)` (first Wasserstein distance, equal weights).
/// Both slices must be sorted ascending and non-empty.
pub fn wasserstein_distance_sorted(a: &[f64], b: &[f64]) -> f64 {
    let _ = (a, b);
    unimplemented!("helper A")
}

/// `np.std(values)` (population standard deviation, ddof = 0), NaN when empty.
pub fn population_std(values: &[f64]) -> f64 {
    let _ = values;
    unimplemented!("helper A")
}

/// `scipy.spatial.distance.jensenshannon(p, q)` with the natural logarithm; p and q are
/// normalised to sum to 1 first, as SciPy does.
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let _ = (p, q);
    unimplemented!("helper A")
}

/// Evidently's PSI: Σ (p − q) · ln(p / q), over shares with no zeros.
pub fn psi(p: &[f64], q: &[f64]) -> f64 {
    let _ = (p, q);
    unimplemented!("helper A")
}

/// `np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")`. Inputs finite, not both empty.
pub fn sturges_edges(a: &[f64], b: &[f64]) -> Vec<f64> {
    let _ = (a, b);
    unimplemented!("helper A")
}

/// `np.histogram(values, edges)[0]`: counts per bin, the last bin closed on the right,
/// values outside the edges not counted.
pub fn histogram_counts(values: &[f64], edges: &[f64]) -> Vec<usize> {
    let _ = (values, edges);
    unimplemented!("helper A")
}

/// Evidently's `feel_zeroes`: zero shares become 0.0001, or (min non-zero share) / 10⁶
/// when that minimum is ≤ 0.0001. Left unchanged if all shares are zero.
pub fn fill_zero_shares(shares: &mut [f64]) {
    let _ = shares;
    unimplemented!("helper A")
}
