//! Schedules and triggers: why a pipeline run starts, on the simulated clock.
//!
//! Mage starts a pipeline from a trigger: a schedule, an event, or an API call. Here the
//! [`Scheduler`] holds each pipeline's [`TriggerDef`]s and turns the clock moving
//! ([`Scheduler::advance_to`]), a month of data being released, a monitoring alert
//! ([`AlertInbox`], a [`RetrainHook`]) or a click ([`Scheduler::manual`]) into
//! [`TriggerFire`]s — each with a log entry saying in words why the run started.
//!
//! Schedules are cron-like and exact: "monthly on day 31" skips the months without a 31st
//! (as cron does), "every 6 hours" counts from 1970-01-01 00:00 UTC (so 00:00, 06:00,
//! 12:00, 18:00), and a clock that jumps two months fires a monthly schedule twice, once
//! per missed date, each run dated at its own scheduled time (Mage's backfill semantics).

use std::cell::RefCell;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::clock::{format_duration, SimTime, Weekday, YearMonth, MAX_YEAR};
use super::definition::PipelineDefinition;
use super::exec::Availability;
use crate::monitoring::alerts::{AlertEvent, RetrainHook};

/// When a schedule fires, in the simulated calendar's UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// On `day` (1–31) of every month that has it, at `hour:minute`.
    Monthly { day: u32, hour: u32, minute: u32 },
    /// On `weekday` of every week at `hour:minute`.
    Weekly { weekday: Weekday, hour: u32, minute: u32 },
    /// Every day at `hour:minute`.
    Daily { hour: u32, minute: u32 },
    /// Every `hours` hours (1–8,784), counted from 1970-01-01 00:00.
    EveryHours { hours: u32 },
}

/// The longest interval of [`Schedule::EveryHours`]: a leap year.
pub const MAX_EVERY_HOURS: u32 = 8_784;

/// Why a schedule (or its text) is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("the day of the month must be 1 to 31, got {0}")]
    Day(u32),
    #[error("the time must be between 00:00 and 23:59, got {hour}:{minute:02}")]
    TimeOfDay { hour: u32, minute: u32 },
    #[error("every N hours needs N from 1 to {MAX_EVERY_HOURS}, got {0}")]
    Hours(u32),
    #[error(
        "`{0}` is not a schedule; write e.g. `monthly on day 1 at 00:00`, `weekly on Monday at 06:00`, \
         `daily at 06:30` or `every 6 hours`"
    )]
    Unreadable(String),
    #[error("there is no pipeline `{0}` in the scheduler")]
    UnknownPipeline(String),
}

impl Schedule {
    /// The course's retraining cadence: the first of every month at midnight.
    pub fn monthly_on_day_1() -> Schedule {
        Schedule::Monthly { day: 1, hour: 0, minute: 0 }
    }

    pub fn check(&self) -> Result<(), ScheduleError> {
        let time = |hour: u32, minute: u32| {
            if hour < 24 && minute < 60 {
                Ok(())
            } else {
                Err(ScheduleError::TimeOfDay { hour, minute })
            }
        };
        match *self {
            Schedule::Monthly { day, hour, minute } => {
                if !(1..=31).contains(&day) {
                    return Err(ScheduleError::Day(day));
                }
                time(hour, minute)
            }
            Schedule::Weekly { hour, minute, .. } | Schedule::Daily { hour, minute } => time(hour, minute),
            Schedule::EveryHours { hours } => {
                if (1..=MAX_EVERY_HOURS).contains(&hours) {
                    Ok(())
                } else {
                    Err(ScheduleError::Hours(hours))
                }
            }
        }
    }

