//! The Okta System Log API as a [`crate::poll::Api`].

use serde_json::{Value, json};

use super::config::OktaConfig;
use crate::poll::{Api, Fields, Page, Response, query_encode, rfc3339_ms};

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
            .unwrap_or_else(|| crate::poll::ms_rfc3339(auditfed_platform::clock::now_ms()));
        let next = format!(
            "{}/api/v1/logs?since={}&sortOrder=ASCENDING&limit={}",
            self.config.url.trim_end_matches('/'),
            query_encode(&since),
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
