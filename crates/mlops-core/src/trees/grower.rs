//! The histogram tree grower both ensembles share.
//!
//! Boosting hands it gradients and hessians; a forest hands it `-count·y` and `count`
//! (its bootstrap weights), which turns XGBoost's gain with `lambda = alpha = 0` into
//! scikit-learn's squared-error criterion and the leaf weight into the weighted mean.
//!
//! Everything a node costs is proportional to its smaller child, because late boosting
//! rounds grow long chains that peel a handful of rows off a node holding nearly the
//! whole month (XGBoost's round 100 tree splits 59 times, each node with ~70,000 rows,
//! each small child with ~4):
//! - rows are tracked by *slot* (`slot_of[row]`); the larger child keeps its parent's
//!   slot and row list, so only the smaller child's rows are touched. They are found
//!   through the bin-to-rows index when that is cheaper than scanning the parent's list;
//!   the list may then keep rows that left, which the next scan drops;
//! - only the smaller child's histogram is built; the larger one is the parent's, minus
//!   the smaller one's bins, in place (there is one dense working histogram; smaller
//!   children wait on a stack with their few non-empty bins);
//! - a node's split search visits only features that still have rows in it, and drops
//!   for good the features no descendant can split on (fewer rows than a child needs);
//!   one-hot features are grouped by their rows and hessian, and within a group only
//!   the two with the extreme gradient sums can win (see [`Groups`]).
//!
//! Validation rows (and rows a subsample left out) ride along with no weight, so the
//! running predictions of every round come from the routing itself.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Hypergeometric};
use rustc_hash::FxHashMap;

use super::binning::{Binned, FeatureBins};
use super::model::Tree;

const NO_SLOT: u32 = u32::MAX;
/// XGBoost's `kRtEps`: a boosting split must gain more than this.
const MIN_BOOST_GAIN: f64 = 1e-6;
/// Categorical features with at most this many categories in a node split one-vs-rest
/// (LightGBM's `max_cat_to_onehot`).
const MAX_CAT_TO_ONEHOT: usize = 4;
/// Added to a category's hessian before sorting by gradient ratio, so that rare
/// categories do not land at the ends of the order (LightGBM's `cat_smooth`).
const CAT_SMOOTHING: f64 = 10.0;
/// Relative variance under which a forest node counts as pure: the sums it is computed
/// from lose about this much to rounding, and scikit-learn never splits a pure node.
const PURE_VARIANCE: f64 = 1e-12;

/// When a split is worth making.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum GainRule {
    /// XGBoost: the gain must exceed 1e-6 and reach `gamma`.
    Boosting { gamma: f64 },
    /// scikit-learn: any valid split of an impure node (its improvement is never negative).
    AnySplit,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GrowParams {
    pub reg_lambda: f64,
    pub reg_alpha: f64,
    /// Both children need at least this hessian (XGBoost's `min_child_weight`).
    pub min_child_hess: f64,
    /// Both children need at least this many rows (scikit-learn's `min_samples_leaf`).
    pub min_child_count: u32,
    /// A node with fewer rows stays a leaf (scikit-learn's `min_samples_split`).
    pub min_split_count: u32,
    pub max_depth: u32,
    pub gain_rule: GainRule,
    /// Multiplies every node's weight (boosting's shrinkage; 1 for forests).
    pub learning_rate: f64,
    /// Features drawn per node among all of them (scikit-learn's `max_features`).
    pub max_features: Option<usize>,
    /// Leaves nodes whose targets are all equal (scikit-learn's forests).
    pub stop_when_pure: bool,
}

/// Sums over rows: a histogram bin, a node, a side of a split.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Stats {
    pub grad: f64,
    pub hess: f64,
    pub count: u32,
}

impl Stats {
    #[inline]
    fn add(&mut self, other: Stats) {
        self.grad += other.grad;
        self.hess += other.hess;
        self.count += other.count;
    }

    #[inline]
    fn minus(self, other: Stats) -> Stats {
        Stats { grad: self.grad - other.grad, hess: self.hess - other.hess, count: self.count - other.count }
    }
}

/// XGBoost's split arithmetic (`CalcGain`, `CalcWeight`) with the child constraints.
#[derive(Debug, Clone, Copy)]
struct Scorer {
    lambda: f64,
    alpha: f64,
    min_hess: f64,
    min_count: u32,
}

impl Scorer {
    /// `T(G)²/(H + lambda)` with `T` the L1 soft threshold.
    #[inline]
    fn score(&self, s: Stats) -> f64 {
        if s.hess <= 0.0 {
            return 0.0;
        }
        let t = soft_threshold(s.grad, self.alpha);
        t * t / (s.hess + self.lambda)
    }

    /// Whether `s` may be a child. It is also the test for dropping a feature for good:
    /// one child of any split on a feature holds only rows that have it.
    #[inline]
    fn valid(&self, s: Stats) -> bool {
        (s.count >= self.min_count) & (s.hess > 0.0) & (s.hess >= self.min_hess)
    }

    #[inline]
    fn gain(&self, left: Stats, right: Stats, parent_score: f64) -> f64 {
        self.score(left) + self.score(right) - parent_score
    }