    /// The first fire strictly after `after`, or `None` if the schedule is invalid or
    /// would fire after year 9999.
    pub fn next_after(&self, after: SimTime) -> Option<SimTime> {
        self.check().ok()?;
        if after >= SimTime::max_supported() {
            return None;
        }
        let after = after.max(SimTime::min_supported().plus_seconds(-1));
        let next = match *self {
            Schedule::Monthly { day, hour, minute } => {
                let civil = after.civil();
                let mut year = civil.year;
                let mut month = civil.month;
                // Any 12 consecutive months hold seven with a 31st, so 13 steps always
                // reach a fire.
                (0..=13).find_map(|_| {
                    let candidate =
                        SimTime::from_civil(year, month, day, hour, minute).filter(|&t| t > after);
                    if month == 12 {
                        (year, month) = (year + 1, 1);
                    } else {
                        month += 1;
                    }
                    candidate
                })?
            }
            Schedule::Weekly { weekday, hour, minute } => {
                let today = after.start_of_day();
                let ahead = (i64::from(weekday.index()) - i64::from(after.weekday().index())).rem_euclid(7);
                let time_of_day = i64::from(hour) * 3_600 + i64::from(minute) * 60;
                let candidate = today.plus_seconds(ahead * 86_400 + time_of_day);
                if candidate > after {
                    candidate
                } else {
                    candidate.plus_seconds(7 * 86_400)
                }
            }
            Schedule::Daily { hour, minute } => {
                let candidate =
                    after.start_of_day().plus_seconds(i64::from(hour) * 3_600 + i64::from(minute) * 60);
                if candidate > after {
                    candidate
                } else {
                    candidate.plus_seconds(86_400)
                }
            }
            Schedule::EveryHours { hours } => {
                let period = i64::from(hours) * 3_600;
                SimTime((after.0.div_euclid(period) + 1) * period)
            }
        };
        (next.civil().year <= MAX_YEAR).then_some(next)
    }

    /// Every fire in `(after, until]`, at most `limit` of them (the earliest).
    pub fn fires_between(&self, after: SimTime, until: SimTime, limit: usize) -> Vec<SimTime> {
        let mut fires = Vec::new();
        let mut cursor = after;
        while fires.len() < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    fires.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        fires
    }

    /// Reads the text [`Schedule`]'s `Display` writes, in any case: `monthly on day 1 at
    /// 00:00`, `weekly on monday at 6:00`, `daily at 06:30`, `every 6 hours`, `every hour`.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let unreadable = || ScheduleError::Unreadable(text.chars().take(80).collect());
        let lower = text.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let time = |word: &str| -> Result<(u32, u32), ScheduleError> {
            let (hour, minute) = word.split_once(':').ok_or_else(unreadable)?;
            let number = |part: &str| {
                if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(unreadable());
                }
                part.parse::<u32>().map_err(|_| unreadable())
            };
            Ok((number(hour)?, number(minute)?))
        };
        let count = |word: &str| word.parse::<u32>().map_err(|_| unreadable());
        let schedule = match words.as_slice() {
            ["monthly", "on", "day", day, "at", at] => {
                let (hour, minute) = time(at)?;
                Schedule::Monthly { day: count(day)?, hour, minute }
            }
            ["weekly", "on", day, "at", at] => {
                let (hour, minute) = time(at)?;
                Schedule::Weekly { weekday: Weekday::parse(day).ok_or_else(unreadable)?, hour, minute }
            }
            ["daily", "at", at] => {
                let (hour, minute) = time(at)?;
                Schedule::Daily { hour, minute }
            }
            ["every", "hour"] => Schedule::EveryHours { hours: 1 },
            ["every", n, "hour" | "hours"] => Schedule::EveryHours { hours: count(n)? },
            _ => return Err(unreadable()),
        };
        schedule.check()?;
        Ok(schedule)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Schedule::Monthly { day, hour, minute } => {
                write!(f, "monthly on day {day} at {hour:02}:{minute:02}")
            }
            Schedule::Weekly { weekday, hour, minute } => {
                write!(f, "weekly on {} at {hour:02}:{minute:02}", weekday.name())
            }
            Schedule::Daily { hour, minute } => write!(f, "daily at {hour:02}:{minute:02}"),
            Schedule::EveryHours { hours: 1 } => write!(f, "every hour"),
            Schedule::EveryHours { hours } => write!(f, "every {hours} hours"),
        }
    }
}

