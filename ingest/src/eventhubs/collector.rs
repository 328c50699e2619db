//! Messages from the hub's partitions into transactions, with the hub
//! offsets they reach as cursors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_schemas::SourceType;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::json;

use super::config::EventHubsConfig;
use crate::IngestError;
use crate::collect::Collecting;
use crate::file::ingest_reader;
use auditfed_platform::clock::now_ms;

/// What the collector did.
#[derive(Debug, Default)]
pub struct EventHubsStats {
    /// Messages read.
    pub messages: u64,
    /// Records sent to the raw topic.
    pub records: u64,
    /// Pieces sent to the dead-letter topic.
    pub rejected: u64,
    /// Partitions read.
    pub partitions: usize,
}

const METADATA_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads until `stop`, or until no message came for `idle`.
pub fn consume(
    config: &EventHubsConfig,
    out: &mut Collecting,
    max_record: usize,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<EventHubsStats, IngestError> {
    let hub = &config.event_hub;
    let err = |what: &str| {
        let hub = hub.clone();
        let what = what.to_owned();
        move |e: KafkaError| IngestError::Kafka(format!("event hub {hub}: {what}: {e}"))
    };
    let source: SourceType = config
        .source
        .parse()
        .map_err(|_| IngestError::Config(format!("unknown source {:?}", config.source)))?;
    let consumer: BaseConsumer = config
        .client_config()
        .map_err(IngestError::Config)?
        .create()
        .map_err(err("cannot create the client"))?;
    let metadata = consumer
        .fetch_metadata(Some(hub), METADATA_TIMEOUT)
        .map_err(err("cannot reach the Kafka endpoint (check connection_string and the network to port 9093)"))?;
    let available: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if available.is_empty() {
        return Err(IngestError::Kafka(format!(
            "event hub {hub}: not found in the namespace (check event_hub, and that the connection string's policy can Listen)"
        )));
    }
    let partitions: Vec<i32> = if config.partitions.is_empty() {
        available.clone()
    } else {
        config.partitions.clone()
    };
    if let Some(p) = partitions.iter().find(|p| !available.contains(p)) {
        return Err(IngestError::Kafka(format!(
            "event hub {hub}: no partition {p} (it has {available:?})"
        )));
    }
    let namespace = config.namespace().unwrap_or_else(|| "eventhubs".into());
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let offset = out
            .cursor(&format!("partition/{p}"))
            .and_then(|c| c["offset"].as_i64())
            .map_or(Offset::Invalid, Offset::Offset);
        let start = match (offset, config.start_at.as_str()) {
            (Offset::Invalid, "latest") => Offset::End,
            (Offset::Invalid, _) => Offset::Beginning,
            (o, _) => o,
        };
        tpl.add_partition_offset(hub, *p, start)
            .map_err(err("cannot assign"))?;
    }
    consumer.assign(&tpl).map_err(err("cannot assign"))?;
    let mut stats = EventHubsStats {
        partitions: partitions.len(),
        ..EventHubsStats::default()
    };
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut first: Option<Instant> = None;
    let mut last_message = Instant::now();
    let batch_time = Duration::from_millis(config.batch_ms);
    let mut lag_measured = Instant::now() - Duration::from_secs(10);
    while !stop.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last_message = Instant::now();
                first.get_or_insert_with(Instant::now);
                stats.messages += 1;
                let object = format!(
                    "eventhubs://{namespace}/{hub}/{}/{}",
                    m.partition(),
                    m.offset()
                );
                let read = ingest_reader(
                    &object,
                    std::io::Cursor::new(m.payload().unwrap_or_default().to_vec()),
                    source,
                    out,
                    max_record,
                    now_ms(),
                )?;
                stats.records += read.records;
                stats.rejected += read.rejected;
                next.insert(m.partition(), m.offset() + 1);
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => {
                out.counters().error();
                tracing::warn!(hub = %hub, error = %e, "event hub consumer failed; retrying");
            }
        }
        let due = first.is_some_and(|f| f.elapsed() >= batch_time)
            || out.batch_len() >= config.batch_records;
        if due {
            commit(out, &mut next)?;
            first = None;
            // A round trip per partition: measured now and then, not per batch.
            if lag_measured.elapsed() >= Duration::from_secs(10) {
                lag(&consumer, hub, &partitions, out);
                lag_measured = Instant::now();
            }
        }
        if first.is_none() && idle.is_some_and(|i| last_message.elapsed() >= i) {
            break;
        }
    }
    commit(out, &mut next)?;
    Ok(stats)
}

fn commit(out: &mut Collecting, next: &mut BTreeMap<i32, i64>) -> Result<(), IngestError> {
    for (partition, offset) in std::mem::take(next) {
        out.advance(
            &format!("partition/{partition}"),
            json!({ "offset": offset }),
        );
    }
    out.commit()
}

/// Messages behind the hub's end, summed over partitions.
fn lag(consumer: &BaseConsumer, hub: &str, partitions: &[i32], out: &Collecting) {
    let mut behind = 0u64;
    for p in partitions {
        let Some(at) = out
            .cursor(&format!("partition/{p}"))
            .and_then(|c| c["offset"].as_i64())
        else {
            continue;
        };
        if let Ok((_, high)) = consumer.fetch_watermarks(hub, *p, Duration::from_secs(5)) {
            behind += (high - at).max(0) as u64;
        }
    }
    out.counters().set_lag(behind);
}
