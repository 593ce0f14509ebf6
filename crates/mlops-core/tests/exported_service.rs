//! The exported service, run as a learner runs it: unzip, `pip install -r
//! requirements.txt` into a fresh virtualenv, `gunicorn predict:app`, then the same 1,000
//! rides sent over HTTP must get the durations the core predicts, identical to the bit —
//! for two linear models, a one-hot GBDT and a categorical random forest.
//!
//! Needs `MLOPS_MLFLOW` (the CI's Python setup, see `common/python.rs`) and network access
//! to PyPI the first time; the service virtualenv is then reused from `target/`.

#![cfg(not(target_arch = "wasm32"))]

#[path = "common/python.rs"]
mod python;

use std::time::Instant;

use mlops_core::data::{Field, TripTable};
use mlops_core::features::{FeatureSet, TRAINING_FIELDS};
use mlops_core::models::{Model, ModelKind, ModelParams};
use mlops_core::serving::export::{service_zip, FILE_NAMES, REQUIREMENTS_TXT};
use mlops_core::serving::service::LoadedModel;
use mlops_core::simulate::{simulate_month_parquet, CityParams};
use mlops_core::training::{train_and_evaluate, Estimator, TrainSpec};
use mlops_core::trees::{ForestParams, GbdtParams, TreeEncoding};

fn simulated(month: u32, trips: usize) -> TripTable {
    let bytes =
        simulate_month_parquet(&CityParams { month, trips, ..CityParams::default() }).expect("simulates");
    mlops_core::data::load_trips(bytes.into(), &TRAINING_FIELDS).expect("loads")
}

/// 1,000 rides of a month: pairs seen in training and unseen ones (every fifth ride
/// reversed, a few from the "unknown" zone 265), ordinary distances, and the edges 0 and
/// 499.9 miles (the service refuses more than 500).
fn rides(month: &TripTable) -> Vec<(i64, i64, f64)> {
    let pu = month.integers(Field::PuLocationId).expect("PULocationID");
    let dol = month.integers(Field::DoLocationId).expect("DOLocationID");
    let distance = month.floats(Field::TripDistance).expect("trip_distance");
    let mut rides: Vec<(i64, i64, f64)> = (0..month.n_rows)
        .filter_map(|i| match (pu[i], dol[i], distance[i]) {
            (Some(p), Some(d), Some(miles)) if (0.0..=499.9).contains(&miles) => Some((p, d, miles)),
            _ => None,
        })
        .take(998)
        .enumerate()
        .map(|(k, (p, d, miles))| match k % 50 {
            1 => (265, d, miles),
            _ if k % 5 == 0 => (d, p, miles),
            _ => (p, d, miles),
        })
        .collect();
    rides.push((rides[0].0, rides[0].1, 0.0));
    rides.push((rides[1].0, rides[1].1, 499.9));
    assert_eq!(rides.len(), 1_000);
    rides
}

/// Unzips the exported service, serves it and checks it against the core; returns the
/// largest difference seen.
fn check_service(venv: &std::path::Path, model: &LoadedModel, rides: &[(i64, i64, f64)]) -> f64 {
    let zip = service_zip(&model.model.to_json(), &model.version).expect("zips");
    let folder = python::TempDir::new("service");
    let app = folder.path.join("ride-duration");
    let mut listing = python::unzip(&zip, &app).expect("Python's zipfile opens it");
    listing.sort();
    let mut expected = FILE_NAMES.map(str::to_string).to_vec();
    expected.sort();
    assert_eq!(listing, expected);

    let started = Instant::now();
    let server = python::Gunicorn::start(venv, &app).unwrap_or_else(|e| panic!("{e}"));
    println!("  gunicorn answered /ping after {:.2?}", server.started_in);
    let answers =
        python::predict_rides(&server.url, rides).unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    println!("  {} rides answered in {:.2?}", answers.len(), started.elapsed() - server.started_in);

    let (mut worst, mut identical): (f64, usize) = (0.0, 0);
    for (ride, answer) in rides.iter().zip(&answers) {
        let ours = model.model.predict_ride(model.vectorizer.as_ref(), ride.0, ride.1, ride.2);
        let delta = (answer.duration - ours).abs();
        assert!(delta <= 1e-9, "{ride:?}: {} from gunicorn, {ours} from the core", answer.duration);
        assert_eq!(answer.model_version, model.version);
        worst = worst.max(delta);
        identical += usize::from(answer.duration.to_bits() == ours.to_bits());
    }
    println!("  {identical} of {} durations are identical to the bit", rides.len());
    // Same features, same column order, same additions: not just close, identical.
    assert_eq!(identical, rides.len(), "predict.py no longer sums like predict_ride");

    let post = |body: &str| {
        python::http("POST", &format!("{}/predict", server.url), Some(body.as_bytes())).expect("answers")
    };
    for bad in [
        "",
        "not json",
        "[1, 2]",
        r#"{"PULocationID": 10}"#,
        r#"{"PULocationID": "ten", "DOLocationID": 50, "trip_distance": 1}"#,
        r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": NaN}"#,
    ] {
        let (status, body) = post(bad);
        assert_eq!(status, 400, "{bad:?} → {}", String::from_utf8_lossy(&body));
        let error: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
        assert!(error["error"].as_str().is_some_and(|e| !e.is_empty()), "{error}");
    }
    for too_far in [
        r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": -1}"#,
        r#"{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 500.5}"#,
    ] {
        assert_eq!(post(too_far).0, 422, "{too_far}");
    }
    let (status, body) = post(r#"{"PULocationID": 999, "DOLocationID": 50, "trip_distance": 2}"#);
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 200, "an unknown zone is answered, with a warning: {answer}");
    assert!(answer["warning"].as_str().is_some_and(|w| w.contains("PULocationID 999")), "{answer}");
    assert_eq!(python::http("GET", &format!("{}/predict", server.url), None).expect("answers").0, 405);
    assert_eq!(python::http("GET", &format!("{}/nowhere", server.url), None).expect("answers").0, 404);
    worst
}

