//! The Logs Ingestion API call: `POST {endpoint}/dataCollectionRules/
//! {dcr}/streams/{stream}?api-version=2023-01-01` with a JSON array of
//! rows, `Authorization: Bearer`, gzip, at most 1 MB; 204 when accepted.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use super::SentinelConfig;
use super::config::Table;
use super::rows::{AUTHENTICATION_CLASS, asim_row, ocsf_row};
use super::token::TokenSource;
use crate::driver::{Failure, OutgoingEvent, Service};

/// The API's limit on one call, compressed or not.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;

/// How long an accepted request is remembered (see [`SentinelService`]).
const REMEMBER: Duration = Duration::from_secs(600);

/// A DCR's streams behind the Logs Ingestion API.
///
/// A batch may need several calls (two streams, or rows over 1 MB). When
/// one of them fails and the driver retries the batch, the calls already
/// answered 204 are not sent again: the service remembers the digest of
/// every accepted call for ten minutes.
pub struct SentinelService {
    config: SentinelConfig,
    client: reqwest::Client,
    tokens: TokenSource,
    key: String,
    accepted: Mutex<VecDeque<([u8; 32], Instant)>>,
    /// Distinct tokens refused (401) in a row, without a call accepted in
    /// between: new tokens refused too mean a wrong audience or tenant.
    refusals: AtomicU32,
}

/// One call: its stream and its body (a JSON array of rows).
#[derive(Debug)]
pub struct Call {
    /// The DCR input stream.
    pub stream: String,
    /// `[row,row,...]`, uncompressed.
    pub body: Vec<u8>,
}

