//! Tree-structured Parzen Estimators, following hyperopt's `tpe.suggest` (0.2.7).
//!
//! For the next trial, the finished trials are split by loss into the few best
//! ("below", `ceil(gamma · √n)` of them, at most `linear_forgetting`) and the rest
//! ("above"). For every active label two densities are fitted to the values it took:
//! `l(x)` on the below trials, `g(x)` on the above ones, each mixed with the prior.
//! `n_ei_candidates` values are drawn from `l` and the one with the largest
//! `log l(x) − log g(x)` (expected improvement, up to a monotone map) wins. Labels are
//! modelled one by one, and a label inside a choice only sees the trials in which that
//! branch was taken; the tree of choices is what makes the estimators "tree-structured".
//!
//! Continuous labels use hyperopt's `adaptive_parzen_normal`: a Gaussian on every
//! observation, its width the larger gap to a neighbour, clipped to
//! `[prior_sigma / min(100, n + 2), prior_sigma]`, plus the prior as one more Gaussian
//! (centre of the range, width of the range, weight `prior_weight`), all truncated to the
//! bounds. Log distributions are modelled on the exponent, as hyperopt does; their
//! densities there differ from hyperopt's log-normal densities by the Jacobian `1/x` and
//! by a truncation constant, both of which are the same for `l` and `g` or the same for
//! every candidate, so the winner is the same. Quantised labels score a candidate by the
//! probability mass of its rounding bin (clipped to the bounds), as hyperopt's
//! `GMM1_lpdf`/`LGMM1_lpdf` do. `choice` and `randint` are categorical: weighted counts
//! plus `prior_weight` per category.
//!
//! Two deliberate departures: a bin with no mass scores `ln(f64::MIN_POSITIVE)` instead
//! of `-inf` (hyperopt's `nan` would pick the first candidate), and failed trials enter
//! the split with an infinite loss, as hyperopt treats failed and running ones, while
//! running trials are never seen at all (see [`super::SearchSpec::parallelism`]).

use std::collections::BTreeMap;

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use statrs::function::erf::erf;

use super::sample::{self, label_rng, quantize, Draw, LabelRng};
use super::space::{Assignment, Expr, Space};

/// hyperopt's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TpeOptions {
    /// Random trials before TPE takes over.
    pub n_startup_jobs: u32,
    /// Share of trials that count as "good" (scaled by √n, as hyperopt does).
    pub gamma: f64,
    /// Candidates drawn from the good model, the best expected improvement wins.
    pub n_ei_candidates: u32,
    pub prior_weight: f64,
    /// Older trials weigh less beyond this many.
    pub linear_forgetting: u32,
}

impl Default for TpeOptions {
    fn default() -> Self {
        Self {
            n_startup_jobs: 20,
            gamma: 0.25,
            n_ei_candidates: 24,
            prior_weight: 1.0,
            linear_forgetting: 25,
        }
    }
}

impl TpeOptions {
    /// The option that is out of range and why, for [`super::SearchError::TpeOption`].
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(("gamma", format!("must be in (0, 1], got {}", self.gamma)));
        }
        if self.n_ei_candidates == 0 || self.n_ei_candidates > 10_000 {
            return Err(("n_ei_candidates", format!("must be 1 to 10,000, got {}", self.n_ei_candidates)));
        }
        if !(self.prior_weight > 0.0 && self.prior_weight.is_finite()) {
            return Err(("prior_weight", format!("must be a positive number, got {}", self.prior_weight)));
        }
        if self.linear_forgetting == 0 {
            return Err(("linear_forgetting", "must be at least 1".to_string()));
        }
        Ok(())
    }
}

/// A finished trial as TPE sees it; failed trials have an infinite loss.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed<'a> {
    pub assignment: &'a Assignment,
    pub loss: f64,
}

/// hyperopt's EPS: the floor of widths and logarithms.
const EPS: f64 = 1e-12;
/// Attempts at a truncated draw before falling back to the prior; a component lies
/// inside the bounds and is at most as wide as the range, so one draw in three lands.
const MAX_REJECTIONS: usize = 1_000;

