//! Consuming: the consumer-group member every stage runs as, and the
//! bounded reader that reads a topic to its end (cursors, chain states,
//! a replayed range of events).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::Kafka;
use crate::error::{Class, PlatformError};

/// A read_committed member of consumer group `group_id`, as static member
/// `instance_id` (KIP-345: a restarted instance takes its partitions back
/// at once instead of waiting out the session timeout). Offsets are stored
/// and committed only by the caller (after its transaction or its SIEM's
/// acknowledgement); a new group starts at the earliest offset.
pub fn group_member<C: ConsumerContext>(
    kafka: &Kafka,
    group_id: &str,
    instance_id: &str,
    context: C,
) -> Result<BaseConsumer<C>, PlatformError> {
    kafka
        .client_config()
        .set("group.id", group_id)
        .set("group.instance.id", instance_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create_with_context(context)
        .map_err(PlatformError::kafka(format!(
            "cannot join consumer group {group_id} as {instance_id}"
        )))
}

/// Where a [`BoundedReader`] stops in each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The last stable offset: what is committed when the partition's end
    /// is reached (an open transaction's records are not waited for).
    Stable,
    /// The high watermark when the reader opened: an open transaction of
    /// another instance is waited for until it commits or aborts.
    HighWatermark,
}

/// What [`BoundedReader::next`] found.
pub enum Read<'a> {
    /// A committed record.
    Record(BorrowedMessage<'a>),
    /// Nothing within the timeout; the reader is not at its end yet.
    Idle,
    /// Every partition is read to its end.
    End,
}

/// Reads a topic (read_committed) from a start to the end it had when the
/// reader opened, without joining a consumer group.
pub struct BoundedReader {
    consumer: BaseConsumer,
    topic: String,
    /// Partitions not read to their end yet, with that end (exclusive).
    ends: BTreeMap<i32, i64>,
}

impl BoundedReader {
    /// Every committed record of `topic` (to its last stable offset);
    /// `reader` names the client in the broker's logs.
    pub fn from_beginning(
        kafka: &Kafka,
        topic: &str,
        reader: &str,
    ) -> Result<BoundedReader, PlatformError> {
        BoundedReader::open(kafka, topic, reader, None, End::Stable)
    }

