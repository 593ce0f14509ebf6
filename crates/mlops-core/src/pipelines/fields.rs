//! The block editor's form: the settings of a block a learner changes most, as text
//! fields read from a [`BlockDef`] and written back to it.
//!
//! The page draws whatever [`fields`] lists and hands every keystroke to [`set_field`],
//! so the form and the block's JSON are two views of one block, and what a field accepts
//! is decided (and tested) here. A field only checks that its text reads as the right
//! kind of value; ranges ("at most 20 retries") are [`PipelineDefinition::validate`]'s
//! job, which the editor runs on every change and shows next to the form.
//!
//! ```
//! use mlops_core::pipelines::definition::{BlockDef, BlockKind};
//! use mlops_core::pipelines::fields::{fields, set_field};
//!
//! let mut block = BlockDef::template(BlockKind::Transformer, "prepare");
//! set_field(&mut block, "duration_filter.max_minutes", "90").unwrap();
//! set_field(&mut block, "retry.retries", "2").unwrap();
//! let max = fields(&block).into_iter().find(|f| f.key == "duration_filter.max_minutes");
//! assert_eq!(max.map(|f| f.value), Some("90".to_string()));
//! assert!(set_field(&mut block, "retry.retries", "two").is_err());
//! ```

use super::definition::{cut, BlockDef, BlockParams, DataType, GateMetric, MonthRef, PipelineDefinition};
use crate::features::FeatureSet;
use crate::models::{ModelKind, ModelParams};
use crate::training::Estimator;
use crate::trees::ForestParams;

/// How a field is edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldInput {
    /// A whole number, 0 or more.
    Whole,
    /// A number with decimals.
    Decimal,
    Text,
    /// Several lines (a note).
    LongText,
    /// `true` or `false`.
    Check,
    /// One of these `(value, label)` pairs.
    Choice(Vec<(&'static str, &'static str)>),
}

/// One field of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// What [`set_field`] takes: `retry.retries`, `duration_filter.min_minutes`, …
    pub key: &'static str,
    pub label: &'static str,
    pub input: FieldInput,
    /// The block's value, as the field shows it.
    pub value: String,
}

fn field(key: &'static str, label: &'static str, input: FieldInput, value: impl ToString) -> Field {
    Field { key, label, input, value: value.to_string() }
}

/// Choice tables are `(value, id)`: the id is what the form and files say.
const TAXIS: [(&str, &str); 2] = [("green", "green"), ("yellow", "yellow")];
const FEATURE_SETS: [(FeatureSet, &str); 2] =
    [(FeatureSet::PuDo, "pu_do"), (FeatureSet::PuAndDo, "pu_and_do")];
const METRICS: [(GateMetric, &str); 3] =
    [(GateMetric::Rmse, "rmse"), (GateMetric::Mae, "mae"), (GateMetric::R2, "r2")];
/// The trainer's models as `(label, id)`.
const MODELS: [(&str, &str); 5] = [
    ("LinearRegression", "linear"),
    ("Ridge", "ridge"),
    ("Lasso", "lasso"),
    ("Gradient-boosted trees", "gbdt"),
    ("Random forest", "forest"),
];

fn model_id(estimator: &Estimator) -> &'static str {
    match estimator {
        Estimator::Linear(params) => match params.kind {
            ModelKind::LinearRegression => "linear",
            ModelKind::Ridge => "ridge",
            ModelKind::Lasso => "lasso",
        },
        Estimator::Gbdt(_) => "gbdt",
        Estimator::Forest(_) => "forest",
    }
}

