//! S3 backfill into Kafka: records/s the `s3` collector lists, reads,
//! decompresses, splits and commits in a `--backfill` pass over CloudTrail
//! log files (gzip, 250 records each, 4 regions).
//!
//! ```sh
//! scripts/kafka.sh start
//! AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo bench -p auditfed-ingest --bench s3_backfill
//! # and through moto server's S3 API too:
//! AUDITFED_S3_ENDPOINT=http://127.0.0.1:5055 AUDITFED_KAFKA_BOOTSTRAP=… cargo bench -p auditfed-ingest --bench s3_backfill
//! ```
//!
//! Two stores: object_store's in-memory store (the collector's own ceiling:
//! no network) and, with `AUDITFED_S3_ENDPOINT`, moto server (S3 over HTTP,
//! a Python server on the same cores). `AUDITFED_BENCH_OBJECTS` (default
//! 400 = 100 000 records). Under `cargo test` a smoke run of 8 objects that
//! checks every record was committed; without a broker it is skipped.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use auditfed_ingest::collect::Collecting;
use auditfed_ingest::objects::Objects;
use auditfed_ingest::objects::config::ObjectsConfig;
use auditfed_platform::kafka::Kafka;
use auditfed_schemas::config::KafkaConfig;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

const PER_OBJECT: usize = 250;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let Ok(bootstrap) = std::env::var("AUDITFED_KAFKA_BOOTSTRAP") else {
        println!(
            "s3_backfill bench skipped: set AUDITFED_KAFKA_BOOTSTRAP (transactions need a real broker)"
        );
        return;
    };
    let objects: usize = std::env::var("AUDITFED_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 400 } else { 8 });
    let files = trail_files(objects);
    let bytes: usize = files.iter().map(|(_, b, _)| b.len()).sum();
    let plain: usize = files.iter().map(|(_, _, n)| n).sum();
    println!(
        "broker: {bootstrap}; {objects} CloudTrail files of {PER_OBJECT} records ({:.1} MB of JSON, {:.1} MB gzip)",
        plain as f64 / 1e6,
        bytes as f64 / 1e6
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    put_all(&runtime, &memory, &files);
    run("in-memory store", &bootstrap, memory, objects, plain);

    if let Ok(endpoint) = std::env::var("AUDITFED_S3_ENDPOINT") {
        let bucket = format!("bench-{}", std::process::id());
        runtime
            .block_on(
                reqwest::Client::new()
                    .put(format!("{endpoint}/{bucket}"))
                    .send(),
            )
            .unwrap()
            .error_for_status()
            .unwrap();
        let s3: Arc<dyn ObjectStore> = Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(&endpoint)
                .with_allow_http(true)
                .with_bucket_name(&bucket)
                .with_region("us-east-1")
                .with_access_key_id("testing")
                .with_secret_access_key("testing")
                .build()
                .unwrap(),
        );
        put_all(&runtime, &s3, &files);
        run(
            &format!("moto server S3 at {endpoint}"),
            &bootstrap,
            s3,
            objects,
            plain,
        );
    }
}

/// (key, gzip bytes, JSON bytes) of `n` log files.
fn trail_files(n: usize) -> Vec<(String, Vec<u8>, usize)> {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../normalize/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_log.json"
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let records = doc["Records"].as_array().unwrap();
    let regions = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"];
    (0..n)
        .map(|i| {
            let batch: Vec<String> = (0..PER_OBJECT)
                .map(|j| {
                    let mut r = records[j % records.len()].clone();
                    r["eventID"] = format!("bench-{i}-{j}").into();
                    r.to_string()
                })
                .collect();
            let json = format!("{{\"Records\":[{}]}}", batch.join(","));
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(json.as_bytes()).unwrap();
            let key = format!(
                "AWSLogs/111122223333/CloudTrail/{}/2026/11/{:02}/111122223333_CloudTrail_{}_20261101T{:04}Z_{i:08}.json.gz",
                regions[i % regions.len()],
                1 + i / 100 % 28,
                regions[i % regions.len()],
                i % 2400
            );
            (key, gz.finish().unwrap(), json.len())
        })
        .collect()
}

fn put_all(
    runtime: &tokio::runtime::Runtime,
    store: &Arc<dyn ObjectStore>,
    files: &[(String, Vec<u8>, usize)],
) {
    runtime.block_on(async {
        for (key, bytes, _) in files {
            store
                .put(&Path::from(key.as_str()), PutPayload::from(bytes.clone()))
                .await
                .unwrap();
        }
    });
}

fn run(label: &str, bootstrap: &str, store: Arc<dyn ObjectStore>, objects: usize, plain: usize) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let kafka = Kafka::connect(&KafkaConfig {
        bootstrap: bootstrap.to_owned(),
        topic_prefix: format!("bench{nanos}"),
        partitions: 2,
        ..KafkaConfig::default()
    })
    .unwrap();
    kafka.ensure_topics().unwrap();
    let config: ObjectsConfig = toml::from_str(
        "url = \"s3://bench/AWSLogs\"\nsource = \"aws_cloudtrail\"\nsettle_secs = 0\nbatch_records = 5000\n",
    )
    .unwrap();
    let collector = Objects::with_store(store, &config, 1_000_000).unwrap();
    let mut out = Collecting::open(&kafka, "bench", "bench").unwrap();
    let started = Instant::now();
    let stats = collector
        .follow(&mut out, &AtomicBool::new(false), None, true)
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(
        stats.records as usize,
        objects * PER_OBJECT,
        "every record committed"
    );
    assert_eq!(stats.rejected, 0);
    println!(
        "{label}: {} records from {} objects in {secs:.2} s: {:.0} records/s, {:.1} MB/s of JSON",
        stats.records,
        stats.objects,
        stats.records as f64 / secs,
        plain as f64 / 1e6 / secs
    );
}
