//! A search's trials in parallel coordinates: one vertical axis per searched
//! hyperparameter and a last one for the loss, one line per trial, coloured by its loss
//! (blue low → orange high; failed trials grey). Axes span the searched range, on a log
//! scale for `loguniform`/`qloguniform`, so a learner sees where in the range the good
//! trials sit.
//!
//! Pure data → SVG (drawn by plotters, shown as an `<img>`), so nothing a learner typed
//! (a parameter name, a choice's text) can become markup in the page.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use mlops_core::search::{Expr, Search, TrialStatus};

use super::chart::{BLUE, GREY, ORANGE};
use super::run_charts::{format_number, message_svg, shorten};

const WIDTH: u32 = 820;
const HEIGHT: u32 = 380;
const FONT: &str = "sans-serif";

/// How an axis places values.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisScale {
    Linear {
        min: f64,
        max: f64,
    },
    /// Positive values, placed by their logarithm.
    Log {
        min: f64,
        max: f64,
    },
    /// A choice: value `i` is option `i`.
    Options(Vec<String>),
}

impl AxisScale {
    /// 0 (bottom) to 1 (top); `None` for a value the axis cannot place.
    pub fn position(&self, value: f64) -> Option<f64> {
        if !value.is_finite() {
            return None;
        }
        let unit =
            |v: f64, lo: f64, hi: f64| if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
        match self {
            AxisScale::Linear { min, max } => Some(unit(value, *min, *max)),
            AxisScale::Log { min, max } => {
                let value = value.max(*min);
                (value > 0.0 && *min > 0.0).then(|| unit(value.ln(), min.ln(), max.ln()))
            }
            AxisScale::Options(options) => {
                let index = value.round();
                (index >= 0.0 && (index as usize) < options.len()).then(|| {
                    if options.len() > 1 {
                        index / (options.len() - 1) as f64
                    } else {
                        0.5
                    }
                })
            }
        }
    }

    /// Tick labels and their positions: the ends, powers of ten on a log axis, every
    /// option of a short choice.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        match self {
            AxisScale::Linear { min, max } if max > min => {
                let mid = (min + max) / 2.0;
                vec![(0.0, format_number(*min)), (0.5, format_number(mid)), (1.0, format_number(*max))]
            }
            AxisScale::Linear { min, .. } => vec![(0.5, format_number(*min))],
            AxisScale::Log { min, max } => {
                let mut ticks = vec![(0.0, format_number(*min)), (1.0, format_number(*max))];
                if *min > 0.0 && max > min {
                    let (lo, hi) = (min.log10().ceil() as i32, max.log10().floor() as i32);
                    for power in lo..=hi {
                        let value = 10f64.powi(power);
                        if let Some(at) = self.position(value).filter(|at| *at > 0.06 && *at < 0.94) {
                            ticks.push((at, format_number(value)));
                        }
                    }
                }
                ticks
            }
            AxisScale::Options(options) => {
                let shown: Vec<usize> = if options.len() <= 6 {
                    (0..options.len()).collect()
                } else {
                    vec![0, options.len() - 1]
                };
                shown
                    .into_iter()
                    .filter_map(|i| Some((self.position(i as f64)?, shorten(&options[i], 12))))
                    .collect()
            }
        }
    }
}

/// One axis: a hyperparameter's label, its scale and every trial's value.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamAxis {
    pub name: String,
    pub scale: AxisScale,
    pub values: Vec<Option<f64>>,
}

/// Every sampled label of a space with its expression, in the space's label order.
fn label_exprs(search: &Search) -> Vec<(String, Expr)> {
    fn walk(expr: &Expr, label: &str, out: &mut Vec<(String, Expr)>) {
        let child = |key: &str| if label.is_empty() { key.to_string() } else { format!("{label}.{key}") };
        match expr {
            Expr::Const(_) => {}
            Expr::Dict(map) => {
                for (key, value) in map {
                    walk(value, &child(key), out);
                }
            }
            Expr::Choice(options) => {
                out.push((label.to_string(), expr.clone()));
                for (index, option) in options.iter().enumerate() {
                    let option_label = if matches!(option, Expr::Dict(_)) {
                        label.to_string()
                    } else {
                        child(&index.to_string())
                    };
                    walk(option, &option_label, out);
                }
            }
            _ => out.push((label.to_string(), expr.clone())),
        }
    }
    let mut out = Vec::new();
    for (key, expr) in &search.spec.space.params {
        walk(expr, key, &mut out);
    }
    out
}

