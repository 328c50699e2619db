//! `[collectors.<name>]` with `type = "http"`.

use std::path::PathBuf;

use serde::Deserialize;

use auditfed_schemas::config::Problem;

/// An HTTPS receiver: the Kubernetes audit webhook backend (`EventList`
/// bodies), or any client POSTing JSON, a JSON array or JSON lines.
///
/// ```toml
/// [collectors.k8s_audit]
/// type = "http"
/// listen = "0.0.0.0:8443"
/// source = "k8s_audit"
/// tls_cert = "/etc/auditfed/tls.crt"
/// tls_key = "/etc/auditfed/tls.key"
/// client_ca = "/etc/auditfed/apiserver-ca.crt"   # mutual TLS, and/or:
/// bearer_token = "${AUDIT_WEBHOOK_TOKEN}"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// The source type of the records (`auditfed schema` lists them).
    pub source: String,
    /// The path clients POST to.
    #[serde(default = "default_path")]
    pub path: String,
    /// Server certificate chain (PEM). Without it (and `tls_key`), plain HTTP.
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate signed by this CA (PEM).
    pub client_ca: Option<PathBuf>,
    /// Clients must send `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// The same, read from a file (trailing whitespace ignored).
    pub bearer_token_file: Option<PathBuf>,
    /// Accept requests without a bearer token or client certificate (a
    /// receiver behind an authenticating proxy only).
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Larger bodies are refused with 413 before they are read.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Requests accepted and waiting for their Kafka commit, at most; more
    /// are answered 429 with `Retry-After` (the webhook backend retries
    /// with backoff).
    #[serde(default = "default_queue")]
    pub queue_requests: usize,
    /// Open connections, at most.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Requests are committed to Kafka together at most this long after the
    /// first of them arrived (ms); each is answered once its records are committed.
    #[serde(default = "default_batch_ms")]
    pub batch_ms: u64,
    /// Records per Kafka transaction, about (requests are never split).
    #[serde(default = "default_batch")]
    pub batch_records: usize,
}

fn default_path() -> String {
    "/".into()
}
fn default_max_body() -> usize {
    16 * 1024 * 1024
}
fn default_queue() -> usize {
    64
}
fn default_connections() -> usize {
    256
}
fn default_batch_ms() -> u64 {
    50
}
fn default_batch() -> usize {
    5_000
}

impl HttpConfig {
    /// Value checks; `key` is `collectors.<name>`. TLS files are loaded.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, what: String| {
            problems.push(Problem::new(
                if field.is_empty() {
                    key.to_owned()
                } else {
                    format!("{key}.{field}")
                },
                what,
            ))
        };
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problem(
                "listen",
                format!("{:?}: expected host:port such as 0.0.0.0:8443", self.listen),
            );
        }
        if self.source.parse::<auditfed_schemas::SourceType>().is_err() {
            problem(
                "source",
                format!(
                    "{:?}: unknown source type (see `auditfed schema`)",
                    self.source
                ),
            );
        }
        if !self.path.starts_with('/') {
            problem(
                "path",
                format!("{:?}: expected a path starting with /", self.path),
            );
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(k)) => {
                if let Err(e) = crate::tls::server_config(cert, k, self.client_ca.as_deref()) {
                    problem("tls_cert", e);
                }
            }
            (None, None) if self.client_ca.is_some() => {
                problem("client_ca", "needs tls_cert and tls_key".into())
            }
            (None, None) => {}
            _ => problem("tls_cert", "tls_cert and tls_key go together".into()),
        }
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            problem(
                "bearer_token_file",
                "give bearer_token or bearer_token_file, not both".into(),
            );
        }
        if let Some(file) = &self.bearer_token_file
            && let Err(e) = std::fs::read_to_string(file)
        {
            problem("bearer_token_file", format!("{}: {e}", file.display()));
        }
        if self.bearer_token.as_deref() == Some("") {
            problem("bearer_token", "empty".into());
        }
        let authenticated = self.bearer_token.is_some()
            || self.bearer_token_file.is_some()
            || self.client_ca.is_some();
        if !authenticated && !self.allow_unauthenticated {
            problem(
                "",
                "anyone could write audit records: set bearer_token (or bearer_token_file), client_ca (mutual TLS), or allow_unauthenticated = true behind an authenticating proxy".into(),
            );
        }
        for (field, value) in [
            ("max_body_bytes", self.max_body_bytes),
            ("queue_requests", self.queue_requests),
            ("max_connections", self.max_connections),
            ("batch_ms", self.batch_ms as usize),
            ("batch_records", self.batch_records),
        ] {
            if value == 0 {
                problem(field, "expected at least 1".into());
            }
        }
        problems
    }

    /// The bearer token clients must send, if any.
    pub fn token(&self) -> Result<Option<String>, String> {
        match (&self.bearer_token, &self.bearer_token_file) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|t| Some(t.trim_end().to_owned()))
                .map_err(|e| format!("{}: {e}", file.display())),
            (None, None) => Ok(None),
        }
    }
}