    /// Whether `score(left) + score(right)` may reach `target`, multiplied out: the
    /// search skips the two divisions for the many splits that cannot win (children
    /// have `hess > 0`, so the denominators are positive).
    #[inline]
    fn may_reach(&self, left: Stats, right: Stats, target: f64) -> bool {
        let (tl, tr) = (soft_threshold(left.grad, self.alpha), soft_threshold(right.grad, self.alpha));
        let (dl, dr) = (left.hess + self.lambda, right.hess + self.lambda);
        tl * tl * dr + tr * tr * dl >= target * (dl * dr)
    }
}

/// XGBoost's `ThresholdL1`, without branches: the sign of a feature's gradient sum is a
/// coin toss, and a mispredicted branch per candidate cost more than the arithmetic.
/// (A select rather than `f64::max`, whose NaN rule makes wasm call `fmax`.)
#[inline]
fn soft_threshold(g: f64, alpha: f64) -> f64 {
    let shrunk = g.abs() - alpha;
    (if shrunk > 0.0 { shrunk } else { 0.0 }).copysign(g)
}

/// Which rows of a node go left.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// Bins below `split_bin` (of the feature's own) go left, missing values where
    /// `default_left` says.
    Numeric { split_bin: u32, default_left: bool },
    /// The bins in [`Grower::best_categories`] go left; everything else (missing values,
    /// categories unseen in training) goes right.
    Categorical,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: u32,
    gain: f64,
    rule: Rule,
    left: Stats,
    right: Stats,
}

/// The best split so far: highest gain, ties to the lowest feature (XGBoost's order).
#[derive(Debug, Clone, Copy)]
struct Best {
    split: Option<Split>,
    parent_score: f64,
    /// What the children's scores must add up to for a split to compete, lowered a
    /// little so that rounding in [`Scorer::may_reach`] never hides a tie.
    target: f64,
}

impl Best {
    fn new(parent_score: f64) -> Self {
        Self { split: None, parent_score, target: f64::NEG_INFINITY }
    }

    /// Offers a split with children `left` and `right`; true when it is the best.
    #[inline]
    fn offer(&mut self, scorer: &Scorer, feature: u32, rule: Rule, left: Stats, right: Stats) -> bool {
        scorer.may_reach(left, right, self.target) && self.compare(scorer, feature, rule, left, right)
    }

    #[inline(never)]
    fn compare(&mut self, scorer: &Scorer, feature: u32, rule: Rule, left: Stats, right: Stats) -> bool {
        let gain = scorer.gain(left, right, self.parent_score);
        let better = match &self.split {
            None => !gain.is_nan(),
            Some(best) => gain > best.gain || (gain == best.gain && feature < best.feature),
        };
        if better {
            self.split = Some(Split { feature, gain, rule, left, right });
            let target = gain + self.parent_score;
            self.target = target - target.abs() * 1e-9;
        }
        better
    }
}

/// A feature the split search visits, with where its bins are, so that the search
/// reads one list and the histogram and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    feature: u32,
    start: u32,
    /// Number of training bins, with [`CATEGORICAL`] set for categorical features.
    bins: u32,
    /// Its bins that held rows when the working node was loaded, as a range of
    /// [`Grower::node_bins`] (rows only leave them since); `to == ALL_BINS` for the root.
    from: u32,
    to: u32,
}

const CATEGORICAL: u32 = 1 << 31;
const ALL_BINS: u32 = u32::MAX;

/// The one-hot candidates of the working histogram, grouped by (rows, hessian).
///
/// A one-hot feature splits its rows from the rest, and for children of given sizes the
/// gain `T(g)²/(h + λ) + T(G − g)²/(H − h + λ) − T(G)²/(H + λ)` is a convex function of
/// the feature's gradient sum `g`: in a group, the feature with the lowest `g` or the
/// one with the highest wins, whatever the node's totals. A node offers those two per
/// group instead of every feature: late boosting rounds split chains of nodes holding
/// ~7,000 one-hot candidates each, which January 2021 puts in 156 groups. Groups follow
/// the larger child down the chain: a feature the smaller child took rows from moves to
/// its new group, and a group whose extreme moved recomputes it when next searched.
#[derive(Default)]
struct Groups {
    list: Vec<Group>,
    by_key: FxHashMap<(u32, u64), u32>,
    /// Per feature: its group, or [`NO_GROUP`].
    of_feature: Vec<u32>,
    spare: Vec<Vec<(u32, u32)>>,
}

const NO_GROUP: u32 = u32::MAX;

struct Group {
    count: u32,
    hess: f64,
    /// `(feature, bin)`; members that have since moved on are dropped when `stale`.
    members: Vec<(u32, u32)>,
    stale: bool,
    /// No descendant of the node can split on these features.
    dead: bool,
    /// `(gradient sum, feature)` of the extremes; ties go to the lower feature.
    low: (f64, u32),
    high: (f64, u32),
}

impl Groups {
    fn clear(&mut self) {
        for group in self.list.drain(..) {
            for &(f, _) in &group.members {
                self.of_feature[f as usize] = NO_GROUP;
            }
            let mut members = group.members;
            members.clear();
            self.spare.push(members);
        }
        self.by_key.clear();
    }

