//! A simulated city: one month of green-taxi trips as parquet bytes, so the app works
//! with zero downloads and a chapter can inject drift by turning a knob.
//!
//! The file has the 20 columns of the 2021 TLC green files and is calibrated to
//! `green_tripdata_2021-01.parquet` (76,518 rows, measured with [`crate::data::load_trips`]):
//! after the 1–60 minute filter the duration has mean 16.85 / sd 11.56 min; 3.41 % of rows
//! fall outside the filter (false starts under a minute, trips of hours, meters closed
//! ~23 h later); 3.3 % of distances are 0 and a few absurd (up to 244,152 miles); 47 % of
//! rows have no `passenger_count`. Those rows are another kind of trip (dispatched, not
//! street-hailed): they also lack `RatecodeID`, `payment_type`, `trip_type`,
//! `store_and_fwd_flag` and `congestion_surcharge`, have minute-rounded timestamps and run
//! longer (filtered mean 20.2 vs 13.7 min), so changing their share shifts the data.
//!
//! The map (zone positions, popularity, per-pair slowness) is fixed: every seed and month
//! is the same city, so a model trained on January can be scored on February. The seed,
//! year and month only draw the trips.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, NullArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// The knobs of a simulated month. `speed_factor` multiplies every speed (0.5 = a city
/// twice as slow: the drift of later chapters); `missing_passenger_share` is the share of
/// dispatched trips, whose `passenger_count` is null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CityParams {
    pub year: i32,
    pub month: u32,
    pub seed: u64,
    pub trips: usize,
    pub speed_factor: f64,
    pub missing_passenger_share: f64,
}

impl Default for CityParams {
    /// January 2021 at the size of the real file.
    fn default() -> Self {
        Self {
            year: 2021,
            month: 1,
            seed: 42,
            trips: 76_000,
            speed_factor: 1.0,
            missing_passenger_share: 0.47,
        }
    }
}

/// The most trips one month may have: ~26× the real green file, still fits a browser tab.
pub const MAX_TRIPS: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SimulateError {
    #[error("month must be 1 to 12, got {0}")]
    Month(u32),
    #[error("year must be 2000 to 2100, got {0}")]
    Year(i32),
    #[error("trips must be 1 to {MAX_TRIPS}, got {0}")]
    Trips(usize),
    #[error("speed_factor must be a positive number (1.0 = normal traffic, 0.5 = twice as slow), got {0}")]
    SpeedFactor(f64),
    #[error("missing_passenger_share must be between 0 and 1, got {0}")]
    MissingPassengerShare(f64),
    #[error("writing the parquet file failed: {0}")]
    Write(String),
}

impl CityParams {
    pub fn check(&self) -> Result<(), SimulateError> {
        if !(1..=12).contains(&self.month) {
            return Err(SimulateError::Month(self.month));
        }
        if !(2000..=2100).contains(&self.year) {
            return Err(SimulateError::Year(self.year));
        }
        if self.trips == 0 || self.trips > MAX_TRIPS {
            return Err(SimulateError::Trips(self.trips));
        }
        if !(self.speed_factor.is_finite() && self.speed_factor > 0.0) {
            return Err(SimulateError::SpeedFactor(self.speed_factor));
        }
        if !(0.0..=1.0).contains(&self.missing_passenger_share) {
            return Err(SimulateError::MissingPassengerShare(self.missing_passenger_share));
        }
        Ok(())
    }

    /// Shown where a file name would be, e.g. "Simulated city · 2021-01 · seed 42".
    /// A slowed-down city says so, since it is the point of the drift chapters.
    pub fn label(&self) -> String {
        let label = format!("Simulated city · {}-{:02} · seed {}", self.year, self.month, self.seed);
        if self.speed_factor == 1.0 {
            label
        } else {
            format!("{label} · speed ×{}", self.speed_factor)
        }
    }
}

