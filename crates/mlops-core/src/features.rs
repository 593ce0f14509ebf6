//! From trips to a design matrix: trip duration, the course's 1–60 minute filter, and
//! a vectorizer with scikit-learn `DictVectorizer` semantics producing a sparse matrix.
//!
//! The one-hot `PU_DO` encoding of a month has ~13,000 columns; the dense matrix would
//! take gigabytes, so everything downstream works on CSR/CSC only.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use sprs::{CsMat, TriMat};

use crate::data::{Field, TripTable};

/// Minutes between pickup and dropoff; `None` where either timestamp is missing.
pub fn duration_minutes(table: &TripTable) -> Vec<Option<f64>> {
    let (Some(pickup), Some(dropoff)) =
        (table.timestamps(Field::PickupDatetime), table.timestamps(Field::DropoffDatetime))
    else {
        return vec![None; table.n_rows];
    };
    pickup
        .iter()
        .zip(dropoff)
        .map(|(p, d)| match (p, d) {
            // checked: a hostile file may hold i64::MIN and i64::MAX timestamps.
            (Some(p), Some(d)) => d.checked_sub(*p).map(|micros| micros as f64 / 60_000_000.0),
            _ => None,
        })
        .collect()
}

/// Which trips count as ordinary rides for training. The course keeps 1 ≤ duration ≤ 60.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DurationFilter {
    pub min_minutes: f64,
    pub max_minutes: f64,
}

impl Default for DurationFilter {
    fn default() -> Self {
        Self { min_minutes: 1.0, max_minutes: 60.0 }
    }
}

impl DurationFilter {
    pub fn keeps(&self, minutes: f64) -> bool {
        minutes >= self.min_minutes && minutes <= self.max_minutes
    }
}

/// The fields training needs, so the loader decodes nothing else.
pub const TRAINING_FIELDS: [Field; 5] = [
    Field::PickupDatetime,
    Field::DropoffDatetime,
    Field::PuLocationId,
    Field::DoLocationId,
    Field::TripDistance,
];

/// Trips that passed the filter, with the inputs the features are built from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PreparedTrips {
    pub pu_location: Vec<i64>,
    pub do_location: Vec<i64>,
    pub trip_distance: Vec<f64>,
    pub duration_minutes: Vec<f64>,
    /// Rows removed because duration fell outside the filter.
    pub dropped_by_filter: usize,
    /// Rows removed because a timestamp, location or distance was missing.
    pub dropped_missing: usize,
}

impl PreparedTrips {
    pub fn len(&self) -> usize {
        self.duration_minutes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.duration_minutes.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FeatureError {
    #[error("the table has no `{0}` column loaded")]
    MissingField(String),
    #[error("no trip is left after keeping durations between {min} and {max} minutes ({total} rows before)")]
    NothingLeft { min: f64, max: f64, total: usize },
    #[error("the vectorizer has not seen any feature yet: fit it on training rows first")]
    EmptyVocabulary,
}

/// Applies the duration filter and drops rows with missing inputs.
///
/// Rows with a missing location or distance are dropped (and counted) rather than
/// imputed: pandas would carry a NaN into scikit-learn, which refuses it.
pub fn prepare_trips(table: &TripTable, filter: DurationFilter) -> Result<PreparedTrips, FeatureError> {
    let missing = |f: Field| FeatureError::MissingField(f.display_name().to_string());
    let pu = table.integers(Field::PuLocationId).ok_or_else(|| missing(Field::PuLocationId))?;
    let dol = table.integers(Field::DoLocationId).ok_or_else(|| missing(Field::DoLocationId))?;
    let dist = table.floats(Field::TripDistance).ok_or_else(|| missing(Field::TripDistance))?;
    if table.timestamps(Field::PickupDatetime).is_none() {
        return Err(missing(Field::PickupDatetime));
    }
    if table.timestamps(Field::DropoffDatetime).is_none() {
        return Err(missing(Field::DropoffDatetime));
    }
    let durations = duration_minutes(table);
    let mut out = PreparedTrips::default();
    for (i, duration) in durations.iter().enumerate() {
        let Some(duration) = *duration else {
            out.dropped_missing += 1;
            continue;
        };
        if !filter.keeps(duration) {
            out.dropped_by_filter += 1;
            continue;
        }
        match (pu[i], dol[i], dist[i]) {
            (Some(p), Some(d), Some(km)) if km.is_finite() => {
                out.pu_location.push(p);
                out.do_location.push(d);
                out.trip_distance.push(km);
                out.duration_minutes.push(duration);
            }
            _ => out.dropped_missing += 1,
        }
    }
    if out.is_empty() {
        return Err(FeatureError::NothingLeft {
            min: filter.min_minutes,
            max: filter.max_minutes,
            total: table.n_rows,
        });
    }
    Ok(out)
}

/// How the pickup and dropoff zones enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSet {
    /// One categorical `PU_DO` = "130_205" (a zone pair) plus `trip_distance`.
    #[default]
    PuDo,
    /// `PULocationID` and `DOLocationID` as two categoricals plus `trip_distance`.
    PuAndDo,
}

impl FeatureSet {
    /// Non-zeros of a ride whose categories were all seen in training.
    pub fn features_per_ride(self) -> usize {
        match self {
            FeatureSet::PuDo => 2,
            FeatureSet::PuAndDo => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FeatureSet::PuDo => "PU_DO + trip_distance",
            FeatureSet::PuAndDo => "PULocationID, DOLocationID + trip_distance",
        }
    }
}

/// A value in a feature dict: strings are one-hot encoded, numbers kept as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureValue {
    Text(String),
    Number(f64),
}

