//! The table a drift report reads: named columns of numbers or text, with missing values
//! spelled the way Evidently counts them (None, NaN, ±inf and the empty string).
//!
//! Columns keep what the data actually holds, not what the report expects: a column that
//! arrives as text where numbers were expected is how a schema change shows up, and the
//! report says so instead of failing.

use serde::{Deserialize, Serialize};

/// How a column is compared: as a distribution of numbers or as counts of categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Numerical,
    Categorical,
}

impl ColumnType {
    pub fn label(self) -> &'static str {
        match self {
            ColumnType::Numerical => "numerical",
            ColumnType::Categorical => "categorical",
        }
    }
}

/// A column's values as loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Values {
    Numbers(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Numbers(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evidently's missing values: None, NaN, ±inf and "".
    pub fn missing_count(&self) -> usize {
        match self {
            Values::Numbers(v) => v.iter().filter(|x| !matches!(x, Some(x) if x.is_finite())).count(),
            Values::Text(v) => v.iter().filter(|x| x.as_deref().is_none_or(str::is_empty)).count(),
        }
    }

    /// The kind of data, for messages ("numbers", "text").
    pub fn kind(&self) -> &'static str {
        match self {
            Values::Numbers(_) => "numbers",
            Values::Text(_) => "text",
        }
    }

    /// The values without missing ones, for the tests.
    pub fn clean(&self) -> Clean {
        match self {
            Values::Numbers(v) => {
                Clean::Numbers(v.iter().flatten().copied().filter(|x| x.is_finite()).collect())
            }
            Values::Text(v) => Clean::Text(v.iter().flatten().filter(|s| !s.is_empty()).cloned().collect()),
        }
    }

    /// Keeps the rows whose index is in `rows` (ascending), e.g. one day of a month.
    pub fn select(&self, rows: &[usize]) -> Values {
        match self {
            Values::Numbers(v) => Values::Numbers(rows.iter().map(|&i| v[i]).collect()),
            Values::Text(v) => Values::Text(rows.iter().map(|&i| v[i].clone()).collect()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

impl Column {
    pub fn numbers(name: &str, values: Vec<Option<f64>>) -> Self {
        Self { name: name.to_string(), values: Values::Numbers(values) }
    }

    pub fn text(name: &str, values: Vec<Option<String>>) -> Self {
        Self { name: name.to_string(), values: Values::Text(values) }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FrameError {
    #[error(
        "column `{name}` has {found} rows but the table has {expected}; every column needs one value per row"
    )]
    RaggedColumn { name: String, expected: usize, found: usize },
    #[error("column `{0}` appears twice")]
    DuplicateColumn(String),
}

/// Columns of equal length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    columns: Vec<Column>,
    rows: usize,
}

impl Frame {
    pub fn new(columns: Vec<Column>) -> Result<Self, FrameError> {
        let rows = columns.first().map_or(0, |c| c.values.len());
        for (i, column) in columns.iter().enumerate() {
            if column.values.len() != rows {
                return Err(FrameError::RaggedColumn {
                    name: column.name.clone(),
                    expected: rows,
                    found: column.values.len(),
                });
            }
            if columns[..i].iter().any(|c| c.name == column.name) {
                return Err(FrameError::DuplicateColumn(column.name.clone()));
            }
        }
        Ok(Self { columns, rows })
    }

    pub fn n_rows(&self) -> usize {
        self.rows
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The rows in `rows` (ascending indices), every column kept.
    pub fn select(&self, rows: &[usize]) -> Frame {
        Frame {
            columns: self
                .columns
                .iter()
                .map(|c| Column { name: c.name.clone(), values: c.values.select(rows) })
                .collect(),
            rows: rows.len(),
        }
    }

    /// Renames a column (a schema change the learner can inject); false if absent.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        match self.columns.iter_mut().find(|c| c.name == from) {
            Some(column) => {
                column.name = to.to_string();
                true
            }
            None => false,
        }
    }

    /// Replaces or adds a column; it must have one value per row.
    pub fn set(&mut self, column: Column) -> Result<(), FrameError> {
        if column.values.len() != self.rows && !self.columns.is_empty() {
            return Err(FrameError::RaggedColumn {
                name: column.name,
                expected: self.rows,
                found: column.values.len(),
            });
        }
        if self.columns.is_empty() {
            self.rows = column.values.len();
        }
        match self.columns.iter_mut().find(|c| c.name == column.name) {
            Some(slot) => *slot = column,
            None => self.columns.push(column),
        }
        Ok(())
    }
}

/// A column's present values.
#[derive(Debug, Clone, PartialEq)]
pub enum Clean {
    Numbers(Vec<f64>),
    Text(Vec<String>),
}

/// A category as counted: numbers by value (`-0.0` = `0.0`), text by content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Number(OrderedNumber),
    Text(String),
}

/// A finite f64 usable as a map key and sorted numerically.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderedNumber(pub f64);

impl Eq for OrderedNumber {}

impl std::hash::Hash for OrderedNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // +0.0 and -0.0 are one category, as in pandas' value_counts.
        (self.0 + 0.0).to_bits().hash(state);
    }
}

