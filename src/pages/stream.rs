//! The streaming mode of Chapter 4, played out inside the page: a producer puts rides on a
//! simulated Kinesis stream at a rate the learner sets, and a consumer — the course's
//! Lambda function — reads them at its own pace, predicts each one with the served model
//! and writes the answer to an output stream. A record it cannot use goes to a dead-letter
//! list; the consumer carries on with the next one.
//!
//! The bookkeeping (queue, lag, throughput, ride generation) is plain Rust in
//! [`StreamSim`] and [`RideGenerator`], tested natively at the end of this file; the
//! component only drives it with a timer and shows its [`StreamStats`].

use std::collections::VecDeque;

use base64::Engine as _;
use gloo_timers::callback::Interval;
use leptos::prelude::*;
use mlops_core::protocol::DatasetView;
use mlops_core::serving::request::Ride;
use mlops_core::serving::stream::{
    encode_ride_event, process_record, DeadLetter, KinesisRecord, PredictionEvent, MODEL_NAME,
};

use crate::components::model_picker::ModelPicker;
use crate::routes::Route;
use crate::serving_state::{now_ms, Serving};
use crate::state::AppState;

/// How often the simulation advances.
pub const TICK_MS: u32 = 50;
pub const MIN_RATE: f64 = 1.0;
pub const MAX_RATE: f64 = 2000.0;
/// The most records the consumer may read in one tick.
pub const MAX_PER_TICK: usize = 5000;
/// A stream keeps records for a limited time; here, a limited count. Older unread records
/// are dropped (and counted), as an expired Kinesis retention period would.
pub const MAX_QUEUED: usize = 100_000;
/// Output events and dead letters kept for display.
pub const SHOWN: usize = 20;
/// A backgrounded tab ticks once a second at best; a longer gap is not made up for.
const MAX_ELAPSED_MS: f64 = 1000.0;
const SEED: u64 = 42;

// ----- the pure part -----

/// SplitMix64: a small seeded generator, so a run of the stream can be replayed.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Where the producer's rides come from: sample rows of the loaded validation month when
/// there are any, otherwise made-up rides that look like New York's.
#[derive(Debug, Clone)]
pub struct RideGenerator {
    rng: SplitMix,
    samples: Vec<Ride>,
}

/// Median of the made-up trip distances, in miles.
const MEDIAN_MILES: f64 = 2.5;
/// Spread of the log-distance: most made-up rides fall between 1 and 6 miles.
const LOG_SPREAD: f64 = 0.75;

impl RideGenerator {
    pub fn new(seed: u64, samples: Vec<Ride>) -> Self {
        Self { rng: SplitMix::new(seed), samples }
    }

    /// The rides in a dataset's first rows (rows with a missing or unusable value are
    /// skipped). Column names are matched without regard to case.
    pub fn samples_from(columns: &[String], rows: &[Vec<String>]) -> Vec<Ride> {
        let find = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
        let (Some(pu), Some(dol), Some(dist)) =
            (find("PULocationID"), find("DOLocationID"), find("trip_distance"))
        else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|row| {
                let ride = Ride {
                    pu_location_id: row.get(pu)?.trim().parse().ok()?,
                    do_location_id: row.get(dol)?.trim().parse().ok()?,
                    trip_distance: row.get(dist)?.trim().parse().ok()?,
                };
                (ride.trip_distance.is_finite() && ride.trip_distance >= 0.0).then_some(ride)
            })
            .collect()
    }

    pub fn from_view(view: Option<&DatasetView>, seed: u64) -> Self {
        let samples = view.map(|v| Self::samples_from(&v.head_columns, &v.head_rows)).unwrap_or_default();
        Self::new(seed, samples)
    }

    pub fn uses_samples(&self) -> bool {
        !self.samples.is_empty()
    }

    pub fn next_ride(&mut self) -> Ride {
        if !self.samples.is_empty() {
            let index = (self.rng.next_u64() % self.samples.len() as u64) as usize;
            return self.samples[index];
        }
        let zone = |rng: &mut SplitMix| 1 + (rng.next_u64() % 265) as i64;
        let pu_location_id = zone(&mut self.rng);
        let do_location_id = zone(&mut self.rng);
        let miles = (MEDIAN_MILES.ln() + LOG_SPREAD * self.rng.normal()).exp().clamp(0.1, 60.0);
        Ride { pu_location_id, do_location_id, trip_distance: (miles * 100.0).round() / 100.0 }
    }
}

