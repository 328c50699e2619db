//! Syslog (RFC 5424, RFC 3164 and the file formats rsyslog writes) and Linux
//! audit (auditd) records.
//!
//! Messages whose content is audit evidence are classified (see
//! [`messages`] and [`auditd`]): logons and logoffs → Authentication
//! Logon/Logoff, sudo/su → Authentication Account Switch, account tools →
//! Account Change or Group Management. Everything else becomes a Base Event
//! that keeps the whole message, with the header fields under
//! `unmapped.syslog` (or `unmapped.auditd`).
//!
//! RFC 3164 timestamps carry neither a year nor a zone: the year comes from
//! [`SourceMeta::assumed_year`] or the received time, the zone is UTC, and
//! the assumption is written to `unmapped.syslog.time_assumption`.

mod auditd;
mod header;
mod messages;

use auditfed_schemas::SourceMeta;
use auditfed_schemas::ocsf::{
    Actor, AuthFactor, Class, Event, Group, Metadata, NetworkEndpoint, Product, Service, Severity,
    Status, User,
};
use serde_json::{Map, Value, json};

use self::messages::{Kind, Meaning};
use super::endpoint;
use crate::common::{product, user_of_type};
use crate::error::ErrorKind;

/// 2: records without a source id get a derived `metadata.uid`; auditd
/// PATH records carry their `item` in it.
pub(crate) const VERSION: u32 = 2;

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

