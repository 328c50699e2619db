//! # auditfed-platform
//!
//! The platform layer every stage of auditfed stands on: the ways it talks
//! to Kafka and to object stores, how it waits before a retry, what time it
//! is, and how a failure says whether a retry can help. Collectors, the
//! normalizer, the archiver and the sinks all use these pieces, so a fix or
//! a tuning made here holds everywhere; a new service starts here instead
//! of copying a neighbour.
//!
//! - [`kafka`]: the cluster connection (client properties passed through to
//!   librdkafka, the embedded mock cluster, the topic model with its
//!   creation and validation); [`kafka::consume`]: the static-member
//!   read_committed group consumer and the bounded reader that reads a
//!   topic to its end; [`kafka::produce`]: blocking sends with `QueueFull`
//!   backoff, [`kafka::produce::flush_now`], transactional producers.
//! - [`store`]: object stores (`s3://`, `gs://`, `az://`) opened from a URL
//!   with credentials from the environment and `object_store` options.
//! - [`backoff`]: one retry schedule (exponential, equal jitter, never
//!   shorter than the server's `Retry-After`) and one `Retry-After` parser.
//! - [`clock`]: epoch milliseconds.
//! - [`supervise`]: the worker threads of a service (one per collector or
//!   sink) under one stop flag, each ending with a line or an error.
//! - [`error`]: [`PlatformError`] and the [`Class`] of a failure —
//!   transient (retry), permanent for this record or object (dead-letter
//!   it, move on) or fatal (stop and name the key or resource) — which
//!   every crate's error type reports through [`Classify`]. Retry
//!   decisions use the class, never message text.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//!
//! use auditfed_platform::kafka::{Kafka, consume::BoundedReader};
//! use auditfed_schemas::config::KafkaConfig;
//!
//! // Connected, properties checked, topics created or validated:
//! let kafka = Kafka::open(&KafkaConfig::default())?;
//! // Every committed cursor, read to the end the topic had when opened:
//! let reader = BoundedReader::from_beginning(&kafka, &kafka.topics().cursors(), "my-reader")?;
//! let cursors: BTreeMap<String, serde_json::Value> =
//!     reader.latest_values(Duration::from_secs(60), "cursor", |key| Some(key.to_owned()))?;
//! println!("{} cursors", cursors.len());
//! # Ok::<(), auditfed_platform::PlatformError>(())
//! ```

#![forbid(unsafe_code)]

pub mod backoff;
pub mod clock;
pub mod error;
pub mod kafka;
pub mod store;
pub mod supervise;

pub use error::{Class, Classify, PlatformError};
