//! Connection to the Kafka cluster every auditfed service shares: client
//! properties, the embedded mock cluster, and the topic model.
//!
//! | topic | key | value | headers |
//! |---|---|---|---|
//! | `<prefix>.raw.<source>` | source object | raw record, unaltered | [`headers`] source, object, offset, received, collector |
//! | `<prefix>.events` | chain id | sealed OCSF event, canonical JSON | chain, seq, leaf, chain hash, source, raw position |
//! | `<prefix>.seals` | chain id | signed checkpoint (C2SP note) | chain, kind |
//! | `<prefix>.dlq` | source object | rejected bytes | source, position, reason, stage |
//! | `<prefix>.chain-state` (compacted) | chain id | sealer state + next input offset | |
//! | `<prefix>.cursors` (compacted) | collector/cursor id | collector position | |

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use auditfed_schemas::SourceType;
use auditfed_schemas::config::{KafkaConfig, Topics};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::error::{Class, PlatformError};

pub mod consume;
pub mod produce;

pub use produce::flush_now;

/// Header names of auditfed's Kafka records.
pub mod headers {
    /// Source type (`aws_cloudtrail`, ...).
    pub const SOURCE: &str = "auditfed.source";
    /// Where the record came from: a file path, `s3://bucket/key`, `kafka://topic/partition`.
    pub const OBJECT: &str = "auditfed.object";
    /// Byte offset (or Kafka offset) of the record within its object.
    pub const OFFSET: &str = "auditfed.offset";
    /// When auditfed received the record, epoch milliseconds.
    pub const RECEIVED_MS: &str = "auditfed.received_ms";
    /// The collector that produced the record.
    pub const COLLECTOR: &str = "auditfed.collector";
    /// Why a record was rejected (dead-letter topic).
    pub const REASON: &str = "auditfed.reason";
    /// Which stage rejected it: `ingest` or `normalize` (dead-letter topic).
    pub const STAGE: &str = "auditfed.stage";
    /// Chain id of a sealed event or checkpoint.
    pub const CHAIN: &str = "auditfed.chain";
    /// Sequence number of a sealed event.
    pub const SEQ: &str = "auditfed.seq";
    /// Leaf hash of a sealed event, hex.
    pub const LEAF: &str = "auditfed.leaf";
    /// Chain hash after a sealed event, hex.
    pub const CHAIN_HASH: &str = "auditfed.chain_hash";
    /// The raw record a sealed event or dead letter came from: `topic/partition/offset`.
    pub const RAW: &str = "auditfed.raw";
    /// Kind of a checkpoint: `batch`, `heartbeat` or `rotation`.
    pub const KIND: &str = "auditfed.kind";
    /// The source's own integrity verdict on a raw record's file:
    /// `verified`, `failed` or `unavailable` (CloudTrail digests).
    pub const UPSTREAM_INTEGRITY: &str = "auditfed.upstream_integrity";
}

/// What a topic is for, which decides its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicRole {
    /// Append-only data (raw, events, seals, dead letters).
    Log,
    /// Latest value per key (chain state, cursors): `cleanup.policy=compact`.
    Compacted,
}

/// A connected cluster: client properties for every client auditfed makes,
/// and, with `bootstrap = "embedded"`, the in-process mock cluster itself
/// (alive as long as this value; its data is lost when it is dropped).
#[derive(Clone)]
pub struct Kafka {
    bootstrap: String,
    properties: BTreeMap<String, String>,
    partitions: i32,
    replication_factor: i32,
    create_topics: bool,
    topics: Topics,
    embedded: Option<Rc<MockCluster<'static, DefaultProducerContext>>>,
}

impl std::fmt::Debug for Kafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kafka")
            .field("bootstrap", &self.bootstrap)
            .field("embedded", &self.embedded.is_some())
            .finish_non_exhaustive()
    }
}

