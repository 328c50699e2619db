//! The shared sink driver: consume `<prefix>.events` in the sink's own
//! consumer group, batch, deliver with retries, dead-letter what the SIEM
//! rejects, write a receipt per event, and commit offsets only after the
//! SIEM acknowledged (at least once; a crash between the SIEM's
//! acknowledgement and the commit re-delivers that batch, which the
//! receipts show as two deliveries of the same event).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auditfed_ingest::kafka::{Kafka, headers};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::SinkError;
use crate::config::BatchConfig;
use crate::policy::{Decision, Policy};

/// One sealed event on its way to a SIEM.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// Kafka partition and offset in `<prefix>.events`.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
    /// The chain and sequence number the event was sealed at.
    pub chain: String,
    /// Sequence number in the chain.
    pub seq: u64,
    /// `metadata.uid` of the event.
    pub uid: String,
    /// The source type (`aws_cloudtrail`, ...).
    pub source: String,
    /// Event time (ms since the epoch).
    pub time_ms: i64,
    /// OCSF class.
    pub class_uid: i64,
    /// The canonical OCSF event, byte for byte as sealed and archived.
    pub json: Vec<u8>,
}

/// How an attempt to deliver a batch ended, other than acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try the same batch again later (busy, unavailable, network, ack
    /// timeout); `after` is the SIEM's `Retry-After`.
    Retry {
        /// What happened.
        reason: String,
        /// How long the SIEM asked to wait.
        after: Option<Duration>,
    },
    /// The request was too large: the driver splits the batch.
    TooLarge {
        /// What the SIEM said.
        reason: String,
    },
    /// The SIEM refused the data: the driver bisects the batch until the
    /// events at fault are alone and dead-letters them.
    Reject {
        /// What the SIEM said.
        reason: String,
        /// The response body, kept with the dead letter.
        body: String,
    },
    /// Nothing will succeed until the configuration is fixed (token, index).
    Fatal(String),
}

/// A SIEM's protocol: one acknowledged request per call.
#[async_trait]
pub trait Service: Send {
    /// Checked at start (and retried while it says [`Failure::Retry`]).
    async fn health(&mut self) -> Result<(), Failure>;
    /// Delivers `events` in one request and waits for the SIEM's
    /// acknowledgement; returns the batch or acknowledgement id for the receipts.
    async fn deliver(&mut self, events: &[OutgoingEvent]) -> Result<String, Failure>;
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Events the SIEM acknowledged.
    pub delivered: u64,
    /// Events dead-lettered after the SIEM refused them.
    pub dead_lettered: u64,
    /// Requests (attempts) made, retries included.
    pub requests: u64,
    /// Attempts that were retried.
    pub retries: u64,
    /// Events the egress policy kept in.
    pub withheld: u64,
}

/// How an event's journey through the sink ended.
enum Outcome {
    /// Acknowledged by the SIEM in this batch.
    Delivered(String),
    /// Refused by the SIEM: reason and response body.
    Rejected(String, String),
    /// Kept in by the egress policy: the rule.
    Withheld(String),
}

/// Counts failed deliveries of receipts and dead letters.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

struct Context(Arc<Deliveries>);

impl ClientContext for Context {}

impl ProducerContext for Context {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.0.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self.0.first_error.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| e.to_string());
        }
    }
}

/// One sink's driver.
pub struct Driver<S: Service> {
    name: String,
    service: S,
    batch: BatchConfig,
    consumer: BaseConsumer,
    producer: ThreadedProducer<Context>,
    deliveries: Arc<Deliveries>,
    events_topic: String,
    receipts_topic: String,
    dlq_topic: String,
    runtime: tokio::runtime::Runtime,
    stats: Stats,
    pending: Option<OutgoingEvent>,
    policy: Policy,
}

