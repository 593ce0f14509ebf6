//! Chapter 2's tuning charts that are line charts: a boosting learning curve (train and
//! validation RMSE by round) and a search's best loss so far by trial. Both reuse
//! [`line_chart_svg`] from the run charts, so they look like the rest of the app.

use mlops_core::trees::BoostRound;

use super::run_charts::{line_chart_svg, message_svg, LineData};

/// Train and validation RMSE after every boosting round.
pub fn learning_curve_svg(history: &[BoostRound]) -> Result<String, String> {
    if history.is_empty() {
        return message_svg("This model has no boosting rounds");
    }
    let train = LineData {
        label: "train RMSE".into(),
        points: history.iter().map(|r| (r.round as f64, r.train_rmse)).collect(),
    };
    let val = LineData {
        label: "validation RMSE".into(),
        points: history.iter().filter_map(|r| Some((r.round as f64, r.val_rmse?))).collect(),
    };
    let series: Vec<LineData> = [train, val].into_iter().filter(|s| !s.points.is_empty()).collect();
    line_chart_svg("Boosting learning curve", "round", "RMSE (minutes)", &series)
}

/// One search's best-so-far curve: `(tid, best loss after it)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BestCurve {
    pub label: String,
    pub points: Vec<(u32, f64)>,
}

/// Best validation RMSE so far against the trial number, one line per search.
pub fn best_so_far_svg(curves: &[BestCurve]) -> Result<String, String> {
    if curves.iter().all(|c| c.points.is_empty()) {
        return message_svg("No trial has finished yet");
    }
    let series: Vec<LineData> = curves
        .iter()
        .map(|c| LineData {
            label: c.label.clone(),
            points: c.points.iter().map(|(tid, loss)| (f64::from(*tid), *loss)).collect(),
        })
        .collect();
    line_chart_svg("Best validation RMSE so far", "trial", "best RMSE (minutes)", &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_curve_draws_both_lines_and_says_when_empty() {
        let history: Vec<BoostRound> = (0..5)
            .map(|round| BoostRound {
                round,
                train_rmse: 10.0 - round as f64,
                val_rmse: Some(11.0 - round as f64 / 2.0),
            })
            .collect();
        let svg = learning_curve_svg(&history).expect("svg");
        assert!(svg.contains("validation RMSE") && svg.contains("train RMSE"), "legend");
        assert!(learning_curve_svg(&[]).expect("svg").contains("no boosting rounds"));
    }

    #[test]
    fn best_so_far_draws_a_legend_for_two_searches() {
        let curves = [
            BestCurve { label: "TPE".into(), points: vec![(0, 7.0), (1, 6.5)] },
            BestCurve { label: "random <&>".into(), points: vec![(0, 7.2), (2, 6.9)] },
        ];
        let svg = best_so_far_svg(&curves).expect("svg");
        assert!(svg.contains("TPE"));
        assert!(!svg.contains("<&>"), "text is escaped inside the SVG");
        assert!(best_so_far_svg(&[]).expect("svg").contains("No trial"));
    }
}
