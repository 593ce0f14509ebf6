//! Histogram bins and the two row indexes the grower walks.
//!
//! Numbers get XGBoost's `hist` cut points (the same weighted-quantile summary, pruned the
//! same way, so a column with few distinct values gets one bin per value and
//! `trip_distance` gets XGBoost's 254 bins); a one-hot column, whose only value is 1,
//! gets a single bin. Categories get a bin each.
//!
//! Every feature also owns one out-of-range bin, after all training bins: validation
//! values above the training range and categories unseen in training land there, so that
//! routing a row by its bin gives exactly what `value < threshold` (or "category in the
//! left set") gives later. Keeping them apart leaves the training bins of one-hot
//! columns side by side, which the split search walks.
//!
//! Rows are stored twice, both as global bin ids: row by row (a node's histogram costs
//! the non-zeros of its rows) and bin by bin (the rows of a small child are found from
//! the bins of its side of the split, without scanning its large parent).

use sprs::CsMat;

/// How one feature's values map to histogram bins.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FeatureBins {
    /// XGBoost's cut values: bin `i` holds the values in `[upper[i-1], upper[i])`, the
    /// last bound lies above every training value.
    Numeric { upper: Vec<f64> },
    /// Sorted category ids, one bin each.
    Categorical { categories: Vec<u32> },
}

impl FeatureBins {
    /// Bins a training value can land in (the extra out-of-range bin not counted).
    pub fn n_bins(&self) -> usize {
        match self {
            FeatureBins::Numeric { upper } => upper.len(),
            FeatureBins::Categorical { categories } => categories.len(),
        }
    }

    /// The bin of a number: how many cut values are `<= value`, so that `bin <= i`
    /// exactly when `value < upper[i]`.
    fn numeric_bin(upper: &[f64], value: f64) -> usize {
        match upper {
            [only] => usize::from(value >= *only),
            _ => upper.partition_point(|&cut| cut <= value),
        }
    }

    /// The bin of a category; `n_bins()` for one unseen in training (or not a valid id).
    fn category_bin(categories: &[u32], category: i64) -> usize {
        u32::try_from(category)
            .ok()
            .and_then(|c| categories.binary_search(&c).ok())
            .unwrap_or(categories.len())
    }
}

/// Training (and validation) rows as bins, with the cuts that made them.
#[derive(Debug, Clone)]
pub(crate) struct Binned {
    pub features: Vec<FeatureBins>,
    pub categorical: Vec<bool>,
    /// Feature `f`'s training bins are the global bins `bin_start[f]..bin_start[f + 1]`;
    /// its out-of-range bin is `bin_start[n_features] + f`.
    pub bin_start: Vec<u32>,
    pub feature_of_bin: Vec<u32>,
    /// Training rows come first, then validation rows (which never enter a histogram).
    pub n_train: usize,
    pub n_rows: usize,
    /// Row `r`'s global bins, ascending: `row_bins[row_start[r]..row_start[r + 1]]`.
    pub row_start: Vec<u32>,
    pub row_bins: Vec<u32>,
    /// Global bin `b`'s rows, ascending: `bin_rows[bin_row_start[b]..bin_row_start[b + 1]]`.
    pub bin_row_start: Vec<u32>,
    pub bin_rows: Vec<u32>,
}

/// The rows of a one-hot matrix, or the three raw columns of the categorical encoding.
pub(crate) enum Columns<'a> {
    Sparse(&'a CsMat<f64>),
    Categorical { pu: &'a [i64], dol: &'a [i64], trip_distance: &'a [f64] },
}

impl Columns<'_> {
    fn n_rows(&self) -> usize {
        match self {
            Columns::Sparse(matrix) => matrix.rows(),
            Columns::Categorical { pu, .. } => pu.len(),
        }
    }

    /// Calls `visit(feature, value)` for each stored value of row `r`, in feature order.
    fn visit_row(&self, r: usize, visit: &mut impl FnMut(usize, f64)) {
        match self {
            Columns::Sparse(matrix) => {
                if let Some(row) = matrix.outer_view(r) {
                    for (&f, &value) in row.indices().iter().zip(row.data()) {
                        visit(f, value);
                    }
                }
            }
            Columns::Categorical { pu, dol, trip_distance } => {
                visit(0, pu[r] as f64);
                visit(1, dol[r] as f64);
                visit(2, trip_distance[r]);
            }
        }
    }
}

