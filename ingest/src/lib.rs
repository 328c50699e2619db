//! # auditfed-ingest
//!
//! The producer side of the pipeline: raw audit records, unaltered, into
//! Kafka (`<prefix>.raw.<source>`), rejected bytes into the dead-letter
//! topic with the reason.
//!
//! - [`kafka`]: the cluster connection every service shares (client
//!   properties passed through to librdkafka, the embedded mock cluster,
//!   the topic model with its creation and validation).
//! - [`raw`]: [`raw::RawProducer`], the idempotent producer collectors use.
//! - [`split`]: one record per source event from a stream of any size.
//! - [`mod@file`]: `auditfed ingest file`, and the `file` collector that
//!   follows growing files.
//! - [`objects`]: audit-log objects in buckets, the engine of the `s3`
//!   ([`s3`]: also SQS notifications), `gcs` and `azure_blob` collectors.
//! - [`collect`]: what collectors share: records, dead letters and cursor
//!   moves in one Kafka transaction; [`metrics`]: their counters.
//!
//! ```no_run
//! use auditfed_ingest::kafka::Kafka;
//! use auditfed_ingest::raw::RawProducer;
//! use auditfed_ingest::file::ingest_file;
//! use auditfed_schemas::{SourceType, config::Config};
//!
//! let config = Config::load("auditfed.toml".as_ref())?;
//! let kafka = Kafka::connect(&config.kafka)?;
//! kafka.ensure_topics()?;
//! let producer = RawProducer::new(&kafka, "my-collector")?;
//! let stats = ingest_file("trail.json.gz".as_ref(), SourceType::AwsCloudtrail, &producer, 900_000, 0)?;
//! producer.flush(std::time::Duration::from_secs(30))?;
//! println!("{} records", stats.records);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod collect;
pub mod collectors;
pub mod eventhubs;
pub mod file;
pub mod github;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod objects;
pub mod okta;
pub mod poll;
pub mod raw;
pub mod s3;
pub mod split;
pub mod syslog;
pub mod tls;
pub mod upstream;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Kafka refused or could not be reached.
    #[error("{0}")]
    Kafka(String),
    /// Reading the input failed.
    #[error("{0}")]
    Io(String),
}
