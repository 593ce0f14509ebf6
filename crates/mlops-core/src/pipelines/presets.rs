//! The course's three pipelines, ready to run.
//!
//! 1. [`training`]: January and February 2021 → duration filter → vectorize → a
//!    LinearRegression and a boosted-trees model → evaluate both on February → register
//!    the better one, promoted to Production if it beats the current Production model.
//! 2. [`retraining`]: monthly (or on a drift alert) → the newest month → retrain on 80 %
//!    → compare with Production on the 20 % holdout → promote, or keep Production.
//! 3. [`batch_inference`]: monthly → score the previous month with the Production model
//!    → the course's `taxi_type=green/year=…/month=…/<run id>.parquet`.
//!
//! With [`PresetData::Simulated`] they need no file at all: every loader simulates its
//! month. With [`PresetData::Files`] the loaders read the TLC files (by name, or from the
//! catalog for relative months), which the host resolves to bytes.

use super::definition::{
    AlertSensorParams, BatchParams, BlockDef, BlockParams, CatalogSource, DurationFilterParams,
    EvaluateParams, FeaturesParams, FileSource, Gate, GateMetric, MarkdownParams, ModelRef, ModelTarget,
    MonthRef, NewDataParams, PipelineDefinition, RegisterParams, RetryPolicy, SimulatedSource, SplitParams,
    TrainParams,
};
use super::schedule::{Schedule, TriggerDef, TriggerKind};
use crate::features::FeatureSet;
use crate::models::{ModelKind, ModelParams};
use crate::training::Estimator;
use crate::trees::GbdtParams;

/// The registered model every preset reads and writes, as in the course.
pub const REGISTERED_MODEL: &str = "nyc-taxi-regressor";
pub const TRAINING: &str = "training";
pub const RETRAINING: &str = "retraining";
pub const BATCH_INFERENCE: &str = "batch-inference";

/// Where the presets' months come from.
#[derive(Debug, Clone, PartialEq)]
pub enum PresetData {
    /// The simulated city, `trips` per month: works with no download.
    Simulated { trips: usize },
    /// The TLC's green-taxi files: `green_tripdata_2021-01.parquet` and `…-02` for
    /// training, the catalog month for the monthly pipelines.
    Files,
}

/// Knobs of the presets (the defaults suit the browser).
#[derive(Debug, Clone, PartialEq)]
pub struct PresetOptions {
    pub data: PresetData,
    /// The boosted trees the training pipeline fits next to LinearRegression.
    pub boosting: GbdtParams,
    /// What the retraining pipeline fits.
    pub retrain_with: Estimator,
}

impl Default for PresetOptions {
    fn default() -> Self {
        let boosting = preset_boosting();
        Self {
            data: PresetData::Simulated { trips: 20_000 },
            boosting,
            retrain_with: Estimator::Gbdt(boosting),
        }
    }
}

/// XGBoost's defaults with 60 rounds, early stopping and the categorical encoding of the
/// zones: a few seconds on a month in the browser, and better than LinearRegression
/// (the course's tuned model takes 1,000 rounds of depth 30).
pub fn preset_boosting() -> GbdtParams {
    GbdtParams {
        num_boost_round: 60,
        early_stopping_rounds: Some(10),
        seed: 42,
        encoding: crate::trees::TreeEncoding::Categorical,
        ..GbdtParams::default()
    }
}

/// Loaders retry: a download can fail, and a learner can watch it recover.
pub(crate) fn loader_retry() -> RetryPolicy {
    RetryPolicy { retries: 3, delay: 1, max_delay: 60, exponential_backoff: true }
}

/// A sensor checks again every day of simulated time, for up to two weeks.
pub(crate) fn sensor_retry() -> RetryPolicy {
    RetryPolicy { retries: 14, delay: 86_400, max_delay: 86_400, exponential_backoff: false }
}

fn loader(id: &str, data: &PresetData, month: MonthRef, file: Option<&str>) -> BlockDef {
    let params = match (data, file) {
        (PresetData::Simulated { trips }, _) => BlockParams::Simulated(SimulatedSource::new(month, *trips)),
        (PresetData::Files, Some(name)) => BlockParams::File(FileSource { name: name.to_string() }),
        (PresetData::Files, None) => BlockParams::Catalog(CatalogSource { taxi: "green".into(), month }),
    };
    BlockDef::new(id, params).retry(loader_retry())
}

