//! The archiver (`auditfed run archive`): `<prefix>.events` and
//! `<prefix>.seals` → Parquet files and checkpoint notes in the archive
//! layout of `auditfed_schemas::archive::layout`.
//!
//! **Deterministic files.** A chain's rows are written in sequence order,
//! once the checkpoint covering them is known, in files that end exactly at
//! the checkpoint's `last` or at a multiple of `file_max_rows` inside it,
//! one per date. The cuts depend on the data alone, not on when records
//! arrive, so a crash and re-run cuts the same files with the same names
//! and bytes: they are overwritten, never duplicated. (An earlier version
//! also cut at block boundaries before the checkpoint was known; a kill -9
//! test against S3 showed that timing-dependent cuts leave stray files.)
//!
//! **Offsets after durability.** A checkpoint note is written once every
//! row it covers is in a durable file (the store's writes are atomic and
//! synced), and it is what marks progress: the consumer offsets committed
//! are those of the oldest record not yet covered by a written note, so a
//! restart re-reads exactly what may be missing, rewriting the same files;
//! rows at or below the chain's newest note in the archive are skipped.
//!
//! **When files appear.** When the normalizer checkpoints: every
//! `checkpoint_every_events` events or `checkpoint_every_secs` seconds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_platform::kafka::consume::group_member;
use auditfed_platform::kafka::{Kafka, headers};
use auditfed_schemas::archive::layout::CheckpointFile;
use auditfed_schemas::config::ArchiveConfig;
use auditfed_schemas::ocsf::Event;
use auditfed_schemas::seal::{Checkpoint, Hash, SignedNote};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::QueryError;
use crate::blocks::SideTable;
use crate::coverage::CoverageBlocks;
use crate::object::Location;
use crate::receipts::ReceiptBlocks;
use crate::store::ArchiveStore;
use crate::writer::{SealedRow, write_checkpoint, write_rows};

/// Settings of the archiver.
#[derive(Debug, Clone)]
pub struct ArchiverOptions {
    /// Consumer group.
    pub group_id: String,
    /// Static group membership (KIP-345): stable across restarts.
    pub instance_id: String,
    /// A file never holds rows across a multiple of this sequence number
    /// (bounds file sizes when checkpoints are rare).
    pub file_max_rows: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Events written to data files.
    pub events: u64,
    /// Data files written.
    pub files: u64,
    /// Checkpoint notes written.
    pub checkpoints: u64,
    /// Records skipped because the archive already held them (after a restart).
    pub skipped: u64,
}

struct Buffered {
    row: SealedRow,
    at: (String, i32, i64),
}

struct PendingNote {
    note: SignedNote,
    checkpoint: Checkpoint,
    at: (String, i32, i64),
}

#[derive(Default)]
struct ChainBuffer {
    /// The highest seq the archive holds, contiguously from 1.
    archived_through: u64,
    /// The input position of the first row written since the last
    /// checkpoint note that covers everything written: until such a note is
    /// written, a restart must read from here again.
    floor: Option<(String, i32, i64)>,
    rows: BTreeMap<u64, Buffered>,
    /// Keyed by (last, time): checkpoints of one chain in their order.
    notes: BTreeMap<(u64, i64), PendingNote>,
}

/// The archiver: [`Archiver::new`], then [`Archiver::run`].
pub struct Archiver {
    consumer: BaseConsumer,
    store: Arc<dyn ArchiveStore>,
    options: ArchiverOptions,
    chains: HashMap<String, ChainBuffer>,
    /// Per chain, what the archive held when this process started.
    archived: HashMap<String, u64>,
    /// Per input partition: the next offset after everything seen.
    seen: HashMap<(String, i32), i64>,
    stats: ArchiveStats,
    /// Side tables (receipts, coverage), when archived: their topic, store and open blocks.
    side: Vec<Side>,
}

/// A side table's topic, store and open blocks.
type Side = (String, Arc<dyn ArchiveStore>, Box<dyn SideTable>);

