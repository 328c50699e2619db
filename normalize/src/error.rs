//! The one error type of this crate: what went wrong, where, with which source.

use std::fmt;

use auditfed_schemas::SourceType;

/// Where in the input a record starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Position {
    /// 1-based line number of the record's first byte.
    pub line: u64,
    /// 0-based byte offset of the record's first byte.
    pub byte_offset: u64,
    /// 0-based index of the record in the input (counting set-aside and rejected records).
    pub index: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, byte {}, record #{}",
            self.line, self.byte_offset, self.index
        )
    }
}

/// Why a record could not be normalized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// The bytes are not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The bytes are not valid UTF-8 where text is required.
    #[error("invalid UTF-8 at byte {0} of the record")]
    InvalidUtf8(usize),
    /// Valid JSON or text, but not a record of this source.
    #[error("not a {expected} record: {reason}")]
    NotARecord {
        /// What the source expected (e.g. "CloudTrail").
        expected: &'static str,
        /// What is missing or wrong.
        reason: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("field `{field}` {problem}")]
    BadField {
        /// The field's path in the source record.
        field: String,
        /// "is missing", "must be a string", ...
        problem: String,
    },
    /// A timestamp that cannot be read.
    #[error("timestamp `{value}` in `{field}` cannot be read: {reason}")]
    BadTimestamp {
        /// The field holding it.
        field: String,
        /// The value as found.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `--source auto` could not tell which source the record is from.
    #[error("cannot detect the source format: {0}; name it with --source")]
    UnknownFormat(String),
}

/// A record that could not be normalized: the source, where, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_label}: {position}: {kind}")]
pub struct NormalizeError {
    /// The source the record was read as (`None` when auto-detection failed).
    pub source_label: SourceLabel,
    /// Where the record starts.
    pub position: Position,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// The source named in an error: a known type, or "auto" when detection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLabel {
    /// The record was read as this source.
    Source(SourceType),
    /// The source was to be detected and could not be.
    Auto,
}

impl fmt::Display for SourceLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceLabel::Source(s) => s.fmt(f),
            SourceLabel::Auto => f.write_str("auto"),
        }
    }
}

impl ErrorKind {
    pub(crate) fn missing(field: &str) -> ErrorKind {
        ErrorKind::BadField {
            field: field.to_owned(),
            problem: "is missing".to_owned(),
        }
    }

    pub(crate) fn not_a(expected: &'static str, reason: impl Into<String>) -> ErrorKind {
        ErrorKind::NotARecord {
            expected,
            reason: reason.into(),
        }
    }
}
