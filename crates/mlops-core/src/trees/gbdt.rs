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

#[cfg(test)]
mod tests {
    use super::super::test_support::{column, csr, meta, trips};
    use super::super::{fit_gbdt, GbdtParams, TreeEncoding, TreeInput};
    use super::*;

    /// One boosting round of one split, with nothing shrinking the leaves.
    fn stump(extra: GbdtParams) -> GbdtParams {
        GbdtParams {
            num_boost_round: 1,
            max_depth: 1,
            learning_rate: 1.0,
            reg_lambda: 0.0,
            reg_alpha: 0.0,
            ..extra
        }
    }

    fn fit_on(params: GbdtParams, x: &sprs::CsMat<f64>, y: &[f64]) -> TreeModel {
        let params = params.check().expect("valid parameters");
        fit_gbdt(&params, TreeInput::OneHot(x), y, None, meta(x.cols()), &mut |_| {}).expect("fit").model
    }

    /// y = 0 below 2.5, 10 above: base score 5, gradients ±5.
    fn step() -> (sprs::CsMat<f64>, Vec<f64>) {
        (column(&[1.0, 2.0, 3.0, 4.0]), vec![0.0, 0.0, 10.0, 10.0])
    }

    #[test]
    fn learns_a_step_exactly_with_one_split() {
        let (x, y) = step();
        let model = fit_on(stump(GbdtParams::default()), &x, &y);
        assert_eq!(model.base_score, 5.0);
        let tree = &model.trees[0];
        assert_eq!(tree.n_nodes(), 3);
        // The cut is XGBoost's: the first value of the right bin.
        assert_eq!((tree.feature[0], tree.threshold[0], tree.default_left[0]), (0, 3.0, false));
        assert_eq!((tree.value[1], tree.value[2]), (-5.0, 5.0));
        assert_eq!(model.predict(TreeInput::OneHot(&x)), y);
    }

    #[test]
    fn min_child_weight_blocks_a_split() {
        let (x, y) = step();
        let model = fit_on(stump(GbdtParams { min_child_weight: 2.0, ..GbdtParams::default() }), &x, &y);
        assert_eq!(model.trees[0].n_nodes(), 3, "two rows a side reach min_child_weight 2");
        let model = fit_on(stump(GbdtParams { min_child_weight: 2.5, ..GbdtParams::default() }), &x, &y);
        assert_eq!(model.trees[0].n_nodes(), 1);
    }

    #[test]
    fn lambda_and_alpha_shrink_leaves_as_xgboost_does() {
        let (x, y) = step();
        let (lambda, alpha) = (1.0, 0.5);
        let params = GbdtParams { reg_lambda: lambda, reg_alpha: alpha, ..stump(GbdtParams::default()) };
        let tree = &fit_on(params, &x, &y).trees[0];
        // Left leaf: G = 2 × (5 − 0) = 10, H = 2 → −(|G| − alpha) / (H + lambda).
        assert_eq!(tree.value[1], -(10.0 - alpha) / (2.0 + lambda));
        assert_eq!(tree.value[2], (10.0 - alpha) / (2.0 + lambda));
        // An L1 penalty above |G| zeroes the leaves, so the split gains nothing.
        let params = GbdtParams { reg_alpha: 10.0, ..stump(GbdtParams::default()) };
        assert_eq!(fit_on(params, &x, &y).trees[0].n_nodes(), 1);
    }

    #[test]
    fn gamma_prunes_a_split_that_gains_less() {
        let (x, y) = step();
        // The split gains 10²/2 + 10²/2 − 0 = 100.
        let model = fit_on(stump(GbdtParams { gamma: 99.0, ..GbdtParams::default() }), &x, &y);
        assert_eq!(model.trees[0].n_nodes(), 3);
        let model = fit_on(stump(GbdtParams { gamma: 101.0, ..GbdtParams::default() }), &x, &y);
        assert_eq!(model.trees[0].n_nodes(), 1);
    }

