//! The per-sink egress filter of earlier versions, `[sinks.<name>.policy]`:
//! still accepted, and evaluated as the policy pack `sinks.<name>.policy`
//! (version `config`) whose rules target only that sink
//! ([`Policy::to_pack`]); `[policies.*]` packs (docs/policy.md) are the
//! way to write new rules.
//!
//! ```
//! use auditfed_schemas::policy::{Facts, Policies};
//! use auditfed_sinks::policy::Policy;
//!
//! let policy: Policy = toml::from_str(r#"
//! classes = [3002]
//! drop_fields = ["raw_data"]
//! "#).unwrap();
//! let policies = Policies::new(vec![policy.to_pack("splunk")]);
//! let api_call = serde_json::json!({"class_uid": 6003});
//! let egress = policies.egress("sink:splunk", &Facts::of(&api_call, None));
//! assert_eq!(egress.withheld().unwrap().rule, "classes");
//! ```

use auditfed_schemas::policy::matcher::{Value, is_dotted_path};
use auditfed_schemas::policy::{Action, Match, Pack, Rule};
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

impl Policy {
    /// Whether the policy changes or filters anything.
    pub fn is_open(&self) -> bool {
        *self == Policy::default()
    }

    /// The same rules as the pack `sinks.<sink>.policy`, version `config`,
    /// every rule targeting `sink:<sink>`.
    pub fn to_pack(&self, sink: &str) -> Pack {
        let key = format!("sinks.{sink}.policy");
        let text = |values: &[String]| values.iter().cloned().map(Value::Text).collect::<Vec<_>>();
        let only = |column: &str, values: Vec<Value>| Match {
            columns: [(column.to_owned(), values)].into(),
        };
        let withhold_unless = |id: &str, unless: Vec<Match>| Rule {
            id: id.to_owned(),
            description: format!("only the {id} of {key}.{id}"),
            unless,
            ..rule(Action::Withhold, sink)
        };
        let mut rules = Vec::new();
        if !self.classes.is_empty() {
            let classes = self.classes.iter().copied().map(Value::Int).collect();
            rules.push(withhold_unless("classes", vec![only("class_uid", classes)]));
        }
        if !self.cloud_providers.is_empty() {
            // Compared without case, as before: every spelling OCSF sources use.
            let mut spellings = Vec::new();
            for p in &self.cloud_providers {
                let mut capitalized = p.to_lowercase();
                if let Some(first) = capitalized.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                for s in [p.clone(), p.to_uppercase(), p.to_lowercase(), capitalized] {
                    if !spellings.contains(&s) {
                        spellings.push(s);
                    }
                }
            }
            rules.push(withhold_unless(
                "cloud_providers",
                vec![only("cloud_provider", text(&spellings))],
            ));
        }
        if !self.regions.is_empty() {
            rules.push(withhold_unless(
                "regions",
                vec![only("cloud_region", text(&self.regions))],
            ));
        }
        if !self.tenants.is_empty() {
            rules.push(withhold_unless(
                "tenants",
                vec![
                    only("tenant_uid", text(&self.tenants)),
                    only("cloud_account_uid", text(&self.tenants)),
                ],
            ));
        }
        if !self.drop_fields.is_empty() || !self.hash_fields.is_empty() {
            rules.push(Rule {
                id: "fields".to_owned(),
                description: format!("{key}.drop_fields and {key}.hash_fields"),
                drop: self.drop_fields.clone(),
                hash: self.hash_fields.clone(),
                hash_key: self
                    .hash_key
                    .clone()
                    .filter(|_| !self.hash_fields.is_empty()),
                ..rule(Action::Redact, sink)
            });
        }
        Pack {
            name: key,
            version: "config".to_owned(),
            description: format!("[sinks.{sink}.policy] of the config"),
            rules,
            ..Pack::default()
        }
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
            if !is_dotted_path(field) {
                problems.push((
                    key.to_owned(),
                    format!("{field:?}: expected a dotted path such as actor.user.name"),
                ));
            }
        }
        problems
    }
}

fn rule(action: Action, sink: &str) -> Rule {
    Rule {
        id: String::new(),
        description: String::new(),
        when: Match::default(),
        unless: Vec::new(),
        action,
        targets: vec![format!("sink:{sink}")],
        drop: Vec::new(),
        hash: Vec::new(),
        hash_key: None,
        truncate: Default::default(),
        archives: Vec::new(),
        days: None,
        per: None,
        events_per_sec: None,
        burst: None,
        bytes_per_day: None,
    }
}

#[cfg(test)]
mod tests {
    use auditfed_schemas::hmac::hmac_sha256;
    use auditfed_schemas::policy::{Facts, Policies};

    use super::*;

    /// The filter of earlier versions, evaluated as its pack: the same
    /// decisions as before.
    #[test]
    fn the_sink_filter_decides_as_before() {
        let policy = Policy {
            cloud_providers: vec!["aws".into()],
            regions: vec!["eu-west-1".into()],
            tenants: vec!["111".into()],
            drop_fields: vec!["unmapped".into(), "actor.user.email_addr".into()],
            hash_fields: vec!["actor.user.name".into()],
            hash_key: Some("secret".into()),
            ..Policy::default()
        };
        assert!(policy.check("sinks.s.policy").is_empty());
        let pack = policy.to_pack("s");
        assert!(
            pack.check("sinks.s.policy").is_empty(),
            "{:?}",
            pack.check("x")
        );
        let policies = Policies::new(vec![pack]);
        let event = |region: &str, account: &str| {
            serde_json::json!({"class_uid": 6003,
                "cloud": {"provider": "AWS", "region": region, "account": {"uid": account}},
                "actor": {"user": {"name": "alice", "email_addr": "a@x"}}, "unmapped": {"k": 1}})
        };
        let ok = event("eu-west-1", "111");
        let decision = policies.egress("sink:s", &Facts::of(&ok, None));
        assert!(decision.withheld().is_none());
        let mut out = ok.clone();
        decision.redactions.apply(&mut out);
        assert!(out.get("unmapped").is_none());
        assert!(out["actor"]["user"].get("email_addr").is_none());
        assert_eq!(
            out["actor"]["user"]["name"],
            hex::encode(hmac_sha256(b"secret", b"alice"))
        );
        // Only this sink: another target is not filtered by it.
        let us = event("us-east-1", "111");
        assert!(
            policies
                .egress("sink:other", &Facts::of(&us, None))
                .withheld()
                .is_none()
        );
        let withheld = policies.egress("sink:s", &Facts::of(&us, None));
        let rule = withheld.withheld().unwrap();
        assert_eq!(rule.id(), "sinks.s.policy/regions@config");
        assert!(rule.to_string().contains("policy.regions"));
        let other_account = event("eu-west-1", "222");
        let decision = policies.egress("sink:s", &Facts::of(&other_account, None));
        assert_eq!(decision.withheld().unwrap().rule, "tenants");
        // A tenant uid is accepted like an account, and providers without case.
        let mut tenant = event("eu-west-1", "222");
        tenant["metadata"] = serde_json::json!({"tenant_uid": "111"});
        tenant["cloud"]["provider"] = "aws".into();
        assert!(
            policies
                .egress("sink:s", &Facts::of(&tenant, None))
                .withheld()
                .is_none()
        );
        let no_region = serde_json::json!({"class_uid": 6003, "cloud": {"provider": "AWS"}});
        assert!(
            policies
                .egress("sink:s", &Facts::of(&no_region, None))
                .withheld()
                .is_some()
        );
        assert!(Policy::default().is_open());
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
