//! Parquet row-group statistics against the data: a reader that prunes on
//! min/max (DataFusion, DuckDB, Athena) must never be able to skip rows that
//! are there. Statistics may be wider than the data (harmless), never narrower.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::file::metadata::RowGroupMetaData;
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

/// Running min/max of the checked columns of one row group.
#[derive(Default)]
pub(super) struct RowGroupRange {
    columns: Vec<Option<(Val, Val)>>,
}

impl RowGroupRange {
    /// Folds a decoded batch of the row group in.
    pub(super) fn add(&mut self, batch: &RecordBatch) {
        if self.columns.len() < batch.num_columns() {
            self.columns.resize(batch.num_columns(), None);
        }
        for (i, column) in batch.columns().iter().enumerate() {
            let slot = &mut self.columns[i];
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
            if let Some((lo, hi)) = range {
                *slot = Some(match slot.take() {
                    None => (lo, hi),
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                });
            }
        }
    }

    /// Findings for every column whose statistics do not cover its data.
    pub(super) fn check(
        &self,
        meta: &RowGroupMetaData,
        names: &[String],
        rg: usize,
        at: &str,
        chain: &str,
        findings: &mut Vec<Finding>,
    ) {
        for (i, range) in self.columns.iter().enumerate() {
            let (Some((lo, hi)), Some(column)) = (range, meta.columns().get(i)) else {
                continue;
            };
            let Some(stats) = column.statistics() else {
                continue;
            };
            let (min, max) = match stats {
                Statistics::Int32(s) => (
                    s.min_opt().map(|v| Val::Signed(i64::from(*v))),
                    s.max_opt().map(|v| Val::Signed(i64::from(*v))),
                ),
                Statistics::Int64(s) if matches!(lo, Val::Unsigned(_)) => (
                    s.min_opt().map(|v| Val::Unsigned(*v as u64)),
                    s.max_opt().map(|v| Val::Unsigned(*v as u64)),
                ),
                Statistics::Int64(s) => (
                    s.min_opt().map(|v| Val::Signed(*v)),
                    s.max_opt().map(|v| Val::Signed(*v)),
                ),
                Statistics::ByteArray(s) => (
                    s.min_opt().map(|v| Val::Bytes(v.data().to_vec())),
                    s.max_opt().map(|v| Val::Bytes(v.data().to_vec())),
                ),
                _ => continue,
            };
            let narrower =
                min.as_ref().is_some_and(|m| m > lo) || max.as_ref().is_some_and(|m| m < hi);
            if narrower {
                let show =
                    |v: &Option<Val>| v.as_ref().map_or("none".to_owned(), |v| format!("{v:?}"));
                findings.push(
                    Finding::new(
                        "statistics_mismatch",
                        format!(
                            "row group {rg}, column `{}`: its statistics exclude values it holds, so readers that prune on them skip rows",
                            names.get(i).map_or("?", String::as_str)
                        ),
                    )
                    .chain(chain)
                    .at(at)
                    .expected_found(format!("min <= {lo:?}, max >= {hi:?}"), format!("min {}, max {}", show(&min), show(&max))),
                );
            }
        }
    }
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
        range.check(
            &meta,
            &["time".into(), "actor_user_name".into()],
            0,
            "f.parquet",
            "c/0",
            &mut findings,
        );
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
