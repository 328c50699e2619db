//! # auditfed-schemas
//!
//! The shared vocabulary of auditfed's crates:
//!
//! - [`ocsf`]: the common event model, OCSF 1.8.0 events as Rust values
//!   (classes, activities, objects) that serialize to OCSF JSON;
//! - [`source`]: the source log formats auditfed understands and the
//!   metadata (lineage) that travels with each raw record;
//! - [`archive`]: the versioned Arrow schema of the Parquet archive
//!   (flattened query columns, the OCSF JSON and raw record, seal columns)
//!   and its file layout ([`archive::layout`]);
//! - [`seal`]: the integrity format of docs/integrity.md — canonical event
//!   encoding, leaf and chain hashes, RFC 6962 Merkle trees, checkpoints as
//!   signed notes, Ed25519 keys and keyrings;
//! - [`config`]: `auditfed.toml`, the one configuration file every service
//!   reads, with errors that name the file, the key and what was expected;
//! - [`hmac`]: HMAC-SHA256, the one keyed hash (SigV4 signing, the egress
//!   policy's pseudonyms);
//! - [`policy`]: policy packs and their one evaluator — egress and
//!   redaction, residency, retention, quotas — decided over an event's
//!   query columns, every decision naming its rule and pack version.
//!
//! The vendored OCSF 1.8.0 schema files under `ocsf/1.8.0/` are the
//! reference the tests check every emitted event against.

#![forbid(unsafe_code)]

pub mod archive;
pub mod config;
pub mod hmac;
pub mod ocsf;
pub mod policy;
pub mod seal;
pub mod source;

pub use source::{SourceMeta, SourceType};