/// The TPE suggestion for trial `tid`, given the finished trials in tid order.
pub(crate) fn suggest(
    space: &Space,
    history: &[Observed],
    options: &TpeOptions,
    seed: u64,
    tid: u32,
) -> (Assignment, Value) {
    let losses: Vec<f64> = history.iter().map(|trial| trial.loss).collect();
    let below = split_below(&losses, options.gamma, options.linear_forgetting as usize);
    let mut posterior = Posterior { history, below, options, seed, tid };
    sample::resolve(space, &mut posterior)
}

/// Which trials are "below" (good): the `min(ceil(gamma·√n), cap)` lowest losses, ties
/// to the earlier trial (hyperopt's `ap_split_trials`).
pub(crate) fn split_below(losses: &[f64], gamma: f64, cap: usize) -> Vec<bool> {
    let n = losses.len();
    let n_below = ((gamma * (n as f64).sqrt()).ceil().max(0.0) as usize).min(cap).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| losses[a].total_cmp(&losses[b]));
    let mut below = vec![false; n];
    for &index in &order[..n_below] {
        below[index] = true;
    }
    below
}

struct Posterior<'a> {
    history: &'a [Observed<'a>],
    below: Vec<bool>,
    options: &'a TpeOptions,
    seed: u64,
    tid: u32,
}

impl Posterior<'_> {
    /// The values `label` took, below and above, in tid order (only where it was active).
    fn observations(&self, label: &str) -> (Vec<f64>, Vec<f64>) {
        let mut below = Vec::new();
        let mut above = Vec::new();
        for (trial, &is_below) in self.history.iter().zip(&self.below) {
            if let Some(&value) = trial.assignment.get(label) {
                if is_below {
                    below.push(value);
                } else {
                    above.push(value);
                }
            }
        }
        (below, above)
    }
}

impl Draw for Posterior<'_> {
    fn draw(&mut self, label: &str, expr: &Expr) -> f64 {
        let mut rng = label_rng(self.seed, self.tid, label);
        let (below, above) = self.observations(label);
        let options = self.options;
        if let Some(continuous) = Continuous::of(expr) {
            return continuous.suggest(&below, &above, options, &mut rng);
        }
        let (offset, categories) = match expr {
            Expr::Choice(choices) => (0, choices.len() as u64),
            Expr::RandInt { low, high } => (*low, (i128::from(*high) - i128::from(*low)).max(0) as u64),
            _ => return sample::prior_draw(expr, &mut rng),
        };
        if categories == 0 {
            return offset as f64;
        }
        let to_category = |values: &[f64]| -> Vec<u64> {
            values
                .iter()
                .map(|value| value - offset as f64)
                .filter(|category| *category >= 0.0 && *category < categories as f64)
                .map(|category| category as u64)
                .collect()
        };
        let lf = options.linear_forgetting as usize;
        let good = Categorical::fit(&to_category(&below), categories, options.prior_weight, lf);
        let bad = Categorical::fit(&to_category(&above), categories, options.prior_weight, lf);
        let candidates: Vec<u64> = (0..options.n_ei_candidates).map(|_| good.sample(&mut rng)).collect();
        let best = best_candidate(&candidates, |&k| good.log_p(k) - bad.log_p(k)).unwrap_or(0);
        (i128::from(offset) + i128::from(best)) as f64
    }
}

