//! Linux audit (auditd) records: `type=T msg=audit(EPOCH.MS:SERIAL): k=v …`,
//! raw from audit.log or inside a syslog message (audisp/auditd via syslog).

use std::collections::BTreeMap;

use crate::error::ErrorKind;

/// One parsed audit record.
#[derive(Debug, PartialEq)]
pub(crate) struct AuditRecord {
    pub(crate) record_type: String,
    pub(crate) time_ms: i64,
    pub(crate) serial: String,
    /// Every `key=value`, those inside `msg='…'` included; quotes removed,
    /// hex-encoded values decoded.
    pub(crate) fields: BTreeMap<String, String>,
    /// The enrichment suffix (after 0x1d) that `log_format=ENRICHED` adds.
    pub(crate) enriched: BTreeMap<String, String>,
}

/// Parses an audit record; `None` when the text is not one.
pub(crate) fn parse(text: &str) -> Option<Result<AuditRecord, ErrorKind>> {
    let start = text.find("type=")?;
    let text = &text[start..];
    let (record_type, rest) = text["type=".len()..].split_once(' ')?;
    let rest = rest.trim_start();
    if rest.starts_with("msg=?") {
        return Some(Err(ErrorKind::not_a(
            "auditd",
            "the record has no `msg=audit(EPOCH.MS:SERIAL)` stamp (`msg=?`)",
        )));
    }
    let rest = rest.strip_prefix("msg=audit(")?;
    // Some kernels omit the colon after the stamp: `msg=audit(…) config changed, …`.
    let Some((stamp, rest)) = rest.split_once(')') else {
        return Some(Err(ErrorKind::not_a(
            "auditd",
            "`msg=audit(` is not closed by `)`",
        )));
    };
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let Some((epoch, serial)) = stamp.split_once(':') else {
        return Some(Err(ErrorKind::not_a(
            "auditd",
            "audit stamp must be EPOCH.MS:SERIAL",
        )));
    };
    let time_ms = match epoch.split_once('.') {
        // Found by fuzzing: non-ASCII or huge stamps must be errors, not panics.
        Some((secs, frac)) if frac.bytes().all(|b| b.is_ascii_digit()) => {
            let millis: String = frac.chars().chain(std::iter::repeat('0')).take(3).collect();
            secs.parse::<i64>()
                .ok()
                .zip(millis.parse::<i64>().ok())
                .and_then(|(s, ms)| s.checked_mul(1000)?.checked_add(ms))
        }
        Some(_) => None,
        None => epoch.parse::<i64>().ok().and_then(|s| s.checked_mul(1000)),
    };
    let Some(time_ms) = time_ms else {
        return Some(Err(ErrorKind::BadTimestamp {
            field: "msg=audit(…)".into(),
            value: epoch.into(),
            reason: "not EPOCH.MS".into(),
        }));
    };
    let (body, enrichment) = match rest.split_once('\u{1d}') {
        Some((b, e)) => (b, Some(e)),
        None => (rest, None),
    };
    let mut fields = BTreeMap::new();
    parse_pairs(body, &mut fields);
    let mut enriched = BTreeMap::new();
    if let Some(e) = enrichment {
        parse_pairs(e, &mut enriched);
    }
    Some(Ok(AuditRecord {
        record_type: record_type.to_owned(),
        time_ms,
        serial: serial.to_owned(),
        fields,
        enriched,
    }))
}

fn parse_pairs(text: &str, out: &mut BTreeMap<String, String>) {
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_owned();
        let after = &rest[eq + 1..];
        let (value, next) = match after.as_bytes().first() {
            Some(b'\'') => match after[1..].find('\'') {
                Some(end) => {
                    // msg='…' holds pairs of its own (user-space records).
                    let inner = &after[1..1 + end];
                    if key == "msg" {
                        parse_pairs(inner, out);
                    }
                    (inner.to_owned(), &after[end + 2..])
                }
                None => (after[1..].to_owned(), ""),
            },
            Some(b'"') => match after[1..].find('"') {
                Some(end) => (after[1..1 + end].to_owned(), &after[end + 2..]),
                None => (after[1..].to_owned(), ""),
            },
            _ => {
                let end = after.find(' ').unwrap_or(after.len());
                (decode_hex(&after[..end]), &after[end..])
            }
        };
        if key != "msg" || !out.contains_key("msg") {
            out.insert(key, value);
        }
        rest = next.trim_start();
    }
}

/// auditd hex-encodes values with spaces or quotes (`acct=726F6F74`).
fn decode_hex(value: &str) -> String {
    if value.len() >= 2
        && value.len().is_multiple_of(2)
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        && value.bytes().any(|b| b.is_ascii_alphabetic())
        && let Ok(bytes) = hex::decode(value)
        && let Ok(text) = String::from_utf8(bytes)
        && text.chars().all(|c| !c.is_control())
    {
        return text;
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_space_record_with_nested_msg_and_enrichment() {
        let line = "type=USER_AUTH msg=audit(1783414613.119:441): pid=2124 uid=0 auid=4294967295 ses=4294967295 msg='op=pubkey acct=\"root\" exe=\"/usr/libexec/openssh/sshd-session\" hostname=? addr=172.23.112.1 terminal=ssh res=failed'\u{1d}UID=\"root\" AUID=\"unset\"";
        let rec = parse(line).unwrap().unwrap();
        assert_eq!(rec.record_type, "USER_AUTH");
        assert_eq!(rec.time_ms, 1_783_414_613_119);
        assert_eq!(rec.serial, "441");
        assert_eq!(rec.fields["acct"], "root");
        assert_eq!(rec.fields["addr"], "172.23.112.1");
        assert_eq!(rec.fields["res"], "failed");
        assert_eq!(rec.enriched["AUID"], "unset");
    }

    #[test]
    fn hex_values_are_decoded_and_non_records_ignored() {
        let rec = parse("type=USER_LOGIN msg=audit(1.5:2): acct=726F6F74 res=success")
            .unwrap()
            .unwrap();
        assert_eq!(rec.fields["acct"], "root");
        assert_eq!(rec.time_ms, 1500);
        assert!(parse("just text").is_none());
        assert!(parse("type=X msg=audit(abc:1): a=b").unwrap().is_err());
        assert!(parse("type=X msg=audit(1.é:1): a=b").unwrap().is_err());
        assert!(
            parse("type=X msg=audit(99999999999999999.1:1): a=b")
                .unwrap()
                .is_err()
        );
    }
}
