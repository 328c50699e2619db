//! Egress policy, per sink: which events may leave, and which fields leave
//! only dropped or as a keyed hash. Applied by the driver before anything is
//! sent; what was withheld is counted (receipts with outcome `withheld`,
//! the sink's stop line) so completeness stays provable.
//!
//! ```
//! use auditfed_sinks::policy::{Decision, Policy};
//!
//! let policy: Policy = toml::from_str(r#"
//! classes = [3002]
//! drop_fields = ["raw_data"]
//! hash_fields = ["src_endpoint.ip"]
//! hash_key = "k"
//! "#).unwrap();
//! let event = br#"{"class_uid":3002,"raw_data":"x","src_endpoint":{"ip":"10.0.0.1"}}"#;
//! let Decision::Send(out) = policy.apply(event) else { panic!() };
//! let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert!(out.get("raw_data").is_none());
//! assert_eq!(out["src_endpoint"]["ip"].as_str().unwrap().len(), 64);
//! assert!(matches!(policy.apply(br#"{"class_uid":6003}"#), Decision::Withhold(_)));
//! ```

use auditfed_schemas::hmac::hmac_sha256;
use serde::Deserialize;

/// `[sinks.<name>.policy]`. Empty lists allow everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Only these OCSF classes (`class_uid`).
    pub classes: Vec<i64>,
    /// Only these cloud providers (`cloud.provider`, e.g. `AWS`, `GCP`, `Azure`).
    pub cloud_providers: Vec<String>,
    /// Only these regions (`cloud.region`); events without a region pass
    /// only when this is empty.
    pub regions: Vec<String>,
    /// Only these tenants or accounts (`metadata.tenant_uid` or `cloud.account.uid`).
    pub tenants: Vec<String>,
    /// Fields removed before sending (dotted paths: `raw_data`, `actor.user.email_addr`).
    pub drop_fields: Vec<String>,
    /// Fields replaced by hex HMAC-SHA256 under `hash_key` (joinable, not reversible).
    pub hash_fields: Vec<String>,
    /// The key of `hash_fields` (use `${ENV}`); required with `hash_fields`.
    pub hash_key: Option<String>,
}

/// What the policy does with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send these bytes: the event, unchanged when no field rule applies.
    Send(Vec<u8>),
    /// Keep it in: the reason names the rule.
    Withhold(String),
}

impl Policy {
    /// Whether the policy changes or filters anything.
    pub fn is_open(&self) -> bool {
        *self == Policy::default()
    }

    /// Problems of the policy under `key` (`sinks.<name>.policy`).
    pub fn check(&self, key: &str) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !self.hash_fields.is_empty() && self.hash_key.as_deref().is_none_or(str::is_empty) {
            problems.push((
                format!("{key}.hash_key"),
                "required with hash_fields (a secret; use ${ENV})".to_owned(),
            ));
        }
        for field in self.drop_fields.iter().chain(&self.hash_fields) {
            if field.is_empty() || field.split('.').any(str::is_empty) {
                problems.push((
                    key.to_owned(),
                    format!("{field:?}: expected a dotted path such as actor.user.name"),
                ));
            }
        }
        problems
    }

    /// Applies the policy to one canonical event.
    pub fn apply(&self, event: &[u8]) -> Decision {
        if self.is_open() {
            return Decision::Send(event.to_vec());
        }
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(event) else {
            return Decision::Withhold("not a JSON event".into());
        };
        if let Some(reason) = self.filter(&value) {
            return Decision::Withhold(reason);
        }
        if self.drop_fields.is_empty() && self.hash_fields.is_empty() {
            return Decision::Send(event.to_vec());
        }
        for path in &self.drop_fields {
            remove(&mut value, path);
        }
        let key = self.hash_key.as_deref().unwrap_or_default().as_bytes();
        for path in &self.hash_fields {
            if let Some(v) = lookup_mut(&mut value, path).filter(|v| !v.is_null()) {
                let text = match &*v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *v = serde_json::Value::String(hex::encode(hmac_sha256(key, text.as_bytes())));
            }
        }
        Decision::Send(value.to_string().into_bytes())
    }

    fn filter(&self, v: &serde_json::Value) -> Option<String> {
        let class = v["class_uid"].as_i64().unwrap_or(-1);
        if !self.classes.is_empty() && !self.classes.contains(&class) {
            return Some(format!("class {class} not in policy.classes"));
        }
        let text = |p: &str| v.pointer(p).and_then(|x| x.as_str()).unwrap_or_default();
        let provider = text("/cloud/provider");
        if !self.cloud_providers.is_empty()
            && !self
                .cloud_providers
                .iter()
                .any(|p| p.eq_ignore_ascii_case(provider))
        {
            return Some(format!(
                "cloud provider {provider:?} not in policy.cloud_providers"
            ));
        }
        let region = text("/cloud/region");
        if !self.regions.is_empty() && !self.regions.iter().any(|r| r == region) {
            return Some(format!("region {region:?} not in policy.regions"));
        }
        if !self.tenants.is_empty() {
            let tenant = text("/metadata/tenant_uid");
            let account = text("/cloud/account/uid");
            if !self.tenants.iter().any(|t| t == tenant || t == account) {
                return Some(format!(
                    "tenant {:?} not in policy.tenants",
                    if tenant.is_empty() { account } else { tenant }
                ));
            }
        }
        None
    }
}

fn lookup_mut<'a>(v: &'a mut serde_json::Value, path: &str) -> Option<&'a mut serde_json::Value> {
    path.split('.').try_fold(v, |v, part| v.get_mut(part))
}

fn remove(v: &mut serde_json::Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (lookup_mut(v, parent), last),
        None => (Some(v), path),
    };
    if let Some(serde_json::Value::Object(map)) = parent {
        map.remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_redactions() {
        let policy = Policy {
            cloud_providers: vec!["aws".into()],
            regions: vec!["eu-west-1".into()],
            tenants: vec!["111".into()],
            drop_fields: vec!["unmapped".into(), "actor.user.email_addr".into()],
            hash_fields: vec!["actor.user.name".into()],
            hash_key: Some("secret".into()),
            ..Policy::default()
        };
        let event = |region: &str, account: &str| {
            format!(
                r#"{{"class_uid":6003,"cloud":{{"provider":"AWS","region":"{region}","account":{{"uid":"{account}"}}}},"actor":{{"user":{{"name":"alice","email_addr":"a@x"}}}},"unmapped":{{"k":1}}}}"#
            )
        };
        let Decision::Send(out) = policy.apply(event("eu-west-1", "111").as_bytes()) else {
            panic!("allowed by every rule")
        };
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(out.get("unmapped").is_none());
        assert!(out["actor"]["user"].get("email_addr").is_none());
        assert_eq!(
            out["actor"]["user"]["name"],
            hex::encode(hmac_sha256(b"secret", b"alice"))
        );
        assert!(
            matches!(policy.apply(event("us-east-1", "111").as_bytes()), Decision::Withhold(r) if r.contains("region"))
        );
        assert!(
            matches!(policy.apply(event("eu-west-1", "222").as_bytes()), Decision::Withhold(r) if r.contains("tenant"))
        );
        assert_eq!(
            Policy::default().apply(b"{\"a\":1}"),
            Decision::Send(b"{\"a\":1}".to_vec())
        );
        assert_eq!(
            Policy {
                hash_fields: vec!["a".into()],
                ..Policy::default()
            }
            .check("sinks.s.policy")[0]
                .0,
            "sinks.s.policy.hash_key"
        );
    }
}
