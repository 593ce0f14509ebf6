//! A simulated city: one month of green-taxi trips as parquet bytes, so the app works
//! with zero downloads and a chapter can inject drift by turning a knob.
//!
//! The output has the 20-column schema of the 2021 TLC green files and is calibrated
//! to `green_tripdata_2021-01.parquet` (76,518 rows; measured with [`crate::data::load_trips`]):
//! after the 1–60 minute filter the duration has mean 16.85 / sd 11.56 min, 3.41 % of rows
//! fall outside the filter (66 of exactly zero minutes, 1,382 under a minute, 1,162 over
//! an hour of which 146 run for ~23 h), 3.3 % of distances are 0 and ~0.07 % are absurd
//! (1,000–250,000 miles), and 47 % of rows have no `passenger_count`. Those rows are
//! another kind of trip (dispatched, not street-hailed): they also lack `RatecodeID`,
//! `payment_type`, `trip_type`, `store_and_fwd_flag` and `congestion_surcharge`, have
//! minute-rounded timestamps, and are longer (filtered mean 20.2 vs 13.7 min).
//!
//! The map (zone positions, popularity, the per-pair slowness) is fixed: every seed and
//! month describes the same city, so a model trained on January can be scored on
//! February. The seed, year and month only draw the trips.

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, NullArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
        Self { year: 2021, month: 1, seed: 42, trips: 76_000, speed_factor: 1.0, missing_passenger_share: 0.47 }
    }
}

/// The most trips one month may have: ~30× the real green file, still fits a browser tab.
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
    #[error("speed_factor must be a positive number (1.0 = normal traffic), got {0}")]
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

    /// The name shown where a file name would be, e.g. "Simulated city · 2021-01 · seed 42".
    pub fn label(&self) -> String {
        let mut label = format!("Simulated city · {}-{:02} · seed {}", self.year, self.month, self.seed);
        if self.speed_factor != 1.0 {
            label.push_str(&format!(" · speed ×{}", self.speed_factor));
        }
        label
    }
}

/// Seed of the map, not of the trips: changing it would make a different city.
const CITY_SEED: u64 = 0x5EED_C17E_2021_0001;
const ZONES: usize = 265;
const GRAVITY_POWER: f64 = 0.5;
/// Zones that never see a trip (parks, water, airports outside the green area): the real
/// January has 251 distinct pickup zones.
const ACTIVE_ZONES: usize = 252;
/// Pickups by hour of day in the real January (0 h … 23 h).
const PICKUPS_BY_HOUR: [f64; 24] = [
    515., 340., 202., 195., 363., 870., 1691., 3448., 4992., 6030., 6178., 5815., 5779., 6024., 5772.,
    5690., 5456., 4513., 3835., 3164., 2166., 1451., 1168., 861.,
];
/// Trips per day by weekday (Sunday first), relative: the real January is quiet on weekends.
const TRIPS_BY_WEEKDAY: [f64; 7] = [0.46, 0.88, 0.97, 1.0, 1.0, 0.85, 0.62];
/// Relative speed by hour: free-flowing nights, a slow afternoon.
const SPEED_BY_HOUR: [f64; 24] = [
    1.2, 1.2, 1.25, 1.35, 1.4, 1.4, 1.25, 1.08, 1.0, 1.0, 1.0, 1.0, 0.98, 0.95, 0.92, 0.9, 0.9, 0.9, 0.95,
    1.02, 1.08, 1.12, 1.15, 1.18,
];
/// Spread of the per-pair slowness (lognormal sigma): the signal a `PU_DO` one-hot can
/// learn and separate `PU` and `DO` one-hots cannot.
const PAIR_SIGMA: f64 = 0.3;
/// Cumulative rates of the real file's quirks (false start, hours-long, ~23 h, zero
/// distance, absurd distance), measured separately on street hails and dispatched rows.
const STREET_QUIRKS: [f64; 5] = [0.035, 0.0367, 0.0402, 0.0702, 0.0703];
const DISPATCHED_QUIRKS: [f64; 5] = [0.0006, 0.0007, 0.0008, 0.0153, 0.0170];

/// The fixed map: where zones are, how busy they are, where their trips go.
struct City {
    position: Vec<(f64, f64)>,
    pickup_cdf: Vec<f64>,
    /// Row `pu`: cumulative dropoff weights, for street hails and for dispatched trips.
    dropoff_cdf: [Vec<Vec<f64>>; 2],
    congestion_zone: Vec<bool>,
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut total = 0.0;
    weights.map(|w| { total += w; total }).collect()
}

/// Index drawn from cumulative weights.
fn pick(cdf: &[f64], rng: &mut Xoshiro256PlusPlus) -> usize {
    let u = rng.gen::<f64>() * cdf.last().copied().unwrap_or(0.0);
    cdf.partition_point(|&c| c <= u).min(cdf.len().saturating_sub(1))
}

