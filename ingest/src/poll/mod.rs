//! What the SaaS API pollers (`okta`, `github`) share: the polling loop,
//! rate limits, retries and the coverage record.
//!
//! Each page is one Kafka transaction: its records, a **coverage row** in
//! `<prefix>.coverage` and the moved cursor. Coverage rows carry a gap-free
//! `seq` per collector, the cursor the page was fetched from and the one
//! it led to, the time window of its records and their count: consecutive
//! rows must chain (`cursor_from` of row n+1 = `cursor_to` of row n), so a
//! missing page shows as a break in the chain, and per-window counts can be
//! compared with the archive's events in SQL.
//!
//! Rate limits are obeyed, not discovered by failing: a `429` (or GitHub's
//! `403` with `x-ratelimit-remaining: 0` or `retry-after`) waits until the
//! reset the server named; a response with no requests left waits for the
//! reset before the next request. Server errors and network failures back
//! off exponentially (1 s to 60 s); a refused token stops the collector
//! with the key to fix.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auditfed_schemas::SourceType;
use serde_json::{Value, json};

use crate::IngestError;
use crate::collect::Collecting;
use crate::raw::RawRecord;
use crate::split::{Framing, Piece, split};
use auditfed_platform::backoff::{Backoff, retry_after, sleep_unless};
use auditfed_platform::clock::now_ms;

/// An HTTP answer.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A header as a number.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.headers.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// The `rel="next"` target of the `Link` header (RFC 8288).
    pub fn next_link(&self) -> Option<String> {
        let links = self.headers.get("link")?;
        links.split(',').find_map(|link| {
            let (target, params) = link.split_once(';')?;
            params
                .split(';')
                .any(|p| {
                    let p = p.trim().replace(' ', "");
                    p == "rel=\"next\"" || p == "rel=next"
                })
                .then(|| {
                    target
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
        })
    }
}

/// One page, as an API's poller read it.
pub struct Page {
    /// Each record's bytes (byte-exact slices of the body) and its id and time.
    pub records: Vec<(Vec<u8>, Fields)>,
    /// Bytes of the body that were not records, with the reason.
    pub rejected: Vec<(Vec<u8>, String)>,
}

/// What a poller needs from each record.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// A unique id (Okta `uuid`, GitHub `_document_id`).
    pub id: Option<String>,
    /// Event time, epoch milliseconds.
    pub time_ms: Option<i64>,
}

/// An API the loop polls.
pub trait Api {
    /// Where the records come from (`okta://…`, `github://…`): the records' object.
    fn object(&self) -> String;
    /// The cursor before the first page.
    fn initial(&self) -> Value;
    /// The request for `cursor`.
    fn url(&self, cursor: &Value) -> String;
    /// Headers of every request (authentication, versions).
    fn headers(&self) -> Vec<(String, String)>;
    /// A record's id and time.
    fn fields(&self, record: &Value) -> Fields;
    /// The cursor after `page` (fetched from `cursor`, answered with `response`),
    /// the records of the page not read before, and whether more pages are ready now.
    fn advance(&self, cursor: &Value, response: &Response, page: Page) -> (Value, Page, bool);
    /// The configuration key that holds the credential, for error messages.
    fn credential_key(&self) -> &str;
}

/// What a poller did.
#[derive(Debug, Default)]
pub struct PollStats {
    /// Pages fetched and committed.
    pub pages: u64,
    /// Records sent to the raw topic.
    pub records: u64,
    /// Pieces sent to the dead-letter topic.
    pub rejected: u64,
    /// Waits imposed by rate limits.
    pub throttled: u64,
}

/// Splits a JSON body into its records (an array's elements, byte-exact).
pub fn records_of(body: &[u8], fields: impl Fn(&Value) -> Fields) -> Page {
    let mut page = Page {
        records: Vec::new(),
        rejected: Vec::new(),
    };
    let mut reader = body;
    let _ = split(&mut reader, Framing::Json, usize::MAX, &mut |piece| {
        match piece {
            Piece::Record { bytes, .. } => match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => {
                    let f = fields(&v);
                    page.records.push((bytes, f));
                }
                Err(e) => page.rejected.push((bytes, e.to_string())),
            },
            Piece::Bad { bytes, reason, .. } => page.rejected.push((bytes, reason)),
        }
        Ok(())
    });
    page
}

