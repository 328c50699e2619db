//! Sealed test archives in the exact archive layout, and tampering tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use auditfed_normalize::sealer::{Sealer, SealerConfig};
use auditfed_normalize::{Output, normalize};
use auditfed_query::store::{ArchiveStore, LocalDir};
use auditfed_query::writer::{SealedRow, write_checkpoint, write_rows};
use auditfed_schemas::seal::{FileSigner, Keyring, SignedNote, Signer};
use auditfed_schemas::{SourceMeta, SourceType};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub const CHAIN: &str = "auditfed.raw.aws_cloudtrail/0";

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auditfed-verify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn signer(seed: u8) -> Arc<dyn Signer> {
    Arc::new(FileSigner::from_seed("archive-test", &[seed; 32]).unwrap())
}

pub fn keyring(seed: u8) -> Keyring {
    let mut k = Keyring::default();
    k.add(signer(seed).verifier_key());
    k
}

/// Real CloudTrail events from the golden fixtures.
pub fn events(fixture: &str) -> Vec<auditfed_schemas::ocsf::Event> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../normalize/tests/fixtures/aws_cloudtrail")
        .join(fixture);
    let bytes = std::fs::read(path).unwrap();
    normalize(
        Some(SourceType::AwsCloudtrail),
        &bytes,
        &SourceMeta::default(),
    )
    .into_iter()
    .filter_map(|o| match o {
        Ok(Output::Event(e)) => Some(*e),
        _ => None,
    })
    .collect()
}

/// Seals `events` on one chain (a checkpoint every `every` events, the rest
/// flushed), writes one data file per `file_rows` rows and every checkpoint.
pub fn build(
    dir: &Path,
    events: &[auditfed_schemas::ocsf::Event],
    every: u64,
    file_rows: usize,
    seed: u8,
) -> (LocalDir, Vec<SignedNote>) {
    build_chain(dir, CHAIN, events, every, file_rows, seed)
}

/// [`build`] for a given chain id (several chains can share an archive).
pub fn build_chain(
    dir: &Path,
    chain: &str,
    events: &[auditfed_schemas::ocsf::Event],
    every: u64,
    file_rows: usize,
    seed: u8,
) -> (LocalDir, Vec<SignedNote>) {
    let store = LocalDir::new(dir);
    let config = SealerConfig {
        checkpoint_every_events: every,
        checkpoint_every_ms: i64::MAX / 2,
        heartbeat_every_ms: i64::MAX / 2,
    };
    let mut sealer = Sealer::new(chain, config, signer(seed), 0).unwrap();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let (sealed, note) = sealer.seal(event, 1_700_000_000_000 + i as i64).unwrap();
        notes.extend(note);
        rows.push(SealedRow {
            event: event.clone(),
            event_json: sealed.canonical,
            raw_record: event.raw_data.as_ref().map(|r| r.as_bytes().to_vec()),
            source: "aws_cloudtrail".into(),
            chain: chain.into(),
            seq: sealed.seq,
            leaf: sealed.leaf,
            chain_hash: sealed.chain_hash,
        });
    }
    notes.extend(sealer.flush(1_800_000_000_000).unwrap());
    for chunk in rows.chunks(file_rows) {
        write_rows(&store, chunk).unwrap();
    }
    for note in &notes {
        write_checkpoint(&store, note).unwrap();
    }
    (store, notes)
}

pub fn data_files(store: &LocalDir) -> Vec<String> {
    store
        .list()
        .unwrap()
        .into_iter()
        .filter(|p| p.ends_with(".parquet"))
        .collect()
}

pub fn checkpoint_files(store: &LocalDir) -> Vec<String> {
    store
        .list()
        .unwrap()
        .into_iter()
        .filter(|p| p.ends_with(".note"))
        .collect()
}

pub fn read_batch(store: &LocalDir, path: &str) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(store.read(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
}

pub fn write_batch(store: &LocalDir, path: &str, batch: &RecordBatch) {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    store.write(path, &out).unwrap();
}

/// The rows of `batch` at `indices`, in that order.
pub fn take(batch: &RecordBatch, indices: &[u32]) -> RecordBatch {
    arrow_select::take::take_record_batch(batch, &arrow_array::UInt32Array::from(indices.to_vec()))
        .unwrap()
}

/// The values of a string column.
pub fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let a = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    (0..a.len()).map(|i| a.value(i).to_owned()).collect()
}

/// `batch` with one string cell replaced.
pub fn set_string(batch: &RecordBatch, column: &str, row: usize, value: &str) -> RecordBatch {
    let idx = batch.schema().index_of(column).unwrap();
    let old = batch
        .column(idx)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let new: StringArray = (0..old.len())
        .map(|i| {
            Some(if i == row {
                value.to_owned()
            } else {
                old.value(i).to_owned()
            })
        })
        .collect();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols[idx] = Arc::new(new);
    RecordBatch::try_new(batch.schema(), cols).unwrap()
}