impl Binned {
    /// Bins `train` (whose values set the cuts) and `validation` with the same cuts.
    /// Inputs are checked beforehand: finite values, CSR storage, equal column counts.
    pub fn new(
        train: &Columns<'_>,
        validation: Option<&Columns<'_>>,
        n_features: usize,
        max_bin: usize,
    ) -> Self {
        let features = match train {
            Columns::Sparse(matrix) => sparse_feature_bins(matrix, n_features, max_bin),
            Columns::Categorical { pu, dol, trip_distance } => {
                let mut distances = trip_distance.to_vec();
                vec![
                    FeatureBins::Categorical { categories: categories_of(pu) },
                    FeatureBins::Categorical { categories: categories_of(dol) },
                    FeatureBins::Numeric { upper: quantile_cuts(&mut distances, max_bin) },
                ]
            }
        };
        let mut bin_start = Vec::with_capacity(features.len() + 1);
        let mut feature_of_bin = Vec::new();
        bin_start.push(0u32);
        for (f, bins) in features.iter().enumerate() {
            feature_of_bin.extend(std::iter::repeat_n(f as u32, bins.n_bins()));
            bin_start.push(feature_of_bin.len() as u32);
        }
        let n_training_bins = feature_of_bin.len() as u32;
        feature_of_bin.extend(0..features.len() as u32);
        let categorical =
            features.iter().map(|bins| matches!(bins, FeatureBins::Categorical { .. })).collect();

        let n_train = train.n_rows();
        let n_rows = n_train + validation.map_or(0, Columns::n_rows);
        let mut row_start = Vec::with_capacity(n_rows + 1);
        let mut row_bins = Vec::new();
        row_start.push(0u32);
        for columns in std::iter::once(train).chain(validation) {
            for r in 0..columns.n_rows() {
                columns.visit_row(r, &mut |f, value| {
                    let local = match &features[f] {
                        FeatureBins::Categorical { categories } => {
                            FeatureBins::category_bin(categories, value as i64)
                        }
                        FeatureBins::Numeric { upper } => FeatureBins::numeric_bin(upper, value),
                    };
                    let bin = if local < features[f].n_bins() {
                        bin_start[f] + local as u32
                    } else {
                        n_training_bins + f as u32
                    };
                    row_bins.push(bin);
                });
                // Out-of-range bins come after all training bins: keep each row sorted.
                let start = *row_start.last().unwrap_or(&0) as usize;
                row_bins[start..].sort_unstable();
                row_start.push(row_bins.len() as u32);
            }
        }

        // Counting sort of the entries by bin gives each bin's rows in ascending order.
        let n_bins = feature_of_bin.len();
        let mut bin_row_start = vec![0u32; n_bins + 1];
        for &b in &row_bins {
            bin_row_start[b as usize + 1] += 1;
        }
        for b in 0..n_bins {
            bin_row_start[b + 1] += bin_row_start[b];
        }
        let mut next: Vec<u32> = bin_row_start[..n_bins].to_vec();
        let mut bin_rows = vec![0u32; row_bins.len()];
        for r in 0..n_rows {
            for &b in &row_bins[row_start[r] as usize..row_start[r + 1] as usize] {
                bin_rows[next[b as usize] as usize] = r as u32;
                next[b as usize] += 1;
            }
        }
        Self {
            features,
            categorical,
            bin_start,
            feature_of_bin,
            n_train,
            n_rows,
            row_start,
            row_bins,
            bin_row_start,
            bin_rows,
        }
    }

    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Feature `f`'s out-of-range bin.
    #[inline]
    pub fn overflow_bin(&self, f: usize) -> usize {
        self.bin_start[self.features.len()] as usize + f
    }

    pub fn n_bins_total(&self) -> usize {
        self.feature_of_bin.len()
    }

