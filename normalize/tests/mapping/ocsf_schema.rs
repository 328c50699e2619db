//! Every event the mappers emit validates strictly against OCSF 1.8.0 — the
//! raw schema files vendored in schemas/ocsf/1.8.0 — including the profiles
//! it declares. The validator itself is tested to catch what it must.

use crate::support;

use serde_json::{Value, json};
use support::ocsf_validator::Validator;
use support::{crate_dir, fixtures, outcomes};

fn validator() -> Validator {
    Validator::load(&crate_dir().join("../schemas/ocsf/1.8.0"))
}

#[test]
fn every_emitted_event_is_valid_ocsf() {
    let v = validator();
    let mut problems = Vec::new();
    let mut events = 0;
    let mut classes = std::collections::BTreeSet::new();
    for (source, rel) in fixtures() {
        for (i, outcome) in outcomes(Some(source), &rel).into_iter().enumerate() {
            let Some(event) = outcome.get("event") else {
                continue;
            };
            events += 1;
            classes.insert(event["class_uid"].as_i64().unwrap());
            for p in v.validate(event) {
                problems.push(format!("{} #{i}: {p}", rel.display()));
            }
        }
    }
    assert!(events > 300, "only {events} events");
    assert_eq!(
        classes.into_iter().collect::<Vec<_>>(),
        vec![0, 3001, 3002, 3004, 3005, 3006, 6003]
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn valid_api_activity() -> Value {
    json!({
        "activity_id": 1, "category_uid": 6, "class_uid": 6003, "type_uid": 600301, "severity_id": 1,
        "time": 1, "time_dt": "1970-01-01T00:00:00.001Z",
        "metadata": {"version": "1.8.0", "product": {"name": "x"}, "profiles": ["datetime", "cloud"]},
        "actor": {"user": {"name": "alice"}},
        "api": {"operation": "CreateThing"},
        "src_endpoint": {"ip": "192.0.2.1"},
        "cloud": {"provider": "AWS"}
    })
}

#[test]
fn the_validator_accepts_a_minimal_valid_event() {
    assert_eq!(
        validator().validate(&valid_api_activity()),
        Vec::<String>::new()
    );
}

#[test]
fn the_validator_catches_what_it_must() {
    let v = validator();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "api: required",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("api"))),
        ),
        ("type_uid", Box::new(|e| e["type_uid"] = json!(600302))),
        (
            "activity_id: 7 is not one of",
            Box::new(|e| {
                e["activity_id"] = json!(7);
                e["type_uid"] = json!(600307);
            }),
        ),
        (
            "bogus: not an attribute",
            Box::new(|e| e["bogus"] = json!(1)),
        ),
        (
            "actor.user.nmae: not an attribute",
            Box::new(|e| e["actor"]["user"] = json!({"nmae": "x", "name": "y"})),
        ),
        (
            "cloud: belongs to profile `cloud`",
            Box::new(|e| e["metadata"]["profiles"] = json!(["datetime"])),
        ),
        (
            "time_dt: needs the `datetime` profile",
            Box::new(|e| e["metadata"]["profiles"] = json!(["cloud"])),
        ),
        (
            "src_endpoint.ip",
            Box::new(|e| e["src_endpoint"]["ip"] = json!("06.237.252.245")),
        ),
        (
            "time: \"1\" is not a timestamp_t",
            Box::new(|e| e["time"] = json!("1")),
        ),
        (
            "src_endpoint: needs at least one of",
            Box::new(|e| e["src_endpoint"] = json!({"port": 1})),
        ),
        (
            "metadata.version: required",
            Box::new(|e| drop(e["metadata"].as_object_mut().unwrap().remove("version"))),
        ),
        (
            "time_dt: \"yesterday\" is not a valid datetime_t",
            Box::new(|e| e["time_dt"] = json!("yesterday")),
        ),
    ];
    for (expected, mutate) in cases {
        let mut event = valid_api_activity();
        mutate(&mut event);
        let problems = v.validate(&event);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "expected `{expected}`, got {problems:?}"
        );
    }
}
