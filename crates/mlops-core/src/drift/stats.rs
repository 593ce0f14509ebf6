//! The statistics behind Evidently's drift tests, on plain slices of finite values.
//!
//! Each function matches the SciPy 1.17 / NumPy routine Evidently calls, because the point
//! is that a learner's numbers agree with the tool they will use at work.
//!
//! Matching means more than using the same formula: where the last digits depend on how
//! NumPy adds numbers up (pairwise summation), or on which of SciPy's branches computes a
//! Kolmogorov–Smirnov p-value, the code below follows the same path, so the values agree
//! to about 1e-12 (the normal CDF behind the Z-test to about 1e-10, see
//! [`z_test_p_value`]) and a drift/no-drift decision at a threshold only differs for a
//! score within that distance of it.

use std::borrow::Cow;
use std::f64::consts::PI;

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// A two-sample Kolmogorov–Smirnov result, as `scipy.stats.ks_2samp` (two-sided, `method="auto"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    /// True when the p-value was computed exactly (both samples ≤ 10,000 values).
    pub exact: bool,
}

/// `ks_2samp(method="auto")` computes the exact p-value up to this many values per sample.
const MAX_EXACT_SAMPLE_SIZE: usize = 10_000;

/// `scipy.stats.ks_2samp(a, b)`: `None` when either sample is empty. Inputs are finite.
///
/// The statistic is the largest gap between the two empirical CDFs, each evaluated as an
/// exact count divided by the sample size (as SciPy's `searchsorted(..., side="right") / n`).
/// When both samples have at most 10,000 values the p-value is exact (lattice paths); if
/// that fails numerically, or the samples are larger, it comes from the one-sample
/// distribution `kstwo` at the effective size `round(m·n / (m + n))`.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let sorted_a = sorted(a);
    let sorted_b = sorted(b);
    let mut statistic = ks_statistic(&sorted_a, &sorted_b);
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    if a.len().max(b.len()) <= MAX_EXACT_SAMPLE_SIZE {
        let (lattice_statistic, p_value) = exact_two_sample_p_value(n1, n2, statistic);
        // SciPy keeps the statistic rounded to the lattice even when it falls back.
        statistic = lattice_statistic;
        if let Some(p_value) = p_value {
            return Some(KsResult { statistic, p_value: clip_probability(p_value), exact: true });
        }
    }
    let (larger, smaller) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let effective_size = (larger * smaller / (larger + smaller)).round_ties_even();
    let p_value = clip_probability(kstwo_sf(effective_size as u64, statistic));
    Some(KsResult { statistic, p_value, exact: false })
}

