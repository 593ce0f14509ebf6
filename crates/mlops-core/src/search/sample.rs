//! Drawing from the prior (random search and TPE's start-up trials) and turning a draw
//! into the point the objective sees.
//!
//! Every label of trial `tid` gets its own random stream, derived from `(seed, tid,
//! label)`: a trial is the same whatever order a pool finishes in, and adding a
//! parameter to a space does not change the values drawn for the others.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

use super::space::{child_label, number_json, option_label, Assignment, Expr, Space};

pub(crate) type LabelRng = Xoshiro256PlusPlus;

/// SplitMix64's finaliser: spreads nearby seeds and trial numbers over the whole range.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a hash of the label that is stable across builds and platforms (std's
/// hasher is randomly keyed).
fn label_hash(label: &str) -> u64 {
    label
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3))
}

/// The random stream of one label of trial `tid`.
pub(crate) fn label_rng(seed: u64, tid: u32, label: &str) -> LabelRng {
    let trial = mix(seed ^ mix(u64::from(tid)));
    LabelRng::seed_from_u64(mix(trial ^ label_hash(label)))
}

/// Chooses the value of one sampled expression (a distribution, or a choice's index).
pub(crate) trait Draw {
    fn draw(&mut self, label: &str, expr: &Expr) -> f64;
}

/// Draws from the prior: hyperopt's `rand.suggest`.
pub(crate) struct Prior {
    pub seed: u64,
    pub tid: u32,
}

impl Draw for Prior {
    fn draw(&mut self, label: &str, expr: &Expr) -> f64 {
        prior_draw(expr, &mut label_rng(self.seed, self.tid, label))
    }
}

/// One draw from an expression's prior, with hyperopt's semantics. Never panics, even
/// on a space that skipped validation (a corrupted store): degenerate ranges give `low`.
pub(crate) fn prior_draw(expr: &Expr, rng: &mut LabelRng) -> f64 {
    match expr {
        Expr::Uniform { low, high } => uniform(rng, *low, *high),
        Expr::QUniform { low, high, q } => quantize(uniform(rng, *low, *high), *q),
        Expr::LogUniform { low, high } => uniform(rng, *low, *high).exp(),
        Expr::QLogUniform { low, high, q } => quantize(uniform(rng, *low, *high).exp(), *q),
        Expr::RandInt { low, high } => randint(rng, *low, *high) as f64,
        Expr::Choice(options) => randint(rng, 0, options.len() as i64) as f64,
        Expr::Dict(_) | Expr::Const(_) => 0.0,
    }
}

/// NumPy's `uniform`: `low + (high - low) · u`, `u` in [0, 1).
pub(crate) fn uniform(rng: &mut LabelRng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.gen::<f64>()
}

/// `round(x / q) · q` with NumPy's rounding (half to even), as hyperopt quantises.
pub(crate) fn quantize(x: f64, q: f64) -> f64 {
    if q > 0.0 && q.is_finite() {
        (x / q).round_ties_even() * q
    } else {
        x
    }
}

/// An integer in `low..high`.
pub(crate) fn randint(rng: &mut LabelRng, low: i64, high: i64) -> i64 {
    let span = i128::from(high) - i128::from(low);
    if span <= 0 {
        return low;
    }
    let offset = rng.gen_range(0..span as u128) as i128;
    (i128::from(low) + offset) as i64
}

/// Walks the space, asking `draw` for the value of every active expression: the
/// assignment (by label) and the point (nested dictionaries kept, choices resolved).
pub(crate) fn resolve(space: &Space, draw: &mut dyn Draw) -> (Assignment, Value) {
    let mut assignment = Assignment::new();
    let point = space
        .params
        .iter()
        .map(|(key, expr)| (key.clone(), walk(expr, key, draw, &mut assignment)))
        .collect::<serde_json::Map<_, _>>();
    (assignment, Value::Object(point))
}

fn walk(expr: &Expr, label: &str, draw: &mut dyn Draw, assignment: &mut Assignment) -> Value {
    match expr {
        Expr::Const(value) => value.clone(),
        Expr::Dict(map) => Value::Object(
            map.iter()
                .map(|(key, child)| (key.clone(), walk(child, &child_label(label, key), draw, assignment)))
                .collect(),
        ),
        Expr::Choice(options) => {
            let index = (draw.draw(label, expr).max(0.0) as usize).min(options.len().saturating_sub(1));
            assignment.insert(label.to_string(), index as f64);
            match options.get(index) {
                Some(option) => walk(option, &option_label(label, index, option), draw, assignment),
                None => Value::Null,
            }
        }
        _ => {
            let value = draw.draw(label, expr);
            assignment.insert(label.to_string(), value);
            point_number(expr, value)
        }
    }
}

