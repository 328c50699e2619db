//! `auditfed run sinks` and `auditfed replay`: each selected sink built
//! from its `[sinks.<name>]` table and driven from a feed (its consumer
//! group, a range of the events topic, or the archive) until stopped.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use auditfed_platform::kafka::Kafka;
use auditfed_platform::supervise::run_workers;
use auditfed_schemas::config::Config;

use auditfed_schemas::policy::Policies;

use crate::config::NamedSink;
use crate::driver::{Driver, Feed, GroupFeed};

/// Runs every sink of `selected` on its own thread, each in its consumer
/// group as static member `instance`, until `stop` (or idle): one stop
/// line (or error) per sink, in order.
pub fn run_sinks(
    config: &Config,
    selected: &[NamedSink],
    instance: &str,
    stop: &Arc<AtomicBool>,
    idle: Option<Duration>,
) -> Vec<Result<String, String>> {
    run_workers(
        selected,
        |s| format!("sink {}", s.name),
        |sink| {
            let policies = config_policies(config)?;
            let kafka = Kafka::open(&config.kafka).map_err(|e| e.to_string())?;
            let feed = GroupFeed::join(&kafka, &sink.name, instance).map_err(|e| e.to_string())?;
            drive(&kafka, sink.clone(), &policies, Box::new(feed), stop, idle)
        },
    )
}

/// The `[policies.*]` packs of `config` (relative pack paths from the
/// working directory, as every path of the config).
pub fn config_policies(config: &Config) -> Result<Policies, String> {
    auditfed_schemas::policy::load::from_config(&config.policies, std::path::Path::new("."))
        .map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// The packs `sink` applies: its `[sinks.<name>.policy]` (as the pack
/// `sinks.<name>.policy`) first, then the config's packs.
pub fn sink_policies(sink: &NamedSink, packs: &Policies) -> Policies {
    let legacy = sink.kind.policy();
    let mut all = Vec::new();
    if !legacy.is_open() {
        all.push(legacy.to_pack(&sink.name));
    }
    all.extend(packs.packs().iter().cloned());
    Policies::new(all)
}

/// Builds `sink` from its configuration and forwards what `feed` gives
/// until stopped, idle or the feed ends, under `packs` and the sink's own
/// policy; the sink's stop line.
pub fn drive(
    kafka: &Kafka,
    sink: NamedSink,
    packs: &Policies,
    feed: Box<dyn Feed>,
    stop: &Arc<AtomicBool>,
    idle: Option<Duration>,
) -> Result<String, String> {
    let key = format!("sinks.{}", sink.name);
    let policies = sink_policies(&sink, packs);
    let name = sink.name;
    let batch = sink.kind.batch().clone();
    let target = sink.kind.target();
    let _span = tracing::info_span!("sink", sink = %name).entered();
    let service = sink.kind.build(&key)?;
    let mode = feed.mode();
    let mut driver = Driver::with_feed(kafka, &name, feed, batch, policies, service)
        .map_err(|e| e.to_string())?;
    tracing::info!(mode, events = %kafka.topics().events(), target, "sink forwarding");
    let stats = driver.run(stop, idle).map_err(|e| e.to_string())?;
    Ok(format!(
        "auditfed: sink {name} ({mode}) stopped: {} delivered, {} dead-lettered, {} withheld by its policy, {} requests ({} retried)",
        stats.delivered, stats.dead_lettered, stats.withheld, stats.requests, stats.retries
    ))
}
