//! Charts drawn by plotters into an SVG string, shown through `<img src="data:…">`.
//!
//! An SVG in an `<img>` cannot run script or reach the page, so nothing a chart
//! contains (a file name in a legend, say) needs trusting.

use base64::Engine;
use leptos::prelude::*;
use mlops_core::summary::Histogram;
use plotters::prelude::*;

pub struct Series<'a> {
    pub label: String,
    pub color: RGBColor,
    pub histogram: &'a Histogram,
    /// Shares instead of counts, so months of different sizes compare.
    pub normalise: bool,
}

pub const BLUE: RGBColor = RGBColor(37, 99, 235);
pub const ORANGE: RGBColor = RGBColor(234, 88, 12);
pub const GREY: RGBColor = RGBColor(120, 120, 120);

/// Actual against predicted durations on the validation month: shown after training
/// and logged with the run as `plots/predicted_vs_actual.svg`.
pub fn prediction_histogram_svg(report: &mlops_core::training::TrainReport) -> Result<String, String> {
    let actual = Histogram::new(report.val_sample.iter().map(|p| p.0), 0.0, 60.0, 60);
    let predicted = Histogram::new(report.val_sample.iter().map(|p| p.1), 0.0, 60.0, 60);
    histogram_svg(
        "duration (minutes), validation month",
        &[
            Series { label: "actual".into(), color: BLUE, histogram: &actual, normalise: true },
            Series { label: "predicted".into(), color: ORANGE, histogram: &predicted, normalise: true },
        ],
        &[],
    )
}

/// Overlaid histograms as an SVG document.
pub fn histogram_svg(x_label: &str, series: &[Series<'_>], marks: &[(f64, &str)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let Some(first) = series.first() else { return Ok(String::new()) };
        let (lower, upper) = (first.histogram.lower, first.histogram.upper);
        let height = |s: &Series<'_>, c: usize| {
            let total: usize =
                s.histogram.counts.iter().sum::<usize>() + s.histogram.below + s.histogram.above;
            if s.normalise {
                c as f64 / total.max(1) as f64
            } else {
                c as f64
            }
        };
        let top = series
            .iter()
            .flat_map(|s| s.histogram.counts.iter().map(move |&c| height(s, c)))
            .fold(0.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(lower..upper, 0.0..top.max(1e-9))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(if first.normalise { "share of trips" } else { "trips" })
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for s in series {
            let width = s.histogram.bin_width();
            let color = s.color;
            chart
                .draw_series(s.histogram.counts.iter().enumerate().map(|(i, &c)| {
                    let x0 = lower + i as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, height(s, c))], color.mix(0.45).filled())
                }))
                .map_err(|e| e.to_string())?
                .label(s.label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
        for (x, label) in marks {
            chart
                .draw_series(LineSeries::new([(*x, 0.0), (*x, top)], GREY.stroke_width(1)))
                .map_err(|e| e.to_string())?
                .label(label.to_string())
                .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], GREY));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// An SVG document as an image.
#[component]
pub fn SvgImage(
    svg: Result<String, String>,
    #[prop(into)] alt: String,
    #[prop(into)] testid: String,
) -> impl IntoView {
    match svg {
        Ok(svg) => {
            let src = format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(svg)
            );
            view! { <img class="chart" src=src alt=alt data-testid=testid/> }.into_any()
        }
        Err(e) => view! { <p class="error">"The chart could not be drawn: " {e}</p> }.into_any(),
    }
}