    /// The global bins of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> &[u32] {
        &self.row_bins[self.row_start[r] as usize..self.row_start[r + 1] as usize]
    }

    /// The rows in global bins `bins` (a contiguous range).
    #[inline]
    pub fn rows_in(&self, bins: std::ops::Range<usize>) -> &[u32] {
        &self.bin_rows[self.bin_row_start[bins.start] as usize..self.bin_row_start[bins.end] as usize]
    }

    /// How many entries the bins `bins` hold (the cost of walking them).
    #[inline]
    pub fn entries_in(&self, bins: std::ops::Range<usize>) -> usize {
        (self.bin_row_start[bins.end] - self.bin_row_start[bins.start]) as usize
    }

    /// Row `r`'s global bin for feature `f`, `None` when the value is missing.
    #[inline]
    pub fn bin_of_row(&self, r: usize, f: usize) -> Option<u32> {
        let row = self.row(r);
        let (start, end) = (self.bin_start[f], self.bin_start[f + 1]);
        let overflow = self.overflow_bin(f) as u32;
        if row.len() <= 8 {
            row.iter().copied().find(|&b| (start..end).contains(&b) || b == overflow)
        } else {
            let i = row.partition_point(|&b| b < start);
            row.get(i)
                .copied()
                .filter(|&b| b < end)
                .or_else(|| row.binary_search(&overflow).ok().map(|_| overflow))
        }
    }
}

/// Sorted distinct zone ids; ids that are not valid categories (negative, huge) get none.
fn categories_of(column: &[i64]) -> Vec<u32> {
    let mut categories: Vec<u32> = column.iter().filter_map(|&c| u32::try_from(c).ok()).collect();
    categories.sort_unstable();
    categories.dedup();
    categories
}

/// Cut values of every column of a CSR matrix, from its stored (training) values.
fn sparse_feature_bins(matrix: &CsMat<f64>, n_features: usize, max_bin: usize) -> Vec<FeatureBins> {
    // Gather each column's values with a counting sort over the CSR entries.
    let mut column_start = vec![0usize; n_features + 1];
    for &f in matrix.indices() {
        column_start[f + 1] += 1;
    }
    for f in 0..n_features {
        column_start[f + 1] += column_start[f];
    }
    let mut next = column_start[..n_features].to_vec();
    let mut values = vec![0.0; matrix.nnz()];
    for row in matrix.outer_iterator() {
        for (&f, &value) in row.indices().iter().zip(row.data()) {
            values[next[f]] = value;
            next[f] += 1;
        }
    }
    (0..n_features)
        .map(|f| FeatureBins::Numeric {
            upper: quantile_cuts(&mut values[column_start[f]..column_start[f + 1]], max_bin),
        })
        .collect()
}

/// One entry of XGBoost's weighted quantile summary; ranks are `f32`, as in XGBoost,
/// so that pruning picks the very same values.
#[derive(Debug, Clone, Copy)]
struct SummaryEntry {
    rmin: f32,
    rmax: f32,
    wmin: f32,
    value: f64,
}

/// XGBoost's `hist` cut values for one feature (`values` are sorted in place).
///
/// XGBoost sketches a column into an exact summary (for a month of trips every distinct
/// value fits), prunes it to `8 × max_bin` entries, then to `max_bin + 1`, and keeps
/// the values from the second entry on as cuts, closing with one bound above the maximum.
/// Matching it value for value matters: the split thresholds, and so the validation
/// predictions, depend on where the cuts fall.
pub(crate) fn quantile_cuts(values: &mut [f64], max_bin: usize) -> Vec<f64> {
    if values.is_empty() {
        // XGBoost's empty column: minimum 1e-5, one bin above it.
        return vec![3e-5];
    }
    values.sort_unstable_by(f64::total_cmp);
    let mut summary = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let value = values[i];
        let mut j = i + 1;
        while j < values.len() && values[j] == value {
            j += 1;
        }
        let (rmin, weight) = (i as f32, (j - i) as f32);
        summary.push(SummaryEntry { rmin, rmax: rmin + weight, wmin: weight, value });
        i = j;
    }
    let intermediate = values.len().min(max_bin * 8);
    let max_num_bins = intermediate.min(max_bin);
    let pruned = prune(&prune(&summary, intermediate), max_num_bins + 1);
    let mut cuts: Vec<f64> = Vec::with_capacity(max_num_bins + 1);
    for entry in pruned.iter().take(pruned.len().min(max_num_bins)).skip(1) {
        if cuts.last().is_none_or(|&last| entry.value > last) {
            cuts.push(entry.value);
        }
    }
    let top = pruned.last().map_or(values[values.len() - 1], |entry| entry.value);
    cuts.push(top + (top.abs() + 1e-5));
    cuts
}

