//! Charts of runs for the run page and the compare view: metric histories, a metric
//! history overlay, parallel coordinates and a metric-against-param scatter.
//!
//! Every function here is pure — data in, SVG document out — drawn by plotters, so it is
//! tested natively and the pages only show the result through
//! [`SvgImage`](super::chart::SvgImage) (an `<img>`: a run name inside a chart can
//! never become markup in the page). Non-finite numbers are dropped before drawing, a
//! constant series gets a padded range, and empty input gives a chart that says so.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use mlops_core::tracking::Metric;

use super::chart::{BLUE, GREY, ORANGE};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 340;
const FONT: &str = "sans-serif";

/// Tableau 10: distinguishable colours, one per run (run `i` is `palette(i)` everywhere).
const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

pub fn palette(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// A short, readable number: four significant digits, scientific when very large or small.
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-3..1e6).contains(&magnitude) {
        return format!("{value:.3e}");
    }
    let decimals = if magnitude == 0.0 { 0 } else { (3 - magnitude.log10().floor() as i32).clamp(0, 6) };
    let text = format!("{value:.*}", decimals as usize);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// One value of a run for one axis: a metric (a number) or a param (text, which may
/// read as a number).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Number(f64),
    Text(String),
    Missing,
}

impl Cell {
    fn as_number(&self) -> Option<f64> {
        match self {
            Cell::Number(v) => Some(*v).filter(|v| v.is_finite()),
            Cell::Text(text) => text.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Cell::Missing => None,
        }
    }

    fn label(&self) -> Option<String> {
        match self {
            Cell::Number(v) if v.is_finite() => Some(format_number(*v)),
            Cell::Number(_) | Cell::Missing => None,
            Cell::Text(text) => Some(text.clone()),
        }
    }
}

/// How an axis maps its cells to positions: numbers by value when every present cell
/// reads as one, otherwise one evenly spaced position per distinct text (sorted).
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    Numeric {
        min: f64,
        max: f64,
    },
    Categorical(Vec<String>),
    /// No run has a value.
    Empty,
}

impl Scale {
    pub fn of(cells: &[Cell]) -> Scale {
        let present: Vec<&Cell> = cells
            .iter()
            .filter(|c| !matches!(c, Cell::Missing) && !matches!(c, Cell::Number(v) if !v.is_finite()))
            .collect();
        if present.is_empty() {
            return Scale::Empty;
        }
        let numbers: Vec<f64> = present.iter().filter_map(|c| c.as_number()).collect();
        if numbers.len() == present.len() {
            let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            return Scale::Numeric { min, max };
        }
        let mut categories: Vec<String> = present.iter().filter_map(|c| c.label()).collect();
        categories.sort();
        categories.dedup();
        Scale::Categorical(categories)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Scale::Numeric { .. })
    }

    /// Where a cell sits, 0 (bottom/min/first) to 1 (top/max/last); 0.5 when all agree.
    pub fn unit_position(&self, cell: &Cell) -> Option<f64> {
        match self {
            Scale::Numeric { min, max } => {
                let v = cell.as_number()?;
                Some(if max > min { (v - min) / (max - min) } else { 0.5 })
            }
            Scale::Categorical(categories) => {
                let label = cell.label()?;
                let index = categories.iter().position(|c| *c == label)?;
                Some(if categories.len() > 1 { index as f64 / (categories.len() - 1) as f64 } else { 0.5 })
            }
            Scale::Empty => None,
        }
    }

    /// Labels along the axis with their unit positions: min and max, or the categories.
    fn tick_labels(&self) -> Vec<(f64, String)> {
        match self {
            Scale::Numeric { min, max } if max > min => {
                vec![(0.0, format_number(*min)), (1.0, format_number(*max))]
            }
            Scale::Numeric { min, .. } => vec![(0.5, format_number(*min))],
            Scale::Categorical(categories) if categories.len() <= 8 => {
                let cell = |c: &String| Cell::Text(c.clone());
                categories
                    .iter()
                    .filter_map(|c| Some((self.unit_position(&cell(c))?, shorten(c, 14))))
                    .collect()
            }
            Scale::Categorical(categories) => {
                let first = categories.first().cloned().unwrap_or_default();
                let last = categories.last().cloned().unwrap_or_default();
                vec![(0.0, shorten(&first, 14)), (1.0, shorten(&last, 14))]
            }
            Scale::Empty => Vec::new(),
        }
    }
}

/// `text` cut to `max_chars` characters, an ellipsis marking the cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