/// The feature dict of one ride, as the course builds it with `to_dict(orient="records")`.
pub fn ride_features(
    set: FeatureSet,
    pu: i64,
    dol: i64,
    trip_distance: f64,
) -> Vec<(&'static str, FeatureValue)> {
    match set {
        FeatureSet::PuDo => vec![
            ("PU_DO", FeatureValue::Text(format!("{pu}_{dol}"))),
            ("trip_distance", FeatureValue::Number(trip_distance)),
        ],
        FeatureSet::PuAndDo => vec![
            ("PULocationID", FeatureValue::Text(pu.to_string())),
            ("DOLocationID", FeatureValue::Text(dol.to_string())),
            ("trip_distance", FeatureValue::Number(trip_distance)),
        ],
    }
}

/// scikit-learn's `DictVectorizer`: `key=value` columns for strings, `key` for numbers,
/// names sorted, categories unseen at fit time silently ignored at transform time.
///
/// Names are looked up through one reused buffer and an Fx hash map, so a month of
/// rides costs no allocation per row beyond the dicts themselves: this step used to be
/// the slowest of the pipeline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DictVectorizer {
    pub feature_names: Vec<String>,
    #[serde(skip)]
    vocabulary: FxHashMap<String, usize>,
}

/// Writes a feature's column name into `buffer` (cleared first).
fn write_feature_name(buffer: &mut String, key: &str, value: &FeatureValue) {
    buffer.clear();
    buffer.push_str(key);
    if let FeatureValue::Text(text) = value {
        buffer.push('=');
        buffer.push_str(text);
    }
}

/// Rows a [`DictVectorizer`] can read: feature dicts, or prepared trips read directly
/// (which skips building a dict per ride — the difference is most of this step's time).
pub trait FeatureRows {
    fn n_rows(&self) -> usize;
    /// Calls `visit(column name, value)` for each feature of row `i`, writing names into
    /// `buffer` so that no name is allocated.
    fn visit_row(&self, i: usize, buffer: &mut String, visit: &mut dyn FnMut(&str, f64));
}

impl FeatureRows for [Vec<(&'static str, FeatureValue)>] {
    fn n_rows(&self) -> usize {
        self.len()
    }

    fn visit_row(&self, i: usize, buffer: &mut String, visit: &mut dyn FnMut(&str, f64)) {
        for (key, value) in &self[i] {
            write_feature_name(buffer, key, value);
            visit(buffer, if let FeatureValue::Number(x) = value { *x } else { 1.0 });
        }
    }
}

/// Prepared trips seen through a feature set: the same names [`ride_features`] gives.
pub struct TripFeatures<'a> {
    pub set: FeatureSet,
    pub trips: &'a PreparedTrips,
}

impl FeatureRows for TripFeatures<'_> {
    fn n_rows(&self) -> usize {
        self.trips.len()
    }

    fn visit_row(&self, i: usize, buffer: &mut String, visit: &mut dyn FnMut(&str, f64)) {
        // itoa rather than `write!`: formatting two IDs per ride was a visible cost.
        let mut digits = itoa::Buffer::new();
        let (pu, dol) = (self.trips.pu_location[i], self.trips.do_location[i]);
        buffer.clear();
        match self.set {
            FeatureSet::PuDo => {
                buffer.push_str("PU_DO=");
                buffer.push_str(digits.format(pu));
                buffer.push('_');
                buffer.push_str(digits.format(dol));
                visit(buffer, 1.0);
            }
            FeatureSet::PuAndDo => {
                buffer.push_str("PULocationID=");
                buffer.push_str(digits.format(pu));
                visit(buffer, 1.0);
                buffer.clear();
                buffer.push_str("DOLocationID=");
                buffer.push_str(digits.format(dol));
                visit(buffer, 1.0);
            }
        }
        visit("trip_distance", self.trips.trip_distance[i]);
    }
}

impl DictVectorizer {
    /// Learns the sorted feature names from training rows.
    pub fn fit<R: FeatureRows + ?Sized>(rows: &R) -> Self {
        let mut seen: FxHashSet<String> = FxHashSet::default();
        let mut buffer = String::new();
        for i in 0..rows.n_rows() {
            rows.visit_row(i, &mut buffer, &mut |name, _| {
                if !seen.contains(name) {
                    seen.insert(name.to_string());
                }
            });
        }
        let mut names: Vec<String> = seen.into_iter().collect();
        names.sort_unstable();
        Self::from_feature_names(names)
    }

