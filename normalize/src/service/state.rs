//! Chain state in Kafka: `<prefix>.chain-state`, compacted, key = chain id.
//!
//! Every transaction of the normalizer writes, for each chain it advanced,
//! the sealer state together with the next input offset; the input offsets
//! are committed in the same transaction. So the latest committed state
//! record of a chain and the group's committed offset always agree, and a
//! new owner of a partition resumes exactly where the last committed
//! transaction ended: no gap, no duplicate, no fork.

use std::collections::HashMap;
use std::time::Duration;

use auditfed_platform::kafka::Kafka;
use auditfed_platform::kafka::consume::{BoundedReader, End};
use rdkafka::Message;
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
/// the end of the topic as it was when called: an open transaction of
/// another instance is waited for).
pub fn load(
    kafka: &Kafka,
    chains: &[String],
    timeout: Duration,
) -> Result<HashMap<String, StoredChain>, ServiceError> {
    let topic = kafka.topics().chain_state();
    let reader = BoundedReader::open(
        kafka,
        &topic,
        "auditfed-chain-state-reader",
        None,
        End::HighWatermark,
    )?;
    let mut found: HashMap<String, StoredChain> = HashMap::new();
    reader.for_each(timeout, |m| {
        let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
        if !chains.iter().any(|c| c.as_str() == key) {
            return Ok(());
        }
        match m.payload() {
            Some(bytes) => {
                let stored: StoredChain = serde_json::from_slice(bytes).map_err(|e| {
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
        Ok::<(), ServiceError>(())
    })?;
    Ok(found)
}
