//! Chain state in Kafka: `<prefix>.chain-state`, compacted, key = chain id.
//!
//! Every transaction of the normalizer writes, for each chain it advanced,
//! the sealer state together with the next input offset; the input offsets
//! are committed in the same transaction. So the latest committed state
//! record of a chain and the group's committed offset always agree, and a
//! new owner of a partition resumes exactly where the last committed
//! transaction ended: no gap, no duplicate, no fork.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use auditfed_ingest::kafka::Kafka;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::ServiceError;
use crate::sealer::ChainState;

/// The value of a chain-state record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredChain {
    /// Format version of this record.
    pub v: u32,
    /// The raw topic and partition the chain seals.
    pub input: String,
    /// The input offset the chain continues from.
    pub next_offset: i64,
    /// The sealer's state after the last record before `next_offset`.
    pub state: ChainState,
}

/// Reads the latest committed record of each of `chains` (read_committed, to
/// the end of the topic as it was when called).
pub fn load(
    kafka: &Kafka,
    chains: &[String],
    timeout: Duration,
) -> Result<HashMap<String, StoredChain>, ServiceError> {
    let topic = kafka.topics().chain_state();
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", "auditfed-chain-state-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(|e| ServiceError::Kafka(format!("state reader: {e}")))?;
    let metadata = consumer
        .fetch_metadata(Some(&topic), timeout)
        .map_err(|e| ServiceError::Kafka(format!("metadata of {topic}: {e}")))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&topic, *p, timeout)
            .map_err(|e| ServiceError::Kafka(format!("watermarks of {topic}/{p}: {e}")))?;
        if high > low {
            ends.insert(*p, high);
            tpl.add_partition_offset(&topic, *p, Offset::Beginning)
                .map_err(|e| ServiceError::Kafka(e.to_string()))?;
        }
    }
    let mut found: HashMap<String, StoredChain> = HashMap::new();
    if ends.is_empty() {
        return Ok(found);
    }
    consumer
        .assign(&tpl)
        .map_err(|e| ServiceError::Kafka(format!("assign {topic}: {e}")))?;
    let deadline = Instant::now() + timeout;
    // A partition is read once the position reached its end offset as it was at
    // the start: open transactions of other instances are waited for.
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(ServiceError::Kafka(format!(
                "reading {topic}: not at its end after {timeout:?} (an open transaction of another instance?)"
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                if chains.iter().any(|c| c.as_str() == key) {
                    match m.payload() {
                        Some(bytes) => {
                            let stored: StoredChain =
                                serde_json::from_slice(bytes).map_err(|e| {
                                    ServiceError::State(format!(
                                        "{topic}/{}@{}: chain state of {key} unreadable: {e}",
                                        m.partition(),
                                        m.offset()
                                    ))
                                })?;
                            found.insert(key.into_owned(), stored);
                        }
                        // A tombstone: the chain was reset by an operator.
                        None => {
                            found.remove(key.as_ref());
                        }
                    }
                }
                if let Some(end) = ends.get(&m.partition())
                    && m.offset() + 1 >= *end
                {
                    ends.remove(&m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => return Err(ServiceError::Kafka(format!("reading {topic}: {e}"))),
        }
        // Transaction markers occupy offsets after the last record: the
        // consumer's position passes them without a message.
        if let Ok(positions) = consumer.position() {
            for e in positions.elements() {
                if let Offset::Offset(pos) = e.offset()
                    && ends.get(&e.partition()).is_some_and(|end| pos >= *end)
                {
                    ends.remove(&e.partition());
                }
            }
        }
    }
    Ok(found)
}
