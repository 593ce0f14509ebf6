//! The monitoring dashboard's charts: a daily metric over the replayed month, with the
//! alert rules' thresholds as dashed lines, and a column's reference-against-current
//! distribution as tiny paired bars.
//!
//! Pure functions — data in, SVG document out — drawn by plotters and shown through
//! [`SvgImage`](super::chart::SvgImage), like [`run_charts`](super::run_charts). The x
//! axis always spans the whole month, so the days not revealed yet are visibly empty; a
//! day whose value is unknown (RMSE before its truth arrives, a prediction drift the
//! report skipped) is a gap in the line, not a zero.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use mlops_core::drift::report::Distribution;

use super::chart::{BLUE, ORANGE};
use super::run_charts::{format_number, message_svg, palette, shorten};

const WIDTH: u32 = 540;
const HEIGHT: u32 = 260;
const FONT: &str = "sans-serif";
const THRESHOLD: RGBColor = RGBColor(200, 40, 40);
/// The strip under a chart that holds its legend.
const LEGEND_HEIGHT: u32 = 22;

/// One line: a value (or a gap) per day index, from day 0 up to the last revealed day.
#[derive(Debug, Clone, PartialEq)]
pub struct DaySeries {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

/// A horizontal line at a rule's threshold, labelled with the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub label: String,
    pub value: f64,
}

/// How the y axis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YFormat {
    Number,
    /// Shares (0–1) shown as percentages.
    Percent,
}

impl YFormat {
    pub fn format(self, value: f64) -> String {
        match self {
            YFormat::Number => format_number(value),
            YFormat::Percent => format!("{}%", format_number(value * 100.0)),
        }
    }
}

