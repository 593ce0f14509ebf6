//! An Evidently-style drift report: the dataset verdict first, then one row per column
//! (drifted columns on top) with its test, score, threshold and a small reference-vs-current
//! chart, then column summaries and, when the truth is known, regression quality.
//!
//! Everything shown is text nodes or an SVG inside an `<img>` (see
//! [`SvgImage`](super::chart::SvgImage)), so a column name or category taken from a
//! learner's file can never become markup.

use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::drift::report::{ColumnStats, Distribution, RegressionQuality};
use mlops_core::drift::{ColumnDrift, ColumnOutcome, ColumnType, DatasetDrift, DriftReport, StatTest};
use plotters::prelude::*;

use super::chart::{SvgImage, BLUE, ORANGE};
use super::run_charts::{format_number, shorten, TickedAxis};

/// At most this many bars per chart; a column with more categories shows its largest.
const MAX_BARS: usize = 24;
const CHART_WIDTH: u32 = 340;
const CHART_HEIGHT: u32 = 130;
const FONT: &str = "sans-serif";

// ----- the pure part -----

/// When this test calls drift, in words: "drift if p < 0.05", "drift if ≥ 0.1".
pub fn rule_text(test: StatTest, threshold: f64) -> String {
    if test.is_p_value() {
        format!("drift if p < {}", format_score(threshold))
    } else {
        format!("drift if ≥ {}", format_score(threshold))
    }
}

/// A score or statistic, short; "—" when there is none.
pub fn format_score(value: f64) -> String {
    if value.is_nan() {
        "—".to_string()
    } else {
        format_number(value)
    }
}

/// A share (0–1) as a percentage with one decimal: "12.5%".
pub fn format_share(share: f64) -> String {
    if share.is_finite() {
        format!("{:.1}%", share * 100.0)
    } else {
        "—".to_string()
    }
}

/// The dataset verdict in a sentence.
pub fn dataset_verdict(dataset: &DatasetDrift) -> String {
    let verdict = if dataset.dataset_drift { "Dataset drift detected" } else { "No dataset drift" };
    format!(
        "{verdict}: {} of {} columns drifted ({}); the report calls dataset drift from {} of the columns.",
        dataset.n_drifted,
        dataset.n_columns,
        format_share(dataset.share_drifted),
        format_share(dataset.drift_share),
    )
}

