//! Producing: sends that wait for room instead of failing, a flush that
//! does not sleep out whole poll slices, and the transactional producer
//! every exactly-once stage starts from.

use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::message::ToBytes;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::types::RDKafkaErrorCode;

use super::Kafka;
use crate::error::PlatformError;

/// How long a send waits for librdkafka's queue to make room before it
/// tries again (serving delivery reports meanwhile).
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(5);

/// Queues `record`, waiting while librdkafka's queue is full
/// (backpressure instead of an error); any other refusal is returned.
pub fn send_blocking<K, P, C>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'_, K, P, C::DeliveryOpaque>,
) -> Result<(), KafkaError>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    C: ProducerContext,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                producer.poll(QUEUE_FULL_WAIT);
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// [`send_blocking`] for a producer that polls on its own thread.
pub fn send_blocking_threaded<K, P, C>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'_, K, P, C::DeliveryOpaque>,
) -> Result<(), KafkaError>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    C: ProducerContext + 'static,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(QUEUE_FULL_WAIT);
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Waits until `producer` has no message in flight, serving its delivery
/// reports as they come. rdkafka's `Producer::flush` (and so
/// `commit_transaction`, which flushes first) sleeps out whole 100 ms poll
/// slices, so each flush took at least 100 ms (measured on the sinks'
/// receipts: 100.0 to 102.7 ms per batch); this polls in 1 ms slices.
pub fn flush_now<C: ProducerContext>(
    producer: &BaseProducer<C>,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(format!(
                "{} message(s) still unacknowledged after {timeout:?}",
                producer.in_flight_count()
            ));
        }
        producer.poll(Duration::from_millis(1));
    }
    Ok(())
}

/// A transactional producer with id `transactional_id`, its transactions
/// initialised: an earlier instance with the same id is fenced and its open
/// transaction aborted. zstd, 5 ms linger; `extra` properties go on top
/// (e.g. `transaction.timeout.ms`).
pub fn transactional_producer(
    kafka: &Kafka,
    transactional_id: &str,
    extra: &[(&str, String)],
    timeout: Duration,
) -> Result<BaseProducer, PlatformError> {
    transactional_producer_with(
        kafka,
        transactional_id,
        extra,
        timeout,
        DefaultProducerContext,
    )
}

/// [`transactional_producer`] with a context of its own (one that counts
/// delivery reports, say).
pub fn transactional_producer_with<C: ProducerContext>(
    kafka: &Kafka,
    transactional_id: &str,
    extra: &[(&str, String)],
    timeout: Duration,
    context: C,
) -> Result<BaseProducer<C>, PlatformError> {
    let mut config = kafka.client_config();
    config
        .set("transactional.id", transactional_id)
        .set("compression.type", "zstd")
        .set("linger.ms", "5");
    for (key, value) in extra {
        config.set(*key, value);
    }
    let producer: BaseProducer<C> =
        config
            .create_with_context(context)
            .map_err(PlatformError::kafka(format!(
                "cannot create producer {transactional_id}"
            )))?;
    producer
        .init_transactions(timeout)
        .map_err(PlatformError::kafka(format!(
            "cannot start transactions of {transactional_id} (is it running elsewhere?)"
        )))?;
    Ok(producer)
}

/// Aborts the open transaction of `producer`, trying for up to `timeout`.
///
/// The abort waits for the delivery reports of the transaction's records,
/// which a `BaseProducer` serves only when polled, and an abort that timed
/// out (the broker away) is still in progress and must be called again
/// until it completes: beginning the next transaction before fails
/// ("conflicting abort_transaction API call is already in progress"). So:
/// poll, try briefly, repeat. Other errors leave nothing to abort.
pub fn abort_transaction<C: ProducerContext>(producer: &BaseProducer<C>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut attempt: u64 = 0;
    loop {
        attempt += 1;
        producer.poll(Duration::from_millis(100));
        match producer.abort_transaction(Duration::from_secs(1)) {
            Err(KafkaError::Transaction(e)) if e.is_retriable() && Instant::now() < deadline => {
                if attempt % 60 == 1 {
                    tracing::warn!(attempt, error = %e, "abort_transaction not complete yet; polling and calling it again");
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "abort_transaction");
                return;
            }
            Ok(()) => return,
        }
    }
}
