//! Inputs the fuzzers found, kept as regression tests (normalize/fuzz/README.md).

use std::path::PathBuf;

use auditfed_normalize::{Position, map_record};
use auditfed_schemas::ocsf::Event;
use auditfed_schemas::{SourceMeta, SourceType};

fn regression(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/regressions")
            .join(name),
    )
    .unwrap()
}

/// map_entra_signin found that floats in `unmapped` changed in their last
/// digit (serde_json's fast float parsing): an audit record must come out
/// exactly as it went in, so numbers are parsed with correct rounding.
#[test]
fn floats_survive_mapping_and_serialization_unchanged() {
    let input = regression("entra_signin_float_roundtrip.json");
    let event = map_record(
        SourceType::EntraSignin,
        &input,
        Position::default(),
        &SourceMeta::default(),
    )
    .unwrap();
    let json = serde_json::to_string(&event).unwrap();
    assert!(
        json.contains("-122.12094716210938"),
        "longitude altered: {json}"
    );
    let back: Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back, event);
}
