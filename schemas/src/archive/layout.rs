//! Where things live in an archive: one definition for the archiver that
//! writes, and the verifier and query layer that read.
//!
//! ```text
//! <root>/source=<source>/date=<YYYY-MM-DD>/<chain>.<first>-<last>.parquet
//! <root>/_checkpoints/<chain>/<last>-<time_ms>-<kind>.note
//! ```
//!
//! - `<chain>` is the chain id with every byte outside `[A-Za-z0-9._-]`
//!   percent-encoded (`auditfed.raw.okta/0` → `auditfed.raw.okta%2F0`);
//!   `%` never occurs in chain ids, so the encoding is reversible.
//! - `<first>`, `<last>`, `<time_ms>` are zero-padded to 20 / 20 / 13 digits,
//!   so names sort in sequence and time order.
//! - A data file holds rows of **one chain and one partition**, sorted by
//!   `seq`; `<first>`/`<last>` are its smallest and largest `seq`. Events of a
//!   chain can fall on different dates, so a chain's files may interleave
//!   across partitions, but together they hold every `seq` of the chain
//!   exactly once. Names are deterministic: re-writing a batch rewrites the
//!   same file, never a duplicate.
//! - `date` is the UTC date of the event's `time`.
//! - Checkpoints are the signed notes of docs/integrity.md §5, one file each,
//!   byte for byte as signed.

use std::fmt;

use crate::seal::CheckpointKind;

/// Folder holding the checkpoints, at the archive root.
pub const CHECKPOINT_DIR: &str = "_checkpoints";

/// Extension of data files.
pub const DATA_EXTENSION: &str = "parquet";

/// Extension of checkpoint files.
pub const NOTE_EXTENSION: &str = "note";