/// The malformed records a learner can inject, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRecord {
    /// `data` is not base64 at all.
    NotBase64,
    /// A well-formed event whose ride has a negative distance.
    NegativeDistance,
    /// An event without its `ride_id`.
    MissingRideId,
}

impl BadRecord {
    pub const ALL: [BadRecord; 3] =
        [BadRecord::NotBase64, BadRecord::NegativeDistance, BadRecord::MissingRideId];

    pub fn describe(self) -> &'static str {
        match self {
            BadRecord::NotBase64 => "data that is not base64",
            BadRecord::NegativeDistance => "a ride with a negative distance",
            BadRecord::MissingRideId => "an event without a ride_id",
        }
    }

    pub fn record(self, sequence_number: u64) -> KinesisRecord {
        let encode = |value: serde_json::Value| {
            base64::engine::general_purpose::STANDARD.encode(value.to_string().as_bytes())
        };
        let data = match self {
            BadRecord::NotBase64 => "%%% this is not base64 %%%".to_string(),
            BadRecord::NegativeDistance => encode(serde_json::json!({
                "ride": {"PULocationID": 130, "DOLocationID": 205, "trip_distance": -3.5},
                "ride_id": format!("bad-{sequence_number}"),
            })),
            BadRecord::MissingRideId => encode(serde_json::json!({
                "ride": {"PULocationID": 130, "DOLocationID": 205, "trip_distance": 3.5},
            })),
        };
        KinesisRecord {
            partition_key: format!("bad-{sequence_number}"),
            sequence_number: sequence_number.to_string(),
            data,
        }
    }
}

/// How far the consumer is behind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Lag {
    /// Records waiting in the stream.
    pub records: usize,
    /// How long the oldest of them has waited, in milliseconds.
    pub oldest_age_ms: f64,
}

#[derive(Debug, Clone)]
struct Queued {
    record: KinesisRecord,
    arrived_ms: f64,
}

/// What the page shows, copied out of the simulation once per tick.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamStats {
    pub produced: u64,
    pub consumed: u64,
    pub predicted: u64,
    pub dead: u64,
    pub expired: u64,
    pub lag: Lag,
    pub throughput: f64,
    /// The newest output events, newest first, as the JSON put on the output stream.
    pub output: Vec<String>,
    /// The newest dead letters, newest first.
    pub dead_letters: Vec<DeadLetter>,
    /// The last batch the consumer read, in the shape Lambda hands it over.
    pub lambda_event: String,
}

/// The stream, its producer's and its consumer's counters.
#[derive(Debug, Clone)]
pub struct StreamSim {
    generator: RideGenerator,
    queue: VecDeque<Queued>,
    next_sequence: u64,
    /// Fractional records owed by the producer (a rate of 5/s at 50 ms ticks is ¼ a tick).
    carry: f64,
    last_tick_ms: Option<f64>,
    produced: u64,
    consumed: u64,
    predicted: u64,
    dead: u64,
    expired: u64,
    /// (time, records consumed) per consumer tick within the last second.
    recent: VecDeque<(f64, usize)>,
    output: VecDeque<PredictionEvent>,
    dead_letters: VecDeque<DeadLetter>,
    last_batch: Vec<KinesisRecord>,
    bad_injected: usize,
}

impl StreamSim {
    pub fn new(generator: RideGenerator) -> Self {
        Self {
            generator,
            queue: VecDeque::new(),
            next_sequence: 1,
            carry: 0.0,
            last_tick_ms: None,
            produced: 0,
            consumed: 0,
            predicted: 0,
            dead: 0,
            expired: 0,
            recent: VecDeque::new(),
            output: VecDeque::new(),
            dead_letters: VecDeque::new(),
            last_batch: Vec::new(),
            bad_injected: 0,
        }
    }

