//! Microsoft Entra ID sign-in logs → Authentication (Logon).
//!
//! Accepts the diagnostic-settings export shape (an Azure envelope whose
//! `properties` is the sign-in: storage, Event Hubs, `{"records":[…]}`) and
//! the Microsoft Graph `signIn` resource on its own. Interactive,
//! non-interactive, service-principal and managed-identity sign-ins.
//!
//! Reference: "Microsoft Entra sign-in logs schema in Azure Monitor" and the
//! Graph `signIn` resource type.

use auditfed_schemas::ocsf::{
    Class, Event, Location, NetworkEndpoint, Service, Session, Severity, Status, User,
};
use serde_json::Value;

use super::azure_activity::{Common, graph_metadata};
use super::endpoint;
use crate::common::{Obj, account, rfc3339_ms, user_of_type};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "Entra ID sign-in";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    let (mut event, mut p, envelope) = if r.has("properties") {
        let common = Common::take(&mut r, EXPECTED)?;
        let mut metadata = common.metadata("Microsoft Entra ID sign-in logs", "Microsoft Entra ID");
        metadata.log_name = r.str("category");
        metadata.event_code = r.str("operationName");
        let mut event = Event::new(
            Class::Authentication,
            1,
            common.time,
            common.severity,
            metadata,
        );
        event.cloud = Some(common.cloud(None));
        let p = r
            .obj("properties")
            .ok_or_else(|| ErrorKind::not_a(EXPECTED, "`properties` must be an object"))?;
        // The outcome comes from properties.status; the envelope's copy stays unmapped.
        (event, p, Some((r, common.unparsed_caller)))
    } else {
        let original = r
            .str("createdDateTime")
            .ok_or_else(|| ErrorKind::missing("createdDateTime"))?;
        let time = rfc3339_ms("createdDateTime", &original)?;
        let metadata = graph_metadata("Microsoft Graph signIns", original);
        (
            Event::new(
                Class::Authentication,
                1,
                time,
                Severity::Informational,
                metadata,
            ),
            r,
            None,
        )
    };
    // The sign-in's own time is the event time; the envelope's is when it was logged.
    if envelope.is_some()
        && let Some(at) = p.peek_str("createdDateTime").map(str::to_owned)
    {
        let ms = rfc3339_ms("properties.createdDateTime", &at)?;
        p.str("createdDateTime");
        event.metadata.logged_time = Some(event.time);
        event.time = ms;
        event.metadata.original_time = Some(at);
    }
    event.metadata.uid = p.str("id");
    if event.metadata.correlation_uid.is_none() {
        event.metadata.correlation_uid = p.str("correlationId");
    }

    // Outcome: errorCode 0 is success; anything else is a failure with a reason.
    match p.obj("status") {
        Some(mut status) => {
            let code = status.int("errorCode").unwrap_or(0);
            event.set_status(if code == 0 {
                Status::Success
            } else {
                Status::Failure
            });
            if code != 0 {
                event.status_code = Some(code.to_string());
            }
            event.status_detail = status.nonempty("failureReason").filter(|r| r != "Other.");
            p.put_rest("status", status);
        }
        None => event.set_status(Status::Unknown),
    }

    // Who signed in.
    let sp_name = p.nonempty("servicePrincipalName");
    let sp_id = p.nonempty("servicePrincipalId");
    let upn = p.nonempty("userPrincipalName");
    let user_type = p.peek_str("userType").unwrap_or("Member").to_owned();
    let mut user = if upn.is_some() || p.has("userId") {
        let mut u = user_of_type(if user_type == "Guest" { 99 } else { 1 });
        if user_type == "Guest" {
            u.r#type = Some("Guest".to_owned());
        }
        u.email_addr = upn
            .clone()
            .filter(|n| n.contains('@') && !n.starts_with('<'));
        u.name = upn;
        u.uid = p.nonempty("userId");
        u.full_name = p.nonempty("userDisplayName");
        u
    } else {
        User {
            name: sp_name.clone(),
            uid: sp_id.clone(),
            ..user_of_type(4)
        }
    };
    if user.name.is_none() && user.uid.is_none() {
        user.name = Some("unknown".to_owned());
    }
    if let Some(tenant) = p
        .nonempty("homeTenantId")
        .or_else(|| event.metadata.tenant_uid.clone())
    {
        user.account = Some(account(Some(tenant), None, 6));
    }
    event.user = Some(user);

    // To what.
    event.service = Some(Service {
        name: p
            .nonempty("appDisplayName")
            .or_else(|| p.nonempty("resourceDisplayName"))
            .or(sp_name),
        uid: p.nonempty("appId"),
        ..Default::default()
    });

    // From where.
    let mut src: Option<NetworkEndpoint> = None;
    if let Some(ip) = p.peek_str("ipAddress").map(str::to_owned) {
        let (ep, exact) = endpoint::from_address(&ip);
        if exact {
            p.str("ipAddress");
            src = Some(ep);
        }
    }
    if let Some(mut loc) = p.obj("location") {
        let mut location = Location {
            city: loc.nonempty("city"),
            region: loc.nonempty("state"),
            country: loc.nonempty("countryOrRegion"),
            ..Default::default()
        };
        if let Some(mut geo) = loc.obj("geoCoordinates") {
            location.lat = geo.0.get("latitude").and_then(Value::as_f64);
            location.long = geo.0.get("longitude").and_then(Value::as_f64);
            if location.lat.is_some() {
                geo.0.remove("latitude");
            }
            if location.long.is_some() {
                geo.0.remove("longitude");
            }
            loc.put_rest("geoCoordinates", geo);
        }
        if location != Location::default() {
            src.get_or_insert_with(NetworkEndpoint::default).location = Some(location);
        }
        p.put_rest("location", loc);
    }
    if let Some(ep) = &src
        && ep.ip.is_none()
        && ep.name.is_none()
    {
        // A location alone does not identify an endpoint (OCSF needs ip, name, ...).
        src = None;
    }
    event.src_endpoint = src;

    // How.
    if let Some(req) = p.str("authenticationRequirement") {
        event.is_mfa = Some(req == "multiFactorAuthentication");
        p.0.insert("authenticationRequirement".into(), Value::String(req));
    }
    if let Some(protocol) = p.nonempty("authenticationProtocol").filter(|p| p != "none") {
        let (id, caption) = match protocol.as_str() {
            "oAuth2" => (6, "OAUTH 2.0".to_owned()),
            "saml20" => (5, "SAML".to_owned()),
            _ => (99, protocol),
        };
        event.auth_protocol_id = Some(id);
        event.auth_protocol = Some(caption);
    }
    if let Some(interactive) = p.bool("isInteractive") {
        if interactive {
            event.logon_type_id = Some(2);
            event.logon_type = Some("Interactive".to_owned());
        } else {
            event.logon_type_id = Some(99);
            event.logon_type = Some("Non-interactive".to_owned());
        }
    }
    let session_id = p
        .nonempty("sessionId")
        .or_else(|| p.nonempty("uniqueTokenIdentifier"));
    if let Some(uid) = session_id {
        event.session = Some(Session {
            uid: Some(uid),
            ..Default::default()
        });
    }
    event.is_remote = Some(true);
    let app = event
        .service
        .as_ref()
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| "an application".into());
    event.message = Some(match event.status_id {
        Some(2) => format!("Sign-in to {app} failed"),
        _ => format!("Sign-in to {app}"),
    });

    let mut rest = match envelope {
        Some((mut env, unparsed)) => {
            env.put_rest("properties", p);
            if let Some(addr) = unparsed {
                env.0.insert("callerIpAddress".into(), Value::String(addr));
            }
            env
        }
        None => p,
    };
    rest.0.remove("createdDateTime");
    event.unmapped = rest.into_unmapped();
    Ok(event)
}
