//! Messages between the page and the training worker.
//!
//! The page sends bytes and settings; the worker keeps the decoded months in its own
//! memory (so a second training does not decode again) and answers with summaries,
//! progress and reports. Both sides are compiled from this one definition.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::data::{load_trips, read_file_info, DataError, Field, FileInfo, TripTable};
use crate::features::{duration_minutes, DurationFilter};
use crate::simulate::{simulate_month_parquet, CityParams};
use crate::summary::{first_rows, summarize, ColumnSummary, Histogram};
use crate::training::{Stage, TrainReport, TrainSpec};

/// Which month a dataset plays in Chapter 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Slot {
    Train,
    Validation,
}

impl Slot {
    pub fn label(self) -> &'static str {
        match self {
            Slot::Train => "training",
            Slot::Validation => "validation",
        }
    }
}

/// One input to a dataset: a file's bytes or a simulated month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Source {
    File { name: String, bytes: Vec<u8> },
    Simulated(CityParams),
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::File { name, .. } => name.clone(),
            Source::Simulated(params) => params.label(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Decode sources (several files are appended) into a slot.
    Load { slot: Slot, sources: Vec<Source> },
    /// Train on the train slot, evaluate on the validation slot.
    Train { spec: TrainSpec },
    /// The benchmark: the whole pipeline from bytes, `repeat` times (see `bench/`).
    Bench { train: Vec<u8>, val: Vec<u8>, repeat: u32 },
    /// Batch scoring (Chapter 4): every trip of a loaded month, scored with a model
    /// artifact, written as parquet.
    Score {
        slot: Slot,
        model_json: String,
        model_version: String,
        options: crate::serving::batch::ScoreOptions,
    },
    /// The batch-scoring benchmark: fit on `train` once, then decode and score `month`
    /// `repeat` times (see `bench/`).
    BenchScore { train: Vec<u8>, month: Vec<u8>, repeat: u32 },
    /// Chapter 5: fit the monitoring baseline on `reference`, replay every day of `current`.
    Replay { reference: Vec<Source>, current: Vec<Source>, options: crate::monitoring::replay::ReplayOptions },
    /// A drift report between two whole files, every column.
    Drift { reference: Vec<Source>, current: Vec<Source>, options: crate::drift::DriftOptions },
    /// The drift benchmark (see `bench/`): a full report `repeat` times, and a replay.
    BenchDrift {
        reference: Vec<u8>,
        current: Vec<u8>,
        replay_reference: Vec<u8>,
        replay_current: Vec<u8>,
        repeat: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Progress {
        stage: String,
        fraction: f64,
    },
    Loaded(Box<DatasetView>),
    Trained(Box<TrainReport>),
    Bench(BenchReport),
    ScoreBench(ScoreBenchReport),
    /// The scored month, and how long scoring took inside the worker.
    Scored {
        batch: Box<crate::serving::batch::ScoredBatch>,
        seconds: f64,
    },
    Replayed(Box<crate::monitoring::jobs::ReplayResult>),
    DriftReported(Box<crate::monitoring::jobs::DriftResult>),
    DriftBench(crate::monitoring::jobs::DriftBenchReport),
    Failed {
        message: String,
    },
}

/// Timings of [`Request::Bench`], measured inside the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub seconds: Vec<f64>,
    pub median_seconds: f64,
    pub val_rmse: f64,
    /// Size of the worker's wasm memory after the runs.
    pub memory_bytes: u64,
}

