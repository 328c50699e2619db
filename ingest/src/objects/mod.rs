//! Audit-log objects in buckets: the engine under the `s3`, `gcs` and
//! `azure_blob` collectors.
//!
//! **Discovery.** Clouds export audit logs in *dated layouts*: a stream
//! prefix, then the day.
//!
//! | export | stream prefix | then |
//! |---|---|---|
//! | CloudTrail | `AWSLogs/[o-org/]<account>/CloudTrail/<region>/` (digests under `CloudTrail-Digest/`) | `YYYY/MM/DD/…json.gz` |
//! | Cloud Audit Logs sink | `cloudaudit.googleapis.com/<activity\|data_access\|system_event\|policy>/` | `YYYY/MM/DD/HH:00:00_HH:59:59_S0.json` |
//! | Azure Monitor export | `resourceId=/SUBSCRIPTIONS/<id>/[…/PROVIDERS/…/]` in `insights-activity-logs`, `insights-logs-<category>` | `y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json` |
//!
//! Each pass walks the prefix with delimiter listings down to the first
//! level named like a year (`2026` or `y=2026`): the level above is one
//! stream. A prefix without such a level is one stream of its own.
//!
//! **Cursor, per stream** (`list:<stream>` in `<prefix>.cursors`):
//! `{"after": KEY, "open": {KEY: BYTES}}`. Every key up to `after` is read
//! in full and *settled* (unchanged for `settle_secs`); `open` holds the
//! younger keys after it with the bytes read so far. A pass lists the keys
//! after `after` (sorted), reads what each holds beyond its `open` count
//! (an append blob's new bytes: Azure's `PT1H.json` grows for an hour;
//! in a growing plain object only whole lines), and moves `after` over the
//! leading run of settled, fully read keys. Records and the cursor go to
//! Kafka in one transaction, objects never split between two: a restart
//! neither loses nor repeats an object.
//!
//! Objects are plain or gzip (magic bytes), JSON (CloudTrail's `Records`,
//! Azure's `records`, arrays, JSON lines) or text lines, split by
//! [`crate::split`]; bytes that are not records go to the dead-letter
//! topic. CloudTrail digest files are routed whole, as one record with the
//! `auditfed.kind = cloudtrail_digest` header and their signature from the
//! object's `x-amz-meta-signature`, for upstream-integrity checking
//! (`auditfed_normalize::upstream`).

pub mod config;
pub mod progress;
mod read;

pub(crate) use read::decompressed;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_schemas::SourceType;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use auditfed_platform::store::{StoreUrl, open_store};
use auditfed_platform::{Class, Classify, PlatformError};

use crate::IngestError;
use crate::collect::Collecting;
use crate::s3::digests::{Check, Digests};
use config::{ObjectsConfig, parse_date};
use progress::Progress;

/// The `auditfed.kind` of a CloudTrail digest file's record.
pub const CLOUDTRAIL_DIGEST: &str = "cloudtrail_digest";
/// The header carrying a digest's signature (`x-amz-meta-signature`).
pub const SIGNATURE_HEADER: &str = "auditfed.signature";
/// The header carrying a digest's signature algorithm.
pub const SIGNATURE_ALGORITHM_HEADER: &str = "auditfed.signature_algorithm";

const MAX_DEPTH: usize = 12;

/// What a collector of objects did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Objects read (or read further).
    pub objects: u64,
    /// Records sent to the raw topic.
    pub records: u64,
    /// Pieces sent to the dead-letter topic.
    pub rejected: u64,
    /// Bytes read, as stored.
    pub bytes: u64,
    /// Listing passes (or SQS receives) done.
    pub passes: u64,
}

/// A bucket (or container, or directory) of audit-log objects.
pub struct Objects {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) url: StoreUrl,
    pub(crate) config: ObjectsConfig,
    pub(crate) source: SourceType,
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) max_record: usize,
    /// CloudTrail log files checked against their digests, when keys are configured.
    digests: Option<Digests>,
}

/// One dated stream of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stream {
    /// Its prefix (no trailing `/`; empty for the bucket's root).
    prefix: String,
    /// How its days are named, when it is dated.
    dates: Option<DateStyle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateStyle {
    /// `2026/11/27`.
    Slashed,
    /// `y=2026/m=11/d=27`.
    Keyed,
}