impl City {
    fn new() -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(CITY_SEED);
        let position: Vec<(f64, f64)> = (0..ZONES)
            .map(|_| {
                let (r, angle) = (13.0 * rng.gen::<f64>().sqrt(), std::f64::consts::TAU * rng.gen::<f64>());
                (r * angle.cos(), r * angle.sin())
            })
            .collect();
        // Busy zones cluster around three hubs; popularity is Zipf-Mandelbrot by rank
        // (s = 1.25, q = 3.6 fits the real top-1/5/10/20/50 pickup shares).
        let hubs = [(-2.0, 3.0), (3.0, 1.0), (0.0, -4.0)];
        let score: Vec<f64> = position
            .iter()
            .map(|&(x, y)| {
                let near = hubs.iter().map(|&(hx, hy)| f64::hypot(x - hx, y - hy)).fold(f64::INFINITY, f64::min);
                (near + 0.5) * (0.6 * rng.sample::<f64, _>(StandardNormal)).exp()
            })
            .collect();
        let mut by_score: Vec<usize> = (0..ZONES).collect();
        by_score.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
        let mut popularity = vec![0.0; ZONES];
        for (rank, &zone) in by_score.iter().take(ACTIVE_ZONES).enumerate() {
            popularity[zone] = (rank as f64 + 4.6).powf(-1.25);
        }
        let dropoff_table = |reach: f64, stay: f64| -> Vec<Vec<f64>> {
            (0..ZONES)
                .map(|pu| {
                    let others: f64 = (0..ZONES).filter(|&z| z != pu).map(|z| gravity(&position, &popularity, pu, z, reach)).sum();
                    cumulative((0..ZONES).map(|z| {
                        if z == pu { stay * others / (1.0 - stay) } else { gravity(&position, &popularity, pu, z, reach) }
                    }))
                })
                .collect()
        };
        let dropoff_cdf = [dropoff_table(0.9, 0.134), dropoff_table(2.3, 0.071)];
        let congestion_zone = (0..ZONES).map(|_| rng.gen::<f64>() < 0.25).collect();
        Self { pickup_cdf: cumulative(popularity.iter().copied()), position, dropoff_cdf, congestion_zone }
    }

    /// Straight-line miles between zone centres.
    fn gap(&self, a: usize, b: usize) -> f64 {
        f64::hypot(self.position[a].0 - self.position[b].0, self.position[a].1 - self.position[b].1)
    }
}

/// Attraction of zone `z` for a trip from `pu`: busy and near zones draw more dropoffs.
fn gravity(position: &[(f64, f64)], popularity: &[f64], pu: usize, z: usize, reach: f64) -> f64 {
    let miles = f64::hypot(position[pu].0 - position[z].0, position[pu].1 - position[z].1);
    popularity[z].powf(GRAVITY_POWER) / (1.0 + (miles / reach).powf(2.2))
}

/// How much slower than usual the trips from `pu` to `dropoff` run: lognormal, drawn
/// from the pair itself (a hash, not a table), so it is the same in every month.
fn pair_slowness(pu: usize, dropoff: usize) -> f64 {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(CITY_SEED ^ ((pu as u64) << 32 | dropoff as u64));
    (PAIR_SIGMA * rng.sample::<f64, _>(StandardNormal)).exp()
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm): the core has no clock.
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// One row of the file.
struct Trip {
    vendor: i64,
    pickup: i64,
    dropoff: i64,
    store_and_fwd: Option<&'static str>,
    ratecode: Option<f64>,
    pu: i64,
    dropoff_zone: i64,
    passengers: Option<f64>,
    distance: f64,
    fare: f64,
    extra: f64,
    mta_tax: f64,
    tip: f64,
    tolls: f64,
    improvement: f64,
    total: f64,
    payment_type: Option<f64>,
    trip_type: Option<f64>,
    congestion: Option<f64>,
}

