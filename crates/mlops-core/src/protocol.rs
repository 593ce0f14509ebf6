//! Messages between the page and the training worker.
//!
//! The page sends bytes and settings; the worker keeps the decoded months in its own
//! memory (so a second training does not decode again) and answers with summaries,
//! progress and reports. Both sides are compiled from this one definition.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::data::{load_trips, read_file_info, DataError, Field, FileInfo, TripTable};
use crate::features::{duration_minutes, DurationFilter, FeatureSet};
use crate::simulate::{simulate_month_parquet, CityParams};
use crate::summary::{first_rows, summarize, ColumnSummary, Histogram};
use crate::tracking::autolog::{DataFile, TRAIN_ROLE, VALIDATION_ROLE};
use crate::training::{fit_and_evaluate, Estimator, PreparedData, Stage, TrainReport, TrainSpec};
use crate::trees::{ForestParams, GbdtParams};

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

    /// The role autologging records the slot's files under (`train`, `validation`).
    pub fn role(self) -> &'static str {
        match self {
            Slot::Train => TRAIN_ROLE,
            Slot::Validation => VALIDATION_ROLE,
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
    /// A search's pool worker: decode, filter and vectorize both months once and keep
    /// them; every [`Request::Trial`] after this fits on them.
    PrepareSearch { train: Vec<Source>, val: Vec<Source>, feature_set: FeatureSet, filter: DurationFilter },
    /// One trial of a search: fit this estimator on the prepared months and score it.
    Trial { tid: u32, estimator: Estimator },
    /// The trees benchmark (see `bench/`): decode both months, then fit
    /// [`bench_gbdt_params`] and [`bench_forest_params`], `repeat` times.
    BenchTrees { train: Vec<u8>, val: Vec<u8>, repeat: u32 },
    /// Chapter 3: run one pipeline block (its inputs travel with it; see
    /// [`run_pipeline_block`]).
    RunBlock { request: Box<crate::pipelines::engine::BlockRequest> },
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
    /// The months of a [`Request::PrepareSearch`] are ready.
    SearchPrepared {
        n_train: usize,
        n_val: usize,
        n_features: usize,
        /// The files decoded, with rows and SHA-256, for the trials' runs.
        data_files: Vec<DataFile>,
    },
    /// A trial finished (its report) or failed (why).
    TrialDone {
        tid: u32,
        outcome: Result<Box<TrainReport>, String>,
    },
    TreesBench(TreesBenchReport),
    /// A pipeline block ran: its output or why it failed, and its seconds in the worker.
    BlockDone(Box<BlockDone>),
    Failed {
        message: String,
    },
}

/// The answer to [`Request::RunBlock`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDone {
    pub block_id: String,
    pub result: Result<crate::pipelines::exec::BlockOutput, crate::pipelines::exec::BlockError>,
    /// Wall seconds the block took inside the worker.
    pub seconds: f64,
}

