//! The parquet loader on the seven real TLC files, on tiny files written here with
//! arrow's `ArrowWriter`, and on every kind of broken input a learner can bring.
//!
//! Expected values for the real files: pyarrow 26.0.1 (`pq.read_table`, first row,
//! `null_count`, `pc.min` of the pickup column cast to int64, `math.fsum` of
//! `trip_distance`), run once in a throwaway venv on the files listed in
//! `../shared/data/SOURCES.md`; they agree with what this loader reads.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{Field as ArrowField, Schema};
use bytes::Bytes;
use mlops_core::data::{load_trips, read_file_info, DataError, Field, FieldKind, TripTable};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::{
    ColumnChunkMetaDataBuilder, ParquetMetaDataReader, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

// ---------------------------------------------------------------------------------------
// Helpers: tiny parquet files in memory
// ---------------------------------------------------------------------------------------

/// Writes named arrow columns (all nullable) into an in-memory parquet file.
fn parquet_bytes(columns: Vec<(&str, ArrayRef)>, compression: Compression) -> Bytes {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| ArrowField::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|(_, a)| a).collect())
        .expect("columns make a valid batch");
    let props = WriterProperties::builder().set_compression(compression).build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).expect("writer opens");
    writer.write(&batch).expect("batch is written");
    writer.close().expect("footer is written");
    Bytes::from(out)
}

/// 2021-01-01 00:15:56 UTC, the first pickup of green_tripdata_2021-01, in microseconds.
const JAN_FIRST_PICKUP_US: i64 = 1_609_460_156_000_000;

/// The eight course columns under the green names, `n_rows` plausible trips, a few nulls.
fn green_columns(n_rows: usize) -> Vec<(&'static str, ArrayRef)> {
    let rows = 0..n_rows as i64;
    let pickup: Vec<i64> = rows.clone().map(|i| JAN_FIRST_PICKUP_US + i * 60_000_000).collect();
    let dropoff: Vec<i64> =
        pickup.iter().zip(rows.clone()).map(|(p, i)| p + (5 + i % 30) * 60_000_000).collect();
    vec![
        ("VendorID", Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| 1 + i % 2))) as ArrayRef),
        ("lpep_pickup_datetime", Arc::new(TimestampMicrosecondArray::from(pickup))),
        ("lpep_dropoff_datetime", Arc::new(TimestampMicrosecondArray::from(dropoff))),
        (
            "store_and_fwd_flag",
            Arc::new(StringArray::from_iter_values(rows.clone().map(|i| if i % 9 == 0 { "Y" } else { "N" }))),
        ),
        ("PULocationID", Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| 1 + (i * 7) % 265)))),
        ("DOLocationID", Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| 1 + (i * 13) % 265)))),
        (
            "passenger_count",
            Arc::new(Float64Array::from_iter(
                rows.clone().map(|i| (i % 5 != 0).then_some((1 + i % 4) as f64)),
            )),
        ),
        ("trip_distance", Arc::new(Float64Array::from_iter_values(rows.clone().map(|i| i as f64 * 0.37)))),
        ("fare_amount", Arc::new(Float64Array::from_iter_values(rows.clone().map(|i| 2.5 + i as f64 * 1.1)))),
        ("total_amount", Arc::new(Float64Array::from_iter_values(rows.map(|i| 3.8 + i as f64 * 1.3)))),
    ]
}

fn green_file(n_rows: usize) -> Bytes {
    parquet_bytes(green_columns(n_rows), Compression::UNCOMPRESSED)
}

/// The green columns with one of them replaced (or, with `None`, removed).
fn green_file_with(name: &str, replacement: Option<ArrayRef>) -> Bytes {
    let columns = green_columns(8)
        .into_iter()
        .filter_map(|(n, a)| if n == name { replacement.clone().map(|r| (n, r)) } else { Some((n, a)) })
        .collect();
    parquet_bytes(columns, Compression::UNCOMPRESSED)
}

/// A learner-facing message must be a sentence that names the problem, not decoder internals.
fn assert_readable(error: &DataError, must_mention: &[&str]) {
    let message = error.to_string();
    assert!(message.len() >= 20, "message too short to help: {message:?}");
    assert!(message.contains(' '), "message is not a sentence: {message:?}");
    for internal in ["Parquet error", "EOF:", "{", "Some(", "DataError"] {
        assert!(!message.contains(internal), "message leaks `{internal}`: {message:?}");
    }
    for needle in must_mention {
        assert!(message.contains(needle), "message {message:?} should mention {needle:?}");
    }
}