const MINUTE: i64 = 60_000_000;

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Draws one trip picked up at `pickup` (µs); `dispatched` trips are the null-passenger kind.
fn draw_trip(city: &City, params: &CityParams, pickup: i64, dispatched: bool, rng: &mut Xoshiro256PlusPlus) -> Trip {
    let normal = |rng: &mut Xoshiro256PlusPlus| rng.sample::<f64, _>(StandardNormal);
    let pu = pick(&city.pickup_cdf, rng);
    let dropoff_zone = pick(&city.dropoff_cdf[usize::from(dispatched)][pu], rng);
    // Route miles: a detour factor over the straight line between two points of the zones.
    let route = if pu == dropoff_zone {
        0.8 * (0.6 * normal(rng)).exp()
    } else {
        1.3 * city.gap(pu, dropoff_zone).max(0.4) * (0.2 * normal(rng)).exp()
    };
    let hour = usize::try_from((pickup / (60 * MINUTE)).rem_euclid(24)).unwrap_or(0);
    let mut minutes = 6.4 * route.powf(0.75) * (1.0 + route / 8.0).powf(-0.25) * pair_slowness(pu, dropoff_zone) * (0.22 * normal(rng)).exp()
        / (SPEED_BY_HOUR[hour] * params.speed_factor);
    let mut distance = cents(route);
    // Data-quality quirks of the real file, at its rates for each kind of trip.
    let quirk = rng.gen::<f64>();
    let rates = if dispatched { &DISPATCHED_QUIRKS } else { &STREET_QUIRKS };
    if quirk < rates[0] {
        minutes = if dispatched { 0.0 } else { rng.gen::<f64>() }; // a false start
        distance = if rng.gen::<f64>() < 0.6 { 0.0 } else { cents(0.2 * rng.gen::<f64>()) };
    } else if quirk < rates[1] {
        minutes = 120.0 + 480.0 * rng.gen::<f64>(); // the meter left running
    } else if quirk < rates[2] {
        minutes = 1_380.0 + 59.0 * rng.gen::<f64>(); // closed the next day
    } else if quirk < rates[3] {
        distance = 0.0; // the odometer did not report
    } else if quirk < rates[4] {
        distance = cents(100.0 * 2_500f64.powf(rng.gen::<f64>())); // an absurd odometer: 100 to 250,000 miles
    }
    let mut dropoff = pickup + (minutes * 60.0).round() as i64 * 1_000_000;
    let (passengers, ratecode, payment_type, trip_type, store_and_fwd, congestion, vendor);
    let billed_minutes = minutes.min(60.0);
    let (mut fare, mut extra, mut mta_tax, mut tip, mut improvement);
    let tolls = if route > 6.0 && rng.gen::<f64>() < 0.25 { 6.12 } else { 0.0 };
    if dispatched {
        // Dispatch-app rows: upfront prices in cents, tips of a flat 2.75, times to the minute.
        (passengers, ratecode, payment_type, trip_type, store_and_fwd, congestion) = (None, None, None, None, None, None);
        vendor = if rng.gen::<f64>() < 0.997 { 2 } else { 1 };
        fare = cents((13.4 + 1.6 * route + 0.16 * billed_minutes) * (0.25 * normal(rng)).exp()).max(5.0);
        (mta_tax, improvement) = (0.0, 0.3);
        extra = if rng.gen::<f64>() < 0.38 { 2.75 } else { 0.0 };
        let t = rng.gen::<f64>();
        tip = if t < 0.54 { 2.75 } else if t < 0.94 { 0.0 } else { cents(fare * (0.05 + 0.15 * rng.gen::<f64>())) };
        dropoff = pickup.div_euclid(MINUTE) * MINUTE + ((dropoff - pickup) as f64 / MINUTE as f64).round() as i64 * MINUTE;
    } else {
        vendor = if rng.gen::<f64>() < 0.825 { 2 } else { 1 };
        let count = pick(&cumulative([147., 36446., 2370., 323., 152., 711., 320.].into_iter()), rng);
        passengers = Some(count as f64);
        let r = rng.gen::<f64>();
        let code = if r < 0.965 { 1.0 } else if r < 0.998 { 5.0 } else if r < 0.9995 { 2.0 } else { 4.0 };
        ratecode = Some(code);
        trip_type = Some(if code == 5.0 { 2.0 } else { 1.0 });
        store_and_fwd = Some(if rng.gen::<f64>() < 0.0066 { "Y" } else { "N" });
        let meter = 2.0 + 2.1 * route + 0.31 * billed_minutes + 0.4 * normal(rng);
        fare = match code as i64 { 2 => 52.0, 5 => meter.round().max(5.0), _ => ((meter * 2.0).round() / 2.0).max(2.5) };
        extra = if !(6..20).contains(&hour) { 0.5 } else if (16..20).contains(&hour) { 1.0 } else { 0.0 };
        congestion = Some(if city.congestion_zone[dropoff_zone] { 2.75 } else { 0.0 });
        let card = rng.gen::<f64>() < 0.61;
        payment_type = Some(if card { 1.0 } else if rng.gen::<f64>() < 0.98 { 2.0 } else { 3.0 });
        (mta_tax, improvement) = (0.5, 0.3);
        tip = if card && rng.gen::<f64>() < 0.85 { cents(fare * (0.1 + 0.25 * rng.gen::<f64>())) } else { 0.0 };
        if rng.gen::<f64>() < 0.003 {
            // A refund: every charge negated, as the real file records it.
            let negate = |x: f64| if x == 0.0 { 0.0 } else { -x };
            (fare, extra, mta_tax, tip, improvement) = (-fare, negate(extra), -mta_tax, 0.0, -improvement);
        }
    }
    let total = cents(fare + extra + mta_tax + tip + tolls + improvement + congestion.unwrap_or(0.0));
    Trip {
        vendor, pickup, dropoff, store_and_fwd, ratecode, pu: pu as i64 + 1, dropoff_zone: dropoff_zone as i64 + 1,
        passengers, distance, fare, extra, mta_tax, tip, tolls, improvement, total, payment_type, trip_type, congestion,
    }
}

