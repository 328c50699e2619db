//! Derived columns: the query columns and the raw record must say what the
//! sealed event says, so SQL and exports cannot be fed altered copies.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use auditfed_schemas::archive::{Cell, QueryColumns};
use sha2::{Digest, Sha256};

/// The first derived column (query columns, raw record) that differs from
/// what the sealed `event_json` says: `(column, expected, found)`.
pub(super) fn derived_mismatch(
    batch: &RecordBatch,
    i: usize,
    expected: QueryColumns<'_>,
    sealed_raw_hash: Option<&str>,
) -> Option<(String, String, String)> {
    for (name, cell) in expected.cells() {
        let column = batch.column_by_name(name)?;
        // Compared in place; formatted only when they differ.
        if !cell_matches(column, i, &cell) {
            let found = describe_stored(column, i, &cell);
            let wanted = describe_expected(&cell);
            let show = |v: Option<String>| v.unwrap_or_else(|| "null".to_owned());
            return Some((name.to_owned(), show(wanted), show(found)));
        }
    }
    // The raw record: its SHA-256 is sealed in the event as raw_data_hash.
    let raw = batch.column_by_name("raw_record")?.as_binary_opt::<i32>()?;
    let sealed_hash = sealed_raw_hash.map(str::to_owned);
    let stored_hash = (!raw.is_null(i)).then(|| hex(&Sha256::digest(raw.value(i))));
    match (sealed_hash, stored_hash) {
        (Some(sealed), Some(stored)) if sealed != stored => {
            Some(("raw_record".into(), sealed, stored))
        }
        (None, Some(stored)) => Some((
            "raw_record".into(),
            "null (the event has no raw_data_hash)".into(),
            stored,
        )),
        _ => None,
    }
}

fn cell_matches(column: &dyn Array, i: usize, cell: &Cell<'_>) -> bool {
    let null = column.is_null(i);
    match cell {
        Cell::Time(t) => {
            !null
                && column
                    .as_primitive_opt::<TimestampMillisecondType>()
                    .is_some_and(|a| a.value(i) == *t)
        }
        Cell::Int64(t) => {
            !null
                && column
                    .as_primitive_opt::<Int64Type>()
                    .is_some_and(|a| a.value(i) == *t)
        }
        Cell::Int32(None) | Cell::Utf8(None) => null,
        Cell::Int32(Some(v)) => {
            !null
                && column
                    .as_primitive_opt::<Int32Type>()
                    .is_some_and(|a| a.value(i) == *v)
        }
        Cell::Utf8(Some(v)) => {
            !null
                && column
                    .as_string_opt::<i32>()
                    .is_some_and(|a| a.value(i) == *v)
        }
        Cell::Utf8List([]) => null,
        Cell::Utf8List(v) => {
            !null
                && column.as_list_opt::<i32>().is_some_and(|a| {
                    let values = a.value(i);
                    let values = values.as_string::<i32>();
                    values.len() == v.len() && (0..values.len()).all(|j| values.value(j) == v[j])
                })
        }
    }
}

fn describe_stored(column: &dyn Array, i: usize, cell: &Cell<'_>) -> Option<String> {
    if column.is_null(i) {
        return None;
    }
    match cell {
        Cell::Time(_) => column
            .as_primitive_opt::<TimestampMillisecondType>()
            .map(|a| a.value(i).to_string()),
        Cell::Int32(_) => column
            .as_primitive_opt::<Int32Type>()
            .map(|a| a.value(i).to_string()),
        Cell::Int64(_) => column
            .as_primitive_opt::<Int64Type>()
            .map(|a| a.value(i).to_string()),
        Cell::Utf8(_) => column.as_string_opt::<i32>().map(|a| a.value(i).to_owned()),
        Cell::Utf8List(_) => column.as_list_opt::<i32>().map(|a| {
            let values = a.value(i);
            let values = values.as_string::<i32>();
            (0..values.len())
                .map(|j| values.value(j))
                .collect::<Vec<_>>()
                .join(", ")
        }),
    }
    .or(Some("a value of another type".to_owned()))
}

fn describe_expected(cell: &Cell<'_>) -> Option<String> {
    match cell {
        Cell::Time(t) | Cell::Int64(t) => Some(t.to_string()),
        Cell::Int32(v) => v.map(|v| v.to_string()),
        Cell::Utf8(v) => v.map(str::to_owned),
        Cell::Utf8List(v) => (!v.is_empty()).then(|| v.join(", ")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
