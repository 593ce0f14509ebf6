//! The monitoring dashboard's state (Chapter 5): which months are replayed with which
//! injected drift, the simulated clock that reveals the replayed days one by one, the
//! alert rules, and the write path the course runs as a daily job — store the day's
//! metrics, evaluate the alerts over what is known so far, log what fired.
//!
//! The worker computes the whole month at once ([`AppState::replay`]); the clock then
//! plays it back as if the days were happening. On day `d` the clock stores day `d`'s
//! metrics without RMSE/MAE (the truth — trip durations — is not known yet) and fills in
//! the RMSE/MAE of day `k` when the clock reaches `k + truth delay` (the stored row is
//! written again then). Alerts see exactly what was stored: a rule on RMSE can only fire
//! once the truth has arrived.
//!
//! What outlives a reload: the replay's setup and clock position (localStorage), its
//! stored daily metrics and the alert log (IndexedDB, [`MonitoringStore`]). The per-day
//! drift reports are in memory only; "replay again" recomputes them — the same sources
//! and options give the same days — and the clock continues where it stood.
//!
//! Alerts that ask for retraining go through [`RetrainHook`]s. Until the pipelines
//! chapter installs its own (with [`Monitoring::set_retrain_hooks`]), the only hook
//! records the request in [`Monitoring::retrain_requests`].

use std::rc::Rc;
use std::sync::Arc;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use mlops_core::drift::DriftOptions;
use mlops_core::monitoring::alerts::{default_rules, evaluate, AlertEvent, AlertRule, RetrainHook};
use mlops_core::monitoring::inject::Injection;
use mlops_core::monitoring::jobs::ReplayResult;
use mlops_core::monitoring::replay::{DayMetrics, ReplayOptions};
use mlops_core::monitoring::store::{AlertLogEntry, MetricsRow, MonitoringStore};
use mlops_core::protocol::Source;
use mlops_core::simulate::CityParams;
use serde::{Deserialize, Serialize};

use crate::components::data_panel::fetch_bytes;
use crate::state::{AppState, Pending};
use crate::storage::{prefs, random_id};
use crate::tracking_state::Tracking;

/// The learner's alert rules, one per line (absent: the course's defaults).
pub const RULES_KEY: &str = "mlops-lab-monitoring-rules";
/// The injections being edited, as JSON.
pub const INJECTIONS_KEY: &str = "mlops-lab-monitoring-injections";
/// The replay on the clock ([`ReplaySetup`] as JSON).
pub const REPLAY_KEY: &str = "mlops-lab-monitoring-replay";
/// The truth delay chosen for the next replay.
pub const DELAY_KEY: &str = "mlops-lab-monitoring-truth-delay";
/// Milliseconds between two ticks of the clock while it plays.
pub const TICK_MS: u32 = 2_000;
/// Days per tick the learner can choose.
pub const SPEEDS: [u32; 4] = [1, 2, 4, 16];
/// The longest truth delay offered.
pub const MAX_TRUTH_DELAY: u32 = 14;

// ---------------------------------------------------------------------------------------
// What is replayed

/// Where a month comes from, as remembered across reloads (the bytes of a picked file
/// are not: after a reload it must be picked again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MonthChoice {
    Simulated {
        params: CityParams,
    },
    /// An entry of the instructor's `data/catalog.json`.
    Catalog {
        label: String,
        url: String,
    },
    /// A file picked from the learner's disk.
    File {
        name: String,
    },
}

impl MonthChoice {
    /// The simulated city in the course's monitoring months: 2022-01 (reference) and
    /// 2022-02 (current). Passenger counts are missing on 10% of trips, as in the real
    /// February 2022 file (the 2021 default of 47% would fire the missing-values alert
    /// every day and hide what an injection does).
    pub fn simulated(month: u32) -> Self {
        MonthChoice::Simulated {
            params: CityParams { year: 2022, month, missing_passenger_share: 0.10, ..CityParams::default() },
        }
    }

    pub fn label(&self) -> String {
        match self {
            MonthChoice::Simulated { params } => params.label(),
            MonthChoice::Catalog { label, .. } => label.clone(),
            MonthChoice::File { name } => name.clone(),
        }
    }
}

/// A replay as remembered: enough to compute it again identically, and where its clock is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplaySetup {
    /// The key of its rows in the metrics store and of its alerts in the log.
    pub replay_id: String,
    pub reference: MonthChoice,
    pub current: MonthChoice,
    pub options: ReplayOptions,
    /// Days the worker computed (0 until it answered).
    pub days: u32,
    /// Days the clock has revealed: days `0..revealed` are stored.
    pub revealed: u32,
}

