//! `[collectors.<name>]` with `type = "eventhubs"`.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use serde::Deserialize;

use auditfed_schemas::config::Problem;

/// An Azure Event Hub read through its Kafka endpoint: where Azure Monitor
/// diagnostic settings stream Activity, Entra ID sign-in and audit logs as
/// `{"records": [...]}` messages.
///
/// ```toml
/// [collectors.entra_signins]
/// type = "eventhubs"
/// connection_string = "${EVENTHUB_CONNECTION_STRING}"   # Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…
/// event_hub = "insights-logs-signinlogs"
/// source = "entra_signin"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventHubsConfig {
    /// The namespace's (or the event hub's) shared access connection string.
    pub connection_string: String,
    /// The event hub: the Kafka topic.
    pub event_hub: String,
    /// The source type of the records (`auditfed schema` lists them).
    pub source: String,
    /// `host:port` of the Kafka endpoint; default `<namespace>:9093` from
    /// the connection string's `Endpoint`.
    pub bootstrap: Option<String>,
    /// Only these partitions (several collectors can share a hub); default all.
    #[serde(default)]
    pub partitions: Vec<i32>,
    /// Where a partition without a cursor starts: `earliest` or `latest`.
    #[serde(default = "default_start")]
    pub start_at: String,
    /// Records per Kafka transaction, about.
    #[serde(default = "default_batch")]
    pub batch_records: usize,
    /// A batch is committed at the latest this long after its first message (ms).
    #[serde(default = "default_batch_ms")]
    pub batch_ms: u64,
    /// librdkafka properties for the Event Hubs client, over the defaults
    /// (`security.protocol = "SASL_SSL"`, `sasl.mechanism = "PLAIN"`,
    /// `sasl.username = "$ConnectionString"`).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_start() -> String {
    "earliest".into()
}
fn default_batch() -> usize {
    5_000
}
fn default_batch_ms() -> u64 {
    500
}

impl EventHubsConfig {
    /// `NS.servicebus.windows.net` from `Endpoint=sb://NS.servicebus.windows.net/`.
    pub fn namespace(&self) -> Option<String> {
        self.connection_string
            .split(';')
            .find_map(|part| {
                let (k, v) = part.split_once('=')?;
                k.trim().eq_ignore_ascii_case("Endpoint").then(|| v.trim())
            })
            .and_then(|endpoint| endpoint.strip_prefix("sb://"))
            .map(|host| host.trim_end_matches('/').to_owned())
    }

    /// The consumer's client properties.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let bootstrap = match (&self.bootstrap, self.namespace()) {
            (Some(b), _) => b.clone(),
            (None, Some(ns)) => format!("{ns}:9093"),
            (None, None) => {
                return Err(
                    "no Endpoint=sb://NAMESPACE/ in connection_string, and no bootstrap".into(),
                );
            }
        };
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", bootstrap)
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanism", "PLAIN")
            .set("sasl.username", "$ConnectionString")
            .set("sasl.password", &self.connection_string)
            // Event Hubs' documented client settings for the Kafka endpoint.
            .set("request.timeout.ms", "60000")
            .set("session.timeout.ms", "30000")
            .set("metadata.max.age.ms", "180000")
            .set("group.id", "auditfed")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set(
                "auto.offset.reset",
                if self.start_at == "latest" {
                    "latest"
                } else {
                    "earliest"
                },
            );
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        Ok(c)
    }

    /// Value checks; `key` is `collectors.<name>`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.source.parse::<auditfed_schemas::SourceType>().is_err() {
            problems.push(Problem::new(
                format!("{key}.source"),
                format!(
                    "{:?}: unknown source type (see `auditfed schema`)",
                    self.source
                ),
            ));
        }
        if !self.connection_string.contains("SharedAccessKey") && self.bootstrap.is_none() {
            problems.push(Problem::new(
                format!("{key}.connection_string"),
                "expected Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=NAME;SharedAccessKey=KEY",
            ));
        }
        if self.event_hub.is_empty() {
            problems.push(Problem::new(format!("{key}.event_hub"), "empty"));
        }
        if !matches!(self.start_at.as_str(), "earliest" | "latest") {
            problems.push(Problem::new(
                format!("{key}.start_at"),
                format!("{:?}: expected \"earliest\" or \"latest\"", self.start_at),
            ));
        }
        if self.batch_records == 0 || self.batch_ms == 0 {
            problems.push(Problem::new(
                key,
                "batch_records and batch_ms must be at least 1",
            ));
        }
        match self.client_config() {
            Err(e) => problems.push(Problem::new(format!("{key}.connection_string"), e)),
            Ok(c) => {
                // librdkafka checks names and values when the client is made.
                if let Err(e) = c.create::<rdkafka::consumer::BaseConsumer>() {
                    problems.push(Problem::new(format!("{key}.properties"), e.to_string()));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_string_gives_the_endpoint_and_the_sasl_login() {
        let config: EventHubsConfig = toml::from_str(
            r#"
connection_string = "Endpoint=sb://contoso-audit.servicebus.windows.net/;SharedAccessKeyName=auditfed;SharedAccessKey=abc="
event_hub = "insights-logs-signinlogs"
source = "entra_signin"
"#,
        )
        .unwrap();
        assert_eq!(
            config.namespace().as_deref(),
            Some("contoso-audit.servicebus.windows.net")
        );
        let c = config.client_config().unwrap();
        assert_eq!(
            c.get("bootstrap.servers"),
            Some("contoso-audit.servicebus.windows.net:9093")
        );
        assert_eq!(c.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(c.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(c.get("sasl.username"), Some("$ConnectionString"));
        assert_eq!(
            c.get("sasl.password"),
            Some(config.connection_string.as_str())
        );
        assert!(
            config.check("collectors.x").is_empty(),
            "{:?}",
            config.check("collectors.x")
        );
        let bad = EventHubsConfig {
            connection_string: "nonsense".into(),
            start_at: "middle".into(),
            ..config
        };
        let problems: Vec<String> = bad
            .check("collectors.x")
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("collectors.x.connection_string")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("collectors.x.start_at")),
            "{problems:?}"
        );
    }
}
