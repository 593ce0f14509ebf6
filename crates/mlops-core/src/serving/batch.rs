//! Batch scoring, the course's `score.py`: every trip of a month, scored, as parquet.
//!
//! The course reads a month with pandas, keeps the rides of 1–60 minutes, predicts each
//! with the model of a run, and writes `ride_id`, the pickup time, the zones, the actual
//! and predicted durations, their difference and the model version to
//! `taxi_type=green/year=2021/month=02/<run id>.parquet`. [`score_trips`] does the same
//! on a [`TripTable`], in the browser's worker or natively, and gives the file as bytes.
//!
//! A month has ~70,000 rides (up to two million in a simulated city), so scoring builds
//! no feature dict per ride: it looks the ride's column names up through one reused
//! buffer and sums the model's terms (or walks the trees) exactly as
//! [`Model::predict_ride`] does, so the two agree to the last bit (tests pin that for a
//! linear model, a one-hot GBDT and a categorical forest).

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::service::LoadedModel;
use crate::data::{Field, TripTable};
use crate::features::{DictVectorizer, DurationFilter, FeatureSet};
use crate::models::Model;
use crate::summary::Histogram;
use crate::trees::model::categorical_value;
use crate::trees::TreeEncoding;

/// Which month is scored, for the output path and columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOptions {
    pub taxi_type: String,
    pub year: i32,
    pub month: u32,
    /// The run id of the model (names the output file, as in the course).
    pub run_id: String,
    /// Seeds the ride ids (UUIDs), so a scoring can be reproduced.
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredBatch {
    /// `taxi_type=green/year=2021/month=02/<run id>.parquet`
    pub path: String,
    pub parquet: Vec<u8>,
    pub rows: usize,
    /// Trips dropped (duration outside 1–60 min, or missing values), as the course filters.
    pub dropped: usize,
    pub mean_abs_diff: f64,
    /// The predicted durations over 0–60 minutes in [`PREDICTED_BINS`] bars, for a preview
    /// that need not read the file back.
    pub predicted_histogram: Histogram,
}

/// Bars of [`ScoredBatch::predicted_histogram`]: two minutes each.
pub const PREDICTED_BINS: usize = 30;

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BatchError {
    #[error("the month has no column `{0}`, which scoring needs")]
    MissingColumn(&'static str),
    #[error("no trip of the month is between 1 and 60 minutes long, so there is nothing to score")]
    NoTrips,
    #[error("the parquet file could not be written: {0}")]
    Write(String),
    /// A hand-built model whose vectorizer and coefficients disagree would index out of
    /// bounds; refusing it names the problem instead of crashing the worker.
    #[error("the model has {features} feature names but {coefficients} coefficients; retrain or reload it")]
    InconsistentModel { features: usize, coefficients: usize },
    /// Any other disagreement inside the model (a tree's node arrays, a tree model's
    /// columns), as [`LoadedModel::validate`] words it.
    #[error("the model cannot score: {0}; retrain or reload it")]
    BadModel(String),
}

/// The columns of the scored file, in the order `score.py` writes them.
pub const OUTPUT_COLUMNS: [&str; 8] = [
    "ride_id",
    "lpep_pickup_datetime",
    "PULocationID",
    "DOLocationID",
    "actual_duration",
    "predicted_duration",
    "diff",
    "model_version",
];

/// The output path the course's `score.py` writes to.
pub fn output_path(taxi_type: &str, year: i32, month: u32, run_id: &str) -> String {
    format!("taxi_type={taxi_type}/year={year:04}/month={month:02}/{run_id}.parquet")
}

/// The arrow schema of the scored file: [`OUTPUT_COLUMNS`] with their types.
pub fn output_schema() -> Schema {
    let column = |name: &str, data_type: DataType| ArrowField::new(name, data_type, false);
    Schema::new(vec![
        column(OUTPUT_COLUMNS[0], DataType::Utf8),
        column(OUTPUT_COLUMNS[1], DataType::Timestamp(TimeUnit::Microsecond, None)),
        column(OUTPUT_COLUMNS[2], DataType::Int64),
        column(OUTPUT_COLUMNS[3], DataType::Int64),
        column(OUTPUT_COLUMNS[4], DataType::Float64),
        column(OUTPUT_COLUMNS[5], DataType::Float64),
        column(OUTPUT_COLUMNS[6], DataType::Float64),
        column(OUTPUT_COLUMNS[7], DataType::Utf8),
    ])
}

/// How many progress reports a scoring makes: one every ~5 % of the rows.
const PROGRESS_STEPS: usize = 20;

/// Predicts rides with the model's own arithmetic but without a feature dict per ride.
struct FastPredictor<'a> {
    model: &'a Model,
    /// `None` for categorical trees, which read the zones themselves.
    vectorizer: Option<&'a DictVectorizer>,
    distance_column: Option<usize>,
    name: String,
}