/// Pickup times (µs) spread over the month by weekday and hour, sorted as the TLC sorts them.
fn draw_pickups(params: &CityParams, count: usize, to_minute: bool, rng: &mut Xoshiro256PlusPlus) -> Vec<i64> {
    let first_day = days_from_civil(params.year, params.month, 1);
    let (next_year, next_month) = if params.month == 12 { (params.year + 1, 1) } else { (params.year, params.month + 1) };
    let days = days_from_civil(next_year, next_month, 1) - first_day;
    // 1970-01-01 was a Thursday (index 4 with Sunday = 0).
    let day_cdf = cumulative((0..days).map(|d| TRIPS_BY_WEEKDAY[usize::try_from((first_day + d + 4).rem_euclid(7)).unwrap_or(0)]));
    let hour_cdf = cumulative(PICKUPS_BY_HOUR.into_iter());
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

/// The green-taxi schema of the 2021 TLC files, column for column (all nullable, as there).
fn green_schema() -> Schema {
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
    let columns: [(&str, DataType); 20] = [
        ("VendorID", DataType::Int64), ("lpep_pickup_datetime", timestamp.clone()), ("lpep_dropoff_datetime", timestamp),
        ("store_and_fwd_flag", DataType::Utf8), ("RatecodeID", DataType::Float64), ("PULocationID", DataType::Int64),
        ("DOLocationID", DataType::Int64), ("passenger_count", DataType::Float64), ("trip_distance", DataType::Float64),
        ("fare_amount", DataType::Float64), ("extra", DataType::Float64), ("mta_tax", DataType::Float64),
        ("tip_amount", DataType::Float64), ("tolls_amount", DataType::Float64), ("ehail_fee", DataType::Null),
        ("improvement_surcharge", DataType::Float64), ("total_amount", DataType::Float64), ("payment_type", DataType::Float64),
        ("trip_type", DataType::Float64), ("congestion_surcharge", DataType::Float64),
    ];
    Schema::new(columns.into_iter().map(|(name, data_type)| Field::new(name, data_type, true)).collect::<Vec<_>>())
}

/// Simulates one month and writes it as a parquet file (one row group, SNAPPY).
/// Same params give the same bytes on a given platform: no clock, no hash-map order.
pub fn simulate_month_parquet(params: &CityParams) -> Result<Vec<u8>, SimulateError> {
    params.check()?;
    let city = City::new();
    let month_key = (params.year as u64) << 8 | u64::from(params.month);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed ^ month_key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let dispatched = ((params.trips as f64) * params.missing_passenger_share).round() as usize;
    let mut trips = Vec::with_capacity(params.trips);
    // Street hails first, then dispatched rows, each sorted by pickup, as in the real file.
    for (count, is_dispatched) in [(params.trips - dispatched, false), (dispatched, true)] {
        for pickup in draw_pickups(params, count, is_dispatched, &mut rng) {
            trips.push(draw_trip(&city, params, pickup, is_dispatched, &mut rng));
        }
    }
    let float = |f: fn(&Trip) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(trips.iter().map(f))) };
    let maybe = |f: fn(&Trip) -> Option<f64>| -> ArrayRef { Arc::new(Float64Array::from_iter(trips.iter().map(f))) };
    let int = |f: fn(&Trip) -> i64| -> ArrayRef { Arc::new(Int64Array::from_iter_values(trips.iter().map(f))) };
    let time = |f: fn(&Trip) -> i64| -> ArrayRef { Arc::new(TimestampMicrosecondArray::from_iter_values(trips.iter().map(f))) };
    let columns: Vec<ArrayRef> = vec![
        int(|t| t.vendor), time(|t| t.pickup), time(|t| t.dropoff),
        Arc::new(StringArray::from_iter(trips.iter().map(|t| t.store_and_fwd))),
        maybe(|t| t.ratecode), int(|t| t.pu), int(|t| t.dropoff_zone), maybe(|t| t.passengers),
        float(|t| t.distance), float(|t| t.fare), float(|t| t.extra), float(|t| t.mta_tax), float(|t| t.tip),
        float(|t| t.tolls), Arc::new(NullArray::new(trips.len())), float(|t| t.improvement), float(|t| t.total),
        maybe(|t| t.payment_type), maybe(|t| t.trip_type), maybe(|t| t.congestion),
    ];
    let write_error = |e: &dyn std::fmt::Display| SimulateError::Write(e.to_string());
    let batch = RecordBatch::try_new(Arc::new(green_schema()), columns).map_err(|e| write_error(&e))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(MAX_TRIPS))
        .set_created_by(format!("mlops-lab simulated city (seed {})", params.seed))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).map_err(|e| write_error(&e))?;
    writer.write(&batch).map_err(|e| write_error(&e))?;
    writer.close().map_err(|e| write_error(&e))?;
    Ok(bytes)
}

#[cfg(test)]
mod scratch {
    use crate::data::*;
    use crate::features::*;
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::collections::BTreeMap;

    fn q(v: &mut Vec<f64>, qs: &[f64]) -> Vec<(f64, f64)> {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        qs.iter().map(|&p| (p, crate::summary::quantile(v, p))).collect()
    }