/// Runs one pipeline block as a worker does: timed with `now_seconds`, with progress
/// reported (0–1) to `progress`.
pub fn run_pipeline_block(
    request: &crate::pipelines::engine::BlockRequest,
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(f64),
) -> BlockDone {
    let started = now_seconds();
    let result = request.run_with(&mut crate::pipelines::exec::Hooks { now_seconds, progress });
    BlockDone {
        block_id: request.context.block_id.clone(),
        result,
        seconds: (now_seconds() - started).max(0.0),
    }
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
    let model = LoadedModel::new(report.model, "bench");
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

/// A search worker's months, decoded, filtered and vectorized once, and the files they
/// came from.
pub fn prepare_search(
    train: &[Source],
    val: &[Source],
    feature_set: FeatureSet,
    filter: DurationFilter,
) -> Result<(PreparedData, Vec<DataFile>), String> {
    let (train_table, _, mut files) =
        load_slot(Slot::Train, train).map_err(|e| format!("training data: {e}"))?;
    let (val_table, _, val_files) =
        load_slot(Slot::Validation, val).map_err(|e| format!("validation data: {e}"))?;
    files.extend(val_files);
    let data = PreparedData::new(&train_table, &val_table, feature_set, filter, &mut |_, _| {})
        .map_err(|e| e.to_string())?;
    Ok((data, files))
}

/// One trial on prepared months: the report, or a message for the trial's failure.
pub fn run_trial(
    estimator: &Estimator,
    data: &PreparedData,
    now_seconds: &dyn Fn() -> f64,
    progress: &mut dyn FnMut(Stage, f64),
) -> Result<TrainReport, String> {
    fit_and_evaluate(estimator, data, now_seconds, progress).map_err(|e| e.to_string())
}

/// The trees benchmark's boosting: the course's best parameters, 200 rounds, no early
/// stopping (every runner fits the same number of trees).
pub fn bench_gbdt_params() -> GbdtParams {
    GbdtParams { num_boost_round: 200, early_stopping_rounds: None, ..GbdtParams::course_best() }
}

/// The trees benchmark's forest: 100 trees of depth at most 20, `random_state` 0.
pub fn bench_forest_params() -> ForestParams {
    ForestParams { n_estimators: 100, max_depth: Some(20), random_state: 0, ..ForestParams::default() }
}

/// Timings of [`Request::BenchTrees`], measured inside the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreesBenchReport {
    /// Decoding both months from bytes.
    pub decode_seconds: Vec<f64>,
    /// Filtering and vectorizing both months.
    pub prepare_seconds: Vec<f64>,
    /// Fitting and scoring the GBDT (200 rounds).
    pub gbdt_seconds: Vec<f64>,
    /// Fitting the GBDT only.
    pub gbdt_fit_seconds: Vec<f64>,
    /// Fitting and scoring the forest (100 trees).
    pub forest_seconds: Vec<f64>,
    /// Fitting the forest only.
    pub forest_fit_seconds: Vec<f64>,
    pub decode_median_seconds: f64,
    pub gbdt_median_seconds: f64,
    pub forest_median_seconds: f64,
    pub gbdt_val_rmse: f64,
    pub forest_val_rmse: f64,
    pub n_train: usize,
    pub n_val: usize,
}

