//! Microsoft Entra ID audit logs.
//!
//! By activity (`activityDisplayName`) and target type:
//! - user lifecycle, enable/disable, password → Account Change;
//! - group membership and lifecycle → Group Management;
//! - directory-role membership → User Access Management;
//! - other directory objects (applications, service principals, devices,
//!   policies, ...) → Entity Management, activity from `operationType`.
//!
//! Accepts the diagnostic-settings export shape and the Graph
//! `directoryAudit` resource. Reference: "Microsoft Entra audit logs schema
//! in Azure Monitor" and the Graph `directoryAudit` resource type.

use auditfed_schemas::ocsf::{
    Actor, Class, Event, Group, ManagedEntity, NetworkEndpoint, Severity, Status, User,
};
use serde_json::Value;

use super::azure_activity::{Common, graph_metadata};
use super::endpoint;
use crate::common::{Obj, rfc3339_ms, user_of_type};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "Entra ID audit";

/// What the target resources of an audit record say.
#[derive(Default)]
struct Targets {
    user: Option<User>,
    group: Option<Group>,
    role: Option<String>,
    entity: Option<ManagedEntity>,
}

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    let (time, original_time, common, mut p, envelope) = if r.has("properties") {
        let common = Common::take(&mut r, EXPECTED)?;
        let p = r
            .obj("properties")
            .ok_or_else(|| ErrorKind::not_a(EXPECTED, "`properties` must be an object"))?;
        (
            common.time,
            common.original_time.clone(),
            Some(common),
            p,
            Some(r),
        )
    } else {
        let original = r
            .str("activityDateTime")
            .ok_or_else(|| ErrorKind::missing("activityDateTime"))?;
        let time = rfc3339_ms("activityDateTime", &original)?;
        (time, original, None, r, None)
    };
    // The activity's own time, when present, is the event time; the envelope's
    // `time` is when it was logged (they can be months apart in Microsoft's samples).
    let (time, original_time, logged_time) = match p.peek_str("activityDateTime").map(str::to_owned)
    {
        Some(at) if envelope.is_some() => {
            let ms = rfc3339_ms("properties.activityDateTime", &at)?;
            p.str("activityDateTime");
            (ms, at, Some(time))
        }
        _ => (time, original_time, None),
    };
    let activity_name = p
        .str("activityDisplayName")
        .ok_or_else(|| ErrorKind::missing("activityDisplayName"))?;
    let operation_type = p.peek_str("operationType").unwrap_or_default().to_owned();
    let targets = targets(&mut p);
    let (class, activity) = classify(&activity_name, &operation_type, &targets);

    let mut metadata = match &common {
        Some(c) => c.metadata("Microsoft Entra ID audit logs", "Microsoft Entra ID"),
        None => graph_metadata("Microsoft Graph directoryAudits", original_time.clone()),
    };
    metadata.original_time = Some(original_time);
    metadata.logged_time = logged_time;
    metadata.uid = p.str("id");
    metadata.event_code = Some(activity_name.clone());
    metadata.log_name = p.str("category");
    if metadata.correlation_uid.is_none() {
        metadata.correlation_uid = p.nonempty("correlationId");
    }
    if let Some(service) = p.str("loggedByService")
        && let Some(product) = metadata.product.as_mut()
    {
        product.feature = Some(auditfed_schemas::ocsf::Feature {
            name: Some(service),
        });
    }
    let severity = common
        .as_ref()
        .map_or(Severity::Informational, |c| c.severity);
    let mut event = Event::new(class, activity, time, severity, metadata);

    match p.str("result").as_deref() {
        Some("success") => event.set_status(Status::Success),
        Some("failure" | "timeout") => event.set_status(Status::Failure),
        Some(other) => {
            event.set_status(Status::Other);
            event.status = Some(other.to_owned());
        }
        None => event.set_status(Status::Unknown),
    }
    event.status_detail = p.nonempty("resultReason");

    // Who: a user or an application.
    let mut actor = Actor::default();
    let mut src = common.as_ref().and_then(|c| c.src.clone());
    if let Some(mut by) = p.obj("initiatedBy") {
        if let Some(mut u) = by.obj("user") {
            let upn = u.nonempty("userPrincipalName");
            actor.user = Some(User {
                email_addr: upn.clone().filter(|n| n.contains('@')),
                name: upn.or_else(|| u.peek_str("displayName").map(str::to_owned)),
                uid: u.nonempty("id"),
                ..user_of_type(1)
            });
            if let Some(ip) = u.peek_str("ipAddress").map(str::to_owned) {
                let (ep, exact) = endpoint::from_address(&ip);
                if exact {
                    u.str("ipAddress");
                    src = src.or(Some(ep));
                }
            }
            by.put_rest("user", u);
        }
        if let Some(mut app) = by.obj("app") {
            actor.app_name = app.nonempty("displayName");
            actor.app_uid = app
                .nonempty("appId")
                .or_else(|| app.nonempty("servicePrincipalId"));
            by.put_rest("app", app);
        }
        p.put_rest("initiatedBy", by);
    }
    if actor == Actor::default() {
        actor.app_name = event
            .metadata
            .product
            .as_ref()
            .and_then(|p| p.feature.as_ref())
            .and_then(|f| f.name.clone());
    }

    match class {
        Class::AccountChange => event.user = targets.user,
        Class::GroupManagement => {
            event.group = targets.group.or(Some(Group {
                name: Some("unknown group".into()),
                ..Default::default()
            }));
            event.user = targets.user;
        }
        Class::UserAccessManagement => {
            event.user = targets.user;
            event.privileges = Some(vec![
                targets.role.unwrap_or_else(|| "unknown role".to_owned()),
            ]);
        }
        Class::EntityManagement => event.entity = targets.entity,
        _ => {}
    }
    event.message = Some(activity_name);
    event.actor = (actor != Actor::default()).then_some(actor);
    event.src_endpoint = src.filter(|s: &NetworkEndpoint| s.ip.is_some() || s.domain.is_some());
    if let Some(c) = &common {
        event.cloud = Some(c.cloud(None));
    }
    let rest = match envelope {
        Some(mut env) => {
            env.put_rest("properties", p);
            if let Some(addr) = common.and_then(|c| c.unparsed_caller) {
                env.0.insert("callerIpAddress".into(), Value::String(addr));
            }
            env
        }
        None => p,
    };
    event.unmapped = rest.into_unmapped();
    Ok(event)
}