    /// Puts one-hot feature `f` (its bin holding `stats`) in its group.
    fn insert(&mut self, f: u32, bin: u32, stats: Stats) {
        let key = (stats.count, stats.hess.to_bits());
        let index = match self.by_key.get(&key) {
            Some(&index) => index,
            None => {
                let index = self.list.len() as u32;
                let members = self.spare.pop().unwrap_or_default();
                self.list.push(Group {
                    count: stats.count,
                    hess: stats.hess,
                    members,
                    stale: false,
                    dead: false,
                    low: (f64::INFINITY, u32::MAX),
                    high: (f64::NEG_INFINITY, u32::MAX),
                });
                self.by_key.insert(key, index);
                index
            }
        };
        let group = &mut self.list[index as usize];
        group.members.push((f, bin));
        if !group.stale {
            extend(&mut group.low, &mut group.high, stats.grad, f);
        }
        self.of_feature[f as usize] = index;
    }

    /// Feature `f` lost rows to a smaller child; its bin now holds `stats`.
    fn moved(&mut self, f: u32, bin: u32, stats: Stats) {
        let index = self.of_feature[f as usize];
        if index == NO_GROUP {
            return;
        }
        let group = &mut self.list[index as usize];
        if group.dead {
            return;
        }
        if group.low.1 == f || group.high.1 == f {
            group.stale = true;
        }
        self.of_feature[f as usize] = NO_GROUP;
        if stats.count > 0 {
            self.insert(f, bin, stats);
        }
    }
}

/// Widens `(low, high)` with feature `f`'s gradient sum `g`, ties to the lower feature.
#[inline]
fn extend(low: &mut (f64, u32), high: &mut (f64, u32), g: f64, f: u32) {
    if g < low.0 || (g == low.0 && f < low.1) {
        *low = (g, f);
    }
    if g > high.0 || (g == high.0 && f < high.1) {
        *high = (g, f);
    }
}

/// A node waiting to be split or to become a leaf.
#[derive(Debug)]
struct Node {
    id: u32,
    depth: u32,
    slot: u32,
    /// Its rows, possibly with rows that have since moved to a smaller child.
    rows: Vec<u32>,
    stats: Stats,
    /// Σ weight·target² (forests: tells pure nodes apart).
    square: f64,
}

/// A smaller child on the stack, with the non-empty bins of its histogram.
#[derive(Debug)]
struct Pending {
    node: Node,
    bins: Vec<(u32, Stats)>,
    features: Vec<u32>,
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    /// No descendant can split on it.
    Drop,
    /// Every row of the node has the same bin.
    Constant,
    Splittable,
}

/// Grows trees on one binned data set, reusing its buffers from tree to tree.
pub(crate) struct Grower<'a> {
    data: &'a Binned,
    params: GrowParams,
    scorer: Scorer,
    /// The dense histogram of the node being split.
    work: Vec<Stats>,
    /// The dense histogram of the smaller child being built; all zero in between.
    scratch: Vec<Stats>,
    /// Per feature: the last build that touched it.
    stamps: Vec<u32>,
    stamp: u32,
    /// Per global bin: on the left of the categorical split being routed.
    left_bin: Vec<bool>,
    slot_of: Vec<u32>,
    slot_node: Vec<u32>,
    /// Features the tree may use (XGBoost's `colsample_bytree`).
    allowed: Vec<bool>,
    /// Features of the working histogram that may still split (all of them when
    /// features are drawn per node, else the ones [`Groups`] does not hold).
    candidates: Vec<Candidate>,
    groups: Groups,
    /// Features of the working histogram to zero when it is done (the root's).
    dirty: Vec<u32>,
    /// The non-empty bins of the working node when it came off the stack, sorted; the
    /// working histogram holds nothing elsewhere. Unused for the root (`dense_work`).
    node_bins: Vec<u32>,
    dense_work: bool,
    /// A multi-bin feature's non-empty bins in the node: `(local bin, sums)`.
    scan: Vec<(u32, Stats)>,
    drawn: Vec<Candidate>,
    categories: Vec<(u32, Stats)>,
    best_categories: Vec<u32>,
    pending: Vec<Pending>,
    row_lists: Vec<Vec<u32>>,
    bin_lists: Vec<Vec<(u32, Stats)>>,
    feature_lists: Vec<Vec<u32>>,
}

impl<'a> Grower<'a> {
    pub fn new(data: &'a Binned, params: GrowParams) -> Self {
        let n_bins = data.n_bins_total();
        let n_features = data.n_features();
        Self {
            data,
            params,
            scorer: Scorer {
                lambda: params.reg_lambda,
                alpha: params.reg_alpha,
                min_hess: params.min_child_hess,
                min_count: params.min_child_count.max(1),
            },
            work: vec![Stats::default(); n_bins],
            scratch: vec![Stats::default(); n_bins],
            stamps: vec![0; n_features],
            stamp: 0,
            left_bin: vec![false; n_bins],
            slot_of: vec![NO_SLOT; data.n_rows],
            slot_node: Vec::new(),
            allowed: vec![true; n_features],
            candidates: Vec::new(),
            groups: Groups { of_feature: vec![NO_GROUP; n_features], ..Groups::default() },
            dirty: Vec::new(),
            node_bins: Vec::new(),
            dense_work: true,
            scan: Vec::new(),
            drawn: Vec::new(),
            categories: Vec::new(),
            best_categories: Vec::new(),
            pending: Vec::new(),
            row_lists: Vec::new(),
            bin_lists: Vec::new(),
            feature_lists: Vec::new(),
        }
    }

