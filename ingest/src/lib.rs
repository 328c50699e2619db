//! # auditfed-ingest
//!
//! The producer side of the pipeline: raw audit records, unaltered, into
//! Kafka (`<prefix>.raw.<source>`), rejected bytes into the dead-letter
//! topic with the reason.
//!
//! Kafka itself (the connection, topics, producers and consumers) is the
//! platform layer's: `auditfed_platform::kafka`.
//!
//! - [`raw`]: [`raw::RawProducer`], the idempotent producer collectors use.
//! - [`split`]: one record per source event from a stream of any size.
//! - [`mod@file`]: `auditfed ingest file`, and the `file` collector that
//!   follows growing files.
//! - [`objects`]: audit-log objects in buckets, the engine of the `s3`
//!   ([`s3`]: also SQS notifications), `gcs` and `azure_blob` collectors.
//! - [`http`]: the HTTPS receiver (Kubernetes audit webhook, any JSON
//!   sender), answering 200 only after the Kafka commit; [`tls`]: the
//!   receivers' TLS (server certificates, client CAs).
//! - [`syslog`]: RFC 5424 and RFC 3164 over UDP, TCP and TLS.
//! - [`eventhubs`]: Azure Event Hubs through its Kafka endpoint.
//! - [`okta`], [`github`]: the SaaS audit-log pollers, on the shared loop
//!   of [`poll`] (rate limits, retries, coverage rows).
//! - [`upstream`]: AWS CloudTrail log file validation (signed digests),
//!   the source's own integrity evidence.
//! - [`collectors`]: the `[collectors.<name>]` tables of `auditfed.toml`
//!   and the collector each one builds.
//! - [`service`]: `auditfed run ingest`, the selected collectors on their
//!   own threads.
//! - [`collect`]: what collectors share: records, dead letters and cursor
//!   moves in one Kafka transaction; [`metrics`]: their counters.
//!
//! Errors are [`IngestError`]s; [`Classify`] says whether one is transient
//! (retried), permanent for its object (dead-lettered) or fatal.
//!
//! ```no_run
//! use auditfed_platform::kafka::Kafka;
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
pub mod metrics;
pub mod objects;
pub mod okta;
pub mod poll;
pub mod raw;
pub mod s3;
pub mod service;
pub mod split;
pub mod syslog;
pub mod tls;
pub mod upstream;

pub use auditfed_platform::{Class, Classify, PlatformError};

/// Errors of this crate; [`Classify::class`] says what to do with each.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Kafka or an object store failed; the platform layer knows whether a
    /// retry helps.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Kafka refused a collector's batch (fatal: the collector stops, its
    /// uncommitted batch is read again by the next instance).
    #[error("{0}")]
    Kafka(String),
    /// Reading the input failed for now (transient).
    #[error("{0}")]
    Io(String),
    /// Reading a file or socket failed (transient).
    #[error("{what}: {source}")]
    Read {
        /// What was being read (a path, `syslog tcp`).
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An object or record that fails the same way each time (permanent:
    /// dead-lettered with the reason).
    #[error("{object}: {reason}")]
    Corrupt {
        /// The object (`s3://bucket/key`, a path).
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting or credential that cannot work (fatal), naming the key.
    #[error("{0}")]
    Config(String),
}

impl IngestError {
    /// An I/O failure while reading `what`.
    pub fn read(what: impl std::fmt::Display) -> impl Fn(std::io::Error) -> IngestError {
        let what = what.to_string();
        move |source| IngestError::Read {
            what: what.clone(),
            source,
        }
    }

    /// Whether the object store failed (not Kafka, not the data): what a
    /// collector of objects retries at its next pass.
    pub fn is_store(&self) -> bool {
        matches!(self, IngestError::Platform(PlatformError::Store { .. }))
    }
}

impl Classify for IngestError {
    fn class(&self) -> Class {
        match self {
            IngestError::Platform(e) => e.class(),
            IngestError::Kafka(_) | IngestError::Config(_) => Class::Fatal,
            IngestError::Io(_) | IngestError::Read { .. } => Class::Transient,
            IngestError::Corrupt { .. } => Class::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_says_what_to_do() {
        let corrupt = IngestError::Corrupt {
            object: "s3://b/k.json.gz".into(),
            reason: "not gzip: invalid gzip header".into(),
        };
        assert_eq!(corrupt.class(), Class::Permanent);
        assert_eq!(
            corrupt.to_string(),
            "s3://b/k.json.gz: not gzip: invalid gzip header"
        );
        let outage = IngestError::from(PlatformError::store("s3://b: cannot list AWSLogs/")(
            object_store::Error::Generic {
                store: "S3",
                source: "connection refused".into(),
            },
        ));
        assert!(outage.is_store() && outage.is_transient());
        let archived = IngestError::from(PlatformError::store("s3://b: cannot read k")(
            object_store::Error::PermissionDenied {
                path: "k".into(),
                source: "InvalidObjectState".into(),
            },
        ));
        assert_eq!(archived.class(), Class::Permanent);
        let read = IngestError::read("/var/log/auth.log")(std::io::Error::other("EIO"));
        assert!(read.is_transient() && !read.is_store());
        assert_eq!(read.to_string(), "/var/log/auth.log: EIO");
        assert!(std::error::Error::source(&read).is_some());
        assert_eq!(
            IngestError::Config("collectors.x.source".into()).class(),
            Class::Fatal
        );
    }
}
