//! The normalizer service (`auditfed run normalize`): consume raw topics,
//! map, seal, produce — exactly once.
//!
//! One chain per input partition (`<raw topic>/<partition>`). Each cycle
//! gathers a batch of raw records, then in one Kafka transaction produces
//! their sealed events (`<prefix>.events`), the checkpoints that fell due
//! (`<prefix>.seals`), the rejects (`<prefix>.dlq`), each advanced chain's
//! state (`<prefix>.chain-state`) and the input offsets. Either all of it
//! becomes visible or none of it does:
//!
//! - **kill -9 at any point**: the open transaction is aborted (at once
//!   when the instance restarts with the same `instance_id`, else after
//!   `transaction_timeout_ms`); the next owner loads the chain state
//!   committed with the offsets and resumes with the next sequence number.
//! - **rebalance**: a partition's records gathered but not yet produced are
//!   dropped; its new owner reads them again from the committed offset.
//! - **zombies**: the transactional id fences an older instance with the
//!   same id; the consumer-group generation sent with the offsets fences
//!   one that lost its partitions (KIP-447).
//! - **poison records**: mapping errors, set-aside records, oversized events
//!   and mapper panics go to the dead-letter topic with the reason; the
//!   partition moves on.

mod output;
mod state;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auditfed_platform::clock::now_ms;
use auditfed_platform::kafka::Kafka;
use auditfed_platform::kafka::consume::group_member;
use auditfed_platform::kafka::produce::{
    abort_transaction, flush_now, send_blocking, transactional_producer,
};
use auditfed_platform::{Class, Classify, PlatformError};
use auditfed_schemas::SourceType;
use auditfed_schemas::config::NormalizeConfig;
use auditfed_schemas::seal::Signer;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

pub use state::StoredChain;

use output::{Pending, PendingRecord, map_parallel, seal_output};

use crate::sealer::{Sealer, SealerConfig};

/// Errors that stop the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Kafka failed in a way the service's own retries did not fix
    /// (fenced, unreachable, misconfigured).
    #[error("kafka: {0}")]
    Platform(#[from] PlatformError),
    /// Kafka failed in a way a retry does not fix (fenced, unreachable, misconfigured).
    #[error("kafka: {0}")]
    Kafka(String),
    /// A chain state could not be read or is inconsistent.
    #[error("chain state: {0}")]
    State(String),
    /// Sealing failed (signing key).
    #[error("sealing: {0}")]
    Seal(String),
}

impl Classify for ServiceError {
    fn class(&self) -> Class {
        match self {
            ServiceError::Platform(e) => e.class(),
            ServiceError::Kafka(_) | ServiceError::State(_) | ServiceError::Seal(_) => Class::Fatal,
        }
    }
}

/// What a run did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Raw records consumed and committed.
    pub records: u64,
    /// Sealed events produced.
    pub events: u64,
    /// Checkpoints produced.
    pub checkpoints: u64,
    /// Dead letters produced.
    pub dead_letters: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// Transactions aborted and retried.
    pub aborted: u64,
}

/// Rebalance notifications, handed from librdkafka's callback to the loop.
#[derive(Default)]
struct RebalanceLog {
    revoked: Mutex<Vec<(String, i32)>>,
    assigned: Mutex<Vec<(String, i32)>>,
}

impl ClientContext for RebalanceLog {}

impl ConsumerContext for RebalanceLog {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut r = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
            r.extend(
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition())),
            );
        }
    }
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut a = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            a.extend(
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition())),
            );
        }
    }
}

/// One owned input partition.
struct Chain {
    source: SourceType,
    sealer: Sealer,
    next_offset: i64,
    /// The state last committed, to roll back to when a transaction aborts.
    committed: StoredChain,
    dirty: bool,
}