fn note(id: &str, text: &str) -> BlockDef {
    BlockDef::new(id, BlockParams::Markdown(MarkdownParams { text: text.to_string() }))
}

fn filter(id: &str, from: &str) -> BlockDef {
    BlockDef::new(id, BlockParams::DurationFilter(DurationFilterParams::default()))
        .input("trips", from, "trips")
}

fn trainer(id: &str, estimator: Estimator, from: &str) -> BlockDef {
    BlockDef::new(id, BlockParams::Train(TrainParams { estimator, run_name: None })).input(
        "training_set",
        from,
        "training_set",
    )
}

fn beats_production() -> EvaluateParams {
    EvaluateParams {
        metric: GateMetric::Rmse,
        gate: Gate::BeatsModel(ModelRef::production(REGISTERED_MODEL)),
    }
}

fn register(id: &str, only_if_better: bool) -> BlockDef {
    BlockDef::new(
        id,
        BlockParams::RegisterModel(RegisterParams {
            model: REGISTERED_MODEL.to_string(),
            promote_to: Some(ModelTarget::default()),
            only_if_better,
            archive_existing: true,
        }),
    )
}

fn month(year: i32, month: u32) -> MonthRef {
    // The presets name real months only.
    MonthRef::month(year, month).unwrap_or(MonthRef::Latest)
}

/// The training pipeline (see the module docs). Started by hand.
pub fn training(options: &PresetOptions) -> PipelineDefinition {
    let data = &options.data;
    let mut definition = PipelineDefinition::new(
        TRAINING,
        "Chapter 3's training pipeline: two months → prepare → vectorize → LinearRegression and boosted trees → \
         evaluate → register the better model and promote it if it beats Production.",
    );
    definition.blocks = vec![
        note(
            "about",
            "Each block is one step of the Chapter 1 notebook. Blocks in the same column run at the same time; \
             a change to one block re-runs only the blocks after it.",
        ),
        loader("load_jan", data, month(2021, 1), Some("green_tripdata_2021-01.parquet"))
            .describe("January 2021: the training month"),
        loader("load_feb", data, month(2021, 2), Some("green_tripdata_2021-02.parquet"))
            .describe("February 2021: the validation month"),
        filter("prepare_jan", "load_jan").describe("duration in minutes, rides of 1–60 min"),
        filter("prepare_feb", "load_feb").describe("duration in minutes, rides of 1–60 min"),
        BlockDef::new("vectorize", BlockParams::Features(FeaturesParams { feature_set: FeatureSet::PuDo }))
            .input("train", "prepare_jan", "trips")
            .input("val", "prepare_feb", "trips")
            .describe("DictVectorizer on PU_DO + trip_distance"),
        trainer("train_linear", Estimator::Linear(ModelParams::new(ModelKind::LinearRegression)), "vectorize"),
        trainer("train_boosting", Estimator::Gbdt(options.boosting), "vectorize"),
        BlockDef::new("evaluate", BlockParams::Evaluate(beats_production()))
            .input("candidates", "train_linear", "model")
            .input("candidates", "train_boosting", "model")
            .input("dataset", "prepare_feb", "trips")
            .describe("validation RMSE of both, and of the current Production model"),
        register("register", false)
            .input("model", "evaluate", "best")
            .input("decision", "evaluate", "decision")
            .describe("register the better model; promote it only if it beats Production"),
    ];
    definition.triggers = vec![TriggerDef { id: "by_hand".into(), kind: TriggerKind::Manual, enabled: true }];
    definition
}

