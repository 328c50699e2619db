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
use std::path::{Path, PathBuf};

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
        self.instance_id
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
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            collector_id: "auditfed-ingest".into(),
            max_record_bytes: 900_000,
        }
    }
}

/// `[archive]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArchiveConfig {
    /// Where the Parquet archive lives (a directory).
    pub path: PathBuf,
    /// Consumer group of the archiver (default `<topic_prefix>.archive`).
    pub group_id: Option<String>,
    /// A data file never holds rows across a multiple of this sequence
    /// number (keeps files and their encoding buffers bounded when
    /// checkpoints are rare).
    pub file_max_rows: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            path: PathBuf::from("./auditfed-data/archive"),
            group_id: None,
            file_max_rows: 100_000,
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
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path (`kafka.partitions`), empty for the file as a whole.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        key: key.into(),
        message: message.into(),
    }
}

impl Config {
    /// Reads and parses a config file, with `${NAME}` from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![problem("", format!("cannot read the file: {e}"))],
        })?;
        Config::parse(&text, |name| std::env::var(name).ok()).map_err(|problems| ConfigError {
            file: path.to_owned(),
            problems,
        })
    }

    /// Parses config text; `env` looks up `${NAME}`. Returns every problem found.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<Problem>> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            vec![problem(
                "",
                format!("not valid TOML: {}", e.to_string().trim_end()),
            )]
        })?;
        let mut problems = Vec::new();
        for (key, value) in table.iter_mut() {
            interpolate(key, value, &env, &mut problems);
        }
        // Each section on its own, so one bad section does not hide the others' problems.
        let mut config = Config::default();
        for (section, value) in table {
            let result = match section.as_str() {
                "kafka" => section_into(&section, value, &mut config.kafka),
                "keys" => section_into(&section, value, &mut config.keys),
                "normalize" => section_into(&section, value, &mut config.normalize),
                "ingest" => section_into(&section, value, &mut config.ingest),
                "archive" => section_into(&section, value, &mut config.archive),
                _ => Err(vec![problem(
                    section.clone(),
                    "unknown section (expected kafka, keys, normalize, ingest or archive)",
                )]),
            };
            if let Err(p) = result {
                problems.extend(p);
            }
        }
        problems.extend(config.check());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Value checks that types alone do not express.
    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let k = &self.kafka;
        if k.bootstrap.trim().is_empty() {
            problems.push(problem(
                "kafka.bootstrap",
                "empty: expected host:port[,host:port...] or \"embedded\"",
            ));
        }
        if k.topic_prefix.is_empty()
            || !k
                .topic_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            problems.push(problem(
                "kafka.topic_prefix",
                format!(
                    "{:?}: expected letters, digits, '.', '_' or '-' (Kafka topic name characters)",
                    k.topic_prefix
                ),
            ));
        }
        if k.partitions < 1 {
            problems.push(problem("kafka.partitions", "expected 1 or more"));
        }
        if k.replication_factor < 1 {
            problems.push(problem("kafka.replication_factor", "expected 1 or more"));
        }
        for key in k.properties.keys() {
            if key == "bootstrap.servers" {
                problems.push(problem(
                    format!("kafka.properties.\"{key}\""),
                    "set kafka.bootstrap instead",
                ));
            }
        }
        let n = &self.normalize;
        for (key, value) in [
            ("normalize.batch_max_records", n.batch_max_records as u64),
            ("normalize.batch_max_ms", n.batch_max_ms),
            ("normalize.batch_max_bytes", n.batch_max_bytes as u64),
            (
                "normalize.checkpoint_every_events",
                n.checkpoint_every_events,
            ),
            ("normalize.checkpoint_every_secs", n.checkpoint_every_secs),
            ("normalize.heartbeat_every_secs", n.heartbeat_every_secs),
            ("normalize.transaction_timeout_ms", n.transaction_timeout_ms),
        ] {
            if value == 0 {
                problems.push(problem(key, "expected a number greater than 0"));
            }
        }
        if n.group_id.as_deref() == Some("") {
            problems.push(problem("normalize.group_id", "empty"));
        }
        if self.archive.file_max_rows == 0 {
            problems.push(problem(
                "archive.file_max_rows",
                "expected a number greater than 0",
            ));
        }
        if self.keys.signing_key_name().is_empty() {
            problems.push(problem("keys.signing_key", "expected a file path"));
        }
        problems
    }

    /// The topic names of this config.
    pub fn topics(&self) -> Topics {
        Topics::new(&self.kafka.topic_prefix)
    }
}