/// `scipy.stats.kstwo.sf(x, n)`: the survival function of the one-sample two-sided KS statistic.
///
/// SciPy (after Simard & L'Ecuyer 2011) picks one of several methods by the size of `n`,
/// `n·x` and `n·x²`; each branch below says which one, so a value can be traced to the
/// same computation in `scipy/stats/_ksstats.py`.
pub fn kstwo_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    let size = n as f64;
    // The support is (1/(2n), 1]: SciPy's distribution wrapper answers outside it.
    if x <= 0.5 / size {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let t = size * x;
    if t <= 1.0 {
        // Ruben–Gambino: for 1/(2n) < x ≤ 1/n, P(D ≤ x) = n!/nⁿ · (2t − 1)ⁿ.
        let cdf = if n <= 140 {
            (1..=n).map(|i| i as f64 * (1.0 / size) * (2.0 * t - 1.0)).product::<f64>()
        } else {
            (ln_factorial_over_power(n) + size * (2.0 * t - 1.0).ln()).exp()
        };
        return clip_probability(1.0 - clip_probability(cdf));
    }
    if t >= size - 1.0 {
        // Ruben–Gambino at the other end: P(D ≥ x) = 2 (1 − x)ⁿ for x ≥ 1 − 1/n.
        return clip_probability(2.0 * (1.0 - x).powf(size));
    }
    if x >= 0.5 {
        // D⁺ ≥ x and D⁻ ≥ x cannot both happen when x > 1/2.
        return clip_probability(2.0 * smirnov_sf(n, x));
    }
    let n_x_squared = t * x;
    if n <= 140 {
        if n_x_squared <= 0.754693 {
            return clip_probability(1.0 - durbin_cdf(n, x));
        }
        if n_x_squared <= 4.0 {
            return clip_probability(1.0 - pomeranz_cdf(n, x));
        }
        // Miller's approximation: the two one-sided tails hardly overlap.
        return clip_probability(2.0 * smirnov_sf(n, x));
    }
    if n_x_squared >= 370.0 {
        return 0.0;
    }
    if n_x_squared >= 2.2 {
        return clip_probability(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && size * x.powf(1.5) <= 1.4 { durbin_cdf(n, x) } else { pelz_good_cdf(n, x) };
    clip_probability(1.0 - clip_probability(cdf))
}

/// `scipy.stats.chisquare(observed, expected).pvalue` (degrees of freedom = k − 1).
/// NaN when fewer than two categories.
///
/// SciPy 1.17 refuses expected counts whose total differs from the observed total; Evidently
/// rescales its expected counts so the totals match, so this simply computes. Slices of
/// different lengths give NaN.
pub fn chi_square_p_value(observed: &[f64], expected: &[f64]) -> f64 {
    if observed.len() != expected.len() || observed.len() < 2 {
        return f64::NAN;
    }
    let statistic = pairwise_sum(observed.len(), &|i| {
        let gap = observed[i] - expected[i];
        gap * gap / expected[i]
    });
    match ChiSquared::new((observed.len() - 1) as f64) {
        Ok(distribution) => distribution.sf(statistic),
        Err(_) => f64::NAN,
    }
}

/// Evidently's two-proportion Z-test, two-sided: `hits` of `n` in each sample.
///
/// The pooled share P = (hits₁ + hits₂)/(n₁ + n₂) gives z = (p₁ − p₂)/√(P(1 − P)(1/n₁ + 1/n₂))
/// and the p-value 2·(1 − Φ(|z|)), in Evidently's order of operations. When P is 0 or 1
/// (every value in one category) the denominator is 0 and so is the numerator: NumPy then
/// gives z = NaN and so does this function. A nonzero numerator over 0 would give z = ±∞
/// and a p-value of 0, as NumPy does.
///
/// Φ comes from statrs, whose `erfc` (in 0.19) is accurate to about 1e-10 relative, so the
/// p-value agrees with SciPy's to about 1e-10 rather than to the last digits.
pub fn z_test_p_value(reference_hits: f64, reference_n: f64, current_hits: f64, current_n: f64) -> f64 {
    let reference_share = reference_hits / reference_n;
    let current_share = current_hits / current_n;
    let pooled = (reference_share * reference_n + current_share * current_n) / (reference_n + current_n);
    let spread = (pooled * (1.0 - pooled) * (1.0 / reference_n + 1.0 / current_n)).sqrt();
    let z = (reference_share - current_share) / spread;
    if z.is_nan() {
        return f64::NAN;
    }
    2.0 * (1.0 - Normal::standard().cdf(z.abs()))
}

/// `scipy.stats.wasserstein_distance(a, b)` (first Wasserstein distance, equal weights).
/// Both slices must be sorted ascending and non-empty.
///
/// The distance is ∫ |F_a − F_b| over the merged support; walking both sorted slices at
/// once gives it in O(n + m) without building the concatenation. NaN if a slice is empty.
pub fn wasserstein_distance_sorted(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let (size_a, size_b) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut total = CompensatedSum::default();
    let Some(mut value) = next_merged_value(a, i, b, j) else { return f64::NAN };
    loop {
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        let Some(next) = next_merged_value(a, i, b, j) else { break };
        let gap = (i as f64 / size_a - j as f64 / size_b).abs();
        total.add(gap * (next - value));
        value = next;
    }
    total.value()
}

/// `np.std(values)` (population standard deviation, ddof = 0), NaN when empty.
///
/// Two passes (mean, then squared deviations), each summed with NumPy's pairwise
/// summation, so the result is NumPy's to the last bit for the same order of values.
pub fn population_std(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let count = values.len() as f64;
    let mean = pairwise_sum(values.len(), &|i| values[i]) / count;
    let squares = pairwise_sum(values.len(), &|i| {
        let deviation = values[i] - mean;
        deviation * deviation
    });
    (squares / count).sqrt()
}

/// `scipy.spatial.distance.jensenshannon(p, q)` with the natural logarithm; p and q are
/// normalised to sum to 1 first, as SciPy does.
///
/// A zero share contributes nothing (SciPy's `rel_entr(0, m) = 0`). Slices of different
/// lengths give NaN.
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    if p.len() != q.len() {
        return f64::NAN;
    }
    let total_p = pairwise_sum(p.len(), &|i| p[i]);
    let total_q = pairwise_sum(q.len(), &|i| q[i]);
    let share_p = |i: usize| p[i] / total_p;
    let share_q = |i: usize| q[i] / total_q;
    let middle = |i: usize| (share_p(i) + share_q(i)) / 2.0;
    let left = pairwise_sum(p.len(), &|i| relative_entropy(share_p(i), middle(i)));
    let right = pairwise_sum(q.len(), &|i| relative_entropy(share_q(i), middle(i)));
    ((left + right) / 2.0).sqrt()
}

/// Evidently's PSI: Σ (p − q) · ln(p / q), over shares with no zeros.
///
/// Slices of different lengths give NaN.
pub fn psi(p: &[f64], q: &[f64]) -> f64 {
    if p.len() != q.len() {
        return f64::NAN;
    }
    pairwise_sum(p.len(), &|i| (p[i] - q[i]) * (p[i] / q[i]).ln())
}

/// `np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")`. Inputs finite, not both empty.
///
/// Sturges' rule: width = range / (log₂ N + 1), as many equal bins as cover the range, and
/// the edges from `np.linspace` (so the last edge is exactly the maximum). All values equal
/// gives one bin of width 1 around them; both slices empty gives NumPy's `[0, 1]`.
pub fn sturges_edges(a: &[f64], b: &[f64]) -> Vec<f64> {
    let count = a.len() + b.len();
    let mut values = a.iter().chain(b.iter()).copied();
    let Some(first_value) = values.next() else { return vec![0.0, 1.0] };
    let (min, max) = values.fold((first_value, first_value), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (mut first, mut last) = (min, max);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let width = (max - min) / ((count as f64).log2() + 1.0);
    let bins = if width != 0.0 { ((last - first) / width).ceil() } else { 1.0 };
    // Only non-finite input (which NumPy rejects) could make this anything but a small count.
    let bins = if bins.is_finite() && bins >= 1.0 { bins as usize } else { 1 };
    linspace(first, last, bins + 1)
}

/// `np.histogram(values, edges)[0]`: counts per bin, the last bin closed on the right,
/// values outside the edges not counted.
///
/// With explicit edges NumPy counts by comparing against the edges themselves (bin i holds
/// edges[i] ≤ x < edges[i+1], the last bin also x = last edge), which is what a binary
/// search over `edges` does here. `edges` must be non-decreasing; fewer than two edges
/// give no bins.
pub fn histogram_counts(values: &[f64], edges: &[f64]) -> Vec<usize> {
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else { return Vec::new() };
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0; bins];
    for &value in values {
        if !(value >= first && value <= last) {
            continue;
        }
        // At least one edge (the first) is ≤ value, so this is ≥ 1.
        let edges_at_or_below = edges.partition_point(|&edge| edge <= value);
        let bin = edges_at_or_below.saturating_sub(1).min(bins.saturating_sub(1));
        if let Some(count) = counts.get_mut(bin) {
            *count += 1;
        }
    }
    counts
}

/// Evidently's `feel_zeroes`: zero shares become 0.0001, or (min non-zero share) / 10⁶
/// when that minimum is ≤ 0.0001. Left unchanged if all shares are zero.
///
/// Without this a bin that is empty on one side would make PSI infinite.
pub fn fill_zero_shares(shares: &mut [f64]) {
    let Some(min_nonzero) = shares.iter().copied().filter(|&share| share != 0.0).reduce(f64::min) else {
        return;
    };
    let fill = if min_nonzero <= 0.0001 { min_nonzero / 1e6 } else { 0.0001 };
    for share in shares.iter_mut().filter(|share| **share == 0.0) {
        *share = fill;
    }
}

// ---------------------------------------------------------------------------------------
// Two-sample KS: statistic and exact p-value
// ---------------------------------------------------------------------------------------

fn sorted(values: &[f64]) -> Cow<'_, [f64]> {
    if values.is_sorted_by(|x, y| x <= y) {
        Cow::Borrowed(values)
    } else {
        let mut owned = values.to_vec();
        owned.sort_unstable_by(f64::total_cmp);
        Cow::Owned(owned)
    }
}

/// The smallest of the two next values of two sorted slices, if any is left.
fn next_merged_value(a: &[f64], i: usize, b: &[f64], j: usize) -> Option<f64> {
    match (a.get(i), b.get(j)) {
        (Some(&x), Some(&y)) => Some(if x <= y { x } else { y }),
        (Some(&x), None) => Some(x),
        (None, Some(&y)) => Some(y),
        (None, None) => None,
    }
}

/// max |F_a − F_b| over the merged sample, each ECDF an exact count divided by its size.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (size_a, size_b) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut largest, mut smallest) = (f64::NEG_INFINITY, f64::INFINITY);
    while let Some(value) = next_merged_value(a, i, b, j) {
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        let gap = i as f64 / size_a - j as f64 / size_b;
        largest = largest.max(gap);
        smallest = smallest.min(gap);
    }
    let below = (-smallest).clamp(0.0, 1.0);
    if below > largest {
        below
    } else {
        largest
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// SciPy's `_attempt_exact_2kssamp` (two-sided): the statistic snapped to the lattice
/// h / lcm(n1, n2), and the exact P(D ≥ h / lcm), or `None` when that is not a probability.
fn exact_two_sample_p_value(n1: u64, n2: u64, statistic: f64) -> (f64, Option<f64>) {
    let lcm = (n1 / gcd(n1, n2)) * n2;
    let steps = (statistic * lcm as f64).round_ties_even();
    let lattice_statistic = steps / lcm as f64;
    if steps == 0.0 {
        return (lattice_statistic, Some(1.0));
    }
    let steps = steps as u64;
    let p_value = if n1 == n2 {
        equal_size_outside_probability(n1, steps)
    } else {
        lattice_outside_probability(n1, n2, steps)
    };
    (lattice_statistic, (0.0..=1.0).contains(&p_value).then_some(p_value))
}

/// P(D ≥ h/n) for two samples of size n: 2 Σ_{k≥1} (−1)^{k−1} C(2n, n − kh) / C(2n, n).
///
/// The ratio of consecutive binomial terms is a product of h fractions below 1, so the
/// alternating sum is evaluated from the innermost term outwards, A₀(1 − A₁(1 − A₂(…))),
/// without any large number or subtractive cancellation.
fn equal_size_outside_probability(n: u64, h: u64) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut nested = 0.0;
    for k in (0..=n / h).rev() {
        let shift = k * h;
        let mut ratio = 1.0;
        for j in 0..h {
            ratio = (n - shift - j) as f64 * ratio / (n + shift + j + 1) as f64;
        }
        nested = ratio * (1.0 - nested);
    }
    2.0 * nested
}