    /// Rebuilds a vectorizer from saved names (a model artifact stores only the names).
    pub fn from_feature_names(feature_names: Vec<String>) -> Self {
        let vocabulary = feature_names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        Self { feature_names, vocabulary }
    }

    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        if self.vocabulary.len() != self.feature_names.len() {
            return self.feature_names.iter().position(|n| n == name);
        }
        self.vocabulary.get(name).copied()
    }

    /// Appends row `i`'s sparse entries (column, value), sorted by column, unseen names
    /// skipped. Explicit zeros are kept, as scikit-learn keeps them (they count as non-zeros).
    fn push_entries<R: FeatureRows + ?Sized>(
        &self,
        rows: &R,
        i: usize,
        buffer: &mut String,
        entries: &mut Vec<(usize, f64)>,
    ) {
        let first = entries.len();
        rows.visit_row(i, buffer, &mut |name, value| {
            if let Some(index) = self.index_of(name) {
                entries.push((index, value));
            }
        });
        entries[first..].sort_unstable_by_key(|(i, _)| *i);
    }

    /// The sparse entries of one dict, e.g. a ride sent for prediction.
    pub fn transform_one(&self, row: &[(&'static str, FeatureValue)]) -> Vec<(usize, f64)> {
        let rows = [row.to_vec()];
        let mut entries = Vec::with_capacity(row.len());
        self.push_entries(&rows[..], 0, &mut String::new(), &mut entries);
        entries
    }

    /// Builds the CSR matrix of many rows.
    pub fn transform<R: FeatureRows + ?Sized>(&self, rows: &R) -> CsMat<f64> {
        let n_rows = rows.n_rows();
        let mut indptr = Vec::with_capacity(n_rows + 1);
        indptr.push(0usize);
        let mut entries: Vec<(usize, f64)> = Vec::with_capacity(n_rows * 3);
        let mut buffer = String::new();
        for i in 0..n_rows {
            self.push_entries(rows, i, &mut buffer, &mut entries);
            indptr.push(entries.len());
        }
        let (indices, data): (Vec<usize>, Vec<f64>) = entries.into_iter().unzip();
        CsMat::try_new((n_rows, self.n_features()), indptr, indices, data)
            .unwrap_or_else(|_| TriMat::new((n_rows, self.n_features())).to_csr())
    }
}

/// The feature dicts of prepared trips.
pub fn trip_dicts(set: FeatureSet, trips: &PreparedTrips) -> Vec<Vec<(&'static str, FeatureValue)>> {
    (0..trips.len())
        .map(|i| ride_features(set, trips.pu_location[i], trips.do_location[i], trips.trip_distance[i]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ColumnData;

    #[test]
    fn trips_read_directly_give_the_same_matrix_as_their_dicts() {
        let trips = PreparedTrips {
            pu_location: vec![130, 7, 130],
            do_location: vec![205, 7, 12],
            trip_distance: vec![2.5, 0.0, 1.0],
            duration_minutes: vec![10.0, 3.0, 4.0],
            ..PreparedTrips::default()
        };
        for set in [FeatureSet::PuDo, FeatureSet::PuAndDo] {
            let dicts = trip_dicts(set, &trips);
            let direct = TripFeatures { set, trips: &trips };
            let vectorizer = DictVectorizer::fit(&direct);
            assert_eq!(vectorizer, DictVectorizer::fit(&dicts[..]));
            assert_eq!(vectorizer.transform(&direct), vectorizer.transform(&dicts[..]));
        }
    }

    #[test]
    fn extreme_timestamps_give_no_duration_instead_of_overflowing() {
        let mut table = TripTable { n_rows: 2, ..TripTable::default() };
        table.columns.insert(Field::PickupDatetime, ColumnData::Timestamp(vec![Some(i64::MIN), Some(0)]));
        table
            .columns
            .insert(Field::DropoffDatetime, ColumnData::Timestamp(vec![Some(i64::MAX), Some(90_000_000)]));
        assert_eq!(duration_minutes(&table), vec![None, Some(1.5)]);
    }

    #[test]
    fn vectorizer_sorts_names_and_ignores_unseen_categories() {
        let train =
            [ride_features(FeatureSet::PuDo, 130, 205, 2.5), ride_features(FeatureSet::PuDo, 7, 7, 0.0)];
        let vectorizer = DictVectorizer::fit(&train[..]);
        assert_eq!(vectorizer.feature_names, vec!["PU_DO=130_205", "PU_DO=7_7", "trip_distance"]);
        let matrix = vectorizer.transform(&train[..]);
        assert_eq!(matrix.nnz(), 4, "explicit zero distances count, as in scikit-learn");
        let unseen = ride_features(FeatureSet::PuDo, 1, 2, 3.0);
        assert_eq!(vectorizer.transform_one(&unseen), vec![(2, 3.0)]);
    }
}