    pub fn uses_samples(&self) -> bool {
        self.generator.uses_samples()
    }

    /// Milliseconds since the previous tick (0 on the first), capped; the clock advances.
    pub fn elapsed(&mut self, now_ms: f64) -> f64 {
        let elapsed = self.last_tick_ms.map_or(0.0, |last| (now_ms - last).clamp(0.0, MAX_ELAPSED_MS));
        self.last_tick_ms = Some(now_ms);
        elapsed
    }

    fn push(&mut self, record: KinesisRecord, now_ms: f64) {
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
            self.expired += 1;
        }
        self.queue.push_back(Queued { record, arrived_ms: now_ms });
        self.produced += 1;
    }

    fn take_sequence(&mut self) -> u64 {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        sequence
    }

    /// Puts `rate_per_second × elapsed` rides on the stream (fractions carry over).
    pub fn produce(&mut self, now_ms: f64, elapsed_ms: f64, rate_per_second: f64) -> usize {
        self.carry += rate_per_second.clamp(0.0, MAX_RATE) * elapsed_ms / 1000.0;
        let count = self.carry.floor() as usize;
        self.carry -= count as f64;
        for _ in 0..count {
            let ride = self.generator.next_ride();
            let sequence = self.take_sequence();
            let record = encode_ride_event(&ride, serde_json::Value::from(sequence), sequence);
            self.push(record, now_ms);
        }
        count
    }

    /// Puts one malformed record on the stream; says which kind.
    pub fn inject_bad(&mut self, now_ms: f64) -> BadRecord {
        let kind = BadRecord::ALL[self.bad_injected % BadRecord::ALL.len()];
        self.bad_injected += 1;
        let sequence = self.take_sequence();
        self.push(kind.record(sequence), now_ms);
        kind
    }

    /// Reads up to `max_records` from the stream, oldest first, and predicts each with
    /// `predict`. A failure becomes a dead letter; the next record is read all the same.
    pub fn consume(
        &mut self,
        now_ms: f64,
        max_records: usize,
        mut predict: impl FnMut(&KinesisRecord) -> Result<PredictionEvent, DeadLetter>,
    ) -> usize {
        let count = max_records.min(MAX_PER_TICK).min(self.queue.len());
        let mut batch = Vec::with_capacity(count.min(3));
        for _ in 0..count {
            let Some(Queued { record, .. }) = self.queue.pop_front() else { break };
            match predict(&record) {
                Ok(event) => {
                    self.predicted += 1;
                    self.output.push_front(event);
                    self.output.truncate(SHOWN);
                }
                Err(letter) => {
                    self.dead += 1;
                    self.dead_letters.push_front(letter);
                    self.dead_letters.truncate(SHOWN);
                }
            }
            if batch.len() < 3 {
                batch.push(record);
            }
        }
        self.consumed += count as u64;
        if count > 0 {
            self.last_batch = batch;
            self.recent.push_back((now_ms, count));
        }
        self.idle(now_ms);
        count
    }

    /// Forgets consumer ticks older than a second (the throughput window).
    pub fn idle(&mut self, now_ms: f64) {
        while self.recent.front().is_some_and(|(t, _)| now_ms - t >= 1000.0) {
            self.recent.pop_front();
        }
    }

    pub fn lag(&self, now_ms: f64) -> Lag {
        Lag {
            records: self.queue.len(),
            oldest_age_ms: self.queue.front().map_or(0.0, |q| (now_ms - q.arrived_ms).max(0.0)),
        }
    }

    /// Records consumed over the last second.
    pub fn throughput(&self, now_ms: f64) -> f64 {
        self.recent.iter().filter(|(t, _)| now_ms - t < 1000.0).map(|(_, n)| *n as f64).sum()
    }

    pub fn dead(&self) -> u64 {
        self.dead
    }

    pub fn stats(&self, now_ms: f64) -> StreamStats {
        StreamStats {
            produced: self.produced,
            consumed: self.consumed,
            predicted: self.predicted,
            dead: self.dead,
            expired: self.expired,
            lag: self.lag(now_ms),
            throughput: self.throughput(now_ms),
            output: self.output.iter().map(|e| serde_json::to_string(e).unwrap_or_default()).collect(),
            dead_letters: self.dead_letters.iter().cloned().collect(),
            lambda_event: lambda_event(&self.last_batch),
        }
    }
}

