//! `[collectors.<name>]` tables of `auditfed.toml`: each names its `type`
//! and is checked by that collector's typed config, unknown keys rejected,
//! every problem reported with its key path.
//!
//! ```
//! use auditfed_ingest::collectors::{CollectorKind, parse_collectors};
//!
//! let table: toml::Table = toml::from_str(r#"
//! [auth_log]
//! type = "file"
//! source = "syslog"
//! paths = ["/var/log/auth.log"]
//! "#).unwrap();
//! let collectors = parse_collectors(&table.into_iter().collect()).unwrap();
//! assert!(matches!(collectors[0].kind, CollectorKind::File(_)));
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use auditfed_schemas::config::{Problem, from_toml, parse_typed_tables};

use crate::IngestError;
use crate::collect::Collecting;
use crate::eventhubs::config::EventHubsConfig;
use crate::file::config::FileConfig;
use crate::github::{Github, GithubConfig};
use crate::http::config::HttpConfig;
use crate::objects::Objects;
use crate::objects::config::{ObjectsConfig, StoreKind};
use crate::okta::{Okta, OktaConfig};
use crate::syslog::config::SyslogConfig;

/// One configured collector.
#[derive(Debug, Clone)]
pub struct NamedCollector {
    /// `[collectors.<name>]`: its cursors' and transactional id's name.
    pub name: String,
    /// What it collects.
    pub kind: CollectorKind,
}

/// The collector types.
#[derive(Debug, Clone)]
pub enum CollectorKind {
    /// `type = "file"`: follows local files.
    File(FileConfig),
    /// `type = "syslog"`: receives syslog over UDP and TCP.
    Syslog(SyslogConfig),
    /// `type = "okta"`: polls the Okta System Log API.
    Okta(OktaConfig),
    /// `type = "github"`: polls a GitHub organization's or enterprise's audit log.
    Github(GithubConfig),
    /// `type = "eventhubs"`: an Azure Event Hub through its Kafka endpoint.
    EventHubs(EventHubsConfig),
    /// `type = "http"`: receives POSTed JSON (the Kubernetes audit webhook).
    Http(HttpConfig),
    /// `type = "s3"`, `"gcs"` or `"azure_blob"`: audit-log objects in a bucket.
    Objects(StoreKind, ObjectsConfig),
}

const TYPES: &str = "\"file\", \"syslog\", \"http\", \"eventhubs\", \"okta\", \"github\", \"s3\", \"gcs\" or \"azure_blob\"";

/// Every `[collectors.*]` table, typed; `Err` lists every problem with its key.
pub fn parse_collectors(
    tables: &BTreeMap<String, toml::Value>,
) -> Result<Vec<NamedCollector>, Vec<Problem>> {
    let parsed = parse_typed_tables(
        "collectors",
        "collector",
        TYPES,
        tables,
        |key, kind, table| {
            let store = match kind {
                "s3" => StoreKind::S3,
                "gcs" => StoreKind::Gcs,
                _ => StoreKind::AzureBlob,
            };
            Some(match kind {
                "file" => typed(key, table, FileConfig::check, CollectorKind::File),
                "syslog" => typed(key, table, SyslogConfig::check, CollectorKind::Syslog),
                "http" => typed(key, table, HttpConfig::check, CollectorKind::Http),
                "okta" => typed(key, table, OktaConfig::check, CollectorKind::Okta),
                "github" => typed(key, table, GithubConfig::check, CollectorKind::Github),
                "eventhubs" => typed(key, table, EventHubsConfig::check, CollectorKind::EventHubs),
                "s3" | "gcs" | "azure_blob" => typed(
                    key,
                    table,
                    |c: &ObjectsConfig, key| c.check(key, store),
                    |c| CollectorKind::Objects(store, c),
                ),
                _ => return None,
            })
        },
    )?;
    Ok(parsed
        .into_iter()
        .map(|(name, kind)| NamedCollector { name, kind })
        .collect())
}

fn poll_line(stats: &crate::poll::PollStats) -> String {
    format!(
        "{} pages, {} records, {} dead-lettered, {} waits for rate limits",
        stats.pages, stats.records, stats.rejected, stats.throttled
    )
}

