//! Runs side by side (`#/compare?runs=ID,ID`), as MLflow's compare view: a table with a
//! column per run and a row per param or metric (best values marked), then parallel
//! coordinates, a metric-against-param scatter and a metric history overlay.
//!
//! Each run keeps one colour (its table swatch) in the scatter and the overlay; the
//! parallel-coordinates lines are coloured by a chosen metric instead, as MLflow does.

use std::collections::BTreeSet;
use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::tracking::Run;

use crate::components::chart::SvgImage;
use crate::components::run_charts::{
    format_number, history_overlay_svg, palette, parallel_coordinates_svg, scatter_svg, Axis, Cell, ColorBy,
    LineData, ScatterPoint,
};
use crate::routes::{current_hash, decode_segment, hash_query, Route};
use crate::tracking_state::Tracking;

/// At most this many axes are chosen for the parallel-coordinates chart by default.
const DEFAULT_AXES: usize = 10;

/// The run ids in `#/compare?runs=ID,ID`, in order, each once.
pub fn run_ids_from_hash(hash: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (key, value) in hash_query(hash) {
        if key != "runs" {
            continue;
        }
        for id in value.split(',').map(decode_segment) {
            let id = id.trim().to_string();
            if !id.is_empty() && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// Error-like metrics are better low; everything else (R², accuracy…) better high.
pub fn lower_is_better(metric: &str) -> bool {
    let name = metric.to_ascii_lowercase();
    ["rmse", "mae", "loss", "error"].iter().any(|word| name.contains(word))
}

/// The runs holding the best value of a metric; none when fewer than two runs have it
/// or all agree (then nothing stands out).
pub fn best_runs(values: &[Option<f64>], lower_better: bool) -> Vec<usize> {
    let finite: Vec<(usize, f64)> =
        values.iter().enumerate().filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v))).collect();
    let Some(&(_, first)) = finite.first() else { return Vec::new() };
    if finite.len() < 2 || finite.iter().all(|&(_, v)| v == first) {
        return Vec::new();
    }
    let best = if lower_better {
        finite.iter().map(|p| p.1).fold(f64::INFINITY, f64::min)
    } else {
        finite.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max)
    };
    finite.into_iter().filter(|&(_, v)| v == best).map(|(i, _)| i).collect()
}

pub fn all_agree<T: PartialEq>(values: &[T]) -> bool {
    values.windows(2).all(|pair| pair[0] == pair[1])
}

/// A row of the table and an axis of the charts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Param(String),
    Metric(String),
}

impl Key {
    fn name(&self) -> &str {
        match self {
            Key::Param(name) | Key::Metric(name) => name,
        }
    }

    fn cell(&self, run: &Run) -> Cell {
        match self {
            Key::Param(name) => run.params.get(name).map_or(Cell::Missing, |v| Cell::Text(v.clone())),
            Key::Metric(name) => run.metric(name).map_or(Cell::Missing, Cell::Number),
        }
    }
}

fn param_keys(runs: &[Arc<Run>]) -> Vec<String> {
    runs.iter().flat_map(|r| r.params.keys().cloned()).collect::<BTreeSet<_>>().into_iter().collect()
}

fn metric_keys(runs: &[Arc<Run>]) -> Vec<String> {
    runs.iter().flat_map(|r| r.metrics.keys().cloned()).collect::<BTreeSet<_>>().into_iter().collect()
}

fn key_varies(runs: &[Arc<Run>], key: &Key) -> bool {
    let cells: Vec<Cell> = runs.iter().map(|r| key.cell(r)).collect();
    !all_agree(&cells)
}

fn hex(color: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", color.0, color.1, color.2)
}

