//! Alert rules over the daily metrics ("prediction drift > 0.1 for 2 days"), the events
//! they fire, and the hook the pipelines chapter uses to start a retraining.

use serde::{Deserialize, Serialize};

use super::replay::DayMetrics;
use super::MonitorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    PredictionDrift,
    DriftedColumns,
    ShareMissing,
    Rmse,
    Mae,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Above,
    Below,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    pub metric: Metric,
    pub comparison: Comparison,
    pub threshold: f64,
    /// Consecutive days the condition must hold (≥ 1).
    pub for_days: u32,
    /// Ask the pipelines chapter to retrain when this fires.
    pub retrain: bool,
}

impl Metric {
    pub const ALL: [Metric; 5] =
        [Metric::PredictionDrift, Metric::DriftedColumns, Metric::ShareMissing, Metric::Rmse, Metric::Mae];

    /// The name a rule uses ("prediction_drift").
    pub fn name(self) -> &'static str {
        match self {
            Metric::PredictionDrift => "prediction_drift",
            Metric::DriftedColumns => "drifted_columns",
            Metric::ShareMissing => "share_missing",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
        }
    }

    /// The name in an alert message ("prediction drift").
    pub fn label(self) -> &'static str {
        match self {
            Metric::PredictionDrift => "prediction drift",
            Metric::DriftedColumns => "drifted columns",
            Metric::ShareMissing => "share missing",
            Metric::Rmse => "RMSE",
            Metric::Mae => "MAE",
        }
    }

    /// Whether the metric needs the truth, which arrives `truth_day` (after the day).
    pub fn needs_truth(self) -> bool {
        matches!(self, Metric::Rmse | Metric::Mae)
    }

    /// The day's value; None when the day does not have it (no rows, no truth).
    pub fn value(self, day: &DayMetrics) -> Option<f64> {
        match self {
            Metric::PredictionDrift => day.prediction_drift,
            Metric::DriftedColumns => Some(day.drifted_columns as f64),
            Metric::ShareMissing => Some(day.share_missing),
            Metric::Rmse => day.rmse,
            Metric::Mae => day.mae,
        }
        .filter(|x| x.is_finite())
    }

    /// A value as shown in messages: shares in percent, counts whole, the rest to 3 places.
    fn show(self, value: f64) -> String {
        match self {
            Metric::ShareMissing => format!("{:.1}%", value * 100.0),
            Metric::DriftedColumns => format!("{value}"),
            _ => format!("{value:.3}"),
        }
    }
}

impl Comparison {
    fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::Below => "<",
        }
    }

    /// Strictly above or below: a value equal to the threshold does not count.
    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::Below => value < threshold,
        }
    }
}

const RULE_EXAMPLE: &str = "write it like `prediction_drift > 0.1 for 2 days`";

