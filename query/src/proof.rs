//! `prove`: an inclusion-proof bundle for one archived event.

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};
use auditfed_schemas::archive::layout::{CheckpointFile, DataFile};
use auditfed_schemas::seal::{
    B64Hash, Checkpoint, CheckpointKind, Hash, InclusionProof, PROOF_FORMAT, SignedNote, audit_path,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::QueryError;
use crate::store::ArchiveStore;

/// Which event to prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelector {
    /// By the source's event id (`metadata.uid`).
    Uid(String),
    /// By chain and sequence number (`chain:seq`).
    ChainSeq(String, u64),
}

impl EventSelector {
    /// Parses `chain:seq` (the last `:` separates; chain ids may contain `:`),
    /// anything else is a `metadata.uid`.
    pub fn parse(text: &str) -> EventSelector {
        if let Some((chain, seq)) = text.rsplit_once(':')
            && let Ok(seq) = seq.parse::<u64>()
            && auditfed_schemas::seal::valid_chain_id(chain)
            && chain.contains('/')
        {
            return EventSelector::ChainSeq(chain.to_owned(), seq);
        }
        EventSelector::Uid(text.to_owned())
    }
}

struct Found {
    chain: String,
    seq: u64,
    event_json: String,
}

fn read(
    store: &dyn ArchiveStore,
    path: &str,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, QueryError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(store.read(path)?)
        .map_err(|e| QueryError::Parquet(format!("{path}: {e}")))?;
    let schema = builder.schema().clone();
    let indices = columns
        .iter()
        .map(|c| {
            schema
                .index_of(c)
                .map_err(|_| QueryError::Parquet(format!("{path}: column `{c}` missing")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    builder
        .with_projection(mask)
        .build()
        .map_err(|e| QueryError::Parquet(format!("{path}: {e}")))?
        .map(|b| b.map_err(|e| QueryError::Parquet(format!("{path}: {e}"))))
        .collect()
}

/// Builds the inclusion proof of the selected event.
pub fn prove(
    store: &dyn ArchiveStore,
    selector: &EventSelector,
) -> Result<InclusionProof, QueryError> {
    let paths = store.list()?;
    let files: Vec<DataFile> = paths.iter().filter_map(|p| DataFile::parse(p)).collect();
    // 1. Find the event.
    let mut found: Vec<Found> = Vec::new();
    for file in &files {
        if let EventSelector::ChainSeq(chain, seq) = selector
            && (file.chain != *chain || *seq < file.first || *seq > file.last)
        {
            continue;
        }
        for batch in read(store, &file.path(), &["event_uid", "event_json", "seq"])? {
            let uid = batch.column(0).as_string::<i32>();
            let json = batch.column(1).as_string::<i32>();
            let seq = batch.column(2).as_primitive::<UInt64Type>();
            for i in 0..batch.num_rows() {
                let hit = match selector {
                    EventSelector::Uid(u) => uid.is_valid(i) && uid.value(i) == u,
                    EventSelector::ChainSeq(_, s) => seq.value(i) == *s,
                };
                if hit {
                    found.push(Found {
                        chain: file.chain.clone(),
                        seq: seq.value(i),
                        event_json: json.value(i).to_owned(),
                    });
                }
            }
        }
    }
    let target = match found.len() {
        0 => {
            return Err(QueryError::NotFound(format!(
                "no archived event matches {selector:?}"
            )));
        }
        1 => found.pop().expect("one"),
        _ => {
            let places: Vec<String> = found
                .iter()
                .map(|f| format!("{}:{}", f.chain, f.seq))
                .collect();
            return Err(QueryError::NotFound(format!(
                "{} events match; name one as chain:seq: {}",
                found.len(),
                places.join(", ")
            )));
        }
    };
    // 2. The batch checkpoint covering it.
    let mut covering: Option<(SignedNote, Checkpoint)> = None;
    for path in paths.iter().filter(|p| {
        CheckpointFile::parse(p).is_some_and(|c| c.chain == target.chain && c.last >= target.seq)
    }) {
        let text = String::from_utf8_lossy(&store.read(path)?).into_owned();
        let Ok(note) = SignedNote::parse(&text) else {
            continue;
        };
        let Ok(cp) = Checkpoint::parse_text(&note.text) else {
            continue;
        };
        if cp.kind != CheckpointKind::Heartbeat
            && cp.batch_size() > 0
            && cp.first <= target.seq
            && target.seq <= cp.last
        {
            covering = Some((note, cp));
            break;
        }
    }
    let (note, cp) = covering.ok_or_else(|| {
        QueryError::NotFound(format!(
            "no checkpoint covers {}:{}",
            target.chain, target.seq
        ))
    })?;
    // 3. The batch's leaves, in order.
    let mut leaves: Vec<(u64, Hash)> = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.chain == target.chain && f.last >= cp.first && f.first <= cp.last)
    {
        for batch in read(store, &file.path(), &["seq", "leaf_hash"])? {
            let seq = batch.column(0).as_primitive::<UInt64Type>();
            let leaf = batch.column(1).as_fixed_size_binary();
            for i in 0..batch.num_rows() {
                let s = seq.value(i);
                if (cp.first..=cp.last).contains(&s) {
                    let h: Hash = leaf
                        .value(i)
                        .try_into()
                        .map_err(|_| QueryError::Parquet("leaf_hash is not 32 bytes".into()))?;
                    leaves.push((s, h));
                }
            }
        }
    }
    leaves.sort_by_key(|(s, _)| *s);
    leaves.dedup_by_key(|(s, _)| *s);
    if leaves.len() as u64 != cp.batch_size() {
        return Err(QueryError::NotFound(format!(
            "the archive holds {} of the {} rows of checkpoint {}..={}: run `auditfed verify`",
            leaves.len(),
            cp.batch_size(),
            cp.first,
            cp.last
        )));
    }
    let hashes: Vec<Hash> = leaves.into_iter().map(|(_, h)| h).collect();
    let index = (target.seq - cp.first) as usize;
    Ok(InclusionProof {
        format: PROOF_FORMAT.to_owned(),
        chain: target.chain,
        seq: target.seq,
        event_json: target.event_json,
        leaf_index: index as u64,
        batch_size: cp.batch_size(),
        audit_path: audit_path(&hashes, index)
            .into_iter()
            .map(B64Hash)
            .collect(),
        checkpoint: note.to_string(),
    })
}
