//! Side tables: JSON rows of a Kafka topic (receipts, coverage) written
//! as Parquet apart from the archive, so that operational questions are
//! SQL questions without mixing them with the evidence.
//!
//! Each partition of the topic is cut in blocks of [`BLOCK`] offsets; a
//! block's file `p<partition>-<first offset>.parquet` holds its rows in
//! offset order and is rewritten, under the same name, as the block fills.
//! A restart re-reads the open block from its first offset and writes the
//! same file again: no duplicates, nothing missed.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::QueryError;
use crate::store::ArchiveStore;

/// Offsets per file.
pub const BLOCK: i64 = 50_000;

/// One kind of side table: its rows and their Arrow form.
pub trait BlockKind {
    /// A row, as JSON in the topic.
    type Row: serde::de::DeserializeOwned;
    /// What a row is called in errors.
    const WHAT: &'static str;
    /// The table's schema.
    fn schema() -> SchemaRef;
    /// The columns of `rows` (offset order, each offset once) of `partition`.
    fn columns(partition: i32, rows: &[(i64, &Self::Row)]) -> Vec<ArrayRef>;
}

/// What the archiver needs of a side table, whatever its kind.
pub trait SideTable: Send {
    /// Adds the row at `partition`/`offset`; a row that is not JSON of
    /// the kind is an error naming its position.
    fn take(
        &mut self,
        store: &dyn ArchiveStore,
        partition: i32,
        offset: i64,
        payload: &[u8],
    ) -> Result<(), QueryError>;
    /// Writes every block that received rows since the last flush.
    fn flush(&mut self, store: &dyn ArchiveStore) -> Result<usize, QueryError>;
    /// Where a restart must read a partition from: its open block's start.
    fn restart_offset(&self, partition: i32) -> Option<i64>;
}

/// The open block of each partition of a side table.
pub struct Blocks<K: BlockKind> {
    open: BTreeMap<i32, Block<K::Row>>,
    kind: PhantomData<K>,
}

impl<K: BlockKind> Default for Blocks<K> {
    fn default() -> Self {
        Blocks {
            open: BTreeMap::new(),
            kind: PhantomData,
        }
    }
}

struct Block<R> {
    first: i64,
    rows: Vec<(i64, R)>,
    dirty: bool,
}

impl<K: BlockKind> SideTable for Blocks<K>
where
    K::Row: Send,
    K: Send,
{
    fn take(
        &mut self,
        store: &dyn ArchiveStore,
        partition: i32,
        offset: i64,
        payload: &[u8],
    ) -> Result<(), QueryError> {
        let row: K::Row = serde_json::from_slice(payload).map_err(|e| {
            QueryError::Kafka(format!(
                "partition {partition} offset {offset}: not a {}: {e}",
                K::WHAT
            ))
        })?;
        let first = offset - offset.rem_euclid(BLOCK);
        if let Some(block) = self.open.get(&partition)
            && block.first != first
        {
            // The block is complete: write it a last time and let it go.
            let block = self.open.remove(&partition).expect("checked");
            if block.dirty {
                write_block::<K>(store, partition, &block)?;
            }
        }
        let block = self.open.entry(partition).or_insert(Block {
            first,
            rows: Vec::new(),
            dirty: false,
        });
        block.rows.push((offset, row));
        block.dirty = true;
        Ok(())
    }

    fn flush(&mut self, store: &dyn ArchiveStore) -> Result<usize, QueryError> {
        let mut written = 0;
        for (&partition, block) in self.open.iter_mut() {
            if block.dirty {
                write_block::<K>(store, partition, block)?;
                block.dirty = false;
                written += 1;
            }
        }
        Ok(written)
    }

    fn restart_offset(&self, partition: i32) -> Option<i64> {
        self.open.get(&partition).map(|b| b.first)
    }
}

/// `p<partition>-<first offset, 20 digits>.parquet`.
pub fn block_path(partition: i32, first: i64) -> String {
    format!("p{partition}-{first:020}.parquet")
}

fn write_block<K: BlockKind>(
    store: &dyn ArchiveStore,
    partition: i32,
    block: &Block<K::Row>,
) -> Result<(), QueryError> {
    // Offsets may repeat after a restart re-read: each offset once, in order.
    let mut rows: Vec<(i64, &K::Row)> = block.rows.iter().map(|(o, r)| (*o, r)).collect();
    rows.sort_by_key(|(o, _)| *o);
    rows.dedup_by_key(|(o, _)| *o);
    let what = K::WHAT;
    let batch = RecordBatch::try_new(K::schema(), K::columns(partition, &rows))
        .map_err(|e| QueryError::Store(format!("{what} batch: {e}")))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, K::schema(), Some(properties))
        .map_err(|e| QueryError::Store(format!("{what} file: {e}")))?;
    writer
        .write(&batch)
        .and_then(|_| writer.close().map(drop))
        .map_err(|e| QueryError::Store(format!("{what} file: {e}")))?;
    store.write(&block_path(partition, block.first), &bytes)
}