impl DateStyle {
    fn of(dir_name: &str) -> Option<DateStyle> {
        // A year this century or the last: not any 4-digit name (an account, a resource).
        let year = |s: &str| {
            s.len() == 4
                && s.bytes().all(|b| b.is_ascii_digit())
                && (s.starts_with("19") || s.starts_with("20"))
        };
        if year(dir_name) {
            Some(DateStyle::Slashed)
        } else if dir_name.strip_prefix("y=").is_some_and(year) {
            Some(DateStyle::Keyed)
        } else {
            None
        }
    }

    fn day(self, (y, m, d): (u32, u32, u32)) -> String {
        match self {
            DateStyle::Slashed => format!("{y:04}/{m:02}/{d:02}"),
            DateStyle::Keyed => format!("y={y:04}/m={m:02}/d={d:02}"),
        }
    }
}

/// A stream's cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ListingCursor {
    after: Option<String>,
    #[serde(default)]
    open: BTreeMap<String, u64>,
}

/// One object to read in a pass.
struct Pending {
    meta: ObjectMeta,
    from: u64,
    settled: bool,
}

/// Why a pass stopped early.
enum PassEnd {
    Done,
    Stopped,
}

impl Objects {
    /// Opens the store of `config` (credentials from the environment and `options`).
    pub fn open(config: &ObjectsConfig, max_record: usize) -> Result<Objects, IngestError> {
        let url = StoreUrl::parse(&config.url)?;
        let store = open_store(&url, &config.options)?;
        Objects::with_store(store, config, max_record)
    }

