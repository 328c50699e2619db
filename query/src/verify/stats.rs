//! Parquet row-group statistics against the data: a reader that prunes on
//! min/max (DataFusion, DuckDB, Athena) must never be able to skip rows that
//! are there. Statistics may be wider than the data (harmless), never narrower.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;

use super::Finding;

/// `(min, max)` of the values, `None` when there are none.
fn min_max<T: Ord + Copy>(values: impl Iterator<Item = T>) -> Option<(T, T)> {
    values.fold(None, |acc, v| {
        Some(acc.map_or((v, v), |(lo, hi): (T, T)| (lo.min(v), hi.max(v))))
    })
}

/// A comparable column value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Val {
    Signed(i64),
    Unsigned(u64),
    Bytes(Vec<u8>),
}

/// Which row group of which file, for findings.
pub(super) struct Place<'a> {
    /// Column names, in file order.
    pub(super) names: &'a [String],
    /// The row group.
    pub(super) row_group: usize,
    /// The file.
    pub(super) file: &'a str,
    /// The chain.
    pub(super) chain: &'a str,
}

/// Running min/max of the checked columns of one row group, for the whole
/// group (its statistics) and per page (its column index).
#[derive(Default)]
pub(super) struct RowGroupRange {
    columns: Vec<Option<(Val, Val)>>,
    /// Per column: the first row of each page (from the offset index).
    page_starts: Vec<Vec<i64>>,
    /// Per column, per page: the range of the values in the page.
    pages: Vec<Vec<Option<(Val, Val)>>>,
    rows_seen: usize,
}

fn widen(slot: &mut Option<(Val, Val)>, lo: Val, hi: Val) {
    *slot = Some(match slot.take() {
        None => (lo, hi),
        Some((a, b)) => (a.min(lo), b.max(hi)),
    });
}

fn widen_bytes(slot: &mut Option<(Val, Val)>, v: &[u8]) {
    match slot {
        None => *slot = Some((Val::Bytes(v.to_vec()), Val::Bytes(v.to_vec()))),
        Some((Val::Bytes(lo), Val::Bytes(hi))) => {
            if v < lo.as_slice() {
                *lo = v.to_vec();
            }
            if v > hi.as_slice() {
                *hi = v.to_vec();
            }
        }
        Some(_) => {}
    }
}

/// The page holding row `row` of the row group, searching forward from `page`.
fn page_of(starts: &[i64], mut page: usize, row: i64) -> usize {
    while page + 1 < starts.len() && starts[page + 1] <= row {
        page += 1;
    }
    page
}