    #[test]
    fn missing_values_go_the_way_training_learnt() {
        // Rows without the feature look like the low rows: they must go left with them.
        let rows = vec![vec![(0, 1.0)], vec![(0, 2.0)], vec![(0, 3.0)], vec![(0, 4.0)], vec![], vec![]];
        let x = csr(&rows, 1);
        let y = [0.0, 0.0, 10.0, 10.0, 0.0, 0.0];
        let model = fit_on(stump(GbdtParams::default()), &x, &y);
        let tree = &model.trees[0];
        assert!(tree.default_left[0]);
        assert_eq!(model.predict(TreeInput::OneHot(&x)), y);
        // And the other way round.
        let y = [0.0, 0.0, 10.0, 10.0, 10.0, 10.0];
        let model = fit_on(stump(GbdtParams::default()), &x, &y);
        assert!(!model.trees[0].default_left[0]);
        assert_eq!(model.predict(TreeInput::OneHot(&x)), y);
    }

    #[test]
    fn a_categorical_split_finds_the_zones_that_belong_together() {
        // Zones 1, 3 and 5 are slow, 2, 4, 6 and 7 fast; two rides each.
        let pu: Vec<i64> = [1, 2, 3, 4, 5, 6, 7].iter().flat_map(|&zone| [zone, zone]).collect();
        let slow = |zone: i64| [1, 3, 5].contains(&zone);
        let y: Vec<f64> = pu.iter().map(|&zone| if slow(zone) { 30.0 } else { 5.0 }).collect();
        let dol = vec![1i64; pu.len()];
        let distance = vec![1.0; pu.len()];
        let input = TreeInput::Categorical { pu: &pu, dol: &dol, trip_distance: &distance };
        let params = stump(GbdtParams { encoding: TreeEncoding::Categorical, ..GbdtParams::default() });
        let params = params.check().expect("valid");
        let fit = fit_gbdt(&params, input, &y, None, meta(3), &mut |_| {}).expect("fit");
        let tree = &fit.model.trees[0];
        assert_eq!(tree.feature[0], 0);
        assert_eq!(tree.categories[0], vec![1, 3, 5], "the smaller set goes left");
        assert_eq!(tree.threshold[0], 0.0, "JSON has no NaN");
        for (predicted, expected) in fit.model.predict(input).iter().zip(&y) {
            assert!((predicted - expected).abs() < 1e-9, "{predicted} vs {expected}");
        }
        // A zone never seen in training goes right, with the fast ones.
        let unseen =
            fit.model.predict(TreeInput::Categorical { pu: &[99], dol: &[1], trip_distance: &[1.0] });
        assert!((unseen[0] - 5.0).abs() < 1e-9);
        assert_eq!(fit.model.feature_names, crate::trees::CATEGORICAL_COLUMNS);
    }

    #[test]
    fn a_seed_reproduces_a_model_and_another_seed_changes_it() {
        let (x, y) = trips(400, 1);
        let params = |seed| GbdtParams {
            num_boost_round: 5,
            subsample: 0.5,
            colsample_bytree: 0.8,
            seed,
            ..GbdtParams::default()
        };
        let first = fit_on(params(7), &x, &y);
        assert_eq!(first, fit_on(params(7), &x, &y));
        assert_ne!(first.trees, fit_on(params(8), &x, &y).trees);
    }

