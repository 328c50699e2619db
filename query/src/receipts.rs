//! Delivery receipts (`<prefix>.receipts`) as Parquet, so that "which
//! events never reached Splunk" is a SQL question.
//!
//! Receipts are not evidence: they live in their own store
//! (`archive.receipts_path`), never among the archive's sealed files,
//! written in blocks ([`crate::blocks`]).

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::blocks::{BlockKind, Blocks};

/// The receipts table's schema.
pub fn receipts_schema() -> SchemaRef {
    let utf8 = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("sink", DataType::Utf8, false),
        Field::new("event_uid", DataType::Utf8, false),
        utf8("chain_id"),
        Field::new("seq", DataType::UInt64, true),
        Field::new("outcome", DataType::Utf8, false),
        utf8("batch"),
        utf8("mode"),
        utf8("reason"),
        utf8("response"),
        Field::new("kafka_partition", DataType::Int32, false),
        Field::new("kafka_offset", DataType::Int64, false),
    ]))
}

/// One receipt as the sinks write it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Receipt {
    sink: String,
    event_uid: String,
    chain: Option<String>,
    seq: Option<u64>,
    batch: Option<String>,
    time_ms: i64,
    outcome: String,
    mode: Option<String>,
    reason: Option<String>,
    response: Option<String>,
}

/// The receipts table: rows of `<prefix>.receipts`.
pub struct Receipts;

impl BlockKind for Receipts {
    type Row = Receipt;
    const WHAT: &'static str = "receipt";

    fn schema() -> SchemaRef {
        receipts_schema()
    }

    fn columns(partition: i32, rows: &[(i64, &Receipt)]) -> Vec<ArrayRef> {
        let n = rows.len();
        let mut time = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut sink = StringBuilder::new();
        let mut uid = StringBuilder::new();
        let mut chain = StringBuilder::new();
        let mut seq = UInt64Builder::with_capacity(n);
        let mut outcome = StringBuilder::new();
        let mut batch = StringBuilder::new();
        let mut mode = StringBuilder::new();
        let mut reason = StringBuilder::new();
        let mut response = StringBuilder::new();
        let mut kp = Int32Builder::with_capacity(n);
        let mut ko = Int64Builder::with_capacity(n);
        for (offset, r) in rows {
            time.append_value(r.time_ms);
            sink.append_value(&r.sink);
            uid.append_value(&r.event_uid);
            chain.append_option(r.chain.as_deref());
            seq.append_option(r.seq);
            outcome.append_value(&r.outcome);
            batch.append_option(r.batch.as_deref());
            mode.append_option(r.mode.as_deref());
            reason.append_option(r.reason.as_deref());
            response.append_option(r.response.as_deref());
            kp.append_value(partition);
            ko.append_value(*offset);
        }
        vec![
            Arc::new(time.finish()),
            Arc::new(sink.finish()),
            Arc::new(uid.finish()),
            Arc::new(chain.finish()),
            Arc::new(seq.finish()),
            Arc::new(outcome.finish()),
            Arc::new(batch.finish()),
            Arc::new(mode.finish()),
            Arc::new(reason.finish()),
            Arc::new(response.finish()),
            Arc::new(kp.finish()),
            Arc::new(ko.finish()),
        ]
    }
}

/// The open receipt blocks of each partition.
pub type ReceiptBlocks = Blocks<Receipts>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{BLOCK, SideTable, block_path};
    use crate::store::{ArchiveStore, LocalDir};

    #[test]
    fn blocks_are_rewritten_under_one_name_and_closed_when_the_next_begins() {
        let dir = std::env::temp_dir().join(format!("auditfed-receipts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = LocalDir::new(&dir);
        let mut blocks = ReceiptBlocks::default();
        let receipt = |uid: &str| {
            format!(
                r#"{{"sink":"splunk","event_uid":"{uid}","chain":"c","seq":1,"batch":"b","time_ms":0,"outcome":"delivered","mode":"run"}}"#
            )
        };
        blocks.take(&store, 0, 5, receipt("a").as_bytes()).unwrap();
        blocks.flush(&store).unwrap();
        blocks.take(&store, 0, 6, receipt("b").as_bytes()).unwrap();
        // A restart re-reads offset 6: written once.
        blocks.take(&store, 0, 6, receipt("b").as_bytes()).unwrap();
        blocks.flush(&store).unwrap();
        assert_eq!(blocks.restart_offset(0), Some(0));
        blocks
            .take(&store, 0, BLOCK + 1, receipt("c").as_bytes())
            .unwrap();
        blocks.flush(&store).unwrap();
        assert_eq!(blocks.restart_offset(0), Some(BLOCK));
        let mut files = store.list().unwrap();
        files.sort();
        assert_eq!(files, [block_path(0, 0), block_path(0, BLOCK)]);
        let bytes = store.read(&block_path(0, 0)).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 1024).unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2);
        assert!(blocks.take(&store, 1, 0, b"not json").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
