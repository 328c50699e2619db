//! Syslog headers: RFC 5424, RFC 3164 (with or without PRI, as sent or as
//! written to files), rsyslog's RFC 3339 file and forward formats, and
//! ChromeOS's severity-word variant.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::error::ErrorKind;
use crate::framing::pri_len;

/// A parsed syslog header and the message after it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Header<'a> {
    pub(crate) facility: Option<u8>,
    pub(crate) severity: Option<u8>,
    pub(crate) time: i64,
    pub(crate) original_time: &'a str,
    /// Set when the timestamp lacked a year or a zone and one was assumed.
    pub(crate) assumption: Option<String>,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) app_name: Option<&'a str>,
    pub(crate) proc_id: Option<&'a str>,
    pub(crate) msg_id: Option<&'a str>,
    pub(crate) structured_data: Option<&'a str>,
    /// A severity word some formats put before the tag (`INFO`, `ERR`).
    pub(crate) severity_word: Option<&'a str>,
    pub(crate) message: &'a str,
}

/// What the caller knows about when the record was received: the year to
/// assume for RFC 3164 timestamps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct YearHint {
    pub(crate) year: Option<i32>,
    pub(crate) received_ms: Option<i64>,
}

pub(crate) fn parse<'a>(text: &'a str, hint: YearHint) -> Result<Header<'a>, ErrorKind> {
    let mut h = Header::default();
    let mut rest = text;
    if let Some(len) = pri_len(text.as_bytes()) {
        let pri: u16 = text[1..len - 1]
            .parse()
            .map_err(|_| bad_header("PRI is not a number"))?;
        if pri > 191 {
            return Err(bad_header(&format!("PRI {pri} is over 191")));
        }
        h.facility = Some((pri / 8) as u8);
        h.severity = Some((pri % 8) as u8);
        rest = &text[len..];
        if let Some(after) = rest.strip_prefix("1 ") {
            return rfc5424(h, after);
        }
    }
    let (time_text, after) = if rest.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        split_token(rest)
    } else {
        // "Mmm dd hh:mm:ss[.fff]" — the day may be space-padded.
        let end = bsd_timestamp_len(rest)
            .ok_or_else(|| bad_header("no RFC 3339 or `Mmm dd hh:mm:ss` timestamp"))?;
        (&rest[..end], &rest[end..])
    };
    let time_text = time_text.trim_end_matches(':');
    h.original_time = time_text;
    let (time, assumption) = parse_time(time_text, hint)?;
    h.time = time;
    h.assumption = assumption;
    let mut rest = after
        .strip_prefix(':')
        .unwrap_or(after)
        .trim_start_matches(' ');
    // HOST, unless the next token is already the tag (`kernel: …`) or a severity word.
    let (first, after_first) = split_token(rest);
    if !first.is_empty()
        && !first.ends_with(':')
        && !first.contains('[')
        && !is_severity_word(first)
    {
        h.hostname = Some(first);
        rest = after_first;
    }
    let (word, after_word) = split_token(rest);
    if is_severity_word(word) {
        h.severity_word = Some(word);
        rest = after_word;
    }
    // TAG[PID]: MSG
    let (tag, after_tag) = split_token(rest);
    if let Some(tag) = tag.strip_suffix(':').filter(|t| !t.is_empty()) {
        let (name, pid) = match tag.split_once('[') {
            Some((name, pid)) => (name, pid.strip_suffix(']')),
            None => (tag, None),
        };
        h.app_name = Some(name);
        h.proc_id = pid;
        rest = after_tag;
    }
    h.message = rest.trim_start_matches(' ');
    Ok(h)
}

fn rfc5424<'a>(mut h: Header<'a>, text: &'a str) -> Result<Header<'a>, ErrorKind> {
    let nil = |s: &'a str| (s != "-").then_some(s);
    let (ts, rest) = split_token(text);
    let (host, rest) = split_token(rest);
    let (app, rest) = split_token(rest);
    let (proc_id, rest) = split_token(rest);
    let (msg_id, rest) = split_token(rest);
    if msg_id.is_empty() {
        return Err(bad_header("RFC 5424 header is incomplete"));
    }
    h.original_time = ts;
    if ts == "-" {
        return Err(bad_header("RFC 5424 message without a timestamp"));
    }
    h.time = parse_time(
        ts,
        YearHint {
            year: None,
            received_ms: None,
        },
    )?
    .0;
    h.hostname = nil(host);
    h.app_name = nil(app);
    h.proc_id = nil(proc_id);
    h.msg_id = nil(msg_id);
    let (sd, msg) = structured_data(rest)?;
    h.structured_data = sd;
    h.message = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    Ok(h)
}