fn load_err(bytes: Bytes, fields: &[Field]) -> DataError {
    match load_trips(bytes, fields) {
        Ok(table) => panic!("expected an error, loaded {} rows", table.n_rows),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------
// 1. The real TLC files
// ---------------------------------------------------------------------------------------

/// One row of SOURCES.md plus the values pinned from pyarrow (see the file header).
struct RealMonth {
    file: &'static str,
    rows: usize,
    codec: &'static str,
    id_type: &'static str,
    passenger_type: &'static str,
    first_pickup_us: i64,
    first_pu: i64,
    first_do: i64,
    first_distance: f64,
    first_passengers: f64,
    passenger_nulls: usize,
    /// The TLC quirk: every month has a few trips stamped 2008-12-31 / 2009-01-01.
    min_pickup_us: i64,
    distance_sum: f64,
}

/// Schema release 1 (2021-01..2023-01): int64 IDs, double passenger_count, GZIP.
/// Schema release 2 (2023-02 onwards): int32 IDs, int64 passenger_count, ZSTD.
const REAL_MONTHS: [RealMonth; 7] = [
    RealMonth {
        file: "green_tripdata_2021-01.parquet",
        rows: 76_518,
        codec: "GZIP",
        id_type: "Int64",
        passenger_type: "Float64",
        first_pickup_us: 1_609_460_156_000_000, // 2021-01-01 00:15:56
        first_pu: 43,
        first_do: 151,
        first_distance: 1.01,
        first_passengers: 1.0,
        passenger_nulls: 36_047,
        min_pickup_us: 1_230_768_205_000_000, // 2009-01-01 00:03:25
        distance_sum: 3_126_720.74,
    },
    RealMonth {
        file: "green_tripdata_2021-02.parquet",
        rows: 64_572,
        codec: "GZIP",
        id_type: "Int64",
        passenger_type: "Float64",
        first_pickup_us: 1_612_139_643_000_000, // 2021-02-01 00:34:03
        first_pu: 130,
        first_do: 205,
        first_distance: 3.66,
        first_passengers: 5.0,
        passenger_nulls: 29_109,
        min_pickup_us: 1_230_770_869_000_000,
        distance_sum: 1_159_801.58,
    },
    RealMonth {
        file: "green_tripdata_2022-01.parquet",
        rows: 62_495,
        codec: "GZIP",
        id_type: "Int64",
        passenger_type: "Float64",
        first_pickup_us: 1_640_996_061_000_000, // 2022-01-01 00:14:21
        first_pu: 42,
        first_do: 42,
        first_distance: 0.44,
        first_passengers: 1.0,
        passenger_nulls: 6_295,
        min_pickup_us: 1_230_770_041_000_000,
        distance_sum: 4_859_525.73,
    },
    RealMonth {
        file: "green_tripdata_2022-02.parquet",
        rows: 69_399,
        codec: "GZIP",
        id_type: "Int64",
        passenger_type: "Float64",
        first_pickup_us: 1_643_674_821_000_000, // 2022-02-01 00:20:21
        first_pu: 43,
        first_do: 238,
        first_distance: 1.16,
        first_passengers: 1.0,
        passenger_nulls: 7_421,
        min_pickup_us: 1_230_768_152_000_000,
        distance_sum: 6_673_059.86,
    },
    RealMonth {
        file: "green_tripdata_2023-01.parquet",
        rows: 68_211,
        codec: "GZIP",
        id_type: "Int64",
        passenger_type: "Float64",
        first_pickup_us: 1_672_532_770_000_000, // 2023-01-01 00:26:10
        first_pu: 166,
        first_do: 143,
        first_distance: 2.58,
        first_passengers: 1.0,
        passenger_nulls: 4_324,
        min_pickup_us: 1_230_841_287_000_000,
        distance_sum: 553_522.18,
    },
    RealMonth {
        file: "green_tripdata_2023-02.parquet",
        rows: 64_809,
        codec: "ZSTD",
        id_type: "Int32",
        passenger_type: "Int64",
        first_pickup_us: 1_675_212_382_000_000, // 2023-02-01 00:46:22
        first_pu: 74,
        first_do: 265,
        first_distance: 10.8,
        first_passengers: 1.0,
        passenger_nulls: 4_821,
        min_pickup_us: 1_230_764_549_000_000, // 2008-12-31 23:02:29
        distance_sum: 887_647.03,
    },
    RealMonth {
        file: "green_tripdata_2024-03.parquet",
        rows: 57_457,
        codec: "ZSTD",
        id_type: "Int32",
        passenger_type: "Int64",
        first_pickup_us: 1_709_251_852_000_000, // 2024-03-01 00:10:52
        first_pu: 129,
        first_do: 226,
        first_distance: 1.72,
        first_passengers: 1.0,
        passenger_nulls: 2_097,
        min_pickup_us: 1_230_764_544_000_000,
        distance_sum: 776_981.15,
    },
];

#[test]
fn every_real_month_reports_twenty_columns_and_its_codec() {
    for month in &REAL_MONTHS {
        let Some(bytes) = common::real_file(month.file) else {
            continue;
        };
        let info = read_file_info(bytes).expect(month.file);
        assert_eq!(info.n_rows, month.rows, "{}: rows", month.file);
        assert_eq!(info.n_row_groups, 1, "{}: row groups", month.file);
        assert_eq!(info.columns.len(), 20, "{}: columns", month.file);
        for column in &info.columns {
            assert!(
                column.compression.starts_with(month.codec),
                "{}: column `{}` is {}, SOURCES.md says {}",
                month.file,
                column.name,
                column.compression,
                month.codec
            );
        }
        let type_of = |name: &str| {
            info.columns.iter().find(|c| c.name == name).map(|c| c.data_type.clone()).expect(name)
        };
        assert_eq!(type_of("PULocationID"), month.id_type, "{}", month.file);
        assert_eq!(type_of("DOLocationID"), month.id_type, "{}", month.file);
        assert_eq!(type_of("passenger_count"), month.passenger_type, "{}", month.file);
        assert_eq!(type_of("trip_distance"), "Float64", "{}", month.file);
    }
}

#[test]
fn every_real_month_loads_all_fields_with_the_values_pyarrow_reads() {
    for month in &REAL_MONTHS {
        let Some(bytes) = common::real_file(month.file) else {
            continue;
        };
        let table = load_trips(bytes, &Field::ALL).expect(month.file);
        let file = month.file;
        assert_eq!(table.n_rows, month.rows, "{file}: rows");
        assert_eq!(table.columns.len(), Field::ALL.len(), "{file}");
        for field in Field::ALL {
            let column = table.column(field).expect("requested field is present");
            assert_eq!(column.len(), month.rows, "{file}: {field:?} length");
            assert_eq!(table.source_names[&field], field.display_name(), "{file}: green names");
        }

        // Both schema releases come out as the same logical kinds.
        let pickup = table.timestamps(Field::PickupDatetime).expect("timestamps");
        let pu = table.integers(Field::PuLocationId).expect("PU as integers");
        let dropoff_loc = table.integers(Field::DoLocationId).expect("DO as integers");
        let distance = table.floats(Field::TripDistance).expect("distance as floats");
        let passengers = table.floats(Field::PassengerCount).expect("passenger_count as floats");

        assert_eq!(pickup[0], Some(month.first_pickup_us), "{file}: first pickup");
        assert_eq!(pu[0], Some(month.first_pu), "{file}: first PULocationID");
        assert_eq!(dropoff_loc[0], Some(month.first_do), "{file}: first DOLocationID");
        assert_eq!(distance[0], Some(month.first_distance), "{file}: first trip_distance");
        assert_eq!(passengers[0], Some(month.first_passengers), "{file}: first passenger_count");

        assert_eq!(
            table.column(Field::PassengerCount).expect("pc").null_count(),
            month.passenger_nulls,
            "{file}"
        );
        assert_eq!(table.column(Field::PuLocationId).expect("pu").null_count(), 0, "{file}");
        assert_eq!(pickup.iter().flatten().min(), Some(&month.min_pickup_us), "{file}: earliest pickup");
        let sum: f64 = distance.iter().flatten().sum();
        assert!(
            (sum - month.distance_sum).abs() <= 1e-9 * month.distance_sum,
            "{file}: trip_distance sums to {sum}, pyarrow gives {}",
            month.distance_sum
        );
    }
}

#[test]
fn projection_of_a_real_file_decodes_only_trip_distance() {
    for file in ["green_tripdata_2021-01.parquet", "green_tripdata_2024-03.parquet"] {
        let Some(bytes) = common::real_file(file) else {
            continue;
        };
        let table = load_trips(bytes, &[Field::TripDistance]).expect(file);
        assert_eq!(table.columns.keys().copied().collect::<Vec<_>>(), vec![Field::TripDistance], "{file}");
        assert_eq!(table.source_names.keys().copied().collect::<Vec<_>>(), vec![Field::TripDistance]);
        let month = REAL_MONTHS.iter().find(|m| m.file == file).expect("listed");
        assert_eq!(table.n_rows, month.rows);
        assert_eq!(table.floats(Field::TripDistance).expect("floats")[0], Some(month.first_distance));
    }
}

#[test]
fn projection_never_looks_at_columns_that_were_not_asked_for() {
    // PULocationID is unusable here, but a step that needs only trip_distance must not care.
    let bytes = green_file_with("PULocationID", Some(Arc::new(StringArray::from(vec!["x"; 8]))));
    let table = load_trips(bytes.clone(), &[Field::TripDistance]).expect("distance alone loads");
    assert_eq!(table.columns.len(), 1);
    assert_eq!(table.n_rows, 8);
    assert!(matches!(load_err(bytes, &Field::ALL), DataError::WrongType { .. }));
}

// ---------------------------------------------------------------------------------------
// 2. Yellow taxi names
// ---------------------------------------------------------------------------------------

#[test]
fn yellow_tpep_datetime_columns_load_as_the_pickup_and_dropoff_fields() {
    let columns = green_columns(5)
        .into_iter()
        .map(|(name, array)| (name.replace("lpep_", "tpep_"), array))
        .collect::<Vec<_>>();
    let bytes =
        parquet_bytes(columns.iter().map(|(n, a)| (n.as_str(), a.clone())).collect(), Compression::SNAPPY);

    let table = load_trips(bytes, &Field::ALL).expect("yellow file loads");
    assert_eq!(table.n_rows, 5);
    assert_eq!(table.source_names[&Field::PickupDatetime], "tpep_pickup_datetime");
    assert_eq!(table.source_names[&Field::DropoffDatetime], "tpep_dropoff_datetime");
    let pickup = table.timestamps(Field::PickupDatetime).expect("timestamps");
    let dropoff = table.timestamps(Field::DropoffDatetime).expect("timestamps");
    assert_eq!(pickup[0], Some(JAN_FIRST_PICKUP_US));
    assert_eq!(pickup[4], Some(JAN_FIRST_PICKUP_US + 4 * 60_000_000));
    assert_eq!(dropoff[1], Some(JAN_FIRST_PICKUP_US + 60_000_000 + 6 * 60_000_000));
}

// ---------------------------------------------------------------------------------------
// 3. Bad inputs, one variant each
// ---------------------------------------------------------------------------------------

#[test]
fn csv_bytes_are_not_parquet() {
    let csv = Bytes::from_static(b"VendorID,trip_distance\n1,2.5\n");
    let error = load_err(csv.clone(), &Field::ALL);
    assert_eq!(error, DataError::NotParquet);
    assert_readable(&error, &["not a parquet file", "CSV"]);
    assert_eq!(read_file_info(csv), Err(DataError::NotParquet));
}

#[test]
fn empty_bytes_are_an_empty_file() {
    let error = load_err(Bytes::new(), &Field::ALL);
    assert_eq!(error, DataError::EmptyFile);
    assert_readable(&error, &["empty", "0 bytes"]);
    assert_eq!(read_file_info(Bytes::new()), Err(DataError::EmptyFile));
}

#[test]
fn a_file_cut_in_half_is_truncated() {
    let generated = green_file(200);
    let mut cases = vec![("generated", generated)];
    if let Some(real) = common::real_file("green_tripdata_2021-01.parquet") {
        cases.push(("green_tripdata_2021-01", real));
    }
    for (what, bytes) in cases {
        let half = bytes.slice(..bytes.len() / 2);
        let error = load_err(half.clone(), &Field::ALL);
        assert_eq!(error, DataError::Truncated { bytes: bytes.len() / 2 }, "{what}");
        assert_readable(&error, &["cut short", &(bytes.len() / 2).to_string(), "download it again"]);
        assert_eq!(read_file_info(half), Err(DataError::Truncated { bytes: bytes.len() / 2 }), "{what}");
    }
}

#[test]
fn a_valid_file_with_zero_rows_has_no_rows() {
    let schema = Arc::new(Schema::new(
        green_columns(1)
            .iter()
            .map(|(name, array)| ArrowField::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    let writer = ArrowWriter::try_new(&mut out, schema, None).expect("writer opens");
    writer.close().expect("footer is written");
    let bytes = Bytes::from(out);

    assert_eq!(read_file_info(bytes.clone()).expect("footer is fine").n_rows, 0);
    let error = load_err(bytes, &Field::ALL);
    assert_eq!(error, DataError::NoRows);
    assert_readable(&error, &["no rows"]);
}

#[test]
fn a_file_without_trip_distance_names_it_and_lists_what_it_has() {
    let bytes = green_file_with("trip_distance", None);
    let error = load_err(bytes, &Field::ALL);
    let expected_found: Vec<String> = green_columns(1)
        .into_iter()
        .map(|(name, _)| name.to_string())
        .filter(|name| name != "trip_distance")
        .collect();
    assert_eq!(
        error,
        DataError::MissingColumn { wanted: "trip_distance".to_string(), found: expected_found.clone() }
    );
    let mut mentions = vec!["`trip_distance`", "missing"];
    mentions.extend(expected_found.iter().map(String::as_str));
    assert_readable(&error, &mentions);
}

#[test]
fn trip_distance_stored_as_text_is_the_wrong_type() {
    let text: ArrayRef = Arc::new(StringArray::from(vec!["1.5"; 8]));
    let error = load_err(green_file_with("trip_distance", Some(text)), &Field::ALL);
    let DataError::WrongType { column, found, expected } = &error else {
        panic!("expected WrongType, got {error:?}");
    };
    assert_eq!(column, "trip_distance");
    assert_eq!(found, "Utf8");
    assert_eq!(expected, "a number");
    assert_readable(&error, &["`trip_distance`", "Utf8", "a number was expected"]);
}

#[test]
fn pickup_stored_as_integers_is_the_wrong_type() {
    let seconds: ArrayRef = Arc::new(Int64Array::from(vec![1_609_460_156_i64; 8]));
    let error = load_err(green_file_with("lpep_pickup_datetime", Some(seconds)), &Field::ALL);
    assert!(
        matches!(&error, DataError::WrongType { column, expected, .. }
            if column == "lpep_pickup_datetime" && expected == "a timestamp"),
        "{error:?}"
    );
    assert_readable(&error, &["`lpep_pickup_datetime`", "timestamp"]);
}

#[test]
fn pu_location_id_that_is_all_null_cannot_be_used() {
    let nulls: ArrayRef = Arc::new(Int64Array::from(vec![None::<i64>; 8]));
    let error = load_err(green_file_with("PULocationID", Some(nulls)), &Field::ALL);
    assert_eq!(error, DataError::AllNull { column: "PULocationID".to_string() });
    assert_readable(&error, &["`PULocationID`", "only null values"]);
}

#[test]
fn passenger_count_may_be_all_null() {
    let nulls: ArrayRef = Arc::new(Float64Array::from(vec![None::<f64>; 8]));
    let table = load_trips(green_file_with("passenger_count", Some(nulls)), &Field::ALL).expect("loads");
    assert_eq!(table.column(Field::PassengerCount).expect("present").null_count(), 8);
}

#[test]
fn garbage_between_two_par1_magics_is_an_error_not_a_panic() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20_240_301);
    for attempt in 0..64 {
        let mut bytes = b"PAR1".to_vec();
        bytes.extend((0..100).map(|_| rng.gen::<u8>()));
        bytes.extend_from_slice(b"PAR1");
        let bytes = Bytes::from(bytes);
        let loaded = catch_unwind(AssertUnwindSafe(|| load_trips(bytes.clone(), &Field::ALL)))
            .unwrap_or_else(|_| panic!("attempt {attempt}: the loader panicked on {bytes:?}"));
        let error = loaded.expect_err("garbage does not load");
        assert!(
            matches!(error, DataError::Truncated { .. } | DataError::Corrupt(_)),
            "attempt {attempt}: {error:?}"
        );
        let info = catch_unwind(AssertUnwindSafe(|| read_file_info(bytes.clone())))
            .unwrap_or_else(|_| panic!("attempt {attempt}: read_file_info panicked"));
        assert!(matches!(info, Err(DataError::Truncated { .. } | DataError::Corrupt(_))), "{info:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation: timestamp units and float IDs
// ---------------------------------------------------------------------------------------

#[test]
fn second_millisecond_and_nanosecond_timestamps_become_microseconds() {
    let ms = JAN_FIRST_PICKUP_US / 1_000;
    let ns = JAN_FIRST_PICKUP_US * 1_000;
    let cases: Vec<(&str, ArrayRef, ArrayRef)> = vec![
        (
            "milliseconds",
            Arc::new(TimestampMillisecondArray::from(vec![Some(ms), None, Some(ms + 1)])),
            Arc::new(TimestampMillisecondArray::from(vec![Some(ms + 240_000), Some(ms), Some(ms + 2)])),
        ),
        (
            "nanoseconds",
            // The sub-microsecond digits (…789) are dropped, not rounded.
            Arc::new(TimestampNanosecondArray::from(vec![Some(ns), None, Some(ns + 1_789)])),
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(ns + 240_000_000_000),
                Some(ns),
                Some(ns + 2_000),
            ])),
        ),
        (
            "seconds",
            Arc::new(TimestampSecondArray::from(vec![Some(ms / 1_000), None, Some(ms / 1_000)])),
            Arc::new(TimestampSecondArray::from(vec![
                Some(ms / 1_000 + 240),
                Some(ms / 1_000),
                Some(ms / 1_000),
            ])),
        ),
    ];
    let expected_pickup = |unit: &str| match unit {
        "milliseconds" => vec![Some(JAN_FIRST_PICKUP_US), None, Some(JAN_FIRST_PICKUP_US + 1_000)],
        "nanoseconds" => vec![Some(JAN_FIRST_PICKUP_US), None, Some(JAN_FIRST_PICKUP_US + 1)],
        _ => vec![Some(JAN_FIRST_PICKUP_US), None, Some(JAN_FIRST_PICKUP_US)],
    };
    for (unit, pickup, dropoff) in cases {
        let bytes = parquet_bytes(
            vec![
                ("lpep_pickup_datetime", pickup),
                ("lpep_dropoff_datetime", dropoff),
                ("trip_distance", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
            ],
            Compression::UNCOMPRESSED,
        );
        let table = load_trips(bytes, &[Field::PickupDatetime, Field::DropoffDatetime, Field::TripDistance])
            .unwrap_or_else(|e| panic!("{unit}: {e}"));
        assert_eq!(
            table.timestamps(Field::PickupDatetime).expect("ts"),
            &expected_pickup(unit)[..],
            "{unit}"
        );
        assert_eq!(
            table.timestamps(Field::DropoffDatetime).expect("ts")[0],
            Some(JAN_FIRST_PICKUP_US + 240_000_000),
            "{unit}: four minutes later"
        );
    }
}

#[test]
fn float_location_ids_load_as_integers_and_fractions_become_null() {
    let bytes = parquet_bytes(
        vec![
            (
                "PULocationID",
                Arc::new(Float64Array::from(vec![Some(130.0), Some(43.0), None, Some(7.0)])) as ArrayRef,
            ),
            (
                "DOLocationID",
                Arc::new(Float32Array::from(vec![Some(130.5), Some(f32::NAN), Some(265.0), Some(-0.0)])),
            ),
            ("trip_distance", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0]))),
        ],
        Compression::UNCOMPRESSED,
    );
    let table = load_trips(bytes, &[Field::PuLocationId, Field::DoLocationId]).expect("float IDs load");
    assert_eq!(Field::PuLocationId.kind(), FieldKind::Integer);
    assert_eq!(table.integers(Field::PuLocationId).expect("integers"), &[Some(130), Some(43), None, Some(7)]);
    assert_eq!(table.integers(Field::DoLocationId).expect("integers"), &[None, None, Some(265), Some(0)]);
}

#[test]
fn int32_location_ids_and_int64_passenger_count_load_like_the_2023_release() {
    let bytes = green_file_with("PULocationID", Some(Arc::new(Int32Array::from(vec![74; 8]))));
    let table = load_trips(bytes, &Field::ALL).expect("int32 IDs load");
    assert_eq!(table.integers(Field::PuLocationId).expect("integers")[7], Some(74));
    let bytes = green_file_with(
        "passenger_count",
        Some(Arc::new(Int64Array::from(vec![Some(2), None, Some(1), None, None, None, None, None]))
            as ArrayRef),
    );
    let table = load_trips(bytes, &Field::ALL).expect("int64 passenger_count loads");
    assert_eq!(&table.floats(Field::PassengerCount).expect("floats")[..3], &[Some(2.0), None, Some(1.0)]);
}

// ---------------------------------------------------------------------------------------
// 5. Robustness: corrupted and cut bytes give Ok or Err, never a panic
// ---------------------------------------------------------------------------------------

/// Runs both entry points on damaged bytes. `Err` names what misbehaved: a panic, a table
/// whose columns disagree in length, or a `Truncated` error with a made-up byte count.
fn outcome(bytes: &Bytes) -> Result<(), String> {
    let loaded = catch_unwind(AssertUnwindSafe(|| load_trips(bytes.clone(), &Field::ALL)))
        .map_err(|_| "load_trips panicked".to_string())?;
    let _info = catch_unwind(AssertUnwindSafe(|| read_file_info(bytes.clone())))
        .map_err(|_| "read_file_info panicked".to_string())?;
    match loaded {
        Ok(table) => check_consistent(&table),
        // Regression: errors met while decoding pages used to say "cut short (0 bytes)".
        Err(DataError::Truncated { bytes: reported }) if reported != bytes.len() => {
            Err(format!("Truncated reports {reported} bytes for a {}-byte input", bytes.len()))
        }
        Err(error) if error.to_string().trim().is_empty() => Err(format!("{error:?} has no message")),
        Err(_) => Ok(()),
    }
}

fn check_consistent(table: &TripTable) -> Result<(), String> {
    for (field, column) in &table.columns {
        if column.len() != table.n_rows {
            return Err(format!("{field:?} has {} values for {} rows", column.len(), table.n_rows));
        }
    }
    Ok(())
}

/// Offsets of the footer (thrift metadata + length + magic) of a valid file.
fn footer_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let n = bytes.len();
    let len_bytes: [u8; 4] = bytes[n - 8..n - 4].try_into().expect("four bytes");
    let metadata_len = u32::from_le_bytes(len_bytes) as usize;
    n - 8 - metadata_len..n
}

