//! Helpers shared by the mappers: taking fields out of a source record (so
//! that whatever is left lands in `unmapped`), reading timestamps, and
//! building the objects every source fills the same way.

use auditfed_schemas::ocsf::{
    Account, HttpRequest, NetworkEndpoint, Product, Severity, Unmapped, User,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::error::ErrorKind;

/// A source JSON object that mapped fields are *taken* out of.
///
/// Whatever is still in it when mapping ends is what the mapper did not
/// understand: it goes to the event's `unmapped`, so nothing is dropped.
#[derive(Debug, Default)]
pub(crate) struct Obj(pub(crate) Map<String, Value>);

impl Obj {
    /// Parses a record that must be a JSON object.
    pub(crate) fn parse(bytes: &[u8], expected: &'static str) -> Result<Obj, ErrorKind> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Obj(map)),
            Ok(other) => Err(ErrorKind::not_a(
                expected,
                format!("expected a JSON object, found {}", kind_of(&other)),
            )),
            Err(e) => Err(ErrorKind::InvalidJson(e.to_string())),
        }
    }

    /// Whether the field is present (with any value).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Borrows a string field without taking it.
    pub(crate) fn peek_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// Takes a string field; other types stay in place (and end up unmapped).
    pub(crate) fn str(&mut self, key: &str) -> Option<String> {
        // One lookup on the common path; a non-string (rare) is put back.
        match self.0.remove(key)? {
            Value::String(s) => Some(s),
            other => {
                self.0.insert(key.to_owned(), other);
                None
            }
        }
    }

    /// Takes a non-empty string field; an empty string is taken and dropped
    /// (the raw record still holds it).
    pub(crate) fn nonempty(&mut self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.is_empty())
    }

    /// Takes a string or number field as a string.
    pub(crate) fn text(&mut self, key: &str) -> Option<String> {
        match self.0.get(key) {
            Some(Value::Number(n)) => {
                let s = n.to_string();
                self.0.remove(key);
                Some(s)
            }
            _ => self.nonempty(key),
        }
    }

    /// Takes an integer field given as a number or a numeric string.
    pub(crate) fn int(&mut self, key: &str) -> Option<i64> {
        let v = match self.0.get(key)? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        self.0.remove(key);
        Some(v)
    }

    /// Takes a boolean field given as a bool or `"true"`/`"false"`.
    pub(crate) fn bool(&mut self, key: &str) -> Option<bool> {
        let v = match self.0.get(key)? {
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return None,
        };
        self.0.remove(key);
        Some(v)
    }

    /// Takes an object field; the caller puts back what it did not map with [`Obj::put_rest`].
    pub(crate) fn obj(&mut self, key: &str) -> Option<Obj> {
        match self.0.get(key) {
            Some(Value::Object(_)) => match self.0.remove(key) {
                Some(Value::Object(m)) => Some(Obj(m)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Takes any value.
    pub(crate) fn value(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key).filter(|v| !v.is_null())
    }

    /// Takes an array field.
    pub(crate) fn array(&mut self, key: &str) -> Option<Vec<Value>> {
        match self.0.get(key) {
            Some(Value::Array(_)) => match self.0.remove(key) {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        }
    }

    /// Puts a partly mapped sub-object back under `key`, if anything is left of it.
    pub(crate) fn put_rest(&mut self, key: &str, rest: Obj) {
        if !rest.0.is_empty() {
            self.0.insert(key.to_owned(), Value::Object(rest.0));
        }
    }

    /// What is left: the event's `unmapped` (`None` when everything was mapped).
    pub(crate) fn into_unmapped(self) -> Option<Unmapped> {
        (!self.0.is_empty()).then_some(self.0)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads an RFC 3339 timestamp as epoch milliseconds.
pub(crate) fn rfc3339_ms(field: &str, value: &str) -> Result<i64, ErrorKind> {
    DateTime::parse_from_rfc3339(value)
        .or_else(|_| {
            // Some sources omit the zone (Azure's `eventTimestamp` in older
            // exports): they are UTC by documentation.
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|n| n.and_utc().fixed_offset())
        })
        .map(|t| t.timestamp_millis())
        .map_err(|e| ErrorKind::BadTimestamp {
            field: field.to_owned(),
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

/// Takes a required RFC 3339 timestamp field: `(epoch ms, original text)`.
pub(crate) fn take_time(obj: &mut Obj, field: &str) -> Result<(i64, String), ErrorKind> {
    let text = obj.str(field).ok_or_else(|| ErrorKind::missing(field))?;
    Ok((rfc3339_ms(field, &text)?, text))
}

/// Epoch milliseconds as RFC 3339 UTC with milliseconds (`datetime` profile).
pub(crate) fn ms_to_rfc3339(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The product that reported the event.
pub(crate) fn product(name: &str, vendor: &str) -> Product {
    Product {
        name: Some(name.to_owned()),
        vendor_name: Some(vendor.to_owned()),
        ..Default::default()
    }
}

/// The HTTP request of an event that only knows its user agent.
pub(crate) fn http_user_agent(ua: Option<String>) -> Option<HttpRequest> {
    ua.map(|ua| HttpRequest {
        user_agent: Some(ua),
        ..Default::default()
    })
}

/// The source endpoint of a call that a service made itself (no caller address).
pub(crate) fn service_endpoint(name: &str) -> NetworkEndpoint {
    NetworkEndpoint {
        svc_name: Some(name.to_owned()),
        ..Default::default()
    }
}

/// A user with `type`/`type_id` set consistently.
pub(crate) fn user_of_type(type_id: i32) -> User {
    let caption = match type_id {
        1 => "User",
        2 => "Admin",
        3 => "System",
        4 => "Service",
        99 => "Other",
        _ => "Unknown",
    };
    User {
        type_id: Some(type_id),
        r#type: Some(caption.to_owned()),
        ..Default::default()
    }
}

/// An account with `type`/`type_id` set from the OCSF account type enum.
pub(crate) fn account(uid: Option<String>, name: Option<String>, type_id: i32) -> Account {
    let caption = match type_id {
        3 => "AWS IAM User",
        4 => "AWS IAM Role",
        5 => "GCP Account",
        6 => "Azure AD Account",
        9 => "Linux Account",
        10 => "AWS Account",
        11 => "GCP Project",
        13 => "Azure Subscription",
        99 => "Other",
        _ => "Unknown",
    };
    Account {
        uid,
        name,
        type_id: Some(type_id),
        r#type: Some(caption.to_owned()),
    }
}

/// OCSF activity for a verb-shaped operation name (`CreateUser`,
/// `storage.buckets.delete`, `patch`): 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
pub(crate) fn crud_activity(operation: &str) -> i32 {
    // The verb is the first word of a CamelCase name, or the last segment of a dotted one.
    let verb = operation
        .rsplit(['.', '/', ':'])
        .next()
        .unwrap_or(operation);
    let verb_lower = verb.to_ascii_lowercase();
    const CREATE: [&str; 12] = [
        "create", "put", "post", "add", "insert", "register", "run", "start", "launch", "import",
        "upload", "allocate",
    ];
    const READ: [&str; 9] = [
        "get", "list", "describe", "read", "lookup", "search", "query", "watch", "head",
    ];
    const UPDATE: [&str; 14] = [
        "update",
        "modify",
        "patch",
        "set",
        "change",
        "edit",
        "replace",
        "attach",
        "detach",
        "enable",
        "disable",
        "associate",
        "stop",
        "reset",
    ];
    const DELETE: [&str; 7] = [
        "delete",
        "remove",
        "terminate",
        "destroy",
        "deregister",
        "purge",
        "deletecollection",
    ];
    let starts = |set: &[&str]| set.iter().any(|v| verb_lower.starts_with(v));
    if starts(&DELETE) {
        4
    } else if starts(&CREATE) {
        1
    } else if starts(&READ) {
        2
    } else if starts(&UPDATE) {
        3
    } else {
        99
    }
}

/// Severity from a textual level shared by many sources.
pub(crate) fn severity_from_level(level: &str) -> Severity {
    match level.to_ascii_lowercase().as_str() {
        "debug" | "default" | "info" | "informational" | "notice" | "information" | "verbose" => {
            Severity::Informational
        }
        "warning" | "warn" => Severity::Medium,
        "error" | "err" => Severity::High,
        "critical" | "crit" | "alert" => Severity::Critical,
        "emergency" | "emerg" | "fatal" => Severity::Fatal,
        _ => Severity::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crud_verbs_cover_camel_and_dotted_names() {
        assert_eq!(crud_activity("CreateUser"), 1);
        assert_eq!(crud_activity("storage.buckets.delete"), 4);
        assert_eq!(crud_activity("DescribeInstances"), 2);
        assert_eq!(crud_activity("ModifyInstanceAttribute"), 3);
        assert_eq!(crud_activity("GetPasswordData"), 2);
        assert_eq!(crud_activity("AssumeRole"), 99);
        assert_eq!(
            crud_activity("Microsoft.Insights/diagnosticSettings/write"),
            99
        );
    }

    #[test]
    fn timestamps_keep_millisecond_precision_and_report_bad_values() {
        assert_eq!(
            rfc3339_ms("t", "2019-01-21T22:14:26.9792776Z").unwrap(),
            1_548_108_866_979
        );
        assert_eq!(rfc3339_ms("t", "1970-01-01T01:00:00+01:00").unwrap(), 0);
        let err = rfc3339_ms("eventTime", "2025-10-21TT00:52:27Z").unwrap_err();
        assert!(err.to_string().contains("eventTime"), "{err}");
        assert_eq!(
            ms_to_rfc3339(1_548_108_866_979).unwrap(),
            "2019-01-21T22:14:26.979Z"
        );
    }

    #[test]
    fn taking_fields_leaves_the_rest_unmapped() {
        let mut obj = Obj::parse(br#"{"a":"x","b":3,"c":{"d":1,"e":"y"},"f":""}"#, "test").unwrap();
        assert_eq!(obj.str("a").as_deref(), Some("x"));
        assert_eq!(obj.str("b"), None, "a number is not taken as a string");
        assert_eq!(obj.text("b").as_deref(), Some("3"));
        let mut c = obj.obj("c").unwrap();
        assert_eq!(c.int("d"), Some(1));
        obj.put_rest("c", c);
        assert_eq!(obj.nonempty("f"), None);
        let rest = serde_json::Value::Object(obj.into_unmapped().unwrap());
        assert_eq!(rest, serde_json::json!({"c": {"e": "y"}}));
    }
}
