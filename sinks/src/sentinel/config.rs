//! `[sinks.<name>]` with `type = "sentinel"`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::driver::BatchConfig;
use crate::policy::Policy;
use auditfed_schemas::config::Problem;

/// Microsoft Sentinel through the Azure Monitor Logs Ingestion API.
///
/// ```toml
/// [sinks.sentinel]
/// type = "sentinel"
/// endpoint = "https://auditfed-dce-a1b2.westeurope-1.ingest.monitor.azure.com"
/// dcr_immutable_id = "dcr-00000000000000000000000000000000"
/// table = "asim"
///
/// [sinks.sentinel.auth]
/// tenant_id = "${AZURE_TENANT_ID}"
/// client_id = "${AZURE_CLIENT_ID}"
/// client_secret = "${AZURE_CLIENT_SECRET}"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The data collection endpoint (DCE) or the DCR's own logs ingestion
    /// endpoint: `https://<name>.<region>-1.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The DCR's immutable id (`dcr-` and 32 hex digits; the DCR's JSON
    /// view, `properties.immutableId`).
    pub dcr_immutable_id: String,
    /// `"asim"`: ASIM rows, authentication events to
    /// `authentication_stream` (→ ASimAuthenticationEventLogs), everything
    /// else to `audit_stream` (→ ASimAuditEventLogs). `"ocsf"`: the
    /// archive's OCSF columns and the sealed event to `ocsf_stream`
    /// (a custom table; definition in docs/sinks.md).
    #[serde(default)]
    pub table: Table,
    /// The DCR input stream of ASIM audit rows.
    #[serde(default = "default_audit_stream")]
    pub audit_stream: String,
    /// The DCR input stream of ASIM authentication rows.
    #[serde(default = "default_authentication_stream")]
    pub authentication_stream: String,
    /// The DCR input stream of OCSF rows (`Custom-<table>`).
    #[serde(default = "default_ocsf_stream")]
    pub ocsf_stream: String,
    /// The Logs Ingestion API version.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Compress request bodies with gzip.
    #[serde(default = "yes")]
    pub gzip: bool,
    /// Timeout of one HTTP request (seconds).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Accept any TLS certificate (test setups only).
    #[serde(default)]
    pub tls_skip_verify: bool,
    /// The Entra ID application the requests are made as.
    pub auth: AzureAuth,
    /// Batching and backoff (requests are further cut at the API's 1 MB).
    #[serde(default = "default_batch")]
    pub batch: BatchConfig,
    /// What may leave, and which fields only dropped or hashed.
    #[serde(default)]
    pub policy: Policy,
}

/// The row format, and so the target tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// ASimAuditEventLogs and ASimAuthenticationEventLogs.
    #[default]
    Asim,
    /// A custom table of OCSF columns.
    Ocsf,
}

/// `[sinks.<name>.auth]`: an Entra ID client-credentials grant, with a
/// client secret or a federated token file (workload identity).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureAuth {
    /// The directory (tenant) id.
    pub tenant_id: String,
    /// The application (client) id; it needs the "Monitoring Metrics
    /// Publisher" role on the DCR.
    pub client_id: String,
    /// The application's secret (use `${ENV}`).
    pub client_secret: Option<String>,
    /// A file holding a federated token, re-read at every refresh (AKS
    /// workload identity projects it at `$AZURE_FEDERATED_TOKEN_FILE`).
    pub federated_token_file: Option<PathBuf>,
    /// The Entra ID authority (sovereign clouds have their own).
    #[serde(default = "default_authority")]
    pub authority: String,
    /// The scope requested for the token.
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn default_audit_stream() -> String {
    "Custom-ASimAuditEventLogs".into()
}
fn default_authentication_stream() -> String {
    "Custom-ASimAuthenticationEventLogs".into()
}
fn default_ocsf_stream() -> String {
    "Custom-AuditfedOcsf_CL".into()
}
fn default_api_version() -> String {
    "2023-01-01".into()
}
fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_scope() -> String {
    "https://monitor.azure.com//.default".into()
}
fn yes() -> bool {
    true
}
fn default_request_timeout() -> u64 {
    30
}
/// Batches of ~700 KB of events: their rows fit the API's 1 MB per call.
fn default_batch() -> BatchConfig {
    BatchConfig {
        max_bytes: 700_000,
        ..BatchConfig::default()
    }
}

impl SentinelConfig {
    /// Value checks beyond types; `key` is `sinks.<name>`.
    pub fn check(&self, key: &str) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        if !self.endpoint.starts_with("https://") && !self.endpoint.starts_with("http://") {
            problems.push(Problem::new(
                format!("{key}.endpoint"),
                format!(
                    "{:?}: expected https://<dce>.<region>-1.ingest.monitor.azure.com",
                    self.endpoint
                ),
            ));
        }
        let id = &self.dcr_immutable_id;
        let hex = id.strip_prefix("dcr-").unwrap_or_default();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(Problem::new(
                format!("{key}.dcr_immutable_id"),
                format!("{id:?}: expected dcr- and 32 hex digits (the DCR's immutableId)"),
            ));
        }
        for (name, stream) in [
            ("audit_stream", &self.audit_stream),
            ("authentication_stream", &self.authentication_stream),
            ("ocsf_stream", &self.ocsf_stream),
        ] {
            if !(stream.starts_with("Custom-") || stream.starts_with("Microsoft-")) {
                problems.push(Problem::new(
                    format!("{key}.{name}"),
                    format!("{stream:?}: expected a DCR stream name, Custom-<name>"),
                ));
            }
        }
        let auth = &self.auth;
        for (name, value) in [
            ("tenant_id", &auth.tenant_id),
            ("client_id", &auth.client_id),
        ] {
            if value.trim().is_empty() {
                problems.push(Problem::new(
                    format!("{key}.auth.{name}"),
                    "empty (is its ${ENV} variable set?)",
                ));
            }
        }
        match (&auth.client_secret, &auth.federated_token_file) {
            (Some(_), Some(_)) | (None, None) => problems.push(Problem::new(
                format!("{key}.auth"),
                "expected exactly one of client_secret and federated_token_file",
            )),
            (Some(secret), None) if secret.trim().is_empty() => problems.push(Problem::new(
                format!("{key}.auth.client_secret"),
                "empty (is its ${ENV} variable set?)",
            )),
            _ => {}
        }
        if self.request_timeout_secs == 0 {
            problems.push(Problem::new(
                format!("{key}.request_timeout_secs"),
                "must be greater than 0",
            ));
        }
        problems.extend(self.batch.check(&format!("{key}.batch")));
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
