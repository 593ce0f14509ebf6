//! stub
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CityParams { pub year: i32, pub month: u32, pub seed: u64, pub trips: usize, pub speed_factor: f64, pub missing_passenger_share: f64 }
impl Default for CityParams { fn default() -> Self { Self { year: 2021, month: 1, seed: 42, trips: 76_000, speed_factor: 1.0, missing_passenger_share: 0.47 } } }
impl CityParams { pub fn check(&self) -> Result<(), SimulateError> { Ok(()) } pub fn label(&self) -> String { String::new() } }
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SimulateError { #[error("w {0}")] Write(String) }
pub fn simulate_month_parquet(_params: &CityParams) -> Result<Vec<u8>, SimulateError> { Err(SimulateError::Write(String::new())) }

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
        let bytes = bytes::Bytes::from(std::fs::read(&path).unwrap());
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
}
