//! Batch prediction: each tree routes all rows at once, the way training does.
//!
//! Walking every row down every tree costs rows × trees × depth, and boosted trees are
//! deep chains (a thousand trees of depth 30 for a month took seconds). Here a tree
//! moves only the rows of the child that held fewer training rows (its `cover`): found
//! through a by-value index of the feature's column when that is cheaper than scanning
//! the parent's rows. The larger child keeps the parent's rows, as in the grower.
//!
//! Every row still ends in the leaf [`Tree::predict_row`] gives it, and leaf values are
//! added in tree order, so the sums are bit for bit those of the row-by-row walk.

use sprs::CsMat;

use super::model::{categorical_value, category_of, Tree};

/// Rows to score: the one-hot matrix (CSR) or the three raw columns.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    Sparse(&'a CsMat<f64>),
    Categorical { pu: &'a [i64], dol: &'a [i64], trip_distance: &'a [f64] },
}

impl Rows<'_> {
    pub fn n_rows(&self) -> usize {
        match self {
            Rows::Sparse(matrix) => matrix.rows(),
            Rows::Categorical { pu, dol, trip_distance } => pu.len().min(dol.len()).min(trip_distance.len()),
        }
    }

    /// Row `r`'s feature `f`, as [`Tree::predict_row`] sees it.
    #[inline]
    pub fn value(&self, r: usize, f: usize) -> Option<f64> {
        match self {
            Rows::Sparse(matrix) => {
                let row = matrix.outer_view(r)?;
                let (indices, data) = (row.indices(), row.data());
                if indices.len() <= 8 {
                    indices.iter().position(|&i| i == f).map(|k| data[k])
                } else {
                    indices.binary_search(&f).ok().map(|k| data[k])
                }
            }
            Rows::Categorical { pu, dol, trip_distance } => {
                categorical_value(f, pu[r], dol[r], trip_distance[r])
            }
        }
    }
}

/// Each feature's present values with their rows, sorted by value (NaN last).
struct ColumnIndex {
    start: Vec<usize>,
    values: Vec<f64>,
    rows: Vec<u32>,
}

impl ColumnIndex {
    fn new(rows: Rows<'_>, n_features: usize) -> Self {
        let mut entries: Vec<(u32, f64, u32)> = Vec::new();
        match rows {
            Rows::Sparse(matrix) => {
                for (r, row) in matrix.outer_iterator().enumerate() {
                    for (&f, &value) in row.indices().iter().zip(row.data()) {
                        if f < n_features {
                            entries.push((f as u32, value, r as u32));
                        }
                    }
                }
            }
            Rows::Categorical { pu, dol, trip_distance } => {
                for r in 0..rows.n_rows() {
                    for f in 0..n_features.min(3) {
                        if let Some(value) = categorical_value(f, pu[r], dol[r], trip_distance[r]) {
                            entries.push((f as u32, value, r as u32));
                        }
                    }
                }
            }
        }
        entries.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| sort_key(a.1).total_cmp(&sort_key(b.1))).then(a.2.cmp(&b.2))
        });
        let mut start = vec![0usize; n_features + 1];
        for &(f, _, _) in &entries {
            start[f as usize + 1] += 1;
        }
        for f in 0..n_features {
            start[f + 1] += start[f];
        }
        Self {
            start,
            values: entries.iter().map(|e| e.1).collect(),
            rows: entries.iter().map(|e| e.2).collect(),
        }
    }

    /// Feature `f`'s values and rows (empty for a feature the rows do not have).
    fn column(&self, f: usize) -> (&[f64], &[u32]) {
        match (self.start.get(f), self.start.get(f + 1)) {
            (Some(&a), Some(&b)) => (&self.values[a..b], &self.rows[a..b]),
            _ => (&[], &[]),
        }
    }
}

/// Orders NaN after every number (it goes right of every threshold) and -0 with +0.
fn sort_key(value: f64) -> f64 {
    if value.is_nan() {
        f64::INFINITY
    } else if value == 0.0 {
        0.0
    } else {
        value
    }
}

