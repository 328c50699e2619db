//! `[sinks.<name>]` tables of `auditfed.toml`: each names its `type` and is
//! checked by that sink's typed config, unknown keys rejected, every problem
//! reported with its key path (as the rest of the file is).
//!
//! ```
//! use auditfed_sinks::config::{SinkKind, parse_sinks};
//!
//! let table: toml::Table = toml::from_str(r#"
//! [splunk]
//! type = "splunk_hec"
//! endpoint = "https://splunk.example.com:8088"
//! token = "00000000-0000-0000-0000-000000000000"
//! index = "audit"
//! "#).unwrap();
//! let sinks = parse_sinks(&table.into_iter().collect()).unwrap();
//! assert_eq!(sinks[0].name, "splunk");
//! assert!(matches!(sinks[0].kind, SinkKind::Splunk(_)));
//! ```

use std::collections::BTreeMap;

use auditfed_schemas::config::{Problem, from_toml, parse_typed_tables};
use serde::Deserialize;

use crate::sentinel::SentinelConfig;
use crate::splunk::SplunkConfig;

/// One configured sink.
#[derive(Debug, Clone)]
pub struct NamedSink {
    /// The table's name: `[sinks.<name>]`; also the consumer group's suffix
    /// and the `sink` of its receipts.
    pub name: String,
    /// What it forwards to.
    pub kind: SinkKind,
}

/// The sink types.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// `type = "splunk_hec"`.
    Splunk(SplunkConfig),
    /// `type = "sentinel"`.
    Sentinel(SentinelConfig),
}

impl SinkKind {
    /// Batching of the sink.
    pub fn batch(&self) -> &BatchConfig {
        match self {
            SinkKind::Splunk(c) => &c.batch,
            SinkKind::Sentinel(c) => &c.batch,
        }
    }
    /// Egress policy of the sink.
    pub fn policy(&self) -> &crate::policy::Policy {
        match self {
            SinkKind::Splunk(c) => &c.policy,
            SinkKind::Sentinel(c) => &c.policy,
        }
    }
}

/// Batching, shared by every sink (`[sinks.<name>.batch]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Events per request, at most.
    pub max_events: usize,
    /// Bytes of events per request, at most (before compression).
    pub max_bytes: usize,
    /// A batch is sent at the latest this long after its first event (ms).
    pub max_ms: u64,
    /// Longest pause between two attempts (ms); the SIEM's `Retry-After`
    /// is honoured even when longer.
    pub max_backoff_ms: u64,
    /// Batches delivered at the same time (each its own request); offsets
    /// are still committed in order. Memory stays under
    /// `(max_in_flight + 1) × max_bytes`.
    pub max_in_flight: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 1_000,
            max_bytes: 4 << 20,
            max_ms: 1_000,
            max_backoff_ms: 30_000,
            max_in_flight: 4,
        }
    }
}

impl BatchConfig {
    /// Value checks; `key` is `sinks.<name>.batch`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.max_events == 0 || self.max_bytes == 0 || self.max_ms == 0 {
            problems.push(Problem::new(
                key,
                "max_events, max_bytes and max_ms must be greater than 0",
            ));
        }
        if !(1..=64).contains(&self.max_in_flight) {
            problems.push(Problem::new(
                format!("{key}.max_in_flight"),
                format!("{}: expected 1 to 64", self.max_in_flight),
            ));
        }
        problems
    }
}

/// Every `[sinks.*]` table, typed; `Err` lists every problem with its key.
pub fn parse_sinks(tables: &BTreeMap<String, toml::Value>) -> Result<Vec<NamedSink>, Vec<Problem>> {
    let types = "\"splunk_hec\" or \"sentinel\"";
    let parsed = parse_typed_tables("sinks", "sink", types, tables, |key, kind, table| {
        Some(match kind {
            "splunk_hec" => from_toml::<SplunkConfig>(key, table)
                .and_then(|c| c.check(key).map(|()| c))
                .map(SinkKind::Splunk),
            "sentinel" => from_toml::<SentinelConfig>(key, table)
                .and_then(|c| c.check(key).map(|()| c))
                .map(SinkKind::Sentinel),
            _ => return None,
        })
    })?;
    Ok(parsed
        .into_iter()
        .map(|(name, kind)| NamedSink { name, kind })
        .collect())
}
