//! # auditfed-sinks
//!
//! Forwards the sealed events of `<prefix>.events` to SIEMs, each sink in
//! its own consumer group, so a SIEM engineer can trust that every event
//! reached the SIEM exactly as archived.
//!
//! The shared [`driver`] owns everything that is not the SIEM's protocol:
//! batching by count, bytes and time; retries with exponential backoff and
//! jitter that honour `Retry-After`; splitting a batch the SIEM finds too
//! large and bisecting one it rejects, until the events at fault are alone
//! and go to `<prefix>.dlq` with the reason and the response body; a
//! delivery receipt per event in `<prefix>.receipts`; and Kafka offsets
//! committed in order, each only after the SIEM acknowledged. Up to
//! `max_in_flight` batches per sink are delivered at once; when all are
//! taken the consumer pauses: backpressure, never a silent drop.
//!
//! A sink is a [`driver::Service`]: it turns a batch into the SIEM's
//! requests and says how each attempt ended ([`driver::Failure`]):
//!
//! ```
//! use auditfed_sinks::driver::{Failure, OutgoingEvent, Service};
//!
//! /// A sink that accepts everything (a SIEM would answer over HTTP).
//! struct Accept;
//!
//! #[async_trait::async_trait]
//! impl Service for Accept {
//!     async fn health(&self) -> Result<(), Failure> {
//!         Ok(())
//!     }
//!     async fn deliver(&self, events: &[OutgoingEvent]) -> Result<String, Failure> {
//!         Ok(format!("accepted {}", events.len()))
//!     }
//! }
//! ```
//!
//! Sinks: [`splunk`] (HTTP Event Collector with indexer acknowledgements)
//! and [`sentinel`] (Azure Monitor Logs Ingestion API, ASIM tables), each
//! configured by its `[sinks.<name>]` table ([`config`]); [`policy`] is
//! the per-sink egress filter (which events may leave, which fields leave
//! dropped or pseudonymised). [`service`] builds each configured sink and
//! runs it (`auditfed run sinks`, `auditfed replay`).

#![forbid(unsafe_code)]

pub mod config;
pub mod driver;
pub mod policy;
pub mod sentinel;
pub mod service;
pub mod splunk;

/// Errors that stop a sink. Everything retryable is retried by the driver
/// and never surfaces here.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The configuration cannot work (bad token, unknown index, ...).
    #[error("sink {sink}: {message}")]
    Fatal {
        /// The sink's name (`[sinks.<name>]`).
        sink: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Kafka failed: consuming, producing receipts or dead letters, committing.
    #[error("kafka: {0}")]
    Kafka(String),
    /// A feed other than Kafka (the archive, for a replay) could not give
    /// its next event.
    #[error("{what}: {source}")]
    Feed {
        /// What was being read.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Kafka failed while joining or reading (the platform layer's error).
    #[error("kafka: {0}")]
    Platform(#[from] auditfed_platform::PlatformError),
    /// The Kafka transaction of a batch's receipts, dead letters and
    /// offsets was aborted (a rebalance took its partitions, the broker was
    /// away): nothing of it is visible, the batch is delivered again.
    #[error("the receipts of a batch were not committed (it is delivered again): {0}")]
    Uncommitted(String),
    /// The sink was asked to stop with a batch not yet acknowledged; its
    /// offsets are not committed, so it is delivered again after a restart.
    #[error("stopped before the SIEM acknowledged the batch in flight")]
    Stopped,
}

impl auditfed_platform::Classify for SinkError {
    fn class(&self) -> auditfed_platform::Class {
        use auditfed_platform::Class;
        match self {
            SinkError::Fatal { .. } => Class::Fatal,
            SinkError::Platform(e) => e.class(),
            // An unreadable archive file reads the same way next time.
            SinkError::Feed { .. } => Class::Permanent,
            // Nothing is committed: a restart delivers the batch again.
            SinkError::Kafka(_) | SinkError::Uncommitted(_) | SinkError::Stopped => {
                Class::Transient
            }
        }
    }
}
