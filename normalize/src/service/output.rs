//! What one record becomes: mapping (on every core) and sealing into the
//! events, checkpoints and dead letters a transaction produces.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use auditfed_platform::kafka::headers;
use auditfed_schemas::seal::SealError;
use auditfed_schemas::{SourceMeta, SourceType};
use rdkafka::message::{Header, OwnedHeaders};

use super::{Chain, Raw, ServiceError};
use crate::{Output, normalize};

/// What one transaction will produce.
pub(super) enum Pending {
    Event {
        chain: String,
        seq: u64,
        leaf: String,
        chain_hash: String,
        source: SourceType,
        raw: String,
        canonical: Vec<u8>,
    },
    Checkpoint {
        chain: String,
        /// The signed note's text.
        note: String,
    },
    DeadLetter {
        source: SourceType,
        raw: String,
        object: Option<String>,
        reason: String,
        payload: Vec<u8>,
    },
}

pub(super) struct PendingRecord<'a> {
    pub(super) key: &'a str,
    pub(super) payload: &'a [u8],
    pub(super) headers: OwnedHeaders,
}

impl Pending {
    pub(super) fn record<'a>(
        &'a self,
        topics: &auditfed_schemas::config::Topics,
    ) -> (String, PendingRecord<'a>) {
        let h = |k: &'static str, v: &'a str| Header {
            key: k,
            value: Some(v),
        };
        match self {
            Pending::Event {
                chain,
                seq,
                leaf,
                chain_hash,
                source,
                raw,
                canonical,
            } => (
                topics.events(),
                PendingRecord {
                    key: chain,
                    payload: canonical,
                    headers: OwnedHeaders::new()
                        .insert(h(headers::CHAIN, chain))
                        .insert(Header {
                            key: headers::SEQ,
                            value: Some(seq.to_string().as_str()),
                        })
                        .insert(h(headers::LEAF, leaf))
                        .insert(h(headers::CHAIN_HASH, chain_hash))
                        .insert(h(headers::SOURCE, source.as_str()))
                        .insert(h(headers::RAW, raw)),
                },
            ),
            Pending::Checkpoint { chain, note } => (
                topics.seals(),
                PendingRecord {
                    key: chain,
                    payload: note.as_bytes(),
                    headers: OwnedHeaders::new().insert(h(headers::CHAIN, chain)),
                },
            ),
            Pending::DeadLetter {
                source,
                raw,
                object,
                reason,
                payload,
            } => (
                topics.dlq(),
                PendingRecord {
                    key: object.as_deref().unwrap_or(raw),
                    payload,
                    headers: {
                        let mut hs = OwnedHeaders::new()
                            .insert(h(headers::SOURCE, source.as_str()))
                            .insert(h(headers::RAW, raw))
                            .insert(h(headers::STAGE, "normalize"))
                            .insert(h(headers::REASON, reason));
                        if let Some(o) = object {
                            hs = hs.insert(h(headers::OBJECT, o));
                        }
                        hs
                    },
                },
            ),
        }
    }
}

/// Maps the batch's records on all cores, in batch order.
pub(super) fn map_parallel(
    batch: &[Raw],
    chains: &HashMap<(String, i32), Chain>,
    now: i64,
) -> Vec<Vec<Result<Output, String>>> {
    let map_one = |raw: &Raw| match chains.get(&(raw.topic.clone(), raw.partition)) {
        Some(chain) if raw.offset >= chain.next_offset => map_record(chain.source, raw, now),
        _ => Vec::new(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || batch.len() < 64 {
        return batch.iter().map(map_one).collect();
    }
    let chunk = batch.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = batch
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(map_one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .expect("map_record turns mapper panics into errors")
            })
            .collect()
    })
}

/// Maps one raw record; a mapper panic becomes an error, never a stalled partition.
fn map_record(source: SourceType, raw: &Raw, now: i64) -> Vec<Result<Output, String>> {
    let meta = SourceMeta {
        object: Some(
            match (raw.header(headers::OBJECT), raw.header(headers::OFFSET)) {
                (Some(o), Some(off)) => format!("{o}#{off}"),
                (Some(o), None) => o.to_owned(),
                _ => format!("kafka://{}/{}/{}", raw.topic, raw.partition, raw.offset),
            },
        ),
        collector_id: raw.header(headers::COLLECTOR).map(str::to_owned),
        received_time: raw
            .header(headers::RECEIVED_MS)
            .and_then(|v| v.parse().ok())
            .or(Some(now)),
        assumed_year: None,
        upstream_integrity: raw.header(headers::UPSTREAM_INTEGRITY).map(str::to_owned),
    };
    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        normalize(Some(source), &raw.payload, &meta)
    })) {
        Ok(outputs) if outputs.is_empty() => {
            vec![Err("no event in the record (empty or whitespace)".into())]
        }
        Ok(outputs) => outputs
            .into_iter()
            .map(|o| o.map_err(|e| e.to_string()))
            .collect(),
        Err(_) => vec![Err(
            "the mapper panicked on this record (a bug: please report it with the record)".into(),
        )],
    }
}

/// An event already in canonical form (computed once, for the size check and the seal).
struct Canonical(Vec<u8>);

impl crate::sealer::Sealable for Canonical {
    fn canonical(&self) -> Result<Vec<u8>, SealError> {
        Ok(self.0.clone())
    }
}

pub(super) fn seal_output(
    chain: &mut Chain,
    raw: &Raw,
    output: Result<Output, String>,
    now: i64,
    max_event_bytes: usize,
    out: &mut Vec<Pending>,
) -> Result<(), ServiceError> {
    let position = format!("{}/{}/{}", raw.topic, raw.partition, raw.offset);
    let dead = |reason: String| Pending::DeadLetter {
        source: chain.source,
        raw: position.clone(),
        object: raw
            .key
            .as_ref()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        reason,
        payload: raw.payload.clone(),
    };
    let seal_err = |e: SealError| ServiceError::Seal(e.to_string());
    match output {
        Ok(Output::Event(event)) => {
            let canonical = crate::sealer::Sealable::canonical(event.as_ref()).map_err(seal_err)?;
            // Too large for the events topic: rejected before sealing, so the chain has no hole.
            if canonical.len() > max_event_bytes {
                out.push(dead(format!(
                    "the sealed event would be {} bytes, over the {max_event_bytes}-byte limit of the events topic",
                    canonical.len()
                )));
                return Ok(());
            }
            let (sealed, note) = chain
                .sealer
                .seal(&Canonical(canonical), now)
                .map_err(seal_err)?;
            out.push(Pending::Event {
                chain: sealed.chain.clone(),
                seq: sealed.seq,
                leaf: hex::encode(sealed.leaf),
                chain_hash: hex::encode(sealed.chain_hash),
                source: chain.source,
                raw: position,
                canonical: sealed.canonical,
            });
            // The checkpoint follows its last event, in the same transaction.
            if let Some(note) = note {
                out.push(Pending::Checkpoint {
                    chain: sealed.chain,
                    note: note.to_string(),
                });
            }
        }
        Ok(Output::SetAside(set_aside)) => out.push(dead(format!(
            "set aside: {:?} (not an audit event; upstream-integrity input)",
            set_aside.kind
        ))),
        Err(reason) => out.push(dead(reason)),
    }
    Ok(())
}
