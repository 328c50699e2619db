//! A pipeline against the real broker of `scripts/kafka.sh`: its own topic
//! prefix and consumer group per test, the `auditfed` binary as the
//! normalizer (so it can be killed with SIGKILL), and a reader that turns
//! what was committed into an archive and verifies it.
//!
//! `scripts/test.sh` starts the broker, sets AUDITFED_KAFKA_BOOTSTRAP and
//! AUDITFED_REQUIRE_KAFKA=1; a plain `cargo test` without a broker skips.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

pub use super::auditfed;
use std::time::{Duration, Instant};

use auditfed_query::store::LocalDir;
use auditfed_query::verify::{Report, VerifyOptions, verify};
use auditfed_query::writer::{SealedRow, write_rows};
use auditfed_schemas::seal::{Keyring, SignedNote};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// The broker, or `None` (skip) when none is configured and none is required.
pub fn bootstrap() -> Option<String> {
    match std::env::var("AUDITFED_KAFKA_BOOTSTRAP") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("AUDITFED_REQUIRE_KAFKA").as_deref() != Ok("1"),
                "AUDITFED_REQUIRE_KAFKA=1 but AUDITFED_KAFKA_BOOTSTRAP is not set"
            );
            eprintln!(
                "skipping: no Kafka broker (run scripts/kafka.sh start and set AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:9092)"
            );
            None
        }
    }
}

/// One test's pipeline.
pub struct Pipeline {
    pub dir: PathBuf,
    pub prefix: String,
    pub bootstrap: String,
    pub config: PathBuf,
}

impl Pipeline {
    /// Keys and a config under a fresh directory; `normalize` is extra TOML
    /// for the `[normalize]` section, `properties` for `[kafka.properties]`.
    pub fn new(name: &str, normalize: &str, properties: &str) -> Option<Pipeline> {
        let bootstrap = bootstrap()?;
        let dir = super::temp_dir(name);
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let prefix = format!("t{nonce}.{name}");
        let out = auditfed()
            .args(["keygen", "--out"])
            .arg(dir.join("keys"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let config = dir.join("auditfed.toml");
        std::fs::write(
            &config,
            format!(
                r#"[kafka]
bootstrap = "{bootstrap}"
topic_prefix = "{prefix}"
partitions = 2
[kafka.properties]
{properties}
[keys]
signing_key = "{keys}/auditfed.key"
keyring = "{keys}/keyring"
[archive]
path = "{archive}"
file_max_rows = 250
[normalize]
group_id = "{prefix}-normalize"
{normalize}
"#,
                keys = dir.join("keys").display(),
                archive = dir.join("archived").display()
            ),
        )
        .unwrap();
        Some(Pipeline {
            dir,
            prefix,
            bootstrap,
            config,
        })
    }

    /// `auditfed ingest file` of `lines` (one record each) as `source`, whatever its outcome.
    pub fn ingest_output(
        &self,
        source: &str,
        name: &str,
        lines: &[String],
    ) -> std::process::Output {
        let file = self.dir.join(name);
        std::fs::write(&file, lines.join("\n")).unwrap();
        auditfed()
            .args(["ingest", "file", "--source", source, "--config"])
            .arg(&self.config)
            .arg(&file)
            .output()
            .unwrap()
    }

    /// `auditfed ingest file` of `lines` (one record each) as `source`; it must succeed
    /// (exit 1, something rejected to the dead-letter topic, included).
    pub fn ingest(&self, source: &str, name: &str, lines: &[String]) -> std::process::Output {
        let out = self.ingest_output(source, name, lines);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "ingest failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts `auditfed run normalize` as instance `instance`.
    pub fn spawn_normalizer(&self, instance: &str) -> Child {
        self.spawn("normalize", instance, &[])
    }

    /// Starts `auditfed run <service> --config … <extra>`, logging to `<service>-<instance>.log`.
    pub fn spawn(&self, service: &str, instance: &str, extra: &[&str]) -> Child {
        self.spawn_with_env(service, instance, extra, &[])
    }

    /// [`Pipeline::spawn`] with extra environment variables.
    pub fn spawn_with_env(
        &self,
        service: &str,
        instance: &str,
        extra: &[&str],
        envs: &[(String, String)],
    ) -> Child {
        auditfed()
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .args(["run", service, "--config"])
            .arg(&self.config)
            .args(extra)
            .env("HOSTNAME", instance)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join(format!("{service}-{instance}.log")))
                    .unwrap(),
            ))
            .spawn()
            .unwrap()
    }

    pub fn logs(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(&self.dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().ends_with(".log") {
                all += &format!("== {}\n", e.path().display());
                all += &std::fs::read_to_string(e.path()).unwrap_or_default();
            }
        }
        all
    }

    /// Everything committed so far in events, seals and the dead-letter topic.
    pub fn read_committed(&self) -> Committed {
        let names = ["events", "seals", "dlq"].map(|t| format!("{}.{t}", self.prefix));
        let mut committed = Committed::default();
        for (topic, record) in self.read_topics(&names) {
            if topic == names[0] {
                committed.events.push(record);
            } else if topic == names[1] {
                committed
                    .seals
                    .push(String::from_utf8(record.payload).unwrap());
            } else {
                committed.dead_letters.push(record);
            }
        }
        committed
    }