struct Raw {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Raw {
    fn of(m: &BorrowedMessage<'_>) -> Raw {
        Raw {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().unwrap_or_default().to_vec(),
            headers: m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
    fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The normalizer: create with [`Normalizer::new`], then [`Normalizer::run`].
pub struct Normalizer {
    kafka: Kafka,
    config: NormalizeConfig,
    signer: Arc<dyn Signer>,
    consumer: BaseConsumer<RebalanceLog>,
    producer: BaseProducer,
    chains: HashMap<(String, i32), Chain>,
    /// Raw topic → source type.
    sources: HashMap<String, SourceType>,
    max_event_bytes: usize,
    stats: Stats,
    last_warning: Option<(String, Instant)>,
}

const KAFKA_TIMEOUT: Duration = Duration::from_secs(60);

impl Normalizer {
    /// Connects: a transactional producer (fencing an older instance with
    /// the same `instance_id`) and a consumer in the normalizer group.
    pub fn new(
        kafka: &Kafka,
        config: &NormalizeConfig,
        instance_id: &str,
        signer: Arc<dyn Signer>,
    ) -> Result<Normalizer, ServiceError> {
        let kerr = |what: &str| {
            let what = what.to_owned();
            move |e: KafkaError| ServiceError::Kafka(format!("{what}: {e}"))
        };
        let group_id = config.group_id(kafka.topics());
        let consumer: BaseConsumer<RebalanceLog> =
            group_member(kafka, &group_id, instance_id, RebalanceLog::default())?;
        let producer = transactional_producer(
            kafka,
            &format!("{group_id}-{instance_id}"),
            &[(
                "transaction.timeout.ms",
                config.transaction_timeout_ms.to_string(),
            )],
            KAFKA_TIMEOUT,
        )?;
        let sources: HashMap<String, SourceType> = config
            .source_types()
            .into_iter()
            .map(|s| (kafka.topics().raw(s.as_str()), s))
            .collect();
        let topics: Vec<&str> = sources.keys().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(kerr("subscribe"))?;
        Ok(Normalizer {
            kafka: kafka.clone(),
            config: config.clone(),
            signer,
            consumer,
            producer,
            chains: HashMap::new(),
            sources,
            max_event_bytes: 900_000,
            stats: Stats::default(),
            last_warning: None,
        })
    }

    fn sealer_config(&self) -> SealerConfig {
        SealerConfig {
            checkpoint_every_events: self.config.checkpoint_every_events,
            checkpoint_every_ms: (self.config.checkpoint_every_secs * 1000) as i64,
            heartbeat_every_ms: (self.config.heartbeat_every_secs * 1000) as i64,
        }
    }

    /// Runs until `stop` is set; then checkpoints what is pending and commits.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<Stats, ServiceError> {
        self.run_until(stop, None)
    }

    /// [`Normalizer::run`], also stopping once no record arrived for
    /// `idle` (backfills, benchmarks). A progress line goes to stderr every 10 s.
    pub fn run_until(
        &mut self,
        stop: &AtomicBool,
        idle: Option<Duration>,
    ) -> Result<Stats, ServiceError> {
        let _span =
            tracing::info_span!("normalizer", group = %self.config.group_id(self.kafka.topics()))
                .entered();
        let started = Instant::now();
        let mut last_record = Instant::now();
        let mut last_report = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let batch = self.gather()?;
            // Idle counts from when partitions are assigned, not from the start.
            if !batch.is_empty() || self.chains.is_empty() {
                last_record = Instant::now();
            } else if idle.is_some_and(|idle| last_record.elapsed() >= idle) {
                break;
            }
            if last_report.elapsed() >= Duration::from_secs(10) {
                last_report = Instant::now();
                let secs = started.elapsed().as_secs_f64();
                tracing::info!(
                    records = self.stats.records,
                    events = self.stats.events,
                    events_per_sec = (self.stats.events as f64 / secs).round(),
                    checkpoints = self.stats.checkpoints,
                    dead_letters = self.stats.dead_letters,
                    chains = self.chains.len(),
                    "normalizer progress"
                );
            }
            let repositioned = self.load_new_chains()?;
            // Only records of partitions we own, and none fetched before a seek
            // moved the partition elsewhere (they come again from the new position).
            let batch: Vec<Raw> = batch
                .into_iter()
                .filter(|r| {
                    let key = (r.topic.clone(), r.partition);
                    self.chains.contains_key(&key) && !repositioned.contains(&key)
                })
                .collect();
            let _batch = tracing::debug_span!("batch", records = batch.len()).entered();
            self.transaction(batch, false)?;
        }
        self.load_new_chains()?;
        self.transaction(Vec::new(), true)?;
        Ok(self.stats.clone())
    }

    /// Polls up to `batch_max_records` records or `batch_max_ms`.
    fn gather(&mut self) -> Result<Vec<Raw>, ServiceError> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let deadline = Instant::now() + Duration::from_millis(self.config.batch_max_ms);
        while batch.len() < self.config.batch_max_records {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let polled = self.consumer.poll(left).map(|r| r.map(|m| Raw::of(&m)));
            self.apply_revocations(&mut batch);
            match polled {
                Some(Ok(raw)) => {
                    bytes += raw.payload.len();
                    batch.push(raw);
                    if bytes >= self.config.batch_max_bytes {
                        break;
                    }
                }
                Some(Err(e)) if is_fatal(&e) => {
                    return Err(ServiceError::Kafka(format!("consumer: {e}")));
                }
                Some(Err(e)) => self.warn(format!("consumer: {e} (retrying)")),
                None => {}
            }
        }
        Ok(batch)
    }

