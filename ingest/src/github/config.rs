//! `[collectors.<name>]` with `type = "github"`.

use serde::Deserialize;

use auditfed_schemas::config::Problem;

use crate::poll::rfc3339_ms;

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

    /// The endpoint's path under the API URL.
    pub fn path(&self) -> String {
        match (&self.organization, &self.enterprise) {
            (Some(org), _) => format!("orgs/{org}/audit-log"),
            (None, Some(ent)) => format!("enterprises/{ent}/audit-log"),
            (None, None) => "audit-log".into(),
        }
    }
}