    /// The leaf (node index of the last grown tree) row `r` fell into, `None` for rows
    /// outside the tree (a forest's out-of-bag rows).
    #[inline]
    pub fn leaf_of(&self, r: usize) -> Option<usize> {
        let slot = self.slot_of[r];
        (slot != NO_SLOT).then(|| self.slot_node[slot as usize] as usize)
    }

    /// Grows one tree on `root_rows` (training rows with `hess > 0` shape it; the others
    /// are only routed). `allowed` limits the features (all when `None`); `rng` draws
    /// the features of each node when `max_features` asks for it.
    pub fn grow(
        &mut self,
        grad: &[f64],
        hess: &[f64],
        root_rows: &[u32],
        allowed: Option<&[bool]>,
        rng: &mut impl Rng,
    ) -> Tree {
        match allowed {
            Some(mask) => self.allowed.copy_from_slice(mask),
            None => self.allowed.fill(true),
        }
        self.slot_of.fill(NO_SLOT);
        self.slot_node.clear();
        self.slot_node.push(0);
        for &r in root_rows {
            self.slot_of[r as usize] = 0;
        }

        let (stats, square) = self.build_root(grad, hess, root_rows);
        let mut tree = TreeBuilder::default();
        let root = tree.push(self.leaf_value(stats), stats.hess);
        let mut rows = self.row_lists.pop().unwrap_or_default();
        rows.clear();
        rows.extend_from_slice(root_rows);
        let mut node = Node { id: root, depth: 0, slot: 0, rows, stats, square };
        loop {
            let split = if self.may_split(&node) { self.best_split(&node, rng) } else { None };
            let Some(split) = split.filter(|split| self.worth_it(split)) else {
                self.slot_node[node.slot as usize] = node.id;
                self.row_lists.push(std::mem::take(&mut node.rows));
                self.clear_work();
                match self.pending.pop() {
                    Some(pending) => {
                        node = self.load(pending);
                        continue;
                    }
                    None => break,
                }
            };
            node = self.apply(&mut tree, node, &split, grad, hess);
        }
        tree.finish()
    }

    /// Builds the root's histogram straight into the working one; returns its sums.
    fn build_root(&mut self, grad: &[f64], hess: &[f64], root_rows: &[u32]) -> (Stats, f64) {
        let data = self.data;
        let want_square = self.params.stop_when_pure;
        let (mut stats, mut square) = (Stats::default(), 0.0);
        for &r in root_rows {
            // Validation rows only ride along.
            if r as usize >= data.n_train {
                continue;
            }
            let h = hess[r as usize];
            if h <= 0.0 {
                continue;
            }
            let g = grad[r as usize];
            stats.add(Stats { grad: g, hess: h, count: 1 });
            if want_square {
                square += g * g / h;
            }
            for &b in data.row(r as usize) {
                let bin = &mut self.work[b as usize];
                bin.grad += g;
                bin.hess += h;
                bin.count += 1;
            }
        }
        self.dirty.clear();
        for f in 0..data.n_features() {
            let bins = data.bin_start[f] as usize..data.bin_start[f + 1] as usize;
            if self.work[bins].iter().any(|b| b.count > 0) || self.work[data.overflow_bin(f)].count > 0 {
                self.dirty.push(f as u32);
            }
        }
        self.candidates.clear();
        self.groups.clear();
        self.dense_work = true;
        for i in 0..self.dirty.len() {
            self.push_candidate(self.dirty[i]);
        }
        (stats, square)
    }

    fn may_split(&self, node: &Node) -> bool {
        let p = &self.params;
        node.depth < p.max_depth
            && node.stats.count >= p.min_split_count.max(2)
            && node.stats.count >= 2 * self.scorer.min_count
            && !(p.stop_when_pure && is_pure(node))
    }

    fn worth_it(&self, split: &Split) -> bool {
        match self.params.gain_rule {
            GainRule::Boosting { gamma } => split.gain > MIN_BOOST_GAIN && split.gain >= gamma,
            GainRule::AnySplit => true,
        }
    }

    fn leaf_value(&self, s: Stats) -> f64 {
        if s.hess <= 0.0 || s.hess < self.params.min_child_hess {
            return 0.0;
        }
        -soft_threshold(s.grad, self.params.reg_alpha) / (s.hess + self.params.reg_lambda)
            * self.params.learning_rate
    }