impl<'a> FastPredictor<'a> {
    fn new(loaded: &'a LoadedModel) -> Result<Self, BatchError> {
        if let (Model::Linear(linear), Some(vectorizer)) = (&loaded.model, &loaded.vectorizer) {
            if vectorizer.n_features() != linear.coefficients.len() {
                return Err(BatchError::InconsistentModel {
                    features: vectorizer.n_features(),
                    coefficients: linear.coefficients.len(),
                });
            }
        }
        loaded.validate().map_err(|e| BatchError::BadModel(e.to_string()))?;
        let vectorizer = loaded.vectorizer.as_ref();
        Ok(Self {
            model: &loaded.model,
            vectorizer,
            distance_column: vectorizer.and_then(|v| v.index_of("trip_distance")),
            name: String::with_capacity(32),
        })
    }

    fn lookup(&mut self, prefix: &str, first: i64, second: Option<i64>) -> Option<usize> {
        let mut digits = itoa::Buffer::new();
        self.name.clear();
        self.name.push_str(prefix);
        self.name.push_str(digits.format(first));
        if let Some(second) = second {
            self.name.push('_');
            self.name.push_str(digits.format(second));
        }
        self.vectorizer?.index_of(&self.name)
    }

    /// The ride's known columns with their values in ascending column order: what
    /// [`DictVectorizer::transform_one`] gives for the ride's feature dict.
    fn entries(&mut self, pu: i64, dol: i64, trip_distance: f64) -> ([(usize, f64); 3], usize) {
        let mut entries = [(0usize, 0.0f64); 3];
        let mut n = 0;
        let mut push = |column: Option<usize>, value: f64| {
            if let Some(column) = column {
                entries[n] = (column, value);
                n += 1;
            }
        };
        match self.model.feature_set() {
            FeatureSet::PuDo => push(self.lookup("PU_DO=", pu, Some(dol)), 1.0),
            FeatureSet::PuAndDo => {
                push(self.lookup("PULocationID=", pu, None), 1.0);
                push(self.lookup("DOLocationID=", dol, None), 1.0);
            }
        }
        push(self.distance_column, trip_distance);
        entries[..n].sort_unstable_by_key(|(column, _)| *column);
        (entries, n)
    }

    /// What [`Model::predict_ride`] answers, to the bit: a linear model sums
    /// `intercept + Σ coef·value` over the same entries in the same order; trees read the
    /// same values (absent = missing) or, categorical, the raw zones.
    fn predict(&mut self, pu: i64, dol: i64, trip_distance: f64) -> f64 {
        let model = self.model;
        if let Model::Trees(trees) = model {
            if trees.encoding == TreeEncoding::Categorical {
                return trees.predict_row(&|f| categorical_value(f, pu, dol, trip_distance));
            }
        }
        let (entries, n) = self.entries(pu, dol, trip_distance);
        let present = &entries[..n];
        match model {
            Model::Linear(linear) => {
                linear.intercept
                    + present.iter().map(|&(column, value)| linear.coefficients[column] * value).sum::<f64>()
            }
            Model::Trees(trees) => trees.predict_row(&|f| {
                present.binary_search_by_key(&f, |&(column, _)| column).ok().map(|k| present[k].1)
            }),
        }
    }
}

/// The scored rides, column by column, before they become arrow arrays.
#[derive(Default)]
struct ScoredColumns {
    pickup: Vec<i64>,
    pu: Vec<i64>,
    dol: Vec<i64>,
    actual: Vec<f64>,
    predicted: Vec<f64>,
    diff: Vec<f64>,
}