/// One collector's table as its typed config, checked.
fn typed<C: serde::de::DeserializeOwned>(
    key: &str,
    table: toml::Value,
    check: impl Fn(&C, &str) -> Vec<Problem>,
    kind: impl Fn(C) -> CollectorKind,
) -> Result<CollectorKind, Vec<Problem>> {
    let config = from_toml::<C>(key, table)?;
    let problems = check(&config, key);
    if problems.is_empty() {
        Ok(kind(config))
    } else {
        Err(problems)
    }
}

/// How long a collector runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFor {
    /// Stop once nothing new came for this long (tests, one-shot jobs).
    pub idle: Option<Duration>,
    /// Object collectors: one complete listing pass with a progress bar, then stop.
    pub backfill: bool,
}

/// Runs one collector until `stop` (or as `run_for` says); its stop line.
pub fn run(
    collector: &NamedCollector,
    out: &mut Collecting,
    max_record_bytes: usize,
    stop: &AtomicBool,
    run_for: RunFor,
) -> Result<String, IngestError> {
    let idle = run_for.idle;
    if run_for.backfill
        && !matches!(&collector.kind, CollectorKind::Objects(_, c) if c.sqs_queue_url.is_none())
    {
        return Err(IngestError::Config(format!(
            "--backfill lists a bucket: collector {} is not an s3, gcs or azure_blob collector without sqs_queue_url",
            collector.name
        )));
    }
    match &collector.kind {
        CollectorKind::File(config) => {
            let stats = crate::file::collector::follow(config, out, max_record_bytes, stop, idle)?;
            Ok(format!(
                "{} lines, {} dead-lettered, {} rotations",
                stats.records, stats.rejected, stats.rotations
            ))
        }
        CollectorKind::Syslog(config) => {
            let stats = crate::syslog::collector::receive(config, out, stop, idle)?;
            Ok(format!(
                "{} messages, {} dead-lettered, {} TCP connections",
                stats.received, stats.rejected, stats.connections
            ))
        }
        CollectorKind::Okta(config) => {
            let source = config.source.parse().map_err(|_| {
                IngestError::Config(format!("{:?}: unknown source type", config.source))
            })?;
            let api = Okta {
                config: config.clone(),
            };
            let every = Duration::from_secs(config.poll_secs);
            let stats = crate::poll::poll(&api, source, every, out, stop, idle)?;
            Ok(poll_line(&stats))
        }
        CollectorKind::Github(config) => {
            let source = config.source.parse().map_err(|_| {
                IngestError::Config(format!("{:?}: unknown source type", config.source))
            })?;
            let api = Github {
                config: config.clone(),
            };
            let every = Duration::from_secs(config.poll_secs);
            let stats = crate::poll::poll(&api, source, every, out, stop, idle)?;
            Ok(poll_line(&stats))
        }
        CollectorKind::EventHubs(config) => {
            let stats =
                crate::eventhubs::collector::consume(config, out, max_record_bytes, stop, idle)?;
            Ok(format!(
                "{} messages from {} partitions, {} records, {} dead-lettered",
                stats.messages, stats.partitions, stats.records, stats.rejected
            ))
        }
        CollectorKind::Http(config) => {
            let stats = crate::http::collector::receive(config, out, max_record_bytes, stop, idle)?;
            Ok(format!(
                "{} requests, {} records, {} dead-lettered, {} answered 429, {} refused 401",
                stats.requests, stats.records, stats.rejected, stats.throttled, stats.unauthorized
            ))
        }
        CollectorKind::Objects(_, config) => {
            let objects = Objects::open(config, max_record_bytes)?;
            let stats = match &config.sqs_queue_url {
                Some(queue) => crate::s3::collector::notified(&objects, queue, out, stop, idle)?,
                None => objects.follow(out, stop, idle, run_for.backfill)?,
            };
            Ok(format!(
                "{} objects ({} bytes), {} records, {} dead-lettered, {} passes",
                stats.objects, stats.bytes, stats.records, stats.rejected, stats.passes
            ))
        }
    }
}