    /// Searches the node's candidate features, dropping those no descendant can use.
    fn best_split(&mut self, node: &Node, rng: &mut impl Rng) -> Option<Split> {
        let parent = node.stats;
        let mut best = Best::new(self.scorer.score(parent));
        let mut candidates = std::mem::take(&mut self.candidates);
        let n_features = self.data.n_features();
        match self.params.max_features.filter(|&k| k < n_features) {
            None => {
                self.offer_groups(parent, &mut best);
                candidates.retain(|&candidate| self.evaluate(candidate, parent, &mut best));
            }
            Some(k) => {
                // scikit-learn draws features among all of them until it has visited
                // `k` and at least one that is not constant in the node: the splittable
                // ones it visits are a hypergeometric number of them (at least one).
                let mut drawn = std::mem::take(&mut self.drawn);
                drawn.clear();
                candidates.retain(|&candidate| match self.status(candidate, parent) {
                    Status::Drop => false,
                    Status::Constant => true,
                    Status::Splittable => {
                        drawn.push(candidate);
                        true
                    }
                });
                let m = drawn.len();
                let visited = Hypergeometric::new(n_features as u64, m as u64, k as u64)
                    .map_or(k.min(m), |draws| draws.sample(rng) as usize)
                    .clamp(1.min(m), m);
                let (chosen, _) = drawn.partial_shuffle(rng, visited);
                for &candidate in chosen.iter() {
                    self.evaluate(candidate, parent, &mut best);
                }
                self.drawn = drawn;
            }
        }
        self.candidates = candidates;
        best.split
    }

    /// Whether feature `f` can still split the node or a descendant, and whether it
    /// varies in the node.
    fn status(&mut self, candidate: Candidate, parent: Stats) -> Status {
        let mut scan = std::mem::take(&mut self.scan);
        self.gather(candidate, &mut scan);
        let mut total = Stats::default();
        for &(_, bin) in &scan {
            total.add(bin);
        }
        let non_empty = scan.len();
        self.scan = scan;
        if !self.scorer.valid(total) {
            Status::Drop
        } else if non_empty >= 2 || total.count < parent.count {
            Status::Splittable
        } else {
            Status::Constant
        }
    }

    /// Adds feature `f` to the candidates (or its group) if the tree may use it.
    fn push_candidate(&mut self, f: u32) {
        let data = self.data;
        if self.allowed[f as usize] {
            let (start, end) = (data.bin_start[f as usize], data.bin_start[f as usize + 1]);
            let kind = if data.categorical[f as usize] { CATEGORICAL } else { 0 };
            let (from, to) = if self.dense_work {
                (0, ALL_BINS)
            } else {
                let node_bins = &self.node_bins;
                (
                    node_bins.partition_point(|&b| b < start) as u32,
                    node_bins.partition_point(|&b| b < end) as u32,
                )
            };
            let candidate = Candidate { feature: f, start, bins: (end - start) | kind, from, to };
            if candidate.bins == 1 && self.params.max_features.is_none() {
                self.groups.insert(f, start, self.work[start as usize]);
            } else {
                self.candidates.push(candidate);
            }
        }
    }

    /// The candidate's non-empty bins as `(local bin, sums)`, in bin order: from its
    /// list when the node has one (a small node holds a few of its 254 or 260 bins).
    fn gather(&self, candidate: Candidate, out: &mut Vec<(u32, Stats)>) {
        out.clear();
        let start = candidate.start as usize;
        let mut push = |b: usize| {
            let bin = self.work[b];
            if bin.count > 0 {
                out.push(((b - start) as u32, bin));
            }
        };
        if candidate.to == ALL_BINS {
            (start..start + (candidate.bins & !CATEGORICAL) as usize).for_each(push);
        } else {
            self.node_bins[candidate.from as usize..candidate.to as usize]
                .iter()
                .for_each(|&b| push(b as usize));
        }
    }

    /// Offers the best one-hot split of each group; drops the groups no descendant can use.
    fn offer_groups(&mut self, parent: Stats, best: &mut Best) {
        let scorer = self.scorer;
        let groups = &mut self.groups;
        for index in 0..groups.list.len() {
            let group = &mut groups.list[index];
            if group.dead {
                continue;
            }
            let sizes = Stats { grad: 0.0, hess: group.hess, count: group.count };
            if !scorer.valid(sizes) {
                group.dead = true;
                continue;
            }
            // (A group whose members all moved on keeps its sizes, which may exceed the
            // node's.)
            if group.count >= parent.count || !scorer.valid(parent.minus(sizes)) {
                continue;
            }
            if group.stale {
                let (mut low, mut high) = ((f64::INFINITY, u32::MAX), (f64::NEG_INFINITY, u32::MAX));
                let of_feature = &groups.of_feature;
                let work = &self.work;
                group.members.retain(|&(f, bin)| {
                    let current = of_feature[f as usize] == index as u32;
                    if current {
                        extend(&mut low, &mut high, work[bin as usize].grad, f);
                    }
                    current
                });
                (group.low, group.high, group.stale) = (low, high, false);
            }
            if group.members.is_empty() {
                continue;
            }
            // (XGBoost's backward scan gives the same partition and gain, and loses ties.)
            let rule = Rule::Numeric { split_bin: 1, default_left: false };
            for (grad, f) in [group.low, group.high] {
                let left = Stats { grad, ..sizes };
                best.offer(&scorer, f, rule, left, parent.minus(left));
            }
        }
    }