/// One way a pipeline can start, as saved in its definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    pub id: String,
    pub kind: TriggerKind,
    /// A disabled trigger is kept in the file but never fires (Mage's inactive trigger).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// Fires on a [`Schedule`].
    Schedule(Schedule),
    /// Fires when a month of data becomes available ([`Scheduler::add_release`]).
    NewData,
    /// Fires on a monitoring alert that asks for retraining; `rule_id` narrows it to one
    /// rule (`None`: any rule with `then retrain`).
    Alert { rule_id: Option<String> },
    /// Documents that the pipeline is meant to be started by hand (always possible).
    Manual,
    /// Documents that the pipeline is started by another program (always possible).
    Api,
}

impl TriggerKind {
    pub fn label(&self) -> String {
        match self {
            TriggerKind::Schedule(schedule) => format!("schedule: {schedule}"),
            TriggerKind::NewData => "when a new month of data arrives".to_string(),
            TriggerKind::Alert { rule_id: Some(rule) } => format!("on alert `{rule}`"),
            TriggerKind::Alert { rule_id: None } => "on any alert that asks for retraining".to_string(),
            TriggerKind::Manual => "manual".to_string(),
            TriggerKind::Api => "API call".to_string(),
        }
    }
}

/// What started a run, with the facts a learner needs to understand it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerReason {
    Schedule { trigger_id: String, schedule: Schedule, scheduled_for: SimTime },
    NewData { trigger_id: String, month: YearMonth, available_at: SimTime },
    Alert { trigger_id: String, event: AlertEvent },
    Manual { note: String },
    Api { caller: String },
}

impl TriggerReason {
    /// One sentence for the trigger log and the run page.
    pub fn describe(&self) -> String {
        match self {
            TriggerReason::Schedule { trigger_id, schedule, scheduled_for } => {
                format!("trigger `{trigger_id}` ({schedule}) fired for {scheduled_for}")
            }
            TriggerReason::NewData { trigger_id, month, available_at } => {
                format!("trigger `{trigger_id}`: the {month} data became available on {available_at}")
            }
            TriggerReason::Alert { trigger_id, event } => format!(
                "trigger `{trigger_id}`: alert `{}` fired on {} ({}) and asks for retraining",
                event.rule, event.date, event.message
            ),
            TriggerReason::Manual { note } if note.is_empty() => "started by hand".to_string(),
            TriggerReason::Manual { note } => format!("started by hand: {note}"),
            TriggerReason::Api { caller } => format!("started through the API by `{caller}`"),
        }
    }

    pub fn trigger_id(&self) -> &str {
        match self {
            TriggerReason::Schedule { trigger_id, .. }
            | TriggerReason::NewData { trigger_id, .. }
            | TriggerReason::Alert { trigger_id, .. } => trigger_id,
            TriggerReason::Manual { .. } => "manual",
            TriggerReason::Api { .. } => "api",
        }
    }
}

/// A trigger that fired: everything a new [`super::engine::PipelineRun`] needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerFire {
    /// `training#3`: the pipeline's name and the scheduler's run number.
    pub run_id: String,
    pub pipeline: String,
    pub reason: TriggerReason,
    /// The time the run is "for": a schedule's own date even when the clock jumped past it.
    pub logical_date: SimTime,
    /// When the scheduler noticed (the clock's time).
    pub fired_at: SimTime,
    /// The newest released month at the logical date, if releases are tracked.
    pub newest_month: Option<YearMonth>,
}

/// One line of the trigger log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerLogEntry {
    pub at: SimTime,
    pub pipeline: String,
    /// The run this started, or `None` for an entry that started nothing.
    pub run_id: Option<String>,
    pub why: String,
}

/// A month of data and the simulated time it is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRelease {
    pub month: YearMonth,
    pub available_at: SimTime,
}

impl DataRelease {
    /// The TLC's rhythm, simplified: a month is published `days_after` days after it ends,
    /// at midnight.
    pub fn after_month_end(month: YearMonth, days_after: u32) -> DataRelease {
        DataRelease { month, available_at: month.next().start().plus_seconds(i64::from(days_after) * 86_400) }
    }
}

