//! Writing sealed events and checkpoints in the archive layout
//! (`auditfed_schemas::archive::layout`): zstd Parquet with statistics and
//! page indexes, one file per (chain, partition) batch, rows sorted by `seq`.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, FixedSizeBinaryBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMillisecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use auditfed_schemas::archive::layout::{CheckpointFile, DataFile, date_of};
use auditfed_schemas::archive::{QueryColumns, archive_schema};
use auditfed_schemas::ocsf::Event;
use auditfed_schemas::seal::{Hash, SignedNote};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::QueryError;
use crate::store::ArchiveStore;

/// One sealed event, ready for the archive.
#[derive(Debug, Clone)]
pub struct SealedRow {
    /// The event (for the query columns).
    pub event: Event,
    /// `canonical_v1(event)`: stored as `event_json`, the bytes the leaf hashes.
    pub event_json: Vec<u8>,
    /// The raw source record.
    pub raw_record: Option<Vec<u8>>,
    /// The source type (partition `source=`).
    pub source: String,
    /// The chain.
    pub chain: String,
    /// Sequence number in the chain.
    pub seq: u64,
    /// Leaf hash.
    pub leaf: Hash,
    /// Chain hash after this event.
    pub chain_hash: Hash,
}

/// Rows per Parquet row group: small enough for time pruning, large enough to compress.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Writes the rows of one chain as data files, one per date partition,
/// each sorted by `seq`. Returns the files written.
pub fn write_rows(
    store: &dyn ArchiveStore,
    rows: &[SealedRow],
) -> Result<Vec<DataFile>, QueryError> {
    let mut by_file: std::collections::BTreeMap<(String, String, String), Vec<&SealedRow>> =
        Default::default();
    for row in rows {
        by_file
            .entry((
                row.source.clone(),
                date_of(row.event.time),
                row.chain.clone(),
            ))
            .or_default()
            .push(row);
    }
    let mut written = Vec::new();
    for ((source, date, chain), mut group) in by_file {
        group.sort_by_key(|r| r.seq);
        let file = DataFile {
            source,
            date,
            chain,
            first: group[0].seq,
            last: group[group.len() - 1].seq,
        };
        store.write(&file.path(), &encode(&group)?)?;
        written.push(file);
    }
    Ok(written)
}

/// Writes a checkpoint note at its layout path.
pub fn write_checkpoint(store: &dyn ArchiveStore, note: &SignedNote) -> Result<String, QueryError> {
    let checkpoint = auditfed_schemas::seal::Checkpoint::parse_text(&note.text)
        .map_err(|e| QueryError::Seal(e.to_string()))?;
    let path = CheckpointFile::of(&checkpoint).path();
    store.write(&path, note.to_string().as_bytes())?;
    Ok(path)
}

/// Encodes rows as one zstd Parquet file.
pub fn encode(rows: &[&SealedRow]) -> Result<Vec<u8>, QueryError> {
    let schema = archive_schema();
    let n = rows.len();
    let cols: Vec<QueryColumns<'_>> = rows.iter().map(|r| QueryColumns::of(&r.event)).collect();
    let utf8 = |f: &dyn for<'a> Fn(&QueryColumns<'a>) -> Option<&'a str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for c in &cols {
            b.append_option(f(c));
        }
        Arc::new(b.finish())
    };
    let int32 = |f: &dyn Fn(&QueryColumns<'_>) -> Option<i32>| -> ArrayRef {
        let mut b = Int32Builder::with_capacity(n);
        for c in &cols {
            b.append_option(f(c));
        }
        Arc::new(b.finish())
    };
    let hashes = |f: &dyn Fn(&SealedRow) -> Hash| -> Result<ArrayRef, QueryError> {
        let mut b = FixedSizeBinaryBuilder::with_capacity(n, 32);
        for r in rows {
            b.append_value(f(r))
                .map_err(|e| QueryError::Parquet(e.to_string()))?;
        }
        Ok(Arc::new(b.finish()))
    };
    let mut time = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut type_uid = Int64Builder::with_capacity(n);
    let mut resources = ListBuilder::new(StringBuilder::new());
    let mut source = StringBuilder::new();
    let mut event_json =
        StringBuilder::with_capacity(n, rows.iter().map(|r| r.event_json.len()).sum());
    let mut raw = BinaryBuilder::new();
    let mut chain = StringBuilder::new();
    let mut seq = UInt64Builder::with_capacity(n);
    for (r, c) in rows.iter().zip(&cols) {
        time.append_value(c.time);
        type_uid.append_value(c.type_uid);
        for uid in &c.resource_uids {
            resources.values().append_value(uid);
        }
        resources.append(!c.resource_uids.is_empty());
        source.append_value(&r.source);
        let json = std::str::from_utf8(&r.event_json)
            .map_err(|e| QueryError::Parquet(format!("event_json: {e}")))?;
        event_json.append_value(json);
        raw.append_option(r.raw_record.as_deref());
        chain.append_value(&r.chain);
        seq.append_value(r.seq);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        int32(&|c| Some(c.class_uid)),
        utf8(&|c| c.class_name),
        int32(&|c| Some(c.category_uid)),
        int32(&|c| Some(c.activity_id)),
        Arc::new(type_uid.finish()),
        int32(&|c| Some(c.severity_id)),
        int32(&|c| c.status_id),
        utf8(&|c| c.status_code),
        utf8(&|c| c.actor_user_name),
        utf8(&|c| c.actor_user_uid),
        utf8(&|c| c.actor_user_type),
        utf8(&|c| c.user_name),
        utf8(&|c| c.src_ip),
        utf8(&|c| c.cloud_provider),
        utf8(&|c| c.cloud_account_uid),
        utf8(&|c| c.cloud_region),
        utf8(&|c| c.api_service),
        utf8(&|c| c.api_operation),
        Arc::new(resources.finish()),
        utf8(&|c| c.tenant_uid),
        Arc::new(source.finish()),
        utf8(&|c| c.product_name),
        utf8(&|c| c.event_uid),
        utf8(&|c| c.log_source),
        Arc::new(event_json.finish()),
        Arc::new(raw.finish()),
        Arc::new(chain.finish()),
        Arc::new(seq.finish()),
        hashes(&|r| r.leaf)?,
        hashes(&|r| r.chain_hash)?,
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| QueryError::Parquet(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props))
        .map_err(|e| QueryError::Parquet(e.to_string()))?;
    writer
        .write(&batch)
        .map_err(|e| QueryError::Parquet(e.to_string()))?;
    writer
        .close()
        .map_err(|e| QueryError::Parquet(e.to_string()))?;
    Ok(out)
}
