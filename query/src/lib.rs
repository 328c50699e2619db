//! # auditfed-query
//!
//! The archive side of auditfed: sealed events as Parquet on any object
//! store, proven complete and unaltered, and answered in SQL.
//!
//! - [`store`]: an archive as a set of `/`-separated files (the
//!   [`store::ArchiveStore`] trait; a local directory by default);
//! - [`object`]: archives on S3, GCS and Azure Blob behind the same trait;
//! - [`writer`]: sealed events and checkpoints written in the archive layout
//!   of `auditfed_schemas::archive::layout` (zstd Parquet);
//! - [`archiver`]: `auditfed run archive`, the Kafka consumer that writes
//!   `<prefix>.events` and `<prefix>.seals` into an archive, exactly once;
//! - [`blocks`]: side tables (JSON rows of a topic as Parquet blocks, apart
//!   from the archive), with [`receipts`] (the sinks' delivery receipts)
//!   and [`coverage`] (what the API pollers fetched) built on them;
//! - [`verify`]: the verifier that proves an archive complete and unaltered,
//!   or locates every change (docs/integrity.md);
//! - [`proof`]: inclusion-proof bundles for single events, checked offline
//!   by `auditfed_schemas::seal::InclusionProof::verify`;
//! - [`sql`]: SQL over one or more archives with DataFusion (`auditfed
//!   sql`), the `events` table and the audit views;
//! - [`pg`]: the PostgreSQL wire-protocol server (`auditfed serve sql`)
//!   for psql and BI tools;
//! - [`replay`]: the sealed events of archives between two times, streamed
//!   batch by batch (`auditfed replay --source archive`);
//! - [`report`]: audit reports: control packs run over an archive pinned to
//!   its signed checkpoints, written as signed, reproducible evidence
//!   bundles (HTML, PDF, OCSF Compliance Findings, CSV), verified and re-run
//!   by `auditfed report verify`, and produced on schedules.

#![forbid(unsafe_code)]

pub mod archiver;
pub mod blocks;
pub mod coverage;
pub mod object;
pub mod pg;
pub mod proof;
pub mod receipts;
pub mod replay;
pub mod report;
pub mod sql;
pub mod store;
pub mod verify;
pub mod writer;

/// Errors of this crate: storage and file-format failures. Problems *in* an
/// archive are not errors but [`verify::Finding`]s.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Listing, reading or writing the archive failed.
    #[error("archive storage: {0}")]
    Store(String),
    /// A Parquet file could not be written or read at all.
    #[error("parquet: {0}")]
    Parquet(String),
    /// A seal-format error (e.g. a checkpoint that cannot be written).
    #[error("seal: {0}")]
    Seal(String),
    /// What was asked for is not in the archive.
    #[error("{0}")]
    NotFound(String),
    /// A SQL statement failed (syntax, unknown column, execution).
    #[error("sql: {0}")]
    Sql(String),
    /// Kafka failed, or a record on an auditfed topic is malformed.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The SQL server cannot start (TLS files, listen address).
    #[error("sql server: {0}")]
    Server(String),
    /// A report pack is malformed: which pack (file or built-in name) and why.
    #[error("report pack {pack}: {reason}")]
    Pack {
        /// The pack's file, directory or built-in name.
        pack: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A report could not be produced, verified or delivered.
    #[error("report: {0}")]
    Report(String),
    /// Kafka or an object store failed (the platform layer's error).
    #[error("{0}")]
    Platform(#[from] auditfed_platform::PlatformError),
}

impl auditfed_platform::Classify for QueryError {
    fn class(&self) -> auditfed_platform::Class {
        use auditfed_platform::Class;
        match self {
            QueryError::Platform(e) => e.class(),
            QueryError::Store(_) | QueryError::Kafka(_) => Class::Transient,
            QueryError::Parquet(_)
            | QueryError::Seal(_)
            | QueryError::NotFound(_)
            | QueryError::Report(_) => Class::Permanent,
            QueryError::Sql(_) | QueryError::Server(_) | QueryError::Pack { .. } => Class::Fatal,
        }
    }
}
