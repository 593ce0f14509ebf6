//! Any parquet file as a drift [`Frame`]: every column, typed the way Evidently infers
//! types from a pandas DataFrame (numbers → numerical, text and booleans → categorical).
//! Timestamps are not compared, and neither are columns with no value at all (Evidently
//! refuses an empty column; a report that lists it as skipped says more).

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;

use super::column::{Column, Frame, Values};
use super::report::ColumnSpec;
use crate::data::{check_column_ranges, decode_error, is_numeric, numeric_values, open, DataError};

/// Columns the course declares categorical although they hold numbers.
const CATEGORICAL_NUMBERS: [&str; 2] = ["PULocationID", "DOLocationID"];

enum Kind {
    Numbers,
    Text,
    Skip,
}

fn kind_of(data_type: &DataType) -> Kind {
    match data_type {
        t if is_numeric(t) => Kind::Numbers,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => Kind::Text,
        DataType::Dictionary(_, value) if matches!(kind_of(value), Kind::Text) => Kind::Text,
        _ => Kind::Skip,
    }
}

fn text_values(array: &ArrayRef) -> Option<Vec<Option<String>>> {
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(|v| v.map(str::to_string)).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(|v| v.map(str::to_string)).collect(),
        DataType::Boolean => array.as_boolean().iter().map(|v| v.map(|b| b.to_string())).collect(),
        DataType::Dictionary(_, _) => {
            let plain = arrow_cast_to_utf8(array)?;
            return text_values(&plain);
        }
        _ => return None,
    })
}

/// Dictionary-encoded text, expanded (parquet writers use it for repeated strings).
fn arrow_cast_to_utf8(array: &ArrayRef) -> Option<ArrayRef> {
    use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt8Type};
    macro_rules! expand {
        ($t:ty) => {{
            let dict = array.as_dictionary::<$t>();
            let values = dict.values();
            let texts = text_values(values)?;
            let out: arrow_array::StringArray = dict
                .keys()
                .iter()
                .map(|k| {
                    k.and_then(|k| usize::try_from(k).ok()).and_then(|k| texts.get(k).cloned().flatten())
                })
                .collect();
            Some(std::sync::Arc::new(out) as ArrayRef)
        }};
    }
    match array.data_type() {
        DataType::Dictionary(key, _) => match key.as_ref() {
            DataType::Int8 => expand!(Int8Type),
            DataType::Int16 => expand!(Int16Type),
            DataType::Int32 => expand!(Int32Type),
            DataType::Int64 => expand!(Int64Type),
            DataType::UInt8 => expand!(UInt8Type),
            DataType::UInt16 => expand!(UInt16Type),
            DataType::UInt32 => expand!(UInt32Type),
            _ => None,
        },
        _ => None,
    }
}

/// Decodes every comparable column, and says how each is compared.
pub fn frame_from_parquet(bytes: Bytes) -> Result<(Frame, Vec<ColumnSpec>), DataError> {
    let len = bytes.len();
    let builder = open(bytes)?;
    check_column_ranges(builder.metadata())?;
    if builder.metadata().file_metadata().num_rows() == 0 {
        return Err(DataError::NoRows);
    }
    let schema = builder.schema().clone();
    let picked: Vec<(usize, String, Kind)> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| (i, f.name().clone(), kind_of(f.data_type())))
        .filter(|(_, _, kind)| !matches!(kind, Kind::Skip))
        .collect();
    let mut columns: Vec<Column> = picked
        .iter()
        .map(|(_, name, kind)| match kind {
            Kind::Numbers => Column::numbers(name, Vec::new()),
            _ => Column::text(name, Vec::new()),
        })
        .collect();
    // Only the comparable columns are decompressed.
    let mask = ProjectionMask::roots(builder.parquet_schema(), picked.iter().map(|(i, _, _)| *i));
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(|e| DataError::Corrupt(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| decode_error(&e, len))?;
        // The projected batch holds the picked columns in schema order.
        for (position, ((_, name, _), column)) in picked.iter().zip(columns.iter_mut()).enumerate() {
            let array = batch.column(position);
            let expected = column.values.kind();
            let wrong = || DataError::WrongType {
                column: name.clone(),
                found: array.data_type().to_string(),
                expected: expected.to_string(),
            };
            match &mut column.values {
                Values::Numbers(out) => out.extend(numeric_values(array).ok_or_else(wrong)?),
                Values::Text(out) => out.extend(text_values(array).ok_or_else(wrong)?),
            }
        }
    }
    // A column with no value at all cannot be compared; leave it out.
    columns.retain(|c| c.values.missing_count() < c.values.len());
    let specs = columns
        .iter()
        .map(|c| match c.values {
            Values::Numbers(_) if !CATEGORICAL_NUMBERS.contains(&c.name.as_str()) => {
                ColumnSpec::numerical(&c.name)
            }
            _ => ColumnSpec::categorical(&c.name),
        })
        .collect();
    let frame = Frame::new(columns).map_err(|e| DataError::Corrupt(e.to_string()))?;
    Ok((frame, specs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::ColumnType;
    use crate::simulate::{simulate_month_parquet, CityParams};

    #[test]
    fn a_simulated_month_loads_every_comparable_column() {
        let bytes =
            simulate_month_parquet(&CityParams { trips: 500, ..CityParams::default() }).expect("simulated");
        let (frame, specs) = frame_from_parquet(Bytes::from(bytes)).expect("loads");
        assert_eq!(frame.n_rows(), 500);
        assert!(frame.column("lpep_pickup_datetime").is_none(), "timestamps are not compared");
        let pu = specs.iter().find(|s| s.name == "PULocationID").expect("PULocationID");
        assert_eq!(pu.column_type, ColumnType::Categorical);
        let distance = specs.iter().find(|s| s.name == "trip_distance").expect("trip_distance");
        assert_eq!(distance.column_type, ColumnType::Numerical);
    }

    #[test]
    fn broken_files_are_errors() {
        assert_eq!(frame_from_parquet(Bytes::new()), Err(DataError::EmptyFile));
        assert_eq!(frame_from_parquet(Bytes::from_static(b"a,b\n1,2\n")), Err(DataError::NotParquet));
    }
}
