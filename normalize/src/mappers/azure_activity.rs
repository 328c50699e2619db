//! Azure Activity Log records as exported by diagnostic settings
//! (`{"records":[…]}` blobs, Event Hubs, JSON lines).
//!
//! - Administrative and Policy records are API calls on Azure Resource
//!   Manager → API Activity (`…/write` Update, `…/delete` Delete, `…/read`
//!   Read, `…/action` Other); role assignments → User Access Management;
//! - Security, Recommendation, ResourceHealth, ServiceHealth, Alert and
//!   Autoscale records are notifications, not calls → Base Event.
//!
//! Reference: "Azure Monitor activity log schema" (the "Schema from storage
//! account and event hubs" section).

use auditfed_schemas::ocsf::{
    Actor, Api, Class, Cloud, Event, Metadata, NetworkEndpoint, Organization, ResourceDetails,
    Service, Severity, Status, User,
};
use serde_json::Value;

use super::endpoint;
use crate::common::{
    Obj, account, product, service_endpoint, severity_from_level, take_time, user_of_type,
};
use crate::error::ErrorKind;

/// 2: records without a source id get a derived `metadata.uid`.
pub(crate) const VERSION: u32 = 2;

const EXPECTED: &str = "Azure Activity Log";

/// Claims keys (JWT and their WS-Federation long forms) in `identity.claims`.
const CLAIM_NAME: &str = "name";
const CLAIM_UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
const CLAIM_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
const CLAIM_OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const CLAIM_APPID: &str = "appid";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    let common = Common::take(&mut r, EXPECTED)?;
    let category = r.str("category").unwrap_or_default();
    let operation = r.str("operationName").unwrap_or_default();
    let op_lower = operation.to_ascii_lowercase();
    let is_call = matches!(category.as_str(), "Administrative" | "Policy" | "");
    let (class, activity) = if op_lower.starts_with("microsoft.authorization/roleassignments/") {
        match op_lower.rsplit('/').next() {
            Some("write") => (Class::UserAccessManagement, 1),
            Some("delete") => (Class::UserAccessManagement, 2),
            _ => (Class::ApiActivity, 2),
        }
    } else if is_call {
        let activity = match op_lower.rsplit('/').next() {
            Some("write") => 3,
            Some("delete") => 4,
            Some("read") => 2,
            _ => 99,
        };
        (Class::ApiActivity, activity)
    } else {
        (Class::BaseEvent, 99)
    };
    let mut metadata = common.metadata("Azure Activity Log", "Azure Resource Manager");
    metadata.event_code = Some(operation.clone());
    metadata.log_name = Some(category.clone());
    let mut event = Event::new(class, activity, common.time, common.severity, metadata);
    common.outcome(&mut r, &mut event);

    let mut actor = Actor::default();
    // Base Events have no `actor` (only the `host` profile adds one): their identity stays unmapped.
    let mut identity = if class == Class::BaseEvent {
        None
    } else {
        r.obj("identity")
    };
    if let Some(claims) = identity.as_mut().and_then(|i| i.obj("claims")) {
        let mut claims = claims;
        let name = claims
            .str(CLAIM_UPN)
            .or_else(|| claims.str(CLAIM_EMAIL))
            .or_else(|| claims.str(CLAIM_NAME));
        let uid = claims.str(CLAIM_OID);
        let app = claims.str(CLAIM_APPID);
        let email = name.as_ref().filter(|n| is_email(n)).cloned();
        if name.is_some() || uid.is_some() {
            actor.user = Some(User {
                name,
                uid,
                email_addr: email,
                ..user_of_type(1)
            });
        }
        actor.app_uid = app;
        if let Some(i) = identity.as_mut() {
            i.put_rest("claims", claims);
        }
    }
    if class != Class::BaseEvent
        && let Some(caller) = r.str("caller")
    {
        if actor.user.is_none() {
            let email = is_email(&caller).then(|| caller.clone());
            actor.user = Some(User {
                name: Some(caller),
                email_addr: email,
                ..user_of_type(1)
            });
        } else {
            r.0.insert("caller".into(), Value::String(caller));
        }
    }
    if let Some(i) = identity {
        r.put_rest("identity", i);
    }
    let provider = operation.split('/').next().unwrap_or("Azure").to_owned();
    if actor.user.is_none() && actor.app_uid.is_none() {
        // No caller: the platform itself acted (health, advisor, policy engine).
        actor.app_name = Some(provider.clone());
    }

    let mut properties = r.obj("properties");
    match class {
        Class::UserAccessManagement => {
            // The request body (a JSON string) names the principal and role.
            let body = properties
                .as_ref()
                .and_then(|p| p.peek_str("requestbody"))
                .and_then(|b| serde_json::from_str::<Value>(b).ok());
            let props = body
                .as_ref()
                .and_then(|b| b.get("Properties").or_else(|| b.get("properties")));
            let get = |k: &str| {
                props
                    .and_then(|p| p.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            event.user = Some(User {
                uid: get("PrincipalId").or_else(|| get("principalId")),
                name: get("PrincipalId")
                    .or_else(|| get("principalId"))
                    .or(Some("unknown principal".to_owned())),
                ..user_of_type(0)
            });
            event.privileges = Some(vec![
                get("RoleDefinitionId")
                    .or_else(|| get("roleDefinitionId"))
                    .unwrap_or_else(|| "unknown role".to_owned()),
            ]);
        }
        Class::BaseEvent => {
            event.message = properties.as_mut().and_then(|p| {
                p.peek_str("title")
                    .or_else(|| p.peek_str("description"))
                    .map(str::to_owned)
            });
        }
        _ => {}
    }
    if let Some(p) = properties {
        r.put_rest("properties", p);
    }
    event.api = is_call.then(|| Api {
        operation: Some(operation.clone()),
        service: Some(Service {
            name: Some(provider.clone()),
            ..Default::default()
        }),
        ..Default::default()
    });
    if event.message.is_none() {
        event.message = Some(format!("{operation} ({category})"));
    }
    let src = common
        .src
        .clone()
        .unwrap_or_else(|| service_endpoint(&provider));
    if class != Class::BaseEvent {
        event.actor = Some(actor);
        event.src_endpoint = Some(src);
    }
    if !class.has_resources()
        && let Some(id) = &common.resource_id
    {
        r.0.insert("resourceId".into(), Value::String(id.clone()));
    }
    event.resources = common
        .resource_id
        .as_ref()
        .filter(|_| class.has_resources())
        .map(|id| {
            vec![ResourceDetails {
                uid: Some(id.clone()),
                name: id.rsplit('/').next().map(str::to_owned),
                r#type: resource_type(id),
                ..Default::default()
            }]
        });
    event.cloud = Some(common.cloud(r.str("location")));
    if let Some(addr) = common.unparsed_caller {
        r.0.insert("callerIpAddress".into(), Value::String(addr));
    }
    event.unmapped = r.into_unmapped();
    Ok(event)
}

fn is_email(s: &str) -> bool {
    s.contains('@') && !s.contains(' ')
}

/// `…/providers/Microsoft.Compute/virtualMachines/vm1` → `Microsoft.Compute/virtualMachines`.
fn resource_type(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let at = lower.rfind("/providers/")?;
    let rest: Vec<&str> = id[at + "/providers/".len()..].split('/').collect();
    (rest.len() >= 2).then(|| format!("{}/{}", rest[0], rest[1]))
}

/// Metadata of a Microsoft Graph record (Entra ID without the Azure envelope).
pub(crate) fn graph_metadata(provider: &str, original_time: String) -> Metadata {
    Metadata {
        original_time: Some(original_time),
        log_provider: Some(provider.to_owned()),
        log_format: Some("JSON".to_owned()),
        product: Some(product("Microsoft Entra ID", "Microsoft")),
        ..Default::default()
    }
}

/// The fields every Azure diagnostic record shares (Activity, Entra ID).
pub(crate) struct Common {
    pub(crate) time: i64,
    pub(crate) original_time: String,
    pub(crate) resource_id: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) severity: Severity,
    pub(crate) src: Option<NetworkEndpoint>,
    /// A caller address that is neither an IP nor a DNS name: kept unmapped.
    pub(crate) unparsed_caller: Option<String>,
}

