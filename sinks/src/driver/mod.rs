//! The shared sink driver: take sealed events from a [`Feed`] (normally
//! the sink's own consumer group on `<prefix>.events`), batch them, keep up
//! to `max_in_flight` batches in flight, each delivered with retries and
//! split or bisected by its own task, dead-letter what the SIEM refuses,
//! write a receipt per event, and commit offsets in order, each batch only
//! after the SIEM acknowledged it and every batch before it. Receipts, dead
//! letters and offsets of a batch are one Kafka transaction: a crash
//! between the acknowledgement and the commit delivers the batch to the
//! SIEM again (at least once), never its receipts or dead letters twice.
//!
//! Memory is bounded by `max_in_flight + 1` batches of at most `max_bytes`
//! each: when every slot is taken the feed is paused (the consumer stays in
//! its group) until the oldest batch lands.

mod batch;
mod feed;
mod flight;
mod record;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auditfed_platform::kafka::Kafka;

pub use batch::BatchConfig;
pub use feed::{CLOCK_SKEW_MS, EventsFeed, Feed, GroupFeed, GroupPosition, Polled, RangeFeed};

use crate::SinkError;
use auditfed_schemas::policy::{Facts, Policies};

/// One sealed event on its way to a SIEM.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// Kafka partition and offset in `<prefix>.events`.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
    /// The chain and sequence number the event was sealed at.
    pub chain: String,
    /// Sequence number in the chain.
    pub seq: u64,
    /// `metadata.uid` of the event.
    pub uid: String,
    /// The source type (`aws_cloudtrail`, ...).
    pub source: String,
    /// Event time (ms since the epoch).
    pub time_ms: i64,
    /// OCSF class.
    pub class_uid: i64,
    /// The canonical OCSF event, byte for byte as sealed and archived.
    pub json: Vec<u8>,
}

/// How an attempt to deliver a batch ended, other than acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try the same batch again later (busy, unavailable, network, ack
    /// timeout); `after` is the SIEM's `Retry-After`.
    Retry {
        /// What happened.
        reason: String,
        /// How long the SIEM asked to wait.
        after: Option<Duration>,
    },
    /// The request was too large: the driver splits the batch.
    TooLarge {
        /// What the SIEM said.
        reason: String,
    },
    /// The SIEM refused the data: the driver bisects the batch until the
    /// events at fault are alone and dead-letters them.
    Reject {
        /// What the SIEM said.
        reason: String,
        /// The response body, kept with the dead letter.
        body: String,
    },
    /// Nothing will succeed until the configuration is fixed (token, index).
    Fatal(String),
}

/// A SIEM's protocol: one acknowledged request per call. Calls overlap
/// (one per batch in flight), so a service keeps its mutable state (a
/// token, say) behind a lock.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// Checked at start (and retried while it says [`Failure::Retry`]).
    async fn health(&self) -> Result<(), Failure>;
    /// Delivers `events` in one request and waits for the SIEM's
    /// acknowledgement; returns the batch or acknowledgement id for the receipts.
    async fn deliver(&self, events: &[OutgoingEvent]) -> Result<String, Failure>;
}

/// A sink chosen at run time ([`crate::config::SinkKind::build`]) is a
/// service too.
#[async_trait]
impl Service for Box<dyn Service> {
    async fn health(&self) -> Result<(), Failure> {
        (**self).health().await
    }
    async fn deliver(&self, events: &[OutgoingEvent]) -> Result<String, Failure> {
        (**self).deliver(events).await
    }
}