type CityRng = Xoshiro256PlusPlus;
/// Seed of the map, not of the trips: changing it makes a different city.
const CITY_SEED: u64 = 0x5EED_C17E_2021_0001;
const ZONES: usize = 265;
/// The real January has 251 distinct pickup zones: the rest (water, parks) see no trip.
const ACTIVE_ZONES: usize = 252;
/// Pickups by hour of day (0 h … 23 h) in the real January.
const PICKUPS_BY_HOUR: [f64; 24] = [
    515., 340., 202., 195., 363., 870., 1691., 3448., 4992., 6030., 6178., 5815., 5779., 6024., 5772., 5690.,
    5456., 4513., 3835., 3164., 2166., 1451., 1168., 861.,
];
/// Trips per day by weekday (Sunday first), relative: the real January is quiet on weekends.
const TRIPS_BY_WEEKDAY: [f64; 7] = [0.46, 0.88, 0.97, 1.0, 1.0, 0.85, 0.62];
/// Relative speed by hour, tuned so the median speed per hour follows the real January
/// (~15–20 mph at night, ~11 mph at 16 h).
const SPEED_BY_HOUR: [f64; 24] = [
    1.2, 1.2, 1.25, 1.35, 1.4, 1.4, 1.25, 1.08, 1.0, 1.0, 1.0, 1.0, 0.98, 0.95, 0.92, 0.9, 0.9, 0.9, 0.95,
    1.02, 1.08, 1.12, 1.15, 1.18,
];
/// Spread (lognormal sigma) of the per-pair slowness: the signal a `PU_DO` one-hot can
/// learn and separate `PU` and `DO` one-hots cannot.
const PAIR_SIGMA: f64 = 0.3;
/// Cumulative rates of the real file's quirks (false start, hours-long, ~23 h, zero
/// distance), measured separately on street hails and dispatched rows.
const STREET_QUIRKS: [f64; 4] = [0.035, 0.0367, 0.0402, 0.0702];
const DISPATCHED_QUIRKS: [f64; 4] = [0.0006, 0.0007, 0.0008, 0.0153];
/// Share of odometer glitches over 1,000 miles (53 of the real January's 76,518 rows).
const GLITCH_SHARE: f64 = 0.0007;
/// Passenger counts of the real January's street hails (0 to 6; two rows of 8 left out).
const STREET_PASSENGERS: [(f64, f64); 7] =
    [(0.0036, 0.0), (0.9006, 1.0), (0.0586, 2.0), (0.008, 3.0), (0.0038, 4.0), (0.0176, 5.0), (1.0, 6.0)];
const MINUTE: i64 = 60_000_000;

/// The fixed map: where zones are, how busy they are, where their trips go.
struct City {
    position: Vec<(f64, f64)>,
    pickup_cdf: Vec<f64>,
    /// Per pickup zone, cumulative dropoff weights: `[street hails, dispatched trips]`.
    dropoff_cdf: [Vec<Vec<f64>>; 2],
    congestion_zone: Vec<bool>,
}

fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    weights.into_iter().scan(0.0, |total, w| Some(*total + w).inspect(|t| *total = *t)).collect()
}

/// An index drawn from cumulative weights (zero-weight entries are never drawn).
fn pick(cdf: &[f64], rng: &mut CityRng) -> usize {
    let u = rng.gen::<f64>() * cdf.last().copied().unwrap_or(0.0);
    cdf.partition_point(|&c| c <= u).min(cdf.len().saturating_sub(1))
}

/// One of `options` drawn by its probability (the last one takes what is left).
fn choose<T: Copy>(rng: &mut CityRng, options: &[(f64, T)]) -> T {
    let mut u = rng.gen::<f64>();
    for &(p, value) in options {
        if u < p {
            return value;
        }
        u -= p;
    }
    options[options.len() - 1].1
}