/// The most fires one trigger makes per clock move: a clock pushed a century ahead with an
/// hourly schedule must not freeze the tab. The rest is logged as skipped.
pub const MAX_CATCH_UP_FIRES: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ScheduledPipeline {
    name: String,
    triggers: Vec<TriggerDef>,
    paused: bool,
}

/// The triggers of every pipeline, the data calendar, and the trigger log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheduler {
    /// The time up to which schedules and releases have been checked.
    pub now: SimTime,
    pipelines: Vec<ScheduledPipeline>,
    releases: Vec<DataRelease>,
    pub log: Vec<TriggerLogEntry>,
    runs_started: u64,
}

impl Scheduler {
    /// A scheduler whose clock starts at `start`: nothing at or before it fires.
    pub fn new(start: SimTime) -> Self {
        Self { now: start, pipelines: Vec::new(), releases: Vec::new(), log: Vec::new(), runs_started: 0 }
    }

    /// Adds a pipeline's triggers, replacing those of a pipeline with the same name.
    pub fn add_pipeline(&mut self, definition: &PipelineDefinition) {
        let entry = ScheduledPipeline {
            name: definition.name.clone(),
            triggers: definition.triggers.clone(),
            paused: false,
        };
        match self.pipelines.iter_mut().find(|p| p.name == definition.name) {
            Some(existing) => {
                let paused = existing.paused;
                *existing = ScheduledPipeline { paused, ..entry };
            }
            None => self.pipelines.push(entry),
        }
    }

    pub fn remove_pipeline(&mut self, name: &str) {
        self.pipelines.retain(|p| p.name != name);
    }