/// How a choice's option reads on its axis.
fn option_text(option: &Expr) -> String {
    match option {
        Expr::Const(value) => match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        },
        Expr::Dict(map) => match map.get("kind").or_else(|| map.get("type")) {
            Some(Expr::Const(serde_json::Value::String(kind))) => kind.clone(),
            _ => format!("{{{}}}", map.keys().cloned().collect::<Vec<_>>().join(", ")),
        },
        Expr::Uniform { .. } | Expr::QUniform { .. } => "uniform".into(),
        Expr::LogUniform { .. } | Expr::QLogUniform { .. } => "loguniform".into(),
        Expr::RandInt { .. } => "randint".into(),
        Expr::Choice(_) => "choice".into(),
    }
}

/// The axes of a search: one per searched label, each over its whole searched range.
pub fn search_axes(search: &Search) -> Vec<ParamAxis> {
    label_exprs(search)
        .into_iter()
        .map(|(label, expr)| {
            let values: Vec<Option<f64>> =
                search.trials.iter().map(|t| t.assignment.get(&label).copied()).collect();
            let scale = match &expr {
                Expr::Uniform { low, high } | Expr::QUniform { low, high, .. } => {
                    AxisScale::Linear { min: *low, max: *high }
                }
                Expr::LogUniform { low, high } | Expr::QLogUniform { low, high, .. } => {
                    AxisScale::Log { min: low.exp(), max: high.exp() }
                }
                Expr::RandInt { low, high } => {
                    AxisScale::Linear { min: *low as f64, max: (*high - 1) as f64 }
                }
                Expr::Choice(options) => AxisScale::Options(options.iter().map(option_text).collect()),
                Expr::Dict(_) | Expr::Const(_) => AxisScale::Linear { min: 0.0, max: 1.0 },
            };
            ParamAxis { name: label, scale, values }
        })
        .collect()
}

/// Every trial's loss (`None` while running or when it failed).
pub fn search_losses(search: &Search) -> Vec<Option<f64>> {
    search.trials.iter().map(|t| t.loss()).collect()
}

/// Whether a trial failed (drawn grey and dashed).
pub fn search_failed(search: &Search) -> Vec<bool> {
    search.trials.iter().map(|t| matches!(t.status, TrialStatus::Failed(_))).collect()
}

fn ramp(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(BLUE.0, ORANGE.0), mix(BLUE.1, ORANGE.1), mix(BLUE.2, ORANGE.2))
}