/// Runs the Chapter 1 pipeline from bytes `repeat` times with the caller's clock.
pub fn run_bench(
    train: &[u8],
    val: &[u8],
    repeat: u32,
    now_seconds: &dyn Fn() -> f64,
) -> Result<BenchReport, String> {
    use crate::features::TRAINING_FIELDS;
    use crate::training::train_and_evaluate;
    let spec = TrainSpec::course_baseline();
    let mut seconds = Vec::new();
    let mut val_rmse = f64::NAN;
    for _ in 0..repeat.max(1) {
        let start = now_seconds();
        let train_table =
            load_trips(Bytes::from(train.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
        let val_table = load_trips(Bytes::from(val.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
        let report = train_and_evaluate(&spec, &train_table, &val_table, now_seconds, &mut |_, _| {})
            .map_err(|e| e.to_string())?;
        val_rmse = report.val.rmse;
        seconds.push(now_seconds() - start);
    }
    let median_seconds = crate::summary::median(&seconds);
    Ok(BenchReport { seconds, median_seconds, val_rmse, memory_bytes: 0 })
}

/// Timings of [`Request::BenchScore`]: decode + filter + predict + write parquet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreBenchReport {
    pub seconds: Vec<f64>,
    pub median_seconds: f64,
    pub rows: usize,
    pub rows_per_second: f64,
}

/// Fits the course's baseline on `train`, then times scoring `month` from its bytes,
/// `repeat` times — what the course's `score.py` does per month.
pub fn run_score_bench(
    train: &[u8],
    month: &[u8],
    repeat: u32,
    now_seconds: &dyn Fn() -> f64,
) -> Result<ScoreBenchReport, String> {
    use crate::features::TRAINING_FIELDS;
    use crate::serving::batch::{score_trips, ScoreOptions};
    use crate::serving::service::LoadedModel;
    use crate::training::train_and_evaluate;
    let train_table = load_trips(Bytes::from(train.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
    let month_table = load_trips(Bytes::from(month.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
    let report = train_and_evaluate(
        &TrainSpec::course_baseline(),
        &train_table,
        &month_table,
        now_seconds,
        &mut |_, _| {},
    )
    .map_err(|e| e.to_string())?;
    let crate::models::Model::Linear(linear) = report.model else {
        return Err("the scoring benchmark expects the linear baseline".to_string());
    };
    let model = LoadedModel::new(linear, "bench");
    let options =
        ScoreOptions { taxi_type: "green".into(), year: 2021, month: 2, run_id: "bench".into(), seed: 42 };
    let mut seconds = Vec::new();
    let mut rows = 0;
    for _ in 0..repeat.max(1) {
        let start = now_seconds();
        let table = load_trips(Bytes::from(month.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
        rows = score_trips(&table, &model, &options, &mut |_| {}).map_err(|e| e.to_string())?.rows;
        seconds.push(now_seconds() - start);
    }
    let median_seconds = crate::summary::median(&seconds);
    Ok(ScoreBenchReport { seconds, median_seconds, rows, rows_per_second: rows as f64 / median_seconds })
}

/// What the page shows about a loaded dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetView {
    pub slot: Slot,
    pub label: String,
    pub simulated: bool,
    pub files: Vec<(String, FileInfo)>,
    pub n_rows: usize,
    pub summaries: Vec<ColumnSummary>,
    pub head_columns: Vec<String>,
    pub head_rows: Vec<Vec<String>>,
    /// Durations between −10 and 90 minutes, before the filter…
    pub duration_histogram: Histogram,
    /// …and of the rides the 1–60 minute filter keeps, on the same bins.
    pub kept_duration_histogram: Histogram,
    pub share_outside_filter: f64,
}

pub fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Preparing => "Computing durations and filtering",
        Stage::Vectorizing => "Building the sparse feature matrix",
        Stage::Fitting => "Fitting the model",
        Stage::Evaluating => "Scoring training and validation rows",
    }
}

/// Decodes every source and appends them. Errors name the source that failed.
pub fn load_sources(sources: &[Source]) -> Result<(TripTable, Vec<(String, FileInfo)>), String> {
    if sources.is_empty() {
        return Err("no file was given".to_string());
    }
    let mut table = TripTable::default();
    let mut infos = Vec::new();
    for source in sources {
        let bytes: Bytes = match source {
            Source::File { bytes, .. } => Bytes::from(bytes.clone()),
            Source::Simulated(params) => {
                Bytes::from(simulate_month_parquet(params).map_err(|e| format!("{}: {e}", source.label()))?)
            }
        };
        let describe = |e: DataError| format!("{}: {e}", source.label());
        let info = read_file_info(bytes.clone()).map_err(describe)?;
        let part = load_trips(bytes, &Field::ALL).map_err(describe)?;
        infos.push((source.label(), info));
        table.append(part);
    }
    Ok((table, infos))
}

/// The view of a loaded table.
pub fn dataset_view(
    slot: Slot,
    sources: &[Source],
    table: &TripTable,
    files: Vec<(String, FileInfo)>,
) -> DatasetView {
    let durations: Vec<f64> = duration_minutes(table).into_iter().flatten().collect();
    let filter = DurationFilter::default();
    let outside = durations.iter().filter(|d| !filter.keeps(**d)).count();
    let (head_columns, head_rows) = first_rows(table, 10);
    DatasetView {
        slot,
        label: sources.iter().map(Source::label).collect::<Vec<_>>().join(" + "),
        simulated: sources.iter().any(|s| matches!(s, Source::Simulated(_))),
        files,
        n_rows: table.n_rows,
        summaries: summarize(table),
        head_columns,
        head_rows,
        duration_histogram: Histogram::new(durations.iter().copied(), -10.0, 90.0, 50),
        kept_duration_histogram: Histogram::new(
            durations.iter().copied().filter(|d| filter.keeps(*d)),
            -10.0,
            90.0,
            50,
        ),
        share_outside_filter: if durations.is_empty() {
            0.0
        } else {
            outside as f64 / durations.len() as f64
        },
    }
}

/// `data/catalog.json`, which an instructor puts next to the built site to list months.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub files: Vec<CatalogEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// What the learner sees, e.g. "Green taxi · January 2021".
    pub label: String,
    /// Relative to the `data/` folder (or an absolute URL).
    pub path: String,
}

impl Catalog {
    /// Parses and checks a catalog; a broken one is reported, not half-used.
    pub fn parse(text: &str) -> Result<Self, String> {
        let catalog: Catalog =
            serde_json::from_str(text).map_err(|e| format!("data/catalog.json is not valid: {e}"))?;
        if let Some(entry) =
            catalog.files.iter().find(|e| e.path.trim().is_empty() || e.label.trim().is_empty())
        {
            return Err(format!("data/catalog.json has an entry without a label or path: {entry:?}"));
        }
        Ok(catalog)
    }

    /// The URL to fetch an entry from, relative to the page.
    pub fn url_of(entry: &CatalogEntry) -> String {
        if entry.path.contains("://") || entry.path.starts_with('/') {
            entry.path.clone()
        } else {
            format!("data/{}", entry.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_rejects_broken_files() {
        let ok = Catalog::parse(
            r#"{"files":[{"label":"Green · Jan 2021","path":"green_tripdata_2021-01.parquet"}]}"#,
        )
        .expect("valid");
        assert_eq!(Catalog::url_of(&ok.files[0]), "data/green_tripdata_2021-01.parquet");
        assert!(Catalog::parse("not json").is_err());
        assert!(Catalog::parse(r#"{"files":[{"label":"","path":"x"}]}"#).is_err());
    }

    #[test]
    fn a_bad_file_names_its_source() {
        let sources = vec![Source::File { name: "notes.csv".into(), bytes: b"a,b\n1,2\n".to_vec() }];
        let err = load_sources(&sources).expect_err("not parquet");
        assert!(err.starts_with("notes.csv: this is not a parquet file"), "{err}");
        assert!(load_sources(&[]).is_err());
    }

    /// Regression: `Injection` was an internally tagged enum, which bincode (the worker
    /// bridge's codec) cannot decode, so a replay with an injection never started.
    #[test]
    fn monitoring_requests_survive_the_worker_codec() {
        use crate::monitoring::inject::Injection;
        use crate::monitoring::replay::ReplayOptions;
        let mut options = ReplayOptions {
            injections: vec![
                Injection::MissingValues { from_day: 2, days: 3, column: "trip_distance".into(), share: 0.3 },
                Injection::Slowdown { from_day: 8, days: 7, speed_factor: 0.6 },
                Injection::RenameColumn {
                    from_day: 20,
                    days: 1,
                    column: "trip_distance".into(),
                    new_name: "d".into(),
                },
                Injection::RetypeColumn { from_day: 21, days: 1, column: "fare_amount".into() },
                Injection::ZonePopularity { from_day: 15, days: 7, zone: 132, share: 0.4 },
            ],
            ..ReplayOptions::default()
        };
        options.drift.overrides.insert(
            "trip_distance".into(),
            crate::drift::ColumnOverride { test: Some(crate::drift::StatTest::Ks), threshold: Some(0.01) },
        );
        let request = Request::Replay {
            reference: vec![Source::Simulated(CityParams::default())],
            current: vec![Source::File { name: "feb.parquet".into(), bytes: vec![1, 2, 3] }],
            options,
        };
        let bytes = bincode::serialize(&request).expect("encodes");
        let back: Request = bincode::deserialize(&bytes).expect("decodes");
        assert_eq!(back, request);
    }
}
