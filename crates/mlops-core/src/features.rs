//! From trips to a design matrix: trip duration, the course's 1–60 minute filter, and
//! a vectorizer with scikit-learn `DictVectorizer` semantics producing a sparse matrix.
//!
//! The one-hot `PU_DO` encoding of a month has ~13,000 columns; the dense matrix would
//! take gigabytes, so everything downstream works on CSR/CSC only.

use std::collections::HashMap;

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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DictVectorizer {
    pub feature_names: Vec<String>,
    #[serde(skip)]
    vocabulary: HashMap<String, usize>,
}

fn feature_name(key: &str, value: &FeatureValue) -> String {
    match value {
        FeatureValue::Text(text) => format!("{key}={text}"),
        FeatureValue::Number(_) => key.to_string(),
    }
}

impl DictVectorizer {
    /// Learns the sorted feature names from training dicts.
    pub fn fit<'a, I>(rows: I) -> Self
    where
        I: IntoIterator<Item = &'a [(&'static str, FeatureValue)]>,
    {
        let mut names: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            for (key, value) in row {
                let name = feature_name(key, value);
                if !seen.contains(&name) {
                    seen.insert(name.clone());
                    names.push(name);
                }
            }
        }
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

    /// The sparse entries of one dict: (column, value), unseen names skipped.
    /// Explicit zeros are kept, as scikit-learn keeps them (they count as non-zeros).
    pub fn transform_one(&self, row: &[(&'static str, FeatureValue)]) -> Vec<(usize, f64)> {
        let mut entries: Vec<(usize, f64)> = row
            .iter()
            .filter_map(|(key, value)| {
                let index = self.index_of(&feature_name(key, value))?;
                let number = match value {
                    FeatureValue::Text(_) => 1.0,
                    FeatureValue::Number(x) => *x,
                };
                Some((index, number))
            })
            .collect();
        entries.sort_unstable_by_key(|(i, _)| *i);
        entries
    }

    /// Builds the CSR matrix of many dicts.
    pub fn transform<'a, I>(&self, rows: I) -> CsMat<f64>
    where
        I: IntoIterator<Item = &'a [(&'static str, FeatureValue)]>,
    {
        let mut indptr = vec![0usize];
        let mut indices = Vec::new();
        let mut data = Vec::new();
        for row in rows {
            for (index, value) in self.transform_one(row) {
                indices.push(index);
                data.push(value);
            }
            indptr.push(indices.len());
        }
        let n_rows = indptr.len() - 1;
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
        let vectorizer = DictVectorizer::fit(train.iter().map(Vec::as_slice));
        assert_eq!(vectorizer.feature_names, vec!["PU_DO=130_205", "PU_DO=7_7", "trip_distance"]);
        let matrix = vectorizer.transform(train.iter().map(Vec::as_slice));
        assert_eq!(matrix.nnz(), 4, "explicit zero distances count, as in scikit-learn");
        let unseen = ride_features(FeatureSet::PuDo, 1, 2, 3.0);
        assert_eq!(vectorizer.transform_one(&unseen), vec![(2, 3.0)]);
    }
}