fn classify(activity: &str, operation_type: &str, targets: &Targets) -> (Class, i32) {
    let a = activity.to_ascii_lowercase();
    let account_change = match a.as_str() {
        "add user" | "invite external user" => Some(1),
        "delete user" | "hard delete user" => Some(6),
        "disable account" => Some(5),
        "enable account" | "restore user" => Some(2),
        "reset password" | "reset user password" | "reset password (by admin)" => Some(4),
        "change user password" | "change password (self-service)" => Some(3),
        "user registered security info" | "register security info" => Some(10),
        "user deleted security info" | "delete security info" => Some(11),
        _ => None,
    };
    if let Some(act) = account_change
        && targets.user.is_some()
    {
        return (Class::AccountChange, act);
    }
    let group = match a.as_str() {
        "add member to group" | "add owner to group" => Some(3),
        "remove member from group" | "remove owner from group" => Some(4),
        "add group" => Some(6),
        "delete group" | "hard delete group" => Some(5),
        _ => None,
    };
    if let Some(act) = group {
        return (Class::GroupManagement, act);
    }
    if a.contains("member to role") && targets.user.is_some() {
        return (Class::UserAccessManagement, 1);
    }
    if a.contains("member from role") && targets.user.is_some() {
        return (Class::UserAccessManagement, 2);
    }
    if targets.entity.is_some() {
        let act = match operation_type {
            "Add" | "Assign" => 1,
            "Update" => 3,
            "Delete" | "Unassign" => 4,
            _ if a.starts_with("add ") || a.starts_with("create ") => 1,
            _ if a.starts_with("update ") => 3,
            _ if a.starts_with("delete ") || a.starts_with("remove ") => 4,
            _ => 99,
        };
        return (Class::EntityManagement, act);
    }
    (Class::BaseEvent, 99)
}

fn targets(p: &mut Obj) -> Targets {
    let mut out = Targets::default();
    let Some(items) = p.0.get("targetResources").and_then(Value::as_array) else {
        return out;
    };
    for item in items {
        let s = |k: &str| {
            item.get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let modified = |name: &str| {
            item.get("modifiedProperties")
                .and_then(Value::as_array)
                .and_then(|props| {
                    props
                        .iter()
                        .find(|m| m.get("displayName").and_then(Value::as_str) == Some(name))
                        .and_then(|m| {
                            m.get("newValue")
                                .and_then(Value::as_str)
                                .map(|v| v.trim_matches('"').to_owned())
                        })
                })
        };
        match s("type").as_deref() {
            Some("User") => {
                let upn = s("userPrincipalName");
                out.user.get_or_insert(User {
                    email_addr: upn.clone().filter(|n| n.contains('@')),
                    name: upn.or_else(|| s("displayName")).or_else(|| s("id")),
                    uid: s("id"),
                    ..user_of_type(1)
                });
                if out.group.is_none()
                    && let Some(name) = modified("Group.DisplayName")
                {
                    out.group = Some(Group {
                        name: Some(name),
                        uid: modified("Group.ObjectID"),
                        ..Default::default()
                    });
                }
                if out.role.is_none() {
                    out.role = modified("Role.DisplayName");
                }
            }
            Some("Group") => {
                let group = Group {
                    name: s("displayName"),
                    uid: s("id"),
                    ..Default::default()
                };
                if group.name.is_some() || out.group.is_none() {
                    out.group = Some(group);
                }
            }
            Some("Role") => out.role = s("displayName").or_else(|| s("id")),
            Some(other) if out.entity.is_none() => {
                out.entity = Some(ManagedEntity {
                    name: s("displayName"),
                    uid: s("id"),
                    r#type: Some(other.to_owned()),
                    ..Default::default()
                });
            }
            _ => {}
        }
    }
    // Groups targeted by id only get their display name from the user target's changes.
    if let Some(g) = out.group.as_mut()
        && g.name.is_none()
        && g.uid.is_none()
    {
        g.name = Some("unknown group".to_owned());
    }
    out
}
