use std::collections::BTreeMap;

use super::*;

fn pack(text: &str) -> Pack {
    let pack: Pack = toml::from_str(text).unwrap();
    Pack {
        name: "p".into(),
        ..pack
    }
}

const CORP: &str = r#"
version = "7"
[classify]
pii = ["actor.user.email_addr", "src_endpoint.ip"]
[[rule]]
id = "okta-anywhere"
action = "allow"
match = { source_type = ["okta"] }
[[rule]]
id = "eu-home"
description = "EU stays in the EU"
action = "withhold"
targets = ["sink:us-*"]
match = { cloud_region = ["eu-*"] }
[[rule]]
id = "no-pii"
action = "redact"
drop = ["@pii"]
truncate = { "api.request.data" = 10 }
[[rule]]
id = "short"
action = "redact"
targets = ["sink:us-*"]
truncate = { "api.request.data" = 4 }
[[rule]]
id = "eu-archive"
action = "route"
archives = ["eu"]
match = { cloud_region = ["eu-*"] }
[[rule]]
id = "pci"
action = "retain"
days = 365
[[rule]]
id = "hipaa"
action = "retain"
days = 2190
match = { class_uid = [3002] }
[[rule]]
id = "per-tenant"
action = "quota"
per = "tenant_uid"
events_per_sec = 10.0
"#;

fn event(region: &str, class: i64) -> serde_json::Value {
    serde_json::json!({
        "class_uid": class, "cloud": {"region": region},
        "actor": {"user": {"email_addr": "a@x"}}, "src_endpoint": {"ip": "10.0.0.1"},
        "api": {"request": {"data": "0123456789abcdef"}}, "metadata": {"tenant_uid": "t1"}
    })
}

#[test]
fn egress_first_match_decides_and_redactions_accumulate() {
    let policies = Policies::new(vec![pack(CORP)]);
    let eu = event("eu-west-1", 6003);
    let facts = Facts::of(&eu, Some("aws_cloudtrail"));
    let us = policies.egress("sink:us-splunk", &facts);
    let withheld = us.withheld().expect("withheld");
    assert_eq!(withheld.id(), "p/eu-home@7");
    assert_eq!(withheld.to_string(), "p/eu-home@7: EU stays in the EU");
    assert!(
        us.redactions.is_empty(),
        "nothing is redacted of what stays"
    );

    let home = policies.egress("sink:eu-sentinel", &facts);
    assert_eq!(home.verdict, Verdict::Send);
    assert_eq!(
        home.redactions.drop,
        ["actor.user.email_addr", "src_endpoint.ip"]
    );
    let mut out = eu.clone();
    home.redactions.apply(&mut out);
    assert_eq!(out["api"]["request"]["data"], "0123456789");
    assert!(out["actor"]["user"].get("email_addr").is_none());

    // An earlier allow rule decides before the withhold rule.
    let okta = Facts::of(&eu, Some("okta"));
    let allowed = policies.egress("sink:us-splunk", &okta);
    assert!(matches!(allowed.verdict, Verdict::Allowed(ref r) if r.rule == "okta-anywhere"));
    // The shortest truncation of every matching rule wins.
    assert_eq!(allowed.redactions.truncate["api.request.data"], 4);
}

#[test]
fn residency_retention_and_quotas() {
    let policies = Policies::new(vec![pack(CORP)]);
    let eu = event("eu-central-1", 3002);
    let us = event("us-east-1", 6003);
    let (rule, archives) = policies.route(&Facts::of(&eu, None)).unwrap();
    assert_eq!(
        (rule.rule.as_str(), archives),
        ("eu-archive", &["eu".to_owned()][..])
    );
    assert!(policies.route(&Facts::of(&us, None)).is_none());
    assert_eq!(policies.retention(&Facts::of(&eu, None)).unwrap().1, 2190);
    assert_eq!(policies.retention(&Facts::of(&us, None)).unwrap().1, 365);
    assert_eq!(
        policies.quotas(&Facts::of(&us, None))[0].0.rule,
        "per-tenant"
    );
}

