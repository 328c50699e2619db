//! The archive verifier: proves an archive complete and unaltered against
//! pinned public keys, or reports each problem with what, where, and
//! expected vs found (docs/integrity.md).
//!
//! It checks, per chain: every checkpoint's signature (following key
//! rotations), the checkpoints' own hash chain (`prev`), their coverage,
//! and then streams the chain's rows in sequence order across all its files
//! — re-canonicalizing `event_json`, recomputing leaf and chain hashes and
//! each checkpoint's Merkle root — so any modified, inserted, deleted,
//! duplicated, reordered or moved row, any deleted, replaced or extra file,
//! any deleted or edited checkpoint, and truncation against a trusted
//! checkpoint, is found and located. Memory is bounded by the files whose
//! sequence ranges overlap, never by the archive's size.
//!
//! ```no_run
//! use auditfed_query::store::LocalDir;
//! use auditfed_query::verify::{VerifyOptions, verify};
//! use auditfed_schemas::seal::Keyring;
//!
//! let keyring = Keyring::parse(&std::fs::read_to_string("keys/keyring")?)?;
//! let report = verify(&LocalDir::new("archive"), &VerifyOptions::new(keyring))?;
//! for finding in &report.findings {
//!     eprintln!("{finding}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoints;
mod derived;
mod rows;
mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use auditfed_schemas::archive::layout::{CheckpointFile, DataFile};
use auditfed_schemas::seal::{Keyring, SignedNote};
use serde::Serialize;

use crate::QueryError;
use crate::store::ArchiveStore;

/// The first 8 bytes of a hash in hex, for messages.
pub(crate) fn short_hash(h: &auditfed_schemas::seal::Hash) -> String {
    h.iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}

/// What to verify against.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The pinned public keys.
    pub keyring: Keyring,
    /// A checkpoint the auditor obtained earlier, independently of the archive.
    pub trusted: Option<SignedNote>,
    /// `(now, max age)` in epoch ms: report when the newest checkpoint of a
    /// chain is older than `max age` at `now` (heartbeats stopped or the tail
    /// was cut off).
    pub freshness: Option<(i64, i64)>,
}

impl VerifyOptions {
    /// Options with just a keyring.
    pub fn new(keyring: Keyring) -> VerifyOptions {
        VerifyOptions {
            keyring,
            trusted: None,
            freshness: None,
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Stable machine-readable kind (e.g. `row_modified`, `missing_rows`).
    pub kind: &'static str,
    /// The chain concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The sequence number concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The file (and row) concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What was expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// The problem in words.
    pub message: String,
}

impl Finding {
    fn new(kind: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            kind,
            chain: None,
            seq: None,
            location: None,
            expected: None,
            found: None,
            message: message.into(),
        }
    }

    fn chain(mut self, chain: &str) -> Finding {
        self.chain = Some(chain.to_owned());
        self
    }

    fn seq(mut self, seq: u64) -> Finding {
        self.seq = Some(seq);
        self
    }

    fn at(mut self, location: impl Into<String>) -> Finding {
        self.location = Some(location.into());
        self
    }

    fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Finding {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(c) = &self.chain {
            write!(f, " chain={c}")?;
        }
        if let Some(s) = self.seq {
            write!(f, " seq={s}")?;
        }
        if let Some(l) = &self.location {
            write!(f, " at {l}")?;
        }
        write!(f, ": {}", self.message)?;
        if let (Some(e), Some(x)) = (&self.expected, &self.found) {
            write!(f, " (expected {e}, found {x})")?;
        }
        Ok(())
    }
}

/// What a clean archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Chains.
    pub chains: usize,
    /// Events (rows) read.
    pub events: u64,
    /// Checkpoints read.
    pub checkpoints: usize,
    /// Data files read.
    pub data_files: usize,
    /// Earliest event time, epoch ms.
    pub first_time: Option<i64>,
    /// Latest event time, epoch ms.
    pub last_time: Option<i64>,
}

/// The verifier's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// What was verified.
    pub summary: Summary,
    /// Every problem found, sorted; empty when the archive verifies.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether the archive verified.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Where a running verification is, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The chain being verified.
    pub chain: String,
    /// Events verified so far (all chains).
    pub events: u64,
    /// Data files opened so far (all chains).
    pub files_done: usize,
    /// Data files in the archive.
    pub files_total: usize,
}

