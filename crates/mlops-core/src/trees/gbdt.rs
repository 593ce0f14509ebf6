//! Gradient boosting with XGBoost's squared-error formulation.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::grower::{GainRule, GrowParams, Grower};
use super::model::{TreeKind, TreeModel};
use super::{prepare, BoostRound, GbdtFit, TreeFitError, TreeInput, TreeMeta, ValidGbdtParams};

pub(crate) fn fit(
    params: &ValidGbdtParams,
    train: TreeInput<'_>,
    targets: &[f64],
    validation: Option<(TreeInput<'_>, &[f64])>,
    meta: TreeMeta,
    progress: &mut dyn FnMut(&BoostRound),
) -> Result<GbdtFit, TreeFitError> {
    let p = *params.get();
    if p.early_stopping_rounds.is_some() && validation.is_none() {
        return Err(TreeFitError::EarlyStoppingWithoutValidation);
    }
    let prepared = prepare(p.encoding, train, targets, validation, meta, p.max_bin as usize)?;
    let data = &prepared.data;
    let n_train = targets.len();
    let val_targets = validation.map(|(_, y)| y);

    // XGBoost ≥ 2 starts squared error from the training mean.
    let base_score = targets.iter().sum::<f64>() / n_train as f64;
    // Σ of the trees' leaf values per row (training rows, then validation rows), added in
    // the order `TreeModel::predict` adds them, so the history matches the model exactly.
    let mut tree_sum = vec![0.0; data.n_rows];
    let mut grad = vec![0.0; data.n_rows];
    let mut hess = vec![0.0; data.n_rows];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
    let mut grower = Grower::new(
        data,
        GrowParams {
            reg_lambda: p.reg_lambda,
            reg_alpha: p.reg_alpha,
            min_child_hess: p.min_child_weight,
            min_child_count: 1,
            min_split_count: 2,
            max_depth: p.max_depth,
            gain_rule: GainRule::Boosting { gamma: p.gamma },
            learning_rate: p.learning_rate,
            max_features: None,
            stop_when_pure: false,
        },
    );
    let n_features = data.n_features();
    let features_per_tree = ((p.colsample_bytree * n_features as f64) as usize).max(1);
    let mut allowed = vec![false; n_features];

    let mut trees = Vec::new();
    let mut history = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let all_rows: Vec<u32> = (0..data.n_rows as u32).collect();
    for r in 0..n_train {
        (grad[r], hess[r]) = (base_score - targets[r], 1.0);
    }
    for round in 0..p.num_boost_round as usize {
        if p.subsample < 1.0 {
            // A row left out of this tree gets no weight (XGBoost zeroes its gradient).
            for r in 0..n_train {
                let sampled = rng.gen::<f64>() < p.subsample;
                (grad[r], hess[r]) =
                    if sampled { (base_score + tree_sum[r] - targets[r], 1.0) } else { (0.0, 0.0) };
            }
        }
        let mask = (features_per_tree < n_features).then(|| {
            allowed.fill(false);
            for f in rand::seq::index::sample(&mut rng, n_features, features_per_tree) {
                allowed[f] = true;
            }
            &allowed[..]
        });
        let tree = grower.grow(&grad, &hess, &all_rows, mask, &mut rng);
        // One pass: the new predictions, their squared errors and the next gradients.
        let mut train_squares = 0.0;
        for r in 0..n_train {
            tree_sum[r] += grower.leaf_of(r).map_or(0.0, |leaf| tree.value[leaf]);
            let residual = base_score + tree_sum[r] - targets[r];
            train_squares += residual * residual;
            grad[r] = residual;
        }
        let val_rmse = val_targets.map(|val_targets| {
            let mut squares = 0.0;
            for (i, target) in val_targets.iter().enumerate() {
                let r = n_train + i;
                tree_sum[r] += grower.leaf_of(r).map_or(0.0, |leaf| tree.value[leaf]);
                let residual = base_score + tree_sum[r] - target;
                squares += residual * residual;
            }
            (squares / val_targets.len() as f64).sqrt()
        });
        trees.push(tree);

        let score = BoostRound { round, train_rmse: (train_squares / n_train as f64).sqrt(), val_rmse };
        history.push(score);
        progress(&score);
        if let (Some(patience), Some(val_rmse)) = (p.early_stopping_rounds, score.val_rmse) {
            match best {
                Some((best_round, best_rmse)) if val_rmse >= best_rmse || val_rmse.is_nan() => {
                    if round - best_round >= patience as usize {
                        break;
                    }
                }
                _ => best = Some((round, val_rmse)),
            }
        }
    }
    let best_iteration = p.early_stopping_rounds.and(best).map(|(round, _)| round);
    if let Some(round) = best_iteration {
        trees.truncate(round + 1);
    }
    let model = TreeModel {
        kind: TreeKind::Gbdt,
        feature_set: prepared.feature_set,
        encoding: p.encoding,
        feature_names: prepared.feature_names,
        base_score,
        trees,
        params: p.logged(),
        best_iteration,
    };
    Ok(GbdtFit { model, history })
}