fn fuzz_one_file(label: &str, original: &Bytes, seed: u64) -> Vec<String> {
    assert!(load_trips(original.clone(), &Field::ALL).is_ok(), "{label}: the unmutated file loads");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n = original.len();
    let footer = footer_range(original);

    // 100 positions spread over the whole file (page headers, levels, values, dictionaries)
    // and 100 over the footer (schema, row counts, offsets), each flipped on its own.
    let mut positions: Vec<usize> = (0..100).map(|k| k * n / 100).collect();
    positions.extend((0..100).map(|k| footer.start + k * footer.len() / 100));
    positions.sort_unstable();
    positions.dedup();

    let mut problems = Vec::new();
    for &position in &positions {
        // Two flips per position: all bits, and a seeded mask with the high bit set,
        // which turns a thrift varint byte into "more bytes follow".
        for mask in [0xFF_u8, 0x80 | rng.gen::<u8>()] {
            let mut mutated = original.to_vec();
            mutated[position] ^= mask;
            if let Err(why) = outcome(&Bytes::from(mutated)) {
                problems.push(format!("{label}: byte {position} ^ {mask:#04x}: {why}"));
            }
        }
    }

    // 50 cut lengths, as is (a partial download) and with `PAR1` glued back on
    // (so that the decoder, not the envelope check, meets the damage).
    for k in 0..50 {
        let cut = k * n / 50;
        let truncated = original.slice(..cut);
        if let Err(why) = outcome(&truncated) {
            problems.push(format!("{label}: cut at {cut}: {why}"));
        }
        let mut glued = truncated.to_vec();
        glued.extend_from_slice(b"PAR1");
        if let Err(why) = outcome(&Bytes::from(glued)) {
            problems.push(format!("{label}: cut at {cut} + PAR1: {why}"));
        }
    }
    problems
}