/// Records as the course's Lambda function receives them: `{"Records": [{"kinesis": ...}]}`.
pub fn lambda_event(records: &[KinesisRecord]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key,
                    "sequenceNumber": record.sequence_number,
                    "data": record.data,
                },
                "eventSource": "aws:kinesis",
                "eventName": "aws:kinesis:record",
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "Records": records })).unwrap_or_default()
}

/// Clamps a typed producer rate; unparsable text keeps the previous rate.
pub fn parse_rate(text: &str, previous: f64) -> f64 {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite())
        .map_or(previous, |r| r.clamp(MIN_RATE, MAX_RATE))
}

/// Clamps a typed consumer batch size (0 stalls the consumer).
pub fn parse_per_tick(text: &str, previous: usize) -> usize {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite())
        .map_or(previous, |r| (r.max(0.0) as usize).min(MAX_PER_TICK))
}

// ----- the page -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    Stopped,
    Running,
    Paused,
}

#[component]
pub fn StreamPage() -> impl IntoView {
    let state = AppState::use_context();
    let serving = Serving::use_context();
    let sim = StoredValue::new(None::<StreamSim>);
    let timer = StoredValue::new_local(None::<Interval>);
    let stats = RwSignal::new(StreamStats::default());
    let run_state = RwSignal::new(RunState::Stopped);
    let rate = RwSignal::new(20.0_f64);
    let per_tick = RwSignal::new(50_usize);
    let injected = RwSignal::new(None::<BadRecord>);
    let uses_samples = RwSignal::new(None::<bool>);
    let step_marked = StoredValue::new(false);

    let model_ready = Memo::new(move |_| serving.served.with(|s| matches!(s.as_deref(), Some(Ok(_)))));
    let model_label = move || match serving.served.get().as_deref() {
        Some(Ok(model)) => format!("{MODEL_NAME}, version {}", model.version),
        Some(Err(e)) => format!("no model: {e}"),
        None => "no model is served".to_string(),
    };

    let ensure_sim = move || {
        if sim.with_value(Option::is_none) {
            let generator = RideGenerator::from_view(state.val_data.get_untracked().as_deref(), SEED);
            uses_samples.set(Some(generator.uses_samples()));
            sim.set_value(Some(StreamSim::new(generator)));
        }
    };

    let tick = move || {
        let now = now_ms();
        let producing = run_state.try_get_untracked() == Some(RunState::Running);
        let rate = rate.try_get_untracked().unwrap_or(MIN_RATE);
        let per_tick = per_tick.try_get_untracked().unwrap_or(0);
        let served = serving.served.try_get_untracked().flatten();
        let Some(Some(snapshot)) = sim.try_update_value(|sim| {
            let sim = sim.as_mut()?;
            let elapsed = sim.elapsed(now);
            if producing {
                sim.produce(now, elapsed, rate);
            }
            if let Some(Ok(model)) = served.as_deref() {
                sim.consume(now, per_tick, |record| process_record(model, record));
            } else {
                // Without a model the consumer waits; only the throughput window moves on.
                sim.idle(now);
            }
            Some(sim.stats(now))
        }) else {
            return;
        };
        if snapshot.dead > 0 && snapshot.consumed > 0 && !step_marked.try_get_value().unwrap_or(true) {
            step_marked.set_value(true);
            crate::pages::chapter4::mark_step_done('f');
        }
        stats.try_set(snapshot);
    };

    let start_timer = move || {
        if timer.with_value(Option::is_none) {
            timer.set_value(Some(Interval::new(TICK_MS, tick)));
        }
    };
    let stop_timer = move || {
        timer.try_set_value(None);
    };
    on_cleanup(stop_timer);

    let start = move |_| {
        ensure_sim();
        run_state.set(RunState::Running);
        start_timer();
    };
    let pause = move |_| {
        if run_state.get_untracked() == RunState::Running {
            run_state.set(RunState::Paused);
        }
    };
    let stop = move |_| {
        run_state.set(RunState::Stopped);
        stop_timer();
        tick_once(sim, stats);
    };
    let reset = move |_| {
        run_state.set(RunState::Stopped);
        stop_timer();
        sim.set_value(None);
        stats.set(StreamStats::default());
        injected.set(None);
        uses_samples.set(None);
    };
    let inject = move |_| {
        ensure_sim();
        let now = now_ms();
        let kind = sim.try_update_value(|sim| sim.as_mut().map(|sim| sim.inject_bad(now))).flatten();
        injected.set(kind);
        tick_once(sim, stats);
    };

    // The lists re-render only when they change, not on every tick.
    let output = Memo::new(move |_| stats.with(|s| s.output.clone()));
    let dead_letters = Memo::new(move |_| stats.with(|s| s.dead_letters.clone()));
    let lambda = Memo::new(move |_| stats.with(|s| s.lambda_event.clone()));

    let state_label = move || match run_state.get() {
        RunState::Stopped => "stopped",
        RunState::Running => "running",
        RunState::Paused => "producer paused, consumer draining",
    };

    view! {
        <article class="lesson stream-page" data-testid="stream-page">
            <h1>"Streaming: a Kinesis stream and its consumer"</h1>
            <p>
                "A producer puts ride events on a stream; a consumer (the course's Lambda function) reads them, "
                "predicts each ride's duration with the served model and writes the answer to an output stream. "
                "Both run here, in this page: set how fast rides arrive and how many records the consumer may read "
                "per tick (one tick is " {TICK_MS} " ms), and watch lag build up or drain. "
                "The background is in " <a href=Route::Chapter4.path()>"Chapter 4"</a> "."
            </p>
            <section class="stream-model">
                <h2>"The model"</h2>
                <ModelPicker/>
                <p class="muted" data-testid="stream-model">"The consumer answers as " {model_label}</p>
                <Show when=move || !model_ready.get()>
                    <p class="notice">
                        "Choose a model above (train one in " <a href=Route::Chapter1.path()>"Chapter 1"</a>
                        " or register one on the " <a href=Route::Models.path()>"Models page"</a> "). "
                        "Until then the consumer waits and records pile up in the stream."
                    </p>
                </Show>
            </section>
            <section class="stream-controls">
                <h2>"Producer and consumer"</h2>
                <div class="stream-knobs">
                    <label>"Arrival rate (records per second) "
                        <input type="range" min=MIN_RATE max=MAX_RATE step="1" prop:value=move || rate.get().to_string()
                            on:input=move |ev| rate.set(parse_rate(&event_target_value(&ev), rate.get_untracked()))/>
                        <input type="number" data-testid="stream-rate" min=MIN_RATE max=MAX_RATE step="1"
                            prop:value=move || rate.get().to_string()
                            on:change=move |ev| rate.set(parse_rate(&event_target_value(&ev), rate.get_untracked()))/>
                    </label>
                    <label>"Consumer reads at most "
                        <input type="number" data-testid="consumer-rate" min="0" max=MAX_PER_TICK step="1"
                            prop:value=move || per_tick.get().to_string()
                            on:change=move |ev| per_tick.set(parse_per_tick(&event_target_value(&ev), per_tick.get_untracked()))/>
                        " records per tick (≈ " {move || per_tick.get() * (1000 / TICK_MS as usize)} " per second; 0 stalls it)"
                    </label>
                </div>
                <p class="stream-buttons">
                    <button class="primary" data-testid="stream-start" on:click=start
                        disabled=move || run_state.get() == RunState::Running>"Start"</button>
                    " "
                    <button data-testid="stream-pause" on:click=pause
                        disabled=move || run_state.get() != RunState::Running>"Pause the producer"</button>
                    " "
                    <button data-testid="stream-stop" on:click=stop
                        disabled=move || run_state.get() == RunState::Stopped>"Stop"</button>
                    " "
                    <button data-testid="stream-reset" on:click=reset>"Reset"</button>
                    " "
                    <button data-testid="stream-inject-bad" on:click=inject>"Inject a malformed record"</button>
                </p>
                <p class="muted" data-testid="stream-state" data-state=move || format!("{:?}", run_state.get()).to_lowercase()>
                    "State: " {state_label}
                    {move || uses_samples.get().map(|samples| if samples {
                        " · rides are drawn from the validation month's first rows"
                    } else {
                        " · rides are made up (zones 1–265, a few miles each); load a validation month to use its rows"
                    })}
                </p>
                {move || injected.get().map(|kind| view! {
                    <p class="muted" data-testid="stream-injected">"Injected " {kind.describe()} "."</p>
                })}
            </section>
            <section class="stream-counters">
                <dl class="stream-stats">
                    <div><dt>"Produced"</dt><dd data-testid="stream-produced">{move || stats.with(|s| s.produced)}</dd></div>
                    <div><dt>"Consumed"</dt><dd data-testid="stream-consumed">{move || stats.with(|s| s.consumed)}</dd></div>
                    <div><dt>"Predictions"</dt><dd data-testid="stream-predicted">{move || stats.with(|s| s.predicted)}</dd></div>
                    <div><dt>"Lag (records)"</dt><dd data-testid="stream-lag">{move || stats.with(|s| s.lag.records)}</dd></div>
                    <div><dt>"Oldest waiting (ms)"</dt><dd data-testid="stream-lag-ms">{move || format!("{:.0}", stats.with(|s| s.lag.oldest_age_ms))}</dd></div>
                    <div><dt>"Throughput (records/s)"</dt><dd data-testid="stream-throughput">{move || format!("{:.0}", stats.with(|s| s.throughput))}</dd></div>
                    <div><dt>"Dead letters"</dt><dd data-testid="stream-dead-count">{move || stats.with(|s| s.dead)}</dd></div>
                </dl>
                <Show when=move || stats.with(|s| s.expired > 0)>
                    <p class="warning" data-testid="stream-expired">
                        {move || stats.with(|s| s.expired)}
                        " records were dropped unread: the stream keeps at most " {MAX_QUEUED}
                        " records, as a real stream keeps them only for its retention period."
                    </p>
                </Show>
            </section>
            <div class="stream-lists">
                <section>
                    <h2>"Output stream (newest first)"</h2>
                    <ol class="stream-output" data-testid="stream-output">
                        {move || output.get().into_iter().map(|json| view! {
                            <li data-testid="stream-event"><code>{json}</code></li>
                        }).collect_view()}
                    </ol>
                </section>
                <section>
                    <h2>"Dead letters (newest first)"</h2>
                    <ol class="dead-letters" data-testid="dead-letters">
                        {move || dead_letters.get().into_iter().map(|letter| view! {
                            <li data-testid="dead-letter">
                                <span class="reason">"#" {letter.sequence_number} ": " {letter.reason}</span>
                                <code class="data">{letter.data}</code>
                            </li>
                        }).collect_view()}
                    </ol>
                </section>
            </div>
            <details class="lambda-event">
                <summary>"The last batch as the Lambda function receives it"</summary>
                <pre data-testid="stream-lambda-event">{move || {
                    let text = lambda.get();
                    if text.is_empty() { "Nothing consumed yet.".to_string() } else { text }
                }}</pre>
            </details>
        </article>
    }
}