#[test]
fn unless_and_missing_values_and_field_conditions() {
    let p = pack(
        r#"
version = "1"
[classify]
secret = ["unmapped.password"]
[[rule]]
id = "r"
action = "withhold"
match = { cloud_region = ["eu-*"] }
unless = [{ tenant_uid = ["t1"] }]
[[rule]]
id = "secrets"
action = "withhold"
match = { classified = ["secret"] }
"#,
    );
    let policies = Policies::new(vec![p]);
    let e = event("eu-west-1", 6003);
    assert!(
        policies
            .egress("export", &Facts::of(&e, None))
            .withheld()
            .is_none()
    );
    let mut other = e.clone();
    other["metadata"]["tenant_uid"] = "t2".into();
    assert!(
        policies
            .egress("export", &Facts::of(&other, None))
            .withheld()
            .is_some()
    );
    // No region: a region condition does not hold.
    let none = serde_json::json!({"class_uid": 6003});
    assert!(
        policies
            .egress("export", &Facts::of(&none, None))
            .withheld()
            .is_none()
    );
    let secret = serde_json::json!({"class_uid": 1, "unmapped": {"password": "x"}});
    let explained = policies.explain("export", &Facts::of(&secret, None));
    assert_eq!(explained[1].effect, "withheld from export");
    assert!(
        explained[0].effect.contains("does not hold"),
        "{explained:?}"
    );
}

#[test]
fn check_names_every_problem_with_its_key() {
    let p = pack(
        r#"
[[rule]]
id = "a"
action = "withhold"
archives = ["eu"]
match = { region = ["x"], class_uid = ["3002"], cloud_region = ["e*u"] }
[[rule]]
id = "a"
action = "redact"
hash = ["@pii"]
[[rule]]
id = "q"
action = "quota"
per = "planet"
"#,
    );
    let problems: BTreeMap<String, String> = p.check("policies.p").into_iter().collect();
    for key in [
        "policies.p.version",
        "policies.p.rule[0].archives",
        "policies.p.rule[0].match.region",
        "policies.p.rule[0].match.class_uid",
        "policies.p.rule[0].match.cloud_region",
        "policies.p.rule[1].id",
        "policies.p.rule[1].hash_key",
        "policies.p.rule[2].per",
        "policies.p.rule[2].events_per_sec",
    ] {
        assert!(
            problems.contains_key(key),
            "{key} missing from {problems:#?}"
        );
    }
    assert!(problems["policies.p.rule[0].archives"].contains("belongs to action route"));
    assert!(pack(CORP).check("policies.corp").is_empty());
}

#[test]
fn a_match_is_also_a_sql_predicate() {
    let p = pack(
        r#"
version = "1"
[classify]
pii = ["actor.user.email_addr"]
[[rule]]
id = "r"
action = "withhold"
match = { cloud_region = ["eu-*", "o'hare"], class_uid = [3002], classified = ["pii"] }
"#,
    );
    assert_eq!(
        p.rules[0].when.to_sql(&p.classify),
        "class_uid = 3002 AND json_get(event_json, 'actor.user.email_addr') IS NOT NULL \
         AND (starts_with(cloud_region, 'eu-') OR cloud_region = 'o''hare')"
    );
    assert_eq!(Match::default().to_sql(&p.classify), "TRUE");
}

#[test]
fn cases_pass_and_fail_with_what_differed() {
    let text = format!(
        "{CORP}\n{}",
        r#"
[[test]]
name = "eu stays"
target = "sink:us-splunk"
event = { class_uid = 3002, cloud = { region = "eu-west-1" } }
expect = { egress = "withhold", egress_rule = "eu-home", archives = ["eu"], retain_days = 2190 }
[[test]]
name = "wrong on purpose"
target = "sink:eu-x"
event = { class_uid = 6003, actor = { user = { email_addr = "a@x" } } }
expect = { egress = "withhold", dropped = ["actor.user.email_addr"], hashed = ["actor.user.email_addr"] }
"#
    );
    let results = cases::run(&pack(&text), std::path::Path::new("."));
    assert_eq!(results[0].failures, Vec::<String>::new());
    let failures = &results[1].failures;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].contains("expected withhold, got send"));
    assert!(failures[1].contains("expected hashed"));
}

#[test]
fn packs_load_from_the_config_and_from_files() {
    let dir = std::env::temp_dir().join(format!("auditfed-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pci.toml"), CORP).unwrap();
    std::fs::write(
        dir.join("bad.toml"),
        "version = \"1\"\n[[rule]]\nid = \"x\"\naction = \"retain\"\n",
    )
    .unwrap();
    let tables: BTreeMap<String, toml::Value> = toml::from_str(&format!(
        "a-file = {{ path = {:?} }}\ninline = {{ version = \"2\", rule = [{{ id = \"w\", action = \"withhold\" }}] }}",
        dir.join("pci.toml").display().to_string()
    ))
    .unwrap();
    let policies = load::from_config(&tables, std::path::Path::new(".")).unwrap();
    let names: Vec<&str> = policies.packs().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a-file", "inline"]);
    let problems = load::read_path(&dir).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].key.ends_with("bad.toml.rule[0].days"),
        "{problems:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