impl ScoredColumns {
    fn with_capacity(n: usize) -> Self {
        Self {
            pickup: Vec::with_capacity(n),
            pu: Vec::with_capacity(n),
            dol: Vec::with_capacity(n),
            actual: Vec::with_capacity(n),
            predicted: Vec::with_capacity(n),
            diff: Vec::with_capacity(n),
        }
    }
}

/// Ride ids drawn from a seeded generator: UUIDs (version 4 layout) that are the same for
/// the same seed, so a scored file can be reproduced from the options logged with it.
fn ride_ids(seed: u64, n: usize) -> StringArray {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut ids = StringBuilder::with_capacity(n, n * uuid::fmt::Hyphenated::LENGTH);
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    for _ in 0..n {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        ids.append_value(id.hyphenated().encode_lower(&mut text));
    }
    ids.finish()
}

/// Scores every trip of `table` with `model`.
///
/// Keeps the trips Chapter 1 trains on (pickup, dropoff, zones and a finite distance
/// present, 1–60 minutes long) and counts the rest in [`ScoredBatch::dropped`].
/// `progress` gets the share of rows done, every ~5 %, and 1.0 once the file is written.
pub fn score_trips(
    table: &TripTable,
    model: &LoadedModel,
    options: &ScoreOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<ScoredBatch, BatchError> {
    let required = |field: Field| BatchError::MissingColumn(field.display_name());
    let pickup = table.timestamps(Field::PickupDatetime).ok_or_else(|| required(Field::PickupDatetime))?;
    let dropoff = table.timestamps(Field::DropoffDatetime).ok_or_else(|| required(Field::DropoffDatetime))?;
    let pu = table.integers(Field::PuLocationId).ok_or_else(|| required(Field::PuLocationId))?;
    let dol = table.integers(Field::DoLocationId).ok_or_else(|| required(Field::DoLocationId))?;
    let distance = table.floats(Field::TripDistance).ok_or_else(|| required(Field::TripDistance))?;
    let mut predictor = FastPredictor::new(model)?;

    // The columns should all be `n_rows` long; a shorter one must not crash the worker.
    let n = [pickup.len(), dropoff.len(), pu.len(), dol.len(), distance.len()]
        .into_iter()
        .fold(table.n_rows, usize::min);
    let filter = DurationFilter::default();
    let step = (n / PROGRESS_STEPS).max(1);
    let mut out = ScoredColumns::with_capacity(n);
    progress(0.0);
    for i in 0..n {
        if i % step == 0 && i > 0 {
            progress(i as f64 / n as f64);
        }
        let (Some(start), Some(end), Some(pu), Some(dol), Some(distance)) =
            (pickup[i], dropoff[i], pu[i], dol[i], distance[i])
        else {
            continue;
        };
        // checked, as in `duration_minutes`: a hostile file may hold extreme timestamps.
        let Some(micros) = end.checked_sub(start) else { continue };
        let actual = micros as f64 / 60_000_000.0;
        if !filter.keeps(actual) || !distance.is_finite() {
            continue;
        }
        let predicted = predictor.predict(pu, dol, distance);
        out.pickup.push(start);
        out.pu.push(pu);
        out.dol.push(dol);
        out.actual.push(actual);
        out.predicted.push(predicted);
        out.diff.push(actual - predicted);
    }
    let rows = out.actual.len();
    if rows == 0 {
        return Err(BatchError::NoTrips);
    }
    let mean_abs_diff = out.diff.iter().map(|d| d.abs()).sum::<f64>() / rows as f64;
    let predicted_histogram = Histogram::new(out.predicted.iter().copied(), 0.0, 60.0, PREDICTED_BINS);
    let parquet = write_parquet(out, options)?;
    progress(1.0);
    Ok(ScoredBatch {
        path: output_path(&options.taxi_type, options.year, options.month, &options.run_id),
        parquet,
        rows,
        dropped: table.n_rows.saturating_sub(rows),
        mean_abs_diff,
        predicted_histogram,
    })
}

fn write_parquet(out: ScoredColumns, options: &ScoreOptions) -> Result<Vec<u8>, BatchError> {
    let rows = out.actual.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ride_ids(options.seed, rows)),
        Arc::new(TimestampMicrosecondArray::from(out.pickup)),
        Arc::new(Int64Array::from(out.pu)),
        Arc::new(Int64Array::from(out.dol)),
        Arc::new(Float64Array::from(out.actual)),
        Arc::new(Float64Array::from(out.predicted)),
        Arc::new(Float64Array::from(out.diff)),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(options.run_id.as_str(), rows))),
    ];
    let write_error = |e: &dyn std::fmt::Display| BatchError::Write(e.to_string());
    let batch = RecordBatch::try_new(Arc::new(output_schema()), columns).map_err(|e| write_error(&e))?;
    // SNAPPY, as the simulated months: decoding speed matters more in a browser tab than
    // the few percent ZSTD would save (the UUIDs do not compress anyway).
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).map_err(|e| write_error(&e))?;
    writer.write(&batch).map_err(|e| write_error(&e))?;
    writer.close().map_err(|e| write_error(&e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::data::{load_trips, ColumnData};
    use crate::features::TRAINING_FIELDS;
    use crate::models::{LinearModel, ModelKind};
    use crate::simulate::{simulate_month_parquet, CityParams};
    use crate::training::{train_and_evaluate, TrainSpec};

    const MINUTE: i64 = 60_000_000;

    fn options(seed: u64) -> ScoreOptions {
        ScoreOptions { taxi_type: "green".into(), year: 2021, month: 2, run_id: "run-abc".into(), seed }
    }

    /// duration = 3 + 5·[PU_DO = 1_2] + 2·distance.
    fn hand_made_model() -> LoadedModel {
        let model = LinearModel {
            kind: ModelKind::LinearRegression,
            alpha: None,
            feature_set: FeatureSet::PuDo,
            feature_names: vec!["PU_DO=1_2".into(), "trip_distance".into()],
            coefficients: vec![5.0, 2.0],
            intercept: 3.0,
            iterations: 0,
        };
        LoadedModel::new(model, "run-abc")
    }

    /// Six trips: two kept (a seen and an unseen zone pair), four dropped for each reason.
    fn six_trips() -> TripTable {
        let start = 1_612_137_600_000_000; // 2021-02-01 00:00:00 UTC
        let pickups = vec![Some(start), Some(start + MINUTE), Some(start), None, Some(start), Some(start)];
        let minutes = [10, 20, 0, 10, 61, 5];
        let dropoffs = pickups.iter().zip(minutes).map(|(p, m)| p.map(|p| p + m * MINUTE)).collect();
        let mut table = TripTable { n_rows: 6, ..TripTable::default() };
        table.columns.insert(Field::PickupDatetime, ColumnData::Timestamp(pickups));
        table.columns.insert(Field::DropoffDatetime, ColumnData::Timestamp(dropoffs));
        table.columns.insert(
            Field::PuLocationId,
            ColumnData::Integer(vec![Some(1), Some(7), Some(1), Some(1), Some(1), Some(1)]),
        );
        table.columns.insert(
            Field::DoLocationId,
            ColumnData::Integer(vec![Some(2), Some(9), Some(2), Some(2), Some(2), Some(2)]),
        );
        table.columns.insert(
            Field::TripDistance,
            ColumnData::Float(vec![Some(1.5), Some(4.0), Some(1.0), Some(1.0), Some(1.0), None]),
        );
        table
    }

    fn read_back(bytes: &[u8]) -> RecordBatch {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
            .expect("a parquet file")
            .with_batch_size(1 << 20)
            .build()
            .expect("a reader");
        let mut batches: Vec<RecordBatch> = reader.map(|b| b.expect("a batch")).collect();
        assert_eq!(batches.len(), 1, "one row group, read as one batch");
        batches.remove(0)
    }

    #[test]
    fn scores_the_kept_trips_and_counts_the_rest() {
        let batch = score_trips(&six_trips(), &hand_made_model(), &options(7), &mut |_| {}).expect("scores");
        assert_eq!((batch.rows, batch.dropped), (2, 4));
        assert_eq!(batch.path, "taxi_type=green/year=2021/month=02/run-abc.parquet");
        let table = read_back(&batch.parquet);
        let schema = table.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, OUTPUT_COLUMNS);
        assert_eq!(schema.as_ref(), &output_schema());

        let float = |name: &str| {
            table.column_by_name(name).expect(name).as_primitive::<Float64Type>().values().to_vec()
        };
        // Seen pair: 3 + 5 + 2·1.5 = 11; unseen pair 7_9: 3 + 2·4 = 11 as well, by design of the numbers.
        assert_eq!(float("actual_duration"), vec![10.0, 20.0]);
        assert_eq!(float("predicted_duration"), vec![11.0, 11.0]);
        assert_eq!(float("diff"), vec![-1.0, 9.0]);
        assert!((batch.mean_abs_diff - 5.0).abs() < 1e-12);
        let ints = |name: &str| {
            table.column_by_name(name).expect(name).as_primitive::<Int64Type>().values().to_vec()
        };
        assert_eq!(ints("PULocationID"), vec![1, 7]);
        assert_eq!(ints("DOLocationID"), vec![2, 9]);
        let pickups = table.column(1).as_primitive::<TimestampMicrosecondType>().values().to_vec();
        assert_eq!(pickups, vec![1_612_137_600_000_000, 1_612_137_600_000_000 + MINUTE]);
        let versions = table.column(7).as_string::<i32>();
        assert!(versions.iter().all(|v| v == Some("run-abc")));
        let ids = table.column(0).as_string::<i32>();
        for id in ids.iter().flatten() {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(parsed.hyphenated().to_string(), id, "lower-case, hyphenated");
        }
        assert_ne!(ids.value(0), ids.value(1));
    }

    #[test]
    fn the_same_options_give_the_same_file_and_another_seed_other_ids() {
        let (table, model) = (six_trips(), hand_made_model());
        let first = score_trips(&table, &model, &options(7), &mut |_| {}).expect("scores");
        let again = score_trips(&table, &model, &options(7), &mut |_| {}).expect("scores");
        assert_eq!(first, again);
        let other = score_trips(&table, &model, &options(8), &mut |_| {}).expect("scores");
        let id = |b: &ScoredBatch| read_back(&b.parquet).column(0).as_string::<i32>().value(0).to_string();
        assert_ne!(id(&first), id(&other));
    }

    #[test]
    fn missing_columns_and_empty_months_have_their_errors() {
        let model = hand_made_model();
        let mut table = six_trips();
        table.columns.remove(&Field::DoLocationId);
        let err = score_trips(&table, &model, &options(1), &mut |_| {});
        assert_eq!(err, Err(BatchError::MissingColumn("DOLocationID")));

        let mut table = six_trips();
        table.columns.insert(Field::TripDistance, ColumnData::Float(vec![None; 6]));
        assert_eq!(score_trips(&table, &model, &options(1), &mut |_| {}), Err(BatchError::NoTrips));

        let mut broken = hand_made_model();
        crate::serving::service::linear_mut(&mut broken).coefficients.pop();
        let err = score_trips(&six_trips(), &broken, &options(1), &mut |_| {});
        assert_eq!(err, Err(BatchError::InconsistentModel { features: 2, coefficients: 1 }));

        let mut broken = crate::serving::service::tiny_gbdt();
        broken.vectorizer = None;
        let err = score_trips(&six_trips(), &broken, &options(1), &mut |_| {});
        assert!(matches!(&err, Err(BatchError::BadModel(why)) if why.contains("no vectorizer")), "{err:?}");
        let mut broken = crate::serving::service::tiny_forest();
        if let Model::Trees(trees) = &mut broken.model {
            trees.trees[0].left.clear();
        }
        let err = score_trips(&six_trips(), &broken, &options(1), &mut |_| {});
        assert!(matches!(&err, Err(BatchError::BadModel(why)) if why.contains("tree 0")), "{err:?}");
    }

    #[test]
    fn tree_models_score_the_kept_trips_by_hand() {
        // tiny_gbdt: 10 + (1 if distance < 3 else 5) + (2 if PU_DO = 10_50); neither trip is 10_50.
        let gbdt = crate::serving::service::tiny_gbdt();
        let batch = score_trips(&six_trips(), &gbdt, &options(7), &mut |_| {}).expect("scores");
        let predicted = |batch: &ScoredBatch| {
            let table = read_back(&batch.parquet);
            table
                .column_by_name("predicted_duration")
                .expect("column")
                .as_primitive::<Float64Type>()
                .values()
                .to_vec()
        };
        assert_eq!(predicted(&batch), vec![11.0, 15.0]);
        // tiny_forest: mean of (8 if pickup in {10, 20} else 4) and (6 if distance < 2 else 12).
        let forest = crate::serving::service::tiny_forest();
        let batch = score_trips(&six_trips(), &forest, &options(7), &mut |_| {}).expect("scores");
        assert_eq!(predicted(&batch), vec![5.0, 8.0]);
    }

    fn simulated_month(month: u32) -> TripTable {
        let bytes = simulate_month_parquet(&CityParams { trips: 4_000, month, ..CityParams::default() })
            .expect("simulates");
        load_trips(bytes.into(), &TRAINING_FIELDS).expect("loads")
    }

    /// Scores `month` and checks every predicted duration against [`Model::predict_ride`], bit for bit.
    fn assert_scores_like_predict_ride(month: &TripTable, model: &LoadedModel, n_kept: usize) {
        let mut reports = Vec::new();
        let batch = score_trips(month, model, &options(3), &mut |p| reports.push(p)).expect("scores");
        assert_eq!(batch.rows, n_kept, "the same filter as Chapter 1");
        assert_eq!(batch.dropped, month.n_rows - n_kept);
        assert!(reports.windows(2).all(|w| w[0] <= w[1]), "progress only moves forward");
        assert_eq!((reports.first(), reports.last()), (Some(&0.0), Some(&1.0)));
        assert!((20..=23).contains(&reports.len()), "every ~5 %: {} reports", reports.len());

        let table = read_back(&batch.parquet);
        let column = |name: &str| table.column_by_name(name).expect(name).clone();
        let (pu, dol) = (column("PULocationID"), column("DOLocationID"));
        let (pu, dol) = (pu.as_primitive::<Int64Type>(), dol.as_primitive::<Int64Type>());
        let predicted = column("predicted_duration");
        let predicted = predicted.as_primitive::<Float64Type>();
        let trips = crate::features::prepare_trips(month, DurationFilter::default()).expect("prepares");
        for i in 0..batch.rows {
            assert_eq!((pu.value(i), dol.value(i)), (trips.pu_location[i], trips.do_location[i]));
            let expected = model.model.predict_ride(
                model.vectorizer.as_ref(),
                pu.value(i),
                dol.value(i),
                trips.trip_distance[i],
            );
            assert_eq!(predicted.value(i).to_bits(), expected.to_bits(), "row {i}");
        }
    }

    #[test]
    fn a_simulated_month_matches_predict_ride_bit_for_bit() {
        let (jan, feb) = (simulated_month(1), simulated_month(2));
        for feature_set in [FeatureSet::PuDo, FeatureSet::PuAndDo] {
            let spec = TrainSpec { feature_set, ..TrainSpec::course_baseline() };
            let report = train_and_evaluate(&spec, &jan, &feb, &|| 0.0, &mut |_, _| {}).expect("trains");
            let model = LoadedModel::new(report.model, "run-abc");
            assert_scores_like_predict_ride(&feb, &model, report.n_val);
        }
    }

    /// A seeded ensemble of depth-4 trees over `feature_names`: splits on one-hot columns
    /// (random default directions), zone sets or distance thresholds, random leaves.
    fn random_ensemble(
        kind: crate::trees::TreeKind,
        encoding: TreeEncoding,
        feature_set: FeatureSet,
        feature_names: Vec<String>,
        seed: u64,
    ) -> crate::trees::TreeModel {
        use rand::Rng;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let n_features = feature_names.len();
        let distance = feature_names.iter().position(|n| n == "trip_distance").expect("a distance column");
        let trees = (0..25)
            .map(|_| {
                let mut tree = crate::trees::Tree::default();
                let categorical = encoding == TreeEncoding::Categorical;
                // Nodes in breadth-first order: 15 inner nodes, then 16 leaves.
                for node in 0..31u32 {
                    let inner = node < 15;
                    let feature = match (inner, categorical, rng.gen_range(0..3)) {
                        (false, _, _) => -1,
                        (true, _, 0) => distance as i32,
                        (true, true, zone) => zone - 1,
                        (true, false, _) => rng.gen_range(0..n_features) as i32,
                    };
                    let zones: Vec<u32> = if inner && categorical && feature < 2 {
                        let mut zones: Vec<u32> = (0..40).map(|_| rng.gen_range(1..266)).collect();
                        zones.sort_unstable();
                        zones.dedup();
                        zones
                    } else {
                        Vec::new()
                    };
                    tree.feature.push(feature);
                    tree.threshold.push(if feature == distance as i32 {
                        rng.gen_range(0.0..8.0)
                    } else {
                        0.5
                    });
                    tree.default_left.push(rng.gen_bool(0.5));
                    tree.left.push(if inner { 2 * node + 1 } else { 0 });
                    tree.right.push(if inner { 2 * node + 2 } else { 0 });
                    tree.value.push(rng.gen_range(-3.0..3.0) / 7.0);
                    tree.categories.push(zones);
                }
                tree
            })
            .collect();
        crate::trees::TreeModel {
            kind,
            feature_set,
            encoding,
            feature_names,
            base_score: 14.123_456_789,
            trees,
            params: Vec::new(),
            best_iteration: None,
        }
    }

    #[test]
    fn tree_ensembles_score_a_simulated_month_like_predict_ride_bit_for_bit() {
        use crate::trees::{TreeKind, CATEGORICAL_COLUMNS};
        let (jan, feb) = (simulated_month(1), simulated_month(2));
        let n_kept = crate::features::prepare_trips(&feb, DurationFilter::default()).expect("prepares").len();
        for feature_set in [FeatureSet::PuDo, FeatureSet::PuAndDo] {
            let trips = crate::features::prepare_trips(&jan, DurationFilter::default()).expect("prepares");
            let names =
                DictVectorizer::fit(&crate::features::TripFeatures { set: feature_set, trips: &trips })
                    .feature_names;
            for (kind, seed) in [(TreeKind::Gbdt, 1), (TreeKind::RandomForest, 2)] {
                let model = random_ensemble(kind, TreeEncoding::OneHot, feature_set, names.clone(), seed);
                assert_scores_like_predict_ride(&feb, &LoadedModel::new(model, "trees"), n_kept);
            }
        }
        let columns: Vec<String> = CATEGORICAL_COLUMNS.iter().map(|c| c.to_string()).collect();
        for (kind, seed) in [(TreeKind::Gbdt, 3), (TreeKind::RandomForest, 4)] {
            let model =
                random_ensemble(kind, TreeEncoding::Categorical, FeatureSet::PuDo, columns.clone(), seed);
            assert_scores_like_predict_ride(&feb, &LoadedModel::new(model, "trees"), n_kept);
        }
    }

    #[test]
    fn fitted_gbdt_and_forest_score_a_simulated_month_like_predict_ride_bit_for_bit() {
        use crate::training::Estimator;
        use crate::trees::{ForestParams, GbdtParams};
        let (jan, feb) = (simulated_month(1), simulated_month(2));
        let gbdt = Estimator::Gbdt(GbdtParams {
            num_boost_round: 20,
            max_depth: 5,
            seed: 1,
            ..GbdtParams::default()
        });
        let forest = Estimator::Forest(ForestParams {
            n_estimators: 10,
            max_depth: Some(10),
            random_state: 1,
            encoding: TreeEncoding::Categorical,
            ..ForestParams::default()
        });
        for (estimator, feature_set) in [(gbdt, FeatureSet::PuDo), (forest, FeatureSet::PuAndDo)] {
            let spec = TrainSpec { estimator, feature_set, ..TrainSpec::course_baseline() };
            let report = train_and_evaluate(&spec, &jan, &feb, &|| 0.0, &mut |_, _| {}).expect("trains");
            assert!(matches!(report.model, Model::Trees(_)));
            assert_scores_like_predict_ride(&feb, &LoadedModel::new(report.model, "trees"), report.n_val);
        }
    }
}