/// The chart: `axes` then a loss axis; a line per trial through its values.
pub fn parallel_coords_svg(
    axes: &[ParamAxis],
    losses: &[Option<f64>],
    failed: &[bool],
) -> Result<String, String> {
    if axes.is_empty() {
        return message_svg("The space has no searched parameter");
    }
    if losses.is_empty() {
        return message_svg("No trial yet");
    }
    let finite: Vec<f64> = losses.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let loss_axis = ParamAxis {
        name: "loss (val RMSE)".into(),
        scale: if lo <= hi {
            AxisScale::Linear { min: lo, max: hi }
        } else {
            AxisScale::Linear { min: 0.0, max: 1.0 }
        },
        values: losses.to_vec(),
    };
    let all: Vec<&ParamAxis> = axes.iter().chain(std::iter::once(&loss_axis)).collect();
    let last = (all.len() - 1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Trials in parallel coordinates · colour: loss (blue low → orange high)", (FONT, 15))
            .margin(18)
            .build_cartesian_2d(-0.3..last + 0.45, -0.14..1.14)
            .map_err(|e| e.to_string())?;
        // Worst first, so the best trials are drawn on top.
        let mut order: Vec<usize> = (0..losses.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| losses[i].filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
            key(b).total_cmp(&key(a))
        });
        for trial in order {
            let is_failed = failed.get(trial).copied().unwrap_or(false);
            let color = match losses[trial].filter(|v| v.is_finite()) {
                Some(v) if hi > lo => ramp((v - lo) / (hi - lo)),
                Some(_) => ramp(0.0),
                None => GREY,
            };
            if losses[trial].is_none() && !is_failed {
                continue; // still running
            }
            let mut stretch: Vec<(f64, f64)> = Vec::new();
            let mut stretches = Vec::new();
            for (i, axis) in all.iter().enumerate() {
                match axis.values.get(trial).copied().flatten().and_then(|v| axis.scale.position(v)) {
                    Some(y) => stretch.push((i as f64, y)),
                    None => stretches.push(std::mem::take(&mut stretch)),
                }
            }
            stretches.push(stretch);
            let style = if is_failed { GREY.mix(0.5).stroke_width(1) } else { color.stroke_width(2) };
            for stretch in stretches.into_iter().filter(|s| !s.is_empty()) {
                if stretch.len() == 1 {
                    chart.draw_series(stretch.into_iter().map(|p| Circle::new(p, 3, style.filled())))
                } else {
                    chart.draw_series(LineSeries::new(stretch, style))
                }
                .map_err(|e| e.to_string())?;
            }
        }
        let name_style =
            TextStyle::from((FONT, 13).into_font()).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
        let tick_style =
            TextStyle::from((FONT, 11).into_font()).color(&GREY).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, axis) in all.iter().enumerate() {
            let x = i as f64;
            chart
                .draw_series(std::iter::once(PathElement::new([(x, 0.0), (x, 1.0)], BLACK.stroke_width(1))))
                .map_err(|e| e.to_string())?;
            let suffix = if matches!(axis.scale, AxisScale::Log { .. }) { " (log)" } else { "" };
            let mut texts = vec![Text::new(
                format!("{}{suffix}", shorten(&axis.name, 20)),
                (x, 1.09),
                name_style.clone(),
            )];
            for (at, label) in axis.scale.ticks() {
                texts.push(Text::new(label, (x + 0.03, at), tick_style.clone()));
            }
            chart.draw_series(texts).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use mlops_core::search::{Algorithm, Next, SearchSpec, Space};

    use super::*;

    fn search(space: &str, trials: u32) -> Search {
        let space = Space::from_json(space).expect("valid");
        let spec =
            SearchSpec { space, algorithm: Algorithm::Random, max_evals: trials, seed: 3, parallelism: 1 };
        let mut search = Search::new(spec).expect("valid");
        while let Next::Run(trial) = search.next_trial() {
            let outcome =
                if trial.tid == 1 { Err("diverged".to_string()) } else { Ok(f64::from(trial.tid) + 5.0) };
            search.report(trial.tid, outcome).expect("running");
        }
        search
    }

    #[test]
    fn log_axes_place_values_by_their_logarithm() {
        let scale = AxisScale::Log { min: 0.001, max: 1.0 };
        assert!((scale.position(0.001).expect("min")).abs() < 1e-12);
        assert!((scale.position(1.0).expect("max") - 1.0).abs() < 1e-12);
        assert!((scale.position(0.031_622_776_601_683_79).expect("mid") - 0.5).abs() < 1e-9);
        assert_eq!(scale.position(0.0), Some(0.0), "a quantised 0 sits at the bottom");
        let ticks: Vec<String> = scale.ticks().into_iter().map(|t| t.1).collect();
        assert!(ticks.contains(&"0.01".to_string()) && ticks.contains(&"0.1".to_string()), "{ticks:?}");
        assert_eq!(AxisScale::Linear { min: 2.0, max: 2.0 }.position(2.0), Some(0.5));
        assert_eq!(AxisScale::Options(vec!["a".into(), "b".into()]).position(1.0), Some(1.0));
        assert_eq!(AxisScale::Options(vec!["a".into()]).position(3.0), None);
    }

    #[test]
    fn axes_follow_the_space_and_choices_show_their_options() {
        let found = search(
            r#"{"learning_rate": {"loguniform": [-3, 0]}, "max_depth": {"quniform": [2, 8, 1]},
                "n": {"randint": [1, 5]}, "encoding": {"choice": ["one_hot", "categorical"]}, "seed": 1}"#,
            4,
        );
        let axes = search_axes(&found);
        let names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["encoding", "learning_rate", "max_depth", "n"]);
        assert_eq!(axes[0].scale, AxisScale::Options(vec!["one_hot".into(), "categorical".into()]));
        assert!(
            matches!(axes[1].scale, AxisScale::Log { min, max } if (min - (-3f64).exp()).abs() < 1e-12 && max == 1.0)
        );
        assert_eq!(axes[3].scale, AxisScale::Linear { min: 1.0, max: 4.0 });
        assert!(axes.iter().all(|a| a.values.len() == 4 && a.values.iter().all(Option::is_some)));
        assert_eq!(search_losses(&found)[1], None);
        assert_eq!(search_failed(&found), vec![false, true, false, false]);
    }

    #[test]
    fn the_chart_escapes_names_and_says_when_there_is_nothing() {
        let found = search(r#"{"<b>x</b>": {"uniform": [0, 1]}, "y": {"choice": ["<script>", 2]}}"#, 3);
        let svg = parallel_coords_svg(&search_axes(&found), &search_losses(&found), &search_failed(&found))
            .expect("svg");
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "text is escaped");
        assert!(svg.contains("loss (val RMSE)"));
        assert!(parallel_coords_svg(&[], &[], &[]).expect("svg").contains("no searched parameter"));
    }
}
