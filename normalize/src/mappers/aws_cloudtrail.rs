//! AWS CloudTrail records.
//!
//! - `ConsoleLogin` (and other `AwsConsoleSignIn` events) → Authentication;
//! - IAM user lifecycle, password, MFA and user-policy calls → Account Change;
//! - IAM group calls → Group Management; role and managed-policy calls →
//!   Entity Management;
//! - every other API call → API Activity, activity from the verb of
//!   `eventName`; CloudTrail Insights → Base Event.
//!
//! Reference: "CloudTrail record contents" in the AWS CloudTrail User Guide.

use auditfed_schemas::ocsf::{
    Actor, Api, ApiRequest, ApiResponse, Class, Cloud, Event, Group, ManagedEntity, Metadata,
    Policy, ResourceDetails, Service, Session, Severity, Status, User,
};
use serde_json::Value;

use super::endpoint;
use crate::common::{
    Obj, account, crud_activity, http_user_agent, product, rfc3339_ms, take_time, user_of_type,
};
use crate::error::ErrorKind;

pub(crate) const VERSION: u32 = 1;

const EXPECTED: &str = "CloudTrail";

pub(crate) fn map(record: &[u8]) -> Result<Event, ErrorKind> {
    let mut r = Obj::parse(record, EXPECTED)?;
    if !r.has("eventVersion") {
        return Err(ErrorKind::not_a(EXPECTED, "`eventVersion` is missing"));
    }
    let (time, original_time) = take_time(&mut r, "eventTime")?;
    let event_type = r.peek_str("eventType").unwrap_or_default().to_owned();
    let event_source = r.str("eventSource");
    let event_name = r.str("eventName");
    if event_type == "AwsCloudTrailInsight" {
        return Ok(insight(r, time, original_time));
    }
    let (Some(event_source), Some(event_name)) = (event_source, event_name) else {
        return Err(ErrorKind::missing("eventSource/eventName"));
    };
    let error_code = r.nonempty("errorCode");
    let error_message = r.nonempty("errorMessage");

    let mut metadata = metadata(&mut r, original_time);
    metadata.event_code = Some(event_name.clone());
    let target = target(&event_source, &event_name, r.0.get("requestParameters"));
    let (class, activity) = target.class_activity(&event_source, &event_name, &event_type);
    let mut event = Event::new(class, activity, time, Severity::Informational, metadata);

    let actor = actor(&mut r);
    let cloud = Cloud {
        provider: Some("AWS".to_owned()),
        region: r.str("awsRegion"),
        account: r
            .str("recipientAccountId")
            .map(|id| account(Some(id), None, 10)),
        ..Default::default()
    };
    let mut src = None;
    if let Some(addr) = r.peek_str("sourceIPAddress").map(str::to_owned) {
        let (ep, exact) = endpoint::from_address(&addr);
        if exact {
            r.str("sourceIPAddress");
        }
        src = Some(ep);
    }
    let user_agent = r.str("userAgent");

    // Outcome: errorCode means failure; console sign-ins report it in responseElements.
    let console_result =
        r.0.get("responseElements")
            .and_then(|v| v.get("ConsoleLogin"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    match (&error_code, console_result.as_deref()) {
        (Some(_), _) | (None, Some("Failure")) => event.set_status(Status::Failure),
        _ => event.set_status(Status::Success),
    }
    event.status_code = error_code.clone();
    event.status_detail = error_message.clone();

    match class {
        Class::Authentication => {
            event.user = actor.as_ref().and_then(|a| a.user.clone());
            event.service = Some(Service {
                name: Some(event_source.clone()),
                ..Default::default()
            });
            if let Some(mut extra) = r.obj("additionalEventData") {
                if let Some(mfa) = extra.str("MFAUsed") {
                    event.is_mfa = Some(mfa == "Yes");
                }
                r.put_rest("additionalEventData", extra);
            }
            event.is_remote = Some(true);
            if let Some(mut resp) = r.obj("responseElements") {
                resp.str("ConsoleLogin");
                r.put_rest("responseElements", resp);
            }
            event.message = Some(
                format!("{event_name} {}", console_result.as_deref().unwrap_or(""))
                    .trim()
                    .to_owned(),
            );
        }
        _ => {
            let request = r.value("requestParameters");
            let response = r.value("responseElements");
            let request_id = r.str("requestID");
            event.api = Some(Api {
                operation: Some(event_name.clone()),
                service: Some(Service {
                    name: Some(event_source.clone()),
                    ..Default::default()
                }),
                version: r.str("apiVersion"),
                request: match (request_id, request) {
                    (Some(uid), data) => Some(ApiRequest {
                        uid: Some(uid),
                        data,
                    }),
                    (None, Some(data)) => {
                        r.0.insert("requestParameters".into(), data);
                        None
                    }
                    (None, None) => None,
                },
                response: (response.is_some() || error_code.is_some()).then(|| ApiResponse {
                    data: response,
                    error: error_code,
                    error_message,
                    ..Default::default()
                }),
            });
            target.fill(&mut event);
        }
    }
    if class.has_resources() {
        event.resources = resources(&mut r);
    }
    event.actor = actor;
    event.src_endpoint = src;
    event.http_request = http_user_agent(user_agent);
    event.cloud = Some(cloud);
    if event.message.is_none() {
        event.message = Some(format!("{event_name} on {event_source}"));
    }
    event.unmapped = r.into_unmapped();
    Ok(event)
}

fn metadata(r: &mut Obj, original_time: String) -> Metadata {
    Metadata {
        uid: r.str("eventID"),
        original_time: Some(original_time),
        log_version: r.str("eventVersion"),
        log_provider: Some("AWS CloudTrail".to_owned()),
        log_format: Some("JSON".to_owned()),
        correlation_uid: r.str("sharedEventID"),
        product: Some(product("CloudTrail", "AWS")),
        ..Default::default()
    }
}

fn insight(mut r: Obj, time: i64, original_time: String) -> Event {
    let metadata = metadata(&mut r, original_time);
    let mut event = Event::new(Class::BaseEvent, 99, time, Severity::Medium, metadata);
    event.metadata.event_code = Some("AwsCloudTrailInsight".to_owned());
    let state =
        r.0.get("insightDetails")
            .and_then(|d| d.get("state"))
            .and_then(Value::as_str)
            .unwrap_or("unknown state");
    let name =
        r.0.get("insightDetails")
            .and_then(|d| d.get("eventName"))
            .and_then(Value::as_str)
            .unwrap_or("an API");
    event.message = Some(format!(
        "CloudTrail Insight: unusual activity of {name} ({state})"
    ));
    event.cloud = Some(Cloud {
        provider: Some("AWS".to_owned()),
        region: r.str("awsRegion"),
        account: r
            .str("recipientAccountId")
            .map(|id| account(Some(id), None, 10)),
        ..Default::default()
    });
    event.unmapped = r.into_unmapped();
    event
}

/// The principal that made the call (`userIdentity`).
fn actor(r: &mut Obj) -> Option<Actor> {
    let mut ui = r.obj("userIdentity")?;
    // `type` stays unmapped too: the OCSF user type is a coarser view of it.
    let identity_type = ui.peek_str("type").unwrap_or_default().to_owned();
    let type_id = match identity_type.as_str() {
        "Root" => 2,
        "AWSService" => 4,
        "IAMUser" | "IdentityCenterUser" | "SAMLUser" | "WebIdentityUser" | "FederatedUser" => 1,
        "" | "Unknown" => 0,
        _ => 99,
    };
    let mut user = user_of_type(type_id);
    if type_id == 99 {
        user.r#type = Some(identity_type.clone());
    }
    user.uid = ui.str("arn");
    user.uid_alt = ui.str("principalId");
    user.credential_uid = ui.nonempty("accessKeyId");
    user.name = ui.str("userName");
    if let Some(acct) = ui.str("accountId") {
        user.account = Some(account(Some(acct), None, 10));
    }
    let mut actor = Actor {
        app_name: ui.str("invokedBy"),
        ..Default::default()
    };
    if let Some(mut ctx) = ui.obj("sessionContext") {
        let mut session = Session::default();
        if let Some(mut attrs) = ctx.obj("attributes") {
            session.is_mfa = attrs.bool("mfaAuthenticated");
            if let Some(created) = attrs.peek_str("creationDate").map(str::to_owned)
                && let Ok(ms) = rfc3339_ms("creationDate", &created)
            {
                attrs.str("creationDate");
                session.created_time = Some(ms);
            }
            ctx.put_rest("attributes", attrs);
        }
        if let Some(mut issuer) = ctx.obj("sessionIssuer") {
            session.issuer = issuer.peek_str("arn").map(str::to_owned);
            if user.name.is_none() {
                user.name = issuer.peek_str("userName").map(str::to_owned);
            }
            issuer.str("arn");
            ctx.put_rest("sessionIssuer", issuer);
        }
        session.credential_uid = user.credential_uid.clone();
        if session != Session::default() {
            actor.session = Some(session);
        }
        ui.put_rest("sessionContext", ctx);
    }
    if user.name.is_none() && type_id == 2 {
        user.name = Some("root".to_owned());
    }
    if user.name.is_none() {
        // An assumed-role ARN ends in `role-name/session-name`.
        user.name = user
            .uid
            .as_deref()
            .and_then(|arn| arn.rsplit('/').next())
            .map(str::to_owned);
    }
    if user.name.is_some() || user.uid.is_some() || user.account.is_some() {
        actor.user = Some(user);
    }
    if actor.app_name.is_none() && type_id == 4 {
        actor.app_name = ui.peek_str("invokedBy").map(str::to_owned);
    }
    r.put_rest("userIdentity", ui);
    (actor != Actor::default()).then_some(actor)
}

fn resources(r: &mut Obj) -> Option<Vec<ResourceDetails>> {
    let items = r.array("resources")?;
    let mapped = items
        .into_iter()
        .map(|item| {
            let mut res = match item {
                Value::Object(m) => Obj(m),
                other => {
                    return ResourceDetails {
                        data: Some(other),
                        ..Default::default()
                    };
                }
            };
            let uid = res.str("ARN").or_else(|| res.str("arn"));
            ResourceDetails {
                cloud_partition: uid
                    .as_deref()
                    .and_then(|a| a.split(':').nth(1))
                    .map(str::to_owned),
                uid,
                r#type: res.str("type"),
                data: res.into_unmapped().map(Value::Object),
                ..Default::default()
            }
        })
        .collect();
    Some(mapped)
}

/// What an IAM call acts on, read from `requestParameters`.
#[derive(Debug, Default)]
struct Target {
    user_name: Option<String>,
    group_name: Option<String>,
    role_name: Option<String>,
    policy: Option<String>,
}

fn target(source: &str, name: &str, params: Option<&Value>) -> Target {
    if source != "iam.amazonaws.com" {
        return Target::default();
    }
    let get = |key: &str| {
        params
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let _ = name;
    Target {
        user_name: get("userName"),
        group_name: get("groupName"),
        role_name: get("roleName"),
        policy: get("policyArn").or_else(|| get("policyName")),
    }
}

impl Target {
    fn class_activity(&self, source: &str, name: &str, event_type: &str) -> (Class, i32) {
        if event_type == "AwsConsoleSignIn" && (name == "ConsoleLogin" || name == "CheckMfa") {
            return (Class::Authentication, 1);
        }
        if source == "iam.amazonaws.com" {
            let account_change = match name {
                "CreateUser" => Some(1),
                "DeleteUser" => Some(6),
                "CreateLoginProfile" | "ChangePassword" => Some(3),
                "UpdateLoginProfile" => Some(4),
                "DeleteLoginProfile" => Some(5),
                "AttachUserPolicy" | "PutUserPolicy" => Some(7),
                "DetachUserPolicy" | "DeleteUserPolicy" => Some(8),
                "EnableMFADevice" => Some(10),
                "DeactivateMFADevice" => Some(11),
                _ => None,
            };
            if let Some(activity) = account_change
                && (self.user_name.is_some() || name == "ChangePassword")
            {
                return (Class::AccountChange, activity);
            }
            let group = match name {
                "CreateGroup" => Some(6),
                "DeleteGroup" => Some(5),
                "AddUserToGroup" => Some(3),
                "RemoveUserFromGroup" => Some(4),
                "AttachGroupPolicy" | "PutGroupPolicy" => Some(1),
                "DetachGroupPolicy" | "DeleteGroupPolicy" => Some(2),
                _ => None,
            };
            if let Some(activity) = group
                && self.group_name.is_some()
            {
                return (Class::GroupManagement, activity);
            }
            let entity = match name {
                "CreateRole" | "CreatePolicy" | "CreatePolicyVersion" => Some(1),
                "DeleteRole" | "DeletePolicy" | "DeletePolicyVersion" => Some(4),
                "AttachRolePolicy"
                | "DetachRolePolicy"
                | "PutRolePolicy"
                | "DeleteRolePolicy"
                | "UpdateAssumeRolePolicy"
                | "UpdateRole"
                | "SetDefaultPolicyVersion" => Some(3),
                _ => None,
            };
            if let Some(activity) = entity
                && (self.role_name.is_some() || self.policy.is_some())
            {
                return (Class::EntityManagement, activity);
            }
        }
        (Class::ApiActivity, crud_activity(name))
    }

    fn fill(&self, event: &mut Event) {
        match event.class() {
            Some(Class::AccountChange) => {
                let name = self.user_name.clone().or_else(|| {
                    // ChangePassword: the caller changes their own password.
                    event
                        .actor
                        .as_ref()
                        .and_then(|a| a.user.as_ref())
                        .and_then(|u| u.name.clone())
                });
                event.user = Some(User {
                    name,
                    ..user_of_type(1)
                });
                if event.activity_id == 7 || event.activity_id == 8 {
                    event.policy = self.policy_object();
                }
            }
            Some(Class::GroupManagement) => {
                event.group = Some(Group {
                    name: self.group_name.clone(),
                    ..Default::default()
                });
                if let Some(user) = &self.user_name {
                    event.user = Some(User {
                        name: Some(user.clone()),
                        ..user_of_type(1)
                    });
                }
                if let Some(policy) = &self.policy {
                    event.privileges = Some(vec![policy.clone()]);
                }
            }
            Some(Class::EntityManagement) => {
                event.entity = Some(match &self.role_name {
                    Some(role) => ManagedEntity {
                        name: Some(role.clone()),
                        r#type: Some("IAM Role".to_owned()),
                        policy: self.policy_object(),
                        ..Default::default()
                    },
                    None => ManagedEntity {
                        r#type: Some("IAM Policy".to_owned()),
                        policy: self.policy_object(),
                        name: self.policy.clone(),
                        ..Default::default()
                    },
                });
            }
            _ => {}
        }
    }

    fn policy_object(&self) -> Option<Policy> {
        self.policy.as_ref().map(|p| {
            let is_arn = p.starts_with("arn:");
            Policy {
                uid: is_arn.then(|| p.clone()),
                name: Some(p.rsplit('/').next().unwrap_or(p).to_owned()),
                ..Default::default()
            }
        })
    }
}