    #[test]
    fn early_stopping_keeps_the_trees_up_to_the_best_round() {
        let (x, y) = trips(400, 2);
        let (x_val, y_val) = trips(200, 3);
        // Noise for targets: the validation score soon gets worse.
        let noise: Vec<f64> = y.iter().enumerate().map(|(i, _)| ((i * 7919) % 101) as f64).collect();
        let params =
            GbdtParams { num_boost_round: 200, early_stopping_rounds: Some(3), ..GbdtParams::default() };
        let params = params.check().expect("valid");
        let mut rounds = Vec::new();
        let fit = fit_gbdt(
            &params,
            TreeInput::OneHot(&x),
            &noise,
            Some((TreeInput::OneHot(&x_val), &y_val)),
            meta(7),
            &mut |round| rounds.push(*round),
        )
        .expect("fit");
        let best = fit.model.best_iteration.expect("a best round");
        assert_eq!(rounds, fit.history);
        assert_eq!(fit.history.len(), best + 4, "stops 3 rounds after the best");
        assert_eq!(fit.model.trees.len(), best + 1);
        let val = |round: &BoostRound| round.val_rmse.expect("validation");
        assert!(fit.history.iter().all(|round| val(round) >= val(&fit.history[best])));
        let predicted = fit.model.predict(TreeInput::OneHot(&x_val));
        let rmse = (predicted.iter().zip(&y_val).map(|(p, y)| (p - y).powi(2)).sum::<f64>()
            / y_val.len() as f64)
            .sqrt();
        assert_eq!(rmse, val(&fit.history[best]), "the history scores the kept trees exactly");
        let _ = y;
    }

    #[test]
    fn the_history_is_the_models_own_score_after_every_round() {
        let (x, y) = trips(300, 4);
        let (x_val, y_val) = trips(100, 5);
        let params = GbdtParams { num_boost_round: 4, ..GbdtParams::default() }.check().expect("valid");
        let fit = fit_gbdt(
            &params,
            TreeInput::OneHot(&x),
            &y,
            Some((TreeInput::OneHot(&x_val), &y_val)),
            meta(7),
            &mut |_| {},
        )
        .expect("fit");
        let rmse = |predicted: Vec<f64>, targets: &[f64]| {
            (predicted.iter().zip(targets).map(|(p, t)| (p - t) * (p - t)).sum::<f64>()
                / targets.len() as f64)
                .sqrt()
        };
        for (i, round) in fit.history.iter().enumerate() {
            let mut model = fit.model.clone();
            model.trees.truncate(i + 1);
            assert_eq!(round.train_rmse, rmse(model.predict(TreeInput::OneHot(&x)), &y));
            assert_eq!(round.val_rmse, Some(rmse(model.predict(TreeInput::OneHot(&x_val)), &y_val)));
        }
    }

    #[test]
    fn a_json_round_trip_predicts_the_same_bits() {
        let (x, y) = trips(500, 6);
        let model = fit_on(GbdtParams { num_boost_round: 10, max_depth: 8, ..GbdtParams::default() }, &x, &y);
        let back = TreeModel::from_json(&model.to_json()).expect("reads back");
        assert_eq!(back, model);
        let bits =
            |m: &TreeModel| m.predict(TreeInput::OneHot(&x)).iter().map(|p| p.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&model));

        let pu: Vec<i64> = (0..300).map(|i| i % 13).collect();
        let dol: Vec<i64> = (0..300).map(|i| (i * 7) % 11).collect();
        let distance: Vec<f64> = (0..300).map(|i| (i % 17) as f64 / 3.0).collect();
        let y: Vec<f64> = (0..300).map(|i| (pu[i] * 2 + dol[i]) as f64 + distance[i]).collect();
        let input = TreeInput::Categorical { pu: &pu, dol: &dol, trip_distance: &distance };
        let params =
            GbdtParams { num_boost_round: 5, encoding: TreeEncoding::Categorical, ..GbdtParams::default() };
        let model = fit_gbdt(&params.check().expect("valid"), input, &y, None, meta(3), &mut |_| {})
            .expect("fit")
            .model;
        assert!(model.trees[0].categories.iter().any(|set| !set.is_empty()));
        let back = TreeModel::from_json(&model.to_json()).expect("reads back");
        let bits = |m: &TreeModel| m.predict(input).iter().map(|p| p.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&model));
    }
}