/// `-` or one or more `[id k="v" …]` elements (with `\]` escapes).
fn structured_data(text: &str) -> Result<(Option<&str>, &str), ErrorKind> {
    if let Some(rest) = text.strip_prefix('-') {
        return Ok((None, rest.strip_prefix(' ').unwrap_or(rest)));
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while bytes.get(i) == Some(&b'[') {
        let mut in_quotes = false;
        i += 1;
        loop {
            match bytes.get(i) {
                None => return Err(bad_header("unterminated structured data")),
                Some(b'\\') => i += 2,
                Some(b'"') => {
                    in_quotes = !in_quotes;
                    i += 1;
                }
                Some(b']') if !in_quotes => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
    if i == 0 {
        return Err(bad_header("RFC 5424 structured data must be `-` or `[…]`"));
    }
    let rest = &text[i..];
    Ok((Some(&text[..i]), rest.strip_prefix(' ').unwrap_or(rest)))
}

fn split_token(text: &str) -> (&str, &str) {
    match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    }
}

fn is_severity_word(word: &str) -> bool {
    matches!(
        word,
        "EMERG"
            | "ALERT"
            | "CRIT"
            | "ERR"
            | "ERROR"
            | "WARNING"
            | "WARN"
            | "NOTICE"
            | "INFO"
            | "DEBUG"
    )
}

fn bsd_timestamp_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    // ASCII only: the slices taken of it must fall on character boundaries.
    if b.len() < 15
        || b[3] != b' '
        || !b[..3].iter().all(u8::is_ascii_alphabetic)
        || !b[..15].is_ascii()
    {
        return None;
    }
    let mut end = 15;
    if b.get(end) == Some(&b'.') {
        end += 1;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    Some(end)
}

fn bad_header(reason: &str) -> ErrorKind {
    ErrorKind::not_a("syslog", reason.to_owned())
}

fn parse_time(text: &str, hint: YearHint) -> Result<(i64, Option<String>), ErrorKind> {
    let bad = |reason: String| ErrorKind::BadTimestamp {
        field: "timestamp".into(),
        value: text.into(),
        reason,
    };
    if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok((t.timestamp_millis(), None));
        }
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|e| bad(e.to_string()))?;
        return Ok((
            naive.and_utc().timestamp_millis(),
            Some("no UTC offset in the record; UTC assumed".into()),
        ));
    }
    // RFC 3164: "Mmm dd hh:mm:ss", no year, no zone.
    let month = match &text[..3] {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        other => return Err(bad(format!("`{other}` is not a month"))),
    };
    let day: u32 = text[4..6]
        .trim()
        .parse()
        .map_err(|_| bad("day is not a number".into()))?;
    let clock =
        NaiveTime::parse_from_str(&text[7..], "%H:%M:%S%.f").map_err(|e| bad(e.to_string()))?;
    let received = hint
        .received_ms
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    let Some(mut year) = hint.year.or(received.map(|r| r.year())) else {
        return Err(bad(
            "RFC 3164 timestamps have no year; give the year (--year) or the received time".into(),
        ));
    };
    let build = |year: i32| {
        NaiveDate::from_ymd_opt(year, month, day)
            .map(|d| Utc.from_utc_datetime(&d.and_time(clock)))
            .ok_or_else(|| bad(format!("no such date in {year}")))
    };
    let mut time = build(year)?;
    // A December record received in January belongs to the previous year.
    if let Some(received) = received
        && hint.year.is_none()
        && time > received + chrono::Duration::days(1)
    {
        year -= 1;
        time = build(year)?;
    }
    Ok((
        time.timestamp_millis(),
        Some(format!(
            "no year or UTC offset in the record; year {year} and UTC assumed"
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HINT: YearHint = YearHint {
        year: Some(2024),
        received_ms: None,
    };

    #[test]
    fn rfc5424_with_structured_data() {
        let h = parse(r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\]"] An application event"#, HINT).unwrap();
        assert_eq!((h.facility, h.severity), (Some(20), Some(5)));
        assert_eq!(h.time, 1_065_910_455_003);
        assert_eq!(h.hostname, Some("mymachine.example.com"));
        assert_eq!(h.app_name, Some("evntslog"));
        assert_eq!(h.proc_id, None);
        assert_eq!(h.msg_id, Some("ID47"));
        assert!(h.structured_data.unwrap().ends_with(r#"App\]"]"#));
        assert_eq!(h.message, "An application event");
    }

    #[test]
    fn rfc3164_variants() {
        let h = parse(
            "<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8",
            HINT,
        )
        .unwrap();
        assert_eq!(
            (h.hostname, h.app_name, h.proc_id),
            (Some("mymachine"), Some("su"), Some("123"))
        );
        assert!(h.assumption.as_deref().unwrap().contains("2024"));
        let h = parse("Feb  6 15:16:30 victoria process[2085]: Test", HINT).unwrap();
        assert_eq!(h.hostname, Some("victoria"));
        let h = parse("Nov 18 08:30:20 kernel: [997.390602] sda2", HINT).unwrap();
        assert_eq!(
            (h.hostname, h.app_name, h.message),
            (None, Some("kernel"), "[997.390602] sda2")
        );
        let h = parse(
            "2016-10-25T12:37:23.297265-07:00 INFO periodic_scheduler[13707]: cleanup",
            HINT,
        )
        .unwrap();
        assert_eq!(
            (h.severity_word, h.app_name),
            (Some("INFO"), Some("periodic_scheduler"))
        );
        let err = parse("MMM 22 07:54:32 host a: b", HINT).unwrap_err();
        assert!(err.to_string().contains("not a month"), "{err}");
        let err = parse("Feb 29 01:15:43: leap", HINT.with_year(2023)).unwrap_err();
        assert!(err.to_string().contains("no such date in 2023"), "{err}");
    }

    #[test]
    fn non_ascii_where_a_timestamp_should_be_is_an_error_not_a_panic() {
        // Found by the map_syslog fuzz target: a multi-byte character inside the first 15 bytes.
        let err = parse("Jan 1é 00:00:00 host app: msg", HINT).unwrap_err();
        assert!(err.to_string().contains("timestamp"), "{err}");
    }

    #[test]
    fn year_rolls_back_for_december_records_received_in_january() {
        let jan_2025 = 1_735_776_000_000; // 2025-01-02T00:00:00Z
        let h = parse(
            "Dec 31 23:59:59 h a: x",
            YearHint {
                year: None,
                received_ms: Some(jan_2025),
            },
        )
        .unwrap();
        assert_eq!(h.time, 1_735_689_599_000); // 2024-12-31T23:59:59Z
    }

    impl YearHint {
        fn with_year(self, year: i32) -> YearHint {
            YearHint {
                year: Some(year),
                ..self
            }
        }
    }
}
