//! Delivery receipts (`<prefix>.receipts`) as Parquet, so that "which
//! events never reached Splunk" is a SQL question.
//!
//! Receipts are not evidence: they live in their own store
//! (`archive.receipts_path`), never among the archive's sealed files. Each
//! receipts partition is cut in blocks of [`BLOCK`] offsets; a block's file
//! `p<partition>-<first offset>.parquet` holds its receipts in offset order
//! and is rewritten, under the same name, as the block fills. A restart
//! re-reads the open block from its first offset and writes the same file
//! again: no duplicates, nothing missed.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::QueryError;
use crate::store::ArchiveStore;

/// Offsets per receipts file.
pub const BLOCK: i64 = 50_000;

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
struct Receipt {
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

/// The open block of each receipts partition.
#[derive(Default)]
pub struct ReceiptBlocks {
    open: BTreeMap<i32, Block>,
}

struct Block {
    first: i64,
    rows: Vec<(i64, Receipt)>,
    dirty: bool,
}

impl ReceiptBlocks {
    /// Adds the receipt at `partition`/`offset`; a receipt that is not
    /// JSON is an error naming its position.
    pub fn take(
        &mut self,
        store: &dyn ArchiveStore,
        partition: i32,
        offset: i64,
        payload: &[u8],
    ) -> Result<(), QueryError> {
        let receipt: Receipt = serde_json::from_slice(payload).map_err(|e| {
            QueryError::Kafka(format!(
                "receipts partition {partition} offset {offset}: not a receipt: {e}"
            ))
        })?;
        let first = offset - offset.rem_euclid(BLOCK);
        if let Some(block) = self.open.get(&partition)
            && block.first != first
        {
            // The block is complete: write it a last time and let it go.
            let block = self.open.remove(&partition).expect("checked");
            if block.dirty {
                write_block(store, partition, &block)?;
            }
        }
        let block = self.open.entry(partition).or_insert(Block {
            first,
            rows: Vec::new(),
            dirty: false,
        });
        block.rows.push((offset, receipt));
        block.dirty = true;
        Ok(())
    }

    /// Writes every block that received receipts since the last flush.
    pub fn flush(&mut self, store: &dyn ArchiveStore) -> Result<usize, QueryError> {
        let mut written = 0;
        for (&partition, block) in self.open.iter_mut() {
            if block.dirty {
                write_block(store, partition, block)?;
                block.dirty = false;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Where a restart must read a partition from: its open block's start.
    pub fn restart_offset(&self, partition: i32) -> Option<i64> {
        self.open.get(&partition).map(|b| b.first)
    }
}

/// `p<partition>-<first offset, 20 digits>.parquet`.
pub fn block_path(partition: i32, first: i64) -> String {
    format!("p{partition}-{first:020}.parquet")
}

fn write_block(store: &dyn ArchiveStore, partition: i32, block: &Block) -> Result<(), QueryError> {
    let n = block.rows.len();
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
    // Offsets may repeat after a restart re-read: each offset once, in order.
    let mut rows: Vec<&(i64, Receipt)> = block.rows.iter().collect();
    rows.sort_by_key(|(o, _)| *o);
    rows.dedup_by_key(|(o, _)| *o);
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
    let columns: Vec<ArrayRef> = vec![
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
    ];
    let batch = RecordBatch::try_new(receipts_schema(), columns)
        .map_err(|e| QueryError::Store(format!("receipts batch: {e}")))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, receipts_schema(), Some(properties))
        .map_err(|e| QueryError::Store(format!("receipts file: {e}")))?;
    writer
        .write(&batch)
        .and_then(|_| writer.close().map(drop))
        .map_err(|e| QueryError::Store(format!("receipts file: {e}")))?;
    store.write(&block_path(partition, block.first), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalDir;

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
