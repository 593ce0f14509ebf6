//! Simulated time: the only clock a pipeline knows.
//!
//! The core has no clock of its own (`std::time` panics in the browser) and a learner wants
//! to watch two months of retraining in a minute, so every time in a pipeline is a
//! [`SimTime`] that the host moves forward: seconds since 1970-01-01 00:00 UTC, with the
//! proleptic Gregorian calendar and no leap seconds, like Unix time. Schedules, retries
//! and data releases are computed on it exactly, so tests can pin them to the second.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const SECONDS_PER_DAY: i64 = 86_400;

/// The first year schedules and dates are computed for.
pub const MIN_YEAR: i64 = 1900;
/// The last year schedules and dates are computed for; a schedule has no fire after it.
pub const MAX_YEAR: i64 = 9999;

/// A point of simulated time: seconds since 1970-01-01 00:00:00 UTC.
///
/// Serialised as the bare number, so a saved run stays small and exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimTime(pub i64);

/// A date and time of day on the simulated calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Days of the week, Monday first as ISO 8601 counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// 0 for Monday … 6 for Sunday.
    pub fn index(self) -> u32 {
        match self {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }

    /// Accepts the English name or its first three letters, in any case.
    pub fn parse(text: &str) -> Option<Weekday> {
        let text = text.trim().to_ascii_lowercase();
        Weekday::ALL.into_iter().find(|day| {
            let name = day.name().to_ascii_lowercase();
            text == name || (text.len() == 3 && name.starts_with(&text))
        })
    }
}

/// Whether `year` has a 29 February: every fourth year, except centuries not divisible by 400.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`), exact for
/// every date of the proleptic Gregorian calendar that fits an `i64`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl SimTime {
    /// 1900-01-01 00:00, the earliest time schedules are computed for.
    pub fn min_supported() -> SimTime {
        SimTime(days_from_civil(MIN_YEAR, 1, 1) * SECONDS_PER_DAY)
    }

    /// 9999-12-31 23:59:59, the latest time schedules are computed for.
    pub fn max_supported() -> SimTime {
        SimTime(days_from_civil(MAX_YEAR + 1, 1, 1) * SECONDS_PER_DAY - 1)
    }

    /// A civil date and time, or `None` if it does not exist (30 February, 24:00, a year
    /// outside 1900–9999).
    pub fn from_civil(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> Option<SimTime> {
        let valid = (MIN_YEAR..=MAX_YEAR).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60;
        valid.then(|| {
            SimTime(
                days_from_civil(year, month, day) * SECONDS_PER_DAY
                    + i64::from(hour) * 3_600
                    + i64::from(minute) * 60,
            )
        })
    }

    /// Midnight of a date, or `None` if it does not exist.
    pub fn date(year: i64, month: u32, day: u32) -> Option<SimTime> {
        SimTime::from_civil(year, month, day, 0, 0)
    }

    pub fn seconds(self) -> i64 {
        self.0
    }

    /// This time plus `seconds`, saturating instead of overflowing on absurd inputs.
    pub fn plus_seconds(self, seconds: i64) -> SimTime {
        SimTime(self.0.saturating_add(seconds))
    }

    /// The calendar date and time of day.
    pub fn civil(self) -> CivilTime {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let second_of_day = self.0.rem_euclid(SECONDS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        CivilTime {
            year,
            month,
            day,
            hour: second_of_day / 3_600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
        }
    }

    /// The day of the week (1970-01-01 was a Thursday).
    pub fn weekday(self) -> Weekday {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        Weekday::ALL[(days + 3).rem_euclid(7) as usize]
    }

    /// The month this time falls in.
    pub fn year_month(self) -> YearMonth {
        let civil = self.civil();
        YearMonth {
            year: civil.year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            month: civil.month,
        }
    }

    /// Midnight of this time's day.
    pub fn start_of_day(self) -> SimTime {
        SimTime(self.0.div_euclid(SECONDS_PER_DAY) * SECONDS_PER_DAY)
    }

    /// `2021-02-01`.
    pub fn date_label(self) -> String {
        let c = self.civil();
        format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
    }

    /// Parses `2021-02-01`, `2021-02-01 06:30`, `2021-02-01T06:30` or
    /// `2021-02-01T06:30:15Z` (always UTC).
    pub fn parse(text: &str) -> Result<SimTime, ClockError> {
        let bad = || ClockError::BadTime(text.chars().take(40).collect());
        let trimmed = text.trim().trim_end_matches('Z');
        let (date, time) = match trimmed.split_once(['T', ' ']) {
            Some((date, time)) => (date, Some(time.trim())),
            None => (trimmed, None),
        };
        let mut date_parts = date.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (date_parts.next(), date_parts.next(), date_parts.next(), date_parts.next())
        else {
            return Err(bad());
        };
        let number = |part: &str, max_len: usize| -> Result<u32, ClockError> {
            if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let (year, month, day) = (number(year, 4)?, number(month, 2)?, number(day, 2)?);
        let (mut hour, mut minute, mut second) = (0, 0, 0);
        if let Some(time) = time {
            let parts: Vec<&str> = time.split(':').collect();
            if !(2..=3).contains(&parts.len()) {
                return Err(bad());
            }
            hour = number(parts[0], 2)?;
            minute = number(parts[1], 2)?;
            if let Some(part) = parts.get(2) {
                second = number(part, 2)?;
            }
        }
        if second >= 60 {
            return Err(bad());
        }
        let at = SimTime::from_civil(i64::from(year), month, day, hour, minute).ok_or_else(bad)?;
        Ok(at.plus_seconds(i64::from(second)))
    }
}

impl fmt::Display for SimTime {
    /// `2021-02-01 00:00`, with `:ss` only when the seconds are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(f, "{:04}-{:02}-{:02} {:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute)?;
        if c.second != 0 {
            write!(f, ":{:02}", c.second)?;
        }
        Ok(())
    }
}

/// A wait in seconds as a learner reads it: `45 s`, `2 min 5 s`, `3 h`, `2 d 1 h`.
pub fn format_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, rest) = (seconds / SECONDS_PER_DAY, seconds % SECONDS_PER_DAY);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let (minutes, secs) = (rest / 60, rest % 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
        .into_iter()
        .filter(|&(value, _)| value > 0)
        .map(|(value, unit)| format!("{value} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".to_string()
    } else {
        parts.join(" ")
    }
}

/// What cannot be read as a time or a month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ClockError {
    #[error("`{0}` is not a date and time; write it like 2021-02-01 or 2021-02-01 06:30 (UTC)")]
    BadTime(String),
    #[error("`{0}` is not a month; write it like 2021-03 (years 2000–2100)")]
    BadMonth(String),
}