/// The form of `block`: its operation (when its kind has several), description, retry
/// policy, then the parameters of its operation that the form covers (the JSON has all).
pub fn fields(block: &BlockDef) -> Vec<Field> {
    use FieldInput::{Check, Choice, Decimal, LongText, Text, Whole};
    let mut form = Vec::new();
    let kind = block.params.kind();
    let ops: Vec<(&'static str, &'static str)> = BlockParams::templates()
        .iter()
        .filter(|t| t.kind() == kind)
        .map(|t| (t.op_name(), t.op_name()))
        .collect();
    if ops.len() > 1 {
        form.push(field("op", "operation", Choice(ops), block.params.op_name()));
    }
    form.push(field("description", "description", Text, &block.description));
    let retry = &block.retry;
    form.push(field("retry.retries", "retries", Whole, retry.retries));
    form.push(field("retry.delay", "retry delay (s)", Whole, retry.delay));
    form.push(field("retry.max_delay", "longest delay (s, 0 = none)", Whole, retry.max_delay));
    form.push(field(
        "retry.exponential_backoff",
        "double the delay each time",
        Check,
        retry.exponential_backoff,
    ));
    match &block.params {
        BlockParams::Simulated(source) => {
            form.push(field("simulated.month", "month (2021-01, latest, run, run-1)", Text, source.month));
            form.push(field("simulated.trips", "trips", Whole, source.trips));
            form.push(field("simulated.seed", "seed", Whole, source.seed));
        }
        BlockParams::File(file) => form.push(field("file.name", "file name", Text, &file.name)),
        BlockParams::Url(url) => form.push(field("url.url", "address", Text, &url.url)),
        BlockParams::Catalog(catalog) => {
            form.push(field("catalog.taxi", "taxi", Choice(TAXIS.to_vec()), &catalog.taxi));
            form.push(field("catalog.month", "month (2021-01, latest, run, run-1)", Text, catalog.month));
        }
        BlockParams::DurationFilter(filter) => {
            form.push(field(
                "duration_filter.min_minutes",
                "shortest ride (min)",
                Decimal,
                filter.min_minutes,
            ));
            form.push(field(
                "duration_filter.max_minutes",
                "longest ride (min)",
                Decimal,
                filter.max_minutes,
            ));
        }
        BlockParams::Features(features) => {
            let choices = FEATURE_SETS.iter().map(|(set, id)| (*id, set.label())).collect();
            let id =
                FEATURE_SETS.iter().find(|(set, _)| *set == features.feature_set).map_or("", |(_, id)| id);
            form.push(field("features.feature_set", "features", Choice(choices), id));
        }
        BlockParams::Split(split) => {
            form.push(field(
                "split.validation_fraction",
                "validation share",
                Decimal,
                split.validation_fraction,
            ));
            form.push(field("split.seed", "seed", Whole, split.seed));
        }
        BlockParams::Train(train) => {
            form.push(field(
                "train.model",
                "model",
                Choice(MODELS.iter().map(|(label, id)| (*id, *label)).collect()),
                model_id(&train.estimator),
            ));
            match &train.estimator {
                Estimator::Linear(params) if params.kind.uses_alpha() => {
                    form.push(field("train.alpha", "alpha", Decimal, params.alpha));
                }
                Estimator::Linear(_) => {}
                Estimator::Gbdt(params) => {
                    form.push(field(
                        "train.num_boost_round",
                        "boosting rounds",
                        Whole,
                        params.num_boost_round,
                    ));
                    form.push(field("train.max_depth", "max depth", Whole, params.max_depth));
                    form.push(field("train.learning_rate", "learning rate", Decimal, params.learning_rate));
                }
                Estimator::Forest(params) => {
                    form.push(field("train.n_estimators", "trees", Whole, params.n_estimators));
                    form.push(field(
                        "train.min_samples_leaf",
                        "min rows per leaf",
                        Whole,
                        params.min_samples_leaf,
                    ));
                }
            }
            let run_name = train.run_name.clone().unwrap_or_default();
            form.push(field("train.run_name", "run name (empty: the model's)", Text, run_name));
        }
        BlockParams::Evaluate(evaluate) => {
            let choices = METRICS.iter().map(|(metric, id)| (*id, metric.name())).collect();
            let id = METRICS.iter().find(|(metric, _)| *metric == evaluate.metric).map_or("", |(_, id)| id);
            form.push(field("evaluate.metric", "rank by", Choice(choices), id));
        }
        BlockParams::RegisterModel(register) => {
            form.push(field("register_model.model", "registered model", Text, &register.model));
            form.push(field(
                "register_model.only_if_better",
                "only if the evaluator says so",
                Check,
                register.only_if_better,
            ));
            form.push(field(
                "register_model.archive_existing",
                "archive the version it replaces",
                Check,
                register.archive_existing,
            ));
        }
        BlockParams::BatchPredictions(batch) => {
            form.push(field("batch_predictions.model", "registered model", Text, &batch.model.model));
            form.push(field("batch_predictions.taxi_type", "taxi", Choice(TAXIS.to_vec()), &batch.taxi_type));
        }
        BlockParams::NewData(new_data) => {
            form.push(field("new_data.month", "month (2021-01, latest, run, run-1)", Text, new_data.month));
        }
        BlockParams::Alert(alert) => {
            let rule = alert.rule_id.clone().unwrap_or_default();
            form.push(field("alert.rule_id", "alert rule (empty: any asking to retrain)", Text, rule));
        }
        BlockParams::Markdown(note) => form.push(field("markdown.text", "note", LongText, &note.text)),
    }
    form
}