#[test]
fn flipped_and_cut_bytes_never_panic() {
    let files = [
        ("uncompressed", Compression::UNCOMPRESSED, 7),
        ("gzip", Compression::GZIP(GzipLevel::default()), 11),
        ("zstd", Compression::ZSTD(ZstdLevel::default()), 13),
    ];
    let mut problems = Vec::new();
    for (label, codec, seed) in files {
        problems.extend(fuzz_one_file(label, &parquet_bytes(green_columns(64), codec), seed));
    }
    assert!(problems.is_empty(), "{} inputs misbehaved:\n{}", problems.len(), problems.join("\n"));
}

/// Re-writes the footer of a valid file after `edit` changed its row groups' metadata;
/// the pages stay byte for byte where they were. This forges the damaged footers below
/// without depending on where a writer happens to put a field.
fn with_edited_row_groups(bytes: &Bytes, edit: impl Fn(RowGroupMetaData) -> RowGroupMetaData) -> Bytes {
    let metadata = ParquetMetaDataReader::new().parse_and_finish(bytes).expect("footer parses");
    let row_groups = metadata.row_groups().iter().cloned().map(edit).collect();
    let edited = metadata.into_builder().set_row_groups(row_groups).build();
    let mut out = bytes[..footer_range(bytes).start].to_vec();
    ParquetMetaDataWriter::new(&mut out, &edited).finish().expect("footer is written");
    Bytes::from(out)
}

