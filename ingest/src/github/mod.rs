//! `type = "github"`: the audit log of a GitHub organization or enterprise
//! (`GET /orgs/{org}/audit-log`, `/enterprises/{enterprise}/audit-log`),
//! ascending, followed through its `rel="next"` links.
//!
//! Once a query is exhausted, the next one asks for `created:>=` the last
//! settled second. Events of the last `settle_secs` are remembered by
//! `_document_id` (in the cursor), so events indexed late within that
//! window are read and none is read twice. `x-ratelimit-remaining` /
//! `-reset` pace the requests; 403/429 with `retry-after` (secondary
//! limits) wait as told.
//!
//! ```toml
//! [collectors.github]
//! type = "github"
//! organization = "example-org"          # or enterprise = "example-ent"
//! token = "${GITHUB_AUDIT_TOKEN}"       # read:audit_log
//! since = "2026-11-01T00:00:00Z"
//! ```

use serde::Deserialize;
use serde_json::{Map, Value, json};

use auditfed_schemas::config::Problem;

use crate::okta::encode;
use crate::poll::{Api, Fields, Page, Response, ms_rfc3339, rfc3339_ms};

/// `[collectors.<name>]` with `type = "github"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// The REST API's base URL (GitHub Enterprise Server: `https://HOST/api/v3`).
    #[serde(default = "default_api")]
    pub api_url: String,
    /// The organization whose audit log is read.
    pub organization: Option<String>,
    /// Or the enterprise.
    pub enterprise: Option<String>,
    /// A token with `read:audit_log` (or `admin:enterprise` for enterprises).
    pub token: String,
    /// The source type of the records.
    #[serde(default = "default_source")]
    pub source: String,
    /// RFC 3339: the first event time read when there is no cursor yet.
    /// Default: the time of the first run.
    pub since: Option<String>,
    /// `web`, `git` or `all` events.
    #[serde(default = "default_include")]
    pub include: String,
    /// Seconds between polls once caught up.
    #[serde(default = "default_poll")]
    pub poll_secs: u64,
    /// Events per page (at most 100).
    #[serde(default = "default_per_page")]
    pub per_page: u32,
    /// Events younger than this (seconds) may still be indexed late: they
    /// are asked for again, and recognised.
    #[serde(default = "default_settle")]
    pub settle_secs: u64,
}

fn default_api() -> String {
    "https://api.github.com".into()
}
fn default_source() -> String {
    "github_audit".into()
}
fn default_include() -> String {
    "all".into()
}
fn default_poll() -> u64 {
    60
}
fn default_per_page() -> u32 {
    100
}
fn default_settle() -> u64 {
    300
}

impl GithubConfig {
    /// Value checks; `key` is `collectors.<name>`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.organization.is_some() == self.enterprise.is_some() {
            problems.push(Problem::new(
                format!("{key}.organization"),
                "set organization or enterprise (one of them)",
            ));
        }
        if self.token.is_empty() {
            problems.push(Problem::new(format!("{key}.token"), "empty"));
        }
        if let Some(since) = &self.since
            && rfc3339_ms(since).is_none()
        {
            problems.push(Problem::new(
                format!("{key}.since"),
                format!("{since:?}: expected RFC 3339, e.g. 2026-11-01T00:00:00Z"),
            ));
        }
        if !matches!(self.include.as_str(), "web" | "git" | "all") {
            problems.push(Problem::new(
                format!("{key}.include"),
                format!("{:?}: expected web, git or all", self.include),
            ));
        }
        if !(1..=100).contains(&self.per_page) {
            problems.push(Problem::new(format!("{key}.per_page"), "expected 1 to 100"));
        }
        if self.source.parse::<auditfed_schemas::SourceType>().is_err() {
            problems.push(Problem::new(
                format!("{key}.source"),
                format!("{:?}: unknown source type", self.source),
            ));
        }
        if self.poll_secs == 0 {
            problems.push(Problem::new(
                format!("{key}.poll_secs"),
                "expected at least 1",
            ));
        }
        problems
    }

    fn path(&self) -> String {
        match (&self.organization, &self.enterprise) {
            (Some(org), _) => format!("orgs/{org}/audit-log"),
            (None, Some(ent)) => format!("enterprises/{ent}/audit-log"),
            (None, None) => "audit-log".into(),
        }
    }
}

/// The audit log of one organization or enterprise.
pub struct Github {
    /// Its configuration.
    pub config: GithubConfig,
}

impl Api for Github {
    fn object(&self) -> String {
        let host = self
            .config
            .api_url
            .split("://")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches('/');
        format!("github://{host}/{}", self.config.path())
    }

    fn initial(&self) -> Value {
        let since = self
            .config
            .since
            .as_deref()
            .and_then(rfc3339_ms)
            .unwrap_or_else(crate::raw::now_ms);
        json!({ "next": null, "since_ms": since, "seen": {} })
    }

    fn url(&self, cursor: &Value) -> String {
        if let Some(next) = cursor["next"].as_str() {
            return next.to_owned();
        }
        let since_s = cursor["since_ms"].as_i64().unwrap_or(0).div_euclid(1000) * 1000;
        let since = ms_rfc3339(since_s).replace(".000Z", "Z");
        format!(
            "{}/{}?phrase={}&order=asc&per_page={}&include={}",
            self.config.api_url.trim_end_matches('/'),
            self.config.path(),
            encode(&format!("created:>={since}")),
            self.config.per_page,
            self.config.include
        )
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            (
                "authorization".into(),
                format!("Bearer {}", self.config.token),
            ),
            ("accept".into(), "application/vnd.github+json".into()),
            ("x-github-api-version".into(), "2022-11-28".into()),
        ]
    }

    fn fields(&self, record: &Value) -> Fields {
        Fields {
            id: record["_document_id"].as_str().map(str::to_owned),
            time_ms: record["@timestamp"].as_i64(),
        }
    }

    fn advance(&self, cursor: &Value, response: &Response, mut page: Page) -> (Value, Page, bool) {
        let mut seen: Map<String, Value> = cursor["seen"].as_object().cloned().unwrap_or_default();
        page.records.retain(|(_, f)| match &f.id {
            Some(id) if seen.contains_key(id) => false,
            Some(id) => {
                seen.insert(id.clone(), json!(f.time_ms.unwrap_or(0)));
                true
            }
            None => true,
        });
        let since = cursor["since_ms"].as_i64().unwrap_or(0);
        if let Some(next) = response.next_link() {
            return (
                json!({ "next": next, "since_ms": since, "seen": seen }),
                page,
                true,
            );
        }
        // The query is exhausted: the next one starts at the newest settled
        // second; what is younger stays remembered.
        let newest = seen
            .values()
            .filter_map(Value::as_i64)
            .max()
            .unwrap_or(since);
        let horizon = crate::raw::now_ms() - self.config.settle_secs as i64 * 1000;
        let next_since = newest.min(horizon).max(since).div_euclid(1000) * 1000;
        seen.retain(|_, t| t.as_i64().unwrap_or(0) >= next_since);
        (
            json!({ "next": null, "since_ms": next_since, "seen": seen }),
            page,
            false,
        )
    }

    fn credential_key(&self) -> &str {
        "token"
    }
}
