//! Golden tests: every fixture (the real samples in ../shared/samples and the
//! vendor-documentation records, see tests/fixtures/MANIFEST.tsv) normalizes
//! to exactly the committed output in tests/golden/.
//!
//! After an intended mapping change: `UPDATE_GOLDEN=1 cargo test -p
//! auditfed-normalize --test mapping golden`, then review the diff field by field
//! and bump the mapper's VERSION.

use crate::support;

use std::path::PathBuf;

use serde_json::Value;
use support::{crate_dir, fixtures, outcomes};

fn golden_path(rel: &std::path::Path) -> PathBuf {
    crate_dir()
        .join("tests/golden")
        .join(format!("{}.golden.json", rel.display()))
}

#[test]
fn every_fixture_matches_its_golden_output() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (source, rel) in fixtures() {
        let actual = Value::Array(outcomes(Some(source), &rel));
        let path = golden_path(&rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => {
                mismatches.push(format!(
                    "{}: no golden file {}",
                    rel.display(),
                    path.display()
                ));
                continue;
            }
        };
        if expected != actual {
            let (Value::Array(e), Value::Array(a)) = (&expected, &actual) else {
                unreachable!()
            };
            let first = e
                .iter()
                .zip(a)
                .position(|(x, y)| x != y)
                .unwrap_or(e.len().min(a.len()));
            mismatches.push(format!(
                "{}: differs from its golden at outcome #{first} ({} expected, {} actual)\n  expected: {}\n  actual:   {}",
                rel.display(),
                e.len(),
                a.len(),
                e.get(first).map(|v| v.to_string()).unwrap_or_default().chars().take(400).collect::<String>(),
                a.get(first).map(|v| v.to_string()).unwrap_or_default().chars().take(400).collect::<String>(),
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} fixture(s) differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn auto_detection_gives_the_same_result_as_naming_the_source() {
    for (source, rel) in fixtures() {
        let named = outcomes(Some(source), &rel);
        let auto = outcomes(None, &rel);
        for (i, (n, a)) in named.iter().zip(&auto).enumerate() {
            // An error may name `auto` instead of the source; events must be identical.
            if n.get("event").is_some() || a.get("event").is_some() {
                assert_eq!(
                    n,
                    a,
                    "{}: outcome #{i} differs under --source auto",
                    rel.display()
                );
            }
        }
        assert_eq!(named.len(), auto.len(), "{}", rel.display());
    }
}

#[test]
fn rejected_records_are_exactly_the_known_defective_ones() {
    // Each entry: fixture, and a fragment of the typed error it must give.
    let expected: &[(&str, &str)] = &[
        ("gcp_audit/plaso__gcp_logging.jsonl", "has no protoPayload"),
        ("syslog/go-libaudit__audit-rhel7.log", "(`msg=?`)"),
        ("syslog/plaso__syslog", "`MMM` is not a month"),
        (
            "okta/okta-docs__system-log-logevent-example.json",
            "2017-09-31T22:23:07.777Z",
        ),
        (
            "entra_signin/ms-docs__signin-log-schema-example.json",
            "__never__",
        ),
    ];
    let mut seen = Vec::new();
    for (source, rel) in fixtures() {
        for outcome in outcomes(Some(source), &rel) {
            if let Some(err) = outcome.get("error").and_then(Value::as_str) {
                seen.push((rel.display().to_string(), err.to_owned()));
            }
        }
    }
    for (rel, err) in &seen {
        assert!(
            expected
                .iter()
                .any(|(f, frag)| f == rel && err.contains(frag)),
            "unexpected rejection in {rel}: {err}"
        );
        assert!(err.contains("line "), "error without a position: {err}");
    }
    for (f, frag) in expected.iter().filter(|(_, frag)| *frag != "__never__") {
        assert!(
            seen.iter().any(|(rel, err)| rel == f && err.contains(frag)),
            "{f} should be rejected with `{frag}`"
        );
    }
}

#[test]
fn the_fast_canonical_encoder_agrees_with_the_reference_jcs_crate_on_every_event() {
    let mut n = 0;
    for (source, rel) in fixtures() {
        for outcome in outcomes(Some(source), &rel) {
            let Some(event) = outcome.get("event") else {
                continue;
            };
            let ours = auditfed_schemas::seal::canonical_v1(event).unwrap();
            let reference = serde_json_canonicalizer::to_vec(event).unwrap();
            assert_eq!(ours, reference, "{} differs", rel.display());
            // The fast path from the typed event gives the same bytes.
            let typed: auditfed_schemas::ocsf::Event =
                serde_json::from_value(event.clone()).unwrap();
            assert_eq!(
                auditfed_schemas::seal::canonical_event(&typed).unwrap(),
                reference,
                "{} differs (fast path)",
                rel.display()
            );
            n += 1;
        }
    }
    assert!(n > 300);
}

#[test]
fn query_columns_from_json_agree_with_query_columns_from_events() {
    use auditfed_schemas::archive::QueryColumns;
    for (source, rel) in fixtures() {
        for outcome in outcomes(Some(source), &rel) {
            let Some(json) = outcome.get("event") else {
                continue;
            };
            let event: auditfed_schemas::ocsf::Event =
                serde_json::from_value(json.clone()).unwrap();
            assert_eq!(
                QueryColumns::of_value(json),
                QueryColumns::of(&event),
                "{}",
                rel.display()
            );
        }
    }
}

/// Receipts, proofs and reports name events; every event has an id, and no
/// two events of one input share one (the source's id where it is unique,
/// else one derived from the record's position and bytes).
#[test]
fn every_golden_event_has_its_own_metadata_uid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut events = 0;
    for source in std::fs::read_dir(&dir).unwrap() {
        for file in std::fs::read_dir(source.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let outcomes: Vec<serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut seen = std::collections::HashSet::new();
            for event in outcomes.iter().filter_map(|o| o.get("event")) {
                events += 1;
                let uid = event["metadata"]["uid"].as_str().unwrap_or("");
                assert!(
                    !uid.is_empty(),
                    "{}: an event without metadata.uid",
                    path.display()
                );
                assert!(
                    seen.insert(uid.to_owned()),
                    "{}: metadata.uid {uid} twice",
                    path.display()
                );
            }
        }
    }
    assert!(events > 100, "only {events} golden events found");
}

#[test]
fn a_derived_uid_depends_on_the_position_and_the_bytes_and_nothing_else() {
    use auditfed_normalize::{Position, derived_uid};
    use auditfed_schemas::{SourceMeta, SourceType};
    let meta = SourceMeta {
        object: Some("auditfed.raw.syslog/0@42".into()),
        ..Default::default()
    };
    let at = |index| Position {
        line: index + 1,
        byte_offset: 0,
        index,
    };
    let line = b"Mar 11 00:00:00 host sshd[3]: Server listening";
    let uid = derived_uid(SourceType::Syslog, line, at(0), &meta);
    assert!(uid.starts_with("af1-") && uid.len() == 36, "{uid}");
    assert_eq!(uid, derived_uid(SourceType::Syslog, line, at(0), &meta));
    assert_ne!(uid, derived_uid(SourceType::Syslog, line, at(1), &meta));
    assert_ne!(uid, derived_uid(SourceType::Syslog, b"other", at(0), &meta));
    assert_ne!(
        uid,
        derived_uid(SourceType::Syslog, line, at(0), &SourceMeta::default())
    );
}
