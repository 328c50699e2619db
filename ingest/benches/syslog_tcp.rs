//! Syslog over TCP into Kafka: messages/s the `syslog` collector receives,
//! produces and commits (transactions of 5 000), from 4 connections with
//! RFC 6587 octet counting.
//!
//! ```sh
//! scripts/kafka.sh start
//! AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo bench -p auditfed-ingest --bench syslog_tcp
//! ```
//!
//! `AUDITFED_BENCH_MESSAGES` (default 1 000 000). Under `cargo test` a
//! smoke run of 20 000 that checks every message was received; without a
//! broker it is skipped.

use std::io::{BufWriter, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use auditfed_ingest::collect::Collecting;
use auditfed_ingest::syslog::collector::receive;
use auditfed_ingest::syslog::config::SyslogConfig;
use auditfed_platform::kafka::Kafka;
use auditfed_schemas::config::KafkaConfig;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let Ok(bootstrap) = std::env::var("AUDITFED_KAFKA_BOOTSTRAP") else {
        println!(
            "syslog_tcp bench skipped: set AUDITFED_KAFKA_BOOTSTRAP (transactions need a real broker)"
        );
        return;
    };
    let n: usize = std::env::var("AUDITFED_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 20_000 });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let kafka = Kafka::connect(&KafkaConfig {
        bootstrap: bootstrap.clone(),
        topic_prefix: format!("bench{nanos}"),
        partitions: 2,
        ..KafkaConfig::default()
    })
    .unwrap();
    kafka.ensure_topics().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config: SyslogConfig = toml::from_str(&format!("tcp = \"127.0.0.1:{port}\"\n")).unwrap();
    let mut out = Collecting::open(&kafka, "bench", "bench").unwrap();
    let counters = out.counters();
    let stop = AtomicBool::new(false);
    let connections = 4;
    let per = n / connections;
    let message = "<86>1 2026-11-27T10:00:00.000Z web-1 sshd 4242 - - Accepted publickey for alice from 203.0.113.7 port 52144 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4";
    println!(
        "broker: {bootstrap}; {} messages of {} bytes over {connections} TCP connections",
        per * connections,
        message.len()
    );
    let started = Instant::now();
    let stats = std::thread::scope(|scope| {
        let receiver = scope.spawn(|| receive(&config, &mut out, &stop, None));
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let senders: Vec<_> = (0..connections)
            .map(|_| {
                scope.spawn(move || {
                    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let mut w = BufWriter::with_capacity(256 * 1024, s);
                    for _ in 0..per {
                        write!(w, "{} {message}", message.len()).unwrap();
                    }
                    w.flush().unwrap();
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        // Every message handed to Kafka; the stop commits the last batch.
        while (counters.records() as usize) < per * connections {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        receiver.join().unwrap().unwrap()
    });
    let elapsed = started.elapsed();
    assert_eq!(stats.received as usize, per * connections, "{stats:?}");
    println!(
        "syslog TCP → Kafka (committed): {:.0} messages/s ({:.1} MB/s) over {:.2} s",
        stats.received as f64 / elapsed.as_secs_f64(),
        stats.received as f64 * message.len() as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_secs_f64()
    );
}