    /// Pauses or resumes every trigger of a pipeline. A paused pipeline's missed
    /// schedules are not caught up on resume (Mage does not backfill inactive triggers).
    pub fn set_paused(&mut self, name: &str, paused: bool) -> Result<(), ScheduleError> {
        let pipeline = self
            .pipelines
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| ScheduleError::UnknownPipeline(name.to_string()))?;
        pipeline.paused = paused;
        Ok(())
    }

    pub fn is_paused(&self, name: &str) -> bool {
        self.pipelines.iter().any(|p| p.name == name && p.paused)
    }

    /// Announces that `release.month` becomes available at `release.available_at`.
    /// A release at or before the scheduler's time counts as already available and
    /// fires nothing.
    pub fn add_release(&mut self, release: DataRelease) {
        self.releases.retain(|r| r.month != release.month);
        self.releases.push(release);
        self.releases.sort_by_key(|r| (r.available_at, r.month));
    }

    /// The newest month published by `at`, or `None` if no release is tracked by then.
    pub fn newest_month(&self, at: SimTime) -> Option<YearMonth> {
        self.releases.iter().filter(|r| r.available_at <= at).map(|r| r.month).max()
    }

    /// What is published at `at`, as a `new_data` sensor needs it: everything when no
    /// release is tracked (the simulated city), else the months released by then.
    pub fn availability(&self, at: SimTime) -> Availability {
        if self.releases.is_empty() {
            return Availability::Everything;
        }
        self.newest_month(at).map_or(Availability::Nothing, Availability::UpTo)
    }

    /// The next time something is due: a schedule fire or a release, after `now`.
    pub fn next_event(&self) -> Option<SimTime> {
        let schedules = self.pipelines.iter().filter(|p| !p.paused).flat_map(|p| {
            p.triggers.iter().filter(|t| t.enabled).filter_map(|t| match &t.kind {
                TriggerKind::Schedule(schedule) => schedule.next_after(self.now),
                _ => None,
            })
        });
        let releases = self.releases.iter().map(|r| r.available_at).filter(|&at| at > self.now);
        schedules.chain(releases).min()
    }

    fn fire(
        &mut self,
        pipeline: &str,
        reason: TriggerReason,
        logical_date: SimTime,
        fired_at: SimTime,
    ) -> TriggerFire {
        self.runs_started += 1;
        let run_id = format!("{pipeline}#{}", self.runs_started);
        self.log.push(TriggerLogEntry {
            at: fired_at,
            pipeline: pipeline.to_string(),
            run_id: Some(run_id.clone()),
            why: reason.describe(),
        });
        TriggerFire {
            run_id,
            pipeline: pipeline.to_string(),
            reason,
            logical_date,
            fired_at,
            newest_month: self.newest_month(logical_date),
        }
    }

    /// Moves the scheduler's clock to `now` and fires every schedule time and data
    /// release in between, in time order (ties: pipelines in the order they were added).
    /// Moving backwards does nothing.
    pub fn advance_to(&mut self, now: SimTime) -> Vec<TriggerFire> {
        if now <= self.now {
            return Vec::new();
        }
        let before = self.now;
        // (time, pipeline index, trigger index, reason) for everything due.
        let mut due: Vec<(SimTime, usize, usize, TriggerReason)> = Vec::new();
        let mut skipped: Vec<(String, String, usize)> = Vec::new();
        let released: Vec<DataRelease> = self
            .releases
            .iter()
            .copied()
            .filter(|r| r.available_at > before && r.available_at <= now)
            .collect();
        for (p, pipeline) in self.pipelines.iter().enumerate() {
            if pipeline.paused {
                continue;
            }
            for (t, trigger) in pipeline.triggers.iter().enumerate().filter(|(_, t)| t.enabled) {
                match &trigger.kind {
                    TriggerKind::Schedule(schedule) => {
                        let fires = schedule.fires_between(before, now, MAX_CATCH_UP_FIRES + 1);
                        if fires.len() > MAX_CATCH_UP_FIRES {
                            skipped.push((pipeline.name.clone(), trigger.id.clone(), fires.len()));
                        }
                        for at in fires.into_iter().take(MAX_CATCH_UP_FIRES) {
                            let reason = TriggerReason::Schedule {
                                trigger_id: trigger.id.clone(),
                                schedule: *schedule,
                                scheduled_for: at,
                            };
                            due.push((at, p, t, reason));
                        }
                    }
                    TriggerKind::NewData => {
                        for release in &released {
                            let reason = TriggerReason::NewData {
                                trigger_id: trigger.id.clone(),
                                month: release.month,
                                available_at: release.available_at,
                            };
                            due.push((release.available_at, p, t, reason));
                        }
                    }
                    TriggerKind::Alert { .. } | TriggerKind::Manual | TriggerKind::Api => {}
                }
            }
        }
        due.sort_by_key(|(at, p, t, _)| (*at, *p, *t));
        self.now = now;
        for (pipeline, trigger, count) in skipped {
            self.log.push(TriggerLogEntry {
                at: now,
                pipeline,
                run_id: None,
                why: format!(
                    "trigger `{trigger}` was due more than {MAX_CATCH_UP_FIRES} times while the clock jumped; \
                     only the first {MAX_CATCH_UP_FIRES} runs were started ({} and more were skipped)",
                    count - MAX_CATCH_UP_FIRES
                ),
            });
        }
        due.into_iter()
            .map(|(at, p, _, reason)| {
                let name = self.pipelines[p].name.clone();
                self.fire(&name, reason, at, now)
            })
            .collect()
    }

    /// Fires the alert triggers an event matches: only events that ask for retraining,
    /// and only triggers for any rule or for this one. An event that matches nothing is
    /// logged too, so the learner sees why no run started.
    pub fn on_alert(&mut self, event: &AlertEvent, now: SimTime) -> Vec<TriggerFire> {
        let mut matches: Vec<(String, String)> = Vec::new();
        if event.retrain {
            for pipeline in self.pipelines.iter().filter(|p| !p.paused) {
                for trigger in pipeline.triggers.iter().filter(|t| t.enabled) {
                    if let TriggerKind::Alert { rule_id } = &trigger.kind {
                        if rule_id.as_ref().is_none_or(|rule| *rule == event.rule_id) {
                            matches.push((pipeline.name.clone(), trigger.id.clone()));
                        }
                    }
                }
            }
        }
        if matches.is_empty() {
            let why = if event.retrain {
                format!(
                    "alert `{}` asked for retraining, but no active pipeline has an alert trigger for it",
                    event.rule
                )
            } else {
                format!(
                    "alert `{}` fired; its rule does not ask for retraining (add `then retrain`)",
                    event.rule
                )
            };
            self.log.push(TriggerLogEntry { at: now, pipeline: String::new(), run_id: None, why });
            return Vec::new();
        }
        matches
            .into_iter()
            .map(|(pipeline, trigger_id)| {
                let reason = TriggerReason::Alert { trigger_id, event: event.clone() };
                self.fire(&pipeline, reason, now, now)
            })
            .collect()
    }

    /// Fires for every alert the inbox collected since the last call, emptying it.
    pub fn take_alerts(&mut self, inbox: &AlertInbox, now: SimTime) -> Vec<TriggerFire> {
        let events = inbox.take();
        events.iter().flat_map(|event| self.on_alert(event, now)).collect()
    }

    fn known(&self, pipeline: &str) -> Result<(), ScheduleError> {
        if self.pipelines.iter().any(|p| p.name == pipeline) {
            Ok(())
        } else {
            Err(ScheduleError::UnknownPipeline(pipeline.to_string()))
        }
    }

    /// A run started by hand (the Run button). Works while paused: pausing stops
    /// automatic triggers only.
    pub fn manual(&mut self, pipeline: &str, now: SimTime, note: &str) -> Result<TriggerFire, ScheduleError> {
        self.known(pipeline)?;
        Ok(self.fire(pipeline, TriggerReason::Manual { note: note.to_string() }, now, now))
    }

    /// A run started by another program (Mage's API trigger).
    pub fn api(&mut self, pipeline: &str, now: SimTime, caller: &str) -> Result<TriggerFire, ScheduleError> {
        self.known(pipeline)?;
        Ok(self.fire(pipeline, TriggerReason::Api { caller: caller.to_string() }, now, now))
    }

    /// When each enabled schedule of `pipeline` fires next, for the trigger list
    /// ("next run: 2021-03-01 00:00, in 3 d").
    pub fn upcoming(&self, pipeline: &str) -> Vec<(String, SimTime, String)> {
        self.pipelines
            .iter()
            .filter(|p| p.name == pipeline && !p.paused)
            .flat_map(|p| p.triggers.iter().filter(|t| t.enabled))
            .filter_map(|t| match &t.kind {
                TriggerKind::Schedule(schedule) => schedule
                    .next_after(self.now)
                    .map(|at| (t.id.clone(), at, format!("in {}", format_duration(at.0 - self.now.0)))),
                _ => None,
            })
            .collect()
    }
}