/// A field's text, read as the field's kind of value; errors name the field.
struct Entry<'a> {
    label: &'a str,
    text: &'a str,
}

impl Entry<'_> {
    fn refuse(&self, what: &str) -> String {
        format!("{}: write {what}, not `{}`", self.label, cut(self.text.trim(), 20))
    }

    fn whole<T: TryFrom<u64>>(&self) -> Result<T, String> {
        let value: u64 = self.text.trim().parse().map_err(|_| self.refuse("a whole number"))?;
        T::try_from(value).map_err(|_| format!("{}: `{value}` is far too large", self.label))
    }

    fn decimal(&self) -> Result<f64, String> {
        match self.text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            _ => Err(self.refuse("a number")),
        }
    }

    fn check(&self) -> bool {
        self.text == "true"
    }

    fn month(&self) -> Result<MonthRef, String> {
        MonthRef::parse(self.text).map_err(|e| format!("{}: {e}", self.label))
    }

    /// The id among `ids` the text names.
    fn pick(&self, ids: &[&'static str]) -> Result<&'static str, String> {
        ids.iter()
            .find(|id| **id == self.text)
            .copied()
            .ok_or_else(|| format!("{}: choose one of {}", self.label, ids.join(", ")))
    }

    fn optional(&self) -> Option<String> {
        Some(self.text.to_string()).filter(|text| !text.trim().is_empty())
    }
}

/// Writes the text of field `key` (one of [`fields`]'s keys) into `block`; a refused
/// text changes nothing. Choosing another operation or model starts from its template's
/// parameters.
pub fn set_field(block: &mut BlockDef, key: &str, text: &str) -> Result<(), String> {
    let label = fields(block).into_iter().find(|f| f.key == key).map_or("this field", |f| f.label);
    let entry = Entry { label, text };
    match key {
        "op" => {
            let template = BlockParams::templates()
                .into_iter()
                .find(|t| t.op_name() == text && t.kind() == block.params.kind())
                .ok_or_else(|| format!("operation: `{}` is not one of this kind's", cut(text, 30)))?;
            if template.op_name() != block.params.op_name() {
                block.kind = template.kind();
                block.params = template;
            }
        }
        "description" => block.description = text.to_string(),
        "retry.retries" => block.retry.retries = entry.whole()?,
        "retry.delay" => block.retry.delay = entry.whole()?,
        "retry.max_delay" => block.retry.max_delay = entry.whole()?,
        "retry.exponential_backoff" => block.retry.exponential_backoff = entry.check(),
        _ => set_param(&mut block.params, key, &entry)?,
    }
    Ok(())
}

fn ids<T>(table: &[(T, &'static str)]) -> Vec<&'static str> {
    table.iter().map(|(_, id)| *id).collect()
}

fn set_param(params: &mut BlockParams, key: &str, entry: &Entry) -> Result<(), String> {
    match (params, key) {
        (BlockParams::Simulated(source), "simulated.month") => source.month = entry.month()?,
        (BlockParams::Simulated(source), "simulated.trips") => source.trips = entry.whole()?,
        (BlockParams::Simulated(source), "simulated.seed") => source.seed = entry.whole()?,
        (BlockParams::File(file), "file.name") => file.name = entry.text.to_string(),
        (BlockParams::Url(url), "url.url") => url.url = entry.text.to_string(),
        (BlockParams::Catalog(catalog), "catalog.taxi") => {
            catalog.taxi = entry.pick(&ids(&TAXIS))?.to_string()
        }
        (BlockParams::Catalog(catalog), "catalog.month") => catalog.month = entry.month()?,
        (BlockParams::DurationFilter(filter), "duration_filter.min_minutes") => {
            filter.min_minutes = entry.decimal()?
        }
        (BlockParams::DurationFilter(filter), "duration_filter.max_minutes") => {
            filter.max_minutes = entry.decimal()?
        }
        (BlockParams::Features(features), "features.feature_set") => {
            let id = entry.pick(&ids(&FEATURE_SETS))?;
            if let Some((set, _)) = FEATURE_SETS.iter().find(|(_, known)| *known == id) {
                features.feature_set = *set;
            }
        }
        (BlockParams::Split(split), "split.validation_fraction") => {
            split.validation_fraction = entry.decimal()?
        }
        (BlockParams::Split(split), "split.seed") => split.seed = entry.whole()?,
        (BlockParams::Train(train), "train.model") => {
            let id = entry.pick(&ids(&MODELS))?;
            if id != model_id(&train.estimator) {
                let alpha = match train.estimator {
                    Estimator::Linear(params) => params.alpha,
                    _ => 1.0,
                };
                train.estimator = match id {
                    "ridge" => Estimator::Linear(ModelParams::new(ModelKind::Ridge).alpha(alpha)),
                    "lasso" => Estimator::Linear(ModelParams::new(ModelKind::Lasso).alpha(alpha)),
                    "gbdt" => Estimator::Gbdt(super::presets::preset_boosting()),
                    "forest" => Estimator::Forest(ForestParams::default()),
                    _ => Estimator::Linear(ModelParams::new(ModelKind::LinearRegression)),
                };
            }
        }
        (BlockParams::Train(train), "train.run_name") => train.run_name = entry.optional(),
        (BlockParams::Train(train), _) => match (&mut train.estimator, key) {
            (Estimator::Linear(params), "train.alpha") if params.kind.uses_alpha() => {
                params.alpha = entry.decimal()?
            }
            (Estimator::Gbdt(params), "train.num_boost_round") => params.num_boost_round = entry.whole()?,
            (Estimator::Gbdt(params), "train.max_depth") => params.max_depth = entry.whole()?,
            (Estimator::Gbdt(params), "train.learning_rate") => params.learning_rate = entry.decimal()?,
            (Estimator::Forest(params), "train.n_estimators") => params.n_estimators = entry.whole()?,
            (Estimator::Forest(params), "train.min_samples_leaf") => {
                params.min_samples_leaf = entry.whole()?
            }
            _ => return Err(no_such_field(key)),
        },
        (BlockParams::Evaluate(evaluate), "evaluate.metric") => {
            let id = entry.pick(&ids(&METRICS))?;
            if let Some((metric, _)) = METRICS.iter().find(|(_, known)| *known == id) {
                evaluate.metric = *metric;
            }
        }
        (BlockParams::RegisterModel(register), "register_model.model") => {
            register.model = entry.text.to_string()
        }
        (BlockParams::RegisterModel(register), "register_model.only_if_better") => {
            register.only_if_better = entry.check()
        }
        (BlockParams::RegisterModel(register), "register_model.archive_existing") => {
            register.archive_existing = entry.check()
        }
        (BlockParams::BatchPredictions(batch), "batch_predictions.model") => {
            batch.model.model = entry.text.to_string()
        }
        (BlockParams::BatchPredictions(batch), "batch_predictions.taxi_type") => {
            batch.taxi_type = entry.pick(&ids(&TAXIS))?.to_string()
        }
        (BlockParams::NewData(new_data), "new_data.month") => new_data.month = entry.month()?,
        (BlockParams::Alert(alert), "alert.rule_id") => alert.rule_id = entry.optional(),
        (BlockParams::Markdown(note), "markdown.text") => note.text = entry.text.to_string(),
        _ => return Err(no_such_field(key)),
    }
    Ok(())
}

fn no_such_field(key: &str) -> String {
    format!("this block has no field `{}` (edit it in the JSON)", cut(key, 40))
}

/// The outputs of type `data_type` that block `id`'s inputs may read: every other
/// block's, as `(block, output)`, in definition order (the editor's choices for a port).
pub fn sources(
    definition: &PipelineDefinition,
    id: &str,
    data_type: DataType,
) -> Vec<(String, &'static str)> {
    definition
        .blocks
        .iter()
        .filter(|b| b.id != id)
        .flat_map(|b| {
            b.params.outputs().iter().filter(|o| o.data_type == data_type).map(|o| (b.id.clone(), o.name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::{BlockKind, RetryPolicy};
    use crate::pipelines::presets::{training, PresetOptions};

    fn value(block: &BlockDef, key: &str) -> String {
        fields(block).into_iter().find(|f| f.key == key).map(|f| f.value).unwrap_or_else(|| panic!("{key}"))
    }

    #[test]
    fn every_field_of_every_template_writes_back_its_own_value() {
        // Writing what a field shows changes nothing: the form and the JSON agree.
        for template in BlockParams::templates() {
            let block = BlockDef::new("block", template);
            for field in fields(&block) {
                let mut copy = block.clone();
                set_field(&mut copy, field.key, &field.value)
                    .unwrap_or_else(|e| panic!("{}: {e}", field.key));
                assert_eq!(copy, block, "{}", field.key);
            }
        }
    }

    #[test]
    fn the_retry_policy_is_edited_as_numbers() {
        let mut block = BlockDef::template(BlockKind::DataLoader, "load");
        set_field(&mut block, "retry.retries", " 5 ").expect("retries");
        set_field(&mut block, "retry.delay", "2").expect("delay");
        set_field(&mut block, "retry.max_delay", "0").expect("max delay");
        set_field(&mut block, "retry.exponential_backoff", "false").expect("backoff");
        assert_eq!(
            block.retry,
            RetryPolicy { retries: 5, delay: 2, max_delay: 0, exponential_backoff: false }
        );
        assert_eq!(
            set_field(&mut block, "retry.retries", "-1").expect_err("negative"),
            "retries: write a whole number, not `-1`"
        );
        assert_eq!(
            set_field(&mut block, "retry.retries", "").expect_err("empty"),
            "retries: write a whole number, not ``"
        );
        assert_eq!(
            set_field(&mut block, "retry.retries", "99999999999").expect_err("huge"),
            "retries: `99999999999` is far too large"
        );
        assert_eq!(block.retry.retries, 5, "a refused edit changes nothing");
    }

    #[test]
    fn parameters_are_read_per_operation() {
        let mut filter = BlockDef::template(BlockKind::Transformer, "prepare");
        assert_eq!(filter.params.op_name(), "duration_filter");
        set_field(&mut filter, "duration_filter.min_minutes", "0.5").expect("min");
        assert_eq!(value(&filter, "duration_filter.min_minutes"), "0.5");
        assert!(set_field(&mut filter, "duration_filter.max_minutes", "NaN").is_err());
        assert_eq!(
            set_field(&mut filter, "simulated.trips", "10").expect_err("not a loader"),
            "this block has no field `simulated.trips` (edit it in the JSON)"
        );

        let mut loader = BlockDef::template(BlockKind::DataLoader, "load");
        set_field(&mut loader, "simulated.month", "run-1").expect("month");
        assert_eq!(value(&loader, "simulated.month"), "run-1");
        assert!(set_field(&mut loader, "simulated.month", "yesterday")
            .expect_err("month")
            .contains("not a month"));
        set_field(&mut loader, "op", "file").expect("switch to a file");
        assert_eq!((loader.kind, loader.params.op_name()), (BlockKind::DataLoader, "file"));
        set_field(&mut loader, "file.name", "green_tripdata_2021-03.parquet").expect("name");
        assert!(set_field(&mut loader, "op", "train").is_err(), "another kind's operation");

        let mut alert = BlockDef::template(BlockKind::Sensor, "wait");
        set_field(&mut alert, "op", "alert").expect("alert sensor");
        set_field(&mut alert, "alert.rule_id", "  ").expect("any rule");
        assert_eq!(
            alert.params,
            BlockParams::Alert(crate::pipelines::definition::AlertSensorParams { rule_id: None })
        );
    }

    #[test]
    fn the_trainer_switches_models_and_keeps_alpha_among_linear_ones() {
        let mut trainer = BlockDef::template(BlockKind::Trainer, "train");
        assert_eq!(value(&trainer, "train.model"), "linear");
        assert!(fields(&trainer).iter().all(|f| f.key != "train.alpha"), "LinearRegression has no alpha");
        set_field(&mut trainer, "train.model", "ridge").expect("ridge");
        set_field(&mut trainer, "train.alpha", "0.1").expect("alpha");
        set_field(&mut trainer, "train.model", "lasso").expect("lasso");
        assert_eq!(value(&trainer, "train.alpha"), "0.1");
        set_field(&mut trainer, "train.model", "gbdt").expect("boosting");
        set_field(&mut trainer, "train.num_boost_round", "30").expect("rounds");
        let BlockParams::Train(train) = &trainer.params else { panic!("a trainer") };
        assert!(
            matches!(train.estimator, Estimator::Gbdt(p) if p.num_boost_round == 30 && p.early_stopping_rounds.is_some())
        );
        assert!(set_field(&mut trainer, "train.alpha", "1").is_err(), "boosting has no alpha");
        assert!(set_field(&mut trainer, "train.model", "svm")
            .expect_err("unknown")
            .contains("choose one of linear"));
    }

    #[test]
    fn sources_offer_other_blocks_outputs_of_the_right_type() {
        let definition = training(&PresetOptions::default());
        let trips = sources(&definition, "prepare_jan", DataType::Trips);
        assert_eq!(trips[..2], [("load_jan".to_string(), "trips"), ("load_feb".to_string(), "trips")]);
        assert!(trips.iter().all(|(block, _)| block != "prepare_jan"), "not its own output");
        let models = sources(&definition, "evaluate", DataType::Model);
        assert_eq!(
            models,
            vec![("train_linear".to_string(), "model"), ("train_boosting".to_string(), "model")]
        );
    }
}
