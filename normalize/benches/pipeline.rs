//! Raw → sealed events through a Kafka broker, in one run:
//!
//! 1. the broker's ceiling: a plain consume → produce copy of the raw
//!    records with the same exactly-once protocol (read_committed consumer,
//!    transactions of 2 000 records carrying the input offsets), no mapping;
//! 2. the normalizer's throughput over the same records (map, seal, commit);
//! 3. end-to-end latency (raw produced → sealed event visible to a
//!    read_committed reader), p50/p99, with records arriving at a steady
//!    half of the measured throughput.
//!
//! ```sh
//! scripts/kafka.sh start
//! AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo bench -p auditfed-normalize --bench pipeline
//! ```
//!
//! `AUDITFED_BENCH_RECORDS` (default 200 000). Without a broker (and under
//! `cargo test`) it runs on the embedded mock cluster with 2 000 records as
//! a smoke test; mock-cluster figures mean nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auditfed_ingest::raw::{RawProducer, RawRecord};
use auditfed_normalize::service::Normalizer;
use auditfed_platform::kafka::Kafka;
use auditfed_platform::kafka::produce::send_blocking_threaded;
use auditfed_schemas::SourceType;
use auditfed_schemas::config::{KafkaConfig, NormalizeConfig};
use auditfed_schemas::seal::FileSigner;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TIMEOUT: Duration = Duration::from_secs(30);

fn records(n: usize, tag: &str) -> Vec<String> {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_log.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&fixture).unwrap();
    let base = doc["Records"].as_array().unwrap();
    (0..n)
        .map(|i| {
            let mut r = base[i % base.len()].clone();
            r["eventID"] = format!("{tag}-{i}").into();
            r.to_string()
        })
        .collect()
}

fn send_all(producer: &RawProducer, records: &[String], object: &str) {
    for (i, r) in records.iter().enumerate() {
        producer
            .send(&RawRecord {
                source: SourceType::AwsCloudtrail,
                object,
                offset: i as u64,
                bytes: r.as_bytes(),
                received_ms: 0,
            })
            .unwrap();
    }
}

