//! Policy packs: one set of written rules that every stage enforces —
//! what may leave to which SIEM, report, export or query role (egress and
//! redaction), which archive may hold an event (residency), how long it is
//! kept (retention), and how much a tenant or source may send (quotas).
//!
//! The evaluator is pure: it reads an event's query columns ([`Facts`],
//! the names of the archive's columns), decides, and names the rule and the
//! pack version that decided ([`RuleRef`]). Stages enforce; receipts and
//! the decision log record the [`RuleRef`].
//!
//! How rules combine, per purpose:
//! - **egress** to a target (`sink:<name>`, `report:<pack>`, `export`,
//!   `role:<name>`): the first `allow` or `withhold` rule that matches (packs
//!   in order, rules in order) decides; none: the event may go. Every
//!   matching `redact` rule then applies to what goes.
//! - **residency**: the first matching `route` rule names the archives; none:
//!   the default archive.
//! - **retention**: the longest `days` of every matching `retain` rule.
//! - **quotas**: every matching `quota` rule counts the event.
//!
//! ```
//! use auditfed_schemas::policy::{Facts, Pack, Policies, Verdict};
//!
//! let pack: Pack = toml::from_str(r#"
//! version = "1"
//! [classify]
//! pii = ["actor.user.email_addr"]
//! [[rule]]
//! id = "eu-stays-home"
//! action = "withhold"
//! targets = ["sink:us-*"]
//! match = { cloud_region = ["eu-*"] }
//! [[rule]]
//! id = "no-pii-out"
//! action = "redact"
//! drop = ["@pii"]
//! "#).unwrap();
//! let policies = Policies::new(vec![Pack { name: "corp".into(), ..pack }]);
//! let event = serde_json::json!({"class_uid": 6003, "cloud": {"region": "eu-west-1"},
//!     "actor": {"user": {"email_addr": "a@example.com"}}});
//! let facts = Facts::of(&event, Some("aws_cloudtrail"));
//! let us = policies.egress("sink:us-splunk", &facts);
//! assert!(matches!(us.verdict, Verdict::Withhold(ref r) if r.rule == "eu-stays-home"));
//! let eu = policies.egress("sink:eu-sentinel", &facts);
//! assert_eq!(eu.verdict, Verdict::Send);
//! assert_eq!(eu.redactions.drop, ["actor.user.email_addr"]);
//! ```

pub mod cases;
pub mod load;
pub mod matcher;
pub mod pack;
pub mod redact;

use std::fmt;

pub use matcher::{Facts, Match};
pub use pack::{Action, Case, Expect, Pack, Rule};
pub use redact::Redactions;

/// The rule that made a decision, with its pack and the pack's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The pack's name.
    pub pack: String,
    /// The pack's version.
    pub version: String,
    /// The rule's id.
    pub rule: String,
    /// The rule's description.
    pub description: String,
}

impl fmt::Display for RuleRef {
    /// `<pack>/<rule>@<version>`, then the description.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.pack, self.rule, self.version)?;
        if !self.description.is_empty() {
            write!(f, ": {}", self.description)?;
        }
        Ok(())
    }
}

impl RuleRef {
    /// `<pack>/<rule>@<version>`, without the description.
    pub fn id(&self) -> String {
        format!("{}/{}@{}", self.pack, self.rule, self.version)
    }
}

/// Whether an event may go to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It may go (no rule withheld it).
    Send,
    /// An `allow` rule let it go.
    Allowed(RuleRef),
    /// A `withhold` rule kept it in.
    Withhold(RuleRef),
}

/// The egress decision for one event and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// May it go.
    pub verdict: Verdict,
    /// What to remove, hash or cut when it goes.
    pub redactions: Redactions,
    /// The redact rules that applied.
    pub redacted_by: Vec<RuleRef>,
}

impl Egress {
    /// Whether the event stays in.
    pub fn withheld(&self) -> Option<&RuleRef> {
        match &self.verdict {
            Verdict::Withhold(r) => Some(r),
            _ => None,
        }
    }
}

/// One rule's verdict on one event, for `auditfed policy explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The rule.
    pub rule: RuleRef,
    /// Its action.
    pub action: Action,
    /// Whether it matched (and, for egress rules, is about the target).
    pub matched: bool,
    /// What it decided, or why it did not apply.
    pub effect: String,
}

/// Every configured pack, in order: what stages ask.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    packs: Vec<Pack>,
}

impl Policies {
    /// The packs, evaluated in this order.
    pub fn new(packs: Vec<Pack>) -> Policies {
        Policies { packs }
    }

    /// The packs.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Whether no pack has a rule of `action`'s purpose.
    pub fn is_empty(&self) -> bool {
        self.packs.iter().all(|p| p.rules.is_empty())
    }

    /// Whether any rule decides egress (a sink without one sends the
    /// sealed bytes without parsing them).
    pub fn has_egress(&self) -> bool {
        self.rules().any(|(_, r)| r.action.is_egress())
    }

    fn rules(&self) -> impl Iterator<Item = (&Pack, &Rule)> {
        self.packs
            .iter()
            .flat_map(|p| p.rules.iter().map(move |r| (p, r)))
    }

    fn applies(pack: &Pack, rule: &Rule, facts: &Facts<'_>) -> bool {
        rule.when.matches(facts, &pack.classify)
            && !rule.unless.iter().any(|u| u.matches(facts, &pack.classify))
    }

    fn reference(pack: &Pack, rule: &Rule) -> RuleRef {
        RuleRef {
            pack: pack.name.clone(),
            version: pack.version.clone(),
            rule: rule.id.clone(),
            description: rule.description.clone(),
        }
    }