/// Verifies the archive in `store`.
pub fn verify(store: &dyn ArchiveStore, options: &VerifyOptions) -> Result<Report, QueryError> {
    verify_with_progress(store, options, &|_| {})
}

/// [`verify`], reporting progress after every data file and every 10 000
/// events. Chains are verified in parallel, one worker per core.
pub fn verify_with_progress(
    store: &dyn ArchiveStore,
    options: &VerifyOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Report, QueryError> {
    let mut report = Report::default();
    let mut data: BTreeMap<String, Vec<DataFile>> = BTreeMap::new();
    let mut notes: BTreeMap<String, Vec<(String, CheckpointFile)>> = BTreeMap::new();
    for path in store.list()? {
        if let Some(file) = DataFile::parse(&path) {
            data.entry(file.chain.clone()).or_default().push(file);
        } else if let Some(file) = CheckpointFile::parse(&path) {
            notes
                .entry(file.chain.clone())
                .or_default()
                .push((path, file));
        } else {
            report.findings.push(
                Finding::new(
                    "unexpected_file",
                    "a file that is neither a data file nor a checkpoint of this layout",
                )
                .at(path),
            );
        }
    }
    let mut chains: Vec<String> = data.keys().chain(notes.keys()).cloned().collect();
    chains.sort();
    chains.dedup();
    if let Some(trusted) = &options.trusted {
        let chain = checkpoints::trusted_chain(trusted, &options.keyring, &mut report.findings);
        if let Some(chain) = chain
            && !chains.contains(&chain)
        {
            report.findings.push(
                Finding::new(
                    "chain_missing",
                    "the trusted checkpoint's chain has no files in the archive",
                )
                .chain(&chain),
            );
        }
    }
    report.summary.chains = chains.len();
    if chains.is_empty() {
        // A wrong --archive path must not read as "verified".
        report.findings.push(Finding::new(
            "empty_archive",
            format!("no data files or checkpoints in {}", store.describe()),
        ));
    }
    let files_total: usize = data.values().map(Vec::len).sum();
    // Chains are independent: verified in parallel, one worker per core.
    type Work = (String, Vec<(String, CheckpointFile)>, Vec<DataFile>);
    let work: Vec<Mutex<Option<Work>>> = chains
        .iter()
        .map(|c| {
            Mutex::new(Some((
                c.clone(),
                notes.remove(c).unwrap_or_default(),
                data.remove(c).unwrap_or_default(),
            )))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let events_done = AtomicU64::new(0);
    let files_done = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, work.len().max(1));
    let worker = || -> Result<Report, QueryError> {
        let mut local = Report::default();
        while let Some(slot) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
            let Some((chain, chain_notes, files)) = slot.lock().expect("work slot").take() else {
                continue;
            };
            local.summary.checkpoints += chain_notes.len();
            let verified = checkpoints::verify_chain_checkpoints(
                store,
                &chain,
                &chain_notes,
                options,
                &mut local.findings,
            )?;
            local.summary.data_files += files.len();
            // The rows pass cumulative counts of this worker and chain: progress adds the deltas.
            let (mut seen_events, mut seen_files) = (local.summary.events, 0);
            let mut tick = |events: u64, files: usize| {
                events_done.fetch_add(events - seen_events, Ordering::Relaxed);
                files_done.fetch_add(files.saturating_sub(seen_files), Ordering::Relaxed);
                (seen_events, seen_files) = (events, files.max(seen_files));
                progress(&Progress {
                    chain: chain.clone(),
                    events: events_done.load(Ordering::Relaxed),
                    files_done: files_done.load(Ordering::Relaxed),
                    files_total,
                });
            };
            rows::verify_chain_rows(
                store, &chain, files, &verified, options, &mut local, &mut tick,
            )?;
        }
        Ok(local)
    };
    let results: Vec<Result<Report, QueryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a verifier thread panicked"))
            .collect()
    });
    for result in results {
        let local = result?;
        report.findings.extend(local.findings);
        report.summary.events += local.summary.events;
        report.summary.checkpoints += local.summary.checkpoints;
        report.summary.data_files += local.summary.data_files;
        report.summary.first_time = [report.summary.first_time, local.summary.first_time]
            .into_iter()
            .flatten()
            .min();
        report.summary.last_time = [report.summary.last_time, local.summary.last_time]
            .into_iter()
            .flatten()
            .max();
    }
    report.findings.sort();
    Ok(report)
}