/// A chain id as it appears in file names.
pub fn chain_file_id(chain: &str) -> String {
    let mut out = String::with_capacity(chain.len() + 8);
    for b in chain.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The chain id of a file-name form; `None` if it is not one.
pub fn parse_chain_file_id(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = id.get(i + 1..i + 3)?;
            if hex.bytes().any(|b| b.is_ascii_lowercase()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let chain = String::from_utf8(out).ok()?;
    // Only the canonical encoding is accepted: one name per chain.
    (crate::seal::valid_chain_id(&chain) && chain_file_id(&chain) == id).then_some(chain)
}

/// The UTC date (`YYYY-MM-DD`) of epoch milliseconds: the `date` partition.
pub fn date_of(time_ms: i64) -> String {
    let days = time_ms.div_euclid(86_400_000);
    let (y, m, d) = crate::seal::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A data file's identity, from or for its path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataFile {
    /// The source type (partition `source=`).
    pub source: String,
    /// The UTC date (partition `date=`).
    pub date: String,
    /// The chain id.
    pub chain: String,
    /// Smallest `seq` in the file.
    pub first: u64,
    /// Largest `seq` in the file.
    pub last: u64,
}

impl DataFile {
    /// Its path relative to the archive root (`/`-separated, as object stores use).
    pub fn path(&self) -> String {
        format!(
            "source={}/date={}/{}.{:020}-{:020}.{DATA_EXTENSION}",
            self.source,
            self.date,
            chain_file_id(&self.chain),
            self.first,
            self.last
        )
    }

    /// Parses a relative path; `None` when it is not a data file of this layout.
    pub fn parse(path: &str) -> Option<DataFile> {
        let mut parts = path.split('/');
        let source = parts.next()?.strip_prefix("source=")?;
        let date = parts.next()?.strip_prefix("date=")?;
        let name = parts.next()?.strip_suffix(&format!(".{DATA_EXTENSION}"))?;
        if parts.next().is_some() || !valid_date(date) || !valid_source(source) {
            return None;
        }
        let (chain, range) = name.rsplit_once('.')?;
        let (first, last) = range.split_once('-')?;
        let file = DataFile {
            source: source.to_owned(),
            date: date.to_owned(),
            chain: parse_chain_file_id(chain)?,
            first: padded(first, 20)?,
            last: padded(last, 20)?,
        };
        (file.first >= 1 && file.first <= file.last && file.path() == path).then_some(file)
    }
}

impl fmt::Display for DataFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// A checkpoint file's identity, from or for its path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckpointFile {
    /// The chain id.
    pub chain: String,
    /// The checkpoint's `last`.
    pub last: u64,
    /// The checkpoint's time, epoch ms.
    pub time_ms: i64,
    /// `batch`, `heartbeat` or `rotation`.
    pub kind: String,
}

impl CheckpointFile {
    /// The file for a checkpoint.
    pub fn of(checkpoint: &crate::seal::Checkpoint) -> CheckpointFile {
        let kind = match checkpoint.kind {
            CheckpointKind::Batch => "batch",
            CheckpointKind::Heartbeat => "heartbeat",
            CheckpointKind::Rotation => "rotation",
        };
        CheckpointFile {
            chain: checkpoint.chain.clone(),
            last: checkpoint.last,
            time_ms: checkpoint.time_ms,
            kind: kind.to_owned(),
        }
    }

    /// Its path relative to the archive root.
    pub fn path(&self) -> String {
        format!(
            "{CHECKPOINT_DIR}/{}/{:020}-{:013}-{}.{NOTE_EXTENSION}",
            chain_file_id(&self.chain),
            self.last,
            self.time_ms,
            self.kind
        )
    }

    /// Parses a relative path; `None` when it is not a checkpoint file of this layout.
    pub fn parse(path: &str) -> Option<CheckpointFile> {
        let rest = path.strip_prefix(CHECKPOINT_DIR)?.strip_prefix('/')?;
        let (chain, name) = rest.split_once('/')?;
        let name = name.strip_suffix(&format!(".{NOTE_EXTENSION}"))?;
        let mut fields = name.splitn(3, '-');
        let last = padded(fields.next()?, 20)?;
        let time_ms = i64::try_from(padded(fields.next()?, 13)?).ok()?;
        let kind = fields.next()?;
        if !matches!(kind, "batch" | "heartbeat" | "rotation") {
            return None;
        }
        let file = CheckpointFile {
            chain: parse_chain_file_id(chain)?,
            last,
            time_ms,
            kind: kind.to_owned(),
        };
        (file.path() == path).then_some(file)
    }
}

fn padded(text: &str, width: usize) -> Option<u64> {
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn valid_date(date: &str) -> bool {
    date.len() == 10
        && date_of(crate::seal::days_from_civil_str(date).unwrap_or(i64::MIN / 2) * 86_400_000)
            == date
}

fn valid_source(source: &str) -> bool {
    !source.is_empty()
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_encode_reversibly_and_canonically() {
        for chain in ["auditfed.raw.okta/0", "a:b/c-d_e.f", "x"] {
            let id = chain_file_id(chain);
            assert!(!id.contains('/') && !id.contains(':'), "{id}");
            assert_eq!(parse_chain_file_id(&id).as_deref(), Some(chain));
        }
        assert_eq!(
            chain_file_id("auditfed.raw.okta/0"),
            "auditfed.raw.okta%2F0"
        );
        assert_eq!(
            parse_chain_file_id("auditfed.raw.okta%2f0"),
            None,
            "lower-case hex is not canonical"
        );
        assert_eq!(
            parse_chain_file_id("a%20b"),
            None,
            "space is not allowed in chain ids"
        );
    }

    #[test]
    fn data_and_checkpoint_paths_round_trip_and_reject_variants() {
        let f = DataFile {
            source: "aws_cloudtrail".into(),
            date: "2024-02-29".into(),
            chain: "raw/3".into(),
            first: 1,
            last: 512,
        };
        let p = f.path();
        assert_eq!(
            p,
            "source=aws_cloudtrail/date=2024-02-29/raw%2F3.00000000000000000001-00000000000000000512.parquet"
        );
        assert_eq!(DataFile::parse(&p), Some(f));
        assert_eq!(
            DataFile::parse(&p.replace("2024-02-29", "2023-02-29")),
            None
        );
        assert_eq!(
            DataFile::parse(&p.replace("-00000000000000000512", "-512")),
            None
        );
        assert_eq!(DataFile::parse("source=x/date=2024-01-01/other.txt"), None);
        let c = CheckpointFile {
            chain: "raw/3".into(),
            last: 512,
            time_ms: 1_700_000_000_000,
            kind: "heartbeat".into(),
        };
        assert_eq!(CheckpointFile::parse(&c.path()), Some(c));
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(-1), "1969-12-31");
        assert_eq!(date_of(1_709_208_000_000), "2024-02-29");
    }
}