/// Where sorted `values` stop being `< bound` (NaN counts as not below anything).
fn below(values: &[f64], bound: f64) -> usize {
    values.partition_point(|&x| x < bound)
}

/// Whether the batch router may walk `tree`: a proper tree (every node but the root
/// has one parent), whose arrays agree. Anything else takes the row-by-row walk,
/// which copes with broken artifacts.
fn routable(tree: &Tree) -> bool {
    if tree.check(usize::MAX).is_err() {
        return false;
    }
    let mut parents = vec![0u8; tree.n_nodes()];
    for n in 0..tree.n_nodes() {
        if tree.feature[n] >= 0 {
            for child in [tree.left[n], tree.right[n]] {
                let count = &mut parents[child as usize];
                if *count > 0 {
                    return false;
                }
                *count = 1;
            }
        }
    }
    true
}

/// Adds every tree's leaf value to `out` (one entry per row), tree by tree.
pub(crate) fn add_trees(trees: &[Tree], rows: Rows<'_>, n_features: usize, out: &mut [f64]) {
    let n_rows = rows.n_rows().min(out.len());
    let index = ColumnIndex::new(rows, n_features);
    let mut router =
        Router { rows, index, slot_of: vec![0; n_rows], node_of_slot: Vec::new(), lists: Vec::new() };
    for tree in trees {
        if routable(tree) {
            router.add_tree(tree, &mut out[..n_rows]);
        } else {
            for (r, sum) in out[..n_rows].iter_mut().enumerate() {
                *sum += tree.predict_row(&|f| rows.value(r, f));
            }
        }
    }
}

struct Router<'a> {
    rows: Rows<'a>,
    index: ColumnIndex,
    slot_of: Vec<u32>,
    node_of_slot: Vec<u32>,
    lists: Vec<Vec<u32>>,
}

