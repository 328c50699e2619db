//! Receipts (`<prefix>.receipts`, one per event and outcome) and dead
//! letters (`<prefix>.dlq`). A group member writes them and the batch's
//! offsets in one Kafka transaction: a crash between the SIEM's
//! acknowledgement and the commit delivers the batch again, but never
//! leaves a second receipt or dead letter of it. A replay (no group)
//! writes them idempotently and waits for every acknowledgement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auditfed_platform::kafka::produce::{
    abort_transaction, flush_now, send_blocking, transactional_producer_with,
};
use auditfed_platform::kafka::{Kafka, headers};
use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::feed::GroupPosition;
use super::{Outcome, OutgoingEvent, Stats};
use crate::SinkError;

/// Counts failed deliveries of receipts and dead letters.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Deliveries {
    /// The first error since the last call, if any delivery failed; resets both.
    fn take_failure(&self) -> Option<String> {
        if self.failed.swap(0, Ordering::Relaxed) == 0 {
            return None;
        }
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        Some(first.take().unwrap_or_default())
    }
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
    /// Whether the producer is transactional (a group member's).
    transactional: bool,
}

/// How long a Kafka call of the recorder may take.
const TIMEOUT: Duration = Duration::from_secs(60);

impl Recorder {
    /// A recorder for `sink`; transactional as `member` (the feed's group
    /// member) when there is one.
    pub fn new(kafka: &Kafka, sink: &str, member: Option<&str>) -> Result<Recorder, SinkError> {
        let deliveries = Arc::new(Deliveries::default());
        let context = Context(deliveries.clone());
        let producer = match member {
            // Short: a killed member's open transaction holds back what
            // read_committed readers of the receipts see until it ends.
            Some(id) => transactional_producer_with(
                kafka,
                id,
                &[("transaction.timeout.ms", "20000".to_owned())],
                TIMEOUT,
                context,
            )?,
            None => kafka
                .client_config()
                .set("enable.idempotence", "true")
                .set("linger.ms", "5")
                .create_with_context(context)
                .map_err(|e| SinkError::Kafka(e.to_string()))?,
        };
        Ok(Recorder {
            sink: sink.to_owned(),
            producer,
            deliveries,
            receipts_topic: kafka.topics().receipts(),
            dlq_topic: kafka.topics().dlq(),
            transactional: member.is_some(),
        })
    }

    /// Writes a receipt per outcome (and a dead letter per refused
    /// event), with `position` in the same transaction when transactional,
    /// and waits until Kafka has every one of them. On
    /// [`SinkError::Uncommitted`] nothing of it is visible; `stats` count
    /// only what was committed.
    pub fn record<'a>(
        &self,
        outcomes: impl Iterator<Item = (&'a OutgoingEvent, &'a Outcome)>,
        mode: &str,
        position: Option<GroupPosition>,
        stats: &mut Stats,
    ) -> Result<(), SinkError> {
        if !self.transactional {
            return self.write(outcomes, mode, stats);
        }
        self.producer
            .begin_transaction()
            .map_err(|e| SinkError::Kafka(format!("cannot begin a transaction: {e}")))?;
        let mut counted = Stats::default();
        let written = self.write(outcomes, mode, &mut counted).and_then(|()| {
            if let Some(position) = position {
                self.producer
                    .send_offsets_to_transaction(&position.offsets, &position.group, TIMEOUT)
                    .map_err(|e| self.transaction_error("offsets", e))?;
            }
            self.producer
                .commit_transaction(TIMEOUT)
                .map_err(|e| self.transaction_error("commit", e))
        });
        match written {
            Ok(()) => {
                stats.withheld += counted.withheld;
                stats.delivered += counted.delivered;
                stats.dead_lettered += counted.dead_lettered;
                Ok(())
            }
            Err(e) => {
                abort_transaction(&self.producer, TIMEOUT);
                // The abort purges what was queued: those reports are not
                // the next batch's failures.
                self.deliveries.take_failure();
                Err(match e {
                    SinkError::Kafka(why) => SinkError::Uncommitted(why),
                    e => e,
                })
            }
        }
    }

    /// Queues the receipts and dead letters and waits for Kafka's
    /// acknowledgement of each.
    fn write<'a>(
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
                Outcome::Withheld { rule, reason } => {
                    stats.withheld += 1;
                    receipt["outcome"] = "withheld".into();
                    receipt["rule"] = rule.as_str().into();
                    receipt["reason"] = reason.as_str().into();
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
        flush_now(&self.producer, TIMEOUT)
            .map_err(|e| SinkError::Kafka(format!("receipts not written: {e}")))?;
        if let Some(first) = self.deliveries.take_failure() {
            return Err(SinkError::Kafka(format!(
                "receipts or dead letters not written: {first}"
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

    /// A fenced producer (the same member started elsewhere) stops the
    /// sink; anything else aborts the batch, which is delivered again.
    fn transaction_error(&self, what: &str, e: KafkaError) -> SinkError {
        match e {
            KafkaError::Transaction(t) if t.is_fatal() => SinkError::Fatal {
                sink: self.sink.clone(),
                message: format!(
                    "{what}: {t}: another process runs this sink as the same member \
                     (the host name, or normalize.instance_id); stop one of them"
                ),
            },
            e => SinkError::Uncommitted(format!("{what}: {e}")),
        }
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
