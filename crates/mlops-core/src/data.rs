//! Parquet bytes → a typed, columnar trip table.
//!
//! The loader works on bytes, never on paths, because in the browser a file is an
//! `ArrayBuffer` from a picker, a drop or a `fetch`. It reads only the columns a step
//! asks for (parquet projection) and normalises the two TLC schema releases
//! (int64 vs int32 IDs, double vs int64 counts) and the green/yellow column prefixes
//! into one logical [`Field`] set, so the rest of the core never sees a physical type.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;
use serde::{Deserialize, Serialize};

/// The logical columns the course uses. Each maps to one or more physical names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Field {
    PickupDatetime,
    DropoffDatetime,
    PuLocationId,
    DoLocationId,
    TripDistance,
    PassengerCount,
    FareAmount,
    TotalAmount,
}

/// What a logical field holds once loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Timestamp,
    Integer,
    Float,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::PickupDatetime,
        Field::DropoffDatetime,
        Field::PuLocationId,
        Field::DoLocationId,
        Field::TripDistance,
        Field::PassengerCount,
        Field::FareAmount,
        Field::TotalAmount,
    ];

    /// Physical column names accepted for this field: green (`lpep_`) first, then yellow (`tpep_`).
    pub fn candidates(self) -> &'static [&'static str] {
        match self {
            Field::PickupDatetime => &["lpep_pickup_datetime", "tpep_pickup_datetime"],
            Field::DropoffDatetime => &["lpep_dropoff_datetime", "tpep_dropoff_datetime"],
            Field::PuLocationId => &["PULocationID"],
            Field::DoLocationId => &["DOLocationID"],
            Field::TripDistance => &["trip_distance"],
            Field::PassengerCount => &["passenger_count"],
            Field::FareAmount => &["fare_amount"],
            Field::TotalAmount => &["total_amount"],
        }
    }

    /// The name shown to learners (the green name; yellow files map onto it).
    pub fn display_name(self) -> &'static str {
        self.candidates()[0]
    }

    pub fn kind(self) -> FieldKind {
        match self {
            Field::PickupDatetime | Field::DropoffDatetime => FieldKind::Timestamp,
            Field::PuLocationId | Field::DoLocationId => FieldKind::Integer,
            _ => FieldKind::Float,
        }
    }

    /// Fields that may be entirely null without making a file unusable.
    pub fn may_be_all_null(self) -> bool {
        matches!(self, Field::PassengerCount)
    }
}

/// Everything that can be wrong with a file a learner brings.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DataError {
    #[error("the file is empty (0 bytes); pick a parquet file with trip records")]
    EmptyFile,
    #[error("this is not a parquet file (it does not start with the `PAR1` marker); TLC trip files end in .parquet — a CSV renamed to .parquet will not load")]
    NotParquet,
    #[error("the parquet file is cut short ({bytes} bytes): it starts like parquet but its footer is missing — download it again")]
    Truncated { bytes: usize },
    #[error("the parquet file could not be decoded: {0}")]
    Corrupt(String),
    #[error("the file has no rows")]
    NoRows,
    #[error("column `{wanted}` is missing; found: {}", found.join(", "))]
    MissingColumn { wanted: String, found: Vec<String> },
    #[error("column `{column}` has type {found}, but {expected} was expected")]
    WrongType { column: String, found: String, expected: String },
    #[error("column `{column}` has only null values, so it cannot be used")]
    AllNull { column: String },
}

/// One physical column of a file, as listed in the schema view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub compression: String,
}

/// File-level facts read from the footer only (cheap: no page is decoded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub n_rows: usize,
    pub n_row_groups: usize,
    pub columns: Vec<ColumnInfo>,
    pub created_by: Option<String>,
}

/// Loaded values of one logical field. Nulls are kept as `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnData {
    /// Microseconds since the Unix epoch, whatever the file's unit was.
    Timestamp(Vec<Option<i64>>),
    Integer(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
}

