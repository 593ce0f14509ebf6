//! Native timing of Chapter 2's tree ensembles on the course's features: decode both
//! months, vectorize (`PU_DO` one-hot + `trip_distance`), then fit XGBoost-style boosted
//! trees (the course's best parameters, 200 rounds, no early stopping) and a random
//! forest (100 trees, `max_depth` 20, `random_state` 0), each `--repeat` times. Prints
//! JSON with every run's seconds, the medians and the validation RMSE; `bench/trees.py`
//! does the same with XGBoost and scikit-learn.
//!
//! `cargo run --release -p mlops-core --example bench_trees -- TRAIN VAL [--repeat N]
//! [--rounds N] [--trees N] [--forest-max-bin N] [--only gbdt|forest] [--history PATH]`
//!
//! `--history PATH` writes the boosting rounds' scores (JSON), to compare a whole
//! learning curve with XGBoost's.

use std::process::ExitCode;
use std::time::Instant;

use mlops_core::data::load_trips;
use mlops_core::features::{
    prepare_trips, DictVectorizer, DurationFilter, FeatureSet, TripFeatures, TRAINING_FIELDS,
};
use mlops_core::summary::median;
use mlops_core::trees::{fit_forest, fit_gbdt, ForestParams, GbdtParams, TreeInput, TreeMeta, TreeModel};
use serde_json::json;

const USAGE: &str = "usage: bench_trees TRAIN VAL [--repeat N] [--rounds N] [--trees N] \
                     [--forest-max-bin N] [--only gbdt|forest] [--history PATH]";

struct Options {
    train: String,
    val: String,
    repeat: usize,
    rounds: u32,
    trees: u32,
    forest_max_bin: u32,
    only: Option<String>,
    history: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let (mut repeat, mut rounds, mut trees, mut forest_max_bin, mut only, mut history) =
        (3, 200, 100, mlops_core::trees::ForestParams::default().max_bin, None, None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--repeat" => repeat = value("--repeat")?.parse().map_err(|e| format!("--repeat: {e}"))?,
            "--rounds" => rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--trees" => trees = value("--trees")?.parse().map_err(|e| format!("--trees: {e}"))?,
            "--forest-max-bin" => {
                forest_max_bin =
                    value("--forest-max-bin")?.parse().map_err(|e| format!("--forest-max-bin: {e}"))?
            }
            "--only" => only = Some(value("--only")?),
            "--history" => history = Some(value("--history")?),
            _ => paths.push(arg),
        }
    }
    let [train, val] = <[String; 2]>::try_from(paths).map_err(|_| "expected TRAIN and VAL".to_string())?;
    Ok(Options { train, val, repeat: repeat.max(1), rounds, trees, forest_max_bin, only, history })
}

/// Decoded, filtered and vectorized months, with the seconds that took.
struct Prepared {
    x_train: sprs::CsMat<f64>,
    x_val: sprs::CsMat<f64>,
    y_train: Vec<f64>,
    y_val: Vec<f64>,
    names: Vec<String>,
    seconds: f64,
}