/// The consecutive present, finite values of a series: each run becomes one line.
pub fn segments(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (day, value) in values.iter().enumerate() {
        match value.filter(|v| v.is_finite()) {
            Some(v) => current.push((day as f64, v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A daily metric over a month of `days` days. `empty_message` is shown when no series
/// has a value yet.
pub fn metric_series_svg(
    caption: &str,
    y_format: YFormat,
    days: usize,
    series: &[DaySeries],
    thresholds: &[Threshold],
    empty_message: &str,
) -> Result<String, String> {
    let lines: Vec<Vec<Vec<(f64, f64)>>> = series.iter().map(|s| segments(&s.values)).collect();
    let values: Vec<f64> = lines.iter().flatten().flatten().map(|p| p.1).collect();
    if values.is_empty() {
        return message_svg(empty_message);
    }
    let limits: Vec<f64> = thresholds.iter().map(|t| t.value).filter(|v| v.is_finite()).collect();
    let top = values.iter().chain(&limits).copied().fold(f64::NEG_INFINITY, f64::max);
    let bottom = values.iter().chain(&limits).copied().fold(0.0, f64::min);
    let span = top - bottom;
    let (y_low, y_high) = if span > 1e-12 {
        (if bottom < 0.0 { bottom - span * 0.08 } else { 0.0 }, top + span * 0.12)
    } else {
        (bottom - 0.5, top + 0.5)
    };
    let longest = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let days = days.max(longest).max(1);
    let x_range = -0.5..(days as f64 - 0.5);
    let legend = series.len() > 1 || !limits.is_empty();

    // (label, colour, dashed) of each legend entry, drawn in a strip under the chart so
    // it never hides a point.
    let mut entries: Vec<(String, RGBColor, bool)> = Vec::new();
    if legend {
        entries.extend(series.iter().enumerate().map(|(i, s)| (shorten(&s.label, 28), palette(i), false)));
        entries.extend(
            thresholds
                .iter()
                .filter(|t| t.value.is_finite())
                .map(|t| (shorten(&t.label, 40), THRESHOLD, true)),
        );
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let legend_height = if entries.is_empty() { 0 } else { LEGEND_HEIGHT };
        let (body, strip) = root.split_vertically(HEIGHT - legend_height);
        let mut chart = ChartBuilder::on(&body)
            .caption(caption, (FONT, 15))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(52)
            .build_cartesian_2d(x_range.clone(), y_low..y_high)
            .map_err(|e| e.to_string())?;
        // Day numbers of the month (day index 0 is the 1st), whole days only.
        let x_label = |v: &f64| {
            let day = v.round();
            if (v - day).abs() < 1e-6 && day >= 0.0 {
                format!("{}", day as i64 + 1)
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("day of the month")
            .x_labels(days.min(15))
            .x_label_formatter(&x_label)
            .y_label_formatter(&|v| y_format.format(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for threshold in thresholds.iter().filter(|t| t.value.is_finite()) {
            let points = [(x_range.start, threshold.value), (x_range.end, threshold.value)];
            chart
                .draw_series(DashedLineSeries::new(points, 6, 4, THRESHOLD.stroke_width(1)))
                .map_err(|e| e.to_string())?;
        }
        for (i, runs) in lines.iter().enumerate() {
            let color = palette(i);
            for run in runs {
                chart
                    .draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
        }
        let style = TextStyle::from((FONT, 11).into_font()).color(&RGBColor(60, 60, 60));
        let mut x = 62;
        let y = LEGEND_HEIGHT as i32 / 2;
        for (label, color, dashed) in &entries {
            let mark = [(x, y), (x + 16, y)];
            if *dashed {
                strip
                    .draw(&DashedPathElement::new(mark, 4, 3, color.stroke_width(1)))
                    .map_err(|e| e.to_string())?;
            } else {
                strip.draw(&PathElement::new(mark, color.stroke_width(2))).map_err(|e| e.to_string())?;
            }
            let anchored = style.pos(Pos::new(HPos::Left, VPos::Center));
            strip.draw(&Text::new(label.clone(), (x + 20, y), anchored)).map_err(|e| e.to_string())?;
            x += 20 + 7 * label.chars().count() as i32 + 16;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Reference (blue) and current (orange) shares per bin or category, side by side; no
/// axes: the drift table next to it carries the numbers.
pub fn distribution_svg(distribution: &Distribution) -> Result<String, String> {
    const W: u32 = 180;
    const H: u32 = 48;
    let bins = distribution.labels.len().min(distribution.reference.len()).min(distribution.current.len());
    let share = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let top = distribution.reference[..bins]
        .iter()
        .chain(&distribution.current[..bins])
        .copied()
        .map(share)
        .fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        if bins == 0 || top <= 0.0 {
            let style = TextStyle::from((FONT, 11).into_font()).color(&RGBColor(120, 120, 120));
            root.draw(&Text::new("no values", (6, 18), style)).map_err(|e| e.to_string())?;
        } else {
            let mut chart = ChartBuilder::on(&root)
                .margin(2)
                .build_cartesian_2d(0.0..bins as f64, 0.0..top * 1.05)
                .map_err(|e| e.to_string())?;
            let bars = |values: &[f64], offset: f64, color: RGBColor| {
                values[..bins]
                    .iter()
                    .enumerate()
                    .map(move |(i, &v)| {
                        let x0 = i as f64 + offset;
                        Rectangle::new([(x0, 0.0), (x0 + 0.42, share(v))], color.mix(0.8).filled())
                    })
                    .collect::<Vec<_>>()
            };
            chart.draw_series(bars(&distribution.reference, 0.08, BLUE)).map_err(|e| e.to_string())?;
            chart.draw_series(bars(&distribution.current, 0.5, ORANGE)).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    fn assert_drawable(svg: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn gaps_split_a_series_into_runs() {
        let values = [Some(1.0), Some(2.0), None, Some(f64::NAN), Some(3.0), None];
        assert_eq!(segments(&values), vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(4.0, 3.0)]]);
        assert!(segments(&[None, None]).is_empty());
        assert!(segments(&[]).is_empty());
    }

    #[test]
    fn a_series_with_a_gap_draws_two_lines_a_dot_per_day_and_the_threshold() {
        let series =
            [DaySeries { label: "rmse".into(), values: vec![Some(5.0), Some(6.0), None, Some(7.0)] }];
        let thresholds = [Threshold { label: "rmse > 10".into(), value: 10.0 }];
        let svg =
            metric_series_svg("RMSE", YFormat::Number, 28, &series, &thresholds, "none").expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<circle"), 3);
        // Two runs of the series and the legend's mark (the dashes are separate lines).
        assert!(count(&svg, "<polyline") >= 3, "{svg}");
        assert!(svg.contains("rmse &gt; 10"), "{svg}");
    }

    #[test]
    fn nothing_revealed_says_so_and_one_day_or_a_constant_still_draws() {
        let empty = metric_series_svg("x", YFormat::Number, 28, &[], &[], "No days yet").expect("drawn");
        assert_drawable(&empty);
        assert!(empty.contains("No days yet"));
        let gaps = [DaySeries { label: "x".into(), values: vec![None, None] }];
        assert!(metric_series_svg("x", YFormat::Number, 28, &gaps, &[], "Nothing")
            .expect("drawn")
            .contains("Nothing"));
        let one = [DaySeries { label: "x".into(), values: vec![Some(0.0)] }];
        let svg = metric_series_svg("x", YFormat::Percent, 0, &one, &[], "none").expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<circle"), 1);
    }

    #[test]
    fn percentages_read_as_percent() {
        assert_eq!(YFormat::Percent.format(0.05), "5%");
        assert_eq!(YFormat::Number.format(0.05), "0.05");
    }

    #[test]
    fn distributions_draw_paired_bars_and_survive_ragged_or_empty_input() {
        let distribution = Distribution {
            labels: vec!["a".into(), "b".into(), "c".into()],
            reference: vec![0.2, 0.5, 0.3],
            current: vec![0.1, 0.1, 0.8],
        };
        let svg = distribution_svg(&distribution).expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<rect"), 7, "background + 6 bars: {svg}");
        let ragged =
            Distribution { labels: vec!["a".into()], reference: vec![0.5, 0.5], current: vec![f64::NAN] };
        assert_drawable(&distribution_svg(&ragged).expect("drawn"));
        let empty = distribution_svg(&Distribution::default()).expect("drawn");
        assert!(empty.contains("no values"));
    }

    #[test]
    fn labels_in_charts_are_escaped() {
        let series = [DaySeries { label: "<script>".into(), values: vec![Some(1.0)] }];
        let thresholds = [Threshold { label: "a<b".into(), value: 2.0 }];
        let svg = metric_series_svg("c", YFormat::Number, 3, &series, &thresholds, "none").expect("drawn");
        assert!(!svg.contains("<script>"), "{svg}");
    }
}