impl<S: Service> Driver<S> {
    /// Joins the group `<prefix>.sink.<name>` (static member `instance_id`)
    /// on the events topic.
    pub fn new(
        kafka: &Kafka,
        name: &str,
        instance_id: &str,
        batch: BatchConfig,
        policy: Policy,
        service: S,
    ) -> Result<Driver<S>, SinkError> {
        let kerr = |e: rdkafka::error::KafkaError| SinkError::Kafka(e.to_string());
        let topics = kafka.topics();
        let consumer: BaseConsumer = kafka
            .client_config()
            .set("group.id", topics.sink_group(name))
            .set("group.instance.id", instance_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(kerr)?;
        consumer.subscribe(&[&topics.events()]).map_err(kerr)?;
        let deliveries = Arc::new(Deliveries::default());
        let producer = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create_with_context(Context(deliveries.clone()))
            .map_err(kerr)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SinkError::Kafka(format!("cannot start a runtime: {e}")))?;
        Ok(Driver {
            name: name.to_owned(),
            service,
            batch,
            consumer,
            producer,
            deliveries,
            events_topic: topics.events(),
            receipts_topic: topics.receipts(),
            dlq_topic: topics.dlq(),
            runtime,
            stats: Stats::default(),
            pending: None,
            policy,
        })
    }