impl ReplaySetup {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// Pure rules of the write path (tested natively below)

/// A day's metrics as known while the clock stands on `today`: RMSE and MAE only once
/// their truth has arrived (`truth_day <= today`).
pub fn as_known_on(metrics: &DayMetrics, today: u32) -> DayMetrics {
    let mut known = metrics.clone();
    if metrics.truth_day > today {
        known.rmse = None;
        known.mae = None;
    }
    known
}

/// Every day up to `today`, as known on `today` (the history the alert rules read).
pub fn known_history(days: &[DayMetrics], today: u32) -> Vec<DayMetrics> {
    days.iter().take(today as usize + 1).map(|m| as_known_on(m, today)).collect()
}

/// The rows to write when the clock reaches `today`: today's row, and the rows of the
/// earlier days whose truth arrives today (written again with their RMSE/MAE).
pub fn rows_to_store(days: &[DayMetrics], today: u32, replay_id: &str, now_ms: i64) -> Vec<MetricsRow> {
    days.iter()
        .take(today as usize + 1)
        .filter(|m| m.day_index == today || (m.day_index < today && m.truth_day == today))
        .map(|m| MetricsRow {
            replay_id: replay_id.to_string(),
            stored_at_ms: now_ms,
            metrics: as_known_on(m, today),
        })
        .collect()
}

/// `rows` with `fresh` written over them (by day index), sorted by day.
pub fn merge_rows(rows: &[MetricsRow], fresh: &[MetricsRow]) -> Vec<MetricsRow> {
    let mut merged: Vec<MetricsRow> = rows
        .iter()
        .filter(|r| !fresh.iter().any(|f| f.metrics.day_index == r.metrics.day_index))
        .cloned()
        .chain(fresh.iter().cloned())
        .collect();
    merged.sort_by_key(|r| r.metrics.day_index);
    merged
}

/// One line of the rules box, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleLine {
    /// 1-based, as an editor counts.
    pub line: usize,
    pub text: String,
    pub parsed: Result<AlertRule, String>,
}

/// The rules box, line by line; blank lines and `#` comments are skipped.
pub fn parse_rules(text: &str) -> Vec<RuleLine> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(i, line)| RuleLine {
            line: i + 1,
            text: line.trim().to_string(),
            parsed: AlertRule::parse(line.trim()).map_err(|e| e.to_string()),
        })
        .collect()
}

/// The course's rules, one per line, in the words the parser reads.
pub fn default_rules_text() -> String {
    default_rules().iter().map(AlertRule::describe).collect::<Vec<_>>().join("\n")
}

/// Ready-made drift for the injections editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    SnowWeek,
    BrokenPipeline,
    SchemaChange,
    NewPopularZone,
}

impl Preset {
    pub const ALL: [Preset; 4] =
        [Preset::SnowWeek, Preset::BrokenPipeline, Preset::SchemaChange, Preset::NewPopularZone];

    pub fn name(self) -> &'static str {
        match self {
            Preset::SnowWeek => "snow week (days 8–14, speed ×0.6)",
            Preset::BrokenPipeline => "broken pipeline (trip_distance missing 30%, days 10–12)",
            Preset::SchemaChange => "schema change (trip_distance renamed to distance_km on day 20)",
            Preset::NewPopularZone => "new popular zone (PULocationID 132, 40%, days 15–21)",
        }
    }

    /// A short id for the page's test hooks.
    pub fn id(self) -> &'static str {
        match self {
            Preset::SnowWeek => "snow-week",
            Preset::BrokenPipeline => "broken-pipeline",
            Preset::SchemaChange => "schema-change",
            Preset::NewPopularZone => "new-popular-zone",
        }
    }

    /// Days are day indices: 0 is the 1st of the month, so "days 8–14" starts at 7.
    pub fn injection(self) -> Injection {
        match self {
            Preset::SnowWeek => Injection::Slowdown { from_day: 7, days: 7, speed_factor: 0.6 },
            Preset::BrokenPipeline => {
                Injection::MissingValues { from_day: 9, days: 3, column: "trip_distance".into(), share: 0.3 }
            }
            Preset::SchemaChange => Injection::RenameColumn {
                from_day: 19,
                days: 12,
                column: "trip_distance".into(),
                new_name: "distance_km".into(),
            },
            Preset::NewPopularZone => {
                Injection::ZonePopularity { from_day: 14, days: 7, zone: 132, share: 0.4 }
            }
        }
    }
}

