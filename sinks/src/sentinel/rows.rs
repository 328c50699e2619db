//! Sealed OCSF events as Log Analytics rows: ASIM (Audit Event 0.1,
//! Authentication 0.1.3, after Microsoft's schema references) or the
//! archive's OCSF columns for a custom table.
//!
//! Every column written here is declared in the DCRs of docs/sentinel/
//! (a test checks it), so a DCR made from the docs accepts every row.

use auditfed_schemas::archive::QueryColumns;
use auditfed_schemas::seal::format_time;
use serde_json::{Map, Value, json};

use crate::driver::OutgoingEvent;

/// ASIM Audit Event schema version written in `EventSchemaVersion`.
pub const AUDIT_SCHEMA_VERSION: &str = "0.1";
/// ASIM Authentication schema version written in `EventSchemaVersion`.
pub const AUTHENTICATION_SCHEMA_VERSION: &str = "0.1.3";
/// OCSF class of authentication events (→ the authentication stream).
pub const AUTHENTICATION_CLASS: i64 = 3002;

/// The ASIM row of `event` (its JSON after the egress policy).
pub fn asim_row(meta: &OutgoingEvent, event: &Value) -> Value {
    let s = |p: &str| event.pointer(p).and_then(Value::as_str);
    let q = QueryColumns::of_value(event);
    let time = format_time(q.time);
    let authentication = i64::from(q.class_uid) == AUTHENTICATION_CLASS;
    let mut row = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            row.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    };
    // Common fields.
    put("TimeGenerated", Some(&time));
    put("EventStartTime", Some(&time));
    put("EventEndTime", Some(&time));
    put("EventResult", Some(result(q.status_id)));
    put(
        "EventResultDetails",
        s("/status_detail").or(q.status_code).or(s("/status")),
    );
    put("EventSeverity", Some(severity(q.severity_id)));
    put(
        "EventOriginalType",
        s("/metadata/event_code").or(s("/type_name")),
    );
    put("EventOriginalUid", q.event_uid);
    put("EventMessage", s("/message"));
    put("EventProduct", Some(q.product_name.unwrap_or("auditfed")));
    put(
        "EventVendor",
        Some(s("/metadata/product/vendor_name").unwrap_or("auditfed")),
    );
    let dvc = s("/device/hostname")
        .or(q.cloud_account_uid)
        .or(q.product_name)
        .unwrap_or("auditfed");
    put("Dvc", Some(dvc));
    put("DvcHostname", s("/device/hostname"));
    put("DvcIpAddr", s("/device/ip"));
    put("DvcScopeId", q.cloud_account_uid.or(q.tenant_uid));
    put("SrcIpAddr", q.src_ip);
    put("SrcGeoCountry", s("/src_endpoint/location/country"));
    put("SrcGeoRegion", s("/src_endpoint/location/region"));
    put("SrcGeoCity", s("/src_endpoint/location/city"));
    put("HttpUserAgent", s("/http_request/user_agent"));
    if authentication {
        put("EventSchema", Some("Authentication"));
        put("EventSchemaVersion", Some(AUTHENTICATION_SCHEMA_VERSION));
        put("EventType", Some(logon_type(q.activity_id)));
        put("EventSubType", s("/logon_type"));
        // OCSF's `user` is who authenticates; some sources only name the actor.
        let target_name = q.user_name.or(q.actor_user_name);
        put("TargetUsername", target_name);
        put("TargetUsernameType", target_name.map(username_type));
        put("TargetUserId", s("/user/uid").or(q.actor_user_uid));
        put(
            "TargetUserType",
            s("/user/type")
                .or(q.actor_user_type)
                .map(user_type)
                .or(Some("Other")),
        );
        put("TargetSessionId", s("/session/uid"));
        put(
            "TargetAppName",
            s("/service/name").or(s("/dst_endpoint/svc_name")),
        );
        put("TargetAppId", s("/service/uid"));
        put("LogonProtocol", s("/auth_protocol"));
        put(
            "LogonMethod",
            s("/auth_factors/0/factor_type").or(s("/auth_protocol")),
        );
        if q.user_name.is_some() && q.actor_user_name.is_some() {
            put("ActorUsername", q.actor_user_name);
        }
    } else {
        put("EventSchema", Some("AuditEvent"));
        put("EventSchemaVersion", Some(AUDIT_SCHEMA_VERSION));
        let activity = s("/activity_name").unwrap_or_default();
        put("EventType", Some(audit_type(q.activity_id, activity)));
        let operation = q
            .api_operation
            .or(s("/metadata/event_code"))
            .or(s("/activity_name"))
            .unwrap_or("Other");
        put("Operation", Some(operation));
        let resource_name = s("/resources/0/name").or(q.resource_uids.first().copied());
        let object = resource_name
            .or(s("/user/name"))
            .or(q.api_service)
            .or(q.product_name)
            .unwrap_or("Other");
        put("Object", Some(object));
        put("ObjectId", q.resource_uids.first().copied());
        put(
            "ObjectType",
            Some(if resource_name.is_some() || q.cloud_provider.is_some() {
                "Cloud Resource"
            } else if s("/user/name").is_some() {
                "Directory Service Object"
            } else {
                "Other"
            }),
        );
        put("ActorUsername", q.actor_user_name);
        put("ActorUsernameType", q.actor_user_name.map(username_type));
        put("ActorUserId", q.actor_user_uid);
        put("ActorUserType", q.actor_user_type.map(user_type));
        put(
            "ActorSessionId",
            s("/actor/session/uid").or(s("/session/uid")),
        );
        put("TargetAppName", q.api_service.or(s("/service/name")));
        put(
            "TargetAppType",
            (q.api_service.is_some() || s("/service/name").is_some()).then_some("Service"),
        );
    }
    row.insert("EventCount".into(), json!(1));
    row.insert(
        "AdditionalFields".into(),
        json!({
            "auditfed_event_uid": meta.uid,
            "auditfed_chain": meta.chain,
            "auditfed_seq": meta.seq,
            "auditfed_source": meta.source,
            "ocsf_class_uid": q.class_uid,
            "ocsf_type_uid": q.type_uid,
            "cloud_provider": q.cloud_provider,
            "cloud_region": q.cloud_region,
            "tenant_uid": q.tenant_uid,
        }),
    );
    Value::Object(row)
}

