//! A policy pack as written: `[policies.<name>]` in the config, or a TOML
//! file of its own (the same keys at the top level).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::matcher::{Match, Value, is_dotted_path, text_matches};

/// One named, versioned rule set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// The pack's name: the `<name>` of `[policies.<name>]`, or `name` in
    /// a pack file (default: the file's stem).
    #[serde(default)]
    pub name: String,
    /// The pack's version, recorded with every decision it makes
    /// (required: a decision must name the rules as they were).
    #[serde(default)]
    pub version: String,
    /// What the pack is for.
    #[serde(default)]
    pub description: String,
    /// A pack file only: read from this file instead (relative to the
    /// config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Field classes: class → dotted paths (`pii = ["actor.user.email_addr"]`),
    /// usable as `@pii` in `drop`/`hash`/`truncate` and in `classified`.
    #[serde(default)]
    pub classify: BTreeMap<String, Vec<String>>,
    /// The rules, in order (`[[policies.<name>.rule]]`).
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// Example cases run by `auditfed policy test`.
    #[serde(default, rename = "test")]
    pub tests: Vec<Case>,
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Egress: the event may go to the targets (the first allow/withhold
    /// rule that matches decides).
    Allow,
    /// Egress: the event may not go to the targets; a receipt names the rule.
    Withhold,
    /// Egress: fields are dropped, hashed or truncated before leaving
    /// (every matching redact rule applies).
    Redact,
    /// Residency: the event is archived only in `archives` (the first
    /// matching route rule decides).
    Route,
    /// Retention: the event is kept at least `days` (the longest matching
    /// rule wins).
    Retain,
    /// Quota: events/s and bytes/day per `per` (every matching rule applies).
    Quota,
}

impl Action {
    /// The action's name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Withhold => "withhold",
            Action::Redact => "redact",
            Action::Route => "route",
            Action::Retain => "retain",
            Action::Quota => "quota",
        }
    }

    /// Whether the action decides what leaves (sinks, reports, exports, roles).
    pub fn is_egress(self) -> bool {
        matches!(self, Action::Allow | Action::Withhold | Action::Redact)
    }
}

/// One rule. The keys after `action` belong to one action each; a key of
/// another action is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique within the pack; named by every decision the rule makes.
    pub id: String,
    /// Why the rule exists (shown by `policy explain` and in receipts).
    #[serde(default)]
    pub description: String,
    /// The events it applies to (empty: every event).
    #[serde(default, rename = "match")]
    pub when: Match,
    /// Events it does not apply to even when `match` matches.
    #[serde(default)]
    pub unless: Vec<Match>,
    /// What it does.
    pub action: Action,
    /// Egress rules: where the event goes — `sink:<name>`, `report:<pack>`,
    /// `export`, `role:<name>`, each may end in `*` (default: everywhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Redact: fields (or `@class`) removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// Redact: fields (or `@class`) replaced by hex HMAC-SHA256 under `hash_key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hash: Vec<String>,
    /// Redact: the secret of `hash` (use `${ENV}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_key: Option<String>,
    /// Redact: field (or `@class`) → the most characters kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub truncate: BTreeMap<String, usize>,
    /// Route: the archives (by name) the event may be written to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<String>,
    /// Retain: days the event is kept after its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Quota: what is counted apart (`tenant_uid`, `source_type`,
    /// `collector`, `cloud_account_uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<String>,
    /// Quota: sustained events per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_per_sec: Option<f64>,
    /// Quota: events allowed above the rate at once (default: one second's worth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// Quota: bytes per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_day: Option<u64>,
}

/// What a quota may be counted per.
pub const QUOTA_KEYS: [&str; 4] = [
    "tenant_uid",
    "source_type",
    "collector",
    "cloud_account_uid",
];

/// An example: an event, where it goes, and what the pack must decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// The OCSF event (a TOML table), or…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<toml::Value>,
    /// …a JSON file holding it (relative to the pack file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_file: Option<String>,
    /// The event's source type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// The egress target the case asks about (default `sink:any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The decisions expected.
    pub expect: Expect,
}

/// The decisions a [`Case`] expects; unset keys are not checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `send` or `withhold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    /// The rule that decided egress (or withheld).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_rule: Option<String>,
    /// Fields absent after redaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
    /// Fields hashed by redaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashed: Vec<String>,
    /// Archives the event is routed to (`[]`: the default archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archives: Option<Vec<String>>,
    /// Days kept (`0`: no retention rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_days: Option<u32>,
    /// Quota rules that count the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas: Option<Vec<String>>,
}

impl Rule {
    /// Whether the rule is about `target` (egress rules; others: never).
    pub fn targets(&self, target: &str) -> bool {
        if !self.action.is_egress() {
            return false;
        }
        if self.targets.is_empty() {
            return true;
        }
        let patterns: Vec<Value> = self.targets.iter().cloned().map(Value::Text).collect();
        text_matches(&patterns, target)
    }
}

/// `@class` → the class's paths; a plain path → itself.
pub fn expand(fields: &[String], classes: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    fields
        .iter()
        .flat_map(|f| match f.strip_prefix('@') {
            Some(class) => classes.get(class).cloned().unwrap_or_default(),
            None => vec![f.clone()],
        })
        .collect()
}

