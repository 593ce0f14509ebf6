//! Chapter 1: the lesson, with the data, training and prediction widgets between its parts.

use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::features::{DurationFilter, FeatureSet};
use mlops_core::models::Model;
use mlops_core::protocol::Slot;
use mlops_core::training::{TrainReport, TrainSpec};

use crate::components::chart::{prediction_histogram_svg, SvgImage};
use crate::components::data_panel::DatasetPanel;
use crate::components::download::download_text;
use crate::components::maturity::MaturityAssessment;
use crate::components::model_form::{ModelForm, ModelFormState};
use crate::components::search_charts::learning_curve_svg;
use crate::routes::Route;
use crate::state::AppState;

#[component]
pub fn Chapter1Page() -> impl IntoView {
    let state = AppState::use_context();
    // The simulated months load by themselves, so the chapter works with no download.
    // (A one-off task after mounting, not an Effect: it writes signals.)
    leptos::task::spawn_local(async move { state.load_defaults() });
    view! {
        <article class="lesson">
            {crate::lesson!("chapter1/intro.md")}
            {crate::lesson!("chapter1/problem.md")}
            <div class="datasets">
                <DatasetPanel month_slot=Slot::Train/>
                <DatasetPanel month_slot=Slot::Validation/>
            </div>
            <ErrorMessage/>
            {crate::lesson!("chapter1/features.md")}
            {crate::lesson!("chapter1/train.md")}
            <TrainPanel/>
            {move || state.report.get().map(|report| view! { <Results report=report/> })}
            {crate::lesson!("chapter1/maturity.md")}
            <MaturityAssessment/>
        </article>
    }
}

#[component]
fn ErrorMessage() -> impl IntoView {
    let state = AppState::use_context();
    view! {
        <Show when=move || state.error.with(Option::is_some)>
            <p class="error" role="alert" data-testid="error">
                {move || state.error.get().unwrap_or_default()}
                " " <button on:click=move |_| state.error.set(None)>"Dismiss"</button>
            </p>
        </Show>
    }
}

#[component]
fn TrainPanel() -> impl IntoView {
    let state = AppState::use_context();
    let form = ModelFormState::new();
    let estimator = Memo::new(move |_| form.estimator());
    let feature_set = RwSignal::new(FeatureSet::PuDo);
    let ready = move || {
        state.train_data.with(Option::is_some)
            && state.val_data.with(Option::is_some)
            && !state.is_busy()
            && estimator.with(Result::is_ok)
    };
    let train = move |_| match estimator.get() {
        Ok(estimator) => state.train(TrainSpec {
            estimator,
            feature_set: feature_set.get(),
            filter: DurationFilter::default(),
        }),
        Err(e) => state.error.set(Some(e.message)),
    };
    view! {
        <div class="train-panel" data-testid="train-panel">
            <ModelForm form/>
            <label>" Features "
                <select data-testid="feature-set" on:change=move |ev| feature_set.set(
                    if event_target_value(&ev) == "pu_and_do" { FeatureSet::PuAndDo } else { FeatureSet::PuDo })>
                    <option value="pu_do" selected>{FeatureSet::PuDo.label()}</option>
                    <option value="pu_and_do">{FeatureSet::PuAndDo.label()}</option>
                </select>
            </label>
            " "
            <button class="primary" data-testid="train" on:click=train disabled=move || !ready()>"Train"</button>
            <Show when=move || !state.train_data.with(Option::is_some) || !state.val_data.with(Option::is_some)>
                <span class="muted">" Load a training and a validation month first."</span>
            </Show>
            <p class="muted">
                "Tuning many settings at once? The " <a href=Route::Search.path()>"hyperparameter search"</a>
                " tries them for you, in parallel workers."
            </p>
        </div>
    }
}

/// What the fit produced, in the model's own terms.
fn model_size(model: &Model) -> String {
    match model {
        Model::Linear(linear) => format!("{} solver iterations", linear.iterations),
        Model::Trees(trees) => {
            let leaves: usize = trees.trees.iter().map(|tree| tree.n_leaves()).sum();
            format!("{} trees, {leaves} leaves", trees.trees.len())
        }
    }
}

fn fmt(value: f64) -> String {
    format!("{value:.4}")
}

