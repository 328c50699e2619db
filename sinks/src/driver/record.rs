//! Receipts (`<prefix>.receipts`, one per event and outcome) and dead
//! letters (`<prefix>.dlq`), written and flushed before a batch's offsets
//! are committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auditfed_platform::kafka::produce::{flush_now, send_blocking};
use auditfed_platform::kafka::{Kafka, headers};
use rdkafka::ClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};

use super::{Outcome, OutgoingEvent, Stats};
use crate::SinkError;

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

/// Writes receipts and dead letters for one sink.
pub(super) struct Recorder {
    sink: String,
    /// Polled by the driver's thread itself (in `flush`): a threaded
    /// producer's poll loop would hold each flush up to 100 ms.
    producer: BaseProducer<Context>,
    deliveries: Arc<Deliveries>,
    receipts_topic: String,
    dlq_topic: String,
}

impl Recorder {
    pub fn new(kafka: &Kafka, sink: &str) -> Result<Recorder, SinkError> {
        let deliveries = Arc::new(Deliveries::default());
        let producer = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create_with_context(Context(deliveries.clone()))
            .map_err(|e| SinkError::Kafka(e.to_string()))?;
        Ok(Recorder {
            sink: sink.to_owned(),
            producer,
            deliveries,
            receipts_topic: kafka.topics().receipts(),
            dlq_topic: kafka.topics().dlq(),
        })
    }

    /// Queues a receipt per outcome (and a dead letter per refused event)
    /// and waits until Kafka has every one of them.
    pub fn record<'a>(
        &self,
        outcomes: impl Iterator<Item = (&'a OutgoingEvent, &'a Outcome)>,
        mode: &str,
        stats: &mut Stats,
    ) -> Result<(), SinkError> {
        let now = auditfed_platform::clock::now_ms();
        let sink = &self.sink;
        for (event, outcome) in outcomes {
            let mut receipt = serde_json::json!({
                "sink": sink, "event_uid": event.uid, "chain": event.chain,
                "seq": event.seq, "batch": null, "time_ms": now, "mode": mode,
            });
            match outcome {
                Outcome::Withheld(rule) => {
                    stats.withheld += 1;
                    receipt["outcome"] = "withheld".into();
                    receipt["reason"] = rule.as_str().into();
                }
                Outcome::Delivered(id) => {
                    stats.delivered += 1;
                    receipt["outcome"] = "delivered".into();
                    receipt["batch"] = id.as_str().into();
                }
                Outcome::Rejected(reason, body) => {
                    stats.dead_lettered += 1;
                    let reason = format!("sink {sink}: {reason}");
                    let body: String = body.chars().take(4096).collect();
                    self.dead_letter(event, &format!("{reason}; response: {body}"))?;
                    receipt["outcome"] = "dead_lettered".into();
                    receipt["reason"] = reason.into();
                    receipt["response"] = body.into();
                }
            }
            let payload = receipt.to_string();
            self.send(
                BaseRecord::to(&self.receipts_topic)
                    .key(event.uid.as_bytes())
                    .payload(payload.as_bytes()),
            )?;
        }
        flush_now(&self.producer, Duration::from_secs(60))
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

    fn dead_letter(&self, event: &OutgoingEvent, reason: &str) -> Result<(), SinkError> {
        let stage = format!("sink:{}", self.sink);
        let seq = event.seq.to_string();
        let dead_headers = OwnedHeaders::new()
            .insert(header(headers::STAGE, &stage))
            .insert(header(headers::REASON, reason))
            .insert(header(headers::CHAIN, &event.chain))
            .insert(header(headers::SEQ, &seq))
            .insert(header(headers::SOURCE, &event.source));
        self.send(
            BaseRecord::to(&self.dlq_topic)
                .key(event.chain.as_bytes())
                .payload(event.json.as_slice())
                .headers(dead_headers),
        )
    }

    fn send(&self, record: BaseRecord<'_, [u8], [u8], ()>) -> Result<(), SinkError> {
        send_blocking(&self.producer, record).map_err(|e| SinkError::Kafka(e.to_string()))
    }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