/// Indices of `columns` in the order the report lists them: drifted first (largest
/// departure first), then the tested columns without drift, then the skipped ones; the
/// report's own order otherwise.
pub fn column_order(columns: &[ColumnDrift]) -> Vec<usize> {
    let group = |c: &ColumnDrift| match c.outcome {
        ColumnOutcome::Tested { drifted: true, .. } => 0,
        ColumnOutcome::Tested { drifted: false, .. } => 1,
        ColumnOutcome::Skipped { .. } => 2,
    };
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (&columns[a], &columns[b]);
        group(ca).cmp(&group(cb)).then_with(|| {
            if group(ca) == 0 {
                severity(cb).total_cmp(&severity(ca))
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    order
}

/// How far past "no drift" a drifted column is, comparable across tests: for a p-value,
/// how many times smaller than the threshold; for a distance, how many times larger.
fn severity(column: &ColumnDrift) -> f64 {
    match column.outcome {
        ColumnOutcome::Tested { test, score, threshold, .. } => {
            let ratio =
                if test.is_p_value() { threshold / score.max(f64::MIN_POSITIVE) } else { score / threshold };
            if ratio.is_nan() {
                0.0
            } else {
                ratio
            }
        }
        ColumnOutcome::Skipped { .. } => 0.0,
    }
}

/// The `data-testid` of a column's row.
pub fn column_testid(name: &str) -> String {
    format!("column-row-{name}")
}

/// The bars a chart draws: every bin, or the [`MAX_BARS`] largest categories (by the
/// larger of the two shares) in their original order, with how many were left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChartBars {
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
    pub hidden: usize,
}

pub fn chart_bars(distribution: &Distribution, max_bars: usize) -> ChartBars {
    let n = distribution.labels.len().min(distribution.reference.len()).min(distribution.current.len());
    let share = |values: &[f64], i: usize| values.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
    let mut keep: Vec<usize> = (0..n).collect();
    if n > max_bars {
        keep.sort_by(|&a, &b| {
            let size = |i| share(&distribution.reference, i).max(share(&distribution.current, i));
            size(b).total_cmp(&size(a)).then(a.cmp(&b))
        });
        keep.truncate(max_bars);
        keep.sort_unstable();
    }
    ChartBars {
        labels: keep.iter().map(|&i| distribution.labels[i].clone()).collect(),
        reference: keep.iter().map(|&i| share(&distribution.reference, i)).collect(),
        current: keep.iter().map(|&i| share(&distribution.current, i)).collect(),
        hidden: n - keep.len(),
    }
}

/// What a tick under a bar says: a numeric bin ("13.55–17.9") by its lower edge, so
/// neighbouring labels stay short and readable; a category by its (shortened) name.
pub fn tick_text(label: &str) -> String {
    if let Some((low, high)) = label.split_once('–') {
        if low.trim().parse::<f64>().is_ok() && high.trim().parse::<f64>().is_ok() {
            return low.trim().to_string();
        }
    }
    shorten(label, 10)
}

/// Reference (blue) and current (orange) shares side by side, one pair per bin or
/// category; an empty distribution gives an empty string (nothing to show).
pub fn distribution_svg(distribution: &Distribution) -> Result<String, String> {
    let bars = chart_bars(distribution, MAX_BARS);
    let n = bars.labels.len();
    if n == 0 {
        return Ok(String::new());
    }
    // Labels under every bar when they fit, else under every k-th.
    let step = n.div_ceil(6);
    let ticks: Vec<f64> = (0..n).step_by(step).map(|i| i as f64 + 0.5).collect();
    let top = bars.reference.iter().chain(&bars.current).copied().fold(0.0, f64::max).max(1e-9) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let x_axis = TickedAxis { inner: (0.0..n as f64).into(), ticks };
        let mut chart = ChartBuilder::on(&root)
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(40)
            .build_cartesian_2d(x_axis, 0.0..top)
            .map_err(|e| e.to_string())?;
        let labels = &bars.labels;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .y_labels(3)
            .label_style((FONT, 10))
            .x_label_formatter(&|x| {
                let index = x.floor().max(0.0) as usize;
                labels.get(index).map(|l| tick_text(l)).unwrap_or_default()
            })
            .y_label_formatter(&|y| format_share(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        for (values, color, offset) in [(&bars.reference, BLUE, 0.1), (&bars.current, ORANGE, 0.5)] {
            chart
                .draw_series(values.iter().enumerate().map(|(i, &share)| {
                    let x0 = i as f64 + offset;
                    Rectangle::new([(x0, 0.0), (x0 + 0.4, share)], color.mix(0.8).filled())
                }))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

// ----- the view -----

/// A whole report. `reference_label`/`current_label` name the two sides when known.
#[component]
pub fn DriftReportView(
    report: Arc<DriftReport>,
    #[prop(optional, into)] reference_label: Option<String>,
    #[prop(optional, into)] current_label: Option<String>,
) -> impl IntoView {
    let dataset = report.dataset.clone();
    let order = column_order(&report.columns);
    let drifted = dataset.dataset_drift;
    let reference_name = reference_label.unwrap_or_else(|| "reference".to_string());
    let current_name = current_label.unwrap_or_else(|| "current".to_string());
    view! {
        <section class="drift-report" data-testid="drift-report">
            <p class="drift-verdict" class:drifted=drifted data-testid="dataset-drift" data-drift=drifted.to_string()>
                <strong>{dataset_verdict(&dataset)}</strong>
            </p>
            <dl class="report-stats">
                <div><dt>"Reference rows"</dt><dd data-testid="reference-rows">{report.reference_rows}</dd></div>
                <div><dt>"Current rows"</dt><dd data-testid="current-rows">{report.current_rows}</dd></div>
                <div><dt>"Columns compared"</dt><dd>{dataset.n_columns}</dd></div>
                <div><dt>"Drifted columns"</dt><dd data-testid="drifted-count">{dataset.n_drifted}</dd></div>
                <div><dt>"Share drifted"</dt><dd>{format_share(dataset.share_drifted)}</dd></div>
                <div><dt>"Drift share needed"</dt><dd>{format_share(dataset.drift_share)}</dd></div>
                <div><dt>"Missing (reference)"</dt><dd>{format_share(report.reference_missing_share)}</dd></div>
                <div><dt>"Missing (current)"</dt><dd data-testid="current-missing">{format_share(report.current_missing_share)}</dd></div>
            </dl>
            <p class="muted">
                "Reference: " <strong>{reference_name.clone()}</strong> " · current: " <strong>{current_name.clone()}</strong>
                ". Missing shares count empty cells of the compared columns."
            </p>

            <h3>"Drift per column"</h3>
            <p class="legend muted">
                <span class="swatch reference"></span> {reference_name} " "
                <span class="swatch current"></span> {current_name}
                " · bars are each side's share of rows per bin or category."
            </p>
            <div class="scroll">
                <table class="drift-columns">
                    <thead><tr>
                        <th>"column"</th><th>"type"</th><th>"test"</th><th class="num">"score"</th>
                        <th>"threshold"</th><th>"verdict"</th><th>"distribution"</th>
                    </tr></thead>
                    <tbody>
                        {order.into_iter().map(|i| view! { <ColumnRow column=report.columns[i].clone()/> }).collect_view()}
                    </tbody>
                </table>
            </div>

            <h3>"Column summaries"</h3>
            <ColumnSummaries stats=report.stats.clone() categorical=categorical_names(&report)/>

            {report.quality.map(|quality| view! { <QualityPanel quality/> })}
        </section>
    }
}

#[component]
fn ColumnRow(column: ColumnDrift) -> impl IntoView {
    let testid = column_testid(&column.name);
    let drifted = column.drifted();
    let counts = format!("{} reference / {} current values", column.reference_values, column.current_values);
    let chart = match &column.outcome {
        ColumnOutcome::Tested { .. } => distribution_svg(&column.distribution),
        ColumnOutcome::Skipped { .. } => Ok(String::new()),
    };
    let hidden = chart_bars(&column.distribution, MAX_BARS).hidden;
    let chart_view = match chart {
        Ok(svg) if svg.is_empty() => view! { <span class="muted">"—"</span> }.into_any(),
        chart => view! {
            <SvgImage svg=chart alt=format!("Reference and current distribution of {}", column.name)
                testid=format!("distribution-{}", column.name)/>
            {(hidden > 0).then(|| view! { <span class="muted small">{format!("{hidden} smaller categories not drawn")}</span> })}
        }
        .into_any(),
    };
    let cells = match &column.outcome {
        ColumnOutcome::Tested { test, score, threshold, drifted } => view! {
            <td>{test.display_name()}</td>
            <td class="num" data-testid="column-score">{format_score(*score)}</td>
            <td>{rule_text(*test, *threshold)}</td>
            <td class="verdict">{if *drifted { "Drift detected" } else { "No drift" }}</td>
        }
        .into_any(),
        ColumnOutcome::Skipped { reason } => view! {
            <td colspan="3" class="muted">{reason.clone()}</td>
            <td class="verdict">"Skipped"</td>
        }
        .into_any(),
    };
    let status = match column.outcome {
        ColumnOutcome::Tested { drifted: true, .. } => "drifted",
        ColumnOutcome::Tested { drifted: false, .. } => "ok",
        ColumnOutcome::Skipped { .. } => "skipped",
    };
    view! {
        <tr class=format!("column-drift {status}") data-testid=testid data-drifted=drifted.to_string() data-status=status>
            <th scope="row" title=counts>{column.name.clone()}</th>
            <td>{column.column_type.label()}</td>
            {cells}
            <td class="chart-cell">{chart_view}</td>
        </tr>
    }
}

/// One number of a summary, blank where the column holds no numbers.
fn stat_cell(value: f64) -> String {
    if value.is_finite() {
        format_number(value)
    } else {
        String::new()
    }
}

fn new_categories_text(stats: &ColumnStats) -> String {
    if stats.new_category_count == 0 {
        return String::new();
    }
    let listed = stats.new_categories.join(", ");
    let more = stats.new_category_count.saturating_sub(stats.new_categories.len());
    if more > 0 {
        format!("{}: {listed} and {more} more", stats.new_category_count)
    } else {
        format!("{}: {listed}", stats.new_category_count)
    }
}

/// The columns compared as categories: only they can have "new categories" (a number the
/// reference never had is not news).
fn categorical_names(report: &DriftReport) -> Vec<String> {
    report
        .columns
        .iter()
        .filter(|c| c.column_type == ColumnType::Categorical)
        .map(|c| c.name.clone())
        .collect()
}

#[component]
fn ColumnSummaries(stats: Vec<(ColumnStats, ColumnStats)>, categorical: Vec<String>) -> impl IntoView {
    let row = |side: &'static str, s: &ColumnStats, first: bool, name: String| {
        let new_categories =
            if first || !categorical.contains(&s.name) { String::new() } else { new_categories_text(s) };
        view! {
            <tr class=side>
                {first.then(|| view! { <th scope="rowgroup" rowspan="2">{name}</th> })}
                <td>{side}</td>
                <td class="num">{s.rows}</td>
                <td class="num">{s.missing}</td>
                <td class="num">{format_share(s.share_missing)}</td>
                <td class="num">{s.n_unique}</td>
                <td class="num">{stat_cell(s.mean)}</td>
                <td class="num">{stat_cell(s.min)}</td>
                <td class="num">{stat_cell(s.q25)}</td>
                <td class="num">{stat_cell(s.median)}</td>
                <td class="num">{stat_cell(s.q75)}</td>
                <td class="num">{stat_cell(s.max)}</td>
                <td class="new-categories">{new_categories}</td>
            </tr>
        }
    };
    view! {
        <div class="scroll">
            <table class="numbers column-summaries" data-testid="column-summaries">
                <thead><tr>
                    <th>"column"</th><th>"data"</th><th>"rows"</th><th>"missing"</th><th>"share missing"</th>
                    <th>"unique"</th><th>"mean"</th><th>"min"</th><th>"25%"</th><th>"50%"</th><th>"75%"</th>
                    <th>"max"</th><th>"new categories"</th>
                </tr></thead>
                {stats.into_iter().map(|(reference, current)| {
                    let name = current.name.clone();
                    let testid = format!("summary-{name}");
                    view! {
                        <tbody data-testid=testid>
                            {row("reference", &reference, true, name.clone())}
                            {row("current", &current, false, name)}
                        </tbody>
                    }
                }).collect_view()}
            </table>
        </div>
    }
}

#[component]
fn QualityPanel(quality: RegressionQuality) -> impl IntoView {
    view! {
        <h3>"Regression quality"</h3>
        <p class="muted">{format!("Over {} rows whose true duration is known. Errors are prediction − truth, in minutes.", quality.rows)}</p>
        <dl class="report-stats" data-testid="regression-quality">
            <div><dt>"RMSE"</dt><dd data-testid="quality-rmse">{format_score(quality.rmse)}</dd></div>
            <div><dt>"MAE"</dt><dd>{format_score(quality.mae)}</dd></div>
            <div><dt>"MAPE"</dt><dd>{format!("{}%", format_score(quality.mape))}</dd></div>
            <div><dt>"Mean error"</dt><dd>{format_score(quality.mean_error)}</dd></div>
            <div><dt>"Error sd"</dt><dd>{format_score(quality.error_sd)}</dd></div>
        </dl>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, outcome: ColumnOutcome) -> ColumnDrift {
        ColumnDrift {
            name: name.to_string(),
            column_type: ColumnType::Numerical,
            outcome,
            reference_values: 10,
            current_values: 10,
            distribution: Distribution::default(),
        }
    }

    fn tested(test: StatTest, score: f64, threshold: f64) -> ColumnOutcome {
        let drifted = if test.is_p_value() { score < threshold } else { score >= threshold };
        ColumnOutcome::Tested { test, score, threshold, drifted }
    }

    #[test]
    fn the_rule_says_which_way_the_threshold_cuts() {
        assert_eq!(rule_text(StatTest::Ks, 0.05), "drift if p < 0.05");
        assert_eq!(rule_text(StatTest::JensenShannon, 0.1), "drift if ≥ 0.1");
        assert_eq!(format_score(f64::NAN), "—");
        assert_eq!(format_share(0.125), "12.5%");
        assert_eq!(format_share(f64::NAN), "—");
    }

    #[test]
    fn drifted_columns_come_first_worst_first_and_skipped_ones_last() {
        let columns = vec![
            column("skipped", ColumnOutcome::Skipped { reason: "absent".into() }),
            column("calm", tested(StatTest::Wasserstein, 0.02, 0.1)),
            column("mild", tested(StatTest::Wasserstein, 0.12, 0.1)),
            column("strong p", tested(StatTest::Ks, 1e-12, 0.05)),
            column("calm p", tested(StatTest::Ks, 0.5, 0.05)),
        ];
        let names: Vec<&str> = column_order(&columns).into_iter().map(|i| columns[i].name.as_str()).collect();
        assert_eq!(names, ["strong p", "mild", "calm", "calm p", "skipped"]);
    }

    #[test]
    fn dataset_verdict_names_counts_and_the_share_needed() {
        let dataset = DatasetDrift {
            n_columns: 7,
            n_drifted: 4,
            share_drifted: 4.0 / 7.0,
            drift_share: 0.5,
            dataset_drift: true,
        };
        assert_eq!(
            dataset_verdict(&dataset),
            "Dataset drift detected: 4 of 7 columns drifted (57.1%); the report calls dataset drift from 50.0% of the columns."
        );
    }

    #[test]
    fn many_categories_keep_the_largest_in_their_order() {
        let distribution = Distribution {
            labels: (0..5).map(|i| i.to_string()).collect(),
            reference: vec![0.1, 0.5, 0.0, 0.3, 0.1],
            current: vec![0.0, 0.1, 0.6, 0.2, f64::NAN],
        };
        let bars = chart_bars(&distribution, 3);
        assert_eq!(bars.labels, ["1", "2", "3"]);
        assert_eq!(bars.reference, [0.5, 0.0, 0.3]);
        assert_eq!(bars.hidden, 2);
        assert_eq!(chart_bars(&distribution, 10).current[4], 0.0);
        assert_eq!(chart_bars(&Distribution::default(), 3), ChartBars::default());
    }

    #[test]
    fn numeric_bins_are_ticked_by_their_lower_edge() {
        assert_eq!(tick_text("13.55–17.9"), "13.55");
        assert_eq!(tick_text("-2–0.5"), "-2");
        assert_eq!(tick_text("Manhattan–Queens border"), "Manhattan…");
        assert_eq!(tick_text("132"), "132");
    }

    #[test]
    fn the_chart_is_an_svg_that_escapes_category_names() {
        let distribution = Distribution {
            labels: vec!["<b>&".into(), "2".into()],
            reference: vec![0.4, 0.6],
            current: vec![0.7, 0.3],
        };
        let svg = distribution_svg(&distribution).expect("svg");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert_eq!(distribution_svg(&Distribution::default()).expect("svg"), "");
    }

    #[test]
    fn new_categories_say_how_many_were_not_listed() {
        let mut stats = ColumnStats {
            name: "PULocationID".into(),
            rows: 10,
            missing: 0,
            share_missing: 0.0,
            n_unique: 3,
            mean: f64::NAN,
            min: f64::NAN,
            q25: f64::NAN,
            median: f64::NAN,
            q75: f64::NAN,
            max: f64::NAN,
            new_categories: vec!["265".into(), "266".into()],
            new_category_count: 5,
        };
        assert_eq!(new_categories_text(&stats), "5: 265, 266 and 3 more");
        stats.new_category_count = 2;
        assert_eq!(new_categories_text(&stats), "2: 265, 266");
        stats.new_category_count = 0;
        assert_eq!(new_categories_text(&stats), "");
    }
}