/// Widens each page's range with the (typed) values of one batch.
fn fold_pages<T: Ord + Copy>(
    starts: &[i64],
    first_row: usize,
    pages: &mut [Option<(Val, Val)>],
    values: impl Iterator<Item = Option<T>>,
    to_val: impl Fn(T) -> Val,
) {
    let mut page = 0;
    let mut current: Option<(T, T)> = None;
    let mut flush = |page: usize, current: &mut Option<(T, T)>| {
        if let Some((lo, hi)) = current.take() {
            widen(&mut pages[page], to_val(lo), to_val(hi));
        }
    };
    for (row, v) in values.enumerate() {
        let p = page_of(starts, page, (first_row + row) as i64);
        if p != page {
            flush(page, &mut current);
            page = p;
        }
        if let Some(v) = v {
            current = Some(current.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        }
    }
    flush(page, &mut current);
}

impl RowGroupRange {
    /// A range tracker for a row group whose pages start at `page_starts`
    /// (per column; empty when the file has no offset index).
    pub(super) fn new(page_starts: Vec<Vec<i64>>) -> RowGroupRange {
        let pages = page_starts
            .iter()
            .map(|starts| vec![None; starts.len()])
            .collect();
        RowGroupRange {
            page_starts,
            pages,
            ..RowGroupRange::default()
        }
    }

    /// Folds the next decoded batch of the row group in.
    pub(super) fn add(&mut self, batch: &RecordBatch) {
        if self.columns.len() < batch.num_columns() {
            self.columns.resize(batch.num_columns(), None);
        }
        for (i, column) in batch.columns().iter().enumerate() {
            let signed = |r: Option<(i64, i64)>| r.map(|(a, b)| (Val::Signed(a), Val::Signed(b)));
            let range: Option<(Val, Val)> = match column.data_type() {
                DataType::Int32 => signed(min_max(
                    column
                        .as_primitive::<Int32Type>()
                        .iter()
                        .flatten()
                        .map(i64::from),
                )),
                DataType::Int64 => {
                    signed(min_max(column.as_primitive::<Int64Type>().iter().flatten()))
                }
                DataType::Timestamp(_, _) => signed(min_max(
                    column
                        .as_primitive::<TimestampMillisecondType>()
                        .iter()
                        .flatten(),
                )),
                DataType::UInt64 => min_max(column.as_primitive::<UInt64Type>().iter().flatten())
                    .map(|(a, b)| (Val::Unsigned(a), Val::Unsigned(b))),
                // Borrowed bytes are compared; only the two extremes are copied.
                DataType::Utf8 => min_max(
                    column
                        .as_string::<i32>()
                        .iter()
                        .flatten()
                        .map(str::as_bytes),
                )
                .map(|(a, b)| (Val::Bytes(a.to_vec()), Val::Bytes(b.to_vec()))),
                _ => None,
            };
            let Some((lo, hi)) = range else { continue };
            widen(&mut self.columns[i], lo, hi);
            // Per page, when the file has a column index for this column.
            let Some(starts) = self.page_starts.get(i).filter(|s| !s.is_empty()) else {
                continue;
            };
            let pages = &mut self.pages[i];
            let first = self.rows_seen;
            match column.data_type() {
                DataType::Int32 => fold_pages(
                    starts,
                    first,
                    pages,
                    column.as_primitive::<Int32Type>().iter(),
                    |v| Val::Signed(i64::from(v)),
                ),
                DataType::Int64 => fold_pages(
                    starts,
                    first,
                    pages,
                    column.as_primitive::<Int64Type>().iter(),
                    Val::Signed,
                ),
                DataType::Timestamp(_, _) => fold_pages(
                    starts,
                    first,
                    pages,
                    column.as_primitive::<TimestampMillisecondType>().iter(),
                    Val::Signed,
                ),
                DataType::UInt64 => fold_pages(
                    starts,
                    first,
                    pages,
                    column.as_primitive::<UInt64Type>().iter(),
                    Val::Unsigned,
                ),
                DataType::Utf8 => {
                    // Strings are compared borrowed; copied only when they widen a page's range.
                    let mut page = 0;
                    for (row, v) in column.as_string::<i32>().iter().enumerate() {
                        page = page_of(starts, page, (first + row) as i64);
                        if let Some(v) = v {
                            widen_bytes(&mut pages[page], v.as_bytes());
                        }
                    }
                }
                _ => {}
            }
        }
        self.rows_seen += batch.num_rows();
    }

    /// Findings for every column whose statistics, or page index entries, do
    /// not cover its data.
    pub(super) fn check(
        &self,
        meta: &RowGroupMetaData,
        column_index: Option<&[ColumnIndexMetaData]>,
        place: &Place<'_>,
        findings: &mut Vec<Finding>,
    ) {
        let Place {
            names,
            row_group: rg,
            file: at,
            chain,
        } = *place;
        let name = |i: usize| names.get(i).map_or("?", String::as_str);
        let mut report = |what: String,
                          lo: &Val,
                          hi: &Val,
                          min: &Option<Val>,
                          max: &Option<Val>| {
            let show = |v: &Option<Val>| v.as_ref().map_or("none".to_owned(), |v| format!("{v:?}"));
            findings.push(
                Finding::new("statistics_mismatch", format!("{what}: its statistics exclude values it holds, so readers that prune on them skip rows"))
                    .chain(chain)
                    .at(at)
                    .expected_found(format!("min <= {lo:?}, max >= {hi:?}"), format!("min {}, max {}", show(min), show(max))),
            );
        };
        for (i, range) in self.columns.iter().enumerate() {
            let (Some((lo, hi)), Some(column)) = (range, meta.columns().get(i)) else {
                continue;
            };
            let Some(stats) = column.statistics() else {
                continue;
            };
            let unsigned = matches!(lo, Val::Unsigned(_));
            let (min, max) = match stats {
                Statistics::Int32(s) => (
                    s.min_opt().map(|v| Val::Signed(i64::from(*v))),
                    s.max_opt().map(|v| Val::Signed(i64::from(*v))),
                ),
                Statistics::Int64(s) => (
                    s.min_opt().map(|v| int64(*v, unsigned)),
                    s.max_opt().map(|v| int64(*v, unsigned)),
                ),
                Statistics::ByteArray(s) => (
                    s.min_opt().map(|v| Val::Bytes(v.data().to_vec())),
                    s.max_opt().map(|v| Val::Bytes(v.data().to_vec())),
                ),
                _ => continue,
            };
            if narrower(&min, &max, lo, hi) {
                report(
                    format!("row group {rg}, column `{}`", name(i)),
                    lo,
                    hi,
                    &min,
                    &max,
                );
            }
        }
        for (i, pages) in self.pages.iter().enumerate() {
            let Some(index) = column_index.and_then(|c| c.get(i)) else {
                continue;
            };
            for (p, range) in pages.iter().enumerate() {
                let Some((lo, hi)) = range else { continue };
                let unsigned = matches!(lo, Val::Unsigned(_));
                let (min, max) = match index {
                    ColumnIndexMetaData::INT32(x) => (
                        x.min_value(p).map(|v| Val::Signed(i64::from(*v))),
                        x.max_value(p).map(|v| Val::Signed(i64::from(*v))),
                    ),
                    ColumnIndexMetaData::INT64(x) => (
                        x.min_value(p).map(|v| int64(*v, unsigned)),
                        x.max_value(p).map(|v| int64(*v, unsigned)),
                    ),
                    ColumnIndexMetaData::BYTE_ARRAY(x) => (
                        x.min_value(p).map(|v| Val::Bytes(v.to_vec())),
                        x.max_value(p).map(|v| Val::Bytes(v.to_vec())),
                    ),
                    _ => continue,
                };
                if narrower(&min, &max, lo, hi) {
                    report(
                        format!("row group {rg}, column `{}`, page {p}", name(i)),
                        lo,
                        hi,
                        &min,
                        &max,
                    );
                }
            }
        }
    }
}

/// An INT64 statistic as the column's value type (UInt64 columns store their bits).
fn int64(v: i64, unsigned: bool) -> Val {
    if unsigned {
        Val::Unsigned(v as u64)
    } else {
        Val::Signed(v)
    }
}

/// Statistics narrower than the data would let a reader skip rows.
fn narrower(min: &Option<Val>, max: &Option<Val>, lo: &Val, hi: &Val) -> bool {
    min.as_ref().is_some_and(|m| m > lo) || max.as_ref().is_some_and(|m| m < hi)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowSchemaConverter;
    use parquet::data_type::ByteArray;
    use parquet::file::metadata::{ColumnChunkMetaData, RowGroupMetaData};

    use super::*;

    fn check(time_stats: Statistics, name_stats: Statistics) -> Vec<Finding> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("time", DataType::Int64, false),
            Field::new("actor_user_name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![10, 30, 20])),
                Arc::new(StringArray::from(vec![Some("bob"), None, Some("alice")])),
            ],
        )
        .unwrap();
        let descr = Arc::new(ArrowSchemaConverter::new().convert(&schema).unwrap());
        let columns = vec![
            ColumnChunkMetaData::builder(descr.column(0))
                .set_statistics(time_stats)
                .build()
                .unwrap(),
            ColumnChunkMetaData::builder(descr.column(1))
                .set_statistics(name_stats)
                .build()
                .unwrap(),
        ];
        let meta = RowGroupMetaData::builder(descr)
            .set_num_rows(3)
            .set_column_metadata(columns)
            .build()
            .unwrap();
        let mut range = RowGroupRange::default();
        range.add(&batch);
        let mut findings = Vec::new();
        let names = ["time".to_owned(), "actor_user_name".to_owned()];
        let place = Place {
            names: &names,
            row_group: 0,
            file: "f.parquet",
            chain: "c/0",
        };
        range.check(&meta, None, &place, &mut findings);
        findings
    }

    fn names(min: &str, max: &str) -> Statistics {
        Statistics::byte_array(
            Some(ByteArray::from(min)),
            Some(ByteArray::from(max)),
            None,
            Some(1),
            false,
        )
    }

    #[test]
    fn statistics_covering_the_data_pass_and_narrowed_ones_are_found() {
        assert!(
            check(
                Statistics::int64(Some(10), Some(30), None, Some(0), false),
                names("alice", "bob")
            )
            .is_empty()
        );
        // Wider is harmless.
        assert!(
            check(
                Statistics::int64(Some(0), Some(99), None, Some(0), false),
                names("a", "z")
            )
            .is_empty()
        );
        // A max of 25 would let a reader skip the row with time 30.
        let f = check(
            Statistics::int64(Some(10), Some(25), None, Some(0), false),
            names("alice", "bob"),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("`time`"), "{f:?}");
        let f = check(
            Statistics::int64(Some(10), Some(30), None, Some(0), false),
            names("b", "bob"),
        );
        assert!(f[0].message.contains("`actor_user_name`"), "{f:?}");
    }
}