impl AlertRule {
    /// Parses "prediction_drift > 0.1 for 2 days", "share_missing > 5%", "rmse > 9".
    ///
    /// The grammar: `<metric> (>|<) <number>[%] [for <N> day(s)] [then retrain]`. A metric
    /// name may use spaces instead of underscores and any case. `>` means strictly above:
    /// `>=` and `<=` are refused rather than quietly read as `>` and `<`.
    pub fn parse(text: &str) -> Result<Self, MonitorError> {
        let fail = |reason: String| MonitorError::Rule { text: text.to_string(), reason };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(fail(format!("the rule is empty; {RULE_EXAMPLE}")));
        }
        let retrain = match strip_suffix_ignore_case(rest, "then retrain") {
            Some(head) => {
                rest = head.trim_end();
                true
            }
            None => false,
        };
        let mut for_days = 1;
        if let Some(at) = find_word_ignore_case(rest, "for") {
            let clause = rest[at + "for".len()..].trim();
            rest = rest[..at].trim_end();
            for_days = parse_days(clause).map_err(fail)?;
        }
        let Some(at) = rest.find(['>', '<', '=', '!']) else {
            return Err(fail(format!("there is no comparison (`>` or `<`); {RULE_EXAMPLE}")));
        };
        let (left, right) = rest.split_at(at);
        let (comparison, right) = if let Some(r) = right.strip_prefix('>').filter(|r| !r.starts_with('=')) {
            (Comparison::Above, r)
        } else if let Some(r) = right.strip_prefix('<').filter(|r| !r.starts_with('=')) {
            (Comparison::Below, r)
        } else {
            let operator: String = right.chars().take_while(|c| "<>=!".contains(*c)).collect();
            return Err(fail(format!(
                "`{operator}` is not a comparison a rule can use; use `>` (strictly above) or `<` (strictly below)"
            )));
        };
        let metric = parse_metric(left).map_err(fail)?;
        let threshold = parse_threshold(right.trim()).map_err(fail)?;
        let mut rule = AlertRule { id: String::new(), metric, comparison, threshold, for_days, retrain };
        rule.id = slug(&rule.describe());
        Ok(rule)
    }

    /// The rule in the words [`AlertRule::parse`] reads.
    pub fn describe(&self) -> String {
        let mut text =
            format!("{} {} {}", self.metric.name(), self.comparison.symbol(), self.threshold_text());
        if self.for_days > 1 {
            text.push_str(&format!(" for {} days", self.for_days));
        }
        if self.retrain {
            text.push_str(" then retrain");
        }
        text
    }

    /// The threshold as written: shares in percent when that reads back exactly.
    fn threshold_text(&self) -> String {
        if self.metric == Metric::ShareMissing {
            let percent = (self.threshold * 100.0 * 1e9).round() / 1e9;
            if percent / 100.0 == self.threshold {
                return format!("{percent}%");
            }
        }
        format!("{}", self.threshold)
    }
}

/// `text` without a trailing `suffix` (any case), if it ends with it as a whole word.
fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let (head, tail) = (text.get(..cut)?, text.get(cut..)?);
    let whole_word = head.is_empty() || head.ends_with(char::is_whitespace);
    (tail.eq_ignore_ascii_case(suffix) && whole_word).then_some(head)
}

/// Byte offset of the last whole word `word` (any case).
fn find_word_ignore_case(text: &str, word: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    lower.rmatch_indices(word).map(|(at, _)| at).find(|&at| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        before.is_some_and(char::is_whitespace) && after.is_none_or(char::is_whitespace)
    })
}

/// "2 days", "1 day", "3" → 2, 1, 3.
fn parse_days(clause: &str) -> Result<u32, String> {
    let Some(number) = clause.split_whitespace().next() else {
        return Err("after `for` comes a number of days, like `for 2 days`".to_string());
    };
    let unit = clause[clause.find(number).map_or(0, |at| at + number.len())..].trim();
    if !(unit.is_empty() || unit.eq_ignore_ascii_case("day") || unit.eq_ignore_ascii_case("days")) {
        return Err(format!("after `for` comes a number of days, like `for 2 days`, not `for {clause}`"));
    }
    match number.parse::<u32>() {
        Ok(0) => Err("`for 0 days` would fire before anything happened; use 1 or more days".to_string()),
        Ok(days) => Ok(days),
        Err(_) => Err(format!("`{number}` is not a whole number of days; write it like `for 2 days`")),
    }
}

fn parse_metric(left: &str) -> Result<Metric, String> {
    let name: String = left
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|part| !part.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_");
    Metric::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
        let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        if name.is_empty() {
            format!("the metric name is missing before the comparison; use one of {}", known.join(", "))
        } else {
            format!("`{}` is not a metric the monitor keeps; use one of {}", left.trim(), known.join(", "))
        }
    })
}

/// "0.1" → 0.1, "5%" → 0.05.
fn parse_threshold(right: &str) -> Result<f64, String> {
    let (number, scale) = match right.strip_suffix('%') {
        Some(number) => (number.trim_end(), 100.0),
        None => (right, 1.0),
    };
    if number.is_empty() {
        return Err(
            "the threshold is missing after the comparison; write it like `> 0.1` or `> 5%`".to_string()
        );
    }
    match number.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x / scale),
        _ => Err(format!("`{right}` is not a number; write the threshold like `0.1` or `5%`")),
    }
}

