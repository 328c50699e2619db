//! What the API pollers fetched (`<prefix>.coverage`), as Parquet at
//! `archive.coverage_path`: one row per page, so that the completeness of
//! an Okta or GitHub audit trail is a SQL question (`coverage` and the
//! `coverage_gaps` view of `auditfed sql`).

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::blocks::{BlockKind, Blocks};

/// The coverage table's schema.
pub fn coverage_schema() -> SchemaRef {
    let time = |n: &str, nullable| {
        Field::new(
            n,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            nullable,
        )
    };
    Arc::new(Schema::new(vec![
        Field::new("collector", DataType::Utf8, false),
        Field::new("collector_seq", DataType::UInt64, false),
        Field::new("object", DataType::Utf8, false),
        Field::new("cursor_from", DataType::Utf8, false),
        Field::new("cursor_to", DataType::Utf8, false),
        time("first_time", true),
        time("last_time", true),
        Field::new("records", DataType::UInt64, false),
        Field::new("rejected", DataType::UInt64, false),
        time("fetched", false),
        Field::new("kafka_partition", DataType::Int32, false),
        Field::new("kafka_offset", DataType::Int64, false),
    ]))
}

/// One page a poller fetched.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Page {
    collector: String,
    collector_seq: u64,
    object: String,
    cursor_from: String,
    cursor_to: String,
    first_time_ms: Option<i64>,
    last_time_ms: Option<i64>,
    records: u64,
    #[serde(default)]
    rejected: u64,
    fetched_ms: i64,
}

/// The coverage table: rows of `<prefix>.coverage`.
pub struct Coverage;

impl BlockKind for Coverage {
    type Row = Page;
    const WHAT: &'static str = "coverage row";

    fn schema() -> SchemaRef {
        coverage_schema()
    }

    fn columns(partition: i32, rows: &[(i64, &Page)]) -> Vec<ArrayRef> {
        let n = rows.len();
        let time = || TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let (mut collector, mut object, mut from, mut to) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let (mut seq, mut records, mut rejected) = (
            UInt64Builder::with_capacity(n),
            UInt64Builder::with_capacity(n),
            UInt64Builder::with_capacity(n),
        );
        let (mut first, mut last, mut fetched) = (time(), time(), time());
        let mut kp = Int32Builder::with_capacity(n);
        let mut ko = Int64Builder::with_capacity(n);
        for (offset, p) in rows {
            collector.append_value(&p.collector);
            seq.append_value(p.collector_seq);
            object.append_value(&p.object);
            from.append_value(&p.cursor_from);
            to.append_value(&p.cursor_to);
            first.append_option(p.first_time_ms);
            last.append_option(p.last_time_ms);
            records.append_value(p.records);
            rejected.append_value(p.rejected);
            fetched.append_value(p.fetched_ms);
            kp.append_value(partition);
            ko.append_value(*offset);
        }
        vec![
            Arc::new(collector.finish()),
            Arc::new(seq.finish()),
            Arc::new(object.finish()),
            Arc::new(from.finish()),
            Arc::new(to.finish()),
            Arc::new(first.finish()),
            Arc::new(last.finish()),
            Arc::new(records.finish()),
            Arc::new(rejected.finish()),
            Arc::new(fetched.finish()),
            Arc::new(kp.finish()),
            Arc::new(ko.finish()),
        ]
    }
}

/// The open coverage blocks of each partition.
pub type CoverageBlocks = Blocks<Coverage>;