/// The user's pick if it is still offered, else the default.
fn chosen(pick: Option<String>, offered: &[String], default: Option<String>) -> Option<String> {
    pick.filter(|p| offered.contains(p)).or(default)
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let tracking = Tracking::use_context();
    let ids = RwSignal::new(run_ids_from_hash(&current_hash()));
    let handle =
        window_event_listener(leptos::ev::hashchange, move |_| ids.set(run_ids_from_hash(&current_hash())));
    on_cleanup(move || handle.remove());
    let runs =
        Memo::new(move |_| ids.with(|ids| ids.iter().filter_map(|id| tracking.run(id)).collect::<Vec<_>>()));
    let missing = Memo::new(move |_| {
        ids.with(|ids| ids.iter().filter(|id| tracking.run(id).is_none()).cloned().collect::<Vec<_>>())
    });
    view! {
        <section class="compare-page" data-testid="compare-page">
            <p class="muted breadcrumbs"><a href=Route::Runs.path()>"Runs"</a> " / compare"</p>
            <h1>"Compare runs"</h1>
            {move || {
                if !tracking.ready.get() {
                    return view! { <p class="muted">"Opening the run log…"</p> }.into_any();
                }
                if ids.with(Vec::is_empty) {
                    return view! {
                        <p data-testid="compare-empty">
                            "No runs chosen. Tick two or more runs on the "
                            <a href=Route::Runs.path()>"Runs page"</a> " and press Compare."
                        </p>
                    }
                    .into_any();
                }
                view! {
                    <Show when=move || missing.with(|m| !m.is_empty())>
                        <p class="warning" data-testid="compare-missing">
                            {move || format!("Not found in this browser's run log: {}", missing.get().join(", "))}
                        </p>
                    </Show>
                    <Show
                        when=move || runs.with(|r| !r.is_empty())
                        fallback=|| view! { <p class="muted">"None of these runs exist here."</p> }
                    >
                        <CompareTable runs/>
                        <CompareCharts runs/>
                    </Show>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn CompareTable(runs: Memo<Vec<Arc<Run>>>) -> impl IntoView {
    let diff_only = RwSignal::new(false);
    let rows = move |section: &'static str, keys: Vec<Key>| {
        let runs = runs.get();
        let width = runs.len() + 1;
        let shown: Vec<_> = keys
            .into_iter()
            .filter_map(|key| {
                let cells: Vec<Cell> = runs.iter().map(|r| key.cell(r)).collect();
                if diff_only.get() && all_agree(&cells) {
                    return None;
                }
                let best = match &key {
                    Key::Metric(name) => {
                        let values: Vec<Option<f64>> = runs.iter().map(|r| r.metric(name)).collect();
                        best_runs(&values, lower_is_better(name))
                    }
                    Key::Param(_) => Vec::new(),
                };
                Some(view! {
                    <tr data-testid="compare-row">
                        <th scope="row">{key.name().to_string()}</th>
                        {cells.into_iter().enumerate().map(|(i, cell)| {
                            let (text, title) = match cell {
                                Cell::Number(v) => (format_number(v), v.to_string()),
                                Cell::Text(t) => (t.clone(), t),
                                Cell::Missing => ("—".to_string(), "not logged".to_string()),
                            };
                            let is_best = best.contains(&i);
                            view! { <td class:best=is_best title=title>{text}</td> }
                        }).collect_view()}
                    </tr>
                })
            })
            .collect::<Vec<_>>();
        let empty = shown.is_empty();
        view! {
            <tr class="section"><th colspan=width>{section}</th></tr>
            {shown}
            {empty.then(|| view! {
                <tr><td class="muted" colspan=width>{if diff_only.get() { "All runs agree." } else { "None logged." }}</td></tr>
            })}
        }
    };
    view! {
        <section>
            <label class="diff-toggle">
                <input type="checkbox" data-testid="diff-only"
                    prop:checked=move || diff_only.get() on:change=move |ev| diff_only.set(event_target_checked(&ev))/>
                " Show differences only"
            </label>
            <span class="muted">" · best metric values are highlighted (lowest for rmse, mae, loss and error; highest otherwise)"</span>
            <div class="scroll">
                <table class="compare numbers" data-testid="compare-table">
                    <thead>
                        <tr>
                            <th></th>
                            {move || runs.get().iter().enumerate().map(|(i, run)| view! {
                                <th>
                                    <span class="swatch" style=format!("background:{}", hex(palette(i)))></span>
                                    <a href=Route::Run(run.run_id.clone()).path()>{run.run_name.clone()}</a>
                                    <br/><code class="muted">{run.run_id.chars().take(8).collect::<String>()}</code>
                                </th>
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {move || rows("Parameters", param_keys(&runs.get()).into_iter().map(Key::Param).collect())}
                        {move || rows("Metrics", metric_keys(&runs.get()).into_iter().map(Key::Metric).collect())}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// A `<select>` of `options` showing `current`.
fn key_select(
    testid: &'static str,
    label: &'static str,
    options: Vec<String>,
    current: Option<String>,
    pick: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <label>{label} " "
            <select data-testid=testid on:change=move |ev| pick.set(Some(event_target_value(&ev)))>
                {options.into_iter().map(|option| {
                    let selected = current.as_ref() == Some(&option);
                    let text = option.clone();
                    view! { <option value=option selected=selected>{text}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

#[component]
fn CompareCharts(runs: Memo<Vec<Arc<Run>>>) -> impl IntoView {
    let tracking = Tracking::use_context();
    let params = Memo::new(move |_| param_keys(&runs.get()));
    let metrics = Memo::new(move |_| metric_keys(&runs.get()));
    // The metric to look at first: an error-like one (what the course minimises).
    let main_metric =
        Memo::new(move |_| metrics.with(|m| m.iter().find(|k| lower_is_better(k)).or(m.first()).cloned()));
    let varying_params = Memo::new(move |_| {
        runs.with(|rs| {
            params.with(|ps| {
                ps.iter().filter(|p| key_varies(rs, &Key::Param(p.to_string()))).cloned().collect::<Vec<_>>()
            })
        })
    });

    let color_pick = RwSignal::new(None::<String>);
    let x_pick = RwSignal::new(None::<String>);
    let y_pick = RwSignal::new(None::<String>);
    let overlay_pick = RwSignal::new(None::<String>);
    let axes_pick = RwSignal::new(None::<BTreeSet<Key>>);

    let color_metric = move || metrics.with(|m| chosen(color_pick.get(), m, main_metric.get()));
    let x_param = move || {
        let default =
            varying_params.with(|v| v.first().cloned()).or_else(|| params.with(|p| p.first().cloned()));
        params.with(|p| chosen(x_pick.get(), p, default))
    };
    let y_metric = move || metrics.with(|m| chosen(y_pick.get(), m, main_metric.get()));
    let overlay_metric = move || metrics.with(|m| chosen(overlay_pick.get(), m, main_metric.get()));
    let all_keys = move || {
        let mut keys: Vec<Key> = params.get().into_iter().map(Key::Param).collect();
        keys.extend(metrics.get().into_iter().map(Key::Metric));
        keys
    };
    let axes = move || -> BTreeSet<Key> {
        let offered: BTreeSet<Key> = all_keys().into_iter().collect();
        match axes_pick.get() {
            Some(picked) => picked.intersection(&offered).cloned().collect(),
            // What differs between the runs; everything when nothing does (a single run).
            None => {
                let all = all_keys();
                let varying: Vec<Key> =
                    runs.with(|rs| all.iter().filter(|k| key_varies(rs, k)).cloned().collect());
                let wanted = if varying.is_empty() { all } else { varying };
                let mut picked: Vec<Key> = wanted.into_iter().take(DEFAULT_AXES).collect();
                // The metric the lines are judged by always gets an axis.
                if let Some(main) = main_metric.get().map(Key::Metric) {
                    if !picked.contains(&main) {
                        picked.truncate(DEFAULT_AXES - 1);
                        picked.push(main);
                    }
                }
                picked.into_iter().collect()
            }
        }
    };
    let toggle_axis = move |key: Key, on: bool| {
        let mut current = axes();
        if on {
            current.insert(key);
        } else {
            current.remove(&key);
        }
        axes_pick.set(Some(current));
    };

    let parallel = move || {
        let runs = runs.get();
        let chosen_axes: Vec<Axis> = axes()
            .into_iter()
            .map(|key| Axis {
                name: key.name().to_string(),
                cells: runs.iter().map(|r| key.cell(r)).collect(),
            })
            .collect();
        let labels: Vec<String> = runs.iter().map(|r| r.run_name.clone()).collect();
        let color = color_metric()
            .map(|name| ColorBy { values: runs.iter().map(|r| r.metric(&name)).collect(), name });
        let svg = parallel_coordinates_svg(&chosen_axes, &labels, color.as_ref());
        view! {
            <SvgImage svg alt="Parallel coordinates: one vertical axis per chosen param or metric, one line per run"
                testid="parallel-coordinates"/>
        }
    };
    let scatter = move || {
        let (Some(x), Some(y)) = (x_param(), y_metric()) else {
            return view! { <p class="muted">"The scatter needs a param and a metric logged by these runs."</p> }.into_any();
        };
        let points: Vec<ScatterPoint> = runs.with(|rs| {
            rs.iter()
                .map(|r| ScatterPoint {
                    label: r.run_name.clone(),
                    x: Key::Param(x.clone()).cell(r),
                    y: r.metric(&y),
                })
                .collect()
        });
        let svg = scatter_svg(&x, &y, &points);
        view! { <SvgImage svg alt=format!("{y} against {x}, one dot per run") testid="scatter-chart"/> }
            .into_any()
    };
    // Histories are stored apart from runs: read them for the chosen metric, again on change.
    let overlay = LocalResource::new(move || {
        tracking.revision.track();
        let metric = overlay_metric();
        let targets: Vec<(String, String)> =
            runs.with(|rs| rs.iter().map(|r| (r.run_id.clone(), r.run_name.clone())).collect());
        async move {
            let Some(metric) = metric else { return Ok(None) };
            let client = tracking.open_client().map_err(|e| e.to_string())?;
            let mut lines = Vec::with_capacity(targets.len());
            for (run_id, name) in targets {
                let history = client.get_metric_history(&run_id, &metric).await.map_err(|e| e.to_string())?;
                lines.push(LineData::from_history(name, &history));
            }
            Ok::<_, String>(Some((metric, lines)))
        }
    });

    view! {
        <section class="compare-charts">
            <h2>"Parallel coordinates"</h2>
            <p class="muted">
                "Each vertical axis is one param or metric, scaled from its lowest to its highest value among these runs; "
                "each line is a run. Follow the lines that end well on the metric to see which settings they share."
            </p>
            <div class="chart-controls">
                {move || key_select("parallel-color", "Colour by", metrics.get(), color_metric(), color_pick)}
                <details class="axis-picker">
                    <summary>"Axes"</summary>
                    {move || {
                        let chosen_axes = axes();
                        all_keys().into_iter().map(|key| {
                            let checked = chosen_axes.contains(&key);
                            let kind = if matches!(key, Key::Param(_)) { "param" } else { "metric" };
                            let label = key.name().to_string();
                            view! {
                                <label class="axis-choice">
                                    <input type="checkbox" data-testid="axis-choice" prop:checked=checked
                                        on:change=move |ev| toggle_axis(key.clone(), event_target_checked(&ev))/>
                                    " " {label} " " <span class="muted">{kind}</span>
                                </label>
                            }
                        }).collect_view()
                    }}
                </details>
            </div>
            {parallel}

            <h2>"Metric against param"</h2>
            <div class="chart-controls">
                {move || key_select("scatter-x", "x: param", params.get(), x_param(), x_pick)}
                {move || key_select("scatter-y", "y: metric", metrics.get(), y_metric(), y_pick)}
            </div>
            {scatter}

            <h2>"Metric history"</h2>
            <div class="chart-controls">
                {move || key_select("overlay-metric", "Metric", metrics.get(), overlay_metric(), overlay_pick)}
            </div>
            {move || overlay.get().map(|found| match found {
                Ok(Some((metric, lines))) => view! {
                    <SvgImage svg=history_overlay_svg(&metric, &lines)
                        alt=format!("{metric} by step, one line per run") testid="history-overlay"/>
                }.into_any(),
                Ok(None) => view! { <p class="muted">"These runs logged no metrics."</p> }.into_any(),
                Err(e) => view! { <p class="error">{format!("The histories could not be read: {e}")}</p> }.into_any(),
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_come_from_the_hash_query_decoded_and_once_each() {
        assert_eq!(run_ids_from_hash("#/compare?runs=a1,b2,a1,,c%2F3"), vec!["a1", "b2", "c/3"]);
        assert_eq!(run_ids_from_hash("#/compare"), Vec::<String>::new());
        assert_eq!(run_ids_from_hash(&Route::compare(&["x y".into(), "z".into()])), vec!["x y", "z"]);
    }

    #[test]
    fn best_values_are_lowest_for_errors_and_highest_otherwise() {
        assert!(lower_is_better("val_rmse") && lower_is_better("MAE") && lower_is_better("train_loss"));
        assert!(lower_is_better("mean_squared_error") && !lower_is_better("r2"));
        let values = [Some(6.5), None, Some(5.9), Some(f64::NAN), Some(5.9)];
        assert_eq!(best_runs(&values, true), vec![2, 4]);
        assert_eq!(best_runs(&values, false), vec![0]);
        assert!(best_runs(&[Some(1.0), Some(1.0)], true).is_empty(), "a tie of all is not a best");
        assert!(best_runs(&[Some(1.0), None], true).is_empty(), "one value is not a comparison");
        assert!(best_runs(&[], true).is_empty());
    }

    #[test]
    fn rows_agree_only_when_every_run_has_the_same_value() {
        assert!(all_agree(&[Cell::Text("1".into()), Cell::Text("1".into())]));
        assert!(!all_agree(&[Cell::Text("1".into()), Cell::Missing]));
        assert!(all_agree::<Cell>(&[]));
    }
}