    /// May the event go to `target`, and redacted how.
    pub fn egress(&self, target: &str, facts: &Facts<'_>) -> Egress {
        let mut verdict = Verdict::Send;
        let mut redactions = Redactions::default();
        let mut redacted_by = Vec::new();
        for (pack, rule) in self.rules() {
            if !rule.targets(target) || !Self::applies(pack, rule, facts) {
                continue;
            }
            match rule.action {
                Action::Allow | Action::Withhold if verdict == Verdict::Send => {
                    let r = Self::reference(pack, rule);
                    verdict = if rule.action == Action::Allow {
                        Verdict::Allowed(r)
                    } else {
                        Verdict::Withhold(r)
                    };
                }
                Action::Redact => {
                    let key = rule.hash_key.clone().unwrap_or_default();
                    redactions
                        .drop
                        .extend(pack::expand(&rule.drop, &pack.classify));
                    redactions.hash.extend(
                        pack::expand(&rule.hash, &pack.classify)
                            .into_iter()
                            .map(|f| (f, key.clone())),
                    );
                    for (field, max) in &rule.truncate {
                        for f in pack::expand(std::slice::from_ref(field), &pack.classify) {
                            let entry = redactions.truncate.entry(f).or_insert(*max);
                            *entry = (*entry).min(*max);
                        }
                    }
                    redacted_by.push(Self::reference(pack, rule));
                }
                _ => {}
            }
        }
        if matches!(verdict, Verdict::Withhold(_)) {
            redactions = Redactions::default();
            redacted_by.clear();
        }
        Egress {
            verdict,
            redactions,
            redacted_by,
        }
    }

    /// The archives the event may be written to (the first matching route
    /// rule); `None`: the default archive.
    pub fn route(&self, facts: &Facts<'_>) -> Option<(RuleRef, &[String])> {
        self.rules()
            .find(|(p, r)| r.action == Action::Route && Self::applies(p, r, facts))
            .map(|(p, r)| (Self::reference(p, r), r.archives.as_slice()))
    }

    /// How long the event is kept: the longest matching retain rule.
    pub fn retention(&self, facts: &Facts<'_>) -> Option<(RuleRef, u32)> {
        self.rules()
            .filter(|(p, r)| r.action == Action::Retain && Self::applies(p, r, facts))
            .filter_map(|(p, r)| r.days.map(|d| (Self::reference(p, r), d)))
            .fold(None, |best: Option<(RuleRef, u32)>, (r, d)| match best {
                Some((_, b)) if b >= d => best,
                _ => Some((r, d)),
            })
    }

    /// The quota rules that count the event.
    pub fn quotas(&self, facts: &Facts<'_>) -> Vec<(RuleRef, &Rule)> {
        self.rules()
            .filter(|(p, r)| r.action == Action::Quota && Self::applies(p, r, facts))
            .map(|(p, r)| (Self::reference(p, r), r))
            .collect()
    }

    /// Every rule's verdict on the event, for egress to `target`.
    pub fn explain(&self, target: &str, facts: &Facts<'_>) -> Vec<Explained> {
        let egress = self.egress(target, facts);
        let route = self.route(facts).map(|(r, _)| r);
        let retention = self.retention(facts).map(|(r, _)| r);
        let mut out = Vec::new();
        for (pack, rule) in self.rules() {
            let r = Self::reference(pack, rule);
            let matched = Self::applies(pack, rule, facts);
            let effect = if !matched {
                if rule.when.matches(facts, &pack.classify) {
                    "not applied: an unless condition matched".to_owned()
                } else {
                    "not applied: the match does not hold".to_owned()
                }
            } else {
                match rule.action {
                    Action::Allow | Action::Withhold | Action::Redact if !rule.targets(target) => {
                        format!(
                            "not applied: not about {target} (targets {})",
                            rule.targets.join(", ")
                        )
                    }
                    Action::Withhold if egress.withheld() == Some(&r) => {
                        format!("withheld from {target}")
                    }
                    Action::Allow if egress.verdict == Verdict::Allowed(r.clone()) => {
                        format!("allowed to {target}")
                    }
                    Action::Allow | Action::Withhold => {
                        "matched, but an earlier rule decided egress".to_owned()
                    }
                    Action::Redact if egress.redacted_by.contains(&r) => {
                        let mut parts = Vec::new();
                        if !rule.drop.is_empty() {
                            parts.push(format!("drops {}", rule.drop.join(", ")));
                        }
                        if !rule.hash.is_empty() {
                            parts.push(format!("hashes {}", rule.hash.join(", ")));
                        }
                        if !rule.truncate.is_empty() {
                            parts.push(format!(
                                "truncates {}",
                                rule.truncate
                                    .iter()
                                    .map(|(f, n)| format!("{f} to {n}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                        format!("{} before {target}", parts.join("; "))
                    }
                    Action::Redact => "matched, but the event is withheld".to_owned(),
                    Action::Route if route.as_ref() == Some(&r) => {
                        format!("archived only in {}", rule.archives.join(", "))
                    }
                    Action::Route => "matched, but an earlier route rule decided".to_owned(),
                    Action::Retain if retention.as_ref() == Some(&r) => {
                        format!("kept {} days", rule.days.unwrap_or_default())
                    }
                    Action::Retain => format!(
                        "kept {} days, but a longer retention applies",
                        rule.days.unwrap_or_default()
                    ),
                    Action::Quota => format!("counted per {}", rule.per.as_deref().unwrap_or("?")),
                }
            };
            let matched = matched && (!rule.action.is_egress() || rule.targets(target));
            out.push(Explained {
                rule: r,
                action: rule.action,
                matched,
                effect,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests;