impl ColumnData {
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Timestamp(v) | ColumnData::Integer(v) => v.len(),
            ColumnData::Float(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn null_count(&self) -> usize {
        match self {
            ColumnData::Timestamp(v) | ColumnData::Integer(v) => v.iter().filter(|x| x.is_none()).count(),
            ColumnData::Float(v) => v.iter().filter(|x| x.is_none()).count(),
        }
    }

    /// The value of row `i` as a float (timestamps in microseconds), for summaries.
    pub fn value_f64(&self, i: usize) -> Option<f64> {
        match self {
            ColumnData::Timestamp(v) | ColumnData::Integer(v) => v[i].map(|x| x as f64),
            ColumnData::Float(v) => v[i],
        }
    }
}

/// The requested fields of a trip file, all of equal length.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TripTable {
    pub n_rows: usize,
    pub columns: BTreeMap<Field, ColumnData>,
    /// The physical name each field was read from (e.g. `tpep_pickup_datetime`).
    pub source_names: BTreeMap<Field, String>,
}

impl TripTable {
    pub fn column(&self, field: Field) -> Option<&ColumnData> {
        self.columns.get(&field)
    }

    pub fn timestamps(&self, field: Field) -> Option<&[Option<i64>]> {
        match self.columns.get(&field)? {
            ColumnData::Timestamp(v) => Some(v),
            _ => None,
        }
    }

    pub fn integers(&self, field: Field) -> Option<&[Option<i64>]> {
        match self.columns.get(&field)? {
            ColumnData::Integer(v) => Some(v),
            _ => None,
        }
    }

    pub fn floats(&self, field: Field) -> Option<&[Option<f64>]> {
        match self.columns.get(&field)? {
            ColumnData::Float(v) => Some(v),
            _ => None,
        }
    }

    /// Appends another table with the same fields (several months picked at once).
    pub fn append(&mut self, other: TripTable) {
        if self.columns.is_empty() {
            *self = other;
            return;
        }
        for (field, data) in other.columns {
            match (self.columns.get_mut(&field), data) {
                (Some(ColumnData::Timestamp(a)), ColumnData::Timestamp(b))
                | (Some(ColumnData::Integer(a)), ColumnData::Integer(b)) => a.extend(b),
                (Some(ColumnData::Float(a)), ColumnData::Float(b)) => a.extend(b),
                _ => {}
            }
        }
        self.n_rows += other.n_rows;
    }
}

/// Checks the cheap things a learner can get wrong before handing bytes to the decoder,
/// so that the message names the real problem rather than a decoder internals error.
fn check_envelope(bytes: &Bytes) -> Result<(), DataError> {
    if bytes.is_empty() {
        return Err(DataError::EmptyFile);
    }
    if bytes.len() < 4 || &bytes[..4] != b"PAR1" {
        return Err(DataError::NotParquet);
    }
    if bytes.len() < 12 || &bytes[bytes.len() - 4..] != b"PAR1" {
        return Err(DataError::Truncated { bytes: bytes.len() });
    }
    Ok(())
}

pub(crate) fn open(bytes: Bytes) -> Result<ParquetRecordBatchReaderBuilder<Bytes>, DataError> {
    check_envelope(&bytes)?;
    let len = bytes.len();
    ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| decode_error(&e, len))
}

/// Reads the schema and row count from the footer.
pub fn read_file_info(bytes: Bytes) -> Result<FileInfo, DataError> {
    let builder = open(bytes)?;
    let metadata = builder.metadata().clone();
    let schema = builder.schema().clone();
    let compression_of = |i: usize| {
        metadata
            .row_groups()
            .first()
            .and_then(|rg| (i < rg.num_columns()).then(|| format!("{:?}", rg.column(i).compression())))
            .unwrap_or_else(|| "-".to_string())
    };
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| ColumnInfo {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            compression: compression_of(i),
        })
        .collect();
    Ok(FileInfo {
        n_rows: usize::try_from(metadata.file_metadata().num_rows()).unwrap_or(0),
        n_row_groups: metadata.num_row_groups(),
        columns,
        created_by: metadata.file_metadata().created_by().map(str::to_string),
    })
}

