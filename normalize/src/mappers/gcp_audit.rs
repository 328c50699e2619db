//! GCP Cloud Audit Logs: `LogEntry` with an `AuditLog` protoPayload, from
//! the activity, data_access, system_event and policy logs (also wrapped in
//! a CloudEvent, as Eventarc delivers them).
//!
//! - `SetIamPolicy` with binding deltas → User Access Management (one event
//!   per record; every delta is listed in `privileges`);
//! - IAM service-account create/delete/disable/enable → Account Change;
//! - everything else → API Activity, activity from the verb of `methodName`.
//!
//! Reference: "AuditLog" in the Cloud Logging API reference and "Cloud Audit
//! Logs overview" (log names, `status`, `authenticationInfo`).

use auditfed_schemas::ocsf::{
    Actor, Api, ApiResponse, Class, Cloud, Event, Metadata, ResourceDetails, Service, Severity,
    Status, User,
};
use serde_json::Value;

use super::endpoint;
use crate::common::{
    Obj, account, crud_activity, http_user_agent, product, service_endpoint, severity_from_level,
    take_time, user_of_type,
};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "GCP Cloud Audit Log";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut outer = Obj::parse(record, EXPECTED)?;
    // Eventarc delivers the LogEntry inside a CloudEvent: unwrap, keep the envelope.
    let (mut r, cloudevent) = if outer.has("specversion") {
        let inner = outer
            .obj("data")
            .ok_or_else(|| ErrorKind::not_a(EXPECTED, "CloudEvent without `data`"))?;
        (inner, Some(outer))
    } else {
        (outer, None)
    };
    let log_name = r.str("logName");
    let Some(mut p) = r.obj("protoPayload") else {
        return Err(ErrorKind::not_a(
            EXPECTED,
            format!(
                "log `{}` has no protoPayload; only Cloud Audit Logs (cloudaudit.googleapis.com) are audit events",
                log_name.as_deref().unwrap_or("?")
            ),
        ));
    };
    let (time, original_time) = take_time(&mut r, "timestamp")?;
    let method = p
        .str("methodName")
        .ok_or_else(|| ErrorKind::missing("protoPayload.methodName"))?;
    let service_name = p
        .str("serviceName")
        .ok_or_else(|| ErrorKind::missing("protoPayload.serviceName"))?;
    p.str("@type");
    let severity = r
        .str("severity")
        .map_or(Severity::Unknown, |s| severity_from_level(&s));

    let metadata = Metadata {
        uid: r.str("insertId"),
        original_time: Some(original_time),
        log_name: log_name.as_deref().map(short_log_name),
        log_provider: Some("GCP Cloud Audit Logs".to_owned()),
        log_format: Some("JSON".to_owned()),
        event_code: Some(method.clone()),
        correlation_uid: r
            .0
            .get("operation")
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        product: Some(product("Cloud Audit Logs", "Google")),
        ..Default::default()
    };
    if let Some(name) = log_name {
        // Keep the full name too: it holds the project/folder/organization.
        r.0.insert("logName".into(), Value::String(name));
    }

    let short_method = method.rsplit('.').next().unwrap_or(&method).to_owned();
    let deltas = binding_deltas(&p);
    let (class, activity) = if short_method == "SetIamPolicy" && !deltas.is_empty() {
        let all_removed = deltas.iter().all(|(action, _, _)| action == "REMOVE");
        (Class::UserAccessManagement, if all_removed { 2 } else { 1 })
    } else if method.starts_with("google.iam.admin.") && short_method.ends_with("ServiceAccount") {
        let activity = match short_method.as_str() {
            "CreateServiceAccount" => 1,
            "EnableServiceAccount" | "UndeleteServiceAccount" => 2,
            "DisableServiceAccount" => 5,
            "DeleteServiceAccount" => 6,
            _ => 99,
        };
        (Class::AccountChange, activity)
    } else {
        (Class::ApiActivity, crud_activity(&method))
    };
    let mut event = Event::new(class, activity, time, severity, metadata);

    // Outcome.
    match p.obj("status") {
        Some(mut status) => {
            let code = status.int("code").unwrap_or(0);
            let message = status.nonempty("message");
            event.set_status(if code == 0 {
                Status::Success
            } else {
                Status::Failure
            });
            if code != 0 {
                event.status_code = Some(code.to_string());
            }
            event.status_detail = message;
            p.put_rest("status", status);
        }
        None => event.set_status(Status::Success),
    }

    // Who.
    let mut actor = Actor::default();
    if let Some(mut auth) = p.obj("authenticationInfo") {
        if let Some(email) = auth.nonempty("principalEmail") {
            let type_id = if email.ends_with(".gserviceaccount.com") {
                4
            } else if email.ends_with("@google.com") && email.starts_with("system") {
                3
            } else {
                1
            };
            actor.user = Some(User {
                name: Some(email.clone()),
                email_addr: email.contains('@').then(|| email.clone()),
                uid: auth.nonempty("principalSubject"),
                ..user_of_type(type_id)
            });
        }
        p.put_rest("authenticationInfo", auth);
    }
    let mut src = None;
    let mut user_agent = None;
    if let Some(mut req) = p.obj("requestMetadata") {
        if let Some(ip) = req.peek_str("callerIp").map(str::to_owned) {
            let (ep, exact) = endpoint::from_address(&ip);
            if exact {
                req.str("callerIp");
            }
            src = Some(ep);
        }
        user_agent = req.nonempty("callerSuppliedUserAgent");
        p.put_rest("requestMetadata", req);
    }
    if actor.user.is_none() {
        // No principal: the service acted on its own (system events).
        actor.app_name = Some(service_name.clone());
    }
    let src = src.unwrap_or_else(|| service_endpoint(&service_name));

    // What.
    let resource_name = p.str("resourceName");
    let mut resource = r.obj("resource");
    let project = resource
        .as_ref()
        .and_then(|res| res.0.get("labels"))
        .and_then(|l| l.get("project_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            resource_name
                .as_deref()
                .and_then(|n| n.strip_prefix("projects/"))
                .and_then(|n| n.split('/').next())
                .map(str::to_owned)
        });
    let zone_or_region = resource
        .as_ref()
        .and_then(|res| res.0.get("labels"))
        .and_then(|l| {
            l.get("zone")
                .or_else(|| l.get("location"))
                .or_else(|| l.get("region"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let resource_type = resource.as_mut().and_then(|res| res.str("type"));
    if let Some(res) = resource {
        r.put_rest("resource", res);
    }
    if let Some(name) = resource_name.as_ref().filter(|_| !class.has_resources()) {
        p.0.insert("resourceName".into(), Value::String(name.clone()));
    } else if let Some(name) = &resource_name {
        event.resources = Some(vec![ResourceDetails {
            uid: Some(name.clone()),
            name: name.rsplit('/').next().map(str::to_owned),
            r#type: resource_type,
            ..Default::default()
        }]);
    }

    match class {
        Class::UserAccessManagement => {
            let members: Vec<&str> = deltas.iter().map(|(_, _, m)| m.as_str()).collect();
            let first_member = members.first().copied().unwrap_or_default();
            let (kind, id) = first_member.split_once(':').unwrap_or(("", first_member));
            event.user = Some(User {
                name: Some(id.to_owned()),
                email_addr: id.contains('@').then(|| id.to_owned()),
                ..user_of_type(if kind == "serviceAccount" { 4 } else { 1 })
            });
            event.privileges = Some(
                deltas
                    .iter()
                    .map(|(action, role, member)| format!("{action} {role} {member}"))
                    .collect(),
            );
            event.api = Some(api(&mut p, method, service_name.clone()));
        }
        Class::AccountChange => {
            let target = resource_name
                .as_deref()
                .and_then(|n| n.rsplit('/').next())
                .unwrap_or_default()
                .to_owned();
            event.user = Some(User {
                name: Some(target.clone()),
                email_addr: target.contains('@').then(|| target.clone()),
                ..user_of_type(4)
            });
            event.api = Some(api(&mut p, method, service_name.clone()));
        }
        _ => event.api = Some(api(&mut p, method, service_name.clone())),
    }
    event.message = Some(format!(
        "{} on {}",
        short_method,
        resource_name.as_deref().unwrap_or(&service_name)
    ));
    event.actor = Some(actor);
    event.src_endpoint = Some(src);
    event.http_request = http_user_agent(user_agent);
    event.cloud = Some(Cloud {
        provider: Some("GCP".to_owned()),
        project_uid: project.clone(),
        account: project.map(|p| account(Some(p), None, 11)),
        region: zone_or_region,
        ..Default::default()
    });
    r.put_rest("protoPayload", p);
    if let Some(envelope) = cloudevent {
        r.put_rest("cloudevent", envelope);
    }
    event.unmapped = r.into_unmapped();
    Ok(event)
}

fn api(p: &mut Obj, method: String, service_name: String) -> Api {
    // AuditLog has no request id, which OCSF's `api.request` requires: the
    // request body stays in `unmapped.protoPayload.request`.
    let response = p.value("response");
    Api {
        operation: Some(method),
        service: Some(Service {
            name: Some(service_name),
            ..Default::default()
        }),
        response: response.map(|data| ApiResponse {
            data: Some(data),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `(action, role, member)` of every binding delta (`serviceData` or `metadata`).
fn binding_deltas(p: &Obj) -> Vec<(String, String, String)> {
    let deltas =
        p.0.get("serviceData")
            .or_else(|| p.0.get("metadata"))
            .and_then(|d| d.get("policyDelta"))
            .and_then(|d| d.get("bindingDeltas"))
            .and_then(Value::as_array);
    deltas
        .into_iter()
        .flatten()
        .map(|d| {
            let s = |k: &str| {
                d.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (s("action"), s("role"), s("member"))
        })
        .collect()
}

/// `projects/p/logs/cloudaudit.googleapis.com%2Factivity` → `cloudaudit.googleapis.com/activity`.
fn short_log_name(full: &str) -> String {
    let id = full.rsplit("/logs/").next().unwrap_or(full);
    id.replace("%2F", "/").replace("%2f", "/")
}
