//! `kafka.bootstrap = "embedded"`: ingest, normalize and read back in one
//! process on librdkafka's in-process mock cluster (no broker). The real
//! broker's tests are in the workspace's tests/pipeline/normalizer_kafka.rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_ingest::raw::{RawProducer, RawRecord};
use auditfed_normalize::service::Normalizer;
use auditfed_platform::kafka::Kafka;
use auditfed_schemas::SourceType;
use auditfed_schemas::config::{KafkaConfig, NormalizeConfig};
use auditfed_schemas::seal::FileSigner;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message};

#[test]
fn the_whole_pipeline_runs_in_process_on_the_embedded_cluster() {
    let kafka = Kafka::connect(&KafkaConfig {
        bootstrap: "embedded".into(),
        partitions: 2,
        ..KafkaConfig::default()
    })
    .unwrap();
    assert!(kafka.is_embedded());
    kafka.ensure_topics().unwrap();
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_log.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&fixture).unwrap();
    let records: Vec<String> = doc["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    let producer = RawProducer::new(&kafka, "test").unwrap();
    for (i, r) in records.iter().enumerate() {
        producer
            .send(&RawRecord {
                source: SourceType::AwsCloudtrail,
                object: "trail.json",
                offset: i as u64,
                bytes: r.as_bytes(),
                received_ms: 0,
            })
            .unwrap();
    }
    producer
        .send(&RawRecord {
            source: SourceType::AwsCloudtrail,
            object: "trail.json",
            offset: 99,
            bytes: b"{\"no\":\"event\"}",
            received_ms: 0,
        })
        .unwrap();
    let report = producer.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(report.delivered as usize, records.len() + 1, "{report:?}");

    // A reader on another thread stops the normalizer once every event is committed.
    let stop = Arc::new(AtomicBool::new(false));
    let bootstrap = kafka.bootstrap().to_owned();
    let events_topic = kafka.topics().events();
    let expected = records.len();
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Stops the normalizer however this thread ends, panics included.
            struct StopOnDrop(Arc<AtomicBool>);
            impl Drop for StopOnDrop {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _stop = StopOnDrop(stop);
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", "reader")
                .set("isolation.level", "read_committed")
                .set("auto.offset.reset", "earliest")
                .create()
                .unwrap();
            consumer.subscribe(&[&events_topic]).unwrap();
            let mut seqs = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while seqs.len() < expected && Instant::now() < deadline {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    let h = m.headers().unwrap();
                    let seq = h
                        .iter()
                        .find(|h| h.key == "auditfed.seq")
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).parse::<u64>().unwrap())
                        .unwrap();
                    let event: serde_json::Value =
                        serde_json::from_slice(m.payload().unwrap()).unwrap();
                    assert!(
                        event["class_uid"].as_u64().is_some() && event["raw_data"].is_string(),
                        "{event}"
                    );
                    seqs.push(seq);
                }
            }
            seqs
        })
    };
    let signer = Arc::new(FileSigner::from_seed("test", &[7; 32]).unwrap());
    let mut normalizer =
        Normalizer::new(&kafka, &NormalizeConfig::default(), "embedded-test", signer).unwrap();
    let stats = normalizer.run(&stop).unwrap();
    let mut seqs = reader.join().unwrap();
    seqs.sort_unstable();
    // One file key → one partition → one chain, gap-free.
    assert_eq!(seqs, (1..=expected as u64).collect::<Vec<_>>());
    assert_eq!(stats.events as usize, expected);
    assert_eq!(stats.dead_letters, 1);
    assert!(stats.checkpoints >= 1, "{stats:?}");
}
