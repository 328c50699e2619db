//! Splitting an input (a file, a request body, a stream chunk) into records.
//!
//! JSON sources accept, in any mix: one record per document, JSON lines,
//! concatenated documents, JSON arrays, and the wrappers the sources use
//! (`{"Records":[…]}` for CloudTrail, `{"records":[…]}` for Azure
//! diagnostic exports, `{"kind":"EventList","items":[…]}` for Kubernetes,
//! `{"value":[…]}` for Microsoft Graph). Each record keeps its exact bytes.
//!
//! Text sources (syslog, auditd) are split into messages: a line that starts
//! with a header starts a message; indented lines continue the previous one;
//! `<PRI>`-framed messages may share a line (rsyslog's forward format).
//!
//! Bad input never stops the split: the framer reports the bad span and
//! resynchronizes on the next line that can start a record.

use memchr::memchr;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ErrorKind, Position};

/// One record's bytes and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record exactly as it appears in the input.
    pub bytes: &'a [u8],
    /// Where it starts.
    pub position: Position,
    /// Set when the framer recognised a CloudTrail digest file.
    pub is_cloudtrail_digest: bool,
}

/// What the framer yields: a record, or a span it could not read.
pub type FrameResult<'a> = Result<Frame<'a>, (Position, ErrorKind)>;

/// Splits JSON input into records.
pub fn json_frames(input: &[u8]) -> Vec<FrameResult<'_>> {
    let mut out = Vec::new();
    let mut lines = LineCounter::new(input);
    let mut pos = 0;
    let mut index = 0u64;
    while let Some(start) = skip_ws(input, pos) {
        let mut stream =
            serde_json::Deserializer::from_slice(&input[start..]).into_iter::<&RawValue>();
        match stream.next() {
            Some(Ok(value)) => {
                let end = start + stream.byte_offset();
                let at = Position {
                    line: lines.line_of(start),
                    byte_offset: start as u64,
                    index,
                };
                expand(
                    value.get().as_bytes(),
                    start,
                    at,
                    &mut lines,
                    &mut index,
                    &mut out,
                );
                pos = end;
            }
            Some(Err(e)) => {
                let at = Position {
                    line: lines.line_of(start),
                    byte_offset: start as u64,
                    index,
                };
                index += 1;
                out.push(Err((
                    at,
                    ErrorKind::InvalidJson(describe_json_error(&e, at.line)),
                )));
                pos = resync_json(input, start);
            }
            None => break,
        }
    }
    out
}

/// Wrapper shapes that hold several records.
#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(rename = "Records", borrow)]
    records_upper: Option<Vec<&'a RawValue>>,
    #[serde(rename = "records", borrow)]
    records_lower: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    value: Option<Vec<&'a RawValue>>,
    kind: Option<&'a str>,
    #[serde(rename = "@odata.context")]
    odata_context: Option<&'a str>,
    #[serde(rename = "digestPublicKeyFingerprint")]
    digest_fingerprint: Option<&'a str>,
    #[serde(rename = "logFiles", borrow)]
    log_files: Option<&'a RawValue>,
    #[serde(rename = "digestStartTime")]
    digest_start: Option<&'a str>,
}

fn expand<'a>(
    value: &'a [u8],
    start: usize,
    at: Position,
    lines: &mut LineCounter<'_>,
    index: &mut u64,
    out: &mut Vec<FrameResult<'a>>,
) {
    let base = value.as_ptr() as usize;
    let mut push_children = |children: Vec<&'a RawValue>, out: &mut Vec<FrameResult<'a>>| {
        for child in children {
            let bytes = child.get().as_bytes();
            let offset = start + (bytes.as_ptr() as usize - base);
            let position = Position {
                line: lines.line_of(offset),
                byte_offset: offset as u64,
                index: *index,
            };
            *index += 1;
            out.push(Ok(Frame {
                bytes,
                position,
                is_cloudtrail_digest: false,
            }));
        }
    };
    match value.first() {
        Some(b'[') => {
            // Checked by the stream deserializer: it is a valid array.
            let children: Vec<&RawValue> = serde_json::from_slice(value).unwrap_or_default();
            push_children(children, out);
        }
        Some(b'{') => {
            let wrapper: Option<Wrapper<'_>> = serde_json::from_slice(value).ok();
            let is_digest = wrapper.as_ref().is_some_and(|w| {
                w.digest_fingerprint.is_some()
                    || (w.log_files.is_some() && w.digest_start.is_some())
            });
            let children = wrapper.and_then(|w| {
                if is_digest {
                    None
                } else if let Some(r) = w.records_upper {
                    Some(r)
                } else if let Some(r) = w.records_lower {
                    Some(r)
                } else if w.kind == Some("EventList") {
                    w.items
                } else if w.odata_context.is_some() {
                    w.value
                } else {
                    None
                }
            });
            match children {
                Some(children) => push_children(children, out),
                None => {
                    *index += 1;
                    out.push(Ok(Frame {
                        bytes: value,
                        position: at,
                        is_cloudtrail_digest: is_digest,
                    }));
                }
            }
        }
        _ => {
            *index += 1;
            out.push(Err((
                at,
                ErrorKind::InvalidJson("a record must be a JSON object, found a bare value".into()),
            )));
        }
    }
}