impl City {
    fn new() -> Self {
        let mut rng = CityRng::seed_from_u64(CITY_SEED);
        let position: Vec<(f64, f64)> = (0..ZONES)
            .map(|_| {
                let (r, angle) = (13.0 * rng.gen::<f64>().sqrt(), std::f64::consts::TAU * rng.gen::<f64>());
                (r * angle.cos(), r * angle.sin())
            })
            .collect();
        // Busy zones cluster around three hubs; popularity is Zipf-Mandelbrot by rank
        // (s = 1.25, q = 3.6 fit the real top-1/5/10/20/50 pickup shares).
        let hubs = [(0.0, 0.0, 1.0), (4.0, -3.0, 0.6), (-3.0, -5.0, 0.5)];
        let score: Vec<f64> = position
            .iter()
            .map(|&(x, y)| {
                let near = hubs.iter().map(|&(hx, hy, pull)| f64::hypot(x - hx, y - hy) / pull);
                (near.fold(f64::INFINITY, f64::min) + 0.5)
                    * (0.6 * rng.sample::<f64, _>(StandardNormal)).exp()
            })
            .collect();
        let mut by_score: Vec<usize> = (0..ZONES).collect();
        by_score.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
        let mut popularity = vec![0.0; ZONES];
        for (rank, &zone) in by_score.iter().take(ACTIVE_ZONES).enumerate() {
            popularity[zone] = (rank as f64 + 4.6).powf(-1.25);
        }
        // Gravity: busy and near zones draw dropoffs, plus a long tail of cross-city trips;
        // `stay` is the share of trips ending where they began (13 % and 7 % in the real file).
        let dropoff_table = |reach: f64, long: f64, stay: f64| -> Vec<Vec<f64>> {
            let gravity = |pu: usize, z: usize| {
                let miles = miles_between(position[pu], position[z]);
                popularity[z].sqrt()
                    * (1.0 / (1.0 + (miles / reach).powi(4)) + long / (1.0 + miles / 4.0).powi(2))
            };
            (0..ZONES)
                .map(|pu| {
                    let away: f64 = (0..ZONES).filter(|&z| z != pu).map(|z| gravity(pu, z)).sum();
                    let home = stay * away / (1.0 - stay);
                    cumulative((0..ZONES).map(|z| if z == pu { home } else { gravity(pu, z) }))
                })
                .collect()
        };
        let dropoff_cdf = [dropoff_table(1.4, 0.045, 0.134), dropoff_table(3.4, 0.3, 0.071)];
        let congestion_zone = (0..ZONES).map(|_| rng.gen_bool(0.25)).collect();
        Self { pickup_cdf: cumulative(popularity), position, dropoff_cdf, congestion_zone }
    }
}

/// Straight-line miles between two zone centres.
fn miles_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    f64::hypot(a.0 - b.0, a.1 - b.1)
}

/// How much slower than usual trips from `pu` to `dropoff` run: lognormal, drawn from the
/// pair itself (a seed, not a table), so it is the same in every month.
fn pair_slowness(pu: usize, dropoff: usize) -> f64 {
    let mut rng = CityRng::seed_from_u64(CITY_SEED ^ (((pu as u64) << 32) | dropoff as u64));
    (PAIR_SIGMA * rng.sample::<f64, _>(StandardNormal)).exp()
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm): the core has no clock.
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let (era, m) = (y.div_euclid(400), i64::from(month));
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Declares the row type and its columns once, in file order, so they cannot drift apart.
macro_rules! green_columns {
    ($($field:ident: $value:ty => $name:literal as $array:ty,)*) => {
        /// One row of the file; `None` is a null.
        #[derive(Default)]
        struct Trip { $($field: Option<$value>,)* }

        /// The columns of the 2021 green schema (`ehail_fee`, always null, is added by the caller).
        fn green_columns(trips: &[Trip]) -> Vec<(&'static str, ArrayRef)> {
            vec![$(($name, Arc::new(trips.iter().map(|t| t.$field).collect::<$array>()) as ArrayRef),)*]
        }
    };
}