/// A stable id from the rule's words: "prediction_drift > 0.1 for 2 days" →
/// "prediction-drift-gt-0.1-for-2-days".
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let piece = match c {
            '>' => "gt",
            '<' => "lt",
            '%' => "pct",
            c if c.is_ascii_alphanumeric() || c == '.' => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => "-",
        };
        if piece == "-" {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            out.push_str(piece);
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The course's two alerts plus an error alert: prediction drift > 0.1 for 2 days
/// (retrains), share missing > 5%, RMSE > 10.
pub fn default_rules() -> Vec<AlertRule> {
    ["prediction_drift > 0.1 for 2 days then retrain", "share_missing > 5%", "rmse > 10"]
        .into_iter()
        .filter_map(|text| AlertRule::parse(text).ok())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub rule_id: String,
    pub rule: String,
    pub day_index: u32,
    pub date: String,
    pub value: f64,
    pub message: String,
    pub retrain: bool,
}

/// One piece of evidence: a day's value and the replay day it became known.
struct Observation<'a> {
    day: &'a DayMetrics,
    value: f64,
    known_on: u32,
}

/// The alerts that fire on `day_index`, given every day's metrics known so far
/// (`history`, by day index; a metric not yet known — RMSE before its truth arrives — is
/// no evidence either way). A rule fires once per streak: on the day its condition has
/// held for `for_days` consecutive days.
///
/// "Consecutive" counts the days that have the metric: a day without it (an empty day has
/// no prediction drift) neither extends nor breaks a streak. A day whose truth arrives
/// after `day_index` (its `truth_day`) has no RMSE or MAE yet.
pub fn evaluate(rules: &[AlertRule], history: &[DayMetrics], day_index: u32) -> Vec<AlertEvent> {
    let mut days: Vec<&DayMetrics> = history.iter().filter(|d| d.day_index <= day_index).collect();
    days.sort_by_key(|d| d.day_index);
    let today = days.iter().find(|d| d.day_index == day_index).map(|d| d.date.clone());
    let mut events = Vec::new();
    for rule in rules {
        let observations = days.iter().filter_map(|&day| {
            let known_on =
                if rule.metric.needs_truth() { day.truth_day.max(day.day_index) } else { day.day_index };
            let value = rule.metric.value(day)?;
            (known_on <= day_index).then_some(Observation { day, value, known_on })
        });
        let mut streak: Vec<Observation> = Vec::new();
        for observation in observations {
            if !rule.comparison.holds(observation.value, rule.threshold) {
                streak.clear();
                continue;
            }
            streak.push(observation);
            if streak.len() != rule.for_days.max(1) as usize {
                continue;
            }
            let (first, last) = (&streak[0], &streak[streak.len() - 1]);
            if last.known_on != day_index {
                continue;
            }
            let when = if streak.len() == 1 {
                format!("on {}", last.day.date)
            } else {
                format!("for {} days ({} – {})", streak.len(), first.day.date, last.day.date)
            };
            let message = format!(
                "{} {} {} {} {when}",
                rule.metric.label(),
                rule.metric.show(last.value),
                rule.comparison.symbol(),
                rule.threshold_text(),
            );
            events.push(AlertEvent {
                rule_id: rule.id.clone(),
                rule: rule.describe(),
                day_index,
                date: today.clone().unwrap_or_else(|| last.day.date.clone()),
                value: last.value,
                message,
                retrain: rule.retrain,
            });
        }
    }
    events
}