/// Decodes the requested fields of a trip file. Only those columns are decompressed.
pub fn load_trips(bytes: Bytes, fields: &[Field]) -> Result<TripTable, DataError> {
    let len = bytes.len();
    let builder = open(bytes)?;
    check_column_ranges(builder.metadata())?;
    let schema = builder.schema().clone();
    let found: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();

    let mut picked: Vec<(Field, usize, String)> = Vec::with_capacity(fields.len());
    for &field in fields {
        let hit = field
            .candidates()
            .iter()
            .find_map(|name| found.iter().position(|f| f == name).map(|i| (i, name.to_string())));
        let Some((index, name)) = hit else {
            return Err(DataError::MissingColumn {
                wanted: field.display_name().to_string(),
                found: found.clone(),
            });
        };
        check_type(field, &name, schema.field(index).data_type())?;
        picked.push((field, index, name));
    }

    let total_rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    if total_rows == 0 {
        return Err(DataError::NoRows);
    }

    let mut indices: Vec<usize> = picked.iter().map(|(_, i, _)| *i).collect();
    indices.sort_unstable();
    indices.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| DataError::Corrupt(e.to_string()))?;

    let capacity = total_rows.min(MAX_PREALLOCATED_ROWS);
    let mut table = TripTable {
        n_rows: 0,
        columns: picked.iter().map(|(field, _, _)| (*field, empty_column(*field, capacity))).collect(),
        source_names: picked.iter().map(|(f, _, n)| (*f, n.clone())).collect(),
    };

    for batch in reader {
        let batch = batch.map_err(|e| decode_error(&e, len))?;
        for (field, _, name) in &picked {
            let array = batch
                .column_by_name(name)
                .ok_or_else(|| DataError::Corrupt(format!("column `{name}` vanished from a batch")))?;
            let Some(column) = table.columns.get_mut(field) else { continue };
            append_array(column, *field, name, array)?;
        }
        table.n_rows += batch.num_rows();
    }

    if table.n_rows == 0 {
        return Err(DataError::NoRows);
    }
    for (field, _, name) in &picked {
        if field.may_be_all_null() {
            continue;
        }
        if let Some(column) = table.columns.get(field) {
            if column.null_count() == column.len() {
                return Err(DataError::AllNull { column: name.clone() });
            }
        }
    }
    Ok(table)
}

/// parquet 60 asserts (panics, which aborts in wasm) when a column chunk's offset or size
/// in the footer is negative (apache/arrow-rs#6255), so a damaged footer is refused here.
pub(crate) fn check_column_ranges(metadata: &ParquetMetaData) -> Result<(), DataError> {
    for column in metadata.row_groups().iter().flat_map(|rg| rg.columns()) {
        let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
        if start < 0 || column.compressed_size() < 0 {
            return Err(DataError::Corrupt(format!(
                "the footer places column `{}` at a negative position ({start}, {} bytes)",
                column.column_path().string(),
                column.compressed_size()
            )));
        }
    }
    Ok(())
}

/// The footer's row count is only a hint for pre-allocation: a damaged footer can claim
/// billions of rows in a 5 kB file, and allocating for them aborts the process (natively
/// and in wasm alike, where no panic can be caught). Real months stay well below this; the
/// vectors grow as usual past it.
const MAX_PREALLOCATED_ROWS: usize = 1 << 20;

fn empty_column(field: Field, capacity: usize) -> ColumnData {
    match field.kind() {
        FieldKind::Timestamp => ColumnData::Timestamp(Vec::with_capacity(capacity)),
        FieldKind::Integer => ColumnData::Integer(Vec::with_capacity(capacity)),
        FieldKind::Float => ColumnData::Float(Vec::with_capacity(capacity)),
    }
}

