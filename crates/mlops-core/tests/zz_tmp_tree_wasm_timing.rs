//! TEMPORARY (trees helper): wasm timing of the GBDT fit in node. Deleted before handing back.
#![cfg(target_arch = "wasm32")]
use mlops_core::data::load_trips;
use mlops_core::features::{
    prepare_trips, DictVectorizer, DurationFilter, FeatureSet, TripFeatures, TRAINING_FIELDS,
};
use mlops_core::trees::{fit_forest, fit_gbdt, ForestParams, GbdtParams, TreeInput, TreeMeta};
use wasm_bindgen_test::*;

static JAN: &[u8] = include_bytes!("../../../../shared/data/green_tripdata_2021-01.parquet");
static FEB: &[u8] = include_bytes!("../../../../shared/data/green_tripdata_2021-02.parquet");

#[wasm_bindgen_test]
fn time_trees() {
    let t = wasm_bindgen_test::Instant::now();
    let load = |b: &[u8]| {
        prepare_trips(
            &load_trips(b.to_vec().into(), &TRAINING_FIELDS).expect("load"),
            DurationFilter::default(),
        )
        .expect("prep")
    };
    let (train, val) = (load(JAN), load(FEB));
    let v = DictVectorizer::fit(&TripFeatures { set: FeatureSet::PuDo, trips: &train });
    let xt = v.transform(&TripFeatures { set: FeatureSet::PuDo, trips: &train });
    let xv = v.transform(&TripFeatures { set: FeatureSet::PuDo, trips: &val });
    console_log!("prepare {:?}", t.elapsed());
    let p = GbdtParams { num_boost_round: 200, early_stopping_rounds: None, ..GbdtParams::course_best() }
        .check()
        .expect("p");
    for _ in 0..3 {
        let t = wasm_bindgen_test::Instant::now();
        let fit = fit_gbdt(
            &p,
            TreeInput::OneHot(&xt),
            &train.duration_minutes,
            Some((TreeInput::OneHot(&xv), &val.duration_minutes)),
            TreeMeta { feature_set: FeatureSet::PuDo, feature_names: v.feature_names.clone() },
            &mut |_| {},
        )
        .expect("fit");
        console_log!("gbdt fit {:?} val {:?}", t.elapsed(), fit.history.last());
    }
    if option_env!("TREES_FOREST").is_some() {
        let p = ForestParams { n_estimators: 100, max_depth: Some(20), ..ForestParams::default() }
            .check()
            .expect("p");
        let t = wasm_bindgen_test::Instant::now();
        let m = fit_forest(
            &p,
            TreeInput::OneHot(&xt),
            &train.duration_minutes,
            TreeMeta { feature_set: FeatureSet::PuDo, feature_names: v.feature_names.clone() },
            &mut |_, _| {},
        )
        .expect("fit");
        console_log!("forest fit {:?} trees {}", t.elapsed(), m.trees.len());
    }
}
