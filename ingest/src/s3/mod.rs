//! `type = "s3"`: CloudTrail and other JSON / JSON-lines objects in S3 or
//! an S3-compatible store, plain or gzip.
//!
//! Two ways to find objects:
//! - **listing** (the default): the dated layout
//!   `AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/` from
//!   `start_date`, one cursor per account and region (the engine in
//!   [`crate::objects`], shared with `gcs` and `azure_blob`);
//!   `auditfed run ingest --backfill` reads up to now with a progress bar.
//! - **SQS** (`sqs_queue_url`): S3 event notifications, direct, through
//!   SNS, or CloudTrail's own SNS notifications ([`collector`]). A message
//!   is deleted only after the records of its objects are committed to
//!   Kafka, and an object read is remembered (`dedupe_hours`) so a message
//!   delivered again is not read twice.
//!
//! CloudTrail digest files (`CloudTrail-Digest/`) are routed whole, with
//! their `x-amz-meta-signature`; with `cloudtrail_public_keys`, each log
//! file is also checked against its digest as it is read ([`digests`]).

pub mod collector;
pub mod digests;
pub mod sigv4;
pub mod sqs;
