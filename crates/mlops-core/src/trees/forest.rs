//! Random forests with scikit-learn's `RandomForestRegressor` semantics.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::grower::{GainRule, GrowParams, Grower};
use super::model::{TreeKind, TreeModel};
use super::{prepare, MaxFeatures, TreeFitError, TreeInput, TreeMeta, ValidForestParams};

pub(crate) fn fit(
    params: &ValidForestParams,
    train: TreeInput<'_>,
    targets: &[f64],
    meta: TreeMeta,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TreeModel, TreeFitError> {
    let p = *params.get();
    let prepared = prepare(p.encoding, train, targets, None, meta, p.max_bin as usize)?;
    let data = &prepared.data;
    let n = targets.len();
    let n_features = data.n_features();
    let mut grower = Grower::new(
        data,
        GrowParams {
            // With these, XGBoost's gain is scikit-learn's impurity decrease (times the
            // node weight) and the leaf weight is the weighted mean of the targets.
            reg_lambda: 0.0,
            reg_alpha: 0.0,
            min_child_hess: 0.0,
            min_child_count: p.min_samples_leaf,
            min_split_count: p.min_samples_split,
            max_depth: p.max_depth.unwrap_or(u32::MAX),
            gain_rule: GainRule::AnySplit,
            learning_rate: 1.0,
            max_features: features_per_split(p.max_features, n_features),
            stop_when_pure: true,
        },
    );

    let total = p.n_estimators as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.random_state);
    let mut counts = vec![0u32; n];
    let mut grad = vec![0.0; n];
    let mut hess = vec![0.0; n];
    let mut rows = Vec::with_capacity(n);
    let mut trees = Vec::with_capacity(total);
    for done in 0..total {
        let mut tree_rng = Xoshiro256PlusPlus::seed_from_u64(rng.gen());
        if p.bootstrap {
            counts.fill(0);
            for _ in 0..n {
                counts[tree_rng.gen_range(0..n)] += 1;
            }
        } else {
            counts.fill(1);
        }
        // A row drawn k times weighs k: gradient -k·y and hessian k.
        for r in 0..n {
            let weight = counts[r] as f64;
            (grad[r], hess[r]) = (-weight * targets[r], weight);
        }
        rows.clear();
        rows.extend((0..n as u32).filter(|&r| counts[r as usize] > 0));
        trees.push(grower.grow(&grad, &hess, &rows, None, &mut tree_rng));
        progress(done + 1, total);
    }
    Ok(TreeModel {
        kind: TreeKind::RandomForest,
        feature_set: prepared.feature_set,
        encoding: p.encoding,
        feature_names: prepared.feature_names,
        base_score: 0.0,
        trees,
        params: p.logged(),
        best_iteration: None,
    })
}

/// scikit-learn's `max_features` as a count; `None` when every feature is searched.
fn features_per_split(max_features: MaxFeatures, n_features: usize) -> Option<usize> {
    let n = n_features as f64;
    let count = match max_features {
        MaxFeatures::All => return None,
        MaxFeatures::Sqrt => n.sqrt() as usize,
        MaxFeatures::Log2 => n.log2() as usize,
        MaxFeatures::Fraction(share) => (share * n) as usize,
        MaxFeatures::Count(count) => count as usize,
    };
    Some(count.clamp(1, n_features.max(1)))
}