    /// Logs a warning, once per 10 s for a repeated one (a broker outage repeats every poll).
    fn warn(&mut self, message: String) {
        let now = Instant::now();
        if self
            .last_warning
            .as_ref()
            .is_some_and(|(m, t)| *m == message && now.duration_since(*t) < Duration::from_secs(10))
        {
            return;
        }
        tracing::warn!(problem = %message, "normalizer retrying");
        self.last_warning = Some((message, now));
    }

    fn apply_revocations(&mut self, batch: &mut Vec<Raw>) {
        let revoked: Vec<(String, i32)> = std::mem::take(
            &mut *self
                .consumer
                .context()
                .revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if revoked.is_empty() {
            return;
        }
        let revoked: HashSet<(String, i32)> = revoked.into_iter().collect();
        batch.retain(|r| !revoked.contains(&(r.topic.clone(), r.partition)));
        self.chains.retain(|k, _| !revoked.contains(k));
    }

    /// Loads the committed state of newly assigned partitions; returns those
    /// the consumer had to be moved for.
    fn load_new_chains(&mut self) -> Result<HashSet<(String, i32)>, ServiceError> {
        let assigned: Vec<(String, i32)> = std::mem::take(
            &mut *self
                .consumer
                .context()
                .assigned
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let new: Vec<(String, i32)> = assigned
            .into_iter()
            .filter(|k| !self.chains.contains_key(k))
            .collect();
        let mut repositioned = HashSet::new();
        if new.is_empty() {
            return Ok(repositioned);
        }
        // The committed offsets first: librdkafka asks for stable offsets, so
        // this waits until a previous owner's pending transaction is resolved.
        let mut tpl = TopicPartitionList::new();
        for (t, p) in &new {
            tpl.add_partition(t, *p);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, KAFKA_TIMEOUT)
            .map_err(|e| ServiceError::Kafka(format!("committed offsets: {e}")))?;
        let ids: Vec<String> = new.iter().map(|(t, p)| chain_id(t, *p)).collect();
        let stored = state::load(&self.kafka, &ids, KAFKA_TIMEOUT)?;
        let now = now_ms();
        for (topic, partition) in new {
            let id = chain_id(&topic, partition);
            let Some(source) = self.sources.get(&topic).copied() else {
                // Another member's subscription (a restarted static member whose
                // sources changed gets its old assignment until the rebalance).
                self.warn(format!("assigned {topic}/{partition}, which is not one of the configured sources: ignored"));
                continue;
            };
            let committed_offset =
                committed
                    .find_partition(&topic, partition)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
            let stored = match stored.get(&id) {
                Some(s) => {
                    if let Some(c) = committed_offset
                        && c != s.next_offset
                    {
                        // Offsets and state are committed together; they can only
                        // differ if offsets expired or were reset by hand.
                        tracing::warn!(
                            chain = %id,
                            committed_offset = c,
                            chain_state_offset = s.next_offset,
                            "committed offset differs from the chain state's; resuming from the chain state"
                        );
                    }
                    s.clone()
                }
                None => {
                    let sealer = Sealer::new(&id, self.sealer_config(), self.signer.clone(), now)
                        .map_err(|e| ServiceError::Seal(e.to_string()))?;
                    StoredChain {
                        v: 1,
                        input: format!("{topic}/{partition}"),
                        next_offset: committed_offset.unwrap_or(0),
                        state: sealer.state().clone(),
                    }
                }
            };
            let sealer = Sealer::restore(
                stored.state.clone(),
                self.sealer_config(),
                self.signer.clone(),
            )
            .map_err(|e| ServiceError::State(format!("{id}: {e}")))?;
            if stored.state.last_seq > 0 || stored.next_offset > 0 {
                tracing::info!(
                    chain = %id,
                    input_offset = stored.next_offset,
                    after_seq = stored.state.last_seq,
                    "resuming the chain where its committed state ends"
                );
            }
            // Position the consumer where the chain continues.
            if committed_offset != Some(stored.next_offset) {
                self.seek(&topic, partition, stored.next_offset)?;
                repositioned.insert((topic.clone(), partition));
            }
            self.chains.insert(
                (topic, partition),
                Chain {
                    source,
                    sealer,
                    next_offset: stored.next_offset,
                    committed: stored,
                    dirty: false,
                },
            );
        }
        Ok(repositioned)
    }

    fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<(), ServiceError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| ServiceError::Kafka(e.to_string()))?;
        self.consumer
            .seek_partitions(tpl, KAFKA_TIMEOUT)
            .map(drop)
            .map_err(|e| ServiceError::Kafka(format!("seek {topic}/{partition} to {offset}: {e}")))
    }

