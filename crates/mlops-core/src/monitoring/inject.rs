//! Drift a learner can cause on chosen days of a replay, to see which metric catches what.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::baseline::{MonthFrame, CATEGORICAL, NUMERIC, PREDICTION, TRUTH};
use super::MonitorError;
use crate::drift::{Column, Frame, Values};

/// Externally tagged (serde's default), not `#[serde(tag = …)]`: the worker's messages
/// are bincode, which cannot read internally tagged enums (a replay with an injection
/// then never reached the worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Injection {
    /// A snow week: trips take `1 / speed_factor` times as long (the simulated city's
    /// `speed_factor`), so durations (the truth) grow while the inputs barely move.
    Slowdown { from_day: u32, days: u32, speed_factor: f64 },
    /// A broken upstream pipeline: `column` is missing for `share` of the rows.
    MissingValues { from_day: u32, days: u32, column: String, share: f64 },
    /// A column renamed upstream (the monitor reports it missing, it does not crash).
    RenameColumn { from_day: u32, days: u32, column: String, new_name: String },
    /// A column that arrives as text instead of numbers.
    RetypeColumn { from_day: u32, days: u32, column: String },
    /// A new popular zone: `share` of pickups move to `zone`.
    ZonePopularity { from_day: u32, days: u32, zone: i64, share: f64 },
}

impl Injection {
    fn window(&self) -> (u32, u32) {
        match *self {
            Injection::Slowdown { from_day, days, .. }
            | Injection::MissingValues { from_day, days, .. }
            | Injection::RenameColumn { from_day, days, .. }
            | Injection::RetypeColumn { from_day, days, .. }
            | Injection::ZonePopularity { from_day, days, .. } => (from_day, days),
        }
    }

    /// Refuses settings that would do nothing or break the replay, saying which knob.
    pub fn check(&self) -> Result<(), MonitorError> {
        let (from_day, days) = self.window();
        if days == 0 {
            return Err(MonitorError::Injection(format!(
                "`days` is 0, so the injection from day {from_day} would never be active; use 1 or more"
            )));
        }
        match self {
            Injection::Slowdown { speed_factor, .. } => {
                if !(speed_factor.is_finite() && *speed_factor > 0.0) {
                    return Err(MonitorError::Injection(format!(
                        "speed_factor must be a positive number (0.5 = trips take twice as long), got {speed_factor}"
                    )));
                }
            }
            Injection::MissingValues { column, share, .. } => {
                check_column(column)?;
                check_share(*share)?;
            }
            Injection::RenameColumn { column, new_name, .. } => {
                check_column(column)?;
                if new_name.trim().is_empty() {
                    return Err(MonitorError::Injection(format!(
                        "the new name for `{column}` is empty; give a name such as `{column}_v2`"
                    )));
                }
                if is_known_column(new_name) {
                    return Err(MonitorError::Injection(format!(
                        "`{new_name}` is already a column of the data; rename `{column}` to a name the monitor does not know, such as `{column}_v2`"
                    )));
                }
            }
            Injection::RetypeColumn { column, .. } => check_column(column)?,
            Injection::ZonePopularity { zone, share, .. } => {
                if *zone <= 0 {
                    return Err(MonitorError::Injection(format!(
                        "zone must be a positive TLC zone ID (like 132, JFK airport), got {zone}"
                    )));
                }
                check_share(*share)?;
            }
        }
        Ok(())
    }

    pub fn active_on(&self, day_index: u32) -> bool {
        let (from_day, days) = self.window();
        day_index >= from_day && u64::from(day_index) < u64::from(from_day) + u64::from(days)
    }