#[test]
fn the_exported_service_answers_the_same_durations_as_the_core() {
    if python::analysis_python().is_none() {
        return;
    }
    let started = Instant::now();
    let (jan, feb) = (simulated(1, 20_000), simulated(2, 5_000));
    let train = |spec: TrainSpec, version: &str| {
        let report = train_and_evaluate(&spec, &jan, &feb, &|| 0.0, &mut |_, _| {}).expect("trains");
        LoadedModel::new(report.model, version)
    };
    let baseline = train(TrainSpec::course_baseline(), "nyc-taxi-regressor/1");
    let ridge = TrainSpec {
        estimator: ModelParams::new(ModelKind::Ridge).alpha(0.5).into(),
        feature_set: FeatureSet::PuAndDo,
        ..TrainSpec::course_baseline()
    };
    let ridge = train(ridge, "run-\"pu-and-do\"/ridge");
    // Trees of both kinds and both encodings: boosting on the one-hot PU_DO columns (where an
    // unseen pair is a missing value), a forest on the zones as categories.
    let gbdt = TrainSpec {
        estimator: Estimator::Gbdt(GbdtParams {
            num_boost_round: 40,
            max_depth: 6,
            learning_rate: 0.2,
            seed: 7,
            ..GbdtParams::default()
        }),
        ..TrainSpec::course_baseline()
    };
    let gbdt = train(gbdt, "xgb/one-hot");
    let forest = TrainSpec {
        estimator: Estimator::Forest(ForestParams {
            n_estimators: 20,
            max_depth: Some(12),
            min_samples_leaf: 3,
            random_state: 7,
            encoding: TreeEncoding::Categorical,
            ..ForestParams::default()
        }),
        feature_set: FeatureSet::PuAndDo,
        ..TrainSpec::course_baseline()
    };
    let forest = train(forest, "forest/categorical");
    for (model, trees, encoding) in
        [(&gbdt, 40, TreeEncoding::OneHot), (&forest, 20, TreeEncoding::Categorical)]
    {
        let Model::Trees(ensemble) = &model.model else { panic!("{} is not trees", model.version) };
        assert_eq!((ensemble.trees.len(), ensemble.encoding), (trees, encoding));
        assert!(ensemble.trees.iter().any(|tree| tree.depth() >= 3), "real trees, not stumps");
    }
    let Model::Trees(categorical) = &forest.model else { unreachable!() };
    assert!(
        categorical.trees.iter().any(|tree| tree.categories.iter().any(|zones| !zones.is_empty())),
        "the forest splits on zone sets, which predict.py must follow"
    );
    let rides = rides(&feb);
    let vectorizer = baseline.vectorizer.as_ref().expect("a linear model has a vectorizer");
    let unseen = rides
        .iter()
        .filter(|(pu, dol, _)| vectorizer.index_of(&format!("PU_DO={pu}_{dol}")).is_none())
        .count();
    assert!((100..=900).contains(&unseen), "a mix of seen and unseen zone pairs: {unseen} unseen");
    println!("four models trained in {:.2?}; {unseen} of 1,000 rides have an unseen pair", started.elapsed());

    let venv_started = Instant::now();
    let venv = python::service_venv(REQUIREMENTS_TXT).unwrap_or_else(|e| panic!("{e}"));
    println!("service venv ready in {:.2?}: {}", venv_started.elapsed(), venv.display());

    for model in [&baseline, &ridge, &gbdt, &forest] {
        println!("{} ({}, {:?}):", model.version, model.model.class_name(), model.model.feature_set());
        let worst = check_service(&venv, model, &rides);
        println!("  largest |Δ| = {worst:e} min");
    }
    println!("exported service checked in {:.2?}", started.elapsed());
}
