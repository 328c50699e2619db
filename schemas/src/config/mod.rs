//! `auditfed.toml`: the one configuration file every service reads.
//!
//! Typed, with every key documented in `examples/auditfed.toml`. Loading
//! does three things a hand-written parser would forget:
//!
//! - `${NAME}` in any string value is replaced by the environment variable
//!   `NAME` (secrets stay out of the file); `$${` writes a literal `${`.
//! - Unknown keys are errors, not silently ignored: a typo such as
//!   `partitons = 6` would otherwise leave the default in force.
//! - Every problem is reported at once, each with its key path, so
//!   `auditfed validate --config FILE` lists them all in one run.
//!
//! Relative paths are relative to the working directory of the process
//! (the example config's `./auditfed-data/...` is where `auditfed keygen
//! --out ./auditfed-data/keys` and `auditfed quickstart` write).
//!
//! ```
//! use auditfed_schemas::config::Config;
//!
//! let config = Config::parse("[kafka]\nbootstrap = \"127.0.0.1:9092\"\n", |_| None).unwrap();
//! assert_eq!(config.kafka.topic_prefix, "auditfed");
//! assert_eq!(config.topics().raw("okta"), "auditfed.raw.okta");
//!
//! let problems = Config::parse("[kafka]\npartitons = 6\n", |_| None).unwrap_err();
//! assert_eq!(problems[0].key, "kafka.partitons");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::SourceType;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The Kafka cluster and topics.
    pub kafka: KafkaConfig,
    /// Checkpoint-signing key and the keyring of trusted public keys.
    pub keys: KeysConfig,
    /// The normalizer service (`auditfed run normalize`).
    pub normalize: NormalizeConfig,
    /// File ingestion (`auditfed ingest file`).
    pub ingest: IngestConfig,
    /// The Parquet archive.
    pub archive: ArchiveConfig,
    /// `auditfed sql` and the PostgreSQL wire-protocol server.
    pub sql: SqlConfig,
    /// SIEM sinks by name (`[sinks.<name>]`, `auditfed run sinks`). Each
    /// table is checked by the sink's own typed config in `auditfed-sinks`,
    /// which knows its keys.
    pub sinks: BTreeMap<String, toml::Value>,
    /// Collectors by name (`[collectors.<name>]`, `auditfed run ingest`),
    /// each checked by its typed config in `auditfed-ingest`.
    pub collectors: BTreeMap<String, toml::Value>,
    /// Scheduled reports by name (`[reports.<name>]`, `auditfed run
    /// reports`), each checked by its typed config in `auditfed-query`.
    pub reports: BTreeMap<String, toml::Value>,
    /// Policy packs by name (`[policies.<name>]`), each checked by
    /// [`crate::policy::load::from_config`].
    pub policies: BTreeMap<String, toml::Value>,
}

/// `[kafka]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    /// `host:port,...` of the brokers, or `embedded` for librdkafka's
    /// in-process mock cluster (one process, state lost at exit).
    pub bootstrap: String,
    /// Topic names start with this: `<prefix>.raw.<source>`, `<prefix>.events`, ...
    pub topic_prefix: String,
    /// Partitions of the topics auditfed creates.
    pub partitions: i32,
    /// Replication factor of the topics auditfed creates (3 in production).
    pub replication_factor: i32,
    /// Create missing topics at start (else: fail with the missing names).
    pub create_topics: bool,
    /// librdkafka properties passed through as they are (`security.protocol`,
    /// `sasl.mechanism`, `sasl.username`, `ssl.ca.location`, ...).
    pub properties: BTreeMap<String, PropertyValue>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap: "127.0.0.1:9092".into(),
            topic_prefix: "auditfed".into(),
            partitions: 3,
            replication_factor: 1,
            create_topics: true,
            properties: BTreeMap::new(),
        }
    }
}

/// A librdkafka property value: TOML strings, integers and booleans are
/// all passed to librdkafka as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    /// `"SASL_SSL"`.
    Text(String),
    /// `30000`.
    Integer(i64),
    /// `true`.
    Bool(bool),
}