    /// One transaction: the batch's outputs, due checkpoints, states, offsets.
    fn transaction(&mut self, batch: Vec<Raw>, flush: bool) -> Result<(), ServiceError> {
        let now = now_ms();
        let mut pending = Vec::new();
        // Mapping is pure and the costly part: done on every core; sealing
        // then follows each chain's order on this thread.
        let mapped = map_parallel(&batch, &self.chains, now);
        for (raw, outputs) in batch.iter().zip(mapped) {
            let key = (raw.topic.clone(), raw.partition);
            let Some(chain) = self.chains.get_mut(&key) else {
                continue;
            };
            if raw.offset < chain.next_offset {
                continue; // already sealed in a committed transaction
            }
            if raw.offset > chain.next_offset {
                // Records deleted by the raw topic's retention before they were
                // normalized: lost upstream of the chain, and said so.
                tracing::warn!(
                    topic = %raw.topic,
                    partition = raw.partition,
                    first_missing = chain.next_offset,
                    last_missing = raw.offset - 1,
                    "raw offsets are gone (retention?); continuing after them"
                );
            }
            chain.next_offset = raw.offset + 1;
            chain.dirty = true;
            for output in outputs {
                seal_output(chain, raw, output, now, self.max_event_bytes, &mut pending)?;
            }
        }
        for chain in self.chains.values_mut() {
            let note = if flush {
                chain.sealer.flush(now)
            } else {
                chain.sealer.tick(now)
            }
            .map_err(|e| ServiceError::Seal(e.to_string()))?;
            if let Some(note) = note {
                chain.dirty = true;
                pending.push(Pending::Checkpoint {
                    chain: chain.sealer.state().chain.clone(),
                    note: note.to_string(),
                });
            }
        }
        if pending.is_empty() && !self.chains.values().any(|c| c.dirty) {
            return Ok(());
        }
        match self.commit(&pending) {
            Ok(()) => {
                for chain in self.chains.values_mut() {
                    if chain.dirty {
                        chain.committed = stored_of(chain);
                        chain.dirty = false;
                    }
                }
                self.stats.records += batch.len() as u64;
                for p in &pending {
                    match p {
                        Pending::Event { .. } => self.stats.events += 1,
                        Pending::Checkpoint { .. } => self.stats.checkpoints += 1,
                        Pending::DeadLetter { .. } => self.stats.dead_letters += 1,
                    }
                }
                self.stats.transactions += 1;
                Ok(())
            }
            Err(TxnFailure::Abortable(why)) => {
                tracing::warn!(reason = %why, "transaction aborted; rolling back to the committed state");
                self.stats.aborted += 1;
                self.abort();
                self.roll_back()
            }
            Err(TxnFailure::Fatal(why)) => Err(ServiceError::Kafka(why)),
        }
    }