impl Kafka {
    /// Connects per `[kafka]`: starts the mock cluster for `embedded`.
    pub fn connect(config: &KafkaConfig) -> Result<Kafka, PlatformError> {
        let (bootstrap, embedded) = if config.bootstrap == "embedded" {
            let cluster = MockCluster::new(1)
                .map_err(PlatformError::kafka("cannot start the embedded cluster"))?;
            (cluster.bootstrap_servers(), Some(Rc::new(cluster)))
        } else {
            (config.bootstrap.clone(), None)
        };
        Ok(Kafka {
            bootstrap,
            properties: config
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            partitions: config.partitions,
            // The mock cluster has one broker.
            replication_factor: if embedded.is_some() {
                1
            } else {
                config.replication_factor
            },
            create_topics: config.create_topics,
            topics: Topics::new(&config.topic_prefix),
            embedded,
        })
    }

    /// What a service starts with: connects per `[kafka]`, checks every
    /// pass-through property (an unknown one names its key), creates or
    /// validates the topics, and logs what is configured short of the
    /// settings (partitions, replicas).
    pub fn open(config: &KafkaConfig) -> Result<Kafka, PlatformError> {
        let kafka = Kafka::connect(config)?;
        if let Some((name, problem)) = kafka.check_properties().into_iter().next() {
            return Err(PlatformError::Config(format!(
                "kafka.properties.\"{name}\": {problem}"
            )));
        }
        for warning in kafka.ensure_topics()? {
            tracing::warn!(problem = %warning, "topic configured short of [kafka]");
        }
        Ok(kafka)
    }

    /// Whether this is the in-process mock cluster.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// The bootstrap servers (the mock cluster's address when embedded).
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Topic names.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Client properties: bootstrap and the pass-through ones from `[kafka.properties]`.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// Checks each pass-through property on its own (librdkafka rejects
    /// unknown names and bad values): `(name, problem)` for every bad one.
    pub fn check_properties(&self) -> Vec<(String, String)> {
        self.properties
            .iter()
            .filter_map(|(k, v)| {
                let mut c = ClientConfig::new();
                c.set(k, v);
                // librdkafka would log the client's events to stderr; only the result matters here.
                c.set("log_level", "0");
                c.create::<AdminClient<DefaultClientContext>>()
                    .err()
                    .map(|e| (k.clone(), e.to_string()))
            })
            .collect()
    }

    /// Every topic auditfed uses, with its role.
    pub fn all_topics(&self) -> Vec<(String, TopicRole)> {
        let t = &self.topics;
        let mut v: Vec<(String, TopicRole)> = SourceType::ALL
            .iter()
            .map(|s| (t.raw(s.as_str()), TopicRole::Log))
            .collect();
        v.extend([
            (t.events(), TopicRole::Log),
            (t.seals(), TopicRole::Log),
            (t.dlq(), TopicRole::Log),
            (t.receipts(), TopicRole::Log),
            (t.coverage(), TopicRole::Log),
            (t.chain_state(), TopicRole::Compacted),
            (t.cursors(), TopicRole::Compacted),
        ]);
        v
    }