impl SentinelService {
    /// A client for `config`; `key` (`sinks.<name>`) names the config in errors.
    pub fn new(config: SentinelConfig, key: &str) -> Result<SentinelService, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .danger_accept_invalid_certs(config.tls_skip_verify)
            .build()
            .map_err(|e| format!("{key}: cannot build the HTTP client: {e}"))?;
        Ok(SentinelService {
            tokens: TokenSource::new(config.auth.clone(), client.clone(), key),
            config,
            client,
            key: key.to_owned(),
            accepted: Mutex::new(VecDeque::new()),
            refusals: AtomicU32::new(0),
        })
    }

    /// The calls that carry `events`: rows grouped by stream (in order),
    /// cut so no body is over [`MAX_REQUEST_BYTES`].
    pub fn calls(&self, events: &[OutgoingEvent]) -> Result<Vec<Call>, Failure> {
        let mut by_stream: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();
        for e in events {
            let value: serde_json::Value =
                serde_json::from_slice(&e.json).map_err(|err| Failure::Reject {
                    reason: format!("event {} is not JSON: {err}", e.uid),
                    body: String::new(),
                })?;
            let (stream, row) = match self.config.table {
                Table::Ocsf => (&self.config.ocsf_stream, ocsf_row(e, &value, &e.json)),
                Table::Asim if e.class_uid == AUTHENTICATION_CLASS => {
                    (&self.config.authentication_stream, asim_row(e, &value))
                }
                Table::Asim => (&self.config.audit_stream, asim_row(e, &value)),
            };
            let row = serde_json::to_vec(&row).expect("a JSON value serializes");
            if row.len() + 2 > MAX_REQUEST_BYTES {
                return Err(Failure::TooLarge {
                    reason: format!(
                        "the row of event {} is {} bytes: over the Logs Ingestion API's 1 MB per call",
                        e.uid,
                        row.len()
                    ),
                });
            }
            match by_stream.iter_mut().find(|(s, _)| *s == stream.as_str()) {
                Some((_, rows)) => rows.push(row),
                None => by_stream.push((stream, vec![row])),
            }
        }
        let mut calls = Vec::new();
        for (stream, rows) in by_stream {
            let mut body = Vec::with_capacity(
                MAX_REQUEST_BYTES.min(rows.iter().map(Vec::len).sum::<usize>() + rows.len() + 1),
            );
            for row in rows {
                if body.len() > 1 && body.len() + row.len() + 2 > MAX_REQUEST_BYTES {
                    body.push(b']');
                    calls.push(Call {
                        stream: stream.to_owned(),
                        body: std::mem::take(&mut body),
                    });
                }
                body.push(if body.is_empty() { b'[' } else { b',' });
                body.extend_from_slice(&row);
            }
            body.push(b']');
            calls.push(Call {
                stream: stream.to_owned(),
                body,
            });
        }
        Ok(calls)
    }

    fn url(&self, stream: &str) -> String {
        format!(
            "{}/dataCollectionRules/{}/streams/{}?api-version={}",
            self.config.endpoint.trim_end_matches('/'),
            self.config.dcr_immutable_id,
            stream,
            self.config.api_version
        )
    }

    /// Whether an identical call was accepted in the last ten minutes;
    /// forgets older ones.
    fn already_accepted(&self, digest: &[u8; 32]) -> bool {
        let mut accepted = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        while accepted
            .front()
            .is_some_and(|(_, at)| at.elapsed() > REMEMBER)
        {
            accepted.pop_front();
        }
        accepted.iter().any(|(d, _)| d == digest)
    }

    fn remember(&self, digest: [u8; 32]) {
        let mut accepted = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        accepted.push_back((digest, Instant::now()));
        if accepted.len() > 4096 {
            accepted.pop_front();
        }
    }

    /// Sends one call; its client request id on 204.
    async fn send(&self, call: &Call, single_row: bool) -> Result<String, Failure> {
        let token = self.tokens.token().await?;
        let request_id = super::request_id();
        let url = self.url(&call.stream);
        let mut request = self
            .client
            .post(&url)
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .header("x-ms-client-request-id", &request_id);
        let body = if self.config.gzip {
            request = request.header("Content-Encoding", "gzip");
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(call.body.len() / 4),
                flate2::Compression::fast(),
            );
            encoder.write_all(&call.body).expect("gzip to a Vec");
            encoder.finish().expect("gzip to a Vec")
        } else {
            call.body.clone()
        };
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Retry {
                reason: format!("{url}: {e}"),
                after: None,
            })?;
        let status = response.status();
        let after = crate::driver::retry_after(response.headers());
        let code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            self.refusals.store(0, Ordering::Relaxed);
            return Ok(request_id);
        }
        if status == StatusCode::UNAUTHORIZED {
            // Counted once per token: several calls in flight share one.
            let first = self.tokens.refused(&token).await;
            let refusals = if first {
                self.refusals.fetch_add(1, Ordering::Relaxed) + 1
            } else {
                self.refusals.load(Ordering::Relaxed)
            };
            if refusals < 3 {
                return Err(Failure::Retry {
                    reason: format!("{url}: HTTP 401 ({text}): fetching a new token"),
                    after: None,
                });
            }
        }
        Err(self.classify(
            status,
            code.as_deref(),
            after,
            &text,
            &call.stream,
            single_row,
        ))
    }

    /// What a non-204 answer means, per the API's documented codes.
    fn classify(
        &self,
        status: StatusCode,
        code: Option<&str>,
        after: Option<Duration>,
        body: &str,
        stream: &str,
        single_row: bool,
    ) -> Failure {
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let code = code
            .or(parsed["error"]["code"].as_str())
            .unwrap_or("-")
            .to_owned();
        let message = parsed["error"]["message"].as_str().unwrap_or(body);
        let what = format!("HTTP {status}, {code}: {message}");
        let key = &self.key;
        match status {
            StatusCode::UNAUTHORIZED => Failure::Fatal(format!(
                "{what}: new tokens are refused too; check {key}.auth (tenant_id, client_id, scope)"
            )),
            StatusCode::FORBIDDEN => Failure::Fatal(format!(
                "{what}: the application {} needs the \"Monitoring Metrics Publisher\" role on the DCR {} ({key}.auth.client_id)",
                self.config.auth.client_id, self.config.dcr_immutable_id
            )),
            StatusCode::NOT_FOUND => Failure::Fatal(format!(
                "{what}: check {key}.endpoint and {key}.dcr_immutable_id"
            )),
            StatusCode::PAYLOAD_TOO_LARGE if single_row => Failure::Reject {
                reason: format!("{what}: one row is over the API's limit"),
                body: body.to_owned(),
            },
            StatusCode::PAYLOAD_TOO_LARGE => Failure::TooLarge { reason: what },
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => Failure::Retry {
                reason: what,
                after,
            },
            s if s.is_server_error() => Failure::Retry {
                reason: what,
                after,
            },
            _ if code.contains("Stream") || code.contains("DataCollectionRule") => {
                Failure::Fatal(format!(
                    "{what}: the DCR has no stream {stream:?}; check {key}.{} and the DCR's streamDeclarations",
                    match self.config.table {
                        Table::Ocsf => "ocsf_stream",
                        Table::Asim => "audit_stream / authentication_stream",
                    }
                ))
            }
            _ => Failure::Reject {
                reason: what,
                body: body.to_owned(),
            },
        }
    }
}

#[async_trait]
impl Service for SentinelService {
    /// A token can be fetched: the credentials work.
    async fn health(&self) -> Result<(), Failure> {
        self.tokens.token().await.map(drop)
    }