/// Receives fired alerts that ask for retraining (the pipelines chapter implements it).
pub trait RetrainHook {
    fn retrain(&self, event: &AlertEvent);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(
        day_index: u32,
        prediction_drift: Option<f64>,
        share_missing: f64,
        rmse: Option<f64>,
    ) -> DayMetrics {
        DayMetrics {
            day_index,
            date: format!("2022-02-{:02}", day_index + 1),
            rows: 100,
            prediction_drift,
            prediction_drifted: false,
            drifted_columns: 0,
            columns: 7,
            dataset_drift: false,
            share_missing,
            rmse,
            mae: rmse,
            truth_day: day_index + 1,
            injected: Vec::new(),
        }
    }

    fn drift_days(values: &[Option<f64>]) -> Vec<DayMetrics> {
        values.iter().enumerate().map(|(i, &v)| day(i as u32, v, 0.0, Some(5.0))).collect()
    }

    /// The days (index) on which `rule` fires, evaluating each day with the history so far.
    fn firing_days(rule: &str, history: &[DayMetrics], through: u32) -> Vec<u32> {
        let rules = [AlertRule::parse(rule).expect("rule")];
        (0..=through)
            .filter(|&d| {
                let known: Vec<DayMetrics> = history.iter().filter(|m| m.day_index <= d).cloned().collect();
                !evaluate(&rules, &known, d).is_empty()
            })
            .collect()
    }

    #[test]
    fn the_courses_rules_parse() {
        let rule = AlertRule::parse("prediction_drift > 0.1 for 2 days then retrain").expect("parse");
        assert_eq!(
            rule,
            AlertRule {
                id: "prediction-drift-gt-0.1-for-2-days-then-retrain".into(),
                metric: Metric::PredictionDrift,
                comparison: Comparison::Above,
                threshold: 0.1,
                for_days: 2,
                retrain: true,
            }
        );
        let share = AlertRule::parse("share_missing > 5%").expect("percent");
        assert_eq!(
            (share.metric, share.threshold, share.for_days, share.retrain),
            (Metric::ShareMissing, 0.05, 1, false)
        );
        assert_eq!(share.id, "share-missing-gt-5-pct");
        let rmse = AlertRule::parse("  RMSE  <  9 for 1 day ").expect("spaces and case");
        assert_eq!((rmse.metric, rmse.comparison, rmse.threshold), (Metric::Rmse, Comparison::Below, 9.0));
        assert_eq!(
            AlertRule::parse("prediction drift > 0.2").expect("spaces").metric,
            Metric::PredictionDrift
        );
        assert_eq!(AlertRule::parse("drifted_columns > 2 for 3").expect("no unit").for_days, 3);
        assert_eq!(default_rules().len(), 3);
        assert_eq!(default_rules()[0].describe(), "prediction_drift > 0.1 for 2 days then retrain");
    }

    #[test]
    fn describe_reads_back_as_the_same_rule() {
        let texts = [
            "prediction_drift > 0.1 for 2 days then retrain",
            "share_missing > 5%",
            "share_missing > 7%",
            "share_missing < 0.123456789%",
            "rmse > 10",
            "mae < 2.5 for 3 days",
            "drifted_columns > 3",
            "Prediction Drift > 1e-3 for 1 day",
        ];
        for text in texts {
            let rule = AlertRule::parse(text).expect(text);
            let again = AlertRule::parse(&rule.describe()).expect("describe parses");
            assert_eq!(again, rule, "{text} → {}", rule.describe());
        }
        assert_eq!(AlertRule::parse("share_missing > 7%").expect("7%").describe(), "share_missing > 7%");
        assert_eq!(AlertRule::parse("prediction drift > 0.1").expect("id").id, "prediction-drift-gt-0.1");
    }

