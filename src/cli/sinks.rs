//! `auditfed run sinks --config auditfed.toml [--sink NAME]...`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use auditfed_platform::kafka::Kafka;
use auditfed_schemas::config::Config;
use auditfed_sinks::config::{NamedSink, SinkKind, parse_sinks};
use auditfed_sinks::driver::{Driver, Feed, GroupFeed, Service};
use auditfed_sinks::sentinel::SentinelService;
use auditfed_sinks::splunk::SplunkService;

use super::service::{connect, load_config, report, select_named, stop_flag};

/// Runs every selected sink in its own thread until stopped (or idle).
pub fn run(path: PathBuf, only: &[String], idle: Option<Duration>) -> Result<ExitCode, String> {
    let config = load_config(Some(&path))?;
    let selected = select(&path, &config, only)?;
    let stop = stop_flag()?;
    let instance = config.normalize.instance_id();
    let results: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .into_iter()
            .map(|sink| {
                let (config, stop, instance) = (&config, stop.clone(), &instance);
                scope.spawn(move || -> Result<String, String> {
                    let kafka = connect(config)?;
                    let feed =
                        GroupFeed::join(&kafka, &sink.name, instance).map_err(|e| e.to_string())?;
                    drive(&kafka, sink, Box::new(feed), &stop, idle)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a sink panicked".into())))
            .collect()
    });
    Ok(report(results))
}

/// The configured sinks, only those named in `only` when it is not empty.
pub fn select(path: &Path, config: &Config, only: &[String]) -> Result<Vec<NamedSink>, String> {
    select_named(
        path,
        "sinks",
        parse_sinks(&config.sinks),
        |s| s.name.as_str(),
        only,
    )
}

/// Forwards what `feed` gives to `sink` until stopped, idle or the feed
/// ends; the sink's stop line.
pub fn drive(
    kafka: &Kafka,
    sink: NamedSink,
    feed: Box<dyn Feed>,
    stop: &Arc<AtomicBool>,
    idle: Option<Duration>,
) -> Result<String, String> {
    let key = format!("sinks.{}", sink.name);
    let batch = sink.kind.batch().clone();
    let policy = sink.kind.policy().clone();
    match sink.kind {
        SinkKind::Splunk(splunk) => {
            let target = format!("Splunk HEC at {}", splunk.endpoint);
            let service = SplunkService::new(splunk, &key)?;
            forward(
                kafka, &sink.name, &target, feed, batch, policy, service, stop, idle,
            )
        }
        SinkKind::Sentinel(sentinel) => {
            let target = format!(
                "the Logs Ingestion API at {} (DCR {})",
                sentinel.endpoint, sentinel.dcr_immutable_id
            );
            let service = SentinelService::new(sentinel, &key)?;
            forward(
                kafka, &sink.name, &target, feed, batch, policy, service, stop, idle,
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn forward<S: Service>(
    kafka: &Kafka,
    name: &str,
    target: &str,
    feed: Box<dyn Feed>,
    batch: auditfed_sinks::config::BatchConfig,
    policy: auditfed_sinks::policy::Policy,
    service: S,
    stop: &Arc<AtomicBool>,
    idle: Option<Duration>,
) -> Result<String, String> {
    let mode = feed.mode();
    let mut driver =
        Driver::with_feed(kafka, name, feed, batch, policy, service).map_err(|e| e.to_string())?;
    eprintln!(
        "auditfed: sink {name} ({mode}) forwarding {} to {target}",
        kafka.topics().events()
    );
    let stats = driver.run(stop, idle).map_err(|e| e.to_string())?;
    Ok(format!(
        "auditfed: sink {name} ({mode}) stopped: {} delivered, {} dead-lettered, {} withheld by its policy, {} requests ({} retried)",
        stats.delivered, stats.dead_lettered, stats.withheld, stats.requests, stats.retries
    ))
}
