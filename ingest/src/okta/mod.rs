//! `type = "okta"`: the Okta System Log API (`GET /api/v1/logs`), polled
//! in ascending order. Okta's *polling requests* (a `since` and no
//! `until`) always answer with a `rel="next"` link, even on an empty page:
//! that link is the cursor, so a restart asks for exactly the events after
//! the last committed page. `X-Rate-Limit-Remaining` / `-Reset` pace the
//! requests; a 429 waits for the reset.
//!
//! ```toml
//! [collectors.okta]
//! type = "okta"
//! url = "https://example.okta.com"
//! api_token = "${OKTA_API_TOKEN}"      # SSWS token (read-only admin), or:
//! # access_token = "${OKTA_OAUTH_TOKEN}"   # OAuth 2.0 token with okta.logs.read
//! since = "2026-11-01T00:00:00Z"
//! ```

use serde::Deserialize;
use serde_json::{Value, json};

use auditfed_schemas::config::Problem;

use crate::poll::{Api, Fields, Page, Response, rfc3339_ms};

/// `[collectors.<name>]` with `type = "okta"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// The org's URL, `https://<org>.okta.com` (or a custom domain).
    pub url: String,
    /// An API token (`Authorization: SSWS …`).
    pub api_token: Option<String>,
    /// An OAuth 2.0 access token with the `okta.logs.read` scope (`Authorization: Bearer …`).
    pub access_token: Option<String>,
    /// The source type of the records.
    #[serde(default = "default_source")]
    pub source: String,
    /// RFC 3339: the first event time read when there is no cursor yet
    /// (Okta keeps 90 days). Default: the time of the first run.
    pub since: Option<String>,
    /// Seconds between polls once caught up.
    #[serde(default = "default_poll")]
    pub poll_secs: u64,
    /// Events per page (Okta's maximum is 1000).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_source() -> String {
    "okta".into()
}
fn default_poll() -> u64 {
    60
}
fn default_limit() -> u32 {
    1000
}

impl OktaConfig {
    /// Value checks; `key` is `collectors.<name>`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            problems.push(Problem::new(
                format!("{key}.url"),
                format!("{:?}: expected https://ORG.okta.com", self.url),
            ));
        }
        match (&self.api_token, &self.access_token) {
            (None, None) => problems.push(Problem::new(
                format!("{key}.api_token"),
                "missing: set api_token (SSWS) or access_token (OAuth)",
            )),
            (Some(_), Some(_)) => problems.push(Problem::new(
                format!("{key}.access_token"),
                "give api_token or access_token, not both",
            )),
            _ => {}
        }
        if let Some(since) = &self.since
            && rfc3339_ms(since).is_none()
        {
            problems.push(Problem::new(
                format!("{key}.since"),
                format!("{since:?}: expected RFC 3339, e.g. 2026-11-01T00:00:00Z"),
            ));
        }
        if self.source.parse::<auditfed_schemas::SourceType>().is_err() {
            problems.push(Problem::new(
                format!("{key}.source"),
                format!("{:?}: unknown source type", self.source),
            ));
        }
        if !(1..=1000).contains(&self.limit) {
            problems.push(Problem::new(format!("{key}.limit"), "expected 1 to 1000"));
        }
        if self.poll_secs == 0 {
            problems.push(Problem::new(
                format!("{key}.poll_secs"),
                "expected at least 1",
            ));
        }
        problems
    }
}

/// The System Log API of one org.
pub struct Okta {
    /// Its configuration.
    pub config: OktaConfig,
}

impl Api for Okta {
    fn object(&self) -> String {
        let host = self
            .config
            .url
            .split("://")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches('/');
        format!("okta://{host}/api/v1/logs")
    }

    fn initial(&self) -> Value {
        let since = self
            .config
            .since
            .clone()
            .unwrap_or_else(|| crate::poll::ms_rfc3339(crate::raw::now_ms()));
        let next = format!(
            "{}/api/v1/logs?since={}&sortOrder=ASCENDING&limit={}",
            self.config.url.trim_end_matches('/'),
            encode(&since),
            self.config.limit
        );
        json!({ "next": next })
    }

    fn url(&self, cursor: &Value) -> String {
        cursor["next"]
            .as_str()
            .map_or_else(|| self.url(&self.initial()), str::to_owned)
    }

    fn headers(&self) -> Vec<(String, String)> {
        let auth = match (&self.config.api_token, &self.config.access_token) {
            (Some(t), _) => format!("SSWS {t}"),
            (None, Some(t)) => format!("Bearer {t}"),
            (None, None) => String::new(),
        };
        vec![
            ("authorization".into(), auth),
            ("accept".into(), "application/json".into()),
        ]
    }

    fn fields(&self, record: &Value) -> Fields {
        Fields {
            id: record["uuid"].as_str().map(str::to_owned),
            time_ms: record["published"].as_str().and_then(rfc3339_ms),
        }
    }

    fn advance(&self, cursor: &Value, response: &Response, page: Page) -> (Value, Page, bool) {
        let full = page.records.len() >= self.config.limit as usize;
        let next = match response.next_link() {
            Some(next) => json!({ "next": next }),
            // Not a polling request after all: ask again from where we are.
            None => cursor.clone(),
        };
        (next, page, full)
    }

    fn credential_key(&self) -> &str {
        if self.config.api_token.is_some() {
            "api_token"
        } else {
            "access_token"
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
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