    /// Records of `topic` from the first one written at or after
    /// `from_ms` (epoch ms, by the records' timestamps) to `end`.
    pub fn open(
        kafka: &Kafka,
        topic: &str,
        reader: &str,
        from_ms: Option<i64>,
        end: End,
    ) -> Result<BoundedReader, PlatformError> {
        let consumer: BaseConsumer = kafka
            .client_config()
            .set("group.id", reader)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set(
                "enable.partition.eof",
                if end == End::Stable { "true" } else { "false" },
            )
            .create()
            .map_err(PlatformError::kafka(format!(
                "cannot create reader {reader}"
            )))?;
        let timeout = Duration::from_secs(60);
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(PlatformError::kafka(format!("metadata of {topic}")))?;
        let mut ends = BTreeMap::new();
        let mut wanted = TopicPartitionList::new();
        for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (low, high) =
                consumer
                    .fetch_watermarks(topic, p.id(), timeout)
                    .map_err(PlatformError::kafka(format!(
                        "watermarks of {topic}/{}",
                        p.id()
                    )))?;
            if high > low {
                ends.insert(p.id(), high);
                let start = from_ms.map_or(Offset::Beginning, Offset::Offset);
                wanted
                    .add_partition_offset(topic, p.id(), start)
                    .map_err(PlatformError::kafka(format!("{topic}/{}", p.id())))?;
            }
        }
        let mut assignment = wanted.clone();
        if from_ms.is_some() && !ends.is_empty() {
            // Timestamps to offsets: a partition with nothing at or after
            // `from_ms` has nothing to read.
            let found = consumer
                .offsets_for_times(wanted, timeout)
                .map_err(PlatformError::kafka(format!("offsets of {topic} by time")))?;
            assignment = TopicPartitionList::new();
            for element in found.elements() {
                let partition = element.partition();
                match element.offset() {
                    Offset::Offset(o) if ends.get(&partition).is_some_and(|&end| o < end) => {
                        assignment
                            .add_partition_offset(topic, partition, Offset::Offset(o))
                            .map_err(PlatformError::kafka(format!("{topic}/{partition}")))?;
                    }
                    _ => {
                        ends.remove(&partition);
                    }
                }
            }
        }
        if !ends.is_empty() {
            consumer
                .assign(&assignment)
                .map_err(PlatformError::kafka(format!("cannot assign {topic}")))?;
        }
        Ok(BoundedReader {
            consumer,
            topic: topic.to_owned(),
            ends,
        })
    }

    /// The topic read.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next record, waiting at most `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Result<Read<'_>, PlatformError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.ends.is_empty() {
                return Ok(Read::End);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.consumer.poll(left.min(Duration::from_millis(100))) {
                Some(Ok(m)) => {
                    let Some(&end) = self.ends.get(&m.partition()) else {
                        continue; // past the end of a partition already done
                    };
                    if m.offset() >= end {
                        self.ends.remove(&m.partition());
                        continue;
                    }
                    if m.offset() + 1 >= end {
                        self.ends.remove(&m.partition());
                    }
                    return Ok(Read::Record(m));
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    self.ends.remove(&p);
                }
                Some(Err(e)) => {
                    return Err(PlatformError::kafka(format!("reading {}", self.topic))(e));
                }
                None => {
                    // Nothing came: a partition may have reached its end
                    // through transaction markers, which take the offsets
                    // after its last record without a message. Asked only
                    // when idle, not once per record.
                    drop_passed_ends(&self.consumer, &mut self.ends);
                    if !self.ends.is_empty() && Instant::now() >= deadline {
                        return Ok(Read::Idle);
                    }
                }
            }
        }
    }

    /// Calls `each` for every record to the end, giving up (transient)
    /// after `timeout` without reaching it.
    pub fn for_each<E: From<PlatformError>>(
        mut self,
        timeout: Duration,
        mut each: impl FnMut(&BorrowedMessage<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let topic = self.topic.clone();
            match self.next(left)? {
                Read::Record(m) => each(&m)?,
                Read::End => return Ok(()),
                Read::Idle => {
                    return Err(PlatformError::Cluster {
                        message: format!(
                            "reading {topic}: not at its end after {timeout:?} (an open transaction of another instance?)"
                        ),
                        class: Class::Transient,
                    }
                    .into());
                }
            }
        }
    }
}

impl BoundedReader {
    /// The latest value of every key of a compacted topic that `wanted`
    /// maps to a name (a tombstone removes it), read to the end; values are
    /// JSON `T`. An unreadable value is fatal, naming `what` (`cursor`,
    /// `chain state`), its key and where it is.
    pub fn latest_values<T: DeserializeOwned>(
        self,
        timeout: Duration,
        what: &str,
        wanted: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, T>, PlatformError> {
        let topic = self.topic.clone();
        let mut values = BTreeMap::new();
        self.for_each(timeout, |m| {
            let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
            let Some(name) = wanted(&key) else {
                return Ok(());
            };
            match m.payload() {
                Some(bytes) => {
                    let value =
                        serde_json::from_slice(bytes).map_err(|e| PlatformError::Cluster {
                            message: format!(
                                "{topic}/{}@{}: {what} {name} unreadable: {e}",
                                m.partition(),
                                m.offset()
                            ),
                            class: Class::Fatal,
                        })?;
                    values.insert(name, value);
                }
                None => {
                    values.remove(&name);
                }
            }
            Ok::<(), PlatformError>(())
        })?;
        Ok(values)
    }
}

/// Forgets the partitions of `ends` whose position passed their end.
fn drop_passed_ends(consumer: &BaseConsumer, ends: &mut BTreeMap<i32, i64>) {
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
