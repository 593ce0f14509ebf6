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

#[cfg(test)]
mod tests {
    use super::super::test_support::{column, meta, trips};
    use super::super::{fit_forest, fit_gbdt, ForestParams, GbdtParams, TreeInput};
    use super::*;

    fn fit_on(params: ForestParams, x: &sprs::CsMat<f64>, y: &[f64]) -> TreeModel {
        let params = params.check().expect("valid parameters");
        fit_forest(&params, TreeInput::OneHot(x), y, meta(x.cols()), &mut |_, _| {}).expect("fit")
    }

    #[test]
    fn learns_a_noiseless_step_exactly() {
        // Many rides per distance, so that every bootstrap sample has every distance.
        let xs: Vec<f64> = (0..200).map(|i| (i % 4) as f64).collect();
        let ys: Vec<f64> = xs.iter().map(|&x| [1.0, 1.0, 3.0, 7.5][x as usize]).collect();
        let x = column(&xs);
        let model = fit_on(ForestParams { n_estimators: 20, ..ForestParams::default() }, &x, &ys);
        assert_eq!(model.trees.len(), 20);
        assert_eq!(model.predict(TreeInput::OneHot(&x)), ys);
        // Pure nodes are not split: three leaves suffice.
        assert!(model.trees.iter().all(|tree| tree.n_leaves() == 3));
    }

    #[test]
    fn one_tree_without_bootstrap_is_a_fully_grown_regression_tree() {
        let (x, y) = trips(300, 11);
        let single = |random_state| ForestParams {
            n_estimators: 1,
            bootstrap: false,
            max_features: MaxFeatures::All,
            random_state,
            ..ForestParams::default()
        };
        let model = fit_on(single(0), &x, &y);
        assert_eq!(model.trees, fit_on(single(99), &x, &y).trees, "nothing random is left");
        // Grown until its leaves are pure, it reproduces every target it can tell apart.
        let predicted = model.predict(TreeInput::OneHot(&x));
        let tree = &model.trees[0];
        assert!(tree.depth() > 5);
        // The same tree as boosting with nothing but one unshrunk, unregularised round.
        let boosted = GbdtParams {
            num_boost_round: 1,
            learning_rate: 1.0,
            max_depth: 64,
            min_child_weight: 0.0,
            reg_lambda: 0.0,
            reg_alpha: 0.0,
            ..GbdtParams::default()
        };
        let boosted =
            fit_gbdt(&boosted.check().expect("valid"), TreeInput::OneHot(&x), &y, None, meta(7), &mut |_| {})
                .expect("fit")
                .model;
        for (forest, boosted) in predicted.iter().zip(boosted.predict(TreeInput::OneHot(&x))) {
            assert!((forest - boosted).abs() < 1e-9, "{forest} vs {boosted}");
        }
        for (row, (&p, &target)) in predicted.iter().zip(&y).enumerate() {
            let twins = (0..y.len()).filter(|&other| x.outer_view(other) == x.outer_view(row)).count();
            if twins == 1 {
                assert!((p - target).abs() < 1e-9, "row {row}: {p} vs {target}");
            }
        }
    }

    #[test]
    fn depth_and_leaf_size_limits_hold() {
        let (x, y) = trips(500, 12);
        let params = ForestParams {
            n_estimators: 5,
            max_depth: Some(3),
            min_samples_leaf: 10,
            bootstrap: false,
            ..ForestParams::default()
        };
        let model = fit_on(params, &x, &y);
        for tree in &model.trees {
            assert!(tree.depth() <= 3);
            for node in 0..tree.n_nodes() {
                if tree.feature[node] < 0 {
                    assert!(tree.cover[node] >= 10.0, "a leaf with {} rows", tree.cover[node]);
                }
            }
        }
        let params = ForestParams {
            n_estimators: 3,
            min_samples_split: 400,
            bootstrap: false,
            ..ForestParams::default()
        };
        let model = fit_on(params, &x, &y);
        for tree in &model.trees {
            for node in 0..tree.n_nodes() {
                if tree.feature[node] >= 0 {
                    assert!(tree.cover[node] >= 400.0);
                }
            }
        }
    }

    #[test]
    fn features_drawn_per_split_follow_the_random_state() {
        let (x, y) = trips(400, 13);
        let params = |max_features, random_state| ForestParams {
            n_estimators: 4,
            max_features,
            random_state,
            ..ForestParams::default()
        };
        for max_features in
            [MaxFeatures::Sqrt, MaxFeatures::Log2, MaxFeatures::Fraction(0.5), MaxFeatures::Count(2)]
        {
            let model = fit_on(params(max_features, 1), &x, &y);
            assert_eq!(model, fit_on(params(max_features, 1), &x, &y));
            assert_ne!(model.trees, fit_on(params(max_features, 2), &x, &y).trees);
        }
        // One feature per split still finds structure.
        let model = fit_on(params(MaxFeatures::Count(1), 0), &x, &y);
        assert!(model.trees.iter().all(|tree| tree.n_leaves() > 10));
    }

    #[test]
    fn progress_counts_the_trees() {
        let (x, y) = trips(100, 14);
        let params = ForestParams { n_estimators: 3, ..ForestParams::default() }.check().expect("valid");
        let mut seen = Vec::new();
        fit_forest(&params, TreeInput::OneHot(&x), &y, meta(7), &mut |done, total| seen.push((done, total)))
            .expect("fit");
        assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
    }
}
