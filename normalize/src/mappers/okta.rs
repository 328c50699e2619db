//! Okta System Log events (`GET /api/v1/logs`, event hooks).
//!
//! By `eventType`: sessions and authentications → Authentication; user
//! lifecycle, password, lock and MFA factor events → Account Change; group
//! membership and lifecycle → Group Management; privilege grants → User
//! Access Management; everything else → API Activity (operation = the event
//! type, activity from its verb).
//!
//! Reference: Okta developer docs, "System Log API" (LogEvent object) and the
//! Event Types catalog.

use auditfed_schemas::ocsf::{
    Actor, Api, Class, Event, Group, Location, Metadata, Service, Session, Severity, Status, User,
};
use serde_json::Value;

use super::endpoint;
use crate::common::{
    Obj, crud_activity, http_user_agent, product, service_endpoint, severity_from_level, take_time,
    user_of_type,
};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "Okta System Log";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    if !r.has("uuid") || !r.has("eventType") {
        return Err(ErrorKind::not_a(
            EXPECTED,
            "`uuid` and `eventType` are required",
        ));
    }
    let (time, original_time) = take_time(&mut r, "published")?;
    let event_type = r.str("eventType").unwrap_or_default();
    let (class, activity) = classify(&event_type);
    let severity = r
        .str("severity")
        .map_or(Severity::Unknown, |s| severity_from_level(&s));
    let metadata = Metadata {
        uid: r.str("uuid"),
        original_time: Some(original_time),
        event_code: Some(event_type.clone()),
        log_version: r.str("version"),
        log_provider: Some("Okta System Log".to_owned()),
        log_format: Some("JSON".to_owned()),
        correlation_uid: r
            .0
            .get("transaction")
            .and_then(|t| t.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        product: Some(product("Okta Identity Cloud", "Okta")),
        ..Default::default()
    };
    let mut event = Event::new(class, activity, time, severity, metadata);
    event.message = r.str("displayMessage");

    if let Some(mut outcome) = r.obj("outcome") {
        let result = outcome.str("result").unwrap_or_default();
        let status = match result.as_str() {
            "SUCCESS" | "ALLOW" => Status::Success,
            "FAILURE" | "DENY" => Status::Failure,
            "UNKNOWN" | "" => Status::Unknown,
            _ => Status::Other,
        };
        event.set_status(status);
        if status == Status::Other {
            event.status = Some(result.clone());
        }
        event.status_detail = outcome.nonempty("reason");
        r.put_rest("outcome", outcome);
    }

    // Who acted.
    let mut actor_user = None;
    if let Some(mut a) = r.obj("actor") {
        let kind = a.peek_str("type").unwrap_or_default().to_owned();
        let type_id = match kind.as_str() {
            "User" => 1,
            "SystemPrincipal" => 3,
            "PublicClientApp" | "AppInstance" => 4,
            _ => 99,
        };
        let mut user = user_of_type(type_id);
        if type_id == 99 {
            user.r#type = Some(kind);
        }
        // Okta writes the literal "unknown" where it could not resolve the actor.
        let mut known = |k: &str| a.nonempty(k).filter(|v| v != "unknown");
        let alternate = known("alternateId");
        user.email_addr = alternate.clone().filter(|v| v.contains('@'));
        user.name = alternate;
        user.uid = known("id");
        user.full_name = known("displayName");
        if user.name.is_none() {
            user.name = user.full_name.clone();
        }
        actor_user = Some(user);
        r.put_rest("actor", a);
    }

    // From where.
    let mut src = None;
    let mut user_agent = None;
    if let Some(mut client) = r.obj("client") {
        if let Some(ip) = client.peek_str("ipAddress").map(str::to_owned) {
            let (ep, exact) = endpoint::from_address(&ip);
            if exact {
                client.str("ipAddress");
                src = Some(ep);
            }
        }
        if let Some(mut ua) = client.obj("userAgent") {
            user_agent = ua.nonempty("rawUserAgent");
            client.put_rest("userAgent", ua);
        }
        if let Some(mut geo) = client.obj("geographicalContext") {
            let mut location = Location {
                city: geo.nonempty("city"),
                region: geo.nonempty("state"),
                country: geo.nonempty("country"),
                ..Default::default()
            };
            if let Some(mut point) = geo.obj("geolocation") {
                location.lat = point.0.remove("lat").and_then(|v| v.as_f64());
                location.long = point.0.remove("lon").and_then(|v| v.as_f64());
                geo.put_rest("geolocation", point);
            }
            if let Some(ep) = src.as_mut()
                && location != Location::default()
            {
                ep.location = Some(location);
            }
            client.put_rest("geographicalContext", geo);
        }
        r.put_rest("client", client);
    }
    let session =
        r.0.get("authenticationContext")
            .and_then(|c| c.get("externalSessionId"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "unknown")
            .map(|s| Session {
                uid: Some(s.to_owned()),
                ..Default::default()
            });

    // On what.
    let targets: Vec<Value> =
        r.0.get("target")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
    let target_of = |kind: &str| {
        targets
            .iter()
            .find(|t| t.get("type").and_then(Value::as_str) == Some(kind))
            .map(|t| {
                let s = |k: &str| {
                    t.get(k)
                        .and_then(Value::as_str)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                (s("id"), s("alternateId"), s("displayName"))
            })
    };
    let target_user = target_of("User").map(|(id, alt, display)| User {
        email_addr: alt.clone().filter(|v| v.contains('@')),
        name: alt.or(display.clone()),
        uid: id,
        full_name: display,
        ..user_of_type(1)
    });

    match class {
        Class::Authentication => {
            event.user = actor_user.clone().or(target_user);
            let app = target_of("AppInstance").and_then(|(id, _, name)| name.map(|n| (n, id)));
            event.service = Some(match app {
                Some((name, id)) => Service {
                    name: Some(name),
                    uid: id,
                    ..Default::default()
                },
                None => Service {
                    name: Some("Okta".to_owned()),
                    ..Default::default()
                },
            });
            event.session = session.clone();
            if event_type == "user.authentication.auth_via_mfa" {
                event.is_mfa = Some(true);
            }
        }
        Class::AccountChange => {
            event.user = target_user.or_else(|| actor_user.clone());
        }
        Class::GroupManagement => {
            event.user = target_user;
            event.group = Some(match target_of("UserGroup") {
                Some((id, _, name)) => Group {
                    name,
                    uid: id,
                    ..Default::default()
                },
                None => Group {
                    name: Some("unknown group".to_owned()),
                    ..Default::default()
                },
            });
        }
        Class::UserAccessManagement => {
            event.user = target_user.or_else(|| actor_user.clone());
            let privilege =
                r.0.get("debugContext")
                    .and_then(|d| d.get("debugData"))
                    .and_then(|d| d.get("privilegeGranted"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            event.privileges = Some(vec![privilege.unwrap_or_else(|| event_type.clone())]);
        }
        _ => {
            event.api = Some(Api {
                operation: Some(event_type.clone()),
                service: Some(Service {
                    name: Some("Okta".to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    event.actor = Some(Actor {
        user: actor_user,
        // Authentication events carry the session at the top level instead.
        session: if class == Class::Authentication {
            None
        } else {
            session.clone()
        },
        ..Default::default()
    })
    .filter(|a| a.user.is_some())
    .or_else(|| {
        (class == Class::ApiActivity).then(|| Actor {
            app_name: Some("Okta".to_owned()),
            ..Default::default()
        })
    });
    if class == Class::ApiActivity && src.is_none() {
        src = Some(service_endpoint("Okta"));
    }
    event.src_endpoint = src;
    event.http_request = http_user_agent(user_agent);
    event.unmapped = r.into_unmapped();
    Ok(event)
}

fn classify(event_type: &str) -> (Class, i32) {
    match event_type {
        "user.session.start"
        | "user.authentication.sso"
        | "user.authentication.auth_via_mfa"
        | "user.authentication.verify"
        | "user.authentication.authenticate"
        | "user.authentication.auth_via_IDP"
        | "user.authentication.auth_via_social" => (Class::Authentication, 1),
        "user.session.end" => (Class::Authentication, 2),
        "user.lifecycle.create" => (Class::AccountChange, 1),
        "user.lifecycle.activate" | "user.lifecycle.reactivate" | "user.lifecycle.unsuspend" => {
            (Class::AccountChange, 2)
        }
        "user.account.update_password" => (Class::AccountChange, 3),
        "user.account.reset_password" | "user.lifecycle.password_mass_expiry" => {
            (Class::AccountChange, 4)
        }
        "user.lifecycle.deactivate" | "user.lifecycle.suspend" => (Class::AccountChange, 5),
        "user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed" => {
            (Class::AccountChange, 6)
        }
        "user.account.lock" | "user.account.lock.limit" => (Class::AccountChange, 9),
        "user.account.unlock" | "user.account.unlock_by_admin" => (Class::AccountChange, 12),
        "user.mfa.factor.activate" => (Class::AccountChange, 10),
        "user.mfa.factor.deactivate" | "user.mfa.factor.reset_all" => (Class::AccountChange, 11),
        "group.user_membership.add" => (Class::GroupManagement, 3),
        "group.user_membership.remove" => (Class::GroupManagement, 4),
        "group.lifecycle.create" => (Class::GroupManagement, 6),
        "group.lifecycle.delete" => (Class::GroupManagement, 5),
        "user.account.privilege.grant" | "group.privilege.grant" => {
            (Class::UserAccessManagement, 1)
        }
        "user.account.privilege.revoke" | "group.privilege.revoke" => {
            (Class::UserAccessManagement, 2)
        }
        other => (Class::ApiActivity, crud_activity(other)),
    }
}
