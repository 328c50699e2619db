//! Entra ID access tokens by the OAuth 2.0 client-credentials grant
//! (`POST {authority}/{tenant}/oauth2/v2.0/token`), with a client secret
//! or a federated token (workload identity) as the client assertion,
//! cached and refreshed before they expire.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::Mutex;

use super::AzureAuth;
use crate::driver::Failure;

/// A token and when to stop using it.
struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Fetches and caches the sink's access token.
pub(super) struct TokenSource {
    auth: AzureAuth,
    client: reqwest::Client,
    key: String,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    /// `key` is `sinks.<name>`: errors name `<key>.auth.*`.
    pub fn new(auth: AzureAuth, client: reqwest::Client, key: &str) -> TokenSource {
        TokenSource {
            auth,
            client,
            key: key.to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one when it is due.
    pub async fn token(&self) -> Result<String, Failure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        // Refresh at 5 minutes before expiry, or half-way for short lives,
        // so no request leaves with a token about to expire.
        let margin = (lifetime / 2).min(Duration::from_secs(300));
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }

    /// Forgets `token` after the API refused it (revoked, or the clock
    /// was off): the next call fetches a new one. `true` the first time a
    /// token is refused (calls in flight together share one token).
    pub async fn refused(&self, token: &str) -> bool {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token == token) {
            *cached = None;
            return true;
        }
        false
    }

    fn url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.auth.authority.trim_end_matches('/'),
            self.auth.tenant_id
        )
    }

    async fn fetch(&self) -> Result<(String, Duration), Failure> {
        let key = &self.key;
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.auth.client_id.clone()),
            ("scope", self.auth.scope.clone()),
        ];
        let secret_key;
        if let Some(secret) = &self.auth.client_secret {
            form.push(("client_secret", secret.clone()));
            secret_key = format!("{key}.auth.client_secret");
        } else if let Some(path) = &self.auth.federated_token_file {
            // Re-read each time: the kubelet rotates the projected token.
            let assertion = std::fs::read_to_string(path).map_err(|e| {
                Failure::Fatal(format!(
                    "cannot read the federated token {} ({key}.auth.federated_token_file): {e}",
                    path.display()
                ))
            })?;
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ));
            form.push(("client_assertion", assertion.trim().to_owned()));
            secret_key = format!("{key}.auth.federated_token_file");
        } else {
            return Err(Failure::Fatal(format!(
                "{key}.auth: no client_secret and no federated_token_file"
            )));
        }
        let url = self.url();
        let response = self
            .client
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| Failure::Retry {
                reason: format!("token endpoint {url}: {e}"),
                after: None,
            })?;
        let status = response.status();
        let retry_after = crate::driver::retry_after(response.headers());
        let bytes = response.bytes().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status.is_success() {
            let token = body["access_token"].as_str().unwrap_or_default();
            // `expires_in` is a number in v2.0, a string in some proxies.
            let lifetime = body["expires_in"]
                .as_u64()
                .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            if token.is_empty() || lifetime == 0 {
                return Err(Failure::Retry {
                    reason: format!("token endpoint {url}: no access_token/expires_in in {body}"),
                    after: None,
                });
            }
            return Ok((token.to_owned(), Duration::from_secs(lifetime)));
        }
        let error = body["error"].as_str().unwrap_or("?");
        let description = body["error_description"].as_str().unwrap_or_default();
        let what = format!("token endpoint {url}: HTTP {status}, {error}: {description}");
        Err(match error {
            "invalid_client" | "unauthorized_client" => Failure::Fatal(format!(
                "{what}: check {key}.auth.client_id and {secret_key}"
            )),
            "invalid_request" | "invalid_grant" | "invalid_scope" => Failure::Fatal(format!(
                "{what}: check {key}.auth (tenant_id, scope, {secret_key})"
            )),
            _ if status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST => {
                Failure::Fatal(format!("{what}: check {key}.auth.tenant_id and authority"))
            }
            _ => Failure::Retry {
                reason: what,
                after: retry_after,
            },
        })
    }
}
