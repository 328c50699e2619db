//! Streaming record splitter: one raw record per source event, memory
//! bounded by the largest record, whatever the file size.
//!
//! JSON sources: top-level arrays yield their elements; a top-level object
//! with a wrapper array (`Records` of CloudTrail files, `records` of Azure
//! exports, `items` of Kubernetes EventLists, `value` of Graph pages) yields
//! the array's elements; any other top-level value (JSON lines,
//! concatenated JSON) is one record. Records are byte-exact slices of the
//! input. Bytes that do not start a JSON value are one bad record up to the
//! end of their line, and scanning resumes on the next line.
//!
//! Text sources (syslog): one record per non-empty line, without its line end.

use std::io::{BufRead, Read};

/// Keys whose array value holds the records of a wrapper object.
const WRAPPER_KEYS: [&[u8]; 4] = [b"Records", b"records", b"items", b"value"];

/// One piece of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A record: its byte offset in the (decompressed) input and its bytes.
    Record {
        /// Byte offset of the record's first byte.
        offset: u64,
        /// The record, unaltered.
        bytes: Vec<u8>,
    },
    /// Bytes that are not a record (not JSON, truncated, or over the size limit).
    Bad {
        /// Byte offset of the first byte.
        offset: u64,
        /// The bytes (at most the size limit).
        bytes: Vec<u8>,
        /// Why.
        reason: String,
    },
}

/// How the input is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// JSON values, arrays and wrapper objects.
    Json,
    /// Lines.
    Lines,
}

/// Splits `input`, calling `out` for each piece; `max_record` bounds the
/// bytes kept per record (longer ones become [`Piece::Bad`], truncated).
pub fn split(
    input: &mut dyn BufRead,
    framing: Framing,
    max_record: usize,
    out: &mut dyn FnMut(Piece) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match framing {
        Framing::Lines => split_lines(input, max_record, out),
        Framing::Json => {
            let mut scanner = JsonScanner::new(max_record);
            loop {
                let chunk = input.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                for &b in chunk {
                    if let Some(piece) = scanner.push(b) {
                        out(piece)?;
                    }
                }
                input.consume(n);
            }
            if let Some(piece) = scanner.finish() {
                out(piece)?;
            }
            Ok(())
        }
    }
}

fn split_lines(
    input: &mut dyn BufRead,
    max_record: usize,
    out: &mut dyn FnMut(Piece) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut offset = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bounded: read at most max_record + 1 bytes of the line, skip the rest.
        let mut total = 0u64;
        let mut limited = Read::take(&mut *input, max_record as u64 + 1);
        let n = limited.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        total += n as u64;
        let complete = line.last() == Some(&b'\n');
        if !complete && n > max_record {
            // Over the limit: skip to the end of the line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                let m = Read::take(&mut *input, 64 * 1024).read_until(b'\n', &mut sink)?;
                total += m as u64;
                if m == 0 || sink.last() == Some(&b'\n') {
                    break;
                }
            }
            line.truncate(max_record);
            out(Piece::Bad {
                offset,
                bytes: std::mem::take(&mut line),
                reason: format!(
                    "line of {total} bytes exceeds the record size limit of {max_record} bytes; its first {max_record} bytes are kept"
                ),
            })?;
            offset += total;
            continue;
        }
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if line[..end].iter().any(|b| !b.is_ascii_whitespace()) {
            out(Piece::Record {
                offset,
                bytes: line[..end].to_vec(),
            })?;
        }
        offset += total;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Between top-level values.
    TopValue,
    /// Inside a value; the stack says where.
    Inside,
    /// Skipping a bad line.
    BadLine,
}

