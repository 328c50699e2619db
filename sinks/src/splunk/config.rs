//! `[sinks.<name>]` with `type = "splunk_hec"`.

use serde::Deserialize;

use crate::driver::BatchConfig;
use crate::policy::Policy;
use auditfed_schemas::config::Problem;

/// A Splunk HTTP Event Collector.
///
/// ```toml
/// [sinks.splunk]
/// type = "splunk_hec"
/// endpoint = "https://splunk.example.com:8088"
/// token = "${SPLUNK_HEC_TOKEN}"
/// index = "audit"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplunkConfig {
    /// `https://host:8088` (the collector's base URL).
    pub endpoint: String,
    /// The HEC token (`Authorization: Splunk <token>`); use `${ENV}`.
    pub token: String,
    /// The index events go to (the token's default index when absent).
    pub index: Option<String>,
    /// `sourcetype` of the events.
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// `host` of the events (default: the event's `device.hostname`, else
    /// its cloud account, else `auditfed`).
    pub host: Option<String>,
    /// Compress request bodies with gzip.
    #[serde(default = "yes")]
    pub gzip: bool,
    /// Wait for indexer acknowledgement before committing (the token must
    /// have acknowledgement enabled). Without it, "delivered" means "HEC
    /// accepted the request", not "indexed".
    #[serde(default = "yes")]
    pub acknowledgements: bool,
    /// Resend a batch whose acknowledgement did not arrive within this many seconds.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout_secs: u64,
    /// How often to poll for acknowledgements (ms).
    #[serde(default = "default_ack_poll")]
    pub ack_poll_ms: u64,
    /// Timeout of one HTTP request (seconds).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Accept any TLS certificate (test setups only).
    #[serde(default)]
    pub tls_skip_verify: bool,
    /// Batching and backoff.
    #[serde(default)]
    pub batch: BatchConfig,
    /// What may leave, and which fields only dropped or hashed.
    #[serde(default)]
    pub policy: Policy,
}

fn default_sourcetype() -> String {
    "ocsf:auditfed".into()
}
fn yes() -> bool {
    true
}
fn default_ack_timeout() -> u64 {
    120
}
fn default_ack_poll() -> u64 {
    250
}
fn default_request_timeout() -> u64 {
    30
}

impl SplunkConfig {
    /// Value checks beyond types; `key` is `sinks.<name>`.
    pub fn check(&self, key: &str) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        if !(self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://")) {
            problems.push(Problem::new(
                format!("{key}.endpoint"),
                format!("{:?}: expected https://host:8088", self.endpoint),
            ));
        }
        if self.token.trim().is_empty() {
            problems.push(Problem::new(
                format!("{key}.token"),
                "empty (is its ${ENV} variable set?)",
            ));
        }
        problems.extend(self.batch.check(&format!("{key}.batch")));
        if self.ack_timeout_secs == 0 || self.ack_poll_ms == 0 || self.request_timeout_secs == 0 {
            problems.push(Problem::new(
                key,
                "ack_timeout_secs, ack_poll_ms and request_timeout_secs must be greater than 0",
            ));
        }
        for (k, message) in self.policy.check(&format!("{key}.policy")) {
            problems.push(Problem::new(k, message));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}