/// P(D ≥ h / lcm) for sizes n1 ≠ n2: the share of monotone lattice paths from (0, 0) to
/// (m, n) that touch |x/m − y/n| ≥ h / lcm(m, n) (Hodges 1958, with the recursion for the
/// complement of Viehmann 2021 so that small p-values keep their relative accuracy).
///
/// Each cell holds the probability that a uniformly random path from (0, 0) to (x, y) has
/// already touched the boundary: 1 outside the band, and inside it the mix of its two
/// predecessors weighted x : y (the chance that the last step came from the left or from
/// below). The cells are visited by anti-diagonals x + y = s, whose predecessors all lie on
/// diagonal s − 1: the cells of a diagonal are independent of each other, so the loop has
/// no chain of dependent divisions, and each cell gets the very same expression as in
/// SciPy's column-by-column order. Only the band is visited, O((m + n) · band width).
fn lattice_outside_probability(n1: u64, n2: u64, h: u64) -> f64 {
    let (m, n) = if n1 >= n2 { (n1, n2) } else { (n2, n1) };
    let g = gcd(m, n);
    let (m_step, n_step, h) = ((m / g) as i64, (n / g) as i64, h as i64);
    let (m_signed, n_signed) = (m as i64, n as i64);
    let steps = m_step + n_step;
    // The cells (x, s − x) with |n_step·x − m_step·(s − x)| < h, as x in [low, high).
    let band = |s: i64| -> (usize, usize) {
        let low = ((m_step * s - h).div_euclid(steps) + 1).max(s - n_signed).max(0);
        let high = (-(-(m_step * s + h)).div_euclid(steps)).min(s.min(m_signed) + 1);
        (low as usize, high.max(low) as usize)
    };
    // Diagonals s − 1 and s, indexed by x; 1 ("crossed") outside their bands.
    let mut previous = vec![1.0_f64; m as usize + 1];
    let mut current = vec![1.0_f64; m as usize + 1];
    previous[0] = 0.0; // s = 0: the origin, inside the band.
    let mut previous_band = (0, 1);
    let mut current_band = (0, 0);
    for s in 1..=(m_signed + n_signed) {
        let (low, high) = band(s);
        if high <= low {
            // Every path crosses this diagonal outside the band.
            return 1.0;
        }
        // `current` still holds diagonal s − 2: its band goes back to "crossed".
        current[current_band.0..current_band.1].fill(1.0);
        let sum = s as f64;
        for x in low..high {
            let y = s as usize - x;
            // Weight x (resp. y) is 0 on the axes, where the predecessor does not exist.
            let from_left = if x == 0 { 0.0 } else { previous[x - 1] };
            let from_below = previous[x];
            let value = (from_left * x as f64 + from_below * y as f64) / sum;
            // Subnormal numbers are slow on most CPUs; below 2⁻¹⁰²² a probability is 0 here.
            current[x] = if value < f64::MIN_POSITIVE { 0.0 } else { value };
        }
        current_band = (low, high);
        std::mem::swap(&mut previous, &mut current);
        std::mem::swap(&mut previous_band, &mut current_band);
    }
    previous[m as usize]
}

// ---------------------------------------------------------------------------------------
// One-sample KS distribution (SciPy's `_kolmogn` branches)
// ---------------------------------------------------------------------------------------

const TWO_POW_128: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;
const TWO_POW_MINUS_128: f64 = 1.0 / TWO_POW_128;

