//! The GitHub audit log API as a [`crate::poll::Api`].

use serde_json::{Map, Value, json};

use super::config::GithubConfig;
use crate::poll::{Api, Fields, Page, Response, ms_rfc3339, query_encode, rfc3339_ms};

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
            .unwrap_or_else(auditfed_platform::clock::now_ms);
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
            query_encode(&format!("created:>={since}")),
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
        let horizon = auditfed_platform::clock::now_ms() - self.config.settle_secs as i64 * 1000;
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
