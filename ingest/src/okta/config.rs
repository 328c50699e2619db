//! `[collectors.<name>]` with `type = "okta"`.

use serde::Deserialize;

use auditfed_schemas::config::Problem;

use crate::poll::rfc3339_ms;

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