fn describe_json_error(e: &serde_json::Error, first_line: u64) -> String {
    // serde_json counts lines from the record's start; make them absolute.
    let line = first_line + e.line().saturating_sub(1) as u64;
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    format!("{msg} (at line {line}, column {})", e.column())
}

/// After a bad value starting at `start`, the next line that starts with
/// `{` or `[` (after indentation), so that the good records after a bad
/// JSON line, or inside a truncated array, are still read.
fn resync_json(input: &[u8], start: usize) -> usize {
    let mut pos = start;
    loop {
        match memchr(b'\n', &input[pos..]) {
            None => return input.len(),
            Some(nl) => pos += nl + 1,
        }
        if let Some(first) = skip_ws_inline(input, pos)
            && matches!(input[first], b'{' | b'[')
        {
            return first;
        }
    }
}

fn skip_ws(input: &[u8], mut pos: usize) -> Option<usize> {
    while pos < input.len() {
        match input[pos] {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            // A UTF-8 byte-order mark before the first document.
            0xEF if input[pos..].starts_with(b"\xEF\xBB\xBF") => pos += 3,
            _ => return Some(pos),
        }
    }
    None
}

fn skip_ws_inline(input: &[u8], mut pos: usize) -> Option<usize> {
    while pos < input.len() {
        match input[pos] {
            b' ' | b'\t' | b'\r' => pos += 1,
            b'\n' => return None,
            _ => return Some(pos),
        }
    }
    None
}

/// Counts lines up to a byte offset, incrementally (offsets mostly ascend).
pub(crate) struct LineCounter<'a> {
    input: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        LineCounter {
            input,
            offset: 0,
            line: 1,
        }
    }

    pub(crate) fn line_of(&mut self, offset: usize) -> u64 {
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.input[self.offset..offset]).count() as u64;
        self.offset = offset;
        self.line
    }
}

/// Splits syslog / auditd text into messages.
pub fn text_frames(input: &[u8]) -> Vec<FrameResult<'_>> {
    let mut out: Vec<FrameResult<'_>> = Vec::new();
    let mut index = 0u64;
    let mut current: OpenMessage = None;
    let mut line_no = 0u64;
    let mut pos = 0;
    while pos < input.len() {
        line_no += 1;
        let line_end = memchr(b'\n', &input[pos..]).map_or(input.len(), |i| pos + i);
        let line = &input[pos..line_end];
        // A line without a header continues the message before it (embedded
        // newlines); an indented line does too, whatever it starts with.
        let continues = current.is_some()
            && (line.first().is_some_and(|b| *b == b' ' || *b == b'\t') || !starts_message(line));
        if continues {
            if let Some(c) = current.as_mut() {
                c.1 = line_end;
            }
        } else {
            flush_text(input, &mut current, &mut out, &mut index);
            current = Some((pos, line_end, line_no));
        }
        // rsyslog's forward format: further `<PRI>`-framed messages on the same line.
        let mut search = if continues { 0 } else { 1 };
        while let Some(at) = next_inline_pri(line, search) {
            if let Some(c) = current.as_mut() {
                c.1 = pos + at;
            }
            flush_text(input, &mut current, &mut out, &mut index);
            current = Some((pos + at, line_end, line_no));
            search = at + 1;
        }
        pos = line_end + 1;
    }
    flush_text(input, &mut current, &mut out, &mut index);
    out
}

type OpenMessage = Option<(usize, usize, u64)>; // start, end, line

