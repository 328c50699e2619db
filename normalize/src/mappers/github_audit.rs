//! GitHub audit log events (organization and enterprise audit log REST API,
//! audit log streaming).
//!
//! By `action`: sign-ins → Authentication; user lifecycle → Account Change;
//! team and organization membership → Group Management; admin/role grants →
//! User Access Management; everything else → API Activity (operation = the
//! action, activity from `operation_type` or the action's verb).
//!
//! Reference: GitHub docs, "Get the audit log for an enterprise" (REST) and
//! "Audit log events for your enterprise".

use auditfed_schemas::ocsf::{
    Actor, Api, Class, Event, Group, Location, Metadata, Service, Severity, Status, User,
};
use chrono::DateTime;
use serde_json::Value;

use super::endpoint;
use crate::common::{
    Obj, crud_activity, http_user_agent, product, rfc3339_ms, service_endpoint, user_of_type,
};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "GitHub audit log";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    let action = r
        .str("action")
        .ok_or_else(|| ErrorKind::not_a(EXPECTED, "`action` is missing"))?;
    let (time, original_time) = time(&mut r)?;
    let (class, activity) = classify(&action, r.peek_str("operation_type"));
    let metadata = Metadata {
        uid: r.str("_document_id"),
        original_time: Some(original_time),
        event_code: Some(action.clone()),
        log_provider: Some("GitHub audit log".to_owned()),
        log_format: Some("JSON".to_owned()),
        tenant_uid: r
            .peek_str("business")
            .or_else(|| r.peek_str("org"))
            .map(str::to_owned),
        correlation_uid: r.nonempty("request_id"),
        product: Some(product("GitHub", "GitHub")),
        ..Default::default()
    };
    let mut event = Event::new(class, activity, time, Severity::Informational, metadata);
    event.set_status(if action.contains("failed") {
        Status::Failure
    } else {
        Status::Success
    });

    let actor_name = r.nonempty("actor");
    let actor_user = actor_name.map(|name| User {
        name: Some(name),
        uid: r.text("actor_id"),
        ..user_of_type(if r.peek_str("actor_is_bot").is_some() {
            4
        } else {
            1
        })
    });
    let mut src = None;
    if let Some(ip) = r.peek_str("actor_ip").map(str::to_owned) {
        let (ep, exact) = endpoint::from_address(&ip);
        if exact {
            r.str("actor_ip");
            src = Some(ep);
        }
    }
    if let Some(mut loc) = r.obj("actor_location") {
        if let Some(ep) = src.as_mut() {
            ep.location = Some(Location {
                country: loc.nonempty("country_code"),
                ..Default::default()
            })
            .filter(|l| l.country.is_some());
        }
        r.put_rest("actor_location", loc);
    }
    let target_user = r.peek_str("user").map(|u| User {
        name: Some(u.to_owned()),
        ..user_of_type(1)
    });
    if target_user.is_some() {
        r.str("user");
    }
    let user_agent = r.str("user_agent");
    let service = || Service {
        name: Some("GitHub".to_owned()),
        ..Default::default()
    };

    match class {
        Class::Authentication => {
            event.user = actor_user.clone().or(target_user);
            event.service = Some(service());
        }
        Class::AccountChange => event.user = target_user.or(actor_user.clone()),
        Class::GroupManagement => {
            let team = r.str("team");
            let org = r.peek_str("org").map(str::to_owned);
            event.group = Some(match team {
                Some(t) => Group {
                    name: Some(t),
                    r#type: Some("team".to_owned()),
                    ..Default::default()
                },
                None => Group {
                    name: org.or(Some("unknown organization".to_owned())),
                    r#type: Some("organization".to_owned()),
                    ..Default::default()
                },
            });
            event.user = target_user;
        }
        Class::UserAccessManagement => {
            event.user = target_user.or(Some(User {
                name: Some("unknown".to_owned()),
                ..user_of_type(0)
            }));
            let privilege = r
                .peek_str("permission")
                .or_else(|| r.peek_str("role"))
                .map(str::to_owned);
            event.privileges = Some(vec![privilege.unwrap_or_else(|| action.clone())]);
        }
        _ => {
            if let Some(u) = target_user {
                r.0.insert("user".into(), Value::String(u.name.unwrap_or_default()));
            }
            event.api = Some(Api {
                operation: Some(action.clone()),
                service: Some(service()),
                ..Default::default()
            });
        }
    }
    let subject = r
        .peek_str("repo")
        .or_else(|| r.peek_str("team"))
        .or_else(|| r.peek_str("org"))
        .unwrap_or("");
    event.message = Some(format!("{action} {subject}").trim().to_owned());
    event.actor = match actor_user {
        Some(user) => Some(Actor {
            user: Some(user),
            ..Default::default()
        }),
        None => Some(Actor {
            app_name: Some("GitHub".to_owned()),
            ..Default::default()
        }),
    };
    if class == Class::ApiActivity && src.is_none() {
        src = Some(service_endpoint("GitHub"));
    }
    event.src_endpoint = src;
    event.http_request = http_user_agent(user_agent);
    event.unmapped = r.into_unmapped();
    Ok(event)
}