    /// Every committed record of `topics` (full names), with its topic.
    pub fn read_topics(&self, topics: &[String]) -> Vec<(String, EventRecord)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", format!("{}-reader", self.prefix))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        let mut open = 0;
        for t in topics {
            let md = consumer
                .fetch_metadata(Some(t), Duration::from_secs(10))
                .unwrap();
            for p in md.topics()[0].partitions() {
                tpl.add_partition_offset(t, p.id(), Offset::Beginning)
                    .unwrap();
                open += 1;
            }
        }
        consumer.assign(&tpl).unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while open > 0 {
            assert!(Instant::now() < deadline, "reading {topics:?} timed out");
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    let headers: HashMap<String, String> = m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    (
                                        h.key.to_owned(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let payload = m.payload().unwrap_or_default().to_vec();
                    out.push((m.topic().to_owned(), EventRecord { headers, payload }));
                }
                Some(Err(KafkaError::PartitionEOF(_))) => open -= 1,
                Some(Err(e)) => panic!("reading {topics:?}: {e}"),
                None => {}
            }
        }
        out
    }

    /// Waits until the committed events hold `n` distinct event uids.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Committed {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.read_committed();
            if c.uids().len() >= n {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} events after {timeout:?}\n{}",
                c.uids().len(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn keyring(&self) -> Keyring {
        Keyring::parse(&std::fs::read_to_string(self.dir.join("keys/keyring")).unwrap()).unwrap()
    }
}

#[derive(Debug)]
pub struct EventRecord {
    pub headers: HashMap<String, String>,
    pub payload: Vec<u8>,
}

#[derive(Default)]
pub struct Committed {
    pub events: Vec<EventRecord>,
    pub seals: Vec<String>,
    pub dead_letters: Vec<EventRecord>,
}

impl Committed {
    /// metadata.uid of every event, with how often it was sealed.
    pub fn uids(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for e in &self.events {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            let uid = v["metadata"]["uid"].as_str().unwrap_or("").to_owned();
            *m.entry(uid).or_insert(0) += 1;
        }
        m
    }

    /// Asserts every chain is 1..=n without gap or duplicate; returns (chains, events).
    pub fn assert_gap_free(&self) -> (usize, usize) {
        let mut chains: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for e in &self.events {
            chains
                .entry(e.headers["auditfed.chain"].as_str())
                .or_default()
                .push(e.headers["auditfed.seq"].parse().unwrap());
        }
        for (chain, seqs) in &chains {
            let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
            assert_eq!(
                seqs, &expected,
                "chain {chain} is not gap- and duplicate-free in topic order"
            );
        }
        (chains.len(), self.events.len())
    }

    /// Builds an archive of what was committed (the layout the archiver
    /// writes) and verifies it with the verifier.
    pub fn archive_and_verify(&self, dir: &Path, keyring: Keyring) -> Report {
        let _ = std::fs::remove_dir_all(dir);
        let store = LocalDir::new(dir);
        let mut by_chain: BTreeMap<String, Vec<SealedRow>> = BTreeMap::new();
        for e in &self.events {
            let h = &e.headers;
            let event: auditfed_schemas::ocsf::Event = serde_json::from_slice(&e.payload).unwrap();
            let hash = |k: &str| -> [u8; 32] { hex::decode(&h[k]).unwrap().try_into().unwrap() };
            by_chain
                .entry(h["auditfed.chain"].clone())
                .or_default()
                .push(SealedRow {
                    raw_record: event.raw_data.as_ref().map(|r| r.as_bytes().to_vec()),
                    event,
                    event_json: e.payload.clone(),
                    source: h["auditfed.source"].clone(),
                    chain: h["auditfed.chain"].clone(),
                    seq: h["auditfed.seq"].parse().unwrap(),
                    leaf: hash("auditfed.leaf"),
                    chain_hash: hash("auditfed.chain_hash"),
                });
        }
        for rows in by_chain.values() {
            write_rows(&store, rows).unwrap();
        }
        for note in &self.seals {
            auditfed_query::writer::write_checkpoint(&store, &SignedNote::parse(note).unwrap())
                .unwrap();
        }
        verify(&store, &VerifyOptions::new(keyring)).unwrap()
    }
}

/// `n` CloudTrail records (JSON lines) from a real one, each with a unique eventID.
pub fn cloudtrail_lines(tag: &str, n: usize) -> Vec<String> {
    let fixture = super::root()
        .join("normalize/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_log.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let records = doc["Records"].as_array().unwrap();
    (0..n)
        .map(|i| {
            let mut r = records[i % records.len()].clone();
            r["eventID"] = serde_json::Value::String(format!("{tag}-{i}"));
            serde_json::to_string(&r).unwrap()
        })
        .collect()
}

/// SIGTERM: the normalizer commits, checkpoints what is pending and exits.
pub fn terminate(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "normalizer exited with {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "normalizer did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