    /// In words, for the dashboard ("trip_distance missing for 30% of rows").
    pub fn describe(&self) -> String {
        match self {
            Injection::Slowdown { speed_factor, .. } => {
                format!("trips take {}× as long (speed ×{speed_factor})", rounded(1.0 / speed_factor))
            }
            Injection::MissingValues { column, share, .. } => {
                format!("{column} missing for {}% of rows", rounded(share * 100.0))
            }
            Injection::RenameColumn { column, new_name, .. } => format!("{column} renamed to {new_name}"),
            Injection::RetypeColumn { column, .. } => format!("{column} arrives as text"),
            Injection::ZonePopularity { zone, share, .. } => {
                format!("{}% of pickups moved to zone {zone}", rounded(share * 100.0))
            }
        }
    }
}

/// Two decimals at most, without trailing zeros: 30, 1.5, 0.33.
fn rounded(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn monitored_inputs() -> impl Iterator<Item = &'static str> {
    NUMERIC.iter().chain(CATEGORICAL.iter()).copied()
}

fn is_known_column(name: &str) -> bool {
    monitored_inputs().chain([TRUTH, PREDICTION]).any(|known| known == name)
}

fn check_column(column: &str) -> Result<(), MonitorError> {
    if monitored_inputs().any(|known| known == column) {
        return Ok(());
    }
    let known: Vec<&str> = monitored_inputs().collect();
    let what = if column.trim().is_empty() {
        "the column name is empty".to_string()
    } else {
        format!("`{column}` is not a monitored input column")
    };
    Err(MonitorError::Injection(format!("{what}; pick one of {}", known.join(", "))))
}

fn check_share(share: f64) -> Result<(), MonitorError> {
    if (0.0..=1.0).contains(&share) {
        Ok(())
    } else {
        Err(MonitorError::Injection(format!(
            "share must be between 0 and 1 (0.3 = 30% of rows), got {share}"
        )))
    }
}

/// `share` of `n` rows, chosen by `rng`, in ascending order.
fn pick_rows(rng: &mut Xoshiro256PlusPlus, n: usize, share: f64) -> Vec<usize> {
    let amount = ((share * n as f64).round() as usize).min(n);
    let mut rows = rand::seq::index::sample(rng, n, amount).into_vec();
    rows.sort_unstable();
    rows
}

/// Rewrites one column in place; nothing happens when the frame lacks it (an earlier
/// injection renamed it, say).
fn modify(frame: &mut Frame, name: &str, change: impl FnOnce(&mut Values)) -> Result<(), MonitorError> {
    let Some(column) = frame.column(name) else { return Ok(()) };
    let mut column: Column = column.clone();
    change(&mut column.values);
    frame.set(column)?;
    Ok(())
}