fn clip_probability(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// x · 2^exponent without overflow in the scale factor itself (C's `ldexp`).
fn scale_by_power_of_two(mut value: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 {
        value *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 {
        value *= 2f64.powi(-1000);
        exponent += 1000;
    }
    value * 2f64.powi(exponent as i32)
}

/// ln(n! / nⁿ) from Stirling's series, ½ ln n − n + ½ ln 2π + Σ B₂ⱼ / (2j(2j−1) n^{2j−1}),
/// with n ln n taken out before it can cancel.
fn ln_factorial_over_power(n: u64) -> f64 {
    // B₂ⱼ / (2j (2j − 1)) for j = 1..=8 (Bernoulli numbers 1/6, −1/30, 1/42, −1/30, 5/66,
    // −691/2730, 7/6, −3617/510).
    const STIRLING: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let size = n as f64;
    let inverse = 1.0 / size;
    let inverse_squared = inverse / size;
    let series = STIRLING.iter().rev().fold(0.0, |acc, &c| acc * inverse_squared + c);
    size.ln() / 2.0 - size + (2.0 * PI).ln() / 2.0 + inverse * series
}

/// Row-major m × m matrix product.
fn matrix_product(left: &[f64], right: &[f64], m: usize) -> Vec<f64> {
    let mut product = vec![0.0; m * m];
    for (row, out) in product.chunks_exact_mut(m).enumerate() {
        for (k, &factor) in left[row * m..(row + 1) * m].iter().enumerate() {
            if factor == 0.0 {
                continue;
            }
            for (cell, &r) in out.iter_mut().zip(&right[k * m..(k + 1) * m]) {
                *cell += factor * r;
            }
        }
    }
    product
}

/// P(D_n ≤ d) by Durbin's matrix formula as organised by Marsaglia, Tsang & Wang (2003):
/// with d = (k − h)/n, the answer is n!/nⁿ times entry (k, k) of Hⁿ for a (2k − 1)-square
/// matrix H. Powers and the n!/nⁿ factor carry a separate binary exponent so nothing
/// overflows; suited to small n·d.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let size = n as f64;
    let nd = size * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    // inverse_factorial[j] = 1/j!; edge[j] = (1 − h^{j+1}) / (j+1)! except the corner.
    let mut inverse_factorial = vec![1.0; m + 1];
    let mut edge = vec![0.0; m];
    let mut factor = 1.0;
    for j in 1..=m {
        factor /= j as f64;
        inverse_factorial[j] = factor;
        edge[j - 1] = (1.0 - h.powf(j as f64)) * factor;
    }
    let corner = (2.0 * h - 1.0).max(0.0).powf(m as f64) - 2.0 * h.powf(m as f64);
    edge[m - 1] = (1.0 + corner) * factor;

    let mut matrix = vec![0.0; m * m];
    for column in 1..m {
        for row in column - 1..m {
            matrix[row * m + column] = inverse_factorial[row + 1 - column];
        }
    }
    for row in 0..m {
        matrix[row * m] = edge[row];
    }
    for column in 0..m {
        matrix[(m - 1) * m + column] = edge[m - 1 - column];
    }

    let centre = (k - 1) * m + (k - 1);
    let mut power = vec![0.0; m * m];
    for i in 0..m {
        power[i * m + i] = 1.0;
    }
    let (mut power_exponent, mut matrix_exponent) = (0_i64, 0_i64);
    let mut remaining = n;
    while remaining > 0 {
        if remaining % 2 == 1 {
            power = matrix_product(&power, &matrix, m);
            power_exponent += matrix_exponent;
        }
        matrix = matrix_product(&matrix, &matrix, m);
        matrix_exponent *= 2;
        if matrix[centre].abs() > TWO_POW_128 {
            matrix.iter_mut().for_each(|cell| *cell /= TWO_POW_128);
            matrix_exponent += 128;
        }
        remaining /= 2;
    }

    let mut p = power[centre];
    for i in 1..=n {
        p = i as f64 * p / size;
        if p.abs() < TWO_POW_MINUS_128 {
            p *= TWO_POW_128;
            power_exponent -= 128;
        }
    }
    clip_probability(scale_by_power_of_two(p, power_exponent))
}

/// The window of row `i` in Pomeranz's recursion: the indices that can be non-zero.
fn pomeranz_window(i: i64, n: i64, whole: i64, has_fraction: i64, fraction_over_half: i64) -> (i64, i64) {
    let (first, last) = if i == 0 {
        (-whole - has_fraction - 1, whole + has_fraction - 1)
    } else {
        let half = (i + 1) / 2;
        if (i + 1) % 2 == 0 {
            if half == n + 1 {
                (n - whole - has_fraction - 1, n + whole + has_fraction - 1)
            } else {
                (half - 1 - whole - fraction_over_half - 1, half + whole - 1 + has_fraction - 1)
            }
        } else {
            (half - 1 - whole - 1, half + whole + fraction_over_half - 1)
        }
    };
    ((first + 2).max(0), last.min(n))
}

/// P(D_n ≤ x) by Pomeranz's recursion (1974): 2n + 1 rows, each the convolution of the
/// previous one with one of three truncated Poisson weight sequences; the answer is n!
/// times the last entry. Used by SciPy for n ≤ 140 and 0.754693 < n·x² ≤ 4.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let size = n as f64;
    let t = size * x;
    let whole = t.floor() as i64;
    let fraction = t - whole as f64;
    let g = fraction.min(1.0 - fraction);
    let has_fraction = i64::from(fraction > 0.0);
    let fraction_over_half = i64::from(fraction > 0.5);
    let width = 2 * (whole as usize + 1);

    // (g/n)^j / j!, (2g/n)^j / j!, ((1 − 2g)/n)^j / j!
    let (g_over_n, two_g_over_n, rest_over_n) = (g / size, 2.0 * g / size, (1.0 - 2.0 * g) / size);
    let mut weights_g = vec![1.0; width];
    let mut weights_two_g = vec![1.0; width];
    let mut weights_rest = vec![1.0; width];
    for j in 1..width {
        weights_g[j] = weights_g[j - 1] * g_over_n / j as f64;
        weights_two_g[j] = weights_two_g[j - 1] * two_g_over_n / j as f64;
        weights_rest[j] = weights_rest[j - 1] * rest_over_n / j as f64;
    }

    let n_signed = n as i64;
    let mut previous = vec![0.0; width];
    let mut current = vec![0.0; width];
    current[0] = 1.0;
    // The index (in the full row) of each buffer's first cell.
    let (mut previous_start, mut current_start) = (0_i64, 0_i64);
    let mut exponent = 0_i64;
    let mut first = pomeranz_window(0, n_signed, whole, has_fraction, fraction_over_half).0;
    for i in 1..=(2 * n_signed + 1) {
        let previous_first = first;
        std::mem::swap(&mut previous, &mut current);
        std::mem::swap(&mut previous_start, &mut current_start);
        current.fill(0.0);
        let last;
        (first, last) = pomeranz_window(i, n_signed, whole, has_fraction, fraction_over_half);
        let weights = if i == 1 || i == 2 * n_signed + 1 {
            &weights_g
        } else if i % 2 == 1 {
            &weights_two_g
        } else {
            &weights_rest
        };
        let span = last - previous_first + 1;
        if span <= 0 {
            continue;
        }
        // Convolve previous[previous_first ..= last] with weights[0 .. span] and keep the
        // entries for first ..= last.
        let offset = previous_first - previous_start;
        let input = |a: i64| -> f64 {
            usize::try_from(offset + a).ok().and_then(|index| previous.get(index)).copied().unwrap_or(0.0)
        };
        let weight = |b: i64| -> f64 {
            usize::try_from(b).ok().and_then(|index| weights.get(index)).copied().unwrap_or(0.0)
        };
        let skip = first - previous_first;
        for (out, cell) in current.iter_mut().enumerate().take((last - first + 1).max(0) as usize) {
            let c = skip + out as i64;
            let mut total = 0.0;
            for a in (c - span + 1).max(0)..=c.min(span - 1) {
                total += input(a) * weight(c - a);
            }
            *cell = total;
        }
        let largest = current.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if largest > 0.0 && largest < TWO_POW_MINUS_128 {
            current.iter_mut().for_each(|cell| *cell *= TWO_POW_128);
            exponent -= 128;
        }
        current_start = previous_start + first - previous_first;
    }

    let index = usize::try_from(n_signed - current_start).ok();
    let mut answer = index.and_then(|i| current.get(i)).copied().unwrap_or(f64::NAN);
    for j in 1..=n {
        if answer.abs() > TWO_POW_128 {
            answer *= TWO_POW_MINUS_128;
            exponent += 128;
        }
        answer *= j as f64;
    }
    clip_probability(scale_by_power_of_two(answer, exponent))
}

/// The Pelz–Good (1976) approximation of P(D_n ≤ x): Li-Chien/Korolyuk's expansion in
/// powers of 1/√n, each term rewritten with Jacobi's theta identity so it converges fast
/// for small z = x√n. Not clipped (SciPy clips after taking 1 − cdf).
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let size = n as f64;
    let z = size.sqrt() * x;
    let (z2, z3, z4, z6) = (z.powf(2.0), z.powf(3.0), z.powf(4.0), z.powf(6.0));
    let (pi2, pi4, pi6) = (PI.powf(2.0), PI.powf(4.0), PI.powf(6.0));
    let sqrt_two_pi = (2.0 * PI).sqrt();

    let log_q = -pi2 / 8.0 / z2;
    if log_q < -708.0 {
        return 0.0;
    }
    let q = log_q.exp();

    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powf(8.0);

    // Σ_k c_k q^{(2k−1)²} for the four terms, by Horner's scheme in q^{8k}.
    let terms = (16.0 * z / PI).ceil() as u64;
    let mut sums = [0.0_f64; 4];
    for k in (1..=terms).rev() {
        let odd = (2 * k - 1) as f64;
        let (odd2, odd4, odd6) = (odd * odd, odd.powi(4), odd.powi(6));
        let q_power = q.powf((8 * k) as f64);
        let coefficients = [
            1.0,
            k1a + k1b * odd2,
            k2a + k2b * odd2 + k2c * odd4,
            k3a + k3b * odd2 + k3c * odd4 + k3d * odd6,
        ];
        for (sum, coefficient) in sums.iter_mut().zip(coefficients) {
            *sum = *sum * q_power + coefficient;
        }
    }
    let divisors = [z, 6.0 * z4, 72.0 * z.powf(7.0), 6480.0 * z.powf(10.0)];
    for (sum, divisor) in sums.iter_mut().zip(divisors) {
        *sum = *sum * q * sqrt_two_pi / divisor;
    }

    // The terms over all integers k, in q' = exp(−π²/(2z²)).
    let q_all = (-pi2 / 2.0 / z2).exp();
    let k_of = |i: usize| (terms - i as u64) as f64;
    let weight = |k: f64| q_all.powf(k * k);
    let sqrt3_z = 3f64.sqrt() * z;
    let k2_extra = pairwise_sum(terms as usize, &|i| {
        let k = k_of(i);
        k * k * weight(k)
    });
    sums[2] += k2_extra * (pi2 * sqrt_two_pi / (-36.0 * z3));
    let k3_extra = pairwise_sum(terms as usize, &|i| {
        let k = k_of(i);
        let k_pi = PI * k;
        (sqrt3_z + k_pi) * (sqrt3_z - k_pi) * (k * k) * weight(k)
    });
    sums[3] += k3_extra * (pi2 * sqrt_two_pi / (216.0 * z6));

    sums.iter().enumerate().fold(0.0, |total, (power, sum)| total + sum / size.powf(power as f64 / 2.0))
}