    /// Offers feature `f`'s best split to `best`; `false` when no descendant can split on it.
    #[inline(never)]
    fn evaluate(&mut self, candidate: Candidate, parent: Stats, best: &mut Best) -> bool {
        let (f, start) = (candidate.feature, candidate.start as usize);
        let n = (candidate.bins & !CATEGORICAL) as usize;
        if candidate.bins & CATEGORICAL != 0 {
            let mut categories = std::mem::take(&mut self.categories);
            self.gather(candidate, &mut categories);
            let keep = self.evaluate_categorical(f, &mut categories, parent, best);
            self.categories = categories;
            keep
        } else if n == 1 {
            let bin = self.work[start];
            if !self.scorer.valid(bin) {
                return false;
            }
            let right = parent.minus(bin);
            if bin.count < parent.count && self.scorer.valid(right) {
                best.offer(&self.scorer, f, Rule::Numeric { split_bin: 1, default_left: false }, bin, right);
            }
            true
        } else {
            let mut scan = std::mem::take(&mut self.scan);
            self.gather(candidate, &mut scan);
            let keep = self.evaluate_numeric(f, &scan, parent, best);
            self.scan = scan;
            keep
        }
    }

    /// XGBoost's `EnumerateSplit`: every bin boundary with missing values on the right,
    /// then, when the node has rows missing the feature, with them on the left.
    /// `bins` are the feature's non-empty bins, `(local bin, sums)` in bin order.
    fn evaluate_numeric(&self, f: u32, bins: &[(u32, Stats)], parent: Stats, best: &mut Best) -> bool {
        let scorer = self.scorer;
        let mut left = Stats::default();
        for &(i, bin) in bins {
            left.add(bin);
            let right = parent.minus(left);
            if scorer.valid(left) && scorer.valid(right) {
                let rule = Rule::Numeric { split_bin: i + 1, default_left: false };
                best.offer(&scorer, f, rule, left, right);
            }
        }
        let total = left;
        if !scorer.valid(total) {
            return false;
        }
        if total.count < parent.count {
            let mut right = Stats::default();
            for &(i, bin) in bins.iter().rev() {
                right.add(bin);
                let left = parent.minus(right);
                if scorer.valid(left) && scorer.valid(right) {
                    let rule = Rule::Numeric { split_bin: i, default_left: true };
                    best.offer(&scorer, f, rule, left, right);
                }
            }
        }
        true
    }

    /// LightGBM's categorical split: one category against the rest when there are few,
    /// else the categories sorted by `G / (H + smoothing)` and cut into a prefix and the
    /// rest. The side with fewer categories becomes the stored left set when that does
    /// not move missing values.
    /// `categories` are the feature's non-empty bins, `(local bin, sums)`; they get sorted.
    fn evaluate_categorical(
        &mut self,
        f: u32,
        categories: &mut [(u32, Stats)],
        parent: Stats,
        best: &mut Best,
    ) -> bool {
        let scorer = self.scorer;
        let mut total = Stats::default();
        for &(_, bin) in categories.iter() {
            total.add(bin);
        }
        if !scorer.valid(total) {
            return false;
        }
        let m = categories.len();
        let no_missing = total.count == parent.count;
        if m <= MAX_CAT_TO_ONEHOT {
            for &(local, bin) in categories.iter() {
                let right = parent.minus(bin);
                if scorer.valid(bin)
                    && scorer.valid(right)
                    && best.offer(&scorer, f, Rule::Categorical, bin, right)
                {
                    self.best_categories.clear();
                    self.best_categories.push(local);
                }
            }
        } else {
            categories.sort_by(|(_, a), (_, b)| {
                (a.grad / (a.hess + CAT_SMOOTHING)).total_cmp(&(b.grad / (b.hess + CAT_SMOOTHING)))
            });
            let mut left = Stats::default();
            let last = if no_missing { m - 1 } else { m };
            for k in 0..last {
                left.add(categories[k].1);
                let right = parent.minus(left);
                if !(scorer.valid(left) && scorer.valid(right)) {
                    continue;
                }
                let flip = no_missing && k + 1 > m - (k + 1);
                let (set, l, r) =
                    if flip { (&categories[k + 1..], right, left) } else { (&categories[..=k], left, right) };
                if best.offer(&scorer, f, Rule::Categorical, l, r) {
                    self.best_categories.clear();
                    self.best_categories.extend(set.iter().map(|&(local, _)| local));
                }
            }
        }
        true
    }