/// The range to draw finite `values` in, padded, and never of zero width.
fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (min, max) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if min > max {
        return None;
    }
    let span = max - min;
    let pad = if span > f64::EPSILON * max.abs().max(1.0) { span * 0.06 } else { (max.abs() * 0.1).max(0.5) };
    Some((min - pad, max + pad))
}

/// A chart with nothing to plot, saying why, so the page never shows a broken image.
pub fn message_svg(message: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 80)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let style =
            TextStyle::from((FONT, 16).into_font()).color(&GREY).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(message.to_string(), (WIDTH as i32 / 2, 40), style))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One line of a line chart: `(x, y)` points in drawing order.
#[derive(Debug, Clone, PartialEq)]
pub struct LineData {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

impl LineData {
    /// A metric's history as (step, value), in step order (then logging time).
    pub fn from_history(label: impl Into<String>, history: &[Metric]) -> Self {
        let mut sorted = history.to_vec();
        sorted.sort_by_key(|m| (m.step, m.timestamp));
        LineData { label: label.into(), points: sorted.iter().map(|m| (m.step as f64, m.value)).collect() }
    }
}

/// Lines with a dot on every point; a legend when there is more than one line.
pub fn line_chart_svg(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[LineData],
) -> Result<String, String> {
    let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
    let Some(x_range) =
        padded_range(series.iter().flat_map(|s| s.points.iter().filter(|p| finite(p)).map(|p| p.0)))
    else {
        return message_svg("No values logged yet");
    };
    let Some(y_range) =
        padded_range(series.iter().flat_map(|s| s.points.iter().filter(|p| finite(p)).map(|p| p.1)))
    else {
        return message_svg("No values logged yet");
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| format_number(*v))
            .y_label_formatter(&|v| format_number(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in series.iter().enumerate() {
            let color = palette(i);
            let points: Vec<(f64, f64)> = s.points.iter().copied().filter(finite).collect();
            let drawn = chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            if series.len() > 1 {
                drawn
                    .label(shorten(&s.label, 28))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
            }
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(GREY)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One metric's history on the run page: step on x, value on y.
pub fn metric_history_svg(key: &str, history: &[Metric]) -> Result<String, String> {
    line_chart_svg(key, "step", key, &[LineData::from_history(key, history)])
}

/// One metric's history for several runs, one line each, in `palette` order.
pub fn history_overlay_svg(key: &str, runs: &[LineData]) -> Result<String, String> {
    line_chart_svg(&format!("{key} by step"), "step", key, runs)
}

/// One vertical axis of a parallel-coordinates chart: a param or metric, a cell per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: String,
    pub cells: Vec<Cell>,
}

/// Which metric colours the lines (low blue → high orange); grey where a run lacks it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorBy {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

fn ramp(low: RGBColor, high: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(low.0, high.0), mix(low.1, high.1), mix(low.2, high.2))
}

/// One axis per param or metric, each scaled to its own min..max (or categories), and
/// one polyline per run through its values; a missing value breaks the line.
pub fn parallel_coordinates_svg(
    axes: &[Axis],
    run_labels: &[String],
    color_by: Option<&ColorBy>,
) -> Result<String, String> {
    if axes.is_empty() || run_labels.is_empty() {
        return message_svg("Choose runs and at least one param or metric");
    }
    let scales: Vec<Scale> = axes.iter().map(|a| Scale::of(&a.cells)).collect();
    let color_range = color_by.map(|c| {
        let present = c.values.iter().flatten().copied().filter(|v| v.is_finite());
        present.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
    });
    let last_axis = (axes.len() - 1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + 20)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let caption = match color_by {
            Some(c) => {
                format!("Parallel coordinates · colour: {} (blue low → orange high)", shorten(&c.name, 30))
            }
            None => "Parallel coordinates".to_string(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 15))
            .margin(16)
            .build_cartesian_2d(-0.35..last_axis + 0.35, -0.16..1.16)
            .map_err(|e| e.to_string())?;
        let line_color = |run: usize| -> RGBColor {
            let (Some(c), Some((lo, hi))) = (color_by, color_range) else { return palette(run) };
            match c.values.get(run).copied().flatten().filter(|v| v.is_finite()) {
                Some(v) if hi > lo => ramp(BLUE, ORANGE, (v - lo) / (hi - lo)),
                Some(_) => ramp(BLUE, ORANGE, 0.5),
                None => GREY,
            }
        };
        for run in 0..run_labels.len() {
            let color = line_color(run);
            // Contiguous stretches of present values, so a missing value shows as a gap.
            let mut stretches: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (i, (axis, scale)) in axes.iter().zip(&scales).enumerate() {
                let position = axis.cells.get(run).and_then(|cell| scale.unit_position(cell));
                match position {
                    Some(y) => stretches.last_mut().map(|s| s.push((i as f64, y))).unwrap_or_default(),
                    None => stretches.push(Vec::new()),
                }
            }
            for stretch in stretches.into_iter().filter(|s| !s.is_empty()) {
                if stretch.len() == 1 {
                    chart.draw_series(stretch.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                } else {
                    chart.draw_series(LineSeries::new(stretch, color.stroke_width(2)))
                }
                .map_err(|e| e.to_string())?;
            }
        }
        let name_style =
            TextStyle::from((FONT, 13).into_font()).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
        let top_style =
            TextStyle::from((FONT, 11).into_font()).color(&GREY).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, (axis, scale)) in axes.iter().zip(&scales).enumerate() {
            let x = i as f64;
            chart
                .draw_series(std::iter::once(PathElement::new([(x, 0.0), (x, 1.0)], BLACK.stroke_width(1))))
                .map_err(|e| e.to_string())?;
            let mut texts = vec![Text::new(shorten(&axis.name, 18), (x, 1.1), name_style.clone())];
            for (at, label) in scale.tick_labels() {
                texts.push(Text::new(label, (x + 0.02, at), top_style.clone()));
            }
            if matches!(scale, Scale::Empty) {
                texts.push(Text::new("no values".to_string(), (x + 0.02, 0.5), top_style.clone()));
            }
            chart.draw_series(texts).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One run in a scatter: its x cell (a param) and y value (a metric).
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub label: String,
    pub x: Cell,
    pub y: Option<f64>,
}

/// "Nice" tick positions (steps of 1, 2 or 5 × 10ⁿ) inside `lo..hi`.
fn nice_ticks(lo: f64, hi: f64, wanted: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || wanted == 0 {
        return Vec::new();
    }
    let rough = span / wanted as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A number line with ticks exactly where we say: at each category, or at nice numbers.
pub struct TickedAxis {
    pub inner: RangedCoordf64,
    pub ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

impl ValueFormatter<f64> for TickedAxis {
    fn format(value: &f64) -> String {
        format_number(*value)
    }
}

/// A metric against a param, one dot per run (labelled with the run's name and coloured
/// as in the other compare charts). A numeric param sits on a number line; otherwise each
/// distinct value gets its own position.
pub fn scatter_svg(x_name: &str, y_name: &str, points: &[ScatterPoint]) -> Result<String, String> {
    let cells: Vec<Cell> = points.iter().map(|p| p.x.clone()).collect();
    let scale = Scale::of(&cells);
    // (x position, y, run index)
    let placed: Vec<(f64, f64, usize)> = points
        .iter()
        .enumerate()
        .filter_map(|(run, p)| {
            let y = p.y.filter(|y| y.is_finite())?;
            let x = match &scale {
                Scale::Numeric { .. } => p.x.as_number()?,
                Scale::Categorical(categories) => {
                    let label = p.x.label()?;
                    categories.iter().position(|c| *c == label)? as f64
                }
                Scale::Empty => return None,
            };
            Some((x, y, run))
        })
        .collect();
    if placed.is_empty() {
        return message_svg(&format!(
            "No run has both `{}` and `{}`",
            shorten(x_name, 30),
            shorten(y_name, 30)
        ));
    }
    let (x_range, key_points, categories) = match &scale {
        Scale::Categorical(categories) => {
            let last = categories.len().saturating_sub(1) as f64;
            ((-0.5, last + 0.5), (0..categories.len()).map(|i| i as f64).collect(), categories.clone())
        }
        _ => {
            let range = padded_range(placed.iter().map(|p| p.0)).unwrap_or((-1.0, 1.0));
            (range, nice_ticks(range.0, range.1, 6), Vec::new())
        }
    };
    let y_range = padded_range(placed.iter().map(|p| p.1)).unwrap_or((-1.0, 1.0));
    let x_label = |v: &f64| -> String {
        if categories.is_empty() {
            format_number(*v)
        } else {
            let index = v.round();
            let near = (v - index).abs() < 1e-6 && index >= 0.0;
            near.then(|| categories.get(index as usize).map(|c| shorten(c, 14))).flatten().unwrap_or_default()
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let x_coord = TickedAxis { inner: (x_range.0..x_range.1).into(), ticks: key_points };
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} against {}", shorten(y_name, 30), shorten(x_name, 30)), (FONT, 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x_coord, y_range.0..y_range.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_name)
            .y_desc(y_name)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|v| format_number(*v))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(placed.iter().map(|&(x, y, run)| Circle::new((x, y), 5, palette(run).filled())))
            .map_err(|e| e.to_string())?;
        if placed.len() <= 12 {
            let style =
                TextStyle::from((FONT, 11).into_font()).color(&GREY).pos(Pos::new(HPos::Left, VPos::Bottom));
            chart
                .draw_series(placed.iter().map(|&(x, y, run)| {
                    let label = points.get(run).map(|p| shorten(&p.label, 20)).unwrap_or_default();
                    Text::new(label, (x, y), style.clone())
                }))
                .map_err(|e| e.to_string())?;
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

    /// How many `<text>` elements say exactly `text` (plotters writes them on their own line).
    fn texts(svg: &str, text: &str) -> usize {
        count(svg, &format!(">\n{text}\n</text>"))
    }

    fn metric(step: i64, value: f64) -> Metric {
        Metric { value, timestamp: 1_700_000_000_000 + step, step }
    }

    fn assert_drawable(svg: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn numbers_format_short() {
        assert_eq!(format_number(5.123456), "5.123");
        assert_eq!(format_number(1234.5678), "1235");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(1e-7), "1.000e-7");
    }

    #[test]
    fn scales_are_numeric_only_when_every_value_parses() {
        let numeric = [Cell::Text("0.1".into()), Cell::Number(2.0), Cell::Missing];
        assert_eq!(Scale::of(&numeric), Scale::Numeric { min: 0.1, max: 2.0 });
        let mixed = [Cell::Text("ridge".into()), Cell::Text("1".into()), Cell::Text("lasso".into())];
        assert_eq!(Scale::of(&mixed), Scale::Categorical(vec!["1".into(), "lasso".into(), "ridge".into()]));
        assert_eq!(Scale::of(&[Cell::Missing, Cell::Number(f64::NAN)]), Scale::Empty);
        let constant = Scale::of(&[Cell::Number(3.0), Cell::Number(3.0)]);
        assert_eq!(constant.unit_position(&Cell::Number(3.0)), Some(0.5));
    }

    #[test]
    fn history_chart_draws_one_line_with_a_dot_per_step() {
        let history: Vec<Metric> = (0..5).map(|s| metric(4 - s, 10.0 / (s as f64 + 1.0))).collect();
        let svg = metric_history_svg("rmse", &history).expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<circle"), 5);
        assert_eq!(texts(&svg, "rmse"), 2, "caption and axis name");
        assert_eq!(texts(&svg, "step"), 1);
    }

    #[test]
    fn history_chart_of_one_value_or_nothing_does_not_panic() {
        let one = metric_history_svg("rmse", &[metric(0, 5.0)]).expect("drawn");
        assert_drawable(&one);
        assert_eq!(count(&one, "<circle"), 1);
        let none = metric_history_svg("rmse", &[]).expect("drawn");
        assert_drawable(&none);
        assert!(none.contains("No values logged yet"));
        let not_finite =
            metric_history_svg("rmse", &[metric(0, f64::NAN), metric(1, f64::INFINITY)]).expect("drawn");
        assert_drawable(&not_finite);
    }

    #[test]
    fn overlay_has_a_legend_entry_per_run() {
        let runs: Vec<LineData> = ["alpha", "beta", "gamma"]
            .iter()
            .enumerate()
            .map(|(i, name)| LineData::from_history(*name, &[metric(0, i as f64), metric(1, i as f64 + 0.5)]))
            .collect();
        let svg = history_overlay_svg("loss", &runs).expect("drawn");
        assert_drawable(&svg);
        for name in ["alpha", "beta", "gamma"] {
            assert_eq!(texts(&svg, name), 1, "{name}");
        }
        assert_eq!(count(&svg, "<circle"), 6);
        let single = history_overlay_svg("loss", &runs[..1]).expect("drawn");
        assert_drawable(&single);
        assert_eq!(texts(&single, "alpha"), 0, "no legend for a single run");
        assert_drawable(&history_overlay_svg("loss", &[]).expect("drawn"));
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("run-{i}")).collect()
    }

    #[test]
    fn parallel_coordinates_draw_an_axis_per_key_and_a_line_per_run() {
        let axes = vec![
            Axis {
                name: "alpha".into(),
                cells: vec![Cell::Text("0.1".into()), Cell::Text("1.0".into()), Cell::Text("10".into())],
            },
            Axis {
                name: "model".into(),
                cells: vec![
                    Cell::Text("ridge".into()),
                    Cell::Text("lasso".into()),
                    Cell::Text("ridge".into()),
                ],
            },
            Axis {
                name: "rmse".into(),
                cells: vec![Cell::Number(7.5), Cell::Number(6.25), Cell::Number(8.0)],
            },
        ];
        let color = ColorBy { name: "rmse".into(), values: vec![Some(7.5), Some(6.25), Some(8.0)] };
        let svg = parallel_coordinates_svg(&axes, &labels(3), Some(&color)).expect("drawn");
        assert_drawable(&svg);
        // 3 axis lines + 3 run lines.
        assert_eq!(count(&svg, "<polyline"), 6, "{svg}");
        for label in ["alpha", "model", "rmse", "0.1", "10", "lasso", "ridge", "6.25", "8"] {
            assert_eq!(texts(&svg, label), 1, "{label} in {svg}");
        }
    }

    #[test]
    fn parallel_coordinates_survive_gaps_constants_one_run_and_no_input() {
        let axes = vec![
            Axis { name: "a".into(), cells: vec![Cell::Number(1.0), Cell::Missing] },
            Axis { name: "b".into(), cells: vec![Cell::Number(2.0), Cell::Number(2.0)] },
            Axis { name: "c".into(), cells: vec![Cell::Number(f64::NAN), Cell::Number(3.0)] },
        ];
        let svg = parallel_coordinates_svg(&axes, &labels(2), None).expect("drawn");
        assert_drawable(&svg);
        // 3 axes + run 0 (a–b, then c is missing) + run 1 (b–c).
        assert_eq!(count(&svg, "<polyline"), 5, "{svg}");
        let one = parallel_coordinates_svg(&axes[..1], &labels(1), None).expect("drawn");
        assert_drawable(&one);
        assert_eq!(count(&one, "<circle"), 1);
        assert_drawable(&parallel_coordinates_svg(&[], &labels(2), None).expect("drawn"));
        assert_drawable(&parallel_coordinates_svg(&axes, &[], None).expect("drawn"));
        let no_colour = ColorBy { name: "rmse".into(), values: vec![None, None] };
        assert_drawable(&parallel_coordinates_svg(&axes, &labels(2), Some(&no_colour)).expect("drawn"));
    }

    #[test]
    fn scatter_places_numeric_params_on_a_number_line() {
        let points: Vec<ScatterPoint> = [("0.1", 7.0), ("1", 6.5), ("10", 6.9)]
            .iter()
            .enumerate()
            .map(|(i, (x, y))| ScatterPoint {
                label: format!("run-{i}"),
                x: Cell::Text(x.to_string()),
                y: Some(*y),
            })
            .collect();
        let svg = scatter_svg("alpha", "rmse", &points).expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<circle"), 3);
        for i in 0..3 {
            assert_eq!(texts(&svg, &format!("run-{i}")), 1);
        }
    }

    #[test]
    fn scatter_gives_each_text_value_a_position_with_its_label() {
        let points = vec![
            ScatterPoint { label: "a".into(), x: Cell::Text("ridge".into()), y: Some(1.0) },
            ScatterPoint { label: "b".into(), x: Cell::Text("lasso".into()), y: Some(2.0) },
            ScatterPoint { label: "c".into(), x: Cell::Text("ridge".into()), y: Some(1.5) },
            ScatterPoint { label: "d".into(), x: Cell::Missing, y: Some(1.5) },
        ];
        let svg = scatter_svg("model", "rmse", &points).expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<circle"), 3);
        assert_eq!(texts(&svg, "lasso"), 1, "{svg}");
        assert_eq!(texts(&svg, "ridge"), 1, "{svg}");
    }

    #[test]
    fn scatter_survives_one_constant_point_and_nothing() {
        let one = vec![ScatterPoint { label: "a".into(), x: Cell::Text("1".into()), y: Some(2.0) }];
        let svg = scatter_svg("alpha", "rmse", &one).expect("drawn");
        assert_drawable(&svg);
        assert_eq!(count(&svg, "<circle"), 1);
        let empty = scatter_svg("alpha", "rmse", &[]).expect("drawn");
        assert_drawable(&empty);
        assert!(empty.contains("No run has both"));
        let nan = vec![ScatterPoint { label: "a".into(), x: Cell::Number(f64::NAN), y: Some(f64::NAN) }];
        assert_drawable(&scatter_svg("alpha", "rmse", &nan).expect("drawn"));
    }

    #[test]
    fn run_names_in_charts_are_escaped() {
        let runs = vec![
            LineData { label: "<script>x</script>".into(), points: vec![(0.0, 1.0)] },
            LineData { label: "b&c".into(), points: vec![(0.0, 2.0)] },
        ];
        let svg = history_overlay_svg("loss", &runs).expect("drawn");
        assert!(!svg.contains("<script>"), "{svg}");
    }
}
