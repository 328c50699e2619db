//! The HEC protocol: event envelopes, the request, indexer acknowledgement,
//! and what each documented status code means for the driver.

use std::io::Write as _;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;

use super::SplunkConfig;
use crate::driver::{Failure, OutgoingEvent, Service};

/// A Splunk HEC endpoint, one data channel per process.
pub struct SplunkService {
    config: SplunkConfig,
    client: reqwest::Client,
    channel: String,
    key: String,
}

impl SplunkService {
    /// A client for `config`; `key` (`sinks.<name>`) names the config in errors.
    pub fn new(config: SplunkConfig, key: &str) -> Result<SplunkService, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .danger_accept_invalid_certs(config.tls_skip_verify)
            .build()
            .map_err(|e| format!("{key}: cannot build the HTTP client: {e}"))?;
        Ok(SplunkService {
            config,
            client,
            channel: crate::driver::guid(),
            key: key.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.endpoint.trim_end_matches('/'))
    }

    /// The concatenated envelopes of `events` (the event itself verbatim).
    pub fn body(&self, events: &[OutgoingEvent]) -> Vec<u8> {
        let mut out = Vec::with_capacity(events.iter().map(|e| e.json.len() + 300).sum());
        for e in events {
            let mut envelope = serde_json::Map::new();
            envelope.insert(
                "host".into(),
                self.config
                    .host
                    .clone()
                    .unwrap_or_else(|| host_of(e))
                    .into(),
            );
            envelope.insert("source".into(), format!("auditfed:{}", e.source).into());
            envelope.insert("sourcetype".into(), self.config.sourcetype.clone().into());
            if let Some(index) = &self.config.index {
                envelope.insert("index".into(), index.clone().into());
            }
            envelope.insert(
                "fields".into(),
                serde_json::json!({
                    "auditfed_chain": e.chain,
                    "auditfed_seq": e.seq.to_string(),
                    "auditfed_event_uid": e.uid,
                    "ocsf_class_uid": e.class_uid.to_string(),
                }),
            );
            let head = serde_json::Value::Object(envelope).to_string();
            // `time` as epoch seconds with milliseconds, written exactly
            // (no float rounding); `event` is the sealed bytes.
            out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
            write!(
                out,
                ",\"time\":{}.{:03},\"event\":",
                e.time_ms.div_euclid(1000),
                e.time_ms.rem_euclid(1000)
            )
            .expect("write to a Vec");
            out.extend_from_slice(&e.json);
            out.extend_from_slice(b"}\n");
        }
        out
    }

    async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        gzip: bool,
    ) -> Result<(StatusCode, Option<Duration>, String), Failure> {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Authorization", format!("Splunk {}", self.config.token))
            .header("X-Splunk-Request-Channel", &self.channel)
            .header("Content-Type", "application/json");
        let body = if gzip {
            request = request.header("Content-Encoding", "gzip");
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            encoder.write_all(&body).expect("gzip to a Vec");
            encoder.finish().expect("gzip to a Vec")
        } else {
            body
        };
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Retry {
                reason: format!("{}: {e}", self.url(path)),
                after: None,
            })?;
        let status = response.status();
        let retry_after = crate::driver::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        Ok((status, retry_after, text))
    }

    /// What a non-success HEC answer means (Splunk's documented codes).
    fn classify(&self, status: StatusCode, retry_after: Option<Duration>, body: &str) -> Failure {
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let code = parsed["code"].as_i64();
        let text = parsed["text"].as_str().unwrap_or(body).to_owned();
        let what = format!(
            "HTTP {status}, HEC code {}: {text}",
            code.map_or("-".into(), |c| c.to_string())
        );
        let key = &self.key;
        match code {
            Some(1..=4) => Failure::Fatal(format!(
                "{what}: the HEC token was refused; check {key}.token and that the token is enabled"
            )),
            Some(7) => Failure::Fatal(format!(
                "{what}: check {key}.index (the index must exist and the token must be allowed to write to it)"
            )),
            Some(14) => Failure::Fatal(format!(
                "{what}: indexer acknowledgement is disabled for this token; enable it in Splunk or set {key}.acknowledgements = false"
            )),
            Some(10 | 11) => Failure::Fatal(format!("{what}: the data channel was refused")),
            Some(5 | 6 | 12 | 13 | 15) => Failure::Reject {
                reason: what,
                body: body.to_owned(),
            },
            Some(8 | 9 | 18) => Failure::Retry {
                reason: what,
                after: retry_after,
            },
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => Failure::TooLarge { reason: what },
            _ if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
                Failure::Retry {
                    reason: what,
                    after: retry_after,
                }
            }
            _ if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                Failure::Fatal(format!("{what}: check {key}.token"))
            }
            _ if status == StatusCode::NOT_FOUND => Failure::Fatal(format!(
                "{what}: no HEC at {}; check {key}.endpoint",
                self.config.endpoint
            )),
            _ => Failure::Reject {
                reason: what,
                body: body.to_owned(),
            },
        }
    }

    /// Polls `/services/collector/ack` until `ack_id` is indexed, or fails
    /// with [`Failure::Retry`] after `ack_timeout_secs` (the batch is resent).
    async fn await_ack(&self, ack_id: u64) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(self.config.ack_timeout_secs);
        let poll = Duration::from_millis(self.config.ack_poll_ms);
        loop {
            tokio::time::sleep(poll).await;
            let body = format!("{{\"acks\":[{ack_id}]}}").into_bytes();
            match self.post("/services/collector/ack", body, false).await {
                Ok((status, _, text)) if status.is_success() => {
                    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    if answer["acks"][ack_id.to_string()].as_bool() == Some(true) {
                        return Ok(());
                    }
                }
                Ok((status, retry_after, text)) => {
                    if let failure @ Failure::Fatal(_) = self.classify(status, retry_after, &text) {
                        return Err(failure);
                    }
                }
                // The indexer may be restarting: keep polling until the deadline.
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(Failure::Retry {
                    reason: format!(
                        "no indexer acknowledgement for ackId {ack_id} on channel {} within {} s: resending",
                        self.channel, self.config.ack_timeout_secs
                    ),
                    after: None,
                });
            }
        }
    }
}