/// A sampled number as the objective sees it: integers for `randint` and for steps that
/// are whole numbers (so `max_depth` arrives as `17`, not `17.0`).
fn point_number(expr: &Expr, value: f64) -> Value {
    match expr {
        Expr::RandInt { .. } => number_json(value),
        Expr::QUniform { q, .. } | Expr::QLogUniform { q, .. } if q.fract() == 0.0 => number_json(value),
        _ => Value::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(text: &str) -> Space {
        Space::from_json(text).expect("valid space")
    }

    fn draws(text: &str, n: u32) -> Vec<(Assignment, Value)> {
        let space = space(text);
        (0..n).map(|tid| resolve(&space, &mut Prior { seed: 7, tid })).collect()
    }

    #[test]
    fn draws_stay_in_range_and_are_quantised() {
        let trials = draws(
            r#"{"u": {"uniform": [-2, 3]}, "q": {"quniform": [4, 100, 1]}, "h": {"quniform": [0, 1, 0.25]},
                "l": {"loguniform": [-3, 0]}, "ql": {"qloguniform": [0, 4, 5]}, "r": {"randint": [3, 7]},
                "r0": {"randint": [2]}}"#,
            4000,
        );
        let mut seen_r = [0usize; 7];
        let mut seen_q_ends = (false, false);
        let mut l_low_half = 0;
        for (assignment, point) in &trials {
            let u = assignment["u"];
            assert!((-2.0..3.0).contains(&u), "{u}");
            let q = assignment["q"];
            assert!((4.0..=100.0).contains(&q) && q.fract() == 0.0, "{q}");
            assert!(point["q"].is_i64(), "{point}");
            seen_q_ends.0 |= q == 4.0;
            seen_q_ends.1 |= q == 100.0;
            let h = assignment["h"];
            assert!((0.0..=1.0).contains(&h) && (h * 4.0).fract() == 0.0, "{h}");
            assert!(point["h"].is_f64(), "a fractional step keeps floats: {point}");
            let l = assignment["l"];
            assert!(((-3.0f64).exp()..1.0).contains(&l), "{l}");
            if l < (-1.5f64).exp() {
                l_low_half += 1;
            }
            let ql = assignment["ql"];
            assert!(ql % 5.0 == 0.0 && (0.0..=55.0).contains(&ql), "{ql}");
            assert!(point["ql"].is_i64(), "{point}");
            let r = assignment["r"];
            assert!((3.0..7.0).contains(&r) && r.fract() == 0.0, "{r}");
            assert!(point["r"].is_i64());
            seen_r[r as usize] += 1;
            let r0 = point["r0"].as_i64().expect("integer");
            assert!((0..2).contains(&r0));
        }
        assert!(seen_q_ends.0 && seen_q_ends.1, "rounding reaches both ends");
        assert!(seen_r[3..7].iter().all(|&count| count > 800), "{seen_r:?}");
        // loguniform is uniform in the exponent: half the draws below exp(-1.5).
        assert!((1800..2200).contains(&l_low_half), "{l_low_half}");
    }

    #[test]
    fn sampled_values_survive_a_json_round_trip() {
        // Regression: a stored search read back 0.24759804006492112 as ...114, so the
        // resumed TPE run diverged from the uninterrupted one (fixed by serde_json's
        // `float_roundtrip` feature, which this test pins).
        let mut rng = label_rng(0, 0, "x");
        for _ in 0..200_000 {
            let x = uniform(&mut rng, -5.0, 5.0) * 10f64.powi(rng.gen_range(-30..30));
            let text = serde_json::to_string(&x).expect("finite");
            assert_eq!(serde_json::from_str::<f64>(&text).expect("reads"), x, "{text}");
        }
    }

    #[test]
    fn rounding_is_half_to_even_as_numpy() {
        assert_eq!(quantize(2.5, 1.0), 2.0);
        assert_eq!(quantize(3.5, 1.0), 4.0);
        assert_eq!(quantize(7.4, 5.0), 5.0);
        assert_eq!(quantize(7.6, 5.0), 10.0);
    }

    #[test]
    fn only_the_active_branch_is_sampled() {
        let trials = draws(
            r#"{"booster": {"choice": [
                  {"kind": "tree", "depth": {"quniform": [1, 10, 1]},
                   "inner": {"choice": [{"uniform": [0, 1]}, "fixed"]}},
                  {"kind": "linear", "alpha": {"loguniform": [-3, 0]}},
                  "none"]}}"#,
            600,
        );
        let mut seen = [0usize; 3];
        for (assignment, point) in &trials {
            let index = assignment["booster"] as usize;
            seen[index] += 1;
            let labels: Vec<&str> = assignment.keys().map(String::as_str).collect();
            match index {
                0 => {
                    assert_eq!(point["booster"]["kind"], "tree");
                    let inner = assignment["booster.inner"] as usize;
                    if inner == 0 {
                        assert_eq!(labels, ["booster", "booster.depth", "booster.inner", "booster.inner.0"]);
                        assert_eq!(point["booster"]["inner"].as_f64(), Some(assignment["booster.inner.0"]));
                    } else {
                        assert_eq!(labels, ["booster", "booster.depth", "booster.inner"]);
                        assert_eq!(point["booster"]["inner"], "fixed");
                    }
                }
                1 => {
                    assert_eq!(labels, ["booster", "booster.alpha"]);
                    assert_eq!(point["booster"]["kind"], "linear");
                    assert!(point["booster"].get("depth").is_none());
                }
                _ => {
                    assert_eq!(labels, ["booster"]);
                    assert_eq!(point["booster"], "none");
                }
            }
        }
        assert!(seen.iter().all(|&count| count > 150), "{seen:?}");
    }

    #[test]
    fn streams_depend_on_seed_trial_and_label() {
        let a = label_rng(1, 0, "x").gen::<u64>();
        assert_eq!(a, label_rng(1, 0, "x").gen::<u64>());
        assert_ne!(a, label_rng(2, 0, "x").gen::<u64>());
        assert_ne!(a, label_rng(1, 1, "x").gen::<u64>());
        assert_ne!(a, label_rng(1, 0, "y").gen::<u64>());
    }

    #[test]
    fn degenerate_ranges_do_not_panic() {
        let mut rng = label_rng(0, 0, "x");
        assert_eq!(randint(&mut rng, 5, 5), 5);
        assert_eq!(randint(&mut rng, i64::MIN, i64::MIN), i64::MIN);
        assert!(randint(&mut rng, i64::MIN, i64::MAX) < i64::MAX);
        assert_eq!(prior_draw(&Expr::Choice(vec![]), &mut rng), 0.0);
        assert_eq!(quantize(1.3, 0.0), 1.3);
    }
}