impl OutgoingEvent {
    /// A sealed event (its canonical JSON) with its seal position; `uid`,
    /// `time` and `class_uid` are read from the JSON.
    pub fn sealed(
        json: Vec<u8>,
        chain: String,
        seq: u64,
        source: String,
        partition: i32,
        offset: i64,
    ) -> Result<OutgoingEvent, String> {
        #[derive(serde::Deserialize)]
        struct Head {
            time: i64,
            class_uid: i64,
            metadata: Metadata,
        }
        #[derive(serde::Deserialize)]
        struct Metadata {
            uid: Option<String>,
        }
        let head: Head =
            serde_json::from_slice(&json).map_err(|e| format!("not a sealed OCSF event: {e}"))?;
        Ok(OutgoingEvent {
            partition,
            offset,
            uid: head
                .metadata
                .uid
                .unwrap_or_else(|| format!("{chain}:{seq}")),
            chain,
            seq,
            source,
            time_ms: head.time,
            class_uid: head.class_uid,
            json,
        })
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Events the SIEM acknowledged.
    pub delivered: u64,
    /// Events dead-lettered after the SIEM refused them.
    pub dead_lettered: u64,
    /// Requests (attempts) made, retries included.
    pub requests: u64,
    /// Attempts that were retried.
    pub retries: u64,
    /// Events the egress policy kept in.
    pub withheld: u64,
    /// From the first batch sent to the last one landed: the time spent
    /// delivering (without start-up and idle waits).
    pub active: Duration,
}

/// How an event's journey through the sink ended.
#[derive(Debug)]
enum Outcome {
    /// Acknowledged by the SIEM in this batch.
    Delivered(String),
    /// Refused by the SIEM: reason and response body.
    Rejected(String, String),
    /// Kept in by a policy: the rule (`<pack>/<rule>@<version>`) and why.
    Withheld {
        /// The rule's reference.
        rule: String,
        /// The rule and its description.
        reason: String,
    },
}

/// How long the driver waits for its oldest batch before it pauses the feed.
const SLOW_SIEM: Duration = Duration::from_secs(1);

/// A batch whose delivery task is running.
struct InFlight {
    /// Partition → next offset: committed once this batch and every one
    /// before it landed.
    next: BTreeMap<i32, i64>,
    /// Events the egress policy kept in, with the rule.
    withheld: Vec<(OutgoingEvent, Outcome)>,
    task: tokio::task::JoinHandle<Result<flight::Landed, SinkError>>,
}

/// One sink's driver.
pub struct Driver<S: Service> {
    name: String,
    service: Arc<S>,
    batch: BatchConfig,
    feed: Box<dyn Feed>,
    recorder: record::Recorder,
    runtime: tokio::runtime::Runtime,
    stats: Stats,
    /// Events polled but not yet batched (one over a batch's byte limit,
    /// or handed out by a rebalance while the feed was paused).
    backlog: VecDeque<OutgoingEvent>,
    policies: Arc<Policies>,
    /// `sink:<name>`: what the egress rules are asked about.
    target: String,
    in_flight: VecDeque<InFlight>,
    /// When the first batch was sent.
    first_sent: Option<Instant>,
}

impl<S: Service> Driver<S> {
    /// A driver on the sink's consumer group `<prefix>.sink.<name>`
    /// (static member `instance_id`): what `auditfed run sinks` runs.
    pub fn new(
        kafka: &Kafka,
        name: &str,
        instance_id: &str,
        batch: BatchConfig,
        policies: Policies,
        service: S,
    ) -> Result<Driver<S>, SinkError> {
        let feed = GroupFeed::join(kafka, name, instance_id)?;
        Driver::with_feed(kafka, name, Box::new(feed), batch, policies, service)
    }

