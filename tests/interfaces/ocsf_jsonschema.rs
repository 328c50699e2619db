//! The independent OCSF check: the `ocsf-json-schema` Python package's
//! JSON Schemas (draft 2020-12) over every golden output.

use crate::support;

use support::{root, run_python, temp_dir};

#[test]
fn every_golden_event_validates_against_the_ocsf_json_schema() {
    let Some((code, text)) = run_python("ocsf_validate.py", &root().join("normalize/tests/golden"))
    else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("validated ") && text.contains(": 0 problem(s)"),
        "{text}"
    );
}

#[test]
fn the_json_schema_check_rejects_an_invalid_event() {
    let dir = temp_dir("ocsf-neg");
    // A real golden event with one required attribute removed and one enum broken.
    let golden =
        root().join("normalize/tests/golden/k8s_audit/falco__create_service.json.golden.json");
    let mut outcomes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let event = outcomes[0]["event"].as_object_mut().unwrap();
    event.remove("severity_id");
    event.insert("activity_id".into(), serde_json::json!(42));
    std::fs::write(dir.join("bad.golden.json"), outcomes.to_string()).unwrap();
    let result = run_python("ocsf_validate.py", &dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let Some((code, text)) = result else { return };
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("severity_id"), "{text}");
}
