//! Where a driver's events come from: the sink's consumer group (the normal
//! run), a time range of the events topic, or events read elsewhere (the
//! archive) — the last two for `auditfed replay`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use auditfed_platform::kafka::consume::{BoundedReader, End, Read, group_member};
use auditfed_platform::kafka::{Kafka, headers};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata, DefaultConsumerContext};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::OutgoingEvent;
use crate::SinkError;

/// One poll of a feed.
pub enum Polled {
    /// The next event.
    Event(OutgoingEvent),
    /// Nothing arrived within the timeout.
    Idle,
    /// A bounded feed has given everything.
    End,
}

/// A source of sealed events for a [`super::Driver`].
pub trait Feed: Send {
    /// The next event, waiting at most `timeout`.
    fn poll(&mut self, timeout: Duration) -> Result<Polled, SinkError>;
    /// The consumer group member this feed reads as, when it reads in a
    /// group: the driver commits each batch's receipts, dead letters and
    /// offsets in one Kafka transaction of this transactional id (which
    /// also fences an older process of the same member).
    fn member(&self) -> Option<String> {
        None
    }
    /// The group position to commit with a batch's receipts: everything
    /// below `next` (partition → offset) was delivered. `None`: a feed
    /// outside any group remembers nothing.
    fn position(&self, next: &BTreeMap<i32, i64>) -> Result<Option<GroupPosition>, SinkError> {
        let _ = next;
        Ok(None)
    }
    /// After an aborted transaction: reads again from the committed
    /// position of every partition it holds.
    fn rewind(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Stops (or resumes) fetching while every in-flight slot is taken,
    /// without leaving the consumer group.
    fn pause(&mut self, paused: bool) {
        let _ = paused;
    }
    /// Called while the driver waits for a batch to land (the feed is
    /// paused): a consumer group member polls so it stays in its group and
    /// may hand out an event of a partition it was just assigned.
    fn keep_alive(&mut self, timeout: Duration) -> Result<Option<OutgoingEvent>, SinkError> {
        std::thread::sleep(timeout);
        Ok(None)
    }
    /// Whether the feed can hand out events yet (a group member waits for
    /// its partitions); idle time only counts once it can.
    fn ready(&self) -> bool {
        true
    }
    /// `"run"` or `"replay"`: written into every receipt.
    fn mode(&self) -> &'static str {
        "run"
    }
}

/// How long a call to the broker may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

fn kafka_error(e: rdkafka::error::KafkaError) -> SinkError {
    SinkError::Kafka(e.to_string())
}

/// Offsets of the events topic and the consumer group they belong to,
/// committed in a transaction (`send_offsets_to_transaction`).
pub struct GroupPosition {
    /// The events topic's partitions and next offsets.
    pub offsets: TopicPartitionList,
    /// The group's generation and member: a member that lost the
    /// partitions in a rebalance cannot commit them.
    pub group: ConsumerGroupMetadata,
}

/// The sink's consumer group on the events topic (static member
/// `instance_id`): offsets committed with the receipts, after the SIEM
/// acknowledged.
pub struct GroupFeed {
    consumer: BaseConsumer,
    topic: String,
    member: String,
    paused: bool,
}

impl GroupFeed {
    /// Joins `<prefix>.sink.<name>` as static member `instance_id`.
    pub fn join(kafka: &Kafka, sink: &str, instance_id: &str) -> Result<GroupFeed, SinkError> {
        let topics = kafka.topics();
        let consumer: BaseConsumer = group_member(
            kafka,
            &topics.sink_group(sink),
            instance_id,
            DefaultConsumerContext,
        )?;
        consumer
            .subscribe(&[&topics.events()])
            .map_err(kafka_error)?;
        Ok(GroupFeed {
            consumer,
            topic: topics.events(),
            member: format!("{}.{instance_id}", topics.sink_group(sink)),
            paused: false,
        })
    }
}

impl Feed for GroupFeed {
    fn poll(&mut self, timeout: Duration) -> Result<Polled, SinkError> {
        match self.consumer.poll(timeout) {
            None => Ok(Polled::Idle),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "sink consumer failed; retrying");
                Ok(Polled::Idle)
            }
            Some(Ok(message)) => outgoing(&message).map(Polled::Event),
        }
    }

    fn keep_alive(&mut self, timeout: Duration) -> Result<Option<OutgoingEvent>, SinkError> {
        match self.poll(timeout)? {
            Polled::Event(event) => Ok(Some(event)),
            _ => Ok(None),
        }
    }

    fn member(&self) -> Option<String> {
        Some(self.member.clone())
    }

    fn position(&self, next: &BTreeMap<i32, i64>) -> Result<Option<GroupPosition>, SinkError> {
        let mut offsets = TopicPartitionList::new();
        for (&partition, &offset) in next {
            offsets
                .add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                .map_err(kafka_error)?;
        }
        let group = self.consumer.group_metadata().ok_or_else(|| {
            SinkError::Uncommitted("the consumer is not in its group (yet)".into())
        })?;
        Ok(Some(GroupPosition { offsets, group }))
    }

    fn rewind(&mut self) -> Result<(), SinkError> {
        let committed = self
            .consumer
            .committed(KAFKA_TIMEOUT)
            .map_err(kafka_error)?;
        for element in committed.elements() {
            // Never committed: where a new group starts.
            let offset = match element.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            self.consumer
                .seek(element.topic(), element.partition(), offset, KAFKA_TIMEOUT)
                .map_err(kafka_error)?;
        }
        Ok(())
    }

    fn pause(&mut self, paused: bool) {
        if paused == self.paused {
            return;
        }
        if let Ok(assignment) = self.consumer.assignment() {
            let result = if paused {
                self.consumer.pause(&assignment)
            } else {
                self.consumer.resume(&assignment)
            };
            if result.is_ok() {
                self.paused = paused;
            }
        }
    }

    fn ready(&self) -> bool {
        self.consumer.assignment().is_ok_and(|a| a.count() > 0)
    }
}

