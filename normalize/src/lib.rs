//! # auditfed-normalize
//!
//! Mappers from source audit logs to OCSF 1.8.0 events, the sealer and
//! the normalizer service. The mappers are pure: no I/O, no clock, no
//! randomness. The same bytes and [`SourceMeta`] always give the
//! same events, which is what makes the hash chain of a later stage
//! reproducible when a topic is replayed.
//!
//! Two entry points:
//! - [`normalize`] takes a whole input (a file, a request body): it splits
//!   it into records ([`framing`]), detects the source when asked
//!   (`source = None`), and maps every record, reporting bad ones without
//!   stopping;
//! - [`map_record`] maps one record whose source is known (one Kafka raw
//!   message is one record).
//!
//! ```
//! use auditfed_normalize::{normalize, Output};
//! use auditfed_schemas::{SourceMeta, SourceType};
//!
//! let input = br#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-05-01T12:00:00Z",
//!   "eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1",
//!   "sourceIPAddress":"203.0.113.7","eventID":"e-1","eventType":"AwsApiCall",
//!   "recipientAccountId":"111122223333",
//!   "userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333"},
//!   "requestParameters":{"userName":"bob"}}]}"#;
//! let outputs = normalize(Some(SourceType::AwsCloudtrail), input, &SourceMeta::default());
//! let Ok(Output::Event(event)) = &outputs[0] else { panic!("{outputs:?}") };
//! assert_eq!(event.class_uid, 3001); // Account Change
//! assert_eq!(event.activity_id, 1); // Create
//! assert_eq!(event.user.as_ref().unwrap().name.as_deref(), Some("bob"));
//! ```
//!
//! Every event carries its lineage: `raw_data` (the record exactly as
//! read), `raw_data_hash` (SHA-256 of its bytes), `raw_data_size`,
//! `metadata.log_provider`, `metadata.log_source` (the object it was read
//! from), `metadata.transformation_info_list` (the mapper and its version),
//! and, under `unmapped._auditfed`, the source type, the record's position
//! and the collector's metadata. Source fields the mapper does not place in
//! an OCSF attribute are kept under `unmapped`, never dropped.
//!
//! [`detect`] tells the source from a record's content (`--source auto`).
//!
//! Also here, because they run where events are produced:
//! - [`sealer`]: puts each event of a chain into the hash chain and writes
//!   signed checkpoints (docs/integrity.md);
//! - [`upstream`]: validates AWS CloudTrail digest files, the source's own
//!   integrity evidence, and yields the verdict recorded on each event;
//! - [`service`]: the normalizer service (`auditfed run normalize`), the
//!   one part with I/O: raw topics in, mapped and sealed events out, in
//!   Kafka transactions (exactly once). The mappers it calls stay pure.

#![forbid(unsafe_code)]

mod common;
pub mod detect;
mod error;
pub mod framing;
mod mappers;
pub mod sealer;
pub mod service;
/// Upstream integrity (CloudTrail digests): shared with the S3 collector, which checks log files as it reads them.
pub use auditfed_ingest::upstream;

use auditfed_schemas::ocsf::{Event, Fingerprint, Product, TransformationInfo};
use auditfed_schemas::{SourceMeta, SourceType};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub use error::{ErrorKind, NormalizeError, Position, SourceLabel};
pub use mappers::mapper_version;

/// What one record became.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An OCSF event.
    Event(Box<Event>),
    /// A record that is not an event but must not be lost either.
    SetAside(SetAside),
}

/// A record recognised as something other than an audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct SetAside {
    /// What it is.
    pub kind: SetAsideKind,
    /// Where it starts in the input.
    pub position: Position,
    /// Its exact bytes.
    pub bytes: Vec<u8>,
}

/// Kinds of set-aside records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAsideKind {
    /// A CloudTrail digest file, for upstream-integrity checking.
    CloudTrailDigest,
}

