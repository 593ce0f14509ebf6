//! Chapter 1 on the real files, against scikit-learn.
//!
//! Expected values: scikit-learn 1.9.1 / pandas 3.1 on green_tripdata_2021-01 (train)
//! and green_tripdata_2021-02 (validation), duration filter 1–60 min, DictVectorizer on
//! {PU_DO, trip_distance} — as stated in the project's foundation issue. Tolerance 1e-4.

mod common;

use mlops_core::data::{load_trips, TripTable};
use mlops_core::features::{
    prepare_trips, trip_dicts, DictVectorizer, DurationFilter, FeatureSet, TRAINING_FIELDS,
};
use mlops_core::models::{ModelKind, ModelParams};
use mlops_core::training::{train_and_evaluate, TrainReport, TrainSpec};

const TOLERANCE: f64 = 1e-4;

fn months() -> Option<(TripTable, TripTable)> {
    let jan = common::real_file("green_tripdata_2021-01.parquet")?;
    let feb = common::real_file("green_tripdata_2021-02.parquet")?;
    Some((
        load_trips(jan, &TRAINING_FIELDS).expect("jan loads"),
        load_trips(feb, &TRAINING_FIELDS).expect("feb loads"),
    ))
}

fn train(
    kind: ModelKind,
    alpha: f64,
    feature_set: FeatureSet,
    train: &TripTable,
    val: &TripTable,
) -> TrainReport {
    let spec = TrainSpec {
        estimator: ModelParams::new(kind).alpha(alpha).into(),
        feature_set,
        filter: DurationFilter::default(),
    };
    train_and_evaluate(&spec, train, val, &|| 0.0, &mut |_, _| {}).expect("train")
}

fn assert_close(what: &str, got: f64, expected: f64) {
    assert!((got - expected).abs() <= TOLERANCE, "{what}: got {got:.6}, scikit-learn gives {expected:.6}");
}

#[test]
fn rows_and_sparse_shape_match_pandas_and_dictvectorizer() {
    let Some((jan, feb)) = months() else { return };
    let train = prepare_trips(&jan, DurationFilter::default()).expect("prepare");
    let val = prepare_trips(&feb, DurationFilter::default()).expect("prepare");
    assert_eq!(train.len(), 73_908);
    assert_eq!(val.len(), 61_921);
    let dicts = trip_dicts(FeatureSet::PuDo, &train);
    let vectorizer = DictVectorizer::fit(&dicts[..]);
    let x = vectorizer.transform(&dicts[..]);
    assert_eq!(x.shape(), (73_908, 13_221));
    assert_eq!(x.nnz(), 147_816);
}

#[test]
fn linear_regression_matches_scikit_learn() {
    let Some((jan, feb)) = months() else { return };
    let r = train(ModelKind::LinearRegression, 0.0, FeatureSet::PuDo, &jan, &feb);
    assert_close("train RMSE", r.train.rmse, 5.699564);
    assert_close("val RMSE", r.val.rmse, 7.758715);
}

#[test]
fn ridge_matches_scikit_learn() {
    let Some((jan, feb)) = months() else { return };
    let r = train(ModelKind::Ridge, 1.0, FeatureSet::PuDo, &jan, &feb);
    assert_close("train RMSE", r.train.rmse, 5.645811);
    assert_close("val RMSE", r.val.rmse, 7.703735);
}

#[test]
fn lasso_matches_scikit_learn() {
    let Some((jan, feb)) = months() else { return };
    let r = train(ModelKind::Lasso, 0.01, FeatureSet::PuDo, &jan, &feb);
    assert_close("train RMSE", r.train.rmse, 10.550479);
    assert_close("val RMSE", r.val.rmse, 11.167276);
}

#[test]
fn separate_pu_and_do_match_scikit_learn() {
    let Some((jan, _)) = months() else { return };
    let r = train(ModelKind::LinearRegression, 0.0, FeatureSet::PuAndDo, &jan, &jan);
    assert_eq!(r.n_features, 507);
    assert_close("train RMSE", r.train.rmse, 9.838800);
}