    /// Over a store already open (`config.url` still names it and its
    /// prefix): an in-memory store for benchmarks, a wrapped one.
    pub fn with_store(
        store: Arc<dyn ObjectStore>,
        config: &ObjectsConfig,
        max_record: usize,
    ) -> Result<Objects, IngestError> {
        let url = StoreUrl::parse(&config.url)?;
        let source = config.source.parse().map_err(|_| {
            IngestError::Config(format!("{:?}: unknown source type", config.source))
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| IngestError::Config(format!("cannot start an async runtime: {e}")))?;
        let digests = match &config.cloudtrail_public_keys {
            Some(keys) => Some(
                Digests::open(keys, Duration::from_secs(config.digest_wait_secs))
                    .map_err(IngestError::Config)?,
            ),
            None => None,
        };
        Ok(Objects {
            store,
            url,
            config: config.clone(),
            source,
            runtime,
            max_record,
            digests,
        })
    }

    fn store_error(&self, what: &str, e: object_store::Error) -> IngestError {
        PlatformError::store(format!("{}: {what}", self.url.store))(e).into()
    }

    /// Lists and reads until `stop`; with `idle`, returns once a pass found
    /// nothing new for that long; with `backfill`, after one complete pass
    /// drawn as a progress bar.
    pub fn follow(
        &self,
        out: &mut Collecting,
        stop: &AtomicBool,
        idle: Option<Duration>,
        backfill: bool,
    ) -> Result<ObjectStats, IngestError> {
        let mut stats = ObjectStats::default();
        let mut quiet_since = Instant::now();
        loop {
            let before = stats.objects;
            match self.pass(out, stop, &mut stats, backfill) {
                Ok(PassEnd::Stopped) => break,
                Ok(PassEnd::Done) => {}
                // A store that fails for longer than object_store's own
                // retries: what was read is committed, the next pass retries.
                // (An object that fails the same way each time never gets
                // here: it is dead-lettered and passed, see `read_or_set_aside`.)
                Err(e) if e.is_store() && e.class() != Class::Fatal && !backfill => {
                    out.counters().error();
                    tracing::warn!(store = %self.url.store, error = %e, "store failed; retrying at the next pass");
                }
                Err(e) => return Err(e),
            }
            out.commit()?;
            stats.passes += 1;
            if backfill || stop.load(Ordering::Relaxed) {
                break;
            }
            if stats.objects > before {
                quiet_since = Instant::now();
            } else if idle.is_some_and(|idle| quiet_since.elapsed() >= idle) {
                break;
            }
            let wait = Duration::from_secs(self.config.poll_secs);
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                if idle.is_some_and(|idle| quiet_since.elapsed() >= idle) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        out.commit()?;
        Ok(stats)
    }

    /// One pass over every stream.
    fn pass(
        &self,
        out: &mut Collecting,
        stop: &AtomicBool,
        stats: &mut ObjectStats,
        backfill: bool,
    ) -> Result<PassEnd, IngestError> {
        let pass_start = chrono::Utc::now();
        let settle_before = pass_start - chrono::Duration::seconds(self.config.settle_secs as i64);
        let streams = self.discover()?;
        let mut listed = Vec::with_capacity(streams.len());
        for stream in streams {
            let key = format!("list:{}", stream.prefix);
            let cursor: ListingCursor = out
                .cursor(&key)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_else(|| self.initial_cursor(&stream));
            let (pending, vanished) = self.list(&stream, &cursor, settle_before)?;
            listed.push((key, cursor, pending, vanished));
            if stop.load(Ordering::Relaxed) {
                return Ok(PassEnd::Stopped);
            }
        }
        let left: u64 = listed
            .iter()
            .flat_map(|(_, _, p, _)| p)
            .map(|p| p.meta.size - p.from)
            .sum();
        out.counters().set_lag(left);
        let mut progress = backfill.then(|| {
            let objects = listed.iter().map(|(_, _, p, _)| p.len() as u64).sum();
            Progress::new(&format!("backfill {}", self.config.url), objects, left)
        });
        for (key, mut cursor, pending, vanished) in listed {
            for gone in vanished {
                cursor.open.remove(&gone);
            }
            let mut settled_run = true;
            for item in pending {
                if stop.load(Ordering::Relaxed) {
                    out.advance(&key, serde_json::to_value(&cursor).expect("cursor"));
                    return Ok(PassEnd::Stopped);
                }
                let name = item.meta.location.to_string();
                let mut read_to = item.from;
                if item.meta.size > item.from && self.held(&item)? {
                    // Its digest is not delivered yet: neither read nor passed.
                    settled_run = false;
                    cursor.open.insert(name, read_to);
                    continue;
                }
                if item.meta.size > item.from {
                    let (to, records) = self.read_or_set_aside(out, &item, stats)?;
                    read_to = to;
                    if let Some(p) = &mut progress {
                        p.object_done(item.meta.size - item.from, records);
                    }
                }
                if settled_run && item.settled && read_to >= item.meta.size {
                    cursor.open.remove(&name);
                    cursor.after = Some(name);
                } else {
                    settled_run = false;
                    cursor.open.insert(name, read_to);
                }
                if out.batch_len() >= self.config.batch_records {
                    out.advance(&key, serde_json::to_value(&cursor).expect("cursor"));
                    out.commit()?;
                }
            }
            out.advance(&key, serde_json::to_value(&cursor).expect("cursor"));
        }
        if let Some(p) = &mut progress {
            p.finish(&self.config.url);
        }
        out.counters().set_lag(0);
        Ok(PassEnd::Done)
    }

    /// The verifier of `key`, when it is a CloudTrail log file and keys are configured.
    fn verified_by(&self, key: &str) -> Option<&Digests> {
        self.digests
            .as_ref()
            .filter(|_| Digests::applies(key) && !is_cloudtrail_digest(key))
    }

    /// Whether `item` waits for its digest (checked without reading it).
    fn held(&self, item: &Pending) -> Result<bool, IngestError> {
        let Some(digests) = self.verified_by(item.meta.location.as_ref()) else {
            return Ok(false);
        };
        let check = digests.check(
            self.store.as_ref(),
            &self.runtime,
            self.url.bucket(),
            &item.meta,
            None,
        )?;
        Ok(matches!(check, Check::Hold))
    }

    fn initial_cursor(&self, stream: &Stream) -> ListingCursor {
        let day = self.config.start_date.as_deref().and_then(parse_date);
        let after = match (stream.dates, day) {
            (Some(style), Some(day)) => Some(join(&stream.prefix, &style.day(day))),
            _ => None,
        };
        ListingCursor {
            after,
            open: BTreeMap::new(),
        }
    }

    /// The streams under the configured prefix.
    fn discover(&self) -> Result<Vec<Stream>, IngestError> {
        let root = self.url.prefix.clone();
        let mut streams = Vec::new();
        let mut queue = VecDeque::from([(root.clone(), 0)]);
        while let Some((dir, depth)) = queue.pop_front() {
            let prefix = path(&dir);
            let listing = self
                .runtime
                .block_on(self.store.list_with_delimiter(prefix.as_ref()))
                .map_err(|e| self.store_error(&format!("cannot list {dir}/"), e))?;
            let mut children = Vec::new();
            let mut dates = None;
            for dir in &listing.common_prefixes {
                dates = DateStyle::of(dir.filename().unwrap_or(""));
                if dates.is_some() {
                    break;
                }
                children.push(dir.to_string());
            }
            if dates.is_some() {
                streams.push(Stream { prefix: dir, dates });
            } else if depth < MAX_DEPTH {
                queue.extend(children.into_iter().map(|c| (c, depth + 1)));
            }
        }
        if streams.is_empty() {
            streams.push(Stream {
                prefix: root,
                dates: None,
            });
        }
        Ok(streams)
    }

    /// The objects of `stream` after its cursor, sorted, with what is left
    /// to read in each; and the cursor's open keys that no longer exist.
    fn list(
        &self,
        stream: &Stream,
        cursor: &ListingCursor,
        settle_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Vec<Pending>, Vec<String>), IngestError> {
        let prefix = path(&stream.prefix);
        let mut metas: Vec<ObjectMeta> = self
            .runtime
            .block_on(async {
                match &cursor.after {
                    Some(after) => {
                        self.store
                            .list_with_offset(prefix.as_ref(), &path(after).unwrap_or_default())
                            .try_collect()
                            .await
                    }
                    None => self.store.list(prefix.as_ref()).try_collect().await,
                }
            })
            .map_err(|e| self.store_error(&format!("cannot list {}/", stream.prefix), e))?;
        // Not every store lists in key order (a local directory does not).
        metas.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        let after = cursor.after.as_deref().unwrap_or("");
        let not_before = match (stream.dates, &self.config.start_date) {
            (None, Some(date)) => parse_date(date).and_then(|(y, m, d)| {
                chrono::NaiveDate::from_ymd_opt(y as i32, m, d)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            }),
            _ => None,
        };
        let mut seen = BTreeSet::new();
        let mut pending = Vec::with_capacity(metas.len());
        for meta in metas {
            let name = meta.location.to_string();
            if name.as_str() <= after {
                continue;
            }
            seen.insert(name.clone());
            let settled = meta.last_modified < settle_before;
            let mut from = cursor.open.get(&name).copied().unwrap_or(0);
            if not_before.is_some_and(|t| meta.last_modified < t) {
                from = meta.size; // before start_date: passed over, never read
            }
            if meta.size < from {
                tracing::warn!(
                    store = %self.url.store,
                    key = %name,
                    read = from,
                    size = meta.size,
                    "object shrank since it was read; only bytes written from now on are read"
                );
                from = meta.size;
            }
            pending.push(Pending {
                meta,
                from,
                settled,
            });
        }
        let vanished = cursor
            .open
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        Ok((pending, vanished))
    }
}

/// Whether `key` is a CloudTrail digest file.
pub fn is_cloudtrail_digest(key: &str) -> bool {
    key.contains("/CloudTrail-Digest/")
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// An object-store path from a key as listed (already valid, kept as is).
fn path(key: &str) -> Option<Path> {
    (!key.is_empty()).then(|| Path::parse(key).unwrap_or_else(|_| Path::from(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_levels_mark_dated_streams() {
        assert_eq!(DateStyle::of("2026"), Some(DateStyle::Slashed));
        assert_eq!(DateStyle::of("y=2026"), Some(DateStyle::Keyed));
        for other in [
            "us-east-1",
            "123456789012",
            "y=26",
            "CloudTrail",
            "m=11",
            "0000",
            "y=4711",
        ] {
            assert_eq!(DateStyle::of(other), None, "{other}");
        }
        assert_eq!(DateStyle::Slashed.day((2026, 3, 7)), "2026/03/07");
        assert_eq!(DateStyle::Keyed.day((2026, 3, 7)), "y=2026/m=03/d=07");
    }

    #[test]
    fn a_start_date_becomes_the_first_listing_offset() {
        // Keys of the start day sort after the offset, the day before's before it.
        let offset = join(
            "AWSLogs/111122223333/CloudTrail/eu-west-1",
            &DateStyle::Slashed.day((2026, 11, 1)),
        );
        assert!("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/01/x.json.gz" > offset.as_str());
        assert!("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10/31/x.json.gz" < offset.as_str());
        let offset = join(
            "resourceId=/SUBSCRIPTIONS/S",
            &DateStyle::Keyed.day((2026, 11, 1)),
        );
        assert!(
            "resourceId=/SUBSCRIPTIONS/S/y=2026/m=11/d=01/h=00/m=00/PT1H.json" > offset.as_str()
        );
        assert!(
            "resourceId=/SUBSCRIPTIONS/S/y=2026/m=10/d=31/h=23/m=00/PT1H.json" < offset.as_str()
        );
    }

    #[test]
    fn digests_are_recognised_by_their_folder() {
        assert!(is_cloudtrail_digest(
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/27/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261127T100000Z.json.gz"
        ));
        assert!(!is_cloudtrail_digest(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27/111122223333_CloudTrail_us-east-1_20261127T1000Z_abc.json.gz"
        ));
    }
}