green_columns! {
    vendor_id: i64 => "VendorID" as Int64Array,
    pickup: i64 => "lpep_pickup_datetime" as TimestampMicrosecondArray,
    dropoff: i64 => "lpep_dropoff_datetime" as TimestampMicrosecondArray,
    store_and_fwd_flag: &'static str => "store_and_fwd_flag" as StringArray,
    ratecode_id: f64 => "RatecodeID" as Float64Array,
    pu_location_id: i64 => "PULocationID" as Int64Array,
    do_location_id: i64 => "DOLocationID" as Int64Array,
    passenger_count: f64 => "passenger_count" as Float64Array,
    trip_distance: f64 => "trip_distance" as Float64Array,
    fare_amount: f64 => "fare_amount" as Float64Array,
    extra: f64 => "extra" as Float64Array,
    mta_tax: f64 => "mta_tax" as Float64Array,
    tip_amount: f64 => "tip_amount" as Float64Array,
    tolls_amount: f64 => "tolls_amount" as Float64Array,
    improvement_surcharge: f64 => "improvement_surcharge" as Float64Array,
    total_amount: f64 => "total_amount" as Float64Array,
    payment_type: f64 => "payment_type" as Float64Array,
    trip_type: f64 => "trip_type" as Float64Array,
    congestion_surcharge: f64 => "congestion_surcharge" as Float64Array,
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Draws one trip picked up at `pickup` (µs); `dispatched` trips are the null-passenger kind.
fn draw_trip(city: &City, speed_factor: f64, pickup: i64, dispatched: bool, rng: &mut CityRng) -> Trip {
    let normal = |rng: &mut CityRng| rng.sample::<f64, _>(StandardNormal);
    let pu = pick(&city.pickup_cdf, rng);
    let dropoff_zone = pick(&city.dropoff_cdf[usize::from(dispatched)][pu], rng);
    // Route miles: a detour factor over the straight line; within a zone, about 0.8 miles.
    let route = if pu == dropoff_zone {
        0.8 * (0.6 * normal(rng)).exp()
    } else {
        1.3 * miles_between(city.position[pu], city.position[dropoff_zone]).max(0.4)
            * (0.2 * normal(rng)).exp()
    };
    // Minutes grow slower than miles (long trips take highways); the fitted curve matches the
    // real median duration per distance bin (0.5–1 mi: 5 min, 2–4 mi: 14.5, 8–15 mi: 29).
    let hour = usize::try_from((pickup / (60 * MINUTE)).rem_euclid(24)).unwrap_or(0);
    let usual_minutes =
        6.75 * route.powf(0.75) * (1.0 + route / 8.0).powf(-0.25) * pair_slowness(pu, dropoff_zone);
    let mut minutes = usual_minutes * (0.15 * normal(rng)).exp() / (SPEED_BY_HOUR[hour] * speed_factor);
    let mut distance = cents(route);
    let quirk = rng.gen::<f64>();
    let rates = if dispatched { &DISPATCHED_QUIRKS } else { &STREET_QUIRKS };
    if quirk < rates[0] {
        minutes = if dispatched { 0.0 } else { rng.gen::<f64>() }; // a false start
        distance = if rng.gen_bool(0.6) { 0.0 } else { cents(0.2 * rng.gen::<f64>()) };
    } else if quirk < rates[1] {
        minutes = 120.0 + 480.0 * rng.gen::<f64>(); // the meter left running
    } else if quirk < rates[2] {
        minutes = 1_380.0 + 59.0 * rng.gen::<f64>(); // closed the next day
    } else if quirk < rates[3] {
        distance = 0.0; // the odometer did not report
    }
    // Dispatched rows carry minute-rounded times, as in the real file.
    let seconds = if dispatched { minutes.round() * 60.0 } else { (minutes * 60.0).round() };
    let mut trip = Trip {
        pickup: Some(pickup),
        dropoff: Some(pickup + seconds as i64 * 1_000_000),
        pu_location_id: Some(pu as i64 + 1),
        do_location_id: Some(dropoff_zone as i64 + 1),
        trip_distance: Some(distance),
        tolls_amount: Some(if route > 6.0 && rng.gen_bool(0.25) { 6.12 } else { 0.0 }),
        improvement_surcharge: Some(0.3),
        ..Trip::default()
    };
    // Fares follow the real January's fits: street meters ≈ 2.07 + 2.11·mi + 0.31·min,
    // dispatch-app prices ≈ 13.4 + 1.6·mi + 0.16·min with a wide spread.
    let billed_minutes = minutes.min(60.0);
    if dispatched {
        trip.vendor_id = Some(choose(rng, &[(0.997, 2), (1.0, 1)]));
        let fare = cents((13.4 + 1.6 * route + 0.16 * billed_minutes) * (0.25 * normal(rng)).exp()).max(5.0);
        trip.fare_amount = Some(fare);
        trip.extra = Some(choose(rng, &[(0.38, 2.75), (1.0, 0.0)]));
        trip.mta_tax = Some(0.0);
        let tip = choose(rng, &[(0.54, Some(2.75)), (0.40, Some(0.0)), (1.0, None)]);
        trip.tip_amount = Some(tip.unwrap_or_else(|| cents(fare * (0.05 + 0.15 * rng.gen::<f64>()))));
    } else {
        trip.vendor_id = Some(choose(rng, &[(0.825, 2), (1.0, 1)]));
        trip.store_and_fwd_flag = Some(choose(rng, &[(0.0066, "Y"), (1.0, "N")]));
        trip.passenger_count = Some(choose(rng, &STREET_PASSENGERS));
        let ratecode = choose(rng, &[(0.965, 1.0), (0.033, 5.0), (0.0015, 2.0), (1.0, 4.0)]);
        let meter = 2.0 + 2.1 * route + 0.31 * billed_minutes + 0.4 * normal(rng);
        let mut fare = match ratecode as i64 {
            2 => 52.0,
            5 => meter.round().max(5.0),
            _ => ((meter * 2.0).round() / 2.0).max(2.5),
        };
        let card = rng.gen_bool(0.61);
        let tip =
            if card && rng.gen_bool(0.85) { cents(fare * (0.1 + 0.25 * rng.gen::<f64>())) } else { 0.0 };
        let mut extra = match hour {
            16..=19 => 1.0, // rush hour
            6..=15 => 0.0,
            _ => 0.5, // night
        };
        let (mut mta_tax, mut improvement) = (0.5, 0.3);
        if rng.gen_bool(0.003) {
            // A refund: the real file negates every charge.
            (fare, extra, mta_tax, improvement) = (-fare, -extra, -mta_tax, -improvement);
        }
        trip.ratecode_id = Some(ratecode);
        trip.trip_type = Some(if ratecode == 5.0 { 2.0 } else { 1.0 });
        trip.payment_type = Some(if card { 1.0 } else { choose(rng, &[(0.98, 2.0), (1.0, 3.0)]) });
        // `+ 0.0` turns a refunded -0.0 extra back into 0.0.
        (trip.fare_amount, trip.extra, trip.mta_tax) = (Some(fare), Some(extra + 0.0), Some(mta_tax));
        (trip.tip_amount, trip.improvement_surcharge) = (Some(tip), Some(improvement));
        trip.congestion_surcharge = Some(if city.congestion_zone[dropoff_zone] { 2.75 } else { 0.0 });
    }
    let charges = [trip.fare_amount, trip.extra, trip.mta_tax, trip.tip_amount, trip.tolls_amount];
    let surcharges = [trip.improvement_surcharge, trip.congestion_surcharge];
    trip.total_amount = Some(cents(charges.iter().chain(&surcharges).flatten().sum()));
    trip
}

/// Pickup times (µs) spread over the month by weekday and hour, sorted as the TLC sorts them.
fn draw_pickups(params: &CityParams, count: usize, to_minute: bool, rng: &mut CityRng) -> Vec<i64> {
    let first_day = days_from_civil(params.year, params.month, 1);
    let next = if params.month == 12 { (params.year + 1, 1) } else { (params.year, params.month + 1) };
    let days = days_from_civil(next.0, next.1, 1) - first_day;
    // 1970-01-01 was a Thursday (index 4, Sunday = 0).
    let weekday = |day: i64| usize::try_from((day + 4).rem_euclid(7)).unwrap_or(0);
    let day_cdf = cumulative((first_day..first_day + days).map(|day| TRIPS_BY_WEEKDAY[weekday(day)]));
    let hour_cdf = cumulative(PICKUPS_BY_HOUR);
    let mut pickups: Vec<i64> = (0..count)
        .map(|_| {
            let day = first_day + pick(&day_cdf, rng) as i64;
            let second = pick(&hour_cdf, rng) as i64 * 3_600 + rng.gen_range(0..3_600);
            let second = if to_minute { second / 60 * 60 } else { second };
            (day * 86_400 + second) * 1_000_000
        })
        .collect();
    pickups.sort_unstable();
    pickups
}

/// Simulates one month and writes it as parquet (one row group, SNAPPY: fast in the browser).
/// Same params give the same bytes: no clock, no hash-map order, every draw seeded.
pub fn simulate_month_parquet(params: &CityParams) -> Result<Vec<u8>, SimulateError> {
    params.check()?;
    let city = City::new();
    let month_key = ((params.year as u64) << 8) | u64::from(params.month);
    let mut rng = CityRng::seed_from_u64(params.seed ^ month_key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let dispatched = ((params.trips as f64) * params.missing_passenger_share).round() as usize;
    let mut trips = Vec::with_capacity(params.trips);
    // Street hails first, then dispatched rows, each sorted by pickup, as in the real file.
    for (count, is_dispatched) in [(params.trips - dispatched, false), (dispatched, true)] {
        for pickup in draw_pickups(params, count, is_dispatched, &mut rng) {
            trips.push(draw_trip(&city, params.speed_factor, pickup, is_dispatched, &mut rng));
        }
    }
    // Odometer glitches: an exact share of rows, sized along a fixed spread from 1,000 to
    // 250,000 miles, so every month (however small) has comparable ones. Drawn per row, a
    // 3,000-trip January could have none and its February a 200,000-mile trip, and a linear
    // model's distance coefficient, never pulled down in training, would blow up on it.
    let glitches = (params.trips as f64 * GLITCH_SHARE).round() as usize;
    for (k, row) in rand::seq::index::sample(&mut rng, trips.len(), glitches).into_iter().enumerate() {
        let spread = (0.5 + k as f64 * 0.618_034).fract(); // golden-ratio steps cover 0..1 evenly
        trips[row].trip_distance =
            Some(cents(1_000.0 * 250f64.powf(spread) * (0.9 + 0.2 * rng.gen::<f64>())));
    }
    let mut columns = green_columns(&trips);
    columns.insert(14, ("ehail_fee", Arc::new(NullArray::new(trips.len()))));
    // Every column nullable, as in the TLC files.
    let batch = RecordBatch::try_from_iter_with_nullable(
        columns.into_iter().map(|(name, array)| (name, array, true)),
    )
    .map_err(write_error)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(MAX_TRIPS))
        .set_created_by(format!("MLOps Lab simulated city (seed {})", params.seed))
        .build();
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).map_err(write_error)?;
    writer.write(&batch).map_err(write_error)?;
    writer.close().map_err(write_error)?;
    Ok(bytes)
}