/// The injections editor's view of an [`Injection`]: its kind and shared fields.
pub mod injection_fields {
    use mlops_core::monitoring::inject::Injection;

    /// (serde variant name, what the select shows).
    pub const KINDS: [(&str, &str); 5] = [
        ("slowdown", "slower trips (speed factor)"),
        ("missing_values", "missing values in a column"),
        ("rename_column", "column renamed"),
        ("retype_column", "column arrives as text"),
        ("zone_popularity", "new popular pickup zone"),
    ];

    pub fn kind(injection: &Injection) -> &'static str {
        match injection {
            Injection::Slowdown { .. } => "slowdown",
            Injection::MissingValues { .. } => "missing_values",
            Injection::RenameColumn { .. } => "rename_column",
            Injection::RetypeColumn { .. } => "retype_column",
            Injection::ZonePopularity { .. } => "zone_popularity",
        }
    }

    /// (from_day, days).
    pub fn span(injection: &Injection) -> (u32, u32) {
        match injection {
            Injection::Slowdown { from_day, days, .. }
            | Injection::MissingValues { from_day, days, .. }
            | Injection::RenameColumn { from_day, days, .. }
            | Injection::RetypeColumn { from_day, days, .. }
            | Injection::ZonePopularity { from_day, days, .. } => (*from_day, *days),
        }
    }

    pub fn set_span(injection: &mut Injection, start: u32, length: u32) {
        match injection {
            Injection::Slowdown { from_day, days, .. }
            | Injection::MissingValues { from_day, days, .. }
            | Injection::RenameColumn { from_day, days, .. }
            | Injection::RetypeColumn { from_day, days, .. }
            | Injection::ZonePopularity { from_day, days, .. } => {
                *from_day = start;
                *days = length;
            }
        }
    }

    /// A new injection of `kind` over the same days, with the kind's usual parameters.
    pub fn of_kind(kind: &str, from_day: u32, days: u32) -> Injection {
        match kind {
            "missing_values" => {
                Injection::MissingValues { from_day, days, column: "trip_distance".into(), share: 0.3 }
            }
            "rename_column" => Injection::RenameColumn {
                from_day,
                days,
                column: "trip_distance".into(),
                new_name: "distance_km".into(),
            },
            "retype_column" => Injection::RetypeColumn { from_day, days, column: "trip_distance".into() },
            "zone_popularity" => Injection::ZonePopularity { from_day, days, zone: 132, share: 0.4 },
            _ => Injection::Slowdown { from_day, days, speed_factor: 0.6 },
        }
    }
}