/// XGBoost's `WQSummary::SetPrune`: keeps at most `max_size` entries, spread evenly by rank.
fn prune(src: &[SummaryEntry], max_size: usize) -> Vec<SummaryEntry> {
    if src.len() <= max_size || max_size < 2 {
        return src.to_vec();
    }
    let last_index = src.len() - 1;
    let begin = src[0].rmax;
    let range = src[last_index].rmin - src[0].rmax;
    let n = max_size - 1;
    let mut out = Vec::with_capacity(max_size);
    out.push(src[0]);
    let (mut i, mut last_taken) = (1usize, 0usize);
    for k in 1..n {
        let dx2 = 2.0f32 * ((k as f32 * range) / n as f32 + begin);
        while i < last_index && dx2 >= src[i + 1].rmax + src[i + 1].rmin {
            i += 1;
        }
        if i == last_index {
            break;
        }
        if dx2 < (src[i].rmin + src[i].wmin) + (src[i + 1].rmax - src[i + 1].wmin) {
            if i != last_taken {
                out.push(src[i]);
                last_taken = i;
            }
        } else if i + 1 != last_taken {
            out.push(src[i + 1]);
            last_taken = i + 1;
        }
    }
    if last_taken != last_index {
        out.push(src[last_index]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each() {
        let mut values = vec![3.0, 1.0, 2.0, 2.0, 1.0];
        // XGBoost: the minimum is not a cut; the last bound is max + |max| + 1e-5.
        assert_eq!(quantile_cuts(&mut values, 256), vec![2.0, 3.0, 6.00001]);
        let mut ones = vec![1.0; 4];
        assert_eq!(quantile_cuts(&mut ones, 256), vec![2.00001]);
    }

    #[test]
    fn many_distinct_values_are_cut_at_most_max_bin_times() {
        let mut values: Vec<f64> = (0..10_000).map(|i| (i % 3_000) as f64 / 100.0).collect();
        let cuts = quantile_cuts(&mut values, 16);
        assert!(cuts.len() <= 16, "{} cuts", cuts.len());
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        assert!(*cuts.last().expect("a cut") > 29.99);
    }

    #[test]
    fn a_value_goes_left_exactly_when_its_bin_is_at_most_the_split_bin() {
        let upper = vec![0.5, 1.5, 4.0];
        for value in [-3.0, 0.0, 0.5, 1.0, 1.5, 3.9, 4.0, 100.0] {
            let bin = FeatureBins::numeric_bin(&upper, value);
            for (i, &cut) in upper.iter().enumerate() {
                assert_eq!(bin <= i, value < cut, "value {value}, bin {bin}, cut {cut}");
            }
        }
    }

    #[test]
    fn rows_and_bins_index_each_other() {
        let pu = [5i64, 7, 5, -1];
        let dol = [1i64, 1, 2, 2];
        let distance = [1.0, 2.0, 3.0, 1.0];
        let columns = Columns::Categorical { pu: &pu, dol: &dol, trip_distance: &distance };
        let binned = Binned::new(&columns, None, 3, 256);
        assert_eq!(binned.features[0], FeatureBins::Categorical { categories: vec![5, 7] });
        // The invalid zone id lands in the out-of-range bin of feature 0.
        assert_eq!(binned.bin_of_row(3, 0), Some(binned.overflow_bin(0) as u32));
        assert_eq!(binned.bin_of_row(2, 0), Some(0));
        for r in 0..4 {
            for &b in binned.row(r) {
                let b = b as usize;
                assert!(binned.rows_in(b..b + 1).contains(&(r as u32)));
            }
        }
    }
}