    #[test]
    #[ignore]
    fn measure_real() {
        let path = std::env::var("REAL").unwrap_or("/work/shared/data/green_tripdata_2021-01.parquet".into());
        let bytes = if path == "sim" { bytes::Bytes::from(crate::simulate::simulate_month_parquet(&Default::default()).unwrap()) } else { bytes::Bytes::from(std::fs::read(&path).unwrap()) };
        let t = load_trips(bytes.clone(), &Field::ALL).unwrap();
        println!("rows {}", t.n_rows); let quiet = std::env::var("QUIET").is_ok(); let _ = quiet;
        let dist: Vec<f64> = t.floats(Field::TripDistance).unwrap().iter().map(|x| x.unwrap()).collect();
        let mut d = dist.clone();
        let qs = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0];
        println!("dist zero share {}", d.iter().filter(|&&x| x == 0.0).count() as f64 / d.len() as f64);
        println!("dist >50 {} >100 {} >1000 {}", d.iter().filter(|&&x| x > 50.0).count(), d.iter().filter(|&&x| x > 100.0).count(), d.iter().filter(|&&x| x > 1000.0).count());
        println!("dist q {:?}", q(&mut d, &qs));
        let mut big: Vec<f64> = d.iter().cloned().filter(|&x| x > 50.0).collect(); big.sort_by(|a,b| a.partial_cmp(b).unwrap());
        println!("big {:?}", big);
        let dur: Vec<f64> = duration_minutes(&t).into_iter().map(|x| x.unwrap()).collect();
        let n = dur.len() as f64;
        println!("dur <0 {} ==0 {} (0,1) {} >60 {} >120 {} >600 {} >1440 {}", dur.iter().filter(|&&x| x < 0.0).count(), dur.iter().filter(|&&x| x == 0.0).count(), dur.iter().filter(|&&x| x > 0.0 && x < 1.0).count(), dur.iter().filter(|&&x| x > 60.0).count(), dur.iter().filter(|&&x| x > 120.0).count(), dur.iter().filter(|&&x| x > 600.0).count(), dur.iter().filter(|&&x| x > 1440.0).count());
        println!("outside share {}", dur.iter().filter(|&&x| !(1.0..=60.0).contains(&x)).count() as f64 / n);
        let mut dd = dur.clone();
        println!("dur q {:?}", q(&mut dd, &qs));
        let p = prepare_trips(&t, DurationFilter::default()).unwrap();
        let m = p.duration_minutes.iter().sum::<f64>() / p.len() as f64;
        let sd = (p.duration_minutes.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (p.len() - 1) as f64).sqrt();
        println!("filtered n {} mean {m} sd {sd} dropped {} missing {}", p.len(), p.dropped_by_filter, p.dropped_missing);
        let mut fd = p.duration_minutes.clone();
        println!("filtered dur q {:?}", q(&mut fd, &qs));
        // speed
        let mut sp: Vec<f64> = p.trip_distance.iter().zip(&p.duration_minutes).filter(|(d, _)| **d > 0.0).map(|(d, m)| d / (m / 60.0)).collect();
        println!("speed mph q {:?}", q(&mut sp, &qs));
        // dist among filtered
        let mut fdist = p.trip_distance.clone();
        println!("filtered dist q {:?} zero {}", q(&mut fdist, &qs), p.trip_distance.iter().filter(|&&x| x == 0.0).count());
        // duration vs distance by bins
        for (lo, hi) in [(0.0, 0.0001), (0.0001, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 15.0), (15.0, 100.0)] {
            let mut ds: Vec<f64> = p.trip_distance.iter().zip(&p.duration_minutes).filter(|(d, _)| **d >= lo && **d < hi).map(|(_, m)| *m).collect();
            let cnt = ds.len();
            println!("dist [{lo},{hi}) n {cnt} dur q {:?}", q(&mut ds, &[0.1, 0.5, 0.9]));
        }
        // hour
        let pick = t.timestamps(Field::PickupDatetime).unwrap();
        let mut hours = [0usize; 24];
        let mut hour_speed = vec![Vec::new(); 24];
        let mut minp = i64::MAX; let mut maxp = i64::MIN;
        let mut outside_month = 0;
        let jan1 = 1609459200_000_000i64; let feb1 = 1612137600_000_000i64;
        for (i, v) in pick.iter().enumerate() {
            let v = v.unwrap();
            minp = minp.min(v); maxp = maxp.max(v);
            if v < jan1 || v >= feb1 { outside_month += 1; }
            let h = ((v / 3_600_000_000) % 24) as usize;
            hours[h] += 1;
            let du = dur[i];
            if (1.0..=60.0).contains(&du) && dist[i] > 0.0 && dist[i] < 100.0 { hour_speed[h].push(dist[i] / (du / 60.0)); }
        }
        println!("pickup min {minp} max {maxp} outside month {outside_month}");
        println!("hours {:?}", hours);
        for h in 0..24 { let mut s = hour_speed[h].clone(); println!("h {h} median speed {:?}", q(&mut s, &[0.5])); }
        // weekday (Jan 1 2021 = Friday)
        let mut wd = [0usize; 7];
        for v in pick { let day = (v.unwrap() - jan1).div_euclid(86_400_000_000); wd[(day.rem_euclid(7)) as usize] += 1; }
        println!("weekday from Fri {:?}", wd);
        // zones
        let pu = t.integers(Field::PuLocationId).unwrap();
        let dol = t.integers(Field::DoLocationId).unwrap();
        let mut pc: BTreeMap<i64, usize> = BTreeMap::new();
        let mut dc: BTreeMap<i64, usize> = BTreeMap::new();
        let mut pairs: BTreeMap<(i64, i64), usize> = BTreeMap::new();
        let mut same = 0;
        for i in 0..t.n_rows { *pc.entry(pu[i].unwrap()).or_default() += 1; *dc.entry(dol[i].unwrap()).or_default() += 1; *pairs.entry((pu[i].unwrap(), dol[i].unwrap())).or_default() += 1; if pu[i] == dol[i] { same += 1; } }
        println!("distinct pu {} do {} pairs {} same {}", pc.len(), dc.len(), pairs.len(), same as f64 / n);
        let mut pcv: Vec<(usize, i64)> = pc.iter().map(|(k, v)| (*v, *k)).collect(); pcv.sort_unstable_by(|a, b| b.cmp(a));
        println!("top pu {:?}", &pcv[..30]);
        let cum: Vec<f64> = [1usize, 5, 10, 20, 50, 100].iter().map(|&k| pcv[..k].iter().map(|x| x.0).sum::<usize>() as f64 / n).collect();
        println!("pu cum share top 1,5,10,20,50,100 {:?}", cum);
        let mut dcv: Vec<(usize, i64)> = dc.iter().map(|(k, v)| (*v, *k)).collect(); dcv.sort_unstable_by(|a, b| b.cmp(a));
        println!("top do {:?}", &dcv[..20]);
        let cum: Vec<f64> = [1usize, 5, 10, 20, 50, 100].iter().map(|&k| dcv[..k].iter().map(|x| x.0).sum::<usize>() as f64 / n).collect();
        println!("do cum share {:?}", cum);
        let mut pv: Vec<usize> = pairs.values().cloned().collect(); pv.sort_unstable_by(|a, b| b.cmp(a));
        println!("pairs top counts {:?} singletons {}", &pv[..20], pv.iter().filter(|&&c| c == 1).count());
        // fares
        let fare = t.floats(Field::FareAmount).unwrap();
        let total = t.floats(Field::TotalAmount).unwrap();
        let mut fv: Vec<f64> = fare.iter().map(|x| x.unwrap()).collect();
        println!("fare q {:?} neg {}", q(&mut fv, &qs), fare.iter().filter(|x| x.unwrap() < 0.0).count());
        // fare ~ a + b d + c m on filtered rows with dist<100
        let (mut sxx, mut rows) = ([[0.0f64; 3]; 3], [0.0f64; 3]);
        for i in 0..t.n_rows { let du = dur[i]; let f = fare[i].unwrap(); if (1.0..=60.0).contains(&du) && dist[i] < 100.0 && f > 0.0 { let x = [1.0, dist[i], du]; for a in 0..3 { rows[a] += x[a] * f; for b in 0..3 { sxx[a][b] += x[a] * x[b]; } } } }
        println!("normal eq {:?} {:?}", sxx, rows);
        let mut extra: Vec<f64> = (0..t.n_rows).map(|i| total[i].unwrap() - fare[i].unwrap()).collect();
        println!("total-fare q {:?}", q(&mut extra, &qs));
        let pass = t.floats(Field::PassengerCount).unwrap();
        let mut pcount: BTreeMap<i64, usize> = BTreeMap::new();
        for x in pass { *pcount.entry(x.map(|v| v as i64).unwrap_or(-1)).or_default() += 1; }
        println!("passenger {:?}", pcount);