/// `@timestamp` (epoch ms, as the API documents), else `created_at` (ms or RFC 3339).
fn time(r: &mut Obj) -> Result<(i64, String), ErrorKind> {
    for field in ["@timestamp", "created_at"] {
        match r.0.get(field) {
            Some(Value::Number(n)) => {
                let ms = n.as_i64().ok_or_else(|| ErrorKind::BadTimestamp {
                    field: field.to_owned(),
                    value: n.to_string(),
                    reason: "not a whole number of milliseconds".to_owned(),
                })?;
                if DateTime::from_timestamp_millis(ms).is_none() {
                    return Err(ErrorKind::BadTimestamp {
                        field: field.to_owned(),
                        value: n.to_string(),
                        reason: "out of range".to_owned(),
                    });
                }
                let original = n.to_string();
                r.0.remove(field);
                return Ok((ms, original));
            }
            Some(Value::String(s)) => {
                let s = s.clone();
                let ms = rfc3339_ms(field, &s)?;
                r.0.remove(field);
                return Ok((ms, s));
            }
            _ => {}
        }
    }
    Err(ErrorKind::missing("@timestamp"))
}

fn classify(action: &str, operation_type: Option<&str>) -> (Class, i32) {
    match action {
        "user.login" | "user.failed_login" => (Class::Authentication, 1),
        "user.logout" => (Class::Authentication, 2),
        "user.create" => (Class::AccountChange, 1),
        "user.destroy" | "user.delete" => (Class::AccountChange, 6),
        "user.suspend" => (Class::AccountChange, 5),
        "user.unsuspend" => (Class::AccountChange, 2),
        "user.change_password" => (Class::AccountChange, 3),
        "user.reset_password" | "user.forgot_password" => (Class::AccountChange, 4),
        "user.two_factor_requested" => (Class::AccountChange, 99),
        "user.enable_two_factor" | "two_factor_authentication.enabled" => {
            (Class::AccountChange, 10)
        }
        "user.disable_two_factor" | "two_factor_authentication.disabled" => {
            (Class::AccountChange, 11)
        }
        "team.add_member" | "org.add_member" => (Class::GroupManagement, 3),
        "team.remove_member" | "org.remove_member" => (Class::GroupManagement, 4),
        "team.create" => (Class::GroupManagement, 6),
        "team.destroy" => (Class::GroupManagement, 5),
        "business.add_admin" | "org.update_member" | "user.promote" | "team.promote_maintainer" => {
            (Class::UserAccessManagement, 1)
        }
        "business.remove_admin" | "user.demote" | "team.demote_maintainer" => {
            (Class::UserAccessManagement, 2)
        }
        _ => {
            let activity = match operation_type {
                Some("create") => 1,
                Some("access") => 2,
                Some("modify") => 3,
                Some("remove") => 4,
                _ => crud_activity(action),
            };
            (Class::ApiActivity, activity)
        }
    }
}