    /// Splits `node`: appends its children to the tree, moves the smaller child's rows
    /// to a new slot, builds its histogram, subtracts it from the working one and puts it
    /// on the stack. Returns the larger child, which carries on in the working histogram.
    fn apply(
        &mut self,
        tree: &mut TreeBuilder,
        mut node: Node,
        split: &Split,
        grad: &[f64],
        hess: &[f64],
    ) -> Node {
        let data = self.data;
        let f = split.feature as usize;
        let (threshold, default_left, categories) = match (&data.features[f], split.rule) {
            (FeatureBins::Numeric { upper }, Rule::Numeric { split_bin, default_left }) => {
                // Below the lowest cut nothing but missing values go left.
                let threshold = split_bin.checked_sub(1).map_or(f64::MIN, |i| upper[i as usize]);
                (threshold, default_left, Vec::new())
            }
            (FeatureBins::Categorical { categories }, _) => {
                self.best_categories.sort_unstable();
                (0.0, false, self.best_categories.iter().map(|&local| categories[local as usize]).collect())
            }
            (FeatureBins::Numeric { .. }, Rule::Categorical) => {
                unreachable!("numeric features split on bins")
            }
        };
        let left_id = tree.push(self.leaf_value(split.left), split.left.hess);
        let right_id = tree.push(self.leaf_value(split.right), split.right.hess);
        tree.set_split(node.id, split.feature, threshold, default_left, categories, left_id, right_id);

        let small_is_left = split.left.count <= split.right.count;
        let new_slot = self.slot_node.len() as u32;
        self.slot_node.push(0);
        let small_rows = self.route(&mut node, split, small_is_left, new_slot);
        let (bins, features, small_square) = self.build_small(&small_rows, grad, hess);
        for &f in &features {
            let start = data.bin_start[f as usize];
            if data.bin_start[f as usize + 1] - start == 1 {
                self.groups.moved(f, start, self.work[start as usize]);
            }
        }

        let (small_id, small_stats, big_id, big_stats) = if small_is_left {
            (left_id, split.left, right_id, split.right)
        } else {
            (right_id, split.right, left_id, split.left)
        };
        let depth = node.depth + 1;
        let small = Node {
            id: small_id,
            depth,
            slot: new_slot,
            rows: small_rows,
            stats: small_stats,
            square: small_square,
        };
        self.pending.push(Pending { node: small, bins, features });
        Node {
            id: big_id,
            depth,
            slot: node.slot,
            rows: node.rows,
            stats: big_stats,
            square: node.square - small_square,
        }
    }

    /// Moves the rows of the smaller side to `new_slot` and returns them: through the
    /// bin-to-rows index when its side's bins hold fewer entries than the node's list,
    /// else by scanning (and compacting) the list.
    fn route(&mut self, node: &mut Node, split: &Split, small_is_left: bool, new_slot: u32) -> Vec<u32> {
        let data = self.data;
        let f = split.feature as usize;
        let (first, end, overflow) =
            (data.bin_start[f] as usize, data.bin_start[f + 1] as usize, data.overflow_bin(f));
        let overflow_entries = data.entries_in(overflow..overflow + 1);
        let mut small = self.row_lists.pop().unwrap_or_default();
        small.clear();
        let slot = node.slot;

        if split.rule == Rule::Categorical {
            for &local in &self.best_categories {
                self.left_bin[first + local as usize] = true;
            }
        }
        // The small side can be listed from its bins unless it takes the rows missing
        // the feature (and some row misses it). The right side always has the
        // out-of-range bin.
        let has_missing = data.entries_in(first..end) + overflow_entries < data.n_rows;
        let (takes_missing, entries) = match split.rule {
            Rule::Numeric { split_bin, default_left } => {
                let mid = first + split_bin as usize;
                if small_is_left {
                    (default_left, data.entries_in(first..mid))
                } else {
                    (!default_left, data.entries_in(mid..end) + overflow_entries)
                }
            }
            Rule::Categorical => {
                let left: usize = self
                    .best_categories
                    .iter()
                    .map(|&local| first + local as usize)
                    .map(|b| data.entries_in(b..b + 1))
                    .sum();
                if small_is_left {
                    (false, left)
                } else {
                    // Walking the complement visits every bin of the feature.
                    (true, data.entries_in(first..end) + overflow_entries - left + (end - first))
                }
            }
        };
        if !(takes_missing && has_missing) && entries < node.rows.len() {
            let mut take = |rows: &[u32]| {
                for &r in rows {
                    if self.slot_of[r as usize] == slot {
                        self.slot_of[r as usize] = new_slot;
                        small.push(r);
                    }
                }
            };
            match split.rule {
                Rule::Numeric { split_bin, .. } => {
                    let mid = first + split_bin as usize;
                    if small_is_left {
                        take(data.rows_in(first..mid));
                    } else {
                        take(data.rows_in(mid..end));
                        take(data.rows_in(overflow..overflow + 1));
                    }
                }
                Rule::Categorical => {
                    for b in first..end {
                        if self.left_bin[b] == small_is_left {
                            take(data.rows_in(b..b + 1));
                        }
                    }
                    if !small_is_left {
                        take(data.rows_in(overflow..overflow + 1));
                    }
                }
            }
        } else {
            let rows = &mut node.rows;
            let mut kept = 0;
            for i in 0..rows.len() {
                let r = rows[i];
                if self.slot_of[r as usize] != slot {
                    continue; // moved to a smaller child earlier
                }
                let bin = data.bin_of_row(r as usize, f).map(|b| b as usize);
                let goes_left = match split.rule {
                    Rule::Numeric { split_bin, default_left } => match bin {
                        None => default_left,
                        Some(b) => b != overflow && b - first < split_bin as usize,
                    },
                    Rule::Categorical => bin.is_some_and(|b| self.left_bin[b]),
                };
                if goes_left == small_is_left {
                    self.slot_of[r as usize] = new_slot;
                    small.push(r);
                } else {
                    rows[kept] = r;
                    kept += 1;
                }
            }
            rows.truncate(kept);
        }
        if split.rule == Rule::Categorical {
            for &local in &self.best_categories {
                self.left_bin[first + local as usize] = false;
            }
        }
        small
    }