impl Archiver {
    /// Subscribes to the events and seals topics; reads what the archive holds.
    pub fn new(
        kafka: &Kafka,
        store: Arc<dyn ArchiveStore>,
        options: ArchiverOptions,
    ) -> Result<Archiver, QueryError> {
        let kerr = |e: KafkaError| QueryError::Kafka(e.to_string());
        let consumer: BaseConsumer = group_member(
            kafka,
            &options.group_id,
            &options.instance_id,
            DefaultConsumerContext,
        )?;
        let topics = kafka.topics();
        consumer
            .subscribe(&[&topics.events(), &topics.seals()])
            .map_err(kerr)?;
        let archived = archived_through(store.as_ref())?;
        Ok(Archiver {
            consumer,
            store,
            options,
            chains: HashMap::new(),
            archived,
            seen: HashMap::new(),
            stats: ArchiveStats::default(),
            side: Vec::new(),
        })
    }

    /// The archiver of `[archive]`: the archive at `archive.path` (a local
    /// directory is created, so that `auditfed sql` finds an empty archive
    /// before the first event), and the receipts and coverage side tables
    /// when their paths are set. Errors name the key.
    pub fn from_config(kafka: &Kafka, config: &ArchiveConfig) -> Result<Archiver, QueryError> {
        let location = Location::parse(&config.path.to_string_lossy())
            .map_err(|e| QueryError::Store(format!("`archive.path`: {e}")))?;
        if let Location::Local(dir) = &location {
            std::fs::create_dir_all(dir)
                .map_err(|e| QueryError::Store(format!("`archive.path` {}: {e}", dir.display())))?;
        }
        let options = ArchiverOptions {
            group_id: config.group_id(kafka.topics()),
            instance_id: config.instance_id(),
            file_max_rows: config.file_max_rows,
        };
        let mut archiver = Archiver::new(kafka, location.open()?, options)?;
        let side = |key: &str, path: &str| {
            Location::parse(path)
                .and_then(|l| l.open())
                .map_err(|e| QueryError::Store(format!("`archive.{key}`: {e}")))
        };
        if let Some(receipts) = &config.receipts_path {
            archiver = archiver.with_receipts(kafka, side("receipts_path", receipts)?)?;
            tracing::info!(topic = %kafka.topics().receipts(), into = %receipts, "archiving receipts");
        }
        if let Some(coverage) = &config.coverage_path {
            archiver = archiver.with_coverage(kafka, side("coverage_path", coverage)?)?;
            tracing::info!(topic = %kafka.topics().coverage(), into = %coverage, "archiving coverage");
        }
        Ok(archiver)
    }

    /// Also writes the sinks' delivery receipts (`<prefix>.receipts`) to
    /// `store`, apart from the archive (see [`crate::receipts`]).
    pub fn with_receipts(
        self,
        kafka: &Kafka,
        store: Arc<dyn ArchiveStore>,
    ) -> Result<Archiver, QueryError> {
        let topic = kafka.topics().receipts();
        self.with_side_table(kafka, topic, store, Box::new(ReceiptBlocks::default()))
    }

    /// Also writes the pollers' coverage (`<prefix>.coverage`) to `store`
    /// (see [`crate::coverage`]).
    pub fn with_coverage(
        self,
        kafka: &Kafka,
        store: Arc<dyn ArchiveStore>,
    ) -> Result<Archiver, QueryError> {
        let topic = kafka.topics().coverage();
        self.with_side_table(kafka, topic, store, Box::new(CoverageBlocks::default()))
    }

    fn with_side_table(
        mut self,
        kafka: &Kafka,
        topic: String,
        store: Arc<dyn ArchiveStore>,
        blocks: Box<dyn SideTable>,
    ) -> Result<Archiver, QueryError> {
        self.side.push((topic, store, blocks));
        let topics = kafka.topics();
        let mut subscribed = vec![topics.events(), topics.seals()];
        subscribed.extend(self.side.iter().map(|(t, _, _)| t.clone()));
        let subscribed: Vec<&str> = subscribed.iter().map(String::as_str).collect();
        self.consumer
            .subscribe(&subscribed)
            .map_err(|e| QueryError::Kafka(e.to_string()))?;
        Ok(self)
    }