// ---------------------------------------------------------------------------------------
// One-sided Smirnov distribution (scipy.special.smirnov)
// ---------------------------------------------------------------------------------------

/// ln of the smallest normal double: `exp` of anything below underflows.
const MIN_LOG: f64 = -708.396_418_532_264_1;

/// `scipy.special.smirnov(n, x)`: P(D_n⁺ ≥ x), from the Birnbaum–Tingey sum
///
/// x · Σ_{v=0}^{⌈n(1−x)⌉−1} C(n, v) (x + v/n)^{v−1} (1 − x − v/n)^{n−v}.
///
/// Each term is a binomial probability divided by (x + v/n), evaluated in log space with
/// Loader's saddle-point form so it keeps ~1e-14 relative accuracy for n in the hundreds of
/// thousands (SciPy uses double-double arithmetic for the same purpose). All terms are
/// positive, so the sum has no cancellation.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let size = n as f64;
    // n·x as an unevaluated sum hi + lo, and its exact floor.
    let nx_hi = size * x;
    let nx_lo = size.mul_add(x, -nx_hi);
    let mut nx_floor = nx_hi.floor();
    let mut nx_fraction = (nx_hi - nx_floor) + nx_lo;
    if nx_fraction < 0.0 {
        nx_floor -= 1.0;
        nx_fraction += 1.0;
    }
    if nx_fraction >= 1.0 {
        nx_floor += 1.0;
        nx_fraction -= 1.0;
    }
    let nx_floor = nx_floor as u64;

    if nx_floor == 0 || (nx_floor == 1 && nx_fraction == 0.0) {
        // x ≤ 1/n: only the v = 0 term survives in the complementary sum.
        let cdf = x * ((size - 1.0) * x.ln_1p()).exp();
        return clip_probability(1.0 - cdf);
    }
    if -2.0 * size * x * x < MIN_LOG {
        return 0.0;
    }
    if nx_floor >= n - 1 {
        return (1.0 - x).powf(size);
    }
    if n > 1_000_000 {
        // SciPy's shortcut for very large n: P ≈ exp(−(6nx + 1)² / (18n)).
        let log_p = -(6.0 * size * x + 1.0).powi(2) / 18.0 / size;
        return if log_p < -std::f64::consts::LN_2 { log_p.exp() } else { 1.0 + log_p.exp_m1() };
    }

    let last = n - nx_floor - 1;
    let mut total = CompensatedSum::default();
    // v = 0: (1 − x)ⁿ / x.
    total.add((size * (-x).ln_1p()).exp() / x);
    for v in 1..=last {
        let v_f = v as f64;
        // n·p and n·q for p = x + v/n, q = 1 − p, keeping the low part of n·x.
        let mean_hits = (nx_hi + v_f) + nx_lo;
        let mean_misses = ((size - v_f) - nx_hi) - nx_lo;
        let log_term = binomial_ln_pmf(v, n, mean_hits, mean_misses) - (mean_hits.ln() - size.ln());
        let term = log_term.exp();
        total.add(term);
        // Past the middle the terms only shrink; stop once the rest cannot matter.
        if v > n / 2 && 4.0 * (last - v) as f64 * term < f64::EPSILON * total.value() {
            break;
        }
    }
    clip_probability(x * total.value())
}

/// ln C(n, k) p^k q^{n−k} for 0 < k < n, given n·p and n·q (Loader 2000): Stirling
/// remainders plus the deviance terms, so nothing of size n·ln n is ever subtracted.
fn binomial_ln_pmf(k: u64, n: u64, mean_hits: f64, mean_misses: f64) -> f64 {
    let (k_f, n_f) = (k as f64, n as f64);
    let log_core = stirling_remainder(n)
        - stirling_remainder(k)
        - stirling_remainder(n - k)
        - binomial_deviance(k_f, mean_hits)
        - binomial_deviance((n - k) as f64, mean_misses);
    let log_spread = (2.0 * PI).ln() + k_f.ln() + (-k_f / n_f).ln_1p();
    log_core - 0.5 * log_spread
}

/// ln n! − [(n + ½) ln n − n + ½ ln 2π], the error of Stirling's formula (n ≥ 1).
fn stirling_remainder(n: u64) -> f64 {
    let size = n as f64;
    if n <= 15 {
        // n! is exact in a double here, and the cancellation costs only ~1e-15 absolute.
        let factorial = (1..=n).map(|i| i as f64).product::<f64>();
        return factorial.ln() - (size + 0.5) * size.ln() + size - 0.5 * (2.0 * PI).ln();
    }
    let inverse = 1.0 / size;
    let inverse_squared = inverse * inverse;
    let series = [1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0];
    inverse * series.iter().rev().fold(0.0, |acc, &c| acc * inverse_squared + c)
}

/// x ln(x / m) + m − x, computed without cancellation when x ≈ m (Loader's `bd0`).
fn binomial_deviance(x: f64, mean: f64) -> f64 {
    if (x - mean).abs() < 0.1 * (x + mean) {
        let ratio = (x - mean) / (x + mean);
        let mut total = (x - mean) * ratio;
        let mut term = 2.0 * x * ratio;
        let ratio_squared = ratio * ratio;
        for j in 1..1000 {
            term *= ratio_squared;
            let next = total + term / (2 * j + 1) as f64;
            if next == total {
                return next;
            }
            total = next;
        }
        return total;
    }
    x * (x / mean).ln() + mean - x
}

// ---------------------------------------------------------------------------------------
// Sums and small helpers shared with NumPy's behaviour
// ---------------------------------------------------------------------------------------

/// NumPy's pairwise summation (`np.add.reduce` on a contiguous float64 array) of
/// `term(0) + … + term(len − 1)`: blocks of up to 128 values summed in eight interleaved
/// lanes, larger ranges split in two. Same order of additions, so the same result.
fn pairwise_sum(len: usize, term: &dyn Fn(usize) -> f64) -> f64 {
    pairwise_block(0, len, term)
}

fn pairwise_block(start: usize, len: usize, term: &dyn Fn(usize) -> f64) -> f64 {
    const LANES: usize = 8;
    const BLOCK: usize = 128;
    if len < LANES {
        let mut total = 0.0;
        for i in start..start + len {
            total += term(i);
        }
        total
    } else if len <= BLOCK {
        let mut lanes = [0.0; LANES];
        for (lane, value) in lanes.iter_mut().enumerate() {
            *value = term(start + lane);
        }
        let whole = len - len % LANES;
        for block in (LANES..whole).step_by(LANES) {
            for (lane, value) in lanes.iter_mut().enumerate() {
                *value += term(start + block + lane);
            }
        }
        let mut total =
            ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        for i in start + whole..start + len {
            total += term(i);
        }
        total
    } else {
        let mut half = len / 2;
        half -= half % LANES;
        pairwise_block(start, half, term) + pairwise_block(start + half, len - half, term)
    }
}

/// Neumaier's compensated sum: nearly exact whatever the order, for sums NumPy does with
/// BLAS (`np.vecdot`) or SciPy in double-double.
#[derive(Default)]
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    fn add(&mut self, value: f64) {
        let next = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - next) + value;
        } else {
            self.compensation += (value - next) + self.sum;
        }
        self.sum = next;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// `scipy.special.rel_entr(x, y)`: x ln(x/y), 0 when x = 0, +∞ when only y is 0.
