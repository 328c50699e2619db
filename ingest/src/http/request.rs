//! Just enough HTTP/1.1 for a receiver: the request head, a body by
//! `Content-Length` or chunked, answers. Limits are checked before bytes
//! are read, so an oversized body is refused without being received.

use std::io::{BufRead, ErrorKind, Read, Write};

/// Largest request head.
pub const MAX_HEAD: usize = 16 * 1024;

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path, query removed.
    pub path: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays open after the answer.
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        match self.version.as_str() {
            "HTTP/1.0" => connection.as_deref() == Some("keep-alive"),
            _ => connection.as_deref() != Some("close"),
        }
    }
}

/// Why a request could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The peer closed the connection (or went quiet) between requests.
    Closed,
    /// Not HTTP, or over a limit: answer with this status and reason, then close.
    Bad(u16, String),
}

fn io_error(e: std::io::Error) -> ReadError {
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::WouldBlock | ErrorKind::TimedOut => ReadError::Closed,
        _ => ReadError::Closed,
    }
}

/// Reads a request head.
pub fn read_head(reader: &mut impl BufRead) -> Result<Head, ReadError> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader
            .take((MAX_HEAD + 1 - head.len().min(MAX_HEAD)) as u64)
            .read_until(b'\n', &mut line)
            .map_err(io_error)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            return Err(ReadError::Bad(
                431,
                format!("request head over {MAX_HEAD} bytes"),
            ));
        }
        if line == b"\r\n" || line == b"\n" {
            if head.len() == line.len() {
                head.clear(); // blank lines before a request are allowed (RFC 9112 2.2)
                continue;
            }
            break;
        }
    }
    let text = std::str::from_utf8(&head)
        .map_err(|_| ReadError::Bad(400, "request head is not UTF-8".into()))?;
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(
            400,
            format!("not an HTTP request line: {request:?}"),
        ));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(505, format!("{version}: HTTP/1.1 only")));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, format!("not a header: {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Head {
        method: method.to_owned(),
        path: target.split('?').next().unwrap_or_default().to_owned(),
        version: version.to_owned(),
        headers,
    })
}

/// How the body comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length`.
    Fixed(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The body's framing, refused when it announces more than `max` bytes.
pub fn body_length(head: &Head, max: usize) -> Result<BodyLength, ReadError> {
    if let Some(te) = head.header("transfer-encoding") {
        if te.eq_ignore_ascii_case("chunked") {
            return Ok(BodyLength::Chunked);
        }
        return Err(ReadError::Bad(
            501,
            format!("Transfer-Encoding {te:?} not supported"),
        ));
    }
    match head.header("content-length") {
        None => Ok(BodyLength::Fixed(0)),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > max => Err(ReadError::Bad(
                413,
                format!("body of {n} bytes over max_body_bytes ({max})"),
            )),
            Ok(n) => Ok(BodyLength::Fixed(n)),
            Err(_) => Err(ReadError::Bad(400, format!("Content-Length {v:?}"))),
        },
    }
}

/// Reads the body.
pub fn read_body(
    reader: &mut impl BufRead,
    length: BodyLength,
    max: usize,
) -> Result<Vec<u8>, ReadError> {
    match length {
        BodyLength::Fixed(n) => {
            let mut body = vec![0; n];
            reader.read_exact(&mut body).map_err(io_error)?;
            Ok(body)
        }
        BodyLength::Chunked => {
            let mut body = Vec::new();
            loop {
                let mut line = Vec::new();
                reader
                    .take(1024)
                    .read_until(b'\n', &mut line)
                    .map_err(io_error)?;
                let text = String::from_utf8_lossy(&line);
                let size = text.trim().split(';').next().unwrap_or_default();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| ReadError::Bad(400, format!("bad chunk size {size:?}")))?;
                if body.len() + size > max {
                    return Err(ReadError::Bad(
                        413,
                        format!("body over max_body_bytes ({max})"),
                    ));
                }
                if size == 0 {
                    // Trailers, up to the blank line.
                    loop {
                        let mut trailer = Vec::new();
                        reader
                            .take(1024)
                            .read_until(b'\n', &mut trailer)
                            .map_err(io_error)?;
                        if trailer.is_empty() || trailer == b"\r\n" || trailer == b"\n" {
                            return Ok(body);
                        }
                    }
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..]).map_err(io_error)?;
                let mut crlf = [0u8; 2];
                reader.read_exact(&mut crlf).map_err(io_error)?;
            }
        }
    }
}

/// The reason phrase of the statuses a receiver answers.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Writes an answer with a JSON body and extra headers.
pub fn answer(
    out: &mut impl Write,
    status: u16,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
    close: bool,
) -> std::io::Result<()> {
    let body = body.to_string();
    let mut text = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        text.push_str("connection: close\r\n");
    }
    text.push_str("\r\n");
    text.push_str(&body);
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// `100 Continue`, for clients that wait for it before sending a body.
pub fn continue_100(out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    out.flush()
}

/// Compares without leaking where two tokens differ.
pub fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_bodies_and_limits() {
        let raw = b"\r\nPOST /audit?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nAuthorization: Bearer t\r\n\r\nhello";
        let mut r = std::io::BufReader::new(&raw[..]);
        let head = read_head(&mut r).unwrap();
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("POST", "/audit")
        );
        assert_eq!(head.header("authorization"), Some("Bearer t"));
        assert!(head.keep_alive());
        assert_eq!(
            body_length(&head, 4),
            Err(ReadError::Bad(
                413,
                "body of 5 bytes over max_body_bytes (4)".into()
            ))
        );
        let length = body_length(&head, 5).unwrap();
        assert_eq!(read_body(&mut r, length, 5).unwrap(), b"hello");
        assert_eq!(read_head(&mut r), Err(ReadError::Closed));

        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n";
        let mut r = std::io::BufReader::new(&chunked[..]);
        let head = read_head(&mut r).unwrap();
        assert!(!head.keep_alive());
        assert_eq!(
            read_body(&mut r, BodyLength::Chunked, 100).unwrap(),
            b"abcdefg"
        );
        let mut r = std::io::BufReader::new(&chunked[..]);
        read_head(&mut r).unwrap();
        assert!(matches!(
            read_body(&mut r, BodyLength::Chunked, 6),
            Err(ReadError::Bad(413, _))
        ));

        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(
            read_head(&mut std::io::BufReader::new(huge.as_bytes())),
            Err(ReadError::Bad(431, _))
        ));
        assert!(matches!(
            read_head(&mut std::io::BufReader::new(&b"hello\r\n\r\n"[..])),
            Err(ReadError::Bad(400, _))
        ));
        assert!(
            same_token(b"abc", b"abc") && !same_token(b"abc", b"abd") && !same_token(b"abc", b"ab")
        );
    }
}