    /// Creates the missing topics (if `create_topics`) and validates the
    /// existing ones: a compacted topic that is not compacted, or a log
    /// topic that is (compaction would delete events), is an error; fewer
    /// partitions or replicas than configured are reported as warnings.
    pub fn ensure_topics(&self) -> Result<Vec<String>, PlatformError> {
        if let Some(cluster) = &self.embedded {
            // The mock cluster has no CreateTopics API; it creates them directly.
            for (name, _) in self.all_topics() {
                cluster
                    .create_topic(&name, self.partitions, 1)
                    .map_err(PlatformError::kafka(format!(
                        "embedded cluster: topic {name}"
                    )))?;
            }
            return Ok(Vec::new());
        }
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .map_err(PlatformError::kafka("cannot create an admin client"))?;
        let timeout = Duration::from_secs(30);
        let metadata = admin
            .inner()
            .fetch_metadata(None, timeout)
            .map_err(|e| PlatformError::Cluster {
                message: format!(
                    "cannot reach Kafka at {}: {e} (is the broker running? `scripts/kafka.sh start`)",
                    self.bootstrap
                ),
                class: Class::Transient,
            })?;
        let existing: BTreeMap<String, (usize, usize)> = metadata
            .topics()
            .iter()
            .map(|t| {
                let replicas = t.partitions().first().map_or(0, |p| p.replicas().len());
                (t.name().to_owned(), (t.partitions().len(), replicas))
            })
            .collect();
        let wanted = self.all_topics();
        let missing: Vec<&(String, TopicRole)> = wanted
            .iter()
            .filter(|(name, _)| !existing.contains_key(name))
            .collect();
        let mut warnings = Vec::new();
        if !missing.is_empty() {
            if !self.create_topics {
                return Err(PlatformError::Cluster {
                    message: format!(
                        "missing topics: {} (create them, or set kafka.create_topics = true)",
                        missing
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    class: Class::Fatal,
                });
            }
            let new: Vec<NewTopic<'_>> = missing
                .iter()
                .map(|(name, role)| {
                    let t = NewTopic::new(
                        name,
                        self.partitions,
                        TopicReplication::Fixed(self.replication_factor),
                    );
                    match role {
                        // Hourly segments: old states are compacted away within hours, not
                        // after the default week, so a new owner reads little.
                        TopicRole::Compacted => t
                            .set("cleanup.policy", "compact")
                            .set("segment.ms", "3600000"),
                        TopicRole::Log => t,
                    }
                })
                .collect();
            let results = block_on(admin.create_topics(&new, &AdminOptions::new()))
                .map_err(PlatformError::kafka("cannot create topics"))?;
            for r in results {
                if let Err((name, code)) = r
                    && code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists
                {
                    return Err(PlatformError::Kafka {
                        what: format!("cannot create topic {name}"),
                        source: rdkafka::error::KafkaError::AdminOp(code),
                    });
                }
            }
        }
        // Validate the ones that existed.
        let present: Vec<&(String, TopicRole)> = wanted
            .iter()
            .filter(|(name, _)| existing.contains_key(name))
            .collect();
        if !present.is_empty() && !self.is_embedded() {
            let specs: Vec<ResourceSpecifier<'_>> = present
                .iter()
                .map(|(n, _)| ResourceSpecifier::Topic(n))
                .collect();
            let configs = block_on(admin.describe_configs(&specs, &AdminOptions::new()))
                .map_err(PlatformError::kafka("cannot describe topics"))?;
            for ((name, role), config) in present.iter().zip(configs) {
                let config = config.map_err(|code| PlatformError::Kafka {
                    what: format!("cannot describe topic {name}"),
                    source: rdkafka::error::KafkaError::AdminOp(code),
                })?;
                let policy = config
                    .get("cleanup.policy")
                    .and_then(|e| e.value.clone())
                    .unwrap_or_default();
                let compacted = policy.split(',').any(|p| p.trim() == "compact");
                match role {
                    TopicRole::Compacted if !compacted => {
                        return Err(PlatformError::Cluster {
                            message: format!(
                                "topic {name} has cleanup.policy={policy}: it must be compacted (cleanup.policy=compact)"
                            ),
                            class: Class::Fatal,
                        });
                    }
                    TopicRole::Log if compacted => {
                        return Err(PlatformError::Cluster {
                            message: format!(
                                "topic {name} has cleanup.policy={policy}: compaction would delete records of an append-only topic"
                            ),
                            class: Class::Fatal,
                        });
                    }
                    _ => {}
                }
                let (partitions, replicas) = existing[name.as_str()];
                if (partitions as i32) < self.partitions {
                    warnings.push(format!(
                        "topic {name} has {partitions} partition(s), kafka.partitions is {}",
                        self.partitions
                    ));
                }
                if (replicas as i32) < self.replication_factor {
                    warnings.push(format!(
                        "topic {name} has {replicas} replica(s), kafka.replication_factor is {}",
                        self.replication_factor
                    ));
                }
            }
        }
        Ok(warnings)
    }
}

/// Runs an admin future to completion on this thread.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}