/// The copy: consume the raw topic, produce each record unchanged to
/// `target` in transactions of 2 000 with the input offsets; records/s.
fn copy(bootstrap: &str, prefix: &str, source: &str, target: &str, n: usize) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{prefix}.copy"))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[source]).unwrap();
    let producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", format!("{prefix}.copy"))
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    producer.init_transactions(TIMEOUT).unwrap();
    let started = Instant::now();
    let mut copied = 0;
    while copied < n {
        producer.begin_transaction().unwrap();
        let mut offsets: HashMap<i32, i64> = HashMap::new();
        let batch_started = Instant::now();
        let mut in_batch = 0;
        while in_batch < 2_000 && copied < n && batch_started.elapsed() < Duration::from_millis(200)
        {
            let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let mut record =
                BaseRecord::<[u8], [u8]>::to(target).payload(m.payload().unwrap_or_default());
            if let Some(key) = m.key() {
                record = record.key(key);
            }
            if let Some(h) = m.headers() {
                record = record.headers(h.detach());
            }
            send_blocking_threaded(&producer, record).unwrap();
            offsets.insert(m.partition(), m.offset() + 1);
            in_batch += 1;
            copied += 1;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in &offsets {
            tpl.add_partition_offset(source, *p, Offset::Offset(*o))
                .unwrap();
        }
        producer
            .send_offsets_to_transaction(&tpl, &consumer.group_metadata().unwrap(), TIMEOUT)
            .unwrap();
        // As the normalizer does: drained before commit_transaction's own
        // flush, which sleeps out 100 ms poll slices.
        while producer.in_flight_count() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        producer.commit_transaction(TIMEOUT).unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let bootstrap = std::env::var("AUDITFED_KAFKA_BOOTSTRAP")
        .ok()
        .filter(|_| full)
        .unwrap_or_else(|| "embedded".into());
    let n: usize = std::env::var("AUDITFED_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 200_000 } else { 2_000 });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("bench{nanos}");
    let kafka = Kafka::connect(&KafkaConfig {
        bootstrap: bootstrap.clone(),
        topic_prefix: prefix.clone(),
        partitions: 2,
        ..KafkaConfig::default()
    })
    .unwrap();
    kafka.ensure_topics().unwrap();
    let address = kafka.bootstrap().to_owned();
    let topics = kafka.topics().clone();
    let raw_topic = topics.raw(SourceType::AwsCloudtrail.as_str());
    println!("broker: {bootstrap}, {n} CloudTrail records, 2 partitions");

    // The raw records, in two objects (two keys → both partitions).
    let lines = records(n, "b");
    let producer = RawProducer::new(&kafka, "bench").unwrap();
    let started = Instant::now();
    send_all(&producer, &lines[..n / 2], "a.json");
    send_all(&producer, &lines[n / 2..], "b.json");
    producer.flush(TIMEOUT * 4).unwrap();
    println!(
        "produce raw (idempotent):          {:>9.0} records/s",
        n as f64 / started.elapsed().as_secs_f64()
    );

    // 1. The ceiling (into the receipts topic, unused by this run).
    let ceiling = copy(&address, &prefix, &raw_topic, &topics.receipts(), n);
    println!(
        "copy consume→produce (EOS):        {ceiling:>9.0} records/s   (the broker's ceiling)"
    );

    // 2. The normalizer over the same records.
    let signer = Arc::new(FileSigner::from_seed("bench", &[3; 32]).unwrap());
    let config = NormalizeConfig::default();
    let mut normalizer = Normalizer::new(&kafka, &config, "bench", signer).unwrap();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let idle = Duration::from_secs(2);
    let stats = normalizer.run_until(&stop, Some(idle)).unwrap();
    let secs = (started.elapsed() - idle).as_secs_f64();
    let rate = stats.events as f64 / secs;
    println!(
        "normalize (map + seal + commit):   {rate:>9.0} events/s    = {:.2}× the copy ({} transactions)",
        rate / ceiling,
        stats.transactions
    );

    // 3. Latency at half that rate, for ~10 s of arrivals.
    let target_rate = (rate / 2.0).max(100.0);
    let m = ((target_rate * 10.0) as usize).min(n);
    let latency_lines = records(m, "l");
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let arrived: Arc<Mutex<Vec<f64>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (sent, arrived, done) = (sent.clone(), arrived.clone(), done.clone());
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &address)
            .set("group.id", format!("{prefix}.latency"))
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "latest")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..2 {
            tpl.add_partition_offset(&topics.events(), p, Offset::End)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(20)) {
                    let now = Instant::now();
                    let event: serde_json::Value =
                        serde_json::from_slice(msg.payload().unwrap_or_default()).unwrap();
                    let uid = event["metadata"]["uid"].as_str().unwrap_or_default();
                    if let Some(t) = sent.lock().unwrap().get(uid) {
                        arrived.lock().unwrap().push((now - *t).as_secs_f64() * 1e3);
                    }
                }
            }
        })
    };
    let writer = {
        let sent = sent.clone();
        let producer = RawProducer::new(&kafka, "bench").unwrap();
        std::thread::spawn(move || {
            let started = Instant::now();
            for (i, line) in latency_lines.iter().enumerate() {
                let due = started + Duration::from_secs_f64(i as f64 / target_rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                sent.lock()
                    .unwrap()
                    .insert(format!("l-{i}"), Instant::now());
                producer
                    .send(&RawRecord {
                        source: SourceType::AwsCloudtrail,
                        object: if i % 2 == 0 { "a.json" } else { "b.json" },
                        offset: i as u64,
                        bytes: line.as_bytes(),
                        received_ms: 0,
                    })
                    .unwrap();
            }
            producer.flush(TIMEOUT).unwrap();
        })
    };
    normalizer
        .run_until(&stop, Some(Duration::from_secs(3)))
        .unwrap();
    writer.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let mut latencies = arrived.lock().unwrap().clone();
    latencies.sort_by(f64::total_cmp);
    if latencies.is_empty() {
        println!("latency: no events observed");
    } else {
        println!(
            "latency at {target_rate:.0} records/s ({} of {m} observed): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1]
        );
    }
}