/// Injections from their stored JSON (nothing when it does not read).
pub fn parse_injections(text: &str) -> Vec<Injection> {
    serde_json::from_str(text).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Retraining requests

/// The hook in place until the pipelines chapter installs its own: it records the
/// request, which the dashboard shows and the pipelines chapter can read.
pub struct RecordRetrainRequest {
    pub requests: RwSignal<Vec<AlertEvent>>,
}

impl RetrainHook for RecordRetrainRequest {
    fn retrain(&self, event: &AlertEvent) {
        self.requests.update(|list| list.push(event.clone()));
    }
}

// ---------------------------------------------------------------------------------------
// The state

/// Files picked from the learner's disk this session: (name, bytes).
type PickedFiles = Vec<(String, Arc<Vec<u8>>)>;

#[derive(Clone, Copy)]
pub struct Monitoring {
    state: AppState,
    tracking: Tracking,
    /// The months the next replay compares.
    pub reference: RwSignal<MonthChoice>,
    pub current: RwSignal<MonthChoice>,
    /// Drift to cause on chosen days of the next replay.
    pub injections: RwSignal<Vec<Injection>>,
    /// Days between a trip and its known duration (RMSE and MAE arrive this late).
    pub truth_delay: RwSignal<u32>,
    /// The rules box; `None` shows the course's default rules.
    pub rules_text: RwSignal<Option<String>>,
    /// The replay on the clock, as remembered.
    pub setup: RwSignal<Option<ReplaySetup>>,
    /// Its computed days, when computed since the page loaded.
    pub result: RwSignal<Option<Arc<ReplayResult>>>,
    /// Its stored rows (what the charts show), by day.
    pub rows: RwSignal<Vec<MetricsRow>>,
    /// The whole alert log, oldest first.
    pub alerts: RwSignal<Vec<AlertLogEntry>>,
    /// Alerts that asked for retraining since the page loaded (the default hook's record).
    pub retrain_requests: RwSignal<Vec<AlertEvent>>,
    pub running: RwSignal<bool>,
    /// Days revealed per tick.
    pub speed: RwSignal<u32>,
    /// True while a reveal writes to the store.
    pub advancing: RwSignal<bool>,
    /// True from "Replay" until the worker answered.
    pub replaying: RwSignal<bool>,
    /// The day whose columns the drift table shows (`None`: the latest revealed).
    pub selected_day: RwSignal<Option<u32>>,
    /// True once the stored metrics and the alert log were read.
    pub loaded: RwSignal<bool>,
    /// What went wrong, in words.
    pub problem: RwSignal<Option<String>>,
    /// A note that is not an error (a recomputed replay that differs from the stored one).
    pub notice: RwSignal<Option<String>>,
    load_started: StoredValue<bool>,
    files: StoredValue<PickedFiles, LocalStorage>,
    hooks: StoredValue<Vec<Rc<dyn RetrainHook>>, LocalStorage>,
    timer: StoredValue<Option<Interval>, LocalStorage>,
}

impl Monitoring {
    /// Reads only localStorage: the store is read when the dashboard first opens
    /// ([`Monitoring::ensure_loaded`]).
    pub fn new(state: AppState) -> Self {
        let setup = prefs::get(REPLAY_KEY).and_then(|t| ReplaySetup::parse(&t));
        let injections = prefs::get(INJECTIONS_KEY).map(|t| parse_injections(&t)).unwrap_or_default();
        let truth_delay = prefs::get(DELAY_KEY)
            .and_then(|t| t.parse().ok())
            .unwrap_or(ReplayOptions::default().truth_delay_days)
            .min(MAX_TRUTH_DELAY);
        let (reference, current) = match &setup {
            Some(s) => (s.reference.clone(), s.current.clone()),
            None => (MonthChoice::simulated(1), MonthChoice::simulated(2)),
        };
        let retrain_requests = RwSignal::new(Vec::new());
        let default_hook: Rc<dyn RetrainHook> = Rc::new(RecordRetrainRequest { requests: retrain_requests });
        Self {
            state,
            tracking: state.tracking,
            reference: RwSignal::new(reference),
            current: RwSignal::new(current),
            injections: RwSignal::new(injections),
            truth_delay: RwSignal::new(truth_delay),
            rules_text: RwSignal::new(prefs::get(RULES_KEY)),
            setup: RwSignal::new(setup),
            result: RwSignal::new(None),
            rows: RwSignal::new(Vec::new()),
            alerts: RwSignal::new(Vec::new()),
            retrain_requests,
            running: RwSignal::new(false),
            speed: RwSignal::new(SPEEDS[0]),
            advancing: RwSignal::new(false),
            replaying: RwSignal::new(false),
            selected_day: RwSignal::new(None),
            loaded: RwSignal::new(false),
            problem: RwSignal::new(None),
            notice: RwSignal::new(None),
            load_started: StoredValue::new(false),
            files: StoredValue::new_local(Vec::new()),
            hooks: StoredValue::new_local(vec![default_hook]),
            timer: StoredValue::new_local(None),
        }
    }

    pub fn use_context() -> Self {
        expect_context::<Self>()
    }

    // ----- what the page edits -----

    /// The rules box's text (the defaults until the learner edits it).
    pub fn rules_source(&self) -> String {
        self.rules_text.get().unwrap_or_else(default_rules_text)
    }

    pub fn set_rules_text(&self, text: String) {
        prefs::set(RULES_KEY, &text);
        self.rules_text.set(Some(text));
    }

    pub fn reset_rules(&self) {
        prefs::remove(RULES_KEY);
        self.rules_text.set(None);
    }

    /// The rules that parse (the others are shown with their error and not evaluated).
    pub fn valid_rules(&self) -> Vec<AlertRule> {
        parse_rules(&self.rules_text.get_untracked().unwrap_or_else(default_rules_text))
            .into_iter()
            .filter_map(|line| line.parsed.ok())
            .collect()
    }

    pub fn update_injections(&self, change: impl FnOnce(&mut Vec<Injection>)) {
        self.injections.update(change);
        self.injections.with_untracked(|list| {
            prefs::set(INJECTIONS_KEY, &serde_json::to_string(list).unwrap_or_default())
        });
    }

    pub fn set_truth_delay(&self, days: u32) {
        let days = days.min(MAX_TRUTH_DELAY);
        prefs::set(DELAY_KEY, &days.to_string());
        self.truth_delay.set(days);
    }

    /// Keeps a picked file's bytes (in memory) for this and later replays.
    pub fn add_file(&self, name: String, bytes: Vec<u8>) {
        self.files.update_value(|files| {
            files.retain(|(n, _)| *n != name);
            files.push((name, Arc::new(bytes)));
        });
    }

    pub fn has_file(&self, name: &str) -> bool {
        self.files.with_value(|files| files.iter().any(|(n, _)| n == name))
    }

    // ----- retraining -----

    /// Replaces the hooks that receive alerts asking for retraining (the pipelines
    /// chapter's seam; the default hook records into [`Monitoring::retrain_requests`]).
    pub fn set_retrain_hooks(&self, hooks: Vec<Rc<dyn RetrainHook>>) {
        self.hooks.set_value(hooks);
    }

    fn request_retraining(&self, event: &AlertEvent) {
        let hooks = self.hooks.get_value();
        for hook in hooks {
            hook.retrain(event);
        }
    }

    // ----- the clock -----

    /// Days of the replay on the clock (0 before one was computed).
    pub fn days(&self) -> u32 {
        self.setup.with(|s| s.as_ref().map_or(0, |s| s.days))
    }

    /// Days revealed so far.
    pub fn revealed(&self) -> u32 {
        self.setup.with(|s| s.as_ref().map_or(0, |s| s.revealed))
    }

    /// True when the clock can move: the days are computed and some are left.
    pub fn can_advance(&self) -> bool {
        self.result.with(Option::is_some) && self.revealed() < self.days()
    }

    pub fn play(&self) {
        if !self.can_advance() || self.running.get_untracked() {
            return;
        }
        self.running.set(true);
        self.advance(self.speed.get_untracked());
        let monitoring = *self;
        let interval = Interval::new(TICK_MS, move || {
            if monitoring.running.try_get_untracked() != Some(true) {
                return;
            }
            if monitoring.advancing.get_untracked() {
                return;
            }
            monitoring.advance(monitoring.speed.get_untracked());
        });
        self.timer.set_value(Some(interval));
    }

    pub fn pause(&self) {
        self.running.set(false);
        // Dropping the interval cancels it.
        self.timer.set_value(None);
    }

    /// Reveals one day (the clock pauses first).
    pub fn step(&self) {
        self.pause();
        if !self.advancing.get_untracked() {
            self.advance(1);
        }
    }

    /// Back to before day 1: forgets this replay's stored days and alerts.
    pub fn reset(&self) {
        self.pause();
        let Some(mut setup) = self.setup.get_untracked() else { return };
        let monitoring = *self;
        spawn_local(async move {
            while monitoring.advancing.get_untracked() {
                gloo_timers::future::TimeoutFuture::new(50).await;
            }
            let cleared = async {
                let client = monitoring.tracking.open_client()?;
                MonitoringStore::new(client.backend()).clear(&setup.replay_id).await
            }
            .await;
            if let Err(e) = cleared {
                monitoring.problem.set(Some(format!("The stored days could not be removed: {e}")));
                return;
            }
            setup.revealed = 0;
            monitoring.remember(&setup);
            monitoring.setup.set(Some(setup.clone()));
            monitoring.rows.set(Vec::new());
            monitoring.alerts.update(|log| log.retain(|entry| entry.replay_id != setup.replay_id));
            monitoring.selected_day.set(None);
        });
    }

    fn remember(&self, setup: &ReplaySetup) {
        prefs::set(REPLAY_KEY, &setup.to_json());
    }

    /// Reveals up to `days` days, one after the other.
    fn advance(&self, days: u32) {
        let monitoring = *self;
        self.advancing.set(true);
        spawn_local(async move {
            for _ in 0..days {
                match monitoring.reveal_next_day().await {
                    Ok(true) => {}
                    Ok(false) => {
                        monitoring.pause();
                        break;
                    }
                    Err(e) => {
                        monitoring.problem.set(Some(e));
                        monitoring.pause();
                        break;
                    }
                }
            }
            if !monitoring.can_advance() {
                monitoring.pause();
            }
            monitoring.advancing.set(false);
        });
    }

    /// The daily job for the next day: store its metrics (and the truth that arrives
    /// today), evaluate the rules over what is known, log and announce what fired.
    /// `Ok(false)` when there is no day left.
    async fn reveal_next_day(&self) -> Result<bool, String> {
        let (Some(result), Some(mut setup)) = (self.result.get_untracked(), self.setup.get_untracked())
        else {
            return Ok(false);
        };
        let today = setup.revealed;
        if today as usize >= result.days.len() {
            return Ok(false);
        }
        let metrics: Vec<DayMetrics> = result.days.iter().map(|d| d.metrics.clone()).collect();
        let now = js_sys::Date::now() as i64;
        let rows = rows_to_store(&metrics, today, &setup.replay_id, now);
        let events = evaluate(&self.valid_rules(), &known_history(&metrics, today), today);
        let entries: Vec<AlertLogEntry> = events
            .iter()
            .map(|event| AlertLogEntry {
                replay_id: setup.replay_id.clone(),
                fired_at_ms: now,
                event: event.clone(),
            })
            .collect();
        let client = self.tracking.open_client().map_err(|e| e.to_string())?;
        let store = MonitoringStore::new(client.backend());
        store.put_metrics(&rows).await.map_err(|e| format!("Day {} could not be stored: {e}", today + 1))?;
        if !entries.is_empty() {
            store
                .append_alerts(&entries)
                .await
                .map_err(|e| format!("The alerts could not be logged: {e}"))?;
        }
        // The replay may have been reset or replaced while writing.
        if self.setup.with_untracked(|s| s.as_ref().map(|s| (s.replay_id.clone(), s.revealed)))
            != Some((setup.replay_id.clone(), today))
        {
            return Ok(false);
        }
        setup.revealed = today + 1;
        self.remember(&setup);
        self.setup.set(Some(setup));
        self.rows.update(|stored| *stored = merge_rows(stored, &rows));
        if !entries.is_empty() {
            self.alerts.update(|log| log.extend(entries));
        }
        for event in events.iter().filter(|e| e.retrain) {
            self.request_retraining(event);
        }
        Ok(true)
    }

    // ----- replaying -----

    /// Computes a new replay of the chosen months with the current injections and
    /// truth delay; its clock starts before day 1.
    pub fn replay(&self) {
        let injections = self.injections.get_untracked();
        if let Some((i, e)) =
            injections.iter().enumerate().find_map(|(i, inj)| inj.check().err().map(|e| (i, e)))
        {
            self.problem.set(Some(format!("Injection {} is not valid: {e}", i + 1)));
            return;
        }
        let setup = ReplaySetup {
            replay_id: random_id(),
            reference: self.reference.get_untracked(),
            current: self.current.get_untracked(),
            options: ReplayOptions {
                truth_delay_days: self.truth_delay.get_untracked(),
                drift: DriftOptions::default(),
                injections,
            },
            days: 0,
            revealed: 0,
        };
        self.run(setup, false);
    }

    /// Computes the remembered replay again (same months, same options: the same days)
    /// and keeps its clock where it stood.
    pub fn replay_again(&self) {
        if let Some(setup) = self.setup.get_untracked() {
            self.run(setup, true);
        }
    }

    async fn sources(&self, choice: &MonthChoice, month: u32) -> Result<Vec<Source>, String> {
        match choice {
            MonthChoice::Simulated { params } => Ok(vec![Source::Simulated(params.clone())]),
            MonthChoice::Catalog { url, .. } => {
                let bytes = fetch_bytes(url).await?;
                let name = url.rsplit('/').next().unwrap_or(url).to_string();
                Ok(vec![Source::File { name, bytes }])
            }
            MonthChoice::File { name } => {
                let bytes = self.files.with_value(|files| {
                    files.iter().find(|(n, _)| n == name).map(|(_, bytes)| bytes.as_ref().clone())
                });
                let which = if month == 1 { "reference" } else { "current" };
                bytes.map(|bytes| vec![Source::File { name: name.clone(), bytes }]).ok_or_else(|| {
                    format!(
                        "The {which} month was the file `{name}` from your disk; pick it again to replay."
                    )
                })
            }
        }
    }

    fn run(&self, mut setup: ReplaySetup, continuing: bool) {
        if self.state.is_busy() || self.replaying.get_untracked() {
            self.problem.set(Some("The background worker is busy; try again when it has finished.".into()));
            return;
        }
        self.pause();
        self.problem.set(None);
        self.notice.set(None);
        self.replaying.set(true);
        let monitoring = *self;
        spawn_local(async move {
            let outcome = async {
                let reference = monitoring.sources(&setup.reference, 1).await?;
                let current = monitoring.sources(&setup.current, 2).await?;
                let state = monitoring.state;
                if state.is_busy() {
                    return Err("The background worker is busy; try again when it has finished.".to_string());
                }
                let before = state.replayed.get_untracked();
                state.replay(reference, current, setup.options.clone());
                while state.pending.get_untracked() == Some(Pending::Replay) {
                    gloo_timers::future::TimeoutFuture::new(100).await;
                }
                match state.replayed.get_untracked() {
                    Some(after) if before.as_ref().is_none_or(|b| !Arc::ptr_eq(b, &after)) => Ok(after),
                    _ => Err(state
                        .error
                        .get_untracked()
                        .unwrap_or_else(|| "The replay did not finish.".into())),
                }
            }
            .await;
            monitoring.replaying.set(false);
            let result = match outcome {
                Ok(result) => result,
                Err(e) => {
                    monitoring.problem.set(Some(e));
                    return;
                }
            };
            let computed = result.days.len() as u32;
            if continuing {
                if let Some(note) = differences(&monitoring.rows.get_untracked(), &result) {
                    monitoring.notice.set(Some(note));
                }
                setup.revealed = setup.revealed.min(computed);
            } else {
                setup.revealed = 0;
                monitoring.rows.set(Vec::new());
                monitoring.selected_day.set(None);
            }
            setup.days = computed;
            monitoring.remember(&setup);
            monitoring.setup.set(Some(setup));
            monitoring.result.set(Some(result));
        });
    }

    // ----- reading the store -----

    /// Reads the remembered replay's stored days and the alert log, once.
    pub fn ensure_loaded(&self) {
        if self.load_started.get_value() {
            return;
        }
        self.load_started.set_value(true);
        let monitoring = *self;
        spawn_local(async move {
            while !monitoring.tracking.ready.get_untracked() {
                gloo_timers::future::TimeoutFuture::new(50).await;
            }
            if let Err(e) = monitoring.load().await {
                monitoring.problem.set(Some(format!("The stored monitoring data could not be read: {e}")));
            }
            monitoring.loaded.set(true);
        });
    }

    async fn load(&self) -> Result<(), mlops_core::tracking::TrackingError> {
        let client = self.tracking.open_client()?;
        let store = MonitoringStore::new(client.backend());
        if let Some(mut setup) = self.setup.get_untracked() {
            let rows = store.metrics(&setup.replay_id).await?;
            // Rows stored just before a reload whose clock position was not saved.
            let stored_days = rows.iter().map(|r| r.metrics.day_index + 1).max().unwrap_or(0);
            if stored_days > setup.revealed {
                setup.revealed = stored_days;
                self.remember(&setup);
                self.setup.set(Some(setup));
            }
            self.rows.set(rows);
        }
        let log = store.alerts().await?;
        self.alerts.set(log);
        Ok(())
    }
}

/// Says which stored days a recomputed replay disagrees with (other files or another
/// version of the app), or `None` when every stored day matches.
pub fn differences(stored: &[MetricsRow], result: &ReplayResult) -> Option<String> {
    let differing: Vec<String> = stored
        .iter()
        .filter(|row| {
            let Some(day) = result.days.get(row.metrics.day_index as usize) else { return true };
            let fresh = &day.metrics;
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                (a, b) => a.is_none() == b.is_none(),
            };
            fresh.date != row.metrics.date
                || fresh.rows != row.metrics.rows
                || fresh.drifted_columns != row.metrics.drifted_columns
                || !close(fresh.prediction_drift, row.metrics.prediction_drift)
                || !close(Some(fresh.share_missing), Some(row.metrics.share_missing))
        })
        .map(|row| row.metrics.date.clone())
        .collect();
    (!differing.is_empty()).then(|| {
        format!(
            "The recomputed replay differs from the stored one on {} day(s) ({}): the files or the app changed since. The charts show the stored days.",
            differing.len(),
            differing.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day_index: u32, delay: u32) -> DayMetrics {
        DayMetrics {
            day_index,
            date: format!("2022-02-{:02}", day_index + 1),
            rows: 100,
            prediction_drift: Some(0.05),
            prediction_drifted: false,
            drifted_columns: 1,
            columns: 7,
            dataset_drift: false,
            share_missing: 0.01,
            rmse: Some(5.0 + day_index as f64),
            mae: Some(3.0),
            truth_day: day_index + delay,
            injected: Vec::new(),
        }
    }

    #[test]
    fn rmse_is_hidden_until_its_truth_arrives() {
        let days: Vec<DayMetrics> = (0..5).map(|d| day(d, 2)).collect();
        let history = known_history(&days, 3);
        assert_eq!(history.len(), 4);
        assert_eq!(history[0].rmse, Some(5.0), "day 0's truth arrived on day 2");
        assert_eq!(history[1].rmse, Some(6.0), "day 1's truth arrives on day 3");
        assert_eq!(history[2].rmse, None);
        assert_eq!(history[3].mae, None);
        assert_eq!(history[3].share_missing, 0.01, "the rest is known at once");
    }

    #[test]
    fn each_day_stores_its_row_and_the_truth_arriving_that_day() {
        let days: Vec<DayMetrics> = (0..5).map(|d| day(d, 2)).collect();
        let first = rows_to_store(&days, 0, "r", 7);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].metrics.rmse, None);
        assert_eq!((first[0].replay_id.as_str(), first[0].stored_at_ms), ("r", 7));
        let third = rows_to_store(&days, 2, "r", 8);
        let indices: Vec<u32> = third.iter().map(|r| r.metrics.day_index).collect();
        assert_eq!(indices, vec![0, 2], "day 0 again, now with its truth, and day 2");
        assert_eq!(third[0].metrics.rmse, Some(5.0));
        assert_eq!(third[1].metrics.rmse, None);
        assert!(rows_to_store(&days, 9, "r", 9).is_empty(), "past the month nothing is written");
    }

    #[test]
    fn without_delay_the_truth_comes_with_the_day() {
        let days: Vec<DayMetrics> = (0..3).map(|d| day(d, 0)).collect();
        let rows = rows_to_store(&days, 1, "r", 0);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].metrics.rmse, Some(6.0));
    }

    #[test]
    fn merged_rows_keep_one_row_per_day_in_order() {
        let days: Vec<DayMetrics> = (0..3).map(|d| day(d, 1)).collect();
        let mut rows = Vec::new();
        for today in 0..3 {
            rows = merge_rows(&rows, &rows_to_store(&days, today, "r", today as i64));
        }
        let seen: Vec<(u32, Option<f64>)> =
            rows.iter().map(|r| (r.metrics.day_index, r.metrics.rmse)).collect();
        assert_eq!(seen, vec![(0, Some(5.0)), (1, Some(6.0)), (2, None)]);
    }

    #[test]
    fn setups_round_trip_and_broken_text_is_ignored() {
        let setup = ReplaySetup {
            replay_id: "abc".into(),
            reference: MonthChoice::simulated(1),
            current: MonthChoice::Catalog { label: "Green · Feb 2022".into(), url: "data/g.parquet".into() },
            options: ReplayOptions {
                truth_delay_days: 2,
                drift: DriftOptions::default(),
                injections: vec![Injection::RetypeColumn { from_day: 1, days: 2, column: "x".into() }],
            },
            days: 28,
            revealed: 5,
        };
        assert_eq!(ReplaySetup::parse(&setup.to_json()), Some(setup));
        assert_eq!(ReplaySetup::parse("{"), None);
        assert!(parse_injections("not json").is_empty());
        assert!(MonthChoice::simulated(2).label().contains("2022-02"));
    }

    #[test]
    fn changing_an_injections_kind_keeps_its_days() {
        let mut injection = injection_fields::of_kind("zone_popularity", 3, 4);
        assert_eq!(injection_fields::kind(&injection), "zone_popularity");
        assert_eq!(injection_fields::span(&injection), (3, 4));
        injection_fields::set_span(&mut injection, 1, 2);
        assert_eq!(injection_fields::span(&injection), (1, 2));
        for (kind, _) in injection_fields::KINDS {
            assert_eq!(injection_fields::kind(&injection_fields::of_kind(kind, 0, 1)), kind);
        }
        let json = serde_json::to_string(&Preset::BrokenPipeline.injection()).expect("json");
        // Externally tagged: the worker's bincode messages cannot carry a `kind` tag.
        assert!(json.starts_with(r#"{"missing_values":{"#), "{json}");
        assert_eq!(parse_injections(&format!("[{json}]")), vec![Preset::BrokenPipeline.injection()]);
    }
}