/// Polls `api` until `stop` (or idle for `idle`), one transaction per page.
pub fn poll(
    api: &dyn Api,
    source: SourceType,
    poll_every: Duration,
    out: &mut Collecting,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<PollStats, IngestError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| IngestError::Config(format!("cannot start an async runtime: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("auditfed/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| IngestError::Config(format!("cannot build the HTTP client: {e}")))?;
    let object = api.object();
    let mut stats = PollStats::default();
    // Failed requests: 1-2 s, doubling up to 30-60 s, jittered.
    let schedule = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
    let mut failures = 0u32;
    let mut last_records = Instant::now();
    let sleep = |d: Duration| {
        sleep_unless(d, stop);
    };
    while !stop.load(Ordering::Relaxed) {
        let cursor = out.cursor("api").cloned().unwrap_or_else(|| api.initial());
        let url = api.url(&cursor);
        let fetched = runtime.block_on(async {
            let mut request = client.get(&url);
            for (k, v) in api.headers() {
                request = request.header(k, v);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Response {
                status,
                headers,
                body,
            })
        });
        let response = match fetched {
            Ok(r) => r,
            Err(e) => {
                out.counters().error();
                let backoff = schedule.delay(failures, None);
                failures += 1;
                tracing::warn!(api = %object, error = %e, retry_in = ?backoff, "request failed; retrying");
                sleep(backoff);
                continue;
            }
        };
        if let Some(wait) = rate_limited(&response) {
            stats.throttled += 1;
            tracing::info!(api = %object, status = response.status, wait = ?wait, "rate limited; waiting");
            sleep(wait);
            continue;
        }
        match response.status {
            200..=299 => {}
            401 | 403 => {
                return Err(IngestError::Config(format!(
                    "{object}: HTTP {} {}: the API refused the credential: check {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                        .chars()
                        .take(300)
                        .collect::<String>(),
                    api.credential_key()
                )));
            }
            status => {
                out.counters().error();
                let backoff = schedule.delay(failures, None);
                failures += 1;
                let body: String = String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(300)
                    .collect();
                tracing::warn!(api = %object, status, body = %body, retry_in = ?backoff, "API refused the request; retrying");
                sleep(backoff);
                continue;
            }
        }
        failures = 0;
        let page = records_of(&response.body, |v| api.fields(v));
        let (next, page, more) = api.advance(&cursor, &response, page);
        let seq = cursor["seq"].as_u64().unwrap_or(0);
        let before = cursor["records"].as_u64().unwrap_or(0);
        let times: Vec<i64> = page.records.iter().filter_map(|(_, f)| f.time_ms).collect();
        for (i, (bytes, _)) in page.records.iter().enumerate() {
            out.send(&RawRecord {
                source,
                object: &object,
                offset: before + i as u64,
                bytes,
                received_ms: now_ms(),
            })?;
        }
        for (bytes, reason) in &page.rejected {
            out.dead_letter(
                &RawRecord {
                    source,
                    object: &object,
                    offset: before,
                    bytes,
                    received_ms: now_ms(),
                },
                reason,
            )?;
        }
        let n = page.records.len() as u64;
        out.coverage(&json!({
            "collector_seq": seq,
            "object": object,
            "cursor_from": url,
            "cursor_to": api.url(&next),
            "first_time_ms": times.iter().min(),
            "last_time_ms": times.iter().max(),
            "records": n,
            "rejected": page.rejected.len(),
            "fetched_ms": now_ms(),
        }))?;
        let mut next = next;
        next["seq"] = json!(seq + 1);
        next["records"] = json!(before + n);
        out.advance("api", next);
        out.commit()?;
        stats.pages += 1;
        stats.records += n;
        stats.rejected += page.rejected.len() as u64;
        if n > 0 {
            last_records = Instant::now();
        }
        // Lag: seconds between now and the newest event read, while pages
        // are still waiting; 0 once caught up.
        let behind = match (more, times.iter().max()) {
            (true, Some(newest)) => ((now_ms() - newest) / 1000).max(0) as u64,
            _ => 0,
        };
        out.counters().set_lag(behind);
        // No request left in this window: wait for its reset rather than be refused.
        if let Some(wait) = exhausted(&response) {
            stats.throttled += 1;
            sleep(wait);
        }
        if !more {
            if idle.is_some_and(|i| last_records.elapsed() >= i) {
                break;
            }
            sleep(if idle.is_some() {
                Duration::from_millis(500)
            } else {
                poll_every
            });
        }
    }
    Ok(stats)
}

fn reset_wait(response: &Response) -> Option<Duration> {
    let reset = response
        .number("x-rate-limit-reset")
        .or_else(|| response.number("x-ratelimit-reset"))?;
    let now = (now_ms() / 1000).max(0) as u64;
    // One second over: resets are whole seconds.
    Some(Duration::from_secs(reset.saturating_sub(now) + 1))
}

/// How long to wait when `response` is a refusal for exceeding a rate limit.
fn rate_limited(response: &Response) -> Option<Duration> {
    let remaining = response
        .number("x-rate-limit-remaining")
        .or_else(|| response.number("x-ratelimit-remaining"));
    let limited = response.status == 429
        || (response.status == 403
            && (remaining == Some(0) || response.headers.contains_key("retry-after")));
    if !limited {
        return None;
    }
    let wait = response
        .headers
        .get("retry-after")
        .and_then(|v| retry_after(v))
        .map(|d| d.max(Duration::from_secs(1)))
        .or_else(|| reset_wait(response))
        .unwrap_or(Duration::from_secs(60));
    Some(wait.min(Duration::from_secs(3600)))
}

/// How long to wait before the next request when this one used the last of the window.
fn exhausted(response: &Response) -> Option<Duration> {
    let remaining = response
        .number("x-rate-limit-remaining")
        .or_else(|| response.number("x-ratelimit-remaining"))?;
    (remaining == 0)
        .then(|| reset_wait(response))
        .flatten()
        .map(|w| w.min(Duration::from_secs(3600)))
}

/// Percent-encodes a query value.
pub fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// RFC 3339 time to epoch milliseconds.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Epoch milliseconds to RFC 3339 (UTC, milliseconds).
pub fn ms_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn next_links_and_rate_limits_are_read_from_headers() {
        let r = response(
            200,
            &[(
                "link",
                r#"<https://x.okta.com/api/v1/logs?limit=2>; rel="self", <https://x.okta.com/api/v1/logs?after=abc&limit=2>; rel="next""#,
            )],
        );
        assert_eq!(
            r.next_link().as_deref(),
            Some("https://x.okta.com/api/v1/logs?after=abc&limit=2")
        );
        assert_eq!(response(200, &[]).next_link(), None);
        assert_eq!(
            rate_limited(&response(429, &[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert!(rate_limited(&response(403, &[("x-ratelimit-remaining", "0")])).is_some());
        assert!(
            rate_limited(&response(403, &[("x-ratelimit-remaining", "12")])).is_none(),
            "a plain 403 is a credential problem"
        );
        assert!(rate_limited(&response(200, &[])).is_none());
        let soon = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3)
        .to_string();
        let wait = exhausted(&response(
            200,
            &[
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", &soon),
            ],
        ))
        .unwrap();
        assert!(
            wait >= Duration::from_secs(3) && wait <= Duration::from_secs(4),
            "{wait:?}"
        );
        assert_eq!(
            exhausted(&response(200, &[("x-rate-limit-remaining", "5")])),
            None
        );
    }

    #[test]
    fn a_page_is_split_into_its_records_byte_exact() {
        let body = br#"[{"uuid":"a","published":"2026-11-27T10:00:00.000Z"}, {"uuid":"b","published":"2026-11-27T10:00:01.500Z"}]"#;
        let page = records_of(body, |v| Fields {
            id: v["uuid"].as_str().map(str::to_owned),
            time_ms: v["published"].as_str().and_then(rfc3339_ms),
        });
        assert_eq!(page.records.len(), 2);
        assert_eq!(
            page.records[1].0,
            br#"{"uuid":"b","published":"2026-11-27T10:00:01.500Z"}"#
        );
        assert_eq!(
            page.records[1].1.time_ms,
            rfc3339_ms("2026-11-27T10:00:01.500Z")
        );
        assert_eq!(
            ms_rfc3339(page.records[1].1.time_ms.unwrap()),
            "2026-11-27T10:00:01.500Z"
        );
    }
}
