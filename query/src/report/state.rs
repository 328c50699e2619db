//! The archive state a report is computed over: per chain, the newest
//! checkpoint whose signature verifies, and the verifier's result up to it.
//!
//! A report sees each chain only up to its pinned checkpoint (see
//! [`crate::sql::session_pinned`]), so a later run over a grown archive sees
//! the same rows, and the manifest names exactly which signed checkpoints
//! the results rest on.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use auditfed_schemas::archive::layout::CheckpointFile;
use auditfed_schemas::seal::{Keyring, SignedNote};
use serde::{Deserialize, Serialize};

use crate::QueryError;
use crate::sql::ChainPin;
use crate::store::ArchiveStore;
use crate::verify::{Finding, VerifyOptions, verify};

/// One chain's pinned checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The archive's name.
    pub archive: String,
    /// The chain.
    pub chain_id: String,
    /// The checkpoint's `last`: rows up to it are in the report.
    pub last_seq: u64,
    /// The checkpoint's time, epoch ms.
    pub checkpoint_time_ms: i64,
    /// Its path in the archive.
    pub checkpoint: String,
    /// The signed note, byte for byte.
    pub note: String,
}

impl ChainState {
    /// The pin of the SQL session.
    pub fn pin(&self) -> ChainPin {
        ChainPin {
            archive: self.archive.clone(),
            chain_id: self.chain_id.clone(),
            last_seq: self.last_seq,
        }
    }
}

/// Pins every chain of `store` (named `archive`): the newest checkpoint
/// (largest `last`, then latest time) whose signed note verifies under
/// `keyring`. Chains without one are not pinned (the verifier reports
/// them): they are returned second, sorted, from the same listing.
pub fn pin_archive(
    archive: &str,
    store: &dyn ArchiveStore,
    keyring: &Keyring,
) -> Result<(Vec<ChainState>, Vec<String>), QueryError> {
    use auditfed_schemas::archive::layout::DataFile;
    let mut by_chain: BTreeMap<String, Vec<(String, CheckpointFile)>> = BTreeMap::new();
    let mut with_data = std::collections::BTreeSet::new();
    for path in store.list()? {
        if let Some(file) = CheckpointFile::parse(&path) {
            by_chain
                .entry(file.chain.clone())
                .or_default()
                .push((path, file));
        } else if let Some(file) = DataFile::parse(&path) {
            with_data.insert(file.chain);
        }
    }
    with_data.extend(by_chain.keys().cloned());
    let mut states = Vec::new();
    for (chain, mut files) in by_chain {
        files.sort_by_key(|(_, f)| std::cmp::Reverse((f.last, f.time_ms)));
        for (path, file) in files {
            let bytes = store.read(&path)?;
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            let verified = SignedNote::parse(text).and_then(|note| note.verify(keyring));
            if let Ok((checkpoint, _)) = verified
                && checkpoint.chain == chain
                && checkpoint.last == file.last
            {
                states.push(ChainState {
                    archive: archive.to_owned(),
                    chain_id: chain.clone(),
                    last_seq: checkpoint.last,
                    checkpoint_time_ms: checkpoint.time_ms,
                    checkpoint: path,
                    note: text.to_owned(),
                });
                break;
            }
        }
    }
    let unpinned = with_data
        .into_iter()
        .filter(|c| !states.iter().any(|s| &s.chain_id == c))
        .collect();
    Ok((states, unpinned))
}

/// The verifier's findings over one archive that concern a report pinned
/// to `states`: findings on no chain (files outside the layout), and
/// findings on a pinned chain at or below its pinned sequence number (or
/// at none). Findings on `unpinned` chains (chains without a verifiable
/// checkpoint when the report was first run) are kept too; chains that
/// appeared later are not the report's.
pub fn verify_pinned(
    archive: &str,
    store: &dyn ArchiveStore,
    keyring: &Keyring,
    states: &[ChainState],
    unpinned: &[String],
) -> Result<Vec<Finding>, QueryError> {
    let report = verify(store, &VerifyOptions::new(keyring.clone()))?;
    let pinned: BTreeMap<&str, u64> = states
        .iter()
        .filter(|s| s.archive == archive)
        .map(|s| (s.chain_id.as_str(), s.last_seq))
        .collect();
    Ok(report
        .findings
        .into_iter()
        .filter(|f| match &f.chain {
            None => true,
            Some(chain) => match pinned.get(chain.as_str()) {
                Some(last) => f.seq.is_none_or(|seq| seq <= *last),
                None => unpinned.contains(chain),
            },
        })
        .collect())
}