    /// Aborts the open transaction (polled until the abort completes).
    fn abort(&self) {
        abort_transaction(&self.producer, 10 * KAFKA_TIMEOUT);
    }

    fn roll_back(&mut self) -> Result<(), ServiceError> {
        let config = self.sealer_config();
        let mut seeks = Vec::new();
        for ((topic, partition), chain) in self.chains.iter_mut() {
            if chain.dirty {
                chain.sealer =
                    Sealer::restore(chain.committed.state.clone(), config, self.signer.clone())
                        .map_err(|e| ServiceError::State(e.to_string()))?;
                chain.next_offset = chain.committed.next_offset;
                chain.dirty = false;
            }
            seeks.push((topic.clone(), *partition, chain.next_offset));
        }
        for (t, p, o) in seeks {
            self.seek(&t, p, o)?;
        }
        Ok(())
    }

    fn commit(&mut self, pending: &[Pending]) -> Result<(), TxnFailure> {
        let classify = |what: &str, e: KafkaError| -> TxnFailure {
            let fatal = match &e {
                KafkaError::Transaction(t) => {
                    t.is_fatal() || !t.txn_requires_abort() && !t.is_retriable()
                }
                _ => false,
            };
            let why = format!("{what}: {e}");
            if fatal {
                TxnFailure::Fatal(why)
            } else {
                TxnFailure::Abortable(why)
            }
        };
        self.producer
            .begin_transaction()
            .map_err(|e| TxnFailure::Fatal(format!("begin_transaction: {e}")))?;
        let topics = self.kafka.topics().clone();
        for p in pending {
            let (topic, record) = p.record(&topics);
            self.send(&topic, record)
                .map_err(|e| classify("produce", e))?;
        }
        let mut offsets = TopicPartitionList::new();
        let mut states = Vec::new();
        for ((topic, partition), chain) in &self.chains {
            if chain.dirty {
                offsets
                    .add_partition_offset(topic, *partition, Offset::Offset(chain.next_offset))
                    .map_err(|e| TxnFailure::Fatal(e.to_string()))?;
                let stored = stored_of(chain);
                states.push((
                    stored.state.chain.clone(),
                    serde_json::to_vec(&stored).expect("chain state serializes"),
                ));
            }
        }
        let state_topic = topics.chain_state();
        for (key, value) in &states {
            let record = BaseRecord::to(&state_topic)
                .key(key.as_str())
                .payload(value.as_slice());
            self.send_record(record)
                .map_err(|e| classify("produce chain state", e))?;
        }
        if offsets.count() > 0 {
            let group = self
                .consumer
                .group_metadata()
                .ok_or_else(|| TxnFailure::Fatal("no consumer group metadata".into()))?;
            self.producer
                .send_offsets_to_transaction(&offsets, &group, KAFKA_TIMEOUT)
                .map_err(|e| classify("send_offsets_to_transaction", e))?;
        }
        // commit_transaction flushes first with rdkafka's flush, which sleeps
        // out 100 ms poll slices: drained here in 1 ms slices, that flush
        // finds nothing to wait for. A timeout is reported by the commit.
        let _ = flush_now(&self.producer, KAFKA_TIMEOUT);
        self.producer
            .commit_transaction(KAFKA_TIMEOUT)
            .map_err(|e| classify("commit_transaction", e))
    }

    fn send(&self, topic: &str, r: PendingRecord<'_>) -> Result<(), KafkaError> {
        let mut record = BaseRecord::to(topic).key(r.key).payload(r.payload);
        record = record.headers(r.headers);
        self.send_record(record)
    }

    fn send_record(&self, record: BaseRecord<'_, str, [u8]>) -> Result<(), KafkaError> {
        send_blocking(&self.producer, record)
    }
}

enum TxnFailure {
    Abortable(String),
    Fatal(String),
}

fn is_fatal(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::Global(rdkafka::types::RDKafkaErrorCode::Fatal)
    )
}

fn stored_of(chain: &Chain) -> StoredChain {
    StoredChain {
        v: 1,
        input: chain.committed.input.clone(),
        next_offset: chain.next_offset,
        state: chain.sealer.state().clone(),
    }
}

/// The chain id of an input partition.
pub fn chain_id(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}