/// The candidate with the highest score, the first on ties; `nan` scores lose.
fn best_candidate<T: Copy>(candidates: &[T], score: impl Fn(&T) -> f64) -> Option<T> {
    let mut best: Option<(T, f64)> = None;
    for candidate in candidates {
        let value = score(candidate);
        let value = if value.is_nan() { f64::NEG_INFINITY } else { value };
        if best.is_none_or(|(_, best_value)| value > best_value) {
            best = Some((*candidate, value));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// hyperopt's `linear_forgetting_weights`: the most recent `lf` observations weigh 1,
/// older ones ramp linearly down to `1/n`.
pub(crate) fn linear_forgetting_weights(n: usize, lf: usize) -> Vec<f64> {
    if n < lf || lf == 0 {
        return vec![1.0; n];
    }
    let ramp_len = n - lf;
    let start = 1.0 / n as f64;
    let ramp = (0..ramp_len).map(|i| {
        if ramp_len == 1 {
            start
        } else {
            start + (1.0 - start) * i as f64 / (ramp_len - 1) as f64
        }
    });
    ramp.chain(std::iter::repeat_n(1.0, lf)).collect()
}

/// A Gaussian mixture (weights sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mixture {
    pub weights: Vec<f64>,
    pub mus: Vec<f64>,
    pub sigmas: Vec<f64>,
}

/// hyperopt's `adaptive_parzen_normal`: one Gaussian per observation plus the prior.
pub(crate) fn adaptive_parzen_normal(
    observations: &[f64],
    prior_weight: f64,
    prior_mu: f64,
    prior_sigma: f64,
    lf: usize,
) -> Mixture {
    let n = observations.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| observations[a].total_cmp(&observations[b]));
    // Where the prior goes among the sorted observations (NumPy's searchsorted, left).
    let prior_pos = order.iter().take_while(|&&i| observations[i] < prior_mu).count();
    let mut mus: Vec<f64> = order.iter().map(|&i| observations[i]).collect();
    mus.insert(prior_pos, prior_mu);

    let mut sigmas = vec![prior_sigma; mus.len()];
    match n {
        0 => {}
        1 => {
            let observed = 1 - prior_pos;
            sigmas[observed] = prior_sigma * 0.5;
        }
        _ => {
            let last = mus.len() - 1;
            for i in 1..last {
                sigmas[i] = (mus[i] - mus[i - 1]).max(mus[i + 1] - mus[i]);
            }
            sigmas[0] = mus[1] - mus[0];
            sigmas[last] = mus[last] - mus[last - 1];
        }
    }

    let mut weights = vec![1.0; mus.len()];
    if lf > 0 && lf < n {
        let forgetting = linear_forgetting_weights(n, lf);
        for (sorted, &original) in order.iter().enumerate() {
            let slot = if sorted < prior_pos { sorted } else { sorted + 1 };
            weights[slot] = forgetting[original];
        }
    }
    weights[prior_pos] = prior_weight;

    let max_sigma = prior_sigma;
    let min_sigma = prior_sigma / (1.0 + mus.len() as f64).min(100.0);
    for sigma in &mut sigmas {
        *sigma = sigma.clamp(min_sigma, max_sigma);
    }
    sigmas[prior_pos] = prior_sigma;

    let total: f64 = weights.iter().sum();
    for weight in &mut weights {
        *weight /= total;
    }
    Mixture { weights, mus, sigmas }
}

fn normal_cdf(x: f64, mu: f64, sigma: f64) -> f64 {
    0.5 * (1.0 + erf((x - mu) / (std::f64::consts::SQRT_2 * sigma).max(EPS)))
}

impl Mixture {
    /// The mixture's mass inside `[low, high]`: the truncated mixture's normaliser.
    fn p_accept(&self, low: f64, high: f64) -> f64 {
        self.components()
            .map(|(w, mu, sigma)| w * (normal_cdf(high, mu, sigma) - normal_cdf(low, mu, sigma)))
            .sum()
    }

    fn components(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        self.weights.iter().zip(&self.mus).zip(&self.sigmas).map(|((&w, &mu), &sigma)| (w, mu, sigma))
    }

    /// A draw from the mixture truncated to `[low, high)`, by rejection as hyperopt's
    /// `GMM1`; `None` if the mixture has (almost) no mass there.
    fn sample_truncated(&self, low: f64, high: f64, rng: &mut LabelRng) -> Option<f64> {
        for _ in 0..MAX_REJECTIONS {
            let mut pick = rng.gen::<f64>();
            let mut component = self.weights.len().saturating_sub(1);
            for (i, &weight) in self.weights.iter().enumerate() {
                if pick < weight {
                    component = i;
                    break;
                }
                pick -= weight;
            }
            let (mu, sigma) = (self.mus.get(component)?, self.sigmas.get(component)?);
            let draw = mu + sigma * rng.sample::<f64, _>(StandardNormal);
            if low <= draw && draw < high {
                return Some(draw);
            }
        }
        None
    }

    /// Log density at `y` of the mixture truncated to the bounds `log_mass_inside` is
    /// [`Mixture::log_mass_inside`] of.
    fn log_pdf(&self, y: f64, log_mass_inside: f64) -> f64 {
        let terms: Vec<f64> = self
            .components()
            .map(|(w, mu, sigma)| {
                let z = (y - mu) / sigma.max(EPS);
                w.ln() - ((2.0 * std::f64::consts::PI).sqrt() * sigma).ln() - 0.5 * z * z
            })
            .collect();
        log_sum_exp(&terms) - log_mass_inside
    }

    /// `ln p_accept`, computed once per mixture rather than once per candidate.
    fn log_mass_inside(&self, low: f64, high: f64) -> f64 {
        self.p_accept(low, high).max(f64::MIN_POSITIVE).ln()
    }
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// A continuous label: bounds in model space (the exponent for log distributions).
#[derive(Debug, Clone, Copy)]
struct Continuous {
    low: f64,
    high: f64,
    q: Option<f64>,
    log: bool,
}

impl Continuous {
    fn of(expr: &Expr) -> Option<Self> {
        let (low, high, q, log) = match *expr {
            Expr::Uniform { low, high } => (low, high, None, false),
            Expr::QUniform { low, high, q } => (low, high, Some(q), false),
            Expr::LogUniform { low, high } => (low, high, None, true),
            Expr::QLogUniform { low, high, q } => (low, high, Some(q), true),
            _ => return None,
        };
        Some(Self { low, high, q, log })
    }

    /// An observed value in model space; quantised log values that rounded to 0 are
    /// lifted to `exp(low)` first, as hyperopt does.
    fn to_model(self, x: f64) -> f64 {
        if self.log {
            x.max(EPS.max(self.low.exp())).ln()
        } else {
            x
        }
    }

    /// The value a model-space draw stands for: exponentiated and rounded as needed.
    fn value_of(self, y: f64) -> f64 {
        let x = if self.log { y.exp() } else { y };
        match self.q {
            Some(q) => quantize(x, q),
            None => x,
        }
    }

    /// `ln` of the density (or of the bin's mass, when quantised) at `x` of `mixture`
    /// truncated to the bounds; `log_mass_inside` is its normaliser.
    fn log_likelihood(self, mixture: &Mixture, log_mass_inside: f64, x: f64) -> f64 {
        let Some(q) = self.q else {
            return mixture.log_pdf(self.to_model(x), log_mass_inside);
        };
        // The mass of x's rounding bin, clipped to the bounds.
        let (lower, upper) = if self.log {
            let upper = (x + q / 2.0).min(self.high.exp());
            let lower = (x - q / 2.0).max(self.low.exp()).max(0.0);
            (lower.max(EPS).ln(), upper.max(EPS).ln())
        } else {
            ((x - q / 2.0).max(self.low), (x + q / 2.0).min(self.high))
        };
        let mass: f64 = mixture
            .components()
            .map(|(w, mu, sigma)| w * normal_cdf(upper, mu, sigma) - w * normal_cdf(lower, mu, sigma))
            .sum();
        mass.max(f64::MIN_POSITIVE).ln() - log_mass_inside
    }

    fn suggest(self, below: &[f64], above: &[f64], options: &TpeOptions, rng: &mut LabelRng) -> f64 {
        let prior_mu = 0.5 * (self.low + self.high);
        let prior_sigma = self.high - self.low;
        let lf = options.linear_forgetting as usize;
        let fit = |values: &[f64]| {
            let model: Vec<f64> = values.iter().map(|&x| self.to_model(x)).collect();
            adaptive_parzen_normal(&model, options.prior_weight, prior_mu, prior_sigma, lf)
        };
        let (good, bad) = (fit(below), fit(above));
        let candidates: Vec<f64> = (0..options.n_ei_candidates)
            .map(|_| match good.sample_truncated(self.low, self.high, rng) {
                Some(y) => self.value_of(y),
                None => self.value_of(sample::uniform(rng, self.low, self.high)),
            })
            .collect();
        let good_norm = good.log_mass_inside(self.low, self.high);
        let bad_norm = bad.log_mass_inside(self.low, self.high);
        best_candidate(&candidates, |&x| {
            self.log_likelihood(&good, good_norm, x) - self.log_likelihood(&bad, bad_norm, x)
        })
        .unwrap_or_else(|| self.value_of(prior_mu))
    }
}

/// A categorical posterior over `0..categories`: linearly forgotten counts plus
/// `prior_weight` per category (hyperopt's `ap_categorical_sampler` for a uniform
/// choice, `ap_randint_sampler`). Counts are sparse so a wide `randint` costs nothing.
#[derive(Debug, Clone)]
pub(crate) struct Categorical {
    counts: BTreeMap<u64, f64>,
    prior_weight: f64,
    categories: u64,
    total: f64,
}

impl Categorical {
    pub(crate) fn fit(observations: &[u64], categories: u64, prior_weight: f64, lf: usize) -> Self {
        let mut counts = BTreeMap::new();
        for (&category, weight) in observations.iter().zip(linear_forgetting_weights(observations.len(), lf))
        {
            *counts.entry(category).or_insert(0.0) += weight;
        }
        let total = counts.values().sum::<f64>() + prior_weight * categories as f64;
        Self { counts, prior_weight, categories, total }
    }

    pub(crate) fn log_p(&self, category: u64) -> f64 {
        ((self.counts.get(&category).copied().unwrap_or(0.0) + self.prior_weight) / self.total).ln()
    }

    /// A draw: the prior's uniform share first, then the observed counts.
    fn sample(&self, rng: &mut LabelRng) -> u64 {
        let last = self.categories.saturating_sub(1);
        let mut pick = rng.gen::<f64>() * self.total;
        let uniform_mass = self.prior_weight * self.categories as f64;
        if pick < uniform_mass {
            return ((pick / self.prior_weight) as u64).min(last);
        }
        pick -= uniform_mass;
        for (&category, &count) in &self.counts {
            if pick < count {
                return category;
            }
            pick -= count;
        }
        self.counts.keys().next_back().copied().unwrap_or(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn default_options_are_hyperopts() {
        let options = TpeOptions::default();
        assert_eq!(
            (options.n_startup_jobs, options.gamma, options.n_ei_candidates, options.prior_weight),
            (20, 0.25, 24, 1.0)
        );
        assert_eq!(options.linear_forgetting, 25);
        assert!(options.check().is_ok());
    }

    #[test]
    fn options_out_of_range_are_named() {
        let bad = |options: TpeOptions| options.check().expect_err("invalid").0;
        assert_eq!(bad(TpeOptions { gamma: 0.0, ..Default::default() }), "gamma");
        assert_eq!(bad(TpeOptions { gamma: f64::NAN, ..Default::default() }), "gamma");
        assert_eq!(bad(TpeOptions { n_ei_candidates: 0, ..Default::default() }), "n_ei_candidates");
        assert_eq!(bad(TpeOptions { prior_weight: -1.0, ..Default::default() }), "prior_weight");
        assert_eq!(bad(TpeOptions { linear_forgetting: 0, ..Default::default() }), "linear_forgetting");
    }

    #[test]
    fn linear_forgetting_ramps_the_oldest_down() {
        assert_eq!(linear_forgetting_weights(0, 25), Vec::<f64>::new());
        assert_eq!(linear_forgetting_weights(3, 25), vec![1.0; 3]);
        assert_eq!(linear_forgetting_weights(25, 25), vec![1.0; 25]);
        // np.linspace(1/30, 1, 5) followed by 25 ones.
        let weights = linear_forgetting_weights(30, 25);
        let start = 1.0 / 30.0;
        let step = (1.0 - start) / 4.0;
        assert!(close(&weights[..5], &[start, start + step, start + 2.0 * step, start + 3.0 * step, 1.0]));
        assert_eq!(&weights[5..], &[1.0; 25]);
    }

    #[test]
    fn split_takes_ceil_gamma_sqrt_n_best() {
        let losses: Vec<f64> = (0..20).map(|i| f64::from(20 - i)).collect();
        let below = split_below(&losses, 0.25, 25);
        // ceil(0.25 · √20) = ceil(1.118) = 2: the two lowest losses, the last two trials.
        assert_eq!(below.iter().filter(|b| **b).count(), 2);
        assert!(below[18] && below[19]);
        // Capped by linear_forgetting, and failed trials (infinite loss) are never good
        // while others remain.
        let many = vec![1.0; 10_000];
        assert_eq!(split_below(&many, 0.25, 25).iter().filter(|b| **b).count(), 25);
        let with_failures = [f64::INFINITY, 3.0, f64::INFINITY, 2.0];
        assert_eq!(split_below(&with_failures, 0.25, 25), [false, false, false, true]);
        // Ties go to the earlier trial.
        assert_eq!(split_below(&[1.0, 1.0, 1.0, 1.0], 0.25, 25), [true, false, false, false]);
    }

    #[test]
    fn adaptive_parzen_normal_matches_hyperopt_by_hand() {
        // Values worked out from hyperopt 0.2.7's adaptive_parzen_normal.
        // No observations: the prior alone.
        let m = adaptive_parzen_normal(&[], 1.0, 0.5, 1.0, 25);
        assert_eq!((m.weights, m.mus, m.sigmas), (vec![1.0], vec![0.5], vec![1.0]));
        // One observation above the prior: [prior, obs], sigmas [ps, ps/2].
        let m = adaptive_parzen_normal(&[0.8], 1.0, 0.5, 1.0, 25);
        assert_eq!((m.mus, m.sigmas), (vec![0.5, 0.8], vec![1.0, 0.5]));
        // Below the prior: [obs, prior].
        let m = adaptive_parzen_normal(&[0.1], 1.0, 0.5, 1.0, 25);
        assert_eq!((m.mus, m.sigmas), (vec![0.1, 0.5], vec![0.5, 1.0]));
        // Three: sorted with the prior inserted left of the equal observation; gaps of 0.3
        // everywhere, min sigma 1/5, the prior keeps its sigma; equal weights.
        let m = adaptive_parzen_normal(&[0.8, 0.2, 0.5], 1.0, 0.5, 1.0, 25);
        assert!(close(&m.mus, &[0.2, 0.5, 0.5, 0.8]));
        assert!(close(&m.sigmas, &[0.3, 1.0, 0.3, 0.3]));
        assert!(close(&m.weights, &[0.25; 4]));
        // Close observations are widened to prior_sigma / (n + 2), the one next to the
        // prior keeps its gap to it ...
        let m = adaptive_parzen_normal(&[0.9, 0.9001, 0.9002], 2.0, 0.5, 1.0, 25);
        assert!(close(&m.sigmas, &[1.0, 0.4, 0.2, 0.2]), "{:?}", m.sigmas);
        // ... and the prior weighs prior_weight against 1 per observation.
        assert!(close(&m.weights, &[0.4, 0.2, 0.2, 0.2]), "{:?}", m.weights);
    }

    #[test]
    fn adaptive_parzen_normal_forgets_the_oldest_observations() {
        // 27 observations with LF 25: the two oldest weigh 1/27 and 1 before normalising.
        let observations: Vec<f64> = (0..27).map(|i| f64::from(i) / 27.0 + 0.01).collect();
        let m = adaptive_parzen_normal(&observations, 1.0, 0.5, 1.0, 25);
        let total = 1.0 / 27.0 + 26.0 + 1.0;
        assert!((m.weights[0] - (1.0 / 27.0) / total).abs() < 1e-12);
        assert!((m.weights[1] - 1.0 / total).abs() < 1e-12);
        assert!((m.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn quantised_likelihood_is_the_mass_of_the_bin() {
        let label = Continuous { low: 0.0, high: 10.0, q: Some(1.0), log: false };
        let narrow = Mixture { weights: vec![1.0], mus: vec![3.0], sigmas: vec![0.1] };
        let ll = |label: Continuous, mixture: &Mixture, x: f64| {
            label.log_likelihood(mixture, mixture.log_mass_inside(label.low, label.high), x)
        };
        // Almost all mass in the bin [2.5, 3.5] around 3, almost none around 5.
        assert!(ll(label, &narrow, 3.0).abs() < 1e-6);
        assert!(ll(label, &narrow, 5.0) < -100.0);
        // A bin with no mass at all scores a finite floor, not -inf or nan.
        assert!(ll(label, &narrow, 9.0).is_finite());
        let log_label = Continuous { low: 0.0, high: 5.0, q: Some(2.0), log: true };
        let around_e = Mixture { weights: vec![1.0], mus: vec![1.0], sigmas: vec![0.5] };
        assert!(ll(log_label, &around_e, 2.0) > ll(log_label, &around_e, 40.0));
        assert!(ll(log_label, &around_e, 0.0).is_finite());
    }

    #[test]
    fn truncated_densities_are_normalised() {
        // Like hyperopt's TestGMM1Math: the truncated mixture's density integrates to 1
        // over the bounds, and the rounding bins of a quantised label sum to 1.
        let mixture =
            Mixture { weights: vec![0.1, 0.3, 0.6], mus: vec![1.0, 2.5, 4.0], sigmas: vec![0.1, 0.8, 2.0] };
        let (low, high) = (0.5, 3.5);
        let steps = 30_000;
        let width = (high - low) / f64::from(steps);
        let integral: f64 = (0..steps)
            .map(|i| {
                mixture.log_pdf(low + (f64::from(i) + 0.5) * width, mixture.log_mass_inside(low, high)).exp()
                    * width
            })
            .sum();
        assert!((integral - 1.0).abs() < 1e-6, "{integral}");
        let label = Continuous { low: 0.0, high: 10.0, q: Some(0.5), log: false };
        let norm = mixture.log_mass_inside(label.low, label.high);
        let mass: f64 =
            (0..=20).map(|i| label.log_likelihood(&mixture, norm, f64::from(i) * 0.5).exp()).sum();
        assert!((mass - 1.0).abs() < 1e-9, "{mass}");
        let log_label = Continuous { low: 0.0, high: 3.0, q: Some(1.0), log: true };
        let log_mixture = Mixture { weights: vec![0.5, 0.5], mus: vec![1.0, 2.0], sigmas: vec![0.5, 1.0] };
        let norm = log_mixture.log_mass_inside(log_label.low, log_label.high);
        let mass: f64 =
            (0..=21).map(|i| log_label.log_likelihood(&log_mixture, norm, f64::from(i)).exp()).sum();
        assert!((mass - 1.0).abs() < 1e-9, "{mass}");
    }

    #[test]
    fn truncated_draws_stay_inside_the_bounds() {
        let mixture = Mixture { weights: vec![0.5, 0.5], mus: vec![0.0, 1.0], sigmas: vec![1.0, 1.0] };
        let mut rng = label_rng(3, 0, "x");
        for _ in 0..1000 {
            let draw = mixture.sample_truncated(0.0, 1.0, &mut rng).expect("mass inside");
            assert!((0.0..1.0).contains(&draw));
        }
        let far = Mixture { weights: vec![1.0], mus: vec![1e6], sigmas: vec![1.0] };
        assert_eq!(far.sample_truncated(0.0, 1.0, &mut rng), None);
    }

    #[test]
    fn categorical_posterior_counts_plus_prior() {
        let posterior = Categorical::fit(&[2, 2, 0], 4, 1.0, 25);
        // (count + 1) / (3 + 4)
        assert!((posterior.log_p(2) - (3.0f64 / 7.0).ln()).abs() < 1e-12);
        assert!((posterior.log_p(1) - (1.0f64 / 7.0).ln()).abs() < 1e-12);
        let mut rng = label_rng(1, 1, "c");
        let mut seen = [0usize; 4];
        for _ in 0..7000 {
            seen[posterior.sample(&mut rng) as usize] += 1;
        }
        assert!((2700..3300).contains(&seen[2]), "{seen:?}");
        assert!((800..1200).contains(&seen[1]), "{seen:?}");
        // A randint over 2^40 values keeps only what it saw.
        let wide = Categorical::fit(&[5], 1 << 40, 1.0, 25);
        assert!(wide.sample(&mut rng) < 1 << 40);
    }

    #[test]
    fn tpe_prefers_the_choice_that_did_well() {
        let space =
            Space::from_json(r#"{"c": {"choice": ["bad", "good", "worse"]}, "x": {"uniform": [0, 1]}}"#)
                .expect("valid");
        let assignments: Vec<Assignment> = (0..40)
            .map(|i| Assignment::from([("c".to_string(), f64::from(i % 3)), ("x".to_string(), 0.5)]))
            .collect();
        let history: Vec<Observed> = assignments
            .iter()
            .map(|assignment| Observed { assignment, loss: if assignment["c"] == 1.0 { 0.1 } else { 1.0 } })
            .collect();
        let good = (0..50)
            .filter(|&tid| suggest(&space, &history, &TpeOptions::default(), 9, tid).0["c"] == 1.0)
            .count();
        assert!(good > 40, "{good} of 50 suggestions took the good option");
    }
}