#[component]
fn Results(report: Arc<TrainReport>) -> impl IntoView {
    let state = AppState::use_context();
    let chart = prediction_histogram_svg(&report);
    let model = report.model.clone();
    let download = move |_| {
        let name = format!("{}-{:?}.json", model.class_name(), model.feature_set()).to_lowercase();
        if let Err(e) = download_text(&name, "application/json", &model.to_json()) {
            state.error.set(Some(format!("The download did not start: {e}")));
        }
    };
    let unseen_share = report.val_unseen_rows as f64 / report.n_val.max(1) as f64 * 100.0;
    view! {
        <section class="results" data-testid="results">
            <h3>{format!("{} · {}", report.model.class_name(), report.model.feature_set().label())}
                {match &report.model { Model::Linear(linear) => linear.alpha, Model::Trees(_) => None }.map(|a| format!(" · alpha {a}"))}</h3>
            <table class="numbers metrics">
                <thead><tr><th></th><th>"RMSE (min)"</th><th>"MAE (min)"</th><th>"R²"</th><th>"rows"</th></tr></thead>
                <tbody>
                    <tr><td>"training"</td><td data-testid="train-rmse">{fmt(report.train.rmse)}</td><td>{fmt(report.train.mae)}</td><td>{fmt(report.train.r2)}</td><td>{report.n_train}</td></tr>
                    <tr><td>"validation"</td><td data-testid="val-rmse">{fmt(report.val.rmse)}</td><td>{fmt(report.val.mae)}</td><td>{fmt(report.val.r2)}</td><td>{report.n_val}</td></tr>
                </tbody>
            </table>
            <p>
                <span data-testid="n-features">{report.n_features}</span> " features, "
                {report.train_nnz} " non-zeros in the training matrix; fitted in "
                {format!("{:.3}", report.fit_seconds)} " s (" {model_size(&report.model)} "). "
                {format!("{unseen_share:.1}% of validation rides have a zone category never seen in training.")}
            </p>
            <SvgImage svg=chart alt="Distributions of actual and predicted durations on the validation month" testid="prediction-chart"/>
            {(!report.history.is_empty()).then(|| {
                let rounds = report.history.len();
                let best = report.history.iter().filter_map(|r| Some((r.round, r.val_rmse?))).min_by(|a, b| a.1.total_cmp(&b.1));
                view! {
                    <SvgImage svg=learning_curve_svg(&report.history) alt="Training and validation RMSE after every boosting round" testid="learning-curve"/>
                    <p class="muted" data-testid="learning-curve-note">
                        {format!("{rounds} boosting rounds kept")}
                        {best.map(|(round, rmse)| format!("; the best validation RMSE, {rmse:.4}, came at round {round}"))}
                        "."
                    </p>
                }
            })}
            <p>
                <button on:click=download data-testid="download-model">"Download the model (JSON)"</button>
                " · saved as a run — " <a href=Route::Runs.path()>"see all runs"</a>
            </p>
            <PredictForm report=report.clone()/>
        </section>
    }
}

#[component]
fn PredictForm(report: Arc<TrainReport>) -> impl IntoView {
    let pu = RwSignal::new("130".to_string());
    let dol = RwSignal::new("205".to_string());
    let distance = RwSignal::new("3.5".to_string());
    let model = report.model.clone();
    let vectorizer = StoredValue::new(model.vectorizer());
    let answer = Memo::new(move |_| -> Result<String, String> {
        let pu: i64 =
            pu.get().trim().parse().map_err(|_| "the pick-up zone must be a whole number".to_string())?;
        let dol: i64 =
            dol.get().trim().parse().map_err(|_| "the drop-off zone must be a whole number".to_string())?;
        let km: f64 =
            distance.get().trim().parse().map_err(|_| "the distance must be a number".to_string())?;
        if !(0.0..=500.0).contains(&km) {
            return Err("the distance must be between 0 and 500 miles".to_string());
        }
        let minutes = vectorizer.with_value(|v| model.predict_ride(v.as_ref(), pu, dol, km));
        Ok(format!("{minutes:.1} minutes"))
    });
    view! {
        <div class="predict" data-testid="predict">
            <h4>"Predict one ride"</h4>
            <label>"Pick-up zone " <input type="text" size="4" prop:value=move || pu.get() on:input=move |ev| pu.set(event_target_value(&ev))/></label>
            <label>" Drop-off zone " <input type="text" size="4" prop:value=move || dol.get() on:input=move |ev| dol.set(event_target_value(&ev))/></label>
            <label>" Distance (miles) " <input type="text" size="5" prop:value=move || distance.get() on:input=move |ev| distance.set(event_target_value(&ev))/></label>
            <p data-testid="prediction">{move || match answer.get() { Ok(text) => text, Err(e) => format!("Cannot predict: {e}") }}</p>
        </div>
    }
}