/// Applies `edit` to the metadata of the column chunk called `name`.
fn edit_column(
    name: &'static str,
    edit: impl Fn(ColumnChunkMetaDataBuilder) -> ColumnChunkMetaDataBuilder,
) -> impl Fn(RowGroupMetaData) -> RowGroupMetaData {
    move |row_group| {
        let columns = row_group
            .columns()
            .iter()
            .map(|column| {
                if column.column_path().string() == name {
                    edit(column.clone().into_builder()).build().expect("column metadata")
                } else {
                    column.clone()
                }
            })
            .collect();
        row_group.into_builder().set_column_metadata(columns).build().expect("row group metadata")
    }
}

#[test]
fn a_footer_claiming_a_trillion_rows_does_not_abort_the_process() {
    // Regression: the loader pre-allocated `num_rows` values per column, so this 7 kB
    // file asked for 16 TiB and the process aborted ("memory allocation failed"; in wasm
    // the tab's worker dies). No `catch_unwind` can catch that, so it must not happen.
    let bytes = with_edited_row_groups(&green_file(64), |rg| {
        rg.into_builder().set_num_rows(1 << 40).build().expect("row group metadata")
    });
    assert_eq!(read_file_info(bytes.clone()).expect("footer parses").n_rows, 1 << 40);
    let loaded = catch_unwind(AssertUnwindSafe(|| load_trips(bytes, &Field::ALL))).expect("no panic");
    match loaded {
        Ok(table) => assert_eq!(table.n_rows, 64, "only the rows really present are loaded"),
        Err(error) => {
            assert!(matches!(error, DataError::Truncated { .. } | DataError::Corrupt(_)), "{error:?}")
        }
    }
}

