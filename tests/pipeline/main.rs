//! End-to-end tests of the pipeline against real services, in one binary
//! (one link of librdkafka and DataFusion instead of one per file): the
//! collectors, the normalizer, the archiver and the sinks against the
//! Kafka broker and the object-store emulators that `scripts/test.sh`
//! starts. Tests that share the broker take `support::serial()`.

#[path = "../support/mod.rs"]
mod support;

mod archiver;
mod collectors;
mod normalizer_kafka;
mod object_collectors;
mod object_failures;
mod receivers;
mod sentinel;
mod sinks;