impl Router<'_> {
    fn add_tree(&mut self, tree: &Tree, out: &mut [f64]) {
        let n_rows = out.len();
        self.slot_of.fill(0);
        self.node_of_slot.clear();
        self.node_of_slot.push(0);
        let mut all = self.lists.pop().unwrap_or_default();
        all.clear();
        all.extend(0..n_rows as u32);
        let mut stack = vec![(0usize, 0u32, all)];
        while let Some((node, slot, mut rows)) = stack.pop() {
            if tree.feature[node] < 0 {
                self.node_of_slot[slot as usize] = node as u32;
                self.lists.push(rows);
                continue;
            }
            let (left, right) = (tree.left[node] as usize, tree.right[node] as usize);
            let cover = |n: usize| tree.cover.get(n).copied().unwrap_or(0.0);
            let small_is_left = cover(left) <= cover(right);
            let new_slot = self.node_of_slot.len() as u32;
            self.node_of_slot.push(0);
            let small = self.route(tree, node, slot, &mut rows, small_is_left, new_slot);
            let (small_node, big_node) = if small_is_left { (left, right) } else { (right, left) };
            stack.push((big_node, slot, rows));
            stack.push((small_node, new_slot, small));
        }
        for (r, sum) in out.iter_mut().enumerate() {
            *sum += tree.value[self.node_of_slot[self.slot_of[r] as usize] as usize];
        }
    }

    /// Moves the rows of `node`'s smaller side from `slot` to `new_slot` and returns them.
    fn route(
        &mut self,
        tree: &Tree,
        node: usize,
        slot: u32,
        rows: &mut Vec<u32>,
        small_is_left: bool,
        new_slot: u32,
    ) -> Vec<u32> {
        let f = tree.feature[node] as usize;
        let default_left = tree.default_left[node];
        let categories: &[u32] = tree.categories.get(node).map_or(&[], |c| &c[..]);
        let (values, column_rows) = self.index.column(f);
        let mut small = self.lists.pop().unwrap_or_default();
        small.clear();

        // The present rows of the small side, as ranges of the sorted column.
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        if categories.is_empty() {
            let split = below(values, tree.threshold[node]);
            ranges.push(if small_is_left { (0, split) } else { (split, values.len()) });
        } else {
            let mut runs: Vec<(usize, usize)> = categories
                .iter()
                .map(|&c| (below(values, c as f64), values.partition_point(|&x| x <= c as f64)))
                .collect();
            if small_is_left {
                ranges = runs;
            } else {
                runs.sort_unstable();
                let mut at = 0;
                for (a, b) in runs {
                    ranges.push((at, a.max(at)));
                    at = at.max(b);
                }
                ranges.push((at, values.len()));
            }
        }
        let takes_missing = small_is_left == default_left && values.len() < self.slot_of.len();
        let entries: usize = ranges.iter().map(|(a, b)| b.saturating_sub(*a)).sum();
        if !takes_missing && entries < rows.len() {
            for (a, b) in ranges {
                for &r in &column_rows[a..b.max(a)] {
                    if self.slot_of[r as usize] == slot {
                        self.slot_of[r as usize] = new_slot;
                        small.push(r);
                    }
                }
            }
        } else {
            let mut kept = 0;
            for i in 0..rows.len() {
                let r = rows[i] as usize;
                if self.slot_of[r] != slot {
                    continue;
                }
                let goes_left = match self.rows.value(r, f) {
                    None => default_left,
                    Some(x) if categories.is_empty() => x < tree.threshold[node],
                    Some(x) => category_of(x).is_some_and(|c| categories.binary_search(&c).is_ok()),
                };
                if goes_left == small_is_left {
                    self.slot_of[r] = new_slot;
                    small.push(r as u32);
                } else {
                    rows[kept] = r as u32;
                    kept += 1;
                }
            }
            rows.truncate(kept);
        }
        small
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{TreeEncoding, TreeKind, TreeModel};
    use super::super::test_support::{csr, meta, trips};
    use super::super::{fit_forest, fit_gbdt, ForestParams, GbdtParams, TreeInput};
    use super::*;
    use crate::features::FeatureSet;

    /// What the row-by-row walk gives.
    fn walked(model: &TreeModel, rows: Rows<'_>) -> Vec<u64> {
        (0..rows.n_rows()).map(|r| model.predict_row(&|f| rows.value(r, f)).to_bits()).collect()
    }

    fn batched(model: &TreeModel, rows: Rows<'_>) -> Vec<u64> {
        let predicted = match rows {
            Rows::Sparse(matrix) => model.predict_csr(matrix),
            Rows::Categorical { pu, dol, trip_distance } => model.predict_columns(pu, dol, trip_distance),
        };
        predicted.iter().map(|p| p.to_bits()).collect()
    }

    #[test]
    fn routing_all_rows_gives_the_bits_of_walking_each_row() {
        let (x, y) = trips(2_000, 21);
        let gbdt = GbdtParams { num_boost_round: 20, max_depth: 10, ..GbdtParams::default() }
            .check()
            .expect("valid");
        let boosted =
            fit_gbdt(&gbdt, TreeInput::OneHot(&x), &y, None, meta(7), &mut |_| {}).expect("fit").model;
        let forest = ForestParams { n_estimators: 5, ..ForestParams::default() }.check().expect("valid");
        let forest = fit_forest(&forest, TreeInput::OneHot(&x), &y, meta(7), &mut |_, _| {}).expect("fit");
        // Scored on other rows, with values never seen in training and a few NaNs.
        let (mut other, _) = trips(1_000, 22);
        for (i, value) in other.data_mut().iter_mut().enumerate() {
            if i % 97 == 0 {
                *value = f64::NAN;
            } else if i % 89 == 0 {
                *value = -3.25;
            }
        }
        for model in [&boosted, &forest] {
            assert_eq!(batched(model, Rows::Sparse(&x)), walked(model, Rows::Sparse(&x)));
            assert_eq!(batched(model, Rows::Sparse(&other)), walked(model, Rows::Sparse(&other)));
        }

        let n = 3_000;
        let pu: Vec<i64> = (0..n).map(|i| (i * 37 % 50) as i64).collect();
        let dol: Vec<i64> = (0..n).map(|i| (i * 11 % 23) as i64).collect();
        let distance: Vec<f64> = (0..n).map(|i| (i % 101) as f64 / 7.0).collect();
        let y: Vec<f64> =
            (0..n).map(|i| (pu[i] % 7) as f64 * 3.0 + distance[i] + (dol[i] % 3) as f64).collect();
        let input = TreeInput::Categorical { pu: &pu, dol: &dol, trip_distance: &distance };
        let gbdt =
            GbdtParams { num_boost_round: 10, encoding: TreeEncoding::Categorical, ..GbdtParams::default() };
        let model = fit_gbdt(&gbdt.check().expect("valid"), input, &y, None, meta(3), &mut |_| {})
            .expect("fit")
            .model;
        let unseen_pu: Vec<i64> =
            pu.iter().map(|&zone| if zone % 5 == 0 { zone + 1_000 } else { zone - 3 }).collect();
        let odd_distance: Vec<f64> =
            distance.iter().enumerate().map(|(i, &d)| if i % 50 == 0 { f64::NAN } else { d }).collect();
        for rows in [
            Rows::Categorical { pu: &pu, dol: &dol, trip_distance: &distance },
            Rows::Categorical { pu: &unseen_pu, dol: &dol, trip_distance: &odd_distance },
        ] {
            assert_eq!(batched(&model, rows), walked(&model, rows));
        }
    }

    /// A hand-written tree: missing values left, a categorical split that takes
    /// missing values left, a feature the rows do not have, covers that make the router
    /// move the larger side.
    fn hand_written() -> TreeModel {
        let tree = Tree {
            feature: vec![1, 0, 3, -1, -1, -1, -1],
            threshold: vec![0.5, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0],
            default_left: vec![true, true, false, false, false, false, false],
            left: vec![1, 3, 5, 0, 0, 0, 0],
            right: vec![2, 4, 6, 0, 0, 0, 0],
            value: vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0],
            categories: vec![vec![], vec![2, 5], vec![], vec![], vec![], vec![], vec![]],
            cover: vec![10.0, 9.0, 1.0, 1.0, 8.0, 0.5, 0.5],
        };
        TreeModel {
            kind: TreeKind::Gbdt,
            feature_set: FeatureSet::PuDo,
            encoding: TreeEncoding::OneHot,
            feature_names: (0..4).map(|i| format!("x{i}")).collect(),
            base_score: 0.25,
            trees: vec![tree.clone(), tree],
            params: Vec::new(),
            best_iteration: None,
        }
    }

    #[test]
    fn hand_written_trees_route_like_the_walk() {
        let model = hand_written();
        let mut rows = Vec::new();
        for i in 0..400 {
            let mut row = Vec::new();
            if i % 3 != 0 {
                row.push((0, [2.0, 5.0, 2.5, -1.0, 7.0, -0.0][i % 6]));
            }
            if i % 4 != 0 {
                row.push((1, (i % 5) as f64 / 4.0));
            }
            rows.push(row);
        }
        let x = csr(&rows, 3);
        assert_eq!(batched(&model, Rows::Sparse(&x)), walked(&model, Rows::Sparse(&x)));
    }

    #[test]
    fn broken_trees_fall_back_to_the_walk() {
        let mut model = hand_written();
        // Both children of the root are the same node: not a tree.
        model.trees[0].right[0] = 1;
        let rows: Vec<Vec<(usize, f64)>> = (0..200).map(|i| vec![(0, (i % 7) as f64), (1, 0.3)]).collect();
        let x = csr(&rows, 2);
        assert_eq!(batched(&model, Rows::Sparse(&x)), walked(&model, Rows::Sparse(&x)));
    }
}
