//! Chain state in Kafka: `<prefix>.chain-state`, compacted, key = chain id.
//!
//! Every transaction of the normalizer writes, for each chain it advanced,
//! the sealer state together with the next input offset; the input offsets
//! are committed in the same transaction. So the latest committed state
//! record of a chain and the group's committed offset always agree, and a
//! new owner of a partition resumes exactly where the last committed
//! transaction ended: no gap, no duplicate, no fork.

use std::collections::BTreeMap;
use std::time::Duration;

use auditfed_platform::kafka::Kafka;
use auditfed_platform::kafka::consume::{BoundedReader, End};
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
) -> Result<BTreeMap<String, StoredChain>, ServiceError> {
    let topic = kafka.topics().chain_state();
    let reader = BoundedReader::open(
        kafka,
        &topic,
        "auditfed-chain-state-reader",
        None,
        End::HighWatermark,
    )?;
    Ok(reader.latest_values(timeout, "chain state of", |key| {
        chains.iter().any(|c| c == key).then(|| key.to_owned())
    })?)
}
