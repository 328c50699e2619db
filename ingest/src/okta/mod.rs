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

pub mod collector;
pub mod config;

pub use collector::Okta;
pub use config::OktaConfig;
