//! The course's Chapter 1 lessons hold on the simulated city, so a learner without the
//! real files draws the same conclusions: the zone pair beats separate zones, the
//! duration filter matters, and errors are of the real data's order (val RMSE 7.76).

use mlops_core::data::{load_trips, TripTable};
use mlops_core::features::{
    prepare_trips, trip_dicts, DictVectorizer, DurationFilter, FeatureSet, TRAINING_FIELDS,
};
use mlops_core::metrics::regression_metrics;
use mlops_core::models::{fit, ModelKind, ModelParams};
use mlops_core::simulate::{simulate_month_parquet, CityParams};
use mlops_core::training::{train_and_evaluate, TrainSpec};

fn month(month: u32) -> TripTable {
    let bytes = simulate_month_parquet(&CityParams { month, ..CityParams::default() }).expect("simulate");
    load_trips(bytes.into(), &TRAINING_FIELDS).expect("load")
}

fn val_rmse(feature_set: FeatureSet, train: &TripTable, val: &TripTable) -> f64 {
    let spec = TrainSpec {
        estimator: ModelParams::new(ModelKind::LinearRegression).into(),
        feature_set,
        filter: DurationFilter::default(),
    };
    train_and_evaluate(&spec, train, val, &|| 0.0, &mut |_, _| {}).expect("train").val.rmse
}

#[test]
fn zone_pair_beats_separate_zones_and_errors_match_the_real_order() {
    let (jan, feb) = (month(1), month(2));
    let pair = val_rmse(FeatureSet::PuDo, &jan, &feb);
    let separate = val_rmse(FeatureSet::PuAndDo, &jan, &feb);
    assert!(pair < separate - 1.0, "PU_DO {pair:.3} should clearly beat PU + DO {separate:.3}");
    assert!((4.0..12.0).contains(&pair), "val RMSE {pair:.3} should be of the real data's order (7.76)");
}

#[test]
fn training_without_the_filter_scores_worse_on_ordinary_rides() {
    let (jan, feb) = (month(1), month(2));
    let everything = DurationFilter { min_minutes: f64::NEG_INFINITY, max_minutes: f64::INFINITY };
    let val = prepare_trips(&feb, DurationFilter::default()).expect("val");
    let score = |filter: DurationFilter| {
        let train = prepare_trips(&jan, filter).expect("train");
        let dicts = trip_dicts(FeatureSet::PuDo, &train);
        let vectorizer = DictVectorizer::fit(&dicts[..]);
        let x = vectorizer.transform(&dicts[..]);
        let params = ModelParams::new(ModelKind::LinearRegression).check().expect("params");
        let model = fit(
            &params,
            &x,
            &train.duration_minutes,
            FeatureSet::PuDo,
            vectorizer.feature_names.clone(),
            &mut |_, _| {},
        )
        .expect("fit");
        let val_dicts = trip_dicts(FeatureSet::PuDo, &val);
        let predicted = model.predict(&vectorizer.transform(&val_dicts[..]));
        regression_metrics(&predicted, &val.duration_minutes).rmse
    };
    let (filtered, unfiltered) = (score(DurationFilter::default()), score(everything));
    assert!(unfiltered > filtered * 1.5, "unfiltered {unfiltered:.2} vs filtered {filtered:.2}");
}