    #[test]
    fn parse_errors_say_what_to_write() {
        let cases = [
            ("", "the rule is empty"),
            ("prediction_drift 0.1", "no comparison"),
            ("latency > 3", "`latency` is not a metric the monitor keeps; use one of prediction_drift, drifted_columns, share_missing, rmse, mae"),
            ("> 3", "metric name is missing"),
            ("rmse >= 9", "`>=` is not a comparison"),
            ("rmse <= 9", "`<=`"),
            ("rmse = 9", "`=`"),
            ("rmse > nine", "`nine` is not a number"),
            ("rmse > ", "threshold is missing"),
            ("rmse > inf", "is not a number"),
            ("rmse > 9 for 0 days", "use 1 or more days"),
            ("rmse > 9 for two days", "`two` is not a whole number"),
            ("rmse > 9 for 2 weeks", "a number of days"),
            ("rmse > 9 for", "a number of days"),
        ];
        for (text, needle) in cases {
            let err = AlertRule::parse(text).expect_err(text);
            let MonitorError::Rule { text: got, reason } = &err else { panic!("{err:?}") };
            assert_eq!(got, text);
            assert!(reason.contains(needle), "{text}: {reason}");
        }
        let err = AlertRule::parse("rmse >= 9").expect_err("ge");
        assert!(err.to_string().starts_with("alert rule `rmse >= 9`: "), "{err}");
    }

    #[test]
    fn a_streak_fires_once_when_it_reaches_its_length() {
        let history =
            drift_days(&[Some(0.05), Some(0.2), Some(0.3), Some(0.4), Some(0.05), Some(0.2), Some(0.2)]);
        assert_eq!(firing_days("prediction_drift > 0.1 for 2 days", &history, 6), vec![2, 6]);
        assert_eq!(firing_days("prediction_drift > 0.1", &history, 6), vec![1, 5]);
        assert_eq!(firing_days("prediction_drift < 0.1", &history, 6), vec![0, 4]);
        assert!(firing_days("prediction_drift > 0.1 for 4 days", &history, 6).is_empty());
        // Equal to the threshold is not above it.
        assert!(firing_days("prediction_drift > 0.4", &history, 6).is_empty());
    }

    #[test]
    fn a_day_without_the_metric_neither_counts_nor_breaks() {
        let history = drift_days(&[Some(0.2), None, Some(0.3), None, None, Some(0.05)]);
        assert_eq!(firing_days("prediction_drift > 0.1 for 2 days", &history, 5), vec![2]);
        let rules = [AlertRule::parse("prediction_drift > 0.1 for 2 days then retrain").expect("rule")];
        let events = evaluate(&rules, &history[..3], 2);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message, "prediction drift 0.300 > 0.1 for 2 days (2022-02-01 – 2022-02-03)");
        assert_eq!((events[0].day_index, events[0].date.as_str(), events[0].value), (2, "2022-02-03", 0.3));
        assert!(events[0].retrain);
        assert_eq!(events[0].rule, "prediction_drift > 0.1 for 2 days then retrain");
        // Re-evaluating the same day gives the same answer; a later day does not repeat it.
        assert_eq!(evaluate(&rules, &history[..3], 2), events);
        assert!(evaluate(&rules, &history[..4], 3).is_empty());
    }

    #[test]
    fn rmse_counts_on_the_day_its_truth_arrives() {
        let history: Vec<DayMetrics> = [5.0, 12.0, 13.0, 4.0]
            .iter()
            .enumerate()
            .map(|(i, &r)| day(i as u32, Some(0.0), 0.0, Some(r)))
            .collect();
        // Day 1's RMSE is known on day 2; days 1 and 2 make a streak known on day 3.
        assert_eq!(firing_days("rmse > 10", &history, 3), vec![2]);
        assert_eq!(firing_days("rmse > 10 for 2 days", &history, 3), vec![3]);
        // A truth arriving after the month ends fires on that later day.
        assert_eq!(firing_days("rmse > 3", &history[..1], 1), vec![1]);
        let events = evaluate(&[AlertRule::parse("rmse > 10").expect("rule")], &history[..3], 2);
        assert_eq!(events[0].message, "RMSE 12.000 > 10 on 2022-02-02");
        assert_eq!(events[0].date, "2022-02-03");
    }

    #[test]
    fn share_missing_is_shown_in_percent() {
        let history = vec![day(0, Some(0.0), 0.082, None)];
        let events = evaluate(&default_rules(), &history, 0);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message, "share missing 8.2% > 5% on 2022-02-01");
        assert!(!events[0].retrain);
    }
}