fn prepare(train_bytes: &[u8], val_bytes: &[u8]) -> Result<Prepared, String> {
    let start = Instant::now();
    let load = |bytes: &[u8]| {
        let table = load_trips(bytes.to_vec().into(), &TRAINING_FIELDS).map_err(|e| e.to_string())?;
        prepare_trips(&table, DurationFilter::default()).map_err(|e| e.to_string())
    };
    let (train, val) = (load(train_bytes)?, load(val_bytes)?);
    let vectorizer = DictVectorizer::fit(&TripFeatures { set: FeatureSet::PuDo, trips: &train });
    let x_train = vectorizer.transform(&TripFeatures { set: FeatureSet::PuDo, trips: &train });
    let x_val = vectorizer.transform(&TripFeatures { set: FeatureSet::PuDo, trips: &val });
    Ok(Prepared {
        x_train,
        x_val,
        y_train: train.duration_minutes,
        y_val: val.duration_minutes,
        names: vectorizer.feature_names,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn rmse(model: &TreeModel, x: &sprs::CsMat<f64>, y: &[f64]) -> f64 {
    let predictions = model.predict(TreeInput::OneHot(x));
    (predictions.iter().zip(y).map(|(p, y)| (p - y).powi(2)).sum::<f64>() / y.len() as f64).sqrt()
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (Ok(train_bytes), Ok(val_bytes)) = (std::fs::read(&options.train), std::fs::read(&options.val))
    else {
        eprintln!("error: cannot read {} or {}", options.train, options.val);
        return ExitCode::from(2);
    };
    let gbdt_params = GbdtParams {
        num_boost_round: options.rounds,
        early_stopping_rounds: None,
        ..GbdtParams::course_best()
    };
    let forest_params = ForestParams {
        n_estimators: options.trees,
        max_depth: Some(20),
        random_state: 0,
        max_bin: options.forest_max_bin,
        ..ForestParams::default()
    };
    let (Ok(gbdt_params), Ok(forest_params)) = (gbdt_params.check(), forest_params.check()) else {
        eprintln!("error: invalid benchmark parameters");
        return ExitCode::from(2);
    };
    let wants = |name: &str| options.only.as_deref().is_none_or(|only| only == name);

    let mut report = serde_json::Map::new();
    report.insert("runner".into(), json!("native (release)"));
    report.insert("repeat".into(), json!(options.repeat));
    for (name, enabled) in [("gbdt", wants("gbdt")), ("forest", wants("forest"))] {
        if !enabled {
            continue;
        }
        let (mut seconds, mut fit_seconds, mut prepare_seconds) = (Vec::new(), Vec::new(), Vec::new());
        let mut result = json!({});
        for _ in 0..options.repeat {
            let start = Instant::now();
            let data = match prepare(&train_bytes, &val_bytes) {
                Ok(data) => data,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let meta = TreeMeta { feature_set: FeatureSet::PuDo, feature_names: data.names.clone() };
            let fit_start = Instant::now();
            let fitted = if name == "gbdt" {
                fit_gbdt(
                    &gbdt_params,
                    TreeInput::OneHot(&data.x_train),
                    &data.y_train,
                    Some((TreeInput::OneHot(&data.x_val), &data.y_val)),
                    meta,
                    &mut |_| {},
                )
                .map(|fit| (fit.model, fit.history))
            } else {
                fit_forest(
                    &forest_params,
                    TreeInput::OneHot(&data.x_train),
                    &data.y_train,
                    meta,
                    &mut |_, _| {},
                )
                .map(|model| (model, Vec::new()))
            };
            let (model, history) = match fitted {
                Ok(fitted) => fitted,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            fit_seconds.push(fit_start.elapsed().as_secs_f64());
            seconds.push(start.elapsed().as_secs_f64());
            prepare_seconds.push(data.seconds);
            let predict_start = Instant::now();
            let val_rmse = rmse(&model, &data.x_val, &data.y_val);
            let predict_seconds = predict_start.elapsed().as_secs_f64();
            let nodes: usize = model.trees.iter().map(|tree| tree.n_nodes()).sum();
            if let (Some(path), false) = (&options.history, history.is_empty()) {
                if let Err(e) = std::fs::write(path, json!(history).to_string()) {
                    eprintln!("error: cannot write {path}: {e}");
                    return ExitCode::from(2);
                }
            }
            let checkpoints: serde_json::Map<String, serde_json::Value> = [0, 9, 49, 99, 199, 499, 999]
                .iter()
                .filter_map(|&i| history.get(i).map(|r| (format!("{}", i + 1), json!(r.val_rmse))))
                .collect();
            result = json!({
                "val_rmse": val_rmse,
                "train_rmse": rmse(&model, &data.x_train, &data.y_train),
                "trees": model.trees.len(),
                "nodes": nodes,
                "val_rmse_after_rounds": checkpoints,
                "predict_val_seconds": predict_seconds,
            });
        }
        let mut entry = result;
        entry["seconds"] = json!(seconds);
        entry["median_seconds"] = json!(median(&seconds));
        entry["fit_seconds"] = json!(fit_seconds);
        entry["fit_median_seconds"] = json!(median(&fit_seconds));
        entry["prepare_median_seconds"] = json!(median(&prepare_seconds));
        report.insert(name.into(), entry);
    }
    report.insert(
        "params".into(),
        json!({ "gbdt": gbdt_params.get().logged(), "forest": forest_params.get().logged() }),
    );
    println!("{}", serde_json::Value::Object(report));
    ExitCode::SUCCESS
}
