//! Chapter 1 from the command line, on any TLC green or yellow month:
//!
//! ```text
//! cargo run --release -p mlops-core --example train -- \
//!     --train green_tripdata_2021-01.parquet --val green_tripdata_2021-02.parquet \
//!     --model linear|ridge|lasso [--alpha A] [--features pu_do|pu_and_do]
//! ```
//! Prints one JSON object; a bad file or argument prints the same message as the app and
//! exits with code 2. Instructors use it to check numbers against Python.

use std::process::ExitCode;
use std::time::Instant;

use mlops_core::data::load_trips;
use mlops_core::features::{DurationFilter, FeatureSet, TRAINING_FIELDS};
use mlops_core::models::{ModelKind, ModelParams};
use mlops_core::training::{train_and_evaluate, TrainSpec};

struct Args {
    train: String,
    val: String,
    model: ModelKind,
    alpha: f64,
    features: FeatureSet,
}

const USAGE: &str = "usage: train --train FILE --val FILE --model linear|ridge|lasso [--alpha A] [--features pu_do|pu_and_do]";

fn parse_args() -> Result<Args, String> {
    let mut train = None;
    let mut val = None;
    let mut model = None;
    let mut alpha = 1.0;
    let mut features = FeatureSet::PuDo;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--train" => train = Some(value()?),
            "--val" => val = Some(value()?),
            "--model" => {
                let text = value()?;
                model =
                    Some(ModelKind::parse(&text).ok_or_else(|| format!("unknown model `{text}`\n{USAGE}"))?);
            }
            "--alpha" => {
                let text = value()?;
                alpha = text.parse().map_err(|_| format!("--alpha must be a number, got `{text}`"))?;
            }
            "--features" => {
                features = match value()?.as_str() {
                    "pu_do" => FeatureSet::PuDo,
                    "pu_and_do" => FeatureSet::PuAndDo,
                    other => return Err(format!("unknown feature set `{other}`\n{USAGE}")),
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Args {
        train: train.ok_or_else(|| format!("--train is required\n{USAGE}"))?,
        val: val.ok_or_else(|| format!("--val is required\n{USAGE}"))?,
        model: model.ok_or_else(|| format!("--model is required\n{USAGE}"))?,
        alpha,
        features,
    })
}

fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let load = |path: &str| {
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: cannot read the file: {e}"))?;
        load_trips(bytes.into(), &TRAINING_FIELDS).map_err(|e| format!("{path}: {e}"))
    };
    let train = load(&args.train)?;
    let val = load(&args.val)?;
    let spec = TrainSpec {
        estimator: ModelParams::new(args.model).alpha(args.alpha).into(),
        feature_set: args.features,
        filter: DurationFilter::default(),
    };
    let clock = Instant::now();
    let report = train_and_evaluate(&spec, &train, &val, &|| clock.elapsed().as_secs_f64(), &mut |_, _| {})
        .map_err(|e| e.to_string())?;
    Ok(serde_json::json!({
        "model": args.model.class_name(),
        "alpha": args.model.uses_alpha().then_some(args.alpha),
        "features": args.features,
        "n_train": report.n_train,
        "n_val": report.n_val,
        "n_features": report.n_features,
        "train_nnz": report.train_nnz,
        "train_rmse": report.train.rmse,
        "val_rmse": report.val.rmse,
        "train_mae": report.train.mae,
        "val_mae": report.val.mae,
        "train_r2": report.train.r2,
        "val_r2": report.val.r2,
        "iterations": match &report.model { mlops_core::models::Model::Linear(m) => m.iterations, _ => 0 },
        "fit_seconds": report.fit_seconds,
        "total_seconds": clock.elapsed().as_secs_f64(),
    }))
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