/// Refreshes the counters without advancing the clock (after Stop or an injection).
fn tick_once(sim: StoredValue<Option<StreamSim>>, stats: RwSignal<StreamStats>) {
    let now = now_ms();
    if let Some(snapshot) = sim.with_value(|sim| sim.as_ref().map(|s| s.stats(now))) {
        stats.set(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlops_core::features::FeatureSet;
    use mlops_core::models::{LinearModel, ModelKind};
    use mlops_core::serving::service::LoadedModel;
    use mlops_core::serving::stream::RidePrediction;

    fn ok_event(record: &KinesisRecord) -> Result<PredictionEvent, DeadLetter> {
        Ok(PredictionEvent {
            model: MODEL_NAME.to_string(),
            version: "test".into(),
            prediction: RidePrediction {
                ride_duration: 10.0,
                ride_id: serde_json::Value::from(record.sequence_number.clone()),
            },
        })
    }

    /// Dead-letters everything that is not plain base64 of a JSON object with a ride_id.
    fn strict(record: &KinesisRecord) -> Result<PredictionEvent, DeadLetter> {
        let letter = |reason: &str| DeadLetter {
            sequence_number: record.sequence_number.clone(),
            data: record.data.clone(),
            reason: reason.to_string(),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&record.data)
            .map_err(|_| letter("not base64"))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| letter("not json"))?;
        if value.get("ride_id").is_none() {
            return Err(letter("no ride_id"));
        }
        if value["ride"]["trip_distance"].as_f64().is_some_and(|d| d < 0.0) {
            return Err(letter("negative distance"));
        }
        ok_event(record)
    }

    fn sim() -> StreamSim {
        StreamSim::new(RideGenerator::new(7, Vec::new()))
    }

    #[test]
    fn the_producer_keeps_fractions_between_ticks() {
        let mut sim = sim();
        // 5 records per second at 50 ms ticks is a quarter record per tick.
        let made: usize = (0..40).map(|i| sim.produce(i as f64 * 50.0, 50.0, 5.0)).sum();
        assert_eq!(made, 10);
        assert_eq!(sim.lag(2000.0).records, 10);
    }

    #[test]
    fn a_slow_consumer_builds_lag_and_a_fast_one_drains_it() {
        let mut sim = sim();
        sim.produce(0.0, 1000.0, 100.0);
        assert_eq!(sim.consume(10.0, 30, ok_event), 30);
        let lag = sim.lag(250.0);
        assert_eq!(lag.records, 70);
        assert_eq!(lag.oldest_age_ms, 250.0);
        assert_eq!(sim.consume(300.0, 1000, ok_event), 70);
        assert_eq!(sim.lag(400.0), Lag { records: 0, oldest_age_ms: 0.0 });
        let stats = sim.stats(400.0);
        assert_eq!((stats.produced, stats.consumed, stats.predicted, stats.dead), (100, 100, 100, 0));
        assert_eq!(stats.output.len(), SHOWN);
    }

    #[test]
    fn throughput_counts_only_the_last_second() {
        let mut sim = sim();
        sim.produce(0.0, 1000.0, 500.0);
        sim.consume(0.0, 100, ok_event);
        sim.consume(600.0, 50, ok_event);
        assert_eq!(sim.throughput(900.0), 150.0);
        assert_eq!(sim.throughput(1200.0), 50.0);
        assert_eq!(sim.throughput(2000.0), 0.0);
    }

    #[test]
    fn bad_records_become_dead_letters_and_the_consumer_goes_on() {
        let mut sim = sim();
        sim.produce(0.0, 1000.0, 2.0);
        for _ in 0..3 {
            sim.inject_bad(0.0);
        }
        sim.produce(0.0, 1000.0, 2.0);
        let consumed = sim.consume(0.0, 100, strict);
        assert_eq!(consumed, 7);
        assert_eq!(sim.dead(), 3);
        assert_eq!(sim.lag(0.0).records, 0);
        let reasons: Vec<String> = sim.stats(0.0).dead_letters.iter().map(|d| d.reason.clone()).collect();
        assert_eq!(reasons, ["no ride_id", "negative distance", "not base64"]);
    }

    fn served_model() -> LoadedModel {
        let model = LinearModel {
            kind: ModelKind::LinearRegression,
            alpha: None,
            feature_set: FeatureSet::PuDo,
            feature_names: vec!["PU_DO=10_50".into(), "trip_distance".into()],
            coefficients: vec![5.0, 2.0],
            intercept: 3.0,
            iterations: 1,
        };
        LoadedModel::new(model, "nyc-taxi-regressor/3")
    }

    #[test]
    fn the_core_consumer_dead_letters_every_kind_of_injected_record() {
        let model = served_model();
        let mut sim = StreamSim::new(RideGenerator::new(
            1,
            vec![Ride { pu_location_id: 10, do_location_id: 50, trip_distance: 4.0 }],
        ));
        sim.produce(0.0, 1000.0, 3.0);
        for _ in BadRecord::ALL {
            sim.inject_bad(0.0);
        }
        sim.produce(0.0, 1000.0, 3.0);
        assert_eq!(sim.consume(0.0, 100, |record| process_record(&model, record)), 9);
        let stats = sim.stats(0.0);
        assert_eq!((stats.predicted, stats.dead), (6, 3));
        let event: serde_json::Value = serde_json::from_str(&stats.output[0]).expect("json");
        assert_eq!(event["prediction"]["ride_duration"], 16.0);
        assert_eq!(event["prediction"]["ride_id"], 9);
        assert_eq!(event["version"], "nyc-taxi-regressor/3");
    }

    #[test]
    fn a_full_stream_drops_its_oldest_records() {
        let mut sim = sim();
        for _ in 0..(MAX_QUEUED / 2000 + 1) {
            sim.produce(0.0, 1000.0, MAX_RATE);
        }
        let stats = sim.stats(0.0);
        assert_eq!(stats.lag.records, MAX_QUEUED);
        assert_eq!(stats.expired, stats.produced - MAX_QUEUED as u64);
    }

    #[test]
    fn made_up_rides_are_valid_and_reproducible() {
        let mut a = RideGenerator::new(1, Vec::new());
        let mut b = RideGenerator::new(1, Vec::new());
        let rides: Vec<Ride> = (0..2000).map(|_| a.next_ride()).collect();
        assert_eq!(rides[..10], (0..10).map(|_| b.next_ride()).collect::<Vec<_>>()[..]);
        assert!(rides
            .iter()
            .all(|r| (1..=265).contains(&r.pu_location_id) && (1..=265).contains(&r.do_location_id)));
        assert!(rides.iter().all(|r| r.trip_distance > 0.0 && r.trip_distance <= 60.0));
        let mut distances: Vec<f64> = rides.iter().map(|r| r.trip_distance).collect();
        distances.sort_by(f64::total_cmp);
        let median = distances[distances.len() / 2];
        assert!((2.0..3.2).contains(&median), "median {median}");
    }

    #[test]
    fn sample_rows_are_parsed_by_column_name() {
        let columns: Vec<String> = ["lpep_pickup_datetime", "PULocationID", "DOLocationID", "trip_distance"]
            .map(String::from)
            .to_vec();
        let rows = vec![
            vec!["2021-02-01 00:00:00".into(), "43".into(), "151".into(), "1.01".into()],
            vec!["2021-02-01 00:05:00".into(), "".into(), "151".into(), "2.0".into()],
            vec!["2021-02-01 00:09:00".into(), "7".into(), "8".into(), "-1".into()],
        ];
        let samples = RideGenerator::samples_from(&columns, &rows);
        assert_eq!(samples, vec![Ride { pu_location_id: 43, do_location_id: 151, trip_distance: 1.01 }]);
        let mut generator = RideGenerator::new(3, samples.clone());
        assert!(generator.uses_samples());
        assert_eq!(generator.next_ride(), samples[0]);
        assert!(RideGenerator::samples_from(&columns[..2], &rows).is_empty());
    }

    #[test]
    fn typed_rates_are_clamped() {
        assert_eq!(parse_rate("5000", 20.0), MAX_RATE);
        assert_eq!(parse_rate("0", 20.0), MIN_RATE);
        assert_eq!(parse_rate("abc", 20.0), 20.0);
        assert_eq!(parse_per_tick("-3", 50), 0);
        assert_eq!(parse_per_tick("99999", 50), MAX_PER_TICK);
        assert_eq!(parse_per_tick("", 50), 50);
    }

    #[test]
    fn the_lambda_event_wraps_records() {
        let record = BadRecord::NotBase64.record(9);
        let value: serde_json::Value = serde_json::from_str(&lambda_event(&[record])).expect("json");
        assert_eq!(value["Records"][0]["kinesis"]["sequenceNumber"], "9");
        assert_eq!(lambda_event(&[]), "");
    }
}