/// The `verification` table's schema: one row per chain (and one per
/// archive with findings outside any chain).
pub fn verification_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("archive", DataType::Utf8, false),
        Field::new("chain_id", DataType::Utf8, false),
        Field::new("last_seq", DataType::UInt64, false),
        Field::new(
            "checkpoint_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("findings", DataType::Int64, false),
        Field::new("verified", DataType::Boolean, false),
    ]))
}

/// The `verification_findings` table's schema: one row per finding.
pub fn findings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("archive", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("chain_id", DataType::Utf8, true),
        Field::new("seq", DataType::UInt64, true),
        Field::new("location", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, false),
    ]))
}

/// The two verification tables for `states` and each archive's findings.
pub fn verification_batches(
    states: &[ChainState],
    findings: &BTreeMap<String, Vec<Finding>>,
) -> Result<(RecordBatch, RecordBatch), QueryError> {
    let mut rows: Vec<(String, String, u64, Option<i64>, i64)> = Vec::new();
    for s in states {
        let n = findings.get(&s.archive).map_or(0, |f| {
            f.iter()
                .filter(|f| f.chain.as_deref() == Some(&s.chain_id))
                .count()
        });
        rows.push((
            s.archive.clone(),
            s.chain_id.clone(),
            s.last_seq,
            Some(s.checkpoint_time_ms),
            n as i64,
        ));
    }
    for (archive, list) in findings {
        let mut other: BTreeMap<String, i64> = BTreeMap::new();
        for f in list {
            let chain = f.chain.clone().unwrap_or_else(|| "(archive)".to_owned());
            if !states
                .iter()
                .any(|s| &s.archive == archive && s.chain_id == chain)
            {
                *other.entry(chain).or_default() += 1;
            }
        }
        for (chain, n) in other {
            rows.push((archive.clone(), chain, 0, None, n));
        }
    }
    rows.sort();
    let (mut a, mut c, mut l, mut t, mut n, mut v) = (
        StringBuilder::new(),
        StringBuilder::new(),
        UInt64Builder::new(),
        TimestampMillisecondBuilder::new().with_timezone("UTC"),
        Int64Builder::new(),
        BooleanBuilder::new(),
    );
    for (archive, chain, last, time, count) in &rows {
        a.append_value(archive);
        c.append_value(chain);
        l.append_value(*last);
        t.append_option(*time);
        n.append_value(*count);
        v.append_value(*count == 0);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(a.finish()),
        Arc::new(c.finish()),
        Arc::new(l.finish()),
        Arc::new(t.finish()),
        Arc::new(n.finish()),
        Arc::new(v.finish()),
    ];
    let verification = RecordBatch::try_new(verification_schema(), columns)
        .map_err(|e| QueryError::Report(e.to_string()))?;
    let (mut a, mut k, mut c, mut s, mut l, mut m) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        UInt64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for (archive, list) in findings {
        for f in list {
            a.append_value(archive);
            k.append_value(f.kind);
            c.append_option(f.chain.as_deref());
            s.append_option(f.seq);
            l.append_option(f.location.as_deref());
            m.append_value(&f.message);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(a.finish()),
        Arc::new(k.finish()),
        Arc::new(c.finish()),
        Arc::new(s.finish()),
        Arc::new(l.finish()),
        Arc::new(m.finish()),
    ];
    let findings = RecordBatch::try_new(findings_schema(), columns)
        .map_err(|e| QueryError::Report(e.to_string()))?;
    Ok((verification, findings))
}