    async fn deliver(&self, events: &[OutgoingEvent]) -> Result<String, Failure> {
        let calls = self.calls(events)?;
        let mut ids = Vec::with_capacity(calls.len());
        for call in &calls {
            let digest: [u8; 32] = Sha256::new()
                .chain_update(call.stream.as_bytes())
                .chain_update([0])
                .chain_update(&call.body)
                .finalize()
                .into();
            if self.already_accepted(&digest) {
                ids.push(format!("{}/accepted-before", call.stream));
                continue;
            }
            let id = self.send(call, events.len() == 1).await?;
            self.remember(digest);
            ids.push(format!("{}/{id}", call.stream));
        }
        Ok(ids.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn service(table: &str) -> SentinelService {
        let config: SentinelConfig = toml::from_str(&format!(
            "endpoint = \"http://127.0.0.1:1\"\ndcr_immutable_id = \"dcr-0123456789abcdef0123456789abcdef\"\n\
             table = \"{table}\"\n[auth]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n"
        ))
        .unwrap();
        config.check("sinks.s").unwrap();
        SentinelService::new(config, "sinks.s").unwrap()
    }

    fn event(i: usize, class_uid: i64, pad: usize) -> OutgoingEvent {
        let json = serde_json::json!({
            "class_uid": class_uid, "time": 1_790_812_800_000i64 + i as i64,
            "activity_id": 1, "severity_id": 1, "type_uid": class_uid * 100 + 1,
            "category_uid": class_uid / 1000,
            "metadata": {"uid": format!("u{i}"), "product": {"name": "p", "vendor_name": "v"}},
            "message": "x".repeat(pad),
        });
        OutgoingEvent::sealed(
            serde_json::to_vec(&json).unwrap(),
            "c/0".into(),
            i as u64,
            "s".into(),
            0,
            i as i64,
        )
        .unwrap()
    }

    #[test]
    fn calls_are_cut_under_one_megabyte_and_split_by_stream_in_order() {
        let s = service("asim");
        let events: Vec<_> = (0..3000)
            .map(|i| event(i, if i % 3 == 0 { 3002 } else { 6003 }, 900))
            .collect();
        let calls = s.calls(&events).unwrap();
        assert!(calls.len() >= 4, "{} calls", calls.len());
        let mut uids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for call in &calls {
            assert!(call.body.len() <= MAX_REQUEST_BYTES, "{}", call.body.len());
            let rows: Vec<serde_json::Value> = serde_json::from_slice(&call.body).unwrap();
            for row in rows {
                uids.entry(call.stream.as_str()).or_default().push(
                    row["AdditionalFields"]["auditfed_event_uid"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
        let expect = |auth: bool| -> Vec<String> {
            (0..3000)
                .filter(|i| (i % 3 == 0) == auth)
                .map(|i| format!("u{i}"))
                .collect()
        };
        assert_eq!(uids["Custom-ASimAuthenticationEventLogs"], expect(true));
        assert_eq!(uids["Custom-ASimAuditEventLogs"], expect(false));
    }

    #[test]
    fn a_row_over_the_limit_is_too_large_and_answers_are_classified() {
        let s = service("ocsf");
        let failure = s.calls(&[event(0, 6003, 1_100_000)]).unwrap_err();
        assert!(matches!(failure, Failure::TooLarge { reason } if reason.contains("1 MB")));
        let class = |status: u16, code: &str, single: bool| {
            s.classify(
                StatusCode::from_u16(status).unwrap(),
                Some(code),
                Some(Duration::from_secs(2)),
                "{}",
                "Custom-AuditfedOcsf_CL",
                single,
            )
        };
        assert!(
            matches!(class(429, "TooManyRequests", false), Failure::Retry { after: Some(a), .. } if a == Duration::from_secs(2))
        );
        assert!(matches!(
            class(503, "ServiceUnavailable", false),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            class(413, "ContentLengthLimitExceeded", false),
            Failure::TooLarge { .. }
        ));
        assert!(matches!(
            class(413, "ContentLengthLimitExceeded", true),
            Failure::Reject { .. }
        ));
        assert!(
            matches!(class(403, "Forbidden", false), Failure::Fatal(m) if m.contains("Monitoring Metrics Publisher"))
        );
        assert!(
            matches!(class(404, "NotFound", false), Failure::Fatal(m) if m.contains("sinks.s.dcr_immutable_id"))
        );
        assert!(
            matches!(class(400, "InvalidStream", false), Failure::Fatal(m) if m.contains("sinks.s.ocsf_stream"))
        );
        assert!(matches!(
            class(400, "InvalidContent", false),
            Failure::Reject { .. }
        ));
    }
}