/// The custom-table row of `event`: the archive's query columns (same
/// names, so KQL and the archive's SQL read alike), the seal position and
/// the sealed event itself.
pub fn ocsf_row(meta: &OutgoingEvent, event: &Value, json: &[u8]) -> Value {
    let q = QueryColumns::of_value(event);
    let mut row = Map::new();
    row.insert("TimeGenerated".into(), format_time(q.time).into());
    for (name, cell) in q.cells() {
        use auditfed_schemas::archive::Cell;
        let value = match cell {
            Cell::Time(_) => continue,
            Cell::Int32(v) => v.map_or(Value::Null, Value::from),
            Cell::Int64(v) => Value::from(v),
            Cell::Utf8(v) => v.map_or(Value::Null, Value::from),
            Cell::Utf8List(v) => Value::from(v.to_vec()),
        };
        if !value.is_null() {
            row.insert(name.to_owned(), value);
        }
    }
    row.insert("source_type".into(), meta.source.clone().into());
    row.insert("chain_id".into(), meta.chain.clone().into());
    row.insert("seq".into(), meta.seq.into());
    row.insert(
        "event_json".into(),
        String::from_utf8_lossy(json).into_owned().into(),
    );
    Value::Object(row)
}

fn result(status_id: Option<i32>) -> &'static str {
    match status_id {
        Some(1) => "Success",
        Some(2) => "Failure",
        _ => "NA",
    }
}

fn severity(severity_id: i32) -> &'static str {
    match severity_id {
        2 => "Low",
        3 => "Medium",
        4..=6 => "High",
        _ => "Informational",
    }
}

/// Authentication `EventType`: Logon, Logoff or Elevate.
fn logon_type(activity_id: i32) -> &'static str {
    match activity_id {
        2 => "Logoff",
        _ => "Logon",
    }
}

/// Audit `EventType` from OCSF's activity: Set, Read, Create, Delete,
/// Execute, Install, Clear, Enable, Disable or Other.
fn audit_type(activity_id: i32, activity_name: &str) -> &'static str {
    let name = activity_name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["create", "add", "register", "upload"]) {
        "Create"
    } else if has(&["delete", "remove", "destroy", "purge"]) {
        "Delete"
    } else if has(&["disable", "suspend", "lock", "deactivate"]) {
        "Disable"
    } else if has(&["enable", "unlock", "activate", "unsuspend"]) {
        "Enable"
    } else if has(&["read", "get", "list", "describe", "view", "query"]) {
        "Read"
    } else if has(&["execute", "invoke", "run", "start"]) {
        "Execute"
    } else if has(&["install"]) {
        "Install"
    } else if has(&["clear"]) {
        "Clear"
    } else if has(&[
        "update", "modify", "set", "change", "assign", "attach", "put", "patch",
    ]) {
        "Set"
    } else {
        // OCSF API Activity: 1 Create, 2 Read, 3 Update, 4 Delete.
        match activity_id {
            1 => "Create",
            2 => "Read",
            3 => "Set",
            4 => "Delete",
            _ => "Other",
        }
    }
}

/// ASIM `*UserType` from OCSF's user type.
fn user_type(ocsf: &str) -> &'static str {
    match ocsf.to_ascii_lowercase().as_str() {
        "user" | "iamuser" | "regular" => "Regular",
        "admin" | "root" => "Admin",
        "system" => "System",
        "service" | "awsservice" | "serviceaccount" => "Service",
        "application" | "app" => "Application",
        "serviceprincipal" | "service principal" => "Service Principal",
        "anonymous" => "Anonymous",
        "assumedrole" | "role" => "Other",
        _ => "Other",
    }
}