/// Decodes both months, then fits the benchmark's GBDT and forest on them, `repeat`
/// times, with the caller's clock.
pub fn run_trees_bench(
    train: &[u8],
    val: &[u8],
    repeat: u32,
    now_seconds: &dyn Fn() -> f64,
) -> Result<TreesBenchReport, String> {
    use crate::features::TRAINING_FIELDS;
    let mut report = TreesBenchReport {
        decode_seconds: Vec::new(),
        prepare_seconds: Vec::new(),
        gbdt_seconds: Vec::new(),
        gbdt_fit_seconds: Vec::new(),
        forest_seconds: Vec::new(),
        forest_fit_seconds: Vec::new(),
        decode_median_seconds: f64::NAN,
        gbdt_median_seconds: f64::NAN,
        forest_median_seconds: f64::NAN,
        gbdt_val_rmse: f64::NAN,
        forest_val_rmse: f64::NAN,
        n_train: 0,
        n_val: 0,
    };
    for _ in 0..repeat.max(1) {
        let start = now_seconds();
        let train_table =
            load_trips(Bytes::from(train.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
        let val_table = load_trips(Bytes::from(val.to_vec()), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
        let decoded = now_seconds();
        report.decode_seconds.push(decoded - start);
        let data = PreparedData::new(
            &train_table,
            &val_table,
            FeatureSet::PuDo,
            DurationFilter::default(),
            &mut |_, _| {},
        )
        .map_err(|e| e.to_string())?;
        report.prepare_seconds.push(now_seconds() - decoded);
        for (estimator, seconds, fit_seconds, rmse) in [
            (
                Estimator::Gbdt(bench_gbdt_params()),
                &mut report.gbdt_seconds,
                &mut report.gbdt_fit_seconds,
                &mut report.gbdt_val_rmse,
            ),
            (
                Estimator::Forest(bench_forest_params()),
                &mut report.forest_seconds,
                &mut report.forest_fit_seconds,
                &mut report.forest_val_rmse,
            ),
        ] {
            let start = now_seconds();
            let fitted = run_trial(&estimator, &data, now_seconds, &mut |_, _| {})?;
            seconds.push(now_seconds() - start);
            fit_seconds.push(fitted.fit_seconds);
            *rmse = fitted.val.rmse;
        }
        report.n_train = data.n_train();
        report.n_val = data.n_val();
    }
    report.decode_median_seconds = crate::summary::median(&report.decode_seconds);
    report.gbdt_median_seconds = crate::summary::median(&report.gbdt_seconds);
    report.forest_median_seconds = crate::summary::median(&report.forest_seconds);
    Ok(report)
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
    /// Each source's name, rows and SHA-256 (a simulated month: of its generated
    /// parquet), which autologging records with every run trained on the slot.
    pub data_files: Vec<DataFile>,
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
    decode_sources(sources, None).map(|(table, infos, _)| (table, infos))
}

/// [`load_sources`] for a slot, also describing each source as a [`DataFile`] of the
/// slot's role (its bytes hashed), for autologging.
pub fn load_slot(slot: Slot, sources: &[Source]) -> Result<LoadedSources, String> {
    decode_sources(sources, Some(slot.role()))
}

/// A decoded slot: the appended table, each source's parquet facts and its [`DataFile`].
pub type LoadedSources = (TripTable, Vec<(String, FileInfo)>, Vec<DataFile>);

fn decode_sources(sources: &[Source], role: Option<&str>) -> Result<LoadedSources, String> {
    if sources.is_empty() {
        return Err("no file was given".to_string());
    }
    let mut table = TripTable::default();
    let mut infos = Vec::new();
    let mut data_files = Vec::new();
    for source in sources {
        let bytes: Bytes = match source {
            Source::File { bytes, .. } => Bytes::from(bytes.clone()),
            Source::Simulated(params) => {
                Bytes::from(simulate_month_parquet(params).map_err(|e| format!("{}: {e}", source.label()))?)
            }
        };
        let describe = |e: DataError| format!("{}: {e}", source.label());
        let info = read_file_info(bytes.clone()).map_err(describe)?;
        if let Some(role) = role {
            // Rows are filled in once decoded; hashing first lets `bytes` move into the loader.
            data_files.push(DataFile::from_bytes(role, &source.label(), &bytes, 0));
        }
        let part = load_trips(bytes, &Field::ALL).map_err(describe)?;
        if let Some(file) = data_files.last_mut() {
            file.rows = part.n_rows;
        }
        infos.push((source.label(), info));
        table.append(part);
    }
    Ok((table, infos, data_files))
}

/// The view of a loaded table.
pub fn dataset_view(
    slot: Slot,
    sources: &[Source],
    table: &TripTable,
    files: Vec<(String, FileInfo)>,
    data_files: Vec<DataFile>,
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
        data_files,
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

    /// Search requests carry typed estimators (no `serde_json::Value`), so they cross the
    /// worker bridge's bincode; a trial's answer carries the report or the message.
    #[test]
    fn search_requests_survive_the_worker_codec() {
        use crate::trees::{MaxFeatures, TreeEncoding};
        let requests = [
            Request::PrepareSearch {
                train: vec![Source::Simulated(CityParams::default())],
                val: vec![Source::File { name: "feb.parquet".into(), bytes: vec![1, 2, 3] }],
                feature_set: FeatureSet::PuAndDo,
                filter: DurationFilter::default(),
            },
            Request::Trial {
                tid: 7,
                estimator: Estimator::Gbdt(GbdtParams {
                    early_stopping_rounds: Some(5),
                    encoding: TreeEncoding::Categorical,
                    ..GbdtParams::course_best()
                }),
            },
            Request::Trial {
                tid: 8,
                estimator: Estimator::Forest(ForestParams {
                    max_features: MaxFeatures::Fraction(0.5),
                    max_depth: None,
                    ..ForestParams::default()
                }),
            },
            Request::BenchTrees { train: vec![1], val: vec![2], repeat: 3 },
        ];
        for request in requests {
            let bytes = bincode::serialize(&request).expect("encodes");
            let back: Request = bincode::deserialize(&bytes).expect("decodes");
            assert_eq!(back, request);
        }
        let failed = Response::TrialDone { tid: 3, outcome: Err("max_depth must be 1 to 64".into()) };
        let back: Response =
            bincode::deserialize(&bincode::serialize(&failed).expect("encodes")).expect("decodes");
        assert_eq!(back, failed);
    }

    /// Regression: a report with a tree model could not cross the worker bridge — the
    /// tree artifact leaves empty fields out of its serde output, which bincode cannot
    /// read back ("Invalid size … sizes must fit in a usize"), so the page stopped when
    /// the first trial (or a Chapter 1 GBDT) came back.
    #[test]
    fn reports_with_tree_models_survive_the_worker_codec() {
        use crate::features::FeatureSet;
        use crate::metrics::RegressionMetrics;
        use crate::trees::{Tree, TreeEncoding, TreeKind, TreeModel};
        let leaf = Tree {
            feature: vec![-1],
            threshold: vec![0.0],
            default_left: vec![true],
            left: vec![0],
            right: vec![0],
            value: vec![12.5],
            ..Tree::default()
        };
        let model = TreeModel {
            kind: TreeKind::Gbdt,
            feature_set: FeatureSet::PuDo,
            encoding: TreeEncoding::OneHot,
            feature_names: vec!["trip_distance".into()],
            base_score: 15.0,
            trees: vec![leaf],
            params: vec![("max_depth".into(), "6".into())],
            best_iteration: None,
        };
        let metrics = RegressionMetrics { rmse: 6.0, mae: 4.0, r2: 0.5 };
        let report = TrainReport {
            n_train: 10,
            n_val: 5,
            n_features: 1,
            train_nnz: 10,
            train: metrics,
            val: metrics,
            fit_seconds: 0.5,
            train_dropped_by_filter: 0,
            val_dropped_by_filter: 0,
            val_unseen_rows: 0,
            val_sample: vec![(1.0, 2.0)],
            model: model.into(),
            history: Vec::new(),
        };
        let done = Response::TrialDone { tid: 4, outcome: Ok(Box::new(report.clone())) };
        for response in [done, Response::Trained(Box::new(report))] {
            let bytes = bincode::serialize(&response).expect("encodes");
            let back: Response = bincode::deserialize(&bytes).expect("decodes");
            assert_eq!(back, response);
        }
    }

    /// A prepared worker answers trials from memory, with the same numbers as a
    /// training from scratch.
    #[test]
    fn trials_on_prepared_months_match_a_full_training() {
        use crate::models::{ModelKind, ModelParams};
        let month = |month| Source::Simulated(CityParams { trips: 3_000, month, ..CityParams::default() });
        let (data, files) =
            prepare_search(&[month(1)], &[month(2)], FeatureSet::PuDo, DurationFilter::default())
                .expect("prepared");
        assert_eq!(files.len(), 2);
        assert_eq!((files[0].role.as_str(), files[1].role.as_str()), ("train", "validation"));
        assert_eq!(files[0].rows, 3_000);
        assert_eq!(files[0].sha256.len(), 64);
        assert!(data.n_train() > 2_500 && data.n_val() > 2_500 && data.n_features() > 100);
        let estimator = Estimator::Linear(ModelParams::new(ModelKind::Ridge).alpha(1.0));
        let trial = run_trial(&estimator, &data, &|| 0.0, &mut |_, _| {}).expect("trained");
        let (train, _) = load_sources(&[month(1)]).expect("train");
        let (val, _) = load_sources(&[month(2)]).expect("val");
        let spec = TrainSpec { estimator, feature_set: FeatureSet::PuDo, filter: DurationFilter::default() };
        let full = crate::training::train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {})
            .expect("trained");
        assert_eq!(trial.val, full.val);
        assert_eq!(trial.n_features, full.n_features);
        let bad = Estimator::Linear(ModelParams::new(ModelKind::Lasso).alpha(-1.0));
        let message = run_trial(&bad, &data, &|| 0.0, &mut |_, _| {}).expect_err("negative alpha");
        assert!(message.contains("alpha"), "{message}");
        let missing = prepare_search(&[], &[month(2)], FeatureSet::PuDo, DurationFilter::default());
        assert!(missing.err().is_some_and(|e| e.starts_with("training data")));
    }

    #[test]
    fn a_loaded_slot_names_hashes_and_counts_each_source() {
        let params = CityParams { trips: 500, ..CityParams::default() };
        let bytes = simulate_month_parquet(&params).expect("simulates");
        let sources = vec![
            Source::File { name: "jan.parquet".into(), bytes: bytes.clone() },
            Source::Simulated(params.clone()),
        ];
        let (table, infos, files) = load_slot(Slot::Validation, &sources).expect("loads");
        assert_eq!(infos.len(), 2);
        let expected = crate::tracking::autolog::sha256_hex(&bytes);
        assert_eq!(files.len(), 2);
        assert_eq!((files[0].role.as_str(), files[0].name.as_str()), ("validation", "jan.parquet"));
        assert_eq!(files[0].sha256, expected);
        assert_eq!(files[1].sha256, expected, "a simulated month hashes its generated parquet");
        assert_eq!(files[1].name, params.label());
        assert_eq!(files[0].rows + files[1].rows, table.n_rows);
        let view = dataset_view(Slot::Validation, &sources, &table, infos, files.clone());
        assert_eq!(view.data_files, files);
        let bytes = bincode::serialize(&Response::Loaded(Box::new(view.clone()))).expect("encodes");
        let back: Response = bincode::deserialize(&bytes).expect("decodes");
        assert_eq!(back, Response::Loaded(Box::new(view)));
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

    /// A pipeline block crosses the worker bridge and back: the request (inputs and all)
    /// and the answer survive bincode, and an injected failure comes back as an error.
    #[test]
    fn a_pipeline_block_runs_through_the_worker_codec() {
        use crate::pipelines::clock::SimTime;
        use crate::pipelines::engine::{OutputCache, PipelineRun, RunContext, Started};
        use crate::pipelines::exec::{BlockError, HostFacts};
        use crate::pipelines::presets::{self, PresetData, PresetOptions};
        let options =
            PresetOptions { data: PresetData::Simulated { trips: 300 }, ..PresetOptions::default() };
        let mut definition = presets::training(&options);
        let now = SimTime(0);
        let cache = OutputCache::new();
        let mut run =
            PipelineRun::new(&definition, RunContext::manual("training", "t#1", now), now).expect("valid");
        let first = run.ready(now)[0].clone();
        let Started::Job(job) = run.start(&first, now, HostFacts::default(), &cache).expect("starts") else {
            panic!("nothing is cached")
        };
        let request = Request::RunBlock { request: Box::new(job.request(&cache).expect("inputs")) };
        let request: Request =
            bincode::deserialize(&bincode::serialize(&request).expect("encodes")).expect("decodes");
        let Request::RunBlock { request } = request else { panic!("a block request") };
        let done = run_pipeline_block(&request, &|| 1.0, &mut |_| {});
        assert_eq!(done.block_id, first);
        assert_eq!(done.result.as_ref().map(|o| o.rows_out), Ok(300));
        let response = Response::BlockDone(Box::new(done));
        let back: Response =
            bincode::deserialize(&bincode::serialize(&response).expect("encodes")).expect("decodes");
        assert_eq!(back, response);
        // The same block with an injected failure fails on its first attempt.
        definition.blocks.iter_mut().find(|b| b.id == first).expect("the block").fail_first_n_attempts = 1;
        let mut run =
            PipelineRun::new(&definition, RunContext::manual("training", "t#2", now), now).expect("valid");
        let Started::Job(job) = run.start(&first, now, HostFacts::default(), &cache).expect("starts") else {
            panic!("nothing is cached")
        };
        let done = run_pipeline_block(&job.request(&cache).expect("inputs"), &|| 1.0, &mut |_| {});
        assert!(matches!(done.result, Err(BlockError::Injected { attempt: 1, of: 1 })), "{:?}", done.result);
    }

    /// Regression: an output preview that left an empty field out of its serde output
    /// (a linear model's learning curve) could not cross the bridge, and the page stopped
    /// mid-run. Here every block of the training pipeline goes through bincode both ways,
    /// as it does between the page and the worker.
    #[test]
    fn every_block_of_the_training_pipeline_crosses_the_worker_codec() {
        use crate::pipelines::clock::SimTime;
        use crate::pipelines::definition::BlockDef;
        use crate::pipelines::engine::{
            drive, BlockRequest, BlockStatus, Host, OutputCache, PipelineRun, RunContext,
        };
        use crate::pipelines::exec::{BlockError, BlockOutput, Effect, EffectResult, HostFacts, Needs};
        use crate::pipelines::presets::{self, PresetData, PresetOptions};

        /// Sends each block through bincode both ways; effects are accepted unapplied.
        struct Bridge;
        impl Host for Bridge {
            fn facts(&mut self, _: &BlockDef, _: &Needs, _: SimTime) -> HostFacts {
                HostFacts::default()
            }
            fn apply(
                &mut self,
                _: &RunContext,
                _: &BlockDef,
                _: &[Effect],
            ) -> Result<Vec<EffectResult>, String> {
                Ok(Vec::new())
            }
            fn run(&mut self, request: &BlockRequest) -> Result<BlockOutput, BlockError> {
                let id = request.context.block_id.clone();
                let request = Request::RunBlock { request: Box::new(request.clone()) };
                let request: Request =
                    bincode::deserialize(&bincode::serialize(&request).expect("encodes")).expect("decodes");
                let Request::RunBlock { request } = request else { panic!("a block request") };
                let response =
                    Response::BlockDone(Box::new(run_pipeline_block(&request, &|| 1.0, &mut |_| {})));
                let back: Response = bincode::deserialize(&bincode::serialize(&response).expect("encodes"))
                    .unwrap_or_else(|e| panic!("block {id}'s answer does not decode: {e}"));
                assert_eq!(back, response, "block {id}");
                let Response::BlockDone(done) = back else { panic!("a block's answer") };
                done.result
            }
        }

        let options =
            PresetOptions { data: PresetData::Simulated { trips: 400 }, ..PresetOptions::default() };
        let definition = presets::training(&options);
        let now = SimTime(0);
        let mut cache = OutputCache::new();
        let mut run =
            PipelineRun::new(&definition, RunContext::manual("training", "t#1", now), now).expect("valid");
        drive(&mut run, &mut cache, &mut Bridge, now).expect("runs to the end");
        for block in &definition.blocks {
            let status = run.status_of(&block.id);
            assert!(
                matches!(status, Some(BlockStatus::Succeeded | BlockStatus::Note)),
                "{}: {status:?}",
                block.id
            );
        }
        let curves: Vec<usize> = run
            .history
            .iter()
            .flat_map(|record| record.outputs.iter().map(|o| o.learning_curve.len()))
            .collect();
        assert!(curves.iter().any(|&n| n > 0), "a boosted model carries its curve: {curves:?}");
        assert!(curves.contains(&0), "the other outputs carry none: {curves:?}");
    }
}