impl PartialOrd for OrderedNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0 + 0.0).total_cmp(&(other.0 + 0.0))
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Category::Number(n) => write!(f, "{}", n.0),
            Category::Text(s) => f.write_str(s),
        }
    }
}

impl Clean {
    pub fn len(&self) -> usize {
        match self {
            Clean::Numbers(v) => v.len(),
            Clean::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts per category (pandas' `value_counts`), sorted by category.
    pub fn value_counts(&self) -> Vec<(Category, usize)> {
        match self {
            Clean::Numbers(v) => {
                let mut sorted = v.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                counts_of_sorted(&sorted)
            }
            Clean::Text(v) => text_counts(v),
        }
    }
}

/// Run lengths of sorted numbers: no hashing, which matters on 76,000-row columns.
pub fn counts_of_sorted(sorted: &[f64]) -> Vec<(Category, usize)> {
    let mut counts: Vec<(Category, usize)> = Vec::new();
    for &x in sorted {
        match counts.last_mut() {
            // `==` treats -0.0 and +0.0 as one value, as pandas does.
            Some((Category::Number(last), n)) if last.0 == x => *n += 1,
            _ => counts.push((Category::Number(OrderedNumber(x + 0.0)), 1)),
        }
    }
    counts
}

/// Counts of text values, sorted by value.
pub fn text_counts(values: &[String]) -> Vec<(Category, usize)> {
    let mut map: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for s in values {
        *map.entry(s.as_str()).or_insert(0) += 1;
    }
    let mut counts: Vec<(Category, usize)> =
        map.into_iter().map(|(s, n)| (Category::Text(s.to_string()), n)).collect();
    counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_are_counted_as_evidently_does() {
        let numbers = Values::Numbers(vec![Some(1.0), None, Some(f64::NAN), Some(f64::INFINITY), Some(-0.0)]);
        assert_eq!(numbers.missing_count(), 3);
        let text = Values::Text(vec![Some("a".into()), Some(String::new()), None]);
        assert_eq!(text.missing_count(), 2);
        assert_eq!(text.clean(), Clean::Text(vec!["a".into()]));
    }

    #[test]
    fn ragged_and_duplicate_columns_are_refused() {
        let short = Column::numbers("b", vec![Some(1.0)]);
        let err = Frame::new(vec![Column::numbers("a", vec![None, None]), short]).expect_err("ragged");
        assert!(err.to_string().contains("column `b` has 1 rows but the table has 2"), "{err}");
        let dup = Frame::new(vec![Column::numbers("a", vec![None]), Column::numbers("a", vec![None])]);
        assert!(matches!(dup, Err(FrameError::DuplicateColumn(_))));
    }

    #[test]
    fn zero_signs_are_one_category() {
        let counts = Clean::Numbers(vec![0.0, -0.0, 1.0]).value_counts();
        assert_eq!(
            counts,
            vec![(Category::Number(OrderedNumber(0.0)), 2), (Category::Number(OrderedNumber(1.0)), 1)]
        );
        let text = Clean::Text(vec!["b".into(), "a".into(), "b".into()]).value_counts();
        assert_eq!(text, vec![(Category::Text("a".into()), 1), (Category::Text("b".into()), 2)]);
    }
}
