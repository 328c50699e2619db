//! Events/s delivered with acknowledgement to the test servers of tests/
//! (Splunk HEC with indexer acks; the Logs Ingestion API with its token
//! endpoint), two figures per SIEM:
//!
//! 1. **server ceiling**: pre-built batches sent straight through the
//!    sink's service from `max_in_flight` concurrent tasks (no Kafka): what
//!    the test server takes;
//! 2. **sink**: `<prefix>.events` → driver (consumer group, batching,
//!    policy, requests, acks, receipts to Kafka, offset commits) → server;
//! 3. **sink ceiling**: the same sink against a discard endpoint
//!    (`discard.rs`: success at once, events unread), where nothing but the
//!    sink (and Kafka) limits.
//!
//! ```sh
//! scripts/kafka.sh start
//! AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:9092 AUDITFED_PYTHON=.cache/venv/bin/python \
//!     cargo bench -p auditfed-sinks --bench delivery
//! ```
//!
//! `AUDITFED_BENCH_EVENTS` (default 200 000). Under `cargo test` it is a
//! smoke run of 2 000 events (on the embedded mock cluster without a
//! broker) that checks every event arrived; its figures mean nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use auditfed_platform::kafka::{Kafka, headers};
use auditfed_schemas::config::KafkaConfig;
use auditfed_schemas::policy::Policies;
use auditfed_sinks::config::BatchConfig;
use auditfed_sinks::driver::{Driver, OutgoingEvent, Service};
use auditfed_sinks::sentinel::{SentinelConfig, SentinelService};
use auditfed_sinks::splunk::{SplunkConfig, SplunkService};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

mod discard;

