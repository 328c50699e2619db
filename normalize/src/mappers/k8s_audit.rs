//! Kubernetes audit events (`audit.k8s.io/v1` and `v1beta1` `Event`, one per
//! record; `EventList` is split by the framer).
//!
//! - RBAC (cluster)role bindings created/deleted → User Access Management
//!   (Assign/Revoke Privileges), the subjects as users and the role as the
//!   privilege;
//! - service accounts created/deleted → Account Change;
//! - every other request → API Activity, activity from the verb.
//!
//! Reference: Kubernetes "Auditing" task page and the `audit.k8s.io/v1` API.

use auditfed_schemas::ocsf::{
    Actor, Api, ApiRequest, ApiResponse, Class, Event, Group, HttpRequest, Metadata,
    ResourceDetails, Service, Severity, Status, Url, User,
};
use serde_json::Value;

use super::endpoint;
use crate::common::{Obj, product, rfc3339_ms, service_endpoint, user_of_type};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "Kubernetes audit";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    // Old v1beta1 producers omit apiVersion; `kind: Event` with an auditID is then enough.
    let api_version = r.str("apiVersion").unwrap_or_default();
    let legacy_event = api_version.is_empty() && r.peek_str("kind") == Some("Event");
    if !(api_version.starts_with("audit.k8s.io/") || legacy_event) {
        return Err(ErrorKind::not_a(
            EXPECTED,
            format!("apiVersion `{api_version}` is not audit.k8s.io/*"),
        ));
    }
    if r.peek_str("kind").is_some_and(|k| k != "Event") {
        return Err(ErrorKind::not_a(
            EXPECTED,
            format!("kind `{}` is not Event", r.peek_str("kind").unwrap_or("")),
        ));
    }
    r.str("kind");
    let audit_id = r
        .str("auditID")
        .ok_or_else(|| ErrorKind::missing("auditID"))?;
    let verb = r.str("verb").ok_or_else(|| ErrorKind::missing("verb"))?;
    // The request's time; v1beta1 also has `timestamp`, `stageTimestamp` is when the stage was logged.
    let time_field = ["requestReceivedTimestamp", "timestamp", "stageTimestamp"]
        .into_iter()
        .find(|f| r.peek_str(f).is_some())
        .ok_or_else(|| ErrorKind::missing("requestReceivedTimestamp"))?;
    let original_time = r.str(time_field).unwrap_or_default();
    let time = rfc3339_ms(time_field, &original_time)?;
    let logged_time = r
        .peek_str("stageTimestamp")
        .and_then(|t| rfc3339_ms("stageTimestamp", t).ok());
    if logged_time.is_some() {
        r.str("stageTimestamp");
    }
    let stage = r.str("stage");

    let object_ref = r.obj("objectRef");
    let resource = object_ref
        .as_ref()
        .and_then(|o| o.peek_str("resource"))
        .unwrap_or_default()
        .to_owned();
    let api_group = object_ref
        .as_ref()
        .and_then(|o| o.peek_str("apiGroup"))
        .unwrap_or_default()
        .to_owned();
    let is_rbac_binding =
        api_group == "rbac.authorization.k8s.io" && resource.ends_with("rolebindings");
    let (class, activity) = match (verb.as_str(), resource.as_str()) {
        ("create", _) if is_rbac_binding => (Class::UserAccessManagement, 1),
        ("delete", _) if is_rbac_binding => (Class::UserAccessManagement, 2),
        ("create", "serviceaccounts") if api_group.is_empty() => (Class::AccountChange, 1),
        ("delete", "serviceaccounts") if api_group.is_empty() => (Class::AccountChange, 6),
        (v, _) => (Class::ApiActivity, verb_activity(v)),
    };
    let metadata = Metadata {
        uid: Some(match &stage {
            Some(s) => format!("{audit_id}:{s}"),
            None => audit_id.clone(),
        }),
        correlation_uid: Some(audit_id.clone()),
        original_time: Some(original_time),
        logged_time,
        event_code: stage.clone(),
        log_version: Some(api_version.clone()).filter(|v| !v.is_empty()),
        log_provider: Some("Kubernetes audit".to_owned()),
        log_format: Some("JSON".to_owned()),
        product: Some(product("kube-apiserver", "Kubernetes")),
        ..Default::default()
    };
    let mut event = Event::new(class, activity, time, Severity::Informational, metadata);
    if let Some(s) = &stage {
        r.0.insert("stage".into(), Value::String(s.clone()));
    }

    // Outcome.
    let mut response = None;
    match r.obj("responseStatus") {
        Some(mut status) => {
            let code = status.int("code");
            event.set_status(match code {
                Some(c) if c < 400 => Status::Success,
                Some(_) => Status::Failure,
                None => Status::Unknown,
            });
            event.status_code = code.map(|c| c.to_string());
            event.status_detail = status
                .nonempty("message")
                .or_else(|| status.nonempty("reason"));
            response = Some(ApiResponse {
                code: code.and_then(|c| i32::try_from(c).ok()),
                message: event.status_detail.clone(),
                ..Default::default()
            });
            r.put_rest("responseStatus", status);
        }
        None => event.set_status(if stage.as_deref() == Some("Panic") {
            Status::Failure
        } else {
            Status::Unknown
        }),
    }

    // Who.
    let mut actor = Actor::default();
    if let Some(mut u) = r.obj("user") {
        let name = u.str("username");
        let type_id = match name.as_deref() {
            Some(n) if n.starts_with("system:serviceaccount:") => 4,
            Some(n) if n.starts_with("system:") => 3,
            _ => 1,
        };
        let groups = u.array("groups").map(|gs| {
            gs.into_iter()
                .filter_map(|g| {
                    g.as_str().map(|n| Group {
                        name: Some(n.to_owned()),
                        ..Default::default()
                    })
                })
                .collect::<Vec<_>>()
        });
        actor.user = Some(User {
            name,
            uid: u.nonempty("uid"),
            groups,
            ..user_of_type(type_id)
        });
        r.put_rest("user", u);
    }
    let source_ip =
        r.0.get("sourceIPs")
            .and_then(Value::as_array)
            .and_then(|ips| ips.first())
            .and_then(Value::as_str);
    let src = match source_ip.map(endpoint::from_address) {
        Some((ep, true)) => ep,
        _ => service_endpoint("kube-apiserver"),
    };
    if r.0
        .get("sourceIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| ips.len() == 1)
        && src.ip.is_some()
    {
        r.0.remove("sourceIPs");
    }
    let user_agent = r.str("userAgent");
    let request_uri = r.str("requestURI");

    // What.
    let mut object_name = None;
    if let Some(mut o) = object_ref {
        let name = o.str("name");
        let resource = o.str("resource");
        let sub = o.str("subresource");
        let kind = match (&resource, &sub) {
            (Some(r), Some(s)) => Some(format!("{r}/{s}")),
            (r, _) => r.clone(),
        };
        object_name = name.clone();
        let details = ResourceDetails {
            uid: o.str("uid"),
            name: name.or_else(|| kind.clone()),
            namespace: o.str("namespace"),
            r#type: kind,
            ..Default::default()
        };
        if class == Class::ApiActivity || class == Class::UserAccessManagement {
            event.resources = Some(vec![details]);
            r.put_rest("objectRef", o);
        } else {
            // Account Change has no `resources`: the whole objectRef stays unmapped.
            r.0.insert(
                "objectRef".into(),
                serde_json::to_value(&details).unwrap_or_default(),
            );
            r.put_rest("objectRefExtra", o);
        }
    }
    match class {
        Class::UserAccessManagement => {
            let obj =
                r.0.get("requestObject")
                    .or_else(|| r.0.get("responseObject"));
            let subject = obj
                .and_then(|o| o.get("subjects"))
                .and_then(Value::as_array)
                .and_then(|s| s.first())
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let role = obj
                .and_then(|o| o.get("roleRef"))
                .and_then(|r| r.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            event.user = Some(User {
                name: subject
                    .or_else(|| object_name.clone())
                    .or(Some("unknown subject".to_owned())),
                ..user_of_type(0)
            });
            event.privileges = Some(vec![
                role.unwrap_or_else(|| object_name.clone().unwrap_or_default()),
            ]);
        }
        Class::AccountChange => {
            let name = object_name.clone().or_else(|| {
                r.0.get("requestObject")
                    .and_then(|o| o.get("metadata"))
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            event.user = Some(User {
                name: name.or(Some("unknown".to_owned())),
                ..user_of_type(4)
            });
        }
        _ => {}
    }
    // `api` belongs to API Activity here (elsewhere only to the `cloud` profile,
    // which a cluster's audit log does not have): other classes keep the verb unmapped.
    if class != Class::ApiActivity {
        r.0.insert("verb".into(), Value::String(verb.clone()));
    }
    event.api = (class == Class::ApiActivity).then(|| Api {
        operation: Some(verb.clone()),
        service: Some(Service {
            name: Some("kube-apiserver".to_owned()),
            ..Default::default()
        }),
        request: Some(ApiRequest {
            uid: Some(audit_id),
            ..Default::default()
        }),
        response,
        version: None,
    });
    let _ = response;
    event.message = Some(format!(
        "{verb} {}",
        request_uri.as_deref().unwrap_or(&resource)
    ));
    event.http_request = Some(HttpRequest {
        user_agent,
        url: request_uri.map(|uri| Url {
            path: Some(uri.clone()),
            url_string: Some(uri),
            ..Default::default()
        }),
        ..Default::default()
    });
    event.actor = Some(actor)
        .filter(|a| *a != Actor::default())
        .or(Some(Actor {
            app_name: Some("kube-apiserver".to_owned()),
            ..Default::default()
        }));
    event.src_endpoint = Some(src);
    event.unmapped = r.into_unmapped();
    Ok(event)
}

fn verb_activity(verb: &str) -> i32 {
    match verb {
        "create" => 1,
        "get" | "list" | "watch" => 2,
        "update" | "patch" => 3,
        "delete" | "deletecollection" => 4,
        _ => 99,
    }
}