/// ASIM `*UsernameType`: UPN, Windows, DN or Simple.
fn username_type(name: &str) -> &'static str {
    if name.contains('@') {
        "UPN"
    } else if name.contains('\\') {
        "Windows"
    } else if name.contains("CN=") || name.contains("cn=") {
        "DN"
    } else {
        "Simple"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    /// Stream → column → type, from a DCR of docs/sentinel/.
    fn declared(dcr: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let text = std::fs::read_to_string(root().join("docs/sentinel").join(dcr)).unwrap();
        let dcr: Value = serde_json::from_str(&text).unwrap();
        let mut out = BTreeMap::new();
        for (stream, decl) in dcr["properties"]["streamDeclarations"].as_object().unwrap() {
            let columns = decl["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let name = c["name"].as_str().unwrap().to_owned();
                    (name, c["type"].as_str().unwrap().to_owned())
                })
                .collect();
            out.insert(stream.clone(), columns);
        }
        out
    }

    /// Every golden OCSF event the mappers' tests keep.
    fn golden_events() -> Vec<Value> {
        let mut events = Vec::new();
        let dir = root().join("normalize/tests/golden");
        for source in std::fs::read_dir(dir).unwrap() {
            for file in std::fs::read_dir(source.unwrap().path()).unwrap() {
                let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
                let doc: Value = serde_json::from_str(&text).unwrap();
                let items = doc.as_array().cloned().unwrap_or_else(|| vec![doc]);
                events.extend(items.into_iter().filter_map(|i| i.get("event").cloned()));
            }
        }
        events
    }

    fn meta(event: &Value) -> OutgoingEvent {
        OutgoingEvent {
            partition: 0,
            offset: 0,
            chain: "c/0".into(),
            seq: 1,
            uid: event["metadata"]["uid"].as_str().unwrap_or("u").into(),
            source: "test".into(),
            time_ms: event["time"].as_i64().unwrap(),
            class_uid: event["class_uid"].as_i64().unwrap(),
            json: serde_json::to_vec(event).unwrap(),
        }
    }

    fn type_ok(kind: &str, value: &Value) -> bool {
        match kind {
            "string" | "datetime" => value.is_string(),
            "int" | "long" => value.is_i64() || value.is_u64(),
            "dynamic" => true,
            _ => false,
        }
    }

    #[test]
    fn every_column_written_is_declared_in_the_documented_dcrs() {
        let asim = declared("dcr-asim.json");
        let ocsf = declared("dcr-ocsf.json");
        let table = std::fs::read_to_string(root().join("docs/sentinel/table-ocsf.json")).unwrap();
        let table: Value = serde_json::from_str(&table).unwrap();
        let table_columns: Vec<&Value> = table["properties"]["schema"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        let events = golden_events();
        assert!(events.len() > 20, "{} golden events", events.len());
        let mut authentications = 0;
        for event in &events {
            let meta = meta(event);
            let row = asim_row(&meta, event);
            let stream = if meta.class_uid == AUTHENTICATION_CLASS {
                authentications += 1;
                assert_eq!(row["EventSchema"], "Authentication");
                "Custom-ASimAuthenticationEventLogs"
            } else {
                assert_eq!(row["EventSchema"], "AuditEvent");
                for field in ["Operation", "Object", "ObjectType"] {
                    assert!(row[field].is_string(), "{field}: {row}");
                }
                "Custom-ASimAuditEventLogs"
            };
            for (column, value) in row.as_object().unwrap() {
                let kind = asim[stream]
                    .get(column)
                    .unwrap_or_else(|| panic!("{stream} does not declare {column}"));
                assert!(type_ok(kind, value), "{column} ({kind}) = {value}");
            }
            let row = ocsf_row(&meta, event, &meta.json);
            let declared = &ocsf["Custom-AuditfedOcsf_CL"];
            for (column, value) in row.as_object().unwrap() {
                let kind = declared
                    .get(column)
                    .unwrap_or_else(|| panic!("the OCSF stream does not declare {column}"));
                assert!(type_ok(kind, value), "{column} ({kind}) = {value}");
                assert!(
                    table_columns.iter().any(|c| c["name"] == column.as_str()),
                    "AuditfedOcsf_CL has no column {column}"
                );
            }
        }
        assert!(authentications > 0);
    }

    #[test]
    fn activities_and_results_take_asim_values() {
        assert_eq!(audit_type(1, "Create"), "Create");
        assert_eq!(audit_type(2, "Read"), "Read");
        assert_eq!(audit_type(3, "Update"), "Set");
        assert_eq!(audit_type(4, "Delete"), "Delete");
        assert_eq!(audit_type(99, "Other"), "Other");
        assert_eq!(audit_type(5, "Disable"), "Disable");
        assert_eq!(logon_type(1), "Logon");
        assert_eq!(logon_type(2), "Logoff");
        assert_eq!(result(Some(1)), "Success");
        assert_eq!(result(Some(2)), "Failure");
        assert_eq!(result(None), "NA");
        assert_eq!(username_type("a@b.c"), "UPN");
        assert_eq!(username_type("CORP\\a"), "Windows");
        assert_eq!(user_type("AssumedRole"), "Other");
        assert_eq!(user_type("Admin"), "Admin");
    }
}
