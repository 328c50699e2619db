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

pub mod collector;
pub mod config;

pub use collector::Github;
pub use config::GithubConfig;
