//! `[collectors.<name>]` with `type = "syslog"`.

use auditfed_schemas::config::Problem;
use serde::Deserialize;

/// A syslog receiver: RFC 5424 and RFC 3164 messages over UDP (one per
/// datagram), TCP (RFC 6587 octet counting or newline framing, detected
/// per message) and TLS (RFC 5425, the same framings).
///
/// ```toml
/// [collectors.syslog]
/// type = "syslog"
/// udp = "0.0.0.0:5514"
/// tcp = "0.0.0.0:5514"
/// tls = "0.0.0.0:6514"
/// tls_cert = "/etc/auditfed/syslog.crt"
/// tls_key = "/etc/auditfed/syslog.key"
/// # client_ca = "/etc/auditfed/senders-ca.crt"   # senders must present a certificate
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port` to receive datagrams on.
    pub udp: Option<String>,
    /// `host:port` to accept TCP connections on.
    pub tcp: Option<String>,
    /// `host:port` to accept TLS connections on (RFC 5425; port 6514 by convention).
    pub tls: Option<String>,
    /// Server certificate chain (PEM), for `tls`.
    pub tls_cert: Option<std::path::PathBuf>,
    /// Server private key (PEM), for `tls`.
    pub tls_key: Option<std::path::PathBuf>,
    /// Senders must present a certificate signed by this CA (PEM).
    pub client_ca: Option<std::path::PathBuf>,
    /// Longer messages go to the dead-letter topic (TCP: the connection is
    /// closed when a frame announces more).
    #[serde(default = "default_max")]
    pub max_message_bytes: usize,
    /// Messages per Kafka transaction, at most.
    #[serde(default = "default_batch")]
    pub batch_records: usize,
    /// A batch is committed at the latest this long after its first message (ms).
    #[serde(default = "default_batch_ms")]
    pub batch_ms: u64,
    /// Open TCP connections, at most (more wait in the listen backlog).
    #[serde(default = "default_connections")]
    pub max_connections: usize,
}

fn default_max() -> usize {
    64 * 1024
}
fn default_batch() -> usize {
    5_000
}
fn default_batch_ms() -> u64 {
    200
}
fn default_connections() -> usize {
    256
}

impl SyslogConfig {
    /// Value checks; `key` is `collectors.<name>`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.udp.is_none() && self.tcp.is_none() && self.tls.is_none() {
            problems.push(Problem::new(
                key,
                "expected udp, tcp or tls (host:port), or several",
            ));
        }
        match (&self.tls, &self.tls_cert, &self.tls_key) {
            (Some(_), Some(cert), Some(k)) => {
                if let Err(e) = crate::tls::server_config(cert, k, self.client_ca.as_deref()) {
                    problems.push(Problem::new(format!("{key}.tls_cert"), e));
                }
            }
            (Some(_), _, _) => problems.push(Problem::new(
                format!("{key}.tls_cert"),
                "tls needs tls_cert and tls_key (PEM files)",
            )),
            (None, None, None) if self.client_ca.is_none() => {}
            (None, ..) => problems.push(Problem::new(
                format!("{key}.tls"),
                "tls_cert, tls_key and client_ca apply to a tls listener: set tls = \"host:port\"",
            )),
        }
        for (name, listen) in [("udp", &self.udp), ("tcp", &self.tcp), ("tls", &self.tls)] {
            if let Some(listen) = listen
                && listen.parse::<std::net::SocketAddr>().is_err()
            {
                problems.push(Problem::new(
                    format!("{key}.{name}"),
                    format!("{listen:?}: expected host:port such as 0.0.0.0:5514"),
                ));
            }
        }
        if self.max_message_bytes == 0
            || self.batch_records == 0
            || self.batch_ms == 0
            || self.max_connections == 0
        {
            problems.push(Problem::new(
                key,
                "max_message_bytes, batch_records, batch_ms and max_connections must be greater than 0",
            ));
        }
        problems
    }
}
