//! Failures of the platform layer, and the one question every auditfed
//! error answers: can a retry help?
//!
//! | [`Class`] | what the caller does | examples |
//! |---|---|---|
//! | [`Class::Transient`] | retry later, lose nothing | broker unreachable, store outage, 5xx, timeouts |
//! | [`Class::Permanent`] | this record or object will fail the same way each time: dead-letter it with the reason and move on | corrupt gzip, an object archived to Glacier, a record over the size limit |
//! | [`Class::Fatal`] | stop the service, naming the key or resource to fix | bad configuration, refused credentials, a fenced producer |
//!
//! Each crate keeps its own error enum (`thiserror`, with `#[source]`
//! chains) and implements [`Classify`] for it; decisions are taken on the
//! class, never on message text.

use object_store::Error as StoreError;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// Whether a failure is worth a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The same call may succeed later: retry (with [`crate::backoff`]).
    Transient,
    /// This record or object fails the same way each time: set it aside
    /// (dead-letter topic, with the reason) and go on with the next.
    Permanent,
    /// Nothing works until someone fixes the configuration or the
    /// resource named: stop.
    Fatal,
}

/// An error that knows its [`Class`].
pub trait Classify {
    /// Whether a retry can help.
    fn class(&self) -> Class;

    /// Shorthand for `class() == Class::Transient`.
    fn is_transient(&self) -> bool {
        self.class() == Class::Transient
    }
}

/// Errors of the platform layer.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A Kafka client call failed.
    #[error("{what}: {source}")]
    Kafka {
        /// What was being done (`cannot begin a transaction`, `reading auditfed.cursors`).
        what: String,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// The cluster answered, but not as auditfed needs: a topic missing or
    /// configured against its role (fatal), or not read to its end in time
    /// (transient).
    #[error("{message}")]
    Cluster {
        /// What is wrong and what to do.
        message: String,
        /// Whether waiting can fix it.
        class: Class,
    },
    /// An object-store call failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done, naming the store and key.
        what: String,
        /// `object_store`'s error.
        #[source]
        source: StoreError,
    },
    /// A URL, option or property that cannot work.
    #[error("{0}")]
    Config(String),
}

impl PlatformError {
    /// A Kafka failure while doing `what`.
    pub fn kafka(what: impl Into<String>) -> impl FnOnce(KafkaError) -> PlatformError {
        let what = what.into();
        move |source| PlatformError::Kafka { what, source }
    }

    /// An object-store failure while doing `what`.
    pub fn store(what: impl Into<String>) -> impl FnOnce(StoreError) -> PlatformError {
        let what = what.into();
        move |source| PlatformError::Store { what, source }
    }
}

impl Classify for PlatformError {
    fn class(&self) -> Class {
        match self {
            PlatformError::Kafka { source, .. } => kafka_class(source),
            PlatformError::Cluster { class, .. } => *class,
            PlatformError::Store { source, .. } => store_class(source),
            PlatformError::Config(_) => Class::Fatal,
        }
    }
}

/// The class of a librdkafka error: configuration, authentication and
/// fencing are fatal, a record the broker refuses for itself (too large)
/// is permanent, the rest (unreachable, timeouts, leader changes) transient.
pub fn kafka_class(e: &KafkaError) -> Class {
    use RDKafkaErrorCode as C;
    match e {
        KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) | KafkaError::Nul(_) => {
            Class::Fatal
        }
        KafkaError::Transaction(e) if e.is_fatal() => Class::Fatal,
        KafkaError::MessageProduction(C::MessageSizeTooLarge | C::InvalidRecord) => {
            Class::Permanent
        }
        other => match other.rdkafka_error_code() {
            Some(
                C::Fatal
                | C::Fenced
                | C::ProducerFenced
                | C::FencedInstanceId
                | C::InvalidProducerEpoch
                | C::Authentication
                | C::SaslAuthenticationFailed
                | C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::TransactionalIdAuthorizationFailed,
            ) => Class::Fatal,
            _ => Class::Transient,
        },
    }
}

/// The class of an object-store error *for one object*: gone, refused
/// (an object archived to Glacier, a KMS key it may not use) or unnamable
/// is permanent for that object; a store that cannot be used at all is
/// fatal; the rest (network, throttling, 5xx after `object_store`'s own
/// retries) transient.
pub fn store_class(e: &StoreError) -> Class {
    match e {
        StoreError::NotFound { .. }
        | StoreError::PermissionDenied { .. }
        | StoreError::InvalidPath { .. } => Class::Permanent,
        StoreError::NotSupported { .. }
        | StoreError::NotImplemented { .. }
        | StoreError::UnknownConfigurationKey { .. }
        | StoreError::Unauthenticated { .. } => Class::Fatal,
        _ => Class::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_error(status: &str) -> StoreError {
        let source: Box<dyn std::error::Error + Send + Sync> = status.into();
        match status {
            "404" => StoreError::NotFound {
                path: "k".into(),
                source,
            },
            "403" => StoreError::PermissionDenied {
                path: "k".into(),
                source,
            },
            "401" => StoreError::Unauthenticated {
                path: "k".into(),
                source,
            },
            _ => StoreError::Generic {
                store: "S3",
                source,
            },
        }
    }

    #[test]
    fn store_failures_are_classed_for_one_object() {
        assert_eq!(store_class(&store_error("404")), Class::Permanent);
        assert_eq!(store_class(&store_error("403")), Class::Permanent);
        assert_eq!(store_class(&store_error("401")), Class::Fatal);
        assert_eq!(store_class(&store_error("503")), Class::Transient);
        let e = PlatformError::store("cannot read s3://b/k")(store_error("503"));
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "cannot read s3://b/k: Generic S3 error: 503");
        assert!(std::error::Error::source(&e).is_some(), "the chain is kept");
    }

    #[test]
    fn kafka_failures_are_classed() {
        use RDKafkaErrorCode as C;
        assert_eq!(
            kafka_class(&KafkaError::ClientCreation("bad".into())),
            Class::Fatal
        );
        assert_eq!(kafka_class(&KafkaError::Global(C::Fenced)), Class::Fatal);
        assert_eq!(
            kafka_class(&KafkaError::Global(C::SaslAuthenticationFailed)),
            Class::Fatal
        );
        assert_eq!(
            kafka_class(&KafkaError::MessageProduction(C::MessageSizeTooLarge)),
            Class::Permanent
        );
        assert_eq!(
            kafka_class(&KafkaError::MetadataFetch(C::BrokerTransportFailure)),
            Class::Transient
        );
        assert_eq!(
            kafka_class(&KafkaError::MessageProduction(C::QueueFull)),
            Class::Transient
        );
    }
}