fn section_into<T: for<'de> Deserialize<'de>>(
    section: &str,
    value: toml::Value,
    out: &mut T,
) -> Result<(), Vec<Problem>> {
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value,
        &mut |path: serde_ignored::Path<'_>| {
            unknown.push(problem(
                format!("{section}.{path}"),
                "unknown key (see examples/auditfed.toml for the keys of this section)",
            ));
        },
    ));
    match result {
        Ok(v) if unknown.is_empty() => {
            *out = v;
            Ok(())
        }
        Ok(_) => Err(unknown),
        Err(e) => {
            let mut problems = unknown;
            let key = match e.path().to_string().as_str() {
                "." => section.to_owned(),
                path => format!("{section}.{path}"),
            };
            problems.push(problem(
                key,
                e.into_inner().to_string().trim_end().to_owned(),
            ));
            Err(problems)
        }
    }
}

/// Replaces `${NAME}` in every string; `$${` is a literal `${`.
fn interpolate(
    path: &str,
    value: &mut toml::Value,
    env: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    match value {
        toml::Value::String(s) if s.contains("${") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                if i > 0 && rest.as_bytes()[i - 1] == b'$' {
                    out.push_str(&rest[..i - 1]);
                    out.push_str("${");
                    rest = &rest[i + 2..];
                    continue;
                }
                out.push_str(&rest[..i]);
                let Some(end) = rest[i..].find('}') else {
                    problems.push(problem(path, "`${` without a closing `}`"));
                    return;
                };
                let name = &rest[i + 2..i + end];
                match env(name) {
                    Some(v) => out.push_str(&v),
                    None => problems.push(problem(
                        path,
                        format!("environment variable `{name}` is not set"),
                    )),
                }
                rest = &rest[i + end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                interpolate(&format!("{path}.{k}"), v, env, problems);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                interpolate(&format!("{path}[{i}]"), v, env, problems);
            }
        }
        _ => {}
    }
}

/// A config file that cannot be used: which file and every problem in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, each with its key.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} problem(s) in the configuration",
            self.file.display(),
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  {}: {p}", self.file.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SECRET").then(|| "s3cr\"et".to_owned())
    }

    #[test]
    fn defaults_and_interpolation() {
        let c = Config::parse(
            r#"
[kafka]
bootstrap = "broker:9093"
[kafka.properties]
"sasl.password" = "${SECRET}"
"literal" = "$${SECRET}"
"socket.timeout.ms" = 30000
[normalize]
sources = ["okta", "aws_cloudtrail"]
"#,
            env,
        )
        .unwrap();
        assert_eq!(c.kafka.bootstrap, "broker:9093");
        assert_eq!(c.kafka.properties["sasl.password"].to_string(), "s3cr\"et");
        assert_eq!(c.kafka.properties["literal"].to_string(), "${SECRET}");
        assert_eq!(c.kafka.properties["socket.timeout.ms"].to_string(), "30000");
        assert_eq!(
            c.normalize.source_types(),
            vec![SourceType::Okta, SourceType::AwsCloudtrail]
        );
        assert_eq!(c.keys.signing_key_name(), "auditfed");
        assert_eq!(c.topics().chain_state(), "auditfed.chain-state");
    }

    #[test]
    fn every_problem_is_listed_with_its_key() {
        let problems = Config::parse(
            r#"
[kafka]
partitons = 6
replication_factor = 0
[kafka.properties]
"sasl.password" = "${MISSING}"
[normalize]
sources = ["cloudtrail"]
[keys]
signing_key = "k.pem"
colour = "blue"
[archiv]
path = "x"
"#,
            env,
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for expected in [
            "kafka.partitons",
            "kafka.properties.sasl.password",
            "normalize.sources[0]",
            "keys.colour",
            "archiv",
        ] {
            assert!(
                keys.contains(&expected),
                "{expected} missing in {problems:?}"
            );
        }
        let text = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("MISSING"), "{text}");
        assert!(text.contains("cloudtrail"), "{text}");
    }

    #[test]
    fn value_checks() {
        let problems = Config::parse(
            "[kafka]\nreplication_factor = 0\ntopic_prefix = \"a b\"\n[normalize]\nbatch_max_ms = 0\n",
            env,
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "kafka.topic_prefix",
                "kafka.replication_factor",
                "normalize.batch_max_ms"
            ]
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let problems = Config::parse("[kafka\n", env).unwrap_err();
        assert!(problems[0].message.contains("line 1"), "{problems:?}");
    }
}