#[async_trait]
impl Service for SplunkService {
    async fn health(&self) -> Result<(), Failure> {
        let path = if self.config.acknowledgements {
            "/services/collector/health?ack=true"
        } else {
            "/services/collector/health"
        };
        let response =
            self.client
                .get(self.url(path))
                .send()
                .await
                .map_err(|e| Failure::Retry {
                    reason: format!("{}: {e}", self.url(path)),
                    after: None,
                })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(self.classify(status, None, &text))
        }
    }

    async fn deliver(&self, events: &[OutgoingEvent]) -> Result<String, Failure> {
        let body = self.body(events);
        let (status, retry_after, text) = self
            .post("/services/collector/event", body, self.config.gzip)
            .await?;
        if !status.is_success() {
            return Err(self.classify(status, retry_after, &text));
        }
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if answer["code"].as_i64().is_some_and(|c| c != 0) {
            return Err(self.classify(status, retry_after, &text));
        }
        if !self.config.acknowledgements {
            return Ok(format!("{}/-", self.channel));
        }
        let Some(ack_id) = answer["ackId"].as_u64() else {
            return Err(Failure::Fatal(format!(
                "HEC accepted the batch without an ackId ({text}): indexer acknowledgement is off for this token; enable it or set {}.acknowledgements = false",
                self.key
            )));
        };
        self.await_ack(ack_id).await?;
        Ok(format!("{}/{ack_id}", self.channel))
    }
}

/// `host` of an event: its device, else its cloud account, else `auditfed`.
fn host_of(e: &OutgoingEvent) -> String {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Head {
        device: Option<Named>,
        cloud: Option<Cloud>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Named {
        hostname: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Cloud {
        account: Option<Account>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Account {
        uid: Option<String>,
    }
    let head: Head = serde_json::from_slice(&e.json).unwrap_or_default();
    head.device
        .and_then(|d| d.hostname)
        .or_else(|| head.cloud.and_then(|c| c.account).and_then(|a| a.uid))
        .unwrap_or_else(|| "auditfed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> SplunkService {
        let config: SplunkConfig =
            toml::from_str("endpoint = \"http://127.0.0.1:1\"\ntoken = \"t\"\nindex = \"audit\"\n")
                .unwrap();
        SplunkService::new(config, "sinks.splunk").unwrap()
    }

    #[test]
    fn envelopes_carry_the_sealed_event_verbatim_and_exact_time() {
        let event = OutgoingEvent {
            partition: 0,
            offset: 7,
            chain: "c/0".into(),
            seq: 42,
            uid: "u-1".into(),
            source: "okta".into(),
            time_ms: 1_790_812_800_123,
            class_uid: 3002,
            json: br#"{"class_uid":3002,"device":{"hostname":"h1"},"metadata":{"uid":"u-1"},"time":1790812800123}"#.to_vec(),
        };
        let body = service().body(&[event.clone(), event]);
        let text = String::from_utf8(body).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(text.contains(",\"time\":1790812800.123,"), "{text}");
        assert!(text.contains(r#""event":{"class_uid":3002,"device":{"hostname":"h1"},"metadata":{"uid":"u-1"},"time":1790812800123}}"#));
        assert_eq!(lines[0]["host"], "h1");
        assert_eq!(lines[0]["index"], "audit");
        assert_eq!(lines[0]["source"], "auditfed:okta");
        assert_eq!(lines[0]["fields"]["auditfed_seq"], "42");
    }

    #[test]
    fn documented_codes_are_classified() {
        let s = service();
        let class = |status: u16, code: i64| {
            s.classify(
                StatusCode::from_u16(status).unwrap(),
                Some(Duration::from_secs(3)),
                &format!("{{\"text\":\"x\",\"code\":{code}}}"),
            )
        };
        assert!(
            matches!(class(503, 9), Failure::Retry { after: Some(a), .. } if a == Duration::from_secs(3))
        );
        assert!(matches!(class(403, 4), Failure::Fatal(m) if m.contains("sinks.splunk.token")));
        assert!(matches!(class(400, 7), Failure::Fatal(m) if m.contains("sinks.splunk.index")));
        assert!(matches!(class(400, 6), Failure::Reject { .. }));
        assert!(matches!(class(400, 14), Failure::Fatal(_)));
        assert!(matches!(class(500, 8), Failure::Retry { .. }));
        assert!(matches!(
            s.classify(StatusCode::PAYLOAD_TOO_LARGE, None, "too big"),
            Failure::TooLarge { .. }
        ));
        let guid = crate::driver::guid();
        assert_eq!(guid.len(), 36);
        assert_eq!(&guid[14..15], "4");
    }
}
