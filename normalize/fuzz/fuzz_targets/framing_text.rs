//! Text framing of syslog/auditd input: continuation lines, inline `<PRI>` splits.
#![no_main]
use auditfed_normalize::framing::text_frames;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut last = 0;
    for frame in text_frames(data).into_iter().flatten() {
        let start = frame.position.byte_offset as usize;
        assert!(start >= last, "frames go forward");
        assert!(start + frame.bytes.len() <= data.len());
        last = start;
    }
});