const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `n` sealed-event-shaped CloudTrail events (~1.2 KB each) from a golden one.
fn events(n: usize) -> Vec<OutgoingEvent> {
    let golden = root().join(
        "normalize/tests/golden/aws_cloudtrail/otel-contrib__cloudtrail_log.json.golden.json",
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(golden).unwrap()).unwrap();
    let base: Vec<serde_json::Value> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    (0..n)
        .map(|i| {
            let mut e = base[i % base.len()].clone();
            e["metadata"]["uid"] = format!("bench-{i}").into();
            e["time"] = (1_790_812_800_000i64 + i as i64).into();
            let json = serde_json::to_vec(&e).unwrap();
            OutgoingEvent::sealed(
                json,
                format!("c/{}", i % 8),
                i as u64,
                "aws_cloudtrail".into(),
                0,
                i as i64,
            )
            .unwrap()
        })
        .collect()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(python: &str, script: &str, port: u16, state: &Path, args: &[String]) -> Server {
    std::fs::create_dir_all(state).unwrap();
    let child = Command::new(python)
        .arg(root().join("tests").join(script))
        .arg(port.to_string())
        .arg(state)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{script} does not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Server(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Delivers `batches` through `service` from `concurrency` tasks; events/s.
fn ceiling<S: Service>(service: S, batches: Vec<Vec<OutgoingEvent>>, concurrency: usize) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let service = Arc::new(service);
    let total: usize = batches.iter().map(Vec::len).sum();
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let started = Instant::now();
    runtime.block_on(async {
        service.health().await.unwrap();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (service, queue) = (service.clone(), queue.clone());
                tokio::spawn(async move {
                    loop {
                        let Some(batch) = queue.lock().unwrap().pop() else {
                            return;
                        };
                        // Throttling is off: every attempt should land.
                        while let Err(e) = service.deliver(&batch).await {
                            eprintln!("retrying: {e:?}");
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// Produces `events` into the events topic (two partitions, by chain).
fn produce(kafka: &Kafka, events: &[OutgoingEvent]) {
    let producer: ThreadedProducer<_> = kafka
        .client_config()
        .set("linger.ms", "20")
        .set("compression.type", "zstd")
        .create()
        .unwrap();
    let topic = kafka.topics().events();
    for e in events {
        let seq = e.seq.to_string();
        let h = OwnedHeaders::new()
            .insert(Header {
                key: headers::CHAIN,
                value: Some(&e.chain),
            })
            .insert(Header {
                key: headers::SEQ,
                value: Some(&seq),
            })
            .insert(Header {
                key: headers::SOURCE,
                value: Some(&e.source),
            });
        let mut record = BaseRecord::to(&topic)
            .key(e.chain.as_bytes())
            .payload(&e.json)
            .headers(h);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// The driver over the events topic; events/s from the first batch sent
/// to the last one landed (joining the group and the idle wait at the end
/// are not counted).
fn through_kafka<S: Service>(
    kafka: &Kafka,
    name: &str,
    batch: BatchConfig,
    service: S,
    n: usize,
) -> f64 {
    let mut driver =
        Driver::new(kafka, name, "bench", batch, Policies::default(), service).unwrap();
    let idle = Duration::from_secs(2);
    let started = Instant::now();
    let stats = driver
        .run(&Arc::new(AtomicBool::new(false)), Some(idle))
        .unwrap();
    let elapsed = started.elapsed().saturating_sub(idle);
    assert_eq!(stats.delivered as usize, n, "{stats:?}");
    n as f64 / elapsed.as_secs_f64()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".into());
    if Command::new(&python).arg("--version").output().is_err() {
        assert!(
            std::env::var_os("AUDITFED_REQUIRE_PYTHON").is_none(),
            "no {python}"
        );
        println!("delivery bench skipped: no python ({python})");
        return;
    }
    let bootstrap = std::env::var("AUDITFED_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "embedded".into());
    let n: usize = std::env::var("AUDITFED_BENCH_EVENTS")
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
    let state = std::env::temp_dir().join(&prefix);
    let events = events(n);
    let bytes: usize = events.iter().map(|e| e.json.len()).sum();
    println!(
        "broker: {bootstrap}; {n} events of {} bytes on average; 2 partitions; 4 batches in flight",
        bytes / n
    );
    let started = Instant::now();
    produce(&kafka, &events);
    println!(
        "produced to {} in {:.1} s",
        kafka.topics().events(),
        started.elapsed().as_secs_f64()
    );

    // Splunk HEC, indexer acknowledgements on.
    let hec_batch = BatchConfig {
        max_events: 2_000,
        max_bytes: 4 << 20,
        ..BatchConfig::default()
    };
    let splunk = |port: u16| -> SplunkService {
        let config: SplunkConfig = toml::from_str(&format!(
            "endpoint = \"http://127.0.0.1:{port}\"\ntoken = \"t\"\nindex = \"audit\"\nack_poll_ms = 20\n"
        ))
        .unwrap();
        SplunkService::new(config, "sinks.splunk").unwrap()
    };
    let hec_args: Vec<String> = ["--token", "t", "--index", "audit"]
        .map(String::from)
        .to_vec();
    let port = free_port();
    let dir = state.join("hec-ceiling");
    let server = start(&python, "hec_server.py", port, &dir, &hec_args);
    let batches: Vec<Vec<OutgoingEvent>> = events
        .chunks(hec_batch.max_events)
        .map(<[_]>::to_vec)
        .collect();
    let hec_ceiling = ceiling(splunk(port), batches, hec_batch.max_in_flight);
    drop(server);
    let port = free_port();
    let dir = state.join("hec-sink");
    let server = start(&python, "hec_server.py", port, &dir, &hec_args);
    let hec_sink = through_kafka(&kafka, "bench-hec", hec_batch.clone(), splunk(port), n);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        lines(&dir.join("indexed.jsonl")),
        n,
        "HEC indexed every event once"
    );
    drop(server);
    let discard = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (port, _) = discard::start(&discard);
    let hec_own = through_kafka(
        &kafka,
        "bench-hec-discard",
        hec_batch.clone(),
        splunk(port),
        n,
    );
    println!(
        "Splunk HEC (acks)          test server: ceiling {hec_ceiling:>7.0} events/s, sink from Kafka {hec_sink:>7.0} events/s ({:.0} %); discard endpoint: sink from Kafka {hec_own:>7.0} events/s",
        100.0 * hec_sink / hec_ceiling
    );

    // Logs Ingestion API, ASIM rows, calls ≤ 1 MB.
    let sentinel_batch = BatchConfig {
        max_events: 5_000,
        max_bytes: 2_000_000,
        ..BatchConfig::default()
    };
    let sentinel = |port: u16| -> SentinelService {
        let config: SentinelConfig = toml::from_str(&format!(
            "endpoint = \"http://127.0.0.1:{port}\"\ndcr_immutable_id = \"{DCR}\"\n\
             [auth]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nauthority = \"http://127.0.0.1:{port}\"\n"
        ))
        .unwrap();
        SentinelService::new(config, "sinks.sentinel").unwrap()
    };
    let li_args: Vec<String> = vec![
        "--tenant".into(),
        "t".into(),
        "--dcr-id".into(),
        DCR.into(),
        "--dcr".into(),
        root()
            .join("docs/sentinel/dcr-asim.json")
            .display()
            .to_string(),
        "--client".into(),
        "c:s".into(),
    ];
    let stored = |dir: &Path| {
        lines(&dir.join("Custom-ASimAuditEventLogs.jsonl"))
            + lines(&dir.join("Custom-ASimAuthenticationEventLogs.jsonl"))
    };
    let port = free_port();
    let dir = state.join("li-ceiling");
    let server = start(&python, "logs_ingestion_server.py", port, &dir, &li_args);
    let batches: Vec<Vec<OutgoingEvent>> = events
        .chunks(sentinel_batch.max_events)
        .map(<[_]>::to_vec)
        .collect();
    let li_ceiling = ceiling(sentinel(port), batches, sentinel_batch.max_in_flight);
    drop(server);
    let port = free_port();
    let dir = state.join("li-sink");
    let server = start(&python, "logs_ingestion_server.py", port, &dir, &li_args);
    let li_sink = through_kafka(
        &kafka,
        "bench-sentinel",
        sentinel_batch.clone(),
        sentinel(port),
        n,
    );
    assert_eq!(
        stored(&dir),
        n,
        "the Logs Ingestion server stored every row once"
    );
    drop(server);
    let (port, _) = discard::start(&discard);
    let li_own = through_kafka(
        &kafka,
        "bench-sentinel-discard",
        sentinel_batch,
        sentinel(port),
        n,
    );
    println!(
        "Logs Ingestion API (ASIM)  test server: ceiling {li_ceiling:>7.0} events/s, sink from Kafka {li_sink:>7.0} events/s ({:.0} %); discard endpoint: sink from Kafka {li_own:>7.0} events/s",
        100.0 * li_sink / li_ceiling
    );
    let _ = std::fs::remove_dir_all(&state);
}
