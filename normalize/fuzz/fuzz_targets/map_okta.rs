//! The okta mapper: any bytes give an event or a typed error, never a panic;
//! every event serializes.
#![no_main]
use auditfed_normalize::{Position, map_record};
use auditfed_schemas::{SourceMeta, SourceType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let meta = SourceMeta { assumed_year: Some(2024), ..Default::default() };
    if let Ok(event) = map_record(SourceType::Okta, data, Position::default(), &meta) {
        // What we emit reads back as the same event (no lossy serialization).
        let json = serde_json::to_string(&event).expect("an event serializes");
        let back: auditfed_schemas::ocsf::Event = serde_json::from_str(&json).expect("an event reads back");
        assert_eq!(back, event);
    }
});
