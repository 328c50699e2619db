//! JSON framing (wrappers, arrays, JSON lines, resync after bad input) and auto-detection.
#![no_main]
use auditfed_normalize::{framing::json_frames, normalize};
use auditfed_schemas::SourceMeta;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for frame in json_frames(data).into_iter().flatten() {
        // Every frame is a slice of the input.
        let start = frame.position.byte_offset as usize;
        assert!(start + frame.bytes.len() <= data.len());
    }
    let _ = normalize(None, data, &SourceMeta::default());
});