impl Drop for GroupFeed {
    /// Leaves the group while the consumer is still open: librdkafka's
    /// close can hang for good serving a rebalance that was pending when it
    /// began (librdkafka#4041; seen when the sink stopped on a refused
    /// secret while its join completed).
    fn drop(&mut self) {
        self.consumer.unsubscribe();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let event = self.consumer.poll(Duration::from_millis(50));
            let assigned = self.consumer.assignment().is_ok_and(|a| a.count() > 0);
            if event.is_none() && !assigned && start.elapsed() > Duration::from_millis(200) {
                break;
            }
        }
    }
}

/// The events of the events topic whose own time is in `[from, to)`, read
/// outside any consumer group (the sink's offsets stay where they are).
///
/// Events are sealed after they happen, so the read starts at the first
/// offset Kafka's time index has at `from` minus [`CLOCK_SKEW_MS`], and
/// runs to the end each partition had when the replay started (a late
/// event of the range may have been sealed long after `to`).
pub struct RangeFeed {
    reader: BoundedReader,
    from_ms: i64,
    to_ms: Option<i64>,
}

/// How far an event's own time may be ahead of the time it was sealed at
/// (clocks of sources and of auditfed disagree).
pub const CLOCK_SKEW_MS: i64 = 3_600_000;

impl RangeFeed {
    /// Opens the range `[from_ms, to_ms)` (epoch ms; no `to`: until now).
    pub fn open(kafka: &Kafka, from_ms: i64, to_ms: Option<i64>) -> Result<RangeFeed, SinkError> {
        let topic = kafka.topics().events();
        // Transaction markers sit after the last event: the end of a
        // partition is its last stable offset, not the watermark.
        let reader = BoundedReader::open(
            kafka,
            &topic,
            &format!("{topic}.replay"),
            Some(from_ms - CLOCK_SKEW_MS),
            End::Stable,
        )?;
        Ok(RangeFeed {
            reader,
            from_ms,
            to_ms,
        })
    }
}

impl Feed for RangeFeed {
    fn poll(&mut self, timeout: Duration) -> Result<Polled, SinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.reader.next(left)? {
                Read::End => return Ok(Polled::End),
                Read::Idle => return Ok(Polled::Idle),
                Read::Record(message) => message,
            };
            let event = outgoing(&message)?;
            if event.time_ms >= self.from_ms && self.to_ms.is_none_or(|to| event.time_ms < to) {
                return Ok(Polled::Event(event));
            }
        }
    }

    fn mode(&self) -> &'static str {
        "replay"
    }
}

/// Events read elsewhere (the archive), in order, then the end.
pub struct EventsFeed {
    events: Box<dyn Iterator<Item = Result<OutgoingEvent, SinkError>> + Send>,
}

impl EventsFeed {
    /// Feeds what `events` yields.
    pub fn new(
        events: impl Iterator<Item = Result<OutgoingEvent, SinkError>> + Send + 'static,
    ) -> EventsFeed {
        EventsFeed {
            events: Box::new(events),
        }
    }
}

impl Feed for EventsFeed {
    fn poll(&mut self, _: Duration) -> Result<Polled, SinkError> {
        match self.events.next() {
            None => Ok(Polled::End),
            Some(event) => event.map(Polled::Event),
        }
    }

    fn mode(&self) -> &'static str {
        "replay"
    }
}

/// An events-topic message as an [`OutgoingEvent`].
fn outgoing(message: &rdkafka::message::BorrowedMessage<'_>) -> Result<OutgoingEvent, SinkError> {
    let mut chain = String::new();
    let mut seq = 0;
    let mut source = String::new();
    if let Some(h) = message.headers() {
        for header in h.iter() {
            let value = String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned();
            match header.key {
                headers::CHAIN => chain = value,
                headers::SEQ => seq = value.parse().unwrap_or(0),
                headers::SOURCE => source = value,
                _ => {}
            }
        }
    }
    OutgoingEvent::sealed(
        message.payload().unwrap_or_default().to_vec(),
        chain,
        seq,
        source,
        message.partition(),
        message.offset(),
    )
    .map_err(|e| {
        SinkError::Kafka(format!(
            "events topic partition {} offset {}: {e}",
            message.partition(),
            message.offset()
        ))
    })
}