/// Incremental JSON splitter (a byte at a time; keeps only the current record).
struct JsonScanner {
    max: usize,
    pos: u64,
    expect: Expect,
    /// Open containers: `{` or `[`.
    stack: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// The top-level value being captured (unless a wrapper array was found in it).
    top: Capture,
    /// Depth of the array whose elements are records (1: top-level array, 2: wrapper array).
    record_array_depth: Option<usize>,
    element: Option<Capture>,
    /// Key tracking in the top-level object.
    key: Vec<u8>,
    in_key: bool,
    after_key: bool,
    last_key_is_wrapper: bool,
    /// The current top-level object held a wrapper array: its envelope is not a record.
    wrapper_done: bool,
}

struct Capture {
    offset: u64,
    bytes: Vec<u8>,
    size: u64,
}

impl Capture {
    fn new(offset: u64) -> Capture {
        Capture {
            offset,
            bytes: Vec::new(),
            size: 0,
        }
    }
    fn push(&mut self, b: u8, max: usize) {
        self.size += 1;
        if self.bytes.len() < max {
            self.bytes.push(b);
        }
    }
    fn into_piece(self, max: usize) -> Piece {
        if self.size as usize > max {
            Piece::Bad {
                offset: self.offset,
                reason: format!(
                    "record of {} bytes exceeds the record size limit of {max} bytes; its first {max} bytes are kept",
                    self.size
                ),
                bytes: self.bytes,
            }
        } else {
            Piece::Record {
                offset: self.offset,
                bytes: self.bytes,
            }
        }
    }
}

impl JsonScanner {
    fn new(max: usize) -> JsonScanner {
        JsonScanner {
            max,
            pos: 0,
            expect: Expect::TopValue,
            stack: Vec::new(),
            in_string: false,
            escaped: false,
            top: Capture::new(0),
            record_array_depth: None,
            element: None,
            key: Vec::new(),
            in_key: false,
            after_key: false,
            last_key_is_wrapper: false,
            wrapper_done: false,
        }
    }

    fn push(&mut self, b: u8) -> Option<Piece> {
        let at = self.pos;
        self.pos += 1;
        match self.expect {
            Expect::BadLine => {
                if b == b'\n' {
                    self.expect = Expect::TopValue;
                    return Some(self.top_piece_bad("not the start of a JSON value"));
                }
                self.top.push(b, self.max);
                None
            }
            Expect::TopValue => {
                if b.is_ascii_whitespace() {
                    return None;
                }
                self.top = Capture::new(at);
                self.top.push(b, self.max);
                match b {
                    b'{' | b'[' => {
                        self.expect = Expect::Inside;
                        self.stack.push(b);
                        self.record_array_depth = (b == b'[').then_some(1);
                        self.in_key = false;
                        self.after_key = false;
                        self.last_key_is_wrapper = false;
                        None
                    }
                    _ => {
                        self.expect = Expect::BadLine;
                        None
                    }
                }
            }
            Expect::Inside => self.inside(b, at),
        }
    }