/// Applies the injections active on `day_index` to one day's rows (deterministic: the
/// same day and seed change the same rows).
///
/// A slowdown changes only the truth: the inputs a taxi meter records before the ride
/// (distance, zones, passengers) do not know about the snow, and the fares are left alone
/// so the lesson stays sharp — input drift stays quiet while the error grows, which only
/// a quality metric (RMSE once the truth arrives) can catch.
pub fn apply(
    injections: &[Injection],
    day_index: u32,
    day: &mut MonthFrame,
    seed: u64,
) -> Result<Vec<String>, MonitorError> {
    let mut applied = Vec::new();
    for (position, injection) in injections.iter().enumerate() {
        if !injection.active_on(day_index) {
            continue;
        }
        injection.check()?;
        // One stream per (seed, day, injection): adding an injection does not move the
        // rows another one picks.
        let stream = seed
            ^ u64::from(day_index).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (position as u64).wrapping_add(1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream);
        let frame = &mut day.frame;
        let n = frame.n_rows();
        match injection {
            Injection::Slowdown { speed_factor, .. } => modify(frame, TRUTH, |values| {
                if let Values::Numbers(minutes) = values {
                    for x in minutes.iter_mut().flatten() {
                        *x /= speed_factor;
                    }
                }
            })?,
            Injection::MissingValues { column, share, .. } => {
                let rows = pick_rows(&mut rng, n, *share);
                modify(frame, column, |values| match values {
                    Values::Numbers(v) => rows.iter().for_each(|&i| v[i] = None),
                    Values::Text(v) => rows.iter().for_each(|&i| v[i] = None),
                })?;
            }
            Injection::RenameColumn { column, new_name, .. } => {
                frame.rename(column, new_name);
            }
            Injection::RetypeColumn { column, .. } => modify(frame, column, |values| {
                if let Values::Numbers(v) = values {
                    *values = Values::Text(v.iter().map(|x| x.map(|x| x.to_string())).collect());
                }
            })?,
            Injection::ZonePopularity { zone, share, .. } => {
                let rows = pick_rows(&mut rng, n, *share);
                modify(frame, "PULocationID", |values| match values {
                    Values::Numbers(v) => rows.iter().for_each(|&i| v[i] = Some(*zone as f64)),
                    Values::Text(v) => rows.iter().for_each(|&i| v[i] = Some(zone.to_string())),
                })?;
            }
        }
        applied.push(injection.describe());
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(rows: usize) -> MonthFrame {
        let numbers = |f: fn(usize) -> f64| (0..rows).map(|i| Some(f(i))).collect::<Vec<_>>();
        let frame = Frame::new(vec![
            Column::numbers("passenger_count", numbers(|_| 1.0)),
            Column::numbers("trip_distance", numbers(|i| i as f64 + 0.5)),
            Column::numbers("fare_amount", numbers(|i| 2.0 * i as f64)),
            Column::numbers("total_amount", numbers(|i| 3.0 * i as f64)),
            Column::numbers("PULocationID", numbers(|i| (i % 7 + 1) as f64)),
            Column::numbers("DOLocationID", numbers(|i| (i % 5 + 1) as f64)),
            Column::numbers(TRUTH, numbers(|i| 10.0 + i as f64)),
        ])
        .expect("frame");
        MonthFrame { frame, pickup_micros: vec![Some(0); rows] }
    }

    fn numbers<'a>(day: &'a MonthFrame, name: &str) -> &'a [Option<f64>] {
        match day.frame.column(name).map(|c| &c.values) {
            Some(Values::Numbers(v)) => v,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn missing(column: &str, share: f64) -> Injection {
        Injection::MissingValues { from_day: 2, days: 3, column: column.into(), share }
    }

    #[test]
    fn active_from_the_first_day_for_the_given_days() {
        let injection = missing("trip_distance", 0.3);
        let active: Vec<u32> = (0..8).filter(|&d| injection.active_on(d)).collect();
        assert_eq!(active, vec![2, 3, 4]);
        let forever =
            Injection::RetypeColumn { from_day: u32::MAX - 1, days: u32::MAX, column: "fare_amount".into() };
        assert!(forever.active_on(u32::MAX) && !forever.active_on(0));
    }

    #[test]
    fn each_bad_setting_gets_its_own_message() {
        let cases = [
            (Injection::Slowdown { from_day: 0, days: 0, speed_factor: 0.5 }, "`days` is 0"),
            (Injection::Slowdown { from_day: 0, days: 1, speed_factor: 0.0 }, "speed_factor"),
            (Injection::Slowdown { from_day: 0, days: 1, speed_factor: f64::INFINITY }, "speed_factor"),
            (missing("trip_distance", 1.5), "between 0 and 1"),
            (missing("trip_distance", f64::NAN), "between 0 and 1"),
            (missing("", 0.5), "the column name is empty; pick one of passenger_count"),
            (missing("tip_amount", 0.5), "`tip_amount` is not a monitored input column"),
            (missing("prediction", 0.5), "is not a monitored input"),
            (
                Injection::RenameColumn {
                    from_day: 0,
                    days: 1,
                    column: "trip_distance".into(),
                    new_name: " ".into(),
                },
                "empty",
            ),
            (
                Injection::RenameColumn {
                    from_day: 0,
                    days: 1,
                    column: "trip_distance".into(),
                    new_name: "fare_amount".into(),
                },
                "already a column",
            ),
            (Injection::RetypeColumn { from_day: 0, days: 1, column: "trip".into() }, "not a monitored"),
            (Injection::ZonePopularity { from_day: 0, days: 1, zone: 0, share: 0.2 }, "zone"),
            (Injection::ZonePopularity { from_day: 0, days: 1, zone: 132, share: -0.1 }, "between 0 and 1"),
        ];
        for (injection, needle) in cases {
            let err = injection.check().expect_err(needle);
            assert!(err.to_string().contains(needle), "{injection:?}: {err}");
        }
        assert_eq!(missing("trip_distance", 0.3).check(), Ok(()));
        assert_eq!(Injection::ZonePopularity { from_day: 0, days: 1, zone: 132, share: 1.0 }.check(), Ok(()));
    }

    #[test]
    fn descriptions_are_plain_words() {
        assert_eq!(missing("trip_distance", 0.3).describe(), "trip_distance missing for 30% of rows");
        assert_eq!(
            Injection::Slowdown { from_day: 0, days: 7, speed_factor: 0.5 }.describe(),
            "trips take 2× as long (speed ×0.5)"
        );
        assert_eq!(
            Injection::ZonePopularity { from_day: 0, days: 1, zone: 132, share: 0.25 }.describe(),
            "25% of pickups moved to zone 132"
        );
    }

    #[test]
    fn missing_values_hit_the_share_of_rows_and_the_same_rows_each_time() {
        let injections = [missing("trip_distance", 0.3)];
        let mut a = day(100);
        let said = apply(&injections, 2, &mut a, 7).expect("apply");
        assert_eq!(said, vec!["trip_distance missing for 30% of rows".to_string()]);
        assert_eq!(numbers(&a, "trip_distance").iter().filter(|x| x.is_none()).count(), 30);
        let mut b = day(100);
        apply(&injections, 2, &mut b, 7).expect("apply");
        assert_eq!(a, b, "same seed and day, same rows");
        let mut c = day(100);
        apply(&injections, 3, &mut c, 7).expect("apply");
        assert_ne!(a, c, "another day, other rows");
        let mut untouched = day(100);
        assert!(apply(&injections, 5, &mut untouched, 7).expect("apply").is_empty());
        assert_eq!(untouched, day(100));
    }

    #[test]
    fn slowdown_stretches_only_the_truth() {
        let mut slowed = day(4);
        apply(&[Injection::Slowdown { from_day: 0, days: 1, speed_factor: 0.5 }], 0, &mut slowed, 1)
            .expect("apply");
        assert_eq!(numbers(&slowed, TRUTH), &[Some(20.0), Some(22.0), Some(24.0), Some(26.0)]);
        assert_eq!(numbers(&slowed, "fare_amount"), numbers(&day(4), "fare_amount"));
    }

    #[test]
    fn rename_retype_and_zone_popularity() {
        let injections = [
            Injection::RenameColumn {
                from_day: 0,
                days: 1,
                column: "fare_amount".into(),
                new_name: "fare".into(),
            },
            Injection::RetypeColumn { from_day: 0, days: 1, column: "trip_distance".into() },
            Injection::ZonePopularity { from_day: 0, days: 1, zone: 132, share: 0.5 },
        ];
        let mut changed = day(10);
        let said = apply(&injections, 0, &mut changed, 3).expect("apply");
        assert_eq!(said.len(), 3);
        assert!(changed.frame.column("fare_amount").is_none() && changed.frame.column("fare").is_some());
        let Some(Values::Text(distance)) = changed.frame.column("trip_distance").map(|c| &c.values) else {
            panic!("trip_distance is not text")
        };
        assert_eq!(distance[0].as_deref(), Some("0.5"));
        assert_eq!(distance[3].as_deref(), Some("3.5"));
        assert_eq!(numbers(&changed, "PULocationID").iter().filter(|&&x| x == Some(132.0)).count(), 5);
    }
}