    /// Runs until `stop` is set, or until nothing arrived for `idle`.
    pub fn run(&mut self, stop: &AtomicBool, idle: Option<Duration>) -> Result<Stats, SinkError> {
        self.healthy(stop)?;
        let mut last_event = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let batch = self.gather(stop)?;
            if batch.is_empty() {
                // Idle only counts once partitions are assigned: a restarted
                // member may wait for the group to hand them over.
                if !self.consumer.assignment().is_ok_and(|a| a.count() > 0) {
                    last_event = Instant::now();
                } else if idle.is_some_and(|idle| last_event.elapsed() >= idle) {
                    break;
                }
                continue;
            }
            last_event = Instant::now();
            self.forward(batch, stop)?;
        }
        Ok(self.stats.clone())
    }

    fn healthy(&mut self, stop: &AtomicBool) -> Result<(), SinkError> {
        let mut attempt = 0;
        loop {
            match self.runtime.block_on(self.service.health()) {
                Ok(()) => return Ok(()),
                Err(Failure::Fatal(message)) => {
                    return Err(SinkError::Fatal {
                        sink: self.name.clone(),
                        message,
                    });
                }
                Err(failure) => {
                    eprintln!("auditfed sink {}: not healthy yet: {failure:?}", self.name);
                    self.pause(attempt, &failure, stop)?;
                    attempt += 1;
                }
            }
        }
    }

    /// Polls until the batch is full or `max_ms` passed since its first event.
    fn gather(&mut self, stop: &AtomicBool) -> Result<Vec<OutgoingEvent>, SinkError> {
        let mut batch: Vec<OutgoingEvent> = self.pending.take().into_iter().collect();
        let mut bytes: usize = batch.iter().map(|e| e.json.len()).sum();
        let mut first: Option<Instant> = (!batch.is_empty()).then(Instant::now);
        let max_wait = Duration::from_millis(self.batch.max_ms);
        loop {
            if batch.len() >= self.batch.max_events || stop.load(Ordering::Relaxed) {
                return Ok(batch);
            }
            let waited = first.map_or(Duration::ZERO, |f| f.elapsed());
            if first.is_some() && waited >= max_wait {
                return Ok(batch);
            }
            let timeout = if first.is_some() {
                (max_wait - waited).min(Duration::from_millis(100))
            } else {
                Duration::from_millis(100)
            };
            match self.consumer.poll(timeout) {
                None if first.is_none() => return Ok(batch),
                None => continue,
                Some(Err(e)) => {
                    eprintln!("auditfed sink {}: consumer: {e} (retrying)", self.name);
                }
                Some(Ok(message)) => {
                    let event = outgoing(&message)?;
                    if !batch.is_empty() && bytes + event.json.len() > self.batch.max_bytes {
                        self.pending = Some(event);
                        return Ok(batch);
                    }
                    bytes += event.json.len();
                    first.get_or_insert_with(Instant::now);
                    batch.push(event);
                }
            }
        }
    }

    /// Delivers a batch (splitting, bisecting and retrying as needed), then
    /// writes receipts and dead letters, waits for Kafka to have them, and
    /// commits the batch's offsets.
    fn forward(&mut self, batch: Vec<OutgoingEvent>, stop: &AtomicBool) -> Result<(), SinkError> {
        let mut outcomes: Vec<(&OutgoingEvent, Outcome)> = Vec::new();
        // The egress policy first: nothing it withholds or redacts leaves as it was.
        let allowed: Cow<'_, [OutgoingEvent]> = if self.policy.is_open() {
            Cow::Borrowed(&batch)
        } else {
            let mut allowed = Vec::with_capacity(batch.len());
            for event in &batch {
                match self.policy.apply(&event.json) {
                    Decision::Send(json) => allowed.push(OutgoingEvent {
                        json,
                        ..event.clone()
                    }),
                    Decision::Withhold(rule) => outcomes.push((event, Outcome::Withheld(rule))),
                }
            }
            Cow::Owned(allowed)
        };
        let mut stack: Vec<&[OutgoingEvent]> = if allowed.is_empty() {
            Vec::new()
        } else {
            vec![&allowed[..]]
        };
        while let Some(part) = stack.pop() {
            let mut attempt = 0;
            loop {
                self.stats.requests += 1;
                match self.runtime.block_on(self.service.deliver(part)) {
                    Ok(id) => {
                        outcomes.extend(part.iter().map(|e| (e, Outcome::Delivered(id.clone()))));
                        break;
                    }
                    Err(Failure::TooLarge { .. } | Failure::Reject { .. }) if part.len() > 1 => {
                        // Deliver the halves in order: the first half is popped first.
                        let (left, right) = part.split_at(part.len() / 2);
                        stack.push(right);
                        stack.push(left);
                        break;
                    }
                    Err(Failure::TooLarge { reason }) => {
                        outcomes.push((&part[0], Outcome::Rejected(reason, String::new())));
                        break;
                    }
                    Err(Failure::Reject { reason, body }) => {
                        outcomes.push((&part[0], Outcome::Rejected(reason, body)));
                        break;
                    }
                    Err(Failure::Fatal(message)) => {
                        return Err(SinkError::Fatal {
                            sink: self.name.clone(),
                            message,
                        });
                    }
                    Err(failure @ Failure::Retry { .. }) => {
                        self.stats.retries += 1;
                        if attempt % 10 == 0 {
                            eprintln!(
                                "auditfed sink {}: attempt {} of a batch of {} failed: {failure:?} (retrying)",
                                self.name,
                                attempt + 1,
                                part.len()
                            );
                        }
                        self.pause(attempt, &failure, stop)?;
                        attempt += 1;
                    }
                }
            }
        }
        self.record(&outcomes)?;
        self.commit(&batch)
    }

    /// Exponential backoff with jitter (at least the SIEM's `Retry-After`);
    /// returns [`SinkError::Stopped`] when asked to stop meanwhile.
    fn pause(&self, attempt: u32, failure: &Failure, stop: &AtomicBool) -> Result<(), SinkError> {
        let cap = self.batch.max_backoff_ms.max(1);
        let exp = 100u64.saturating_mul(1 << attempt.min(20)).min(cap);
        let jitter = random_u64() % (exp / 2 + 1);
        let mut wait = Duration::from_millis(exp / 2 + jitter);
        if let Failure::Retry {
            after: Some(after), ..
        } = failure
        {
            wait = wait.max(*after);
        }
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return Err(SinkError::Stopped);
            }
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
        Ok(())
    }

    fn record(&mut self, outcomes: &[(&OutgoingEvent, Outcome)]) -> Result<(), SinkError> {
        let now = now_ms();
        for (event, outcome) in outcomes {
            let receipt = match outcome {
                Outcome::Withheld(rule) => {
                    self.stats.withheld += 1;
                    serde_json::json!({
                        "sink": self.name, "event_uid": event.uid, "chain": event.chain,
                        "seq": event.seq, "batch": null, "time_ms": now,
                        "outcome": "withheld", "reason": rule,
                    })
                }
                Outcome::Delivered(id) => {
                    self.stats.delivered += 1;
                    serde_json::json!({
                        "sink": self.name, "event_uid": event.uid, "chain": event.chain,
                        "seq": event.seq, "batch": id, "time_ms": now, "outcome": "delivered",
                    })
                }
                Outcome::Rejected(reason, body) => {
                    self.stats.dead_lettered += 1;
                    let reason = format!("sink {}: {reason}", self.name);
                    let body: String = body.chars().take(4096).collect();
                    let stage = format!("sink:{}", self.name);
                    let seq = event.seq.to_string();
                    let dead_headers = OwnedHeaders::new()
                        .insert(header(headers::STAGE, &stage))
                        .insert(header(
                            headers::REASON,
                            &format!("{reason}; response: {body}"),
                        ))
                        .insert(header(headers::CHAIN, &event.chain))
                        .insert(header(headers::SEQ, &seq))
                        .insert(header(headers::SOURCE, &event.source));
                    self.send(
                        BaseRecord::to(&self.dlq_topic)
                            .key(event.chain.as_bytes())
                            .payload(event.json.as_slice())
                            .headers(dead_headers),
                    )?;
                    serde_json::json!({
                        "sink": self.name, "event_uid": event.uid, "chain": event.chain,
                        "seq": event.seq, "batch": null, "time_ms": now,
                        "outcome": "dead_lettered", "reason": reason, "response": body,
                    })
                }
            };
            let payload = receipt.to_string();
            self.send(
                BaseRecord::to(&self.receipts_topic)
                    .key(event.uid.as_bytes())
                    .payload(payload.as_bytes()),
            )?;
        }
        rdkafka::producer::Producer::flush(&self.producer, Duration::from_secs(60))
            .map_err(|e| SinkError::Kafka(format!("receipts not written: {e}")))?;
        if self.deliveries.failed.swap(0, Ordering::Relaxed) > 0 {
            let first = self
                .deliveries
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            return Err(SinkError::Kafka(format!(
                "receipts or dead letters not written: {}",
                first.unwrap_or_default()
            )));
        }
        Ok(())
    }

    fn send(&self, mut record: BaseRecord<'_, [u8], [u8], ()>) -> Result<(), SinkError> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    r,
                )) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(SinkError::Kafka(e.to_string())),
            }
        }
    }

    fn commit(&mut self, batch: &[OutgoingEvent]) -> Result<(), SinkError> {
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for e in batch {
            let n = next.entry(e.partition).or_insert(0);
            *n = (*n).max(e.offset + 1);
        }
        let mut tpl = TopicPartitionList::new();
        for (partition, offset) in next {
            tpl.add_partition_offset(&self.events_topic, partition, Offset::Offset(offset))
                .map_err(|e| SinkError::Kafka(e.to_string()))?;
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Sync) {
            // Delivered and receipted; after a rebalance the new owner
            // delivers these again (counted as duplicates by the receipts).
            eprintln!("auditfed sink {}: commit failed: {e}", self.name);
        }
        Ok(())
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

/// An events-topic message as an [`OutgoingEvent`].
fn outgoing(message: &rdkafka::message::BorrowedMessage<'_>) -> Result<OutgoingEvent, SinkError> {
    let json = message.payload().unwrap_or_default().to_vec();
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
    #[derive(serde::Deserialize)]
    struct Head {
        time: i64,
        class_uid: i64,
        metadata: Metadata,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        uid: Option<String>,
    }
    let head: Head = serde_json::from_slice(&json).map_err(|e| {
        SinkError::Kafka(format!(
            "events topic partition {} offset {}: not a sealed OCSF event: {e}",
            message.partition(),
            message.offset()
        ))
    })?;
    Ok(OutgoingEvent {
        partition: message.partition(),
        offset: message.offset(),
        uid: head
            .metadata
            .uid
            .unwrap_or_else(|| format!("{chain}:{seq}")),
        chain,
        seq,
        source,
        time_ms: head.time,
        class_uid: head.class_uid,
        json,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn random_u64() -> u64 {
    use rand_core::RngCore;
    rand_core::OsRng.next_u64()
}
