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

pub use crate::driver::BatchConfig;
use crate::driver::Service;
use crate::sentinel::{SentinelConfig, SentinelService};
use crate::splunk::{SplunkConfig, SplunkService};

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

    /// The sink's service, built from this configuration (`key` is its
    /// table, `sinks.<name>`, which errors name).
    pub fn build(self, key: &str) -> Result<Box<dyn Service>, String> {
        Ok(match self {
            SinkKind::Splunk(c) => Box::new(SplunkService::new(c, key)?),
            SinkKind::Sentinel(c) => Box::new(SentinelService::new(c, key)?),
        })
    }

    /// Where it delivers, for people: `Splunk HEC at …`.
    pub fn target(&self) -> String {
        match self {
            SinkKind::Splunk(c) => format!("Splunk HEC at {}", c.endpoint),
            SinkKind::Sentinel(c) => format!(
                "the Logs Ingestion API at {} (DCR {})",
                c.endpoint, c.dcr_immutable_id
            ),
        }
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