#[test]
fn a_footer_placing_a_column_at_a_negative_offset_is_corrupt_not_a_panic() {
    // Regression: parquet 60 asserts on this in `ColumnChunkMetaData::byte_range`
    // (apache/arrow-rs#6255), which is a panic natively and an abort in wasm.
    let bytes = with_edited_row_groups(
        &green_file(64),
        edit_column("PULocationID", |column| column.set_dictionary_page_offset(Some(-5))),
    );
    let loaded = catch_unwind(AssertUnwindSafe(|| load_trips(bytes, &Field::ALL))).expect("no panic");
    let error = loaded.expect_err("a negative offset cannot load");
    assert!(matches!(&error, DataError::Corrupt(message) if message.contains("PULocationID")), "{error:?}");
}

/// Where the first data page header of column `name` starts, according to the footer.
fn data_page_offset(bytes: &Bytes, name: &str) -> usize {
    let metadata = ParquetMetaDataReader::new().parse_and_finish(bytes).expect("footer parses");
    let column = metadata.row_groups()[0]
        .columns()
        .iter()
        .find(|c| c.column_path().string() == name)
        .expect("column is in the file");
    usize::try_from(column.data_page_offset()).expect("offset is positive")
}

#[test]
fn a_page_running_past_the_end_of_the_file_reports_the_real_length() {
    // Regression: errors met while decoding pages were reported as `Truncated { bytes: 0 }`,
    // so the learner read "the parquet file is cut short (0 bytes)".
    // A thrift PageHeader starts with type (0x15 varint), uncompressed size (0x15 varint),
    // compressed size (0x15 varint); flipping the low bit of the compressed size's zigzag
    // varint makes it negative, which the page reader meets as an end-of-file.
    let original = green_file(64);
    let mut bytes = original.to_vec();
    let header = data_page_offset(&original, "PULocationID");
    assert_eq!(bytes[header..header + 3], [0x15, 0x00, 0x15], "a DATA_PAGE header");
    let uncompressed_end =
        header + 3 + bytes[header + 3..].iter().position(|b| b & 0x80 == 0).expect("varint");
    assert_eq!(bytes[uncompressed_end + 1], 0x15, "compressed_page_size follows");
    bytes[uncompressed_end + 2] ^= 0x01;
    let bytes = Bytes::from(bytes);

    let error = load_err(bytes.clone(), &Field::ALL);
    assert_eq!(error, DataError::Truncated { bytes: bytes.len() });
    assert_readable(&error, &["cut short", &bytes.len().to_string()]);
}