    fn inside(&mut self, b: u8, at: u64) -> Option<Piece> {
        let depth = self.stack.len();
        // Capture into the element or the top-level value.
        let in_records = self.record_array_depth == Some(depth);
        if self.element.is_none()
            && in_records
            && !self.in_string
            && !b.is_ascii_whitespace()
            && b != b','
            && b != b']'
        {
            self.element = Some(Capture::new(at));
        }
        if let Some(e) = &mut self.element {
            e.push(b, self.max);
        } else if self.record_array_depth.is_none() {
            self.top.push(b, self.max);
        }

        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.in_key {
                    self.in_key = false;
                    self.after_key = true;
                    self.last_key_is_wrapper = WRAPPER_KEYS.contains(&self.key.as_slice());
                }
            } else if self.in_key && self.key.len() < 16 {
                self.key.push(b);
            }
            return None;
        }
        match b {
            b'"' => {
                self.in_string = true;
                // A key of the top-level object: at depth 1, unless it is a key's value.
                if depth == 1 && self.stack[0] == b'{' {
                    if self.after_key {
                        self.after_key = false;
                    } else {
                        self.in_key = true;
                        self.key.clear();
                    }
                }
                None
            }
            b':' if depth == 1 => None,
            b'{' | b'[' => {
                if depth == 1
                    && b == b'['
                    && self.stack[0] == b'{'
                    && self.after_key
                    && self.last_key_is_wrapper
                    && self.record_array_depth.is_none()
                {
                    // A wrapper array: its elements are the records; the envelope is dropped.
                    self.record_array_depth = Some(2);
                }
                self.after_key = false;
                self.stack.push(b);
                None
            }
            b'}' | b']' => {
                self.stack.pop();
                let depth = self.stack.len();
                // An element that was a container ends when we are back at the array's depth.
                if self.record_array_depth == Some(depth)
                    && let Some(e) = self.element.take()
                {
                    return Some(e.into_piece(self.max));
                }
                if self.record_array_depth == Some(depth + 1) {
                    // The record array itself closed (a scalar element may end here).
                    let piece = self.element.take().map(|e| {
                        let mut e = e;
                        e.bytes.pop();
                        e.size -= 1;
                        e.into_piece(self.max)
                    });
                    if depth == 0 {
                        self.expect = Expect::TopValue;
                        self.record_array_depth = None;
                    } else {
                        // Back in the wrapper object: no more records until another wrapper array.
                        self.record_array_depth = None;
                        self.wrapper_done = true;
                    }
                    return piece;
                }
                if depth == 0 {
                    self.expect = Expect::TopValue;
                    let wrapped = self.wrapper_done;
                    self.wrapper_done = false;
                    self.record_array_depth = None;
                    if !wrapped {
                        let top = std::mem::replace(&mut self.top, Capture::new(0));
                        return Some(top.into_piece(self.max));
                    }
                }
                self.after_key = false;
                None
            }
            b',' => {
                self.after_key = false;
                if self.record_array_depth == Some(depth)
                    && let Some(mut e) = self.element.take()
                {
                    // A scalar element ends at the comma.
                    e.bytes.pop();
                    e.size -= 1;
                    return Some(e.into_piece(self.max));
                }
                None
            }
            _ => {
                if !b.is_ascii_whitespace() && depth == 1 {
                    self.after_key = false;
                }
                None
            }
        }
    }

    fn top_piece_bad(&mut self, reason: &str) -> Piece {
        let top = std::mem::replace(&mut self.top, Capture::new(0));
        Piece::Bad {
            offset: top.offset,
            bytes: top.bytes,
            reason: reason.to_owned(),
        }
    }

    fn finish(&mut self) -> Option<Piece> {
        match self.expect {
            Expect::TopValue => None,
            Expect::BadLine => Some(self.top_piece_bad("not the start of a JSON value")),
            Expect::Inside => {
                let capture = self
                    .element
                    .take()
                    .unwrap_or_else(|| std::mem::replace(&mut self.top, Capture::new(0)));
                Some(Piece::Bad {
                    offset: capture.offset,
                    bytes: capture.bytes,
                    reason: "truncated JSON: the input ends inside a value".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], framing: Framing, max: usize, chunk: usize) -> Vec<Piece> {
        let mut reader = std::io::BufReader::with_capacity(chunk, input);
        let mut out = Vec::new();
        split(&mut reader, framing, max, &mut |p| {
            out.push(p);
            Ok(())
        })
        .unwrap();
        out
    }

    /// Splits with every chunk size from 1 byte up: the result may not depend on it.
    fn pieces(input: &[u8], framing: Framing, max: usize) -> Vec<Piece> {
        let whole = run(input, framing, max, 1 << 16);
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(run(input, framing, max, chunk), whole, "chunk {chunk}");
        }
        whole
    }

    fn record(offset: u64, bytes: &str) -> Piece {
        Piece::Record {
            offset,
            bytes: bytes.as_bytes().to_vec(),
        }
    }

    #[test]
    fn wrapper_arrays_yield_their_elements_byte_exact() {
        let input = r#"{"Records":[{"a":"x,]}"} , {"b":[1,{"c":2}]}],"extra":{"Records":[9]}}"#;
        let out = pieces(input.as_bytes(), Framing::Json, 1000);
        assert_eq!(
            out,
            vec![
                record(12, r#"{"a":"x,]}"}"#),
                record(27, r#"{"b":[1,{"c":2}]}"#)
            ]
        );
        for key in ["records", "items", "value"] {
            let input = format!(r#"{{"kind":"EventList","{key}":[{{"n":1}},{{"n":2}}]}}"#);
            assert_eq!(
                pieces(input.as_bytes(), Framing::Json, 1000).len(),
                2,
                "{key}"
            );
        }
    }

    #[test]
    fn arrays_lines_and_concatenated_values() {
        let input = b"[{\"a\":1},{\"b\":\"\\\"}\"}]\n{\"c\":[\"Records\"]}\n{\"d\":{\"Records\":[1]}}{\"e\":1}";
        let out = pieces(input, Framing::Json, 1000);
        let texts: Vec<String> = out
            .iter()
            .map(|p| match p {
                Piece::Record { bytes, .. } => String::from_utf8(bytes.clone()).unwrap(),
                Piece::Bad { reason, .. } => panic!("{reason}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                r#"{"a":1}"#,
                r#"{"b":"\"}"}"#,
                r#"{"c":["Records"]}"#,
                r#"{"d":{"Records":[1]}}"#,
                r#"{"e":1}"#
            ]
        );
    }

    #[test]
    fn garbage_is_one_bad_piece_per_line_and_scanning_resumes() {
        let input = b"{\"a\":1}\nnot json at all\n{\"b\":2}\n{\"c\":";
        let out = pieces(input, Framing::Json, 1000);
        assert_eq!(out[0], record(0, r#"{"a":1}"#));
        assert!(
            matches!(&out[1], Piece::Bad { offset: 8, bytes, reason } if bytes == b"not json at all" && reason.contains("not the start")),
            "{:?}",
            out[1]
        );
        assert_eq!(out[2], record(24, r#"{"b":2}"#));
        assert!(
            matches!(&out[3], Piece::Bad { offset: 32, reason, .. } if reason.contains("truncated")),
            "{:?}",
            out[3]
        );
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn oversized_records_are_bad_and_truncated() {
        let input = br#"[{"a":"0123456789"},{"b":1}]"#;
        let out = pieces(input, Framing::Json, 10);
        assert!(
            matches!(&out[0], Piece::Bad { offset: 1, bytes, reason } if bytes.len() == 10 && reason.contains("18 bytes")),
            "{:?}",
            out[0]
        );
        assert_eq!(out[1], record(20, r#"{"b":1}"#));
    }

    #[test]
    fn lines() {
        let input = b"<13>one\r\n\n  \n<13>two\n0123456789abcdef\nlast";
        let out = pieces(input, Framing::Lines, 12);
        assert_eq!(out[0], record(0, "<13>one"));
        assert_eq!(out[1], record(13, "<13>two"));
        assert!(
            matches!(&out[2], Piece::Bad { offset: 21, bytes, .. } if bytes == b"0123456789ab"),
            "{:?}",
            out[2]
        );
        assert_eq!(out[3], record(38, "last"));
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn a_real_cloudtrail_file_splits_into_its_records() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../normalize/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_log.json"
        );
        let bytes = std::fs::read(path).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let expected = doc["Records"].as_array().unwrap();
        let out = pieces(&bytes, Framing::Json, 1 << 20);
        assert_eq!(out.len(), expected.len());
        for (piece, want) in out.iter().zip(expected) {
            let Piece::Record { offset, bytes: rec } = piece else {
                panic!("{piece:?}")
            };
            let o = *offset as usize;
            assert_eq!(&bytes[o..o + rec.len()], rec.as_slice());
            assert_eq!(
                &serde_json::from_slice::<serde_json::Value>(rec).unwrap(),
                want
            );
        }
    }
}
