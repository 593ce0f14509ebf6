//! What a learner looks at before training: per-column summaries, the first rows and
//! histograms (of duration before and after the filter, of predictions vs actuals).

use serde::{Deserialize, Serialize};

use crate::data::{ColumnData, Field, TripTable};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    pub name: String,
    pub count: usize,
    pub nulls: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub max: f64,
}

/// Linear-interpolated quantile of sorted values (pandas' default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Median of unsorted values (interpolated for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.5)
}

/// Summary of non-null values (sample standard deviation, as pandas' `describe`).
pub fn summarize_values(name: &str, values: impl Iterator<Item = Option<f64>>) -> ColumnSummary {
    let mut present = Vec::new();
    let mut nulls = 0;
    for value in values {
        match value {
            Some(v) if !v.is_nan() => present.push(v),
            _ => nulls += 1,
        }
    }
    present.sort_by(f64::total_cmp);
    let n = present.len();
    let mean = if n == 0 { f64::NAN } else { present.iter().sum::<f64>() / n as f64 };
    let std = if n < 2 {
        f64::NAN
    } else {
        (present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
    };
    ColumnSummary {
        name: name.to_string(),
        count: n,
        nulls,
        mean,
        std,
        min: present.first().copied().unwrap_or(f64::NAN),
        p25: quantile(&present, 0.25),
        median: quantile(&present, 0.5),
        p75: quantile(&present, 0.75),
        max: present.last().copied().unwrap_or(f64::NAN),
    }
}

/// Summaries of every loaded column, timestamps as minutes-since-epoch are not useful
/// so they are summarised as ISO dates elsewhere; here only numbers.
pub fn summarize(table: &TripTable) -> Vec<ColumnSummary> {
    table
        .columns
        .iter()
        .filter(|(_, c)| !matches!(c, ColumnData::Timestamp(_)))
        .map(|(field, column)| {
            summarize_values(field.display_name(), (0..column.len()).map(|i| column.value_f64(i)))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lower: f64,
    pub upper: f64,
    pub counts: Vec<usize>,
    /// Values below `lower` / above `upper`, shown as such instead of silently dropped.
    pub below: usize,
    pub above: usize,
}

impl Histogram {
    pub fn new(values: impl Iterator<Item = f64>, lower: f64, upper: f64, bins: usize) -> Self {
        let bins = bins.max(1);
        let mut counts = vec![0; bins];
        let (mut below, mut above) = (0, 0);
        let width = (upper - lower) / bins as f64;
        for v in values.filter(|v| v.is_finite()) {
            if v < lower {
                below += 1;
            } else if v > upper {
                above += 1;
            } else {
                let bin = (((v - lower) / width) as usize).min(bins - 1);
                counts[bin] += 1;
            }
        }
        Histogram { lower, upper, counts, below, above }
    }

    pub fn bin_width(&self) -> f64 {
        (self.upper - self.lower) / self.counts.len().max(1) as f64
    }
}

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC, as TLC writes them).
pub fn format_timestamp(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        in_day / 3600,
        (in_day % 3600) / 60,
        in_day % 60
    )
}

/// The first `n` rows of the loaded fields as display strings (`None` shown as empty).
pub fn first_rows(table: &TripTable, n: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let header: Vec<String> = table
        .columns
        .keys()
        .map(|f| table.source_names.get(f).cloned().unwrap_or_else(|| f.display_name().to_string()))
        .collect();
    let rows = (0..n.min(table.n_rows))
        .map(|i| {
            table
                .columns
                .values()
                .map(|column| match column {
                    ColumnData::Timestamp(v) => v[i].map(format_timestamp).unwrap_or_default(),
                    ColumnData::Integer(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
                    ColumnData::Float(v) => v[i].map(|x| format!("{x}")).unwrap_or_default(),
                })
                .collect()
        })
        .collect();
    (header, rows)
}

/// Durations of all rows with both timestamps, for the before-filter histogram.
pub fn durations_present(table: &TripTable) -> Vec<f64> {
    crate::features::duration_minutes(table).into_iter().flatten().collect()
}

/// Whether the table carries the fields Chapter 1 needs.
pub fn has_training_fields(table: &TripTable) -> bool {
    crate::features::TRAINING_FIELDS.iter().all(|f: &Field| table.columns.contains_key(f))
}

/// Milliseconds since the epoch (how tracking stores times) as `YYYY-MM-DD HH:MM:SS UTC`:
/// the same text in every browser and in tests, whatever the time zone.
pub fn format_utc_millis(ms: i64) -> String {
    format!("{} UTC", format_timestamp(ms.saturating_mul(1_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_pandas() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn timestamps_format_as_civil_dates() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00");
        // 2021-01-01 00:15:56 UTC
        assert_eq!(format_timestamp(1_609_460_156_000_000), "2021-01-01 00:15:56");
        assert_eq!(format_timestamp(-1_000_000), "1969-12-31 23:59:59");
    }

    #[test]
    fn histogram_counts_out_of_range_values_separately() {
        let h = Histogram::new([-5.0, 0.0, 0.5, 1.0, 2.0, f64::NAN].into_iter(), 0.0, 1.0, 2);
        assert_eq!(h.counts, vec![1, 2]);
        assert_eq!((h.below, h.above), (1, 1));
    }

    #[test]
    fn tracking_times_are_utc_calendar_dates() {
        assert_eq!(format_utc_millis(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc_millis(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc_millis(1_714_572_187_000), "2024-05-01 14:03:07 UTC");
        assert_eq!(format_utc_millis(-1000), "1969-12-31 23:59:59 UTC");
    }
}