// Known panics inside parquet 60.1 that the loader cannot rule out with a cheap check.
// Each needs a page header or page body altered in a way the footer cannot reveal, so
// only decoding the page finds it. In wasm (panic = abort) such a file kills the worker.
// These tests pin the reproductions: when a parquet upgrade fixes one, its test fails —
// then turn it into an assertion that `load_trips` returns `Err`.

fn panics(bytes: Bytes) -> bool {
    catch_unwind(AssertUnwindSafe(|| load_trips(bytes, &Field::ALL))).is_err()
}

/// Overwrites the first occurrence of `pattern` at or after the first data page of `column`.
fn patched(bytes: &Bytes, column: &str, pattern: &[u8], replacement: &[u8]) -> Bytes {
    let from = data_page_offset(bytes, column);
    let at = from
        + bytes[from..].windows(pattern.len()).position(|w| w == pattern).expect("pattern is in the page");
    let mut out = bytes.to_vec();
    out[at..at + replacement.len()].copy_from_slice(replacement);
    Bytes::from(out)
}

#[test]
fn parquet_60_still_panics_on_a_bit_packed_level_run_longer_than_its_page() {
    // Uncompressed data page of `PULocationID`: levels length 3, then the RLE run header
    // 0x80 0x01 (64 × "present") and its value 0x01. Flipping 0x80 to 0x7f turns it into a bit-packed
    // run of 504 levels backed by 2 bytes; `PackedDecoder::read` then asks
    // `BooleanBufferBuilder::append_packed_range` for bits past the buffer
    // ("offset + len out of bounds", arrow-buffer bit_chunk_iterator.rs). Same with SNAPPY or
    // ZSTD pages; GZIP's CRC turns the same flip into an error instead.
    let levels = [3, 0, 0, 0, 0x80, 0x01, 0x01];
    let bytes = patched(&green_file(64), "PULocationID", &levels, &[3, 0, 0, 0, 0x7f]);
    assert!(panics(bytes), "parquet no longer panics here: assert an Err instead");
}