fn relative_entropy(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// `np.linspace(start, stop, count)` (count ≥ 2): start + i·step, the last value exactly `stop`.
fn linspace(start: f64, stop: f64, count: usize) -> Vec<f64> {
    let divisions = (count - 1) as f64;
    let delta = stop - start;
    let step = delta / divisions;
    let mut values: Vec<f64> = (0..count)
        .map(|i| if step == 0.0 { i as f64 / divisions * delta } else { i as f64 * step } + start)
        .collect();
    if let Some(end) = values.last_mut() {
        *end = stop;
    }
    values
}

#[cfg(test)]
mod tests {
    //! Tiny analytic cases first, then SciPy values. Unless a test says otherwise the
    //! expected values are from SciPy 1.17.1 / NumPy 2.4.6, printed by
    //! `bench/drift_reference.py` on inputs from the same LCG as [`Lcg`] below.

    use super::*;

    /// The generator `bench/drift_reference.py` uses: state ← state·6364136223846793005 +
    /// 1442695040888963407 (mod 2⁶⁴), a unit value is the top 53 bits / 2⁵³.
    struct Lcg(u64);

    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / 9_007_199_254_740_992.0
        }
    }

    /// `count` values u·scale + shift.
    fn continuous(seed: u64, count: usize, scale: f64, shift: f64) -> Vec<f64> {
        let mut rng = Lcg(seed);
        (0..count).map(|_| rng.unit() * scale + shift).collect()
    }

    /// `count` values ⌊u·steps⌋/4 + shift: many ties.
    fn stepped(seed: u64, count: usize, steps: f64, shift: f64) -> Vec<f64> {
        let mut rng = Lcg(seed);
        (0..count).map(|_| (rng.unit() * steps).floor() / 4.0 + shift).collect()
    }

    fn sorted_copy(values: &[f64]) -> Vec<f64> {
        let mut copy = values.to_vec();
        copy.sort_by(f64::total_cmp);
        copy
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, relative: f64) {
        let error = (actual - expected).abs() / expected.abs().max(f64::MIN_POSITIVE);
        assert!(error <= relative, "{actual:e} vs {expected:e}: relative error {error:e} > {relative:e}");
    }

    // --- ks_2samp -------------------------------------------------------------------

    #[test]
    fn ks_needs_two_non_empty_samples() {
        assert_eq!(ks_2samp(&[], &[1.0]), None);
        assert_eq!(ks_2samp(&[1.0], &[]), None);
    }

    #[test]
    fn ks_identical_samples_have_statistic_zero_and_p_one() {
        let sample = [3.0, 1.0, 2.0, 2.0];
        let result = ks_2samp(&sample, &sample).expect("non-empty");
        assert_eq!(result, KsResult { statistic: 0.0, p_value: 1.0, exact: true });
    }

    #[test]
    fn ks_separated_samples_count_the_two_extreme_paths() {
        // D = 1; of the C(5, 2) = 10 orderings only the two fully separated ones reach it.
        let result = ks_2samp(&[0.0, 1.0, 2.0], &[3.0, 4.0]).expect("non-empty");
        assert_eq!(result.statistic, 1.0);
        assert_close(result.p_value, 0.2, 1e-15);
        assert!(result.exact);
    }

    #[test]
    fn ks_equal_sizes_match_the_closed_form() {
        // n = m = 2, D = 1: the orderings aabb and bbaa, 2 of C(4, 2) = 6.
        let result = ks_2samp(&[0.0, 1.0], &[2.0, 3.0]).expect("non-empty");
        assert_close(result.p_value, 1.0 / 3.0, 1e-15);
    }

    #[track_caller]
    fn check_ks(a: &[f64], b: &[f64], statistic: f64, p_value: f64, exact: bool) {
        let result = ks_2samp(a, b).expect("non-empty");
        assert_close(result.statistic, statistic, 1e-15);
        assert_close(result.p_value, p_value, 1e-12);
        assert_eq!(result.exact, exact);
        // Order of the samples and of the values does not matter.
        let swapped = ks_2samp(&sorted_copy(b), &sorted_copy(a)).expect("non-empty");
        assert_close(swapped.p_value, p_value, 1e-12);
    }

    #[test]
    fn ks_exact_unequal_sizes_match_scipy() {
        check_ks(
            &continuous(1, 37, 1.0, 0.0),
            &continuous(2, 53, 1.0, 0.25),
            0.29882712901580827,
            0.03078172614988079,
            true,
        );
        check_ks(
            &continuous(18, 250, 1.0, 0.0),
            &continuous(19, 450, 1.0, 0.12),
            0.1622222222222222,
            0.00036837396836746474,
            true,
        );
        check_ks(
            &continuous(7, 400, 1.0, 0.0),
            &continuous(8, 600, 1.0, 0.16),
            0.18833333333333332,
            6.779374933480366e-08,
            true,
        );
    }

    #[test]
    fn ks_exact_with_ties_matches_scipy() {
        check_ks(
            &stepped(3, 300, 40.0, 0.0),
            &stepped(4, 1000, 40.0, 0.5),
            0.07133333333333333,
            0.18230963555952928,
            true,
        );
    }

    #[test]
    fn ks_exact_equal_sizes_match_scipy() {
        check_ks(
            &continuous(5, 200, 1.0, 0.0),
            &continuous(6, 200, 1.0, 0.1),
            0.18,
            0.0030098470801667434,
            true,
        );
    }

    #[test]
    fn ks_exact_at_the_size_limit_matches_scipy() {
        check_ks(
            &continuous(9, 1000, 1.0, 0.0),
            &continuous(10, 10_000, 1.0, 0.03),
            0.0419,
            0.08028861424638085,
            true,
        );
    }

    #[test]
    fn ks_exact_deep_tail_matches_scipy() {
        // Half the mass shifted: the lattice recursion meets probabilities below 2⁻¹⁰²²,
        // flushed to 0 for speed, without changing the result.
        check_ks(
            &continuous(1, 1000, 1.0, 0.0),
            &continuous(2, 10_000, 1.0, 0.5),
            0.5043,
            2.8011253914081902e-213,
            true,
        );
    }

    #[test]
    fn ks_above_ten_thousand_values_is_asymptotic_and_matches_scipy() {
        // en = round(12000·9000/21000) = 5143, n·x² ≈ 3.8: the 2·smirnov branch.
        check_ks(
            &continuous(11, 12_000, 1.0, 0.0),
            &continuous(12, 9000, 1.0, 0.02),
            0.027111111111111086,
            0.001021813515479723,
            false,
        );
    }

    // --- kstwo_sf and its branches ----------------------------------------------------

    #[test]
    fn kstwo_edges_of_the_support() {
        assert_eq!(kstwo_sf(10, 0.05), 1.0); // x ≤ 1/(2n)
        assert_eq!(kstwo_sf(10, 0.0), 1.0);
        assert_eq!(kstwo_sf(10, 1.0), 0.0);
        assert!(kstwo_sf(0, 0.3).is_nan());
        assert!(kstwo_sf(10, f64::NAN).is_nan());
        // n = 1: D = max(U, 1 − U), so P(D ≥ x) = 2(1 − x).
        assert_close(kstwo_sf(1, 0.7), 0.6, 1e-15);
        // Ruben–Gambino for 1/(2n) < x ≤ 1/n: 1 − n!/nⁿ (2nx − 1)ⁿ; n = 2, x = 0.4: 1 − 0.5·0.36.
        assert_close(kstwo_sf(2, 0.4), 0.82, 1e-15);
    }

    #[test]
    fn kstwo_sf_matches_scipy_on_every_branch() {
        let cases: [(&str, u64, f64, f64); 16] = [
            ("Ruben-Gambino, x ≤ 1/n", 5, 0.19, 0.977325184),
            ("Ruben-Gambino, x ≥ 1 − 1/n", 20, 0.96, 2.199023255552039e-28),
            ("2·smirnov, x ≥ 1/2", 30, 0.55, 4.74030723600559e-09),
            ("n ≤ 140, Durbin", 100, 0.08, 0.5182193645480672),
            ("n ≤ 140, Pomeranz", 100, 0.15, 0.019839242125643017),
            ("n ≤ 140, Pomeranz", 37, 0.25, 0.015939140220306847),
            ("n ≤ 140, Pomeranz", 140, 0.16, 0.001344016324418744),
            ("n ≤ 140, Miller", 100, 0.25, 5.408871776434847e-06),
            ("2·smirnov", 1000, 0.06, 0.001428597887952891),
            ("2·smirnov", 35_020, 0.012, 8.265196761385814e-05),
            ("2·smirnov, tiny", 35_020, 0.05, 1.5840093726465982e-76),
            ("2·smirnov, n > 10⁶ approximation", 2_000_000, 0.0015, 0.00024657290508461606),
            ("Durbin", 1000, 0.01, 0.9999496745370611),
            ("Pelz-Good", 5000, 0.015, 0.20846142096186204),
            ("Pelz-Good, n > 10⁵", 200_000, 0.001, 0.9881500208855729),
            ("Pelz-Good, n > 10⁵", 200_000, 0.0025, 0.16380630168585164),
        ];
        for (branch, n, x, expected) in cases {
            let actual = kstwo_sf(n, x);
            let error = (actual - expected).abs() / expected;
            assert!(
                error <= 1e-10,
                "{branch} (n={n}, x={x}): {actual:e} vs {expected:e}, relative {error:e}"
            );
        }
        assert_eq!(kstwo_sf(10_000, 0.2), 0.0); // n·x² ≥ 370
    }

    #[test]
    fn kstwo_golden_green_taxi_trip_distance() {
        // Green taxi trip_distance, 2021-01 (76,518 trips) vs 2021-02 (64,572): SciPy's
        // ks_2samp statistic and p-value; en = round(76518·64572/141090) = 35020, the
        // Pelz–Good branch (n·x² ≈ 2.09, n·x^1.5 ≈ 23.8).
        let statistic = 0.007724195031216463;
        assert_close(kstwo_sf(35_020, statistic), 0.03047512394685903, 1e-12);
    }

    #[test]
    fn kolmogorov_methods_match_scipy_cdf() {
        // kstwo.cdf(x, n): where the survival function is ≈ 1, the CDF shows each method's accuracy.
        assert_close(durbin_cdf(1000, 0.01), 5.032546293896392e-05, 1e-11);
        assert_close(durbin_cdf(20_000, 0.0015), 1.963891089520324e-11, 1e-10);
        assert_close(durbin_cdf(100_000, 0.0005), 8.09325953175999e-21, 1e-10);
        assert_close(durbin_cdf(100, 0.08), 0.48178063545193284, 1e-12);
        assert_close(pomeranz_cdf(100, 0.15), 0.980160757874357, 1e-13);
        assert_close(pelz_good_cdf(5000, 0.015), 0.791538579038138, 1e-13);
        assert_close(pelz_good_cdf(150_000, 0.0012), 0.018010790671537796, 1e-12);
    }

    #[test]
    fn ln_factorial_over_power_matches_the_direct_sum() {
        for n in [141_u64, 1000, 35_020] {
            let mut direct = CompensatedSum::default();
            for i in 1..=n {
                direct.add((i as f64 / n as f64).ln());
            }
            assert_close(ln_factorial_over_power(n), direct.value(), 1e-13);
        }
    }

    #[test]
    fn smirnov_matches_scipy_special() {
        // The first case is analytic too: x ≤ 1/n gives 1 − x(1 + x)^{n−1} = 1 − 0.3 · 1.3.
        let cases: [(u64, f64, f64); 9] = [
            (2, 0.3, 0.61),
            (10, 0.05, 0.9224335892010742),
            (10, 0.35, 0.06698659406601565),
            (10, 0.95, 9.765625000000086e-14),
            (100, 0.1, 0.1265906584562817),
            (1000, 0.03, 0.16203171395455085),
            (35_020, 0.012, 4.132598380692907e-05),
            (500_000, 0.001, 0.3676343516254814),
            (2_000_000, 0.0005, 0.3677568249110604),
        ];
        for (n, x, expected) in cases {
            let actual = smirnov_sf(n, x);
            let error = (actual - expected).abs() / expected;
            assert!(error <= 1e-12, "smirnov({n}, {x}): {actual:e} vs {expected:e}, relative {error:e}");
        }
    }

    // --- chi-square, z-test ---------------------------------------------------------------

    #[test]
    fn chi_square_two_degrees_of_freedom_is_an_exponential() {
        // Σ (o − e)²/e = 5 + 0 + 5 = 10, df = 2: P = e^{−10/2}.
        assert_close(chi_square_p_value(&[10.0, 20.0, 30.0], &[20.0, 20.0, 20.0]), (-5.0_f64).exp(), 1e-14);
        assert_eq!(chi_square_p_value(&[5.0, 5.0], &[5.0, 5.0]), 1.0);
        assert!(chi_square_p_value(&[5.0], &[5.0]).is_nan());
        assert!(chi_square_p_value(&[5.0, 1.0], &[5.0]).is_nan());
    }

    #[test]
    fn chi_square_matches_scipy() {
        let observed = [18.0, 25.0, 31.0, 12.0, 14.0];
        let expected = [20.0, 20.0, 25.0, 15.0, 20.0];
        assert_close(chi_square_p_value(&observed, &expected), 0.25881451438097675, 1e-12);
    }

    #[test]
    fn z_test_equal_shares_give_p_one() {
        assert_eq!(z_test_p_value(10.0, 100.0, 20.0, 200.0), 1.0);
    }

    #[test]
    fn z_test_matches_evidently_and_scipy() {
        // statrs 0.19's erfc is good to ~1e-10 relative (SciPy's ndtr to ~1e-16), hence the
        // looser tolerance; statrs-dev/statrs#412 restores full precision upstream.
        assert_close(z_test_p_value(30.0, 100.0, 45.0, 120.0), 0.2425835793483211, 2e-10);
        assert_close(z_test_p_value(480.0, 1000.0, 560.0, 1000.0), 0.00034283974161120057, 2e-10);
    }

    #[test]
    fn z_test_with_everything_in_one_category_is_nan_like_numpy() {
        // P = 0 or 1: 0/0 in NumPy, so z and the p-value are NaN.
        assert!(z_test_p_value(0.0, 10.0, 0.0, 20.0).is_nan());
        assert!(z_test_p_value(10.0, 10.0, 20.0, 20.0).is_nan());
    }

    // --- distances ----------------------------------------------------------------------

    #[test]
    fn wasserstein_small_cases() {
        assert_eq!(wasserstein_distance_sorted(&[0.0], &[1.0]), 1.0);
        assert_eq!(wasserstein_distance_sorted(&[0.0, 1.0], &[0.0, 1.0]), 0.0);
        // ∫ |F_a − F_b|: ½ on [0, 1) and ½ on [1, 2).
        assert_eq!(wasserstein_distance_sorted(&[0.0, 2.0], &[1.0]), 1.0);
        assert_eq!(wasserstein_distance_sorted(&[0.0, 0.0, 3.0], &[3.0]), 2.0);
        assert!(wasserstein_distance_sorted(&[], &[1.0]).is_nan());
    }

    #[test]
    fn wasserstein_matches_scipy() {
        let a = sorted_copy(&continuous(13, 500, 3.0, 0.0));
        let b = sorted_copy(&stepped(14, 350, 40.0, 0.2));
        assert_close(wasserstein_distance_sorted(&a, &b), 3.5702659660694396, 1e-14);
    }

    #[test]
    fn population_std_small_cases() {
        assert_eq!(population_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), 2.0);
        assert_eq!(population_std(&[3.5]), 0.0);
        assert!(population_std(&[]).is_nan());
    }

    #[test]
    fn population_std_matches_numpy_to_the_last_bit() {
        // Values near 10⁶ with spread ≈ 0.29: a one-pass formula would lose ~6 digits here.
        assert_eq!(population_std(&continuous(15, 1000, 1.0, 1e6)), 0.2796161969137474);
    }

    #[test]
    fn pairwise_sum_follows_numpy_blocks() {
        // 1 + 2⁻⁵³ … is order-sensitive; NumPy's pairwise order keeps the small terms in
        // separate lanes and blocks.
        let values: Vec<f64> =
            (0..1000).map(|i| if i % 97 == 0 { 1e16 } else { 1.0 + i as f64 * 0.1 }).collect();
        let sequential: f64 = values.iter().sum();
        let pairwise = pairwise_sum(values.len(), &|i| values[i]);
        assert_ne!(pairwise, sequential);
        // np.sum of the same array (NumPy 2.4.6).
        assert_eq!(pairwise, 1.100000000000504e17);
    }

    #[test]
    fn jensen_shannon_small_cases() {
        assert_eq!(jensen_shannon_distance(&[0.2, 0.8], &[0.2, 0.8]), 0.0);
        // Disjoint supports: JS divergence ln 2.
        assert_close(jensen_shannon_distance(&[1.0, 0.0], &[0.0, 1.0]), std::f64::consts::LN_2.sqrt(), 1e-15);
        // Counts are normalised first.
        assert_eq!(jensen_shannon_distance(&[2.0, 8.0], &[0.2, 0.8]), 0.0);
        assert!(jensen_shannon_distance(&[1.0], &[0.5, 0.5]).is_nan());
    }

    #[test]
    fn jensen_shannon_matches_scipy() {
        let p = [0.1, 0.0, 0.25, 0.3, 0.35];
        let q = [0.2, 0.2, 0.0, 0.3, 0.3];
        assert_close(jensen_shannon_distance(&p, &q), 0.40671311319113923, 1e-14);
        let counts_p = [3.0, 7.0, 11.0, 0.0, 5.0, 2.0, 9.0, 1.0, 4.0, 6.0];
        let counts_q = [5.0, 6.0, 8.0, 2.0, 5.0, 0.0, 12.0, 3.0, 3.0, 4.0];
        assert_close(jensen_shannon_distance(&counts_p, &counts_q), 0.21195747864952122, 1e-14);
    }

    #[test]
    fn psi_small_cases() {
        assert_eq!(psi(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        // 0.25 ln 2 + (−0.25) ln(2/3) = 0.25 ln 3.
        assert_close(psi(&[0.5, 0.5], &[0.25, 0.75]), 0.25 * 3f64.ln(), 1e-15);
        assert!(psi(&[1.0], &[0.5, 0.5]).is_nan());
    }

    #[test]
    fn psi_matches_evidently() {
        let reference = [0.05, 0.15, 0.3, 0.25, 0.2, 0.05];
        let current = [0.1, 0.1, 0.25, 0.3, 0.15, 0.1];
        assert_close(psi(&reference, &current), 0.12220423276338724, 1e-15);
    }

    // --- binning ----------------------------------------------------------------------------

    #[test]
    fn sturges_small_cases() {
        // N = 8: width = 7 / (log₂ 8 + 1) = 1.75, four bins.
        let values = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        assert_eq!(sturges_edges(&values[..5], &values[5..]), vec![0.0, 1.75, 3.5, 5.25, 7.0]);
        // All values equal: one bin of width 1 around them.
        assert_eq!(sturges_edges(&[3.0, 3.0], &[3.0]), vec![2.5, 3.5]);
        assert_eq!(sturges_edges(&[], &[]), vec![0.0, 1.0]);
    }

    #[test]
    fn sturges_matches_numpy() {
        let a = continuous(16, 300, 7.3, -2.1);
        let b = continuous(17, 200, 6.1, -1.4);
        let expected = [
            -2.0373758116601812,
            -1.3153411418056673,
            -0.5933064719511534,
            0.12872819790336054,
            0.8507628677578745,
            1.5727975376123884,
            2.2948322074669023,
            3.0168668773214162,
            3.73890154717593,
            4.460936217030444,
            5.1829708868849576,
        ];
        assert_eq!(sturges_edges(&a, &b), expected);
        assert_eq!(histogram_counts(&a, &expected), vec![30, 27, 31, 27, 32, 33, 30, 30, 28, 32]);
    }

    #[test]
    fn histogram_puts_edge_values_where_numpy_does() {
        let edges = [0.0, 1.75, 3.5, 5.25, 7.0];
        // Left edges open their bin, the last edge closes the last bin, outside is dropped.
        let values = [0.0, 1.75, 3.5, 5.25, 7.0, 7.0, -0.1, 7.1, 1.7499999];
        assert_eq!(histogram_counts(&values, &edges), vec![2, 1, 1, 3]);
        assert_eq!(histogram_counts(&[f64::NAN, 1.0], &edges), vec![1, 0, 0, 0]);
        assert!(histogram_counts(&[1.0], &[0.0]).is_empty());
    }

    #[test]
    fn histogram_matches_numpy_on_edges_and_rounding() {
        let a = continuous(16, 300, 7.3, -2.1);
        let b = continuous(17, 200, 6.1, -1.4);
        let edges = sturges_edges(&a, &b);
        let mut probes = edges.clone();
        probes.extend([a[0], b[0], -2.2, 5.3, f64::from_bits(edges[3].to_bits() - 1)]);
        assert_eq!(histogram_counts(&probes, &edges), vec![1, 1, 2, 1, 1, 2, 1, 1, 2, 2]);

        // np.linspace(0, 1, 11) has 0.30000000000000004 and 0.6000000000000001 as edges.
        let tenths = linspace(0.0, 1.0, 11);
        assert_eq!(tenths[3], 0.30000000000000004);
        assert_eq!(tenths[6], 0.6000000000000001);
        let probes = [0.1, 0.2, 0.3, 0.30000000000000004, 0.6, 0.7, 0.7000000000000001, 0.9, 1.0];
        assert_eq!(histogram_counts(&probes, &tenths), vec![0, 1, 2, 1, 0, 1, 1, 1, 0, 2]);
    }

    #[test]
    fn fill_zero_shares_uses_a_fixed_floor_for_ordinary_shares() {
        let mut shares = [0.0, 0.5, 0.5];
        fill_zero_shares(&mut shares);
        assert_eq!(shares, [0.0001, 0.5, 0.5]);
    }

    #[test]
    fn fill_zero_shares_goes_below_tiny_shares() {
        let mut shares = [0.0, 0.00005, 0.99995];
        fill_zero_shares(&mut shares);
        assert_eq!(shares, [0.00005 / 1e6, 0.00005, 0.99995]);
        let mut boundary = [0.0, 0.0001, 0.9999];
        fill_zero_shares(&mut boundary);
        assert_eq!(boundary[0], 0.0001 / 1e6);
    }

    #[test]
    fn fill_zero_shares_leaves_all_zeros_alone() {
        let mut shares = [0.0, 0.0];
        fill_zero_shares(&mut shares);
        assert_eq!(shares, [0.0, 0.0]);
    }
}