/// Collects monitoring alerts that ask for retraining, for the scheduler to turn into runs.
///
/// The monitoring chapter calls [`RetrainHook::retrain`] with `&self` while it replays
/// days; the inbox keeps the events until [`Scheduler::take_alerts`] collects them, so
/// monitoring never needs to know about pipelines.
#[derive(Debug, Default)]
pub struct AlertInbox {
    events: RefCell<Vec<AlertEvent>>,
}

impl AlertInbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events received so far, emptying the inbox.
    pub fn take(&self) -> Vec<AlertEvent> {
        self.events.take()
    }

    pub fn len(&self) -> usize {
        self.events.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RetrainHook for AlertInbox {
    fn retrain(&self, event: &AlertEvent) {
        self.events.borrow_mut().push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SimTime {
        SimTime::parse(text).expect("a valid time")
    }

    fn next(schedule: &str, after: &str) -> String {
        let schedule = Schedule::parse(schedule).expect("a schedule");
        schedule.next_after(at(after)).map_or("never".to_string(), |t| t.to_string())
    }

    #[test]
    fn monthly_fires_on_the_day_and_is_strictly_after() {
        assert_eq!(next("monthly on day 1 at 00:00", "2021-01-15 10:00"), "2021-02-01 00:00");
        assert_eq!(next("monthly on day 1 at 00:00", "2021-02-01 00:00"), "2021-03-01 00:00");
        assert_eq!(next("monthly on day 1 at 00:00", "2021-01-31 23:59"), "2021-02-01 00:00");
        assert_eq!(next("monthly on day 1 at 00:00", "2021-12-05"), "2022-01-01 00:00");
        assert_eq!(next("monthly on day 15 at 06:30", "2021-03-15 06:29"), "2021-03-15 06:30");
    }

    #[test]
    fn monthly_on_day_31_or_29_skips_months_without_it() {
        assert_eq!(next("monthly on day 31 at 00:00", "2021-01-31 00:00"), "2021-03-31 00:00");
        assert_eq!(next("monthly on day 31 at 12:00", "2021-04-01"), "2021-05-31 12:00");
        assert_eq!(next("monthly on day 30 at 00:00", "2021-01-30 00:00"), "2021-03-30 00:00");
        // 29 February only in leap years: 2024 yes, 2023 and 2100 no.
        assert_eq!(next("monthly on day 29 at 00:00", "2024-01-29 00:00"), "2024-02-29 00:00");
        assert_eq!(next("monthly on day 29 at 00:00", "2023-01-29 00:00"), "2023-03-29 00:00");
        assert_eq!(next("monthly on day 29 at 00:00", "2100-01-29 00:00"), "2100-03-29 00:00");
        assert_eq!(next("monthly on day 29 at 00:00", "2000-01-29 00:00"), "2000-02-29 00:00");
    }

    #[test]
    fn daily_weekly_and_hourly() {
        assert_eq!(next("daily at 06:30", "2021-02-28 06:30"), "2021-03-01 06:30");
        assert_eq!(next("daily at 06:30", "2024-02-28 07:00"), "2024-02-29 06:30");
        assert_eq!(next("daily at 06:30", "2021-12-31 23:00"), "2022-01-01 06:30");
        // 2021-02-01 is a Monday.
        assert_eq!(next("weekly on monday at 06:00", "2021-02-01 05:59"), "2021-02-01 06:00");
        assert_eq!(next("weekly on Monday at 06:00", "2021-02-01 06:00"), "2021-02-08 06:00");
        assert_eq!(next("weekly on sun at 00:00", "2021-02-01"), "2021-02-07 00:00");
        assert_eq!(next("every 6 hours", "2021-02-01 05:59"), "2021-02-01 06:00");
        assert_eq!(next("every 6 hours", "2021-02-01 18:00"), "2021-02-02 00:00");
        assert_eq!(next("every hour", "2021-02-01 18:00:01"), "2021-02-01 19:00");
    }

    #[test]
    fn schedules_print_and_parse_back() {
        for text in [
            "monthly on day 1 at 00:00",
            "weekly on Friday at 17:45",
            "daily at 06:30",
            "every 6 hours",
            "every hour",
        ] {
            assert_eq!(Schedule::parse(text).expect("parses").to_string(), text);
        }
        assert_eq!(Schedule::parse("monthly on day 32 at 00:00"), Err(ScheduleError::Day(32)));
        assert_eq!(Schedule::parse("daily at 24:00"), Err(ScheduleError::TimeOfDay { hour: 24, minute: 0 }));
        assert_eq!(Schedule::parse("every 0 hours"), Err(ScheduleError::Hours(0)));
        assert!(matches!(Schedule::parse("whenever"), Err(ScheduleError::Unreadable(_))));
        assert!(matches!(Schedule::parse("daily at 6"), Err(ScheduleError::Unreadable(_))));
    }

    #[test]
    fn no_fire_after_year_9999() {
        assert_eq!(next("monthly on day 1 at 00:00", "9999-12-05"), "never");
        let hourly = Schedule::EveryHours { hours: 1 };
        assert_eq!(hourly.next_after(SimTime(i64::MAX - 10)), None);
        assert!(hourly.next_after(SimTime(i64::MIN)).is_some());
    }

    #[test]
    fn fires_between_counts_each_missed_date() {
        let monthly = Schedule::monthly_on_day_1();
        let fires = monthly.fires_between(at("2021-01-15"), at("2021-03-01"), 10);
        assert_eq!(fires, vec![at("2021-02-01"), at("2021-03-01")]);
        assert_eq!(monthly.fires_between(at("2021-01-15"), at("2021-12-31"), 3).len(), 3);
    }
}