        // raw columns
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().with_batch_size(200_000);
        println!("schema {:?}", reader.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().to_string(), f.is_nullable())).collect::<Vec<_>>());
        let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let b = &batches[0];
        println!("batches {}", batches.len());
        let null_pc = b.column_by_name("passenger_count").unwrap().logical_nulls();
        for f in b.schema().fields() {
            let col = b.column_by_name(f.name()).unwrap();
            let nulls = col.null_count();
            let mut joint = 0;
            if let Some(nb) = &null_pc { for i in 0..col.len() { if nb.is_null(i) && col.is_null(i) { joint += 1; } } }
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            match col.data_type() {
                arrow_schema::DataType::Float64 => for v in col.as_primitive::<arrow_array::types::Float64Type>().iter() { *counts.entry(format!("{:?}", v)).or_default() += 1; },
                arrow_schema::DataType::Int64 => for v in col.as_primitive::<arrow_array::types::Int64Type>().iter() { *counts.entry(format!("{:?}", v)).or_default() += 1; },
                arrow_schema::DataType::Utf8 => for v in col.as_string::<i32>().iter() { *counts.entry(format!("{:?}", v)).or_default() += 1; },
                _ => {}
            }
            let mut cv: Vec<(usize, String)> = counts.into_iter().map(|(k, v)| (v, k)).collect(); cv.sort_unstable_by(|a, b| b.cmp(a));
            cv.truncate(12);
            println!("{} {} nulls {} joint-with-pc-null {} top {:?}", f.name(), col.data_type(), nulls, joint, cv);
        }
        // store_and_fwd null rows: what vendor? pattern of null rows: also conditional facts for null rows
        let pcn = null_pc.unwrap();
        let mut dn = Vec::new(); let mut dnn = Vec::new();
        for i in 0..t.n_rows { if (1.0..=60.0).contains(&dur[i]) { if pcn.is_null(i) { dn.push(dur[i]) } else { dnn.push(dur[i]) } } }
        let mn = dn.iter().sum::<f64>() / dn.len() as f64; let mnn = dnn.iter().sum::<f64>() / dnn.len() as f64;
        println!("filtered duration mean passenger-null {mn} ({}) non-null {mnn} ({})", dn.len(), dnn.len());
        let mut outside_null = 0; let mut outside_nn = 0;
        for i in 0..t.n_rows { if !(1.0..=60.0).contains(&dur[i]) { if pcn.is_null(i) { outside_null += 1 } else { outside_nn += 1 } } }
        println!("outside: null {outside_null} nonnull {outside_nn}");
        let mut dzn = 0; for i in 0..t.n_rows { if dist[i] == 0.0 && pcn.is_null(i) { dzn += 1; } }
        println!("zero dist in null rows {dzn}");
        let mut dnull: Vec<f64> = (0..t.n_rows).filter(|&i| pcn.is_null(i)).map(|i| dist[i]).collect();
        println!("dist q null rows {:?}", q(&mut dnull, &qs));
        let mut dnn2: Vec<f64> = (0..t.n_rows).filter(|&i| !pcn.is_null(i)).map(|i| dist[i]).collect();
        println!("dist q non-null rows {:?}", q(&mut dnn2, &qs));
    }

    fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> [f64; 3] {
        let det = |m: [[f64; 3]; 3]| m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0]);
        let d = det(a);
        let mut out = [0.0; 3];
        for c in 0..3 { let mut m = a; for r in 0..3 { m[r][c] = b[r]; } out[c] = det(m) / d; }
        out
    }

    #[test]
    #[ignore]
    fn measure_groups() {
        let path = std::env::var("REAL").unwrap_or("/work/shared/data/green_tripdata_2021-01.parquet".into());
        let bytes = if path == "sim" { bytes::Bytes::from(crate::simulate::simulate_month_parquet(&Default::default()).unwrap()) } else { bytes::Bytes::from(std::fs::read(&path).unwrap()) };
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().with_batch_size(200_000);
        let b = reader.build().unwrap().next().unwrap().unwrap();
        let f = |n: &str| -> Vec<Option<f64>> { let c = b.column_by_name(n).unwrap(); match c.data_type() { arrow_schema::DataType::Float64 => c.as_primitive::<arrow_array::types::Float64Type>().iter().collect(), arrow_schema::DataType::Int64 => c.as_primitive::<arrow_array::types::Int64Type>().iter().map(|v| v.map(|x| x as f64)).collect(), arrow_schema::DataType::Timestamp(..) => c.as_primitive::<arrow_array::types::TimestampMicrosecondType>().iter().map(|v| v.map(|x| x as f64)).collect(), _ => vec![None; c.len()] } };
        let names = ["VendorID","lpep_pickup_datetime","lpep_dropoff_datetime","RatecodeID","PULocationID","DOLocationID","passenger_count","trip_distance","fare_amount","extra","mta_tax","tip_amount","tolls_amount","improvement_surcharge","total_amount","payment_type","trip_type","congestion_surcharge"];
        let cols: Vec<Vec<Option<f64>>> = names.iter().map(|n| f(n)).collect();
        let n = b.num_rows();
        let pc = &cols[6];
        // first null row index and pattern
        let first_null = (0..n).find(|&i| pc[i].is_none()).unwrap();
        let last_nonnull = (0..n).rev().find(|&i| pc[i].is_some()).unwrap();
        println!("first null row {first_null} last non-null {last_nonnull}");
        for &i in &[0usize, 1, 2, 3, 1000, 20000, 40000, first_null, first_null + 1, first_null + 2, 60000, 70000, n - 1] {
            let row: Vec<String> = names.iter().zip(&cols).map(|(nm, c)| format!("{nm}={:?}", c[i])).collect();
            println!("row {i}: {}", row.join(" "));
        }
        for group in [true, false] {
            let idx: Vec<usize> = (0..n).filter(|&i| pc[i].is_none() == group).collect();
            println!("=== null group {group} n {}", idx.len());
            for (k, nm) in names.iter().enumerate() {
                if matches!(k, 1 | 2 | 4 | 5 | 7 | 8 | 14) { continue; }
                let mut counts: BTreeMap<String, usize> = BTreeMap::new();
                for &i in &idx { *counts.entry(format!("{:?}", cols[k][i])).or_default() += 1; }
                let mut cv: Vec<(usize, String)> = counts.into_iter().map(|(k, v)| (v, k)).collect(); cv.sort_unstable_by(|a, b| b.cmp(a)); cv.truncate(8);
                println!("  {nm}: {:?}", cv);
            }
            let (mut a, mut r) = ([[0.0f64; 3]; 3], [0.0f64; 3]);
            let mut resid = Vec::new();
            for &i in &idx { let du = (cols[2][i].unwrap() - cols[1][i].unwrap()) / 6e7; let d = cols[7][i].unwrap(); let fa = cols[8][i].unwrap(); if (1.0..=60.0).contains(&du) && d < 100.0 && d > 0.0 && fa > 0.0 { let x = [1.0, d, du]; for p in 0..3 { r[p] += x[p] * fa; for q in 0..3 { a[p][q] += x[p] * x[q]; } } } }
            let coef = solve3(a, r);
            for &i in &idx { let du = (cols[2][i].unwrap() - cols[1][i].unwrap()) / 6e7; let d = cols[7][i].unwrap(); let fa = cols[8][i].unwrap(); if (1.0..=60.0).contains(&du) && d < 100.0 && d > 0.0 && fa > 0.0 { resid.push(fa - coef[0] - coef[1]*d - coef[2]*du); } }
            println!("  fare ~ {:?}  resid q {:?}", coef, q(&mut resid, &[0.05, 0.25, 0.5, 0.75, 0.95]));
            let mut tf: Vec<f64> = idx.iter().map(|&i| cols[14][i].unwrap() - cols[8][i].unwrap() - cols[9][i].unwrap() - cols[10][i].unwrap() - cols[11][i].unwrap() - cols[12][i].unwrap() - cols[13][i].unwrap() - cols[17][i].unwrap_or(0.0)).collect();
            println!("  total - sum(parts) q {:?}", q(&mut tf, &[0.01, 0.5, 0.99]));
            let mut tipshare: Vec<f64> = idx.iter().filter(|&&i| cols[11][i].unwrap() > 0.0).map(|&i| cols[11][i].unwrap() / cols[8][i].unwrap()).collect();
            println!("  tip/fare where tipped q {:?}", q(&mut tipshare, &[0.1, 0.5, 0.9]));
            let mut pkh = [0usize; 24];
            for &i in &idx { pkh[((cols[1][i].unwrap() as i64 / 3_600_000_000) % 24) as usize] += 1; }
            println!("  hours {:?}", pkh);
            let durs: Vec<f64> = idx.iter().map(|&i| (cols[2][i].unwrap() - cols[1][i].unwrap()) / 6e7).collect();
            let share = |f: &dyn Fn(f64) -> bool| durs.iter().filter(|&&x| f(x)).count() as f64 / durs.len() as f64;
            println!("  dur ==0 {:.4} (0,1) {:.4} (60,120] {:.4} (120,600] {:.4} >600 {:.4}", share(&|x| x == 0.0), share(&|x| x > 0.0 && x < 1.0), share(&|x| x > 60.0 && x <= 120.0), share(&|x| x > 120.0 && x <= 600.0), share(&|x| x > 600.0));
            let dd: Vec<f64> = idx.iter().map(|&i| cols[7][i].unwrap()).collect();
            println!("  dist ==0 {:.4} >100 {}", dd.iter().filter(|&&x| x == 0.0).count() as f64 / dd.len() as f64, dd.iter().filter(|&&x| x > 100.0).count());
            let mut short_d: Vec<f64> = idx.iter().zip(&durs).filter(|(_, &du)| du < 1.0).map(|(&i, _)| cols[7][i].unwrap()).collect();
            println!("  dist of <1min trips q {:?}", q(&mut short_d, &[0.25, 0.5, 0.75, 0.9]));
            let mut same: Vec<f64> = idx.iter().filter(|&&i| cols[4][i] == cols[5][i]).map(|&i| cols[7][i].unwrap()).collect();
            println!("  same-zone share {:.3} dist q {:?}", same.len() as f64 / idx.len() as f64, q(&mut same, &[0.1, 0.25, 0.5, 0.75, 0.9]));
            let mut neg = 0; for &i in &idx { if cols[8][i].unwrap() < 0.0 { neg += 1; } }
            println!("  negative fares {neg}");
        }
    }

    #[test]
    #[ignore]
    fn compare_models() {
        use crate::models::{ModelKind, ModelParams};
        use crate::training::*;
        let a = std::env::var("TRAIN").unwrap_or("/work/shared/data/green_tripdata_2021-01.parquet".into());
        let b = std::env::var("VAL").unwrap_or("/work/shared/data/green_tripdata_2021-02.parquet".into());
        let load = |p: &str| -> TripTable { if let Some(seed) = p.strip_prefix("sim:") { let mut params = crate::simulate::CityParams::default(); params.seed = seed.parse().unwrap(); if seed == "43" { params.month = 2; params.trips = 64_500; } load_trips(crate::simulate::simulate_month_parquet(&params).unwrap().into(), &TRAINING_FIELDS).unwrap() } else { load_trips(std::fs::read(p).unwrap().into(), &TRAINING_FIELDS).unwrap() } };
        let (train, val) = (load(&a), load(&b));
        for kind in [ModelKind::LinearRegression] {
            for fs in [FeatureSet::PuDo, FeatureSet::PuAndDo] {
                let spec = TrainSpec { params: ModelParams::new(kind), feature_set: fs, filter: DurationFilter::default() };
                let r = train_and_evaluate(&spec, &train, &val, &|| 0.0, &mut |_, _| {}).unwrap();
                println!("{kind:?} {fs:?} train rmse {:.3} val rmse {:.3} features {}", r.train.rmse, r.val.rmse, r.n_features);
            }
        }
    }
}