impl fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Text(s) => f.write_str(s),
            PropertyValue::Integer(i) => write!(f, "{i}"),
            PropertyValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `[keys]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeysConfig {
    /// The Ed25519 private key (PKCS#8 PEM) that signs checkpoints, as
    /// written by `auditfed keygen`. Its key name is the file stem.
    pub signing_key: PathBuf,
    /// The keyring of pinned public keys (`auditfed keygen` appends to it).
    pub keyring: PathBuf,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            signing_key: PathBuf::from("./auditfed-data/keys/auditfed.key"),
            keyring: PathBuf::from("./auditfed-data/keys/keyring"),
        }
    }
}

impl KeysConfig {
    /// The signing key's name: the private key file's stem (`auditfed.key` → `auditfed`).
    pub fn signing_key_name(&self) -> String {
        self.signing_key
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// `[normalize]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NormalizeConfig {
    /// Consumer group of the normalizer instances (default `<topic_prefix>.normalize`).
    pub group_id: Option<String>,
    /// The raw topics to consume, by source; empty means every source.
    pub sources: Vec<SourceType>,
    /// Records per transaction, at most.
    pub batch_max_records: usize,
    /// Bytes of raw records per transaction, at most (bounds memory).
    pub batch_max_bytes: usize,
    /// A transaction is committed at least this often when records arrive (ms).
    pub batch_max_ms: u64,
    /// A signed checkpoint after this many events of a chain...
    pub checkpoint_every_events: u64,
    /// ...or this many seconds after the first unsealed event, whichever comes first.
    pub checkpoint_every_secs: u64,
    /// An idle chain gets a signed heartbeat checkpoint this often (seconds),
    /// so truncation of its tail is detectable.
    pub heartbeat_every_secs: u64,
    /// Kafka transaction timeout (ms): a crashed instance's open transaction
    /// is aborted by the broker after this.
    pub transaction_timeout_ms: u64,
    /// This instance's name, unique among running instances and stable
    /// across its restarts: a restart fences its predecessor at once (its
    /// open transaction is aborted). Default: the host name.
    pub instance_id: Option<String>,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizeConfig {
            group_id: None,
            sources: Vec::new(),
            batch_max_records: 2_000,
            batch_max_bytes: 16 << 20,
            batch_max_ms: 200,
            checkpoint_every_events: 10_000,
            checkpoint_every_secs: 60,
            heartbeat_every_secs: 300,
            transaction_timeout_ms: 30_000,
            instance_id: None,
        }
    }
}

impl NormalizeConfig {
    /// The consumer group: `group_id`, else `<topic_prefix>.normalize`, so
    /// pipelines with different prefixes never share a group by accident.
    pub fn group_id(&self, topics: &Topics) -> String {
        self.group_id
            .clone()
            .unwrap_or_else(|| format!("{}.normalize", topics.prefix))
    }

    /// `instance_id`, else the host name, else `default`.
    pub fn instance_id(&self) -> String {
        instance_id_or_host(&self.instance_id)
    }

    /// The sources consumed: the configured ones, or all.
    pub fn source_types(&self) -> Vec<SourceType> {
        if self.sources.is_empty() {
            SourceType::ALL.to_vec()
        } else {
            self.sources.clone()
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// Written into every raw record's `auditfed.collector` header.
    pub collector_id: String,
    /// Records larger than this go to the dead-letter topic instead (bytes).
    pub max_record_bytes: usize,
    /// `host:port` serving the collectors' Prometheus counters at
    /// `/metrics` (`auditfed run ingest`); none when absent.
    pub metrics_listen: Option<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            collector_id: "auditfed-ingest".into(),
            max_record_bytes: 900_000,
            metrics_listen: None,
        }
    }
}

/// `explicit`, else the host name, else `default`.
fn instance_id_or_host(explicit: &Option<String>) -> String {
    explicit
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// `[archive]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArchiveConfig {
    /// Where the Parquet archive lives (a directory).
    pub path: PathBuf,
    /// Consumer group of the archiver (default `<topic_prefix>.archive`).
    pub group_id: Option<String>,
    /// This archiver's name, unique among running instances and stable
    /// across restarts: a restarted archiver takes its partitions back at
    /// once instead of waiting out the session timeout. Default: the host name.
    pub instance_id: Option<String>,
    /// A data file never holds rows across a multiple of this sequence
    /// number (keeps files and their encoding buffers bounded when
    /// checkpoints are rare).
    pub file_max_rows: u64,
    /// Where the sinks' delivery receipts are written as Parquet (a
    /// directory or an object-store URL), apart from the archive: they are
    /// not evidence. None: receipts stay in Kafka only.
    pub receipts_path: Option<String>,
    /// Where the API pollers' coverage (one row per page fetched) is
    /// written as Parquet (a directory or an object-store URL), apart from
    /// the archive. None: coverage stays in Kafka only.
    pub coverage_path: Option<String>,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            path: PathBuf::from("./auditfed-data/archive"),
            group_id: None,
            instance_id: None,
            file_max_rows: 100_000,
            receipts_path: None,
            coverage_path: None,
        }
    }
}