fn flush_text<'a>(
    input: &'a [u8],
    current: &mut OpenMessage,
    out: &mut Vec<FrameResult<'a>>,
    index: &mut u64,
) {
    if let Some((start, end, line)) = current.take() {
        let bytes = trim_end(&input[start..end]);
        if !bytes.is_empty() {
            let position = Position {
                line,
                byte_offset: start as u64,
                index: *index,
            };
            *index += 1;
            out.push(Ok(Frame {
                bytes,
                position,
                is_cloudtrail_digest: false,
            }));
        }
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Whether a line starts a new message: a PRI, an ISO or BSD timestamp, an auditd record.
fn starts_message(line: &[u8]) -> bool {
    pri_len(line).is_some()
        || line.starts_with(b"type=")
        || (line.len() >= 10 && line[..4].iter().all(u8::is_ascii_digit) && line[4] == b'-')
        || (line.len() >= 6
            && line[0].is_ascii_uppercase()
            && line[1..3].iter().all(u8::is_ascii_alphabetic)
            && line[3] == b' ')
}

/// Length of a `<PRI>` prefix followed by a timestamp or RFC 5424 version.
pub(crate) fn pri_len(line: &[u8]) -> Option<usize> {
    if line.first() != Some(&b'<') {
        return None;
    }
    let close = line.iter().take(5).position(|b| *b == b'>')?;
    if close < 2 || !line[1..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let next = *line.get(close + 1)?;
    (next.is_ascii_digit() || next.is_ascii_uppercase()).then_some(close + 1)
}

fn next_inline_pri(line: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < line.len() {
        let rel = memchr(b'<', &line[at..])?;
        let cand = at + rel;
        if cand > 0
            && pri_len(&line[cand..]).is_some()
            && line
                .get(cand + 4..cand + 8)
                .is_some_and(|s| s.iter().any(u8::is_ascii_digit))
        {
            let after = &line[cand + pri_len(&line[cand..]).unwrap_or(0)..];
            // Only a full timestamp makes a new message: `<14>2021-03-06T…`.
            if after.len() >= 10 && after[..4].iter().all(u8::is_ascii_digit) && after[4] == b'-' {
                return Some(cand);
            }
        }
        at = cand + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_bytes<'a>(frames: &[FrameResult<'a>]) -> Vec<&'a str> {
        frames
            .iter()
            .filter_map(|f| f.as_ref().ok())
            .map(|f| std::str::from_utf8(f.bytes).unwrap())
            .collect()
    }

    #[test]
    fn wrappers_arrays_and_lines_all_yield_records_with_exact_bytes() {
        let input = b"{\"Records\":[{\"a\":1}, {\"b\" : 2}]}\n[{\"c\":3}]\n{\"d\":4}{\"e\":5}\n";
        let frames = json_frames(input);
        assert_eq!(
            ok_bytes(&frames),
            vec![
                "{\"a\":1}",
                "{\"b\" : 2}",
                "{\"c\":3}",
                "{\"d\":4}",
                "{\"e\":5}"
            ]
        );
        let positions: Vec<_> = frames
            .iter()
            .map(|f| f.as_ref().unwrap().position)
            .collect();
        assert_eq!(
            positions[1],
            Position {
                line: 1,
                byte_offset: 21,
                index: 1
            }
        );
        assert_eq!(positions[2].line, 2);
        assert_eq!(positions[4].index, 4);
    }

    #[test]
    fn a_bad_line_is_reported_and_the_next_lines_still_read() {
        let input = b"{\"a\":1}\n{\"broken\": \n{\"c\":3}\nnot json\n{\"d\":4}\n";
        let frames = json_frames(input);
        assert_eq!(
            ok_bytes(&frames),
            vec!["{\"a\":1}", "{\"c\":3}", "{\"d\":4}"]
        );
        let errors: Vec<_> = frames.iter().filter_map(|f| f.as_ref().err()).collect();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].0.line, 2);
        assert_eq!(errors[1].0.line, 4);
        assert!(
            matches!(&errors[0].1, ErrorKind::InvalidJson(m) if m.contains("line 4")),
            "{errors:?}"
        );
    }

    #[test]
    fn digests_and_event_lists_are_recognised() {
        let digest = br#"{"digestStartTime":"x","logFiles":[],"digestPublicKeyFingerprint":"ab"}"#;
        let frames = json_frames(digest);
        assert!(frames[0].as_ref().unwrap().is_cloudtrail_digest);
        let list =
            br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"x":1},{"y":2}]}"#;
        assert_eq!(ok_bytes(&json_frames(list)), vec!["{\"x\":1}", "{\"y\":2}"]);
        let items_not_a_list = br#"{"kind":"Pod","items":[1]}"#;
        assert_eq!(json_frames(items_not_a_list).len(), 1);
    }

    #[test]
    fn text_messages_continue_on_indented_lines_and_split_inline_pri() {
        let input = b"Nov 18 01:15:20 host a[1]: multi\n\tline\nFeb  6 15:16:30 host b: two\n<15>2021-03-06T04:07:33Z h t one<14>2021-03-06T04:07:34Z h t two\nwith more<10>2021-03-06T04:07:35Z h t three\n";
        let frames = text_frames(input);
        assert_eq!(
            ok_bytes(&frames),
            vec![
                "Nov 18 01:15:20 host a[1]: multi\n\tline",
                "Feb  6 15:16:30 host b: two",
                "<15>2021-03-06T04:07:33Z h t one",
                "<14>2021-03-06T04:07:34Z h t two\nwith more",
                "<10>2021-03-06T04:07:35Z h t three",
            ]
        );
        assert_eq!(frames[3].as_ref().unwrap().position.line, 4);
        assert_eq!(frames[4].as_ref().unwrap().position.line, 5);
    }
}