#[test]
fn parquet_60_still_panics_when_a_footer_drops_the_dictionary_page_offset() {
    // The reader then starts the chunk at its first data page, never sees the dictionary,
    // and `ColumnValueDecoderImpl::set_data` hits `expect("Decoder for dict should have been
    // set")`. Refusing dictionary-encoded chunks without `dictionary_page_offset` would also
    // refuse valid files from writers that leave it unset, so the loader does not.
    let bytes = with_edited_row_groups(
        &green_file(64),
        edit_column("trip_distance", |column| column.set_dictionary_page_offset(None)),
    );
    assert!(panics(bytes), "parquet no longer panics here: assert an Err instead");
}

#[test]
fn parquet_60_still_panics_on_a_page_claiming_byte_stream_split() {
    // The data page header of `trip_distance`: its encoding field 0x15 0x10 (RLE_DICTIONARY) flipped to
    // 0x15 0x12 (BYTE_STREAM_SPLIT): its dictionary indices are decoded as split floats and
    // byte_stream_split_decoder.rs indexes past the page (apache/arrow-rs#11121).
    let pattern = [0x15, 0x10, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00];
    let bytes = patched(&green_file(64), "trip_distance", &pattern, &[0x15, 0x12]);
    assert!(panics(bytes), "parquet no longer panics here: assert an Err instead");
}
