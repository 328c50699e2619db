//! The normalizer's tests in one binary: golden events per source, OCSF
//! 1.8.0 validity, regressions found by fuzzing, upstream integrity
//! (CloudTrail digests), and the embedded-Kafka pipeline.

#[path = "../support/mod.rs"]
mod support;

mod embedded;
mod golden;
mod ocsf_schema;
mod regressions;
mod upstream;