/// The retraining pipeline (see the module docs): monthly on day 1, or on a drift alert
/// that asks for retraining. A "new data" trigger is included but disabled (with both,
/// every month would retrain twice).
pub fn retraining(options: &PresetOptions) -> PipelineDefinition {
    let data = &options.data;
    let mut definition = PipelineDefinition::new(
        RETRAINING,
        "Retrain on the newest month, compare with Production on a holdout, promote or keep.",
    );
    let newest = MonthRef::RunMinus(1);
    definition.blocks = vec![
        note(
            "about",
            "Runs on the 1st of every month and when a drift alert asks for retraining. The newest month is the \
             one before the run's date; the sensor waits (retrying daily) until it is published.",
        ),
        BlockDef::new("wait_for_data", BlockParams::NewData(NewDataParams { month: newest }))
            .retry(sensor_retry()),
        loader("load_month", data, newest, None).input("after", "wait_for_data", "signal"),
        filter("prepare", "load_month"),
        BlockDef::new("split", BlockParams::Split(SplitParams { validation_fraction: 0.2, seed: 42 }))
            .input("trips", "prepare", "trips")
            .describe("80 % to retrain on, 20 % held out to compare"),
        BlockDef::new("vectorize", BlockParams::Features(FeaturesParams { feature_set: FeatureSet::PuDo }))
            .input("train", "split", "train")
            .input("val", "split", "val"),
        trainer("retrain", options.retrain_with, "vectorize"),
        BlockDef::new("compare", BlockParams::Evaluate(beats_production()))
            .input("candidates", "retrain", "model")
            .input("dataset", "split", "val")
            .describe("the new model and Production on the same holdout"),
        register("promote_or_keep", true)
            .input("model", "compare", "best")
            .input("decision", "compare", "decision")
            .describe("register and promote only if the new model is better"),
    ];
    definition.triggers = vec![
        TriggerDef {
            id: "monthly".into(),
            kind: TriggerKind::Schedule(Schedule::monthly_on_day_1()),
            enabled: true,
        },
        TriggerDef { id: "drift".into(), kind: TriggerKind::Alert { rule_id: None }, enabled: true },
        TriggerDef { id: "new_month".into(), kind: TriggerKind::NewData, enabled: false },
    ];
    definition
}

/// The batch inference pipeline (see the module docs): monthly on day 1 at 06:00, after
/// the retraining run of the night.
pub fn batch_inference(options: &PresetOptions) -> PipelineDefinition {
    let data = &options.data;
    let mut definition = PipelineDefinition::new(
        BATCH_INFERENCE,
        "Score the previous month with the Production model and write the course's batch output.",
    );
    let previous = MonthRef::RunMinus(1);
    definition.blocks = vec![
        note("about", "The course's score.py as a pipeline: one file of predictions per month."),
        BlockDef::new("wait_for_data", BlockParams::NewData(NewDataParams { month: previous }))
            .retry(sensor_retry()),
        loader("load_month", data, previous, None).input("after", "wait_for_data", "signal"),
        BlockDef::new(
            "score",
            BlockParams::BatchPredictions(BatchParams {
                model: ModelRef::production(REGISTERED_MODEL),
                taxi_type: "green".into(),
                seed: 42,
            }),
        )
        .input("trips", "load_month", "trips")
        .describe("taxi_type=green/year=…/month=…/<run id>.parquet"),
    ];
    definition.triggers = vec![TriggerDef {
        id: "monthly".into(),
        kind: TriggerKind::Schedule(Schedule::Monthly { day: 1, hour: 6, minute: 0 }),
        enabled: true,
    }];
    definition
}

/// An alert sensor block, for learners who build an alert-gated pipeline by hand.
pub fn alert_sensor(id: &str) -> BlockDef {
    BlockDef::new(id, BlockParams::Alert(AlertSensorParams { rule_id: None }))
}

/// All three, in the order the chapter introduces them.
pub fn all(options: &PresetOptions) -> Vec<PipelineDefinition> {
    vec![training(options), retraining(options), batch_inference(options)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::{export, import_str};
    use crate::pipelines::graph;

    #[test]
    fn every_preset_is_valid_and_round_trips_as_a_file() {
        for data in [PresetData::Simulated { trips: 1_000 }, PresetData::Files] {
            let options = PresetOptions { data, ..PresetOptions::default() };
            for definition in all(&options) {
                definition.validate().unwrap_or_else(|e| panic!("{}: {e}", definition.name));
                let text = export(&definition);
                assert!(text.len() < 20_000, "{} is {} bytes", definition.name, text.len());
                assert_eq!(import_str(&text).expect("imports"), definition);
            }
        }
    }

    #[test]
    fn the_training_pipeline_trains_both_models_in_one_wave() {
        let plan = graph::plan(&training(&PresetOptions::default())).expect("valid");
        assert_eq!(
            plan.waves,
            vec![
                vec!["load_jan", "load_feb"],
                vec!["prepare_jan", "prepare_feb"],
                vec!["vectorize"],
                vec!["train_linear", "train_boosting"],
                vec!["evaluate"],
                vec!["register"],
            ]
        );
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }
}