    /// A driver on any [`Feed`] (a replay's range of the events topic or
    /// archive); receipts and dead letters still go to Kafka.
    pub fn with_feed(
        kafka: &Kafka,
        name: &str,
        feed: Box<dyn Feed>,
        batch: BatchConfig,
        policies: Policies,
        service: S,
    ) -> Result<Driver<S>, SinkError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("sink-{name}"))
            .enable_all()
            .build()
            .map_err(|e| SinkError::Kafka(format!("cannot start a runtime: {e}")))?;
        let recorder = record::Recorder::new(kafka, name, feed.member().as_deref())?;
        Ok(Driver {
            name: name.to_owned(),
            service: Arc::new(service),
            batch,
            feed,
            recorder,
            runtime,
            stats: Stats::default(),
            backlog: VecDeque::new(),
            policies: Arc::new(policies),
            target: format!("sink:{name}"),
            in_flight: VecDeque::new(),
            first_sent: None,
        })
    }

    /// Runs until `stop` is set, until nothing arrived for `idle`, or until
    /// a bounded feed ended and everything in flight landed.
    pub fn run(
        &mut self,
        stop: &Arc<AtomicBool>,
        idle: Option<Duration>,
    ) -> Result<Stats, SinkError> {
        self.healthy(stop)?;
        let mut last_event = Instant::now();
        let mut ended = false;
        while !stop.load(Ordering::Relaxed) {
            self.land_finished()?;
            if self.in_flight.len() >= self.batch.max_in_flight.max(1) {
                self.land_oldest()?;
                continue;
            }
            self.feed.pause(false);
            if ended {
                if self.in_flight.is_empty() {
                    break;
                }
                self.land_oldest()?;
                continue;
            }
            let (batch, end) = self.gather(stop)?;
            ended = end;
            if batch.is_empty() {
                // Idle only counts once the feed can deliver: a restarted
                // member may wait for the group to hand its partitions over.
                if !self.feed.ready() || !self.in_flight.is_empty() {
                    last_event = Instant::now();
                } else if idle.is_some_and(|idle| last_event.elapsed() >= idle) {
                    break;
                }
                continue;
            }
            last_event = Instant::now();
            self.launch(batch, stop);
        }
        if stop.load(Ordering::Relaxed) && !self.in_flight.is_empty() {
            return Err(SinkError::Stopped);
        }
        Ok(self.stats.clone())
    }

    fn healthy(&mut self, stop: &AtomicBool) -> Result<(), SinkError> {
        let mut attempt = 0;
        loop {
            match self.runtime.block_on(self.service.health()) {
                Ok(()) => return Ok(()),
                Err(Failure::Fatal(message)) => {
                    return Err(SinkError::Fatal {
                        sink: self.name.clone(),
                        message,
                    });
                }
                Err(failure) => {
                    tracing::warn!(sink = %self.name, failure = ?failure, "SIEM not healthy yet");
                    self.runtime.block_on(flight::pause(
                        attempt,
                        &failure,
                        self.batch.max_backoff_ms,
                        stop,
                    ))?;
                    attempt += 1;
                }
            }
        }
    }

    /// Polls until the batch is full, `max_ms` passed since its first
    /// event, or the feed ended (second value).
    fn gather(&mut self, stop: &AtomicBool) -> Result<(Vec<OutgoingEvent>, bool), SinkError> {
        let mut batch: Vec<OutgoingEvent> = Vec::new();
        let mut bytes = 0;
        let mut first: Option<Instant> = None;
        let max_wait = Duration::from_millis(self.batch.max_ms);
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if !batch.is_empty()
                    && (bytes + event.json.len() > self.batch.max_bytes
                        || batch.len() >= self.batch.max_events)
                {
                    self.backlog.push_front(event);
                    return Ok((batch, false));
                }
                bytes += event.json.len();
                first.get_or_insert_with(Instant::now);
                batch.push(event);
                continue;
            }
            if batch.len() >= self.batch.max_events || stop.load(Ordering::Relaxed) {
                return Ok((batch, false));
            }
            let waited = first.map_or(Duration::ZERO, |f| f.elapsed());
            if first.is_some() && waited >= max_wait {
                return Ok((batch, false));
            }
            let timeout = if first.is_some() {
                (max_wait - waited).min(Duration::from_millis(100))
            } else {
                Duration::from_millis(100)
            };
            match self.feed.poll(timeout)? {
                Polled::End => return Ok((batch, true)),
                Polled::Idle if first.is_none() => return Ok((batch, false)),
                Polled::Idle => {
                    // Land what finished meanwhile: commits keep pace
                    // while a slow trickle fills the next batch.
                    self.land_finished()?;
                }
                Polled::Event(event) => {
                    if !batch.is_empty() && bytes + event.json.len() > self.batch.max_bytes {
                        self.backlog.push_back(event);
                        return Ok((batch, false));
                    }
                    bytes += event.json.len();
                    first.get_or_insert_with(Instant::now);
                    batch.push(event);
                }
            }
        }
    }

    /// Applies the egress policy and starts the batch's delivery task.
    fn launch(&mut self, batch: Vec<OutgoingEvent>, stop: &Arc<AtomicBool>) {
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for e in &batch {
            let n = next.entry(e.partition).or_insert(0);
            *n = (*n).max(e.offset + 1);
        }
        let mut withheld = Vec::new();
        let allowed = if !self.policies.has_egress() {
            batch
        } else {
            let mut allowed = Vec::with_capacity(batch.len());
            for event in batch {
                match egress(&self.policies, &self.target, event) {
                    Egressed::Send(event) => allowed.push(event),
                    Egressed::Kept(event, outcome) => withheld.push((event, outcome)),
                }
            }
            allowed
        };
        self.first_sent.get_or_insert_with(Instant::now);
        let task = self.runtime.spawn(flight::fly(
            self.name.clone(),
            self.service.clone(),
            allowed,
            self.batch.max_backoff_ms,
            stop.clone(),
        ));
        self.in_flight.push_back(InFlight {
            next,
            withheld,
            task,
        });
    }

    /// Lands the oldest batches whose tasks finished, in order.
    fn land_finished(&mut self) -> Result<(), SinkError> {
        while self.in_flight.front().is_some_and(|f| f.task.is_finished()) {
            self.land_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest batch, writes its receipts and dead letters,
    /// and commits its offsets.
    fn land_oldest(&mut self) -> Result<(), SinkError> {
        let Some(oldest) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let mut task = oldest.task;
        // A healthy SIEM answers within a second: wait for it with the
        // fetched events left in place. A slow one: pause fetching (so
        // memory stays bounded) and keep the consumer polled so it stays in
        // its group, until the batch lands.
        let mut joined = self
            .runtime
            .block_on(async { tokio::time::timeout(SLOW_SIEM, &mut task).await })
            .ok();
        while joined.is_none() {
            self.feed.pause(true);
            if let Some(event) = self.feed.keep_alive(Duration::from_millis(50))? {
                self.backlog.push_back(event);
            }
            if task.is_finished() {
                joined = Some(self.runtime.block_on(&mut task));
            }
        }
        let landed = joined
            .expect("joined")
            .map_err(|e| SinkError::Kafka(format!("a delivery task failed: {e}")))??;
        self.stats.requests += landed.requests;
        self.stats.retries += landed.retries;
        let outcomes = oldest
            .withheld
            .iter()
            .map(|(e, o)| (e, o))
            .chain(landed.outcomes.iter().map(|(i, o)| (&landed.events[*i], o)));
        let recorded = match self.feed.position(&oldest.next) {
            Ok(position) => {
                self.recorder
                    .record(outcomes, self.feed.mode(), position, &mut self.stats)
            }
            Err(e) => Err(e),
        };
        match recorded {
            Ok(()) => {}
            Err(SinkError::Uncommitted(why)) => return self.start_over(&why),
            Err(e) => return Err(e),
        }
        if let Some(first) = self.first_sent {
            self.stats.active = first.elapsed();
        }
        Ok(())
    }

    /// After an aborted transaction: drops every batch in flight (what
    /// reached the SIEM is delivered again: at least once) and reads again
    /// from the group's committed position.
    fn start_over(&mut self, why: &str) -> Result<(), SinkError> {
        tracing::warn!(sink = %self.name, reason = %why, "a batch's receipts were not committed; delivering again from the committed position");
        for flight in self.in_flight.drain(..) {
            flight.task.abort();
        }
        self.backlog.clear();
        self.feed.rewind()
    }
}

/// The event as it may leave to `target` (redacted), or why it stays.
fn egress(policies: &Policies, target: &str, event: OutgoingEvent) -> Egressed {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&event.json) else {
        let reason = "not a JSON event".to_owned();
        let rule = String::new();
        return Egressed::Kept(event, Outcome::Withheld { rule, reason });
    };
    let decision = policies.egress(target, &Facts::of(&value, Some(&event.source)));
    if let Some(rule) = decision.withheld() {
        let (rule, reason) = (rule.id(), rule.to_string());
        return Egressed::Kept(event, Outcome::Withheld { rule, reason });
    }
    if decision.redactions.is_empty() {
        return Egressed::Send(event);
    }
    decision.redactions.apply(&mut value);
    Egressed::Send(OutgoingEvent {
        json: value.to_string().into_bytes(),
        ..event
    })
}

/// What [`egress`] decided for one event.
enum Egressed {
    /// It goes, as these bytes.
    Send(OutgoingEvent),
    /// It stays in, with its receipt's outcome.
    Kept(OutgoingEvent, Outcome),
}

/// A SIEM's `Retry-After` (seconds or an HTTP date), when it sent one.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(auditfed_platform::backoff::retry_after)
}

/// A random (version 4) GUID: HEC's data channel, a request id.
pub(crate) fn guid() -> String {
    use auditfed_platform::backoff::random_u64;
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&random_u64().to_le_bytes());
    b[8..].copy_from_slice(&random_u64().to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