impl ArchiveConfig {
    /// `group_id`, else `<topic_prefix>.archive`.
    pub fn group_id(&self, topics: &Topics) -> String {
        self.group_id
            .clone()
            .unwrap_or_else(|| format!("{}.archive", topics.prefix))
    }

    /// `instance_id`, else the host name, else `default`.
    pub fn instance_id(&self) -> String {
        instance_id_or_host(&self.instance_id)
    }
}

/// `[sql]`: what `auditfed sql` and `auditfed serve sql` query, and who may
/// connect to the server. Command-line flags override these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SqlConfig {
    /// Archives queried as one `events` table, by name (the name is the
    /// `archive` column): directories or `s3://`, `gs://`, `az://` URLs.
    /// Empty: `local` = `archive.path`.
    pub archives: BTreeMap<String, String>,
    /// Address `auditfed serve sql` listens on.
    pub listen: String,
    /// The user clients log in as.
    pub user: Option<String>,
    /// Its password or token (use `${ENV}`).
    pub password: Option<String>,
    /// Let anyone connect without a password (only on a trusted network).
    pub allow_anonymous: bool,
    /// PEM certificate (chain) for TLS; clients connect with `sslmode=require`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            archives: BTreeMap::new(),
            listen: "127.0.0.1:5433".into(),
            user: None,
            password: None,
            allow_anonymous: false,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Config {
    /// The archives to query, `(name, location)`: `sql.archives`, else
    /// `local` = `archive.path`.
    pub fn query_archives(&self) -> Vec<(String, String)> {
        if self.sql.archives.is_empty() {
            vec![("local".into(), self.archive.path.display().to_string())]
        } else {
            self.sql
                .archives
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
    }
}

/// The topic names derived from `kafka.topic_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Topics {
        Topics {
            prefix: prefix.to_owned(),
        }
    }
    /// `<prefix>.raw.<source>`: raw records, unaltered.
    pub fn raw(&self, source: &str) -> String {
        format!("{}.raw.{source}", self.prefix)
    }
    /// `<prefix>.events`: sealed OCSF events.
    pub fn events(&self) -> String {
        format!("{}.events", self.prefix)
    }
    /// `<prefix>.seals`: signed checkpoints.
    pub fn seals(&self) -> String {
        format!("{}.seals", self.prefix)
    }
    /// `<prefix>.dlq`: rejected records with the reason.
    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.prefix)
    }
    /// `<prefix>.chain-state` (compacted): each chain's sealer state, written
    /// in the same transaction as its events.
    pub fn chain_state(&self) -> String {
        format!("{}.chain-state", self.prefix)
    }
    /// `<prefix>.cursors` (compacted): collectors' positions.
    pub fn cursors(&self) -> String {
        format!("{}.cursors", self.prefix)
    }
    /// Consumer group of the sink `name`: `<prefix>.sink.<name>`.
    pub fn sink_group(&self, name: &str) -> String {
        format!("{}.sink.{name}", self.prefix)
    }
    /// The transactional id of collector `name`: `<prefix>.collector.<name>`.
    pub fn collector(&self, name: &str) -> String {
        format!("{}.collector.{name}", self.prefix)
    }
    /// `<prefix>.receipts`: one delivery receipt per event and sink.
    pub fn receipts(&self) -> String {
        format!("{}.receipts", self.prefix)
    }
    /// `<prefix>.coverage`: what each API poller fetched, page by page
    /// (the time window, the cursors before and after, the record count).
    pub fn coverage(&self) -> String {
        format!("{}.coverage", self.prefix)
    }
}

mod load;
#[cfg(test)]
mod tests;

pub use load::{ConfigError, Problem, from_toml, interpolate_env, parse_typed_tables};