pub(crate) fn is_numeric(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
    )
}

/// Accepts every physical type a TLC release has used for the field; a `null`-typed
/// column (as `ehail_fee` is in older files) is accepted and read as all-null.
fn check_type(field: Field, name: &str, data_type: &DataType) -> Result<(), DataError> {
    let ok = match field.kind() {
        FieldKind::Timestamp => matches!(data_type, DataType::Timestamp(_, _) | DataType::Null),
        FieldKind::Integer | FieldKind::Float => is_numeric(data_type) || *data_type == DataType::Null,
    };
    if ok {
        Ok(())
    } else {
        Err(DataError::WrongType {
            column: name.to_string(),
            found: data_type.to_string(),
            expected: match field.kind() {
                FieldKind::Timestamp => "a timestamp".to_string(),
                FieldKind::Integer => "an integer".to_string(),
                FieldKind::Float => "a number".to_string(),
            },
        })
    }
}

/// A footer or record batch that failed to decode: a file cut short reads as truncated.
pub(crate) fn decode_error(error: &impl std::fmt::Display, len: usize) -> DataError {
    let text = error.to_string();
    if text.contains("EOF") || text.contains("out of range") {
        DataError::Truncated { bytes: len }
    } else {
        DataError::Corrupt(text)
    }
}

/// Reads any numeric arrow array as optional f64 values.
pub(crate) fn numeric_values(array: &ArrayRef) -> Option<Vec<Option<f64>>> {
    macro_rules! read {
        ($t:ty) => {
            array.as_primitive::<$t>().iter().map(|v| v.map(|x| x as f64)).collect()
        };
    }
    Some(match array.data_type() {
        DataType::Int8 => read!(Int8Type),
        DataType::Int16 => read!(Int16Type),
        DataType::Int32 => read!(Int32Type),
        DataType::Int64 => read!(Int64Type),
        DataType::UInt8 => read!(UInt8Type),
        DataType::UInt16 => read!(UInt16Type),
        DataType::UInt32 => read!(UInt32Type),
        DataType::UInt64 => read!(UInt64Type),
        DataType::Float32 => read!(Float32Type),
        DataType::Float64 => array.as_primitive::<Float64Type>().iter().collect(),
        DataType::Null => vec![None; array.len()],
        _ => return None,
    })
}

fn timestamp_micros(array: &ArrayRef) -> Option<Vec<Option<i64>>> {
    Some(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => array
            .as_primitive::<TimestampSecondType>()
            .iter()
            .map(|v| v.and_then(|x| x.checked_mul(1_000_000)))
            .collect(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => array
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|v| v.and_then(|x| x.checked_mul(1_000)))
            .collect(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive::<TimestampMicrosecondType>().iter().collect()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            array.as_primitive::<TimestampNanosecondType>().iter().map(|v| v.map(|x| x / 1_000)).collect()
        }
        DataType::Null => vec![None; array.len()],
        _ => return None,
    })
}

fn append_array(
    column: &mut ColumnData,
    field: Field,
    name: &str,
    array: &ArrayRef,
) -> Result<(), DataError> {
    let wrong = || DataError::WrongType {
        column: name.to_string(),
        found: array.data_type().to_string(),
        expected: format!("{:?}", field.kind()).to_lowercase(),
    };
    match column {
        ColumnData::Timestamp(out) => out.extend(timestamp_micros(array).ok_or_else(wrong)?),
        ColumnData::Float(out) => out.extend(numeric_values(array).ok_or_else(wrong)?),
        ColumnData::Integer(out) => {
            // IDs stored as doubles must still be whole numbers; anything else is a broken file.
            for value in numeric_values(array).ok_or_else(wrong)? {
                out.push(match value {
                    Some(x) if x.is_finite() && x.fract() == 0.0 => Some(x as i64),
                    Some(_) => None,
                    None => None,
                });
            }
        }
    }
    Ok(())
}