pub(crate) fn map(record: &[u8], meta: &SourceMeta) -> Result<Event, ErrorKind> {
    let text = String::from_utf8_lossy(record);
    let text = text.trim_end_matches(['\r', '\n']);
    if text.starts_with("type=") {
        return match auditd::parse(text) {
            Some(rec) => Ok(from_audit(rec?, None)),
            None => Err(ErrorKind::not_a(
                "auditd",
                "expected `type=T msg=audit(EPOCH.MS:SERIAL): …`",
            )),
        };
    }
    let hint = header::YearHint {
        year: meta.assumed_year,
        received_ms: meta.received_time,
    };
    let h = header::parse(text, hint)?;
    let mut syslog = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            syslog.insert(k.to_owned(), v);
        }
    };
    put(
        "facility",
        h.facility
            .map(|f| json!(FACILITIES.get(f as usize).copied().unwrap_or("unknown"))),
    );
    put("severity", h.severity.map(|s| json!(s)));
    put("hostname", h.hostname.map(|v| json!(v)));
    put("app_name", h.app_name.map(|v| json!(v)));
    put("proc_id", h.proc_id.map(|v| json!(v)));
    put("msg_id", h.msg_id.map(|v| json!(v)));
    put("structured_data", h.structured_data.map(|v| json!(v)));
    put("severity_word", h.severity_word.map(|v| json!(v)));
    put("time_assumption", h.assumption.as_ref().map(|v| json!(v)));

    // auditd records forwarded through syslog (audisp-syslog).
    if h.message.contains("msg=audit(")
        && let Some(rec) = auditd::parse(h.message)
    {
        let mut event = from_audit(rec?, h.hostname);
        event
            .unmapped
            .get_or_insert_with(Map::new)
            .insert("syslog".into(), Value::Object(syslog));
        return Ok(event);
    }

    let severity = match (h.severity, h.severity_word) {
        (Some(s), _) => pri_severity(s),
        (None, Some(word)) => crate::common::severity_from_level(word),
        (None, None) => Severity::Unknown,
    };
    let format = if h.msg_id.is_some() || h.structured_data.is_some() {
        "syslog (RFC 5424)"
    } else {
        "syslog (RFC 3164)"
    };
    let metadata = Metadata {
        original_time: Some(h.original_time.to_owned()),
        log_name: h
            .facility
            .and_then(|f| FACILITIES.get(f as usize))
            .map(|f| (*f).to_owned()),
        log_provider: Some("syslog".to_owned()),
        log_format: Some(format.to_owned()),
        uid: h.msg_id.map(str::to_owned).filter(|_| false),
        product: Some(Product {
            name: Some(h.app_name.unwrap_or("syslog").to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let meaning = messages::interpret(h.app_name, h.message);
    let mut event = build(meaning, h.time, severity, metadata, h.hostname, h.app_name);
    event.message = Some(h.message.to_owned());
    event.unmapped = Some(Map::from_iter([(
        "syslog".to_owned(),
        Value::Object(syslog),
    )]));
    Ok(event)
}

fn pri_severity(s: u8) -> Severity {
    match s {
        0 => Severity::Fatal,
        1 | 2 => Severity::Critical,
        3 => Severity::High,
        4 => Severity::Medium,
        5 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// An event from what a message means.
fn build(
    m: Meaning,
    time: i64,
    severity: Severity,
    metadata: Metadata,
    host: Option<&str>,
    app: Option<&str>,
) -> Event {
    let (class, activity) = match m.kind {
        Kind::Logon => (Class::Authentication, 1),
        Kind::Logoff => (Class::Authentication, 2),
        Kind::AccountSwitch => (Class::Authentication, 7),
        Kind::UserCreated => (Class::AccountChange, 1),
        Kind::UserDeleted => (Class::AccountChange, 6),
        Kind::PasswordChanged => (Class::AccountChange, 3),
        Kind::GroupCreated => (Class::GroupManagement, 6),
        Kind::GroupDeleted => (Class::GroupManagement, 5),
        Kind::UserAddedToGroup => (Class::GroupManagement, 3),
        Kind::Other => (Class::BaseEvent, 99),
    };
    // A classified message without the user it is about stays a Base Event.
    let (class, activity) = match (class, &m.user, &m.group) {
        (Class::Authentication | Class::AccountChange, None, _)
        | (Class::GroupManagement, _, None) => (Class::BaseEvent, 99),
        _ => (class, activity),
    };
    let mut event = Event::new(class, activity, time, severity, metadata);
    if let Some(ok) = m.success {
        event.set_status(if ok { Status::Success } else { Status::Failure });
    }
    if class == Class::BaseEvent {
        return event;
    }
    // root is the administrator on Linux; everyone else is a user.
    let linux_user = |name: String| {
        let type_id = if name == "root" { 2 } else { 1 };
        User {
            name: Some(name),
            ..user_of_type(type_id)
        }
    };
    event.user = m.user.map(linux_user);
    if let Some(by) = m.by {
        event.actor = Some(Actor {
            user: Some(linux_user(by)),
            ..Default::default()
        });
    }
    if let Some(g) = m.group {
        event.group = Some(Group {
            name: Some(g),
            ..Default::default()
        });
    }
    if class == Class::Authentication {
        event.service = Some(Service {
            name: Some(app.unwrap_or("login").to_owned()),
            ..Default::default()
        });
        event.dst_endpoint = host.map(|h| NetworkEndpoint {
            hostname: Some(h.to_owned()),
            ..Default::default()
        });
        if let Some(ip) = &m.src_ip {
            let (mut ep, exact) = endpoint::from_address(ip);
            if exact {
                ep.port = m.src_port;
                event.src_endpoint = Some(ep);
                event.is_remote = Some(true);
            }
        }
        match m.method.as_deref() {
            Some("password") => {
                event.auth_factors = Some(vec![AuthFactor {
                    factor_type: Some("Password".into()),
                    factor_type_id: Some(11),
                }]);
            }
            Some(other) if !other.is_empty() => {
                event.auth_protocol_id = Some(99);
                event.auth_protocol = Some(other.to_owned());
            }
            _ => {}
        }
    }
    event
}

/// An event from an auditd record.
fn from_audit(rec: auditd::AuditRecord, host: Option<&str>) -> Event {
    let f = |k: &str| {
        rec.fields
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && *v != "?" && *v != "(none)")
    };
    let success = f("res").map(|r| matches!(r, "success" | "yes" | "1"));
    let user = f("acct").or_else(|| f("id")).map(str::to_owned);
    let kind = match rec.record_type.as_str() {
        "USER_LOGIN" | "USER_AUTH" | "USER_START" => Kind::Logon,
        "USER_LOGOUT" | "USER_END" => Kind::Logoff,
        "ADD_USER" => Kind::UserCreated,
        "DEL_USER" => Kind::UserDeleted,
        "USER_CHAUTHTOK" => Kind::PasswordChanged,
        "ADD_GROUP" => Kind::GroupCreated,
        "DEL_GROUP" => Kind::GroupDeleted,
        _ => Kind::Other,
    };
    let is_group = matches!(kind, Kind::GroupCreated | Kind::GroupDeleted);
    let by = rec
        .enriched
        .get("AUID")
        .filter(|v| *v != "unset")
        .cloned()
        .or_else(|| {
            f("auid")
                .filter(|a| *a != "4294967295")
                .map(|a| format!("uid {a}"))
        });
    let meaning = Meaning {
        kind,
        user: if is_group { None } else { user.clone() },
        group: if is_group {
            user.or_else(|| f("id").map(str::to_owned))
        } else {
            None
        },
        by,
        src_ip: f("addr").map(str::to_owned),
        src_port: None,
        success,
        method: f("op").map(str::to_owned),
    };
    let stamp = format!(
        "{}.{:03}:{}",
        rec.time_ms / 1000,
        rec.time_ms % 1000,
        rec.serial
    );
    let exe = f("exe").map(|e| e.rsplit('/').next().unwrap_or(e).to_owned());
    let metadata = Metadata {
        // One audit event holds several PATH records, told apart by `item`.
        uid: Some(match f("item") {
            Some(item) => format!("{stamp}/{}/{item}", rec.record_type),
            None => format!("{stamp}/{}", rec.record_type),
        }),
        correlation_uid: Some(stamp.clone()),
        original_time: Some(stamp),
        event_code: Some(rec.record_type.clone()),
        log_provider: Some("Linux audit".to_owned()),
        log_format: Some("auditd".to_owned()),
        product: Some(product("auditd", "Linux")),
        ..Default::default()
    };
    let host = host
        .map(str::to_owned)
        .or_else(|| f("node").map(str::to_owned));
    let service = exe.clone().or_else(|| f("terminal").map(str::to_owned));
    let mut event = build(
        meaning,
        rec.time_ms,
        Severity::Informational,
        metadata,
        host.as_deref(),
        service.as_deref(),
    );
    event.message = Some(match &exe {
        Some(exe) => format!("{} by {exe}", rec.record_type),
        None => rec.record_type.clone(),
    });
    let mut auditd = Map::new();
    auditd.insert("type".into(), json!(rec.record_type));
    auditd.insert("fields".into(), json!(rec.fields));
    if !rec.enriched.is_empty() {
        auditd.insert("enriched".into(), json!(rec.enriched));
    }
    event.unmapped = Some(Map::from_iter([(
        "auditd".to_owned(),
        Value::Object(auditd),
    )]));
    event
}