/// Splits `input` into records and maps each one.
///
/// `source = None` detects the source of every record from its content
/// ([`detect`]). Bad records yield a [`NormalizeError`] in place; the
/// records after them are still mapped.
pub fn normalize(
    source: Option<SourceType>,
    input: &[u8],
    meta: &SourceMeta,
) -> Vec<Result<Output, NormalizeError>> {
    let text_input = match source {
        Some(s) => s == SourceType::Syslog,
        None => detect::looks_like_text(input),
    };
    let frames = if text_input {
        framing::text_frames(input)
    } else {
        framing::json_frames(input)
    };
    let label = source.map_or(SourceLabel::Auto, SourceLabel::Source);
    frames
        .into_iter()
        .map(|frame| {
            let frame = frame.map_err(|(position, kind)| NormalizeError {
                source_label: label,
                position,
                kind,
            })?;
            if frame.is_cloudtrail_digest {
                return Ok(Output::SetAside(SetAside {
                    kind: SetAsideKind::CloudTrailDigest,
                    position: frame.position,
                    bytes: frame.bytes.to_vec(),
                }));
            }
            let source = match source {
                Some(s) => s,
                None => detect::detect(frame.bytes).map_err(|kind| NormalizeError {
                    source_label: SourceLabel::Auto,
                    position: frame.position,
                    kind,
                })?,
            };
            map_record(source, frame.bytes, frame.position, meta)
                .map(|e| Output::Event(Box::new(e)))
                .map_err(|kind| NormalizeError {
                    source_label: SourceLabel::Source(source),
                    position: frame.position,
                    kind,
                })
        })
        .collect()
}

/// Maps one record of a known source to an OCSF event, with its lineage.
pub fn map_record(
    source: SourceType,
    record: &[u8],
    position: Position,
    meta: &SourceMeta,
) -> Result<Event, ErrorKind> {
    let mut event = mappers::map(source, record, meta)?;
    stamp_lineage(&mut event, source, record, position, meta);
    Ok(event)
}

/// `metadata.uid` of a record whose source gives it no id (a syslog line,
/// some Azure Activity records): `af1-` and 32 hex digits of SHA-256 over
/// the source type, the object the record was read from, its position in
/// it and its bytes. Deterministic (a replay derives the same id) and
/// unique (two records differ in position or bytes), so every event can be
/// named by its uid.
pub fn derived_uid(
    source: SourceType,
    record: &[u8],
    position: Position,
    meta: &SourceMeta,
) -> String {
    let mut hash = Sha256::new();
    for part in [
        source.as_str().as_bytes(),
        meta.object.as_deref().unwrap_or("").as_bytes(),
        format!(
            "{}:{}:{}",
            position.line, position.byte_offset, position.index
        )
        .as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(record);
    format!("af1-{}", hex::encode(&hash.finalize()[..16]))
}

fn stamp_lineage(
    event: &mut Event,
    source: SourceType,
    record: &[u8],
    position: Position,
    meta: &SourceMeta,
) {
    // Valid UTF-8 (nearly always) is copied as is; `from_utf8` is much faster than the lossy path.
    event.raw_data = Some(match std::str::from_utf8(record) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(record).into_owned(),
    });
    event.raw_data_hash = Some(Fingerprint {
        algorithm: Some("SHA-256".to_owned()),
        algorithm_id: Some(3),
        value: Some(hex::encode(Sha256::digest(record))),
    });
    event.raw_data_size = Some(record.len() as i64);
    if event.metadata.uid.as_deref().is_none_or(str::is_empty) {
        event.metadata.uid = Some(derived_uid(source, record, position, meta));
    }
    event.metadata.log_source = meta.object.clone();
    event.metadata.transformation_info_list = Some(vec![TransformationInfo {
        name: Some(format!("auditfed {source} mapper")),
        uid: Some(format!("auditfed.{source}/{}", mapper_version(source))),
        lang: Some("Rust".to_owned()),
        product: Some(Product {
            name: Some("auditfed".to_owned()),
            vendor_name: Some("auditfed".to_owned()),
            ..Default::default()
        }),
    }]);
    if event.time_dt.is_none() {
        event.time_dt = common::ms_to_rfc3339(event.time);
    }
    if event.time_dt.is_some() {
        event.add_profile("datetime");
    }
    if event.cloud.is_some() {
        event.add_profile("cloud");
    }
    let mut lineage = Map::new();
    lineage.insert("source_type".into(), json!(source.as_str()));
    lineage.insert("position".into(), json!(position));
    if let Some(id) = &meta.collector_id {
        lineage.insert("collector_id".into(), json!(id));
    }
    if let Some(t) = meta.received_time {
        lineage.insert("received_time".into(), json!(t));
    }
    if let Some(verdict) = &meta.upstream_integrity {
        lineage.insert("upstream_integrity".into(), json!(verdict));
    }
    event
        .unmapped
        .get_or_insert_with(Map::new)
        .insert("_auditfed".into(), Value::Object(lineage));
}