    /// Runs until `stop` is set, or until nothing arrived for `idle`; then
    /// writes what can be written and commits.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        idle: Option<Duration>,
    ) -> Result<ArchiveStats, QueryError> {
        let _span = tracing::info_span!("archiver", group = %self.options.group_id).entered();
        let mut last_message = Instant::now();
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    last_message = Instant::now();
                    let m = m.detach();
                    self.take(&m)?;
                }
                Some(Err(e)) => tracing::warn!(error = %e, "archiver consumer failed; retrying"),
                None => {
                    // Idle counts from when partitions are assigned, not from the start.
                    if !self.consumer.assignment().is_ok_and(|a| a.count() > 0) {
                        last_message = Instant::now();
                    } else if idle.is_some_and(|idle| last_message.elapsed() >= idle) {
                        break;
                    }
                }
            }
            if last_flush.elapsed() >= Duration::from_millis(500) {
                self.flush()?;
                last_flush = Instant::now();
            }
        }
        self.flush()?;
        Ok(self.stats.clone())
    }

    fn chain(&mut self, chain: &str) -> &mut ChainBuffer {
        let archived = self.archived.get(chain).copied().unwrap_or(0);
        self.chains
            .entry(chain.to_owned())
            .or_insert_with(|| ChainBuffer {
                archived_through: archived,
                ..ChainBuffer::default()
            })
    }

    fn take(&mut self, m: &OwnedMessage) -> Result<(), QueryError> {
        let at = (m.topic().to_owned(), m.partition(), m.offset());
        self.seen.insert((at.0.clone(), at.1), m.offset() + 1);
        if let Some((topic, store, blocks)) = self.side.iter_mut().find(|(t, _, _)| *t == at.0) {
            let payload = m.payload().unwrap_or_default();
            return blocks
                .take(store.as_ref(), at.1, at.2, payload)
                .map_err(|e| QueryError::Kafka(format!("{topic}: {e}")));
        }
        let header = |key: &str| -> Option<String> {
            m.headers()?
                .iter()
                .find(|h| h.key == key)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let payload = m.payload().unwrap_or_default();
        let bad = |why: String| {
            QueryError::Kafka(format!(
                "{}/{}@{}: {why} (not written by auditfed's normalizer?)",
                at.0, at.1, at.2
            ))
        };
        if let Some(seq) = header(headers::SEQ) {
            let chain = header(headers::CHAIN).ok_or_else(|| bad("no chain header".into()))?;
            let seq: u64 = seq.parse().map_err(|_| bad(format!("bad seq {seq}")))?;
            let hash = |k: &str| -> Result<Hash, QueryError> {
                let v = header(k).ok_or_else(|| bad(format!("no {k} header")))?;
                hex::decode(&v)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad(format!("bad {k} header")))
            };
            let (leaf, chain_hash) = (hash(headers::LEAF)?, hash(headers::CHAIN_HASH)?);
            let source = header(headers::SOURCE).ok_or_else(|| bad("no source header".into()))?;
            let event: Event = serde_json::from_slice(payload)
                .map_err(|e| bad(format!("event is not an OCSF event: {e}")))?;
            let buffer = self.chain(&chain);
            if seq <= buffer.archived_through {
                self.stats.skipped += 1;
                return Ok(());
            }
            buffer.rows.insert(
                seq,
                Buffered {
                    row: SealedRow {
                        raw_record: event.raw_data.as_ref().map(|r| r.as_bytes().to_vec()),
                        event,
                        event_json: payload.to_vec(),
                        source,
                        chain,
                        seq,
                        leaf,
                        chain_hash,
                    },
                    at,
                },
            );
        } else {
            let text = std::str::from_utf8(payload).map_err(|_| bad("seal is not UTF-8".into()))?;
            let note = SignedNote::parse(text).map_err(|e| bad(e.to_string()))?;
            let checkpoint = Checkpoint::parse_text(&note.text).map_err(|e| bad(e.to_string()))?;
            let key = (checkpoint.last, checkpoint.time_ms);
            let chain = checkpoint.chain.clone();
            self.chain(&chain).notes.insert(
                key,
                PendingNote {
                    note,
                    checkpoint,
                    at,
                },
            );
        }
        Ok(())
    }

    /// Writes every file that can be cut, then the checkpoints they complete,
    /// then commits the offsets of what is durable.
    fn flush(&mut self) -> Result<(), QueryError> {
        let block = self.options.file_max_rows.max(1);
        for buffer in self.chains.values_mut() {
            loop {
                let next = buffer.archived_through + 1;
                // The end of the next file: the next checkpoint's last, or the next block boundary.
                let checkpoint_end = buffer
                    .notes
                    .keys()
                    .map(|(last, _)| *last)
                    .find(|last| *last >= next);
                // Cuts depend on the data alone, never on when the seals arrive:
                // a file ends at a checkpoint's last or a block boundary inside
                // it, so rows wait for the checkpoint that covers them (it was
                // committed with them, so it is in the seals topic already).
                let Some(checkpoint_end) = checkpoint_end else {
                    break;
                };
                let block_end = (next / block + 1) * block - 1;
                let end = checkpoint_end.min(block_end);
                if end < next || !(next..=end).all(|s| buffer.rows.contains_key(&s)) {
                    break;
                }
                let taken: Vec<Buffered> = (next..=end)
                    .map(|s| buffer.rows.remove(&s).expect("checked above"))
                    .collect();
                if buffer.floor.is_none() {
                    buffer.floor = Some(taken[0].at.clone());
                }
                let rows: Vec<SealedRow> = taken.into_iter().map(|b| b.row).collect();
                let files = write_rows(self.store.as_ref(), &rows)?;
                self.stats.files += files.len() as u64;
                self.stats.events += rows.len() as u64;
                buffer.archived_through = end;
            }
            // Checkpoints whose rows are all archived (heartbeats included).
            let done: Vec<(u64, i64)> = buffer
                .notes
                .keys()
                .filter(|(last, _)| *last <= buffer.archived_through)
                .copied()
                .collect();
            for key in done {
                let pending = buffer.notes.remove(&key).expect("listed above");
                write_checkpoint(self.store.as_ref(), &pending.note)?;
                self.stats.checkpoints += 1;
                // A note covering every row written: a restart starts after it.
                if pending.checkpoint.last >= buffer.archived_through {
                    buffer.floor = None;
                }
            }
        }
        for (_, store, blocks) in &mut self.side {
            blocks.flush(store.as_ref())?;
        }
        self.commit()
    }

    fn commit(&mut self) -> Result<(), QueryError> {
        // Per input partition: the oldest record still only in memory, else everything seen.
        let mut oldest: HashMap<(String, i32), i64> = HashMap::new();
        for buffer in self.chains.values() {
            let ats = buffer
                .rows
                .values()
                .map(|b| &b.at)
                .chain(buffer.notes.values().map(|n| &n.at))
                .chain(buffer.floor.iter());
            for (topic, partition, offset) in ats {
                let e = oldest.entry((topic.clone(), *partition)).or_insert(*offset);
                *e = (*e).min(*offset);
            }
        }
        for (topic, _, blocks) in &self.side {
            for (t, partition) in self.seen.keys() {
                if t == topic
                    && let Some(first) = blocks.restart_offset(*partition)
                {
                    oldest.insert((t.clone(), *partition), first);
                }
            }
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in &self.seen {
            let offset = oldest
                .get(&(topic.clone(), *partition))
                .copied()
                .unwrap_or(*next);
            tpl.add_partition_offset(topic, *partition, Offset::Offset(offset))
                .map_err(|e| QueryError::Kafka(e.to_string()))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => Ok(()),
            // Partitions moved to another instance: it re-reads from the last commit.
            Err(e) => {
                tracing::warn!(error = %e, "archiver offset commit failed; retried with the next batch");
                Ok(())
            }
        }
    }
}

/// Per chain, the highest seq the archive is known to hold completely: the
/// greatest `last` of its checkpoint notes. A note is written only after
/// every data file up to its `last`; data files alone prove nothing (one
/// flush writes a file per date, and a crash may stop between them).
pub fn archived_through(store: &dyn ArchiveStore) -> Result<HashMap<String, u64>, QueryError> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for path in store.list()? {
        if let Some(c) = CheckpointFile::parse(&path) {
            let e = out.entry(c.chain).or_insert(0);
            *e = (*e).max(c.last);
        }
    }
    Ok(out)
}