fn write_error(error: impl std::fmt::Display) -> SimulateError {
    SimulateError::Write(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_trips, read_file_info, Field as TripField, TripTable};
    use crate::features::{duration_minutes, prepare_trips, DurationFilter};
    use arrow_schema::{DataType, TimeUnit};

    fn simulate(params: &CityParams) -> (Vec<u8>, TripTable) {
        let bytes = simulate_month_parquet(params).expect("valid params simulate");
        let table = load_trips(bytes.clone().into(), &TripField::ALL).expect("simulated bytes load");
        (bytes, table)
    }

    fn small(seed: u64) -> CityParams {
        CityParams { seed, trips: 5_000, ..CityParams::default() }
    }

    #[test]
    fn same_params_give_the_same_bytes_and_a_new_seed_or_month_new_ones() {
        let first = simulate_month_parquet(&small(7)).expect("simulates");
        assert_eq!(first, simulate_month_parquet(&small(7)).expect("simulates"));
        assert_ne!(first, simulate_month_parquet(&small(8)).expect("simulates"));
        assert_ne!(first, simulate_month_parquet(&CityParams { month: 2, ..small(7) }).expect("simulates"));
    }

    #[test]
    fn bytes_have_the_green_2021_schema_and_load_with_every_field() {
        let (bytes, table) = simulate(&CityParams { year: 2020, month: 2, ..small(1) });
        let info = read_file_info(bytes.into()).expect("footer reads");
        // The schema of green_tripdata_2021-01.parquet as /work/shared/data/SOURCES.md lists it.
        let real =
            "VendorID:int64, lpep_pickup_datetime:timestamp[us], lpep_dropoff_datetime:timestamp[us], \
            store_and_fwd_flag:string, RatecodeID:double, PULocationID:int64, DOLocationID:int64, \
            passenger_count:double, trip_distance:double, fare_amount:double, extra:double, mta_tax:double, \
            tip_amount:double, tolls_amount:double, ehail_fee:null, improvement_surcharge:double, \
            total_amount:double, payment_type:double, trip_type:double, congestion_surcharge:double";
        let arrow_type = |pyarrow: &str| match pyarrow {
            "int64" => DataType::Int64,
            "double" => DataType::Float64,
            "string" => DataType::Utf8,
            "timestamp[us]" => DataType::Timestamp(TimeUnit::Microsecond, None),
            _ => DataType::Null,
        };
        let expected: Vec<(String, String)> = real
            .split(", ")
            .filter_map(|column| column.split_once(':'))
            .map(|(name, pyarrow)| (name.to_string(), arrow_type(pyarrow).to_string()))
            .collect();
        let found: Vec<(String, String)> =
            info.columns.iter().map(|c| (c.name.clone(), c.data_type.clone())).collect();
        assert_eq!((found.len(), found), (20, expected));
        assert_eq!((info.n_rows, info.n_row_groups, table.n_rows), (5_000, 1, 5_000));
        // Leap-year February: every pickup falls inside 2020-02-01 .. 2020-03-01.
        let (start, end) =
            (days_from_civil(2020, 2, 1) * 86_400_000_000, days_from_civil(2020, 3, 1) * 86_400_000_000);
        let pickups = table.timestamps(TripField::PickupDatetime).expect("loaded");
        assert!(pickups.iter().all(|p| p.is_some_and(|p| (start..end).contains(&p))));
        let zones = table.integers(TripField::PuLocationId).expect("loaded");
        assert!(zones.iter().all(|z| z.is_some_and(|z| (1..=265).contains(&z))));
    }

    /// Reference values measured on green_tripdata_2021-01.parquet with `load_trips` and
    /// `prepare_trips`: filtered mean 16.85 / sd 11.56 min, 3.41 % outside 1–60 min,
    /// 47.1 % null passenger_count, 3.3 % zero distances, 53 distances over 1,000 miles,
    /// 251 pickup zones.
    #[test]
    fn default_month_matches_the_real_january() {
        let (_, table) = simulate(&CityParams::default());
        let trips = prepare_trips(&table, DurationFilter::default()).expect("trips remain");
        let n = trips.len() as f64;
        let mean = trips.duration_minutes.iter().sum::<f64>() / n;
        let sd = (trips.duration_minutes.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let outside = trips.dropped_by_filter as f64 / table.n_rows as f64;
        assert!((mean - 16.9).abs() < 1.0, "filtered mean {mean}");
        assert!((sd - 11.6).abs() < 1.5, "filtered sd {sd}");
        assert!((outside - 0.034).abs() < 0.01, "outside share {outside}");
        let passengers = table.column(TripField::PassengerCount).expect("loaded");
        let null_share = passengers.null_count() as f64 / table.n_rows as f64;
        assert!((null_share - 0.47).abs() < 0.002, "null share {null_share}");
        let distance: Vec<f64> =
            table.floats(TripField::TripDistance).expect("loaded").iter().flatten().copied().collect();
        let zero_share = distance.iter().filter(|&&d| d == 0.0).count() as f64 / distance.len() as f64;
        assert!((zero_share - 0.033).abs() < 0.01, "zero distances {zero_share}");
        let absurd = distance.iter().filter(|&&d| d > 1_000.0).count();
        assert!((10..200).contains(&absurd), "{absurd} absurd distances");
        let durations: Vec<f64> = duration_minutes(&table).into_iter().flatten().collect();
        assert!(durations.contains(&0.0) && durations.iter().any(|&d| d > 1_000.0), "zero and ~23 h trips");
        let mut zones: Vec<i64> =
            table.integers(TripField::PuLocationId).expect("loaded").iter().flatten().copied().collect();
        zones.sort_unstable();
        zones.dedup();
        assert!((230..=265).contains(&zones.len()), "{} pickup zones", zones.len());
        let (_, table) = simulate(&CityParams { missing_passenger_share: 0.2, ..small(3) });
        assert_eq!(table.column(TripField::PassengerCount).expect("loaded").null_count(), 1_000);
    }

    #[test]
    fn each_bad_parameter_has_its_error() {
        let ok = CityParams::default;
        let cases = [
            (CityParams { month: 13, ..ok() }, SimulateError::Month(13)),
            (CityParams { month: 0, ..ok() }, SimulateError::Month(0)),
            (CityParams { year: 1900, ..ok() }, SimulateError::Year(1900)),
            (CityParams { trips: 0, ..ok() }, SimulateError::Trips(0)),
            (CityParams { trips: MAX_TRIPS + 1, ..ok() }, SimulateError::Trips(MAX_TRIPS + 1)),
            (CityParams { speed_factor: 0.0, ..ok() }, SimulateError::SpeedFactor(0.0)),
            (CityParams { speed_factor: -1.0, ..ok() }, SimulateError::SpeedFactor(-1.0)),
            (CityParams { speed_factor: f64::INFINITY, ..ok() }, SimulateError::SpeedFactor(f64::INFINITY)),
            (CityParams { missing_passenger_share: 1.5, ..ok() }, SimulateError::MissingPassengerShare(1.5)),
            (
                CityParams { missing_passenger_share: -0.1, ..ok() },
                SimulateError::MissingPassengerShare(-0.1),
            ),
        ];
        for (params, error) in cases {
            assert_eq!(params.check(), Err(error.clone()));
            assert_eq!(simulate_month_parquet(&params), Err(error));
        }
        let nan = CityParams { speed_factor: f64::NAN, ..ok() };
        assert!(matches!(simulate_month_parquet(&nan), Err(SimulateError::SpeedFactor(_))));
        assert_eq!(ok().check(), Ok(()));
        assert_eq!(ok().label(), "Simulated city · 2021-01 · seed 42");
        assert_eq!(
            CityParams { speed_factor: 0.5, ..ok() }.label(),
            "Simulated city · 2021-01 · seed 42 · speed ×0.5"
        );
    }

    #[test]
    fn half_speed_makes_trips_clearly_longer() {
        let median_minutes = |speed_factor: f64| {
            let (_, table) = simulate(&CityParams { speed_factor, trips: 20_000, ..CityParams::default() });
            let minutes: Vec<f64> = duration_minutes(&table).into_iter().flatten().collect();
            crate::summary::median(&minutes)
        };
        let (normal, slow) = (median_minutes(1.0), median_minutes(0.5));
        assert!(slow > 1.8 * normal, "median {normal} min at full speed, {slow} at half speed");
    }

    #[test]
    fn the_pair_slowness_is_fixed_and_spread_like_a_lognormal() {
        assert_eq!(pair_slowness(73, 74), pair_slowness(73, 74));
        let logs: Vec<f64> =
            (0..ZONES).flat_map(|pu| (0..ZONES).map(move |z| pair_slowness(pu, z).ln())).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!(mean.abs() < 0.01 && (sd - PAIR_SIGMA).abs() < 0.01, "mean {mean}, sd {sd}");
    }
}
