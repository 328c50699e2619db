//! A pack's own examples (`[[test]]`): an event in, the decisions
//! expected out — what `auditfed policy test` runs, like `opa test`.

use std::path::Path;

use super::matcher::field;
use super::{Facts, Pack, Policies, Verdict};

/// How one case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// What differed from the expectation (empty: passed).
    pub failures: Vec<String>,
}

/// Runs every case of `pack` against the pack alone; `base` resolves
/// `event_file`.
pub fn run(pack: &Pack, base: &Path) -> Vec<CaseResult> {
    let policies = Policies::new(vec![pack.clone()]);
    pack.tests
        .iter()
        .map(|case| {
            let mut failures = Vec::new();
            match event_of(case, base) {
                Err(e) => failures.push(e),
                Ok(event) => check(&policies, case, &event, &mut failures),
            }
            CaseResult {
                name: case.name.clone(),
                failures,
            }
        })
        .collect()
}

fn event_of(case: &super::Case, base: &Path) -> Result<serde_json::Value, String> {
    match (&case.event, &case.event_file) {
        (Some(table), None) => serde_json::to_value(table).map_err(|e| e.to_string()),
        (None, Some(file)) => {
            let path = base.join(file);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
        }
        _ => Err("give exactly one of event and event_file".to_owned()),
    }
}

fn check(
    policies: &Policies,
    case: &super::Case,
    event: &serde_json::Value,
    failures: &mut Vec<String>,
) {
    let facts = Facts::of(event, case.source_type.as_deref());
    let target = case.target.as_deref().unwrap_or("sink:any");
    let expect = &case.expect;
    let egress = policies.egress(target, &facts);
    let (got, rule) = match &egress.verdict {
        Verdict::Send => ("send", None),
        Verdict::Allowed(r) => ("send", Some(r.rule.as_str())),
        Verdict::Withhold(r) => ("withhold", Some(r.rule.as_str())),
    };
    if let Some(want) = &expect.egress
        && want != got
    {
        failures.push(format!("egress to {target}: expected {want}, got {got}"));
    }
    if let Some(want) = &expect.egress_rule
        && Some(want.as_str()) != rule
    {
        failures.push(format!(
            "egress to {target}: expected rule {want}, got {}",
            rule.unwrap_or("none")
        ));
    }
    let mut redacted = event.clone();
    egress.redactions.apply(&mut redacted);
    let at = |v: &serde_json::Value, path: &str| field(v, path).cloned();
    for path in &expect.dropped {
        if at(&redacted, path).is_some() {
            failures.push(format!(
                "{path}: expected dropped before {target}, still there"
            ));
        }
    }
    for path in &expect.hashed {
        let before = at(event, path);
        let after = at(&redacted, path);
        let hashed = before.is_some()
            && before != after
            && after
                .as_ref()
                .and_then(|v| v.as_str())
                .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
        if !hashed {
            failures.push(format!(
                "{path}: expected hashed before {target}, got {after:?}"
            ));
        }
    }
    if let Some(want) = &expect.archives {
        let got: Vec<String> = policies
            .route(&facts)
            .map(|(_, a)| a.to_vec())
            .unwrap_or_default();
        if *want != got {
            failures.push(format!("archives: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = expect.retain_days {
        let got = policies.retention(&facts).map_or(0, |(_, d)| d);
        if want != got {
            failures.push(format!("retain_days: expected {want}, got {got}"));
        }
    }
    if let Some(want) = &expect.quotas {
        let got: Vec<String> = policies
            .quotas(&facts)
            .into_iter()
            .map(|(r, _)| r.rule)
            .collect();
        if *want != got {
            failures.push(format!("quotas: expected {want:?}, got {got:?}"));
        }
    }
}