/// A calendar month, the unit the TLC publishes data in.
///
/// Serialised as text (`"2021-03"`), so a pipeline file reads like the course's file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

/// The years a month may name: the span the simulated city and the TLC catalog cover.
pub const MONTH_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

impl YearMonth {
    /// A month of 2000–2100, or `None`.
    pub fn new(year: i32, month: u32) -> Option<YearMonth> {
        (MONTH_YEARS.contains(&year) && (1..=12).contains(&month)).then_some(YearMonth { year, month })
    }

    /// The month after this one.
    pub fn next(self) -> YearMonth {
        self.plus(1)
    }

    /// The month before this one.
    pub fn previous(self) -> YearMonth {
        self.plus(-1)
    }

    /// This month moved by `months` (negative goes back).
    pub fn plus(self, months: i64) -> YearMonth {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 + months;
        let year = index.div_euclid(12).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        YearMonth { year, month: index.rem_euclid(12) as u32 + 1 }
    }

    /// Midnight of the first day.
    pub fn start(self) -> SimTime {
        SimTime(days_from_civil(i64::from(self.year), self.month, 1) * SECONDS_PER_DAY)
    }

    pub fn days(self) -> u32 {
        days_in_month(i64::from(self.year), self.month)
    }

    /// Parses `2021-03` (or `2021-3`).
    pub fn parse(text: &str) -> Result<YearMonth, ClockError> {
        let bad = || ClockError::BadMonth(text.chars().take(40).collect());
        let (year, month) = text.trim().split_once('-').ok_or_else(bad)?;
        let digits = |part: &str, max: usize| {
            !part.is_empty() && part.len() <= max && part.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(year, 4) || !digits(month, 2) {
            return Err(bad());
        }
        let (year, month) = (year.parse().map_err(|_| bad())?, month.parse().map_err(|_| bad())?);
        YearMonth::new(year, month).ok_or_else(bad)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        YearMonth::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The simulated clock a learner controls: run, pause, speed.
///
/// The host calls [`SimClock::tick`] with the wall time that passed (from
/// `requestAnimationFrame` or a timer); the clock turns it into simulated seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimClock {
    pub now: SimTime,
    pub running: bool,
    /// Simulated seconds per wall-clock second (86,400 = a day per second).
    pub speed: f64,
}

impl SimClock {
    /// A paused clock at `start`, at one simulated hour per second.
    pub fn new(start: SimTime) -> Self {
        Self { now: start, running: false, speed: 3_600.0 }
    }

    /// Moves the clock by `wall_seconds` × speed if it is running; the new time.
    pub fn tick(&mut self, wall_seconds: f64) -> SimTime {
        if self.running && wall_seconds.is_finite() && wall_seconds > 0.0 && self.speed.is_finite() {
            let step = (wall_seconds * self.speed.max(0.0)).min(1e15) as i64;
            self.now = self.now.plus_seconds(step);
        }
        self.now
    }

    /// Jumps forward to `at` (never backwards: time in a pipeline only moves on).
    pub fn advance_to(&mut self, at: SimTime) -> SimTime {
        self.now = self.now.max(at);
        self.now
    }

    pub fn advance_by(&mut self, seconds: i64) -> SimTime {
        self.advance_to(self.now.plus_seconds(seconds.max(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SimTime {
        SimTime::parse(text).expect("a valid time")
    }

    #[test]
    fn unix_epoch_and_known_dates() {
        assert_eq!(at("1970-01-01"), SimTime(0));
        assert_eq!(at("2021-01-01"), SimTime(1_609_459_200));
        assert_eq!(at("2024-02-29 12:30"), SimTime(1_709_209_800));
        assert_eq!(SimTime(1_709_209_800).to_string(), "2024-02-29 12:30");
        assert_eq!(SimTime(1_709_209_815).to_string(), "2024-02-29 12:30:15");
        assert_eq!(at("2021-02-01T06:30:15Z"), at("2021-02-01 06:30").plus_seconds(15));
        assert_eq!(SimTime(0).weekday(), Weekday::Thursday);
        assert_eq!(at("2021-02-01").weekday(), Weekday::Monday);
    }

    #[test]
    fn civil_round_trips_across_centuries_and_leap_days() {
        for year in [1900, 1999, 2000, 2021, 2024, 2100, 9999] {
            for month in 1..=12 {
                for day in [1, days_in_month(year, month)] {
                    let t = SimTime::from_civil(year, month, day, 23, 59).expect("valid");
                    let c = t.civil();
                    assert_eq!((c.year, c.month, c.day, c.hour, c.minute), (year, month, day, 23, 59));
                }
            }
        }
        assert_eq!(SimTime::min_supported().to_string(), "1900-01-01 00:00");
        assert_eq!(SimTime::max_supported().to_string(), "9999-12-31 23:59:59");
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap_year(2024) && is_leap_year(2000));
        assert!(!is_leap_year(2023) && !is_leap_year(1900) && !is_leap_year(2100));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert!(SimTime::date(2023, 2, 29).is_none());
        assert!(SimTime::date(2024, 2, 29).is_some());
    }

    #[test]
    fn bad_times_and_months_are_refused_with_the_text() {
        for text in ["", "2021", "2021-13-01", "2021-02-30", "2021-02-01 24:00", "21-02-01x", "2021-02-01 6"]
        {
            assert!(matches!(SimTime::parse(text), Err(ClockError::BadTime(_))), "{text}");
        }
        assert_eq!(YearMonth::parse("2021-3"), Ok(YearMonth { year: 2021, month: 3 }));
        for text in ["2021", "2021-00", "2021-13", "1999-12", "abcd-01", "2021-011"] {
            assert!(matches!(YearMonth::parse(text), Err(ClockError::BadMonth(_))), "{text}");
        }
    }

    #[test]
    fn months_step_over_year_ends() {
        let december = YearMonth { year: 2021, month: 12 };
        assert_eq!(december.next(), YearMonth { year: 2022, month: 1 });
        assert_eq!(december.next().previous(), december);
        assert_eq!(december.plus(-12), YearMonth { year: 2020, month: 12 });
        assert_eq!(december.to_string(), "2021-12");
        assert_eq!(serde_json::to_string(&december).expect("json"), "\"2021-12\"");
        assert_eq!(YearMonth { year: 2024, month: 2 }.days(), 29);
        assert_eq!(YearMonth { year: 2021, month: 3 }.start(), at("2021-03-01"));
        assert_eq!(at("2021-03-31 23:59").year_month(), YearMonth { year: 2021, month: 3 });
    }

    #[test]
    fn the_clock_only_moves_when_running_and_never_backwards() {
        let mut clock = SimClock::new(at("2021-01-01"));
        assert_eq!(clock.tick(10.0), at("2021-01-01"));
        clock.running = true;
        clock.speed = 86_400.0;
        assert_eq!(clock.tick(1.5), at("2021-01-02 12:00"));
        assert_eq!(clock.advance_to(at("2020-01-01")), at("2021-01-02 12:00"));
        assert_eq!(clock.tick(f64::NAN), at("2021-01-02 12:00"));
        assert_eq!(format_duration(3_725), "1 h 2 min 5 s");
        assert_eq!(format_duration(0), "0 s");
    }
}