impl Common {
    pub(crate) fn take(r: &mut Obj, expected: &'static str) -> Result<Common, ErrorKind> {
        if !r.has("time") || !r.has("operationName") {
            return Err(ErrorKind::not_a(
                expected,
                "`time` and `operationName` are required",
            ));
        }
        let (time, original_time) = take_time(r, "time")?;
        // `level` is the documented key; some producers add a numeric `Level` too (left unmapped).
        let severity = r
            .str("level")
            .map_or(Severity::Informational, |l| severity_from_level(&l));
        let (src, unparsed_caller) = match r.nonempty("callerIpAddress") {
            Some(addr) => {
                let (ep, exact) = endpoint::from_address(&addr);
                if exact {
                    (Some(ep), None)
                } else {
                    (None, Some(addr))
                }
            }
            None => (None, None),
        };
        Ok(Common {
            time,
            original_time,
            resource_id: r.str("resourceId"),
            tenant_id: r.str("tenantId"),
            correlation_id: r.nonempty("correlationId"),
            severity,
            src,
            unparsed_caller,
        })
    }

    pub(crate) fn metadata(&self, provider: &str, product_name: &str) -> Metadata {
        Metadata {
            original_time: Some(self.original_time.clone()),
            log_provider: Some(provider.to_owned()),
            log_format: Some("JSON".to_owned()),
            correlation_uid: self.correlation_id.clone(),
            tenant_uid: self.tenant_id.clone(),
            product: Some(product(product_name, "Microsoft")),
            ..Default::default()
        }
    }

    /// `resultType` (Start, Accept, Success, Succeeded, Failed, Failure, ...)
    /// and `resultSignature` / `resultDescription`.
    pub(crate) fn outcome(&self, r: &mut Obj, event: &mut Event) {
        let result = r.text("resultType");
        let status = match result.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("success" | "succeeded" | "0") => Status::Success,
            Some("failed" | "failure") => Status::Failure,
            Some(code) if code.parse::<i64>().is_ok() => Status::Failure,
            Some(_) => Status::Other,
            None => Status::Unknown,
        };
        event.set_status(status);
        if status == Status::Other {
            event.status = result.clone();
        }
        let signature = r.nonempty("resultSignature").filter(|s| s != "None");
        event.status_code = match status {
            Status::Failure if result.as_deref().is_some_and(|c| c.parse::<i64>().is_ok()) => {
                result
            }
            _ => signature.or(result),
        };
        event.status_detail = r.nonempty("resultDescription");
    }

    pub(crate) fn cloud(&self, location: Option<String>) -> Cloud {
        let subscription = self.resource_id.as_deref().and_then(|id| {
            let mut parts = id.split('/');
            while let Some(p) = parts.next() {
                if p.eq_ignore_ascii_case("subscriptions") {
                    return parts.next().map(str::to_ascii_lowercase);
                }
            }
            None
        });
        Cloud {
            provider: Some("Azure".to_owned()),
            region: location,
            account: subscription.map(|s| account(Some(s), None, 13)),
            org: self.tenant_id.clone().map(|t| Organization {
                uid: Some(t),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