impl Pack {
    /// Problems of the pack at `key` (`policies.<name>`), each with its key.
    pub fn check(&self, key: &str) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut p = |k: String, m: String| problems.push((k, m));
        if self.version.trim().is_empty() {
            p(
                format!("{key}.version"),
                "required: every decision names the pack version that made it (e.g. \"1.0.0\" or a date)".into(),
            );
        }
        for (class, paths) in &self.classify {
            for path in paths {
                if !is_dotted_path(path) {
                    p(
                        format!("{key}.classify.{class}"),
                        format!("{path:?}: expected a dotted path such as actor.user.email_addr"),
                    );
                }
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("{key}.rule[{i}]");
            if rule.id.trim().is_empty() {
                p(
                    format!("{at}.id"),
                    "required: a name for the decisions it makes".into(),
                );
            } else if !ids.insert(rule.id.as_str()) {
                p(
                    format!("{at}.id"),
                    format!("{:?} is used by an earlier rule of the pack", rule.id),
                );
            }
            for (k, m) in rule.when.check(&format!("{at}.match"), &self.classify) {
                p(k, m);
            }
            for (j, unless) in rule.unless.iter().enumerate() {
                for (k, m) in unless.check(&format!("{at}.unless[{j}]"), &self.classify) {
                    p(k, m);
                }
            }
            for (k, m) in rule.check_action(&at, &self.classify) {
                p(k, m);
            }
        }
        problems
    }
}

impl Rule {
    /// Keys of other actions, and missing keys of its own.
    fn check_action(
        &self,
        at: &str,
        classes: &BTreeMap<String, Vec<String>>,
    ) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let a = self.action;
        let set: [(&str, bool, &[Action]); 11] = [
            (
                "targets",
                !self.targets.is_empty(),
                &[Action::Allow, Action::Withhold, Action::Redact],
            ),
            ("drop", !self.drop.is_empty(), &[Action::Redact]),
            ("hash", !self.hash.is_empty(), &[Action::Redact]),
            ("hash_key", self.hash_key.is_some(), &[Action::Redact]),
            ("truncate", !self.truncate.is_empty(), &[Action::Redact]),
            ("archives", !self.archives.is_empty(), &[Action::Route]),
            ("days", self.days.is_some(), &[Action::Retain]),
            ("per", self.per.is_some(), &[Action::Quota]),
            (
                "events_per_sec",
                self.events_per_sec.is_some(),
                &[Action::Quota],
            ),
            ("burst", self.burst.is_some(), &[Action::Quota]),
            (
                "bytes_per_day",
                self.bytes_per_day.is_some(),
                &[Action::Quota],
            ),
        ];
        for (key, present, actions) in set {
            if present && !actions.contains(&a) {
                problems.push((
                    format!("{at}.{key}"),
                    format!(
                        "belongs to action {}, not {}",
                        actions
                            .iter()
                            .map(|a| a.as_str())
                            .collect::<Vec<_>>()
                            .join("/"),
                        a.as_str()
                    ),
                ));
            }
        }
        let mut need = |ok: bool, key: &str, what: &str| {
            if !ok {
                problems.push((format!("{at}.{key}"), what.to_owned()));
            }
        };
        match a {
            Action::Redact => {
                need(
                    !(self.drop.is_empty() && self.hash.is_empty() && self.truncate.is_empty()),
                    "drop",
                    "a redact rule needs drop, hash or truncate",
                );
                need(
                    self.hash.is_empty() || self.hash_key.as_deref().is_some_and(|k| !k.is_empty()),
                    "hash_key",
                    "required with hash (a secret; use ${ENV})",
                );
                for f in self
                    .drop
                    .iter()
                    .chain(&self.hash)
                    .chain(self.truncate.keys())
                {
                    match f.strip_prefix('@') {
                        Some(class) => need(
                            classes.contains_key(class),
                            "drop",
                            &format!("{f}: no such class in the pack's [classify]"),
                        ),
                        None => need(
                            is_dotted_path(f),
                            "drop",
                            &format!(
                                "{f:?}: expected a dotted path such as actor.user.name, or @class"
                            ),
                        ),
                    }
                }
            }
            Action::Route => need(
                !self.archives.is_empty(),
                "archives",
                "a route rule needs the archives it allows (archive names)",
            ),
            Action::Retain => need(
                self.days.is_some_and(|d| d > 0),
                "days",
                "a retain rule needs days > 0",
            ),
            Action::Quota => {
                need(
                    self.per.as_deref().is_some_and(|p| QUOTA_KEYS.contains(&p)),
                    "per",
                    &format!("required, one of: {}", QUOTA_KEYS.join(", ")),
                );
                need(
                    self.events_per_sec.is_some_and(|r| r > 0.0)
                        || self.bytes_per_day.is_some_and(|b| b > 0),
                    "events_per_sec",
                    "a quota needs events_per_sec > 0 or bytes_per_day > 0",
                );
            }
            Action::Allow | Action::Withhold => {}
        }
        problems
    }
}
