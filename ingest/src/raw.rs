//! The producer side: raw records into `<prefix>.raw.<source>`, rejected
//! bytes into `<prefix>.dlq`, with an idempotent producer (no duplicates
//! from retries, order kept per partition). Collectors reuse it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auditfed_schemas::SourceType;
use auditfed_schemas::config::Topics;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message};

use crate::IngestError;
use auditfed_platform::PlatformError;
use auditfed_platform::kafka::produce::send_blocking_threaded;
use auditfed_platform::kafka::{Kafka, headers};

/// One raw record as a collector read it.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Its source type: decides the topic.
    pub source: SourceType,
    /// The object it was read from (file path, `s3://bucket/key`, ...): the record key.
    pub object: &'a str,
    /// Its position within the object (byte offset, line, API cursor).
    pub offset: u64,
    /// The bytes, unaltered.
    pub bytes: &'a [u8],
    /// When auditfed received it, epoch milliseconds.
    pub received_ms: i64,
}

/// Where a reader puts what it read: records, and the bytes it rejected
/// with the reason. [`RawProducer`] (idempotent, no cursor) and
/// [`crate::collect::Collecting`] (transactional, with cursors) are the two.
pub trait Emit {
    /// One record for the raw topic of its source.
    fn send(&mut self, record: &RawRecord<'_>) -> Result<(), IngestError>;
    /// Rejected bytes for the dead-letter topic.
    fn dead_letter(&mut self, record: &RawRecord<'_>, reason: &str) -> Result<(), IngestError>;
}

impl Emit for &RawProducer {
    fn send(&mut self, record: &RawRecord<'_>) -> Result<(), IngestError> {
        RawProducer::send(self, record)
    }
    fn dead_letter(&mut self, record: &RawRecord<'_>, reason: &str) -> Result<(), IngestError> {
        RawProducer::dead_letter(self, record, reason)
    }
}

/// Delivery outcomes, counted by librdkafka's callback thread.
#[derive(Default)]
pub struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| format!("{} : {e}", m.topic()));
            }
        }
    }
}

/// What a flush found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Records the brokers acknowledged.
    pub delivered: u64,
    /// Records that could not be delivered.
    pub failed: u64,
    /// The first failure's reason.
    pub first_error: Option<String>,
}

/// Idempotent producer of raw records and dead letters. `Send`, so a
/// collector may produce from its own threads; with the embedded cluster,
/// keep the [`Kafka`] it was made from alive as long as the producer.
pub struct RawProducer {
    producer: ThreadedProducer<Deliveries>,
    topics: Topics,
    collector_id: String,
}

impl RawProducer {
    /// A producer on `kafka`, stamping `collector_id` on every record.
    pub fn new(kafka: &Kafka, collector_id: &str) -> Result<RawProducer, IngestError> {
        let producer = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .set("compression.type", "zstd")
            .set("linger.ms", "20")
            .create_with_context(Deliveries::default())
            .map_err(PlatformError::kafka("cannot create a producer"))?;
        Ok(RawProducer {
            producer,
            topics: kafka.topics().clone(),
            collector_id: collector_id.to_owned(),
        })
    }

    /// Queues a raw record (blocks while librdkafka's queue is full: backpressure).
    pub fn send(&self, record: &RawRecord<'_>) -> Result<(), IngestError> {
        let topic = self.topics.raw(record.source.as_str());
        self.enqueue(&topic, record.object, record.bytes, self.position(record))
    }

    /// Queues rejected bytes for the dead-letter topic with the reason.
    pub fn dead_letter(&self, record: &RawRecord<'_>, reason: &str) -> Result<(), IngestError> {
        let topic = self.topics.dlq();
        let h = self
            .position(record)
            .insert(header(headers::STAGE, "ingest"))
            .insert(header(headers::REASON, reason));
        self.enqueue(&topic, record.object, record.bytes, h)
    }

    fn position(&self, record: &RawRecord<'_>) -> OwnedHeaders {
        record_headers(record, &self.collector_id)
    }

    fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<(), IngestError> {
        let record = BaseRecord::to(topic)
            .key(key)
            .payload(payload)
            .headers(headers);
        send_blocking_threaded(&self.producer, record)
            .map_err(|e| PlatformError::kafka(format!("cannot produce to {topic}"))(e).into())
    }

    /// Waits until every queued record is acknowledged or failed.
    pub fn flush(&self, timeout: Duration) -> Result<DeliveryReport, IngestError> {
        self.producer
            .flush(timeout)
            .map_err(PlatformError::kafka(format!(
                "records not acknowledged within {timeout:?}"
            )))?;
        let c = self.producer.context();
        Ok(DeliveryReport {
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            first_error: c
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        })
    }
}

/// The headers every record from a collector carries: where it came from.
pub(crate) fn record_headers(record: &RawRecord<'_>, collector_id: &str) -> OwnedHeaders {
    let offset = record.offset.to_string();
    let received = record.received_ms.to_string();
    OwnedHeaders::new()
        .insert(header(headers::SOURCE, record.source.as_str()))
        .insert(header(headers::OBJECT, record.object))
        .insert(header(headers::OFFSET, &offset))
        .insert(header(headers::RECEIVED_MS, &received))
        .insert(header(headers::COLLECTOR, collector_id))
}

pub(crate) fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