    /// Builds the histogram of `rows` in the scratch one, subtracts it from the working
    /// one and returns its non-empty bins, its features and Σ weight·target².
    fn build_small(
        &mut self,
        rows: &[u32],
        grad: &[f64],
        hess: &[f64],
    ) -> (Vec<(u32, Stats)>, Vec<u32>, f64) {
        let data = self.data;
        if self.stamp == u32::MAX {
            self.stamps.fill(0);
            self.stamp = 0;
        }
        self.stamp += 1;
        let stamp = self.stamp;
        let mut bins = self.bin_lists.pop().unwrap_or_default();
        bins.clear();
        let mut features = self.feature_lists.pop().unwrap_or_default();
        features.clear();
        let want_square = self.params.stop_when_pure;
        let mut square = 0.0;
        for &r in rows {
            if r as usize >= data.n_train {
                continue;
            }
            let (g, h) = (grad[r as usize], hess[r as usize]);
            if h <= 0.0 {
                continue;
            }
            if want_square {
                square += g * g / h;
            }
            for &b in data.row(r as usize) {
                let bin = &mut self.scratch[b as usize];
                if bin.count == 0 {
                    bins.push((b, Stats::default()));
                    let f = data.feature_of_bin[b as usize];
                    if self.stamps[f as usize] != stamp {
                        self.stamps[f as usize] = stamp;
                        features.push(f);
                    }
                }
                bin.grad += g;
                bin.hess += h;
                bin.count += 1;
            }
        }
        for (b, stats) in bins.iter_mut() {
            let small = std::mem::take(&mut self.scratch[*b as usize]);
            let big = &mut self.work[*b as usize];
            *big = if big.count == small.count { Stats::default() } else { big.minus(small) };
            *stats = small;
        }
        (bins, features, square)
    }

    /// Makes a smaller child from the stack the node being split.
    fn load(&mut self, pending: Pending) -> Node {
        self.node_bins.clear();
        for &(b, stats) in &pending.bins {
            self.work[b as usize] = stats;
            self.node_bins.push(b);
        }
        self.node_bins.sort_unstable();
        self.dense_work = false;
        self.candidates.clear();
        self.groups.clear();
        for &f in &pending.features {
            self.push_candidate(f);
        }
        // In feature order the search walks the working histogram forwards.
        self.candidates.sort_unstable();
        self.bin_lists.push(pending.bins);
        self.feature_lists.push(pending.features);
        pending.node
    }

    fn clear_work(&mut self) {
        let data = self.data;
        if self.dense_work {
            for &f in &self.dirty {
                let f = f as usize;
                self.work[data.bin_start[f] as usize..data.bin_start[f + 1] as usize].fill(Stats::default());
                self.work[data.overflow_bin(f)] = Stats::default();
            }
        } else {
            for &b in &self.node_bins {
                self.work[b as usize] = Stats::default();
            }
        }
    }
}

/// All targets of the node equal, up to rounding: the weighted variance is ~0.
fn is_pure(node: &Node) -> bool {
    let Stats { grad, hess, .. } = node.stats;
    if hess <= 0.0 {
        return true;
    }
    let mean_square = node.square / hess;
    let mean = -grad / hess;
    mean_square - mean * mean <= PURE_VARIANCE * mean_square
}

/// Appends nodes to a [`Tree`]'s flat arrays.
#[derive(Default)]
struct TreeBuilder {
    tree: Tree,
    categories: Vec<Vec<u32>>,
}

impl TreeBuilder {
    fn push(&mut self, value: f64, cover: f64) -> u32 {
        let t = &mut self.tree;
        t.feature.push(-1);
        t.threshold.push(0.0);
        t.default_left.push(false);
        t.left.push(0);
        t.right.push(0);
        t.value.push(value);
        t.cover.push(cover);
        self.categories.push(Vec::new());
        (t.feature.len() - 1) as u32
    }

    #[allow(clippy::too_many_arguments)]
    fn set_split(
        &mut self,
        node: u32,
        feature: u32,
        threshold: f64,
        default_left: bool,
        categories: Vec<u32>,
        left: u32,
        right: u32,
    ) {
        let (t, n) = (&mut self.tree, node as usize);
        t.feature[n] = feature as i32;
        t.threshold[n] = threshold;
        t.default_left[n] = default_left;
        t.left[n] = left;
        t.right[n] = right;
        self.categories[n] = categories;
    }

    fn finish(mut self) -> Tree {
        if self.categories.iter().any(|c| !c.is_empty()) {
            self.tree.categories = self.categories;
        }
        self.tree
    }
}
